/*
 * The mbuf half of the fuzz targets: a packet and up to MB_COPIES second
 * holders (m_copym, m_copypacket, m_dup copies, or chains made by a
 * conversion), each beside a byte array that says what it must hold, and
 * the operations of <pktmem/mbuf.h> applied to both. The checks and the
 * model follow tests/test_mbuf_diff.c; here every choice comes from the
 * fuzzer's input and a mismatch aborts.
 *
 * Included by fuzz_mbuf.c and fuzz_convert.c.
 */
#ifndef PKTMEM_FUZZ_MBUF_MODEL_H
#define PKTMEM_FUZZ_MBUF_MODEL_H

#include "fuzz_common.h"

#define MB_MAX_LEN   12288 /* the model's capacity */
#define MB_GROW_LIMIT 9000 /* above this, operations that would grow shrink instead */
#define MB_COPIES    4     /* second holders alive at once */
#define MB_TAG_TYPE  0x4d44
#define MB_TAG_LEN   8

/* A chain and the bytes it must hold. */
struct mholder {
	struct mbuf *m;
	int len;
	bool hdr;   /* its head carries the packet header */
	int ttl;    /* copies: steps left to live */
	const char *made_by;
	bool tagged; /* carries an MB_TAG_TYPE tag holding tag[] */
	unsigned char tag[MB_TAG_LEN];
	unsigned char model[MB_MAX_LEN];
};

static struct mholder pkt;
static struct mholder copies[MB_COPIES];
static unsigned char mscratch[MB_MAX_LEN + 16];
static int saved_protohdr = -1;

static inline int random_how(void)
{
	return one_in(2) ? M_WAIT : M_DONTWAIT;
}

static inline const char *how_name(int how)
{
	return how == M_WAIT ? "M_WAIT" : "M_DONTWAIT";
}

/* ------------------------------------------------------------ chain checks */

/* Structural invariants; the total of m_len in *lenp. @hdr: the head must have M_PKTHDR. */
static inline void chain_ok(const char *who, struct mbuf *m0, bool hdr, int *lenp)
{
	int sum = 0, i = 0;

	EXPECT(m0 != NULL, "%s: the chain is NULL", who);
	EXPECT(!hdr || (m0->m_flags & M_PKTHDR), "%s: the head has no M_PKTHDR (flags %#x)", who,
	       (unsigned)m0->m_flags);
	for (struct mbuf *m = m0; m; m = m->m_next, i++) {
		uintptr_t start = (uintptr_t)m_buf_start(m), end = (uintptr_t)m_buf_end(m);
		uintptr_t data = (uintptr_t)m->m_data;

		EXPECT(i <= 100000, "%s: more than 100000 mbufs (a loop?)", who);
		EXPECT(m->m_len >= 0, "%s: mbuf #%d has m_len %d", who, i, m->m_len);
		if (data < start || data > end || (uintptr_t)m->m_len > end - data)
			FAIL("%s: mbuf #%d: data at %+" PRIdPTR " len %d outside its buffer of %" PRIuPTR
			     " bytes (flags %#x)", who, i, (intptr_t)(data - start), m->m_len, end - start,
			     (unsigned)m->m_flags);
		EXPECT(m == m0 || !(m->m_flags & M_PKTHDR), "%s: mbuf #%d (not the head) has M_PKTHDR", who, i);
		EXPECT(m->m_type != MT_FREE, "%s: mbuf #%d has type MT_FREE", who, i);
		if (m->m_flags & M_EXT) {
			const struct pktmem_ext *e = m->m_ext.ext_storage;

			if (!e || e->ext_buf != m->m_ext.ext_buf || e->ext_size != m->m_ext.ext_size ||
			    pktmem_ext_refs(e) < 1)
				FAIL("%s: mbuf #%d: external storage %p does not match m_ext (%p, %zu)", who, i,
				     (const void *)e, (void *)m->m_ext.ext_buf, m->m_ext.ext_size);
		} else {
			EXPECT(!(m->m_flags & M_CLUSTER), "%s: mbuf #%d has M_CLUSTER without M_EXT", who, i);
		}
		sum += m->m_len;
	}
	EXPECT(!(m0->m_flags & M_PKTHDR) || m0->m_pkthdr.len == sum, "%s: m_pkthdr.len %d but the mbufs hold %d bytes",
	       who, m0->m_pkthdr.len, sum);
	*lenp = sum;
}

/* The chain's bytes, walked directly (independent of m_copydata). */
static inline void chain_bytes(const struct mbuf *m, unsigned char *out)
{
	for (; m; m = m->m_next) {
		memcpy(out, m->m_data, (size_t)m->m_len);
		out += m->m_len;
	}
}

