/*
 * Copying into, out of and between mbuf chains: m_copym, m_copypacket,
 * m_dup, m_copydata, m_copyback, m_copyback_cow, m_makewritable, m_apply
 * and m_devget.
 *
 * Three walkers carry everything, each shared by the calls that differ in
 * one decision (as NetBSD does):
 *
 *   copy_chain()   m_copym (share external storage), m_copypacket (the
 *                  same, whole packet) and m_dup (copy every byte).
 *   copyback()     m_copyback (write, may extend), m_copyback_cow (write,
 *                  replace read-only storage) and m_makewritable (keep
 *                  the bytes, replace read-only storage).
 *   fill()         scatters a byte stream over a fresh chain: m_devget,
 *                  copy-on-write replacements and chain extensions.
 *
 *   source  [hdr|54][ cluster 1446 ]          m_copym: [hdr|54 copied][ ref ]
 *                           ^ refs 2 ------------------------------'
 *   m_copyback_cow(off 60, len 8):
 *           [hdr|54][ cl 0..5 ][ new 8 bytes ][ cl 14..1445 ]   (two refs to
 *                    the old cluster, which is never written)
 *
 * Storage that is shared or read-only (!m_writable) is never written. Every
 * allocation goes through m_get/m_gethdr/m_clget; a NULL is a failure
 * whatever the wait flag, so the failure contracts hold under injected
 * faults too. Bad arguments that mbuf(9) makes the caller's duty are
 * diagnosed before anything is touched.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "mbuf_impl.h"
#include "storage/window.h"

static inline int imin(int a, int b)
{
	return a < b ? a : b;
}

/* ------------------------------------------------------------ finding bytes */

/*
 * The mbuf holding byte @*offp of chain @m, with *offp turned into the
 * offset inside it. NetBSD's rule: offset 0 is the head even when it is
 * empty; a positive offset moves past every mbuf it does not fall strictly
 * inside (so empty mbufs and exact boundaries move forward). NULL when the
 * chain ends first; *offp is then the number of bytes missing (0: the
 * offset is exactly the chain's length).
 */
static inline struct mbuf *chain_find(struct mbuf *m, int *offp)
{
	int off = *offp;

	while (off > 0 && m) {
		if (off < m->m_len)
			break;
		off -= m->m_len;
		m = m->m_next;
	}
	*offp = off;
	return m;
}

/* Bytes from byte @o of @s to the end of the chain, counting no further than @want. */
static inline long chain_span(const struct mbuf *s, int o, long want)
{
	long have = 0;

	if (s) {
		have = s->m_len - o;
		for (s = s->m_next; s && have < want; s = s->m_next)
			have += s->m_len;
	}
	return have;
}

/*
 * Check that @off and @len are not negative and that the chain holds
 * @off + @len bytes; find where @off is. Diagnoses and returns false
 * otherwise. Costs a walk over the mbuf headers of the range only.
 */
static bool range_find(struct mbuf *m, int off, int len, const char *func, struct mbuf **sp, int *op)
{
	if (unlikely(off < 0 || len < 0)) {
		diag(func, "negative offset %d or length %d (chain %p)", off, len, (void *)m);
		return false;
	}
	if (m && unlikely(!mbuf_live(m, func)))
		return false;
	int o = off;
	struct mbuf *s = chain_find(m, &o);

	if (unlikely((!s && o > 0) || chain_span(s, o, len) < len)) {
		diag(func, "offset %d + length %d is past the end of chain %p (%d bytes)", off, len, (void *)m,
		     m_length(m));
		return false;
	}
	*sp = s;
	*op = o;
	return true;
}

static bool chain_ok(const struct mbuf *m, const char *func)
{
	if (unlikely(!m)) {
		diag(func, "NULL mbuf chain");
		return false;
	}
	return mbuf_live(m, func);
}

/* ------------------------------------------------------------ fresh chains */

/*
 * BSD's MINCLSIZE rule, for any first capacity: a cluster pays off when the
 * bytes would not fit in this mbuf plus one more small one.
 */
