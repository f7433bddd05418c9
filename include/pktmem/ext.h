/*
 * <pktmem/ext.h> — the storage layer: shared, reference-counted data areas.
 *
 * Every buffer that can be shared between packets is one of these: an mbuf
 * cluster, MEXTMALLOC and MEXTADD storage, sk_buff heads, pages and page
 * fragments. Whoever holds a reference may read the bytes; only a sole
 * holder of storage that is not read-only may write them. mbufs and
 * sk_buffs ask the same question, pktmem_ext_writable(), which is what lets
 * one packet move between the two worlds without a byte copied.
 *
 * Thread-safety: references may be taken and dropped on any thread. The
 * storage is released exactly once, by whoever drops the last reference.
 */
#ifndef PKTMEM_EXT_H
#define PKTMEM_EXT_H

#include <stddef.h>
#include <stdbool.h>

#include <pktmem/export.h>
#include <pktmem/gfp.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ext_flags */
#define PKTMEM_EXT_RDONLY  0x1u /* never written, whatever the reference count */
#define PKTMEM_EXT_CLUSTER 0x2u /* an MCLBYTES cluster */
#define PKTMEM_EXT_KMALLOC 0x4u /* library memory of any size */
#define PKTMEM_EXT_USER    0x8u /* a caller's buffer with its own release routine */
#define PKTMEM_EXT_PAGE    0x10u /* a page run; the pktmem_ext is its struct page */
#define PKTMEM_EXT_VIEW    0x20u /* a page descriptor viewing other storage (ext_arg) */
#define PKTMEM_EXT_EMBEDDED 0x40u /* with USER: the header lives inside the area (freed by the release routine) */

struct pktmem_ext;

/*
 * Called once, when the last reference to a PKTMEM_EXT_USER area goes.
 * @owner is what the last holder passed to pktmem_ext_put() (an mbuf
 * being freed, or NULL). It releases the caller's buffer, never the
 * pktmem_ext itself.
 */
typedef void (*pktmem_ext_release_t)(struct pktmem_ext *ext, void *owner);

/* A shared data area. Fields are read-only for callers. */
struct pktmem_ext {
	int ext_refs;                 /* atomic; use pktmem_ext_get/put */
	unsigned int ext_flags;
	char *ext_buf;                /* first byte of the area */
	size_t ext_size;              /* bytes in the area */
	pktmem_ext_release_t ext_release; /* PKTMEM_EXT_USER only */
	void *ext_arg;                /* for the release routine */
	void *ext_free_fn;            /* for the release routine (e.g. MEXTADD's free) */
	int ext_type;                 /* for the release routine (e.g. MEXTADD's type) */
	int ext_node;                 /* NUMA node of ext_buf, or NUMA_NO_NODE if unknown */
};

/*
 * pktmem_ext_cluster() - a new cluster of PKTMEM_CLUSTER_SIZE bytes on @node
 * (NUMA_NO_NODE: the caller's), with one reference. NULL on failure (errno
 * ENOMEM, or EINVAL for an unknown node). Waits at the cluster limit only if
 * @gfp may wait.
 */
#define PKTMEM_CLUSTER_SIZE 2048
PKTMEM_API struct pktmem_ext *pktmem_ext_cluster(gfp_t gfp, int node);

/*
 * pktmem_ext_alloc() - a new area of @size bytes of library memory, with one
 * reference. NULL on failure (errno ENOMEM or EINVAL for size 0 or an
 * unknown node).
 */
PKTMEM_API struct pktmem_ext *pktmem_ext_alloc(size_t size, gfp_t gfp, int node);

/*
 * pktmem_ext_attach() - describe a caller's buffer as shared storage with one
 * reference. @release runs once, when the last reference goes; it must free
 * @buf (the pktmem_ext header is the library's). NULL on failure (errno
 * ENOMEM; EINVAL for a NULL buffer or release routine). On failure the
 * buffer stays the caller's.
 */
