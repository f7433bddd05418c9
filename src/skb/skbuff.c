/*
 * sk_buff allocation, freeing, cloning and copying.
 *
 *   kmem_cache "skbuff_head_cache"      struct sk_buff
 *   kmem_cache "skbuff_fclone_cache"    { sk_buff orig; sk_buff companion; fclone_ref }
 *   kmem_cache "skb-head-N"             [ data ... | skb_shared_info | pktmem_ext ]
 *
 * A head is one object of a head cache (or kmalloc beyond the largest
 * class) with its shared info and its storage header at the end: the
 * pktmem_ext's reference count is what Linux calls dataref. The release
 * routine of a head drops the fragments and the frag_list the shared info
 * holds, then frees the object. Clones take a reference to the head; so does
 * an mbuf that shares it after m_from_skb().
 *
 * Linear-data helpers are in linear.c, fragments and nonlinear operations in
 * frags.c, queues in queue.c, conversions to and from mbufs in convert.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "skb_impl.h"
#include "storage/window.h"

static const unsigned int head_class[] = { 512, 1024, 2048, 4096, 8192, 16384, 32768 };
/*
 * Cache colouring: a head object is its class plus one cache line, so that
 * consecutive heads start one line further round the L1 sets. At a
 * power-of-two stride the 32 heads of a burst (and their shared infos) would
 * start in one or two of a 32 KiB L1's 64 sets and evict each other; at
 * class + 64 they start in 32 different sets (test_colour). The extra line
 * is tailroom, counted in truesize.
 */
#define HEAD_COLOUR SMP_CACHE_BYTES
#define NR_HEAD_CLASSES (sizeof(head_class) / sizeof(head_class[0]))

/* Queues link sk_buffs and list heads through these shared first fields. */
_Static_assert(offsetof(struct sk_buff, next) == offsetof(struct sk_buff_list, next) &&
		       offsetof(struct sk_buff, prev) == offsetof(struct sk_buff_list, prev) &&
		       offsetof(struct sk_buff_head, next) == offsetof(struct sk_buff_list, next) &&
		       offsetof(struct sk_buff_head, prev) == offsetof(struct sk_buff_list, prev),
	       "sk_buff, sk_buff_head and sk_buff_list share their links");

struct sk_buff_fclones {
	struct sk_buff skb1;
	struct sk_buff skb2;
	int fclone_ref; /* atomic: how many of the two are in use */
};

/* Created once, on first use, and kept for the life of the process. */
static struct once skb_once = ONCE_INIT;
static struct kmem_cache *skbuff_cache, *fclone_cache, *head_cache[NR_HEAD_CLASSES];

static void skb_caches_init(void)
{
	char name[32];

	skbuff_cache = kmem_cache_create("skbuff_head_cache", sizeof(struct sk_buff), SMP_CACHE_BYTES, SLAB_PANIC, NULL);
	fclone_cache = kmem_cache_create("skbuff_fclone_cache", sizeof(struct sk_buff_fclones), SMP_CACHE_BYTES,
					 SLAB_PANIC, NULL);
	for (unsigned i = 0; i < NR_HEAD_CLASSES; i++) {
		snprintf(name, sizeof(name), "skb-head-%u", head_class[i]);
		head_cache[i] = kmem_cache_create(name, head_class[i] + HEAD_COLOUR, SMP_CACHE_BYTES, SLAB_PANIC, NULL);
	}
}

static inline void skb_init_once(void)
{
	once_run(&skb_once, skb_caches_init);
}

struct kmem_cache *pktmem_skbuff_cache(void)
{
	skb_init_once();
	return skbuff_cache;
}

struct kmem_cache *pktmem_skbuff_fclone_cache(void)
{
	skb_init_once();
	return fclone_cache;
}

/*
 * The classes hold a power of two from 512 up plus the colour line: the
 * class is a bit count, not a search. The colour line is usable, so a head
 * re-made at its own size (pskb_expand_head(skb, 0, 0)) stays in its class.
 */
static inline int head_class_of(size_t need)
{
	if (need <= 512 + HEAD_COLOUR)
		return 0;

	/* need - HEAD_COLOUR <= 1 << (cls + 9) */
	int cls = 64 - __builtin_clzll((unsigned long long)(need - HEAD_COLOUR) - 1) - 9;

	return cls < (int)NR_HEAD_CLASSES ? cls : -1;
}

struct kmem_cache *pktmem_skb_head_cache(unsigned int size)
{
	skb_init_once();
	int i = head_class_of(SKB_DATA_ALIGN((size_t)size) + SKB_HEAD_OVERHEAD);

	return i < 0 ? NULL : head_cache[i];
}

/* ------------------------------------------------------------ heads */

/* Drop what a head's shared info holds. */
void shinfo_release(struct skb_shared_info *sh)
{
	for (int i = 0; i < sh->nr_frags; i++)
		put_page(sh->frags[i].bv_page);
	sh->nr_frags = 0;
	if (sh->frag_list) {
		kfree_skb_list(sh->frag_list);
		sh->frag_list = NULL;
	}
}

/* Out of line, so that head_release() needs no stack frame for heads without frags. */
static __attribute__((noinline)) void head_release_shinfo(struct skb_shared_info *sh)
{
	shinfo_release(sh);
}

