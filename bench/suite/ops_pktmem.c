/*
 * ops_pktmem.c — the pktmem side of every row, the glibc-malloc-based
 * equivalents bench_mbuf and bench_skb compare against, and the floors
 * (a pointer stack, memcpy). Also the pktmem memory rows and the leak
 * check run after every batch.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pktmem/mbuf.h>
#include <pktmem/pktmem.h>
#include <pktmem/skbuff.h>
#include <pktmem/slab.h>

#include "suite.h"

#define SHINFO SKB_DATA_ALIGN(sizeof(struct skb_shared_info))
#define HEADROOM 64

_Alignas(64) unsigned char flat_src[2048];
static _Alignas(64) unsigned char flat_dst[2048 + 64];
const unsigned char eth_hdr[HDR_LEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 8, 0 };

/* ---------------------------------------------------------------- leak check */

/*
 * Every cache's in_use, as recorded after the fixtures were made; after a
 * batch each must be back to it. Fixtures are made once, before the first
 * batch, and kept to the end.
 */
#define MAX_CACHES 64
static struct {
	char name[48];
	uint64_t in_use;
} base[MAX_CACHES];
static int nr_base;

static int record(const struct pktmem_stats *st, void *arg)
{
	(void)arg;
	if (st->kind == PKTMEM_STATS_CACHE && nr_base < MAX_CACHES) {
		snprintf(base[nr_base].name, sizeof(base[nr_base].name), "%s", st->name);
		base[nr_base++].in_use = st->in_use;
	}
	return 0;
}

int pktmem_baseline(void)
{
	nr_base = 0;
	return pktmem_stats_walk(record, NULL);
}

struct cmp {
	char *msg;
	size_t n;
	int bad;
};

static int compare(const struct pktmem_stats *st, void *arg)
{
	struct cmp *c = arg;
	uint64_t want = 0;

	if (st->kind != PKTMEM_STATS_CACHE)
		return 0;
	for (int i = 0; i < nr_base; i++)
		if (!strcmp(base[i].name, st->name))
			want = base[i].in_use;
	if (st->in_use != want && !c->bad) {
		snprintf(c->msg, c->n, "cache %s: %" PRIu64 " objects in use, %" PRIu64 " expected", st->name,
			 st->in_use, want);
		c->bad = 1;
	}
	return 0;
}

static int pk_check(void *ctx, char *msg, size_t n)
{
	struct cmp c = { msg, n, 0 };

	(void)ctx;
	pktmem_stats_walk(compare, &c);
	return c.bad;
}

/* ---------------------------------------------------------------- fixtures */

/* A packet of PKT_LEN bytes in one cluster, @lead bytes of headroom. */
static struct mbuf *cluster_packet(int lead)
{
	struct mbuf *m = m_gethdr(M_WAIT, MT_DATA);

	if (!m)
		die("m_gethdr", "fixture");
	MCLGET(m, M_WAIT);
	if (!(m->m_flags & M_EXT))
		die("MCLGET", "fixture");
	m->m_data += lead;
	m->m_len = m->m_pkthdr.len = PKT_LEN;
	memcpy(m->m_data, flat_src, PKT_LEN);
	return m;
}

/* A 2-mbuf packet: 54 bytes of internal data, then 1446 in a cluster. */
static struct mbuf *two_mbuf_packet(void)
{
	struct mbuf *m = m_gethdr(M_WAIT, MT_DATA), *n = m_get(M_WAIT, MT_DATA);

	if (!m || !n)
		die("m_get", "fixture");
	MCLGET(n, M_WAIT);
	if (!(n->m_flags & M_EXT))
		die("MCLGET", "fixture");
	m->m_len = 54;
	memcpy(m->m_data, flat_src, 54);
	n->m_len = PKT_LEN - 54;
	memcpy(n->m_data, flat_src + 54, PKT_LEN - 54);
	m->m_next = n;
	m->m_pkthdr.len = PKT_LEN;
	return m;
}

static struct sk_buff *skb_packet(bool fclone)
{
	struct sk_buff *skb = __alloc_skb(NET_SKB_PAD + PKT_LEN, GFP_KERNEL, fclone ? SKB_ALLOC_FCLONE : 0,
					  NUMA_NO_NODE);

	if (!skb)
		die("alloc_skb", "fixture");
	skb_reserve(skb, NET_SKB_PAD);
	memcpy(skb_put(skb, PKT_LEN), flat_src, PKT_LEN);
	return skb;
}

