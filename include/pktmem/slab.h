/*
 * <pktmem/slab.h> — object caches (kmem_cache) and sized allocation (kmalloc),
 * with the Linux names and signatures.
 *
 * A cache hands out fixed-size objects. Each thread keeps a small magazine of
 * free objects per cache, so an allocation or free on the owning thread
 * touches no shared cache line; whole runs move between the magazines and a
 * per-NUMA-node depot. Objects may be freed on any thread. A thread that
 * exits hands its magazines back, so nothing is stranded.
 *
 * Thread-safety: every function may be called from any thread, except that
 * kmem_cache_destroy() must not race with use of the same cache.
 */
#ifndef PKTMEM_SLAB_H
#define PKTMEM_SLAB_H

#include <stddef.h>
#include <stdbool.h>

#include <pktmem/export.h>
#include <pktmem/gfp.h>

#ifdef __cplusplus
extern "C" {
#endif

struct kmem_cache;

/* kmem_cache_create() flags. */
#define SLAB_HWCACHE_ALIGN 0x00002000UL /* align objects to a cache line */
#define SLAB_PANIC         0x00040000UL /* creation failure goes to the diagnostic handler */
#define SLAB_HUGEPAGE      0x01000000UL /* back the cache with huge pages when the system has them */

/*
 * kmem_cache_create() - create a cache of objects of @size bytes.
 * @name:  a label for statistics; copied.
 * @align: required alignment (0: natural, at least sizeof(void *)); a power
 *         of two.
 * @flags: SLAB_* above.
 * @ctor:  optional constructor, run once when an object is first created (not
 *         on every allocation): objects must be freed in constructed state.
 * Returns the cache, or NULL with errno EINVAL (size 0, bad alignment, bad
 * flags) or ENOMEM. With SLAB_PANIC a failure goes to the diagnostic handler.
 */
PKTMEM_API struct kmem_cache *kmem_cache_create(const char *name, unsigned int size,
						unsigned int align, unsigned long flags,
						void (*ctor)(void *));

/*
 * kmem_cache_destroy() - free a cache and all its memory.
 * A cache with objects still allocated is reported through the diagnostic
 * handler (as Linux reports "objects remaining") and kept, so that those
 * objects stay valid. NULL is a no-op.
 */
PKTMEM_API void kmem_cache_destroy(struct kmem_cache *c);

/*
 * kmem_cache_alloc() - allocate one object.
 * A waiting mask sleeps at the cache limit until a free makes room; a
 * non-waiting one returns NULL at once (counted as denied). __GFP_ZERO zeroes
 * the object (refused for caches with a constructor: diagnostic, NULL).
 * __GFP_MEMALLOC may take from the emergency reserve when nothing else is
 * left. Returns NULL with errno ENOMEM (no memory, injected fault, or the limit
 * under a non-waiting mask).
 */
PKTMEM_API void *kmem_cache_alloc(struct kmem_cache *c, gfp_t gfp);

/*
 * kmem_cache_alloc_node() - as kmem_cache_alloc(), with the object's memory on
 * NUMA node @node (NUMA_NO_NODE: the calling thread's node). An unknown node
 * gives NULL with errno EINVAL; memory never comes from another node.
 */
PKTMEM_API void *kmem_cache_alloc_node(struct kmem_cache *c, gfp_t gfp, int node);

/* kmem_cache_zalloc() - kmem_cache_alloc(c, gfp | __GFP_ZERO). */
PKTMEM_API void *kmem_cache_zalloc(struct kmem_cache *c, gfp_t gfp);

/*
 * kmem_cache_free() - return an object to its cache, from any thread.
 * NULL is a no-op. An object of another cache, or a pointer that is no
 * object of ours, goes to the diagnostic handler and is not freed.
 */
PKTMEM_API void kmem_cache_free(struct kmem_cache *c, void *obj);

/*
 * kmem_cache_alloc_bulk() - allocate @nr objects into @p.
 * All or nothing: returns @nr, or 0 with nothing allocated (p's contents are
 * then unspecified). The whole run counts as one allocation for fault
 * injection.
 */
PKTMEM_API int kmem_cache_alloc_bulk(struct kmem_cache *c, gfp_t gfp, size_t nr, void **p);

/* kmem_cache_free_bulk() - free @nr objects of @p (NULL entries are skipped). */
PKTMEM_API void kmem_cache_free_bulk(struct kmem_cache *c, size_t nr, void **p);

/* The object size the cache was created with, and its name. */
PKTMEM_API unsigned int kmem_cache_size(const struct kmem_cache *c);
PKTMEM_API const char *kmem_cache_name(const struct kmem_cache *c);

/*
 * kmem_cache_set_limit() - cap the number of objects in use at @max
 * (0: no limit), like BSD's nmbclusters. At the limit, waiting allocations
 * sleep until a free, non-waiting ones fail and are counted as denied.
 * Lowering the limit below the number in use frees nothing; allocations
 * wait or fail until enough objects come back. Returns 0.
 */
PKTMEM_API int kmem_cache_set_limit(struct kmem_cache *c, size_t max);

/*
 * kmem_cache_set_reserve() - keep @nr objects aside as an emergency reserve,
 * usable only by __GFP_MEMALLOC allocations when the cache is otherwise dry
 * (at its limit, out of memory, or a fault injected). The reserve is filled
 * now and topped up by later frees. Returns 0, or -ENOMEM if the reserve
 * could not be filled (the cache keeps what it had before the call).
 */
PKTMEM_API int kmem_cache_set_reserve(struct kmem_cache *c, size_t nr);

/*
 * kmem_cache_shrink() - give the calling thread's magazine back to the depot
 * (other threads keep theirs until they exit). Returns 0.
 */
PKTMEM_API int kmem_cache_shrink(struct kmem_cache *c);

/* ------------------------------------------------------- sized allocation */

/*
 * kmalloc() - allocate @size bytes from size-class caches (or a direct
 * mapping above 256 KiB). Aligned to at least 16 bytes, and to a page for
 * sizes of a page and more. Returns NULL with errno ENOMEM. A zero size
 * gives Linux's ZERO_SIZE_PTR ((void *)16): not NULL, no usable byte, and
 * accepted by kfree().
 */
PKTMEM_API void *kmalloc(size_t size, gfp_t gfp);

/* kmalloc() on NUMA node @node; an unknown node gives NULL, errno EINVAL. */
PKTMEM_API void *kmalloc_node(size_t size, gfp_t gfp, int node);

/* kmalloc(size, gfp | __GFP_ZERO). */
PKTMEM_API void *kzalloc(size_t size, gfp_t gfp);

/* kfree() - free kmalloc() memory; NULL is a no-op; a foreign pointer goes to
 * the diagnostic handler. */
PKTMEM_API void kfree(const void *p);

/*
 * ksize() - the usable size of a kmalloc() block (its size class). NULL and
 * ZERO_SIZE_PTR give 0; a foreign pointer or one inside a block goes to the
 * diagnostic handler (0).
 */
PKTMEM_API size_t ksize(const void *p);

#ifdef __cplusplus
}
#endif

#endif /* PKTMEM_SLAB_H */
