/*
 * <pktmem/slab.h> as a specification: object caches, sized allocation,
 * limits, the emergency reserve, NUMA placement, bulk paths, statistics,
 * fault injection and the diagnostics for bad input. Threads: test_slab_mt.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"

#define MPOL_F_NODE 1
#define MPOL_F_ADDR 2

static int node_of_address(void *p)
{
	int node = -1;

	if (syscall(SYS_get_mempolicy, &node, NULL, 0UL, p, (unsigned long)(MPOL_F_NODE | MPOL_F_ADDR)) != 0)
		return -2;
	return node;
}

static void test_create_alloc_free(void)
{
	struct kmem_cache *c = kmem_cache_create("t-basic", 100, 0, 0, NULL);
	void *p[300];

	CHECK(c != NULL);
	CHECK_EQ(kmem_cache_size(c), 100);
	CHECK(strcmp(kmem_cache_name(c), "t-basic") == 0);
	for (int i = 0; i < 300; i++) {
		p[i] = kmem_cache_alloc(c, GFP_KERNEL);
		CHECK(p[i] != NULL);
		CHECK((uintptr_t)p[i] % sizeof(void *) == 0);
		memset(p[i], i & 0xff, 100);
	}
	for (int i = 0; i < 300; i++)
		for (int j = i + 1; j < 300; j++)
			CHECK(p[i] != p[j]);
	for (int i = 0; i < 300; i++) {
		CHECK(((unsigned char *)p[i])[99] == (i & 0xff));
		kmem_cache_free(c, p[i]);
	}
	CHECK_EQ(cache_in_use(c), 0);
	kmem_cache_free(c, NULL); /* no-op */
	kmem_cache_destroy(c);
	kmem_cache_destroy(NULL); /* no-op */
}

