/*
 * The byte-array model of an mbuf chain: a packet and up to MB_COPIES
 * second holders (m_copym, m_copypacket, m_dup copies, or chains made by a
 * conversion), each beside a byte array that says what it must hold; the
 * operations of <pktmem/mbuf.h> applied to both; and the comparison of a
 * chain with its model (structure, length, packet tag, bytes walked
 * directly and through m_copydata). One model for two drivers:
 *
 *   tests/test_mbuf_diff.c      choices from a seeded PRNG, fixed seeds
 *   fuzz/fuzz_mbuf.c,
 *   fuzz/fuzz_convert.c         choices read from the fuzzer's input
 *
 * The includer defines, before including this file:
 *
 *   int rn(int n), bool one_in(int n)
 *       a choice in [0, n) that steers what runs (offsets, lengths, wait
 *       flags, which operation); the fuzzer reads it from the input, so
 *       the order and number of these calls is the input format
 *   int check_rn(int n)
 *       a choice in [0, n) that only varies a check or a value nothing
 *       reads back (the range of an extra m_copydata, MEXTADD's type); the
 *       fuzzer takes it from a PRNG of its own, which reads no input byte
 *   void fill_random(unsigned char *p, int n)     the bytes written
 *   int imin(int a, int b)
 *   int first_difference(const unsigned char *a, const unsigned char *b, int n)
 *   void note(const char *fmt, ...)               a line of the operation log
 *   FAIL(fmt, ...), EXPECT(cond, fmt, ...)        a mismatch; FAIL does not
 *       return (the fuzzer aborts, the test jumps back to its seed loop)
 *   void arm(void), bool disarm(void)             fault injection around one
 *       library call; disarm() says whether an allocation was made to fail
 *   void count(const char *what)                  a failure contract or a rare
 *       path was seen (coverage; @what is a string literal)
 *
 * Because a FAIL does not return, a holder is brought up to date with what
 * the library did before the checks that follow a call, so that whatever
 * a failure leaves behind can still be freed.
 *
 * Only static functions and data: one includer per program.
 */
#ifndef PKTMEM_TESTS_MBUF_MODEL_H
#define PKTMEM_TESTS_MBUF_MODEL_H

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pktmem/ext.h>
#include <pktmem/mbuf.h>
#include <pktmem/pktmem.h>

#define MB_MAX_LEN    12288  /* the model's capacity */
#define MB_GROW_LIMIT 9000   /* above this, operations that would grow shrink instead */
#define MB_COPIES     4      /* second holders alive at once */
#define MB_TAG_TYPE   0x4d44 /* the packet tag a third of the packets carry */
#define MB_TAG_LEN    8

/* A chain and the bytes it must hold. */
struct mholder {
	struct mbuf *m;
	int len;
	bool hdr;    /* its head carries the packet header */
	int ttl;     /* copies: steps left to live */
	const char *made_by;
	bool tagged; /* carries an MB_TAG_TYPE tag holding tag[] */
	unsigned char tag[MB_TAG_LEN];
	unsigned char model[MB_MAX_LEN];
};

static struct mholder pkt;
static struct mholder copies[MB_COPIES];
static unsigned char mscratch[MB_MAX_LEN + 16];
static int saved_protohdr = -1;
/* m_split's tail until m_cat takes it back: freed by mbuf_free_all if a check fails in between. */
static struct mbuf *split_tail;

static inline int random_how(void)
{
	return one_in(2) ? M_WAIT : M_DONTWAIT;
}

static inline const char *how_name(int how)
{
	return how == M_WAIT ? "M_WAIT" : "M_DONTWAIT";
}

/* ------------------------------------------------------------ MEXTADD buffers */

/* One record per MEXTADD buffer, kept until mext_reset() to check its free count. */
struct ext_rec {
	void *buf;
	size_t size;
	int calls;     /* free routine calls */
	bool attached; /* MEXTADD succeeded: the routine must run exactly once */
};

