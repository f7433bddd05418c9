/*
 * The slab layer's shared structures (slab.c builds caches on them;
 * kmalloc.c and page.c use spans directly). See slab.c for the picture.
 */
#ifndef PKTMEM_SLAB_IMPL_H
#define PKTMEM_SLAB_IMPL_H

#include <pthread.h>

#include "internal.h"

/*
 * Every span is aligned to SPAN_SIZE and begins with a struct span, so the
 * span of any object start is found by masking its address. A span holds
 * many small objects, or exactly one large object (above LARGE_OBJECT)
 * whose mapping may be shorter or longer than SPAN_SIZE.
 */
#define SPAN_SIZE    ARENA_SPAN_ALIGN
#define SPAN_MAGIC   0x70b1ab5a4e5ba11dULL
#define LARGE_OBJECT (SPAN_SIZE / 8)

struct span {
	uint64_t magic;
	struct kmem_cache *cache; /* NULL: a kmalloc() block of its own */
	size_t map_size;          /* bytes mapped for this span */
	size_t large_size;        /* kmalloc() large blocks: usable size */
	int node;
	struct span *next;        /* the owning depot's list */
	/*
	 * Cache spans: span_key(cache, node), which the free fast path compares
	 * with the caller's magazine key in one load and compare. Zero in other
	 * spans (a fresh mapping is zeroed); never equal to a magazine's key.
	 */
	uintptr_t key;
	uintptr_t first; /* cache spans: the address of the first object */
};

/* A cache is aligned to CACHE_LINE, so its low bits carry the span's node. */
static inline uintptr_t span_key(const struct kmem_cache *c, int node)
{
	return (uintptr_t)c | (uintptr_t)node;
}

static inline struct span *span_of(const void *p)
{
	return (struct span *)((uintptr_t)p & ~(uintptr_t)(SPAN_SIZE - 1));
}

/*
 * Is @s a span of ours? Every mapping the arena records starts with a span
 * header, so the bitmap alone answers; the magic number stays in the header
 * for debuggers and core dumps.
 */
static inline bool span_valid(const struct span *s)
{
	return arena_owns(s);
}

/* kmalloc(0) gives this, as Linux does; kfree() accepts it. */
#define ZERO_SIZE_PTR ((void *)16)
#define ZERO_OR_NULL_PTR(p) ((uintptr_t)(p) <= (uintptr_t)ZERO_SIZE_PTR)

/* Internal cache flag: the cache serves kmalloc() (kfree() may free it). */
#define SLAB_KMALLOC 0x80000000UL

unsigned long cache_flags(const struct kmem_cache *c);

/* Is @p the start of an object of @c (without diagnosing)? */
bool kmem_cache_owns(struct kmem_cache *c, const void *p);

/*
 * The start of the cache object that contains @p (which may point inside
 * it), or NULL when @p is in no cache's span. Not checked against the
 * object's state: for debug mode, whose records are keyed by that start.
 * A large object's bytes past the first SPAN_SIZE of its mapping are not
 * found.
 */
void *slab_obj_start(const void *p);

/* Is @p the start of a kmalloc() block (any size class or a large block)? */
bool kmalloc_owns(const void *p);

#endif /* PKTMEM_SLAB_IMPL_H */