PKTMEM_API struct pktmem_ext *pktmem_ext_attach(void *buf, size_t size, pktmem_ext_release_t release,
						void *arg, gfp_t gfp);

/* Take one more reference. */
PKTMEM_API void pktmem_ext_get(struct pktmem_ext *ext);

/*
 * Drop one reference; the last one releases the storage (calling the
 * release routine with @owner for caller buffers). NULL is a no-op. A drop
 * below zero goes to the diagnostic handler.
 */
PKTMEM_API void pktmem_ext_put(struct pktmem_ext *ext, void *owner);

/* The current reference count (a snapshot). */
static inline int pktmem_ext_refs(const struct pktmem_ext *ext)
{
	return __atomic_load_n(&ext->ext_refs, __ATOMIC_ACQUIRE);
}

/*
 * May a holder write the bytes? Only a sole holder of writable storage; for
 * a view of other storage (PKTMEM_EXT_VIEW), the viewed storage must be held
 * by the view alone too.
 */
static inline bool pktmem_ext_writable(const struct pktmem_ext *ext)
{
	while (!(ext->ext_flags & PKTMEM_EXT_RDONLY) && pktmem_ext_refs(ext) == 1) {
		if (!(ext->ext_flags & PKTMEM_EXT_VIEW))
			return true;
		ext = (const struct pktmem_ext *)ext->ext_arg;
	}
	return false;
}

/*
 * Mark the area read-only for good (for example, a file's mapped pages).
 * Do it before the area is shared with another thread.
 */
PKTMEM_API void pktmem_ext_set_readonly(struct pktmem_ext *ext);

/*
 * Sanitizer windows. In a library built with AddressSanitizer or with
 * -DPKTMEM_VALGRIND=ON, the bytes of a data area outside its valid window
 * (an sk_buff's headroom and tailroom, an mbuf's leading and trailing
 * space) are poisoned, so that reading past skb->len or m_len is reported;
 * see pktmem_debug_set_windows() in <pktmem/pktmem.h>.
 *
 * pktmem_window_open() - the caller is about to write (or read) @len bytes
 * at @p outside a window, in a data area of the library: make them
 * accessible again until the next operation on the buffer. M_LEADINGSPACE(),
 * M_TRAILINGSPACE() and skb_tailroom() call it for the space they report
 * when PKTMEM_WINDOW_HOOKS is defined, which happens by itself in a program
 * compiled with -fsanitize=address and must be asked for with
 * -DPKTMEM_VALGRIND in one run under valgrind (the CMake package passes it
 * along with a PKTMEM_VALGRIND library). -DPKTMEM_NO_WINDOW_HOOKS keeps the
 * header-inline fast paths (skb_push, M_PREPEND, ...) in a sanitizer build,
 * for a program that turns window poisoning off before its first buffer. Does nothing in other builds, or
 * for NULL @p or @len 0. Any memory is opened, since MEXTADD buffers are
 * the caller's (so opening memory that is not a data area hides the
 * sanitizer's findings there); a range that wraps is diagnosed.
 */
#if defined(PKTMEM_NO_WINDOW_HOOKS)
/* Asked for: inline fast paths even under a sanitizer; the program then
 * turns window poisoning off (pktmem_debug_set_windows(false)) first. */
#elif defined(__SANITIZE_ADDRESS__) || defined(PKTMEM_VALGRIND)
#define PKTMEM_WINDOW_HOOKS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PKTMEM_WINDOW_HOOKS 1
#endif
#endif
PKTMEM_API void pktmem_window_open(const void *p, size_t len);

/* The caches behind clusters and ext headers, to set limits and reserves. */
struct kmem_cache;
PKTMEM_API struct kmem_cache *pktmem_cluster_cache(void);

#ifdef __cplusplus
}
#endif

#endif /* PKTMEM_EXT_H */
