/*
 * <pktmem/mempool.h> — memory pools with a guaranteed reserve, the Linux
 * mempool API with its signatures and semantics.
 *
 * A pool preallocates min_nr elements. mempool_alloc() first asks the
 * underlying allocator without waiting, then takes from the reserve, and
 * only with a waiting mask (GFP_KERNEL) sleeps until an element comes back
 * (or a timed retry of the allocator succeeds). So with a waiting mask it
 * never fails; with GFP_ATOMIC/GFP_NOWAIT it returns NULL at once when both
 * the allocator and the reserve are dry. mempool_free() refills the reserve
 * while it is below min_nr, and hands the element to the allocator's free
 * routine otherwise.
 *
 * Thread-safety: mempool_alloc() and mempool_free() may be called from any
 * thread, concurrently. mempool_resize() may run concurrently with them.
 * create/init/exit/destroy must not race with other use of the same pool.
 */
#ifndef PKTMEM_MEMPOOL_H
#define PKTMEM_MEMPOOL_H

#include <pthread.h>
#include <stdint.h>
#include <stddef.h>

#include <pktmem/export.h>
#include <pktmem/gfp.h>

#ifdef __cplusplus
extern "C" {
#endif

struct kmem_cache;

typedef void *(mempool_alloc_t)(gfp_t gfp_mask, void *pool_data);
typedef void (mempool_free_t)(void *element, void *pool_data);

/*
 * The pool. Public so that mempool_init() can set up a pool embedded in a
 * caller's structure; fields are private to the library.
 */
typedef struct mempool_s {
	pthread_mutex_t lock;
	pthread_cond_t wait;       /* waiting allocators sleep here */
	int min_nr;                /* reserve target */
	int curr_nr;               /* elements in the reserve now */
	void **elements;           /* the reserve, a stack of min_nr slots */
	void *pool_data;
	mempool_alloc_t *alloc;
	mempool_free_t *free;
	int node;                  /* NUMA node of the pool's own memory */
	int waiters;               /* allocators asleep on @wait */
	void *stats;               /* library-private statistics record */
} mempool_t;

/*
 * mempool_init_node() - set up @pool in caller-provided memory, with its
 * reserve array on @nid, and preallocate @min_nr elements through @alloc_fn
 * with @gfp_mask. Returns 0, or -ENOMEM (everything it had allocated freed,
 * @pool left uninitialised), or -EINVAL (negative min_nr, NULL functions,
 * unknown node).
 */
PKTMEM_API int mempool_init_node(mempool_t *pool, int min_nr, mempool_alloc_t *alloc_fn,
				 mempool_free_t *free_fn, void *pool_data,
				 gfp_t gfp_mask, int nid);

/* mempool_init_node(..., GFP_KERNEL, NUMA_NO_NODE). */
PKTMEM_API int mempool_init(mempool_t *pool, int min_nr, mempool_alloc_t *alloc_fn,
			    mempool_free_t *free_fn, void *pool_data);

/*
 * mempool_exit() - free the reserve's elements through free_fn and the
 * pool's own memory; the pool struct itself stays the caller's. Safe on a
 * zeroed or already exited pool. Elements handed out are the caller's to
 * free first.
 */
PKTMEM_API void mempool_exit(mempool_t *pool);

/*
 * mempool_create_node() - allocate and initialise a pool on node @nid.
 * Returns the pool or NULL (errno ENOMEM or EINVAL); a failed create frees
 * everything it had allocated.
 */
PKTMEM_API mempool_t *mempool_create_node(int min_nr, mempool_alloc_t *alloc_fn,
					  mempool_free_t *free_fn, void *pool_data,
					  gfp_t gfp_mask, int nid);

/* mempool_create_node(..., GFP_KERNEL, NUMA_NO_NODE). */
PKTMEM_API mempool_t *mempool_create(int min_nr, mempool_alloc_t *alloc_fn,
				     mempool_free_t *free_fn, void *pool_data);

/* mempool_exit() then free the pool itself. NULL is a no-op. */
PKTMEM_API void mempool_destroy(mempool_t *pool);

/*
 * mempool_resize() - change the reserve target to @new_min_nr (> 0).
 * Growing allocates until the reserve holds new_min_nr elements; elements
 * handed out do not count. If the allocator runs dry part way, the new
 * target still stands, 0 is returned (as Linux does) and later frees fill
 * the reserve up. Shrinking frees reserve elements above the new target;
 * while elements are out, later frees stop refilling at the new target.
 * Returns 0, -ENOMEM (the larger reserve array could not be allocated;
 * pool unchanged), or -EINVAL.
 */
PKTMEM_API int mempool_resize(mempool_t *pool, int new_min_nr);

/*
 * mempool_alloc() - allocate an element.
 * With a waiting mask it never returns NULL. With a non-waiting mask it
 * returns NULL at once when the allocator and the reserve are both dry.
 * __GFP_ZERO is not supported: it goes to the diagnostic handler and
 * NULL is returned.
 */
PKTMEM_API void *mempool_alloc(mempool_t *pool, gfp_t gfp_mask);

/*
 * mempool_free() - return an element allocated by mempool_alloc() on this
 * pool: into the reserve while it is below min_nr (waking a waiter), else
 * through free_fn. NULL is a no-op. A NULL or uninitialised pool, a pointer
 * that is no element of a slab or kmalloc pool, or an element already in
 * the reserve (a double free) goes to the diagnostic handler and is not
 * taken.
 */
PKTMEM_API void mempool_free(void *element, mempool_t *pool);

/* True once mempool_init*() succeeded and mempool_exit() has not run. */
PKTMEM_API int mempool_initialized(const mempool_t *pool);

/* True when the reserve is full (curr_nr >= min_nr). A NULL pool is diagnosed (0). */
PKTMEM_API int mempool_is_saturated(mempool_t *pool);

/* ------------------------------------------------------------ ready pools */

/* Elements from a kmem_cache: pool_data is the struct kmem_cache *. */
PKTMEM_API void *mempool_alloc_slab(gfp_t gfp_mask, void *pool_data);
PKTMEM_API void mempool_free_slab(void *element, void *pool_data);
PKTMEM_API mempool_t *mempool_create_slab_pool(int min_nr, struct kmem_cache *kc);
PKTMEM_API int mempool_init_slab_pool(mempool_t *pool, int min_nr, struct kmem_cache *kc);

/* Elements from kmalloc(): pool_data is the size, (void *)(uintptr_t)size. */
PKTMEM_API void *mempool_kmalloc(gfp_t gfp_mask, void *pool_data);
PKTMEM_API void mempool_kfree(void *element, void *pool_data);
PKTMEM_API mempool_t *mempool_create_kmalloc_pool(int min_nr, size_t size);
PKTMEM_API int mempool_init_kmalloc_pool(mempool_t *pool, int min_nr, size_t size);

/* Elements are struct page * of 2^order pages: pool_data is the order. */
PKTMEM_API void *mempool_alloc_pages(gfp_t gfp_mask, void *pool_data);
PKTMEM_API void mempool_free_pages(void *element, void *pool_data);
PKTMEM_API mempool_t *mempool_create_page_pool(int min_nr, int order);
PKTMEM_API int mempool_init_page_pool(mempool_t *pool, int min_nr, int order);

#ifdef __cplusplus
}
#endif

#endif /* PKTMEM_MEMPOOL_H */
