/*
 * Internal services shared by every layer: the diagnostic routine, the fault
 * injector's fast check, the statistics registry and the arena. Nothing here
 * is exported.
 */
#ifndef PKTMEM_INTERNAL_H
#define PKTMEM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pktmem/pktmem.h>

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/*
 * pthread_once() behind a flag, for set-up on the packet paths: once it has
 * run, the check is one load instead of a call. The flag is stored (release)
 * only after pthread_once() has returned, so a thread that sees it set
 * (acquire) also sees everything @fn wrote.
 */
struct once {
	atomic_bool done;
	pthread_once_t once;
};
#define ONCE_INIT { false, PTHREAD_ONCE_INIT }

static inline void once_run(struct once *o, void (*fn)(void))
{
	if (likely(atomic_load_explicit(&o->done, memory_order_acquire)))
		return;
	pthread_once(&o->once, fn);
	atomic_store_explicit(&o->done, true, memory_order_release);
}

#define CACHE_LINE 64

/* ------------------------------------------------------------ diagnostics */

/*
 * Report a programmer error in public function @func. Calls the installed
 * handler (the default one aborts). Returns only if an application handler
 * returned; the caller must then refuse the operation.
 */
void diag(const char *func, const char *fmt, ...) __attribute__((format(printf, 2, 3), cold));

/* ------------------------------------------------------------ fault points */

/*
 * The one word the fast paths read to know whether anything needs the slow
 * path: the fault injector armed or counting (SLOW_FAULT), debug mode on
 * (SLOW_DEBUG). Zero in normal operation.
 */
#define SLOW_FAULT 0x1
#define SLOW_DEBUG 0x2
/*
 * Internal data is declared hidden where it is declared, not only where it
 * is defined: other files then read it PC-relative instead of through the
 * GOT of libpktmem.so (one load fewer on every fast path that tests it).
 */
#define INTERNAL_DATA __attribute__((visibility("hidden")))
extern atomic_int slow_paths INTERNAL_DATA;
bool fault_point_slow(void);

/*
 * One allocation point. True means: fail this allocation as if memory ran
 * out. Costs a relaxed load and a predictable branch while the injector is off.
 */
static inline bool fault_point(void)
{
	if (likely(!(atomic_load_explicit(&slow_paths, memory_order_relaxed) & SLOW_FAULT)))
		return false;
	return fault_point_slow();
}

/* ------------------------------------------------------------ debug mode */

static inline bool debug_on(void)
{
	return atomic_load_explicit(&slow_paths, memory_order_relaxed) & SLOW_DEBUG;
}

struct kmem_cache;
/* Debug-mode hooks (debug.c): an object handed out / given back (from @func). */
void debug_on_alloc(struct kmem_cache *c, void *obj, size_t size, bool has_ctor);
/* False when the free must not happen (a double free: diagnosed). */
bool debug_on_free(struct kmem_cache *c, void *obj, size_t size, bool has_ctor, const char *func);
/* The cache is going away: forget its objects. */
void debug_forget_cache(struct kmem_cache *c);
/*
 * What the calling thread allocates between debug_keep_begin() and
 * debug_keep_end() lives as long as the process by design (the default
 * bio set's reserve): its records are kept and checked as any other, but
 * the leak report leaves them out, as Linux's kmemleak_not_leak() does.
 */
void debug_keep_begin(void);
void debug_keep_end(void);
/*
 * Is @obj, the start of a cache object, freed according to its debug
 * record? Then diagnose @what of it under @func with both sites and say
 * true. For the faces' own "freed already" checks, which read fields the
 * debug fill has overwritten.
 */
bool debug_freed(const void *obj, const char *func, const char *what);
/*
 * debug_freed() for the cache object that holds @p, which may point inside
 * it (a cluster's storage header after its data, a bio after its set's
 * front pad): @what names @p, with "<p> in object" added when @p does not
 * start the object. False when @p is in no cache object.
 */
bool debug_freed_at(const void *p, const char *func, const char *what);
/* The byte debug mode fills freed objects with, and an int of it. */
#define DEBUG_FREE_BYTE 0x6b
#define DEBUG_FREE_INT 0x6b6b6b6b

/*
 * Is reference count @n one a live holder can read when at least @lo
 * holders exist: @lo .. DEBUG_FREE_INT - 1? One compare rules out both a
 * released object's count (0 or below) and debug mode's fill in a freed
 * one, which the caller then sorts out of line.
 */
static inline bool count_in(int n, int lo)
{
	return (unsigned int)n - (unsigned int)lo < (unsigned int)DEBUG_FREE_INT - (unsigned int)lo;
}

/* ------------------------------------------------------------ atomic context */

/* Depth of pktmem_atomic_begin() nesting on this thread (atomic_ctx.c). */
extern _Thread_local unsigned int atomic_depth __attribute__((tls_model("initial-exec"))) INTERNAL_DATA;

/*
 * A waiting mask in atomic context is a programmer error: diagnose it.
 * True when the allocation must fail instead.
 */
bool atomic_wait_refused(gfp_t gfp, const char *func);

