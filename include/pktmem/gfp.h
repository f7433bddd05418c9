/*
 * <pktmem/gfp.h> — allocation masks, NUMA node numbers, error pointers and
 * pages: the vocabulary every pktmem allocator shares.
 *
 * The names and values follow Linux where Linux has them, so that code ported
 * out of the kernel compiles unchanged. A mask says two things: whether the
 * caller may sleep (GFP_KERNEL) or must not (GFP_ATOMIC, GFP_NOWAIT), and a
 * few modifiers (__GFP_ZERO, __GFP_MEMALLOC, ...).
 *
 * Pages (alloc_pages() and friends) are declared in <pktmem/page.h>.
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

/*
 * Atomic context. Linux lets only non-waiting masks allocate in interrupts;
 * an application marks its own such stretches (a signal handler, a poll
 * loop that must never block) with pktmem_atomic_begin()/_end() (they nest,
 * per thread). There, any allocation with a waiting mask (GFP_KERNEL,
 * M_WAIT) goes to the diagnostic handler and fails instead of sleeping.
 */
PKTMEM_API void pktmem_atomic_begin(void);
PKTMEM_API void pktmem_atomic_end(void);
PKTMEM_API bool pktmem_in_atomic(void);

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
