/*
 * bench_harness.h — what bench_mem, bench_mbuf, bench_skb and bench_blk
 * share: timing, calibration, interleaved repetitions, medians, the table,
 * the JSON that bench/run.sh reads, and the options.
 *
 * A bench describes itself in a struct bench (its name, its workloads, the
 * hooks it needs) and hands it to bench_main(). Each workload pits a pktmem
 * op against a peer op (glibc, or plain system calls); an op performs
 * @iters iterations and returns the nanoseconds they took.
 *
 * Method: each workload calibrates an iteration count per side so that one
 * repetition takes about --ms milliseconds (default 50), after warming up.
 * Then it runs --reps repetitions (default 7), alternating the two sides and
 * swapping which goes first on every repetition, each timed with
 * CLOCK_MONOTONIC. It reports the median ns per operation of each side and
 * the ratio pktmem/peer of those medians: below 1 pktmem is faster.
 *
 * Everything here is static (inline where a bench may not use it): the
 * header is included by exactly one .c, the bench's own.
 */
#ifndef PKTMEM_BENCH_HARNESS_H
#define PKTMEM_BENCH_HARNESS_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pktmem/pktmem.h>

#define BENCH_MAX_REPS 101

/* ---------------------------------------------------------------- helpers */

#include "bench_util.h"

/* The running bench's name, for messages. */
static const char *bench_name = "bench";

static inline void die(const char *what, const char *side)
{
	fprintf(stderr, "%s: %s failed (%s side)\n", bench_name, what, side);
	exit(1);
}

/* ---------------------------------------------------------------- options */

static struct {
	int reps;
	unsigned target_ms;
	const char *filter;
	const char *json; /* NULL: none; "-": stdout */
	bool list;
} opt = { 7, 50, NULL, NULL, false };

/* ---------------------------------------------------------------- workloads */

/* One side of a workload, as its op sees it. */
struct bench_side {
	const char *label; /* "pktmem" or the peer's label */
	size_t size;       /* the workload's size */
	uint64_t seed;     /* set before each repetition, the same on both sides */
	void *ctx;         /* the bench's own state for this side (its setup sets it) */
};

typedef uint64_t (*bench_op)(struct bench_side *s, uint64_t iters);

/* The glibc side of several rows: malloc(size), write a byte, free. */
static inline uint64_t bench_malloc_free(struct bench_side *s, uint64_t iters)
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

struct bench_workload {
	const char *id;
	size_t size;
	const char *what;
	bench_op pk_run, peer_run;
	unsigned ops_per_iter; /* operations in one iteration; 0 means 1 */
	int arg;               /* the bench's own: which fixture, which engine... */
	/* results, ns per operation */
	int reps;
	double pk[BENCH_MAX_REPS], peer[BENCH_MAX_REPS];
	double pk_med, peer_med;
};

/* The table's columns; all zero means bench_mem's. */
struct bench_layout {
	int id_w, size_w, ns_w, ns_prec, rate_prec;
	double rate_scale;     /* rate = rate_scale / ns */
	const char *rate_unit; /* "Mop/s" */
};

struct bench {
	const char *name;  /* "bench_mem": messages, the JSON's "bench" */
	const char *peer;  /* the other side's label: "glibc" (default) or "plain" */
	const char *versus;        /* heading, after "pktmem <version>" */
	const char *heading_tail;  /* heading, after "... ms" (prepare may set it) */
	const char *footer;        /* the table's notes, after "...interleaved" */
	const char *json_fields;      /* extra header fields before "unit", each ending ", " */
	const char *json_fields_post; /* extra header fields after "unit", each starting ", " */
	const char *usage_mid;     /* extra --help lines after --filter */
	const char *usage_end;     /* extra --help lines before --list */
	struct bench_workload *workloads;
	size_t nr_workloads;
	struct bench_layout layout;
	uint64_t first_iters; /* calibration starts here (0: 1024; 64 where ops_per_iter > 1) */
	bool even_iters;      /* calibrated counts are even (an op that works in pairs) */

	/* Hooks, all optional. */
	bool (*option)(int argc, char **argv, int *i); /* a bench's own option: taken? */
	int (*prepare)(struct bench *b);              /* after the options, before --list */
	void (*setup)(struct bench_workload *w, struct bench_side *pk, struct bench_side *peer);
	int (*teardown)(struct bench_workload *w, struct bench_side *pk, struct bench_side *peer); /* nonzero: leak */
	int (*finish)(void);                          /* after the output; nonzero: fail */
};

/* ---------------------------------------------------------------- running */