static struct ext_rec *ext_recs;
static size_t ext_nrecs, ext_cap;
static long ext_attached, ext_released;
static char ext_trouble[200]; /* the first wrong call of the free routine ("" while none) */

/*
 * The library calls this from inside m_freem and friends, where a report
 * that does not return (the test's jump back to its seed loop) would leave
 * the library mid-call: so it records what is wrong, releases nothing it
 * should not, and mext_check() reports it after the library call.
 */
static inline void ext_free_routine(struct mbuf *m, void *buf, size_t size, void *arg)
{
	size_t i = (size_t)(uintptr_t)arg;
	struct ext_rec *r = i < ext_nrecs ? &ext_recs[i] : NULL;

	(void)m;
	if (r && ++r->calls == 1 && r->attached && buf == r->buf && size == r->size) {
		ext_released++;
		free(buf);
		return;
	}
	if (ext_trouble[0])
		return; /* the first trouble is the one reported */
	if (!r)
		snprintf(ext_trouble, sizeof(ext_trouble), "called with an unknown argument %zu", i);
	else if (!r->attached)
		snprintf(ext_trouble, sizeof(ext_trouble), "called for buffer #%zu that was never attached", i);
	else if (r->calls != 1)
		snprintf(ext_trouble, sizeof(ext_trouble), "called %d times for buffer #%zu", r->calls, i);
	else
		snprintf(ext_trouble, sizeof(ext_trouble), "for #%zu: buffer %p size %zu, attached %p size %zu", i,
			 buf, size, r->buf, r->size);
}

/* Report a wrong call of the MEXTADD free routine, if there was one. */
static inline void mext_check(void)
{
	EXPECT(!ext_trouble[0], "MEXTADD free routine %s", ext_trouble);
}

/* Attach a new malloc'd buffer of @size bytes to @m with MEXTADD; false (nothing attached) on failure. */
static inline bool attach_extadd(struct mbuf *m, size_t size)
{
	void *buf = malloc(size);
	int type = check_rn(3);

	if (!buf)
		abort();
	if (ext_nrecs == ext_cap) {
		ext_cap = ext_cap ? 2 * ext_cap : 1024;
		ext_recs = realloc(ext_recs, ext_cap * sizeof(*ext_recs));
		if (!ext_recs)
			abort();
	}
	size_t i = ext_nrecs++;

	ext_recs[i] = (struct ext_rec){ .buf = buf, .size = size };
	MEXTADD(m, buf, (int)size, type, ext_free_routine, (void *)(uintptr_t)i);
	if (!(m->m_flags & M_EXT)) {
		free(buf); /* the contract: the buffer stays ours, the routine never runs */
		return false;
	}
	ext_recs[i].attached = true;
	ext_attached++;
	EXPECT(m->m_ext.ext_buf == buf && m->m_ext.ext_size == size, "MEXTADD: m_ext describes %p/%zu, not %p/%zu",
	       (void *)m->m_ext.ext_buf, m->m_ext.ext_size, buf, size);
	EXPECT(m->m_ext.ext_free == ext_free_routine && m->m_ext.ext_arg == (void *)(uintptr_t)i &&
	       m->m_ext.ext_type == type, "MEXTADD: m_ext does not keep the free routine, its argument %zu or type %d",
	       i, type);
	return true;
}

/* After everything was freed: each MEXTADD buffer's routine ran once, and only the attached ones'. */
static inline void mext_check_all_released(void)
{
	mext_check();
	EXPECT(ext_attached == ext_released, "%ld MEXTADD buffers not released", ext_attached - ext_released);
	for (size_t i = 0; i < ext_nrecs; i++)
		EXPECT(ext_recs[i].calls == (ext_recs[i].attached ? 1 : 0),
		       "MEXTADD buffer #%zu: free routine ran %d times", i, ext_recs[i].calls);
}

