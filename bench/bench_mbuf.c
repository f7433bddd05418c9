/*
 * bench_mbuf — BSD mbuf operations (issue 3, point 8) beside the closest
 * glibc malloc/memcpy equivalent, same run.
 *
 *   cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release
 *   cmake --build build-bench --target bench_mbuf
 *   build-bench/bench_mbuf [--quick] [--reps N] [--ms T] [--filter STR]
 *                          [--json[=FILE]] [--list]
 *
 * Medians over several processes (this machine is noisy); bench/run.sh
 * takes the binary with -b and aggregates any bench that writes bench_mem's
 * JSON lines, which this one does:
 *
 *   bench/run.sh -b build-bench/bench_mbuf            5 processes
 *   bench/run.sh -k 9 -b build-bench/bench_mbuf -- --ms 100
 *
 * (run.sh's heading says "bench_mem"; the rows are this program's.)
 *
 * Not a test: it prints figures, and fails only if an operation does or
 * something is left allocated at the end.
 *
 * Workloads, pktmem side vs glibc side (what one operation is):
 *   get_free      m_get(M_DONTWAIT) + m_free
 *                 vs malloc(256) + free                        (issue 3's pairing)
 *   hdr_cluster   m_gethdr + MCLGET + m_freem (a packet buffer)
 *                 vs malloc(2048) + free
 *   copypacket    m_copypacket of a 1500-byte cluster packet + m_freem of
 *                 the copy (the cluster is shared, not copied)
 *                 vs malloc(1500) + memcpy 1500 + free (a flat buffer
 *                 cannot be shared, so its "copy" is a copy)
 *   prepend_adj   M_PREPEND 14 bytes (in place: the cluster packet has
 *                 headroom, as a driver leaves it) + write the 14 bytes +
 *                 m_adj(m, 14)
 *                 vs a 1500-byte packet in a flat buffer without headroom:
 *                 memmove it 14 bytes up + write the 14 header bytes; taking
 *                 them off is a pointer bump, and to stay in a steady state
 *                 the next operation moves the packet back down. So: one
 *                 1500-byte memmove + a 14-byte write per operation.
 *   pullup40      m_pullup(m, 40) of a 2-mbuf chain whose first mbuf holds
 *                 20 bytes (internal data) and the second 1480 (a cluster);
 *                 max_protohdr is the default 60, so 40 bytes move into the
 *                 first mbuf. Inside the timed loop the chain is put back
 *                 by resetting three fields (first m_len, second m_data and
 *                 m_len: the cluster's bytes were only read), ~1 ns.
 *                 vs memcpy of 40 bytes
 *   copydata      m_copydata(m, 0, 1500) of a 2-mbuf chain (54 bytes of
 *                 internal data + 1446 in a cluster)
 *                 vs memcpy of 1500 bytes
 *   copyback      m_copyback(m, 0, 1500) into the same chain (writable, no
 *                 extension) vs memcpy of 1500 bytes          (issue 6's row)
 *
 * Method (as bench_mem): each workload calibrates an iteration count per
 * side so that one repetition takes about --ms milliseconds (default 50),
 * after warming up. Then it runs --reps repetitions (default 7), alternating
 * pktmem and glibc and swapping which goes first on every repetition, each
 * timed with CLOCK_MONOTONIC. It reports the median ns per operation of
 * each side and the ratio pktmem/glibc of those medians: below 1 pktmem is
 * faster. Every buffer is touched (a byte written or read) and every
 * pointer escapes through an empty asm, on both sides alike, so that no
 * work can be optimised away.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pktmem/mbuf.h>
#include <pktmem/pktmem.h>
#include <pktmem/slab.h>

#define MAX_REPS 101
#define PKT_LEN  1500
#define HDR_LEN  14
#define HEADROOM 64

/* ---------------------------------------------------------------- helpers */

static inline void escape(const void *p)
{
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

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
	fprintf(stderr, "bench_mbuf: %s failed (%s side)\n", what, side);
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
	const char *json; /* NULL: none; "-": stdout */
	bool list;
} opt = { 7, 50, NULL, NULL, false };

/* ---------------------------------------------------------------- fixtures */

/* Bytes the glibc side copies from and to; 64-byte aligned like a cluster. */
static _Alignas(64) unsigned char flat_src[2048];
static _Alignas(64) unsigned char flat_dst[2048];

