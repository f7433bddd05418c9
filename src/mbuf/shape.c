/*
 * Reshaping mbuf chains: m_prepend, m_cat, m_adj, m_split, m_pullup,
 * m_pulldown.
 *
 *   m_prepend   [new] -> [m] -> ...          a fresh mbuf in front; the packet
 *                                            header moves to it
 *   m_cat       [..m] -> [n..]               link, or copy n's bytes into m's
 *                                            writable trailing space
 *   m_adj       trims either end             only m_data / m_len move
 *   m_split     [head: len0] | [tail]        the tail shares the storage it
 *                                            was cut from (no copy)
 *   m_pullup    [len bytes in mbuf 1] -> ..  bytes copied forward from the
 *                                            following mbufs
 *   m_pulldown  [..] -> [n: off,len] -> ..   len bytes contiguous in one
 *                                            mbuf whose storage is not shared
 *
 * One rule runs through all of them: storage that is shared or read-only
 * (m_writable() false) is never written. Space in it counts as none
 * (M_LEADINGSPACE/M_TRAILINGSPACE say 0), and bytes that must become
 * contiguous or writable are copied into an mbuf of our own instead.
 *
 * Failures follow each function's contract: m_split allocates everything it
 * needs before it touches the chain, so a failure leaves the chain exactly as
 * it was; m_prepend, m_pullup and m_pulldown free the whole chain. Where the
 * manual page is silent these follow current NetBSD (see each function).
 */
#include <string.h>

#include "mbuf_impl.h"
#include "storage/window.h"

/* Bytes of internal data an mbuf with these flags can hold. */
static inline int internal_room(int flags)
{
	return (flags & M_PKTHDR) ? MHLEN : MLEN;
}

/*
 * Move up to @max bytes from the front of chain @n to @dst. Mbufs emptied
 * on the way are freed; a partly read one keeps its rest (m_data advances,
 * nothing is written). Returns what is left of the chain; *moved says how
 * many bytes came (fewer than @max only when the chain ran out).
 */
static struct mbuf *take_front(struct mbuf *n, char *dst, int max, int *moved)
{
	int done = 0;

	while (n && done < max) {
		int count = n->m_len < max - done ? n->m_len : max - done;

		memcpy(dst + done, n->m_data, (size_t)count);
		done += count;
		if (count == n->m_len) {
			n = m_free(n);
		} else {
			n->m_data += count;
			n->m_len -= count;
		}
	}
	*moved = done;
	return n;
}

/* ------------------------------------------------------------ m_prepend */

/*
 * NetBSD: a new mbuf of m's type goes in front, takes the packet header
 * (M_MOVE_PKTHDR), and holds @len bytes placed at the end of its data area
 * so that later prepends find room. m_pkthdr.len is left alone (M_PREPEND
 * adjusts it). On allocation failure the chain is freed.
 *
 * NetBSD panics when @len exceeds MHLEN; we accept what the new mbuf can
 * hold (MLEN without a packet header) and diagnose more than that.
 */
struct mbuf *m_prepend(struct mbuf *m, int len, int how)
{
	if (unlikely(!m)) {
		diag("m_prepend", "NULL chain (len %d)", len);
		return NULL;
	}
	if (unlikely(!mbuf_live(m, "m_prepend") || !how_ok(how, "m_prepend")))
		return NULL;

	int room = internal_room(m->m_flags);

	if (unlikely(len < 0 || len > room)) {
		diag("m_prepend", "length %d for chain %p is outside 0..%d (%s)", len, (void *)m, room,
		     (m->m_flags & M_PKTHDR) ? "MHLEN" : "MLEN");
		return NULL;
	}

	struct mbuf *mn = m_get(how, m->m_type);

	if (unlikely(!mn)) {
		m_freem(m);
		return NULL;
	}
	mn->m_owner = m->m_owner;
	if (m->m_flags & M_PKTHDR)
		m_move_pkthdr(mn, m);
	mn->m_next = m;
	/* At the end of the area (long-aligned), the room in front for later. */
	mn->m_data += (room - len) & ~(int)(sizeof(long) - 1);
	mn->m_len = len;
	return win_m_ret(mn);
}

/* ------------------------------------------------------------ m_cat */

/*
 * NetBSD: walk to m's last mbuf; while the next mbuf of n fits in its
 * trailing space, copy it there and free it; otherwise link the rest.
 * Trailing space is 0 for shared or read-only storage, so such storage is
 * only ever linked after. Packet headers are not updated.
 */