/* Forget the records (the fuzzer, at the start of each input). */
static inline void mext_reset(void)
{
	ext_nrecs = 0;
	ext_attached = ext_released = 0;
	ext_trouble[0] = 0;
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
		EXPECT(sum + m->m_len <= MB_MAX_LEN, "%s: the chain holds more than the model's %d bytes", who,
		       MB_MAX_LEN);
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

/*
 * The chain against its model: invariants, length, tag, bytes, and
 * m_copydata of the whole chain and of a range check_rn() picks.
 */
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
	if (len > 0) {
		int off = check_rn(len), n = 1 + check_rn(len - off);

		memset(buf, 0xA5, (size_t)n + 16);
		m_copydata(h->m, off, n, buf);
		if ((d = first_difference(buf, h->model + off, n)) >= 0 || buf[n] != 0xA5)
			FAIL("m_copydata(%d, %d) of %s (%d bytes): byte %d differs", off, n, who, len, d);
	}
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

/* ------------------------------------------------------------ the holders */

/*
 * Pass every live chain's external storage to @hold, once per mbuf that
 * holds a reference to it (the caller counts references against holders);
 * @mbufs gets the number of mbufs.
 */
static inline void mbuf_hold_refs(void (*hold)(const struct pktmem_ext *e), unsigned long long *mbufs)
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
				hold(m->m_ext.ext_storage);
		}
}

/* The caches against what the live chains hold: mbufs, distinct clusters, MEXTADD buffers. */
static inline void mbuf_check_caches(unsigned long long mbufs, unsigned long long clusters, long user_bufs)
{
	struct pktmem_stats st;

	mext_check();
	kmem_cache_stats(pktmem_mbuf_cache(), &st);
	EXPECT(st.in_use == mbufs, "mbuf cache: %llu in use, the chains hold %llu", (unsigned long long)st.in_use,
	       mbufs);
	kmem_cache_stats(pktmem_cluster_cache(), &st);
	EXPECT(st.in_use == clusters, "cluster cache: %llu in use, the chains hold %llu",
	       (unsigned long long)st.in_use, clusters);
	EXPECT(ext_attached - ext_released == user_bufs, "MEXTADD buffers: %ld attached - %ld released, %ld live",
	       ext_attached, ext_released, user_bufs);
}

