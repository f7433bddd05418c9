/*
 * bench_suite — pktmem beside DPDK, glibc, jemalloc, mimalloc and plain
 * floors, for every row of issue #6, in one process. bench/run.sh runs it
 * in several processes and aggregates (that is the figure to quote); run
 * alone it prints this process's table.
 *
 *   build-bench/bench_suite [--rounds N] [--ms T] [--filter STR] [--json FILE]
 *                           [--no-dpdk] [--no-pin] [--mem-n N] [--list]
 *   valgrind --tool=callgrind --collect-atstart=no build-bench/bench_suite --callgrind [--iters N]
 *
 * Timing: every op (one side of a row) is calibrated so that one batch
 * takes about --ms milliseconds (default 8), after warming up. Then --rounds
 * rounds (default 15) each run one batch of every op, round-robin, the
 * starting op rotating each round, so that a slow spell of the shared
 * machine falls on all ops alike. An op's figure is the median of its
 * batches, in ns per operation (per object for bursts, per buffer for the
 * ring rows). After every batch, outside the timing, the op's check runs:
 * nothing may be left in use (pktmem stats; DPDK pool counts, refcounts).
 *
 * Callgrind: with --callgrind, each single-threaded op runs --iters
 * iterations (default 2000) and then twice as many, each between
 * CALLGRIND_TOGGLE_COLLECT pairs and dumped under its own name; the
 * difference over --iters, less that of an empty loop, is instructions per
 * operation (bench/run.sh does the arithmetic). Threaded ops are left out:
 * valgrind serialises threads.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <pktmem/pktmem.h>

#ifdef BENCH_HAVE_CALLGRIND_H
#include <valgrind/callgrind.h>
#endif

#include "rows.h"
#include "suite.h"

#ifndef BENCH_BUILD_TYPE
#define BENCH_BUILD_TYPE "unknown"
#endif

#define MAX_ROUNDS 101
#define TUNABLE "glibc.rtld.optional_static_tls=16384"

/* ---------------------------------------------------------------- registry */

static struct timed {
	struct op op;
	uint64_t iters;
	int n;
	double ns[MAX_ROUNDS];
	double med;
} ops[SUITE_MAX_OPS];
static int nr_ops;

static struct mem_row mem[SUITE_MAX_MEM];
static int nr_mem;

static struct {
	int rounds;
	unsigned ms;
	const char *filter;
	const char *json;
	bool no_dpdk, no_pin, list, callgrind, quiet;
	unsigned iters; /* callgrind */
	unsigned mem_n;
} opt = { 15, 8, NULL, NULL, false, false, false, false, false, 2000, 4096 };

_Noreturn void die(const char *what, const char *side)
{
	fprintf(stderr, "bench_suite: %s failed (%s)\n", what, side);
	exit(1);
}

void op_add(const struct op *op)
{
	if (nr_ops == SUITE_MAX_OPS)
		die("op_add (too many ops)", op->id);
	if (opt.filter && !strstr(op->id, opt.filter))
		return;
	ops[nr_ops].op = *op;
	if (!ops[nr_ops].op.per_iter)
		ops[nr_ops].op.per_iter = 1;
	nr_ops++;
}

void mem_add(const struct mem_row *row)
{
	if (nr_mem < SUITE_MAX_MEM)
		mem[nr_mem++] = *row;
}

static struct timed *find(const char *id)
{
	for (int i = 0; i < nr_ops; i++)
		if (!strcmp(ops[i].op.id, id))
			return &ops[i];
	return NULL;
}

/* ---------------------------------------------------------------- timing */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
	double s[MAX_ROUNDS];

	memcpy(s, v, (size_t)n * sizeof(*s));
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void check(struct timed *t)
{
	char msg[256] = "";

	if (t->op.check && t->op.check(t->op.ctx, msg, sizeof(msg))) {
		fprintf(stderr, "bench_suite: after %s: %s\n", t->op.id, msg);
		exit(1);
	}
}

