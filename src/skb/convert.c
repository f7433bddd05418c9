/*
 * Between the worlds: an mbuf packet as an sk_buff and back, sharing the
 * storage instead of copying it.
 *
 *   mbuf chain:  [hdr: 60 B inside] -> [cluster 1440 B] -> [MEXTADD 800 B]
 *                      | copied              | shared            | shared
 *                      v                     v (page view)        v (page view)
 *   sk_buff:     head [60 B]          frags[0]            frags[1]
 *
 * External storage of any kind is a pktmem_ext, so a fragment is a page
 * descriptor viewing it and an mbuf's M_EXT can point at a head or a page.
 * Both sides then see a reference count above one and copy before they
 * write; whichever lets go last frees the bytes.
 */
#include <errno.h>
#include <limits.h>

#include <pktmem/mbuf.h>

#include "skb_impl.h"
#include "mbuf/mbuf_impl.h"
#include "storage/window.h"

/*
 * Data kept inside mbufs after the first external buffer has no storage to
 * share, so it is copied into pages, packed: consecutive mbufs of such data
 * fill one fragment, and later ones share the page (a reference each) until
 * it is full. Both walks below follow this rule, the first to count the
 * fragments before anything is allocated.
 */
struct copy_page {
	struct page *pg; /* the page being filled, or NULL */
	size_t off;      /* bytes of it used */
	bool last_frag;  /* the last fragment ends at off in pg */
};

/* Fragments the mbufs from @x on make (external ones: one each). */
static unsigned int frags_needed(const struct mbuf *x)
{
	unsigned int n = 0;
	size_t room = 0;
	bool extend = false;

	for (; x; x = x->m_next) {
		size_t len = (size_t)x->m_len;

		if (len == 0)
			continue;
		if (x->m_flags & M_EXT) {
			n++;
			extend = false;
			continue;
		}
		if (len > room) {
			room = PAGE_SIZE;
			extend = false;
		}
		if (!extend)
			n++;
		room -= len;
		extend = true;
	}
	return n;
}

/* Append internal mbuf @x's bytes to @skb as fragment bytes (see above). False: no page. */
static bool copy_into_frags(struct sk_buff *skb, int *ip, struct copy_page *cp, const struct mbuf *x, gfp_t gfp)
{
	size_t len = (size_t)x->m_len;

	if (!cp->pg || cp->off + len > PAGE_SIZE) {
		struct page *pg = alloc_page(gfp);

		if (!pg)
			return false;
		if (cp->pg)
			put_page(cp->pg); /* the fragments keep their own references */
		*cp = (struct copy_page){ pg, 0, false };
	}
	memcpy((char *)page_address(cp->pg) + cp->off, x->m_data, len);
	if (cp->last_frag) {
		skb_frag_t *f = &skb_shinfo(skb)->frags[*ip - 1];

		skb_frag_size_add(f, (int)len);
		skb->len += (unsigned int)len;
		skb->data_len += (unsigned int)len;
		skb->truesize += (unsigned int)len;
	} else {
		get_page(cp->pg); /* the fragment's reference; ours goes when the page is left */
		skb_add_rx_frag(skb, (*ip)++, cp->pg, (int)cp->off, (int)len, (unsigned int)len);
	}
	cp->off += len;
	cp->last_frag = true;
	return true;
}

struct sk_buff *skb_from_mbuf(struct mbuf *m, unsigned int headroom, gfp_t gfp_mask)
{
	size_t prefix = 0;
	const struct mbuf *x;

	if (unlikely(!m)) {
		diag("skb_from_mbuf", "NULL mbuf chain");
		return NULL;
	}
	for (x = m; x; x = x->m_next) {
		/* Internal data must lie inside its mbuf: it is copied from there. */
		if (unlikely(x->m_len < 0 ||
			     (!(x->m_flags & M_EXT) && x->m_len > m_buf_end(x) - x->m_data))) {
			diag("skb_from_mbuf", "mbuf %p of chain %p has m_len %d (%td bytes of room)", (const void *)x,
			     (void *)m, x->m_len, m_buf_end(x) - x->m_data);
			errno = EINVAL;
			return NULL;
		}
	}
	/* Bytes inside mbufs before the first external buffer go in the head. */
	for (x = m; x && !(x->m_flags & M_EXT); x = x->m_next)
		prefix += (size_t)x->m_len;
	if (frags_needed(x) > MAX_SKB_FRAGS) {
		errno = EMSGSIZE;
		return NULL;
	}
	/* Too big for one head (__alloc_skb() refuses more than INT_MAX too): ENOMEM. */
	if (headroom + prefix > INT_MAX) {
		errno = ENOMEM;
		return NULL;
	}