/* A packet of @len bytes in one cluster, data @lead bytes in. */
static struct mbuf *cluster_packet(int len, int lead)
{
	struct mbuf *m = m_gethdr(M_WAIT, MT_DATA);

	if (!m)
		die("m_gethdr", "setup");
	MCLGET(m, M_WAIT);
	if (!(m->m_flags & M_EXT))
		die("MCLGET", "setup");
	m->m_data += lead;
	m->m_len = m->m_pkthdr.len = len;
	memcpy(m->m_data, flat_src, (size_t)len);
	return m;
}

/* A 2-mbuf packet: @first bytes of internal data, then @second in a cluster. */
static struct mbuf *two_mbuf_packet(int first, int second)
{
	struct mbuf *m = m_gethdr(M_WAIT, MT_DATA), *n = m_get(M_WAIT, MT_DATA);

	if (!m || !n)
		die("m_get", "setup");
	MCLGET(n, M_WAIT);
	if (!(n->m_flags & M_EXT))
		die("MCLGET", "setup");
	m->m_len = first;
	memcpy(m->m_data, flat_src, (size_t)first);
	n->m_len = second;
	memcpy(n->m_data, flat_src + first, (size_t)second);
	m->m_next = n;
	m->m_pkthdr.len = first + second;
	return m;
}

/* ---------------------------------------------------------------- sides */

/*
 * One side of a workload. run() performs @iters operations and returns the
 * nanoseconds they took.
 */
struct side {
	uint64_t (*run)(struct side *s, uint64_t iters);
	const char *label; /* "pktmem" or "glibc" */
	size_t size;
	struct mbuf *m;    /* the fixture packet, pktmem side */
};

/* --- pktmem */

static uint64_t pk_get_free(struct side *s, uint64_t iters)
{
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		struct mbuf *m = m_get(M_DONTWAIT, MT_DATA);

		if (__builtin_expect(!m, 0))
			die("m_get", s->label);
		touch(mtod(m, void *), i);
		m_free(m);
	}
	return now_ns() - t0;
}

static uint64_t pk_hdr_cluster(struct side *s, uint64_t iters)
{
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		struct mbuf *m = m_gethdr(M_DONTWAIT, MT_DATA);

		if (__builtin_expect(!m, 0))
			die("m_gethdr", s->label);
		MCLGET(m, M_DONTWAIT);
		if (__builtin_expect(!(m->m_flags & M_EXT), 0))
			die("MCLGET", s->label);
		touch(mtod(m, void *), i);
		m_freem(m);
	}
	return now_ns() - t0;
}

static uint64_t pk_copypacket(struct side *s, uint64_t iters)
{
	struct mbuf *m = s->m;
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		struct mbuf *c = m_copypacket(m, M_DONTWAIT);

		if (__builtin_expect(!c, 0))
			die("m_copypacket", s->label);
		/* The copy's data is shared (read-only): read a byte of it. */
		escape(c);
		(void)*(volatile char *)mtod(c, char *);
		m_freem(c);
	}
	return now_ns() - t0;
}

static uint64_t pk_prepend_adj(struct side *s, uint64_t iters)
{
	static const unsigned char eth[HDR_LEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 8, 0 };
	struct mbuf *m = s->m;
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		M_PREPEND(m, HDR_LEN, M_DONTWAIT);
		if (__builtin_expect(!m, 0))
			die("M_PREPEND", s->label);
		memcpy(mtod(m, void *), eth, HDR_LEN);
		touch(mtod(m, void *), i);
		m_adj(m, HDR_LEN);
	}
	s->m = m;
	return now_ns() - t0;
}

static uint64_t pk_pullup(struct side *s, uint64_t iters)
{
	struct mbuf *m = s->m, *n = m->m_next;
	char *n_data = n->m_data;
	int m_len = m->m_len, n_len = n->m_len;
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		struct mbuf *r = m_pullup(m, 40);

		if (__builtin_expect(r != m || m->m_next != n || m->m_len < 40, 0))
			die("m_pullup in place", s->label);
		escape(mtod(r, void *));
		/* Put the chain back: the bytes stay, three fields move. */
		m->m_len = m_len;
		n->m_data = n_data;
		n->m_len = n_len;
	}
	return now_ns() - t0;
}

static uint64_t pk_copydata(struct side *s, uint64_t iters)
{
	struct mbuf *m = s->m;
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		m_copydata(m, 0, PKT_LEN, flat_dst);
		escape(flat_dst);
	}
	return now_ns() - t0;
}