/* The last holder of a head let go: its shared info, then the object. */
static void head_release(struct pktmem_ext *e, void *owner)
{
	struct skb_shared_info *sh = (struct skb_shared_info *)(e->ext_buf + e->ext_size);

	(void)owner;
	/* Most heads hold neither: the test keeps the walk's set-up off their path. */
	if (sh->nr_frags || sh->frag_list)
		head_release_shinfo(sh);
	/* ext_type: the head's size class (head_alloc), which spares kfree()'s lookup. */
	if (e->ext_type >= 0)
		kmem_cache_free(head_cache[e->ext_type], e->ext_buf);
	else
		kfree(e->ext_buf);
}

/*
 * Make @buf, an object of @objsize bytes (of head class @cls, or -1: from
 * kmalloc), a fresh head: its storage header at the end, one reference, an
 * empty shared info. Shared by the single and the bulk allocations, so
 * that both give the same heads.
 */
static inline __attribute__((always_inline)) struct pktmem_ext *head_setup(char *buf, size_t objsize, int cls,
									    int node)
{
	struct pktmem_ext *e = (struct pktmem_ext *)(buf + objsize - SKB_EXT_SIZE);
	size_t end = objsize - SKB_HEAD_OVERHEAD;

	ext_setup(e, buf, end, PKTMEM_EXT_USER | PKTMEM_EXT_EMBEDDED, node);
	e->ext_release = head_release;
	e->ext_type = cls;
	shinfo_clear(buf + end);
	return e;
}

/* The object size of a head for @need bytes (data and overhead) of class @cls. */
static inline size_t head_objsize(size_t need, int cls)
{
	return cls >= 0 ? head_class[cls] + HEAD_COLOUR : need;
}

/* end and tail are unsigned int, the tailroom an int: a larger head cannot be described. */
static inline bool head_size_ok(size_t size)
{
	return size <= (size_t)INT_MAX - SMP_CACHE_BYTES;
}

/* head_alloc(), inlined into __alloc_skb(), the path every packet takes. The caches exist (skb_init_once()). */
static inline __attribute__((always_inline)) struct pktmem_ext *head_alloc_inline(size_t size, gfp_t gfp, int node)
{
	size_t need = SKB_DATA_ALIGN(size) + SKB_HEAD_OVERHEAD;
	int cls = head_class_of(need);
	size_t objsize;
	char *buf;

	if (unlikely(!head_size_ok(size))) {
		errno = ENOMEM;
		return NULL;
	}
	/* objsize set in each branch (not by head_objsize()): the hot class path stays straight. */
	if (cls >= 0) {
		objsize = head_class[cls] + HEAD_COLOUR;
		buf = node == NUMA_NO_NODE ? kmem_cache_alloc(head_cache[cls], gfp & ~__GFP_ZERO)
					   : kmem_cache_alloc_node(head_cache[cls], gfp & ~__GFP_ZERO, node);
	} else {
		objsize = need;
		buf = kmalloc_node(need, gfp & ~__GFP_ZERO, node);
	}
	if (!buf)
		return NULL;

	struct pktmem_ext *e = head_setup(buf, objsize, cls, node);

	if (gfp & __GFP_ZERO)
		memset(buf, 0, e->ext_size);
	return e;
}

struct pktmem_ext *head_alloc(size_t size, gfp_t gfp, int node)
{
	skb_init_once();
	return head_alloc_inline(size, gfp, node);
}

/*
 * A fresh sk_buff at head @e: empty, no headroom, one user, every other
 * field zero. Fields from truesize on are all set here, so only the ones
 * before it are zeroed first.
 */
#define SKB_INIT_ZEROED offsetof(struct sk_buff, truesize)
_Static_assert(SKB_INIT_ZEROED % 16 == 0, "the zeroed part of a fresh sk_buff is whole 16-byte blocks");
_Static_assert(offsetof(struct sk_buff, users) > SKB_INIT_ZEROED &&
		       offsetof(struct sk_buff, destructor) > SKB_INIT_ZEROED &&
		       offsetof(struct sk_buff, tail) > SKB_INIT_ZEROED &&
		       offsetof(struct sk_buff, end) > SKB_INIT_ZEROED &&
		       offsetof(struct sk_buff, head) > SKB_INIT_ZEROED &&
		       offsetof(struct sk_buff, data) > SKB_INIT_ZEROED &&
		       offsetof(struct sk_buff, head_ext) + sizeof(struct pktmem_ext *) == sizeof(struct sk_buff),
	       "skb_init_head() sets every field from truesize to the end");

static inline void skb_init_head(struct sk_buff *skb, struct pktmem_ext *e)
{
	skb_zero_first(skb, SKB_INIT_ZEROED);
	skb->users = 1;
	skb->destructor = NULL;
	skb->head = (unsigned char *)e->ext_buf;
	skb->data = skb->head;
	skb->tail = 0;
	skb->end = (unsigned int)e->ext_size;
	skb->head_ext = e;
	skb->truesize = (unsigned int)(e->ext_size + sizeof(struct sk_buff) + SKB_HEAD_OVERHEAD);
	skb->mac_header = skb->network_header = skb->transport_header = (uint16_t)~0u;
}