	struct sk_buff *skb = __alloc_skb((unsigned int)(headroom + prefix), gfp_mask, 0, NUMA_NO_NODE);

	if (!skb)
		return NULL;
	skb_reserve(skb, (int)headroom);
	for (x = m; x && !(x->m_flags & M_EXT); x = x->m_next)
		memcpy(skb_put(skb, (unsigned int)x->m_len), x->m_data, (size_t)x->m_len);

	struct copy_page cp = { NULL, 0, false };
	int i = 0;

	for (; x; x = x->m_next) {
		if (x->m_len <= 0)
			continue;
		if (x->m_flags & M_EXT) {
			struct page *pg = pktmem_page_view(x->m_ext.ext_storage, x->m_data, (size_t)x->m_len, gfp_mask);

			if (!pg)
				goto fail;
			skb_add_rx_frag(skb, i++, pg, 0, x->m_len, (unsigned int)x->m_len);
			cp.last_frag = false;
		} else if (!copy_into_frags(skb, &i, &cp, x, gfp_mask)) {
			goto fail;
		}
	}
	put_page(cp.pg);
	return skb;
fail:
	put_page(cp.pg);
	kfree_skb(skb); /* drops the fragments added so far */
	return NULL;
}

/* Append to @tail an mbuf sharing @e's bytes at @data (one new reference). */
static struct mbuf *share_into(struct mbuf *tail, struct pktmem_ext *e, void *data, int len, int how, bool hdr)
{
	struct mbuf *n = hdr ? m_gethdr(how, MT_DATA) : m_get(how, MT_DATA);

	if (!n)
		return NULL;
	if (e) {
		pktmem_ext_get(e);
		mbuf_attach_ext(n, e, 0);
		n->m_data = data;
		n->m_len = len;
	}
	if (tail)
		tail->m_next = n;
	return n;
}

/* Append the bytes of @skb (head, frags, frag_list) after @tail; the new tail, or NULL. */
static struct mbuf *append_skb(struct mbuf *tail, struct sk_buff *skb, int how)
{
	const struct skb_shared_info *sh = skb_shinfo(skb);

	if (skb_headlen(skb)) {
		tail = share_into(tail, skb->head_ext, skb->data, (int)skb_headlen(skb), how, false);
		if (!tail)
			return NULL;
	}
	for (int i = 0; i < sh->nr_frags; i++) {
		const skb_frag_t *f = &sh->frags[i];

		tail = share_into(tail, &f->bv_page->ext, skb_frag_address(f), (int)f->bv_len, how, false);
		if (!tail)
			return NULL;
	}
	for (struct sk_buff *f = sh->frag_list; f; f = f->next)
		if (!(tail = append_skb(tail, f, how)))
			return NULL;
	return tail;
}

struct mbuf *m_from_skb(struct sk_buff *skb, int how)
{
	if (unlikely(!skb)) {
		diag("m_from_skb", "NULL skb");
		return NULL;
	}
	if (!how_ok(how, "m_from_skb") || may_not_wait_here(how_to_gfp(how), "m_from_skb"))
		return NULL;

	/* The packet header mbuf holds the head's bytes (or nothing, if there are none). */
	bool head_in_top = skb_headlen(skb) != 0;
	struct mbuf *top = share_into(NULL, head_in_top ? skb->head_ext : NULL, skb->data,
				      (int)skb_headlen(skb), how, true);

	if (!top)
		return NULL;

	struct mbuf *tail = top;
	const struct skb_shared_info *sh = skb_shinfo(skb);

	for (int i = 0; i < sh->nr_frags && tail; i++) {
		const skb_frag_t *f = &sh->frags[i];

		tail = share_into(tail, &f->bv_page->ext, skb_frag_address(f), (int)f->bv_len, how, false);
	}
	for (struct sk_buff *f = sh->frag_list; f && tail; f = f->next)
		tail = append_skb(tail, f, how);
	if (!tail) {
		m_freem(top); /* drops every reference taken */
		return NULL;
	}
	top->m_pkthdr.len = (int)skb->len;
	return win_m_ret(top);
}
