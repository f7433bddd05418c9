/*
 * <pktmem/page.h> — pages: runs of 2^order page-aligned bytes with a
 * descriptor, as Linux's struct page, for sk_buff fragments, bio vectors and
 * page pools.
 *
 * A page is shared storage like any other (see <pktmem/ext.h>): its
 * descriptor begins with a struct pktmem_ext, and get_page()/put_page() are
 * that storage's reference count. So an mbuf can point at a page fragment,
 * and an sk_buff fragment at an mbuf cluster, without a byte copied.
 *
 * Thread-safety: every function may be called from any thread; references
 * may be taken and dropped on different threads.
 */
#ifndef PKTMEM_PAGE_H
#define PKTMEM_PAGE_H

#include <pktmem/export.h>
#include <pktmem/gfp.h>
#include <pktmem/ext.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PAGE_SHIFT 12
#define PAGE_SIZE  (1UL << PAGE_SHIFT)
#define PAGE_MASK  (~(PAGE_SIZE - 1))
/* Largest order alloc_pages() serves: 2^MAX_PAGE_ORDER pages (4 MiB). */
#define MAX_PAGE_ORDER 10

/*
 * A page descriptor. It lives apart from the memory it describes, as in
 * Linux. ext.ext_buf is the first byte, ext.ext_refs the reference count.
 * A descriptor may also be a view of other storage (an mbuf cluster that
 * became an sk_buff fragment): then it holds a reference to that storage,
 * order is 0 and the bytes are the other storage's. Fields are read-only for
 * callers.
 */
struct page {
	struct pktmem_ext ext;    /* the run as shared storage */
	unsigned int order;       /* the run is PAGE_SIZE << order bytes */
	int node;                 /* NUMA node of the memory */
	unsigned long private;    /* free for the owner's use */
};

/*
 * alloc_pages_node() - allocate 2^order pages on a NUMA node.
 * @node: a node number, or NUMA_NO_NODE for the calling thread's node.
 * Returns a page with a reference count of one, or NULL: errno ENOMEM when
 * memory (or an injected fault) ran out, EINVAL for an order above
 * MAX_PAGE_ORDER or an unknown node. __GFP_ZERO zeroes the memory.
 */
PKTMEM_API struct page *alloc_pages_node(int node, gfp_t gfp, unsigned int order);

/* alloc_pages_node(NUMA_NO_NODE, gfp, order). */
PKTMEM_API struct page *alloc_pages(gfp_t gfp, unsigned int order);

/* alloc_pages(gfp, 0). */
PKTMEM_API struct page *alloc_page(gfp_t gfp);

/*
 * __free_pages() - drop one reference; the last one frees the run.
 * @order must be the order it was allocated with (checked: a mismatch goes
 * to the diagnostic handler, as does a pointer that is no page descriptor
 * of ours). NULL is a no-op.
 */
PKTMEM_API void __free_pages(struct page *page, unsigned int order);

/* __free_pages(page, 0). */
PKTMEM_API void __free_page(struct page *page);

/* The address of the first byte of the page run. */
static inline void *page_address(const struct page *page)
{
	return page->ext.ext_buf;
}

/* Take one more reference to a page (any thread). */
PKTMEM_API void get_page(struct page *page);

/* Drop a reference taken by get_page() or alloc_pages(); the last frees. NULL is a no-op. */
PKTMEM_API void put_page(struct page *page);

/* Current reference count (a snapshot). */
static inline int page_count(const struct page *page)
{
	return pktmem_ext_refs(&page->ext);
}

/* The NUMA node the page's memory is bound to. */
static inline int page_to_nid(const struct page *page)
{
	return page->node;
}

/*
 * pktmem_page_view() - a page descriptor for @len bytes of other storage
 * at @buf (inside @ext's area), holding one reference to @ext: how an mbuf
 * cluster becomes an sk_buff fragment without a copy. The view starts with
 * one reference of its own; the last put_page() drops the one on @ext.
 * NULL on failure (errno ENOMEM), @ext untouched.
 */
PKTMEM_API struct page *pktmem_page_view(struct pktmem_ext *ext, void *buf, size_t len, gfp_t gfp);

/* The storage a page's bytes belong to: its own, or the viewed storage. */
PKTMEM_API struct pktmem_ext *pktmem_page_storage(struct page *page);

#ifdef __cplusplus
}
#endif

#endif /* PKTMEM_PAGE_H */