/* ------------------------------------------------------------ allocation */

struct sk_buff *__alloc_skb(unsigned int size, gfp_t gfp_mask, int flags, int node)
{
	struct kmem_cache *cache;
	struct sk_buff *skb;

	if (unlikely(flags & ~(SKB_ALLOC_FCLONE | SKB_ALLOC_RX))) {
		diag("__alloc_skb", "unknown flags %#x (size %u)", flags, size);
		return NULL;
	}
	if (node != NUMA_NO_NODE && !pktmem_node_valid(node)) {
		errno = EINVAL;
		return NULL;
	}
	if (may_not_wait_here(gfp_mask, "__alloc_skb")) {
		errno = EWOULDBLOCK;
		return NULL;
	}
	skb_init_once();
	if (flags & SKB_ALLOC_RX)
		gfp_mask |= __GFP_MEMALLOC;
	gfp_mask &= ~__GFP_ZERO;
	cache = (flags & SKB_ALLOC_FCLONE) ? fclone_cache : skbuff_cache;
	skb = node == NUMA_NO_NODE ? kmem_cache_alloc(cache, gfp_mask) : kmem_cache_alloc_node(cache, gfp_mask, node);
	if (!skb)
		return NULL;

	struct pktmem_ext *e = head_alloc_inline(size, gfp_mask, node);

	if (!e) {
		kmem_cache_free(cache, skb);
		return NULL;
	}
	skb_init_head(skb, e); /* pfmemalloc and fclone are zero: declared before truesize */
	if (unlikely(flags & SKB_ALLOC_RX))
		skb->pfmemalloc = 1;
	win_skb_fresh(skb);
	if (flags & SKB_ALLOC_FCLONE) {
		struct sk_buff_fclones *fc = (struct sk_buff_fclones *)skb;

		skb->fclone = SKB_FCLONE_ORIG;
		fc->skb2.fclone = SKB_FCLONE_CLONE;
		__atomic_store_n(&fc->fclone_ref, 1, __ATOMIC_RELAXED);
	}
	return skb;
}

/* ------------------------------------------------------------ allocating many */

/*
 * alloc_skb_bulk() takes every sk_buff of a call from their cache in one
 * kmem_cache_alloc_bulk(), and every head from theirs in another, as Linux
 * refills its per-CPU skb cache 16 at a time. One call per cache for the
 * whole request keeps it all or nothing at a cache limit too: a waiting
 * mask never sleeps holding part of the request (two callers each holding
 * a part could wait for each other for ever). The pointers wait in an
 * array on the stack up to a burst of this many, in a kmalloc'd one beyond.
 */
#define SKB_ALLOC_BULK 32

/*
 * @n fresh skbs into @out, as alloc_skb() makes them, with heads of class
 * @cls (-1: from kmalloc, @need bytes each). @structs and @heads have room
 * for @n pointers each. All or nothing: @n, or 0 with nothing kept and
 * @out untouched. The caches exist.
 */
static int alloc_skb_many(struct sk_buff **out, void **structs, void **heads, int n, size_t need, int cls,
			  gfp_t gfp)
{
	size_t objsize = head_objsize(need, cls);

	if (kmem_cache_alloc_bulk(skbuff_cache, gfp, (size_t)n, structs) != n)
		return 0;
	if (likely(cls >= 0)) {
		if (unlikely(kmem_cache_alloc_bulk(head_cache[cls], gfp, (size_t)n, heads) != n))
			goto fail;
	} else {
		for (int i = 0; i < n; i++) {
			heads[i] = kmalloc_node(need, gfp, NUMA_NO_NODE);
			if (unlikely(!heads[i])) {
				while (i--)
					kfree(heads[i]);
				goto fail;
			}
		}
	}
	for (int i = 0; i < n; i++) {
		struct sk_buff *skb = structs[i];

		skb_init_head(skb, head_setup(heads[i], objsize, cls, NUMA_NO_NODE));
		win_skb_fresh(skb);
		out[i] = skb;
	}
	return n;
fail:
	kmem_cache_free_bulk(skbuff_cache, (size_t)n, structs);
	return 0;
}

int alloc_skb_bulk(struct sk_buff **skbs, int n, unsigned int size, gfp_t gfp)
{
	void *burst[2 * SKB_ALLOC_BULK], **tmp = burst;

	if (unlikely(n < 0 || (n > 0 && !skbs))) {
		diag("alloc_skb_bulk", "skbs %p, n %d (size %u): nothing allocated", (void *)skbs, n, size);
		return 0;
	}
	if (may_not_wait_here(gfp, "alloc_skb_bulk")) {
		errno = EWOULDBLOCK;
		return 0;
	}
	/* As alloc_skb() refuses it: no head can describe it. */
	if (unlikely(!head_size_ok(size))) {
		errno = ENOMEM;
		return 0;
	}
	if (n == 0)
		return 0;
	skb_init_once();
	gfp &= ~__GFP_ZERO; /* as __alloc_skb(): the data is the caller's to write */

	size_t need = SKB_DATA_ALIGN((size_t)size) + SKB_HEAD_OVERHEAD;
	int cls = head_class_of(need);

	if (unlikely(n > SKB_ALLOC_BULK)) {
		if ((size_t)n > SIZE_MAX / (2 * sizeof(void *))) {
			errno = ENOMEM;
			return 0;
		}
		tmp = kmalloc(2 * (size_t)n * sizeof(void *), gfp);
		if (!tmp)
			return 0;
	}

	int got = alloc_skb_many(skbs, tmp, tmp + n, n, need, cls, gfp);

	if (tmp != burst) {
		int err = errno;

		kfree(tmp);
		errno = err;
	}
	return got;
}