/* Grow the count until a batch takes a quarter of the target, then scale to it; the runs are the warm-up. */
static void calibrate(struct timed *t)
{
	uint64_t target = (uint64_t)opt.ms * 1000000u, iters = 16, ns;

	for (;;) {
		ns = t->op.run(t->op.ctx, iters);
		check(t);
		if (ns >= target / 4 || iters >= (1ULL << 36))
			break;
		iters *= ns < target / 64 ? 8 : 2;
	}
	ns = t->op.run(t->op.ctx, iters);
	check(t);
	t->iters = (uint64_t)((double)iters * (double)target / (double)(ns ? ns : 1));
	if (!t->iters)
		t->iters = 1;
}

static void run_timed(void)
{
	for (int i = 0; i < nr_ops; i++)
		calibrate(&ops[i]);
	for (int r = 0; r < opt.rounds; r++) {
		for (int k = 0; k < nr_ops; k++) {
			struct timed *t = &ops[(k + r) % nr_ops];
			uint64_t ns = t->op.run(t->op.ctx, t->iters);

			t->ns[t->n++] = (double)ns / ((double)t->iters * t->op.per_iter);
			check(t);
		}
		if (!opt.quiet) {
			fprintf(stderr, "\rround %d/%d", r + 1, opt.rounds);
			fflush(stderr);
		}
	}
	if (!opt.quiet)
		fprintf(stderr, "\n");
	for (int i = 0; i < nr_ops; i++)
		ops[i].med = median(ops[i].ns, ops[i].n);
}

/* ---------------------------------------------------------------- callgrind */

#ifdef BENCH_HAVE_CALLGRIND_H
/* The loop every op has, with nothing in it: subtracted from every op. */
static uint64_t empty_loop(void *ctx, uint64_t iters)
{
	static unsigned char b[64];
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++)
		touch(b, i);
	return now_ns() - t0;
}

static int run_callgrind(void)
{
	static const struct op empty = { "empty", "the empty loop (touch only)", empty_loop, NULL, 1, false, NULL };
	char name[96];

	if (!RUNNING_ON_VALGRIND) {
		fprintf(stderr, "bench_suite: --callgrind: run me under valgrind --tool=callgrind --collect-atstart=no"
				" (bench/run.sh --callgrind does)\n");
		return 2;
	}
	for (int i = -1; i < nr_ops; i++) {
		const struct op *o = i < 0 ? &empty : &ops[i].op;

		if (o->threaded)
			continue;
		o->run(o->ctx, 64); /* warm: not collected */
		for (unsigned mult = 1; mult <= 2; mult++) {
			CALLGRIND_TOGGLE_COLLECT;
			o->run(o->ctx, (uint64_t)opt.iters * mult);
			CALLGRIND_TOGGLE_COLLECT;
			snprintf(name, sizeof(name), "%s@%u", o->id, opt.iters * mult);
			CALLGRIND_DUMP_STATS_AT(name);
		}
		if (i >= 0)
			check(&ops[i]);
	}
	return 0;
}
#else
static int run_callgrind(void)
{
	fprintf(stderr, "bench_suite: --callgrind: built without valgrind/callgrind.h (install valgrind, reconfigure)\n");
	return 2;
}
#endif

/* ---------------------------------------------------------------- memory */

/* Each pktmem memory row in a fresh child (forked before the library is used), read back through a pipe. */
static void measure_memory(void)
{
	for (int config = 0; config < 4; config++) {
		int fd[2];
		pid_t pid;

		if (pipe(fd))
			die("pipe", "memory");
		pid = fork();
		if (pid < 0)
			die("fork", "memory");
		if (pid == 0) {
			close(fd[0]);
			mem_pktmem_measure(opt.mem_n, config);
			if (write(fd[1], &mem[nr_mem - 1], sizeof(mem[0])) != (ssize_t)sizeof(mem[0]))
				_exit(1);
			_exit(0);
		}
		close(fd[1]);
		struct mem_row r;
		ssize_t got = read(fd[0], &r, sizeof(r));
		int status;

		close(fd[0]);
		waitpid(pid, &status, 0);
		if (got != (ssize_t)sizeof(r) || !WIFEXITED(status) || WEXITSTATUS(status))
			die("memory measurement", "child");
		r.side = "pktmem"; /* a pointer that came through a pipe: set our own */
		mem_add(&r);
	}
}

