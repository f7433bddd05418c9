/*
 * bench_mem — the pktmem memory layer beside glibc malloc/free, same run.
 *
 *   cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release
 *   cmake --build build-bench --target bench_mem
 *   build-bench/bench_mem [--quick] [--reps N] [--ms T] [--filter STR]
 *                         [--json[=FILE]] [--no-pin] [--list]
 *
 * Medians over several processes (this machine is noisy):  bench/run.sh
 *
 * Not a test: it prints figures, and fails only if an allocation does.
 *
 * Workloads (each on the pktmem side and on the glibc side, same sizes):
 *   slab_single   kmem_cache_alloc + kmem_cache_free, one at a time
 *                 vs malloc + free
 *   slab_bulk32   kmem_cache_alloc_bulk(32) + kmem_cache_free_bulk(32)
 *                 vs 32 x malloc then 32 x free          (ns per object)
 *   xthread       thread A allocates one at a time, passes bursts of 32
 *                 through an SPSC ring to thread B, which frees one at a
 *                 time; pktmem kmem_cache vs malloc      (ns per buffer)
 *   xthread_bulk  the same with kmem_cache_alloc_bulk/free_bulk on the
 *                 pktmem side (glibc has no bulk call: same loop as xthread)
 *   mempool       mempool_alloc + mempool_free (slab pool, reserve 64, over
 *                 a kmem_cache) vs malloc + free
 *   kmalloc       kmalloc + kfree vs malloc + free
 *
 * Method: each workload calibrates an iteration count per side so that one
 * repetition takes about --ms milliseconds (default 50), after warming up.
 * Then it runs --reps repetitions (default 7), alternating pktmem and glibc
 * and swapping which goes first on every repetition, each timed with
 * CLOCK_MONOTONIC. It reports the median ns per operation of each side and
 * the ratio pktmem/glibc of those medians: below 1 pktmem is faster.
 * Mop/s is 1000 / (ns/op), so for the cross-thread rows it is millions of
 * buffers per second moved from one thread to the other: higher is better.
 * Both sides get the same treatment: the first byte of every object is
 * written, and every pointer escapes through an empty asm so that no
 * allocation can be optimised away.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pktmem/gfp.h>
#include <pktmem/slab.h>
#include <pktmem/mempool.h>
#include <pktmem/pktmem.h>

#include "bench_harness.h"

#define BURST 32
#define RING_SLOTS 1024          /* a power of two, a multiple of BURST */
#define POOL_RESERVE 64

/* ---------------------------------------------------------------- pinning */

static bool pin = true;          /* --no-pin clears it */

/* The first two CPUs this process may run on, for the cross-thread pair. */
static int cpu_a = -1, cpu_b = -1;

static void find_cpus(void)
{
	cpu_set_t set;

	if (!pin || sched_getaffinity(0, sizeof(set), &set))
		return;
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, &set))
			continue;
		if (cpu_a < 0) {
			cpu_a = c;
		} else {
			cpu_b = c;
			break;
		}
	}
	if (cpu_b < 0)
		cpu_a = -1; /* one CPU: let the scheduler share it */
}

static void pin_self(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* ---------------------------------------------------------------- sides */

/*
 * The pktmem side's fixture (its ctx); the glibc side has none (ctx NULL).
 * Each op performs @iters iterations and returns the nanoseconds they took;
 * an iteration is the workload's ops_per_iter operations.
 */
struct fixture {
	struct kmem_cache *cache;
	mempool_t *pool;
	bool bulk;
};

/* --- one at a time */

static uint64_t slab_single(struct bench_side *s, uint64_t iters)
{
	struct kmem_cache *c = ((struct fixture *)s->ctx)->cache;
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		void *p = kmem_cache_alloc(c, GFP_KERNEL);

		if (__builtin_expect(!p, 0))
			die("kmem_cache_alloc", s->label);
		touch(p, i);
		kmem_cache_free(c, p);
	}
	return now_ns() - t0;
}

static uint64_t mempool_single(struct bench_side *s, uint64_t iters)
{
	mempool_t *pool = ((struct fixture *)s->ctx)->pool;
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		void *p = mempool_alloc(pool, GFP_KERNEL);

		if (__builtin_expect(!p, 0))
			die("mempool_alloc", s->label);
		touch(p, i);
		mempool_free(p, pool);
	}
	return now_ns() - t0;
}

static uint64_t kmalloc_single(struct bench_side *s, uint64_t iters)
{
	size_t size = s->size;
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		void *p = kmalloc(size, GFP_KERNEL);

		if (__builtin_expect(!p, 0))
			die("kmalloc", s->label);
		touch(p, i);
		kfree(p);
	}
	return now_ns() - t0;
}

/* --- bursts of 32 */

