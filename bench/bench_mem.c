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
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pktmem/gfp.h>
#include <pktmem/slab.h>
#include <pktmem/mempool.h>
#include <pktmem/pktmem.h>

#define BURST 32
#define RING_SLOTS 1024          /* a power of two, a multiple of BURST */
#define MAX_REPS 101
#define POOL_RESERVE 64

/* ---------------------------------------------------------------- helpers */

static inline void escape(void *p)
{
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

/* Write the first byte, as a user of the buffer would, then let it escape. */
static inline void touch(void *p, uint64_t i)
{
	*(volatile unsigned char *)p = (unsigned char)i;
	escape(p);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, const char *side)
{
	fprintf(stderr, "bench_mem: %s failed (%s side)\n", what, side);
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
	double s[MAX_REPS];

	memcpy(s, v, (size_t)n * sizeof(*s));
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* ---------------------------------------------------------------- options */

static struct {
	int reps;
	unsigned target_ms;
	const char *filter;
	const char *json;        /* NULL: none; "-": stdout */
	bool pin;
	bool list;
} opt = { 7, 50, NULL, NULL, true, false };

/* The first two CPUs this process may run on, for the cross-thread pair. */
static int cpu_a = -1, cpu_b = -1;

static void find_cpus(void)
{
	cpu_set_t set;

	if (!opt.pin || sched_getaffinity(0, sizeof(set), &set))
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
 * One side of a workload. run() performs @iters iterations and returns the
 * nanoseconds they took; each iteration is @ops_per_iter operations.
 */
struct side {
	uint64_t (*run)(struct side *s, uint64_t iters);
	const char *label;       /* "pktmem" or "glibc" */
	size_t size;
	struct kmem_cache *cache;
	mempool_t *pool;
	bool bulk;
};

/* --- one at a time */

static uint64_t slab_single(struct side *s, uint64_t iters)
{
	struct kmem_cache *c = s->cache;
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

static uint64_t malloc_single(struct side *s, uint64_t iters)
{
	size_t size = s->size;
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		void *p = malloc(size);

		if (__builtin_expect(!p, 0))
			die("malloc", s->label);
		touch(p, i);
		free(p);
	}
	return now_ns() - t0;
}

static uint64_t mempool_single(struct side *s, uint64_t iters)
{
	mempool_t *pool = s->pool;
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

static uint64_t kmalloc_single(struct side *s, uint64_t iters)
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

static uint64_t slab_bulk(struct side *s, uint64_t iters)
{
	struct kmem_cache *c = s->cache;
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

static uint64_t malloc_bulk(struct side *s, uint64_t iters)
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
	struct side *s;
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
	struct side *s = x->s;
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
		if (s->cache && s->bulk) {
			if (kmem_cache_alloc_bulk(s->cache, GFP_KERNEL, BURST, slot) != BURST)
				die("kmem_cache_alloc_bulk", s->label);
		} else if (s->cache) {
			for (int j = 0; j < BURST; j++)
				if (!(slot[j] = kmem_cache_alloc(s->cache, GFP_KERNEL)))
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
	struct side *s = x->s;
	struct xring *r = &x->ring;
	uint64_t tail = 0, end = (x->warm + x->iters) * BURST;

	pin_self(cpu_b);
	while (tail < end) {
		void **slot = &r->slot[tail & (RING_SLOTS - 1)];
		unsigned n = 0;

		/* Bursts are published whole and never straddle the ring's end. */
		while (atomic_load_explicit(&r->head, memory_order_acquire) == tail)
			spin(&n);
		if (s->cache && s->bulk) {
			kmem_cache_free_bulk(s->cache, BURST, slot);
		} else if (s->cache) {
			for (int j = 0; j < BURST; j++)
				kmem_cache_free(s->cache, slot[j]);
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

static uint64_t xthread(struct side *s, uint64_t iters)
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

enum kind { K_SLAB, K_SLAB_BULK, K_XTHREAD, K_XTHREAD_BULK, K_MEMPOOL, K_KMALLOC };

struct workload {
	const char *id;
	enum kind kind;
	size_t size;
	unsigned ops_per_iter;
	const char *what;
	/* results, ns per operation */
	int reps;
	double pk[MAX_REPS], gl[MAX_REPS];
	double pk_med, gl_med;
};

static struct workload workloads[] = {
	{ .id = "slab_single", .kind = K_SLAB, .size = 2048, .ops_per_iter = 1,
	  .what = "kmem_cache_alloc+free vs malloc+free" },
	{ .id = "slab_single", .kind = K_SLAB, .size = 256, .ops_per_iter = 1,
	  .what = "kmem_cache_alloc+free vs malloc+free" },
	{ .id = "slab_bulk32", .kind = K_SLAB_BULK, .size = 2048, .ops_per_iter = BURST,
	  .what = "alloc_bulk/free_bulk 32 vs 32 malloc, 32 free" },
	{ .id = "slab_bulk32", .kind = K_SLAB_BULK, .size = 256, .ops_per_iter = BURST,
	  .what = "alloc_bulk/free_bulk 32 vs 32 malloc, 32 free" },
	{ .id = "xthread", .kind = K_XTHREAD, .size = 2048, .ops_per_iter = BURST,
	  .what = "alloc on A, ring (burst 32), free on B" },
	{ .id = "xthread_bulk", .kind = K_XTHREAD_BULK, .size = 2048, .ops_per_iter = BURST,
	  .what = "as xthread, pktmem side alloc_bulk/free_bulk" },
	{ .id = "mempool", .kind = K_MEMPOOL, .size = 2048, .ops_per_iter = 1,
	  .what = "mempool_alloc+free (slab pool) vs malloc+free" },
	{ .id = "kmalloc", .kind = K_KMALLOC, .size = 2048, .ops_per_iter = 1,
	  .what = "kmalloc+kfree vs malloc+free" },
	{ .id = "kmalloc", .kind = K_KMALLOC, .size = 256, .ops_per_iter = 1,
	  .what = "kmalloc+kfree vs malloc+free" },
};

#define NR_WORKLOADS (sizeof(workloads) / sizeof(workloads[0]))

static void sides_for(struct workload *w, struct side *pk, struct side *gl)
{
	memset(pk, 0, sizeof(*pk));
	memset(gl, 0, sizeof(*gl));
	pk->label = "pktmem";
	gl->label = "glibc";
	pk->size = gl->size = w->size;

	switch (w->kind) {
	case K_SLAB:
		pk->run = slab_single;
		gl->run = malloc_single;
		break;
	case K_SLAB_BULK:
		pk->run = slab_bulk;
		gl->run = malloc_bulk;
		break;
	case K_XTHREAD_BULK:
		pk->bulk = true;
		/* fall through */
	case K_XTHREAD:
		pk->run = xthread;
		gl->run = xthread;
		break;
	case K_MEMPOOL:
		pk->run = mempool_single;
		gl->run = malloc_single;
		break;
	case K_KMALLOC:
		pk->run = kmalloc_single;
		gl->run = malloc_single;
		break;
	}
	if (w->kind != K_KMALLOC) {
		char name[48];

		snprintf(name, sizeof(name), "bench_%s_%zu", w->id, w->size);
		pk->cache = kmem_cache_create(name, (unsigned)w->size, 0, 0, NULL);
		if (!pk->cache)
			die("kmem_cache_create", "pktmem");
	}
	if (w->kind == K_MEMPOOL) {
		pk->pool = mempool_create_slab_pool(POOL_RESERVE, pk->cache);
		if (!pk->pool)
			die("mempool_create_slab_pool", "pktmem");
	}
}

/* Check that everything came back, then free the side's cache and pool. */
static int sides_done(struct side *pk)
{
	struct pktmem_stats st;
	int leaked = 0;

	if (pk->pool) {
		if (mempool_stats(pk->pool, &st) == 0 && st.in_use) {
			fprintf(stderr, "bench_mem: pool %s: %" PRIu64 " elements in use\n", st.name, st.in_use);
			leaked = 1;
		}
		mempool_destroy(pk->pool);
	}
	if (pk->cache) {
		if (kmem_cache_stats(pk->cache, &st) == 0 && st.in_use) {
			fprintf(stderr, "bench_mem: cache %s: %" PRIu64 " objects in use\n", st.name, st.in_use);
			return 1; /* destroying it would raise a diagnostic */
		}
		kmem_cache_destroy(pk->cache);
	}
	return leaked;
}

/*
 * Grow the iteration count until one run takes a tenth of the target, then
 * scale to the target. The runs on the way are the warm-up.
 */
static uint64_t calibrate(struct side *s, unsigned ops_per_iter)
{
	uint64_t target = (uint64_t)opt.target_ms * 1000000u;
	uint64_t iters = ops_per_iter > 1 ? 64 : 1024;
	uint64_t t;

	for (;;) {
		t = s->run(s, iters);
		if (t >= target / 10 || iters >= (1ULL << 40))
			break;
		iters *= t < target / 100 ? 8 : 2;
	}
	t = s->run(s, iters); /* once more, warm */
	if (t == 0)
		t = 1;
	iters = (uint64_t)((double)iters * (double)target / (double)t);
	return iters ? iters : 1;
}

static int run_workload(struct workload *w)
{
	struct side pk, gl;
	uint64_t pk_iters, gl_iters;

	sides_for(w, &pk, &gl);
	pk_iters = calibrate(&pk, w->ops_per_iter);
	gl_iters = calibrate(&gl, w->ops_per_iter);

	w->reps = opt.reps;
	for (int r = 0; r < opt.reps; r++) {
		for (int k = 0; k < 2; k++) {
			bool do_pk = (k == 0) == (r % 2 == 0);
			struct side *s = do_pk ? &pk : &gl;
			uint64_t iters = do_pk ? pk_iters : gl_iters;
			double ns = (double)s->run(s, iters) / ((double)iters * w->ops_per_iter);

			(do_pk ? w->pk : w->gl)[r] = ns;
		}
	}
	w->pk_med = median(w->pk, w->reps);
	w->gl_med = median(w->gl, w->reps);
	return sides_done(&pk);
}

/* ---------------------------------------------------------------- output */

static bool selected(const struct workload *w)
{
	return !opt.filter || strstr(w->id, opt.filter);
}

static double spread(const double *v, int n, double med)
{
	double lo = v[0], hi = v[0];

	for (int i = 1; i < n; i++) {
		lo = v[i] < lo ? v[i] : lo;
		hi = v[i] > hi ? v[i] : hi;
	}
	return med > 0 ? 100.0 * (hi - lo) / med : 0;
}

static void print_table(FILE *out)
{
	fprintf(out, "| %-13s | %5s | %11s | %11s | %8s | %8s | %8s | %9s |\n",
		"workload", "size", "pktmem ns", "glibc ns", "ratio", "pktmem", "glibc", "spread %");
	fprintf(out, "| %-13s | %5s | %11s | %11s | %8s | %8s | %8s | %9s |\n",
		"", "B", "per op", "per op", "pk/glibc", "Mop/s", "Mop/s", "pk/glibc");
	fprintf(out, "|---------------|------:|------------:|------------:|---------:|---------:|---------:|----------:|\n");
	for (size_t i = 0; i < NR_WORKLOADS; i++) {
		const struct workload *w = &workloads[i];
		char sp[32];

		if (!selected(w))
			continue;
		snprintf(sp, sizeof(sp), "%.0f/%.0f", spread(w->pk, w->reps, w->pk_med),
			 spread(w->gl, w->reps, w->gl_med));
		fprintf(out, "| %-13s | %5zu | %11.2f | %11.2f | %8.3f | %8.1f | %8.1f | %9s |\n",
			w->id, w->size, w->pk_med, w->gl_med, w->pk_med / w->gl_med,
			1000.0 / w->pk_med, 1000.0 / w->gl_med, sp);
	}
	fprintf(out, "\nmedian of %d repetitions of ~%u ms each side, interleaved. ratio = pktmem/glibc ns per op:\n"
		"below 1 pktmem is faster. Mop/s = 1000/ns (for xthread*: M buffers/s A->B; higher is better).\n"
		"spread = (max-min)/median over the repetitions, in %%. Bursts count ns per object.\n",
		opt.reps, opt.target_ms);
}

static void print_json(FILE *out)
{
	char host[64] = "";
	bool first = true;

	gethostname(host, sizeof(host) - 1);
	fprintf(out, "{\"bench\": \"bench_mem\", \"pktmem_version\": \"%s\", \"host\": \"%s\", \"cpus\": %ld,"
		" \"reps\": %d, \"target_ms\": %u, \"unit\": \"ns/op\", \"results\": [\n",
		pktmem_version_string(), host, sysconf(_SC_NPROCESSORS_ONLN), opt.reps, opt.target_ms);
	/* One result per line: bench/run.sh reads this with awk. */
	for (size_t i = 0; i < NR_WORKLOADS; i++) {
		const struct workload *w = &workloads[i];

		if (!selected(w))
			continue;
		fprintf(out, "%s{\"id\": \"%s\", \"size\": %zu, \"what\": \"%s\", \"pktmem_ns\": %.3f, \"glibc_ns\": %.3f,"
			" \"ratio\": %.4f, \"pktmem_reps\": [", first ? "  " : ",\n  ",
			w->id, w->size, w->what, w->pk_med, w->gl_med, w->pk_med / w->gl_med);
		for (int r = 0; r < w->reps; r++)
			fprintf(out, "%s%.3f", r ? ", " : "", w->pk[r]);
		fprintf(out, "], \"glibc_reps\": [");
		for (int r = 0; r < w->reps; r++)
			fprintf(out, "%s%.3f", r ? ", " : "", w->gl[r]);
		fprintf(out, "]}");
		first = false;
	}
	fprintf(out, "\n]}\n");
}

static void usage(FILE *out, const char *argv0)
{
	fprintf(out,
		"usage: %s [options]\n"
		"  --quick         3 repetitions of ~10 ms (a smoke run)\n"
		"  --reps N        repetitions per side (default 7, at most %d)\n"
		"  --ms T          target milliseconds per repetition (default 50)\n"
		"  --filter STR    only workloads whose id contains STR\n"
		"  --json          JSON on stdout instead of the table\n"
		"  --json=FILE     the table on stdout and JSON into FILE\n"
		"  --no-pin        do not pin the cross-thread pair to two CPUs\n"
		"  --list          list the workloads\n",
		argv0, MAX_REPS);
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return s[0] != '-' && !errno && end != s && !*end && *out >= 1 && *out <= max;
}

int main(int argc, char **argv)
{
	FILE *json = NULL, *table = stdout;
	unsigned long v;
	int leaked = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--quick")) {
			opt.reps = 3;
			opt.target_ms = 10;
		} else if (!strcmp(a, "--reps") && i + 1 < argc && parse_uint(argv[i + 1], MAX_REPS, &v)) {
			opt.reps = (int)v;
			i++;
		} else if (!strcmp(a, "--ms") && i + 1 < argc && parse_uint(argv[i + 1], 100000, &v)) {
			opt.target_ms = (unsigned)v;
			i++;
		} else if (!strcmp(a, "--filter") && i + 1 < argc) {
			opt.filter = argv[++i];
		} else if (!strcmp(a, "--json")) {
			opt.json = "-";
		} else if (!strncmp(a, "--json=", 7) && a[7]) {
			opt.json = a + 7;
		} else if (!strcmp(a, "--no-pin")) {
			opt.pin = false;
		} else if (!strcmp(a, "--list")) {
			opt.list = true;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout, argv[0]);
			return 0;
		} else {
			usage(stderr, argv[0]);
			return 2;
		}
	}
	if (opt.list) {
		for (size_t i = 0; i < NR_WORKLOADS; i++)
			printf("%-13s %5zu  %s\n", workloads[i].id, workloads[i].size, workloads[i].what);
		return 0;
	}
	if (opt.json && strcmp(opt.json, "-")) {
		json = fopen(opt.json, "w");
		if (!json) {
			perror(opt.json);
			return 1;
		}
	} else if (opt.json) {
		json = stdout;
		table = NULL;
	}

	find_cpus();
	if (table)
		fprintf(table, "bench_mem: pktmem %s vs glibc malloc, %ld CPUs, %d reps x ~%u ms%s\n\n",
			pktmem_version_string(), sysconf(_SC_NPROCESSORS_ONLN), opt.reps, opt.target_ms,
			cpu_a >= 0 ? ", cross-thread pair pinned" : "");
	for (size_t i = 0; i < NR_WORKLOADS; i++) {
		if (!selected(&workloads[i]))
			continue;
		leaked |= run_workload(&workloads[i]);
		if (table) {
			fprintf(stderr, ".");
			fflush(stderr);
		}
	}
	if (table) {
		fprintf(stderr, "\n");
		print_table(table);
	}
	if (json) {
		print_json(json);
		if (json != stdout)
			fclose(json);
	}
	return leaked;
}
