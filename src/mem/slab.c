/*
 * Object caches (kmem_cache).
 *
 *   thread A                 thread B                  (per thread, per cache)
 *   +-------------+          +-------------+
 *   | magazine    |          | magazine    |   a stack of up to MAG_CAP free
 *   | objs[0..n)  |          | objs[0..n)  |   objects; alloc pops, free
 *   +------+------+          +------+------+   pushes: no lock, no atomic
 *          |  runs of MAG_RUN objects  |
 *          v                           v
 *   +------------------------------------------+
 *   | depot, one per NUMA node (mutex)          |   a stack of free objects
 *   |   free: objs[0..n)   reserve (MEMALLOC)   |   and the span being carved
 *   +---------------------+--------------------+
 *                         | new spans (2 MiB, aligned, mbind to the node)
 *                         v
 *                      arena_map()
 *
 * A magazine holds only objects of its thread's node. An object freed on a
 * thread of another node, or allocated for an explicit other node, goes
 * straight to that node's depot. A free from another thread of the same node
 * simply lands in the freeing thread's magazine: objects have no owner
 * thread, so a remote free is as cheap as a local one.
 *
 * The depot keeps its free stack as an array of pointers, never a list
 * threaded through the objects: free objects are never written, so they can
 * stay poisoned for ASan and keep their constructed state.
 *
 * Limits: a cache with a limit keeps an exact atomic count of objects in
 * use, so the limit is on objects handed out (those resting in magazines do
 * not count and cannot strand a waiter). Caches without a limit pay no
 * atomic on the fast path.
 *
 * Lock order: stats_lock > threads_lock > reserve lock > depot lock.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "slab_impl.h"

/* Objects moved per depot transfer: 64 rather than 32 halves the depot
 * locking of a thread that only allocates or only frees (a ring pair). */
#define MAG_RUN 64
#define MAG_CAP (2 * MAG_RUN) /* a magazine's capacity */
#define MAX_CACHES 1024
/* fast_id of a cache whose fast paths are off: that magazine slot stays NULL. */
#define NO_FAST_ID MAX_CACHES
/* A magazine's key while it belongs to no cache: span keys are 0 (no cache)
 * or a non-NULL cache address with the node in its low bits, never 1. */
#define KEY_NONE ((uintptr_t)1)

_Static_assert(MAX_NODES <= CACHE_LINE, "span_key() keeps the node in a cache's alignment bits");

struct depot {
	pthread_mutex_t lock;
	void **objs;        /* free objects */
	size_t n, cap;      /* cap >= objects carved, so pushes never grow */
	char *bump, *bump_end; /* the span being carved */
	struct span *spans;
	size_t carved;      /* objects that exist on this node */
	size_t bytes;       /* bytes mapped for this node */
} __attribute__((aligned(CACHE_LINE)));

struct kmem_cache {
	/* read by every fast path; written only at creation (fast_id: by limits) */
	_Atomic unsigned int fast_id; /* id, or NO_FAST_ID while a limit is set */
	unsigned int id;
	unsigned int size;     /* as asked */
	unsigned int stride;   /* object size rounded to the alignment */
	unsigned int align;
	unsigned int hdr_off;  /* offset of the first object in a span */
	/*
	 * Object index test: stride = odd << shift. For x = an offset from the
	 * first object, ror(x * odd_inv, shift) is x / stride when x is a
	 * multiple of stride, and above max_idx otherwise (odd_inv is the
	 * inverse of odd mod 2^64; a negative x wraps far above too). So one
	 * multiply, rotate and compare checks both alignment and range.
	 */
	unsigned int shift;
	uint64_t odd_inv, max_idx;
	unsigned long flags;
	void (*ctor)(void *);
	int nodes;
	/* limit != 0, kept beside the other hot fields for the fast paths */
	atomic_bool limited;

	/* limit: exact in-use count, only maintained when limit != 0 */
	atomic_size_t limit;
	atomic_size_t in_use __attribute__((aligned(CACHE_LINE)));
	atomic_int waiters;
	pthread_mutex_t wait_lock;
	pthread_cond_t wait_cond;

	/* emergency reserve for __GFP_MEMALLOC */
	pthread_mutex_t reserve_lock __attribute__((aligned(CACHE_LINE)));
	void **reserve;
	atomic_size_t reserve_n;
	size_t reserve_max;
	int reserve_node;

	/* counters of slow paths and of threads that have gone */
	atomic_uint_least64_t allocs, frees, denied, waited, peak;

	struct stats_node stats;
	char name[48];
	struct depot depot[]; /* one per node slot */
};

/*
 * One cache's magazine in one thread. The owner thread alone pushes and
 * pops; others touch it only under threads_lock (statistics, destroy, the
 * owner's exit). The count and counters are relaxed atomics so that
 * statistics can read them without a lock: a plain load and store on the
 * owner's side (mag_n(), mag_set_n(), ctr_add_owner()).
 *
 * Frees are not counted: every object that enters the stack comes from a
 * free or from the depot (inflow), and every one that leaves goes to an
 * allocation or back (inflow less), so count = frees - allocs + inflow,
 * and entry_frees() derives frees from the other three. The free fast
 * path then writes no counter; inflow changes only on slow paths.
 */
struct tcache_entry {
	_Atomic(struct kmem_cache *) cache; /* NULL: free for reuse */
	atomic_size_t count;                /* objects on the stack; 0 whenever cache is NULL */
	int node;                           /* the owner thread's node */
	uintptr_t key;                      /* span_key(cache, node), or KEY_NONE */
	atomic_uint_least64_t allocs;       /* objects handed out from this magazine */
	atomic_uint_least64_t inflow;       /* from the depot less back to it, modulo 2^64 */
	/*
	 * The stack: objs[0..n), that is slot[1..n]. slot[0] stays NULL, so
	 * the top, slot[n], can be compared with a freed pointer even when the
	 * magazine is empty (NULL never reaches that compare).
	 */
	union {
		void *slot[MAG_CAP + 1];
		struct {
			void *guard;
			void *objs[MAG_CAP];
		};
	};
};

_Static_assert(offsetof(struct tcache_entry, objs) == offsetof(struct tcache_entry, slot) + sizeof(void *),
	       "objs[i] is slot[i + 1]");

struct tcache {
	struct tcache *next, *prev; /* all live threads, under threads_lock */
	int node;
	struct tcache_entry *ent[MAX_CACHES + 1]; /* &no_entry if none; [NO_FAST_ID] stays so */
};

/*
 * threads_lock guards the list of thread caches, the creation and reuse of
 * entries, and cache ids. It is taken on slow paths only.
 */
static pthread_mutex_t threads_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tcache threads_head = { &threads_head, &threads_head, 0, { 0 } };
static struct kmem_cache *cache_ids[MAX_CACHES];

