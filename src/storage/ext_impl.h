/*
 * Internal to the storage layer: setting up a pktmem_ext in place, and the
 * release routines of the kinds that live in other files.
 */
#ifndef PKTMEM_EXT_IMPL_H
#define PKTMEM_EXT_IMPL_H

#include <errno.h>

#include <pktmem/ext.h>
#include <pktmem/page.h>
#include <pktmem/slab.h>

#include "internal.h"
#include "window.h"

static inline void ext_setup(struct pktmem_ext *e, char *buf, size_t size, unsigned flags, int node)
{
	e->ext_refs = 1;
	e->ext_flags = flags;
	e->ext_buf = buf;
	e->ext_size = size;
	e->ext_release = NULL;
	e->ext_arg = NULL;
	e->ext_free_fn = NULL;
	e->ext_type = 0;
	e->ext_node = node;
}

/*
 * The cluster cache and the once that creates it (ext.c), read by the
 * inline cluster paths below. Written once, inside ext_once.
 */
extern struct once ext_once INTERNAL_DATA;
extern struct kmem_cache *ext_cluster_cache INTERNAL_DATA;
void ext_caches_init(void);

/*
 * A fresh object @buf of the cluster cache made a cluster: its header at
 * the end of the data, one reference. Every cluster allocator uses it.
 */
static inline struct pktmem_ext *ext_cluster_setup(char *buf, int node)
{
	struct pktmem_ext *e = (struct pktmem_ext *)(buf + PKTMEM_CLUSTER_SIZE);

	ext_setup(e, buf, PKTMEM_CLUSTER_SIZE, PKTMEM_EXT_CLUSTER, node);
	return e;
}

/*
 * pktmem_ext_cluster(@gfp, NUMA_NO_NODE), inline for the mbuf layer's
 * MCLGET: the same checks, the same cluster, one call level fewer.
 */
static inline struct pktmem_ext *ext_cluster_new(gfp_t gfp)
{
	/* Refused under the public function's name, as it would be. */
	if (may_not_wait_here(gfp, "pktmem_ext_cluster")) {
		errno = EWOULDBLOCK;
		return NULL;
	}
	once_run(&ext_once, ext_caches_init);

	char *buf = kmem_cache_alloc(ext_cluster_cache, gfp);

	if (unlikely(!buf))
		return NULL;
	return ext_cluster_setup(buf, NUMA_NO_NODE);
}

/* The last reference is gone: free the storage by its kind (ext.c). */
void ext_release(struct pktmem_ext *e, void *owner);

/* A put found @e released already: diagnosed under pktmem_ext_put (ext.c). */
void ext_put_dead(struct pktmem_ext *e, int refs);

/*
 * Drop one reference to @e; true when the caller held the last, and the
 * storage is to be released. The sole holder's count of one cannot grow
 * behind its back (see ext.c), so it is cleared without an atomic
 * read-modify-write; the acquire load pairs with the release ordering of
 * other holders' decrements, so their last reads happen before the
 * release. A count already at or below zero is diagnosed and left alone.
 * This is the drop of the packet paths (m_freem, kfree_skb), kept to a
 * sign test: debug mode's fill in a freed header (0x6b6b6b6b) reads as a
 * shared count here, and only the out-of-line puts (ext_put_named() below)
 * spend the compare that tells the two apart; measured, the range test
 * here costs 2 to 5 instructions on every packet and clone path.
 */
static inline bool ext_unref(struct pktmem_ext *e)
{
	int refs = __atomic_load_n(&e->ext_refs, __ATOMIC_ACQUIRE);

	if (likely(refs == 1)) {
		__atomic_store_n(&e->ext_refs, 0, __ATOMIC_RELAXED);
		return true;
	}
	if (likely(refs > 1))
		return __atomic_sub_fetch(&e->ext_refs, 1, __ATOMIC_ACQ_REL) == 0;
	ext_put_dead(e, refs);
	return false;
}

