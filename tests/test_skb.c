/*
 * <pktmem/skbuff.h> as a specification, single-threaded: every function
 * with its effect on the bytes and on the reference counts (the skb's
 * users, the head's storage references, the fragments' page counts),
 * __alloc_skb's contract (no headroom, tailroom >= size, users 1, NULL on
 * failure) under fault injection at every allocation point, the fclone
 * companion, the emergency reserve, NUMA placement, atomic context, and
 * the conversions between mbuf chains and sk_buffs in both directions with
 * copy-on-write after them. Threads: test_skb_mt.c.
 *
 * The mbuf and skb headers are included in this one translation unit on
 * purpose: programs use both.
 *
 * Every test ends with no object left in any cache (skbs, fclone pairs,
 * heads, pages, page descriptors, clusters, mbufs, storage headers,
 * kmalloc) and every MEXTADD buffer released exactly once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <pktmem/mbuf.h>
#include <pktmem/skbuff.h>
#include <pktmem/pktmem.h>

#include "check.h"

#define MPOL_F_NODE 1
#define MPOL_F_ADDR 2

/* What the head keeps at its end (the header does not export it). */
#define SHINFO_SIZE SKB_DATA_ALIGN(sizeof(struct skb_shared_info))

/* ------------------------------------------------------------ helpers */

static inline uint8_t pat(long seed, long i)
{
	return (uint8_t)((i * 7 + seed * 31 + 3) & 0xff);
}

static void fill(void *p, size_t n, long seed, long from)
{
	for (size_t i = 0; i < n; i++)
		((uint8_t *)p)[i] = pat(seed, from + (long)i);
}

static int node_of_address(void *p)
{
	int node = -1;

	if (syscall(SYS_get_mempolicy, &node, NULL, 0UL, p, (unsigned long)(MPOL_F_NODE | MPOL_F_ADDR)) != 0)
		return -2;
	return node;
}

static unsigned long long baseline;
static int extadd_freed;

static void extadd_free(struct mbuf *m, void *buf, size_t size, void *arg)
{
	(void)m, (void)size, (void)arg;
	extadd_freed++;
	free(buf);
}

static uint64_t cache_allocs(struct kmem_cache *c)
{
	struct pktmem_stats st;

	kmem_cache_stats(c, &st);
	return st.allocs;
}

/* Every test ends here: nothing of ours is left in use anywhere. */
static void check_clean(void)
{
	CHECK_EQ(cache_in_use(pktmem_skbuff_cache()), 0);
	CHECK_EQ(cache_in_use(pktmem_skbuff_fclone_cache()), 0);
	CHECK_EQ(cache_in_use(pktmem_skb_head_cache(1500)), 0);
	CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), 0);
	CHECK_EQ(cache_in_use(pktmem_cluster_cache()), 0);
	CHECK_EQ(all_in_use(), baseline);
}

/*
 * The packet's bytes, gathered without skb_copy_bits(): head, then each
 * fragment through its page, then each frag_list member, recursively.
 */
static unsigned gather(const struct sk_buff *skb, uint8_t *out)
{
	const struct skb_shared_info *sh = skb_shinfo(skb);
	unsigned n = skb_headlen(skb);

	memcpy(out, skb->data, n);
	for (int i = 0; i < sh->nr_frags; i++) {
		memcpy(out + n, skb_frag_address(&sh->frags[i]), skb_frag_size(&sh->frags[i]));
		n += skb_frag_size(&sh->frags[i]);
	}
	for (const struct sk_buff *f = sh->frag_list; f; f = f->next)
		n += gather(f, out + n);
	return n;
}

/* The bytes of an mbuf chain, walking it by hand. */
static int mbuf_gather(const struct mbuf *m, uint8_t *out)
{
	int n = 0;

	for (; m; m = m->m_next) {
		memcpy(out + n, m->m_data, (size_t)m->m_len);
		n += m->m_len;
	}
	return n;
}

/* A page of pattern @seed (byte i of the page is pat(seed, i)). */
static struct page *pattern_page(long seed)
{
	struct page *pg = alloc_page(GFP_KERNEL);

	if (pg)
		fill(page_address(pg), PAGE_SIZE, seed, 0);
	return pg;
}

/*
 * An skb with @headroom, @headlen linear bytes (pattern 1) and up to two
 * fragments: @f1 bytes at offset 100 of a page of pattern 2, @f2 bytes at
 * offset 7 of a page of pattern 3. 64 bytes of tailroom at least.
 */
static struct sk_buff *make_skb(unsigned headroom, unsigned headlen, unsigned f1, unsigned f2)
{
	struct sk_buff *skb = alloc_skb(headroom + headlen + 64, GFP_KERNEL);

	if (!skb)
		return NULL;
	skb_reserve(skb, (int)headroom);
	fill(skb_put(skb, headlen), headlen, 1, 0);
	if (f1)
		skb_add_rx_frag(skb, 0, pattern_page(2), 100, (int)f1, PAGE_SIZE);
	if (f2)
		skb_add_rx_frag(skb, skb_shinfo(skb)->nr_frags, pattern_page(3), 7, (int)f2, PAGE_SIZE);
	return skb;
}

/* The bytes make_skb() produces. */
static unsigned make_expect(uint8_t *out, unsigned headlen, unsigned f1, unsigned f2)
{
	fill(out, headlen, 1, 0);
	fill(out + headlen, f1, 2, 100);
	fill(out + headlen + f1, f2, 3, 7);
	return headlen + f1 + f2;
}

/* Hang linear skbs of @n1 (pattern 4) and @n2 (pattern 5) bytes on @skb's frag_list. */
static void add_frag_list(struct sk_buff *skb, unsigned n1, unsigned n2)
{
	struct sk_buff *a = alloc_skb(n1, GFP_KERNEL), *b = alloc_skb(n2 + 16, GFP_KERNEL);

	fill(skb_put(a, n1), n1, 4, 0);
	skb_reserve(b, 16);
	fill(skb_put(b, n2), n2, 5, 0);
	a->next = b;
	skb_shinfo(skb)->frag_list = a;
	skb->len += n1 + n2;
	skb->data_len += n1 + n2;
}

static bool same_bytes(const struct sk_buff *skb, const uint8_t *expect, unsigned len)
{
	static uint8_t got[65536];

	if (skb->len != len || gather(skb, got) != len)
		return false;
	return memcmp(got, expect, len) == 0;
}

/*
 * Run @op with the k-th allocation point failing, for k = 1, 2, ... until
 * it passes every point without a fault. @op returns true when it
 * succeeded (and undid its work), false when it failed; after each run
 * nothing may be left in use. Returns the number of failures exercised.
 */
static int fail_each_point(bool (*op)(void *), void *arg)
{
	unsigned long long before = all_in_use();
	int failures = 0;

	for (unsigned long k = 1; k < 500; k++) {
		unsigned long injected = pktmem_fault_injected();

		pktmem_fault_set(PKTMEM_FAULT_NTH, k, 0);
		bool ok = op(arg);

		pktmem_fault_off();
		bool hit = pktmem_fault_injected() != injected;

		CHECK_EQ(all_in_use(), before);
		if (!hit) {
			CHECK(ok);
			return failures;
		}
		if (!ok)
			failures++;
	}
	CHECK(!"the operation never passed all its allocation points");
	return failures;
}

/* ------------------------------------------------------------ allocation */

static void test_alloc_contract(void)
{
	static const unsigned sizes[] = { 0, 1, 64, 100, 1500, 1600, 2000, 4000, 9000, 30000, 70000 };

	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned size = sizes[i];
		struct sk_buff *skb = __alloc_skb(size, GFP_KERNEL, 0, NUMA_NO_NODE);

		CHECK(skb != NULL);
		if (!skb)
			continue;
		CHECK_EQ(skb_headroom(skb), 0);
		CHECK(skb_tailroom(skb) >= (int)size);
		CHECK_EQ(skb->users, 1);
		CHECK(!skb_shared(skb));
		CHECK(!skb_cloned(skb));
		CHECK_EQ(skb->len, 0);
		CHECK_EQ(skb->data_len, 0);
		CHECK_EQ(skb_headlen(skb), 0);
		CHECK(!skb_is_nonlinear(skb));
		CHECK(skb->data == skb->head);
		CHECK_EQ(skb->fclone, SKB_FCLONE_UNAVAILABLE);
		CHECK_EQ(skb_shinfo(skb)->nr_frags, 0);
		CHECK(skb_shinfo(skb)->frag_list == NULL);
		CHECK_EQ(pktmem_ext_refs(skb->head_ext), 1);
		/* The whole tailroom is usable and the shared info survives it. */
		memset(skb_put(skb, (unsigned)skb_tailroom(skb)), 0xa5, skb->len);
		CHECK_EQ(skb_tailroom(skb), 0);
		CHECK_EQ(skb_shinfo(skb)->nr_frags, 0);
		CHECK(skb_shinfo(skb)->frag_list == NULL);
		if (pktmem_skb_head_cache(size))
			CHECK_EQ(cache_in_use(pktmem_skb_head_cache(size)), 1);
		CHECK_EQ(cache_in_use(pktmem_skbuff_cache()), 1);
		kfree_skb(skb);
		if (pktmem_skb_head_cache(size))
			CHECK_EQ(cache_in_use(pktmem_skb_head_cache(size)), 0);
	}
	/* The inline wrappers. */
	struct sk_buff *a = alloc_skb(1500, GFP_ATOMIC), *f = alloc_skb_fclone(1500, GFP_KERNEL);

	CHECK(a && a->fclone == SKB_FCLONE_UNAVAILABLE && skb_tailroom(a) >= 1500);
	CHECK(f && f->fclone == SKB_FCLONE_ORIG && skb_tailroom(f) >= 1500 && skb_headroom(f) == 0);
	CHECK_EQ(cache_in_use(pktmem_skbuff_fclone_cache()), 1);
	kfree_skb(a);
	consume_skb(f);

	/* Bad input. */
	unsigned long seen = diag_seen;

	CHECK(__alloc_skb(100, GFP_KERNEL, 0x80, NUMA_NO_NODE) == NULL);
	CHECK_EQ(diag_seen, seen + 1);
	CHECK(strcmp(diag_last_func, "__alloc_skb") == 0);
	int nodes = pktmem_nr_nodes();
	int bad[] = { nodes, 63, 64, 1000, -2 };

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (pktmem_node_valid(bad[i]))
			continue;
		errno = 0;
		CHECK(__alloc_skb(100, GFP_KERNEL, 0, bad[i]) == NULL);
		CHECK_EQ(errno, EINVAL);
		errno = 0;
		CHECK(__alloc_skb(100, GFP_KERNEL, SKB_ALLOC_FCLONE, bad[i]) == NULL);
		CHECK_EQ(errno, EINVAL);
	}
	check_clean();
}

struct alloc_args {
	unsigned size;
	int flags, node;
};

static bool op_alloc(void *arg)
{
	struct alloc_args *a = arg;
	struct sk_buff *skb = __alloc_skb(a->size, GFP_ATOMIC, a->flags, a->node);

	if (!skb)
		return false;
	CHECK(skb_tailroom(skb) >= (int)a->size && skb->users == 1);
	kfree_skb(skb);
	return true;
}

static void test_alloc_fault_injection(void)
{
	struct alloc_args cases[] = {
		{ 1500, 0, NUMA_NO_NODE },  { 1500, SKB_ALLOC_FCLONE, NUMA_NO_NODE },
		{ 100, SKB_ALLOC_RX, NUMA_NO_NODE }, { 1500, 0, 0 },
		{ 70000, 0, NUMA_NO_NODE }, /* a head from kmalloc */
	};

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK(fail_each_point(op_alloc, &cases[i]) >= 2); /* the sk_buff and its head */
	check_clean();
}

