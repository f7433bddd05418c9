/*
 * Requests: blk_make_request(), bouncing, execution and completion.
 *
 *   caller's chain            the request's chain          rq_impl tables
 *   bio A -> bio B -> bio C   bio A -> bounce(B) -> bio C  io[0] A  iov[0..a)
 *            (misaligned)              | bi_private = B    io[1] B' iov[a..b)
 *                                      | pages: aligned    io[2] C  iov[b..c)
 *
 * blk_make_request() first checks the whole chain against the queue's
 * limits without allocating anything, so a refused chain costs nothing and
 * is left exactly as it came. Then it allocates the request, its tables
 * (inside the request object when small), and a bounce copy for each bio
 * whose memory breaks the queue's alignment. A bounce copy replaces its bio
 * in the request's chain; the original is its bi_private. Should any of
 * these allocations fail, the chain is put back as it was.
 *
 * Completion (blk_rq_finish): every bio in chain order gets its status and
 * bio_endio(); a bounce copy's end routine copies read data back into the
 * original, frees its pages and ends the original. Then the request's own
 * completion routine, then the queue's in-flight count drops, which is
 * what blk_queue_close() waits for.
 */
#include <errno.h>
#include <string.h>

#include "blk_impl.h"

static pthread_once_t rq_once = PTHREAD_ONCE_INIT;
static struct kmem_cache *rq_cache;

static void rq_cache_init(void)
{
	rq_cache = kmem_cache_create("blk-request", sizeof(struct rq_impl), 0, SLAB_PANIC, NULL);
}

/* ------------------------------------------------------------ bouncing */

/* Does any piece of @bio break the queue's memory alignment? Which one? */
static bool bio_misaligned(const struct request_queue *q, const struct bio *bio, unsigned int *vec,
			   char **addr, unsigned int *len)
{
	unsigned int mask = q->limits.dma_alignment, n = 0;
	struct seg_iter it;
	char *a;
	unsigned int l;

	seg_iter_init(&it, bio);
	while (seg_next(&it, &a, &l)) {
		if (((uintptr_t)a | l) & mask) {
			*vec = n;
			*addr = a;
			*len = l;
			return true;
		}
		n++;
	}
	return false;
}

/* The page order that lets a bounce copy of @size bytes fit BIO_MAX_VECS vectors. */
static unsigned int bounce_order(unsigned int size)
{
	unsigned int order = 0;

	while (((size_t)size + (PAGE_SIZE << order) - 1) / (PAGE_SIZE << order) > BIO_MAX_VECS)
		order++;
	return order;
}

static unsigned int bounce_segments(unsigned int size)
{
	size_t unit = PAGE_SIZE << bounce_order(size);

	return (unsigned int)((size + unit - 1) / unit);
}

/* Copy between a bio's pieces and a bounce copy's pages, either way. */
static void bounce_copy(struct bio *orig, struct bio *bounce, bool to_bounce)
{
	struct seg_iter it;
	unsigned int len, b = 0, boff = 0;
	char *a;

	seg_iter_init(&it, orig);
	while (seg_next(&it, &a, &len)) {
		while (len > 0) {
			struct bio_vec *bv = &bounce->bi_io_vec[b];
			unsigned int n = bv->bv_len - boff < len ? bv->bv_len - boff : len;
			char *p = (char *)page_address(bv->bv_page) + bv->bv_offset + boff;

			if (to_bounce)
				memcpy(p, a, n);
			else
				memcpy(a, p, n);
			a += n;
			len -= n;
			boff += n;
			if (boff == bv->bv_len) {
				b++;
				boff = 0;
			}
		}
	}
}

static void bounce_free(struct bio *bounce)
{
	for (unsigned int i = 0; i < bounce->bi_vcnt; i++)
		put_page(bounce->bi_io_vec[i].bv_page);
	bio_put(bounce);
}

static void bounce_end_io(struct bio *bounce)
{
	struct bio *orig = bounce->bi_private;
	blk_status_t status = bounce->bi_status;

	if (status == BLK_STS_OK && bio_data_dir(orig) == READ)
		bounce_copy(orig, bounce, false);
	else if (status != BLK_STS_OK)
		__atomic_store_n(&orig->bi_status, status, __ATOMIC_RELAXED);
	bounce_free(bounce);
	orig->bi_next = NULL; /* as for bios that were not bounced */
	bio_endio(orig);
}

/*
 * blk_queue_bounce: a copy of @orig in pages that meet any alignment up to
 * a page, from the queue's own bio set. NULL when an allocation failed.
 */
