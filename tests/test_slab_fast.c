/*
 * The slab fast paths keep every contract of the slow ones: bulk frees that
 * mix bad pointers in, runs spread over several spans, strides of every
 * shape, a limit switched on and off over a warm magazine, a cache id
 * reused after a destroy, and ASan poisoning of bulk-moved objects.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pktmem/pktmem.h>
#include <pktmem/slab.h>

#include "check.h"

#ifdef TEST_UNDER_ASAN
#include <sanitizer/asan_interface.h>
#endif

#define SPAN (2UL << 20)

static void test_bulk_free_mixed_bad(void)
{
	struct kmem_cache *a = kmem_cache_create("fast-a", 192, 0, 0, NULL);
	struct kmem_cache *b = kmem_cache_create("fast-b", 192, 0, 0, NULL);
	void *obj[6], *other = kmem_cache_alloc(b, GFP_KERNEL);
	char *heap = malloc(192);
	unsigned long before = diag_seen;

	CHECK_EQ(kmem_cache_alloc_bulk(a, GFP_KERNEL, 6, obj), 6);
	void *arr[] = { obj[0], obj[1], NULL, other, (char *)obj[2] + 8, heap, obj[3], obj[4] };

	kmem_cache_free_bulk(a, sizeof(arr) / sizeof(arr[0]), arr);
	/* The wrong-cache object, the interior pointer and the heap block. */
	CHECK_EQ(diag_seen, before + 3);
	CHECK(strcmp(diag_last_func, "kmem_cache_free_bulk") == 0);
	CHECK_EQ(cache_in_use(a), 2); /* obj[2] and obj[5] */
	CHECK_EQ(cache_in_use(b), 1);
	void *rest[] = { obj[2], obj[5] };

	kmem_cache_free_bulk(a, 2, rest);
	kmem_cache_free(b, other);
	free(heap);
	CHECK_EQ(cache_in_use(a), 0);
	CHECK_EQ(cache_in_use(b), 0);
	CHECK_EQ(diag_seen, before + 3);
	kmem_cache_destroy(a);
	kmem_cache_destroy(b);
}

static int cmp_ptr(const void *x, const void *y)
{
	uintptr_t a = *(const uintptr_t *)x, b = *(const uintptr_t *)y;

	return (a > b) - (a < b);
}

/* Runs spanning several spans, freed in another order, come back whole. */
static void test_bulk_across_spans(void)
{
	struct kmem_cache *c = kmem_cache_create("fast-spans", 100000, 0, 0, NULL);
	enum { N = 64 };
	void *p[N], *q[N];

	CHECK_EQ(kmem_cache_alloc_bulk(c, GFP_KERNEL, N, p), N);
	unsigned spans = 1;

	memcpy(q, p, sizeof(p));
	qsort(q, N, sizeof(void *), cmp_ptr);
	for (int i = 1; i < N; i++) {
		CHECK(q[i] != q[i - 1]);
		spans += ((uintptr_t)q[i] / SPAN) != ((uintptr_t)q[i - 1] / SPAN);
	}
	CHECK(spans >= 3);
	for (int i = 0; i < N; i++)
		memset(p[i], i, 100000);
	/* Interleave the spans: every other pointer from the sorted end. */
	for (int i = 0; i < N; i++)
		p[i] = (i & 1) ? q[i / 2] : q[N - 1 - i / 2];
	kmem_cache_free_bulk(c, N, p);
	CHECK_EQ(cache_in_use(c), 0);

	struct pktmem_stats st;

	kmem_cache_stats(c, &st);
	CHECK_EQ(st.allocs, N);
	CHECK_EQ(st.frees, N);
	kmem_cache_destroy(c);
}

/* More than a magazine holds in one call: runs spill to the depot. */
static void test_bulk_larger_than_magazine(void)
{
	struct kmem_cache *c = kmem_cache_create("fast-many", 64, 0, 0, NULL);
	enum { N = 1000 };
	void **p = malloc(N * sizeof(void *));

	for (int round = 0; round < 3; round++) {
		CHECK_EQ(kmem_cache_alloc_bulk(c, GFP_KERNEL, N, p), N);
		CHECK_EQ(cache_in_use(c), N);
		kmem_cache_free_bulk(c, N / 2, p);
		kmem_cache_free_bulk(c, N - N / 2, p + N / 2);
		CHECK_EQ(cache_in_use(c), 0);
	}
	struct pktmem_stats st;

	kmem_cache_stats(c, &st);
	CHECK_EQ(st.allocs, 3 * N);
	CHECK_EQ(st.frees, 3 * N);
	free(p);
	kmem_cache_destroy(c);
}

/*
 * Every stride shape (odd multiple, power of two, large objects alone in a
 * span): object starts are accepted, anything else is diagnosed.
 */