/* The chain against its model: invariants, length, tag, bytes, m_copydata. */
static inline void mcompare(const char *who, struct mholder *h)
{
	static unsigned char buf[MB_MAX_LEN + 16];
	int len, d;

	chain_ok(who, h->m, h->hdr, &len);
	EXPECT(len == h->len, "%s: chain holds %d bytes, model %d", who, len, h->len);
	if (h->hdr) {
		/* The packet tag goes wherever the packet header goes. */
		const struct m_tag *t = m_tag_find(h->m, MB_TAG_TYPE);

		EXPECT(!h->tagged || (t && t->m_tag_len == MB_TAG_LEN && !memcmp(t + 1, h->tag, MB_TAG_LEN)),
		       "%s: the packet tag is %s", who, t ? "damaged" : "gone");
		EXPECT(h->tagged || !t, "%s: a packet tag appeared", who);
	}
	chain_bytes(h->m, buf);
	if ((d = first_difference(buf, h->model, len)) >= 0)
		FAIL("%s: byte %d of %d is %#x, model %#x", who, d, len, buf[d], h->model[d]);
	memset(buf, 0xA5, (size_t)len + 16);
	m_copydata(h->m, 0, len, buf);
	if ((d = first_difference(buf, h->model, len)) >= 0 || buf[len] != 0xA5)
		FAIL("m_copydata(0, %d) of %s: byte %d differs", len, who, d);
}

/* Is every byte of [off, off+n) in writable storage? */
static inline bool range_writable(const struct mbuf *m, int off, int n)
{
	int pos = 0;

	for (; m && pos < off + n; pos += m->m_len, m = m->m_next)
		if (m->m_len > 0 && pos + m->m_len > off && !m_writable(m))
			return false;
	return true;
}

/* Write @n bytes at @off straight into the mbufs' data (the caller checked writability). */
static inline void write_through(struct mbuf *m, int off, const unsigned char *src, int n)
{
	int pos = 0, done = 0;

	for (; m && done < n; pos += m->m_len, m = m->m_next) {
		if (pos + m->m_len <= off + done)
			continue;
		int at = off + done - pos, k = imin(m->m_len - at, n - done);

		memcpy(m->m_data + at, src + done, (size_t)k);
		done += k;
	}
}

/* Count the chains' references (fuzz_common.h) and their mbufs; @mbufs gets the total. */
static inline void mbuf_hold_refs(unsigned long long *mbufs)
{
	struct mholder *hs[MB_COPIES + 1];
	int nh = 0;

	*mbufs = 0;
	if (pkt.m)
		hs[nh++] = &pkt;
	for (int i = 0; i < MB_COPIES; i++)
		if (copies[i].m)
			hs[nh++] = &copies[i];
	for (int h = 0; h < nh; h++)
		for (struct mbuf *m = hs[h]->m; m; m = m->m_next) {
			(*mbufs)++;
			if (m->m_flags & M_EXT)
				rc_hold(m->m_ext.ext_storage);
		}
}

static inline void mbuf_compare_all(void)
{
	if (pkt.m)
		mcompare("packet", &pkt);
	for (int i = 0; i < MB_COPIES; i++)
		if (copies[i].m)
			mcompare(copies[i].made_by, &copies[i]);
}

/* Copies age by a step; the old ones go. */
static inline void mbuf_age_copies(void)
{
	for (int i = 0; i < MB_COPIES; i++)
		if (copies[i].m && --copies[i].ttl <= 0) {
			m_freem(copies[i].m);
			copies[i].m = NULL;
		}
}

static inline void mbuf_free_all(void)
{
	m_freem(pkt.m);
	pkt.m = NULL;
	pkt.len = 0;
	for (int i = 0; i < MB_COPIES; i++) {
		m_freem(copies[i].m);
		copies[i].m = NULL;
	}
	if (saved_protohdr >= 0)
		max_protohdr = saved_protohdr;
}

/* ------------------------------------------------------------ building a packet */

enum seg_kind { SEG_INTERNAL, SEG_CLUSTER, SEG_EXTADD, SEG_EXTMALLOC, SEG_KINDS };

static size_t devget_copied;

static inline void counting_copy(const void *from, void *to, size_t len)
{
	memcpy(to, from, len);
	devget_copied += len;
}