struct sk_buff *__netdev_alloc_skb(struct net_device *dev, unsigned int length, gfp_t gfp_mask)
{
	if (unlikely(length > UINT_MAX - NET_SKB_PAD)) { /* the sum would wrap to a small head */
		errno = ENOMEM;
		return NULL;
	}
	struct sk_buff *skb = __alloc_skb(length + NET_SKB_PAD, gfp_mask, SKB_ALLOC_RX, NUMA_NO_NODE);

	if (skb) {
		skb_reserve(skb, NET_SKB_PAD);
		skb->dev = dev;
	}
	return skb;
}

void *netdev_alloc_frag(unsigned int fragsz)
{
	return kmalloc(fragsz, GFP_ATOMIC);
}

void skb_free_frag(void *addr)
{
	kfree(addr);
}

/* A build_skb() head: the caller's kmalloc/frag buffer, with a separate header. */
static void frag_head_release(struct pktmem_ext *e, void *owner)
{
	(void)owner;
	shinfo_release((struct skb_shared_info *)(e->ext_buf + e->ext_size));
	kfree(e->ext_buf);
}

struct sk_buff *build_skb(void *data, unsigned int frag_size)
{
	if (unlikely(!data || !kmalloc_owns(data))) {
		diag("build_skb", "%p is not a buffer from netdev_alloc_frag() or kmalloc() (frag_size %u)", data,
		     frag_size);
		return NULL;
	}
	size_t size = frag_size ? frag_size : ksize(data);

	if (unlikely(size < SKB_SHINFO_SIZE || size > ksize(data))) {
		diag("build_skb", "buffer %p: frag_size %u does not fit its %zu bytes with %zu of shared info", data,
		     frag_size, ksize(data), (size_t)SKB_SHINFO_SIZE);
		return NULL;
	}
	skb_init_once();

	struct sk_buff *skb = kmem_cache_alloc(skbuff_cache, GFP_ATOMIC);

	if (!skb)
		return NULL;
	size_t end = size - SKB_SHINFO_SIZE;
	struct pktmem_ext *e = pktmem_ext_attach(data, end, frag_head_release, NULL, GFP_ATOMIC);

	if (!e) {
		kmem_cache_free(skbuff_cache, skb);
		return NULL;
	}
	shinfo_clear((char *)data + end);
	skb_init_head(skb, e);
	skb->head_frag = 1;
	win_skb_fresh(skb);
	return skb;
}

/* ------------------------------------------------------------ freeing */

static void kfree_skbmem(struct sk_buff *skb)
{
	struct sk_buff_fclones *fc;

	/* Most skbs are ordinary: one test before the fclone cases. */
	if (likely(skb->fclone == SKB_FCLONE_UNAVAILABLE)) {
		kmem_cache_free(skbuff_cache, skb);
		return;
	}
	switch (skb->fclone) {
	case SKB_FCLONE_ORIG:
		fc = (struct sk_buff_fclones *)skb;
		break;
	case SKB_FCLONE_CLONE:
		fc = (struct sk_buff_fclones *)((char *)skb - offsetof(struct sk_buff_fclones, skb2));
		break;
	default:
		kmem_cache_free(skbuff_cache, skb);
		return;
	}
	/* The pair goes back when both halves are done. */
	if (__atomic_sub_fetch(&fc->fclone_ref, 1, __ATOMIC_ACQ_REL) == 0)
		kmem_cache_free(fclone_cache, fc);
}

/*
 * Is @e, a head whose count the caller just read as 1 (it holds it alone,
 * so the shared info is settled), a plain head: of a head cache (not
 * kmalloc), no frags, no frag_list? Then head_release() would only free
 * the object (head_cache[e->ext_type], e->ext_buf), and the batched free
 * gathers it instead. Sanitizer windows want the head opened first, which
 * ext_release() does: never plain there.
 */
static inline __attribute__((always_inline)) bool head_is_plain(const struct pktmem_ext *e)
{
	if (PKTMEM_WINDOWS || e->ext_release != head_release || e->ext_type < 0)
		return false;

	const struct skb_shared_info *sh = (const struct skb_shared_info *)(e->ext_buf + e->ext_size);

	return !sh->nr_frags && !sh->frag_list;
}

/*
 * The head goes through ext_put_any_inline() even when plain: handing it
 * to its cache here (as the batched free does) makes the function every
 * clone is freed through larger, and costs the clones more than it saves.
 */
static inline __attribute__((always_inline)) void skb_release_all(struct sk_buff *skb)
{
	if (skb->destructor)
		skb->destructor(skb);
	if (likely(skb->head_ext))
		ext_put_any_inline(skb->head_ext, NULL);
	skb->head_ext = NULL;
}

