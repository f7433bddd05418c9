/*
 * suite.h — what the translation units of bench_suite share.
 *
 * bench_suite measures pktmem beside its peers (DPDK, glibc, jemalloc,
 * mimalloc, plain floors) for every row of issue #6. Each translation unit
 * registers "ops": one op is one side of a comparison (say, DPDK's
 * rte_pktmbuf_alloc + rte_pktmbuf_free), a loop of @iters iterations that
 * returns the nanoseconds it took. main.c times every op in short batches,
 * round-robin, and pairs them into the rows of the table (rows.c).
 *
 * A peer that is not installed contributes no op, and the rows that need it
 * print "not measured".
 */
#ifndef PKTMEM_BENCH_SUITE_H
#define PKTMEM_BENCH_SUITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define BURST 32          /* the burst size of every "bulk" and ring row */
#define PKT_LEN 1500      /* a full Ethernet payload */
#define SMALL_PKT 200     /* a small packet, for the memory rows */
#define OBJ_SIZE 2048     /* kmem_cache / rte_mempool object size, 2 KiB malloc */
#define HDR_LEN 14        /* the prepended header */

/* ---------------------------------------------------------------- ops */

struct op {
	const char *id;    /* "pk.mbuf_single": side prefix pk., dp., gl., je., mi., fl. */
	const char *what;  /* one line: what one operation is */
	/* Run @iters iterations, return the nanoseconds they took. */
	uint64_t (*run)(void *ctx, uint64_t iters);
	void *ctx;
	unsigned per_iter; /* operations in one iteration (32 for bursts); 0 means 1 */
	bool threaded;     /* uses the second CPU: not run under callgrind */
	/*
	 * After every batch, outside the timing: 0 when everything is back
	 * where it belongs (nothing in use, refcounts right), else nonzero
	 * with a message in @msg. NULL: nothing to check.
	 */
	int (*check)(void *ctx, char *msg, size_t n);
};

/* Register an op (copied); at most SUITE_MAX_OPS. */
void op_add(const struct op *op);
#define SUITE_MAX_OPS 96

/* ---------------------------------------------------------------- helpers */

#include "../bench_util.h"

/* Print "bench_suite: @what failed (@side)" and exit 1: an op must not fail. */
_Noreturn void die(const char *what, const char *side);

/* The source bytes copies read (64-byte aligned, 2 KiB, a fixed pattern). */
extern unsigned char flat_src[2048];

/* The 14-byte Ethernet header every prepend row writes. */
extern const unsigned char eth_hdr[HDR_LEN];

/* ---------------------------------------------------------------- two CPUs */

/*
 * The second CPU, for the cross-thread and scaling rows. The calling (main)
 * thread is the first; a "runner" starts one function on the second and
 * waits for it: a persistent pinned pthread for pktmem and glibc, the EAL's
 * lcore 1 for DPDK (so that DPDK's per-lcore mempool cache is in play, as
 * in a DPDK application). Both stay alive between batches, so per-thread
 * caches stay warm on both sides.
 */
struct runner {
	const char *name;
	void (*launch)(int (*fn)(void *), void *arg);
	void (*wait)(void);
};

extern const struct runner pthread_runner;
extern int cpu_main, cpu_other; /* -1: not pinned */

/*
 * The one SPSC ring both sides use: the main thread allocates bursts of
 * BURST with @alloc (which writes each buffer's first data byte) and
 * publishes them; the runner's thread frees each
 * burst with @free. @bursts bursts after a warm-up; returns the ns from the
 * first timed burst on the main thread to the last free on the other.
 */
struct xfer {
	void (*alloc)(void *ctx, void **objs, unsigned n);
	void (*free)(void *ctx, void **objs, unsigned n);
	void *ctx;
	const char *side;
};
uint64_t xring_run(const struct xfer *x, uint64_t bursts, const struct runner *r);

/*
 * Scaling: run @single (an op's loop) for @iters iterations on the main
 * thread and, at the same moment, on the runner's thread; returns the wall
 * time of the pair. Ops per ns of the pair over ops per ns of one thread is
 * the 2-thread speed-up.
 */
uint64_t pair_run(uint64_t (*single)(void *, uint64_t), void *ctx, uint64_t iters, const struct runner *r);

/* ---------------------------------------------------------------- memory rows */

/* One line of the memory table, measured (not computed from constants). */
struct mem_row {
	char what[64];       /* "mbuf, 1500-byte packet" */
	const char *side;    /* "pktmem", "dpdk" */
	unsigned payload;    /* packet bytes held */
	double held;         /* bytes reserved per packet held (arena or pool memory / N) */
	double objects;      /* bytes of the objects handed out per packet (object sizes) */
	double header;       /* bytes of descriptor structures per packet (struct strides) */
	char how[160];       /* where the figures come from */
};

#define SUITE_MAX_MEM 8
void mem_add(const struct mem_row *row);

/* ---------------------------------------------------------------- units */

void ops_pktmem_register(void); /* ops_pktmem.c: pktmem, glibc and floor ops */
void mem_pktmem_measure(unsigned n, int config); /* ops_pktmem.c: one pktmem memory row (fresh process) */
int pktmem_baseline(void);      /* ops_pktmem.c: record in-use counts of every cache (after fixtures) */

void ops_malloc_register(void); /* ops_malloc.c: jemalloc, mimalloc through dlopen */
const char *malloc_peers_note(void);

/* ops_dpdk.c (or its stub when DPDK is not installed) */
int dpdk_start(const char *argv0, bool quiet); /* EAL up, pools made; 0, or -1 with a note */
void ops_dpdk_register(void);
void mem_dpdk_measure(void);
const char *dpdk_note(void);    /* "DPDK 22.11.11" or why it is missing */
bool dpdk_present(void);

#endif /* PKTMEM_BENCH_SUITE_H */