static struct {
	struct mbuf *cluster, *headroom, *chain;
	struct sk_buff *skb, *fskb, *push;
	struct kmem_cache *cache;
} fx;

/* ---------------------------------------------------------------- pktmem ops */

static uint64_t pk_mbuf_single(void *ctx, uint64_t iters)
{
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		struct mbuf *m = m_gethdr(M_DONTWAIT, MT_DATA);

		if (__builtin_expect(!m, 0))
			die("m_gethdr", "pktmem");
		MCLGET(m, M_DONTWAIT);
		if (__builtin_expect(!(m->m_flags & M_EXT), 0))
			die("MCLGET", "pktmem");
		touch(mtod(m, void *), i);
		m_freem(m);
	}
	return now_ns() - t0;
}

/* FreeBSD's one-call packet buffer: m_getcl (over the bulk path) + m_freem. */
static uint64_t pk_mgetcl_single(void *ctx, uint64_t iters)
{
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		struct mbuf *m = m_getcl(M_DONTWAIT, MT_DATA, M_PKTHDR);

		if (__builtin_expect(!m || !(m->m_flags & M_EXT), 0))
			die("m_getcl", "pktmem");
		touch(mtod(m, void *), i);
		m_freem(m);
	}
	return now_ns() - t0;
}

static uint64_t pk_mget_single(void *ctx, uint64_t iters)
{
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		struct mbuf *m = m_get(M_DONTWAIT, MT_DATA);

		if (__builtin_expect(!m, 0))
			die("m_get", "pktmem");
		touch(mtod(m, void *), i);
		m_free(m);
	}
	return now_ns() - t0;
}

/* What a driver's receive refill writes: an array of 32 packet buffers, then 32 m_freem. */
static uint64_t pk_mbuf_burst(void *ctx, uint64_t iters)
{
	struct mbuf *m[BURST];
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		for (int j = 0; j < BURST; j++) {
			m[j] = m_gethdr(M_DONTWAIT, MT_DATA);
			if (__builtin_expect(!m[j], 0))
				die("m_gethdr", "pktmem");
			MCLGET(m[j], M_DONTWAIT);
			if (__builtin_expect(!(m[j]->m_flags & M_EXT), 0))
				die("MCLGET", "pktmem");
		}
		for (int j = 0; j < BURST; j++)
			touch(mtod(m[j], void *), i);
		for (int j = 0; j < BURST; j++)
			m_freem(m[j]);
	}
	return now_ns() - t0;
}

/* The same burst with the bulk extension, as DPDK's side does it: m_getcl_bulk 32, write, m_freem_bulk 32. */
static uint64_t pk_mbuf_bulk(void *ctx, uint64_t iters)
{
	struct mbuf *m[BURST];
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		if (__builtin_expect(m_getcl_bulk(m, BURST, M_DONTWAIT, MT_DATA, M_PKTHDR) != BURST, 0))
			die("m_getcl_bulk", "pktmem");
		for (int j = 0; j < BURST; j++)
			touch(mtod(m[j], void *), i);
		m_freem_bulk(m, BURST);
	}
	return now_ns() - t0;
}

static uint64_t pk_skb_single(void *ctx, uint64_t iters)
{
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		struct sk_buff *skb = alloc_skb(PKT_LEN, GFP_ATOMIC);

		if (__builtin_expect(!skb, 0))
			die("alloc_skb", "pktmem");
		touch(skb->data, i);
		kfree_skb(skb);
	}
	return now_ns() - t0;
}

/* 32 alloc_skb linked through ->next, freed with one kfree_skb_list. */
static uint64_t pk_skb_burst(void *ctx, uint64_t iters)
{
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		struct sk_buff *list = NULL;

		for (int j = 0; j < BURST; j++) {
			struct sk_buff *skb = alloc_skb(PKT_LEN, GFP_ATOMIC);

			if (__builtin_expect(!skb, 0))
				die("alloc_skb", "pktmem");
			touch(skb->data, i);
			skb->next = list;
			list = skb;
		}
		kfree_skb_list(list);
	}
	return now_ns() - t0;
}

/* alloc_skb_bulk 32, write, kfree_skb_bulk 32: the sk_buff side of DPDK's alloc_bulk/free_bulk. */
static uint64_t pk_skb_bulk(void *ctx, uint64_t iters)
{
	struct sk_buff *skbs[BURST];
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		if (__builtin_expect(alloc_skb_bulk(skbs, BURST, PKT_LEN, GFP_ATOMIC) != BURST, 0))
			die("alloc_skb_bulk", "pktmem");
		for (int j = 0; j < BURST; j++)
			touch(skbs[j]->data, i);
		kfree_skb_bulk(skbs, BURST);
	}
	return now_ns() - t0;
}