/* skb_unref() of a count other than 1: shared, or freed already (diagnosed). */
static inline __attribute__((always_inline)) bool skb_unref_shared(struct sk_buff *skb, int users, const char *func)
{
	if (unlikely(users <= 0)) {
		diag(func, "skb %p freed again (users %d, len %u)", (void *)skb, users, skb->len);
		return false;
	}
	return __atomic_sub_fetch(&skb->users, 1, __ATOMIC_ACQ_REL) == 0;
}

static void skb_free_out_of_line(struct sk_buff *skb, const char *func);

/*
 * skb_unref() of a count that reads as debug mode's fill: in debug mode a
 * freed skb, which its record tells (diagnosed with both sites); else an
 * ordinary count, dropped here, and should it reach zero, the skb freed
 * here too. Out of line and cold, and telling the caller only "not the
 * last", so that the freeing paths keep their small frames.
 */
static __attribute__((noinline, cold)) void skb_unref_fill(struct sk_buff *skb, const char *func)
{
	if (debug_on() && debug_freed(skb, func, "skb"))
		return;
	if (__atomic_sub_fetch(&skb->users, 1, __ATOMIC_ACQ_REL) == 0) {
		__atomic_store_n(&skb->users, 1, __ATOMIC_RELAXED); /* ours alone: free it as a count of 1 */
		skb_free_out_of_line(skb, func);
	}
}

/* Drop a users reference; true when it was the last. Diagnoses a free of a freed skb. */
static inline __attribute__((always_inline)) bool skb_unref(struct sk_buff *skb, const char *func)
{
	int users = __atomic_load_n(&skb->users, __ATOMIC_ACQUIRE);

	if (likely(users == 1))
		return true;
	if (unlikely(users == DEBUG_FREE_INT)) {
		skb_unref_fill(skb, func);
		return false;
	}
	return skb_unref_shared(skb, users, func);
}

/*
 * Could @skb be one of ours? Checked before a release touches what it
 * points to, so that a copy (on the stack, in malloc'd memory) cannot drop
 * the real skb's head. One bitmap load on every last free; the cache's
 * exact check follows when the object goes back to it.
 */
static inline bool skb_ours(const struct sk_buff *skb)
{
	return arena_owns(skb);
}

/*
 * Drop a users reference to @skb and say whether it was the last, after the
 * checks every free makes (freed already, not ours). The caller then
 * releases the head and frees the sk_buff object itself.
 */
static inline __attribute__((always_inline)) bool skb_take_last(struct sk_buff *skb, const char *func)
{
	if (!skb_unref(skb, func))
		return false;
	if (unlikely(!skb_ours(skb))) {
		diag(func, "%p is not an sk_buff of ours (a copy, or on the stack?): not freed (len %u)",
		     (void *)skb, skb->len);
		return false;
	}
	__atomic_store_n(&skb->users, 0, __ATOMIC_RELAXED);
	return true;
}

/* skb_take_last(), then the head released: the caller frees the sk_buff object. */
static inline __attribute__((always_inline)) bool skb_put_last(struct sk_buff *skb, const char *func)
{
	if (!skb_take_last(skb, func))
		return false;
	skb_release_all(skb);
	return true;
}

static inline __attribute__((always_inline)) void skb_free(struct sk_buff *skb, const char *func)
{
	if (skb && skb_put_last(skb, func))
		kfree_skbmem(skb);
}

static __attribute__((noinline)) void skb_free_out_of_line(struct sk_buff *skb, const char *func)
{
	skb_free(skb, func);
}

void kfree_skb(struct sk_buff *skb)
{
	skb_free(skb, "kfree_skb");
}

void consume_skb(struct sk_buff *skb)
{
	skb_free(skb, "consume_skb");
}

/* ------------------------------------------------------------ freeing many */

/*
 * Objects the freeing of many skbs hands back to their caches in one call
 * each, as Linux does: ordinary sk_buffs, and plain heads of one class (a
 * burst is usually of one size; a head of another class sends the ones
 * gathered back first).
 */
#define SKB_FREE_BULK 16

/*
 * The arrays live apart from the counters (the caller's locals), so that
 * only they escape to kmem_cache_free_bulk() and the counters can stay in
 * registers through the walk.
 */
struct skb_free_batch {
	unsigned int nskb, nhead;
	int head_cls;    /* the class of heads[]; -1 while there are none */
	bool fast_heads; /* heads may be gathered (no window or debug hook wants them one by one) */
	void **skbs;     /* SKB_FREE_BULK each */
	void **heads;
};

static inline void free_batch_init(struct skb_free_batch *b, void **skbs, void **heads)
{
	b->nskb = b->nhead = 0;
	b->head_cls = -1;
	b->skbs = skbs;
	b->heads = heads;
	/*
	 * Sanitizer windows open a head before it goes back, and debug mode
	 * checks every object as it is freed: both take the one-by-one path,
	 * which does all of that, as kfree_skb() does.
	 */
	b->fast_heads = !PKTMEM_WINDOWS && !debug_on();
}