static inline void set_packet(struct mbuf *m, int len)
{
	pkt.m = m;
	pkt.len = len;
	pkt.hdr = true;
	pkt.tagged = false;
	if (one_in(3)) {
		struct m_tag *t = m_tag_get(MB_TAG_TYPE, MB_TAG_LEN, M_WAIT);

		EXPECT(t != NULL, "m_tag_get(M_WAIT) returned NULL");
		fill_random(pkt.tag, MB_TAG_LEN);
		memcpy(t + 1, pkt.tag, MB_TAG_LEN);
		m_tag_prepend(m, t);
		pkt.tagged = true;
	}
}

static inline void build_devget(int len)
{
	static unsigned char src[MB_MAX_LEN];
	bool plain = one_in(2), hit;
	int off0 = 0, plen;

	if (len == 0)
		len = 1;
	/* Trailer encapsulation now and then: the packet is buf[off0+4, len) then buf[0, off0). */
	if (len > 8 && one_in(4))
		off0 = 1 + rn(len - 8);
	fill_random(src, len);
	note("m_devget(%d bytes, off0 %d, copy %s)", len, off0, plain ? "NULL" : "counting");
	devget_copied = 0;
	arm();
	struct mbuf *m = m_devget((char *)src, len, off0, NULL, plain ? NULL : counting_copy);
	hit = disarm();
	if (!m) {
		EXPECT(hit, "m_devget(%d) returned NULL with no allocation failed", len);
		return; /* no packet: the next step builds one */
	}
	if (off0) {
		plen = len - 4;
		memcpy(pkt.model, src + off0 + 4, (size_t)(len - off0 - 4));
		memcpy(pkt.model + len - off0 - 4, src, (size_t)off0);
	} else {
		plen = len;
		memcpy(pkt.model, src, (size_t)len);
	}
	EXPECT(plain || devget_copied == (size_t)plen, "m_devget: the copy routine moved %zu of %d bytes",
	       devget_copied, plen);
	set_packet(m, plen);
	mcompare("m_devget", &pkt);
}

/*
 * A chain built by hand, as a driver would: a header mbuf and more, each
 * with internal data, a cluster, MEXTADD or MEXTMALLOC storage, data at a
 * chosen place in it (empty mbufs too), some storage marked read-only.
 */
static inline void build_by_hand(int style, int target)
{
	static const char *const names[] = { "internal", "clusters", "MEXTADD", "MEXTMALLOC", "mixed" };
	struct mbuf *head = NULL, **tail = &head;
	int total = 0, segs = 1 + rn(style == SEG_INTERNAL ? 10 : 5), made = 0;
	int how = random_how();

	note("build %s chain: up to %d mbufs, about %d bytes", names[style], segs, target);
	for (int s = 0; s < segs && (s == 0 || total < target); s++) {
		int kind = style == SEG_KINDS ? rn(SEG_KINDS) : style;
		bool hit;

		arm();
		struct mbuf *m = s == 0 ? m_gethdr(how, MT_DATA) : m_get(how, MT_DATA);

		hit = disarm();
		if (!m) {
			EXPECT(hit, "%s(%s) returned NULL with no allocation failed", s ? "m_get" : "m_gethdr",
			       how_name(how));
			m_freem(head);
			return;
		}
		*tail = m;
		tail = &m->m_next;
		made++;
		arm();
		switch (kind) {
		case SEG_CLUSTER:
			MCLGET(m, how);
			break;
		case SEG_EXTADD:
			attach_extadd(m, 16 + (size_t)rn(4096));
			break;
		case SEG_EXTMALLOC:
			MEXTMALLOC(m, 1 + rn(3000), how);
			break;
		default:
			break;
		}
		hit = disarm();
		if (kind != SEG_INTERNAL && !(m->m_flags & M_EXT)) {
			/* A failed attach leaves the mbuf as it was: internal data. */
			EXPECT(hit, "attaching %s storage failed with no allocation failed", names[kind]);
			EXPECT(m->m_data == m_buf_start(m) && m->m_len == 0, "a failed storage attach changed the mbuf");
		}

		int cap = (int)(m_buf_end(m) - m_buf_start(m));
		int lead = one_in(3) ? rn(cap / 2 + 1) : 0;
		int n = one_in(8) ? 0 : 1 + rn(cap - lead);

		n = imin(n, MB_MAX_LEN - 1 - total);
		if (n > target - total && !one_in(4))
			n = imin(n, target > total ? target - total : 0);
		m->m_data = m_buf_start(m) + lead;
		m->m_len = n;
		fill_random((unsigned char *)m->m_data, n);
		memcpy(pkt.model + total, m->m_data, (size_t)n);
		total += n;
		if ((m->m_flags & M_EXT) && one_in(6))
			pktmem_ext_set_readonly(m->m_ext.ext_storage);
	}
	head->m_pkthdr.len = total;
	set_packet(head, total);
	note("  built %d mbufs, %d bytes", made, total);
	mcompare("built chain", &pkt);
}