static uint64_t pk_cache_single(void *ctx, uint64_t iters)
{
	struct kmem_cache *c = fx.cache;
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		void *p = kmem_cache_alloc(c, GFP_KERNEL);

		if (__builtin_expect(!p, 0))
			die("kmem_cache_alloc", "pktmem");
		touch(p, i);
		kmem_cache_free(c, p);
	}
	return now_ns() - t0;
}

static uint64_t pk_cache_bulk(void *ctx, uint64_t iters)
{
	struct kmem_cache *c = fx.cache;
	void *p[BURST];
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		if (__builtin_expect(kmem_cache_alloc_bulk(c, GFP_KERNEL, BURST, p) != BURST, 0))
			die("kmem_cache_alloc_bulk", "pktmem");
		for (int j = 0; j < BURST; j++)
			touch(p[j], i);
		kmem_cache_free_bulk(c, BURST, p);
	}
	return now_ns() - t0;
}

static uint64_t pk_kmalloc(void *ctx, uint64_t iters)
{
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		void *p = kmalloc(OBJ_SIZE, GFP_KERNEL);

		if (__builtin_expect(!p, 0))
			die("kmalloc", "pktmem");
		touch(p, i);
		kfree(p);
	}
	return now_ns() - t0;
}

static uint64_t pk_copypacket(void *ctx, uint64_t iters)
{
	struct mbuf *m = fx.cluster;
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		struct mbuf *c = m_copypacket(m, M_DONTWAIT);

		if (__builtin_expect(!c, 0))
			die("m_copypacket", "pktmem");
		escape(c);
		(void)*(volatile char *)mtod(c, char *); /* the data is shared: read it */
		m_freem(c);
	}
	return now_ns() - t0;
}

static uint64_t pk_skb_clone(void *ctx, uint64_t iters)
{
	struct sk_buff *skb = ctx;
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		struct sk_buff *c = skb_clone(skb, GFP_ATOMIC);

		if (__builtin_expect(!c, 0))
			die("skb_clone", "pktmem");
		escape(c);
		(void)*(volatile char *)c->data;
		kfree_skb(c);
	}
	return now_ns() - t0;
}

/* bench_skb's fclone row: alloc_skb_fclone + skb_clone + both frees. */
static uint64_t pk_fclone_full(void *ctx, uint64_t iters)
{
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		struct sk_buff *skb = alloc_skb_fclone(PKT_LEN, GFP_ATOMIC);

		if (__builtin_expect(!skb, 0))
			die("alloc_skb_fclone", "pktmem");
		touch(skb->data, i);
		struct sk_buff *c = skb_clone(skb, GFP_ATOMIC);

		if (__builtin_expect(!c, 0))
			die("skb_clone", "pktmem");
		escape(c);
		kfree_skb(c);
		kfree_skb(skb);
	}
	return now_ns() - t0;
}

static uint64_t pk_prepend(void *ctx, uint64_t iters)
{
	struct mbuf *m = fx.headroom;
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		M_PREPEND(m, HDR_LEN, M_DONTWAIT);
		if (__builtin_expect(!m, 0))
			die("M_PREPEND", "pktmem");
		memcpy(mtod(m, void *), eth_hdr, HDR_LEN);
		touch(mtod(m, void *), i);
		m_adj(m, HDR_LEN);
	}
	fx.headroom = m;
	return now_ns() - t0;
}

static uint64_t pk_push_pull(void *ctx, uint64_t iters)
{
	struct sk_buff *skb = fx.push;
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		unsigned char *h = skb_push(skb, HDR_LEN);

		memcpy(h, eth_hdr, HDR_LEN);
		touch(h, i);
		if (__builtin_expect(!skb_pull(skb, HDR_LEN), 0))
			die("skb_pull", "pktmem");
		escape(skb->data);
	}
	return now_ns() - t0;
}

static uint64_t pk_copydata(void *ctx, uint64_t iters)
{
	struct mbuf *m = fx.chain;
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		m_copydata(m, 0, PKT_LEN, flat_dst);
		escape(flat_dst);
	}
	return now_ns() - t0;
}

static uint64_t pk_copyback(void *ctx, uint64_t iters)
{
	struct mbuf *m = fx.chain;
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		escape(flat_src);
		m_copyback(m, 0, PKT_LEN, flat_src);
		escape(m);
	}
	return now_ns() - t0;
}