/* ---------------------------------------------------------------- output */

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if ((unsigned char)*s >= 0x20)
			fputc(*s, f);
	}
	fputc('"', f);
}

static char cpu_model[128] = "unknown", command[1024], date[64];

static void machine(int argc, char **argv)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];
	time_t now = time(NULL);

	while (f && fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && c) {
			snprintf(cpu_model, sizeof(cpu_model), "%s", c + 2);
			cpu_model[strcspn(cpu_model, "\n")] = 0;
			break;
		}
	}
	if (f)
		fclose(f);
	for (int i = 0; i < argc; i++)
		snprintf(command + strlen(command), sizeof(command) - strlen(command), "%s%s", i ? " " : "", argv[i]);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
}

static const char *compiler(void)
{
#if defined(__clang__)
	return "clang " __clang_version__;
#elif defined(__GNUC__)
	return "gcc " __VERSION__;
#else
	return "unknown";
#endif
}

/* The ratio a row reports, or 0 when a side is missing. */
static double row_ratio(const struct row *r)
{
	struct timed *a = find(r->pk), *b = find(r->peer);

	if (!a || !b || !a->med || !b->med)
		return 0;
	return r->kind == GE || r->kind == GEINFO ? b->med / a->med : a->med / b->med;
}

static const char *row_met(const struct row *r, double ratio)
{
	if (!ratio)
		return "n/a";
	if (r->kind == LE)
		return ratio <= r->goal ? "met" : "NOT met";
	if (r->kind == GE)
		return ratio >= r->goal ? "met" : "NOT met";
	return "-";
}

static void write_json(FILE *f)
{
	struct utsname u;

	uname(&u);
	fprintf(f, "{\"bench\": \"bench_suite\",\n \"pktmem_version\": ");
	json_str(f, pktmem_version_string());
	fprintf(f, ", \"date\": ");
	json_str(f, date);
	fprintf(f, ", \"cpu\": ");
	json_str(f, cpu_model);
	fprintf(f, ", \"nproc\": %ld, \"kernel\": ", sysconf(_SC_NPROCESSORS_ONLN));
	json_str(f, u.release);
	fprintf(f, ",\n \"compiler\": ");
	json_str(f, compiler());
	fprintf(f, ", \"build_type\": \"%s\", \"command\": ", BENCH_BUILD_TYPE);
	json_str(f, command);
	fprintf(f, ",\n \"cpus\": [%d, %d], \"rounds\": %d, \"batch_ms\": %u, \"callgrind\": %s, \"iters\": %u,\n"
		   " \"dpdk\": ",
		cpu_main, cpu_other, opt.rounds, opt.ms, opt.callgrind ? "true" : "false", opt.iters);
	json_str(f, dpdk_note());
	fprintf(f, ", \"malloc_peers\": ");
	json_str(f, malloc_peers_note());
	fprintf(f, ",\n \"ops\": [\n");
	for (int i = 0; i < nr_ops; i++) {
		const struct timed *t = &ops[i];

		fprintf(f, "  {\"id\": \"%s\", \"what\": ", t->op.id);
		json_str(f, t->op.what);
		fprintf(f, ", \"per_iter\": %u, \"threaded\": %s, \"iters\": %llu, \"ns\": %.4f, \"samples\": [",
			t->op.per_iter, t->op.threaded ? "true" : "false", (unsigned long long)t->iters, t->med);
		for (int k = 0; k < t->n; k++)
			fprintf(f, "%s%.4f", k ? ", " : "", t->ns[k]);
		fprintf(f, "]}%s\n", i + 1 < nr_ops ? "," : "");
	}
	fprintf(f, " ],\n \"rows\": [\n");
	for (unsigned i = 0; i < nr_rows; i++) {
		const struct row *r = &rows[i];
		static const char *const kinds[] = { "LE", "GE", "INFO", "GEINFO" };

		fprintf(f, "  {\"section\": \"%s\", \"name\": ", r->section);
		json_str(f, r->name);
		fprintf(f, ", \"pk\": \"%s\", \"peer\": \"%s\", \"kind\": \"%s\", \"goal\": %g, \"ratio\": %.4f}%s\n",
			r->pk, r->peer, kinds[r->kind], r->goal, row_ratio(r), i + 1 < nr_rows ? "," : "");
	}
	fprintf(f, " ],\n \"memory\": [\n");
	for (int i = 0; i < nr_mem; i++) {
		fprintf(f, "  {\"what\": ");
		json_str(f, mem[i].what);
		fprintf(f, ", \"side\": \"%s\", \"payload\": %u, \"held\": %.1f, \"objects\": %.1f,"
			   " \"descriptor\": %.1f, \"how\": ",
			mem[i].side, mem[i].payload, mem[i].held, mem[i].objects, mem[i].header);
		json_str(f, mem[i].how);
		fprintf(f, "}%s\n", i + 1 < nr_mem ? "," : "");
	}
	fprintf(f, " ]}\n");
}

