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
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pktmem/mbuf.h>
#include <pktmem/skbuff.h>
#include <pktmem/pktmem.h>

#include "bench_harness.h"

#define PKT 1500
#define SHINFO SKB_DATA_ALIGN(sizeof(struct skb_shared_info))

/* ---------------------------------------------------------------- sides */

/* --- alloc + free */

static uint64_t skb_alloc_free(struct bench_side *s, uint64_t iters)
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
static struct sk_buff *malloc_skb(struct bench_side *s)
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

static uint64_t glibc_alloc_free(struct bench_side *s, uint64_t iters)
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

static uint64_t skb_fclone(struct bench_side *s, uint64_t iters)
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

static uint64_t glibc_clone(struct bench_side *s, uint64_t iters)
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

static uint64_t skb_push_pull(struct bench_side *s, uint64_t iters)
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

static uint64_t glibc_push_pull(struct bench_side *s, uint64_t iters)
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

static uint64_t skb_round_trip(struct bench_side *s, uint64_t iters)
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

static uint64_t glibc_round_trip(struct bench_side *s, uint64_t iters)
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

static struct bench_workload workloads[] = {
	{ .id = "alloc_free", .size = PKT, .pk_run = skb_alloc_free, .peer_run = glibc_alloc_free,
	  .what = "alloc_skb+kfree_skb vs malloc struct+data, free both" },
	{ .id = "fclone_clone", .size = PKT, .pk_run = skb_fclone, .peer_run = glibc_clone,
	  .what = "alloc_skb_fclone+skb_clone+2 frees vs malloc skb+malloc clone, refcounted, 3 frees" },
	{ .id = "push_pull", .size = PKT, .pk_run = skb_push_pull, .peer_run = glibc_push_pull,
	  .what = "skb_push 14+skb_pull 14 vs malloc+memcpy prepend, pointer take-off" },
	{ .id = "mbuf_skb_mbuf", .size = 2300, .pk_run = skb_round_trip, .peer_run = glibc_round_trip,
	  .what = "skb_from_mbuf+m_from_skb+frees (3 segs) vs gather+scatter copies" },
};

/* Nothing of ours may be left in use after a workload. */
static int leaked(struct bench_workload *w, struct bench_side *pk, struct bench_side *gl)
{
	struct kmem_cache *c[] = { pktmem_skbuff_cache(), pktmem_skbuff_fclone_cache(), pktmem_skb_head_cache(PKT),
				   pktmem_skb_head_cache(NET_SKB_PAD + PKT) };
	struct pktmem_stats st;
	int bad = 0;

	(void)w, (void)pk, (void)gl;
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

/* ---------------------------------------------------------------- main */

/* The fixtures of mbuf_skb_mbuf: the chain (pktmem side) and its segments (glibc side). */
static int prepare(struct bench *b)
{
	(void)b;
	chain = make_chain();
	for (int k = 0; k < 3; k++) {
		seg[k] = malloc(seg_len[k]);
		if (!seg[k])
			die("malloc", "glibc");
		memset(seg[k], k + 1, seg_len[k]);
	}
	return 0;
}

static int finish(void)
{
	m_freem(chain);
	for (int k = 0; k < 3; k++)
		free(seg[k]);
	return 0;
}

int main(int argc, char **argv)
{
	static struct bench bench = {
		.name = "bench_skb",
		.versus = " vs glibc malloc",
		.footer = ". ratio = pktmem/glibc ns per op:\n"
			  "below 1 pktmem is faster. Mop/s = 1000/ns. spread = (max-min)/median over the repetitions, in %.\n"
			  "One op = the whole sequence of the row (e.g. alloc+clone+2 frees). glibc sides: see the top of bench_skb.c.\n",
		.workloads = workloads,
		.nr_workloads = sizeof(workloads) / sizeof(workloads[0]),
		.prepare = prepare,
		.teardown = leaked,
		.finish = finish,
	};

	return bench_main(&bench, argc, argv);
}