static void test_alloc_node(void)
{
	int nodes = pktmem_nr_nodes();

	for (int node = 0; node < nodes; node++) {
		if (!pktmem_node_valid(node))
			continue;
		for (int fl = 0; fl <= SKB_ALLOC_FCLONE; fl += SKB_ALLOC_FCLONE) {
			struct sk_buff *skb = __alloc_skb(3000, GFP_KERNEL, fl, node);

			CHECK(skb != NULL);
			if (!skb)
				continue;
			memset(skb_put(skb, 3000), 1, 3000);
			CHECK_EQ(node_of_address(skb), node);
			CHECK_EQ(node_of_address(skb->head), node);
			CHECK_EQ(node_of_address(skb->head + 2999), node);
			CHECK_EQ(skb->head_ext->ext_node, node);
			kfree_skb(skb);
		}
	}
	/* The caller's node is a real node. */
	struct sk_buff *skb = alloc_skb(100, GFP_KERNEL);

	memset(skb_put(skb, 100), 1, 100);
	CHECK(node_of_address(skb->head) >= 0);
	kfree_skb(skb);
	check_clean();
}

static void test_fclone(void)
{
	struct kmem_cache *sc = pktmem_skbuff_cache(), *fc = pktmem_skbuff_fclone_cache();
	struct sk_buff *skb = alloc_skb_fclone(1000, GFP_KERNEL);

	fill(skb_put(skb, 500), 500, 1, 0);
	skb->protocol = 0x0800;
	skb->mark = 7;

	/* The first clone allocates nothing: a fault armed for the next allocation is not hit. */
	uint64_t allocs = cache_allocs(sc) + cache_allocs(fc);
	unsigned long injected = pktmem_fault_injected();

	pktmem_fault_set(PKTMEM_FAULT_NTH, 1, 0);
	struct sk_buff *c1 = skb_clone(skb, GFP_ATOMIC);
	unsigned long points = pktmem_fault_count();

	pktmem_fault_off();
	CHECK(c1 != NULL);
	CHECK_EQ(points, 0);
	CHECK_EQ(pktmem_fault_injected(), injected);
	CHECK_EQ(cache_allocs(sc) + cache_allocs(fc), allocs);
	CHECK_EQ(cache_in_use(sc), 0);
	CHECK_EQ(cache_in_use(fc), 1);
	CHECK_EQ(c1->fclone, SKB_FCLONE_CLONE);
	CHECK(c1 == skb + 1); /* the companion, right behind the original */
	CHECK(c1->head == skb->head && c1->data == skb->data && c1->len == 500);
	CHECK(c1->protocol == 0x0800 && c1->mark == 7 && c1->users == 1);
	CHECK_EQ(pktmem_ext_refs(skb->head_ext), 2);
	CHECK(skb_cloned(skb) && skb_cloned(c1));

	/* A second clone while the first lives: an ordinary sk_buff, allocated. */
	pktmem_fault_set(PKTMEM_FAULT_NTH, 1, 0);
	CHECK(skb_clone(skb, GFP_ATOMIC) == NULL);
	pktmem_fault_off();
	CHECK_EQ(pktmem_ext_refs(skb->head_ext), 2);
	struct sk_buff *c2 = skb_clone(skb, GFP_ATOMIC);

	CHECK(c2 != NULL && c2->fclone == SKB_FCLONE_UNAVAILABLE);
	CHECK_EQ(cache_in_use(sc), 1);
	CHECK_EQ(pktmem_ext_refs(skb->head_ext), 3);
	kfree_skb(c1);
	CHECK(skb_cloned(skb)); /* c2 still holds the head */
	kfree_skb(c2);
	CHECK(!skb_cloned(skb));
	CHECK_EQ(cache_in_use(sc), 0);

	/* The companion is free again: the next clone reuses it. */
	allocs = cache_allocs(sc) + cache_allocs(fc);
	c1 = skb_clone(skb, GFP_ATOMIC);
	CHECK(c1 == skb + 1);
	CHECK_EQ(cache_allocs(sc) + cache_allocs(fc), allocs);

	/* The pair goes back only when both halves are gone, in either order. */
	kfree_skb(skb);
	CHECK_EQ(cache_in_use(fc), 1);
	CHECK(!skb_cloned(c1));
	uint8_t exp[500];

	fill(exp, 500, 1, 0);
	CHECK(same_bytes(c1, exp, 500));
	kfree_skb(c1);
	CHECK_EQ(cache_in_use(fc), 0);

	skb = alloc_skb_fclone(100, GFP_KERNEL);
	c1 = skb_clone(skb, GFP_KERNEL);
	kfree_skb(c1);
	CHECK_EQ(cache_in_use(fc), 1);
	kfree_skb(skb);
	CHECK_EQ(cache_in_use(fc), 0);

	/* A clone of a clone is an ordinary allocation. */
	skb = alloc_skb_fclone(100, GFP_KERNEL);
	c1 = skb_clone(skb, GFP_KERNEL);
	c2 = skb_clone(c1, GFP_KERNEL);
	CHECK(c2 && c2->fclone == SKB_FCLONE_UNAVAILABLE);
	CHECK_EQ(pktmem_ext_refs(skb->head_ext), 3);
	kfree_skb(skb);
	kfree_skb(c2);
	kfree_skb(c1);
	check_clean();
}

static uint64_t reserve_of(struct kmem_cache *c)
{
	struct pktmem_stats st;

	kmem_cache_stats(c, &st);
	return st.reserve;
}

static void test_rx_reserve(void)
{
	struct kmem_cache *sc = pktmem_skbuff_cache(), *hc = pktmem_skb_head_cache(1500);
	struct pktmem_stats st;

	CHECK(hc != NULL && hc == pktmem_skb_head_cache(NET_SKB_PAD + 1500));
	CHECK_EQ(kmem_cache_set_reserve(sc, 4), 0);
	CHECK_EQ(kmem_cache_set_reserve(hc, 4), 0);
	struct sk_buff *hold = alloc_skb(1500, GFP_ATOMIC);

	CHECK(hold != NULL);
	kmem_cache_set_limit(sc, 1);
	kmem_cache_set_limit(hc, 1);

	/* At the limit a plain atomic allocation fails at once... */
	kmem_cache_stats(sc, &st);
	uint64_t denied = st.denied;

	CHECK(alloc_skb(1500, GFP_ATOMIC) == NULL);
	CHECK(__alloc_skb(1500, GFP_NOWAIT, 0, NUMA_NO_NODE) == NULL);
	kmem_cache_stats(sc, &st);
	CHECK(st.denied > denied);

	/* ... while a receive allocation is served by the reserve. */
	struct sk_buff *rx = __alloc_skb(1500, GFP_ATOMIC, SKB_ALLOC_RX, NUMA_NO_NODE);

	CHECK(rx != NULL);
	CHECK(rx && rx->pfmemalloc);
	CHECK(rx && skb_tailroom(rx) >= 1500);
	CHECK_EQ(reserve_of(sc), 3);
	CHECK_EQ(reserve_of(hc), 3);

	/* A clone and a new head of a receive-reserve packet may use the reserve too. */
	struct sk_buff *rc = skb_clone(rx, GFP_ATOMIC);

	CHECK(rc != NULL);
	CHECK(rc && rc->pfmemalloc);
	CHECK_EQ(reserve_of(sc), 2);
	CHECK(rc && pskb_expand_head(rc, 0, 0, GFP_ATOMIC) == 0);
	CHECK_EQ(reserve_of(hc), 2);
	/* An ordinary packet may not. */
	CHECK(skb_clone(hold, GFP_ATOMIC) == NULL);
	CHECK(skb_copy(hold, GFP_ATOMIC) == NULL);
	CHECK_EQ(pskb_expand_head(hold, 0, 0, GFP_ATOMIC), -ENOMEM);

	/* netdev_alloc_skb() is a receive allocation too. */
	struct sk_buff *nd = netdev_alloc_skb(NULL, 1500);

	CHECK(nd != NULL && nd->pfmemalloc);
	CHECK_EQ(reserve_of(sc), 1);
	CHECK_EQ(reserve_of(hc), 1);
	struct sk_buff *last = __alloc_skb(1500, GFP_ATOMIC, SKB_ALLOC_RX, NUMA_NO_NODE);

	CHECK(last != NULL);
	/* The reserve is dry now: even a receive allocation fails, and keeps nothing. */
	CHECK(__alloc_skb(1500, GFP_ATOMIC, SKB_ALLOC_RX, NUMA_NO_NODE) == NULL);
	kfree_skb(last);
	kfree_skb(nd);
	kfree_skb(rc);
	kfree_skb(rx);

	/* A limit on the head cache alone still fails the plain allocation, whole. */
	kmem_cache_set_limit(sc, 0);
	CHECK(alloc_skb(1500, GFP_ATOMIC) == NULL);
	CHECK_EQ(cache_in_use(sc), 1); /* hold alone: the sk_buff of the failed one went back */

	kfree_skb(hold);
	kmem_cache_set_limit(hc, 0);
	kmem_cache_set_reserve(sc, 0);
	kmem_cache_set_reserve(hc, 0);
	check_clean();
}

static void test_netdev_alloc(void)
{
	struct net_device *dev = (struct net_device *)0x1234;
	struct sk_buff *skb = netdev_alloc_skb(dev, 1000);

	CHECK(skb != NULL);
	CHECK_EQ(skb_headroom(skb), NET_SKB_PAD);
	CHECK(skb_tailroom(skb) >= 1000);
	CHECK(skb->dev == dev);
	CHECK_EQ(skb->len, 0);
	CHECK_EQ(skb->users, 1);
	kfree_skb(skb);

	skb = dev_alloc_skb(60);
	CHECK(skb && skb_headroom(skb) == NET_SKB_PAD && skb_tailroom(skb) >= 60 && skb->dev == NULL);
	kfree_skb(skb);

	skb = __netdev_alloc_skb(NULL, 200, GFP_KERNEL);
	CHECK(skb && skb_headroom(skb) == NET_SKB_PAD);
	kfree_skb(skb);

	pktmem_fault_set(PKTMEM_FAULT_NTH, 1, 0);
	CHECK(netdev_alloc_skb(dev, 100) == NULL);
	pktmem_fault_off();
	check_clean();
}

static bool op_build(void *arg)
{
	(void)arg;
	void *buf = netdev_alloc_frag(2048);

	if (!buf)
		return false;
	struct sk_buff *skb = build_skb(buf, 2048);

	if (!skb) {
		skb_free_frag(buf); /* still ours */
		return false;
	}
	kfree_skb(skb);
	return true;
}

static void test_build_skb(void)
{
	uint8_t *buf = netdev_alloc_frag(2048);

	CHECK(buf != NULL);
	fill(buf, 2048, 9, 0);
	struct sk_buff *skb = build_skb(buf, 2048);

	CHECK(skb != NULL);
	CHECK(skb->head == buf && skb->data == buf);
	CHECK_EQ(skb->end, 2048 - SHINFO_SIZE);
	CHECK(skb->head_frag);
	CHECK_EQ(skb->users, 1);
	CHECK_EQ(skb->len, 0);
	CHECK_EQ(skb_shinfo(skb)->nr_frags, 0);
	CHECK_EQ(pktmem_ext_refs(skb->head_ext), 1);
	skb_reserve(skb, NET_SKB_PAD);
	skb_put(skb, 100); /* the bytes the device wrote stay */
	CHECK(skb->data[0] == pat(9, NET_SKB_PAD) && skb->data[99] == pat(9, NET_SKB_PAD + 99));

	struct sk_buff *c = skb_clone(skb, GFP_ATOMIC);

	CHECK_EQ(pktmem_ext_refs(skb->head_ext), 2);
	kfree_skb(skb);
	CHECK(c->data[0] == pat(9, NET_SKB_PAD));
	kfree_skb(c); /* frees the buffer: the kmalloc caches balance below */

	/* A kmalloc() buffer with frag_size 0: its usable size. */
	buf = kmalloc(1000, GFP_KERNEL);
	skb = build_skb(buf, 0);
	CHECK(skb && skb->end == ksize(buf) - SHINFO_SIZE);
	kfree_skb(skb);

	/* Not our buffer, or too small: diagnosed, NULL, the buffer untouched. */
	unsigned long seen = diag_seen;
	char *foreign = malloc(2048);

	CHECK(build_skb(foreign, 2048) == NULL);
	CHECK_EQ(diag_seen, seen + 1);
	CHECK(strcmp(diag_last_func, "build_skb") == 0);
	free(foreign);
	CHECK(build_skb(NULL, 2048) == NULL);
	CHECK_EQ(diag_seen, seen + 2);
	buf = netdev_alloc_frag(2048);
	CHECK(build_skb(buf, 100) == NULL);                /* no room for the shared info */
	CHECK(build_skb(buf, (unsigned)ksize(buf) + 1) == NULL); /* more than the buffer */
	CHECK_EQ(diag_seen, seen + 4);
	skb_free_frag(buf);

	CHECK(fail_each_point(op_build, NULL) >= 2);
	check_clean();
}

