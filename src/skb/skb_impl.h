/*
 * Shared by the sk_buff files: head layout and the internal allocators.
 */
#ifndef PKTMEM_SKB_IMPL_H
#define PKTMEM_SKB_IMPL_H

#include <string.h>

#include <pktmem/skbuff.h>

#include "internal.h"
#include "storage/ext_impl.h"
#include "mem/slab_impl.h"

/* A head ends with its shared info and then its storage header. */
#define SKB_SHINFO_SIZE SKB_DATA_ALIGN(sizeof(struct skb_shared_info))
#define SKB_EXT_SIZE SKB_DATA_ALIGN(sizeof(struct pktmem_ext))
#define SKB_HEAD_OVERHEAD (SKB_SHINFO_SIZE + SKB_EXT_SIZE)

/*
 * A new head with room for at least @size bytes of data, one reference,
 * zeroed shared info. NULL on failure.
 */
struct pktmem_ext *head_alloc(size_t size, gfp_t gfp, int node);

/*
 * A fresh shared info: only the fields before frags[] need zeroing (a
 * fragment slot is read only below nr_frags), as in Linux.
 */
#define SHINFO_CLEAR_SIZE offsetof(struct skb_shared_info, frags)

static inline void shinfo_clear(void *sh)
{
	memset(sh, 0, SHINFO_CLEAR_SIZE);
}

/*
 * Zero the first @bytes (a multiple of 16) of a struct sk_buff, for
 * callers that set the rest, with plain 16-byte stores. A fixed-size memset of
 * this size becomes `rep stos`, whose start-up cost was more than half of
 * an alloc_skb+kfree_skb on the machines we measured; the empty asm keeps
 * the loop from being turned back into that memset.
 */
_Static_assert(sizeof(struct sk_buff) % 16 == 0, "struct sk_buff zeroes in 16-byte stores");
static inline void skb_zero_first(struct sk_buff *skb, size_t bytes)
{
	typedef uint64_t zero_v2 __attribute__((vector_size(16), aligned(8), may_alias));

	for (size_t i = 0; i < bytes / 16; i++) {
		((zero_v2 *)skb)[i] = (zero_v2){ 0, 0 };
		__asm__("" : : "r"(skb) : "memory");
	}
}

/* Drop the fragments and frag_list a shared info holds. */
void shinfo_release(struct skb_shared_info *sh);


/* May the bytes of fragment @f be written (its storage held by us alone)? */
static inline bool frag_writable(const skb_frag_t *f)
{
	return pktmem_ext_writable(&f->bv_page->ext);
}

/* Are the head and the shared info ours alone (not a clone's, not an mbuf's)? */
static inline bool head_private(const struct sk_buff *skb)
{
	return pktmem_ext_writable(skb->head_ext);
}

#endif /* PKTMEM_SKB_IMPL_H */