static struct bio *blk_queue_bounce(struct request_queue *q, struct bio *orig, gfp_t gfp)
{
	unsigned int size = orig->bi_iter.bi_size, order = bounce_order(size);
	unsigned int unit = (unsigned int)(PAGE_SIZE << order), nvec = bounce_segments(size);
	struct bio *bounce = bio_alloc_bioset((unsigned short)nvec, orig->bi_opf, gfp, &q->bounce_bs);

	if (!bounce)
		return NULL;
	for (unsigned int off = 0; off < size; off += unit) {
		struct page *pg = alloc_pages(gfp, order);

		if (!pg) {
			bounce_free(bounce);
			return NULL;
		}
		bio_add_page(bounce, pg, size - off < unit ? size - off : unit, 0);
	}
	bounce->bi_iter.bi_sector = orig->bi_iter.bi_sector;
	bounce->bi_flags |= BIO_BOUNCED;
	bounce->bi_private = orig;
	bounce->bi_end_io = bounce_end_io;
	if (bio_data_dir(orig) == WRITE)
		bounce_copy(orig, bounce, true);
	return bounce;
}

/*
 * Put a request's chain back as the caller built it: every bounce copy is
 * freed (not ended) and its original relinked in its place. Returns the
 * head of the caller's chain.
 */
static struct bio *chain_unbounce(struct bio *head)
{
	struct bio *first = NULL, *prev = NULL;

	for (struct bio *b = head, *next; b; b = next) {
		struct bio *keep = b;

		next = b->bi_next;
		if (b->bi_flags & BIO_BOUNCED) {
			keep = b->bi_private;
			bounce_free(b);
		}
		if (prev)
			prev->bi_next = keep;
		else
			first = keep;
		prev = keep;
	}
	return first;
}

/* ------------------------------------------------------------ make */

static const char *op_name(const struct bio *bio)
{
	return bio_data_dir(bio) == WRITE ? "write" : "read";
}

struct chain_shape {
	unsigned int nr_bio;
	unsigned int nr_seg;      /* after bouncing */
	unsigned int bytes;
	struct bio *bounce_bio;   /* the first bio that needs bouncing */
	unsigned int bounce_vec;
	char *bounce_addr;
	unsigned int bounce_len;
};

/*
 * Check the chain against the queue's limits; allocate nothing. Returns 0,
 * -EINVAL or -EOPNOTSUPP (mixed directions are diagnosed here too).
 */
static int chain_check(struct request_queue *q, struct bio *head, struct chain_shape *sh)
{
	const struct queue_limits *lim = &q->limits;
	unsigned int lbs_sectors = lim->logical_block_size >> SECTOR_SHIFT;
	uint64_t max_bytes = (uint64_t)lim->max_hw_sectors << SECTOR_SHIFT, total = 0;
	sector_t expect = head->bi_iter.bi_sector;
	unsigned int walked = 0;
	int err = 0;

	memset(sh, 0, sizeof(*sh));
	for (struct bio *b = head; b; b = b->bi_next) {
		unsigned int segs = 0, vec, len;
		struct seg_iter it;
		char *addr;

		/*
		 * Every acceptable bio brings at least one segment, so a longer
		 * chain is refused; this also ends the walk of a chain whose
		 * bi_next loops back, which would otherwise never finish.
		 */
		if (++walked > lim->max_segments)
			return -EINVAL;

		if (bio_data_dir(b) != bio_data_dir(head) || bio_op(b) != bio_op(head)) {
			diag("blk_make_request", "bio %p is a %s (op %u) in a chain whose first bio %p is a %s (op %u)",
			     (void *)b, op_name(b), (unsigned int)bio_op(b), (void *)head, op_name(head),
			     (unsigned int)bio_op(head));
			return -EINVAL;
		}
		if (err)
			continue; /* keep looking for a direction mix: that one is the caller's bug */
		if (bio_op(b) != REQ_OP_READ && bio_op(b) != REQ_OP_WRITE) {
			err = -EOPNOTSUPP;
			continue;
		}
		/* Past the last byte an off_t can address: the offset would wrap to another place. */
		if (b->bi_iter.bi_size == 0 || b->bi_iter.bi_size % lim->logical_block_size ||
		    b->bi_iter.bi_sector % lbs_sectors || b->bi_iter.bi_sector != expect ||
		    b->bi_iter.bi_sector > ((uint64_t)INT64_MAX >> SECTOR_SHIFT) - bio_sectors(b)) {
			err = -EINVAL;
			continue;
		}
		expect += bio_sectors(b);
		total += b->bi_iter.bi_size;
		if (bio_misaligned(q, b, &vec, &addr, &len)) {
			if (!sh->bounce_bio) {
				sh->bounce_bio = b;
				sh->bounce_vec = vec;
				sh->bounce_addr = addr;
				sh->bounce_len = len;
			}
			segs = bounce_segments(b->bi_iter.bi_size);
		} else {
			seg_iter_init(&it, b);
			while (seg_next(&it, &addr, &len))
				segs++;
		}
		sh->nr_bio++;
		sh->nr_seg += segs;
		if (total > max_bytes || sh->nr_seg > lim->max_segments)
			err = -EINVAL;
	}
	sh->bytes = (unsigned int)total;
	return err;
}