/* ------------------------------------------------------------ freeing and sharing */

static void test_free_and_users(void)
{
	unsigned long seen = diag_seen;

	kfree_skb(NULL);
	consume_skb(NULL);
	kfree_skb_list(NULL);
	CHECK_EQ(diag_seen, seen);

	struct sk_buff *skb = alloc_skb(100, GFP_KERNEL);

	CHECK(!skb_shared(skb));
	CHECK(skb_get(skb) == skb);
	CHECK_EQ(skb->users, 2);
	CHECK(skb_shared(skb));
	CHECK(!skb_cloned(skb)); /* shared sk_buff, not a shared head */
	CHECK_EQ(pktmem_ext_refs(skb->head_ext), 1);
	kfree_skb(skb);
	CHECK_EQ(skb->users, 1);
	CHECK(!skb_shared(skb));
	CHECK_EQ(cache_in_use(pktmem_skbuff_cache()), 1);
	consume_skb(skb);
	CHECK_EQ(cache_in_use(pktmem_skbuff_cache()), 0);

	/* A list through ->next. */
	struct sk_buff *a = alloc_skb(10, GFP_KERNEL), *b = alloc_skb(10, GFP_KERNEL);

	a->next = b;
	b->next = NULL;
	kfree_skb_list(a);

	/*
	 * A long list (ordinary sk_buffs go back in batches of 16): ordinary
	 * ones, fclones and their clones, clones of ordinary ones, and one
	 * still held elsewhere (skb_get), which only loses a reference.
	 */
	struct sk_buff *head = NULL, **tail = &head, *held = NULL;

	for (int i = 0; i < 40; i++) {
		struct sk_buff *n = i % 5 == 1 ? alloc_skb_fclone(300, GFP_KERNEL) : alloc_skb(300, GFP_KERNEL);

		CHECK(n != NULL);
		if (!n)
			break;
		*tail = n;
		tail = &n->next;
		if (i % 5 == 1 || i % 7 == 3) { /* its clone goes on the list too */
			struct sk_buff *c = skb_clone(n, GFP_KERNEL);

			CHECK(c != NULL);
			*tail = c;
			tail = &c->next;
		}
		if (i == 23)
			held = skb_get(n);
	}
	*tail = NULL;
	seen = diag_seen;
	kfree_skb_list(head);
	CHECK_EQ(diag_seen, seen);
	CHECK(held != NULL);
	CHECK_EQ(held->users, 1);
	CHECK_EQ(cache_in_use(pktmem_skbuff_cache()), 1);
	CHECK_EQ(cache_in_use(pktmem_skbuff_fclone_cache()), 0);
	held->next = NULL;
	kfree_skb(held);

	check_clean();
}

static int destructor_runs;

static void count_destructor(struct sk_buff *skb)
{
	(void)skb;
	destructor_runs++;
}

/*
 * A users count equal to debug mode's fill (0x6b6b6b6b) outside debug mode
 * is an ordinary count: kfree_skb drops it by one and frees nothing.
 */
static void test_users_like_debug_fill(void)
{
	struct sk_buff *skb = alloc_skb(64, GFP_KERNEL);
	unsigned long diags = diag_seen;

	CHECK(skb != NULL);
	skb->users = 0x6b6b6b6b;
	kfree_skb(skb);
	CHECK_EQ(skb->users, 0x6b6b6b6a);
	CHECK_EQ(diag_seen, diags);
	skb->users = 1;
	kfree_skb(skb);
}

static void test_destructor_and_double_free(void)
{
	struct sk_buff *skb = alloc_skb(10, GFP_KERNEL);

	destructor_runs = 0;
	skb->destructor = count_destructor;
	skb_get(skb);
	kfree_skb(skb);
	CHECK_EQ(destructor_runs, 0);
	kfree_skb(skb);
	CHECK_EQ(destructor_runs, 1);
#ifndef TEST_UNDER_ASAN
	/* A freed sk_buff rests in its cache: freeing it again is diagnosed.
	 * (memcheck reports the read of the freed object itself, as it must.) */
	if (!TEST_UNDER_VALGRIND()) {
		unsigned long seen = diag_seen;

		kfree_skb(skb);
		CHECK_EQ(diag_seen, seen + 1);
		CHECK_EQ(destructor_runs, 1);
	}
#endif
	check_clean();
}

static void test_clone(void)
{
	uint8_t exp[2000];
	unsigned n = make_expect(exp, 200, 300, 400);
	struct sk_buff *skb = make_skb(32, 200, 300, 400);
	struct page *p0 = skb_shinfo(skb)->frags[0].bv_page;

	skb->network_header = 40;
	skb->priority = 3;
	memcpy(skb->cb, "control", 8);
	struct sk_buff *c = skb_clone(skb, GFP_KERNEL);

	CHECK(c != NULL && c != skb);
	CHECK(c->head == skb->head && c->data == skb->data && c->tail == skb->tail && c->end == skb->end);
	CHECK(c->len == n && c->data_len == 700);
	CHECK(c->network_header == 40 && c->priority == 3 && memcmp(c->cb, "control", 8) == 0);
	CHECK_EQ(c->users, 1);
	CHECK_EQ(skb->users, 1);
	CHECK_EQ(pktmem_ext_refs(skb->head_ext), 2);
	CHECK_EQ(page_count(p0), 1); /* frags are shared through the shared info */
	CHECK(skb_shinfo(c) == skb_shinfo(skb));
	CHECK(skb_cloned(skb) && skb_cloned(c) && skb_header_cloned(c));
	CHECK(same_bytes(c, exp, n));
	/* skb_cloned() turns false once the other copy is freed. */
	kfree_skb(skb);
	CHECK(!skb_cloned(c));
	CHECK(same_bytes(c, exp, n));
	CHECK_EQ(page_count(p0), 1);
	kfree_skb(c);

	/* Failure: nothing taken. */
	skb = make_skb(0, 10, 0, 0);
	pktmem_fault_set(PKTMEM_FAULT_NTH, 1, 0);
	CHECK(skb_clone(skb, GFP_ATOMIC) == NULL);
	pktmem_fault_off();
	CHECK_EQ(pktmem_ext_refs(skb->head_ext), 1);
	CHECK(!skb_cloned(skb));
	kfree_skb(skb);
	check_clean();
}

static struct sk_buff *copy_src;

static bool op_copy(void *arg)
{
	struct sk_buff *n = arg ? pskb_copy(copy_src, GFP_ATOMIC) : skb_copy(copy_src, GFP_ATOMIC);

	if (!n)
		return false;
	kfree_skb(n);
	return true;
}

static void test_copy(void)
{
	uint8_t exp[4000];
	unsigned n = make_expect(exp, 200, 300, 500);
	struct sk_buff *skb = make_skb(32, 200, 300, 500);
	struct page *p0 = skb_shinfo(skb)->frags[0].bv_page, *p1 = skb_shinfo(skb)->frags[1].bv_page;
	int tailroom = (int)(skb->end - skb->tail);

	/* The headroom is copied too. Writing it without skb_push() is outside
	 * the window: say so first (pktmem_window_open), or ASan reports it. */
	pktmem_window_open(skb->head, 32);
	fill(skb->head, 32, 8, 0);
	skb->mac_header = 18;
	skb->network_header = 32;
	skb->protocol = 0x86dd;
	struct sk_buff *c = skb_copy(skb, GFP_KERNEL);

	CHECK(c != NULL);
	CHECK(!skb_is_nonlinear(c));
	CHECK_EQ(skb_headroom(c), 32);
	CHECK(skb_tailroom(c) >= tailroom);
	CHECK(same_bytes(c, exp, n));
	CHECK(memcmp(c->head, skb->head, 32) == 0);
	CHECK(c->mac_header == 18 && c->network_header == 32 && c->protocol == 0x86dd);
	CHECK(!skb_cloned(c) && !skb_cloned(skb));
	CHECK(c->head_ext != skb->head_ext);
	CHECK_EQ(page_count(p0), 1);
	CHECK_EQ(page_count(p1), 1);
	CHECK_EQ(c->users, 1);
	/* Private: writing the copy leaves the original alone. */
	memset(c->data, 0, c->len);
	CHECK(same_bytes(skb, exp, n));
	kfree_skb(c);

	/* A linear source keeps exactly its tailroom at least. */
	struct sk_buff *lin = make_skb(10, 50, 0, 0);

	c = skb_copy(lin, GFP_KERNEL);
	CHECK(skb_headroom(c) == 10 && skb_tailroom(c) >= skb_tailroom(lin));
	kfree_skb(c);
	kfree_skb(lin);

	/* A frag_list is copied into the linear part too. */
	add_frag_list(skb, 100, 150);
	fill(exp + n, 100, 4, 0);
	fill(exp + n + 100, 150, 5, 0);
	c = skb_copy(skb, GFP_KERNEL);
	CHECK(c && !skb_is_nonlinear(c) && skb_shinfo(c)->frag_list == NULL);
	CHECK(same_bytes(c, exp, n + 250));
	kfree_skb(c);

	/* pskb_copy: a private head, the frags and frag_list shared. */
	c = pskb_copy(skb, GFP_KERNEL);
	CHECK(c != NULL);
	CHECK_EQ(skb_headroom(c), 32);
	CHECK_EQ(skb_headlen(c), 200);
	CHECK_EQ(c->data_len, skb->data_len);
	CHECK(same_bytes(c, exp, n + 250));
	CHECK(c->head_ext != skb->head_ext);
	CHECK(!skb_cloned(c) && !skb_cloned(skb));
	CHECK_EQ(page_count(p0), 2);
	CHECK_EQ(page_count(p1), 2);
	CHECK(skb_shinfo(c)->frag_list == skb_shinfo(skb)->frag_list);
	CHECK_EQ(skb_shinfo(skb)->frag_list->users, 2);
	CHECK(c->network_header == 32);
	memset(c->data, 0, 200); /* the head is the copy's own */
	CHECK(same_bytes(skb, exp, n + 250));
	kfree_skb(skb);                /* the copy keeps the pages */
	CHECK_EQ(page_count(p0), 1);
	CHECK(memcmp(skb_frag_address(&skb_shinfo(c)->frags[1]), exp + 500, 500) == 0);
	kfree_skb(c);

	/* Failure: NULL, nothing kept. */
	copy_src = make_skb(32, 200, 300, 500);
	CHECK(fail_each_point(op_copy, NULL) >= 2);
	CHECK(fail_each_point(op_copy, (void *)1) >= 2);
	kfree_skb(copy_src);
	check_clean();
}