/* --- cross-thread: packet buffers and cache objects through the ring */

static void pk_mbuf_alloc(void *ctx, void **o, unsigned n)
{
	(void)ctx;
	for (unsigned j = 0; j < n; j++) {
		struct mbuf *m = m_gethdr(M_DONTWAIT, MT_DATA);

		if (__builtin_expect(!m, 0))
			die("m_gethdr", "pktmem");
		MCLGET(m, M_DONTWAIT);
		if (__builtin_expect(!(m->m_flags & M_EXT), 0))
			die("MCLGET", "pktmem");
		touch(mtod(m, void *), j);
		o[j] = m;
	}
}

static void pk_mbuf_free(void *ctx, void **o, unsigned n)
{
	(void)ctx;
	for (unsigned j = 0; j < n; j++)
		m_freem(o[j]);
}

/* The ring's slots are void *; the mbuf pointers are stored through them as DPDK's side does. */
static void pk_mbuf_alloc_b(void *ctx, void **o, unsigned n)
{
	(void)ctx;
	if (__builtin_expect(m_getcl_bulk((struct mbuf **)o, (int)n, M_DONTWAIT, MT_DATA, M_PKTHDR) != (int)n, 0))
		die("m_getcl_bulk", "pktmem");
	for (unsigned j = 0; j < n; j++)
		touch(mtod((struct mbuf *)o[j], void *), j);
}

static void pk_mbuf_free_b(void *ctx, void **o, unsigned n)
{
	(void)ctx;
	m_freem_bulk((struct mbuf **)o, (int)n);
}

static void pk_cache_alloc_b(void *ctx, void **o, unsigned n)
{
	(void)ctx;
	if (__builtin_expect(kmem_cache_alloc_bulk(fx.cache, GFP_KERNEL, n, o) != (int)n, 0))
		die("kmem_cache_alloc_bulk", "pktmem");
	for (unsigned j = 0; j < n; j++)
		touch(o[j], j);
}

static void pk_cache_free_b(void *ctx, void **o, unsigned n)
{
	(void)ctx;
	kmem_cache_free_bulk(fx.cache, n, o);
}

static const struct xfer xf_mbuf = { pk_mbuf_alloc, pk_mbuf_free, NULL, "pktmem" };
static const struct xfer xf_mbuf_bulk = { pk_mbuf_alloc_b, pk_mbuf_free_b, NULL, "pktmem" };
static const struct xfer xf_cache = { pk_cache_alloc_b, pk_cache_free_b, NULL, "pktmem" };

static uint64_t pk_xthread_mbuf(void *ctx, uint64_t iters)
{
	(void)ctx;
	return xring_run(&xf_mbuf, iters, &pthread_runner);
}

static uint64_t pk_xthread_mbuf_bulk(void *ctx, uint64_t iters)
{
	(void)ctx;
	return xring_run(&xf_mbuf_bulk, iters, &pthread_runner);
}

static uint64_t pk_xthread_cache(void *ctx, uint64_t iters)
{
	(void)ctx;
	return xring_run(&xf_cache, iters, &pthread_runner);
}

static uint64_t pk_pair(void *ctx, uint64_t iters)
{
	(void)ctx;
	return pair_run(pk_mbuf_single, NULL, iters, &pthread_runner);
}

/* ---------------------------------------------------------------- glibc ops */

static uint64_t gl_malloc(void *ctx, uint64_t iters)
{
	size_t size = (size_t)(uintptr_t)ctx;
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		void *p = malloc(size);

		if (__builtin_expect(!p, 0))
			die("malloc", "glibc");
		touch(p, i);
		free(p);
	}
	return now_ns() - t0;
}

static uint64_t gl_malloc_burst(void *ctx, uint64_t iters)
{
	void *p[BURST];
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		for (int j = 0; j < BURST; j++)
			if (__builtin_expect(!(p[j] = malloc(OBJ_SIZE)), 0))
				die("malloc", "glibc");
		for (int j = 0; j < BURST; j++)
			touch(p[j], i);
		for (int j = 0; j < BURST; j++)
			free(p[j]);
	}
	return now_ns() - t0;
}

/* An sk_buff built from malloc, initialised as __alloc_skb does (bench_skb's glibc side). */
static struct sk_buff *malloc_skb(void)
{
	struct sk_buff *skb = malloc(sizeof(*skb));
	unsigned char *data = malloc(SKB_DATA_ALIGN(PKT_LEN) + SHINFO);