static inline void build_mbuf_packet(void)
{
	int target = one_in(8) ? rn(64) : rn(one_in(3) ? 6000 : 1600);
	int style = rn(7);

	if (saved_protohdr < 0)
		saved_protohdr = max_protohdr;
	if (one_in(20)) {
		note("build an empty packet (m_gethdr)");
		struct mbuf *m = m_gethdr(M_WAIT, MT_DATA);

		EXPECT(m != NULL, "m_gethdr(M_WAIT) returned NULL");
		set_packet(m, 0);
		return;
	}
	if (style >= 5)
		build_devget(target);
	else
		build_by_hand(style, target);
}

/* The packet became NULL through a failure contract: the chain was freed. */
static inline void packet_gone(void)
{
	pkt.m = NULL;
	pkt.len = 0;
}

/* ------------------------------------------------------------ operations */

static inline void op_adj(void)
{
	int len = pkt.len, n = rn(len + 1);

	if (one_in(2))
		n = -n;
	note("m_adj(%d) of %d bytes", n, len);
	m_adj(pkt.m, n);
	if (n >= 0)
		memmove(pkt.model, pkt.model + n, (size_t)(len - n));
	pkt.len = len - (n >= 0 ? n : -n);
}

/* m_copyback_cow of [off, off+n) inside holder @h. */
static inline void cow_at(struct mholder *h, const char *who, int off, int n)
{
	int how = random_how();
	bool hit;

	fill_random(mscratch, n);
	note("m_copyback_cow(%s, off %d, len %d, %s) of %d bytes", who, off, n, how_name(how), h->len);
	arm();
	struct mbuf *r = m_copyback_cow(h->m, off, n, mscratch, how);

	hit = disarm();
	if (!r) {
		EXPECT(hit, "m_copyback_cow(%d, %d, %s) returned NULL with no allocation failed", off, n, how_name(how));
		h->m = NULL; /* the contract: the chain is freed */
		h->len = 0;
		return;
	}
	h->m = r;
	memcpy(h->model + off, mscratch, (size_t)n);
}

static inline void op_cow(void)
{
	if (pkt.len == 0) {
		op_adj();
		return;
	}
	int off = rn(pkt.len), n = 1 + rn(pkt.len - off);

	cow_at(&pkt, "packet", off, n);
}

/*
 * m_copyback: append at the end, past the end (a zero-filled gap), or over
 * bytes inside (maybe running past the end). Writing into shared or
 * read-only storage is the caller's error, so a range that is not writable
 * goes to m_copyback_cow, or becomes a pure append.
 */
static inline void op_copyback(void)
{
	static unsigned char expect[MB_MAX_LEN];
	int len = pkt.len, off, n, explen, got;
	bool hit;

	switch (rn(3)) {
	case 0:
		off = len;
		n = 1 + rn(one_in(4) ? 1500 : 100);
		break;
	case 1:
		off = len + 1 + rn(64);
		n = 1 + rn(200);
		break;
	default:
		if (len == 0) {
			off = 0;
			n = 1 + rn(100);
			break;
		}
		off = rn(len);
		n = 1 + rn(one_in(3) ? len - off + 100 : len - off);
		break;
	}
	if (off + n > len && off + n > MB_GROW_LIMIT) {
		op_adj();
		return;
	}
	if (off < len && !range_writable(pkt.m, off, imin(n, len - off))) {
		if (off + n <= len) {
			cow_at(&pkt, "packet", off, n);
			if (!pkt.m)
				packet_gone();
			return;
		}
		off = len; /* the append must respect the growth limit too */
		if (off + n > MB_GROW_LIMIT) {
			op_adj();
			return;
		}
	}
	fill_random(mscratch, n);
	memcpy(expect, pkt.model, (size_t)len);
	if (off > len)
		memset(expect + len, 0, (size_t)(off - len));
	memcpy(expect + off, mscratch, (size_t)n);
	explen = off + n > len ? off + n : len;

	note("m_copyback(off %d, len %d) of %d bytes", off, n, len);
	arm();
	m_copyback(pkt.m, off, n, mscratch);
	hit = disarm();
	chain_ok("m_copyback", pkt.m, true, &got);
	if (got != explen) {
		/* Only a failed extension may fall short, and the length says how far it got. */
		if (!hit || got < len || got > explen)
			FAIL("m_copyback(off %d, len %d) of %d bytes: length %d, expected %d%s", off, n, len, got,
			     explen, hit ? "" : " (no allocation failed)");
		chain_bytes(pkt.m, mscratch);
		if (first_difference(mscratch, expect, got) < 0)
			memcpy(pkt.model, expect, (size_t)got);
		else if (got != len || first_difference(mscratch, pkt.model, len) >= 0)
			FAIL("m_copyback(off %d, len %d) failed part way to %d bytes with contents that are "
			     "neither the written prefix nor the old packet", off, n, got);
		pkt.len = got;
		note("  extension failed: %d bytes", got);
		return;
	}
	memcpy(pkt.model, expect, (size_t)explen);
	pkt.len = explen;
}

