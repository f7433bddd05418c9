/*
 * Bios and bio sets.
 *
 *   struct bio_set                               shared vector caches
 *   +--------------------------------------+     +----------+----------+
 *   | bio_pool: mempool (pool_size bios)   |     | bvec-16  | bvec-64  |
 *   |   over bio_slab, a kmem_cache of     |     +----------+----------+
 *   |   [front_pad | struct bio | 4 vecs]  |      tried first, without
 *   | bvec_pool: mempool (pool_size arrays)|      waiting, for 5..64
 *   |   over bvec-256 (BIO_MAX_VECS)       | <--- vectors; then the pool
 *   +--------------------------------------+
 *
 * A bio of up to BIO_INLINE_VECS vectors is one allocation; a larger one
 * is two, and the second may fall back on the set's vector pool, as in
 * Linux. The pools are what guarantee progress: a waiting allocation
 * sleeps until a bio of the same set is put, which is why a caller must
 * never wait for a bio while it holds unsubmitted ones (blk_make_request(9)'s
 * WARNING; blkdev_issue_rw() in issue.c follows it).
 *
 * Completion: bio_endio() calls bi_end_io once. bio_chain() makes a parent
 * wait for its children: the parent's __bi_remaining counts its own
 * completion plus one per child, and only the call that brings it to zero
 * goes on. A chain child's end routine is ours; it is unrolled in a loop
 * so that a long chain does not recurse.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "blk_impl.h"

/* ------------------------------------------------------------ vector caches */

#define BVEC_SMALL 16
#define BVEC_MID   64

static pthread_once_t bvec_once = PTHREAD_ONCE_INIT;
static struct kmem_cache *bvec_small_cache, *bvec_mid_cache, *bvec_max_cache;

static void bvec_caches_init(void)
{
	bvec_small_cache = kmem_cache_create("bvec-16", BVEC_SMALL * sizeof(struct bio_vec), 0, SLAB_PANIC, NULL);
	bvec_mid_cache = kmem_cache_create("bvec-64", BVEC_MID * sizeof(struct bio_vec), 0, SLAB_PANIC, NULL);
	bvec_max_cache = kmem_cache_create("bvec-256", BIO_MAX_VECS * sizeof(struct bio_vec), 0, SLAB_PANIC,
					   NULL);
}

/*
 * A vector array of at least @nr entries; *@max gets its real size. The
 * small caches are asked without waiting: if they are dry, the set's pool
 * (with the caller's mask) serves a full-size array instead.
 */
static struct bio_vec *bvec_alloc(struct bio_set *bs, unsigned int nr, gfp_t gfp, unsigned short *max)
{
	gfp_t try = (gfp & ~(__GFP_DIRECT_RECLAIM | __GFP_IO | __GFP_FS)) | __GFP_NOWARN;
	struct bio_vec *bv = NULL;

	if (nr <= BVEC_SMALL) {
		bv = kmem_cache_alloc(bvec_small_cache, try);
		*max = BVEC_SMALL;
	} else if (nr <= BVEC_MID) {
		bv = kmem_cache_alloc(bvec_mid_cache, try);
		*max = BVEC_MID;
	}
	if (bv)
		return bv;
	*max = BIO_MAX_VECS;
	return mempool_alloc(&bs->bvec_pool, gfp);
}

static void bvec_free(struct bio_set *bs, struct bio_vec *bv, unsigned int max)
{
	if (max == BVEC_SMALL)
		kmem_cache_free(bvec_small_cache, bv);
	else if (max == BVEC_MID)
		kmem_cache_free(bvec_mid_cache, bv);
	else
		mempool_free(bv, &bs->bvec_pool);
}

/* ------------------------------------------------------------ bio sets */

/* The size of one bio of a set: front pad, the bio, and its inline vectors. */
static size_t bio_obj_size(unsigned int front_pad, int flags)
{
	return front_pad + sizeof(struct bio) +
	       ((flags & BIOSET_NEED_BVECS) ? BIO_INLINE_VECS * sizeof(struct bio_vec) : 0);
}

int bioset_init_named(struct bio_set *bs, unsigned int pool_size, unsigned int front_pad, int flags,
		      const char *name)
{
	size_t size;
	int err;

	if (!bs || (flags & ~BIOSET_NEED_BVECS) || pool_size > INT_MAX || front_pad > 65536 ||
	    front_pad % _Alignof(struct bio) != 0)
		return -EINVAL;
	pthread_once(&bvec_once, bvec_caches_init);
	memset(bs, 0, sizeof(*bs));
	bs->front_pad = front_pad;
	bs->flags = (unsigned int)flags;
	size = bio_obj_size(front_pad, flags);
	bs->bio_slab = kmem_cache_create(name, (unsigned int)size, 0, 0, NULL);
	if (!bs->bio_slab)
		return -ENOMEM;
	err = mempool_init_slab_pool(&bs->bio_pool, (int)pool_size, bs->bio_slab);
	if (!err && (flags & BIOSET_NEED_BVECS))
		err = mempool_init_slab_pool(&bs->bvec_pool, (int)pool_size, bvec_max_cache);
	if (err) {
		bioset_exit(bs);
		return err;
	}
	return 0;
}