static uint64_t pk_copyback(struct side *s, uint64_t iters)
{
	struct mbuf *m = s->m;
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		escape(flat_src);
		m_copyback(m, 0, PKT_LEN, flat_src);
		escape(m);
	}
	return now_ns() - t0;
}

/* --- glibc */

static uint64_t gl_malloc_free(struct side *s, uint64_t iters)
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

static uint64_t gl_malloc_copy_free(struct side *s, uint64_t iters)
{
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		void *p = malloc(PKT_LEN);

		if (__builtin_expect(!p, 0))
			die("malloc", s->label);
		escape(flat_src);
		memcpy(p, flat_src, PKT_LEN);
		escape(p);
		(void)*(volatile char *)p;
		free(p);
	}
	return now_ns() - t0;
}

static uint64_t gl_memmove(struct side *s, uint64_t iters)
{
	static const unsigned char eth[HDR_LEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 8, 0 };
	unsigned char *buf = flat_dst;
	uint64_t t0 = now_ns();

	(void)s;
	for (uint64_t i = 0; i < iters; i += 2) {
		/* prepend: the packet moves up, the header goes in front */
		memmove(buf + HDR_LEN, buf, PKT_LEN);
		memcpy(buf, eth, HDR_LEN);
		touch(buf, i);
		/* next operation, the other way round: the packet moves back down */
		memmove(buf, buf + HDR_LEN, PKT_LEN);
		memcpy(buf + PKT_LEN, eth, HDR_LEN);
		touch(buf, i + 1);
	}
	return now_ns() - t0;
}

static uint64_t gl_memcpy(struct side *s, uint64_t iters)
{
	size_t size = s->size;
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		escape(flat_src);
		memcpy(flat_dst, flat_src, size);
		escape(flat_dst);
	}
	return now_ns() - t0;
}

/* ---------------------------------------------------------------- workloads */

enum kind { K_GET_FREE, K_HDR_CLUSTER, K_COPYPACKET, K_PREPEND_ADJ, K_PULLUP, K_COPYDATA, K_COPYBACK };

struct workload {
	const char *id;
	enum kind kind;
	size_t size; /* bytes the glibc side allocates or copies */
	const char *what;
	int reps;
	double pk[MAX_REPS], gl[MAX_REPS];
	double pk_med, gl_med;
};

static struct workload workloads[] = {
	{ .id = "get_free", .kind = K_GET_FREE, .size = 256,
	  .what = "m_get+m_free vs malloc(256)+free" },
	{ .id = "hdr_cluster", .kind = K_HDR_CLUSTER, .size = 2048,
	  .what = "m_gethdr+MCLGET+m_freem vs malloc(2048)+free" },
	{ .id = "copypacket", .kind = K_COPYPACKET, .size = PKT_LEN,
	  .what = "m_copypacket(1500-byte cluster pkt)+m_freem vs malloc+memcpy(1500)+free" },
	{ .id = "prepend_adj", .kind = K_PREPEND_ADJ, .size = PKT_LEN,
	  .what = "M_PREPEND 14 (headroom)+write+m_adj 14 vs memmove(1500) by 14+write 14" },
	{ .id = "pullup40", .kind = K_PULLUP, .size = 40,
	  .what = "m_pullup 40 of 20+1480 chain (+3-field reset) vs memcpy(40)" },
	{ .id = "copydata", .kind = K_COPYDATA, .size = PKT_LEN,
	  .what = "m_copydata 1500 of 54+1446 chain vs memcpy(1500)" },
	{ .id = "copyback", .kind = K_COPYBACK, .size = PKT_LEN,
	  .what = "m_copyback 1500 into 54+1446 chain vs memcpy(1500)" },
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
	case K_GET_FREE:
		pk->run = pk_get_free;
		gl->run = gl_malloc_free;
		break;
	case K_HDR_CLUSTER:
		pk->run = pk_hdr_cluster;
		gl->run = gl_malloc_free;
		break;
	case K_COPYPACKET:
		pk->run = pk_copypacket;
		pk->m = cluster_packet(PKT_LEN, 0);
		gl->run = gl_malloc_copy_free;
		break;
	case K_PREPEND_ADJ:
		pk->run = pk_prepend_adj;
		pk->m = cluster_packet(PKT_LEN, HEADROOM);
		gl->run = gl_memmove;
		break;
	case K_PULLUP:
		pk->run = pk_pullup;
		pk->m = two_mbuf_packet(20, PKT_LEN - 20);
		gl->run = gl_memcpy;
		break;
	case K_COPYDATA:
		pk->run = pk_copydata;
		pk->m = two_mbuf_packet(54, PKT_LEN - 54);
		gl->run = gl_memcpy;
		break;
	case K_COPYBACK:
		pk->run = pk_copyback;
		pk->m = two_mbuf_packet(54, PKT_LEN - 54);
		gl->run = gl_memcpy;
		break;
	}
}