static uint64_t slab_bulk(struct bench_side *s, uint64_t iters)
{
	struct kmem_cache *c = ((struct fixture *)s->ctx)->cache;
	void *p[BURST];
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		if (__builtin_expect(kmem_cache_alloc_bulk(c, GFP_KERNEL, BURST, p) != BURST, 0))
			die("kmem_cache_alloc_bulk", s->label);
		for (int j = 0; j < BURST; j++)
			touch(p[j], i);
		kmem_cache_free_bulk(c, BURST, p);
	}
	return now_ns() - t0;
}

static uint64_t malloc_bulk(struct bench_side *s, uint64_t iters)
{
	size_t size = s->size;
	void *p[BURST];
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		for (int j = 0; j < BURST; j++) {
			p[j] = malloc(size);
			if (__builtin_expect(!p[j], 0))
				die("malloc", s->label);
		}
		for (int j = 0; j < BURST; j++)
			touch(p[j], i);
		for (int j = 0; j < BURST; j++)
			free(p[j]);
	}
	return now_ns() - t0;
}

/* --- cross-thread: alloc on A, free on B, through an SPSC ring */

struct xring {
	_Alignas(64) _Atomic uint64_t head;   /* written by A */
	_Alignas(64) _Atomic uint64_t tail;   /* written by B */
	_Alignas(64) void *slot[RING_SLOTS];
};

struct xrun {
	struct bench_side *s;
	struct xring ring;
	uint64_t warm, iters;                /* bursts */
	uint64_t t0, t1;
};

static inline void spin(unsigned *n)
{
	if (++*n < 256) {
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	} else {
		*n = 0;
		sched_yield();
	}
}

static void *xthread_alloc(void *arg)
{
	struct xrun *x = arg;
	struct bench_side *s = x->s;
	struct fixture *f = s->ctx;
	struct xring *r = &x->ring;
	uint64_t head = 0;

	pin_self(cpu_a);
	for (uint64_t b = 0; b < x->warm + x->iters; b++) {
		void **slot = &r->slot[head & (RING_SLOTS - 1)];
		unsigned n = 0;

		if (b == x->warm)
			x->t0 = now_ns();
		while (head - atomic_load_explicit(&r->tail, memory_order_acquire) > RING_SLOTS - BURST)
			spin(&n);
		if (f && f->bulk) {
			if (kmem_cache_alloc_bulk(f->cache, GFP_KERNEL, BURST, slot) != BURST)
				die("kmem_cache_alloc_bulk", s->label);
		} else if (f) {
			for (int j = 0; j < BURST; j++)
				if (!(slot[j] = kmem_cache_alloc(f->cache, GFP_KERNEL)))
					die("kmem_cache_alloc", s->label);
		} else {
			for (int j = 0; j < BURST; j++)
				if (!(slot[j] = malloc(s->size)))
					die("malloc", s->label);
		}
		for (int j = 0; j < BURST; j++)
			touch(slot[j], b);
		head += BURST;
		atomic_store_explicit(&r->head, head, memory_order_release);
	}
	return NULL;
}

static void *xthread_free(void *arg)
{
	struct xrun *x = arg;
	struct fixture *f = x->s->ctx;
	struct xring *r = &x->ring;
	uint64_t tail = 0, end = (x->warm + x->iters) * BURST;

	pin_self(cpu_b);
	while (tail < end) {
		void **slot = &r->slot[tail & (RING_SLOTS - 1)];
		unsigned n = 0;

		/* Bursts are published whole and never straddle the ring's end. */
		while (atomic_load_explicit(&r->head, memory_order_acquire) == tail)
			spin(&n);
		if (f && f->bulk) {
			kmem_cache_free_bulk(f->cache, BURST, slot);
		} else if (f) {
			for (int j = 0; j < BURST; j++)
				kmem_cache_free(f->cache, slot[j]);
		} else {
			for (int j = 0; j < BURST; j++)
				free(slot[j]);
		}
		tail += BURST;
		atomic_store_explicit(&r->tail, tail, memory_order_release);
	}
	x->t1 = now_ns();
	return NULL;
}

static uint64_t xthread(struct bench_side *s, uint64_t iters)
{
	static struct xrun x; /* 8 KiB ring: off the stack; one run at a time */
	pthread_t a, b;

	memset(&x, 0, sizeof(x));
	x.s = s;
	x.iters = iters;
	x.warm = iters / 16 + 64;   /* new threads: fill their magazines first */
	if (pthread_create(&b, NULL, xthread_free, &x))
		die("pthread_create", s->label);
	if (pthread_create(&a, NULL, xthread_alloc, &x))
		die("pthread_create", s->label);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	return x.t1 - x.t0;
}

/* ---------------------------------------------------------------- workloads */

/* What a workload's pktmem side needs (its arg). */
enum { F_CACHE = 1, F_POOL = 2, F_BULK = 4 };