/* Point the request's I/O table at its bios and their memory. */
static void rq_fill(struct rq_impl *ri, struct iovec *iov)
{
	unsigned int i = 0;

	for (struct bio *b = ri->rq.bio; b; b = b->bi_next, i++) {
		struct rq_io *io = &ri->io[i];
		struct seg_iter it;
		unsigned int len;
		char *addr;

		io->bio = b;
		io->ri = ri;
		io->iov = iov;
		io->iovcnt = 0;
		io->inject = 0;
		io->pos = (off_t)(b->bi_iter.bi_sector << SECTOR_SHIFT);
		io->len = b->bi_iter.bi_size;
		io->done = 0;
		io->status = BLK_STS_OK;
		seg_iter_init(&it, b);
		while (seg_next(&it, &addr, &len)) {
			iov->iov_base = addr;
			iov->iov_len = len;
			iov++;
			io->iovcnt++;
		}
	}
	ri->nr_io = i;
}

struct request *blk_make_request(struct request_queue *q, struct bio *bio, gfp_t gfp_mask)
{
	struct chain_shape sh;
	struct rq_impl *ri;
	struct iovec *iov;
	struct bio *head, *prev;
	int err;

	if (unlikely(!q || !bio)) {
		diag("blk_make_request", "queue %p, bio %p", (void *)q, (void *)bio);
		return ERR_PTR(-EINVAL);
	}
	if (may_not_wait_here(gfp_mask, "blk_make_request"))
		return ERR_PTR(-EINVAL);
	err = chain_check(q, bio, &sh);
	if (err)
		return ERR_PTR(err);
	if (sh.bounce_bio && !gfpflags_allow_blocking(gfp_mask)) {
		/* The kernel BUG()s here: bouncing allocates, and this caller may not wait. */
		diag("blk_make_request",
		     "bio %p needs bouncing under a non-waiting gfp_mask %#x: vector %u at %p, %u bytes, "
		     "breaks queue %p's dma_alignment mask %#x",
		     (void *)sh.bounce_bio, gfp_mask, sh.bounce_vec, (void *)sh.bounce_addr, sh.bounce_len, (void *)q,
		     q->limits.dma_alignment);
		return ERR_PTR(-EINVAL);
	}

	pthread_once(&rq_once, rq_cache_init);
	ri = kmem_cache_alloc(rq_cache, gfp_mask & ~__GFP_ZERO);
	if (!ri)
		return ERR_PTR(-ENOMEM);
	memset(ri, 0, offsetof(struct rq_impl, inline_io));
	if (sh.nr_bio <= RQ_INLINE_IOS && sh.nr_seg <= RQ_INLINE_IOVS) {
		ri->io = ri->inline_io;
		iov = ri->inline_iov;
	} else {
		ri->table = kmalloc(sh.nr_bio * sizeof(struct rq_io) + sh.nr_seg * sizeof(struct iovec),
				    gfp_mask & ~__GFP_ZERO);
		if (!ri->table) {
			kmem_cache_free(rq_cache, ri);
			return ERR_PTR(-ENOMEM);
		}
		ri->io = ri->table;
		iov = (struct iovec *)(ri->io + sh.nr_bio);
	}

	/*
	 * Bounce what needs it, linking each copy in place of its original.
	 * Only the first copy may wait: the later ones would wait on a pool
	 * that only our own copies, not yet submitted, could refill (the
	 * deadlock blk_make_request(9) warns of). If one of them cannot be
	 * had at once, the whole call fails and the chain is restored.
	 */
	gfp_t bounce_gfp = gfp_mask;

	head = bio;
	prev = NULL;
	for (struct bio *b = bio, *next; b; b = next) {
		struct bio *cur = b;
		unsigned int vec, len;
		char *addr;

		next = b->bi_next;
		if (sh.bounce_bio && bio_misaligned(q, b, &vec, &addr, &len)) {
			cur = blk_queue_bounce(q, b, bounce_gfp);
			bounce_gfp &= ~__GFP_DIRECT_RECLAIM;
			if (!cur) {
				chain_unbounce(head);
				kfree(ri->table);
				kmem_cache_free(rq_cache, ri);
				return ERR_PTR(-ENOMEM);
			}
			cur->bi_next = next;
			if (prev)
				prev->bi_next = cur;
			else
				head = cur;
		}
		prev = cur;
	}