static void test_bad_create(void)
{
	errno = 0;
	CHECK(kmem_cache_create("zero", 0, 0, 0, NULL) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(kmem_cache_create("align", 64, 24, 0, NULL) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(kmem_cache_create("flags", 64, 0, 0x4, NULL) == NULL);
	CHECK_EQ(errno, EINVAL);

	unsigned long before = diag_seen;

	CHECK(kmem_cache_create("panic", 0, 0, SLAB_PANIC, NULL) == NULL);
	CHECK_EQ(diag_seen, before + 1);
	CHECK(strcmp(diag_last_func, "kmem_cache_create") == 0);
}

static void test_alignment(void)
{
	struct kmem_cache *a = kmem_cache_create("t-align", 40, 256, 0, NULL);
	struct kmem_cache *h = kmem_cache_create("t-hw", 20, 0, SLAB_HWCACHE_ALIGN, NULL);
	struct kmem_cache *s = kmem_cache_create("t-small", 1, 0, 0, NULL);

	for (int i = 0; i < 100; i++) {
		void *x = kmem_cache_alloc(a, GFP_KERNEL), *y = kmem_cache_alloc(h, GFP_KERNEL);
		void *z = kmem_cache_alloc(s, GFP_KERNEL);

		CHECK((uintptr_t)x % 256 == 0);
		CHECK((uintptr_t)y % 64 == 0);
		CHECK((uintptr_t)z % sizeof(void *) == 0);
		kmem_cache_free(a, x);
		kmem_cache_free(h, y);
		kmem_cache_free(s, z);
	}
	kmem_cache_destroy(a);
	kmem_cache_destroy(h);
	kmem_cache_destroy(s);
}

static int ctor_calls;

static void ctor_fill(void *obj)
{
	ctor_calls++;
	memset(obj, 0xC7, 64);
}

static void test_ctor_runs_once(void)
{
	struct kmem_cache *c = kmem_cache_create("t-ctor", 64, 0, 0, ctor_fill);
	void *p;

	ctor_calls = 0;
	p = kmem_cache_alloc(c, GFP_KERNEL);
	CHECK(p != NULL);
	CHECK(((unsigned char *)p)[63] == 0xC7);
	int after_first = ctor_calls;

	CHECK(after_first >= 1);
	kmem_cache_free(c, p);
	for (int i = 0; i < 1000; i++) {
		p = kmem_cache_alloc(c, GFP_KERNEL);
		CHECK(((unsigned char *)p)[0] == 0xC7);
		kmem_cache_free(c, p);
	}
	/* Reusing one object a thousand times constructs nothing new. */
	CHECK_EQ(ctor_calls, after_first);

	/* __GFP_ZERO on a constructed cache is refused, not silently applied. */
	unsigned long before = diag_seen;

	CHECK(kmem_cache_alloc(c, GFP_KERNEL | __GFP_ZERO) == NULL);
	CHECK_EQ(diag_seen, before + 1);
	CHECK_EQ(cache_in_use(c), 0);
	kmem_cache_destroy(c);
}

static void test_gfp_zero(void)
{
	struct kmem_cache *c = kmem_cache_create("t-zero", 200, 0, 0, NULL);
	unsigned char *p[64];

	for (int i = 0; i < 64; i++) {
		p[i] = kmem_cache_alloc(c, GFP_KERNEL);
		memset(p[i], 0xAB, 200);
	}
	for (int i = 0; i < 64; i++)
		kmem_cache_free(c, p[i]);
	for (int i = 0; i < 64; i++) {
		p[i] = (i & 1) ? kmem_cache_zalloc(c, GFP_ATOMIC) : kmem_cache_alloc(c, GFP_KERNEL | __GFP_ZERO);
		for (int b = 0; b < 200; b++)
			if (p[i][b]) {
				CHECK(p[i][b] == 0);
				break;
			}
	}
	void *bulk[16];

	for (int i = 0; i < 16; i++)
		memset(p[i], 0xEE, 200);
	for (int i = 0; i < 16; i++)
		kmem_cache_free(c, p[i]);
	CHECK_EQ(kmem_cache_alloc_bulk(c, GFP_KERNEL | __GFP_ZERO, 16, bulk), 16);
	for (int i = 0; i < 16; i++)
		CHECK(((unsigned char *)bulk[i])[0] == 0 && ((unsigned char *)bulk[i])[199] == 0);
	kmem_cache_free_bulk(c, 16, bulk);
	for (int i = 16; i < 64; i++)
		kmem_cache_free(c, p[i]);
	CHECK_EQ(cache_in_use(c), 0);
	kmem_cache_destroy(c);
}

static void test_numa_node(void)
{
	struct kmem_cache *c = kmem_cache_create("t-node", 2048, 0, 0, NULL);
	int nodes = pktmem_nr_nodes();

	CHECK(nodes >= 1);
	CHECK(pktmem_node_valid(0));
	for (int i = 0; i < 50; i++) {
		char *p = kmem_cache_alloc_node(c, GFP_KERNEL, 0);

		CHECK(p != NULL);
		if (!p)
			break;
		memset(p, 1, 2048); /* fault the page in so the kernel can report it */
		CHECK_EQ(node_of_address(p), 0);
		kmem_cache_free(c, p);
	}
	/* The caller's node is a real node too. */
	char *q = kmem_cache_alloc_node(c, GFP_KERNEL, NUMA_NO_NODE);

	memset(q, 2, 2048);
	CHECK(node_of_address(q) >= 0);
	kmem_cache_free(c, q);

	/* An absent node is refused, never served from another node. */
	int bad[] = { nodes, 63, 64, 1000, -2 };

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (pktmem_node_valid(bad[i]))
			continue;
		errno = 0;
		CHECK(kmem_cache_alloc_node(c, GFP_KERNEL, bad[i]) == NULL);
		CHECK_EQ(errno, EINVAL);
		errno = 0;
		CHECK(kmalloc_node(64, GFP_KERNEL, bad[i]) == NULL);
		CHECK_EQ(errno, EINVAL);
		errno = 0;
		CHECK(alloc_pages_node(bad[i], GFP_KERNEL, 0) == NULL);
		CHECK_EQ(errno, EINVAL);
	}
	CHECK_EQ(cache_in_use(c), 0);
	kmem_cache_destroy(c);
}

static void test_bulk_all_or_nothing(void)
{
	struct kmem_cache *c = kmem_cache_create("t-bulk", 512, 0, 0, NULL);
	void *p[200];

	CHECK_EQ(kmem_cache_alloc_bulk(c, GFP_KERNEL, 200, p), 200);
	for (int i = 0; i < 200; i++) {
		CHECK(p[i] != NULL);
		memset(p[i], i, 512);
	}
	CHECK_EQ(cache_in_use(c), 200);
	kmem_cache_free_bulk(c, 200, p);
	CHECK_EQ(cache_in_use(c), 0);

	/* At a limit, a run that does not fit is refused whole. */
	kmem_cache_set_limit(c, 100);
	CHECK_EQ(kmem_cache_alloc_bulk(c, GFP_ATOMIC, 60, p), 60);
	CHECK_EQ(kmem_cache_alloc_bulk(c, GFP_ATOMIC, 60, p + 60), 0);
	CHECK_EQ(cache_in_use(c), 60);
	CHECK_EQ(kmem_cache_alloc_bulk(c, GFP_ATOMIC, 40, p + 60), 40);
	CHECK_EQ(cache_in_use(c), 100);
	kmem_cache_free_bulk(c, 100, p);
	/* A run larger than the limit can never fit, even for a waiting mask. */
	CHECK_EQ(kmem_cache_alloc_bulk(c, GFP_KERNEL, 101, p), 0);
	kmem_cache_set_limit(c, 0);

	/* An injected fault fails the whole run and leaks nothing. */
	pktmem_fault_set(PKTMEM_FAULT_NTH, 1, 0);
	CHECK_EQ(kmem_cache_alloc_bulk(c, GFP_KERNEL, 32, p), 0);
	pktmem_fault_off();
	CHECK_EQ(cache_in_use(c), 0);

	/* NULL entries in a free run are skipped. */
	CHECK_EQ(kmem_cache_alloc_bulk(c, GFP_KERNEL, 4, p), 4);
	p[4] = NULL;
	kmem_cache_free_bulk(c, 5, p);
	CHECK_EQ(cache_in_use(c), 0);
	kmem_cache_destroy(c);
}

static void test_limit_nowait_denied(void)
{
	struct kmem_cache *c = kmem_cache_create("t-limit", 64, 0, 0, NULL);
	void *p[10];
	struct pktmem_stats st;

	CHECK_EQ(kmem_cache_set_limit(c, 10), 0);
	for (int i = 0; i < 10; i++)
		CHECK((p[i] = kmem_cache_alloc(c, GFP_ATOMIC)) != NULL);
	errno = 0;
	CHECK(kmem_cache_alloc(c, GFP_ATOMIC) == NULL);
	CHECK_EQ(errno, ENOMEM);
	CHECK(kmem_cache_alloc(c, GFP_NOWAIT) == NULL);
	/* __GFP_NORETRY: a waiting mask that still must not sleep at the limit */
	CHECK(kmem_cache_alloc(c, GFP_KERNEL | __GFP_NORETRY) == NULL);
	kmem_cache_stats(c, &st);
	CHECK_EQ(st.denied, 3);
	CHECK_EQ(st.in_use, 10);
	CHECK_EQ(st.peak, 10);
	CHECK_EQ(st.limit, 10);
	kmem_cache_free(c, p[3]);
	CHECK((p[3] = kmem_cache_alloc(c, GFP_NOWAIT)) != NULL);
	for (int i = 0; i < 10; i++)
		kmem_cache_free(c, p[i]);
	CHECK_EQ(cache_in_use(c), 0);
	kmem_cache_destroy(c);
}

static void test_emergency_reserve(void)
{
	struct kmem_cache *c = kmem_cache_create("t-reserve", 256, 0, 0, NULL);
	void *p[8], *r[4];
	struct pktmem_stats st;

	CHECK_EQ(kmem_cache_set_reserve(c, 4), 0);
	kmem_cache_stats(c, &st);
	CHECK_EQ(st.reserve, 4);
	CHECK_EQ(st.reserve_max, 4);
	kmem_cache_set_limit(c, 8);
	for (int i = 0; i < 8; i++)
		p[i] = kmem_cache_alloc(c, GFP_ATOMIC);
	/* At the limit: plain atomic allocations fail, MEMALLOC ones use the reserve. */
	CHECK(kmem_cache_alloc(c, GFP_ATOMIC) == NULL);
	for (int i = 0; i < 4; i++)
		CHECK((r[i] = kmem_cache_alloc(c, GFP_ATOMIC | __GFP_MEMALLOC)) != NULL);
	CHECK(kmem_cache_alloc(c, GFP_ATOMIC | __GFP_MEMALLOC) == NULL);
	CHECK(kmem_cache_alloc(c, GFP_ATOMIC | __GFP_MEMALLOC | __GFP_NOMEMALLOC) == NULL);
	kmem_cache_stats(c, &st);
	CHECK_EQ(st.reserve, 0);
	CHECK_EQ(st.in_use, 12);

	/* An injected fault also lets MEMALLOC dip into the reserve. */
	for (int i = 0; i < 4; i++)
		kmem_cache_free(c, r[i]);
	kmem_cache_set_limit(c, 0);
	for (int i = 0; i < 8; i++)
		kmem_cache_free(c, p[i]);
	kmem_cache_shrink(c); /* the magazine goes to the depot, refilling the reserve */
	kmem_cache_stats(c, &st);
	CHECK_EQ(st.reserve, 4);
	pktmem_fault_set(PKTMEM_FAULT_NTH, 1, 0);
	void *e = kmem_cache_alloc(c, GFP_KERNEL | __GFP_MEMALLOC);

	pktmem_fault_off();
	CHECK(e != NULL);
	kmem_cache_stats(c, &st);
	CHECK_EQ(st.reserve, 3);
	kmem_cache_free(c, e);

	/* Shrinking the reserve gives objects back to the depot. */
	CHECK_EQ(kmem_cache_set_reserve(c, 1), 0);
	kmem_cache_stats(c, &st);
	CHECK(st.reserve <= 1);
	CHECK_EQ(st.in_use, 0);
	kmem_cache_destroy(c);
}

static void test_fault_injection(void)
{
	struct kmem_cache *c = kmem_cache_create("t-fault", 32, 0, 0, NULL);
	void *p[10];
	unsigned long injected = pktmem_fault_injected();

	CHECK_EQ(pktmem_fault_set(PKTMEM_FAULT_NTH, 0, 0), -EINVAL);
	CHECK_EQ(pktmem_fault_set(PKTMEM_FAULT_RANDOM, 1000001, 0), -EINVAL);

	CHECK_EQ(pktmem_fault_set(PKTMEM_FAULT_NTH, 3, 0), 0);
	for (int i = 0; i < 6; i++)
		p[i] = kmem_cache_alloc(c, GFP_KERNEL);
	pktmem_fault_off();
	CHECK(p[0] && p[1] && !p[2] && p[3] && p[4] && p[5]);
	CHECK_EQ(pktmem_fault_injected(), injected + 1);
	for (int i = 0; i < 6; i++)
		kmem_cache_free(c, p[i]);

	CHECK_EQ(pktmem_fault_set(PKTMEM_FAULT_EVERY, 2, 0), 0);
	for (int i = 0; i < 6; i++)
		p[i] = kmem_cache_alloc(c, GFP_ATOMIC);
	pktmem_fault_off();
	CHECK(p[0] && !p[1] && p[2] && !p[3] && p[4] && !p[5]);
	for (int i = 0; i < 6; i++)
		kmem_cache_free(c, p[i]);

	/* Counting mode: how many allocation points does an operation pass? */
	pktmem_fault_count_reset();
	p[0] = kmem_cache_alloc(c, GFP_KERNEL);
	p[1] = kmalloc(100, GFP_KERNEL);
	struct page *pg = alloc_page(GFP_KERNEL);

	CHECK_EQ(pktmem_fault_count(), 4); /* object, kmalloc object, page run + descriptor */
	pktmem_fault_off();
	kmem_cache_free(c, p[0]);
	kfree(p[1]);
	__free_page(pg);

	/* Random mode is reproducible from its seed. */
	int pattern1[64], pattern2[64];

	for (int round = 0; round < 2; round++) {
		int *pat = round ? pattern2 : pattern1;

		pktmem_fault_set(PKTMEM_FAULT_RANDOM, 300000, 42);
		for (int i = 0; i < 64; i++) {
			void *x = kmem_cache_alloc(c, GFP_ATOMIC);

			pat[i] = x != NULL;
			kmem_cache_free(c, x);
		}
		pktmem_fault_off();
	}
	CHECK(memcmp(pattern1, pattern2, sizeof(pattern1)) == 0);
	int fails = 0;

	for (int i = 0; i < 64; i++)
		fails += !pattern1[i];
	CHECK(fails > 5 && fails < 45);
	CHECK_EQ(cache_in_use(c), 0);
	kmem_cache_destroy(c);
}

static void test_bad_frees(void)
{
	struct kmem_cache *a = kmem_cache_create("t-a", 64, 0, 0, NULL);
	struct kmem_cache *b = kmem_cache_create("t-b", 64, 0, 0, NULL);
	void *x = kmem_cache_alloc(a, GFP_KERNEL);
	char stack_obj[64];
	unsigned long before = diag_seen;

	kmem_cache_free(b, x); /* wrong cache: refused */
	CHECK_EQ(diag_seen, before + 1);
	CHECK(strcmp(diag_last_func, "kmem_cache_free") == 0);
	CHECK(strstr(diag_last_msg, "t-b") != NULL);
	CHECK_EQ(cache_in_use(a), 1);
	CHECK_EQ(cache_in_use(b), 0);

	void *m = malloc(64);

	kfree(m); /* not ours */
	CHECK_EQ(diag_seen, before + 2);
	CHECK(strcmp(diag_last_func, "kfree") == 0);
	free(m);
	kfree(stack_obj); /* not ours either, and never dereferenced as a span */
	CHECK_EQ(diag_seen, before + 3);
	kmem_cache_free(a, (char *)x + 8); /* inside an object */
	CHECK_EQ(diag_seen, before + 4);
	CHECK(strstr(diag_last_msg, "inside an object") != NULL);
	CHECK_EQ(cache_in_use(a), 1);
	char *big = kmalloc(1 << 20, GFP_KERNEL);

	kfree(big + 4096); /* inside a large block */
	CHECK_EQ(diag_seen, before + 5);
	kfree(big);
	before += 3;

	/* Destroying a cache with live objects is refused and reported. */
	kmem_cache_destroy(a);
	CHECK_EQ(diag_seen, before + 3);
	CHECK(strstr(diag_last_msg, "1 objects in use") != NULL);
	kmem_cache_free(a, x);
	kmem_cache_destroy(a);
	kmem_cache_destroy(b);
	CHECK_EQ(diag_seen, before + 3);
}

static void test_kmalloc(void)
{
	static const size_t sizes[] = { 1, 7, 16, 17, 100, 255, 256, 1000, 2048, 3000, 4096,
					5000, 65536, 262144, 262145, 1 << 20, 3u << 20 };

	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned char *p = kmalloc(sizes[i], GFP_KERNEL);

		CHECK(p != NULL);
		CHECK(ksize(p) >= sizes[i]);
		CHECK((uintptr_t)p % 16 == 0);
		if (sizes[i] >= PAGE_SIZE)
			CHECK((uintptr_t)p % PAGE_SIZE == 0);
		memset(p, 0x5A, sizes[i]);
		kfree(p);
		p = kzalloc(sizes[i], GFP_KERNEL);
		CHECK(p[0] == 0 && p[sizes[i] - 1] == 0);
		kfree(p);
	}
	void *z = kmalloc(0, GFP_KERNEL);

	CHECK(z != NULL);
	kfree(z); /* the zero-size pointer is accepted */
	kfree(NULL);
	CHECK_EQ(ksize(NULL), 0);

	/* kfree() takes any cache's object, as in Linux. */
	struct kmem_cache *c = kmem_cache_create("t-kfree", 48, 0, 0, NULL);
	void *o = kmem_cache_alloc(c, GFP_KERNEL);

	kfree(o);
	CHECK_EQ(cache_in_use(c), 0);
	kmem_cache_destroy(c);

	/* Node placement through kmalloc_node. */
	char *n0 = kmalloc_node(3000, GFP_KERNEL, 0);

	memset(n0, 1, 3000);
	CHECK_EQ(node_of_address(n0), 0);
	kfree(n0);
	n0 = kmalloc_node(1 << 20, GFP_KERNEL, 0);
	memset(n0, 1, 1 << 20);
	CHECK_EQ(node_of_address(n0 + 500000), 0);
	kfree(n0);
}