static inline bool want_cluster(int need, int cap)
{
	return need > cap + MLEN;
}

#define FRESH_HDR      0x1 /* the first mbuf is a packet header (m_gethdr) */
#define FRESH_HDR_ROOM 0x2 /* the first is plain, internal, at most MHLEN: ready for M_MOVE_PKTHDR */

/*
 * fresh_chain() - writable mbufs of @type holding @len bytes between them
 * (m_len set, contents undefined), with clusters where want_cluster() says.
 * FRESH_HDR returns a header mbuf even for @len 0. *@lastp gets the last
 * mbuf. NULL on any allocation failure, everything allocated so far freed.
 */
static struct mbuf *fresh_chain(int len, int how, int type, unsigned flags, struct mbuf **lastp)
{
	struct mbuf *top = NULL, **tail = &top, *n = NULL;
	bool first = true;

	while (len > 0 || (first && (flags & FRESH_HDR))) {
		bool hdr_cap = first && (flags & (FRESH_HDR | FRESH_HDR_ROOM));
		int cap = hdr_cap ? MHLEN : MLEN;

		n = (first && (flags & FRESH_HDR)) ? m_gethdr(how, type) : m_get(how, type);
		if (!n)
			goto fail;
		*tail = n;
		tail = &n->m_next;
		if (want_cluster(len, cap) && !(first && (flags & FRESH_HDR_ROOM))) {
			m_clget(n, how);
			if (!(n->m_flags & M_EXT))
				goto fail;
			cap = MCLBYTES;
		}
		n->m_len = imin(len, cap);
		len -= n->m_len;
		first = false;
	}
	*lastp = n;
	return top;
fail:
	m_freem(top);
	return NULL;
}

/* A position in a chain being filled. */
struct cursor {
	struct mbuf *m;
	int o;
};

/*
 * fill() - write @n bytes at the cursor and advance it: from @src with
 * @copy (NULL: memcpy), or zeros when @src is NULL. One call of @copy per
 * contiguous piece. The chain must have room (the callers sized it).
 */
static void fill(struct cursor *c, const char *src, int n, void (*copy)(const void *, void *, size_t))
{
	while (n > 0) {
		while (c->o >= c->m->m_len) {
			c->m = c->m->m_next;
			c->o = 0;
		}
		int k = imin(c->m->m_len - c->o, n);
		char *dst = c->m->m_data + c->o;

		if (!src)
			memset(dst, 0, (size_t)k);
		else if (copy)
			copy(src, dst, (size_t)k);
		else
			memcpy(dst, src, (size_t)k);
		if (src)
			src += k;
		c->o += k;
		n -= k;
	}
}

/* ------------------------------------------------------------ m_copym, m_dup */

#define COPY_DEEP   0x1 /* m_dup: copy external storage too */
#define COPY_PACKET 0x2 /* m_copypacket: a packet header is required */

/* The copy being built. */
struct copy_out {
	struct mbuf *top, *last;
	int how;
};

static inline void out_link(struct copy_out *d, struct mbuf *n)
{
	if (d->last)
		d->last->m_next = n;
	else
		d->top = n;
	d->last = n;
}

/*
 * Let the copy share @n bytes of @s's external storage from offset @o. An
 * empty header mbuf at the end of the copy takes the reference itself, so
 * a one-cluster packet copies into one mbuf.
 */
static bool out_share(struct copy_out *d, struct mbuf *s, int o, int n)
{
	struct mbuf *t = d->last;

	if (!t || t->m_len != 0 || (t->m_flags & M_EXT)) {
		t = m_get(d->how, s->m_type);
		if (!t)
			return false;
		out_link(d, t);
	}
	mbuf_share_ext(t, s);
	t->m_data = s->m_data + o;
	t->m_len = n;
	return true;
}

/*
 * Append @n bytes at @src to the copy: into the writable room of its last
 * mbuf first, then into new mbufs. @need is how many bytes are still to be
 * appended in all, which decides whether a new mbuf gets a cluster.
 */