static inline void mbuf_compare_all(void)
{
	mext_check();
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

/* Free every chain (at the end of a run, or after a failure) and restore max_protohdr. */
static inline void mbuf_free_all(void)
{
	m_freem(split_tail);
	split_tail = NULL;
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

/* The packet is @m, @len bytes (already in the model); a third of the packets get a tag. */
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
	/*
	 * Trailer encapsulation, now and then: @off0 bytes of data, a 16-bit
	 * type and length, then the headers; the packet is the headers
	 * followed by the data (buf[off0+4, len) then buf[0, off0)), 4 bytes
	 * shorter than the buffer.
	 */
	if (len > 8 && one_in(4))
		off0 = 1 + rn(len - 8);
	fill_random(src, len);
	note("m_devget(%d bytes, off0 %d, copy %s)", len, off0, plain ? "NULL" : "counting");
	devget_copied = 0;
	arm();
	struct mbuf *m = m_devget((char *)src, len, off0, NULL, plain ? NULL : counting_copy);

	hit = disarm();
	if (!m) {
		count("fail: m_devget NULL");
		EXPECT(hit, "m_devget(%d) returned NULL with no allocation failed", len);
		return; /* no packet: the next step builds one */
	}
	if (off0) {
		plen = len - 4;
		memcpy(pkt.model, src + off0 + 4, (size_t)(len - off0 - 4));
		memcpy(pkt.model + len - off0 - 4, src, (size_t)off0);
		count("m_devget with trailer encapsulation");
	} else {
		plen = len;
		memcpy(pkt.model, src, (size_t)len);
	}
	pkt.m = m; /* held before the checks (set_packet sets it again) */
	EXPECT(plain || devget_copied == (size_t)plen, "m_devget: the copy routine moved %zu of %d bytes",
	       devget_copied, plen);
	set_packet(m, plen);
	mcompare("m_devget", &pkt);
}

/*
 * A chain built by hand, as a driver would: a header mbuf and more, each
 * with internal data, a cluster, MEXTADD or MEXTMALLOC storage, data at a
 * chosen place in it (empty mbufs too), some storage marked read-only.
 * pkt.m holds the chain while it grows.
 */
static inline void build_by_hand(int style, int target)
{
	static const char *const names[] = { "internal", "clusters", "MEXTADD", "MEXTMALLOC", "mixed" };
	struct mbuf **tail = &pkt.m;
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
			count("fail: m_get/m_gethdr NULL while building");
			m_freem(pkt.m);
			pkt.m = NULL;
			pkt.len = 0;
			EXPECT(hit, "%s(%s) returned NULL with no allocation failed", s ? "m_get" : "m_gethdr",
			       how_name(how));
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
			count("fail: MCLGET/MEXTADD/MEXTMALLOC left M_EXT clear");
			EXPECT(hit, "attaching %s storage failed with no allocation failed", names[kind]);
			EXPECT(m->m_data == m_buf_start(m) && m->m_len == 0,
			       "a failed storage attach changed the mbuf");
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
	pkt.m->m_pkthdr.len = total;
	set_packet(pkt.m, total);
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

/* m_copyback_cow of [off, off+n) inside holder @h (the packet or a copy). */
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
		count(h == &pkt ? "fail: m_copyback_cow freed the packet" : "fail: m_copyback_cow freed a copy");
		h->m = NULL; /* the contract: the chain is freed */
		h->len = 0;
		EXPECT(hit, "m_copyback_cow(%s, %d, %d, %s) returned NULL with no allocation failed", who, off, n,
		       how_name(how));
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
 * goes to m_copyback_cow, or becomes a pure append. Whatever grows the
 * packet stays within MB_GROW_LIMIT (an operation that would pass it is an
 * m_adj instead), so the model's MB_MAX_LEN always holds it.
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
		count("fail: m_copyback extension short");
		note("  extension failed: %d bytes", got);
		return;
	}
	memcpy(pkt.model, expect, (size_t)explen);
	pkt.len = explen;
}

