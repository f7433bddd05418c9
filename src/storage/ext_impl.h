/*
 * Internal to the storage layer: setting up a pktmem_ext in place, and the
 * release routines of the kinds that live in other files.
 */
#ifndef PKTMEM_EXT_IMPL_H
#define PKTMEM_EXT_IMPL_H

#include <pktmem/ext.h>
#include <pktmem/page.h>

#include "internal.h"

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

/* Free a page run and its descriptor, or a view and its reference (page.c). */
void page_release(struct page *pg);

#endif /* PKTMEM_EXT_IMPL_H */
