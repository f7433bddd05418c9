/*
 * <pktmem/gfp.h> — allocation masks, NUMA node numbers, error pointers and
 * pages: the vocabulary every pktmem allocator shares.
 *
 * The names and values follow Linux where Linux has them, so that code ported
 * out of the kernel compiles unchanged. A mask says two things: whether the
 * caller may sleep (GFP_KERNEL) or must not (GFP_ATOMIC, GFP_NOWAIT), and a
 * few modifiers (__GFP_ZERO, __GFP_MEMALLOC, ...).
 *
 * Thread-safety: everything declared here may be called from any thread.
 */
#ifndef PKTMEM_GFP_H
#define PKTMEM_GFP_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include <pktmem/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An allocation mask. An integer type, so masks combine with `|`. */
typedef unsigned int gfp_t;

/* Modifier bits. */
#define __GFP_DIRECT_RECLAIM 0x0001u /* the caller may sleep */
#define __GFP_HIGH           0x0002u /* high priority (GFP_ATOMIC)  */
#define __GFP_IO             0x0004u /* may start I/O (informational) */
#define __GFP_FS             0x0008u /* may call into a file system (informational) */
#define __GFP_ZERO           0x0100u /* return zeroed memory */
#define __GFP_MEMALLOC       0x0200u /* may dip into emergency reserves */
#define __GFP_NOMEMALLOC     0x0400u /* never use emergency reserves */
#define __GFP_NOWARN         0x0800u /* no diagnostic on failure */
#define __GFP_NOFAIL         0x1000u /* retry forever (needs a waiting mask) */
#define __GFP_NORETRY        0x2000u /* give up early */

/* Masks for callers. GFP_KERNEL may sleep; GFP_ATOMIC and GFP_NOWAIT never do. */
#define GFP_KERNEL (__GFP_DIRECT_RECLAIM | __GFP_IO | __GFP_FS)
#define GFP_ATOMIC (__GFP_HIGH)
#define GFP_NOWAIT (0u)
#define GFP_NOIO   (__GFP_DIRECT_RECLAIM)
#define GFP_NOFS   (__GFP_DIRECT_RECLAIM | __GFP_IO)

/* True when an allocation with this mask may sleep. */
static inline bool gfpflags_allow_blocking(gfp_t gfp)
{
	return (gfp & __GFP_DIRECT_RECLAIM) != 0;
}

/* "Any node": the calling thread's node. */
#define NUMA_NO_NODE (-1)

/*
 * Error pointers: a pointer return carrying -errno. Values in the last page
 * of the address space are never valid objects.
 */
#define MAX_ERRNO 4095

static inline void *ERR_PTR(long error)
{
	return (void *)(intptr_t)error;
}

static inline long PTR_ERR(const void *ptr)
{
	return (long)(intptr_t)ptr;
}

static inline bool IS_ERR(const void *ptr)
{
	return (uintptr_t)ptr >= (uintptr_t)-MAX_ERRNO;
}

static inline bool IS_ERR_OR_NULL(const void *ptr)
{
	return ptr == NULL || IS_ERR(ptr);
}

/* ------------------------------------------------------------------ pages */

#define PAGE_SHIFT 12
#define PAGE_SIZE  (1UL << PAGE_SHIFT)
#define PAGE_MASK  (~(PAGE_SIZE - 1))
/* Largest order alloc_pages() serves: 2^MAX_PAGE_ORDER pages (4 MiB). */
#define MAX_PAGE_ORDER 10

/*
 * A page descriptor: one run of 2^order physically contiguous-looking,
 * page-aligned bytes. The descriptor lives apart from the memory it
 * describes, as in Linux. Fields are read-only for callers.
 */
struct page {
	void *virtual_addr;       /* first byte of the run */
	unsigned int order;       /* the run is PAGE_SIZE << order bytes */
	int node;                 /* NUMA node of the memory */
	int _refcount;            /* atomic; use get_page()/put_page() */
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
 * to the diagnostic handler). NULL is a no-op.
 */
PKTMEM_API void __free_pages(struct page *page, unsigned int order);

/* __free_pages(page, 0). */
PKTMEM_API void __free_page(struct page *page);

/* The address of the first byte of the page run. */
PKTMEM_API void *page_address(const struct page *page);

/* Take one more reference to a page (any thread). */
PKTMEM_API void get_page(struct page *page);

/* Drop a reference taken by get_page() or alloc_pages(); the last frees. */
PKTMEM_API void put_page(struct page *page);

/* Current reference count (a snapshot). */
PKTMEM_API int page_count(const struct page *page);

/* The NUMA node the page's memory is bound to. */
PKTMEM_API int page_to_nid(const struct page *page);

/*
 * Number of NUMA nodes this machine has (highest node number + 1), and
 * whether a node number names a node with memory.
 */
PKTMEM_API int pktmem_nr_nodes(void);
PKTMEM_API bool pktmem_node_valid(int node);

#ifdef __cplusplus
}
#endif

#endif /* PKTMEM_GFP_H */