static void test_unshare_and_share_check(void)
{
	uint8_t exp[1000];
	unsigned n = make_expect(exp, 100, 200, 0);
	struct sk_buff *skb = make_skb(16, 100, 200, 0);

	/* Not cloned: the skb itself comes back. */
	CHECK(skb_unshare(skb, GFP_KERNEL) == skb);
	CHECK_EQ(skb->users, 1);

	/* Cloned: a private copy; the clone it was given is gone. */
	struct sk_buff *c = skb_clone(skb, GFP_KERNEL);

	CHECK_EQ(cache_in_use(pktmem_skbuff_cache()), 2);
	struct sk_buff *u = skb_unshare(c, GFP_KERNEL);

	CHECK(u != NULL && u != c);
	CHECK_EQ(cache_in_use(pktmem_skbuff_cache()), 2); /* skb and u: c was freed */
	CHECK_EQ(pktmem_ext_refs(skb->head_ext), 1);      /* c's head reference went with it */
	CHECK(!skb_cloned(skb) && !skb_cloned(u));
	CHECK(same_bytes(u, exp, n));
	CHECK_EQ(skb_headroom(u), 16);
	memset(u->data, 0, 100);
	CHECK(same_bytes(skb, exp, n));
	kfree_skb(u);

	/* Failure: NULL, and the clone is freed all the same. */
	c = skb_clone(skb, GFP_KERNEL);
	pktmem_fault_set(PKTMEM_FAULT_NTH, 1, 0);
	CHECK(skb_unshare(c, GFP_ATOMIC) == NULL);
	pktmem_fault_off();
	CHECK_EQ(pktmem_ext_refs(skb->head_ext), 1);
	CHECK_EQ(cache_in_use(pktmem_skbuff_cache()), 1);

	/* skb_share_check: unshared comes back; shared gives a clone and drops ours. */
	CHECK(skb_share_check(skb, GFP_KERNEL) == skb);
	skb_get(skb);
	struct sk_buff *s = skb_share_check(skb, GFP_KERNEL);

	CHECK(s != NULL && s != skb);
	CHECK_EQ(skb->users, 1);
	CHECK_EQ(s->users, 1);
	CHECK(s->head == skb->head && skb_cloned(s));
	kfree_skb(s);
	skb_get(skb);
	pktmem_fault_set(PKTMEM_FAULT_NTH, 1, 0);
	CHECK(skb_share_check(skb, GFP_ATOMIC) == NULL);
	pktmem_fault_off();
	CHECK_EQ(skb->users, 1);
	kfree_skb(skb);
	check_clean();
}

/* ------------------------------------------------------------ linear data */

static void test_put_push_pull(void)
{
	struct sk_buff *skb = alloc_skb(200, GFP_KERNEL);
	unsigned end = skb->end;

	skb_reserve(skb, 32);
	CHECK_EQ(skb_headroom(skb), 32);
	CHECK_EQ(skb_tailroom(skb), (int)end - 32);
	unsigned char *t = skb_tail_pointer(skb);

	CHECK(skb_put(skb, 10) == t);
	CHECK_EQ(skb->len, 10);
	CHECK(skb_tail_pointer(skb) == t + 10);
	memset(t, 'a', 10);
	uint8_t data[20];

	fill(data, 20, 6, 0);
	CHECK(skb_put_data(skb, data, 20) == t + 10);
	CHECK(memcmp(t + 10, data, 20) == 0);
	pktmem_window_open(skb_tail_pointer(skb), 5); /* primed past the tail */
	memset(skb_tail_pointer(skb), 0x77, 5);
	CHECK(skb_put_zero(skb, 5) == t + 30);
	CHECK(t[30] == 0 && t[34] == 0);
	CHECK_EQ(skb->len, 35);
	CHECK_EQ(skb_headlen(skb), 35);

	unsigned char *p = skb_push(skb, 14);

	CHECK(p == t - 14 && skb->data == p);
	CHECK_EQ(skb->len, 49);
	CHECK_EQ(skb_headroom(skb), 18);
	CHECK(skb_pull(skb, 14) == t);
	CHECK_EQ(skb->len, 35);
	CHECK(skb->data[0] == 'a');

	/* Over- and underruns: diagnosed naming the lengths, nothing changed, NULL. */
	unsigned long seen = diag_seen;
	unsigned len = skb->len, tail = skb->tail;
	unsigned char *d = skb->data;
	int room = skb_tailroom(skb);

	CHECK(skb_put(skb, (unsigned)room + 1) == NULL);
	CHECK_EQ(diag_seen, seen + 1);
	CHECK(strcmp(diag_last_func, "skb_put") == 0);
	CHECK(strstr(diag_last_msg, "len 35") != NULL);
	CHECK(strstr(diag_last_msg, "over") != NULL);
	CHECK(skb->len == len && skb->tail == tail && skb->data == d);
	CHECK(skb_put_data(skb, data, (unsigned)room + 1) == NULL);
	CHECK(skb_put_zero(skb, (unsigned)room + 1) == NULL);
	CHECK_EQ(diag_seen, seen + 3);
	CHECK(skb->len == len && skb->tail == tail);
	CHECK(skb_put(skb, (unsigned)room) != NULL); /* exactly the tailroom is fine */
	CHECK_EQ(skb_tailroom(skb), 0);
	skb_trim(skb, len);

	CHECK(skb_push(skb, 33) == NULL);
	CHECK_EQ(diag_seen, seen + 4);
	CHECK(strcmp(diag_last_func, "skb_push") == 0);
	CHECK(strstr(diag_last_msg, "under") != NULL);
	CHECK(strstr(diag_last_msg, "push 33") != NULL);
	CHECK(skb->len == len && skb->data == d);
	CHECK(skb_push(skb, 32) == skb->head); /* exactly the headroom is fine */
	CHECK(skb_pull(skb, 32) == d);

	/* skb_pull past the length: NULL, nothing changed, no diagnostic. */
	CHECK(skb_pull(skb, len + 1) == NULL);
	CHECK_EQ(diag_seen, seen + 4);
	CHECK(skb->len == len && skb->data == d);
	CHECK(skb_pull(skb, len) == d + len);
	CHECK_EQ(skb->len, 0);

	/* skb_reserve on a non-empty skb is a programmer error. */
	skb_put(skb, 1);
	skb_reserve(skb, 4);
	CHECK_EQ(diag_seen, seen + 5);
	CHECK(skb->data == d + len);
	kfree_skb(skb);

	/* Linear-only operations on a nonlinear skb are refused. */
	skb = make_skb(0, 10, 100, 0);
	seen = diag_seen;
	CHECK(skb_put(skb, 1) == NULL);
	CHECK_EQ(skb_tailroom(skb), 0);
	CHECK(skb_pull(skb, 20) == NULL); /* into the frags: pskb_pull()'s job */
	CHECK_EQ(diag_seen, seen + 2);
	CHECK(skb->len == 110 && skb_headlen(skb) == 10);
	CHECK(skb_pull(skb, 10) != NULL);
	CHECK_EQ(skb_headlen(skb), 0);
	kfree_skb(skb);

	/* Writing into a head a clone shares is refused. */
	skb = make_skb(0, 10, 0, 0);
	struct sk_buff *c = skb_clone(skb, GFP_KERNEL);

	seen = diag_seen;
	CHECK(skb_put_data(skb, data, 4) == NULL);
	CHECK_EQ(diag_seen, seen + 1);
	CHECK_EQ(skb->len, 10);
	kfree_skb(c);
	CHECK(skb_put_data(skb, data, 4) != NULL);
	kfree_skb(skb);
	check_clean();
}

static void test_trim(void)
{
	uint8_t exp[2000];
	unsigned n = make_expect(exp, 100, 300, 400);
	struct sk_buff *skb = alloc_skb(100, GFP_KERNEL);

	fill(skb_put(skb, 100), 100, 1, 0);
	skb_trim(skb, 200); /* longer: nothing */
	CHECK_EQ(skb->len, 100);
	skb_trim(skb, 40);
	CHECK_EQ(skb->len, 40);
	CHECK(skb_tail_pointer(skb) == skb->data + 40);
	CHECK(same_bytes(skb, exp, 40));
	kfree_skb(skb);

	/* pskb_trim at every kind of point: inside frag 1, frag 0, the head, 0. */
	static const unsigned cuts[] = { 799, 700, 450, 400, 399, 150, 100, 99, 1, 0 };

	for (unsigned i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		unsigned cut = cuts[i];

		skb = make_skb(8, 100, 300, 400);
		struct page *p1 = skb_shinfo(skb)->frags[1].bv_page;

		get_page(p1);
		CHECK_EQ(pskb_trim(skb, cut), 0);
		CHECK_EQ(skb->len, cut);
		CHECK_EQ(skb_headlen(skb), cut < 100 ? cut : 100);
		CHECK_EQ(skb->data_len, cut > 100 ? cut - 100 : 0);
		CHECK_EQ(skb_shinfo(skb)->nr_frags, cut <= 100 ? 0 : cut <= 400 ? 1 : 2);
		CHECK_EQ(page_count(p1), cut > 400 ? 2 : 1); /* dropped frags are released */
		CHECK(same_bytes(skb, exp, cut));
		put_page(p1);
		kfree_skb(skb);
	}
	skb = make_skb(8, 100, 300, 400);
	CHECK_EQ(pskb_trim(skb, n), 0);
	CHECK_EQ(pskb_trim(skb, n + 10), 0);
	CHECK(same_bytes(skb, exp, n));

	/* On a clone: the other clone keeps its length, frags and bytes. */
	struct sk_buff *c = skb_clone(skb, GFP_KERNEL);

	CHECK_EQ(pskb_trim(c, 250), 0);
	CHECK(same_bytes(c, exp, 250));
	CHECK(same_bytes(skb, exp, n));
	CHECK_EQ(skb_shinfo(skb)->nr_frags, 2);
	CHECK(!skb_cloned(c) && !skb_cloned(skb));
	kfree_skb(c);

	/* With a frag_list. */
	add_frag_list(skb, 100, 150);
	fill(exp + n, 100, 4, 0);
	fill(exp + n + 100, 150, 5, 0);
	CHECK_EQ(pskb_trim(skb, n + 120), 0);
	CHECK(same_bytes(skb, exp, n + 120));
	CHECK_EQ(pskb_trim(skb, 50), 0);
	CHECK(same_bytes(skb, exp, 50));
	kfree_skb(skb);

	/* Failure (a private head must be made for a clone): -ENOMEM, unchanged. */
	skb = make_skb(8, 100, 300, 400);
	c = skb_clone(skb, GFP_KERNEL);
	pktmem_fault_set(PKTMEM_FAULT_NTH, 1, 0);
	CHECK_EQ(pskb_trim(c, 250), -ENOMEM);
	pktmem_fault_off();
	CHECK(same_bytes(c, exp, n));
	kfree_skb(c);
	kfree_skb(skb);
	check_clean();
}

static void test_expand_head(void)
{
	uint8_t exp[2000];
	unsigned n = make_expect(exp, 100, 300, 400);
	struct sk_buff *skb = make_skb(16, 100, 300, 400);
	struct page *p0 = skb_shinfo(skb)->frags[0].bv_page;
	struct sk_buff *c = skb_clone(skb, GFP_KERNEL);
	int tailroom = (int)(c->end - c->tail);

	c->network_header = 16;
	fill(c->head, 16, 8, 0);
	CHECK_EQ(pskb_expand_head(c, 32, 64, GFP_KERNEL), 0);
	CHECK(c->head != skb->head);
	CHECK_EQ(skb_headroom(c), 48);
	CHECK((int)(c->end - c->tail) >= tailroom + 64);
	CHECK_EQ(c->network_header, 48);
	CHECK(memcmp(c->head + 32, skb->head, 16) == 0); /* the old headroom moved too */
	CHECK(same_bytes(c, exp, n));
	CHECK(!skb_cloned(c));
	CHECK(!skb_cloned(skb));
	CHECK_EQ(page_count(p0), 2); /* frags shared by reference, not copied */
	CHECK(skb_frag_page(&skb_shinfo(c)->frags[0]) == p0);
	memset(c->data, 0, 100);
	CHECK(same_bytes(skb, exp, n));
	kfree_skb(skb);
	CHECK_EQ(page_count(p0), 1);
	kfree_skb(c);

	/* Private and unshared: also fine. */
	skb = make_skb(0, 100, 0, 0);
	CHECK_EQ(pskb_expand_head(skb, 0, 500, GFP_ATOMIC), 0);
	CHECK(skb_tailroom(skb) >= 500 + 64);
	CHECK(same_bytes(skb, exp, 100));

	/* Shared (users > 1): a programmer error. */
	unsigned long seen = diag_seen;

	skb_get(skb);
	CHECK(pskb_expand_head(skb, 16, 0, GFP_ATOMIC) != 0);
	CHECK_EQ(diag_seen, seen + 1);
	kfree_skb(skb);

	/* Failure: -ENOMEM, unchanged. */
	unsigned char *head = skb->head;

	pktmem_fault_set(PKTMEM_FAULT_NTH, 1, 0);
	CHECK_EQ(pskb_expand_head(skb, 16, 0, GFP_ATOMIC), -ENOMEM);
	pktmem_fault_off();
	CHECK(skb->head == head && skb_headroom(skb) == 0);
	kfree_skb(skb);

	/* skb_realloc_headroom: a new skb with the headroom; the original untouched. */
	skb = make_skb(4, 100, 300, 400);
	struct sk_buff *r = skb_realloc_headroom(skb, 64);

	CHECK(r != NULL && r != skb);
	CHECK(skb_headroom(r) >= 64);
	CHECK(same_bytes(r, exp, n));
	CHECK_EQ(skb_headroom(skb), 4);
	CHECK_EQ(pktmem_ext_refs(skb->head_ext), 1);
	CHECK(!skb_cloned(r));
	kfree_skb(r);
	r = skb_realloc_headroom(skb, 2); /* enough already: a pskb_copy */
	CHECK(r && skb_headroom(r) == 4 && same_bytes(r, exp, n) && r->head_ext != skb->head_ext);
	kfree_skb(r);
	pktmem_fault_set(PKTMEM_FAULT_NTH, 2, 0); /* the clone works, the head does not */
	CHECK(skb_realloc_headroom(skb, 64) == NULL);
	pktmem_fault_off();
	kfree_skb(skb);
	check_clean();
}