static bool out_append(struct copy_out *d, const char *src, int n, int need, int type)
{
	while (n > 0) {
		struct mbuf *t = d->last;
		int room = t ? m_trailingspace(t) : 0;

		if (room == 0) {
			t = m_get(d->how, type);
			if (!t)
				return false;
			out_link(d, t);
			room = MLEN;
			if (want_cluster(need, MLEN)) {
				m_clget(t, d->how);
				if (!(t->m_flags & M_EXT))
					return false;
				room = MCLBYTES;
			}
		}
		int k = imin(room, n);

		memcpy(t->m_data + t->m_len, src, (size_t)k);
		t->m_len += k;
		src += k;
		n -= k;
		need -= k;
	}
	return true;
}

/*
 * The one copy walker. Shallow (m_copym, m_copypacket): external storage
 * is shared, internal data copied, packed into as few mbufs as it fits.
 * Deep (m_dup): every byte copied into fresh, writable mbufs and clusters.
 * With off0 == 0 the packet header is copied (tags included) and its len
 * set to the bytes copied. Any allocation failure frees the partial copy
 * and returns NULL; the source is only read.
 */
static struct mbuf *copy_chain(struct mbuf *m, int off0, int len, int how, unsigned mode, const char *func)
{
	if (!chain_ok(m, func) || !how_ok(how, func))
		return NULL;
	if (unlikely((mode & COPY_PACKET) && !(m->m_flags & M_PKTHDR))) {
		diag(func, "chain %p has no packet header (flags %#x)", (void *)m, m->m_flags);
		return NULL;
	}

	struct mbuf *s;
	int o;
	bool all = len == M_COPYALL;

	if (all) {
		if (unlikely(off0 < 0)) {
			diag(func, "negative offset %d (chain %p)", off0, (void *)m);
			return NULL;
		}
		o = off0;
		s = chain_find(m, &o);
		if (unlikely(!s && o > 0)) {
			diag(func, "offset %d is past the end of chain %p (%d bytes)", off0, (void *)m, m_length(m));
			return NULL;
		}
		long span = chain_span(s, o, LONG_MAX);

		if (unlikely(span > INT_MAX)) {
			diag(func, "chain %p holds %ld bytes from offset %d, more than an int", (void *)m, span, off0);
			return NULL;
		}
		len = (int)span;
	} else if (!range_find(m, off0, len, func, &s, &o)) {
		return NULL;
	}

	bool copyhdr = off0 == 0 && (m->m_flags & M_PKTHDR);
	bool deep = mode & COPY_DEEP;
	struct copy_out d = { NULL, NULL, how };

	/* Nothing to copy is NULL, as in NetBSD; only a whole packet copies its empty header. */
	if (len == 0 && !(copyhdr && all))
		return NULL;
	if (copyhdr) {
		struct mbuf *h = m_get(how, m->m_type);

		if (!h)
			return NULL;
		out_link(&d, h);
		/* Unlike NetBSD, a tag that cannot be copied fails the copy:
		 * a packet silently missing a tag (a security association,
		 * a firewall mark) is worse than no packet (FreeBSD agrees). */
		if (mbuf_copy_pkthdr(h, m, how) != 0)
			goto fail;
		h->m_pkthdr.len = len;
		if (deep && want_cluster(len, MHLEN)) {
			m_clget(h, how);
			if (!(h->m_flags & M_EXT))
				goto fail;
		}
	}
	for (int left = len; left > 0; s = s->m_next, o = 0) {
		int n = imin(s->m_len - o, left);

		if (n == 0)
			continue;
		if (!deep && (s->m_flags & M_EXT)) {
			if (!out_share(&d, s, o, n))
				goto fail;
		} else if (!out_append(&d, s->m_data + o, n, deep ? left : n, s->m_type)) {
			goto fail;
		}
		left -= n;
	}
	return win_m_ret(d.top);
fail:
	m_freem(d.top);
	return NULL;
}