static int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double bench_median(const double *v, int n)
{
	double s[BENCH_MAX_REPS];

	memcpy(s, v, (size_t)n * sizeof(*s));
	qsort(s, (size_t)n, sizeof(*s), bench_cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/*
 * Grow the iteration count until one run takes a tenth of the target, then
 * scale to the target. The runs on the way are the warm-up.
 */
static uint64_t bench_calibrate(const struct bench *b, const struct bench_workload *w, bench_op run,
				struct bench_side *s)
{
	uint64_t target = (uint64_t)opt.target_ms * 1000000u;
	uint64_t iters = w->ops_per_iter > 1 ? 64 : b->first_iters ? b->first_iters : 1024;
	uint64_t t;

	for (;;) {
		t = run(s, iters);
		if (t >= target / 10 || iters >= (1ULL << 40))
			break;
		iters *= t < target / 100 ? 8 : 2;
	}
	t = run(s, iters); /* once more, warm */
	if (t == 0)
		t = 1;
	iters = (uint64_t)((double)iters * (double)target / (double)t);
	if (b->even_iters)
		iters += iters & 1;
	return iters ? iters : b->even_iters ? 2 : 1;
}

static int bench_run_workload(const struct bench *b, struct bench_workload *w)
{
	struct bench_side pk = { "pktmem", w->size, 0, NULL }, peer = { b->peer, w->size, 0, NULL };
	unsigned ops = w->ops_per_iter ? w->ops_per_iter : 1;
	uint64_t pk_iters, peer_iters;

	if (b->setup)
		b->setup(w, &pk, &peer);
	pk_iters = bench_calibrate(b, w, w->pk_run, &pk);
	peer_iters = bench_calibrate(b, w, w->peer_run, &peer);

	w->reps = opt.reps;
	for (int r = 0; r < opt.reps; r++) {
		uint64_t seed = 0x9e3779b97f4a7c15ULL ^ (uint64_t)(r + 1) * 0x100000001b3ULL;

		for (int k = 0; k < 2; k++) {
			bool do_pk = (k == 0) == (r % 2 == 0);
			struct bench_side *s = do_pk ? &pk : &peer;
			uint64_t iters = do_pk ? pk_iters : peer_iters;

			s->seed = seed; /* both sides see the same sequence in this repetition */
			(do_pk ? w->pk : w->peer)[r] =
				(double)(do_pk ? w->pk_run : w->peer_run)(s, iters) / ((double)iters * ops);
		}
	}
	w->pk_med = bench_median(w->pk, w->reps);
	w->peer_med = bench_median(w->peer, w->reps);
	return b->teardown ? b->teardown(w, &pk, &peer) : 0;
}

/* ---------------------------------------------------------------- output */

static bool bench_selected(const struct bench_workload *w)
{
	return !opt.filter || strstr(w->id, opt.filter);
}

static double bench_spread(const double *v, int n, double med)
{
	double lo = v[0], hi = v[0];

	for (int i = 1; i < n; i++) {
		lo = v[i] < lo ? v[i] : lo;
		hi = v[i] > hi ? v[i] : hi;
	}
	return med > 0 ? 100.0 * (hi - lo) / med : 0;
}

static void bench_print_table(const struct bench *b, FILE *out)
{
	const struct bench_layout *l = &b->layout;
	int cols[7] = { l->size_w, l->ns_w, l->ns_w, 8, 8, 8, 9 };
	char peer_ns[32], pk_peer[32];

	snprintf(peer_ns, sizeof(peer_ns), "%s ns", b->peer);
	snprintf(pk_peer, sizeof(pk_peer), "pk/%s", b->peer);
	fprintf(out, "| %-*s | %*s | %*s | %*s | %8s | %8s | %8s | %9s |\n", l->id_w, "workload", l->size_w, "size",
		l->ns_w, "pktmem ns", l->ns_w, peer_ns, "ratio", "pktmem", b->peer, "spread %");
	fprintf(out, "| %-*s | %*s | %*s | %*s | %8s | %8s | %8s | %9s |\n", l->id_w, "", l->size_w, "B", l->ns_w,
		"per op", l->ns_w, "per op", pk_peer, l->rate_unit, l->rate_unit, pk_peer);
	fprintf(out, "|%.*s|", l->id_w + 2, "------------------------------------------------");
	for (int c = 0; c < 7; c++)
		fprintf(out, "%.*s:|", cols[c] + 1, "------------------------------------------------");
	fprintf(out, "\n");
	for (size_t i = 0; i < b->nr_workloads; i++) {
		const struct bench_workload *w = &b->workloads[i];
		char sp[32];

		if (!bench_selected(w))
			continue;
		snprintf(sp, sizeof(sp), "%.0f/%.0f", bench_spread(w->pk, w->reps, w->pk_med),
			 bench_spread(w->peer, w->reps, w->peer_med));
		fprintf(out, "| %-*s | %*zu | %*.*f | %*.*f | %8.3f | %8.*f | %8.*f | %9s |\n", l->id_w, w->id,
			l->size_w, w->size, l->ns_w, l->ns_prec, w->pk_med, l->ns_w, l->ns_prec, w->peer_med,
			w->pk_med / w->peer_med, l->rate_prec, l->rate_scale / w->pk_med, l->rate_prec,
			l->rate_scale / w->peer_med, sp);
	}
	fprintf(out, "\nmedian of %d repetitions of ~%u ms each side, interleaved%s", opt.reps, opt.target_ms,
		b->footer ? b->footer : ".\n");
}

static void bench_print_json(const struct bench *b, FILE *out)
{
	char host[64] = "";
	bool first = true;

	gethostname(host, sizeof(host) - 1);
	fprintf(out, "{\"bench\": \"%s\", \"pktmem_version\": \"%s\", \"host\": \"%s\", \"cpus\": %ld,"
		" \"reps\": %d, \"target_ms\": %u, %s\"unit\": \"ns/op\"%s, \"results\": [\n",
		b->name, pktmem_version_string(), host, sysconf(_SC_NPROCESSORS_ONLN), opt.reps, opt.target_ms,
		b->json_fields ? b->json_fields : "", b->json_fields_post ? b->json_fields_post : "");
	/* One result per line: bench/run.sh reads this with awk (the peer's fields are named glibc). */
	for (size_t i = 0; i < b->nr_workloads; i++) {
		const struct bench_workload *w = &b->workloads[i];

		if (!bench_selected(w))
			continue;
		fprintf(out, "%s{\"id\": \"%s\", \"size\": %zu, \"what\": \"%s\", \"pktmem_ns\": %.3f, \"glibc_ns\": %.3f,"
			" \"ratio\": %.4f, \"pktmem_reps\": [", first ? "  " : ",\n  ",
			w->id, w->size, w->what, w->pk_med, w->peer_med, w->pk_med / w->peer_med);
		for (int r = 0; r < w->reps; r++)
			fprintf(out, "%s%.3f", r ? ", " : "", w->pk[r]);
		fprintf(out, "], \"glibc_reps\": [");
		for (int r = 0; r < w->reps; r++)
			fprintf(out, "%s%.3f", r ? ", " : "", w->peer[r]);
		fprintf(out, "]}");
		first = false;
	}
	fprintf(out, "\n]}\n");
}

/* ---------------------------------------------------------------- main */

static void bench_usage(const struct bench *b, FILE *out, const char *argv0)
{
	fprintf(out,
		"usage: %s [options]\n"
		"  --quick         3 repetitions of ~10 ms (a smoke run)\n"
		"  --reps N        repetitions per side (default 7, at most %d)\n"
		"  --ms T          target milliseconds per repetition (default 50)\n"
		"  --filter STR    only workloads whose id contains STR\n"
		"%s"
		"  --json          JSON on stdout instead of the table\n"
		"  --json=FILE     the table on stdout and JSON into FILE\n"
		"%s"
		"  --list          list the workloads\n",
		argv0, BENCH_MAX_REPS, b->usage_mid ? b->usage_mid : "", b->usage_end ? b->usage_end : "");
}

static bool bench_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return s[0] != '-' && !errno && end != s && !*end && *out >= 1 && *out <= max;
}

/* The whole program but the workloads: returns main's exit status. */
static int bench_main(struct bench *b, int argc, char **argv)
{
	FILE *json = NULL, *table = stdout;
	unsigned long v;
	int ret = 0;

	bench_name = b->name;
	if (!b->peer)
		b->peer = "glibc";
	if (!b->layout.id_w)
		b->layout = (struct bench_layout){ 13, 5, 11, 2, 1, 1000.0, "Mop/s" };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--quick")) {
			opt.reps = 3;
			opt.target_ms = 10;
		} else if (!strcmp(a, "--reps") && i + 1 < argc && bench_parse_uint(argv[i + 1], BENCH_MAX_REPS, &v)) {
			opt.reps = (int)v;
			i++;
		} else if (!strcmp(a, "--ms") && i + 1 < argc && bench_parse_uint(argv[i + 1], 100000, &v)) {
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
			bench_usage(b, stdout, argv[0]);
			return 0;
		} else if (!b->option || !b->option(argc, argv, &i)) {
			bench_usage(b, stderr, argv[0]);
			return 2;
		}
	}
	if (b->prepare && (ret = b->prepare(b)) != 0)
		return ret;
	if (opt.list) {
		for (size_t i = 0; i < b->nr_workloads; i++)
			printf("%-*s %*zu  %s\n", b->layout.id_w, b->workloads[i].id, b->layout.size_w,
			       b->workloads[i].size, b->workloads[i].what);
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
		fprintf(table, "%s: pktmem %s%s, %ld CPUs, %d reps x ~%u ms%s\n\n", b->name, pktmem_version_string(),
			b->versus ? b->versus : "", sysconf(_SC_NPROCESSORS_ONLN), opt.reps, opt.target_ms,
			b->heading_tail ? b->heading_tail : "");
	for (size_t i = 0; i < b->nr_workloads; i++) {
		if (!bench_selected(&b->workloads[i]))
			continue;
		ret |= bench_run_workload(b, &b->workloads[i]);
		if (table) {
			fprintf(stderr, ".");
			fflush(stderr);
		}
	}
	if (table) {
		fprintf(stderr, "\n");
		bench_print_table(b, table);
	}
	if (json) {
		bench_print_json(b, json);
		if (json != stdout)
			fclose(json);
	}
	if (b->finish)
		ret |= b->finish();
	return ret;
}

#endif /* PKTMEM_BENCH_HARNESS_H */