	if (__builtin_expect(!skb || !data, 0))
		die("malloc", "glibc");
	memset(skb, 0, sizeof(*skb));
	memset(data + SKB_DATA_ALIGN(PKT_LEN), 0, sizeof(struct skb_shared_info));
	skb->head = skb->data = data;
	skb->end = SKB_DATA_ALIGN(PKT_LEN);
	skb->users = 1;
	return skb;
}

static uint64_t gl_skb(void *ctx, uint64_t iters)
{
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		struct sk_buff *skb = malloc_skb();

		touch(skb->data, i);
		free(skb->head);
		free(skb);
	}
	return now_ns() - t0;
}

/* A malloc'd skb + a malloc'd clone sharing its data by an atomic count; three frees. */
static uint64_t gl_skb_clone(void *ctx, uint64_t iters)
{
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		struct sk_buff *skb = malloc_skb();
		_Atomic int *dataref = (_Atomic int *)(skb->head + skb->end);

		atomic_store_explicit(dataref, 1, memory_order_relaxed);
		touch(skb->data, i);
		struct sk_buff *c = malloc(sizeof(*c));

		if (__builtin_expect(!c, 0))
			die("malloc", "glibc");
		memcpy(c, skb, sizeof(*c));
		atomic_fetch_add_explicit(dataref, 1, memory_order_relaxed);
		escape(c);
		if (atomic_fetch_sub_explicit(dataref, 1, memory_order_acq_rel) == 1)
			free(c->head);
		free(c);
		if (atomic_fetch_sub_explicit(dataref, 1, memory_order_acq_rel) == 1)
			free(skb->head);
		free(skb);
	}
	return now_ns() - t0;
}

/* A flat buffer cannot be shared, so its "copy" is a copy: malloc + memcpy 1500 + free. */
static uint64_t gl_copy_free(void *ctx, uint64_t iters)
{
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		void *p = malloc(PKT_LEN);

		if (__builtin_expect(!p, 0))
			die("malloc", "glibc");
		escape(flat_src);
		memcpy(p, flat_src, PKT_LEN);
		escape(p);
		(void)*(volatile char *)p;
		free(p);
	}
	return now_ns() - t0;
}

/*
 * A flat packet without headroom: prepending moves it 14 bytes up and
 * writes the header; taking the header off is a pointer bump, and the next
 * operation moves the packet back down. Two operations per iteration.
 */
static uint64_t gl_memmove(void *ctx, uint64_t iters)
{
	unsigned char *buf = flat_dst;
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		memmove(buf + HDR_LEN, buf, PKT_LEN);
		memcpy(buf, eth_hdr, HDR_LEN);
		touch(buf, i);
		memmove(buf, buf + HDR_LEN, PKT_LEN);
		memcpy(buf + PKT_LEN, eth_hdr, HDR_LEN);
		touch(buf, i + 1);
	}
	return now_ns() - t0;
}

/* bench_skb's push_pull glibc side: no headroom, so malloc 1514 + header + memcpy + free the old. */
static uint64_t gl_skb_prepend(void *ctx, uint64_t iters)
{
	unsigned char *buf = malloc(PKT_LEN), *data = buf;
	size_t len = PKT_LEN;

	(void)ctx;
	if (!buf)
		die("malloc", "glibc");
	memcpy(buf, flat_src, PKT_LEN);
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		unsigned char *nb = malloc(len + HDR_LEN);

		if (__builtin_expect(!nb, 0))
			die("malloc", "glibc");
		memcpy(nb, eth_hdr, HDR_LEN);
		touch(nb, i);
		memcpy(nb + HDR_LEN, data, len);
		free(buf);
		buf = nb;
		data = nb + HDR_LEN; /* take the header off: move the start */
		escape(data);
	}
	uint64_t t = now_ns() - t0;

	free(buf);
	return t;
}

static uint64_t gl_memcpy(void *ctx, uint64_t iters)
{
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		escape(flat_src);
		memcpy(flat_dst, flat_src, PKT_LEN);
		escape(flat_dst);
	}
	return now_ns() - t0;
}

static void gl_alloc_b(void *ctx, void **o, unsigned n)
{
	(void)ctx;
	for (unsigned j = 0; j < n; j++)
		if (__builtin_expect(!(o[j] = malloc(OBJ_SIZE)), 0))
			die("malloc", "glibc");
	for (unsigned j = 0; j < n; j++)
		touch(o[j], j);
}