static pthread_once_t tc_once = PTHREAD_ONCE_INIT;
static pthread_key_t tc_key;

/* The caller's thread cache: NULL before first use; tc_dead after exit. */
static _Thread_local struct tcache *tls_tc __attribute__((tls_model("initial-exec")));
static struct tcache tc_dead;

/*
 * The magazine of a thread that has none for a cache: no cache, empty,
 * and a key no span has, so every fast path test fails on it and it is
 * never written. Unused slots of every table point here rather than
 * being NULL, so the fast paths need no NULL test.
 */
static struct tcache_entry no_entry = { .key = KEY_NONE };

/*
 * The fast paths' view of the thread cache: tls_tc->ent while it lives,
 * else a table of no_entry.
 */
static struct tcache_entry *const no_ents[MAX_CACHES + 1] = { [0 ... MAX_CACHES] = &no_entry };
static _Thread_local struct tcache_entry *const *tls_ent __attribute__((tls_model("initial-exec"))) = no_ents;

static void cache_free_locked_entry(struct tcache *tc, struct tcache_entry *e);

/* ------------------------------------------------------------ helpers */

static inline uint64_t ctr_get(atomic_uint_least64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* Owner-only increment: no read-modify-write needed, readers see either. */
static inline void ctr_add_owner(atomic_uint_least64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v, memory_order_relaxed);
}

/* Owner-only decrement (modulo 2^64, as the counter is read). */
static inline void ctr_sub_owner(atomic_uint_least64_t *c, uint64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) - v, memory_order_relaxed);
}

/* A magazine's object count, read and written as ctr_add_owner() does. */
static inline size_t mag_n(struct tcache_entry *e)
{
	return atomic_load_explicit(&e->count, memory_order_relaxed);
}

static inline void mag_set_n(struct tcache_entry *e, size_t n)
{
	atomic_store_explicit(&e->count, n, memory_order_relaxed);
}

/* The frees this magazine took (see struct tcache_entry), modulo 2^64. */
static inline uint64_t entry_frees(struct tcache_entry *e)
{
	return (uint64_t)mag_n(e) + ctr_get(&e->allocs) - ctr_get(&e->inflow);
}