/* Free the fixture and check that nothing is left allocated. */
static int sides_done(struct side *pk, const struct workload *w)
{
	m_freem(pk->m);
	pk->m = NULL;
	unsigned long long mbufs, clusters;
	struct pktmem_stats st;

	kmem_cache_stats(pktmem_mbuf_cache(), &st);
	mbufs = st.in_use;
	kmem_cache_stats(pktmem_cluster_cache(), &st);
	clusters = st.in_use;
	if (mbufs || clusters) {
		fprintf(stderr, "bench_mbuf: %s: %llu mbufs and %llu clusters in use after the run\n", w->id, mbufs,
			clusters);
		return 1;
	}
	return 0;
}

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
	iters += iters & 1; /* the memmove side works in pairs */
	return iters ? iters : 2;
}

static int run_workload(struct workload *w)
{
	struct side pk, gl;
	uint64_t pk_iters, gl_iters;

	sides_for(w, &pk, &gl);
	pk_iters = calibrate(&pk);
	gl_iters = calibrate(&gl);

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
	return sides_done(&pk, w);
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
	fprintf(out, "| %-13s | %5s | %11s | %11s | %8s | %8s | %8s | %9s |\n", "workload", "size", "pktmem ns",
		"glibc ns", "ratio", "pktmem", "glibc", "spread %");
	fprintf(out, "| %-13s | %5s | %11s | %11s | %8s | %8s | %8s | %9s |\n", "", "B", "per op", "per op",
		"pk/glibc", "Mop/s", "Mop/s", "pk/glibc");
	fprintf(out, "|---------------|------:|------------:|------------:|---------:|---------:|---------:|----------:|\n");
	for (size_t i = 0; i < NR_WORKLOADS; i++) {
		const struct workload *w = &workloads[i];
		char sp[32];

		if (!selected(w))
			continue;
		snprintf(sp, sizeof(sp), "%.0f/%.0f", spread(w->pk, w->reps, w->pk_med),
			 spread(w->gl, w->reps, w->gl_med));
		fprintf(out, "| %-13s | %5zu | %11.2f | %11.2f | %8.3f | %8.1f | %8.1f | %9s |\n", w->id, w->size,
			w->pk_med, w->gl_med, w->pk_med / w->gl_med, 1000.0 / w->pk_med, 1000.0 / w->gl_med, sp);
	}
	fprintf(out, "\nmedian of %d repetitions of ~%u ms each side, interleaved. ratio = pktmem/glibc ns per op:\n"
		"below 1 pktmem is faster. size = bytes the glibc side allocates or copies.\n"
		"spread = (max-min)/median over the repetitions, in %%. Workloads: bench_mbuf --list.\n",
		opt.reps, opt.target_ms);
}

static void print_json(FILE *out)
{
	char host[64] = "";
	bool first = true;

	gethostname(host, sizeof(host) - 1);
	fprintf(out, "{\"bench\": \"bench_mbuf\", \"pktmem_version\": \"%s\", \"host\": \"%s\", \"cpus\": %ld,"
		" \"reps\": %d, \"target_ms\": %u, \"unit\": \"ns/op\", \"results\": [\n",
		pktmem_version_string(), host, sysconf(_SC_NPROCESSORS_ONLN), opt.reps, opt.target_ms);
	/* One result per line, as bench_mem writes them: bench/run.sh reads this with awk. */
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
			/* accepted for run.sh compatibility: nothing here is pinned */
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
	for (size_t i = 0; i < sizeof(flat_src); i++)
		flat_src[i] = (unsigned char)(i * 7 + 1);

	if (table)
		fprintf(table, "bench_mbuf: pktmem %s mbufs vs glibc malloc/memcpy, %ld CPUs, %d reps x ~%u ms\n\n",
			pktmem_version_string(), sysconf(_SC_NPROCESSORS_ONLN), opt.reps, opt.target_ms);
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