static void gl_free_b(void *ctx, void **o, unsigned n)
{
	(void)ctx;
	for (unsigned j = 0; j < n; j++)
		free(o[j]);
}

static const struct xfer xf_glibc = { gl_alloc_b, gl_free_b, NULL, "glibc" };

static uint64_t gl_xthread(void *ctx, uint64_t iters)
{
	(void)ctx;
	return xring_run(&xf_glibc, iters, &pthread_runner);
}

/* ---------------------------------------------------------------- floors */

/*
 * The least an allocator can do: pop a pointer off a stack and push it
 * back. The stack is refilled so it never runs dry; its pointers are real
 * 2 KiB buffers, touched as every other row touches its objects.
 */
#define STACK_DEPTH 256
static struct {
	void *slot[STACK_DEPTH];
	unsigned top;
} stack;

static uint64_t fl_stack_single(void *ctx, uint64_t iters)
{
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		void *p = stack.slot[--stack.top];

		touch(p, i);
		stack.slot[stack.top++] = p;
		escape(&stack);
	}
	return now_ns() - t0;
}

static uint64_t fl_stack_burst(void *ctx, uint64_t iters)
{
	void *p[BURST];
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		stack.top -= BURST;
		memcpy(p, &stack.slot[stack.top], sizeof(p));
		for (int j = 0; j < BURST; j++)
			touch(p[j], i);
		memcpy(&stack.slot[stack.top], p, sizeof(p));
		stack.top += BURST;
		escape(&stack);
	}
	return now_ns() - t0;
}

#if defined(__x86_64__)
typedef long long v4di __attribute__((vector_size(32), aligned(1)));

/* 1500 bytes with 32-byte AVX2 loads and stores, the tail with one overlapping pair. */
__attribute__((target("avx2"))) static void copy_avx2(unsigned char *d, const unsigned char *s, size_t n)
{
	size_t i = 0;

	for (; i + 32 <= n; i += 32)
		*(v4di *)(d + i) = *(const v4di *)(s + i);
	if (i < n)
		*(v4di *)(d + n - 32) = *(const v4di *)(s + n - 32);
}

static uint64_t fl_memcpy_avx2(void *ctx, uint64_t iters)
{
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		escape(flat_src);
		copy_avx2(flat_dst, flat_src, PKT_LEN);
		escape(flat_dst);
	}
	return now_ns() - t0;
}
#endif

/* ---------------------------------------------------------------- memory rows */

struct mapped {
	uint64_t bytes;   /* taken from the system */
	uint64_t objects; /* in use, in object bytes (in_use x the cache's object size) */
};

static int sum_mapped(const struct pktmem_stats *st, void *arg)
{
	struct mapped *m = arg;

	if (st->kind == PKTMEM_STATS_CACHE) {
		m->bytes += st->bytes_mapped;
		m->objects += st->in_use * st->obj_size;
	}
	return 0;
}

static struct mapped mapped_now(void)
{
	struct mapped m = { 0, 0 };

	pktmem_stats_walk(sum_mapped, &m);
	return m;
}

/*
 * Hold @n packets of @len bytes at once and divide the bytes every cache
 * took from the system by @n. @config: 0 mbuf 1500, 1 mbuf 200, 2 skb
 * 1500, 3 skb 200. Run in a fresh process (main.c forks for each), so that
 * no earlier packet left memory behind in a cache.
 */