struct mbuf *m_copym(struct mbuf *m, int off0, int len, int wait)
{
	return copy_chain(m, off0, len, wait, 0, "m_copym");
}

/*
 * The usual packet is one header mbuf with its bytes in external storage:
 * its copy is one header mbuf sharing that storage, which is what
 * copy_chain() builds too (out_share() lets the empty header take the
 * reference), without the walks and the bookkeeping of the general case.
 * Anything else, bad input included, goes to copy_chain().
 */
struct mbuf *m_copypacket(struct mbuf *m, int how)
{
	if (likely(m && m->m_state_ == MBUF_LIVE && !m->m_next && m->m_len > 0 &&
		   (m->m_flags & (M_PKTHDR | M_EXT)) == (M_PKTHDR | M_EXT) && (how == M_WAIT || how == M_DONTWAIT))) {
		return win_m_ret(mbuf_copy_ext_packet(m, how));
	}
	return copy_chain(m, 0, M_COPYALL, how, COPY_PACKET, "m_copypacket");
}

struct mbuf *m_dup(struct mbuf *m, int off0, int len, int wait)
{
	return copy_chain(m, off0, len, wait, COPY_DEEP, "m_dup");
}

/* ------------------------------------------------------------ reading */

/*
 * The common case of m_copydata() and m_copyback(): a live chain, sane
 * arguments, at least one byte. Finds the mbuf holding byte @off (*@op its
 * offset there) and checks that the chain holds @len bytes from it, with
 * every mbuf the bytes touch writable when @write. NULL sends the caller to
 * its general path, which diagnoses whatever is wrong.
 */
static inline struct mbuf *range_fast(struct mbuf *m, int off, int len, const void *cp, bool write, int *op)
{
	if (unlikely(!m || !cp || off < 0 || len <= 0 || m->m_state_ != MBUF_LIVE))
		return NULL;

	struct mbuf *s = m;
	long o = off;

	/* With len > 0, skipping empty mbufs at the start changes nothing. */
	while (s && o >= s->m_len) {
		o -= s->m_len;
		s = s->m_next;
	}
	long need = o + len, have = 0;

	for (const struct mbuf *t = s; t && have < need; t = t->m_next) {
		if (write && t->m_len > 0 && !m_writable(t))
			return NULL;
		have += t->m_len;
	}
	if (have < need)
		return NULL;
	*op = (int)o;
	return s;
}

void m_copydata(struct mbuf *m, int off, int len, void *cp)
{
	struct mbuf *s;
	int o;

	if (likely((s = range_fast(m, off, len, cp, false, &o)) != NULL)) {
		char *dst = cp;

		for (;; s = s->m_next, o = 0) {
			int n = imin(s->m_len - o, len);

			memcpy(dst, s->m_data + o, (size_t)n);
			if ((len -= n) == 0)
				return;
			dst += n;
		}
	}
	if (!range_find(m, off, len, "m_copydata", &s, &o))
		return;
	if (unlikely(!cp && len > 0)) {
		diag("m_copydata", "NULL buffer for %d bytes at offset %d of chain %p", len, off, (void *)m);
		return;
	}
	char *dst = cp;

	for (; len > 0; s = s->m_next, o = 0) {
		int n = imin(s->m_len - o, len);

		memcpy(dst, s->m_data + o, (size_t)n);
		dst += n;
		len -= n;
	}
}

/*
 * As in NetBSD, f sees every mbuf the range covers, in order, an empty one
 * inside the range with a count of 0; a zero @len calls it never.
 */
int m_apply(struct mbuf *m, int off, int len, int (*f)(void *, void *, unsigned int), void *arg)
{
	struct mbuf *s;
	int o;

	if (unlikely(!f)) {
		diag("m_apply", "NULL function (chain %p, offset %d, length %d)", (void *)m, off, len);
		return EINVAL;
	}
	if (!range_find(m, off, len, "m_apply", &s, &o))
		return EINVAL;
	for (; len > 0; s = s->m_next, o = 0) {
		int n = imin(s->m_len - o, len);
		int rv = f(arg, s->m_data + o, (unsigned int)n);

		if (rv)
			return rv;
		len -= n;
	}
	return 0;
}