/* m_makewritable of a chosen range of holder @h, then a write straight into the mbufs. */
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
		count("fail: m_makewritable ENOBUFS, contents kept");
		EXPECT(h->m != NULL, "m_makewritable failed and left *mp NULL");
		EXPECT(hit, "m_makewritable(%d, %d, %s) returned %d with no allocation failed", off, n, how_name(how),
		       err);
		EXPECT(err == ENOBUFS, "m_makewritable failed with %d, not ENOBUFS", err);
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
		count("fail: M_PREPEND/m_prepend freed the packet");
		packet_gone();
		EXPECT(hit, "%s(%d, %s) failed with no allocation failed", direct ? "m_prepend" : "M_PREPEND", plen,
		       how_name(how));
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
		count("short: m_pullup of a shorter packet freed it");
		if (r)
			pkt.m = r;
		else
			packet_gone();
		EXPECT(r == NULL, "m_pullup(%d) of a %d-byte packet returned a chain", n, len);
		return;
	}
	if (!r) {
		count("fail: m_pullup freed the packet");
		packet_gone();
		EXPECT(hit, "m_pullup(%d) of %d bytes returned NULL with no allocation failed", n, len);
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
		count("short: m_pulldown past the end freed the packet");
		if (!r)
			packet_gone();
		EXPECT(r == NULL, "m_pulldown(%d, %d) of a %d-byte packet returned an mbuf", off, n, len);
		return;
	}
	if (!r) {
		count("fail: m_pulldown freed the packet");
		packet_gone();
		EXPECT(hit, "m_pulldown(%d, %d) of %d bytes returned NULL with no allocation failed", off, n, len);
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
 * carries a packet header loses it first, as a BSD caller does
 * (m_remove_pkthdr / m_demote); m_cat must leave m_pkthdr.len alone, and
 * the caller fixes it.
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
	split_tail = t;
	if (at > len) {
		count("short: m_split past the end left the packet");
		EXPECT(t == NULL, "m_split(%d) of a %d-byte packet returned a tail", at, len);
		return;
	}
	if (!t) {
		count("fail: m_split restored the packet");
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
		/* Only a failed extension (no fault is armed here, so: none) may fall short. */
		EXPECT(pkt.m->m_pkthdr.len == at + extra, "m_copyback at the end of the split head: length %d, "
		       "expected %d", pkt.m->m_pkthdr.len, at + extra);
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
	split_tail = NULL;
	EXPECT(pkt.m->m_pkthdr.len == at + extra, "m_cat changed m_pkthdr.len to %d (was %d)", pkt.m->m_pkthdr.len,
	       at + extra);
	pkt.m->m_pkthdr.len = len + extra;
	pkt.len = len + extra;
}

/* A free copy holder; when all are taken, one chosen is freed. */
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
		count("fail: m_copym/m_copypacket/m_dup NULL, source kept");
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

/*
 * m_apply's function: each piece must lie inside one mbuf's data and match
 * the model. It notes what is wrong rather than failing: the library is
 * mid-call.
 */
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

/* m_apply of a chosen range (maybe stopped by f's return value), and m_copydata of the same range. */
static inline void op_apply(void)
{
	int len = pkt.len, off = rn(len + 1), n = rn(len - off + 1), rv;
	struct apply_state s = { .chain = pkt.m, .stop_at = one_in(3) ? 1 + rn(4) : 0 };

	s.model = pkt.model + off;
	note("m_apply(off %d, len %d, stop at call %d) of %d bytes", off, n, s.stop_at, len);
	rv = m_apply(pkt.m, off, n, apply_fn, &s);
	EXPECT(!s.bad, "m_apply(%d, %d): %s", off, n, s.why);
	if (rv == 7) {
		count("m_apply: f's return value ended it");
		EXPECT(s.stop_at && s.calls == s.stop_at, "m_apply returned f's 7 after %d calls (stop at %d)", s.calls,
		       s.stop_at);
	} else {
		EXPECT(rv == 0, "m_apply returned %d", rv);
		EXPECT(s.pos == n, "m_apply(%d, %d) passed %d bytes", off, n, s.pos);
		EXPECT(!s.stop_at || s.calls < s.stop_at, "m_apply went on after f returned 7");
	}
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
	int weight; /* how often the seeded test picks it (the fuzzer picks by index) */
	const char *name;
};

/*
 * Every operation needs a packet; without one, the step builds it instead.
 * The fuzzer's opcode is an index into this table: its order and length
 * are the input format (fuzz/make_corpus.sh knows the length).
 */
static const struct mbuf_op mbuf_ops[] = {
	{ op_copyback, 14, "op copyback" },
	{ op_cow, 7, "op cow" },
	{ op_makewritable, 8, "op makewritable_pkt" },
	{ op_prepend, 10, "op prepend" },
	{ op_adj, 9, "op adj" },
	{ op_pullup, 8, "op pullup" },
	{ op_pulldown, 9, "op pulldown" },
	{ op_split_cat, 9, "op split_cat" },
	{ op_copy, 10, "op copy" },
	{ op_write_copy, 5, "op write_copy" },
	{ op_apply, 6, "op apply" },
	{ op_new_packet, 2, "op new_packet" },
	{ op_free_copy, 2, "op free_copy" },
};
#define NR_MBUF_OPS ((int)(sizeof(mbuf_ops) / sizeof(mbuf_ops[0])))

/* Operation @op of mbuf_ops (or, with no packet, the building of one). */
static inline void mbuf_do_op(int op)
{
	if (!pkt.m)
		build_mbuf_packet();
	else
		mbuf_ops[op].fn();
}

#endif /* PKTMEM_TESTS_MBUF_MODEL_H */