int bioset_init(struct bio_set *bs, unsigned int pool_size, unsigned int front_pad, int flags)
{
	/* Named as Linux names its bio slabs, by object size, so that the
	 * statistics tell sets of different shapes apart. */
	char name[32];

	snprintf(name, sizeof(name), "bio-%zu", bio_obj_size(front_pad, flags));
	return bioset_init_named(bs, pool_size, front_pad, flags, name);
}

void bioset_exit(struct bio_set *bs)
{
	struct pktmem_stats st;

	if (!bs)
		return;
	/* A bio still out would be put into a freed pool later: keep the set whole. */
	if (unlikely(mempool_stats(&bs->bio_pool, &st) == 0 && st.in_use > 0)) {
		diag("bioset_exit", "bio set %p still has %llu bio(s) out: not freed", (void *)bs,
		     (unsigned long long)st.in_use);
		return;
	}
	mempool_exit(&bs->bvec_pool);
	mempool_exit(&bs->bio_pool);
	kmem_cache_destroy(bs->bio_slab);
	memset(bs, 0, sizeof(*bs));
}

static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static struct bio_set default_bs;

static void default_bioset_init(void)
{
	/*
	 * Linux's fs_bio_set: a reserve of BIO_POOL_SIZE (2) bios. It lives as
	 * long as the process, so debug mode's leak report leaves it out.
	 */
	debug_keep_begin();
	if (bioset_init_named(&default_bs, 2, 0, BIOSET_NEED_BVECS, "bio-default"))
		diag("bio_alloc", "cannot set up the default bio set");
	debug_keep_end();
}

struct bio_set *bio_default_bioset(void)
{
	pthread_once(&default_once, default_bioset_init);
	return &default_bs;
}

/* ------------------------------------------------------------ allocation */

static void bio_init_fields(struct bio *bio, blk_opf_t opf, struct bio_set *bs)
{
	bio->bi_next = NULL;
	bio->bi_opf = opf;
	bio->bi_flags = 0;
	bio->bi_status = BLK_STS_OK;
	memset(&bio->bi_iter, 0, sizeof(bio->bi_iter));
	bio->bi_end_io = NULL;
	bio->bi_private = NULL;
	bio->bi_vcnt = 0;
	bio->bi_max_vecs = 0;
	bio->__bi_cnt = 1;
	bio->__bi_remaining = 1;
	bio->bi_io_vec = NULL;
	bio->bi_pool = bs;
}

struct bio *bio_alloc_bioset(unsigned short nr_vecs, blk_opf_t opf, gfp_t gfp_mask, struct bio_set *bs)
{
	struct bio *bio;
	char *obj;

	if (unlikely(!bs || !bs->bio_slab)) {
		diag("bio_alloc_bioset", "bio set %p is not initialised", (void *)bs);
		errno = EINVAL;
		return NULL;
	}
	if (unlikely(nr_vecs > BIO_MAX_VECS || (nr_vecs > 0 && !(bs->flags & BIOSET_NEED_BVECS)))) {
		errno = EINVAL;
		return NULL;
	}
	if (may_not_wait_here(gfp_mask, "bio_alloc_bioset")) {
		errno = EWOULDBLOCK; /* gfp(3): a refused waiting mask */
		return NULL;
	}
	gfp_mask &= ~__GFP_ZERO;
	obj = mempool_alloc(&bs->bio_pool, gfp_mask);
	if (unlikely(!obj)) {
		errno = ENOMEM;
		return NULL;
	}
	bio = (struct bio *)(obj + bs->front_pad);
	bio_init_fields(bio, opf, bs);
	if (nr_vecs > BIO_INLINE_VECS) {
		bio->bi_io_vec = bvec_alloc(bs, nr_vecs, gfp_mask, &bio->bi_max_vecs);
		if (unlikely(!bio->bi_io_vec)) {
			mempool_free(obj, &bs->bio_pool);
			errno = ENOMEM;
			return NULL;
		}
	} else if (bs->flags & BIOSET_NEED_BVECS) {
		bio->bi_io_vec = bio->bi_inline_vecs;
		bio->bi_max_vecs = BIO_INLINE_VECS;
	}
	return bio;
}

