/*
 * <pktmem/skbuff.h> — Linux socket buffers (struct sk_buff) on pktmem's
 * shared storage layer.
 *
 *   struct sk_buff                     head storage (one object)
 *   +---------------+                  +-----------+------+-------+----------------+------+
 *   | head, data    |----------------->| headroom  | data | tail  | skb_shared_info| ext  |
 *   | tail, end     |    clones share  +-----------+------+-------+----------------+------+
 *   | len, data_len |    the head      ^head       ^data  ^tail   ^end             (refcount)
 *   | users         |                                            frags[] -> pages (refcounted)
 *   +---------------+
 *
 * The head is a pktmem_ext (see <pktmem/ext.h>) whose reference count is
 * Linux's dataref: clones share it, and skb_cloned() is true while anyone
 * else (a clone, or an mbuf after a conversion) holds it. Page fragments
 * are pages, which are storage too. So an sk_buff and an mbuf chain can
 * hold the same bytes, and the last holder frees them.
 *
 * Programmer errors that Linux would BUG() on (skb_put past the tailroom:
 * skb_over_panic; skb_push past the headroom: skb_under_panic; a linear-only
 * operation on a nonlinear skb; a write into shared storage) go to the
 * diagnostic handler (<pktmem/pktmem.h>) naming the function and the skb's
 * lengths. If an application handler returns, the call changes nothing and
 * returns its failure value (NULL, or an error).
 *
 * Sanitizer windows (a library built with ASan or PKTMEM_VALGRIND; see
 * pktmem_debug_set_windows() in <pktmem/pktmem.h>): the headroom and the
 * tailroom of a head one sk_buff holds alone are poisoned, so reading past
 * skb->len is reported. skb_put(), skb_push() and skb_tailroom() open what
 * they make or report; pulled bytes stay readable. Overreads are caught only
 * on unshared heads: a cloned head (or one an mbuf shares) is open whole.
 *
 * Thread-safety: an sk_buff belongs to one thread at a time, but its users
 * count, its clones and its storage may be dropped on any thread. A
 * struct sk_buff_head is locked by the functions without the "__" prefix.
 */
#ifndef PKTMEM_SKBUFF_H
#define PKTMEM_SKBUFF_H

#include <pthread.h>
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include <string.h>

#include <pktmem/export.h>
#include <pktmem/gfp.h>
#include <pktmem/ext.h>
#include <pktmem/page.h>

