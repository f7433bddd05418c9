/*
 * Pages: runs of 2^order page-aligned bytes with a separate descriptor, as
 * Linux keeps struct page apart from the memory it describes. Each order
 * has its own cache (so runs are recycled through magazines like any
 * object); descriptors come from one more cache. A descriptor begins with a
 * pktmem_ext, so a page is shared storage like a cluster: its reference
 * count is the storage's, and the last put, from an sk_buff fragment, an
 * mbuf or a bio, frees it.
 */
#include <errno.h>
#include <stdio.h>

#include "ext_impl.h"
#include "mem/slab_impl.h"

static pthread_once_t page_once = PTHREAD_ONCE_INIT;
static struct kmem_cache *order_cache[MAX_PAGE_ORDER + 1];
static struct kmem_cache *desc_cache;

_Static_assert(offsetof(struct page, ext) == 0, "a page descriptor is its storage header");

static void page_caches_init(void)
{
	char name[32];

	for (unsigned o = 0; o <= MAX_PAGE_ORDER; o++) {
		snprintf(name, sizeof(name), "page-order%u", o);
		order_cache[o] = kmem_cache_create(name, (unsigned)(PAGE_SIZE << o), PAGE_SIZE, SLAB_PANIC, NULL);
	}
	desc_cache = kmem_cache_create("page-descriptor", sizeof(struct page), 0, SLAB_PANIC, NULL);
}

/* The caller's name goes into the diagnostic for a waiting mask in atomic context. */
static struct page *pages_alloc(int node, gfp_t gfp, unsigned int order, const char *func)
{
	if (order > MAX_PAGE_ORDER || (node != NUMA_NO_NODE && !node_has_memory(node))) {
		errno = EINVAL;
		return NULL;
	}
	if (may_not_wait_here(gfp, func)) {
		errno = EWOULDBLOCK;
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
	pg->order = order;
	pg->node = span_of(mem)->node;
	pg->private = 0;
	ext_setup(&pg->ext, mem, PAGE_SIZE << order, PKTMEM_EXT_PAGE, pg->node);
	return pg;
}

struct page *alloc_pages_node(int node, gfp_t gfp, unsigned int order)
{
	return pages_alloc(node, gfp, order, "alloc_pages_node");
}

struct page *alloc_pages(gfp_t gfp, unsigned int order)
{
	return pages_alloc(NUMA_NO_NODE, gfp, order, "alloc_pages");
}

struct page *alloc_page(gfp_t gfp)
{
	return pages_alloc(NUMA_NO_NODE, gfp, 0, "alloc_page");
}

struct page *pktmem_page_view(struct pktmem_ext *ext, void *buf, size_t len, gfp_t gfp)
{
	/* Compared as offsets: buf + len may wrap around the address space. */
	if (!ext || (char *)buf < ext->ext_buf || (char *)buf > ext->ext_buf + ext->ext_size ||
	    len > ext->ext_size - (size_t)((char *)buf - ext->ext_buf)) {
		diag("pktmem_page_view", "bytes %p+%zu are not inside storage %p (%p+%zu)", buf, len, (void *)ext,
		     ext ? (void *)ext->ext_buf : NULL, ext ? ext->ext_size : 0);
		return NULL;
	}
	pthread_once(&page_once, page_caches_init);

	struct page *pg = kmem_cache_alloc(desc_cache, gfp & ~__GFP_ZERO);

	if (!pg)
		return NULL;
	pktmem_ext_get(ext);
	pg->order = 0;
	pg->node = ext->ext_node;
	pg->private = 0;
	ext_setup(&pg->ext, buf, len, PKTMEM_EXT_VIEW | (ext->ext_flags & PKTMEM_EXT_RDONLY), ext->ext_node);
	pg->ext.ext_arg = ext;
	return pg;
}

struct pktmem_ext *pktmem_page_storage(struct page *pg)
{
	return (pg->ext.ext_flags & PKTMEM_EXT_VIEW) ? (struct pktmem_ext *)pg->ext.ext_arg : &pg->ext;
}

void page_release(struct page *pg)
{
	if (pg->ext.ext_flags & PKTMEM_EXT_VIEW)
		pktmem_ext_put(pg->ext.ext_arg, NULL);
	else
		kmem_cache_free(order_cache[pg->order], pg->ext.ext_buf);
	kmem_cache_free(desc_cache, pg);
}

void put_page(struct page *pg)
{
	ext_put_named(pg ? &pg->ext : NULL, NULL, "put_page");
}

void get_page(struct page *pg)
{
	ext_get_named(&pg->ext, "get_page");
}

void __free_pages(struct page *pg, unsigned int order)
{
	if (!pg)
		return;
	/*
	 * Not a hot path (put_page() is): check that @pg is a descriptor of ours
	 * before its order is read, so a foreign pointer is diagnosed, not used.
	 */
	struct kmem_cache *dc = __atomic_load_n(&desc_cache, __ATOMIC_ACQUIRE);

	if (unlikely(!dc || !kmem_cache_owns(dc, pg))) {
		diag("__free_pages", "%p is not a page descriptor of ours (order %u)", (void *)pg, order);
		return;
	}
	if (unlikely(order != pg->order)) {
		/* In debug mode a freed descriptor's order reads as the fill: say so. */
		if (pg->order == (unsigned int)DEBUG_FREE_INT && debug_on() && debug_freed(pg, "__free_pages", "page"))
			return;
		diag("__free_pages", "page %p has order %u, freed as order %u", (void *)pg, pg->order, order);
		return;
	}
	put_page(pg);
}

void __free_page(struct page *pg)
{
	__free_pages(pg, 0);
}