/*
 * An out-of-line put of @e read @refs, no count of a live holder (see
 * count_in()): at or below zero, diagnosed as released again; or debug
 * mode's fill, when the record of the object holding the header decides:
 * freed, the put is diagnosed under @func with both sites and the header
 * left as it is. True when @refs was an ordinary count after all and the
 * caller dropped the last reference (ext.c).
 */
bool ext_unref_odd(struct pktmem_ext *e, int refs, const char *func) __attribute__((cold));

/*
 * pktmem_ext_put() under the name of the public function @func, for the
 * out-of-line puts (pktmem_ext_put(), put_page()): ext_unref() with one
 * compare that also tells a header freed in debug mode from a live one.
 */
static inline void ext_put_named(struct pktmem_ext *e, void *owner, const char *func)
{
	if (!e)
		return;

	int refs = __atomic_load_n(&e->ext_refs, __ATOMIC_ACQUIRE);
	bool last;

	if (likely(refs == 1)) {
		__atomic_store_n(&e->ext_refs, 0, __ATOMIC_RELAXED);
		last = true;
	} else if (likely(count_in(refs, 2))) {
		last = __atomic_sub_fetch(&e->ext_refs, 1, __ATOMIC_ACQ_REL) == 0;
	} else {
		last = ext_unref_odd(e, refs, func);
	}
	if (last)
		ext_release(e, owner);
}

/*
 * pktmem_ext_put() with the drops of a plain cluster inline (the usual
 * storage of an mbuf). Every other kind is pktmem_ext_put() itself, and so
 * is a header freed in debug mode: its flags read as the fill.
 */
static inline void ext_put_inline(struct pktmem_ext *e, void *owner)
{
	if (likely(e->ext_flags == PKTMEM_EXT_CLUSTER)) {
		if (ext_unref(e)) {
			win_ext_open(e); /* the cache sees it whole */
			kmem_cache_free(ext_cluster_cache, e->ext_buf);
		}
		return;
	}
	pktmem_ext_put(e, owner);
}

/* pktmem_ext_put() of storage of any kind, inline. */
static inline void ext_put_any_inline(struct pktmem_ext *e, void *owner)
{
	if (ext_unref(e))
		ext_release(e, owner);
}

/*
 * A get of @e found @old, no count of a live holder: at or below zero
 * (released: undone and diagnosed under pktmem_ext_get), or debug mode's
 * fill, when the record of the object holding the header decides (freed:
 * undone, so the fill stays for the check at reuse, and diagnosed under
 * @func with both sites; else a count like any other) (ext.c).
 */
void ext_get_odd(struct pktmem_ext *e, int old, const char *func) __attribute__((cold));

/*
 * pktmem_ext_get() inline for the clone paths (skb_clone, m_copym): one
 * atomic add and a sign test, as ext_unref(); a released header goes out
 * of line.
 */
static inline void ext_get_inline(struct pktmem_ext *e)
{
	win_ext_open(e); /* holders of shared storage see different windows */
	int old = __atomic_fetch_add(&e->ext_refs, 1, __ATOMIC_RELAXED);

	if (unlikely(old <= 0))
		ext_get_odd(e, old, "pktmem_ext_get");
}

/*
 * pktmem_ext_get() under the name of the public function @func, for the
 * out-of-line gets (pktmem_ext_get(), get_page()): one compare sends both
 * a released header and debug mode's fill out of line.
 */
static inline void ext_get_named(struct pktmem_ext *e, const char *func)
{
	win_ext_open(e); /* holders of shared storage see different windows */
	int old = __atomic_fetch_add(&e->ext_refs, 1, __ATOMIC_RELAXED);

	if (unlikely(!count_in(old, 1)))
		ext_get_odd(e, old, func);
}

/* Free a page run and its descriptor, or a view and its reference (page.c). */
void page_release(struct page *pg);

#endif /* PKTMEM_EXT_IMPL_H */