static void print_table(FILE *f)
{
	fprintf(f, "bench_suite (one process): pktmem %s, %s, %ld CPUs, %s, %s\n%s\n%s\n\n", pktmem_version_string(),
		cpu_model, sysconf(_SC_NPROCESSORS_ONLN), compiler(), BENCH_BUILD_TYPE, dpdk_note(),
		malloc_peers_note());
	fprintf(f, "%-8s %-88s %9s %9s %7s %7s %s\n", "vs", "row", "pktmem", "peer", "ratio", "goal", "met?");
	for (unsigned i = 0; i < nr_rows; i++) {
		const struct row *r = &rows[i];
		struct timed *a = find(r->pk), *b = find(r->peer);
		double ratio = row_ratio(r);
		char goal[16] = "-";

		if (r->kind == LE)
			snprintf(goal, sizeof(goal), "<=%.2g", r->goal);
		else if (r->kind == GE)
			snprintf(goal, sizeof(goal), ">=%.2g", r->goal);
		if (!a || !b) {
			fprintf(f, "%-8s %-88.88s %9s %9s %7s %7s not measured\n", r->section, r->name, a ? "" : "-",
				b ? "" : "-", "", goal);
			continue;
		}
		fprintf(f, "%-8s %-88.88s %9.2f %9.2f %7.3f %7s %s\n", r->section, r->name, a->med, b->med, ratio, goal,
			row_met(r, ratio));
	}
	fprintf(f, "\nns per op (median of %d batches of ~%u ms, round-robin). ratio: pktmem/peer ns, or peer/pktmem\n"
		   "(throughput) where the goal is >=. One process proves little here: use bench/run.sh.\n\n",
		opt.rounds, opt.ms);
	for (int i = 0; i < nr_mem; i++)
		fprintf(f, "memory %-26s %-7s payload %4u: %7.1f B held per packet, objects %7.1f B, descriptor %6.1f B\n",
			mem[i].what, mem[i].side, mem[i].payload, mem[i].held, mem[i].objects, mem[i].header);
}

/* ---------------------------------------------------------------- main */

static void pick_cpus(void)
{
	cpu_set_t set;

	if (opt.no_pin || sched_getaffinity(0, sizeof(set), &set))
		return;
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, &set))
			continue;
		if (cpu_main < 0) {
			cpu_main = c;
		} else {
			cpu_other = c;
			break;
		}
	}
	if (cpu_main >= 0) {
		CPU_ZERO(&set);
		CPU_SET(cpu_main, &set);
		sched_setaffinity(0, sizeof(set), &set);
	}
}

/*
 * jemalloc's initial-exec TLS needs spare static TLS to be dlopen()ed:
 * re-execute once with the glibc tunable that provides it. Not under
 * --callgrind (valgrind would not follow the exec; bench/run.sh sets it).
 */