static inline void ctr_add(atomic_uint_least64_t *c, uint64_t v)
{
	atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

static void peak_update(struct kmem_cache *c, uint64_t v)
{
	uint64_t old = atomic_load_explicit(&c->peak, memory_order_relaxed);

	while (v > old && !atomic_compare_exchange_weak_explicit(&c->peak, &old, v,
								 memory_order_relaxed, memory_order_relaxed))
		;
}

unsigned long cache_flags(const struct kmem_cache *c)
{
	return c->flags;
}

/* ------------------------------------------------------------ depot */

/* Make room in the free stack for @more carved objects. Depot lock held. */
static int depot_reserve_slots(struct depot *d, size_t more)
{
	if (d->carved + more <= d->cap)
		return 0;
	/* No count this large can be carved; refuse before the sizes wrap. */
	if (more > SIZE_MAX / (4 * sizeof(void *)) - d->carved)
		return -1;
	size_t cap = d->cap ? d->cap : 256;

	while (cap < d->carved + more)
		cap *= 2;
	void **objs = realloc(d->objs, cap * sizeof(void *));

	if (!objs)
		return -1;
	d->objs = objs;
	d->cap = cap;
	return 0;
}

static struct span *span_new(struct kmem_cache *c, int node, size_t map_size)
{
	struct span *s = arena_map(map_size, SPAN_SIZE, node, (c->flags & SLAB_HUGEPAGE) != 0);

	if (!s)
		return NULL;
	s->magic = SPAN_MAGIC;
	s->cache = c;
	s->map_size = map_size;
	s->large_size = 0;
	s->node = node;
	s->key = span_key(c, node);
	s->first = (uintptr_t)s + c->hdr_off;
	return s;
}

/*
 * Create up to @want new objects on the depot's node into @out. Returns
 * how many (0 with errno set on failure). Depot lock held.
 */
static size_t depot_carve(struct kmem_cache *c, int node, struct depot *d, void **out, size_t want)
{
	size_t got = 0;

	if (depot_reserve_slots(d, want) != 0) {
		errno = ENOMEM;
		return 0;
	}
	while (got < want) {
		char *obj;

		if (c->stride > LARGE_OBJECT) {
			size_t len = (c->hdr_off + c->stride + PAGE_SIZE - 1) & PAGE_MASK;
			struct span *s = span_new(c, node, len);

			if (!s)
				break;
			s->next = d->spans;
			d->spans = s;
			d->bytes += len;
			obj = (char *)s + c->hdr_off;
		} else {
			if (!d->bump || d->bump + c->stride > d->bump_end) {
				struct span *s = span_new(c, node, SPAN_SIZE);

				if (!s)
					break;
				s->next = d->spans;
				d->spans = s;
				d->bytes += SPAN_SIZE;
				d->bump = (char *)s + c->hdr_off;
				d->bump_end = (char *)s + SPAN_SIZE;
			}
			obj = d->bump;
			d->bump += c->stride;
		}
		if (c->ctor)
			c->ctor(obj);
		mem_poison(obj, c->stride);
		out[got++] = obj;
		d->carved++;
	}
	return got;
}

/*
 * The depot lock is held for a copy of a run of pointers: a thread that
 * finds it taken (the other end of a ring, usually) retries a little
 * before it sleeps, since a futex sleep and wake-up costs more than the
 * wait. A carve that maps memory holds it longer; the waiter then sleeps.
 */
static void depot_lock(struct depot *d)
{
	for (int i = 0; i < 100; i++) {
		if (pthread_mutex_trylock(&d->lock) == 0)
			return;
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	}
	pthread_mutex_lock(&d->lock);
}

/*
 * Take up to @want free objects from node @node's depot (carving what it
 * lacks), and up to @extra more if it has them free (never carved).
 */
static size_t depot_take_more(struct kmem_cache *c, int node, void **out, size_t want, size_t extra)
{
	struct depot *d = &c->depot[node];
	size_t got;

	depot_lock(d);
	got = d->n < want + extra ? d->n : want + extra;
	d->n -= got;
	if (got)
		memcpy(out, d->objs + d->n, got * sizeof(void *));
	if (got < want)
		got += depot_carve(c, node, d, out + got, want - got);
	size_t out_of_depot = d->carved - d->n;

	pthread_mutex_unlock(&d->lock);
	/*
	 * Without a limit there is no shared in-use count to watch; objects
	 * out of the depot (in use, or resting in a thread's magazine) are an
	 * upper bound of it, within a magazine per thread, known here for free.
	 */
	if (atomic_load_explicit(&c->limit, memory_order_relaxed) == 0)
		peak_update(c, out_of_depot);
	return got;
}

/* Take up to @want free objects from node @node's depot (carving if empty). */
static size_t depot_take(struct kmem_cache *c, int node, void **out, size_t want)
{
	return depot_take_more(c, node, out, want, 0);
}

static void reserve_topup(struct kmem_cache *c, int node, void ***objs, size_t *n);

/* Push @n free objects onto node @node's depot, as they are. */
static void depot_put_raw(struct kmem_cache *c, int node, void **objs, size_t n)
{
	struct depot *d = &c->depot[node];

	if (!n)
		return;
	depot_lock(d);
	memcpy(d->objs + d->n, objs, n * sizeof(void *));
	d->n += n;
	pthread_mutex_unlock(&d->lock);
}

/* Give @n free objects of node @node back: the reserve first, if it is short. */
static void depot_put(struct kmem_cache *c, int node, void **objs, size_t n)
{
	if (unlikely(atomic_load_explicit(&c->reserve_n, memory_order_relaxed) < c->reserve_max))
		reserve_topup(c, node, &objs, &n);
	if (n)
		depot_put_raw(c, node, objs, n);
}

/* ------------------------------------------------------------ reserve */

/* Refill the emergency reserve from objects on their way to the depot. */
static void reserve_topup(struct kmem_cache *c, int node, void ***objs, size_t *n)
{
	if (node != c->reserve_node)
		return;
	pthread_mutex_lock(&c->reserve_lock);
	size_t have = atomic_load_explicit(&c->reserve_n, memory_order_relaxed);

	while (have < c->reserve_max && *n) {
		c->reserve[have++] = (*objs)[0];
		(*objs)++;
		(*n)--;
	}
	atomic_store_explicit(&c->reserve_n, have, memory_order_relaxed);
	pthread_mutex_unlock(&c->reserve_lock);
}

static void *reserve_take(struct kmem_cache *c, int node)
{
	void *obj = NULL;

	if (node != NUMA_NO_NODE && node != c->reserve_node)
		return NULL;
	pthread_mutex_lock(&c->reserve_lock);
	size_t have = atomic_load_explicit(&c->reserve_n, memory_order_relaxed);

	if (have) {
		obj = c->reserve[--have];
		atomic_store_explicit(&c->reserve_n, have, memory_order_relaxed);
	}
	pthread_mutex_unlock(&c->reserve_lock);
	return obj;
}

int kmem_cache_set_reserve(struct kmem_cache *c, size_t nr)
{
	if (!c)
		return -EINVAL;
	pthread_mutex_lock(&c->reserve_lock);
	size_t have = atomic_load_explicit(&c->reserve_n, memory_order_relaxed);
	int node = c->reserve_max ? c->reserve_node : node_of_caller();

	if (nr > c->reserve_max) {
		void **arr = nr <= SIZE_MAX / sizeof(void *) ? realloc(c->reserve, nr * sizeof(void *)) : NULL;

		if (!arr) {
			pthread_mutex_unlock(&c->reserve_lock);
			return -ENOMEM;
		}
		c->reserve = arr;
	}
	if (have < nr) {
		size_t got = fault_point() ? 0 : depot_take(c, node, c->reserve + have, nr - have);

		if (got < nr - have) {
			/* All or nothing: the reserve stays as it was. */
			depot_put_raw(c, node, c->reserve + have, got);
			pthread_mutex_unlock(&c->reserve_lock);
			return -ENOMEM;
		}
	} else if (have > nr) {
		depot_put_raw(c, node, c->reserve + nr, have - nr);
	}
	c->reserve_node = node;
	c->reserve_max = nr;
	atomic_store_explicit(&c->reserve_n, nr, memory_order_relaxed);
	pthread_mutex_unlock(&c->reserve_lock);
	return 0;
}

/* ------------------------------------------------------------ limits */

/*
 * Take @nr in-use slots under the limit. A waiting caller sleeps until frees
 * make room; the acquire is a CAS so that a failed attempt never inflates
 * the count (which could make a waiter miss its wake-up).
 *
 * Wake-up reasoning: the sleeper increments `waiters` and then retries the
 * CAS, both under wait_lock; a releaser decrements `in_use` and then reads
 * `waiters`, all sequentially consistent. So either the releaser sees the
 * waiter (and signals under the lock, which it cannot take until the waiter
 * sleeps), or the waiter's retry sees the freed slot. No wake-up is lost.
 */
static int limit_acquire(struct kmem_cache *c, size_t nr, gfp_t gfp, bool *waited)
{
	size_t limit = atomic_load(&c->limit);
	size_t cur = atomic_load(&c->in_use);

	for (;;) {
		while (limit == 0 || cur + nr <= limit) {
			if (atomic_compare_exchange_weak(&c->in_use, &cur, cur + nr)) {
				peak_update(c, cur + nr);
				return 0;
			}
			limit = atomic_load(&c->limit);
		}
		/* __GFP_NORETRY: the caller has another way to wait (a mempool). */
		if (!gfpflags_allow_blocking(gfp) || (gfp & __GFP_NORETRY) || nr > limit)
			return -ENOMEM;
		pthread_mutex_lock(&c->wait_lock);
		atomic_fetch_add(&c->waiters, 1);
		*waited = true;
		for (;;) {
			limit = atomic_load(&c->limit);
			cur = atomic_load(&c->in_use);
			if (limit == 0 || cur + nr <= limit || nr > limit)
				break;
			pthread_cond_wait(&c->wait_cond, &c->wait_lock);
		}
		atomic_fetch_sub(&c->waiters, 1);
		pthread_mutex_unlock(&c->wait_lock);
	}
}

static void limit_release(struct kmem_cache *c, size_t nr)
{
	atomic_fetch_sub(&c->in_use, nr);
	if (atomic_load(&c->waiters)) {
		pthread_mutex_lock(&c->wait_lock);
		pthread_cond_broadcast(&c->wait_cond);
		pthread_mutex_unlock(&c->wait_lock);
	}
}

int kmem_cache_set_limit(struct kmem_cache *c, size_t max)
{
	if (!c)
		return -EINVAL;
	/*
	 * The exact count must start right: while a cache had no limit its
	 * in_use was not kept, so take it from the per-thread counters now.
	 * Setting a limit is a configuration step, not a fast path.
	 */
	if (atomic_load(&c->limit) == 0 && max != 0) {
		struct pktmem_stats st;

		kmem_cache_stats(c, &st);
		atomic_store(&c->in_use, (size_t)st.in_use);
	}
	atomic_store(&c->limit, max);
	atomic_store(&c->limited, max != 0);
	atomic_store(&c->fast_id, max != 0 ? NO_FAST_ID : c->id);
	pthread_mutex_lock(&c->wait_lock);
	pthread_cond_broadcast(&c->wait_cond); /* a raised limit may free waiters */
	pthread_mutex_unlock(&c->wait_lock);
	return 0;
}

/* ------------------------------------------------------------ thread caches */

/* Hand an entry's objects back and fold its counters. threads_lock held. */
static void cache_free_locked_entry(struct tcache *tc, struct tcache_entry *e)
{
	struct kmem_cache *c = atomic_load_explicit(&e->cache, memory_order_relaxed);

	if (!c)
		return;
	size_t n = mag_n(e);

	ctr_add(&c->allocs, ctr_get(&e->allocs));
	ctr_add(&c->frees, entry_frees(e));
	if (n)
		depot_put(c, tc->node, e->objs, n);
	mag_set_n(e, 0);
	e->key = KEY_NONE;
	atomic_store_explicit(&e->allocs, 0, memory_order_relaxed);
	atomic_store_explicit(&e->inflow, 0, memory_order_relaxed);
	atomic_store_explicit(&e->cache, NULL, memory_order_relaxed);
}

/* A thread exits: its magazines go back to the depots, nothing is stranded. */
static void tcache_exit(void *arg)
{
	struct tcache *tc = arg;

	pthread_mutex_lock(&threads_lock);
	for (unsigned i = 0; i < MAX_CACHES; i++) {
		if (tc->ent[i] != &no_entry) {
			cache_free_locked_entry(tc, tc->ent[i]);
			free(tc->ent[i]);
		}
	}
	tc->prev->next = tc->next;
	tc->next->prev = tc->prev;
	pthread_mutex_unlock(&threads_lock);
	/* Allocations from later destructors go straight to the depots. */
	tls_ent = no_ents;
	tls_tc = &tc_dead;
	free(tc);
}

static void tc_key_init(void)
{
	if (pthread_key_create(&tc_key, tcache_exit) != 0) {
		fprintf(stderr, "pktmem: cannot create the thread-cache key\n");
		abort();
	}
}

/* The caller's thread cache, created on first use; NULL once it has exited. */
static struct tcache *tcache_get(void)
{
	struct tcache *tc = tls_tc;

	if (likely(tc))
		return tc == &tc_dead ? NULL : tc;
	pthread_once(&tc_once, tc_key_init);
	tc = calloc(1, sizeof(*tc));
	if (!tc)
		return NULL;
	for (unsigned i = 0; i <= MAX_CACHES; i++)
		tc->ent[i] = &no_entry;
	tc->node = node_of_caller();
	if (pthread_setspecific(tc_key, tc) != 0) {
		free(tc);
		return NULL;
	}
	pthread_mutex_lock(&threads_lock);
	tc->next = &threads_head;
	tc->prev = threads_head.prev;
	threads_head.prev->next = tc;
	threads_head.prev = tc;
	pthread_mutex_unlock(&threads_lock);
	tls_tc = tc;
	tls_ent = tc->ent;
	return tc;
}

/* The caller's magazine for @c, created on first use (slow path). */
static struct tcache_entry *entry_get(struct tcache *tc, struct kmem_cache *c)
{
	struct tcache_entry *e = tc->ent[c->id];

	if (atomic_load_explicit(&e->cache, memory_order_relaxed) == c)
		return e;
	pthread_mutex_lock(&threads_lock);
	if (e == &no_entry) {
		e = calloc(1, sizeof(*e));
		if (!e) {
			pthread_mutex_unlock(&threads_lock);
			return NULL;
		}
		tc->ent[c->id] = e;
	}
	mag_set_n(e, 0);
	e->node = tc->node;
	e->key = span_key(c, tc->node);
	atomic_store_explicit(&e->allocs, 0, memory_order_relaxed);
	atomic_store_explicit(&e->inflow, 0, memory_order_relaxed);
	atomic_store_explicit(&e->cache, c, memory_order_relaxed);
	pthread_mutex_unlock(&threads_lock);
	return e;
}

/* The fast path's view: the caller's magazine for @c if it exists. */
static inline struct tcache_entry *entry_fast(struct kmem_cache *c)
{
	struct tcache_entry *e = tls_ent[c->id];

	/* no_entry's cache is NULL */
	if (unlikely(atomic_load_explicit(&e->cache, memory_order_relaxed) != c))
		return NULL;
	return e;
}

/*
 * Cheaper still, for the plain fast paths: the magazine, never NULL, and
 * no_entry while @c has a limit. The entry may be no_entry or a stale one
 * (its cache destroyed), but those have n == 0 and key KEY_NONE, so they
 * pass neither the alloc test (n != 0) nor the free test (key equal to a
 * span's key): when those pass, the entry is @c's (ids are unique among
 * live caches).
 */
static inline struct tcache_entry *entry_hot(struct kmem_cache *c)
{
	return tls_ent[atomic_load_explicit(&c->fast_id, memory_order_relaxed)];
}

static inline bool fast_paths_off(void)
{
	return atomic_load_explicit(&slow_paths, memory_order_relaxed) != 0;
}

/* ------------------------------------------------------------ alloc */

/* memcheck: the object is handed out; constructed state counts as written. */
static inline void vg_handed_out(struct kmem_cache *c, void *obj)
{
	vg_pool_alloc(c, obj, c->size);
	if (c->ctor)
		vg_defined(obj, c->size);
}

static inline void *obj_ready(struct kmem_cache *c, void *obj, gfp_t gfp)
{
	mem_unpoison(obj, c->size); /* readable for the debug check below */
	if (unlikely(debug_on()))
		debug_on_alloc(c, obj, c->size, c->ctor != NULL);
	vg_handed_out(c, obj);
	if (gfp & __GFP_ZERO)
		memset(obj, 0, c->size);
	return obj;
}

static void *alloc_slow(struct kmem_cache *c, gfp_t gfp, int node, const char *func)
{
	bool waited = false, limited = atomic_load_explicit(&c->limit, memory_order_relaxed) != 0;
	void *obj = NULL;

	if (unlikely((gfp & __GFP_ZERO) && c->ctor)) {
		diag(func, "cache '%s' has a constructor; __GFP_ZERO would destroy the constructed state (gfp %#x)",
		     c->name, gfp);
		errno = EINVAL;
		return NULL;
	}
	if (node != NUMA_NO_NODE && !node_has_memory(node)) {
		errno = EINVAL;
		return NULL;
	}
	if (may_not_wait_here(gfp, func)) {
		errno = EWOULDBLOCK;
		return NULL;
	}
	for (;;) {
		if (fault_point())
			goto dry;
		if (limited && limit_acquire(c, 1, gfp, &waited) != 0)
			goto dry;

		struct tcache *tc = tcache_get();
		int target = node == NUMA_NO_NODE ? (tc ? tc->node : node_of_caller()) : node;

		if (tc && target == tc->node) {
			struct tcache_entry *e = entry_get(tc, c);

			if (e) {
				size_t n = mag_n(e);

				if (n == 0) {
					n = depot_take(c, target, e->objs, MAG_RUN);
					ctr_add_owner(&e->inflow, n);
				}
				if (n) {
					obj = e->objs[--n];
					mag_set_n(e, n);
					ctr_add_owner(&e->allocs, 1);
				}
				goto got;
			}
		}
		if (depot_take(c, target, &obj, 1) == 1)
			ctr_add(&c->allocs, 1);
got:
		if (obj) {
			if (waited)
				ctr_add(&c->waited, 1);
			return obj_ready(c, obj, gfp);
		}
		if (limited)
			limit_release(c, 1);
dry:
		/* Nothing ordinary is left: the emergency reserve, then give up. */
		if ((gfp & (__GFP_MEMALLOC | __GFP_NOMEMALLOC)) == __GFP_MEMALLOC &&
		    (obj = reserve_take(c, node)) != NULL) {
			if (limited)
				atomic_fetch_add(&c->in_use, 1); /* the reserve may exceed the limit */
			ctr_add(&c->allocs, 1);
			return obj_ready(c, obj, gfp);
		}
		if ((gfp & __GFP_NOFAIL) && gfpflags_allow_blocking(gfp)) {
			nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
			continue;
		}
		ctr_add(&c->denied, 1);
		errno = ENOMEM;
		return NULL;
	}
}

void *kmem_cache_alloc(struct kmem_cache *c, gfp_t gfp)
{
	struct tcache_entry *e = entry_hot(c);
	size_t n;

	/*
	 * n != 0 also proves the entry is c's (see entry_hot()). Outside an
	 * atomic section (nearly always) the gfp mask needs no reclaim test.
	 */
	if (likely((n = mag_n(e)) != 0 && !(gfp & __GFP_ZERO) &&
		   (atomic_depth == 0 || !(gfp & __GFP_DIRECT_RECLAIM)) && !fast_paths_off())) {
		void *obj = e->slot[n];

		mag_set_n(e, n - 1);

		ctr_add_owner(&e->allocs, 1);
		mem_unpoison(obj, c->size);
		vg_handed_out(c, obj);
		return obj;
	}
	return alloc_slow(c, gfp, NUMA_NO_NODE, "kmem_cache_alloc");
}

void *kmem_cache_alloc_node(struct kmem_cache *c, gfp_t gfp, int node)
{
	return alloc_slow(c, gfp, node, "kmem_cache_alloc_node");
}

void *kmem_cache_zalloc(struct kmem_cache *c, gfp_t gfp)
{
	return alloc_slow(c, gfp | __GFP_ZERO, NUMA_NO_NODE, "kmem_cache_zalloc");
}

/* ------------------------------------------------------------ free */

/* Say why @obj is no object of @c. Out of line: only bad input gets here. */
static __attribute__((noinline, cold)) void obj_bad(struct kmem_cache *c, const void *obj, const char *func)
{
	const struct span *s = span_of(obj);

	if (span_valid(s) && s->cache == c)
		diag(func, "%p points inside an object of cache '%s' (object size %u), not at its start",
		     obj, c->name, c->stride);
	else
		diag(func, "%p is not an object of cache '%s' (it belongs to %s)", obj, c->name,
		     span_valid(s) ? (s->cache ? s->cache->name : "a kmalloc block") : "no pktmem cache");
}

void *slab_obj_start(const void *p)
{
	const struct span *s = span_of(p);

	/* A kmalloc() large block (no cache) is unmapped when freed: no record to ask. */
	if (!span_valid(s) || !s->cache || (uintptr_t)p < s->first)
		return NULL;

	const struct kmem_cache *c = s->cache;
	uint64_t idx = ((uintptr_t)p - s->first) / c->stride;

	return idx <= c->max_idx ? (void *)(s->first + idx * c->stride) : NULL;
}

/*
 * The start of the span that would hold @obj, if the arena recorded one
 * for @obj's 2 MiB of the 47-bit address space (say so in *@found). The
 * address bits above 47 are dropped rather than tested: for a pointer that
 * has any, the span found is not the pointer's own, and the exact index
 * test from that span's first object rejects it. NULL finds no span.
 */
static inline uintptr_t span_here(const void *obj, bool *found)
{
	uintptr_t base = (uintptr_t)obj & (((uintptr_t)1 << 47) - SPAN_SIZE);
	uintptr_t idx = base / SPAN_SIZE;

	_Static_assert(ARENA_SPAN_WORDS * 64 == ((uintptr_t)1 << 47) / SPAN_SIZE, "the bitmap covers 47 bits");
	*found = (atomic_load_explicit(&arena_span_bits[idx / 64], memory_order_relaxed) >> (idx % 64)) & 1;
	return base;
}

/* The object index of offset @x (see max_idx), or a value above max_idx. */
static inline uint64_t ror_idx(uint64_t x, uint64_t inv, unsigned shift, unsigned rshift)
{
	uint64_t q = x * inv;

	return (q >> shift) | (q << rshift);
}

/* Is @obj at an object boundary of @c within its span (see max_idx)? */
static inline bool obj_index_ok(const struct kmem_cache *c, const void *obj)
{
	uint64_t x = ((uintptr_t)obj & (SPAN_SIZE - 1)) - (uint64_t)c->hdr_off;

	return ror_idx(x, c->odd_inv, c->shift, (64 - c->shift) & 63) <= c->max_idx;
}

/*
 * Is @obj the start of an object of @c? A few loads and a multiply: the
 * span bitmap, the span's cache, and the index test.
 */
static inline bool obj_owned(struct kmem_cache *c, const void *obj)
{
	const struct span *s = span_of(obj);

	return span_valid(s) && s->cache == c && obj_index_ok(c, obj);
}

/* Is @obj an object of @c on the node of @e, the caller's magazine for @c?
 * Equal keys prove both the cache and the node (a stale entry has KEY_NONE). */
static inline bool obj_ours_here(const struct kmem_cache *c, const struct tcache_entry *e, const void *obj)
{
	bool found;
	const struct span *s = (const struct span *)span_here(obj, &found);

	return found && s->key == e->key &&
	       ror_idx((uintptr_t)obj - s->first, c->odd_inv, c->shift, (64 - c->shift) & 63) <= c->max_idx;
}

/* obj_owned(), diagnosing a pointer that is not. */
static inline bool obj_check(struct kmem_cache *c, const void *obj, const char *func)
{
	if (likely(obj_owned(c, obj)))
		return true;
	obj_bad(c, obj, func);
	return false;
}

bool kmem_cache_owns(struct kmem_cache *c, const void *p)
{
	return obj_owned(c, p);
}

static void free_slow(struct kmem_cache *c, void *obj)
{
	int node = span_of(obj)->node;
	struct tcache *tc = tcache_get();

	vg_pool_free(c, obj);
	mem_poison(obj, c->stride);
	if (tc && node == tc->node) {
		struct tcache_entry *e = entry_get(tc, c);

		if (e) {
			size_t n = mag_n(e);

			if (n == MAG_CAP) {
				/* Keep the newest (cache-hot) half, return the oldest run. */
				depot_put(c, node, e->objs, MAG_RUN);
				memmove(e->objs, e->objs + MAG_RUN, (MAG_CAP - MAG_RUN) * sizeof(void *));
				n -= MAG_RUN;
				ctr_sub_owner(&e->inflow, MAG_RUN);
			}
			e->objs[n] = obj;
			mag_set_n(e, n + 1);
			return;
		}
	}
	depot_put(c, node, &obj, 1);
	ctr_add(&c->frees, 1);
}

/* Everything but the plain case: bad input, full magazine, other node, a limit. */
static __attribute__((noinline)) void free_checked(struct kmem_cache *c, void *obj)
{
	if (!obj)
		return;
	if (unlikely(!c)) {
		diag("kmem_cache_free", "NULL cache for object %p", obj);
		return;
	}
	if (unlikely(!obj_check(c, obj, "kmem_cache_free")))
		return;
	if (debug_on() && !debug_on_free(c, obj, c->size, c->ctor != NULL, "kmem_cache_free"))
		return;

	struct tcache_entry *e = entry_fast(c);

	/* The object freed last is still on top of the magazine: one compare
	 * catches the commonest double free even with debug mode off. */
	if (unlikely(e && e->slot[mag_n(e)] == obj)) {
		diag("kmem_cache_free", "%p (cache '%s') freed twice: it is the object this thread freed last",
		     obj, c->name);
		return;
	}
	if (e && mag_n(e) < MAG_CAP && span_of(obj)->node == e->node) {
		size_t n = mag_n(e);

		vg_pool_free(c, obj);
		mem_poison(obj, c->stride);
		e->objs[n] = obj;
		mag_set_n(e, n + 1);
	} else {
		free_slow(c, obj);
	}
	if (atomic_load_explicit(&c->limit, memory_order_relaxed))
		limit_release(c, 1);
}

void kmem_cache_free(struct kmem_cache *c, void *obj)
{
	struct tcache_entry *e;
	size_t n;

	/*
	 * The common case, kept free of calls so it needs no stack frame. The
	 * span key equal to the magazine's proves at once that the span is c's
	 * (the entry is c's: a stale one has KEY_NONE) and on this thread's node.
	 * NULL finds no span. slot[n] is the object freed last (NULL when the
	 * magazine is empty).
	 */
	if (likely(c && obj_ours_here(c, (e = entry_hot(c)), obj) && (n = mag_n(e)) < MAG_CAP &&
		   e->slot[n] != obj && !fast_paths_off())) {
		vg_pool_free(c, obj);
		mem_poison(obj, c->stride);
		e->slot[n + 1] = obj;
		mag_set_n(e, n + 1); /* counts the free (see struct tcache_entry) */
		return;
	}
	free_checked(c, obj);
}

/* ------------------------------------------------------------ bulk */

/*
 * Are all of @p[0..nr) objects of @c on the node of @e, the caller's
 * magazine for @c? Runs usually come from one span, so each pointer is
 * first tried as an index from the first object of the last span checked:
 * that test passes only for an object start inside that span. Otherwise
 * (another span, or not an object) the full test decides.
 */
static inline bool objs_all_ours(const struct kmem_cache *c, const struct tcache_entry *e,
				 void *const *p, size_t nr)
{
	const uint64_t inv = c->odd_inv, max = c->max_idx;
	const unsigned shift = c->shift, rshift = (64 - shift) & 63;
	uintptr_t base; /* first object of the last span checked */
	size_t i = 0; /* p[0] again in the first block: it passes */

#define IDX(ptr) ror_idx((uintptr_t)(ptr) - base, inv, shift, rshift)
	if (!obj_ours_here(c, e, p[0]))
		return false;
	base = span_of(p[0])->first;
	/*
	 * Eight at a time without a branch each: the largest index decides
	 * (every failure maps above max). A block that fails is looked at one
	 * pointer at a time below, which may move base to another span.
	 */
	while (i + 8 <= nr) {
		uint64_t m = IDX(p[i]);

		for (size_t k = 1; k < 8; k++) {
			uint64_t q = IDX(p[i + k]);

			m = q > m ? q : m;
		}
		if (likely(m <= max)) {
			i += 8;
			continue;
		}
		for (size_t end = i + 8; i < end; i++) {
			if (likely(IDX(p[i]) <= max))
				continue;
			if (!obj_ours_here(c, e, p[i]))
				return false;
			base = span_of(p[i])->first;
		}
	}
	for (; i < nr; i++) {
		if (likely(IDX(p[i]) <= max))
			continue;
		if (!obj_ours_here(c, e, p[i]))
			return false;
		base = span_of(p[i])->first;
	}
#undef IDX
	return true;
}

/* Push @nr checked objects onto the caller's magazine @e, spilling runs. */
static void mag_push_run(struct kmem_cache *c, struct tcache_entry *e, void *const *p, size_t nr)
{
	size_t n = mag_n(e);

	while (nr) {
		if (n == MAG_CAP) {
			/* Keep the newest (cache-hot) half, return the oldest run. */
			depot_put(c, e->node, e->objs, MAG_RUN);
			memmove(e->objs, e->objs + MAG_RUN, (MAG_CAP - MAG_RUN) * sizeof(void *));
			n -= MAG_RUN;
			ctr_sub_owner(&e->inflow, MAG_RUN);
		}
		size_t k = MAG_CAP - n < nr ? MAG_CAP - n : nr;

		memcpy(e->objs + n, p, k * sizeof(void *));
		n += k;
		p += k;
		nr -= k;
	}
	mag_set_n(e, n);
}

static __attribute__((noinline)) int alloc_bulk_slow(struct kmem_cache *c, gfp_t gfp, size_t nr, void **p)
{
	bool waited = false, limited;
	size_t got = 0, from_mag = 0;

	if (nr == 0)
		return 0;
	if (unlikely(!c || !p)) {
		diag("kmem_cache_alloc_bulk", "cache %p, array %p, nr %zu", (void *)c, (void *)p, nr);
		return 0;
	}
	/* The count is returned as an int. */
	if (unlikely(nr > INT_MAX)) {
		diag("kmem_cache_alloc_bulk", "%zu objects of cache '%s' asked at once; at most INT_MAX", nr, c->name);
		return 0;
	}
	if (unlikely((gfp & __GFP_ZERO) && c->ctor)) {
		diag("kmem_cache_alloc_bulk", "cache '%s' has a constructor; __GFP_ZERO refused", c->name);
		return 0;
	}
	if (may_not_wait_here(gfp, "kmem_cache_alloc_bulk"))
		return 0;
	if (fault_point()) {
		ctr_add(&c->denied, 1);
		errno = ENOMEM;
		return 0;
	}
	limited = atomic_load_explicit(&c->limit, memory_order_relaxed) != 0;
	if (limited && limit_acquire(c, nr, gfp, &waited) != 0) {
		ctr_add(&c->denied, 1);
		errno = ENOMEM;
		return 0;
	}

	struct tcache *tc = tcache_get();
	struct tcache_entry *e = tc ? entry_get(tc, c) : NULL;
	int node = tc ? tc->node : node_of_caller();

	if (e) {
		size_t n = mag_n(e);

		/*
		 * A short magazine takes what the run lacks plus up to a whole
		 * run of free objects in one depot visit, so that a thread that
		 * only allocates (one end of a ring) locks the depot once per
		 * MAG_RUN objects or more, not once per burst. The extra run is
		 * never carved: a bulk allocation creates no more than it needs.
		 */
		if (n < nr && nr + MAG_RUN <= MAG_CAP) {
			size_t took = depot_take_more(c, node, e->objs + n, nr - n, MAG_RUN);

			ctr_add_owner(&e->inflow, took);
			n += took;
			mag_set_n(e, n);
		}
		got = from_mag = n < nr ? n : nr;
		n -= got;
		mag_set_n(e, n);
		memcpy(p, e->objs + n, got * sizeof(void *));
	}
	if (got < nr) {
		got += depot_take(c, node, p + got, nr - got);
		if (got < nr) {
			/* All or nothing: everything taken goes back. */
			depot_put(c, node, p, got);
			if (e)
				ctr_sub_owner(&e->inflow, from_mag);
			if (limited)
				limit_release(c, nr);
			ctr_add(&c->denied, 1);
			errno = ENOMEM;
			return 0;
		}
	}
	if (e) {
		/* Those from the depot count as passing through the magazine. */
		ctr_add_owner(&e->inflow, nr - from_mag);
		ctr_add_owner(&e->allocs, nr);
	} else {
		ctr_add(&c->allocs, nr);
	}
	if (waited)
		ctr_add(&c->waited, 1);
	for (size_t i = 0; i < nr; i++)
		obj_ready(c, p[i], gfp);
	return (int)nr;
}

int kmem_cache_alloc_bulk(struct kmem_cache *c, gfp_t gfp, size_t nr, void **p)
{
	struct tcache_entry *e;

	/* The plain case: the whole run is in the magazine (n >= nr > 0: c's). */
	if (likely(nr && c && p && mag_n(e = entry_hot(c)) >= nr && !(gfp & __GFP_ZERO) &&
		   (atomic_depth == 0 || !(gfp & __GFP_DIRECT_RECLAIM)) && !fast_paths_off())) {
		size_t n = mag_n(e) - nr;

		memcpy(p, e->objs + n, nr * sizeof(void *));
		mag_set_n(e, n);
		ctr_add_owner(&e->allocs, nr);
		for (size_t i = 0; i < nr; i++) { /* no code without ASan or memcheck */
			mem_unpoison(p[i], c->size);
			vg_handed_out(c, p[i]);
		}
		return (int)nr;
	}
	return alloc_bulk_slow(c, gfp, nr, p);
}

/* Everything but the plain case, one object at a time, diagnosing bad ones. */
static __attribute__((noinline)) void free_bulk_slow(struct kmem_cache *c, size_t nr, void **p)
{
	size_t freed = 0;

	if (unlikely(!c || (!p && nr))) {
		diag("kmem_cache_free_bulk", "cache %p, array %p, nr %zu", (void *)c, (void *)p, nr);
		return;
	}
	struct tcache_entry *e = entry_fast(c);

	for (size_t i = 0; i < nr; i++) {
		void *obj = p[i];

		if (!obj || !obj_check(c, obj, "kmem_cache_free_bulk"))
			continue;
		if (debug_on() && !debug_on_free(c, obj, c->size, c->ctor != NULL, "kmem_cache_free_bulk"))
			continue;
		if (likely(e && mag_n(e) < MAG_CAP && span_of(obj)->node == e->node)) {
			size_t n = mag_n(e);

			vg_pool_free(c, obj);
			mem_poison(obj, c->stride);
			e->objs[n] = obj;
			mag_set_n(e, n + 1);
		} else {
			free_slow(c, obj);
			e = entry_fast(c);
		}
		freed++;
	}
	if (unlikely(atomic_load_explicit(&c->limit, memory_order_relaxed)) && freed)
		limit_release(c, freed);
}

void kmem_cache_free_bulk(struct kmem_cache *c, size_t nr, void **p)
{
	struct tcache_entry *e;

	/*
	 * The plain case: every entry an object of c on this node, no limit.
	 * nr == 0 goes the slow way, which writes nothing (no_entry is shared).
	 */
	if (likely(nr && c && p && !fast_paths_off() && objs_all_ours(c, (e = entry_hot(c)), p, nr))) {
		for (size_t i = 0; i < nr; i++) { /* no code without ASan or memcheck */
			vg_pool_free(c, p[i]);
			mem_poison(p[i], c->stride);
		}
		size_t n = mag_n(e);

		if (likely(n + nr <= MAG_CAP)) {
			memcpy(e->objs + n, p, nr * sizeof(void *));
			mag_set_n(e, n + nr);
		} else {
			mag_push_run(c, e, p, nr);
		}
		return;
	}
	free_bulk_slow(c, nr, p);
}

int kmem_cache_shrink(struct kmem_cache *c)
{
	struct tcache *tc = tls_tc;

	if (!c || !tc || tc == &tc_dead)
		return 0;
	struct tcache_entry *e = entry_fast(c);

	size_t n = e ? mag_n(e) : 0;

	if (n) {
		depot_put(c, tc->node, e->objs, n);
		mag_set_n(e, 0);
		ctr_sub_owner(&e->inflow, n);
	}
	return 0;
}

/* ------------------------------------------------------------ create / destroy */

static void cache_stats_fill(struct stats_node *n, struct pktmem_stats *out);

struct kmem_cache *kmem_cache_create(const char *name, unsigned int size, unsigned int align,
				     unsigned long flags, void (*ctor)(void *))
{
	const unsigned long known = SLAB_HWCACHE_ALIGN | SLAB_PANIC | SLAB_HUGEPAGE | SLAB_KMALLOC;
	struct kmem_cache *c = NULL;
	int nodes = node_count();
	unsigned id;

	if (size == 0 || (align & (align - 1)) || (flags & ~known) || size > (1u << 30)) {
		errno = EINVAL;
		goto fail;
	}
	if (align < sizeof(void *))
		align = sizeof(void *);
	if ((flags & SLAB_HWCACHE_ALIGN) && align < CACHE_LINE)
		align = CACHE_LINE;

	/* Aligned (span_key() needs it; so do the depots' cache lines). */
	size_t bytes = (sizeof(*c) + (size_t)nodes * sizeof(struct depot) + CACHE_LINE - 1) &
		       ~(size_t)(CACHE_LINE - 1);

	c = aligned_alloc(CACHE_LINE, bytes);
	if (!c) {
		errno = ENOMEM;
		goto fail;
	}
	memset(c, 0, bytes);
	c->size = size;
	c->align = align;
	c->stride = (size + align - 1) & ~(align - 1);
	c->hdr_off = (unsigned)((sizeof(struct span) + align - 1) & ~(size_t)(align - 1));
	if (c->stride > LARGE_OBJECT)
		c->hdr_off = (c->hdr_off + PAGE_SIZE - 1) & PAGE_MASK;
	c->shift = (unsigned)__builtin_ctz(c->stride);
	uint64_t odd = c->stride >> c->shift, inv = odd;

	for (int i = 0; i < 5; i++)
		inv *= 2 - odd * inv; /* Newton's iteration: inverse of odd mod 2^64 */
	c->odd_inv = inv;
	/* Large objects: one per span, at hdr_off. */
	c->max_idx = c->stride > LARGE_OBJECT ? 0 : (SPAN_SIZE - c->hdr_off) / c->stride - 1;
	c->flags = flags;
	c->ctor = ctor;
	c->nodes = nodes;
	snprintf(c->name, sizeof(c->name), "%s", name ? name : "(unnamed)");
	pthread_mutex_init(&c->wait_lock, NULL);
	pthread_cond_init(&c->wait_cond, NULL);
	pthread_mutex_init(&c->reserve_lock, NULL);
	for (int i = 0; i < nodes; i++)
		pthread_mutex_init(&c->depot[i].lock, NULL);

	pthread_mutex_lock(&threads_lock);
	for (id = 0; id < MAX_CACHES && cache_ids[id]; id++)
		;
	if (id < MAX_CACHES)
		cache_ids[id] = c;
	pthread_mutex_unlock(&threads_lock);
	if (id == MAX_CACHES) {
		free(c);
		c = NULL;
		errno = ENOMEM;
		goto fail;
	}
	c->id = id;
	atomic_store_explicit(&c->fast_id, id, memory_order_relaxed);
	vg_pool_create(c);
	c->stats.fill = cache_stats_fill;
	stats_register(&c->stats);
	return c;

fail:
	if (flags & SLAB_PANIC)
		diag("kmem_cache_create", "cannot create cache '%s' (size %u, align %u, flags %#lx): errno %d",
		     name ? name : "(unnamed)", size, align, flags, errno);
	return NULL;
}

/* Sum the per-thread counters of @c. threads_lock held. */
static void cache_sum_locked(struct kmem_cache *c, uint64_t *allocs, uint64_t *frees)
{
	*allocs = ctr_get(&c->allocs);
	*frees = ctr_get(&c->frees);
	for (struct tcache *tc = threads_head.next; tc != &threads_head; tc = tc->next) {
		struct tcache_entry *e = tc->ent[c->id];

		if (atomic_load_explicit(&e->cache, memory_order_relaxed) == c) {
			*allocs += ctr_get(&e->allocs);
			*frees += entry_frees(e);
		}
	}
}

void kmem_cache_destroy(struct kmem_cache *c)
{
	uint64_t allocs, frees;

	if (!c)
		return;
	pthread_mutex_lock(&threads_lock);
	cache_sum_locked(c, &allocs, &frees);
	if (allocs != frees) {
		pthread_mutex_unlock(&threads_lock);
		/* As Linux does: a cache with live objects is reported and kept. */
		diag("kmem_cache_destroy", "cache '%s' still has %llu objects in use; not destroyed",
		     c->name, (unsigned long long)(allocs - frees));
		return;
	}
	/* Magazines of every thread forget the cache; their objects die with it. */
	for (struct tcache *tc = threads_head.next; tc != &threads_head; tc = tc->next) {
		struct tcache_entry *e = tc->ent[c->id];

		if (atomic_load_explicit(&e->cache, memory_order_relaxed) == c) {
			mag_set_n(e, 0);
			e->key = KEY_NONE;
			atomic_store_explicit(&e->cache, NULL, memory_order_relaxed);
		}
	}
	cache_ids[c->id] = NULL;
	pthread_mutex_unlock(&threads_lock);
	stats_unregister(&c->stats);
	debug_forget_cache(c);
	vg_pool_destroy(c);

	for (int i = 0; i < c->nodes; i++) {
		struct depot *d = &c->depot[i];

		for (struct span *s = d->spans, *next; s; s = next) {
			next = s->next;
			arena_unmap(s, s->map_size);
		}
		free(d->objs);
		pthread_mutex_destroy(&d->lock);
	}
	free(c->reserve);
	pthread_mutex_destroy(&c->reserve_lock);
	pthread_mutex_destroy(&c->wait_lock);
	pthread_cond_destroy(&c->wait_cond);
	free(c);
}

unsigned int kmem_cache_size(const struct kmem_cache *c)
{
	return c ? c->size : 0;
}

const char *kmem_cache_name(const struct kmem_cache *c)
{
	return c ? c->name : NULL;
}

/* ------------------------------------------------------------ statistics */

static void cache_stats_fill(struct stats_node *n, struct pktmem_stats *out)
{
	struct kmem_cache *c = (struct kmem_cache *)((char *)n - offsetof(struct kmem_cache, stats));
	uint64_t allocs, frees;

	pthread_mutex_lock(&threads_lock);
	cache_sum_locked(c, &allocs, &frees);
	pthread_mutex_unlock(&threads_lock);

	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", c->name);
	out->kind = PKTMEM_STATS_CACHE;
	out->obj_size = c->size;
	out->allocs = allocs;
	out->frees = frees;
	out->in_use = allocs >= frees ? allocs - frees : 0;
	for (int i = 0; i < c->nodes; i++) {
		pthread_mutex_lock(&c->depot[i].lock);
		out->total += c->depot[i].carved;
		out->bytes_mapped += c->depot[i].bytes;
		pthread_mutex_unlock(&c->depot[i].lock);
	}
	out->denied = ctr_get(&c->denied);
	out->waited = ctr_get(&c->waited);
	out->limit = atomic_load(&c->limit);
	out->reserve = atomic_load_explicit(&c->reserve_n, memory_order_relaxed);
	pthread_mutex_lock(&c->reserve_lock);
	out->reserve_max = c->reserve_max;
	pthread_mutex_unlock(&c->reserve_lock);
	/* Caches without a limit keep no exact running count; a read is a sample. */
	peak_update(c, out->in_use);
	out->peak = ctr_get(&c->peak);
}

int kmem_cache_stats(struct kmem_cache *c, struct pktmem_stats *out)
{
	if (!c || !out)
		return -EINVAL;
	cache_stats_fill(&c->stats, out);
	return 0;
}