/* m_makewritable of a chosen range, then a write straight into the mbufs. */
static inline void makewritable(struct mholder *h, const char *who)
{
	if (h->len == 0)
		return;
	int off = rn(h->len), n = 1 + rn(h->len - off), how = random_how(), err;
	bool hit;

	if (one_in(10)) {
		off = 0;
		n = h->len;
	}
	note("m_makewritable(%s, off %d, len %d, %s) of %d bytes", who, off, n, how_name(how), h->len);
	arm();
	err = m_makewritable(&h->m, off, n, how);
	hit = disarm();
	if (err) {
		EXPECT(hit, "m_makewritable(%d, %d, %s) returned %d with no allocation failed", off, n, how_name(how),
		       err);
		EXPECT(err == ENOBUFS, "m_makewritable failed with %d, not ENOBUFS", err);
		EXPECT(h->m != NULL, "m_makewritable failed and left *mp NULL");
		return; /* the contents must be as they were: compared at the end of the step */
	}
	mcompare("m_makewritable", h);
	EXPECT(range_writable(h->m, off, n), "m_makewritable(%d, %d) returned 0 but the range is not writable", off,
	       n);
	fill_random(mscratch, n);
	write_through(h->m, off, mscratch, n);
	memcpy(h->model + off, mscratch, (size_t)n);
}

static inline void op_makewritable(void)
{
	makewritable(&pkt, "packet");
}

/* M_PREPEND (or m_prepend itself), then write the new header bytes. */
static inline void op_prepend(void)
{
	int plen = 1 + rn(one_in(8) ? MHLEN : 40), how = random_how(), oldlen = pkt.len;
	bool direct = one_in(4), hit;

	if (oldlen + plen > MB_GROW_LIMIT) {
		op_adj();
		return;
	}
	note("%s(%d, %s) on %d bytes (leading space %d)", direct ? "m_prepend" : "M_PREPEND", plen, how_name(how),
	     oldlen, M_LEADINGSPACE(pkt.m));
	arm();
	if (direct) {
		pkt.m = m_prepend(pkt.m, plen, how);
	} else {
		M_PREPEND(pkt.m, plen, how);
	}
	hit = disarm();
	if (!pkt.m) {
		EXPECT(hit, "%s(%d, %s) failed with no allocation failed", direct ? "m_prepend" : "M_PREPEND", plen,
		       how_name(how));
		packet_gone();
		return;
	}
	if (direct) {
		/* m_prepend leaves m_pkthdr.len alone; M_PREPEND is what adds. */
		EXPECT(!(pkt.m->m_flags & M_PKTHDR) || pkt.m->m_pkthdr.len == oldlen,
		       "m_prepend changed m_pkthdr.len from %d to %d", oldlen, pkt.m->m_pkthdr.len);
		if (pkt.m->m_flags & M_PKTHDR)
			pkt.m->m_pkthdr.len += plen;
	}
	EXPECT(pkt.m->m_flags & M_PKTHDR, "the packet header did not stay on the head");
	EXPECT(pkt.m->m_len >= plen, "%d bytes prepended but the head holds %d", plen, pkt.m->m_len);
	EXPECT(m_writable(pkt.m), "the prepended space is in storage that is not writable");
	/* The old bytes follow the new space. */
	m_copydata(pkt.m, plen, oldlen, mscratch);
	EXPECT(first_difference(mscratch, pkt.model, oldlen) < 0,
	       "after prepending %d bytes the old packet does not follow", plen);
	memmove(pkt.model + plen, pkt.model, (size_t)oldlen);
	fill_random(pkt.model, plen);
	memcpy(mtod(pkt.m, char *), pkt.model, (size_t)plen);
	pkt.len = oldlen + plen;
}

