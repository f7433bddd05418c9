/*
 * <pktmem/ext.h> and <pktmem/page.h>: the storage layer's shared data areas.
 * Reference counts, writability, release exactly once, pages as storage,
 * views of one area through a page descriptor. Threads: test_ext_mt.c.
 */
#include <errno.h>

#include "check.h"

static void test_cluster(void)
{
	struct pktmem_ext *e = pktmem_ext_cluster(GFP_KERNEL, NUMA_NO_NODE);

	CHECK(e != NULL);
	CHECK_EQ(e->ext_size, PKTMEM_CLUSTER_SIZE);
	CHECK(e->ext_flags & PKTMEM_EXT_CLUSTER);
	CHECK_EQ(pktmem_ext_refs(e), 1);
	CHECK(pktmem_ext_writable(e));
	memset(e->ext_buf, 0x77, PKTMEM_CLUSTER_SIZE);
	CHECK_EQ(cache_in_use(pktmem_cluster_cache()), 1);

	pktmem_ext_get(e);
	CHECK_EQ(pktmem_ext_refs(e), 2);
	CHECK(!pktmem_ext_writable(e));
	pktmem_ext_put(e, NULL);
	CHECK(pktmem_ext_writable(e));
	pktmem_ext_put(e, NULL);
	CHECK_EQ(cache_in_use(pktmem_cluster_cache()), 0);

	errno = 0;
	CHECK(pktmem_ext_cluster(GFP_KERNEL, 4000) == NULL);
	CHECK_EQ(errno, EINVAL);
	pktmem_ext_put(NULL, NULL);

	/* Node placement follows the memory layer. */
	e = pktmem_ext_cluster(GFP_KERNEL, 0);
	CHECK(e && e->ext_node == 0);
	pktmem_ext_put(e, NULL);
}

static void test_kmalloc_area(void)
{
	struct pktmem_ext *e = pktmem_ext_alloc(10000, GFP_KERNEL | __GFP_ZERO, NUMA_NO_NODE);

	CHECK(e != NULL);
	CHECK_EQ(e->ext_size, 10000);
	CHECK(e->ext_buf[0] == 0 && e->ext_buf[9999] == 0);
	memset(e->ext_buf, 1, 10000); /* the header behind the data stays intact */
	CHECK_EQ(pktmem_ext_refs(e), 1);
	pktmem_ext_put(e, NULL);

	errno = 0;
	CHECK(pktmem_ext_alloc(0, GFP_KERNEL, NUMA_NO_NODE) == NULL);
	CHECK_EQ(errno, EINVAL);
	pktmem_fault_set(PKTMEM_FAULT_NTH, 1, 0);
	CHECK(pktmem_ext_alloc(100, GFP_KERNEL, NUMA_NO_NODE) == NULL);
	pktmem_fault_off();
}

static int releases;
static void *released_owner;

static void release_buf(struct pktmem_ext *e, void *owner)
{
	releases++;
	released_owner = owner;
	free(e->ext_buf);
}

static void test_attach_release_once(void)
{
	char *buf = malloc(500);
	struct pktmem_ext *e = pktmem_ext_attach(buf, 500, release_buf, (void *)0x1234, GFP_KERNEL);

	releases = 0;
	CHECK(e != NULL);
	CHECK(e->ext_buf == buf);
	CHECK(e->ext_arg == (void *)0x1234);
	for (int i = 0; i < 5; i++)
		pktmem_ext_get(e);
	for (int i = 0; i < 5; i++) {
		pktmem_ext_put(e, NULL);
		CHECK_EQ(releases, 0);
	}
	pktmem_ext_put(e, (void *)0xbeef);
	CHECK_EQ(releases, 1);
	CHECK(released_owner == (void *)0xbeef);

	/* Bad input, and a failed attach leaves the buffer the caller's. */
	errno = 0;
	CHECK(pktmem_ext_attach(NULL, 1, release_buf, NULL, GFP_KERNEL) == NULL);
	CHECK_EQ(errno, EINVAL);
	CHECK(pktmem_ext_attach(buf, 1, NULL, NULL, GFP_KERNEL) == NULL);
	pktmem_fault_set(PKTMEM_FAULT_NTH, 1, 0);
	char local[8];

	CHECK(pktmem_ext_attach(local, sizeof(local), release_buf, NULL, GFP_KERNEL) == NULL);
	pktmem_fault_off();
	CHECK_EQ(releases, 1);
}