	ri->rq.q = q;
	ri->rq.cmd_flags = bio->bi_opf;
	ri->rq.__sector = bio->bi_iter.bi_sector;
	ri->rq.__data_len = sh.bytes;
	ri->rq.nr_phys_segments = (unsigned short)sh.nr_seg;
	ri->rq.bio = head;
	ri->rq.biotail = prev;
	rq_fill(ri, iov);
	pthread_mutex_lock(&q->lock);
	q->unstarted++;
	pthread_mutex_unlock(&q->lock);
	return &ri->rq;
}

/* ------------------------------------------------------------ completion */

void blk_rq_finish(struct request_queue *q, struct rq_impl *ri)
{
	struct request *rq = &ri->rq;
	blk_status_t status = BLK_STS_OK;
	rq_end_io_fn *end_io = rq->end_io;

	for (unsigned int i = 0; i < ri->nr_io; i++) {
		struct rq_io *io = &ri->io[i];
		struct bio *b = io->bio;

		b->bi_next = NULL;
		if (io->status != BLK_STS_OK) {
			__atomic_store_n(&b->bi_status, io->status, __ATOMIC_RELAXED);
			if (status == BLK_STS_OK)
				status = io->status;
		}
		bio_endio(b); /* may free b */
	}
	rq->bio = rq->biotail = NULL;
	if (end_io)
		end_io(rq, status);
	else
		blk_put_request(rq);

	pthread_mutex_lock(&q->lock);
	if (--q->inflight == 0)
		pthread_cond_broadcast(&q->idle);
	pthread_mutex_unlock(&q->lock);
}

/* ------------------------------------------------------------ execution */

struct sync_wait {
	blk_status_t status;
};

static void sync_end_io(struct request *rq, blk_status_t status)
{
	rq_impl_of(rq)->sync->status = status;
}

static bool rq_start(struct request *rq, const char *func)
{
	struct rq_impl *ri;

	if (unlikely(!rq || !rq->q)) {
		diag(func, "request %p is NULL or was put", (void *)rq);
		return false;
	}
	ri = rq_impl_of(rq);
	if (unlikely(ri->started)) {
		diag(func, "request %p was already executed", (void *)rq);
		return false;
	}
	ri->started = true;
	pthread_mutex_lock(&rq->q->lock);
	rq->q->unstarted--;
	rq->q->inflight++;
	pthread_mutex_unlock(&rq->q->lock);
	return true;
}

void blk_execute_rq_nowait(struct request *rq, bool at_head, rq_end_io_fn *done)
{
	if (!rq_start(rq, "blk_execute_rq_nowait"))
		return;
	rq->end_io = done;
	blk_engine_queue(rq->q, rq_impl_of(rq), at_head);
}

/*
 * Direct issue, whatever the engine: the caller is going to wait anyway,
 * so its own thread performs the bios. Handing them to the io_uring reaper
 * and back costs two thread wake-ups (measured: a 4 KiB cached read took
 * 20 us that way against 1.6 us here) and gains nothing for one request.
 */
blk_status_t blk_execute_rq(struct request *rq, bool at_head)
{
	struct rq_impl *ri;
	struct sync_wait w = { BLK_STS_OK };

	(void)at_head; /* nothing waits in front of a directly issued request */
	if (pktmem_in_atomic()) {
		diag("blk_execute_rq", "waits for I/O, inside pktmem_atomic_begin()");
		return BLK_STS_IOERR;
	}
	if (!rq_start(rq, "blk_execute_rq"))
		return BLK_STS_IOERR;
	ri = rq_impl_of(rq);
	ri->sync = &w;
	rq->end_io = sync_end_io;
	for (unsigned int i = 0; i < ri->nr_io; i++)
		blk_io_perform(rq->q, &ri->io[i]);
	blk_rq_finish(rq->q, ri);
	ri->sync = NULL;
	rq->end_io = NULL;
	return w.status;
}

void blk_put_request(struct request *rq)
{
	struct rq_impl *ri;

	if (!rq)
		return;
	ri = rq_impl_of(rq);
	/* blk_put_request() clears q: a second put finds it so while the object rests in the cache. */
	if (unlikely(!rq->q)) {
		diag("blk_put_request", "request %p was already put", (void *)rq);
		return;
	}
	if (unlikely(ri->started && rq->bio)) {
		diag("blk_put_request", "request %p is still in flight", (void *)rq);
		return;
	}
	if (!ri->started) {
		pthread_mutex_lock(&rq->q->lock);
		rq->q->unstarted--;
		pthread_mutex_unlock(&rq->q->lock);
	}
	if (rq->bio)
		chain_unbounce(rq->bio);
	rq->q = NULL;
	kfree(ri->table);
	kmem_cache_free(rq_cache, ri);
}