static inline bool may_not_wait_here(gfp_t gfp, const char *func)
{
	if (likely(!(gfp & __GFP_DIRECT_RECLAIM) || atomic_depth == 0))
		return false;
	return atomic_wait_refused(gfp, func);
}

/* ------------------------------------------------------------ statistics */

/* A cache or pool known to the statistics walker. Embedded in its owner. */
struct stats_node {
	struct stats_node *next, *prev;
	void (*fill)(struct stats_node *n, struct pktmem_stats *out);
};

void stats_register(struct stats_node *n);
void stats_unregister(struct stats_node *n);

/* ------------------------------------------------------------ arena */

/* Largest NUMA node number we track, plus one. */
#define MAX_NODES 64

/* Number of node slots in use (highest possible node + 1), at least 1. */
int node_count(void);
/* True for a node that exists and has memory. */
bool node_has_memory(int node);
/* The NUMA node of the CPU the caller runs on now (0 when unknown). */
int node_of_caller(void);

/*
 * arena_map() - @size bytes (a multiple of the page size) aligned to @align
 * (a power of two, at least a page), bound to @node with mbind when @node is
 * >= 0. @huge asks for huge pages: MAP_HUGETLB when the system has them
 * reserved, else transparent huge pages by madvise. Returns NULL with errno
 * ENOMEM or EINVAL (unknown node). Not a fault point of its own: the
 * allocation that needs the span is.
 */
void *arena_map(size_t size, size_t align, int node, bool huge);
void arena_unmap(void *p, size_t size);

/*
 * Mappings aligned to ARENA_SPAN_ALIGN are recorded in a bitmap with one bit
 * per aligned 2 MiB of address space, so that arena_owns() tells, without
 * touching the memory, whether an address's 2 MiB base starts a mapping of
 * ours. That is what lets a free of a foreign pointer be diagnosed instead
 * of dereferenced.
 */
#define ARENA_SPAN_ALIGN (2UL << 20)
#define ARENA_SPAN_WORDS ((1UL << 26) / 64)
extern atomic_ulong arena_span_bits[ARENA_SPAN_WORDS] INTERNAL_DATA;

static inline bool arena_owns(const void *p)
{
	uintptr_t idx = (uintptr_t)p / ARENA_SPAN_ALIGN;

	if (unlikely(idx >= ARENA_SPAN_WORDS * 64))
		return false;
	return (atomic_load_explicit(&arena_span_bits[idx / 64], memory_order_relaxed) >> (idx % 64)) & 1;
}

/* Total bytes the arena has mapped and not unmapped, process-wide. */
size_t arena_bytes_mapped(void);


/* ------------------------------------------------------------ sanitizers */

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PKTMEM_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define PKTMEM_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define PKTMEM_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define PKTMEM_TSAN 1
#endif

#ifdef PKTMEM_ASAN
#include <sanitizer/asan_interface.h>
#define asan_poison(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define asan_unpoison(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define asan_poison(p, n)   ((void)(p), (void)(n))
#define asan_unpoison(p, n) ((void)(p), (void)(n))
#endif

/*
 * With -DPKTMEM_VALGRIND=ON the same places tell memcheck, through its
 * client requests: a free object is no-access, a handed-out one defined
 * (it may hold constructed state). Off by default: the requests cost a few
 * instructions each even when not running under valgrind.
 */
#ifdef PKTMEM_VALGRIND
#include <valgrind/memcheck.h>
#define vg_noaccess(p, n) ((void)VALGRIND_MAKE_MEM_NOACCESS((p), (n)))
#define vg_defined(p, n)  ((void)VALGRIND_MAKE_MEM_DEFINED((p), (n)))
/*
 * Each cache is also a memcheck mempool, so memcheck knows every object
 * handed out (undefined until written, like malloc's) and lists the ones
 * never given back among the blocks in use at exit.
 */
#define vg_pool_create(pool)      VALGRIND_CREATE_MEMPOOL((pool), 0, 0)
#define vg_pool_destroy(pool)     VALGRIND_DESTROY_MEMPOOL(pool)
#define vg_pool_alloc(pool, p, n) VALGRIND_MEMPOOL_ALLOC((pool), (p), (n))
#define vg_pool_free(pool, p)     VALGRIND_MEMPOOL_FREE((pool), (p))
#else
#define vg_noaccess(p, n) ((void)(p), (void)(n))
#define vg_defined(p, n)  ((void)(p), (void)(n))
#define vg_pool_create(pool)      ((void)(pool))
#define vg_pool_destroy(pool)     ((void)(pool))
#define vg_pool_alloc(pool, p, n) ((void)(pool), (void)(p), (void)(n))
#define vg_pool_free(pool, p)     ((void)(pool), (void)(p))
#endif

/* Free objects resting in our caches are poisoned, so a use after free is
 * reported although the memory never went back to the system. */
#define mem_poison(p, n)   do { asan_poison((p), (n)); vg_noaccess((p), (n)); } while (0)
#define mem_unpoison(p, n) do { asan_unpoison((p), (n)); vg_defined((p), (n)); } while (0)

#endif /* PKTMEM_INTERNAL_H */