static void test_cow(void)
{
	uint8_t exp[2000], hdr[64];
	unsigned n = make_expect(exp, 100, 300, 0);
	struct sk_buff *skb = make_skb(8, 100, 300, 0);
	struct sk_buff *c = skb_clone(skb, GFP_KERNEL);

	fill(hdr, sizeof(hdr), 7, 0);
	/* skb_cow: a private head; writing it leaves the other clone's bytes alone. */
	CHECK(skb_cloned(c));
	CHECK_EQ(skb_cow(c, 0), 0);
	CHECK(!skb_cloned(c) && !skb_cloned(skb));
	CHECK_EQ(skb_store_bits(c, 0, hdr, 50), 0);
	CHECK(same_bytes(skb, exp, n));
	kfree_skb(c);

	/* skb_cow_head with more headroom than there is. */
	c = skb_clone(skb, GFP_KERNEL);
	CHECK_EQ(skb_cow_head(c, 64), 0);
	CHECK(skb_headroom(c) >= 64);
	memcpy(skb_push(c, 64), hdr, 64);
	CHECK(same_bytes(skb, exp, n));
	CHECK_EQ(skb_headroom(skb), 8);
	CHECK(memcmp(c->data, hdr, 64) == 0 && memcmp(c->data + 64, exp, 100) == 0);
	kfree_skb(c);

	/* Private with the headroom already: nothing allocated. */
	pktmem_fault_count_reset();
	CHECK_EQ(skb_cow(skb, 8), 0);
	CHECK_EQ(skb_cow_head(skb, 4), 0);
	CHECK_EQ(pktmem_fault_count(), 0);
	pktmem_fault_off();

	/* Failure: -ENOMEM, unchanged. */
	c = skb_clone(skb, GFP_KERNEL);
	pktmem_fault_set(PKTMEM_FAULT_NTH, 1, 0);
	CHECK_EQ(skb_cow(c, 0), -ENOMEM);
	pktmem_fault_off();
	CHECK(skb_cloned(c) && c->head == skb->head);
	kfree_skb(c);
	kfree_skb(skb);
	check_clean();
}

/* ------------------------------------------------------------ nonlinear */

static void test_may_pull(void)
{
	uint8_t exp[3000];
	unsigned n = make_expect(exp, 20, 100, 200);
	struct sk_buff *skb = make_skb(0, 20, 100, 200);
	struct page *p0 = skb_shinfo(skb)->frags[0].bv_page;

	CHECK(pskb_may_pull(skb, 10)); /* already there */
	CHECK_EQ(skb_headlen(skb), 20);
	get_page(p0);
	CHECK(pskb_may_pull(skb, 50));
	CHECK(skb_headlen(skb) >= 50);
	CHECK(same_bytes(skb, exp, n));
	CHECK(memcmp(skb->data, exp, 50) == 0);
	CHECK(pskb_may_pull(skb, 120)); /* the whole first frag */
	CHECK(skb_headlen(skb) >= 120);
	CHECK_EQ(page_count(p0), 1); /* consumed and released */
	put_page(p0);
	CHECK(same_bytes(skb, exp, n));
	CHECK(!pskb_may_pull(skb, n + 1));
	CHECK(same_bytes(skb, exp, n));
	CHECK(pskb_may_pull(skb, n));
	CHECK(!skb_is_nonlinear(skb));
	CHECK(same_bytes(skb, exp, n));
	kfree_skb(skb);

	/* On a clone: the other keeps its frags and bytes. */
	skb = make_skb(0, 20, 100, 200);
	struct sk_buff *c = skb_clone(skb, GFP_KERNEL);

	CHECK(pskb_may_pull(c, 60));
	CHECK(same_bytes(c, exp, n) && skb_headlen(c) >= 60);
	CHECK(same_bytes(skb, exp, n) && skb_headlen(skb) == 20 && skb_shinfo(skb)->nr_frags == 2);
	kfree_skb(c);

	/* pskb_pull: pull into the frags. */
	void *d = pskb_pull(skb, 70);

	CHECK(d != NULL && d == skb->data);
	CHECK(same_bytes(skb, exp + 70, n - 70));
	CHECK(pskb_pull(skb, n) == NULL);
	CHECK_EQ(skb->len, n - 70);
	kfree_skb(skb);

	/* With a frag_list. */
	skb = make_skb(0, 20, 100, 200);
	add_frag_list(skb, 100, 150);
	fill(exp + n, 100, 4, 0);
	fill(exp + n + 100, 150, 5, 0);
	CHECK(same_bytes(skb, exp, n + 250));
	CHECK(pskb_may_pull(skb, n + 30));
	CHECK(skb_headlen(skb) >= n + 30);
	CHECK(same_bytes(skb, exp, n + 250));
	kfree_skb(skb);
	CHECK_EQ(cache_in_use(pktmem_skbuff_cache()), 0);

	/* skb_linearize: frags and frag_list, released when ours alone. */
	skb = make_skb(12, 20, 100, 200);
	add_frag_list(skb, 100, 150);
	CHECK_EQ(cache_in_use(pktmem_skbuff_cache()), 3);
	CHECK_EQ(skb_linearize(skb), 0);
	CHECK(!skb_is_nonlinear(skb) && skb_shinfo(skb)->nr_frags == 0 && !skb_shinfo(skb)->frag_list);
	CHECK(same_bytes(skb, exp, n + 250));
	CHECK_EQ(skb_headroom(skb), 12);
	CHECK_EQ(cache_in_use(pktmem_skbuff_cache()), 1);
	CHECK_EQ(skb_linearize(skb), 0); /* linear: nothing */

	/* Failure: unchanged. */
	kfree_skb(skb);
	skb = make_skb(12, 20, 100, 200);
	pktmem_fault_set(PKTMEM_FAULT_NTH, 1, 0);
	CHECK_EQ(skb_linearize(skb), -ENOMEM);
	pktmem_fault_off();
	CHECK(same_bytes(skb, exp, n) && skb_shinfo(skb)->nr_frags == 2);
	pktmem_fault_set(PKTMEM_FAULT_NTH, 1, 0);
	CHECK(!pskb_may_pull(skb, skb_headlen(skb) + 200)); /* needs a bigger head */
	pktmem_fault_off();
	CHECK(same_bytes(skb, exp, n));
	kfree_skb(skb);
	check_clean();
}

static void test_frags(void)
{
	struct sk_buff *skb = alloc_skb(100, GFP_KERNEL);
	struct page *pg = pattern_page(2);

	/* skb_fill_page_desc: the skb takes the caller's reference; len unchanged. */
	skb_fill_page_desc(skb, 0, pg, 10, 100);
	CHECK_EQ(skb_shinfo(skb)->nr_frags, 1);
	CHECK_EQ(skb->len, 0);
	CHECK_EQ(skb->data_len, 0);
	CHECK_EQ(page_count(pg), 1);
	skb_frag_t *f = &skb_shinfo(skb)->frags[0];

	CHECK(skb_frag_page(f) == pg);
	CHECK_EQ(skb_frag_size(f), 100);
	CHECK_EQ(skb_frag_off(f), 10);
	CHECK(skb_frag_address(f) == (char *)page_address(pg) + 10);
	skb_frag_size_set(f, 50);
	CHECK_EQ(skb_frag_size(f), 50);
	skb_frag_size_add(f, 20);
	CHECK_EQ(skb_frag_size(f), 70);
	skb_frag_size_sub(f, 10);
	CHECK_EQ(skb_frag_size(f), 60);
	skb_frag_off_set(f, 20);
	CHECK_EQ(skb_frag_off(f), 20);
	skb_frag_off_add(f, 5);
	CHECK_EQ(skb_frag_off(f), 25);
	CHECK(*(uint8_t *)skb_frag_address(f) == pat(2, 25));
	__skb_frag_ref(f);
	CHECK_EQ(page_count(pg), 2);
	__skb_frag_unref(f);
	skb_frag_ref(skb, 0);
	CHECK_EQ(page_count(pg), 2);
	skb_frag_unref(skb, 0);
	CHECK_EQ(page_count(pg), 1);
	struct page *other = alloc_page(GFP_KERNEL);

	__skb_frag_set_page(f, other);
	CHECK(skb_frag_page(f) == other);
	__skb_frag_set_page(f, pg);
	__free_page(other);
	skb_frag_size_set(f, 100);
	skb_frag_off_set(f, 10);
	skb->len += 100;
	skb->data_len += 100;

	/* skb_add_rx_frag: and the lengths grow. */
	struct page *pg2 = pattern_page(3);
	unsigned truesize = skb->truesize;

	skb_add_rx_frag(skb, 1, pg2, 0, 300, PAGE_SIZE);
	CHECK_EQ(skb_shinfo(skb)->nr_frags, 2);
	CHECK_EQ(skb->len, 400);
	CHECK_EQ(skb->data_len, 400);
	CHECK_EQ(skb->truesize, truesize + PAGE_SIZE);
	CHECK(skb_is_nonlinear(skb));
	CHECK_EQ(skb_headlen(skb), 0);
	uint8_t exp[400];

	fill(exp, 100, 2, 10);
	fill(exp + 100, 300, 3, 0);
	CHECK(same_bytes(skb, exp, 400));

	/* Bad slots and ranges: diagnosed, nothing changed (the page stays the caller's). */
	struct page *pg3 = alloc_page(GFP_KERNEL);
	unsigned long seen = diag_seen;

	skb_add_rx_frag(skb, 3, pg3, 0, 10, 10);        /* past nr_frags */
	skb_add_rx_frag(skb, MAX_SKB_FRAGS, pg3, 0, 10, 10);
	skb_fill_page_desc(skb, -1, pg3, 0, 10);
	skb_add_rx_frag(skb, 2, pg3, 4000, 200, 10);    /* past the page */
	skb_add_rx_frag(skb, 2, pg3, -1, 10, 10);
	skb_add_rx_frag(skb, 2, NULL, 0, 10, 10);
	CHECK_EQ(diag_seen, seen + 6);
	CHECK_EQ(skb_shinfo(skb)->nr_frags, 2);
	CHECK_EQ(skb->len, 400);
	CHECK_EQ(page_count(pg3), 1);

	/* Into a shared info a clone shares: refused. */
	struct sk_buff *c = skb_clone(skb, GFP_KERNEL);

	skb_add_rx_frag(skb, 2, pg3, 0, 10, 10);
	CHECK_EQ(diag_seen, seen + 7);
	CHECK_EQ(skb_shinfo(skb)->nr_frags, 2);
	kfree_skb(c);

	/* Up to MAX_SKB_FRAGS fragments fit. */
	get_page(pg3);
	for (int i = 2; i < MAX_SKB_FRAGS; i++) {
		get_page(pg3);
		skb_add_rx_frag(skb, i, pg3, i, 1, 1);
	}
	put_page(pg3);
	CHECK_EQ(skb_shinfo(skb)->nr_frags, MAX_SKB_FRAGS);
	CHECK_EQ(page_count(pg3), 1 + MAX_SKB_FRAGS - 2);
	CHECK_EQ(diag_seen, seen + 7);

	/* Filling a slot that is in use replaces it and drops the ones after it. */
	struct page *a = alloc_page(GFP_KERNEL), *b = alloc_page(GFP_KERNEL);
	unsigned len = skb->len;

	get_page(a);
	get_page(b);
	skb_add_rx_frag(skb, MAX_SKB_FRAGS - 2, a, 0, 5, 5);  /* replaces the last two (1 byte each) */
	CHECK_EQ(skb_shinfo(skb)->nr_frags, MAX_SKB_FRAGS - 1);
	CHECK_EQ(skb->len, len - 2 + 5);
	CHECK_EQ(skb->data_len, skb->len);
	skb_fill_page_desc(skb, MAX_SKB_FRAGS - 2, b, 0, 5); /* the same, without the lengths */
	CHECK_EQ(page_count(a), 1);
	CHECK_EQ(page_count(b), 2);
	CHECK_EQ(page_count(pg3), 1 + MAX_SKB_FRAGS - 4);
	put_page(a);
	put_page(b);

	/* Freeing the skb releases every page reference it held. */
	put_page(pg3); /* ours: the skb's remain */
	kfree_skb(skb);
	check_clean();
}