#ifdef __cplusplus
extern "C" {
#endif

struct net_device; /* opaque: the caller's */
struct sock;       /* opaque: the caller's */
struct mbuf;
struct kmem_cache;

/* __alloc_skb() flags */
#define SKB_ALLOC_FCLONE 0x01 /* come with a companion clone */
#define SKB_ALLOC_RX     0x02 /* may use the emergency reserve (__GFP_MEMALLOC) */

#define SMP_CACHE_BYTES 64
#define SKB_DATA_ALIGN(x) (((x) + (SMP_CACHE_BYTES - 1)) & ~(SMP_CACHE_BYTES - 1))
#define NET_SKB_PAD 64   /* headroom of netdev_alloc_skb() */
#define NET_IP_ALIGN 2
#define MAX_SKB_FRAGS 17

/* A page fragment: @bv_len bytes at @bv_offset in @bv_page. */
typedef struct skb_frag {
	struct page *bv_page;
	unsigned int bv_len;
	unsigned int bv_offset;
} skb_frag_t;

/* Shared by an skb and its clones; lives at skb->end in the head. */
struct skb_shared_info {
	uint8_t nr_frags;
	uint8_t tx_flags;
	uint16_t gso_size;
	uint16_t gso_segs;
	uint16_t gso_type;
	struct sk_buff *frag_list;
	skb_frag_t frags[MAX_SKB_FRAGS];
};

/* skb->fclone */
enum {
	SKB_FCLONE_UNAVAILABLE = 0, /* an ordinary skb */
	SKB_FCLONE_ORIG = 1,        /* the first of an fclone pair */
	SKB_FCLONE_CLONE = 2,       /* the companion */
};

struct sk_buff {
	/* These two first: a struct sk_buff_head's list heads alias them. */
	struct sk_buff *next;
	struct sk_buff *prev;
	struct net_device *dev;
	struct sock *sk;
	char cb[48] __attribute__((aligned(8))); /* control buffer, the caller's */
	unsigned int len;       /* bytes in the packet (head + frags) */
	unsigned int data_len; /* bytes in frags */
	uint16_t mac_len;
	uint16_t hdr_len;
	uint16_t protocol;
	uint16_t transport_header; /* offsets from head */
	uint16_t network_header;
	uint16_t mac_header;
	unsigned int cloned : 1;     /* has been cloned (see skb_cloned()) */
	unsigned int pfmemalloc : 1; /* allocated with SKB_ALLOC_RX */
	unsigned int fclone : 2;     /* SKB_FCLONE_* */
	unsigned int head_frag : 1;  /* head from netdev_alloc_frag() (build_skb) */
	unsigned int ip_summed : 2;
	uint32_t priority;
	uint32_t mark;
	unsigned int truesize;
	int users;              /* atomic: use skb_get()/kfree_skb() */
	void (*destructor)(struct sk_buff *skb);
	unsigned int tail;      /* offset of the end of the linear data from head */
	unsigned int end;       /* offset of skb_shared_info from head */
	unsigned char *head;
	unsigned char *data;
	struct pktmem_ext *head_ext; /* the head as shared storage */
};

/*
 * The links an sk_buff and a struct sk_buff_head share (their first two
 * fields). Queue code reaches a neighbour's links through this type, as
 * Linux does, so that a list head on the stack is never accessed as a
 * whole sk_buff (which compilers rightly flag as out of bounds).
 */
struct sk_buff_list {
	struct sk_buff *next;
	struct sk_buff *prev;
};

/* An skb queue. The first two fields alias an sk_buff's next/prev. */
struct sk_buff_head {
	struct sk_buff *next;
	struct sk_buff *prev;
	uint32_t qlen;
	pthread_mutex_t lock;
};

/* ------------------------------------------------------------ allocation */

/*
 * __alloc_skb() - a new sk_buff with no headroom and a tailroom of at least
 * @size bytes, a users count of one. SKB_ALLOC_FCLONE takes it from the
 * fclone cache, with a companion so that the first skb_clone() allocates
 * nothing. SKB_ALLOC_RX allocates with __GFP_MEMALLOC, so the emergency
 * reserve (kmem_cache_set_reserve() on the skb caches) may serve it. @node:
 * NUMA node of the head and the sk_buff (NUMA_NO_NODE: the caller's). A
 * non-waiting mask never sleeps; a waiting one in atomic context goes to the
 * diagnostic handler. NULL on failure (nothing allocated is kept); ENOMEM
 * too for a @size above INT_MAX - 64, which no head can have.
 */
PKTMEM_API struct sk_buff *__alloc_skb(unsigned int size, gfp_t gfp_mask, int flags, int node);

static inline struct sk_buff *alloc_skb(unsigned int size, gfp_t priority)
{
	return __alloc_skb(size, priority, 0, NUMA_NO_NODE);
}

static inline struct sk_buff *alloc_skb_fclone(unsigned int size, gfp_t priority)
{
	return __alloc_skb(size, priority, SKB_ALLOC_FCLONE, NUMA_NO_NODE);
}

/*
 * alloc_skb_bulk() - @n sk_buffs, each as alloc_skb(@size, @gfp) makes it
 * (same head size class, fields and shared info), into @skbs[0..n). The
 * sk_buffs and their heads are taken from their caches a run at a time.
 * All or nothing: returns @n, or 0 with nothing allocated and @skbs
 * unchanged (errno ENOMEM; EWOULDBLOCK for a waiting mask refused in
 * atomic context, diagnosed as in alloc_skb()). The mask works as for
 * alloc_skb(): GFP_KERNEL waits at a cache limit, GFP_ATOMIC fails there;
 * the whole request is taken at once, so a waiting call holds none of it,
 * and a request larger than the limit itself fails (ENOMEM).
 * A @size no head can have fails as alloc_skb() does (ENOMEM, no
 * diagnostic); @n < 0, or a NULL @skbs with @n > 0, is diagnosed and
 * returns 0. The caller owns every skb returned (free each with
 * kfree_skb(), or all with kfree_skb_bulk()). Any thread.
 */
PKTMEM_API int alloc_skb_bulk(struct sk_buff **skbs, int n, unsigned int size, gfp_t gfp);

/*
 * build_skb() - an sk_buff around @data, a buffer from netdev_alloc_frag()
 * or kmalloc() of @frag_size bytes (0: kmalloc's usable size), whose last
 * SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) bytes the skb uses for its
 * shared info. The skb owns the buffer from then on. NULL on failure (the
 * buffer stays the caller's), or for a buffer that is not ours (diagnosed).
 */
PKTMEM_API struct sk_buff *build_skb(void *data, unsigned int frag_size);

/* A receive buffer: @length bytes of tailroom after NET_SKB_PAD of headroom. */
PKTMEM_API struct sk_buff *__netdev_alloc_skb(struct net_device *dev, unsigned int length, gfp_t gfp_mask);

static inline struct sk_buff *netdev_alloc_skb(struct net_device *dev, unsigned int length)
{
	return __netdev_alloc_skb(dev, length, GFP_ATOMIC);
}

static inline struct sk_buff *dev_alloc_skb(unsigned int length)
{
	return netdev_alloc_skb(NULL, length);
}

/*
 * netdev_alloc_frag() - @fragsz bytes for build_skb(), never sleeping.
 * Served by the kmalloc size classes. Free an unused one with skb_free_frag().
 */
PKTMEM_API void *netdev_alloc_frag(unsigned int fragsz);
PKTMEM_API void skb_free_frag(void *addr);

/* ------------------------------------------------------------ freeing */

/*
 * kfree_skb() - drop one users reference; the last frees the skb (and its
 * share of the head and frags, which go when their last holder goes).
 * consume_skb() is the same for a packet that was consumed rather than
 * dropped. NULL is a no-op. A freed skb, or one that is not from the skb
 * caches (a copy on the stack), is diagnosed before anything is released.
 */
PKTMEM_API void kfree_skb(struct sk_buff *skb);
PKTMEM_API void consume_skb(struct sk_buff *skb);

/*
 * kfree_skb_list() - kfree_skb() of every member of a list linked through
 * ->next (a frag_list). The sk_buffs, and the heads they hold alone, go
 * back to their caches a run at a time. A member freed already (or a cycle
 * back to one) is diagnosed and ends the walk.
 */
PKTMEM_API void kfree_skb_list(struct sk_buff *segs);

/*
 * kfree_skb_bulk() - kfree_skb() of @skbs[0..n), NULL entries skipped, with
 * the same checks and diagnostics (an entry freed already, or not ours, is
 * diagnosed and left alone; the others are still freed). As in
 * kfree_skb_list(), sk_buffs and unshared heads go back a run at a time.
 * The array itself is not changed. @n < 0, or a NULL @skbs with @n > 0,
 * is diagnosed and frees nothing. Any thread, for skbs it owns.
 */
PKTMEM_API void kfree_skb_bulk(struct sk_buff **skbs, int n);

/* ------------------------------------------------------------ sharing */

/* skb_get() - one more users reference; returns @skb. */
static inline struct sk_buff *skb_get(struct sk_buff *skb)
{
	__atomic_fetch_add(&skb->users, 1, __ATOMIC_RELAXED);
	return skb;
}

/* Is the sk_buff itself shared (users > 1)? */
static inline int skb_shared(const struct sk_buff *skb)
{
	return __atomic_load_n(&skb->users, __ATOMIC_ACQUIRE) != 1;
}

/* Is the head's data shared with a clone or an mbuf (must not be written)? */
static inline int skb_cloned(const struct sk_buff *skb)
{
	return !pktmem_ext_writable(skb->head_ext);
}

/* As skb_cloned(): pktmem does not split header from payload ownership. */
static inline int skb_header_cloned(const struct sk_buff *skb)
{
	return skb_cloned(skb);
}

/*
 * skb_clone() - a new sk_buff sharing @skb's head and frags (no byte
 * copied). The first clone of an fclone skb uses its companion and
 * allocates nothing. NULL on failure.
 */
PKTMEM_API struct sk_buff *skb_clone(struct sk_buff *skb, gfp_t gfp_mask);

/*
 * skb_copy() - a private copy: head and frags copied into one linear
 * buffer, keeping the headroom and at least the tailroom. NULL on failure.
 */
PKTMEM_API struct sk_buff *skb_copy(const struct sk_buff *skb, gfp_t gfp_mask);

/* pskb_copy() - a copy of the head with the frags shared. NULL on failure. */
PKTMEM_API struct sk_buff *pskb_copy(struct sk_buff *skb, gfp_t gfp_mask);

/*
 * skb_unshare() - if @skb is cloned, replace it by a private copy. It
 * consumes @skb in every case: returns @skb itself, the copy, or NULL (the
 * copy failed; @skb has been freed).
 */
PKTMEM_API struct sk_buff *skb_unshare(struct sk_buff *skb, gfp_t pri);

/*
 * skb_share_check() - if @skb is shared (users > 1), drop our reference and
 * return a clone of it; else return @skb. NULL if the clone failed (our
 * reference is dropped all the same).
 */
PKTMEM_API struct sk_buff *skb_share_check(struct sk_buff *skb, gfp_t pri);

/* ------------------------------------------------------------ linear data */

static inline unsigned char *skb_tail_pointer(const struct sk_buff *skb)
{
	return skb->head + skb->tail;
}

static inline unsigned char *skb_end_pointer(const struct sk_buff *skb)
{
	return skb->head + skb->end;
}

static inline struct skb_shared_info *skb_shinfo(const struct sk_buff *skb)
{
	return (struct skb_shared_info *)skb_end_pointer(skb);
}

static inline unsigned int skb_headlen(const struct sk_buff *skb)
{
	return skb->len - skb->data_len;
}

static inline bool skb_is_nonlinear(const struct sk_buff *skb)
{
	return skb->data_len != 0;
}

static inline unsigned int skb_headroom(const struct sk_buff *skb)
{
	return (unsigned int)(skb->data - skb->head);
}

/*
 * Room after the linear data; 0 for a nonlinear skb, as in Linux. Under a
 * sanitizer the room reported is opened (pktmem_window_open()), for code
 * that receives into it before skb_put().
 */
static inline int skb_tailroom(const struct sk_buff *skb)
{
	int n = skb_is_nonlinear(skb) ? 0 : (int)(skb->end - skb->tail);

#ifdef PKTMEM_WINDOW_HOOKS
	if (n > 0)
		pktmem_window_open(skb_tail_pointer(skb), (size_t)n);
#endif
	return n;
}

/* skb_reserve() - move data and tail by @len on an empty skb (headroom). */
PKTMEM_API void skb_reserve(struct sk_buff *skb, int len);

/*
 * skb_put() - extend the linear data by @len at the tail; returns the old
 * tail. Past the tailroom, or on a nonlinear skb: diagnostic
 * (skb_over_panic), nothing changed, NULL returned.
 */
PKTMEM_API void *skb_put(struct sk_buff *skb, unsigned int len);

/* skb_put() then copy @len bytes from @data there. */
PKTMEM_API void *skb_put_data(struct sk_buff *skb, const void *data, unsigned int len);

/* skb_put_zero() - skb_put() then zero the new bytes. */
PKTMEM_API void *skb_put_zero(struct sk_buff *skb, unsigned int len);

/*
 * skb_push() - extend the data by @len at the front; returns the new data.
 * Past the headroom: diagnostic (skb_under_panic), nothing changed, NULL.
 */
PKTMEM_API void *skb_push(struct sk_buff *skb, unsigned int len);

/*
 * skb_pull() - remove @len bytes from the front; returns the new data, or
 * NULL (nothing changed) when @len is more than skb->len. Pulling into the
 * frags of a nonlinear skb is a diagnostic (use pskb_pull()).
 */
PKTMEM_API void *skb_pull(struct sk_buff *skb, unsigned int len);

/*
 * Inline fast paths of skb_reserve(), skb_put(), skb_push() and skb_pull(),
 * as Linux inlines __skb_push() and friends: the same checks, in the
 * caller; anything a check refuses goes to the out-of-line function, which
 * checks again and diagnoses (so the contracts above hold to the letter).
 * With PKTMEM_WINDOW_HOOKS the out-of-line function does everything, since
 * it also moves the sanitizer windows. The names below are macros over
 * these helpers; (skb_push)(skb, len) or &skb_push reaches the exported
 * function itself. Not for callers: the helpers' names may change.
 */
static inline void pktmem_skb_reserve_inline(struct sk_buff *skb, int len)
{
#ifndef PKTMEM_WINDOW_HOOKS
	if (__builtin_expect(len >= 0 && skb->len == 0 && skb->tail + (unsigned int)len <= skb->end, 1)) {
		skb->data += len;
		skb->tail += (unsigned int)len;
		return;
	}
#endif
	(skb_reserve)(skb, len);
}

static inline void *pktmem_skb_put_inline(struct sk_buff *skb, unsigned int len)
{
#ifndef PKTMEM_WINDOW_HOOKS
	unsigned int tail = skb->tail;

	if (__builtin_expect(skb->data_len == 0 && len <= skb->end - tail, 1)) {
		skb->tail = tail + len;
		skb->len += len;
		return skb->head + tail;
	}
#endif
	return (skb_put)(skb, len);
}

static inline void *pktmem_skb_push_inline(struct sk_buff *skb, unsigned int len)
{
#ifndef PKTMEM_WINDOW_HOOKS
	if (__builtin_expect(len <= (unsigned int)(skb->data - skb->head), 1)) {
		skb->data -= len;
		skb->len += len;
		return skb->data;
	}
#endif
	return (skb_push)(skb, len);
}

static inline void *pktmem_skb_pull_inline(struct sk_buff *skb, unsigned int len)
{
#ifndef PKTMEM_WINDOW_HOOKS
	/* Both tests, so that lengths set by hand (data_len > len) still reach the diagnostic. */
	if (__builtin_expect(len <= skb->len && len <= skb->len - skb->data_len, 1)) {
		skb->len -= len;
		skb->data += len;
		return skb->data;
	}
#endif
	return (skb_pull)(skb, len);
}

#define skb_reserve(skb, len) pktmem_skb_reserve_inline((skb), (len))
#define skb_put(skb, len) pktmem_skb_put_inline((skb), (len))
#define skb_push(skb, len) pktmem_skb_push_inline((skb), (len))
#define skb_pull(skb, len) pktmem_skb_pull_inline((skb), (len))

/* skb_trim() - cut a linear skb to @len bytes (nothing if already shorter). */
PKTMEM_API void skb_trim(struct sk_buff *skb, unsigned int len);

/* pskb_trim() - cut any skb to @len bytes, frags included. 0 or -ENOMEM. */
PKTMEM_API int pskb_trim(struct sk_buff *skb, unsigned int len);

/*
 * pskb_expand_head() - give the skb a private head with @nhead more bytes of
 * headroom and @ntail more of tailroom, copying the linear data (frags are
 * shared, not copied). Afterwards skb_cloned() is false. The skb must not be
 * shared (users == 1). 0, or -ENOMEM with the skb unchanged.
 */
PKTMEM_API int pskb_expand_head(struct sk_buff *skb, int nhead, int ntail, gfp_t gfp_mask);

/* A copy of @skb with at least @headroom bytes of headroom. NULL on failure. */
PKTMEM_API struct sk_buff *skb_realloc_headroom(struct sk_buff *skb, unsigned int headroom);

/*
 * skb_cow() - make the head private and give it at least @headroom bytes of
 * headroom. skb_cow_head() is the same for callers that only write headers.
 * 0 or -ENOMEM (skb unchanged).
 */
PKTMEM_API int skb_cow(struct sk_buff *skb, unsigned int headroom);
PKTMEM_API int skb_cow_head(struct sk_buff *skb, unsigned int headroom);

/*
 * pskb_may_pull() - make sure the first @len bytes are in the linear part,
 * pulling them from the frags (which may reallocate the head). False when
 * the packet is shorter than @len or memory ran out; the packet's bytes
 * are unchanged either way.
 */
PKTMEM_API bool pskb_may_pull(struct sk_buff *skb, unsigned int len);

/* pskb_pull() - skb_pull() that may first pull bytes out of the frags. */
PKTMEM_API void *pskb_pull(struct sk_buff *skb, unsigned int len);

/* skb_linearize() - make the whole packet linear. 0 or -ENOMEM (unchanged). */
PKTMEM_API int skb_linearize(struct sk_buff *skb);

/* ------------------------------------------------------------ fragments */

static inline struct page *skb_frag_page(const skb_frag_t *frag)
{
	return frag->bv_page;
}

static inline unsigned int skb_frag_size(const skb_frag_t *frag)
{
	return frag->bv_len;
}

static inline unsigned int skb_frag_off(const skb_frag_t *frag)
{
	return frag->bv_offset;
}

static inline void skb_frag_size_set(skb_frag_t *frag, unsigned int size)
{
	frag->bv_len = size;
}

static inline void skb_frag_size_add(skb_frag_t *frag, int delta)
{
	frag->bv_len += (unsigned int)delta;
}

static inline void skb_frag_size_sub(skb_frag_t *frag, int delta)
{
	frag->bv_len -= (unsigned int)delta;
}

static inline void skb_frag_off_set(skb_frag_t *frag, unsigned int offset)
{
	frag->bv_offset = offset;
}

static inline void skb_frag_off_add(skb_frag_t *frag, int delta)
{
	frag->bv_offset += (unsigned int)delta;
}

static inline void __skb_frag_set_page(skb_frag_t *frag, struct page *page)
{
	frag->bv_page = page;
}

static inline void *skb_frag_address(const skb_frag_t *frag)
{
	return (char *)page_address(skb_frag_page(frag)) + skb_frag_off(frag);
}

/* One more reference to fragment @f's page / drop one. */
static inline void __skb_frag_ref(skb_frag_t *frag)
{
	get_page(skb_frag_page(frag));
}

static inline void __skb_frag_unref(skb_frag_t *frag)
{
	put_page(skb_frag_page(frag));
}

static inline void skb_frag_ref(struct sk_buff *skb, int f)
{
	__skb_frag_ref(&skb_shinfo(skb)->frags[f]);
}

static inline void skb_frag_unref(struct sk_buff *skb, int f)
{
	__skb_frag_unref(&skb_shinfo(skb)->frags[f]);
}

/*
 * skb_fill_page_desc() - set fragment @i to @size bytes at @off in @page and
 * make nr_frags i + 1. The skb takes over the caller's reference to the
 * page. It does not change len or data_len (skb_add_rx_frag() does).
 * Filling a slot in use (i < nr_frags) drops that fragment and the ones
 * after it (their page references are put). @i beyond MAX_SKB_FRAGS or
 * past nr_frags, a range outside the page, or a shared info a clone shares:
 * diagnostic, nothing changed (the page reference stays the caller's).
 */
PKTMEM_API void skb_fill_page_desc(struct sk_buff *skb, int i, struct page *page, int off, int size);

/*
 * skb_fill_page_desc() plus len and data_len grown by @size (less the bytes
 * of any fragments it drops) and truesize by @truesize.
 */
PKTMEM_API void skb_add_rx_frag(struct sk_buff *skb, int i, struct page *page, int off, int size,
				unsigned int truesize);

/*
 * skb_copy_bits() - copy @len bytes at @offset of the packet (head, frags,
 * frag_list) to @to. A negative @offset reaches back into the headroom (as
 * skb_copy() uses it). 0, or -EFAULT when the range is outside the headroom
 * plus the packet.
 */
PKTMEM_API int skb_copy_bits(const struct sk_buff *skb, int offset, void *to, int len);

/*
 * skb_store_bits() - copy @len bytes from @from into the packet at @offset.
 * 0, or -EFAULT when the range is outside the packet (a negative offset
 * included) or would write into storage someone else holds (skb_cow() or
 * skb_unshare() first).
 */
PKTMEM_API int skb_store_bits(struct sk_buff *skb, int offset, const void *from, int len);

/* ------------------------------------------------------------ queues */

static inline void __skb_queue_head_init(struct sk_buff_head *list)
{
	list->prev = list->next = (struct sk_buff *)list;
	list->qlen = 0;
}

PKTMEM_API void skb_queue_head_init(struct sk_buff_head *list);

static inline uint32_t skb_queue_len(const struct sk_buff_head *list)
{
	return __atomic_load_n(&list->qlen, __ATOMIC_RELAXED);
}

static inline bool skb_queue_empty(const struct sk_buff_head *list)
{
	return list->next == (const struct sk_buff *)list;
}

/* The first skb without removing it, or NULL. Unlocked: the caller's care. */
static inline struct sk_buff *skb_peek(const struct sk_buff_head *list)
{
	struct sk_buff *skb = list->next;

	return skb == (const struct sk_buff *)list ? NULL : skb;
}

static inline struct sk_buff *skb_peek_tail(const struct sk_buff_head *list)
{
	struct sk_buff *skb = list->prev;

	return skb == (const struct sk_buff *)list ? NULL : skb;
}

static inline void __skb_insert(struct sk_buff *newsk, struct sk_buff *prev, struct sk_buff *next,
				struct sk_buff_head *list)
{
	newsk->next = next;
	newsk->prev = prev;
	((struct sk_buff_list *)next)->prev = newsk;
	((struct sk_buff_list *)prev)->next = newsk;
	/* qlen is read without the lock by skb_queue_len() */
	__atomic_store_n(&list->qlen, list->qlen + 1, __ATOMIC_RELAXED);
}

static inline void __skb_queue_tail(struct sk_buff_head *list, struct sk_buff *newsk)
{
	__skb_insert(newsk, list->prev, (struct sk_buff *)list, list);
}

static inline void __skb_queue_head(struct sk_buff_head *list, struct sk_buff *newsk)
{
	__skb_insert(newsk, (struct sk_buff *)list, list->next, list);
}

static inline void __skb_unlink(struct sk_buff *skb, struct sk_buff_head *list)
{
	struct sk_buff *next = skb->next, *prev = skb->prev;

	__atomic_store_n(&list->qlen, list->qlen - 1, __ATOMIC_RELAXED);
	((struct sk_buff_list *)next)->prev = prev;
	((struct sk_buff_list *)prev)->next = next;
	skb->next = skb->prev = NULL;
}

static inline struct sk_buff *__skb_dequeue(struct sk_buff_head *list)
{
	struct sk_buff *skb = skb_peek(list);

	if (skb)
		__skb_unlink(skb, list);
	return skb;
}

static inline struct sk_buff *__skb_dequeue_tail(struct sk_buff_head *list)
{
	struct sk_buff *skb = skb_peek_tail(list);

	if (skb)
		__skb_unlink(skb, list);
	return skb;
}

static inline void __skb_queue_purge(struct sk_buff_head *list)
{
	struct sk_buff *skb;

	while ((skb = __skb_dequeue(list)) != NULL)
		kfree_skb(skb);
}

/* Locked variants: any thread. */
PKTMEM_API void skb_queue_tail(struct sk_buff_head *list, struct sk_buff *newsk);
PKTMEM_API void skb_queue_head(struct sk_buff_head *list, struct sk_buff *newsk);
PKTMEM_API struct sk_buff *skb_dequeue(struct sk_buff_head *list);
PKTMEM_API struct sk_buff *skb_dequeue_tail(struct sk_buff_head *list);
/* skb_unlink() of an skb that is on no queue is diagnosed and changes nothing. */
PKTMEM_API void skb_unlink(struct sk_buff *skb, struct sk_buff_head *list);
PKTMEM_API void skb_queue_purge(struct sk_buff_head *list);

/* ------------------------------------------------------------ mbufs */

/*
 * skb_from_mbuf() - an sk_buff holding the same bytes as the mbuf packet
 * @m: external storage (clusters, MEXTMALLOC, MEXTADD, pages) becomes page
 * fragments that share it, no byte copied; data kept inside mbufs
 * themselves (at most MLEN bytes each) is copied, since it has no storage
 * of its own to share. The chain is left as it was; afterwards both sides
 * treat the shared storage as cloned (copy-on-write), and whichever side
 * lets go last frees it. @headroom bytes of headroom are left in front.
 * Data inside mbufs before the first external buffer goes in the head;
 * each external buffer after it becomes one fragment, and data inside mbufs
 * there is copied into pages, packed: a run of such mbufs is one fragment,
 * and runs share a page until it is full.
 * NULL on failure (errno ENOMEM, also for a @headroom no head can have;
 * EMSGSIZE when that makes more than MAX_SKB_FRAGS fragments; EINVAL,
 * diagnosed, for an mbuf with a negative m_len or, with internal data, an
 * m_len running past its buffer), with nothing kept.
 */
PKTMEM_API struct sk_buff *skb_from_mbuf(struct mbuf *m, unsigned int headroom, gfp_t gfp_mask);

/*
 * m_from_skb() - an mbuf packet (M_PKTHDR, pkthdr.len = skb->len) holding
 * the same bytes as @skb, no byte copied: the head and every fragment become
 * external storage shared with the skb. The skb is left as it was. M_WAIT
 * or M_DONTWAIT. NULL on failure, with nothing kept.
 */
PKTMEM_API struct mbuf *m_from_skb(struct sk_buff *skb, int how);

/* ------------------------------------------------------------ caches */

/* The cache of struct sk_buff, and of fclone pairs, for limits and reserves. */
PKTMEM_API struct kmem_cache *pktmem_skbuff_cache(void);
PKTMEM_API struct kmem_cache *pktmem_skbuff_fclone_cache(void);

/*
 * The cache that serves heads of __alloc_skb(@size) (sizes are rounded to a
 * few classes; heads larger than the largest class come from kmalloc, which
 * has no reserve).
 */
PKTMEM_API struct kmem_cache *pktmem_skb_head_cache(unsigned int size);

#ifdef __cplusplus
}
#endif

#endif /* PKTMEM_SKBUFF_H */