/* ------------------------------------------------------------ m_devget */

/*
 * Trailer encapsulation (4.2BSD): the device buffer holds @off0 bytes of
 * data, then a 16-bit type and a 16-bit length, then the protocol headers.
 * The packet is rebuilt headers first: buf[off0 + 4, totlen) followed by
 * buf[0, off0), totlen - 4 bytes, exactly as NetBSD's m_devget reads it.
 * NetBSD allocates with M_DONTWAIT here (a driver's receive path); so do we.
 */
#define TRAILER_FIELDS (2 * (int)sizeof(uint16_t))

struct mbuf *m_devget(char *buf, int totlen, int off0, struct ifnet *ifp, void (*copy)(const void *, void *, size_t))
{
	if (unlikely(totlen < 0 || off0 < 0 || (totlen > 0 && !buf) ||
		     (off0 > 0 && (long)off0 + TRAILER_FIELDS > totlen))) {
		diag("m_devget", "buffer %p, total length %d, trailer offset %d", (void *)buf, totlen, off0);
		return NULL;
	}
	int pktlen = off0 ? totlen - TRAILER_FIELDS : totlen;
	struct mbuf *last;
	struct mbuf *top = fresh_chain(pktlen, M_DONTWAIT, MT_DATA, FRESH_HDR, &last);

	if (!top)
		return NULL;
	top->m_pkthdr.rcvif = ifp;
	top->m_pkthdr.len = pktlen;

	struct cursor c = { top, 0 };

	if (off0) {
		fill(&c, buf + off0 + TRAILER_FIELDS, totlen - off0 - TRAILER_FIELDS, copy);
		fill(&c, buf, off0, copy);
	} else {
		fill(&c, buf, totlen, copy);
	}
	return win_m_ret(top);
}

/* ------------------------------------------------------------ writing */

#define CB_COPY     0x1 /* write the caller's bytes into the range */
#define CB_PRESERVE 0x2 /* keep the range's bytes (m_makewritable) */
#define CB_COW      0x4 /* replace read-only storage instead of refusing it */
#define CB_EXTEND   0x8 /* grow the chain past its end (m_copyback) */

/*
 * Replace bytes [a, b) of the read-only mbuf *@link (== m) with fresh,
 * writable mbufs holding the same bytes (CB_PRESERVE) or @src. The parts
 * of m outside [a, b) keep referring to the old storage: m keeps [0, a),
 * and [b, m_len) stays in m (when a == 0) or in one new mbuf sharing the
 * storage. A packet header moves to the new front. All allocations come
 * first, so a failure changes nothing. Returns the link after the new
 * mbufs, or NULL on failure.
 */
static struct mbuf **cow_replace(struct mbuf **link, int a, int b, const char *src, unsigned flags, int how)
{
	struct mbuf *m = *link, *last, *t = NULL;
	bool movehdr = a == 0 && (m->m_flags & M_PKTHDR);
	bool split = a > 0 && b < m->m_len;
	struct mbuf *n = fresh_chain(b - a, how, m->m_type, movehdr ? FRESH_HDR_ROOM : 0, &last);

	if (!n)
		return NULL;
	if (split) {
		t = m_get(how, m->m_type);
		if (!t) {
			m_freem(n);
			return NULL;
		}
	}
	/* Move the header before filling: it points n's data at m_pktdat. */
	if (movehdr)
		m_move_pkthdr(n, m);

	struct cursor c = { n, 0 };

	fill(&c, (flags & CB_PRESERVE) ? m->m_data + a : src, b - a, NULL);