static void test_pages(void)
{
	for (unsigned o = 0; o <= MAX_PAGE_ORDER; o++) {
		struct page *pg = alloc_pages(GFP_KERNEL | __GFP_ZERO, o);

		CHECK(pg != NULL);
		if (!pg)
			continue;
		unsigned char *a = page_address(pg);

		CHECK((uintptr_t)a % PAGE_SIZE == 0);
		CHECK(a[0] == 0 && a[(PAGE_SIZE << o) - 1] == 0);
		memset(a, 0x11, PAGE_SIZE << o);
		CHECK_EQ(page_count(pg), 1);
		CHECK_EQ(pg->order, o);
		CHECK(page_to_nid(pg) >= 0);
		__free_pages(pg, o);
	}
	errno = 0;
	CHECK(alloc_pages(GFP_KERNEL, MAX_PAGE_ORDER + 1) == NULL);
	CHECK_EQ(errno, EINVAL);

	struct page *pg = alloc_page(GFP_KERNEL);

	get_page(pg);
	CHECK_EQ(page_count(pg), 2);
	put_page(pg);
	CHECK_EQ(page_count(pg), 1);

	unsigned long before = diag_seen;

	__free_pages(pg, 2); /* wrong order: refused */
	CHECK_EQ(diag_seen, before + 1);
	CHECK_EQ(page_count(pg), 1);
	__free_page(pg);
	__free_page(NULL);

	struct page *p0 = alloc_pages_node(0, GFP_KERNEL, 1);

	memset(page_address(p0), 3, PAGE_SIZE * 2);
	CHECK_EQ(node_of_address(page_address(p0)), 0);
	CHECK_EQ(page_to_nid(p0), 0);
	__free_pages(p0, 1);

	/* A failed descriptor allocation gives the run back. */
	pktmem_fault_set(PKTMEM_FAULT_NTH, 2, 0);
	CHECK(alloc_page(GFP_KERNEL) == NULL);
	pktmem_fault_off();
}