struct bio *bio_alloc(unsigned short nr_vecs, blk_opf_t opf, gfp_t gfp_mask)
{
	return bio_alloc_bioset(nr_vecs, opf, gfp_mask, bio_default_bioset());
}

/*
 * bio_get() found @old, no count of a live bio: at or below zero (the bio
 * was freed; undone and diagnosed), or debug mode's fill, when the record
 * of the bio's object decides (freed: undone, so the fill stays for the
 * check at reuse, and diagnosed with both sites).
 */
static __attribute__((noinline, cold)) void bio_get_odd(struct bio *bio, int old)
{
	if (old <= 0) {
		__atomic_fetch_sub(&bio->__bi_cnt, 1, __ATOMIC_RELAXED);
		diag("bio_get", "bio %p has reference count %d: it was put for the last time already", (void *)bio,
		     old);
		return;
	}
	if (old == DEBUG_FREE_INT && debug_on() && debug_freed_at(bio, "bio_get", "bio"))
		__atomic_fetch_sub(&bio->__bi_cnt, 1, __ATOMIC_RELAXED);
}

/* One compare tells a live count from both a freed bio's and the fill. */
void bio_get(struct bio *bio)
{
	int old = __atomic_fetch_add(&bio->__bi_cnt, 1, __ATOMIC_RELAXED);

	if (unlikely(!count_in(old, 1)))
		bio_get_odd(bio, old);
}

static void bio_free(struct bio *bio)
{
	struct bio_set *bs = bio->bi_pool;

	if (!(bio->bi_flags & BIO_CLONED) && bio->bi_max_vecs > BIO_INLINE_VECS)
		bvec_free(bs, bio->bi_io_vec, bio->bi_max_vecs);
	mempool_free((char *)bio - bs->front_pad, &bs->bio_pool);
}

/*
 * bio_put() read @cnt, no count of a live bio: at or below zero (put more
 * often than got: the drop is made and diagnosed, as always), or at least
 * debug mode's fill, when the record of the bio's object (which begins
 * with the set's front pad) decides: freed, the put is diagnosed with both
 * sites and the bio left as it is; otherwise @cnt is an ordinary count,
 * dropped, and the bio freed if that was the last.
 */
static __attribute__((noinline, cold)) void bio_put_odd(struct bio *bio, int cnt)
{
	int left;

	if (cnt == DEBUG_FREE_INT && debug_on() && debug_freed_at(bio, "bio_put", "bio"))
		return;
	left = __atomic_sub_fetch(&bio->__bi_cnt, 1, __ATOMIC_ACQ_REL);
	if (unlikely(left < 0))
		diag("bio_put", "bio %p put more often than it was got (count %d)", (void *)bio, left);
	else if (left == 0)
		bio_free(bio);
}

/*
 * A holder that reads a count of one is the only one, and nobody can take
 * a reference behind its back (bio_get() needs one held), so the last put
 * of an unshared bio is a load and a store, no atomic read-modify-write;
 * the acquire load pairs with the release of other holders' drops. Shared
 * counts are dropped atomically; anything else (a count at or below zero,
 * or debug mode's fill in a freed bio) goes out of line.
 */
void bio_put(struct bio *bio)
{
	int cnt;

	if (!bio)
		return;
	cnt = __atomic_load_n(&bio->__bi_cnt, __ATOMIC_ACQUIRE);
	if (likely(cnt == 1)) {
		__atomic_store_n(&bio->__bi_cnt, 0, __ATOMIC_RELAXED);
		bio_free(bio);
	} else if (likely(count_in(cnt, 2))) {
		if (__atomic_sub_fetch(&bio->__bi_cnt, 1, __ATOMIC_ACQ_REL) == 0)
			bio_free(bio);
	} else {
		bio_put_odd(bio, cnt);
	}
}

/* ------------------------------------------------------------ vectors */

int bio_add_page(struct bio *bio, struct page *page, unsigned int len, unsigned int offset)
{
	struct bio_vec *bv;
	size_t room;

	if (unlikely(!bio || !page)) {
		diag("bio_add_page", "bio %p, page %p", (void *)bio, (void *)page);
		return 0;
	}
	if (unlikely(bio->bi_flags & BIO_CLONED)) {
		diag("bio_add_page", "bio %p is a split clone: its vectors are another bio's", (void *)bio);
		return 0;
	}
	if (len == 0)
		return 0;
	room = page->ext.ext_size;
	if (unlikely(offset > room || len > room - offset)) {
		diag("bio_add_page", "bytes %u+%u are outside page %p (%zu bytes)", offset, len, (void *)page, room);
		return 0;
	}
	if (bio->bi_iter.bi_size > UINT_MAX - len)
		return 0;
	if (bio->bi_vcnt > 0) {
		bv = &bio->bi_io_vec[bio->bi_vcnt - 1];
		if (bv->bv_page == page && bv->bv_offset + bv->bv_len == offset) {
			bv->bv_len += len;
			bio->bi_iter.bi_size += len;
			return (int)len;
		}
	}
	if (bio->bi_vcnt >= bio->bi_max_vecs)
		return 0;
	bv = &bio->bi_io_vec[bio->bi_vcnt++];
	bv->bv_page = page;
	bv->bv_len = len;
	bv->bv_offset = offset;
	bio->bi_iter.bi_size += len;
	return (int)len;
}

