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
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pktmem/mbuf.h>
#include <pktmem/pktmem.h>
#include <pktmem/slab.h>

#include "bench_harness.h"

#define PKT_LEN  1500
#define HDR_LEN  14
#define HEADROOM 64

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
 * Each op performs @iters operations and returns the nanoseconds they took.
 * The pktmem side's ctx is its fixture packet, where the workload has one.
 */

/* --- pktmem */

static uint64_t pk_get_free(struct bench_side *s, uint64_t iters)
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

static uint64_t pk_hdr_cluster(struct bench_side *s, uint64_t iters)
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

static uint64_t pk_copypacket(struct bench_side *s, uint64_t iters)
{
	struct mbuf *m = s->ctx;
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

static uint64_t pk_prepend_adj(struct bench_side *s, uint64_t iters)
{
	static const unsigned char eth[HDR_LEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 8, 0 };
	struct mbuf *m = s->ctx;
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		M_PREPEND(m, HDR_LEN, M_DONTWAIT);
		if (__builtin_expect(!m, 0))
			die("M_PREPEND", s->label);
		memcpy(mtod(m, void *), eth, HDR_LEN);
		touch(mtod(m, void *), i);
		m_adj(m, HDR_LEN);
	}
	s->ctx = m;
	return now_ns() - t0;
}

static uint64_t pk_pullup(struct bench_side *s, uint64_t iters)
{
	struct mbuf *m = s->ctx, *n = m->m_next;
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

static uint64_t pk_copydata(struct bench_side *s, uint64_t iters)
{
	struct mbuf *m = s->ctx;
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		m_copydata(m, 0, PKT_LEN, flat_dst);
		escape(flat_dst);
	}
	return now_ns() - t0;
}

static uint64_t pk_copyback(struct bench_side *s, uint64_t iters)
{
	struct mbuf *m = s->ctx;
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		escape(flat_src);
		m_copyback(m, 0, PKT_LEN, flat_src);
		escape(m);
	}
	return now_ns() - t0;
}

/* --- glibc */

static uint64_t gl_malloc_copy_free(struct bench_side *s, uint64_t iters)
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

static uint64_t gl_memmove(struct bench_side *s, uint64_t iters)
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

static uint64_t gl_memcpy(struct bench_side *s, uint64_t iters)
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

/* The pktmem side's fixture packet (a workload's arg). */
enum { FIX_NONE, FIX_CLUSTER, FIX_CLUSTER_HEADROOM, FIX_CHAIN_20, FIX_CHAIN_54 };

/* size: bytes the glibc side allocates or copies */
static struct bench_workload workloads[] = {
	{ .id = "get_free", .size = 256, .pk_run = pk_get_free, .peer_run = bench_malloc_free,
	  .what = "m_get+m_free vs malloc(256)+free" },
	{ .id = "hdr_cluster", .size = 2048, .pk_run = pk_hdr_cluster, .peer_run = bench_malloc_free,
	  .what = "m_gethdr+MCLGET+m_freem vs malloc(2048)+free" },
	{ .id = "copypacket", .size = PKT_LEN, .pk_run = pk_copypacket, .peer_run = gl_malloc_copy_free,
	  .arg = FIX_CLUSTER, .what = "m_copypacket(1500-byte cluster pkt)+m_freem vs malloc+memcpy(1500)+free" },
	{ .id = "prepend_adj", .size = PKT_LEN, .pk_run = pk_prepend_adj, .peer_run = gl_memmove,
	  .arg = FIX_CLUSTER_HEADROOM,
	  .what = "M_PREPEND 14 (headroom)+write+m_adj 14 vs memmove(1500) by 14+write 14" },
	{ .id = "pullup40", .size = 40, .pk_run = pk_pullup, .peer_run = gl_memcpy, .arg = FIX_CHAIN_20,
	  .what = "m_pullup 40 of 20+1480 chain (+3-field reset) vs memcpy(40)" },
	{ .id = "copydata", .size = PKT_LEN, .pk_run = pk_copydata, .peer_run = gl_memcpy, .arg = FIX_CHAIN_54,
	  .what = "m_copydata 1500 of 54+1446 chain vs memcpy(1500)" },
	{ .id = "copyback", .size = PKT_LEN, .pk_run = pk_copyback, .peer_run = gl_memcpy, .arg = FIX_CHAIN_54,
	  .what = "m_copyback 1500 into 54+1446 chain vs memcpy(1500)" },
};

static void setup(struct bench_workload *w, struct bench_side *pk, struct bench_side *gl)
{
	(void)gl;
	switch (w->arg) {
	case FIX_CLUSTER:
		pk->ctx = cluster_packet(PKT_LEN, 0);
		break;
	case FIX_CLUSTER_HEADROOM:
		pk->ctx = cluster_packet(PKT_LEN, HEADROOM);
		break;
	case FIX_CHAIN_20:
		pk->ctx = two_mbuf_packet(20, PKT_LEN - 20);
		break;
	case FIX_CHAIN_54:
		pk->ctx = two_mbuf_packet(54, PKT_LEN - 54);
		break;
	}
}

/* Free the fixture and check that nothing is left allocated. */
static int teardown(struct bench_workload *w, struct bench_side *pk, struct bench_side *gl)
{
	unsigned long long mbufs, clusters;
	struct pktmem_stats st;

	(void)gl;
	m_freem(pk->ctx);
	pk->ctx = NULL;
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

/* ---------------------------------------------------------------- main */

static bool option(int argc, char **argv, int *i)
{
	(void)argc;
	/* --no-pin: accepted for run.sh compatibility: nothing here is pinned */
	return !strcmp(argv[*i], "--no-pin");
}

static int prepare(struct bench *b)
{
	(void)b;
	for (size_t i = 0; i < sizeof(flat_src); i++)
		flat_src[i] = (unsigned char)(i * 7 + 1);
	return 0;
}

int main(int argc, char **argv)
{
	static struct bench bench = {
		.name = "bench_mbuf",
		.versus = " mbufs vs glibc malloc/memcpy",
		.footer = ". ratio = pktmem/glibc ns per op:\n"
			  "below 1 pktmem is faster. size = bytes the glibc side allocates or copies.\n"
			  "spread = (max-min)/median over the repetitions, in %. Workloads: bench_mbuf --list.\n",
		.workloads = workloads,
		.nr_workloads = sizeof(workloads) / sizeof(workloads[0]),
		.even_iters = true, /* the memmove side works in pairs */
		.option = option,
		.prepare = prepare,
		.setup = setup,
		.teardown = teardown,
	};

	return bench_main(&bench, argc, argv);
}