static void test_large_objects_and_hugepages(void)
{
	struct kmem_cache *big = kmem_cache_create("t-big", 600 * 1024, 0, 0, NULL);
	struct kmem_cache *huge = kmem_cache_create("t-huge", 2048, 0, SLAB_HUGEPAGE, NULL);
	void *p[5];

	for (int i = 0; i < 5; i++) {
		p[i] = kmem_cache_alloc(big, GFP_KERNEL);
		CHECK(p[i] != NULL);
		memset(p[i], i, 600 * 1024);
	}
	for (int i = 0; i < 5; i++)
		kmem_cache_free(big, p[i]);
	for (int i = 0; i < 5; i++) {
		p[i] = kmem_cache_alloc(huge, GFP_KERNEL);
		CHECK(p[i] != NULL);
		memset(p[i], i, 2048);
	}
	for (int i = 0; i < 5; i++)
		kmem_cache_free(huge, p[i]);
	CHECK_EQ(cache_in_use(big), 0);
	CHECK_EQ(cache_in_use(huge), 0);
	kmem_cache_destroy(big);
	kmem_cache_destroy(huge);
}

struct walk_find {
	const char *name;
	int found;
	struct pktmem_stats st;
};

static int walk_find(const struct pktmem_stats *st, void *arg)
{
	struct walk_find *w = arg;

	if (strcmp(st->name, w->name) == 0) {
		w->found++;
		w->st = *st;
	}
	return 0;
}