	if (a == 0) {
		*link = n;
		if (b == m->m_len) {
			last->m_next = m->m_next;
			m->m_next = NULL;
			m_free(m);
		} else {
			m->m_data += b;
			m->m_len -= b;
			last->m_next = m;
		}
		return &last->m_next;
	}
	if (split) {
		mbuf_share_ext(t, m);
		t->m_data = m->m_data + b;
		t->m_len = m->m_len - b;
		t->m_next = m->m_next;
		last->m_next = t;
	} else {
		last->m_next = m->m_next;
	}
	m->m_next = n;
	m->m_len = a;
	return &last->m_next;
}

/*
 * The one write walker. Range [off, off + len) of *@mp0:
 *  - mbufs with writable data get @cp's bytes (CB_COPY) or are left alone;
 *  - read-only ones are replaced (CB_COW) or were refused up front;
 *  - past the end (CB_EXTEND) the chain grows: the last mbuf's writable
 *    room first, then a fresh chain allocated before anything is written,
 *    zeros in any gap. If that allocation fails the chain keeps its length
 *    and only the bytes inside it are written.
 * A packet header's len is raised to the end reached, as NetBSD does.
 * Returns 0, ENOBUFS (a replacement could not be allocated: the chain is
 * valid and every replacement made so far holds the right bytes) or EINVAL
 * (diagnosed; nothing touched).
 */
static int copyback(struct mbuf **mp0, int off, int len, const char *cp, unsigned flags, int how, const char *func)
{
	long end = (long)off + len, total = 0;
	struct mbuf *m, *last = NULL;

	for (m = *mp0; m; m = m->m_next) {
		long from = off > total ? off : total;
		long to = end < total + m->m_len ? end : total + m->m_len;

		/* m_copyback may not write shared or read-only storage (mbuf(9)). */
		if (!(flags & CB_COW) && from < to && !m_writable(m)) {
			diag(func, "mbuf %p (bytes %ld..%ld of chain %p) has read-only or shared storage "
				   "(%d references); writing %d bytes at offset %d",
			     (void *)m, total, total + m->m_len - 1, (void *)*mp0, pktmem_ext_refs(m->m_ext.ext_storage),
			     len, off);
			return EINVAL;
		}
		total += m->m_len;
		last = m;
	}
	if (end > total && !(flags & CB_EXTEND)) {
		if (flags & CB_COPY) {
			diag(func, "offset %d + length %d extends chain %p (%ld bytes)", off, len, (void *)*mp0, total);
			return EINVAL;
		}
		end = total; /* m_makewritable: up to the end, as NetBSD does */
	}

	/* Prepare the extension first: if it fails, nothing grows. */
	struct mbuf *ext = NULL, *ext_last;
	int grow = 0, use = 0;

	if (end > total) {
		grow = (int)(end - total);
		use = imin(m_trailingspace(last), grow);
		if (grow > use) {
			ext = fresh_chain(grow - use, how, last->m_type, 0, &ext_last);
			if (!ext)
				grow = use = 0;
		}
	}

	long wend = end < total ? end : total;
	long pos = 0;
	struct mbuf **link = mp0;

	for (m = *link; m && pos < wend; m = *link) {
		int a = off > pos ? (int)(off - pos) : 0;
		int b = wend - pos < m->m_len ? (int)(wend - pos) : m->m_len;

		/* Without CB_COW every mbuf here was found writable above, and
		 * storage held alone cannot become shared behind our back. */
		if (a < b && (flags & CB_COW) && !m_writable(m)) {
			link = cow_replace(link, a, b, cp ? cp + (pos + a - off) : NULL, flags, how);
			if (!link)
				return ENOBUFS;
			pos += b;
			continue;
		}
		if (a < b && (flags & CB_COPY))
			memcpy(m->m_data + a, cp + (pos + a - off), (size_t)(b - a));
		pos += m->m_len;
		link = &m->m_next;
	}

	long reached = wend;

	if (grow > 0) {
		struct cursor c = { last, last->m_len };
		int gap = off > total ? (int)(off - total) : 0;

		last->m_len += use;
		last->m_next = ext;
		fill(&c, NULL, gap, NULL);
		fill(&c, cp + (total + gap - off), grow - gap, NULL);
		reached = end;
	}
	if (((*mp0)->m_flags & M_PKTHDR) && (*mp0)->m_pkthdr.len < reached)
		(*mp0)->m_pkthdr.len = (int)reached;
	win_m_close(*mp0);
	return 0;
}