static inline void op_pullup(void)
{
	int len = pkt.len, n = 1 + rn(MHLEN);
	bool hit;

	if (one_in(8) && len < MHLEN)
		n = len + 1 + rn(MHLEN - len); /* shorter than asked: freed */
	if (one_in(10))
		max_protohdr = rn(MHLEN + 1);
	note("m_pullup(%d) of %d bytes (head holds %d, max_protohdr %d)", n, len, pkt.m->m_len, max_protohdr);
	arm();
	struct mbuf *r = m_pullup(pkt.m, n);

	hit = disarm();
	if (n > len) {
		EXPECT(r == NULL, "m_pullup(%d) of a %d-byte packet returned a chain", n, len);
		packet_gone();
		return;
	}
	if (!r) {
		EXPECT(hit, "m_pullup(%d) of %d bytes returned NULL with no allocation failed", n, len);
		packet_gone();
		return;
	}
	pkt.m = r;
	EXPECT(r->m_len >= n, "m_pullup(%d): the first mbuf holds only %d bytes", n, r->m_len);
}

static inline void op_pulldown(void)
{
	int len = pkt.len, off = rn(len + 1), avail = len - off, n, offp = -12345;
	bool use_offp = one_in(2), hit;

	if (avail == 0 || one_in(12))
		n = imin(avail + 1 + rn(64), MCLBYTES); /* past the end: freed */
	else
		n = 1 + rn(imin(avail, one_in(4) ? MCLBYTES : 200));
	if (n <= avail && one_in(2) && pkt.m->m_next) {
		/* Often across a boundary: start a little before the end of some mbuf. */
		int pos = 0, k = rn(8);
		struct mbuf *m = pkt.m;

		while (m->m_next && k-- > 0) {
			pos += m->m_len;
			m = m->m_next;
		}
		if (pos + m->m_len < len) {
			off = pos + m->m_len - imin(m->m_len, 1 + rn(16));
			n = imin(1 + rn(imin(len - off, 300)), MCLBYTES);
		}
	}
	note("m_pulldown(off %d, len %d, %s) of %d bytes", off, n, use_offp ? "&offp" : "NULL", len);
	arm();
	struct mbuf *r = m_pulldown(pkt.m, off, n, use_offp ? &offp : NULL);

	hit = disarm();
	if (off + n > len) {
		EXPECT(r == NULL, "m_pulldown(%d, %d) of a %d-byte packet returned an mbuf", off, n, len);
		packet_gone();
		return;
	}
	if (!r) {
		EXPECT(hit, "m_pulldown(%d, %d) of %d bytes returned NULL with no allocation failed", off, n, len);
		packet_gone();
		return;
	}
	int pos = 0, at = use_offp ? offp : 0;
	struct mbuf *m;

	for (m = pkt.m; m && m != r; m = m->m_next)
		pos += m->m_len;
	EXPECT(m != NULL, "m_pulldown(%d, %d) returned an mbuf that is not in the chain", off, n);
	if (at < 0 || at + n > r->m_len || pos + at != off)
		FAIL("m_pulldown(%d, %d): region at *offp %d in an mbuf of %d bytes at chain offset %d", off, n, at,
		     r->m_len, pos);
	int d = first_difference((unsigned char *)r->m_data + at, pkt.model + off, n);

	EXPECT(d < 0, "m_pulldown(%d, %d): byte %d of the region differs", off, n, d);
	EXPECT(m_writable(r), "m_pulldown(%d, %d): the mbuf returned shares its storage", off, n);
	if (one_in(2)) {
		fill_random(pkt.model + off, n);
		memcpy(r->m_data + at, pkt.model + off, (size_t)n);
	}
}

/*
 * m_split, maybe grow the head, then m_cat the tail back. A tail that
 * carries a packet header loses it first, as a BSD caller does; m_cat must
 * leave m_pkthdr.len alone, and the caller fixes it.
 */
