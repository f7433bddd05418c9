/*
 * Memory pools with a guaranteed reserve: the Linux mempool.
 *
 *   mempool_alloc(pool, gfp)                    mempool_free(elem, pool)
 *        |                                            |
 *        | 1. alloc_fn(gfp without waiting)           | reserve below min_nr?
 *        v        (the allocator first: the           |   yes: push, wake waiters
 *   +----------+   reserve is for bad times)          |   no:  free_fn(elem)
 *   | alloc_fn |                                      v
 *   +----------+                               +--------------------+
 *        | NULL                                | reserve (LIFO)     |
 *        v  2. pop the reserve  <------------- | elements[0..curr)  |
 *        |  3. alloc_fn(full gfp) once, then 2 | min_nr slots       |
 *        |  4. may not wait: NULL              +--------------------+
 *        |  5. sleep on pool->wait (timed), then again from 1 with
 *        |     the full mask; never NULL for a mask that may wait
 *
 * min_nr elements are preallocated, so a caller that may wait is always
 * served in the end: every element handed out comes back through
 * mempool_free(), which refills the reserve before it gives anything back to
 * the allocator, and wakes the sleepers.
 *
 * One mutex guards the reserve; waiters sleep on a condition variable. The
 * fields a lock-free reader looks at (curr_nr, min_nr, waiters, elements) are
 * written with atomic stores under the lock and read with atomic loads
 * outside it, so the unlocked peeks Linux relies on are data-race free.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "slab_impl.h"

/*
 * How long a waiting mempool_alloc() sleeps before it asks alloc_fn again.
 * A mempool_free() into the reserve wakes it at once; the timeout covers
 * memory that comes back somewhere else: an object freed straight to the
 * underlying cache by another user, a cache limit raised, a fault injector
 * disarmed. Nobody signals the pool for those. Linux sleeps in
 * io_schedule_timeout(5 * HZ) for the same reason; our allocators recover
 * on a much shorter time scale than the kernel's reclaim, so we look again
 * sooner.
 */
#define MEMPOOL_RETRY_NS (100 * 1000 * 1000L)

/*
 * Bits mempool_alloc() adds to the caller's mask for every alloc_fn call,
 * as Linux does: the reserve, not the allocator's emergency memory, is the
 * pool's fallback (__GFP_NOMEMALLOC, and __GFP_MEMALLOC cleared so that an
 * allocator that only looks at that bit agrees); the allocator should give
 * up early rather than wait long, since the pool has its own way to wait
 * (__GFP_NORETRY); a failure here is expected (__GFP_NOWARN).
 */
#define MEMPOOL_GFP_ADD   (__GFP_NOMEMALLOC | __GFP_NORETRY | __GFP_NOWARN)
#define MEMPOOL_GFP_CLEAR (__GFP_MEMALLOC)

/*
 * Under AddressSanitizer, elements resting in the reserve of a ready pool
 * are poisoned, as KASAN does in Linux: a caller that goes on using an
 * element after mempool_free() is reported although the memory never left
 * the pool. Elements of other pools are left alone: their size is unknown.
 */
#ifdef PKTMEM_ASAN
#define RESERVE_POISON 1
#else
#define RESERVE_POISON 0
#endif

enum pool_kind { POOL_CUSTOM, POOL_SLAB, POOL_KMALLOC, POOL_PAGES };

/*
 * A pool's private record, behind pool->stats: its statistics node and
 * counters. The counters are relaxed atomics: each is exact on its own,
 * a snapshot of several may mix moments while the pool is busy.
 */
struct pool_record {
	struct stats_node node;
	mempool_t *pool;
	char name[48];
	enum pool_kind kind;
	size_t obj_size;
	atomic_uint_least64_t allocs, frees, denied, waited, peak;
	atomic_int_least64_t in_use;
};

static inline struct pool_record *record_of(const mempool_t *pool)
{
	return (struct pool_record *)pool->stats;
}

/* ------------------------------------------------------------ the reserve */

static void reserve_poison(const mempool_t *pool, void *element, bool poison)
{
	const struct pool_record *rec = record_of(pool);
	void *start = element;
	size_t len = rec->obj_size;

	if (!RESERVE_POISON || rec->kind == POOL_CUSTOM)
		return;
	if (rec->kind == POOL_PAGES)
		start = page_address(element);
	if (poison)
		mem_poison(start, len);
	else
		mem_unpoison(start, len);
}

