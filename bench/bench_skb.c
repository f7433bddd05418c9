/*
 * bench_skb — the pktmem sk_buff face beside the closest glibc equivalent,
 * same run. Same method and output as bench_mem (see there), so
 * bench/run.sh -b build-bench/bench_skb aggregates several processes.
 *
 *   cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release
 *   cmake --build build-bench --target bench_skb
 *   build-bench/bench_skb [--quick] [--reps N] [--ms T] [--filter STR]
 *                         [--json[=FILE]] [--list]
 *   bench/run.sh -k 5 -b build-bench/bench_skb
 *
 * Not a test: it prints figures, and fails only if an operation does or
 * something is left in use.
 *
 * Workloads (pktmem side  vs  glibc side):
 *   alloc_free    alloc_skb(1500) + kfree_skb
 *                 vs malloc(struct sk_buff) + malloc(1500 B of data plus
 *                 the shared info), both initialised as __alloc_skb does
 *                 (struct zeroed, shared info zeroed), then two frees: the
 *                 way an skb is built from malloc.
 *   fclone_clone  alloc_skb_fclone(1500) + skb_clone + kfree_skb x2
 *                 vs the malloc skb above + a malloc'd clone (header
 *                 copied, an atomic reference on the data), then three
 *                 frees with the atomic drop.
 *   push_pull     skb_push(14) + skb_pull(14) on a 1500-byte skb
 *                 vs prepending 14 bytes to a 1500-byte malloc'd packet
 *                 that has no headroom (malloc 1514, write the header,
 *                 memcpy the packet, free the old one) and taking them
 *                 off again by moving the start pointer.
 *   mbuf_skb_mbuf skb_from_mbuf + m_from_skb + kfree_skb + m_freem of the
 *                 result, on one 3-segment chain built once (a header
 *                 mbuf with 60 bytes inside, a cluster with 1440, a
 *                 MEXTADD buffer with 800): no byte of storage copied
 *                 vs the copying equivalent: gather the 3 segments into
 *                 one malloc'd 2300-byte buffer, scatter it back into 3
 *                 malloc'd segments, free all four.
 *
 * Every buffer's first byte is written and every pointer escapes through an
 * empty asm on both sides.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pktmem/mbuf.h>
#include <pktmem/skbuff.h>
#include <pktmem/pktmem.h>

#define MAX_REPS 101
#define PKT 1500
#define SHINFO SKB_DATA_ALIGN(sizeof(struct skb_shared_info))

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
	fprintf(stderr, "bench_skb: %s failed (%s side)\n", what, side);
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
	bool list;
} opt = { 7, 50, NULL, NULL, false };

/* ---------------------------------------------------------------- sides */

struct side {
	uint64_t (*run)(struct side *s, uint64_t iters);
	const char *label; /* "pktmem" or "glibc" */
};

/* --- alloc + free */

static uint64_t skb_alloc_free(struct side *s, uint64_t iters)
{
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		struct sk_buff *skb = alloc_skb(PKT, GFP_ATOMIC);

		if (__builtin_expect(!skb, 0))
			die("alloc_skb", s->label);
		touch(skb->data, i);
		kfree_skb(skb);
	}
	return now_ns() - t0;
}

/* A malloc'd sk_buff: the struct and a data area with the shared info at its end. */
static struct sk_buff *malloc_skb(struct side *s)
{
	struct sk_buff *skb = malloc(sizeof(*skb));
	unsigned char *data = malloc(SKB_DATA_ALIGN(PKT) + SHINFO);

	if (__builtin_expect(!skb || !data, 0))
		die("malloc", s->label);
	memset(skb, 0, sizeof(*skb));
	memset(data + SKB_DATA_ALIGN(PKT), 0, sizeof(struct skb_shared_info));
	skb->head = skb->data = data;
	skb->end = SKB_DATA_ALIGN(PKT);
	skb->users = 1;
	return skb;
}

static uint64_t glibc_alloc_free(struct side *s, uint64_t iters)
{
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		struct sk_buff *skb = malloc_skb(s);

		touch(skb->data, i);
		free(skb->head);
		free(skb);
	}
	return now_ns() - t0;
}

/* --- fclone + clone + both frees */

static uint64_t skb_fclone(struct side *s, uint64_t iters)
{
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		struct sk_buff *skb = alloc_skb_fclone(PKT, GFP_ATOMIC);

		if (__builtin_expect(!skb, 0))
			die("alloc_skb_fclone", s->label);
		touch(skb->data, i);
		struct sk_buff *c = skb_clone(skb, GFP_ATOMIC);

		if (__builtin_expect(!c, 0))
			die("skb_clone", s->label);
		escape(c);
		kfree_skb(c);
		kfree_skb(skb);
	}
	return now_ns() - t0;
}