static inline void op_split_cat(void)
{
	int len = pkt.len, at = rn(len + 1), how = random_how(), extra = 0, got;
	bool hit;

	if (one_in(20))
		at = len + 1 + rn(100);
	note("m_split(%d, %s) of %d bytes", at, how_name(how), len);
	arm();
	struct mbuf *t = m_split(pkt.m, at, how);

	hit = disarm();
	if (at > len) {
		EXPECT(t == NULL, "m_split(%d) of a %d-byte packet returned a tail", at, len);
		return;
	}
	if (!t) {
		EXPECT(hit, "m_split(%d) of %d bytes returned NULL with no allocation failed", at, len);
		return; /* restored: compared at the end of the step */
	}
	chain_ok("m_split head", pkt.m, true, &got);
	EXPECT(got == at, "m_split(%d): the head holds %d bytes", at, got);
	chain_bytes(pkt.m, mscratch);
	EXPECT(first_difference(mscratch, pkt.model, at) < 0, "m_split(%d): the head's bytes differ", at);
	EXPECT(t->m_flags & M_PKTHDR, "m_split(%d): the tail of a packet has no packet header", at);
	chain_ok("m_split tail", t, false, &got);
	EXPECT(got == len - at, "m_split(%d): the tail holds %d bytes, expected %d", at, got, len - at);
	chain_bytes(t, mscratch);
	EXPECT(first_difference(mscratch, pkt.model + at, len - at) < 0, "m_split(%d): the tail's bytes differ", at);
	/* Grow the head: its last mbuf may share storage with the tail's first. */
	if (one_in(3) && len + 64 < MB_GROW_LIMIT) {
		static unsigned char ins[64];

		extra = 1 + rn(64);
		fill_random(ins, extra);
		note("  m_copyback(off %d, len %d) on the head", at, extra);
		m_copyback(pkt.m, at, extra, ins);
		if (pkt.m->m_pkthdr.len != at + extra) {
			/* Only a failed extension (no fault is armed here, so: none) may fall short. */
			FAIL("m_copyback at the end of the split head: length %d, expected %d", pkt.m->m_pkthdr.len,
			     at + extra);
		}
		chain_bytes(t, mscratch);
		EXPECT(first_difference(mscratch, pkt.model + at, len - at) < 0,
		       "m_copyback at the end of the split head changed the tail's bytes");
		memmove(pkt.model + at + extra, pkt.model + at, (size_t)(len - at));
		memcpy(pkt.model + at, ins, (size_t)extra);
	}
	if (t->m_flags & M_PKTHDR) {
		m_tag_delete_chain(t);
		t->m_flags &= ~M_PKTHDR;
	}
	note("  m_cat(head of %d bytes, tail of %d bytes)", at + extra, len - at);
	m_cat(pkt.m, t);
	EXPECT(pkt.m->m_pkthdr.len == at + extra, "m_cat changed m_pkthdr.len to %d (was %d)", pkt.m->m_pkthdr.len,
	       at + extra);
	pkt.m->m_pkthdr.len = len + extra;
	pkt.len = len + extra;
}

static inline struct mholder *mbuf_free_slot(void)
{
	for (int i = 0; i < MB_COPIES; i++)
		if (!copies[i].m)
			return &copies[i];
	struct mholder *h = &copies[rn(MB_COPIES)];

	note("  free copy made by %s (%d bytes)", h->made_by, h->len);
	m_freem(h->m);
	h->m = NULL;
	return h;
}

/* m_copym / m_copypacket / m_dup of a chosen range, kept as a second holder. */
static inline void op_copy(void)
{
	int len = pkt.len, kind = rn(5), how = random_how(), off, n;
	const char *name;
	bool hit;
	struct mbuf *c;

	if (len == 0)
		return;
	off = one_in(3) ? 0 : rn(len);
	n = 1 + rn(len - off);

	struct mholder *h = mbuf_free_slot();

	switch (kind) {
	case 0:
		name = "m_copypacket";
		off = 0;
		n = len;
		note("m_copypacket(%s) of %d bytes", how_name(how), len);
		arm();
		c = m_copypacket(pkt.m, how);
		break;
	case 1:
	case 2:
		name = "m_copym";
		if (kind == 2)
			n = M_COPYALL;
		note("m_copym(off %d, len %d, %s) of %d bytes", off, n, how_name(how), len);
		arm();
		c = m_copym(pkt.m, off, n, how);
		break;
	default:
		name = "m_dup";
		if (kind == 4)
			n = M_COPYALL;
		note("m_dup(off %d, len %d, %s) of %d bytes", off, n, how_name(how), len);
		arm();
		c = m_dup(pkt.m, off, n, how);
		break;
	}
	hit = disarm();
	if (!c) {
		EXPECT(hit, "%s(%d, %d) returned NULL with no allocation failed", name, off, n);
		return; /* the source must be untouched: compared at the end of the step */
	}
	if (n == M_COPYALL)
		n = len - off;
	h->m = c;
	h->len = n;
	h->hdr = off == 0;
	h->tagged = h->hdr && pkt.tagged;
	memcpy(h->tag, pkt.tag, MB_TAG_LEN);
	h->ttl = 1 + rn(24);
	h->made_by = name;
	memcpy(h->model, pkt.model + off, (size_t)n);
	EXPECT(off != 0 || (c->m_flags & M_PKTHDR), "%s(off 0) of a packet: the copy has no packet header", name);
	mcompare(name, h);
	if (kind >= 3)
		for (struct mbuf *m = c; m; m = m->m_next)
			if (m->m_flags & M_EXT)
				EXPECT(pktmem_ext_refs(m->m_ext.ext_storage) == 1,
				       "m_dup: the copy shares storage (%d references)",
				       pktmem_ext_refs(m->m_ext.ext_storage));
}

