/*
 * <pktmem/mbuf.h>, differential: random sequences of chain operations on an
 * mbuf packet and, beside it, on a plain byte array that models the same
 * packet. After every step the two must agree: the bytes (walked directly
 * and through m_copydata), m_pkthdr.len == the model's length == the sum of
 * m_len, and the chain's invariants (each mbuf's data inside its buffer,
 * m_len >= 0, a packet header on the head only).
 *
 * Copies made with m_copym, m_copypacket and m_dup stay alive for a few
 * steps, each with a model of its own, so that a later write to the packet
 * that reached a copy's shared storage (or the other way round) shows up.
 * Every step also counts what the live chains hold (mbufs, distinct
 * clusters, MEXTADD buffers, and the references on each shared area) and
 * compares it with the caches' statistics: a leak, an extra reference or
 * a double free is caught at the step that made it. A third of the packets
 * carry a packet tag, which must stay with the packet header wherever an
 * operation moves it (m_prepend, m_pullup, copy-on-write) and be copied
 * with it (m_copym at offset 0).
 *
 * Some steps run with the fault injector armed (PKTMEM_FAULT_RANDOM) for the
 * one library call of the step; that call's failure contract must hold and
 * the model follows it (a freed chain starts a new packet, a failed m_split
 * or m_makewritable leaves the bytes as they were, ...). A failure is only
 * accepted when the injector actually failed an allocation during the call.
 *
 *   test_mbuf_diff                        the fixed seeds
 *   test_mbuf_diff --seed S [--steps N]   one seed (reproduce a failure)
 *   test_mbuf_diff --seeds A-B [--steps N] [--no-faults] [-v]
 *
 * The model and its checks are tests/mbuf_model.h, shared with the fuzz
 * targets (fuzz/fuzz_mbuf.c, fuzz/fuzz_convert.c); this file drives it
 * from a seeded PRNG and counts what the live chains hold.
 *
 * A failure prints the seed, the step, the last operations and the command
 * that replays it. (A replay in a fresh process can differ slightly under
 * fault injection, because the caches' growth, which also passes allocation
 * points, depends on what ran before; --seeds 1-S replays exactly.)
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pktmem/ext.h>
#include <pktmem/mbuf.h>
#include <pktmem/pktmem.h>

#include "check.h"

#define LOG_LINES 24 /* operations remembered for a failure report */

/* ------------------------------------------------------------ PRNG */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state; /* xorshift64 */

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

/* Uniform in [0, n); 0 for n <= 0. */
static int rn(int n)
{
	return n > 0 ? (int)(rnd() % (uint64_t)n) : 0;
}

/* The test steers everything from one PRNG, the choices of checks too (mbuf_model.h). */
static int check_rn(int n)
{
	return rn(n);
}

static bool one_in(int n)
{
	return rn(n) == 0;
}

static int imin(int a, int b)
{
	return a < b ? a : b;
}

static void fill_random(unsigned char *p, int n)
{
	while (n >= 8) {
		uint64_t v = rnd();

		memcpy(p, &v, 8);
		p += 8;
		n -= 8;
	}
	while (n-- > 0)
		*p++ = (unsigned char)rnd();
}

static int first_difference(const unsigned char *a, const unsigned char *b, int n)
{
	for (int i = 0; i < n; i++)
		if (a[i] != b[i])
			return i;
	return -1;
}

/* ------------------------------------------------------------ run state */

static struct {
	uint64_t seed;
	long step;
	long steps;
	int fault_one_in; /* a step runs with faults armed with chance 1/this; 0: never */
	bool verbose;
	bool failed;      /* this seed failed */
	jmp_buf escape;   /* back to run_seed from a failed check (FAIL does not return) */
	bool in_seed;     /* escape is set */
	/* the current step's injector settings */
	bool faulty;
	unsigned long fault_ppm, fault_seed;
	unsigned long injected_before;
	int failures_printed;
} run;

static char oplog[LOG_LINES][224];
static long oplog_total;

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	char *line = oplog[oplog_total++ % LOG_LINES];
	int k = snprintf(line, sizeof(oplog[0]), "step %ld%s: ", run.step, run.faulty ? " [faults]" : "");
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line + k, sizeof(oplog[0]) - (size_t)k, fmt, ap);
	va_end(ap);
	if (run.verbose)
		printf("  %s\n", line);
}

/*
 * A mismatch: report it (the first three of the run) and end the seed by
 * jumping back to run_seed, which frees what the holders hold. A failure
 * can leave a chain nobody holds, so later seeds may report its leftovers:
 * the first report is the one to read.
 */