void m_cat(struct mbuf *m, struct mbuf *n)
{
	if (unlikely(!m)) {
		diag("m_cat", "NULL chain to append %p to", (void *)n);
		return;
	}
	if (unlikely(!mbuf_live(m, "m_cat")))
		return;
	if (!n)
		return;
	/* n inside m would make a cycle; the walk to the end sees it for free. */
	for (;;) {
		if (unlikely(m == n)) {
			diag("m_cat", "chain %p is already part of the chain it is appended to", (void *)n);
			return;
		}
		if (!m->m_next)
			break;
		m = m->m_next;
	}
	while (n) {
		int space = M_TRAILINGSPACE(m);

		if (space == 0 || n->m_len > space) {
			m->m_next = n;
			win_m_close(m);
			return;
		}
		memcpy(m->m_data + m->m_len, n->m_data, (size_t)n->m_len);
		m->m_len += n->m_len;
		n = m_free(n);
	}
	win_m_close(m);
}

/* ------------------------------------------------------------ m_adj */

/*
 * NetBSD: a positive count trims from the front, mbuf by mbuf, leaving
 * emptied mbufs in place (the head must stay the head); a negative one from
 * the back, setting the mbufs past the new end to length 0 (not freed).
 * Asking for more than the chain holds empties it. The head's
 * m_pkthdr.len goes down by what was trimmed (front), or is set to the
 * length that remains (back, when more than the last mbuf is trimmed).
 */
void (m_adj)(struct mbuf *mp, int req_len)
{
	if (unlikely(!mp)) {
		diag("m_adj", "NULL chain (req_len %d)", req_len);
		return;
	}
	if (unlikely(!mbuf_live(mp, "m_adj")))
		return;

	struct mbuf *m = mp;

	if (req_len >= 0) {
		int len = req_len;

		while (m && len > 0) {
			if (m->m_len <= len) {
				len -= m->m_len;
				m->m_len = 0;
				m = m->m_next;
			} else {
				m->m_data += len;
				m->m_len -= len;
				len = 0;
			}
		}
		if (mp->m_flags & M_PKTHDR)
			mp->m_pkthdr.len -= req_len - len;
		win_m_close(mp);
		return;
	}

	/* From the back. long long: -INT_MIN does not fit an int. */
	long long len = -(long long)req_len;
	long long count = 0;

	for (;;) {
		count += m->m_len;
		if (!m->m_next)
			break;
		m = m->m_next;
	}
	if (m->m_len >= len) {
		m->m_len -= (int)len;
		if (mp->m_flags & M_PKTHDR)
			mp->m_pkthdr.len -= (int)len;
		win_m_close(m);
		return;
	}
	count = count > len ? count - len : 0;
	if (mp->m_flags & M_PKTHDR)
		mp->m_pkthdr.len = (int)count;
	for (m = mp; m; m = m->m_next) {
		if (m->m_len >= count) {
			m->m_len = (int)count;
			break;
		}
		count -= m->m_len;
	}
	while (m->m_next) {
		m = m->m_next;
		m->m_len = 0;
	}
	win_m_close(mp);
}

/* ------------------------------------------------------------ m_split */

/*
 * NetBSD: find the mbuf m holding byte len0 (on a boundary, the earlier
 * mbuf, so that the cut falls at its end). Without a packet header a cut at
 * a boundary costs nothing, so a cut at the very end returns NULL (an empty
 * tail) with the chain unchanged. With a packet header the tail gets a
 * header mbuf of its own carrying rcvif and the remaining length, even when
 * it is empty. Inside external storage the tail shares it; inside internal
 * data the remaining bytes are copied into the tail's first mbuf, or into
 * a second one when they exceed MHLEN.
 *
 * All allocations come first: a failure returns NULL with the chain as it
 * was, byte for byte, and m_pkthdr.len untouched.
 */
struct mbuf *m_split(struct mbuf *m0, int len0, int wait)
{
	if (unlikely(!m0 || len0 < 0)) {
		diag("m_split", "chain %p, len0 %d", (void *)m0, len0);
		return NULL;
	}
	if (unlikely(!mbuf_live(m0, "m_split") || !how_ok(wait, "m_split")))
		return NULL;

	struct mbuf *m = m0;
	int len = len0;

	while (len > m->m_len) {
		len -= m->m_len;
		m = m->m_next;
		if (!m)
			return NULL; /* past the end */
	}

	int remain = m->m_len - len;
	struct mbuf *n;       /* the tail's first mbuf */
	struct mbuf *t;       /* the mbuf that gets the remain bytes */