static inline void free_batch_flush(struct skb_free_batch *b)
{
	if (b->nhead) {
		kmem_cache_free_bulk(head_cache[b->head_cls], b->nhead, b->heads);
		b->nhead = 0;
	}
	if (b->nskb) {
		kmem_cache_free_bulk(skbuff_cache, b->nskb, b->skbs);
		b->nskb = 0;
	}
}

/*
 * skb_release_all() with the head gathered into @b when it is a plain head
 * (of a head cache, not kmalloc) that @skb held alone and that holds no
 * frags or frag_list: head_release() would only free the object. Any other
 * head is put as kfree_skb() puts it.
 */
static inline __attribute__((always_inline)) void skb_release_batched(struct sk_buff *skb, struct skb_free_batch *b)
{
	if (skb->destructor)
		skb->destructor(skb);

	struct pktmem_ext *e = skb->head_ext;

	skb->head_ext = NULL;
	if (unlikely(!e))
		return;
	if (likely(b->fast_heads && __atomic_load_n(&e->ext_refs, __ATOMIC_ACQUIRE) == 1 && head_is_plain(e))) {
		__atomic_store_n(&e->ext_refs, 0, __ATOMIC_RELAXED);
		if (unlikely(b->head_cls != e->ext_type || b->nhead == SKB_FREE_BULK)) {
			if (b->nhead)
				kmem_cache_free_bulk(head_cache[b->head_cls], b->nhead, b->heads);
			b->nhead = 0;
			b->head_cls = e->ext_type;
		}
		b->heads[b->nhead++] = e->ext_buf;
		return;
	}
	ext_put_any_inline(e, NULL);
}

/* kfree_skb(), with the sk_buff object and a plain head gathered into @b. */
static inline __attribute__((always_inline)) void skb_free_batched(struct sk_buff *skb, const char *func,
								  struct skb_free_batch *b)
{
	if (!skb_take_last(skb, func))
		return;
	skb_release_batched(skb, b);
	if (skb->fclone != SKB_FCLONE_UNAVAILABLE) {
		kfree_skbmem(skb);
		return;
	}
	if (b->nskb == SKB_FREE_BULK) {
		kmem_cache_free_bulk(skbuff_cache, b->nskb, b->skbs);
		b->nskb = 0;
	}
	b->skbs[b->nskb++] = skb;
}

/*
 * Is @skb, a member of a list being freed, freed already, so that its
 * ->next is stale (diagnosed)? A count at or below zero says so; in debug
 * mode a freed skb's count reads as the fill instead, and its record says
 * so. Out of line: only such counts (and larger ones) get here.
 */
static __attribute__((noinline, cold)) bool skb_list_member_freed(struct sk_buff *skb, int users)
{
	if (users > 0)
		return users == DEBUG_FREE_INT && debug_on() && debug_freed(skb, "kfree_skb_list", "skb in the list");
	diag("kfree_skb_list", "skb %p in the list is freed already; the rest is not walked", (void *)skb);
	return true;
}

void kfree_skb_list(struct sk_buff *segs)
{
	void *skbs[SKB_FREE_BULK], *heads[SKB_FREE_BULK];
	struct skb_free_batch b;

	free_batch_init(&b, skbs, heads);
	while (segs) {
		struct sk_buff *skb = segs, *next = skb->next;

		/*
		 * A freed member (or a cycle back to one): its ->next is stale, stop
		 * here. Members waiting in the batch have users 0 too, so a cycle
		 * back to one of them stops here as well.
		 */
		int users = __atomic_load_n(&skb->users, __ATOMIC_RELAXED);

		/* One compare: at or below zero, or at least the fill. */
		if (unlikely((unsigned int)users - 1 >= (unsigned int)DEBUG_FREE_INT - 1) &&
		    skb_list_member_freed(skb, users))
			break;
		segs = next;
		skb_free_batched(skb, "kfree_skb", &b);
	}
	free_batch_flush(&b);
}

void kfree_skb_bulk(struct sk_buff **skbs, int n)
{
	void *bskbs[SKB_FREE_BULK], *bheads[SKB_FREE_BULK];
	struct skb_free_batch b;

	if (unlikely(n < 0 || (n > 0 && !skbs))) {
		diag("kfree_skb_bulk", "skbs %p, n %d: not freed", (void *)skbs, n);
		return;
	}
	free_batch_init(&b, bskbs, bheads);
	for (int i = 0; i < n; i++)
		if (skbs[i])
			skb_free_batched(skbs[i], "kfree_skb_bulk", &b);
	free_batch_flush(&b);
}

/* ------------------------------------------------------------ clones and copies */

/* Copy what describes the packet (not the links, users or storage). */
static void copy_header_fields(struct sk_buff *n, const struct sk_buff *old)
{
	n->dev = old->dev;
	memcpy(n->cb, old->cb, sizeof(n->cb));
	n->mac_len = old->mac_len;
	n->hdr_len = old->hdr_len;
	n->protocol = old->protocol;
	n->priority = old->priority;
	n->mark = old->mark;
	n->ip_summed = old->ip_summed;
	n->pfmemalloc = old->pfmemalloc;
}

/* An offset from head moved by @off; ~0 (not set) stays as it is. */
static inline uint16_t header_shift(uint16_t h, long off)
{
	return h == (uint16_t)~0u ? h : (uint16_t)(h + off);
}