static void test_index_check_strides(void)
{
	static const unsigned sizes[] = { 8, 24, 40, 64, 72, 200, 1000, 2048, 4000, 12288, 300000 };

	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct kmem_cache *c = kmem_cache_create("fast-stride", sizes[i], 0, 0, NULL);
		void *p[3];
		unsigned long before = diag_seen;

		CHECK(c != NULL);
		if (!c)
			continue;
		CHECK_EQ(kmem_cache_alloc_bulk(c, GFP_KERNEL, 3, p), 3);
		kmem_cache_free(c, (char *)p[0] + 1);
		kmem_cache_free(c, (char *)p[1] + sizes[i] / 2 + 2);
		kmem_cache_free(c, (void *)((uintptr_t)p[2] & ~(SPAN - 1))); /* the span header */
		CHECK_EQ(diag_seen, before + 3);
		void *bad[] = { (char *)p[0] + 4 };

		kmem_cache_free_bulk(c, 1, bad);
		CHECK_EQ(diag_seen, before + 4);
		CHECK_EQ(cache_in_use(c), 3);
		kmem_cache_free(c, p[0]);
		kmem_cache_free_bulk(c, 2, p + 1);
		CHECK_EQ(cache_in_use(c), 0);
		CHECK_EQ(diag_seen, before + 4);
		kmem_cache_destroy(c);
	}
}

/* A limit set over a warm magazine takes effect at once, and goes away. */
static void test_limit_over_warm_magazine(void)
{
	struct kmem_cache *c = kmem_cache_create("fast-limit", 128, 0, 0, NULL);
	void *p[8];

	CHECK_EQ(kmem_cache_alloc_bulk(c, GFP_KERNEL, 8, p), 8);
	kmem_cache_free_bulk(c, 8, p); /* the magazine now holds them */
	kmem_cache_set_limit(c, 4);
	for (int i = 0; i < 4; i++)
		CHECK((p[i] = kmem_cache_alloc(c, GFP_NOWAIT)) != NULL);
	CHECK(kmem_cache_alloc(c, GFP_NOWAIT) == NULL);
	CHECK_EQ(kmem_cache_alloc_bulk(c, GFP_NOWAIT, 1, p + 4), 0);
	kmem_cache_free(c, p[3]);
	CHECK((p[3] = kmem_cache_alloc(c, GFP_NOWAIT)) != NULL);
	kmem_cache_free_bulk(c, 4, p);
	CHECK_EQ(cache_in_use(c), 0);

	struct pktmem_stats st;

	kmem_cache_stats(c, &st);
	CHECK_EQ(st.denied, 2);
	kmem_cache_set_limit(c, 0);
	CHECK_EQ(kmem_cache_alloc_bulk(c, GFP_NOWAIT, 8, p), 8);
	kmem_cache_free_bulk(c, 8, p);
	CHECK_EQ(cache_in_use(c), 0);
	kmem_cache_destroy(c);
}

/*
 * A destroyed cache's magazine entry is reused by the next cache that gets
 * its id: nothing of the old cache may come out of it, and frees into it
 * must land in the new cache.
 */
static void test_id_reuse_after_destroy(void)
{
	void *p[16];

	for (int round = 0; round < 4; round++) {
		struct kmem_cache *c = kmem_cache_create("fast-reuse", 96, 0, 0, NULL);

		CHECK_EQ(kmem_cache_alloc_bulk(c, GFP_KERNEL, 16, p), 16);
		for (int i = 0; i < 16; i++)
			memset(p[i], 0x5a, 96); /* a stale pointer would fault */
		kmem_cache_free_bulk(c, 8, p);
		for (int i = 8; i < 16; i++)
			kmem_cache_free(c, p[i]);
		void *x = kmem_cache_alloc(c, GFP_KERNEL);

		CHECK(x != NULL);
		kmem_cache_free(c, x);
		CHECK_EQ(cache_in_use(c), 0);
		kmem_cache_destroy(c);
	}
}

/*
 * Bulk-moved objects come back as they went (the same set, from the
 * magazine), poisoned for ASan while free and usable while handed out.
 */
static void test_bulk_poisoning(void)
{
	struct kmem_cache *c = kmem_cache_create("fast-poison", 256, 0, 0, NULL);
	void *p[32], *q[32];

	CHECK_EQ(kmem_cache_alloc_bulk(c, GFP_KERNEL, 32, p), 32);
	for (int i = 0; i < 32; i++) {
#ifdef TEST_UNDER_ASAN
		CHECK(!__asan_region_is_poisoned(p[i], 256));
#endif
		memset(p[i], i, 256);
	}
	kmem_cache_free_bulk(c, 32, p);
#ifdef TEST_UNDER_ASAN
	for (int i = 0; i < 32; i++)
		CHECK(__asan_address_is_poisoned(p[i]));
#endif
	CHECK_EQ(kmem_cache_alloc_bulk(c, GFP_KERNEL, 32, q), 32);
	qsort(p, 32, sizeof(void *), cmp_ptr);
	qsort(q, 32, sizeof(void *), cmp_ptr);
	CHECK(memcmp(p, q, sizeof(p)) == 0);
	for (int i = 0; i < 32; i++) {
#ifdef TEST_UNDER_ASAN
		CHECK(!__asan_region_is_poisoned(q[i], 256));
#endif
		memset(q[i], 0, 256);
	}
	kmem_cache_free_bulk(c, 32, q);
	CHECK_EQ(cache_in_use(c), 0);
	kmem_cache_destroy(c);
}

int main(void)
{
	diag_capture();
	TEST(test_bulk_free_mixed_bad);
	TEST(test_bulk_across_spans);
	TEST(test_bulk_larger_than_magazine);
	TEST(test_index_check_strides);
	TEST(test_limit_over_warm_magazine);
	TEST(test_id_reuse_after_destroy);
	TEST(test_bulk_poisoning);
	return test_summary();
}