/*
 * Reserve stack operations; the caller holds pool->lock (or owns the pool
 * alone: init, exit). The stores are atomic because mempool_free(),
 * mempool_is_saturated() and the statistics read curr_nr without the lock.
 */
static inline void add_element(mempool_t *pool, void *element)
{
	int n = pool->curr_nr;

	reserve_poison(pool, element, true);
	pool->elements[n] = element;
	__atomic_store_n(&pool->curr_nr, n + 1, __ATOMIC_RELAXED);
}

static inline void *remove_element(mempool_t *pool)
{
	int n = pool->curr_nr - 1;
	void *element = pool->elements[n];

	__atomic_store_n(&pool->curr_nr, n, __ATOMIC_RELAXED);
	reserve_poison(pool, element, false);
	return element;
}

static inline int load_int(const int *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* Wake every sleeping allocator; the caller holds pool->lock. */
static inline void wake_waiters(mempool_t *pool)
{
	/*
	 * Everyone, as Linux's wake_up() on its non-exclusive wait queue: a
	 * woken allocator first asks alloc_fn again, and if that succeeds the
	 * element stays in the reserve for the next sleeper, which a single
	 * signal would have left asleep until its timeout. Sleepers exist only
	 * while the pool is exhausted, so the herd is rare and small.
	 * Signalling under the lock means the pool cannot be torn down between
	 * our unlock and the signal by a thread that saw our element.
	 */
	if (pool->waiters > 0)
		pthread_cond_broadcast(&pool->wait);
}

/*
 * Ask the allocator for one element. This is an allocation point for the
 * fault injector: a fault makes it fail as if the allocator were dry, so
 * tests can drive the pool onto its reserve with any alloc_fn.
 */
static inline void *element_from_allocator(mempool_t *pool, gfp_t gfp)
{
	if (unlikely(fault_point()))
		return NULL;
	return pool->alloc(gfp, pool->pool_data);
}

/* ------------------------------------------------------------ statistics */

static void count_alloc(struct pool_record *rec)
{
	uint64_t now, peak;

	atomic_fetch_add_explicit(&rec->allocs, 1, memory_order_relaxed);
	now = (uint64_t)(atomic_fetch_add_explicit(&rec->in_use, 1, memory_order_relaxed) + 1);
	peak = atomic_load_explicit(&rec->peak, memory_order_relaxed);
	while (now > peak &&
	       !atomic_compare_exchange_weak_explicit(&rec->peak, &peak, now,
						      memory_order_relaxed, memory_order_relaxed))
		;
}

static void count_free(struct pool_record *rec)
{
	atomic_fetch_add_explicit(&rec->frees, 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(&rec->in_use, 1, memory_order_relaxed);
}

/* Takes no lock: stats_lock is held by the walker, and pool locks are below it. */
static void pool_fill(struct stats_node *n, struct pktmem_stats *out)
{
	struct pool_record *rec = (struct pool_record *)((char *)n - offsetof(struct pool_record, node));
	const mempool_t *pool = rec->pool;
	int64_t in_use = atomic_load_explicit(&rec->in_use, memory_order_relaxed);
	uint64_t reserve = (uint64_t)load_int(&pool->curr_nr);

	snprintf(out->name, sizeof(out->name), "%s", rec->name);
	out->kind = PKTMEM_STATS_POOL;
	out->obj_size = rec->obj_size;
	out->in_use = in_use > 0 ? (uint64_t)in_use : 0;
	out->total = out->in_use + reserve;
	out->peak = atomic_load_explicit(&rec->peak, memory_order_relaxed);
	out->allocs = atomic_load_explicit(&rec->allocs, memory_order_relaxed);
	out->frees = atomic_load_explicit(&rec->frees, memory_order_relaxed);
	out->denied = atomic_load_explicit(&rec->denied, memory_order_relaxed);
	out->waited = atomic_load_explicit(&rec->waited, memory_order_relaxed);
	out->limit = 0;
	out->reserve = reserve;
	out->reserve_max = (uint64_t)load_int(&pool->min_nr);
	out->bytes_mapped = 0; /* the pool maps nothing: its elements are the allocator's */
}

int mempool_stats(mempool_t *pool, struct pktmem_stats *out)
{
	if (!pool || !out || !pool->stats)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	pool_fill(&record_of(pool)->node, out);
	return 0;
}

/*
 * Name a pool for statistics. Linux pools have no name, so a pool is named
 * after what it holds when it is one of the ready pools.
 */
static void name_pool(struct pool_record *rec, mempool_alloc_t *alloc_fn, void *pool_data)
{
	if (alloc_fn == mempool_alloc_slab) {
		struct kmem_cache *kc = pool_data;

		snprintf(rec->name, sizeof(rec->name), "mempool(slab:%s)", kmem_cache_name(kc));
		rec->kind = POOL_SLAB;
		rec->obj_size = kmem_cache_size(kc);
	} else if (alloc_fn == mempool_kmalloc) {
		size_t size = (size_t)(uintptr_t)pool_data;

		snprintf(rec->name, sizeof(rec->name), "mempool(kmalloc-%zu)", size);
		rec->kind = POOL_KMALLOC;
		rec->obj_size = size;
	} else if (alloc_fn == mempool_alloc_pages) {
		int order = (int)(intptr_t)pool_data;

		snprintf(rec->name, sizeof(rec->name), "mempool(page-order%d)", order);
		rec->kind = POOL_PAGES;
		rec->obj_size = PAGE_SIZE << order;
	} else {
		snprintf(rec->name, sizeof(rec->name), "mempool");
		rec->kind = POOL_CUSTOM;
		rec->obj_size = 0;
	}
}

/* ------------------------------------------------------------ life cycle */

static int init_wait_channel(mempool_t *pool)
{
	pthread_condattr_t attr;
	int err;

	err = pthread_mutex_init(&pool->lock, NULL);
	if (err)
		return err;
	/* The monotonic clock: a timed sleep must not stretch when the wall clock is set back. */
	err = pthread_condattr_init(&attr);
	if (!err) {
		err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		if (!err)
			err = pthread_cond_init(&pool->wait, &attr);
		pthread_condattr_destroy(&attr);
	}
	if (err)
		pthread_mutex_destroy(&pool->lock);
	return err;
}

static bool pool_args_valid(int min_nr, mempool_alloc_t *alloc_fn, mempool_free_t *free_fn, int nid)
{
	return min_nr >= 0 && alloc_fn && free_fn &&
	       (nid == NUMA_NO_NODE || pktmem_node_valid(nid));
}

/*
 * Set up the pool, then preallocate. Everything is obtained before anything
 * becomes visible (the statistics registry is last), so the failure path
 * simply gives back, in reverse, what it holds.
 */
int mempool_init_node(mempool_t *pool, int min_nr, mempool_alloc_t *alloc_fn,
		      mempool_free_t *free_fn, void *pool_data, gfp_t gfp_mask, int nid)
{
	struct pool_record *rec;
	int slots = min_nr > 0 ? min_nr : 1; /* a zero-minimum pool still passes one element to a waiter */

	if (!pool || !pool_args_valid(min_nr, alloc_fn, free_fn, nid))
		return -EINVAL;

	memset(pool, 0, sizeof(*pool));
	pool->min_nr = min_nr;
	pool->pool_data = pool_data;
	pool->alloc = alloc_fn;
	pool->free = free_fn;
	pool->node = nid;

	pool->elements = kmalloc_node((size_t)slots * sizeof(void *), gfp_mask & ~__GFP_ZERO, nid);
	if (!pool->elements)
		goto fail;
	rec = kmalloc_node(sizeof(*rec), gfp_mask & ~__GFP_ZERO, nid);
	if (!rec)
		goto fail_elements;
	memset(rec, 0, sizeof(*rec));
	rec->pool = pool;
	rec->node.fill = pool_fill;
	atomic_init(&rec->allocs, 0);
	atomic_init(&rec->frees, 0);
	atomic_init(&rec->denied, 0);
	atomic_init(&rec->waited, 0);
	atomic_init(&rec->peak, 0);
	atomic_init(&rec->in_use, 0);
	name_pool(rec, alloc_fn, pool_data);
	if (init_wait_channel(pool))
		goto fail_record;

	pool->stats = rec;

	while (pool->curr_nr < min_nr) {
		void *element = element_from_allocator(pool, gfp_mask);

		if (!element)
			goto fail_reserve;
		add_element(pool, element);
	}

	stats_register(&rec->node);
	return 0;

fail_reserve:
	while (pool->curr_nr > 0)
		free_fn(remove_element(pool), pool_data);
	pthread_cond_destroy(&pool->wait);
	pthread_mutex_destroy(&pool->lock);
fail_record:
	kfree(rec);
fail_elements:
	kfree(pool->elements);
fail:
	memset(pool, 0, sizeof(*pool));
	return -ENOMEM;
}

int mempool_init(mempool_t *pool, int min_nr, mempool_alloc_t *alloc_fn,
		 mempool_free_t *free_fn, void *pool_data)
{
	return mempool_init_node(pool, min_nr, alloc_fn, free_fn, pool_data,
				 GFP_KERNEL, NUMA_NO_NODE);
}

void mempool_exit(mempool_t *pool)
{
	struct pool_record *rec;

	if (!pool || !pool->stats)
		return; /* zeroed, failed to initialise, or exited already */
	rec = record_of(pool);
	stats_unregister(&rec->node);
	while (pool->curr_nr > 0)
		pool->free(remove_element(pool), pool->pool_data);
	kfree(pool->elements);
	kfree(rec);
	pthread_cond_destroy(&pool->wait);
	pthread_mutex_destroy(&pool->lock);
	memset(pool, 0, sizeof(*pool));
}

mempool_t *mempool_create_node(int min_nr, mempool_alloc_t *alloc_fn, mempool_free_t *free_fn,
			       void *pool_data, gfp_t gfp_mask, int nid)
{
	mempool_t *pool;
	int err;

	if (!pool_args_valid(min_nr, alloc_fn, free_fn, nid)) {
		errno = EINVAL;
		return NULL;
	}
	pool = kmalloc_node(sizeof(*pool), gfp_mask | __GFP_ZERO, nid);
	if (!pool) {
		errno = ENOMEM;
		return NULL;
	}
	err = mempool_init_node(pool, min_nr, alloc_fn, free_fn, pool_data, gfp_mask, nid);
	if (err) {
		kfree(pool);
		errno = -err;
		return NULL;
	}
	return pool;
}

mempool_t *mempool_create(int min_nr, mempool_alloc_t *alloc_fn, mempool_free_t *free_fn,
			  void *pool_data)
{
	return mempool_create_node(min_nr, alloc_fn, free_fn, pool_data, GFP_KERNEL, NUMA_NO_NODE);
}

void mempool_destroy(mempool_t *pool)
{
	if (!pool)
		return;
	mempool_exit(pool);
	kfree(pool);
}

int mempool_initialized(const mempool_t *pool)
{
	return pool && __atomic_load_n(&pool->elements, __ATOMIC_RELAXED) != NULL;
}

int mempool_is_saturated(mempool_t *pool)
{
	if (unlikely(!pool)) {
		diag("mempool_is_saturated", "NULL pool");
		return 0;
	}
	return load_int(&pool->curr_nr) >= load_int(&pool->min_nr);
}

/* ------------------------------------------------------------ resize */

/*
 * Shrinking lowers min_nr first, so that from now on frees stop refilling at
 * the new target, then gives back the surplus one element at a time,
 * calling free_fn outside the lock. Elements handed out are not touched:
 * they come back later through mempool_free(), which then sees the new
 * target.
 *
 * Growing swaps in a larger array, raises min_nr, and fills the reserve up
 * to it with alloc_fn outside the lock. As in Linux, an allocation failure
 * while filling ends the fill and still returns 0: the target is in force,
 * and later frees bring the reserve up to it. Only the array allocation
 * failing gives -ENOMEM, with the pool unchanged.
 *
 * The fill asks with GFP_KERNEL plus __GFP_NORETRY: it may sleep in the
 * allocator, but not wait there indefinitely. A cache at its limit would
 * otherwise wait for a free that never reaches it, since the pool's users'
 * frees go into this very reserve while it is below the new target.
 */
int mempool_resize(mempool_t *pool, int new_min_nr)
{
	void **new_elements, **old_elements;
	void *element;

	if (!pool || !pool->stats || new_min_nr <= 0)
		return -EINVAL;

	pthread_mutex_lock(&pool->lock);
	if (new_min_nr <= pool->min_nr) {
		__atomic_store_n(&pool->min_nr, new_min_nr, __ATOMIC_RELAXED);
		while (pool->curr_nr > new_min_nr) {
			element = remove_element(pool);
			pthread_mutex_unlock(&pool->lock);
			pool->free(element, pool->pool_data);
			pthread_mutex_lock(&pool->lock);
		}
		pthread_mutex_unlock(&pool->lock);
		return 0;
	}
	pthread_mutex_unlock(&pool->lock);

	new_elements = kmalloc_node((size_t)new_min_nr * sizeof(void *), GFP_KERNEL, pool->node);
	if (!new_elements)
		return -ENOMEM;

	pthread_mutex_lock(&pool->lock);
	if (new_min_nr <= pool->min_nr) {
		/* A concurrent resize grew the pool at least as far: nothing left to do. */
		pthread_mutex_unlock(&pool->lock);
		kfree(new_elements);
		return 0;
	}
	memcpy(new_elements, pool->elements, (size_t)pool->curr_nr * sizeof(void *));
	old_elements = pool->elements;
	__atomic_store_n(&pool->elements, new_elements, __ATOMIC_RELAXED);
	__atomic_store_n(&pool->min_nr, new_min_nr, __ATOMIC_RELAXED);

	while (pool->curr_nr < pool->min_nr) {
		pthread_mutex_unlock(&pool->lock);
		element = element_from_allocator(pool, GFP_KERNEL | MEMPOOL_GFP_ADD);
		if (!element)
			goto out; /* Linux's choice: the target stands, frees will fill it */
		pthread_mutex_lock(&pool->lock);
		if (pool->curr_nr >= pool->min_nr) {
			/* Frees, or a shrink, got there first. */
			pthread_mutex_unlock(&pool->lock);
			pool->free(element, pool->pool_data);
			goto out;
		}
		add_element(pool, element);
		wake_waiters(pool);
	}
	pthread_mutex_unlock(&pool->lock);
out:
	kfree(old_elements);
	return 0;
}

/* ------------------------------------------------------------ alloc, free */

static void deadline_after(struct timespec *ts, long ns)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_nsec += ns;
	while (ts->tv_nsec >= 1000000000L) {
		ts->tv_nsec -= 1000000000L;
		ts->tv_sec++;
	}
}

/*
 * The order of sources is Linux's: the allocator first, without waiting
 * (the reserve is for when memory is short, and taking from it when the
 * allocator could serve would leave it empty for the bad moment); then the
 * reserve; then, once, the allocator with the caller's full mask. Only after
 * that may a waiting caller sleep; when it wakes it asks the allocator again
 * (full mask) before it looks at the reserve, as Linux's repeat_alloc does.
 *
 * Wait/wake: a sleeper holds pool->lock from the moment it finds the
 * reserve empty until pthread_cond_timedwait() releases it atomically, and
 * it counts itself in pool->waiters within that same critical section. A
 * free pushes and reads pool->waiters under the same lock. So a free either
 * comes before the sleeper's check (and the sleeper finds the element) or
 * after the sleeper is on the condition variable (and sees waiters > 0 and
 * wakes it). No wake-up is lost; the timeout is for memory coming back by
 * other roads (see MEMPOOL_RETRY_NS).
 */
void *mempool_alloc(mempool_t *pool, gfp_t gfp_mask)
{
	struct pool_record *rec = pool ? record_of(pool) : NULL;
	struct timespec deadline;
	bool slept = false;
	gfp_t gfp_try;
	void *element;

	if (unlikely(gfp_mask & __GFP_ZERO)) {
		diag("mempool_alloc", "__GFP_ZERO is not supported (pool %p, gfp_mask %#x)",
		     (void *)pool, gfp_mask);
		return NULL;
	}
	if (unlikely(!rec)) {
		diag("mempool_alloc", "pool %p is not initialised", (void *)pool);
		return NULL;
	}
	if (may_not_wait_here(gfp_mask, "mempool_alloc"))
		return NULL;

	gfp_mask = (gfp_mask | MEMPOOL_GFP_ADD) & ~MEMPOOL_GFP_CLEAR;
	gfp_try = gfp_mask & ~(__GFP_DIRECT_RECLAIM | __GFP_IO);

	for (;;) {
		element = element_from_allocator(pool, gfp_try);
		if (likely(element != NULL))
			break;

		pthread_mutex_lock(&pool->lock);
		if (likely(pool->curr_nr > 0)) {
			element = remove_element(pool);
			pthread_mutex_unlock(&pool->lock);
			break;
		}
		if (gfp_try != gfp_mask) {
			/* First round was without waiting; the reserve is empty: try the full mask now. */
			pthread_mutex_unlock(&pool->lock);
			gfp_try = gfp_mask;
			continue;
		}
		if (!gfpflags_allow_blocking(gfp_mask)) {
			pthread_mutex_unlock(&pool->lock);
			atomic_fetch_add_explicit(&rec->denied, 1, memory_order_relaxed);
			return NULL;
		}
		if (!slept) {
			slept = true;
			atomic_fetch_add_explicit(&rec->waited, 1, memory_order_relaxed);
		}
		__atomic_store_n(&pool->waiters, pool->waiters + 1, __ATOMIC_RELAXED);
		deadline_after(&deadline, MEMPOOL_RETRY_NS);
		pthread_cond_timedwait(&pool->wait, &pool->lock, &deadline);
		__atomic_store_n(&pool->waiters, pool->waiters - 1, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&pool->lock);
	}
	count_alloc(rec);
	return element;
}

/*
 * For the ready pools we know what an element is, so a foreign pointer is
 * caught here, before it could enter the reserve and be handed out again
 * (free_fn would catch it only on the other road). The same few loads
 * kmem_cache_free() and kfree() do. Custom pools cannot be checked.
 */
static bool element_belongs(mempool_t *pool, const struct pool_record *rec, const void *element)
{
	switch (rec->kind) {
	case POOL_SLAB:
		return pool->pool_data && kmem_cache_owns(pool->pool_data, element);
	case POOL_KMALLOC:
		/* A zero size (only through mempool_create()) hands out ZERO_SIZE_PTR. */
		return rec->obj_size == 0 ? element == ZERO_SIZE_PTR
					  : kmalloc_owns(element) && ksize(element) >= rec->obj_size;
	default:
		return true;
	}
}

/*
 * Is @element resting in the reserve already (a second free)? Only asked on
 * the way into the reserve, which runs only while the pool has been dipped
 * into, and the reserve holds min_nr pointers at most. Lock held.
 */
static bool in_reserve(const mempool_t *pool, const void *element)
{
	for (int i = 0; i < pool->curr_nr; i++)
		if (pool->elements[i] == element)
			return true;
	return false;
}

void mempool_free(void *element, mempool_t *pool)
{
	struct pool_record *rec;

	if (unlikely(element == NULL))
		return;
	rec = pool ? record_of(pool) : NULL;
	if (unlikely(!rec)) {
		diag("mempool_free", "pool %p is not initialised (element %p)", (void *)pool, element);
		return;
	}
	if (unlikely(!element_belongs(pool, rec, element))) {
		diag("mempool_free", "%p is not an element of pool %p (%s)", element, (void *)pool, rec->name);
		return;
	}
	count_free(rec);

	/*
	 * The unlocked test must trigger whenever the reserve is short, or a
	 * sleeper could wait for an element that went to free_fn. It does:
	 * a sleeper exists only while curr_nr == 0 < min_nr, and the value of
	 * curr_nr we read is never older than the allocation of @element. In
	 * Linux that needs the smp_wmb()/smp_rmb() pair because a kernel
	 * caller may pass the element between threads without a barrier. In
	 * C11 passing it without synchronisation is a data race on the
	 * element itself, so the caller's own synchronisation (a lock, a
	 * release/acquire queue, a thread join) already makes the allocation's
	 * unlock happen before this load, and coherence gives us a curr_nr no
	 * older than that unlock. A stale "full" reading could only come from
	 * a racy program. Recheck under the lock: another free may have filled
	 * the reserve meanwhile.
	 */
	if (unlikely(load_int(&pool->curr_nr) < load_int(&pool->min_nr))) {
		pthread_mutex_lock(&pool->lock);
		if (likely(pool->curr_nr < pool->min_nr)) {
			if (unlikely(in_reserve(pool, element))) {
				pthread_mutex_unlock(&pool->lock);
				/* Undo count_free(): this free did not happen. */
				atomic_fetch_sub_explicit(&rec->frees, 1, memory_order_relaxed);
				atomic_fetch_add_explicit(&rec->in_use, 1, memory_order_relaxed);
				diag("mempool_free", "double free of %p: it is already in the reserve of pool %p (%s)",
				     element, (void *)pool, rec->name);
				return;
			}
			add_element(pool, element);
			wake_waiters(pool);
			pthread_mutex_unlock(&pool->lock);
			return;
		}
		pthread_mutex_unlock(&pool->lock);
	}

	/*
	 * A zero-minimum pool never refills (0 < 0 is false), yet an allocator
	 * may be asleep on it: hand it this element through the reserve's one
	 * slot, as Linux does for min_nr == 0. We do so only when someone
	 * sleeps (with no sleeper the element would just sit in the reserve),
	 * and we look at waiters under the lock: a sleeper counts itself in the
	 * same critical section in which it found the reserve empty, so either
	 * we see it, or it had not yet looked and its timed retry of alloc_fn
	 * finds the element free_fn gives back.
	 */
	if (unlikely(load_int(&pool->min_nr) == 0 && load_int(&pool->curr_nr) == 0)) {
		pthread_mutex_lock(&pool->lock);
		if (likely(pool->min_nr == 0 && pool->curr_nr == 0 && pool->waiters > 0)) {
			add_element(pool, element);
			wake_waiters(pool);
			pthread_mutex_unlock(&pool->lock);
			return;
		}
		pthread_mutex_unlock(&pool->lock);
	}

	pool->free(element, pool->pool_data);
}

/* ------------------------------------------------------------ ready pools */

/*
 * A slab pool's cache may have a limit, and a waiting kmem_cache_alloc()
 * sleeps at it until a kmem_cache_free() wakes it. But while the pool is
 * short, its users' frees go into the reserve and never reach the cache, so
 * an allocator asleep in the cache could wait forever. The pool does its
 * own waiting, on its own wait channel that those frees do signal, so when
 * the pool asks (its masks carry __GFP_NORETRY: "give up early") the cache
 * is asked not to wait. A direct caller without __GFP_NORETRY keeps the
 * cache's waiting.
 */
void *mempool_alloc_slab(gfp_t gfp_mask, void *pool_data)
{
	if (gfp_mask & __GFP_NORETRY)
		gfp_mask &= ~__GFP_DIRECT_RECLAIM;
	return kmem_cache_alloc(pool_data, gfp_mask);
}

void mempool_free_slab(void *element, void *pool_data)
{
	kmem_cache_free(pool_data, element);
}

mempool_t *mempool_create_slab_pool(int min_nr, struct kmem_cache *kc)
{
	if (!kc) {
		errno = EINVAL;
		return NULL;
	}
	return mempool_create(min_nr, mempool_alloc_slab, mempool_free_slab, kc);
}

int mempool_init_slab_pool(mempool_t *pool, int min_nr, struct kmem_cache *kc)
{
	if (!kc)
		return -EINVAL;
	return mempool_init(pool, min_nr, mempool_alloc_slab, mempool_free_slab, kc);
}

void *mempool_kmalloc(gfp_t gfp_mask, void *pool_data)
{
	return kmalloc((size_t)(uintptr_t)pool_data, gfp_mask);
}

void mempool_kfree(void *element, void *pool_data)
{
	(void)pool_data;
	kfree(element);
}

/* A zero size is refused: kmalloc(0) gives no usable byte (ZERO_SIZE_PTR), so the pool could serve nothing. */
mempool_t *mempool_create_kmalloc_pool(int min_nr, size_t size)
{
	if (size == 0) {
		errno = EINVAL;
		return NULL;
	}
	return mempool_create(min_nr, mempool_kmalloc, mempool_kfree, (void *)(uintptr_t)size);
}

int mempool_init_kmalloc_pool(mempool_t *pool, int min_nr, size_t size)
{
	if (size == 0)
		return -EINVAL;
	return mempool_init(pool, min_nr, mempool_kmalloc, mempool_kfree, (void *)(uintptr_t)size);
}

void *mempool_alloc_pages(gfp_t gfp_mask, void *pool_data)
{
	return alloc_pages(gfp_mask, (unsigned int)(intptr_t)pool_data);
}

void mempool_free_pages(void *element, void *pool_data)
{
	__free_pages(element, (unsigned int)(intptr_t)pool_data);
}

/* An order alloc_pages() never serves is refused, for the reason kmalloc pools refuse size 0. */
static bool page_order_valid(int order)
{
	return order >= 0 && order <= MAX_PAGE_ORDER;
}

mempool_t *mempool_create_page_pool(int min_nr, int order)
{
	if (!page_order_valid(order)) {
		errno = EINVAL;
		return NULL;
	}
	return mempool_create(min_nr, mempool_alloc_pages, mempool_free_pages,
			      (void *)(intptr_t)order);
}

int mempool_init_page_pool(mempool_t *pool, int min_nr, int order)
{
	if (!page_order_valid(order))
		return -EINVAL;
	return mempool_init(pool, min_nr, mempool_alloc_pages, mempool_free_pages,
			    (void *)(intptr_t)order);
}
