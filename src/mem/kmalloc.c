/*
 * Sized allocation: kmalloc() serves each size from the smallest size-class
 * cache that fits, and sizes above the largest class from a mapping of
 * their own (a span holding one block, so kfree() finds it by masking like
 * any object).
 */
#include <errno.h>
#include <string.h>

#include "slab_impl.h"

static const unsigned int class_size[] = {
	16, 32, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072,
	4096, 8192, 16384, 32768, 65536, 131072, 262144,
};
#define NR_CLASSES (sizeof(class_size) / sizeof(class_size[0]))
#define KMALLOC_MAX_CLASS 262144u

/*
 * Created once, on first use, and kept for the life of the process.
 * classes_ready is the fast check; pthread_once does the creation.
 * small_class maps (size + 15) / 16 to a class index for sizes up to 4 KiB.
 */
static pthread_once_t classes_once = PTHREAD_ONCE_INIT;
static atomic_bool classes_ready;
static struct kmem_cache *classes[NR_CLASSES];
#define SMALL_MAX 4096u /* covers the packet sizes (2 KiB clusters) */
static uint8_t small_class[SMALL_MAX / 16 + 1];

static unsigned class_search(size_t size)
{
	unsigned lo = 0, hi = NR_CLASSES - 1;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (class_size[mid] >= size)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static void classes_init(void)
{
	char name[32];

	for (unsigned i = 0; i < NR_CLASSES; i++) {
		unsigned align = class_size[i] >= PAGE_SIZE ? PAGE_SIZE : 16;

		snprintf(name, sizeof(name), "kmalloc-%u", class_size[i]);
		classes[i] = kmem_cache_create(name, class_size[i], align, SLAB_KMALLOC | SLAB_PANIC, NULL);
	}
	for (unsigned i = 0; i <= SMALL_MAX / 16; i++)
		small_class[i] = (uint8_t)class_search(i ? i * 16 : 1);
	atomic_store_explicit(&classes_ready, true, memory_order_release);
}

static inline struct kmem_cache *class_for(size_t size)
{
	if (unlikely(!atomic_load_explicit(&classes_ready, memory_order_acquire)))
		pthread_once(&classes_once, classes_init);
	if (likely(size <= SMALL_MAX))
		return classes[small_class[(size + 15) / 16]];
	return classes[class_search(size)];
}

static void *kmalloc_large(size_t size, gfp_t gfp, int node)
{
	size_t len = PAGE_SIZE + ((size + PAGE_SIZE - 1) & PAGE_MASK);

	if (len < size || fault_point()) {
		errno = ENOMEM;
		return NULL;
	}
	int target = node == NUMA_NO_NODE ? node_of_caller() : node;
	struct span *s = arena_map(len, SPAN_SIZE, target, false);

	if (!s)
		return NULL;
	s->magic = SPAN_MAGIC;
	s->cache = NULL;
	s->map_size = len;
	s->large_size = len - PAGE_SIZE;
	s->node = target;
	s->next = NULL;
	(void)gfp; /* fresh anonymous memory is already zero */
	return (char *)s + PAGE_SIZE;
}

/*
 * A waiting mask in atomic context is refused here, under the caller's
 * name, for the size classes (whose cache would refuse it under its own)
 * and for large blocks (which map memory without asking a cache).
 */
static void *kmalloc_common(size_t size, gfp_t gfp, int node, const char *func)
{
	if (size == 0)
		return ZERO_SIZE_PTR;
	if (node != NUMA_NO_NODE && !node_has_memory(node)) {
		errno = EINVAL;
		return NULL;
	}
	if (may_not_wait_here(gfp, func)) {
		errno = EWOULDBLOCK;
		return NULL;
	}
	if (size > KMALLOC_MAX_CLASS)
		return kmalloc_large(size, gfp, node);

	struct kmem_cache *c = class_for(size);
	void *p = node == NUMA_NO_NODE ? kmem_cache_alloc(c, gfp) : kmem_cache_alloc_node(c, gfp, node);

	return p;
}

void *kmalloc_node(size_t size, gfp_t gfp, int node)
{
	return kmalloc_common(size, gfp, node, "kmalloc_node");
}

void *kmalloc(size_t size, gfp_t gfp)
{
	return kmalloc_common(size, gfp, NUMA_NO_NODE, "kmalloc");
}

void *kzalloc(size_t size, gfp_t gfp)
{
	return kmalloc_common(size, gfp | __GFP_ZERO, NUMA_NO_NODE, "kzalloc");
}

void kfree(const void *p)
{
	if (ZERO_OR_NULL_PTR(p))
		return;

	struct span *s = span_of(p);

	if (unlikely(!span_valid(s))) {
		diag("kfree", "%p was not allocated by kmalloc()", p);
		return;
	}
	if (!s->cache) {
		if (unlikely((const char *)p != (char *)s + PAGE_SIZE)) {
			diag("kfree", "%p points inside a %zu-byte kmalloc block at %p", p, s->large_size,
			     (void *)((char *)s + PAGE_SIZE));
			return;
		}
		arena_unmap(s, s->map_size);
		return;
	}
	/* As in Linux, kfree() also takes objects of any kmem_cache. */
	kmem_cache_free(s->cache, (void *)p);
}

size_t ksize(const void *p)
{
	if (ZERO_OR_NULL_PTR(p))
		return 0;

	struct span *s = span_of(p);

	if (!span_valid(s)) {
		diag("ksize", "%p was not allocated by kmalloc()", p);
		return 0;
	}
	/* An interior pointer has fewer usable bytes than the block: refuse it, as kfree() does. */
	if (unlikely(s->cache ? !kmem_cache_owns(s->cache, p) : (const char *)p != (char *)s + PAGE_SIZE)) {
		diag("ksize", "%p points inside a kmalloc block, not at its start", p);
		return 0;
	}
	return s->cache ? kmem_cache_size(s->cache) : s->large_size;
}

bool kmalloc_owns(const void *p)
{
	if (ZERO_OR_NULL_PTR(p))
		return false;

	const struct span *s = span_of(p);

	if (!span_valid(s))
		return false;
	if (!s->cache)
		return (const char *)p == (const char *)s + PAGE_SIZE;
	return (cache_flags(s->cache) & SLAB_KMALLOC) && kmem_cache_owns(s->cache, p);
}