/* Header offsets are relative to head: shift them when the head moves by @off. */
static void copy_header_offsets(struct sk_buff *n, const struct sk_buff *old, long off)
{
	n->transport_header = header_shift(old->transport_header, off);
	n->network_header = header_shift(old->network_header, off);
	n->mac_header = header_shift(old->mac_header, off);
}

/*
 * A clone is its original with other links, socket, destructor and users:
 * every field from dev to mark and from tail to head_ext is copied as it is
 * (copy_header_fields(), the offsets, lengths, head pointers and flags), in
 * 16-byte blocks, as skb_zero_first() does; truesize, users and destructor sit
 * between the two runs and are set one by one (users is not even read: other
 * threads may change it).
 */
#define CLONE_RUN1_FROM offsetof(struct sk_buff, dev)
#define CLONE_RUN1_TO offsetof(struct sk_buff, truesize)
#define CLONE_RUN2_FROM offsetof(struct sk_buff, tail)
_Static_assert(CLONE_RUN1_FROM % 16 == 0 && CLONE_RUN1_TO % 16 == 0 && CLONE_RUN2_FROM % 16 == 0 &&
		       sizeof(struct sk_buff) % 16 == 0,
	       "the copied runs of an sk_buff are whole 16-byte blocks");
_Static_assert(offsetof(struct sk_buff, users) > CLONE_RUN1_TO &&
		       offsetof(struct sk_buff, destructor) > CLONE_RUN1_TO &&
		       offsetof(struct sk_buff, destructor) < CLONE_RUN2_FROM &&
		       offsetof(struct sk_buff, users) < CLONE_RUN2_FROM &&
		       offsetof(struct sk_buff, destructor) + sizeof(void (*)(struct sk_buff *)) == CLONE_RUN2_FROM &&
		       offsetof(struct sk_buff, head_ext) > CLONE_RUN2_FROM,
	       "truesize, users and destructor lie between the copied runs");

static inline void skb_copy_blocks(struct sk_buff *n, const struct sk_buff *old, size_t from, size_t to)
{
	typedef uint64_t copy_v2 __attribute__((vector_size(16), aligned(8), may_alias));

	for (size_t i = from; i < to; i += 16) {
		*(copy_v2 *)((char *)n + i) = *(const copy_v2 *)((const char *)old + i);
		__asm__("" : : "r"(n) : "memory"); /* not a memcpy call: see skb_zero_first() */
	}
}

struct sk_buff *skb_clone(struct sk_buff *skb, gfp_t gfp_mask)
{
	struct sk_buff *n = NULL;
	unsigned int fclone = SKB_FCLONE_UNAVAILABLE;

	/* Diagnosed even when the fclone companion would need no allocation. */
	if (may_not_wait_here(gfp_mask, "skb_clone"))
		return NULL;
	if (skb->fclone == SKB_FCLONE_ORIG) {
		struct sk_buff_fclones *fc = (struct sk_buff_fclones *)skb;
		int expected = 1;

		/* The companion is free while only the original is in use. */
		if (__atomic_compare_exchange_n(&fc->fclone_ref, &expected, 2, false, __ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED)) {
			n = &fc->skb2;
			fclone = SKB_FCLONE_CLONE;
		}
	}
	if (!n) {
		/* A clone of a receive-reserve packet may use the reserve too. */
		if (skb->pfmemalloc)
			gfp_mask |= __GFP_MEMALLOC;
		n = kmem_cache_alloc(skbuff_cache, gfp_mask & ~__GFP_ZERO);
		if (!n)
			return NULL;
	}
	n->next = n->prev = NULL;
	skb_copy_blocks(n, skb, CLONE_RUN1_FROM, CLONE_RUN1_TO);
	skb_copy_blocks(n, skb, CLONE_RUN2_FROM, sizeof(*n));
	n->sk = NULL;
	n->truesize = skb->truesize;
	n->users = 1;
	n->destructor = NULL;
	n->fclone = fclone;
	n->cloned = 1;
	ext_get_inline(skb->head_ext);
	skb->cloned = 1;
	return n;
}

struct sk_buff *skb_copy(const struct sk_buff *skb, gfp_t gfp_mask)
{
	unsigned int headroom = skb_headroom(skb);
	/* Keep the headroom and at least the tailroom: the same end offset, plus the frags. */
	unsigned int size = skb->end + skb->data_len;
	struct sk_buff *n = __alloc_skb(size, gfp_mask, skb->pfmemalloc ? SKB_ALLOC_RX : 0, NUMA_NO_NODE);

	if (!n)
		return NULL;
	skb_reserve(n, (int)headroom);
	skb_put(n, skb->len);
	win_skb_headroom(n); /* the copy keeps the headroom's bytes */
	if (skb_copy_bits(skb, -(int)headroom, n->head, (int)(headroom + skb->len)) != 0) {
		kfree_skb(n);
		return NULL;
	}
	copy_header_fields(n, skb);
	copy_header_offsets(n, skb, 0);
	return n;
}

struct sk_buff *pskb_copy(struct sk_buff *skb, gfp_t gfp_mask)
{
	unsigned int headroom = skb_headroom(skb);
	struct sk_buff *n = __alloc_skb(headroom + skb_headlen(skb), gfp_mask,
					 skb->pfmemalloc ? SKB_ALLOC_RX : 0, NUMA_NO_NODE);