static void reexec_for_tls(char **argv)
{
	const char *t = getenv("GLIBC_TUNABLES");
	char buf[512];

	if (opt.callgrind || getenv("BENCH_SUITE_REEXEC") || (t && strstr(t, "optional_static_tls")))
		return;
	snprintf(buf, sizeof(buf), "%s%s%s", t ? t : "", t && *t ? ":" : "", TUNABLE);
	setenv("GLIBC_TUNABLES", buf, 1);
	setenv("BENCH_SUITE_REEXEC", "1", 1);
	execv("/proc/self/exe", argv);
	/* exec failed: carry on; jemalloc's row will say it could not be loaded */
}

static bool num(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return s[0] != '-' && !errno && end != s && !*end && *out >= 1 && *out <= max;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_suite [--rounds N (15)] [--ms T (8)] [--filter STR] [--json FILE]\n"
		   "                   [--no-dpdk] [--no-pin] [--mem-n N (4096)] [--quiet] [--list]\n"
		   "       valgrind --tool=callgrind --collect-atstart=no bench_suite --callgrind [--iters N (2000)]\n"
		   "Usually run through bench/run.sh (several processes, aggregated, Markdown + JSON).\n");
}

int main(int argc, char **argv)
{
	unsigned long v;
	int ret = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--rounds") && i + 1 < argc && num(argv[i + 1], MAX_ROUNDS, &v))
			opt.rounds = (int)v, i++;
		else if (!strcmp(a, "--ms") && i + 1 < argc && num(argv[i + 1], 100000, &v))
			opt.ms = (unsigned)v, i++;
		else if (!strcmp(a, "--iters") && i + 1 < argc && num(argv[i + 1], 10000000, &v))
			opt.iters = (unsigned)v, i++;
		else if (!strcmp(a, "--mem-n") && i + 1 < argc && num(argv[i + 1], 1000000, &v))
			opt.mem_n = (unsigned)v, i++;
		else if (!strcmp(a, "--filter") && i + 1 < argc)
			opt.filter = argv[++i];
		else if (!strcmp(a, "--json") && i + 1 < argc)
			opt.json = argv[++i];
		else if (!strcmp(a, "--no-dpdk"))
			opt.no_dpdk = true;
		else if (!strcmp(a, "--no-pin"))
			opt.no_pin = true;
		else if (!strcmp(a, "--callgrind"))
			opt.callgrind = true;
		else if (!strcmp(a, "--quiet"))
			opt.quiet = true;
		else if (!strcmp(a, "--list"))
			opt.list = true;
		else if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			return usage(stdout), 0;
		else
			return usage(stderr), 2;
	}
	reexec_for_tls(argv);
	machine(argc, argv);
	pick_cpus();
	for (size_t i = 0; i < sizeof(flat_src); i++)
		flat_src[i] = (unsigned char)(i * 7 + 1);
	if (!opt.callgrind && !opt.list)
		measure_memory(); /* before the library is used in this process */
	if (!opt.no_dpdk && !opt.list && dpdk_start(argv[0], true) == 0)
		mem_dpdk_measure();
	ops_pktmem_register();
	ops_malloc_register();
	ops_dpdk_register();
	if (opt.list) {
		for (int i = 0; i < nr_ops; i++)
			printf("%-22s x%-3u %s%s\n", ops[i].op.id, ops[i].op.per_iter, ops[i].op.what,
			       ops[i].op.threaded ? " [2 CPUs]" : "");
		return 0;
	}
	if (pktmem_baseline())
		die("pktmem_stats_walk", "pktmem");
	if (opt.callgrind)
		ret = run_callgrind();
	else
		run_timed();
	if (opt.json) {
		FILE *f = fopen(opt.json, "w");

		if (!f) {
			perror(opt.json);
			return 1;
		}
		write_json(f);
		fclose(f);
	}
	if (!opt.callgrind && !opt.quiet)
		print_table(stdout);
	return ret;
}