static bool write_args_ok(struct mbuf *m, int off, int len, const void *cp, const char *func)
{
	if (!chain_ok(m, func))
		return false;
	if (unlikely(off < 0 || len < 0 || (long)off + len > INT_MAX)) {
		diag(func, "offset %d, length %d (chain %p)", off, len, (void *)m);
		return false;
	}
	/* "To the end" means nothing for a write: taken as a length, it would
	 * read a billion bytes of @cp and grow the chain to match. */
	if (unlikely(len == M_COPYALL)) {
		diag(func, "length M_COPYALL at offset %d (chain %p): a write needs a real length", off, (void *)m);
		return false;
	}
	if (unlikely(!cp && len > 0)) {
		diag(func, "NULL buffer for %d bytes at offset %d of chain %p", len, off, (void *)m);
		return false;
	}
	return true;
}

/*
 * Extends with M_DONTWAIT, as NetBSD does (m_copyback has no wait flag).
 * A failed extension leaves the chain's length (and m_pkthdr.len) short of
 * off + len; the bytes that fall inside the chain are written.
 */
void m_copyback(struct mbuf *m0, int off, int len, void *cp)
{
	struct mbuf *s;
	int o;

	/* Inside the chain and all writable: one check walk, one copy walk. */
	if (likely((s = range_fast(m0, off, len, cp, true, &o)) != NULL)) {
		const char *src = cp;
		int left = len;

		for (;; s = s->m_next, o = 0) {
			int n = imin(s->m_len - o, left);

			memcpy(s->m_data + o, src, (size_t)n);
			if ((left -= n) == 0)
				break;
			src += n;
		}
		if ((m0->m_flags & M_PKTHDR) && m0->m_pkthdr.len < (long)off + len)
			m0->m_pkthdr.len = off + len;
		win_m_close(m0);
		return;
	}
	if (!write_args_ok(m0, off, len, cp, "m_copyback"))
		return;
	(void)copyback(&m0, off, len, cp, CB_COPY | CB_EXTEND, M_DONTWAIT, "m_copyback");
}

/*
 * On failure the chain is freed and NULL returned, as NetBSD does ("no way
 * to recover from partial success"): the caller must not use m0 again.
 * Bad arguments (diagnosed) return NULL without touching m0.
 */
struct mbuf *m_copyback_cow(struct mbuf *m0, int off, int len, void *cp, int how)
{
	if (!write_args_ok(m0, off, len, cp, "m_copyback_cow") || !how_ok(how, "m_copyback_cow"))
		return NULL;

	int err = copyback(&m0, off, len, cp, CB_COPY | CB_COW, how, "m_copyback_cow");

	if (err == EINVAL)
		return NULL;
	if (err) {
		m_freem(m0);
		return NULL;
	}
	return m0;
}

/*
 * A range past the end (M_COPYALL included) stops at the end, as in
 * NetBSD. On ENOBUFS *mp is still a valid chain holding the same bytes;
 * part of the range may already be writable.
 */
int m_makewritable(struct mbuf **mp, int off, int len, int how)
{
	if (unlikely(!mp)) {
		diag("m_makewritable", "NULL chain pointer");
		return EINVAL;
	}
	if (!chain_ok(*mp, "m_makewritable") || !how_ok(how, "m_makewritable"))
		return EINVAL;
	if (unlikely(off < 0 || len < 0)) {
		diag("m_makewritable", "offset %d, length %d (chain %p)", off, len, (void *)*mp);
		return EINVAL;
	}
	return copyback(mp, off, len, NULL, CB_PRESERVE | CB_COW, how, "m_makewritable");
}