static void test_copy_store_bits(void)
{
	uint8_t exp[4000], got[4000], src[4000];
	unsigned n = make_expect(exp, 64, 100, 200);
	struct sk_buff *skb = make_skb(16, 64, 100, 200);

	add_frag_list(skb, 50, 70);
	fill(exp + n, 50, 4, 0);
	fill(exp + n + 50, 70, 5, 0);
	n += 120;
	pktmem_window_open(skb->head, 16); /* primed outside the window */
	fill(skb->head, 16, 8, 0);

	/* Every offset and a spread of lengths across head, frags and frag_list. */
	for (unsigned off = 0; off <= n; off++) {
		static const unsigned lens[] = { 0, 1, 3, 37, 64, 101 };

		for (unsigned k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
			unsigned len = lens[k];

			if (off + len > n)
				continue;
			memset(got, 0xee, len + 1);
			CHECK_EQ(skb_copy_bits(skb, (int)off, got, (int)len), 0);
			CHECK(memcmp(got, exp + off, len) == 0);
			CHECK(got[len] == 0xee);
		}
	}
	CHECK_EQ(skb_copy_bits(skb, 0, got, (int)n), 0);
	CHECK(memcmp(got, exp, n) == 0);
	/* The headroom may be read (skb_copy does), not beyond. */
	CHECK_EQ(skb_copy_bits(skb, -16, got, 20), 0);
	CHECK(got[0] == pat(8, 0) && got[16] == exp[0]);
	CHECK_EQ(skb_copy_bits(skb, -17, got, 20), -EFAULT);
	/* Range errors. */
	CHECK_EQ(skb_copy_bits(skb, (int)n - 3, got, 4), -EFAULT);
	CHECK_EQ(skb_copy_bits(skb, (int)n + 1, got, 0), -EFAULT);
	CHECK_EQ(skb_copy_bits(skb, 0, got, -1), -EFAULT);
	CHECK_EQ(skb_copy_bits(skb, 0, got, (int)n + 1), -EFAULT);
	CHECK_EQ(skb_store_bits(skb, (int)n - 3, src, 4), -EFAULT);
	CHECK_EQ(skb_store_bits(skb, 0, src, -1), -EFAULT);

	/* Stores everywhere, read back. */
	fill(src, n, 11, 0);
	for (unsigned off = 0; off < n; off += 13) {
		unsigned len = off + 77 <= n ? 77 : n - off;

		CHECK_EQ(skb_store_bits(skb, (int)off, src + off, (int)len), 0);
		memcpy(exp + off, src + off, len);
	}
	CHECK(same_bytes(skb, exp, n));

	/* A clone shares head, frags and frag_list: every store is refused, nothing written. */
	struct sk_buff *c = skb_clone(skb, GFP_KERNEL);
	uint8_t zero[4000] = { 0 };

	CHECK_EQ(skb_store_bits(skb, 0, zero, 10), -EFAULT);
	CHECK_EQ(skb_store_bits(skb, 70, zero, 10), -EFAULT);       /* a frag */
	CHECK_EQ(skb_store_bits(skb, (int)n - 100, zero, 10), -EFAULT); /* the frag_list */
	CHECK_EQ(skb_store_bits(c, (int)n - 10, zero, 10), -EFAULT);
	CHECK(same_bytes(skb, exp, n));
	kfree_skb(c);

	/* pskb_copy: the head is private, the frags (and frag_list) are not. */
	c = pskb_copy(skb, GFP_KERNEL);
	CHECK_EQ(skb_store_bits(c, 0, zero, 10), 0);
	CHECK_EQ(skb_store_bits(c, 60, zero, 10), -EFAULT); /* all or nothing: the head part stays */
	CHECK_EQ(skb_store_bits(c, (int)n - 100, zero, 10), -EFAULT);
	CHECK(memcmp(c->data + 60, exp + 60, 4) == 0);
	CHECK(same_bytes(skb, exp, n));
	kfree_skb(c);

	kfree_skb(skb);
	check_clean();
}

/* ------------------------------------------------------------ queues */

static void test_queues(void)
{
	struct sk_buff_head q;
	struct sk_buff *s[5];

	skb_queue_head_init(&q);
	CHECK(skb_queue_empty(&q));
	CHECK_EQ(skb_queue_len(&q), 0);
	CHECK(skb_peek(&q) == NULL && skb_peek_tail(&q) == NULL);
	CHECK(skb_dequeue(&q) == NULL && skb_dequeue_tail(&q) == NULL);
	for (int i = 0; i < 5; i++) {
		s[i] = alloc_skb(10, GFP_KERNEL);
		s[i]->mark = (uint32_t)i;
	}
	skb_queue_tail(&q, s[1]);
	skb_queue_tail(&q, s[2]);
	skb_queue_head(&q, s[0]);
	skb_queue_tail(&q, s[3]);
	CHECK_EQ(skb_queue_len(&q), 4);
	CHECK(!skb_queue_empty(&q));
	CHECK(skb_peek(&q) == s[0] && skb_peek_tail(&q) == s[3]);
	skb_unlink(s[2], &q);
	CHECK_EQ(skb_queue_len(&q), 3);
	CHECK(s[2]->next == NULL && s[2]->prev == NULL);
	CHECK(skb_dequeue(&q) == s[0]);
	CHECK(skb_dequeue_tail(&q) == s[3]);
	CHECK(skb_dequeue(&q) == s[1]);
	CHECK(skb_dequeue(&q) == NULL);
	CHECK_EQ(skb_queue_len(&q), 0);

	/* The lock-free variants. */
	struct sk_buff_head u;

	__skb_queue_head_init(&u);
	__skb_queue_tail(&u, s[0]);
	__skb_queue_tail(&u, s[1]);
	__skb_queue_head(&u, s[2]);
	CHECK_EQ(skb_queue_len(&u), 3);
	CHECK(skb_peek(&u) == s[2]);
	__skb_unlink(s[0], &u);
	CHECK(__skb_dequeue_tail(&u) == s[1]);
	CHECK(__skb_dequeue(&u) == s[2]);
	CHECK(__skb_dequeue(&u) == NULL);
	CHECK(skb_queue_empty(&u));

	/* Purge frees every queued skb. */
	for (int i = 0; i < 3; i++)
		skb_queue_tail(&q, s[i]);
	skb_queue_purge(&q);
	CHECK_EQ(skb_queue_len(&q), 0);
	CHECK(skb_queue_empty(&q));
	__skb_queue_tail(&u, s[3]);
	__skb_queue_tail(&u, s[4]);
	__skb_queue_purge(&u);
	CHECK(skb_queue_empty(&u));
	pthread_mutex_destroy(&q.lock);
	check_clean();
}

/* ------------------------------------------------------------ atomic context */

static void test_atomic_context(void)
{
	struct sk_buff *plain = alloc_skb(100, GFP_KERNEL);

	pktmem_atomic_begin();
	unsigned long seen = diag_seen;

	CHECK(alloc_skb(100, GFP_KERNEL) == NULL);
	CHECK_EQ(diag_seen, seen + 1);
	CHECK(strcmp(diag_last_func, "__alloc_skb") == 0);
	CHECK(alloc_skb_fclone(100, GFP_KERNEL) == NULL);
	CHECK(skb_clone(plain, GFP_KERNEL) == NULL);
	CHECK(skb_copy(plain, GFP_KERNEL) == NULL);
	CHECK(pskb_copy(plain, GFP_KERNEL) == NULL);
	CHECK_EQ(diag_seen, seen + 5);

	struct sk_buff *skb = alloc_skb(100, GFP_ATOMIC);

	CHECK(skb != NULL);
	struct sk_buff *c = skb_clone(skb, GFP_ATOMIC);

	CHECK(c != NULL);
	struct sk_buff *nd = netdev_alloc_skb(NULL, 100);

	CHECK(nd != NULL);
	CHECK_EQ(diag_seen, seen + 5);
	kfree_skb(nd);
	kfree_skb(c);
	kfree_skb(skb);
	pktmem_atomic_end();
	kfree_skb(plain);
	check_clean();
}

/* ------------------------------------------------------------ mbufs */

/*
 * A 3-segment packet: a header mbuf with @hdr bytes inside (pattern 1), a
 * cluster mbuf with 1440 bytes (pattern 2, starting 40 bytes into the
 * cluster), a MEXTADD mbuf with 800 bytes of a malloc'd 1000-byte buffer
 * (pattern 3, from byte 100).
 */
static struct mbuf *make_chain(int hdr)
{
	struct mbuf *m = m_gethdr(M_WAIT, MT_DATA), *c = m_get(M_WAIT, MT_DATA), *x = m_get(M_WAIT, MT_DATA);
	char *buf = malloc(1000);

	fill(m->m_data, (size_t)hdr, 1, 0);
	m->m_len = hdr;
	MCLGET(c, M_WAIT);
	c->m_data += 40;
	fill(c->m_data, 1440, 2, 0);
	c->m_len = 1440;
	fill(buf, 1000, 3, 0);
	MEXTADD(x, buf, 1000, 0, extadd_free, NULL);
	x->m_data += 100;
	x->m_len = 800;
	m->m_next = c;
	c->m_next = x;
	m->m_pkthdr.len = hdr + 1440 + 800;
	return m;
}

static int chain_expect(uint8_t *out, int hdr)
{
	fill(out, (size_t)hdr, 1, 0);
	fill(out + hdr, 1440, 2, 0);
	fill(out + hdr + 1440, 800, 3, 100);
	return hdr + 2240;
}