static uint64_t glibc_clone(struct side *s, uint64_t iters)
{
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		struct sk_buff *skb = malloc_skb(s);
		_Atomic int *dataref = (_Atomic int *)(skb->head + skb->end);

		atomic_store_explicit(dataref, 1, memory_order_relaxed);
		touch(skb->data, i);
		struct sk_buff *c = malloc(sizeof(*c));

		if (__builtin_expect(!c, 0))
			die("malloc", s->label);
		memcpy(c, skb, sizeof(*c));
		atomic_fetch_add_explicit(dataref, 1, memory_order_relaxed);
		escape(c);
		/* Free the clone, then the original: the last data reference frees the data. */
		if (atomic_fetch_sub_explicit(dataref, 1, memory_order_acq_rel) == 1)
			free(c->head);
		free(c);
		if (atomic_fetch_sub_explicit(dataref, 1, memory_order_acq_rel) == 1)
			free(skb->head);
		free(skb);
	}
	return now_ns() - t0;
}

/* --- push 14 + pull 14 */

static uint64_t skb_push_pull(struct side *s, uint64_t iters)
{
	struct sk_buff *skb = alloc_skb(NET_SKB_PAD + PKT, GFP_ATOMIC);

	if (!skb)
		die("alloc_skb", s->label);
	skb_reserve(skb, NET_SKB_PAD);
	memset(skb_put(skb, PKT), 1, PKT);
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		unsigned char *h = skb_push(skb, 14);

		touch(h, i);
		if (__builtin_expect(!skb_pull(skb, 14), 0))
			die("skb_pull", s->label);
		escape(skb->data);
	}
	uint64_t t = now_ns() - t0;

	kfree_skb(skb);
	return t;
}

static uint64_t glibc_push_pull(struct side *s, uint64_t iters)
{
	unsigned char *buf = malloc(PKT), *data = buf;
	size_t len = PKT;

	if (!buf)
		die("malloc", s->label);
	memset(buf, 1, PKT);
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		/* Prepend: no headroom, so a new buffer and a copy. */
		unsigned char *nb = malloc(len + 14);

		if (__builtin_expect(!nb, 0))
			die("malloc", s->label);
		touch(nb, i);
		memcpy(nb + 14, data, len);
		free(buf);
		buf = data = nb;
		len += 14;
		/* Take off: move the start. */
		data += 14;
		len -= 14;
		escape(data);
	}
	uint64_t t = now_ns() - t0;

	free(buf);
	return t;
}

/* --- mbuf -> skb -> mbuf */

static struct mbuf *chain;

static void noop_free(struct mbuf *m, void *buf, size_t size, void *arg)
{
	(void)m, (void)size, (void)arg;
	free(buf);
}

static struct mbuf *make_chain(void)
{
	struct mbuf *m = m_gethdr(M_WAIT, MT_DATA), *c = m_get(M_WAIT, MT_DATA), *x = m_get(M_WAIT, MT_DATA);
	char *buf = malloc(1000);

	if (!m || !c || !x || !buf)
		die("chain", "pktmem");
	memset(m->m_data, 1, 60);
	m->m_len = 60;
	MCLGET(c, M_WAIT);
	if (!(c->m_flags & M_EXT))
		die("MCLGET", "pktmem");
	memset(c->m_data, 2, 1440);
	c->m_len = 1440;
	memset(buf, 3, 1000);
	MEXTADD(x, buf, 1000, 0, noop_free, NULL);
	x->m_len = 800;
	m->m_next = c;
	c->m_next = x;
	m->m_pkthdr.len = 2300;
	return m;
}

static uint64_t skb_round_trip(struct side *s, uint64_t iters)
{
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		struct sk_buff *skb = skb_from_mbuf(chain, 0, GFP_ATOMIC);

		if (__builtin_expect(!skb, 0))
			die("skb_from_mbuf", s->label);
		struct mbuf *back = m_from_skb(skb, M_DONTWAIT);

		if (__builtin_expect(!back, 0))
			die("m_from_skb", s->label);
		touch(back->m_data, i);
		kfree_skb(skb);
		m_freem(back);
	}
	return now_ns() - t0;
}

static const size_t seg_len[3] = { 60, 1440, 800 };
static unsigned char *seg[3];

static uint64_t glibc_round_trip(struct side *s, uint64_t iters)
{
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		unsigned char *lin = malloc(2300), *out[3];
		size_t off = 0;

		if (__builtin_expect(!lin, 0))
			die("malloc", s->label);
		for (int k = 0; k < 3; k++) {
			memcpy(lin + off, seg[k], seg_len[k]);
			off += seg_len[k];
		}
		escape(lin);
		off = 0;
		for (int k = 0; k < 3; k++) {
			if (__builtin_expect(!(out[k] = malloc(seg_len[k])), 0))
				die("malloc", s->label);
			memcpy(out[k], lin + off, seg_len[k]);
			off += seg_len[k];
		}
		touch(out[0], i);
		free(lin);
		for (int k = 0; k < 3; k++)
			free(out[k]);
	}
	return now_ns() - t0;
}

/* ---------------------------------------------------------------- workloads */

