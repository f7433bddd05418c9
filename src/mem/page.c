/*
 * Pages: runs of 2^order page-aligned bytes with a separate descriptor,
 * as Linux keeps struct page apart from the memory it describes. Each order
 * has its own cache (so runs are recycled through magazines like any
 * object); descriptors come from one more cache. The reference count lets
 * sk_buff fragments and bio vectors share a page.
 */
#include <errno.h>
#include <stdio.h>

#include "slab_impl.h"

static pthread_once_t page_once = PTHREAD_ONCE_INIT;
static struct kmem_cache *order_cache[MAX_PAGE_ORDER + 1];
static struct kmem_cache *desc_cache;

static void page_caches_init(void)
{
	char name[32];

	for (unsigned o = 0; o <= MAX_PAGE_ORDER; o++) {
		snprintf(name, sizeof(name), "page-order%u", o);
		order_cache[o] = kmem_cache_create(name, (unsigned)(PAGE_SIZE << o), PAGE_SIZE, SLAB_PANIC, NULL);
	}
	desc_cache = kmem_cache_create("page-descriptor", sizeof(struct page), 0, SLAB_PANIC, NULL);
}

struct page *alloc_pages_node(int node, gfp_t gfp, unsigned int order)
{
	if (order > MAX_PAGE_ORDER || (node != NUMA_NO_NODE && !node_has_memory(node))) {
		errno = EINVAL;
		return NULL;
	}
	pthread_once(&page_once, page_caches_init);

	void *mem = node == NUMA_NO_NODE ? kmem_cache_alloc(order_cache[order], gfp)
					 : kmem_cache_alloc_node(order_cache[order], gfp, node);
	if (!mem)
		return NULL;
	struct page *pg = kmem_cache_alloc(desc_cache, gfp & ~__GFP_ZERO);

	if (!pg) {
		kmem_cache_free(order_cache[order], mem);
		return NULL;
	}
	pg->virtual_addr = mem;
	pg->order = order;
	pg->node = span_of(mem)->node;
	pg->private = 0;
	__atomic_store_n(&pg->_refcount, 1, __ATOMIC_RELAXED);
	return pg;
}

struct page *alloc_pages(gfp_t gfp, unsigned int order)
{
	return alloc_pages_node(NUMA_NO_NODE, gfp, order);
}

struct page *alloc_page(gfp_t gfp)
{
	return alloc_pages_node(NUMA_NO_NODE, gfp, 0);
}

static void page_release(struct page *pg)
{
	kmem_cache_free(order_cache[pg->order], pg->virtual_addr);
	kmem_cache_free(desc_cache, pg);
}

void put_page(struct page *pg)
{
	if (!pg)
		return;
	int old = __atomic_fetch_sub(&pg->_refcount, 1, __ATOMIC_ACQ_REL);

	if (old == 1) {
		page_release(pg);
	} else if (unlikely(old <= 0)) {
		__atomic_fetch_add(&pg->_refcount, 1, __ATOMIC_RELAXED);
		diag("put_page", "page %p (order %u) freed with reference count %d", (void *)pg, pg->order, old);
	}
}

void __free_pages(struct page *pg, unsigned int order)
{
	if (!pg)
		return;
	if (unlikely(order != pg->order)) {
		diag("__free_pages", "page %p has order %u, freed as order %u", (void *)pg, pg->order, order);
		return;
	}
	put_page(pg);
}

void __free_page(struct page *pg)
{
	__free_pages(pg, 0);
}

void get_page(struct page *pg)
{
	int old = __atomic_fetch_add(&pg->_refcount, 1, __ATOMIC_RELAXED);

	if (unlikely(old <= 0)) {
		__atomic_fetch_sub(&pg->_refcount, 1, __ATOMIC_RELAXED);
		diag("get_page", "page %p has reference count %d (already freed)", (void *)pg, old);
	}
}

int page_count(const struct page *pg)
{
	return __atomic_load_n(&pg->_refcount, __ATOMIC_RELAXED);
}

void *page_address(const struct page *pg)
{
	return pg->virtual_addr;
}

int page_to_nid(const struct page *pg)
{
	return pg->node;
}