static void test_skb_from_mbuf(void)
{
	static uint8_t exp[4000], got[4000];
	int n = chain_expect(exp, 60);

	{
		extadd_freed = 0;
		struct mbuf *m = make_chain(60), *cl = m->m_next, *xa = cl->m_next;
		struct pktmem_ext *cls = cl->m_ext.ext_storage, *xas = xa->m_ext.ext_storage;
		uint64_t cl_allocs = cache_allocs(pktmem_cluster_cache());

		CHECK(M_TRAILINGSPACE(cl) > 0 && M_LEADINGSPACE(cl) == 40);
		struct sk_buff *skb = skb_from_mbuf(m, 32, GFP_ATOMIC);

		CHECK(skb != NULL);
		if (!skb) {
			m_freem(m);
			return;
		}
		CHECK_EQ(skb->len, n);
		CHECK_EQ(skb_headroom(skb), 32);
		CHECK_EQ(skb_headlen(skb), 60);
		CHECK_EQ(skb_shinfo(skb)->nr_frags, 2);
		CHECK(same_bytes(skb, exp, (unsigned)n));
		/* No byte copied: the frags are the mbufs' storage. */
		CHECK(skb_frag_address(&skb_shinfo(skb)->frags[0]) == (void *)cl->m_data);
		CHECK(skb_frag_address(&skb_shinfo(skb)->frags[1]) == (void *)xa->m_data);
		CHECK_EQ(cache_allocs(pktmem_cluster_cache()), cl_allocs);
		CHECK_EQ(pktmem_ext_refs(cls), 2);
		CHECK_EQ(pktmem_ext_refs(xas), 2);
		/* The chain is as it was. */
		CHECK_EQ(m_length(m), n);
		CHECK(mbuf_gather(m, got) == n && memcmp(got, exp, (size_t)n) == 0);

		/* Copy-on-write on both sides. */
		CHECK_EQ(M_LEADINGSPACE(cl), 0);
		CHECK_EQ(M_TRAILINGSPACE(cl), 0);
		CHECK_EQ(M_TRAILINGSPACE(xa), 0);
		CHECK(!m_writable(cl) && !m_writable(xa));
		uint8_t junk[100];

		memset(junk, 0x5c, sizeof(junk));
		CHECK_EQ(skb_store_bits(skb, 100, junk, 10), -EFAULT);  /* cluster frag */
		CHECK_EQ(skb_store_bits(skb, 1600, junk, 10), -EFAULT); /* MEXTADD frag */
		CHECK_EQ(skb_store_bits(skb, 0, junk, 10), 0);          /* the head is the skb's own */
		memcpy(exp, junk, 10);
		CHECK(mbuf_gather(m, got) == n && memcmp(got + 10, exp + 10, (size_t)n - 10) == 0);
		CHECK(got[0] == pat(1, 0)); /* the mbuf's header bytes were copied, not shared */
		fill(exp, 60, 1, 0);

		/* mbuf side writes: m_copyback_cow copies, the skb keeps its bytes. */
		m = m_copyback_cow(m, 100, 20, junk, M_DONTWAIT);
		CHECK(m != NULL);
		m_copydata(m, 100, 20, got);
		CHECK(memcmp(got, junk, 20) == 0);
		memcpy(exp, junk, 10);
		CHECK(same_bytes(skb, exp, (unsigned)n));
		fill(exp, 60, 1, 0);
		CHECK_EQ(m_makewritable(&m, 0, n, M_DONTWAIT), 0);
		for (struct mbuf *x = m; x; x = x->m_next)
			CHECK(m_writable(x));
		memset(mtod(m->m_next, char *), 0, (size_t)m->m_next->m_len);
		memcpy(exp, junk, 10);
		CHECK(same_bytes(skb, exp, (unsigned)n));
		fill(exp, 60, 1, 0);
		/* The mbuf side let go of the shared storage: the skb alone holds it, may write it now. */
		CHECK_EQ(pktmem_ext_refs(xas), 1);
		CHECK_EQ(skb_store_bits(skb, 1600, junk, 10), 0);

		/* The skb is the last holder of the MEXTADD buffer: it frees it, once. */
		m_freem(m);
		CHECK_EQ(extadd_freed, 0);
		kfree_skb(skb);
		CHECK_EQ(extadd_freed, 1);
		check_clean();
	}
}

static void test_skb_from_mbuf_lifetimes(void)
{
	static uint8_t exp[4000], got[4000];
	int n = chain_expect(exp, 60);

	/* Without writes: the storage outlives whichever side goes first. */
	for (int order = 0; order < 2; order++) {
		extadd_freed = 0;
		struct mbuf *m = make_chain(60);
		struct pktmem_ext *cls = m->m_next->m_ext.ext_storage;
		struct sk_buff *skb = skb_from_mbuf(m, 0, GFP_KERNEL);

		CHECK(skb != NULL);
		if (order == 0) {
			m_freem(m);
			CHECK_EQ(extadd_freed, 0);
			CHECK_EQ(cache_in_use(pktmem_cluster_cache()), 1);
			CHECK(!skb_cloned(skb));
			CHECK(same_bytes(skb, exp, (unsigned)n));
			/* The skb alone holds the storage now: writable again. */
			CHECK_EQ(skb_store_bits(skb, 70, "x", 1), 0);
			kfree_skb(skb);
		} else {
			kfree_skb(skb);
			CHECK_EQ(extadd_freed, 0);
			CHECK_EQ(pktmem_ext_refs(cls), 1);
			CHECK(m_writable(m->m_next) && M_LEADINGSPACE(m->m_next) == 40);
			CHECK(mbuf_gather(m, got) == n && memcmp(got, exp, (size_t)n) == 0);
			m_freem(m);
		}
		CHECK_EQ(extadd_freed, 1);
		check_clean();
	}

	/* skb side writes after the conversion: skb_linearize copies, the mbufs keep their bytes. */
	extadd_freed = 0;
	struct mbuf *m = make_chain(60);
	struct sk_buff *skb = skb_from_mbuf(m, 0, GFP_KERNEL);

	CHECK_EQ(skb_linearize(skb), 0);
	CHECK_EQ(pktmem_ext_refs(m->m_next->m_ext.ext_storage), 1);
	memset(skb->data, 0, skb->len);
	CHECK(mbuf_gather(m, got) == n && memcmp(got, exp, (size_t)n) == 0);
	kfree_skb(skb);
	CHECK_EQ(extadd_freed, 0);
	m_freem(m);
	CHECK_EQ(extadd_freed, 1);
	check_clean();
}

static void test_skb_from_mbuf_shapes(void)
{
	static uint8_t exp[8000], got[8000];

	/* Internal data after external storage is copied into fragments. */
	struct mbuf *m = m_gethdr(M_WAIT, MT_DATA), *c1 = m_get(M_WAIT, MT_DATA), *in = m_get(M_WAIT, MT_DATA),
		    *c2 = m_get(M_WAIT, MT_DATA), *e = m_get(M_WAIT, MT_DATA);

	MCLGET(c1, M_WAIT);
	MCLGET(c2, M_WAIT);
	m->m_len = 50;
	c1->m_len = 1000;
	in->m_len = 200;
	c2->m_len = 300;
	e->m_len = 0; /* empty: skipped */
	m->m_next = c1;
	c1->m_next = in;
	in->m_next = e;
	e->m_next = c2;
	int n = 0;

	for (struct mbuf *x = m; x; x = x->m_next) {
		fill(x->m_data, (size_t)x->m_len, n, 0);
		fill(exp + n, (size_t)x->m_len, n, 0);
		n += x->m_len;
	}
	m->m_pkthdr.len = n;
	struct sk_buff *skb = skb_from_mbuf(m, 0, GFP_KERNEL);

	CHECK(skb != NULL);
	CHECK_EQ(skb_headlen(skb), 50);
	CHECK_EQ(skb_shinfo(skb)->nr_frags, 3);
	CHECK(same_bytes(skb, exp, (unsigned)n));
	CHECK(skb_frag_address(&skb_shinfo(skb)->frags[1]) != (void *)in->m_data); /* copied */
	CHECK_EQ(pktmem_ext_refs(c2->m_ext.ext_storage), 2);

	/* And back: the same bytes, the head and the frags shared. */
	struct mbuf *back = m_from_skb(skb, M_DONTWAIT);

	CHECK(back != NULL);
	CHECK_EQ(back->m_pkthdr.len, n);
	CHECK(mbuf_gather(back, got) == n && memcmp(got, exp, (size_t)n) == 0);
	CHECK_EQ(pktmem_ext_refs(c2->m_ext.ext_storage), 2); /* through the skb's page view */
	m_freem(m);
	kfree_skb(skb);
	CHECK(mbuf_gather(back, got) == n && memcmp(got, exp, (size_t)n) == 0);
	m_freem(back);
	check_clean();

	/* A chain that starts with external storage: an empty head. */
	m = m_gethdr(M_WAIT, MT_DATA);
	MCLGET(m, M_WAIT);
	fill(m->m_data, 500, 1, 0);
	m->m_len = 500;
	skb = skb_from_mbuf(m, 0, GFP_KERNEL);
	CHECK(skb && skb_headlen(skb) == 0 && skb->len == 500 && skb_shinfo(skb)->nr_frags == 1);
	kfree_skb(skb);
	m_freem(m);

	/* More external segments than MAX_SKB_FRAGS: EMSGSIZE, nothing kept. */
	m = m_gethdr(M_WAIT, MT_DATA);
	struct mbuf *t = m;

	for (int i = 0; i < MAX_SKB_FRAGS + 1; i++) {
		t->m_next = m_get(M_WAIT, MT_DATA);
		t = t->m_next;
		MCLGET(t, M_WAIT);
		t->m_len = 10;
	}
	errno = 0;
	unsigned long long before = all_in_use();

	CHECK(skb_from_mbuf(m, 0, GFP_KERNEL) == NULL);
	CHECK_EQ(errno, EMSGSIZE);
	CHECK_EQ(all_in_use(), before);
	CHECK_EQ(pktmem_ext_refs(m->m_next->m_ext.ext_storage), 1);
	/* Exactly MAX_SKB_FRAGS fit. */
	struct mbuf *second = m->m_next;

	m->m_next = second->m_next;
	m_free(second);
	skb = skb_from_mbuf(m, 0, GFP_KERNEL);
	CHECK(skb && skb_shinfo(skb)->nr_frags == MAX_SKB_FRAGS && skb->len == 10 * MAX_SKB_FRAGS);
	kfree_skb(skb);
	m_freem(m);
	check_clean();
}

/* Internal data after external storage is packed into pages: one fragment per run, pages shared. */
static void test_skb_from_mbuf_packing(void)
{
	static uint8_t exp[16000];
	/* cluster 1000, then 100 + 200 inside mbufs, cluster 500, 50 inside, then 30 x 400 inside */
	static const int lens[] = { 1000, -100, -200, 500, -50 };
	struct mbuf *m = m_gethdr(M_WAIT, MT_DATA), *t = m;
	int n = 0;

	m->m_len = 0;
	for (unsigned k = 0; k < sizeof(lens) / sizeof(lens[0]) + 30; k++) {
		int len = k < sizeof(lens) / sizeof(lens[0]) ? lens[k] : -400;

		t->m_next = m_get(M_WAIT, MT_DATA);
		t = t->m_next;
		if (len > 0)
			MCLGET(t, M_WAIT);
		t->m_len = len > 0 ? len : -len;
		fill(t->m_data, (size_t)t->m_len, n, 0);
		fill(exp + n, (size_t)t->m_len, n, 0);
		n += t->m_len;
	}
	m->m_pkthdr.len = n;
	struct sk_buff *skb = skb_from_mbuf(m, 0, GFP_KERNEL);

	CHECK(skb != NULL);
	CHECK_EQ(skb->len, n);
	CHECK(same_bytes(skb, exp, (unsigned)n));
	const struct skb_shared_info *sh = skb_shinfo(skb);

	/* cl | 300 copied | cl | 50 + 9 x 400 on the same page, then pages of 10, 10 and 1 x 400 */
	CHECK_EQ(sh->nr_frags, 7);
	CHECK_EQ(skb_frag_size(&sh->frags[1]), 300);
	CHECK_EQ(skb_frag_size(&sh->frags[3]), 50 + 9 * 400);
	CHECK(skb_frag_page(&sh->frags[1]) == skb_frag_page(&sh->frags[3])); /* one page, two fragments */
	CHECK_EQ(skb_frag_off(&sh->frags[3]), 300);
	CHECK_EQ(skb_frag_size(&sh->frags[4]), 10 * 400);
	CHECK_EQ(skb_frag_size(&sh->frags[5]), 10 * 400);
	CHECK_EQ(skb_frag_size(&sh->frags[6]), 400);
	/* A reference for each fragment on a page, none left over. */
	CHECK_EQ(pktmem_ext_refs(&skb_frag_page(&sh->frags[1])->ext), 2);
	CHECK_EQ(pktmem_ext_refs(&skb_frag_page(&sh->frags[4])->ext), 1);
	CHECK_EQ(pktmem_ext_refs(&skb_frag_page(&sh->frags[5])->ext), 1);
	CHECK_EQ(pktmem_ext_refs(&skb_frag_page(&sh->frags[6])->ext), 1);
	kfree_skb(skb);

	/* Many small internal mbufs after one cluster count as the fragments they make. */
	m_freem(m);
	m = m_gethdr(M_WAIT, MT_DATA);
	t = m;
	t->m_next = m_get(M_WAIT, MT_DATA);
	t = t->m_next;
	MCLGET(t, M_WAIT);
	t->m_len = 100;
	for (int k = 0; k < MAX_SKB_FRAGS + 10; k++) {
		t->m_next = m_get(M_WAIT, MT_DATA);
		t = t->m_next;
		t->m_len = 20;
	}
	skb = skb_from_mbuf(m, 0, GFP_KERNEL);
	CHECK(skb != NULL && skb_shinfo(skb)->nr_frags == 2 && skb->len == 100 + 20 * (MAX_SKB_FRAGS + 10));
	kfree_skb(skb);

	/* An internal mbuf whose m_len runs past its buffer is refused. */
	t->m_len = MLEN + 1;
	unsigned long d = diag_seen;

	errno = 0;
	CHECK(skb_from_mbuf(m, 0, GFP_KERNEL) == NULL);
	CHECK_EQ(errno, EINVAL);
	CHECK_EQ(diag_seen, d + 1);
	t->m_len = 20;
	m_freem(m);
	check_clean();
}