void mem_pktmem_measure(unsigned n, int config)
{
	static const unsigned lens[2] = { PKT_LEN, SMALL_PKT };

	int kind = config / 2;
	unsigned len = lens[config % 2];
	void **held = calloc(n, sizeof(*held));
	struct mapped before = mapped_now(), after;
	struct mem_row r = { .side = "pktmem", .payload = len };

	if (!held)
		die("calloc", "memory");
	for (unsigned i = 0; i < n; i++) {
		if (kind == 0) {
			struct mbuf *m = m_gethdr(M_WAIT, MT_DATA);

			if (!m)
				die("m_gethdr", "memory");
			if (len > MHLEN) {
				MCLGET(m, M_WAIT);
				if (!(m->m_flags & M_EXT))
					die("MCLGET", "memory");
			}
			memcpy(mtod(m, void *), flat_src, len);
			m->m_len = m->m_pkthdr.len = (int)len;
			held[i] = m;
		} else {
			struct sk_buff *skb = alloc_skb(len, GFP_KERNEL);

			if (!skb)
				die("alloc_skb", "memory");
			memcpy(skb_put(skb, len), flat_src, len);
			held[i] = skb;
		}
	}
	after = mapped_now();
	r.held = (double)(after.bytes - before.bytes) / n;
	r.objects = (double)(after.objects - before.objects) / n;
	/* The descriptor: every object byte that is not the area packet data goes in. */
	if (kind == 0) {
		unsigned area = len > MHLEN ? MCLBYTES : MHLEN;

		r.header = r.objects - area;
		snprintf(r.what, sizeof(r.what), "mbuf, %u-byte packet", len);
		snprintf(r.how, sizeof(r.how), "%u held; objects - data area (%s, %u B); mbuf object %u B", n,
			 len > MHLEN ? "cluster" : "MHLEN inside the mbuf", area, kmem_cache_size(pktmem_mbuf_cache()));
	} else {
		unsigned head = kmem_cache_size(pktmem_skb_head_cache(len)), area = head - (unsigned)SHINFO;

		r.header = r.objects - area;
		snprintf(r.what, sizeof(r.what), "sk_buff, %u-byte packet", len);
		snprintf(r.how, sizeof(r.how),
			 "%u held; objects - data area (head object %u B - shared info %zu B); sk_buff %u B", n, head,
			 (size_t)SHINFO, kmem_cache_size(pktmem_skbuff_cache()));
	}
	mem_add(&r);
	for (unsigned i = 0; i < n; i++) {
		if (kind == 0)
			m_freem(held[i]);
		else
			kfree_skb(held[i]);
	}
	free(held);
}

/* ---------------------------------------------------------------- registration */