static void failf(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
static void failf(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	pktmem_fault_off();
	run.failed = true;
	check_failed_now = 1;
	if (run.failures_printed++ < 3) {
		fprintf(stderr, "%s:%d: seed %" PRIu64 " step %ld: ", file, line, run.seed, run.step);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fprintf(stderr, "\n  last operations:\n");
		for (long i = oplog_total > LOG_LINES ? oplog_total - LOG_LINES : 0; i < oplog_total; i++)
			fprintf(stderr, "    %s\n", oplog[i % LOG_LINES]);
		fprintf(stderr, "  replay: test_mbuf_diff --seed %" PRIu64 " --steps %ld%s -v\n", run.seed,
			run.step + 1, run.fault_one_in ? "" : " --no-faults");
	}
	if (!run.in_seed)
		abort(); /* the model checks only run inside a seed */
	longjmp(run.escape, 1);
}

#define FAIL(...) failf(__FILE__, __LINE__, __VA_ARGS__)
#define EXPECT(cond, ...)                  \
	do {                               \
		if (!(cond))               \
			FAIL(__VA_ARGS__); \
	} while (0)

/*
 * Coverage: how often each operation ran, and each failure contract was
 * seen to run (printed at the end, so a quiet run is visibly not an idle one).
 */
static struct {
	const char *name;
	long n;
} seen[48];

static void count(const char *name)
{
	int i;

	for (i = 0; i < (int)(sizeof(seen) / sizeof(seen[0])) - 1 && seen[i].name; i++)
		if (!strcmp(seen[i].name, name))
			break;
	seen[i].name = name;
	seen[i].n++;
}

/* Arm the injector around one library call (when this step is a fault step). */
static void arm(void)
{
	run.injected_before = pktmem_fault_injected();
	if (run.faulty)
		pktmem_fault_set(PKTMEM_FAULT_RANDOM, run.fault_ppm, run.fault_seed++);
}

/* Disarm; true if an allocation was made to fail since arm(). */
static bool disarm(void)
{
	if (run.faulty)
		pktmem_fault_off();
	return pktmem_fault_injected() != run.injected_before;
}

#include "mbuf_model.h"

/* ------------------------------------------------------------ accounting */

static const struct pktmem_ext **held;
static size_t nheld, held_cap;

/* mbuf_hold_refs' callback: one more reference that a live mbuf holds. */
static void hold(const struct pktmem_ext *e)
{
	if (nheld == held_cap) {
		held_cap = held_cap ? 2 * held_cap : 1024;
		held = realloc(held, held_cap * sizeof(*held));
		if (!held)
			abort();
	}
	held[nheld++] = e;
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (const void *const *)a, y = (uintptr_t) * (const void *const *)b;

	return (x > y) - (x < y);
}

/*
 * What the live chains hold must be what the caches say is in use, and
 * every shared area must have exactly as many references as mbufs point at it.
 */
static void check_accounting(void)
{
	unsigned long long mbufs, clusters = 0;
	long users = 0;

	nheld = 0;
	mbuf_hold_refs(hold, &mbufs);
	qsort(held, nheld, sizeof(*held), cmp_ptr);
	for (size_t i = 0; i < nheld;) {
		const struct pktmem_ext *e = held[i];
		size_t j = i;

		while (j < nheld && held[j] == e)
			j++;
		if (pktmem_ext_refs(e) != (int)(j - i))
			FAIL("storage %p (flags %#x, %zu bytes) has %d references, %zu mbufs point at it",
			     (const void *)e, e->ext_flags, e->ext_size, pktmem_ext_refs(e), j - i);
		if (e->ext_flags & PKTMEM_EXT_CLUSTER)
			clusters++;
		if (e->ext_flags & PKTMEM_EXT_USER)
			users++;
		i = j;
	}
	mbuf_check_caches(mbufs, clusters, users);
}

/* ------------------------------------------------------------ the driver */

static void step(void)
{
	static const unsigned long ppm[] = { 20000, 100000, 300000, 600000, 1000000 };
	unsigned long diags = diag_seen;

	run.faulty = run.fault_one_in && one_in(run.fault_one_in);
	run.fault_ppm = ppm[rn(5)];
	run.fault_seed = (unsigned long)rnd();

	if (!pkt.m) {
		build_mbuf_packet();
	} else {
		int total = 0, pick;

		for (int i = 0; i < NR_MBUF_OPS; i++)
			total += mbuf_ops[i].weight;
		pick = rn(total);
		for (int i = 0; i < NR_MBUF_OPS; i++) {
			if (pick < mbuf_ops[i].weight) {
				count(mbuf_ops[i].name);
				mbuf_ops[i].fn();
				break;
			}
			pick -= mbuf_ops[i].weight;
		}
	}
	run.faulty = false;
	pktmem_fault_off();
	if (diag_seen != diags)
		FAIL("a diagnostic was raised: %s: %s", diag_last_func, diag_last_msg);
	mbuf_compare_all();
	mbuf_age_copies();
	check_accounting();
}

/* @steps steps from a fresh state; everything freed at the end, and the caches empty again. */
static void run_steps(long steps)
{
	for (run.step = 0; run.step < steps; run.step++)
		step();
	mbuf_free_all();
	EXPECT(cache_in_use(pktmem_mbuf_cache()) == 0, "after the seed: %llu mbufs in use",
	       cache_in_use(pktmem_mbuf_cache()));
	EXPECT(cache_in_use(pktmem_cluster_cache()) == 0, "after the seed: %llu clusters in use",
	       cache_in_use(pktmem_cluster_cache()));
	mext_check_all_released();
}

/* One seed: @steps steps from a fresh state; false if it failed. */
static bool run_seed(uint64_t seed, long steps, int fault_one_in)
{
	rng_state = seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL;
	if (!rng_state)
		rng_state = 1;
	run.seed = seed;
	run.steps = steps;
	run.fault_one_in = fault_one_in;
	run.failed = false;
	oplog_total = 0;
	packet_gone();
	if (run.verbose)
		printf("seed %" PRIu64 ", %ld steps%s\n", seed, steps, fault_one_in ? "" : ", no faults");
	run.in_seed = true;
	if (setjmp(run.escape) == 0)
		run_steps(steps);
	else
		mbuf_free_all(); /* after a failure: what the holders hold */
	run.in_seed = false;
	run.faulty = false;
	pktmem_fault_off();
	return !run.failed;
}

/* ------------------------------------------------------------ tests */

#define DEFAULT_STEPS 2000 /* 150 + 60 seeds: ~2.5 s here, ~7-15 s under ASan+UBSan */

static struct {
	uint64_t first, last;
	long steps;
	bool no_faults;
	bool custom;
} cfg = { 1, 150, DEFAULT_STEPS, false, false };

static int seeds_failed;

static void run_range(uint64_t first, uint64_t last, long steps, int fault_one_in)
{
	for (uint64_t s = first; s <= last; s++)
		if (!run_seed(s, steps, fault_one_in))
			seeds_failed++;
}

/* Random sequences, a step in ten with faults injected. */
static void test_random_sequences(void)
{
	if (cfg.custom)
		run_range(cfg.first, cfg.last, cfg.steps, cfg.no_faults ? 0 : 10);
	else
		run_range(cfg.first, cfg.last, cfg.steps, 10);
}

/* Other seeds, every other step under fault injection: the failure contracts. */
static void test_random_sequences_under_faults(void)
{
	if (cfg.custom)
		return;
	run_range(1001, 1060, cfg.steps / 2, 2);
}

/* Nothing is left behind: caches empty, each MEXTADD routine called once. */
static void test_everything_freed(void)
{
	long once = 0, wrong = 0;

	CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), 0);
	CHECK_EQ(cache_in_use(pktmem_cluster_cache()), 0);
	for (size_t i = 0; i < ext_nrecs; i++) {
		if (ext_recs[i].calls == (ext_recs[i].attached ? 1 : 0))
			once += ext_recs[i].attached;
		else
			wrong++;
	}
	CHECK_EQ(wrong, 0);
	CHECK_EQ(once, ext_attached);
	CHECK_EQ(ext_attached, ext_released);
	CHECK(ext_attached > 0 || cfg.custom);
	CHECK_EQ(seeds_failed, 0);
	printf("     %ld MEXTADD buffers, %zu records, %lu faults injected\n", ext_attached, ext_nrecs,
	       pktmem_fault_injected());
	for (int i = 0; seen[i].name; i++)
		printf("     %-52s %8ld\n", seen[i].name, seen[i].n);
	free(ext_recs);
	ext_recs = NULL;
	ext_nrecs = ext_cap = 0;
	free(held);
	held = NULL;
	nheld = held_cap = 0;
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [--seed S | --seeds A-B] [--steps N] [--no-faults] [-v]\n", argv0);
	exit(2);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--seed") && i + 1 < argc) {
			cfg.first = cfg.last = strtoull(argv[++i], NULL, 0);
			cfg.custom = true;
		} else if (!strcmp(a, "--seeds") && i + 1 < argc) {
			char *end;

			cfg.first = strtoull(argv[++i], &end, 0);
			cfg.last = *end == '-' ? strtoull(end + 1, NULL, 0) : cfg.first;
			cfg.custom = true;
		} else if (!strcmp(a, "--steps") && i + 1 < argc) {
			cfg.steps = strtol(argv[++i], NULL, 0);
		} else if (!strcmp(a, "--no-faults")) {
			cfg.no_faults = true;
			cfg.custom = true;
		} else if (!strcmp(a, "-v")) {
			run.verbose = true;
		} else {
			usage(argv[0]);
		}
	}
	if (cfg.steps <= 0 || cfg.last < cfg.first)
		usage(argv[0]);
	diag_capture();

	TEST(test_random_sequences);
	TEST(test_random_sequences_under_faults);
	TEST(test_everything_freed);
	return test_summary();
}