static void test_stats(void)
{
	struct kmem_cache *c = kmem_cache_create("t-stats", 1500, 0, 0, NULL);
	void *p[100];

	for (int i = 0; i < 100; i++)
		p[i] = kmem_cache_alloc(c, GFP_KERNEL);
	for (int i = 0; i < 40; i++)
		kmem_cache_free(c, p[i]);

	struct walk_find w = { .name = "t-stats" };

	CHECK_EQ(pktmem_stats_walk(walk_find, &w), 0);
	CHECK_EQ(w.found, 1);
	CHECK_EQ(w.st.kind, PKTMEM_STATS_CACHE);
	CHECK_EQ(w.st.obj_size, 1500);
	CHECK_EQ(w.st.allocs, 100);
	CHECK_EQ(w.st.frees, 40);
	CHECK_EQ(w.st.in_use, 60);
	CHECK(w.st.total >= 100);
	CHECK(w.st.peak >= 60);
	CHECK(w.st.bytes_mapped >= 100 * 1500);

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	pktmem_stats_print(f);
	fclose(f);
	CHECK(strstr(buf, "t-stats (1500 B)") != NULL);
	CHECK(strstr(buf, "60/") != NULL);
	CHECK(strstr(buf, "requests for memory denied") != NULL);
	free(buf);

	for (int i = 40; i < 100; i++)
		kmem_cache_free(c, p[i]);
	CHECK_EQ(cache_in_use(c), 0);
	kmem_cache_destroy(c);

	w.found = 0;
	pktmem_stats_walk(walk_find, &w);
	CHECK_EQ(w.found, 0); /* destroyed caches leave the registry */
	CHECK_EQ(pktmem_stats_walk(NULL, NULL), -EINVAL);
	CHECK_EQ(kmem_cache_stats(NULL, &w.st), -EINVAL);
}