static struct mbuf *conv_chain;
static struct sk_buff *conv_skb;

static bool op_skb_from_mbuf(void *arg)
{
	(void)arg;
	struct sk_buff *skb = skb_from_mbuf(conv_chain, 16, GFP_ATOMIC);

	if (!skb) {
		for (struct mbuf *x = conv_chain; x; x = x->m_next)
			if (x->m_flags & M_EXT)
				CHECK_EQ(pktmem_ext_refs(x->m_ext.ext_storage), 1);
		return false;
	}
	kfree_skb(skb);
	return true;
}

static bool op_m_from_skb(void *arg)
{
	(void)arg;
	struct mbuf *m = m_from_skb(conv_skb, M_DONTWAIT);

	if (!m) {
		CHECK_EQ(pktmem_ext_refs(conv_skb->head_ext), 1);
		CHECK_EQ(page_count(skb_shinfo(conv_skb)->frags[0].bv_page), 1);
		return false;
	}
	m_freem(m);
	return true;
}

static void test_m_from_skb(void)
{
	static uint8_t exp[4000], got[4000];
	unsigned n = make_expect(exp, 100, 300, 400);

	for (int order = 0; order < 2; order++) {
		struct sk_buff *skb = make_skb(16, 100, 300, 400);
		struct page *p0 = skb_shinfo(skb)->frags[0].bv_page, *p1 = skb_shinfo(skb)->frags[1].bv_page;
		uint64_t cl = cache_allocs(pktmem_cluster_cache());
		unsigned long long before = all_in_use();
		struct mbuf *m = m_from_skb(skb, M_DONTWAIT);

		CHECK(m != NULL);
		CHECK(m->m_flags & M_PKTHDR);
		CHECK_EQ(m->m_pkthdr.len, n);
		CHECK_EQ(m_length(m), n);
		CHECK(mbuf_gather(m, got) == (int)n && memcmp(got, exp, n) == 0);
		/* No byte copied: three mbufs and nothing else. */
		CHECK((uint8_t *)m->m_data == skb->data);
		CHECK_EQ(all_in_use(), before + 3);
		CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), 3);
		CHECK_EQ(cache_allocs(pktmem_cluster_cache()), cl);
		CHECK_EQ(pktmem_ext_refs(skb->head_ext), 2);
		CHECK_EQ(page_count(p0), 2);
		CHECK_EQ(page_count(p1), 2);
		/* Copy-on-write on both sides. */
		for (struct mbuf *x = m; x; x = x->m_next) {
			CHECK(x->m_flags & M_EXT);
			CHECK_EQ(M_LEADINGSPACE(x), 0);
			CHECK_EQ(M_TRAILINGSPACE(x), 0);
		}
		CHECK(skb_cloned(skb));
		CHECK_EQ(skb_store_bits(skb, 0, "abc", 3), -EFAULT);
		CHECK_EQ(skb_store_bits(skb, 150, "abc", 3), -EFAULT);
		unsigned long seen = diag_seen;

		CHECK(skb_put_data(skb, "abc", 3) == NULL);
		CHECK_EQ(diag_seen, seen + 1);
		CHECK(mbuf_gather(m, got) == (int)n && memcmp(got, exp, n) == 0);

		/* skb side: skb_cow then a write; the mbufs keep their bytes. */
		CHECK_EQ(skb_cow(skb, 0), 0);
		CHECK_EQ(skb_store_bits(skb, 0, "abc", 3), 0);
		CHECK_EQ(skb_store_bits(skb, 150, "abc", 3), -EFAULT); /* frags are still shared */
		CHECK_EQ(pktmem_ext_refs(m->m_ext.ext_storage), 1);  /* the old head: the mbuf's alone */
		CHECK(mbuf_gather(m, got) == (int)n && memcmp(got, exp, n) == 0);
		memcpy(got, exp, n);
		memcpy(got, "abc", 3);
		CHECK(same_bytes(skb, got, n));

		/* mbuf side: m_copyback_cow copies the shared frag; the skb keeps its bytes. */
		m = m_copyback_cow(m, 150, 5, "XXXXX", M_DONTWAIT);
		CHECK(m != NULL);
		CHECK(same_bytes(skb, got, n));
		m_copydata(m, 150, 5, got + 3000);
		CHECK(memcmp(got + 3000, "XXXXX", 5) == 0);

		if (order == 0) {
			m_freem(m);
			CHECK_EQ(page_count(p0), 1);
			CHECK(same_bytes(skb, got, n));
			kfree_skb(skb);
		} else {
			kfree_skb(skb);
			/* The mbufs are the last holders: the frag itself, and the old head's shared info. */
			CHECK_EQ(page_count(p1), 2);
			m_copydata(m, 700, 50, got + 3000);
			CHECK(memcmp(got + 3000, exp + 700, 50) == 0);
			m_freem(m);
		}
		check_clean();
	}

	/* A frag_list and an empty head. */
	struct sk_buff *skb = alloc_skb(0, GFP_KERNEL);

	skb_add_rx_frag(skb, 0, pattern_page(2), 100, 300, PAGE_SIZE);
	add_frag_list(skb, 100, 150);
	fill(exp, 300, 2, 100);
	fill(exp + 300, 100, 4, 0);
	fill(exp + 400, 150, 5, 0);
	struct mbuf *m = m_from_skb(skb, M_WAIT);

	CHECK(m && m->m_len == 0 && m->m_pkthdr.len == 550);
	CHECK(mbuf_gather(m, got) == 550 && memcmp(got, exp, 550) == 0);
	kfree_skb(skb);
	CHECK(mbuf_gather(m, got) == 550 && memcmp(got, exp, 550) == 0);
	m_freem(m);
	check_clean();

	/* A bad wait flag or a NULL skb: diagnosed. */
	unsigned long seen = diag_seen;

	skb = alloc_skb(10, GFP_KERNEL);
	CHECK(m_from_skb(skb, 7) == NULL);
	CHECK(m_from_skb(NULL, M_WAIT) == NULL);
	CHECK(skb_from_mbuf(NULL, 0, GFP_KERNEL) == NULL);
	CHECK_EQ(diag_seen, seen + 3);
	kfree_skb(skb);
	check_clean();
}

static void test_round_trip(void)
{
	static uint8_t exp[4000], got[4000];
	int n = chain_expect(exp, 60);

	extadd_freed = 0;
	struct mbuf *m = make_chain(60);
	struct sk_buff *skb = skb_from_mbuf(m, NET_SKB_PAD, GFP_ATOMIC);
	struct mbuf *back = m_from_skb(skb, M_DONTWAIT);

	CHECK(back != NULL);
	CHECK(mbuf_gather(back, got) == n && memcmp(got, exp, (size_t)n) == 0);
	CHECK_EQ(back->m_pkthdr.len, n);
	CHECK_EQ(pktmem_ext_refs(m->m_next->m_ext.ext_storage), 2); /* one view, shared by skb and back */
	m_freem(m);
	kfree_skb(skb);
	CHECK_EQ(extadd_freed, 0);
	CHECK(mbuf_gather(back, got) == n && memcmp(got, exp, (size_t)n) == 0);
	/*
	 * back's first mbuf holds the skb's head, and with it the head's
	 * shared info, which still holds the fragment: so back->m_next is not
	 * writable yet. Once that mbuf goes, the rest is the last holder.
	 */
	CHECK(!m_writable(back->m_next));
	struct mbuf *rest = m_free(back);

	CHECK(m_writable(rest));
	CHECK_EQ(extadd_freed, 0);
	m_freem(rest);
	CHECK_EQ(extadd_freed, 1);
	check_clean();
}

static void test_conversion_faults(void)
{
	extadd_freed = 0;
	conv_chain = make_chain(60);
	/* Add an internal mbuf after the storage, so a page is allocated too. */
	struct mbuf *in = m_get(M_WAIT, MT_DATA);

	in->m_len = 100;
	conv_chain->m_next->m_next->m_next = in;
	CHECK(fail_each_point(op_skb_from_mbuf, NULL) >= 4); /* skb, head, 2 views, page */
	m_freem(conv_chain);
	CHECK_EQ(extadd_freed, 1);

	conv_skb = make_skb(16, 100, 300, 400);
	add_frag_list(conv_skb, 100, 150);
	CHECK(fail_each_point(op_m_from_skb, NULL) >= 5);
	kfree_skb(conv_skb);
	check_clean();
}

/* The small inline helpers: where the shared info sits, and inserting in the middle of a queue. */
static void test_inline_helpers(void)
{
	struct sk_buff *skb = alloc_skb(100, GFP_KERNEL);
	struct sk_buff_head q;
	struct sk_buff *a = alloc_skb(1, GFP_KERNEL), *b = alloc_skb(1, GFP_KERNEL), *c = alloc_skb(1, GFP_KERNEL);

	CHECK(skb_end_pointer(skb) == skb->head + skb->end);
	CHECK((void *)skb_shinfo(skb) == (void *)skb_end_pointer(skb));
	CHECK(skb_tail_pointer(skb) + skb_tailroom(skb) == skb_end_pointer(skb));
	kfree_skb(skb);

	__skb_queue_head_init(&q);
	__skb_queue_tail(&q, a);
	__skb_queue_tail(&q, c);
	__skb_insert(b, a, c, &q); /* between a and c */
	CHECK_EQ(skb_queue_len(&q), 3);
	CHECK(__skb_dequeue(&q) == a);
	CHECK(__skb_dequeue(&q) == b);
	CHECK(__skb_dequeue(&q) == c);
	CHECK(skb_queue_empty(&q));
	kfree_skb(a);
	kfree_skb(b);
	kfree_skb(c);
	CHECK_EQ(all_in_use(), baseline);
}

int main(void)
{
	diag_capture();
	/* Warm up the caches (and the library's lazily made state) before the baseline. */
	kfree_skb(alloc_skb(10, GFP_KERNEL));
	m_freem(m_gethdr(M_WAIT, MT_DATA));
	baseline = all_in_use();

	TEST(test_alloc_contract);
	TEST(test_inline_helpers);
	TEST(test_alloc_fault_injection);
	TEST(test_alloc_node);
	TEST(test_fclone);
	TEST(test_rx_reserve);
	TEST(test_netdev_alloc);
	TEST(test_build_skb);
	TEST(test_free_and_users);
	TEST(test_users_like_debug_fill);
	TEST(test_destructor_and_double_free);
	TEST(test_clone);
	TEST(test_copy);
	TEST(test_unshare_and_share_check);
	TEST(test_put_push_pull);
	TEST(test_trim);
	TEST(test_expand_head);
	TEST(test_cow);
	TEST(test_may_pull);
	TEST(test_frags);
	TEST(test_copy_store_bits);
	TEST(test_queues);
	TEST(test_atomic_context);
	TEST(test_skb_from_mbuf);
	TEST(test_skb_from_mbuf_lifetimes);
	TEST(test_skb_from_mbuf_shapes);
	TEST(test_skb_from_mbuf_packing);
	TEST(test_m_from_skb);
	TEST(test_round_trip);
	TEST(test_conversion_faults);
	return test_summary();
}
