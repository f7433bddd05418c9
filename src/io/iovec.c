/*
 * Packets as iovec arrays, and the bookkeeping after a send: m_to_iovec(),
 * skb_to_iovec(), io_m_sent(), io_skb_sent(), and the scratch arrays.
 *
 *   mbuf chain   [hdr|54] -> [ ] -> [ cluster 2048 ] -> [ 300 ]
 *   iovecs       { 54 }             { 2048 }            { 300 }   (empty skipped)
 *
 *   sk_buff      head: [headroom| 40 |tailroom]  frags: [page 1000][page 4096]
 *   iovecs       { 40 } { 1000 } { 4096 }   then each frag_list skb the same way
 *
 * The iovecs point at the packets' own storage: no byte is copied and no
 * reference taken, so they live exactly as long as the packet is left as
 * it is.
 */
#include <stdlib.h>

#include "io/io_impl.h"

/* ------------------------------------------------------------ describing */

/*
 * One segment into @iov (when there is room) or just counted. Returns false
 * when the array is full, so the caller stops with a prefix.
 */
struct iov_fill {
	struct iovec *iov;
	int max;
	int n;
	size_t bytes;
};

static bool fill_one(struct iov_fill *f, void *base, size_t len)
{
	if (len == 0)
		return true;
	if (f->iov) {
		if (f->n >= f->max)
			return false;
		f->iov[f->n].iov_base = base;
		f->iov[f->n].iov_len = len;
	}
	f->n++;
	f->bytes += len;
	return true;
}

int m_to_iovec(const struct mbuf *m, struct iovec *iov, int iovcnt, size_t *lenp)
{
	struct iov_fill f = { .iov = iov, .max = iovcnt < 0 ? 0 : iovcnt };

	for (; m; m = m->m_next)
		if (!fill_one(&f, m->m_data, (size_t)m->m_len))
			break;
	if (lenp)
		*lenp = f.bytes;
	return f.n;
}

static bool skb_fill(struct iov_fill *f, const struct sk_buff *skb)
{
	const struct skb_shared_info *sh = skb_shinfo(skb);

	if (!fill_one(f, skb->data, skb_headlen(skb)))
		return false;
	for (int i = 0; i < sh->nr_frags; i++)
		if (!fill_one(f, skb_frag_address(&sh->frags[i]), skb_frag_size(&sh->frags[i])))
			return false;
	for (const struct sk_buff *l = sh->frag_list; l; l = l->next)
		if (!skb_fill(f, l))
			return false;
	return true;
}

int skb_to_iovec(const struct sk_buff *skb, struct iovec *iov, int iovcnt, size_t *lenp)
{
	struct iov_fill f = { .iov = iov, .max = iovcnt < 0 ? 0 : iovcnt };

	if (skb)
		skb_fill(&f, skb);
	if (lenp)
		*lenp = f.bytes;
	return f.n;
}

/* ------------------------------------------------------------ after a send */

struct mbuf *io_m_sent(struct mbuf *m, size_t sent)
{
	if (sent == (size_t)m_length(m)) {
		m_freem(m);
		return NULL;
	}

	/*
	 * Part of it went. The packet header mbuf stays (its data trimmed) to
	 * carry the header and tags; other mbufs sent in full are freed.
	 */
	struct mbuf *top = m, *nextpkt = m->m_nextpkt, **link = &top;

	if (m->m_flags & M_PKTHDR) {
		int k = (size_t)m->m_len < sent ? m->m_len : (int)sent;

		m->m_pkthdr.len -= (int)sent;
		m->m_data += k;
		m->m_len -= k;
		sent -= (size_t)k;
		link = &m->m_next;
	}
	while (*link && (size_t)(*link)->m_len <= sent) {
		sent -= (size_t)(*link)->m_len;
		*link = m_free(*link);
	}
	if (sent) {
		(*link)->m_data += sent;
		(*link)->m_len -= (int)sent;
	}
	top->m_nextpkt = nextpkt;
	return top;
}

struct sk_buff *io_skb_sent(struct sk_buff *skb, size_t sent)
{
	if (sent == skb->len) {
		consume_skb(skb);
		return NULL;
	}

	unsigned int head = skb_headlen(skb);

	if (sent <= head) {
		skb->data += sent;
		skb->len -= (unsigned int)sent;
		return skb;
	}
	skb->data += head;
	skb->len -= head;
	sent -= head;

	/* Into the fragments: drop those passed, shorten the one cut. */
	struct skb_shared_info *sh = skb_shinfo(skb);
	int keep = 0;

	for (int i = 0; i < sh->nr_frags; i++) {
		skb_frag_t *f = &sh->frags[i];
		unsigned int size = skb_frag_size(f);

		if (sent >= size) {
			sent -= size;
			skb->len -= size;
			skb->data_len -= size;
			put_page(skb_frag_page(f));
			continue;
		}
		if (sent) {
			skb_frag_off_add(f, (int)sent);
			skb_frag_size_sub(f, (int)sent);
			skb->len -= (unsigned int)sent;
			skb->data_len -= (unsigned int)sent;
			sent = 0;
		}
		sh->frags[keep++] = *f;
	}
	sh->nr_frags = (uint8_t)keep;
	return skb;
}

/* ------------------------------------------------------------ scratch */

bool io_scratch_get(struct io_scratch *s, size_t niov, size_t nmsg, gfp_t gfp)
{
	s->heap = NULL;
	s->iov = s->iov_stack;
	s->hdr = s->hdr_stack;
	if (niov <= IO_STACK_IOV && nmsg <= IO_STACK_MSG)
		return true;

	/* One block: the headers first (their alignment is the stricter). */
	size_t hdr_bytes = nmsg * sizeof(struct mmsghdr);

	s->heap = kmalloc(hdr_bytes + niov * sizeof(struct iovec), gfp);
	if (!s->heap)
		return false;
	s->hdr = s->heap;
	s->iov = (struct iovec *)((char *)s->heap + hdr_bytes);
	return true;
}

void io_scratch_put(struct io_scratch *s)
{
	kfree(s->heap);
	s->heap = NULL;
}