static void test_readonly(void)
{
	struct pktmem_ext *e = pktmem_ext_cluster(GFP_KERNEL, NUMA_NO_NODE);

	pktmem_ext_set_readonly(e);
	CHECK_EQ(pktmem_ext_refs(e), 1);
	CHECK(!pktmem_ext_writable(e));
	pktmem_ext_put(e, NULL);
	CHECK_EQ(cache_in_use(pktmem_cluster_cache()), 0);
}

static void test_pages_are_storage(void)
{
	struct page *pg = alloc_pages(GFP_KERNEL, 1);
	struct pktmem_ext *e = &pg->ext;

	CHECK(e->ext_flags & PKTMEM_EXT_PAGE);
	CHECK(page_address(pg) == e->ext_buf);
	CHECK_EQ(e->ext_size, 2 * PAGE_SIZE);
	CHECK(pktmem_page_storage(pg) == e);
	get_page(pg);
	CHECK_EQ(pktmem_ext_refs(e), 2);
	pktmem_ext_put(e, NULL);  /* a storage put is a page put */
	CHECK_EQ(page_count(pg), 1);
	pktmem_ext_put(e, NULL);  /* the last one frees the run */
}

static void test_page_view_of_cluster(void)
{
	struct pktmem_ext *c = pktmem_ext_cluster(GFP_KERNEL, NUMA_NO_NODE);

	for (int i = 0; i < PKTMEM_CLUSTER_SIZE; i++)
		c->ext_buf[i] = (char)i;
	struct page *v = pktmem_page_view(c, c->ext_buf + 100, 1000, GFP_KERNEL);

	CHECK(v != NULL);
	CHECK(page_address(v) == c->ext_buf + 100);
	CHECK_EQ(v->ext.ext_size, 1000);
	CHECK(pktmem_page_storage(v) == c);
	CHECK_EQ(pktmem_ext_refs(c), 2);
	CHECK_EQ(page_count(v), 1);
	CHECK(((unsigned char *)page_address(v))[0] == 100);

	/* The cluster outlives its first holder through the view. */
	pktmem_ext_put(c, NULL);
	CHECK_EQ(cache_in_use(pktmem_cluster_cache()), 1);
	get_page(v);
	put_page(v);
	CHECK_EQ(cache_in_use(pktmem_cluster_cache()), 1);
	put_page(v);
	CHECK_EQ(cache_in_use(pktmem_cluster_cache()), 0);

	/* A view outside the area is refused; a failed view takes no reference. */
	c = pktmem_ext_cluster(GFP_KERNEL, NUMA_NO_NODE);
	unsigned long before = diag_seen;

	CHECK(pktmem_page_view(c, c->ext_buf + 2000, 100, GFP_KERNEL) == NULL);
	CHECK_EQ(diag_seen, before + 1);
	pktmem_fault_set(PKTMEM_FAULT_NTH, 1, 0);
	CHECK(pktmem_page_view(c, c->ext_buf, 10, GFP_KERNEL) == NULL);
	pktmem_fault_off();
	CHECK_EQ(pktmem_ext_refs(c), 1);
	pktmem_ext_put(c, NULL);
	CHECK_EQ(cache_in_use(pktmem_cluster_cache()), 0);
}

int main(void)
{
	diag_capture();
	TEST(test_cluster);
	TEST(test_kmalloc_area);
	TEST(test_attach_release_once);
	TEST(test_readonly);
	TEST(test_pages_are_storage);
	TEST(test_page_view_of_cluster);
	return test_summary();
}