	if (!n)
		return NULL;
	skb_reserve(n, (int)headroom);
	memcpy(skb_put(n, skb_headlen(skb)), skb->data, skb_headlen(skb));

	struct skb_shared_info *from = skb_shinfo(skb), *to = skb_shinfo(n);

	for (int i = 0; i < from->nr_frags; i++) {
		to->frags[i] = from->frags[i];
		get_page(from->frags[i].bv_page);
	}
	to->nr_frags = from->nr_frags;
	for (struct sk_buff *f = from->frag_list; f; f = f->next)
		skb_get(f);
	to->frag_list = from->frag_list;
	to->gso_size = from->gso_size;
	to->gso_segs = from->gso_segs;
	to->gso_type = from->gso_type;
	n->data_len = skb->data_len;
	n->len = skb->len;
	copy_header_fields(n, skb);
	copy_header_offsets(n, skb, 0);
	return n;
}

struct sk_buff *skb_unshare(struct sk_buff *skb, gfp_t pri)
{
	if (!skb || !skb_cloned(skb))
		return skb;

	struct sk_buff *n = skb_copy(skb, pri);

	kfree_skb(skb);
	return n;
}

struct sk_buff *skb_share_check(struct sk_buff *skb, gfp_t pri)
{
	if (!skb_shared(skb))
		return skb;

	struct sk_buff *n = skb_clone(skb, pri);

	kfree_skb(skb);
	return n;
}

/* ------------------------------------------------------------ heads, reallocated */

int pskb_expand_head(struct sk_buff *skb, int nhead, int ntail, gfp_t gfp_mask)
{
	if (unlikely(nhead < 0 || ntail < 0 || skb_shared(skb))) {
		diag("pskb_expand_head", "skb %p: nhead %d, ntail %d, users %d (must be unshared, room >= 0)",
		     (void *)skb, nhead, ntail, __atomic_load_n(&skb->users, __ATOMIC_RELAXED));
		return -EINVAL;
	}
	size_t size = (size_t)nhead + skb->end + (size_t)ntail;

	if (may_not_wait_here(gfp_mask, "pskb_expand_head"))
		return -ENOMEM;
	if (skb->pfmemalloc)
		gfp_mask |= __GFP_MEMALLOC;
	struct pktmem_ext *e = head_alloc(size, gfp_mask, NUMA_NO_NODE);

	if (!e)
		return -ENOMEM;

	unsigned char *nh = (unsigned char *)e->ext_buf;
	struct skb_shared_info *from = skb_shinfo(skb);
	struct skb_shared_info *to = (struct skb_shared_info *)(nh + e->ext_size);

	/* Everything up to the tail moves; the frags are shared by reference. */
	win_skb_headroom(skb);
	memcpy(nh + nhead, skb->head, skb->tail);
	memcpy(to, from, offsetof(struct skb_shared_info, frags) + from->nr_frags * sizeof(skb_frag_t));
	for (int i = 0; i < from->nr_frags; i++)
		get_page(from->frags[i].bv_page);
	for (struct sk_buff *f = from->frag_list; f; f = f->next)
		skb_get(f);

	long off = (long)(skb->data - skb->head) + nhead;
	struct pktmem_ext *old = skb->head_ext;

	copy_header_offsets(skb, skb, nhead);
	skb->head = nh;
	skb->data = nh + off;
	skb->tail += (unsigned int)nhead;
	skb->end = (unsigned int)e->ext_size;
	skb->head_ext = e;
	skb->cloned = 0;
	skb->head_frag = 0;
	win_skb_newhead(skb, (unsigned int)nhead);
	pktmem_ext_put(old, NULL);
	return 0;
}

struct sk_buff *skb_realloc_headroom(struct sk_buff *skb, unsigned int headroom)
{
	if (unlikely(headroom > INT_MAX - SMP_CACHE_BYTES)) /* more than a head can have */
		return NULL;
	int delta = (int)headroom - (int)skb_headroom(skb);

	if (delta <= 0)
		return pskb_copy(skb, GFP_ATOMIC);

	struct sk_buff *n = skb_clone(skb, GFP_ATOMIC);

	if (n && pskb_expand_head(n, SKB_DATA_ALIGN(delta), 0, GFP_ATOMIC) != 0) {
		kfree_skb(n);
		return NULL;
	}
	return n;
}

static int cow(struct sk_buff *skb, unsigned int headroom, bool cloned)
{
	if (unlikely(headroom > INT_MAX - SMP_CACHE_BYTES)) /* more than a head can have */
		return -ENOMEM;
	int delta = headroom > skb_headroom(skb) ? (int)(headroom - skb_headroom(skb)) : 0;

	if (delta || cloned)
		return pskb_expand_head(skb, SKB_DATA_ALIGN(delta), 0, GFP_ATOMIC);
	return 0;
}

int skb_cow(struct sk_buff *skb, unsigned int headroom)
{
	return cow(skb, headroom, skb_cloned(skb));
}

int skb_cow_head(struct sk_buff *skb, unsigned int headroom)
{
	return cow(skb, headroom, skb_header_cloned(skb));
}