/* Write into a live copy (m_makewritable or m_copyback_cow): the packet must not change. */
static inline void op_write_copy(void)
{
	struct mholder *h = &copies[rn(MB_COPIES)];

	if (!h->m || h->len == 0) {
		op_copy();
		return;
	}
	if (one_in(2)) {
		makewritable(h, h->made_by);
		return;
	}
	int off = rn(h->len), n = 1 + rn(h->len - off);

	cow_at(h, h->made_by, off, n);
}

struct apply_state {
	const struct mbuf *chain;
	const unsigned char *model;
	int pos;     /* bytes seen so far */
	int calls;
	int stop_at; /* return 7 on this call (0: never) */
	bool bad;
	char why[160];
};

static inline int apply_fn(void *arg, void *data, unsigned int n)
{
	struct apply_state *s = arg;
	const char *p = data;
	const struct mbuf *m;

	s->calls++;
	for (m = s->chain; m; m = m->m_next)
		if (p >= m->m_data && p + n <= m->m_data + m->m_len)
			break;
	if (!s->bad && !m) {
		s->bad = true;
		snprintf(s->why, sizeof(s->why), "call %d: %u bytes at %p are not inside one mbuf's data", s->calls, n,
			 data);
	}
	if (!s->bad && memcmp(p, s->model + s->pos, n)) {
		s->bad = true;
		snprintf(s->why, sizeof(s->why), "call %d: %u bytes at offset %d differ from the model", s->calls, n,
			 s->pos);
	}
	s->pos += (int)n;
	return s->calls == s->stop_at ? 7 : 0;
}

static inline void op_apply(void)
{
	int len = pkt.len, off = rn(len + 1), n = rn(len - off + 1), rv;
	struct apply_state s = { .chain = pkt.m, .stop_at = one_in(3) ? 1 + rn(4) : 0 };

	s.model = pkt.model + off;
	note("m_apply(off %d, len %d, stop at call %d) of %d bytes", off, n, s.stop_at, len);
	rv = m_apply(pkt.m, off, n, apply_fn, &s);
	EXPECT(!s.bad, "m_apply(%d, %d): %s", off, n, s.why);
	if (rv == 7) {
		EXPECT(s.stop_at && s.calls == s.stop_at, "m_apply returned f's 7 after %d calls (stop at %d)", s.calls,
		       s.stop_at);
	} else {
		EXPECT(rv == 0, "m_apply returned %d", rv);
		EXPECT(s.pos == n, "m_apply(%d, %d) passed %d bytes", off, n, s.pos);
		EXPECT(!s.stop_at || s.calls < s.stop_at, "m_apply went on after f returned 7");
	}
	/* And m_copydata of the same range. */
	memset(mscratch, 0xA5, (size_t)n + 16);
	m_copydata(pkt.m, off, n, mscratch);
	int d = first_difference(mscratch, pkt.model + off, n);

	EXPECT(d < 0 && mscratch[n] == 0xA5, "m_copydata(%d, %d) of %d bytes: byte %d differs", off, n, len, d);
}

static inline void op_new_packet(void)
{
	note("m_freem(packet of %d bytes)", pkt.len);
	m_freem(pkt.m);
	packet_gone();
	build_mbuf_packet();
}

static inline void op_free_copy(void)
{
	struct mholder *h = &copies[rn(MB_COPIES)];

	if (h->m) {
		note("m_freem(copy made by %s, %d bytes)", h->made_by, h->len);
		m_freem(h->m);
		h->m = NULL;
	}
}

struct mbuf_op {
	void (*fn)(void);
	const char *name;
};

/* Every operation needs a packet; without one, the step builds it instead. */
static const struct mbuf_op mbuf_ops[] = {
	{ op_copyback, "copyback" },       { op_cow, "copyback_cow" },   { op_makewritable, "makewritable" },
	{ op_prepend, "prepend" },         { op_adj, "adj" },            { op_pullup, "pullup" },
	{ op_pulldown, "pulldown" },       { op_split_cat, "split_cat" }, { op_copy, "copy" },
	{ op_write_copy, "write_copy" },   { op_apply, "apply" },        { op_new_packet, "new_packet" },
	{ op_free_copy, "free_copy" },
};
#define NR_MBUF_OPS ((int)(sizeof(mbuf_ops) / sizeof(mbuf_ops[0])))

static inline void mbuf_do_op(int op)
{
	if (!pkt.m)
		build_mbuf_packet();
	else
		mbuf_ops[op].fn();
}

#endif /* PKTMEM_FUZZ_MBUF_MODEL_H */