static void test_version(void)
{
	CHECK_EQ(pktmem_version(), PKTMEM_VERSION);
	CHECK(strcmp(pktmem_version_string(), "0.1.0") == 0);
}

static void test_error_pointers(void)
{
	void *e = ERR_PTR(-ENOMEM);

	CHECK(IS_ERR(e));
	CHECK(IS_ERR_OR_NULL(e));
	CHECK(IS_ERR_OR_NULL(NULL));
	CHECK_EQ(PTR_ERR(e), -ENOMEM);
	CHECK(!IS_ERR(&e));
	gfp_t g = GFP_KERNEL | __GFP_ZERO;

	CHECK(gfpflags_allow_blocking(g));
	CHECK(!gfpflags_allow_blocking(GFP_ATOMIC));
	CHECK(!gfpflags_allow_blocking(GFP_NOWAIT));
	CHECK_EQ(NUMA_NO_NODE, -1);
}

static void test_atomic_context(void)
{
	struct kmem_cache *c = kmem_cache_create("t-atomic", 64, 0, 0, NULL);
	mempool_t *pool = mempool_create_slab_pool(2, c);
	void *warm = kmem_cache_alloc(c, GFP_KERNEL); /* the magazine is not empty */
	unsigned long before = diag_seen;

	CHECK(!pktmem_in_atomic());
	pktmem_atomic_begin();
	pktmem_atomic_begin();
	CHECK(pktmem_in_atomic());
	/* Waiting masks are refused even when memory is at hand... */
	CHECK(kmem_cache_alloc(c, GFP_KERNEL) == NULL);
	CHECK_EQ(diag_seen, before + 1);
	CHECK(strstr(diag_last_msg, "atomic context") != NULL);
	CHECK(kmalloc(100, GFP_KERNEL) == NULL);
	CHECK(mempool_alloc(pool, GFP_KERNEL) == NULL);
	void *bulk[4];

	CHECK_EQ(kmem_cache_alloc_bulk(c, GFP_KERNEL, 4, bulk), 0);
	CHECK_EQ(diag_seen, before + 4);
	/* ...non-waiting ones work. */
	void *a = kmem_cache_alloc(c, GFP_ATOMIC), *b = mempool_alloc(pool, GFP_NOWAIT);

	CHECK(a != NULL && b != NULL);
	pktmem_atomic_end();
	CHECK(pktmem_in_atomic()); /* nested */
	pktmem_atomic_end();
	CHECK(!pktmem_in_atomic());
	void *k = kmem_cache_alloc(c, GFP_KERNEL);

	CHECK(k != NULL);
	pktmem_atomic_end(); /* unbalanced */
	CHECK_EQ(diag_seen, before + 5);
	kmem_cache_free(c, a);
	kmem_cache_free(c, k);
	kmem_cache_free(c, warm);
	mempool_free(b, pool);
	mempool_destroy(pool);
	CHECK_EQ(cache_in_use(c), 0);
	kmem_cache_destroy(c);
}

int main(void)
{
	diag_capture();
	TEST(test_create_alloc_free);
	TEST(test_bad_create);
	TEST(test_alignment);
	TEST(test_ctor_runs_once);
	TEST(test_gfp_zero);
	TEST(test_numa_node);
	TEST(test_bulk_all_or_nothing);
	TEST(test_limit_nowait_denied);
	TEST(test_emergency_reserve);
	TEST(test_fault_injection);
	TEST(test_bad_frees);
	TEST(test_kmalloc);
	TEST(test_pages);
	TEST(test_large_objects_and_hugepages);
	TEST(test_stats);
	TEST(test_version);
	TEST(test_error_pointers);
	TEST(test_atomic_context);
	return test_summary();
}