void ops_pktmem_register(void)
{
	static const struct op ops[] = {
		{ "pk.mbuf_single", "m_gethdr+MCLGET+write+m_freem", pk_mbuf_single, NULL, 1, false, pk_check },
		{ "pk.mbuf_burst32", "32x(m_gethdr+MCLGET) into an array, write, 32x m_freem", pk_mbuf_burst, NULL,
		  BURST, false, pk_check },
		{ "pk.mbuf_bulk32", "m_getcl_bulk 32, write, m_freem_bulk 32", pk_mbuf_bulk, NULL, BURST, false,
		  pk_check },
		{ "pk.mgetcl_single", "m_getcl(M_PKTHDR)+write+m_freem", pk_mgetcl_single, NULL, 1, false,
		  pk_check },
		{ "pk.mget_single", "m_get+write+m_free (no cluster)", pk_mget_single, NULL, 1, false, pk_check },
		{ "pk.skb_single", "alloc_skb(1500)+write+kfree_skb", pk_skb_single, NULL, 1, false, pk_check },
		{ "pk.skb_burst32", "32x alloc_skb(1500) linked by ->next, write, kfree_skb_list", pk_skb_burst, NULL,
		  BURST, false, pk_check },
		{ "pk.skb_bulk32", "alloc_skb_bulk 32 (1500), write, kfree_skb_bulk 32", pk_skb_bulk, NULL, BURST,
		  false, pk_check },
		{ "pk.cache_single", "kmem_cache_alloc+write+kmem_cache_free (2 KiB objects)", pk_cache_single, NULL,
		  1, false, pk_check },
		{ "pk.cache_bulk32", "kmem_cache_alloc_bulk 32 + write + kmem_cache_free_bulk 32 (2 KiB)",
		  pk_cache_bulk, NULL, BURST, false, pk_check },
		{ "pk.kmalloc2k", "kmalloc(2048)+write+kfree", pk_kmalloc, NULL, 1, false, pk_check },
		{ "pk.copypacket", "m_copypacket of a 1500-byte cluster packet + read + m_freem", pk_copypacket, NULL,
		  1, false, pk_check },
		{ "pk.skb_clone", "skb_clone of a 1500-byte alloc_skb skb + read + kfree_skb", pk_skb_clone, NULL, 1,
		  false, pk_check },
		{ "pk.skb_fclone", "skb_clone of a 1500-byte alloc_skb_fclone skb + read + kfree_skb",
		  pk_skb_clone, NULL, 1, false, pk_check },
		{ "pk.fclone_full", "alloc_skb_fclone(1500)+write+skb_clone+2x kfree_skb", pk_fclone_full, NULL, 1,
		  false, pk_check },
		{ "pk.prepend_adj", "M_PREPEND 14 (headroom)+write header+m_adj 14", pk_prepend, NULL, 1, false,
		  pk_check },
		{ "pk.push_pull", "skb_push 14+write header+skb_pull 14", pk_push_pull, NULL, 1, false, pk_check },
		{ "pk.copydata", "m_copydata 1500 of a 54+1446 chain", pk_copydata, NULL, 1, false, pk_check },
		{ "pk.copyback", "m_copyback 1500 into a 54+1446 chain", pk_copyback, NULL, 1, false, pk_check },
		{ "pk.xthread_mbuf", "A: m_gethdr+MCLGET x32 -> SPSC ring -> B: m_freem x32 (per buffer)",
		  pk_xthread_mbuf, NULL, BURST, true, pk_check },
		{ "pk.xthread_mbuf_bulk", "A: m_getcl_bulk 32 -> SPSC ring -> B: m_freem_bulk 32 (per buffer)",
		  pk_xthread_mbuf_bulk, NULL, BURST, true, pk_check },
		{ "pk.xthread_cache", "A: kmem_cache_alloc_bulk 32 -> ring -> B: kmem_cache_free_bulk 32",
		  pk_xthread_cache, NULL, BURST, true, pk_check },
		{ "pk.scale1", "mbuf_single on one thread (ns per op)", pk_mbuf_single, NULL, 1, false, pk_check },
		{ "pk.scale2", "mbuf_single on two pinned threads at once (wall ns per op of both)", pk_pair,
		  NULL, 2, true, pk_check },
		{ "gl.malloc2k", "malloc(2048)+write+free", gl_malloc, (void *)(uintptr_t)OBJ_SIZE, 1, false, NULL },
		{ "gl.malloc256", "malloc(256)+write+free", gl_malloc, (void *)(uintptr_t)256, 1, false, NULL },
		{ "gl.malloc2k_burst32", "32x malloc(2048), write, 32x free", gl_malloc_burst, NULL, BURST, false,
		  NULL },
		{ "gl.skb", "malloc sk_buff + malloc data+shinfo, init as __alloc_skb, 2 frees", gl_skb, NULL, 1,
		  false, NULL },
		{ "gl.skb_clone", "malloc skb + malloc clone sharing data (atomic ref), 3 frees", gl_skb_clone, NULL,
		  1, false, NULL },
		{ "gl.copy", "malloc(1500)+memcpy 1500+read+free", gl_copy_free, NULL, 1, false, NULL },
		{ "gl.memmove", "memmove 1500 by 14 + write 14 (flat packet, no headroom)", gl_memmove, NULL, 2,
		  false, NULL },
		{ "gl.skb_prepend", "malloc 1514 + write 14 + memcpy 1500 + free old", gl_skb_prepend, NULL, 1, false,
		  NULL },
		{ "gl.memcpy1500", "glibc memcpy of 1500 bytes", gl_memcpy, NULL, 1, false, NULL },
		{ "gl.xthread", "A: malloc(2048) x32 -> SPSC ring -> B: free x32 (per buffer)", gl_xthread, NULL,
		  BURST, true, NULL },
		{ "fl.stack_single", "pointer stack pop+write+push", fl_stack_single, NULL, 1, false, NULL },
		{ "fl.stack_burst32", "pointer stack pop 32+write+push 32", fl_stack_burst, NULL, BURST, false,
		  NULL },
	};
	struct op o;

	for (size_t i = 0; i < sizeof(flat_src); i++)
		flat_src[i] = (unsigned char)(i * 7 + 1);
	memcpy(flat_dst, flat_src, sizeof(flat_src));
	for (unsigned i = 0; i < STACK_DEPTH; i++)
		if (!(stack.slot[stack.top++] = malloc(OBJ_SIZE)))
			die("malloc", "floor");

	fx.cache = kmem_cache_create("bench_suite_2k", OBJ_SIZE, 0, 0, NULL);
	if (!fx.cache)
		die("kmem_cache_create", "fixture");
	fx.cluster = cluster_packet(0);
	fx.headroom = cluster_packet(HEADROOM);
	fx.chain = two_mbuf_packet();
	fx.skb = skb_packet(false);
	fx.fskb = skb_packet(true);
	fx.push = skb_packet(false);

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		o = ops[i];
		if (!strcmp(o.id, "pk.skb_clone"))
			o.ctx = fx.skb;
		else if (!strcmp(o.id, "pk.skb_fclone"))
			o.ctx = fx.fskb;
		op_add(&o);
	}
#if defined(__x86_64__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx2")) {
		o = (struct op){ "fl.memcpy_avx2", "1500-byte copy, 32-byte AVX2 loop", fl_memcpy_avx2, NULL, 1,
				 false, NULL };
		op_add(&o);
	}
#endif
}