struct workload {
	const char *id;
	size_t size;
	uint64_t (*pk_run)(struct side *, uint64_t);
	uint64_t (*gl_run)(struct side *, uint64_t);
	const char *what;
	/* results, ns per operation */
	int reps;
	double pk[MAX_REPS], gl[MAX_REPS];
	double pk_med, gl_med;
};

static struct workload workloads[] = {
	{ .id = "alloc_free", .size = PKT, .pk_run = skb_alloc_free, .gl_run = glibc_alloc_free,
	  .what = "alloc_skb+kfree_skb vs malloc struct+data, free both" },
	{ .id = "fclone_clone", .size = PKT, .pk_run = skb_fclone, .gl_run = glibc_clone,
	  .what = "alloc_skb_fclone+skb_clone+2 frees vs malloc skb+malloc clone, refcounted, 3 frees" },
	{ .id = "push_pull", .size = PKT, .pk_run = skb_push_pull, .gl_run = glibc_push_pull,
	  .what = "skb_push 14+skb_pull 14 vs malloc+memcpy prepend, pointer take-off" },
	{ .id = "mbuf_skb_mbuf", .size = 2300, .pk_run = skb_round_trip, .gl_run = glibc_round_trip,
	  .what = "skb_from_mbuf+m_from_skb+frees (3 segs) vs gather+scatter copies" },
};

#define NR_WORKLOADS (sizeof(workloads) / sizeof(workloads[0]))

/*
 * Grow the iteration count until one run takes a tenth of the target, then
 * scale to the target. The runs on the way are the warm-up.
 */
static uint64_t calibrate(struct side *s)
{
	uint64_t target = (uint64_t)opt.target_ms * 1000000u;
	uint64_t iters = 1024;
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

static void run_workload(struct workload *w)
{
	struct side pk = { w->pk_run, "pktmem" }, gl = { w->gl_run, "glibc" };
	uint64_t pk_iters = calibrate(&pk), gl_iters = calibrate(&gl);

	w->reps = opt.reps;
	for (int r = 0; r < opt.reps; r++) {
		for (int k = 0; k < 2; k++) {
			bool do_pk = (k == 0) == (r % 2 == 0);
			struct side *s = do_pk ? &pk : &gl;
			uint64_t iters = do_pk ? pk_iters : gl_iters;
			double ns = (double)s->run(s, iters) / (double)iters;

			(do_pk ? w->pk : w->gl)[r] = ns;
		}
	}
	w->pk_med = median(w->pk, w->reps);
	w->gl_med = median(w->gl, w->reps);
}

/* Nothing of ours may be left in use after a workload. */
static int leaked(void)
{
	struct kmem_cache *c[] = { pktmem_skbuff_cache(), pktmem_skbuff_fclone_cache(), pktmem_skb_head_cache(PKT),
				   pktmem_skb_head_cache(NET_SKB_PAD + PKT) };
	struct pktmem_stats st;
	int bad = 0;

	for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		if (kmem_cache_stats(c[i], &st) == 0 && st.in_use) {
			fprintf(stderr, "bench_skb: cache %s: %" PRIu64 " objects in use\n", st.name, st.in_use);
			bad = 1;
		}
	}
	/* The chain itself: 3 mbufs, 1 cluster. */
	if (kmem_cache_stats(pktmem_mbuf_cache(), &st) == 0 && st.in_use != 3) {
		fprintf(stderr, "bench_skb: %" PRIu64 " mbufs in use, expected the chain's 3\n", st.in_use);
		bad = 1;
	}
	return bad;
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
		"below 1 pktmem is faster. Mop/s = 1000/ns. spread = (max-min)/median over the repetitions, in %%.\n"
		"One op = the whole sequence of the row (e.g. alloc+clone+2 frees). glibc sides: see the top of bench_skb.c.\n",
		opt.reps, opt.target_ms);
}

static void print_json(FILE *out)
{
	char host[64] = "";
	bool first = true;

	gethostname(host, sizeof(host) - 1);
	fprintf(out, "{\"bench\": \"bench_skb\", \"pktmem_version\": \"%s\", \"host\": \"%s\", \"cpus\": %ld,"
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
	int leak = 0;

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

	if (table)
		fprintf(table, "bench_skb: pktmem %s vs glibc malloc, %ld CPUs, %d reps x ~%u ms\n\n",
			pktmem_version_string(), sysconf(_SC_NPROCESSORS_ONLN), opt.reps, opt.target_ms);
	chain = make_chain();
	for (int k = 0; k < 3; k++) {
		seg[k] = malloc(seg_len[k]);
		if (!seg[k])
			die("malloc", "glibc");
		memset(seg[k], k + 1, seg_len[k]);
	}
	for (size_t i = 0; i < NR_WORKLOADS; i++) {
		if (!selected(&workloads[i]))
			continue;
		run_workload(&workloads[i]);
		leak |= leaked();
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
	m_freem(chain);
	for (int k = 0; k < 3; k++)
		free(seg[k]);
	return leak;
}