void bio_advance(struct bio *bio, unsigned int bytes)
{
	struct bvec_iter *it = &bio->bi_iter;

	if (unlikely(bytes > it->bi_size)) {
		diag("bio_advance", "bio %p: %u bytes past its %u", (void *)bio, bytes, it->bi_size);
		return;
	}
	it->bi_sector += bytes >> SECTOR_SHIFT;
	it->bi_size -= bytes;
	bytes += it->bi_bvec_done;
	while (bytes > 0 && bytes >= bio->bi_io_vec[it->bi_idx].bv_len) {
		bytes -= bio->bi_io_vec[it->bi_idx].bv_len;
		it->bi_idx++;
	}
	it->bi_bvec_done = bytes;
}

struct bio *bio_split(struct bio *bio, int sectors, gfp_t gfp, struct bio_set *bs)
{
	struct bio *split;

	if (unlikely(!bio)) {
		diag("bio_split", "bio is NULL");
		errno = EINVAL;
		return NULL;
	}
	if (unlikely(sectors <= 0 || (unsigned int)sectors >= bio_sectors(bio))) {
		diag("bio_split", "bio %p of %u sectors cannot be split at %d", (void *)bio, bio_sectors(bio),
		     sectors);
		errno = EINVAL;
		return NULL;
	}
	split = bio_alloc_bioset(0, bio->bi_opf, gfp, bs);
	if (!split)
		return NULL;
	split->bi_io_vec = bio->bi_io_vec;
	split->bi_max_vecs = 0;
	split->bi_flags |= BIO_CLONED;
	split->bi_iter = bio->bi_iter;
	split->bi_iter.bi_size = (unsigned int)sectors << SECTOR_SHIFT;
	bio_advance(bio, split->bi_iter.bi_size);
	return split;
}

/* ------------------------------------------------------------ completion */

static void bio_chain_endio(struct bio *bio)
{
	/* Never called: bio_endio() unrolls chains itself; this is the marker. */
	diag("bio_endio", "chain end routine of bio %p called directly", (void *)bio);
}

void bio_chain(struct bio *bio, struct bio *parent)
{
	/* A bio chained to itself would wait for its own completion forever. */
	if (unlikely(!bio || !parent || bio == parent)) {
		diag("bio_chain", "cannot chain bio %p to parent %p", (void *)bio, (void *)parent);
		return;
	}
	if (unlikely(bio->bi_private || bio->bi_end_io)) {
		diag("bio_chain", "bio %p already has an end routine or private data", (void *)bio);
		return;
	}
	bio->bi_private = parent;
	bio->bi_end_io = bio_chain_endio;
	/* The parent is still its owner's, not yet submitted: a plain flag write is safe. */
	parent->bi_flags |= BIO_CHAIN;
	__atomic_fetch_add(&parent->__bi_remaining, 1, __ATOMIC_RELAXED);
}

/*
 * True when this is the completion that ends @bio. Completers of a chained
 * parent read the flag before their decrement; the last one clears it after
 * its own, so the acq_rel decrements order every read before the write.
 */
static bool bio_remaining_done(struct bio *bio)
{
	if (!(bio->bi_flags & BIO_CHAIN))
		return true;
	if (__atomic_sub_fetch(&bio->__bi_remaining, 1, __ATOMIC_ACQ_REL) != 0)
		return false;
	bio->bi_flags &= (unsigned short)~BIO_CHAIN;
	return true;
}

void bio_endio(struct bio *bio)
{
	while (bio_remaining_done(bio)) {
		struct bio *parent;
		blk_status_t status, ok = BLK_STS_OK;

		if (bio->bi_end_io != bio_chain_endio) {
			if (bio->bi_end_io)
				bio->bi_end_io(bio);
			return;
		}
		parent = bio->bi_private;
		status = __atomic_load_n(&bio->bi_status, __ATOMIC_RELAXED);
		if (status != BLK_STS_OK)
			__atomic_compare_exchange_n(&parent->bi_status, &ok, status, false, __ATOMIC_RELAXED,
						    __ATOMIC_RELAXED);
		bio_put(bio);
		bio = parent;
	}
}