static struct bench_workload workloads[] = {
	{ .id = "slab_single", .size = 2048, .pk_run = slab_single, .peer_run = bench_malloc_free, .arg = F_CACHE,
	  .what = "kmem_cache_alloc+free vs malloc+free" },
	{ .id = "slab_single", .size = 256, .pk_run = slab_single, .peer_run = bench_malloc_free, .arg = F_CACHE,
	  .what = "kmem_cache_alloc+free vs malloc+free" },
	{ .id = "slab_bulk32", .size = 2048, .pk_run = slab_bulk, .peer_run = malloc_bulk, .arg = F_CACHE,
	  .ops_per_iter = BURST, .what = "alloc_bulk/free_bulk 32 vs 32 malloc, 32 free" },
	{ .id = "slab_bulk32", .size = 256, .pk_run = slab_bulk, .peer_run = malloc_bulk, .arg = F_CACHE,
	  .ops_per_iter = BURST, .what = "alloc_bulk/free_bulk 32 vs 32 malloc, 32 free" },
	{ .id = "xthread", .size = 2048, .pk_run = xthread, .peer_run = xthread, .arg = F_CACHE,
	  .ops_per_iter = BURST, .what = "alloc on A, ring (burst 32), free on B" },
	{ .id = "xthread_bulk", .size = 2048, .pk_run = xthread, .peer_run = xthread, .arg = F_CACHE | F_BULK,
	  .ops_per_iter = BURST, .what = "as xthread, pktmem side alloc_bulk/free_bulk" },
	{ .id = "mempool", .size = 2048, .pk_run = mempool_single, .peer_run = bench_malloc_free,
	  .arg = F_CACHE | F_POOL, .what = "mempool_alloc+free (slab pool) vs malloc+free" },
	{ .id = "kmalloc", .size = 2048, .pk_run = kmalloc_single, .peer_run = bench_malloc_free,
	  .what = "kmalloc+kfree vs malloc+free" },
	{ .id = "kmalloc", .size = 256, .pk_run = kmalloc_single, .peer_run = bench_malloc_free,
	  .what = "kmalloc+kfree vs malloc+free" },
};

static struct fixture fixture;

static void setup(struct bench_workload *w, struct bench_side *pk, struct bench_side *gl)
{
	(void)gl;
	memset(&fixture, 0, sizeof(fixture));
	pk->ctx = &fixture;
	fixture.bulk = w->arg & F_BULK;
	if (w->arg & F_CACHE) {
		char name[48];

		snprintf(name, sizeof(name), "bench_%s_%zu", w->id, w->size);
		fixture.cache = kmem_cache_create(name, (unsigned)w->size, 0, 0, NULL);
		if (!fixture.cache)
			die("kmem_cache_create", "pktmem");
	}
	if (w->arg & F_POOL) {
		fixture.pool = mempool_create_slab_pool(POOL_RESERVE, fixture.cache);
		if (!fixture.pool)
			die("mempool_create_slab_pool", "pktmem");
	}
}

/* Check that everything came back, then free the side's cache and pool. */
static int teardown(struct bench_workload *w, struct bench_side *pk, struct bench_side *gl)
{
	struct fixture *f = pk->ctx;
	struct pktmem_stats st;
	int leaked = 0;

	(void)w, (void)gl;
	if (f->pool) {
		if (mempool_stats(f->pool, &st) == 0 && st.in_use) {
			fprintf(stderr, "bench_mem: pool %s: %" PRIu64 " elements in use\n", st.name, st.in_use);
			leaked = 1;
		}
		mempool_destroy(f->pool);
	}
	if (f->cache) {
		if (kmem_cache_stats(f->cache, &st) == 0 && st.in_use) {
			fprintf(stderr, "bench_mem: cache %s: %" PRIu64 " objects in use\n", st.name, st.in_use);
			return 1; /* destroying it would raise a diagnostic */
		}
		kmem_cache_destroy(f->cache);
	}
	return leaked;
}

/* ---------------------------------------------------------------- main */

static bool option(int argc, char **argv, int *i)
{
	(void)argc;
	if (strcmp(argv[*i], "--no-pin"))
		return false;
	pin = false;
	return true;
}

static int prepare(struct bench *b)
{
	find_cpus();
	b->heading_tail = cpu_a >= 0 ? ", cross-thread pair pinned" : "";
	return 0;
}

int main(int argc, char **argv)
{
	static struct bench bench = {
		.name = "bench_mem",
		.versus = " vs glibc malloc",
		.footer = ". ratio = pktmem/glibc ns per op:\n"
			  "below 1 pktmem is faster. Mop/s = 1000/ns (for xthread*: M buffers/s A->B; higher is better).\n"
			  "spread = (max-min)/median over the repetitions, in %. Bursts count ns per object.\n",
		.usage_end = "  --no-pin        do not pin the cross-thread pair to two CPUs\n",
		.workloads = workloads,
		.nr_workloads = sizeof(workloads) / sizeof(workloads[0]),
		.option = option,
		.prepare = prepare,
		.setup = setup,
		.teardown = teardown,
	};

	return bench_main(&bench, argc, argv);
}