	if (m0->m_flags & M_PKTHDR) {
		n = m_gethdr(wait, m0->m_type);
		if (!n)
			return NULL;
		t = n;
		/* Internal data beyond MHLEN: m is not the head (which holds at most MHLEN). */
		if (remain > MHLEN && !(m->m_flags & M_EXT)) {
			t = m_get(wait, m->m_type);
			if (!t) {
				m_free(n);
				return NULL;
			}
			t->m_owner = m->m_owner;
			n->m_next = t;
		}
		n->m_owner = m0->m_owner;
		n->m_pkthdr.rcvif = m0->m_pkthdr.rcvif;
		n->m_pkthdr.len = m0->m_pkthdr.len - len0;
		m0->m_pkthdr.len = len0;
		if (t != n || remain == 0) {
			/* The header mbuf carries no data: all its room goes in front. */
			MH_ALIGN(n, 0);
			if (remain == 0) {
				n->m_next = m->m_next;
				m->m_next = NULL;
				return n;
			}
		}
	} else {
		if (remain == 0) {
			n = m->m_next;
			m->m_next = NULL;
			return n;
		}
		n = m_get(wait, m->m_type);
		if (!n)
			return NULL;
		n->m_owner = m->m_owner;
		t = n;
	}

	if (m->m_flags & M_EXT) {
		mbuf_share_ext(t, m);
		t->m_data = m->m_data + len;
	} else {
		/* remain fits: t has MLEN, or MHLEN and remain <= MHLEN. */
		t->m_data += (internal_room(t->m_flags) - remain) & ~(int)(sizeof(long) - 1);
		memcpy(t->m_data, m->m_data + len, (size_t)remain);
	}
	t->m_len = remain;
	m->m_len = len;
	t->m_next = m->m_next;
	m->m_next = NULL;
	win_m_close(m0);
	return win_m_ret(n);
}

/* ------------------------------------------------------------ m_pullup */

/*
 * Make the first @len bytes contiguous in the first mbuf, and read ahead up
 * to max_protohdr bytes in all (as far as there is room) so that the next
 * header is likely there too.
 *
 * Already contiguous: the chain comes back untouched, whatever its storage
 * (nothing needs writing). Otherwise the bytes are pulled into the first
 * mbuf when its trailing space takes them (space is 0 for shared or
 * read-only storage, so those are never written), else into a new mbuf that
 * takes the packet header (NetBSD allocates with M_DONTWAIT; so do we).
 * NetBSD pulls into the first mbuf only when it has no external storage; a
 * writable cluster with room serves as well.
 *
 * A chain shorter than @len, or no mbuf to be had: the chain is freed, NULL.
 */
struct mbuf *m_pullup(struct mbuf *n, int len)
{
	if (unlikely(!n || len < 0 || len > MHLEN)) {
		diag("m_pullup", "chain %p, length %d (must be 0..MHLEN = %d)", (void *)n, len, MHLEN);
		return NULL;
	}
	if (unlikely(!mbuf_live(n, "m_pullup")))
		return NULL;
	if (likely(n->m_len >= len))
		return n;
	if (unlikely(!n->m_next)) {
		/* Nothing to pull from: shorter than asked. */
		m_freem(n);
		return NULL;
	}

	struct mbuf *m;

	if (M_TRAILINGSPACE(n) >= len - n->m_len) {
		m = n;
		n = n->m_next;
	} else {
		m = m_get(M_DONTWAIT, n->m_type);
		if (unlikely(!m)) {
			m_freem(n);
			return NULL;
		}
		m->m_owner = n->m_owner;
		if (n->m_flags & M_PKTHDR)
			m_move_pkthdr(m, n);
	}

	/* Both ways m is ours to write now and has room for len. */
	int want = len > max_protohdr ? len : max_protohdr;
	int space = M_TRAILINGSPACE(m);
	int take = want - m->m_len < space ? want - m->m_len : space;
	int moved;

	m->m_next = take_front(n, m->m_data + m->m_len, take, &moved);
	m->m_len += moved;
	if (unlikely(m->m_len < len)) {
		m_freem(m);
		return NULL;
	}
	return win_m_ret(m);
}

/* ------------------------------------------------------------ m_pulldown */

/* A fresh mbuf for @len (<= MCLBYTES) bytes: internal, or with a cluster. */
static struct mbuf *pulldown_get(int len, const struct mbuf *like)
{
	struct mbuf *o = m_get(M_DONTWAIT, like->m_type);

	if (unlikely(!o))
		return NULL;
	if (len > MLEN) {
		m_clget(o, M_DONTWAIT);
		if (unlikely(!(o->m_flags & M_EXT))) {
			m_free(o);
			return NULL;
		}
	}
	o->m_owner = like->m_owner;
	return o;
}

