/*
 * The storage layer: shared, reference-counted data areas.
 *
 *   cluster:   [ 2048 bytes of data ............ | struct pktmem_ext ]  one object
 *   kmalloc:   [ size bytes of data ... | pad | struct pktmem_ext ]     one kmalloc block
 *   user:      caller's buffer  <---  struct pktmem_ext (its own small object)
 *   page:      page run         <---  struct page, which begins with the pktmem_ext
 *   view:      bytes of another area <--- struct page (holding a reference to it)
 *
 * The header sits after the data for library memory, so one allocation
 * serves both and the data starts on the object's alignment. A caller's
 * buffer gets a header from a small cache of its own.
 *
 * Release: the last reference frees the whole thing; for caller buffers the
 * release routine runs first, exactly once. A holder that sees a count of
 * one is the only holder and nobody can take a new reference behind its
 * back (references are only ever taken from a held one), so it skips the
 * atomic decrement: the common unshared free costs one load.
 */
#include <errno.h>
#include <string.h>

#include "ext_impl.h"
#include "window.h"

#define EXT_HDR_ALIGN 16

struct once ext_once = ONCE_INIT;
struct kmem_cache *ext_cluster_cache; /* data + header, one object; set once in ext_once */
static struct kmem_cache *hdr_cache;  /* headers of caller buffers; set once in ext_once */

_Static_assert(sizeof(struct pktmem_ext) <= 64, "a cluster's header fits its cache line");

void ext_caches_init(void)
{
	ext_cluster_cache = kmem_cache_create("mbuf_cluster", PKTMEM_CLUSTER_SIZE + 64, 64, SLAB_PANIC, NULL);
	hdr_cache = kmem_cache_create("ext_header", sizeof(struct pktmem_ext), 0, SLAB_PANIC, NULL);
}

static inline void ext_init_once(void)
{
	once_run(&ext_once, ext_caches_init);
}

struct kmem_cache *pktmem_cluster_cache(void)
{
	ext_init_once();
	return ext_cluster_cache;
}

struct pktmem_ext *pktmem_ext_cluster(gfp_t gfp, int node)
{
	if (node == NUMA_NO_NODE)
		return ext_cluster_new(gfp);
	/* Refused under our own name rather than the cluster cache's. */
	if (may_not_wait_here(gfp, "pktmem_ext_cluster")) {
		errno = EWOULDBLOCK;
		return NULL;
	}
	ext_init_once();

	char *buf = kmem_cache_alloc_node(ext_cluster_cache, gfp, node);
	if (!buf)
		return NULL;
	return ext_cluster_setup(buf, node);
}

struct pktmem_ext *pktmem_ext_alloc(size_t size, gfp_t gfp, int node)
{
	if (size == 0 || size > ((size_t)1 << 40)) {
		errno = EINVAL;
		return NULL;
	}
	if (may_not_wait_here(gfp, "pktmem_ext_alloc")) {
		errno = EWOULDBLOCK;
		return NULL;
	}
	size_t off = (size + EXT_HDR_ALIGN - 1) & ~(size_t)(EXT_HDR_ALIGN - 1);
	char *buf = kmalloc_node(off + sizeof(struct pktmem_ext), gfp, node);

	if (!buf)
		return NULL;
	struct pktmem_ext *e = (struct pktmem_ext *)(buf + off);

	ext_setup(e, buf, size, PKTMEM_EXT_KMALLOC, node);
	return e;
}

struct pktmem_ext *pktmem_ext_attach(void *buf, size_t size, pktmem_ext_release_t release, void *arg, gfp_t gfp)
{
	if (!buf || !release) {
		errno = EINVAL;
		return NULL;
	}
	if (may_not_wait_here(gfp, "pktmem_ext_attach")) {
		errno = EWOULDBLOCK;
		return NULL;
	}
	ext_init_once();

	struct pktmem_ext *e = kmem_cache_alloc(hdr_cache, gfp & ~__GFP_ZERO);

	if (!e)
		return NULL;
	ext_setup(e, buf, size, PKTMEM_EXT_USER, NUMA_NO_NODE);
	e->ext_release = release;
	e->ext_arg = arg;
	return e;
}

void pktmem_ext_get(struct pktmem_ext *e)
{
	ext_get_named(e, "pktmem_ext_get");
}

void ext_get_odd(struct pktmem_ext *e, int old, const char *func)
{
	if (old == DEBUG_FREE_INT && debug_on()) {
		if (debug_freed_at(e, func, "storage"))
			__atomic_fetch_sub(&e->ext_refs, 1, __ATOMIC_RELAXED);
		return;
	}
	if (old <= 0) {
		__atomic_fetch_sub(&e->ext_refs, 1, __ATOMIC_RELAXED);
		diag("pktmem_ext_get", "storage %p (buffer %p, %zu bytes) has reference count %d: already released",
		     (void *)e, (void *)e->ext_buf, e->ext_size, old);
	}
}

void ext_release(struct pktmem_ext *e, void *owner)
{
	win_ext_open(e); /* the cache (or the caller's free) sees it whole */
	if (e->ext_flags & PKTMEM_EXT_CLUSTER) {
		kmem_cache_free(ext_cluster_cache, e->ext_buf);
	} else if (e->ext_flags & PKTMEM_EXT_KMALLOC) {
		kfree(e->ext_buf);
	} else if (e->ext_flags & (PKTMEM_EXT_PAGE | PKTMEM_EXT_VIEW)) {
		page_release((struct page *)e);
	} else if (e->ext_flags & PKTMEM_EXT_EMBEDDED) {
		e->ext_release(e, owner); /* frees the area and, with it, the header */
	} else {
		e->ext_release(e, owner);
		kmem_cache_free(hdr_cache, e);
	}
}

void pktmem_ext_put(struct pktmem_ext *e, void *owner)
{
	ext_put_named(e, owner, "pktmem_ext_put");
}

void ext_put_dead(struct pktmem_ext *e, int refs)
{
	diag("pktmem_ext_put", "storage %p (buffer %p, %zu bytes) released again (reference count %d)", (void *)e,
	     (void *)e->ext_buf, e->ext_size, refs);
}

bool ext_unref_odd(struct pktmem_ext *e, int refs, const char *func)
{
	if (refs <= 0) {
		ext_put_dead(e, refs);
		return false;
	}
	if (refs == DEBUG_FREE_INT && debug_on() && debug_freed_at(e, func, "storage"))
		return false;
	return __atomic_sub_fetch(&e->ext_refs, 1, __ATOMIC_ACQ_REL) == 0;
}

void pktmem_ext_set_readonly(struct pktmem_ext *e)
{
	e->ext_flags |= PKTMEM_EXT_RDONLY;
}