/*
 * Make @len bytes at offset @off contiguous in one mbuf n whose storage is
 * not shared, and return n with the region at mtod(n) + *offp (at mtod(n)
 * itself when @offp is NULL). The head of the chain stays the head and the
 * bytes before @off stay where they are; the mbuf that holds @off may end
 * shorter (even empty).
 *
 * In order of cost, as NetBSD does:
 *  1. the region already sits in one writable mbuf (at its start, or @offp
 *     given): nothing to do;
 *  2. it sits in one mbuf, but that one is shared or the region is not at
 *     its start and @offp is NULL: cut the mbuf at @off and give the region
 *     (and what follows it in that mbuf) a fresh mbuf; a large rest of
 *     external storage is shared rather than copied;
 *  3. it spans mbufs and the first is writable with trailing room (and the
 *     offset is acceptable): pull the rest into it;
 *  4. the next mbuf is writable with leading room for the first part, and
 *     holds the rest: push the first part into it;
 *  5. otherwise: a fresh mbuf (or cluster) holding the whole region.
 * Unlike NetBSD, case 2 copies only what it must instead of the whole rest
 * through m_dup, and case 4 also serves callers that pass no @offp.
 *
 * Failure (chain shorter than off + len, or no memory; allocations use
 * M_DONTWAIT as in NetBSD): the whole chain is freed and NULL returned.
 * As in NetBSD an empty region at the very end of the chain counts as short.
 */
struct mbuf *m_pulldown(struct mbuf *m, int off, int len, int *offp)
{
	if (unlikely(!m || off < 0 || len < 0 || len > MCLBYTES)) {
		diag("m_pulldown", "chain %p, offset %d, length %d (length must be 0..MCLBYTES = %d)",
		     (void *)m, off, len, MCLBYTES);
		return NULL;
	}
	if (unlikely(!mbuf_live(m, "m_pulldown")))
		return NULL;

	struct mbuf *n = m, *o;
	int moved;

	/* The mbuf holding byte off, empty ones skipped. */
	while (n && off >= n->m_len) {
		off -= n->m_len;
		n = n->m_next;
	}
	if (!n)
		goto fail;

	int hlen = n->m_len - off; /* region bytes available in n, >= 1 */
	bool writable = m_writable(n);

	if (len <= hlen) {
		if (writable && (off == 0 || offp))
			goto ok; /* 1 */

		/* 2: the region and the rest of n after it move to o. */
		int tail = hlen - len;
		int room = len > MLEN ? MCLBYTES : MLEN;
		struct mbuf *p = NULL;

		o = pulldown_get(len, n);
		if (unlikely(!o))
			goto fail;
		/* Internal data always fits (off + len + tail <= MLEN); only a
		 * large rest of external storage is left where it is. */
		if ((n->m_flags & M_EXT) && tail > room - len) {
			p = m_get(M_DONTWAIT, n->m_type);
			if (unlikely(!p)) {
				m_free(o);
				goto fail;
			}
			p->m_owner = n->m_owner;
			mbuf_share_ext(p, n);
			p->m_data = n->m_data + off + len;
			p->m_len = tail;
			p->m_next = n->m_next;
			o->m_next = p;
			memcpy(o->m_data, n->m_data + off, (size_t)len);
			o->m_len = len;
		} else {
			memcpy(o->m_data, n->m_data + off, (size_t)hlen);
			o->m_len = hlen;
			o->m_next = n->m_next;
		}
		n->m_len = off;
		n->m_next = o;
		n = o;
		off = 0;
		goto ok;
	}

	int tlen = len - hlen; /* region bytes after n, >= 1 */
	int olen = 0;

	for (o = n->m_next; o && olen < tlen; o = o->m_next)
		olen += o->m_len;
	if (olen < tlen)
		goto fail;

	if (writable && (off == 0 || offp) && M_TRAILINGSPACE(n) >= tlen) { /* 3 */
		n->m_next = take_front(n->m_next, n->m_data + n->m_len, tlen, &moved);
		n->m_len += tlen;
		goto ok;
	}

	o = n->m_next;
	if (o->m_len >= tlen && M_LEADINGSPACE(o) >= hlen) { /* 4 */
		o->m_data -= hlen;
		o->m_len += hlen;
		memcpy(o->m_data, n->m_data + off, (size_t)hlen);
		n->m_len = off;
		n = o;
		off = 0;
		goto ok;
	}

	o = pulldown_get(len, n); /* 5 */
	if (unlikely(!o))
		goto fail;
	memcpy(o->m_data, n->m_data + off, (size_t)hlen);
	o->m_next = take_front(n->m_next, o->m_data + hlen, tlen, &moved);
	o->m_len = len;
	n->m_len = off;
	n->m_next = o;
	n = o;
	off = 0;
ok:
	if (offp)
		*offp = off;
	win_m_close(n);
	return n;
fail:
	m_freem(m);
	return NULL;
}
