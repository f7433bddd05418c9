/*
 * <pktmem/mbuf.h>, the copying half, as a specification: m_copydata,
 * m_copym, m_copypacket, m_dup, m_copyback, m_copyback_cow,
 * m_makewritable, m_apply and m_devget.
 *
 * Chains mix packet-header, plain, empty, cluster, MEXTMALLOC and MEXTADD
 * mbufs with data at odd offsets, filled with byte i = (i*7+3)&0xff. Every
 * offset and length across their boundaries is checked byte-exact against
 * a plain array. Sharing is checked through reference counts and cache
 * statistics; read-only and shared storage is checked never to be written;
 * every failure contract is run under fault injection at each allocation
 * point the operation passes. Every test ends with no mbuf, cluster, tag
 * or storage header left in use and every MEXTADD buffer released once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include <pktmem/mbuf.h>

#include "check.h"

/* ------------------------------------------------------------ helpers */

static inline uint8_t pat(long i)
{
	return (uint8_t)((i * 7 + 3) & 0xff);
}

/* A second pattern, for the bytes the tests write. */
static inline uint8_t pat2(long i)
{
	return (uint8_t)(((i * 13 + 5) & 0xff) ^ 0x5a);
}

static unsigned long long baseline_in_use;
static int user_added, user_freed;

static void user_free(struct mbuf *m, void *buf, size_t size, void *arg)
{
	(void)m;
	(void)size;
	(void)arg;
	user_freed++;
	free(buf);
}

/* Every test ends here: nothing of ours is left in any cache. */
static void check_clean(void)
{
	CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), 0);
	CHECK_EQ(cache_in_use(pktmem_cluster_cache()), 0);
	CHECK_EQ(all_in_use(), baseline_in_use); /* kmalloc (tags, MEXTMALLOC), ext headers */
	CHECK_EQ(user_freed, user_added);
}

enum seg_kind { SEG_INT, SEG_CLUSTER, SEG_EXTADD, SEG_EXTMALLOC };

struct seg {
	enum seg_kind kind;
	int lead; /* bytes before the data */
	int len;
};

/*
 * A chain with one mbuf per segment, filled with pat(); a packet header
 * on the first when @hdr. Storage of every kind starts unshared.
 */
static struct mbuf *build(const struct seg *sg, int n, bool hdr)
{
	struct mbuf *top = NULL, **tail = &top;
	long pos = 0;

	for (int i = 0; i < n; i++) {
		struct mbuf *m = (i == 0 && hdr) ? m_gethdr(M_WAIT, MT_DATA) : m_get(M_WAIT, MT_DATA);

		if (!m)
			abort();
		switch (sg[i].kind) {
		case SEG_INT:
			break;
		case SEG_CLUSTER:
			MCLGET(m, M_WAIT);
			break;
		case SEG_EXTADD: {
			int size = sg[i].lead + sg[i].len + 16;
			char *buf = calloc(1, (size_t)size); /* defined bytes: tests compare whole buffers */

			if (!buf)
				abort();
			MEXTADD(m, buf, size, 0, user_free, NULL);
			user_added++;
			break;
		}
		case SEG_EXTMALLOC:
			MEXTMALLOC(m, sg[i].lead + sg[i].len + 8, M_WAIT);
			break;
		}
		if (sg[i].kind != SEG_INT && !(m->m_flags & M_EXT))
			abort();
		m->m_data += sg[i].lead;
		m->m_len = sg[i].len;
		for (int j = 0; j < sg[i].len; j++)
			m->m_data[j] = (char)pat(pos + j);
		pos += sg[i].len;
		*tail = m;
		tail = &m->m_next;
	}
	if (hdr)
		top->m_pkthdr.len = (int)pos;
	return top;
}

/* The chain's bytes, read without the functions under test. */
static int flatten(const struct mbuf *m, uint8_t *out)
{
	int n = 0;

	for (; m; m = m->m_next) {
		memcpy(out + n, m->m_data, (size_t)m->m_len);
		n += m->m_len;
	}
	return n;
}

static bool is_pat(const uint8_t *b, long from, int n)
{
	for (int i = 0; i < n; i++)
		if (b[i] != pat(from + i))
			return false;
	return true;
}

static int count_mbufs(const struct mbuf *m)
{
	int n = 0;

	for (; m; m = m->m_next)
		n++;
	return n;
}

/* Does any mbuf of @y hold the same storage as one of @x? How many do. */
static int shared_with(const struct mbuf *x, const struct mbuf *y)
{
	int n = 0;

	for (; y; y = y->m_next) {
		if (!(y->m_flags & M_EXT))
			continue;
		for (const struct mbuf *t = x; t; t = t->m_next)
			if ((t->m_flags & M_EXT) && t->m_ext.ext_storage == y->m_ext.ext_storage) {
				n++;
				break;
			}
	}
	return n;
}

/* Every external storage of @m has exactly @refs references. */
static bool all_refs(const struct mbuf *m, int refs)
{
	for (; m; m = m->m_next)
		if ((m->m_flags & M_EXT) && pktmem_ext_refs(m->m_ext.ext_storage) != refs)
			return false;
	return true;
}

/* Is every mbuf holding bytes of [off, off + len) writable? */
static bool range_writable(const struct mbuf *m, long off, long len)
{
	long pos = 0;

	for (; m; m = m->m_next) {
		long a = off > pos ? off : pos;
		long b = off + len < pos + m->m_len ? off + len : pos + m->m_len;

		if (a < b && !m_writable(m))
			return false;
		pos += m->m_len;
	}
	return true;
}

/* Write @byte over [off, off + len) straight into the mbufs. */
static void poke(struct mbuf *m, long off, long len, char byte)
{
	long pos = 0;

	for (; m; m = m->m_next) {
		long a = off > pos ? off : pos;
		long b = off + len < pos + m->m_len ? off + len : pos + m->m_len;

		if (a < b)
			memset(m->m_data + (a - pos), byte, (size_t)(b - a));
		pos += m->m_len;
	}
}

/*
 * Small mbufs with boundaries close together, every kind of storage, an
 * empty mbuf in the middle, data at odd offsets: 223 bytes.
 */
static const struct seg SMALL[] = {
	{ SEG_INT, 0, 10 },       { SEG_CLUSTER, 100, 37 }, { SEG_INT, 5, 0 },
	{ SEG_EXTADD, 3, 25 },    { SEG_INT, 0, 1 },        { SEG_EXTMALLOC, 0, 40 },
	{ SEG_CLUSTER, 0, 60 },   { SEG_INT, 17, 50 },
};
#define NSMALL ((int)(sizeof(SMALL) / sizeof(SMALL[0])))
#define SMALL_LEN 223

/* Full-sized mbufs and clusters and a large MEXTADD buffer: 6558 bytes. */
static const struct seg BIG[] = {
	{ SEG_INT, 0, 54 },      { SEG_CLUSTER, 0, MCLBYTES }, { SEG_INT, 0, MLEN },
	{ SEG_CLUSTER, 10, 1000 }, { SEG_EXTADD, 0, 3000 },
};
#define NBIG ((int)(sizeof(BIG) / sizeof(BIG[0])))
#define BIG_LEN (54 + MCLBYTES + MLEN + 1000 + 3000)

/* The SMALL chain's MEXTADD mbuf (index 3), to make its storage read-only. */
static struct mbuf *nth(struct mbuf *m, int i)
{
	while (i-- > 0)
		m = m->m_next;
	return m;
}

static uint8_t *xmalloc(size_t n)
{
	uint8_t *p = malloc(n);

	if (!p)
		abort();
	return p;
}

/* ------------------------------------------------------------ m_copydata */

static void test_copydata_every_range(void)
{
	uint8_t out[SMALL_LEN + 8];
	struct mbuf *a = build(SMALL, NSMALL, true);
	int bad = 0;

	CHECK_EQ(m_length(a), SMALL_LEN);
	for (int off = 0; off <= SMALL_LEN; off++)
		for (int len = 0; off + len <= SMALL_LEN; len++) {
			memset(out, 0xee, sizeof(out));
			m_copydata(a, off, len, out + 4);
			if (!is_pat(out + 4, off, len) || out[3] != 0xee || out[4 + len] != 0xee)
				bad++;
		}
	CHECK_EQ(bad, 0);
	m_freem(a);

	/* Large mbufs, offsets and lengths on a stride that crosses every boundary. */
	uint8_t *big = xmalloc(BIG_LEN + 8);

	a = build(BIG, NBIG, true);
	for (int off = 0; off <= BIG_LEN; off += 37)
		for (int len = 0; off + len <= BIG_LEN; len += 211) {
			big[4 + len] = 0xee;
			m_copydata(a, off, len, big + 4);
			if (!is_pat(big + 4, off, len) || big[4 + len] != 0xee)
				bad++;
		}
	m_copydata(a, 0, BIG_LEN, big);
	CHECK(is_pat(big, 0, BIG_LEN));
	CHECK_EQ(bad, 0);
	m_freem(a);
	free(big);
	check_clean();
}

/* ------------------------------------------------------------ m_copym */

static void check_shallow_copy(struct mbuf *a, int off, int len, bool all)
{
	unsigned long long clusters = cache_in_use(pktmem_cluster_cache());
	struct mbuf *c = m_copym(a, off, all ? M_COPYALL : len, M_WAIT);
	uint8_t out[SMALL_LEN];

	if (len == 0 && !(all && off == 0)) {
		CHECK(c == NULL);
		return;
	}
	CHECK(c != NULL);
	if (!c)
		return;
	CHECK_EQ(flatten(c, out), len);
	CHECK(is_pat(out, off, len));
	/* No cluster allocated: storage is shared, never copied. */
	CHECK_EQ(cache_in_use(pktmem_cluster_cache()), clusters);
	/* Every M_EXT mbuf of the copy refers to storage of the source, which now has two holders. */
	int ext = 0;

	for (struct mbuf *n = c; n; n = n->m_next)
		if (n->m_flags & M_EXT) {
			ext++;
			CHECK_EQ(pktmem_ext_refs(n->m_ext.ext_storage), 2);
			CHECK(!m_writable(n));
			CHECK_EQ(m_trailingspace(n), 0);
		} else {
			CHECK(m_writable(n));
		}
	CHECK_EQ(shared_with(a, c), ext);
	/* ...one for each source mbuf with external storage that the range touches. */
	int want = 0;
	long pos = 0;

	for (struct mbuf *s = a; s; pos += s->m_len, s = s->m_next)
		if ((s->m_flags & M_EXT) && off < pos + s->m_len && pos < off + len)
			want++;
	CHECK_EQ(ext, want);
	if (off == 0) {
		CHECK(c->m_flags & M_PKTHDR);
		CHECK_EQ(c->m_pkthdr.len, len);
	} else {
		CHECK(!(c->m_flags & M_PKTHDR));
	}
	m_freem(c);
	CHECK(all_refs(a, 1));
}

static void test_copym_every_range(void)
{
	struct mbuf *a = build(SMALL, NSMALL, true);
	uint8_t before[SMALL_LEN];

	for (int off = 0; off <= SMALL_LEN; off++) {
		for (int len = 0; off + len <= SMALL_LEN; len++)
			check_shallow_copy(a, off, len, false);
		check_shallow_copy(a, off, SMALL_LEN - off, true);
	}
	/* The source was only read. */
	CHECK_EQ(flatten(a, before), SMALL_LEN);
	CHECK(is_pat(before, 0, SMALL_LEN));
	CHECK_EQ(a->m_pkthdr.len, SMALL_LEN);
	CHECK_EQ(count_mbufs(a), NSMALL);
	m_freem(a);

	/* A chain without a packet header copies none. */
	a = build(SMALL, NSMALL, false);
	struct mbuf *c = m_copym(a, 0, M_COPYALL, M_DONTWAIT);

	CHECK(c && !(c->m_flags & M_PKTHDR));
	CHECK_EQ(m_length(c), SMALL_LEN);
	m_freem(c);
	m_freem(a);
	check_clean();
}

/* A one-cluster packet copies into one mbuf; small internal mbufs are packed. */
static void test_copym_shape(void)
{
	struct seg one[] = { { SEG_CLUSTER, 0, 1500 } };
	struct mbuf *a = build(one, 1, true);
	struct mbuf *c = m_copym(a, 0, M_COPYALL, M_WAIT);

	CHECK(c && c->m_next == NULL && (c->m_flags & (M_PKTHDR | M_EXT)) == (M_PKTHDR | M_EXT));
	CHECK(c && c->m_data == a->m_data && c->m_len == 1500 && c->m_pkthdr.len == 1500);
	CHECK_EQ(pktmem_ext_refs(a->m_ext.ext_storage), 2);
	m_freem(c);
	m_freem(a);

	struct seg smalls[] = { { SEG_INT, 0, 100 }, { SEG_INT, 0, 100 }, { SEG_INT, 0, 100 } };

	a = build(smalls, 3, true);
	c = m_copym(a, 0, M_COPYALL, M_WAIT);
	CHECK(c && c->m_next == NULL && c->m_len == 300);
	m_freem(c);
	m_freem(a);

	/* An empty packet copies to an empty packet with M_COPYALL, to nothing with length 0. */
	a = m_gethdr(M_WAIT, MT_DATA);
	c = m_copym(a, 0, M_COPYALL, M_WAIT);
	CHECK(c && (c->m_flags & M_PKTHDR) && c->m_len == 0 && c->m_pkthdr.len == 0);
	m_freem(c);
	CHECK(m_copym(a, 0, 0, M_WAIT) == NULL);
	c = m_copypacket(a, M_WAIT);
	CHECK(c && (c->m_flags & M_PKTHDR) && c->m_len == 0);
	m_freem(c);
	m_freem(a);
	check_clean();
}

/* ------------------------------------------------------------ m_dup */

static void test_dup_every_range(void)
{
	struct mbuf *a = build(SMALL, NSMALL, true);
	uint8_t out[SMALL_LEN];
	int bad = 0;

	for (int off = 0; off <= SMALL_LEN; off++)
		for (int len = 0; off + len <= SMALL_LEN; len++) {
			struct mbuf *c = m_dup(a, off, len, M_WAIT);

			if (len == 0) {
				bad += c != NULL;
				continue;
			}
			if (!c || flatten(c, out) != len || !is_pat(out, off, len) || shared_with(a, c) != 0 ||
			    !range_writable(c, 0, len) || !all_refs(c, 1) || !all_refs(a, 1) ||
			    (off == 0) != !!(c->m_flags & M_PKTHDR) || (off == 0 && c->m_pkthdr.len != len))
				bad++;
			m_freem(c);
		}
	CHECK_EQ(bad, 0);
	m_freem(a);

	/* Large data goes into fresh clusters; the copy is private and writable. */
	uint8_t *big = xmalloc(BIG_LEN);

	a = build(BIG, NBIG, true);
	struct mbuf *c = m_dup(a, 0, M_COPYALL, M_WAIT);

	CHECK(c != NULL);
	CHECK_EQ(flatten(c, big), BIG_LEN);
	CHECK(is_pat(big, 0, BIG_LEN));
	CHECK_EQ(shared_with(a, c), 0);
	CHECK(range_writable(c, 0, BIG_LEN));
	CHECK((c->m_flags & M_EXT) && (c->m_flags & M_PKTHDR) && c->m_pkthdr.len == BIG_LEN);
	CHECK(count_mbufs(c) <= BIG_LEN / MCLBYTES + 2);
	poke(c, 0, BIG_LEN, 0x11);
	CHECK_EQ(flatten(a, big), BIG_LEN);
	CHECK(is_pat(big, 0, BIG_LEN));
	m_freem(c);
	for (int off = 0; off < BIG_LEN; off += 509) {
		int len = BIG_LEN - off > 2500 ? 2500 : BIG_LEN - off;

		c = m_dup(a, off, len, M_DONTWAIT);
		CHECK(c && flatten(c, big) == len && is_pat(big, off, len) && shared_with(a, c) == 0);
		m_freem(c);
	}
	m_freem(a);
	free(big);
	check_clean();
}

/* ------------------------------------------------------------ m_copypacket */

static void test_copypacket_header_and_tags(void)
{
	static int ifnet_stand_in;
	struct ifnet *ifp = (struct ifnet *)&ifnet_stand_in;
	struct mbuf *a = build(BIG, NBIG, true);

	a->m_flags |= M_BCAST | M_LINK1;
	a->m_pkthdr.rcvif = ifp;
	a->m_pkthdr.csum_flags = 0x15;
	a->m_pkthdr.csum_data = 0xbeef;
	a->m_pkthdr.ether_vtag = 42;
	struct m_tag *t1 = m_tag_get(7, 12, M_WAIT), *t2 = m_tag_get(9, 0, M_WAIT);

	memcpy(t1 + 1, "tag seven!!", 12);
	m_tag_prepend(a, t1);
	m_tag_prepend(a, t2);

	unsigned long long clusters = cache_in_use(pktmem_cluster_cache());
	struct mbuf *c = m_copypacket(a, M_WAIT);

	CHECK(c != NULL);
	CHECK_EQ(cache_in_use(pktmem_cluster_cache()), clusters);
	CHECK((c->m_flags & (M_PKTHDR | M_BCAST | M_LINK1)) == (M_PKTHDR | M_BCAST | M_LINK1));
	CHECK(c->m_pkthdr.rcvif == ifp);
	CHECK_EQ(c->m_pkthdr.len, BIG_LEN);
	CHECK_EQ(c->m_pkthdr.csum_flags, 0x15);
	CHECK_EQ(c->m_pkthdr.csum_data, 0xbeef);
	CHECK_EQ(c->m_pkthdr.ether_vtag, 42);
	struct m_tag *c1 = m_tag_find(c, 7), *c2 = m_tag_find(c, 9);

	CHECK(c1 && c1 != t1 && c1->m_tag_len == 12 && memcmp(c1 + 1, "tag seven!!", 12) == 0);
	CHECK(c2 && c2 != t2);
	CHECK_EQ(shared_with(a, c), 3); /* two clusters and the MEXTADD buffer */
	CHECK(all_refs(a, 2));

	/* Either may go first; the other keeps its bytes. */
	uint8_t *big = xmalloc(BIG_LEN);

	m_freem(a);
	CHECK(all_refs(c, 1));
	CHECK_EQ(flatten(c, big), BIG_LEN);
	CHECK(is_pat(big, 0, BIG_LEN));
	CHECK_EQ(user_freed, user_added - 1);
	m_freem(c);
	free(big);
	check_clean();
}

/* ------------------------------------------------------------ m_apply */

struct apply_state {
	const struct mbuf *chain;
	uint8_t seen[BIG_LEN];
	int n;
	int calls;
	int stop_at; /* return 42 at this call (1-based), 0: never */
	bool outside;
};

static int apply_fn(void *arg, void *data, unsigned int count)
{
	struct apply_state *st = arg;
	const char *p = data;
	bool inside = false;

	/* The pointer is into the chain's own storage, within one mbuf's data. */
	for (const struct mbuf *m = st->chain; m; m = m->m_next)
		if (p >= m->m_data && p + count <= m->m_data + m->m_len)
			inside = true;
	if (!inside)
		st->outside = true;
	memcpy(st->seen + st->n, p, count);
	st->n += (int)count;
	st->calls++;
	return st->calls == st->stop_at ? 42 : 0;
}

static void test_apply_every_range(void)
{
	static struct apply_state st;
	struct mbuf *a = build(SMALL, NSMALL, true);
	int bad = 0;

	for (int off = 0; off <= SMALL_LEN; off++)
		for (int len = 0; off + len <= SMALL_LEN; len++) {
			memset(&st, 0, sizeof(st));
			st.chain = a;
			if (m_apply(a, off, len, apply_fn, &st) != 0 || st.n != len || !is_pat(st.seen, off, len) ||
			    st.outside || st.calls > NSMALL || (len == 0 && st.calls != 0))
				bad++;
		}
	CHECK_EQ(bad, 0);

	/* One call per mbuf: bytes 5..(10+37+0+25+2) touch mbufs 0,1,2(empty),3,4,5. */
	memset(&st, 0, sizeof(st));
	st.chain = a;
	CHECK_EQ(m_apply(a, 5, 69, apply_fn, &st), 0);
	CHECK_EQ(st.calls, 6);

	/* f's first non-zero result stops the walk and is returned. */
	memset(&st, 0, sizeof(st));
	st.chain = a;
	st.stop_at = 2;
	CHECK_EQ(m_apply(a, 0, SMALL_LEN, apply_fn, &st), 42);
	CHECK_EQ(st.calls, 2);
	CHECK_EQ(st.n, 10 + 37);
	m_freem(a);
	check_clean();
}

/* ------------------------------------------------------------ m_copyback */

static void test_copyback_every_range(void)
{
	enum { MAXEND = SMALL_LEN + 40 };
	uint8_t src[MAXEND], out[MAXEND + MCLBYTES], model[MAXEND];
	int bad = 0;

	for (int i = 0; i < MAXEND; i++)
		src[i] = pat2(i);
	for (int off = 0; off <= MAXEND; off++)
		for (int len = 0; off + len <= MAXEND; len += (len < 8 ? 1 : 13)) {
			struct mbuf *a = build(SMALL, NSMALL, true);
			int end = off + len > SMALL_LEN ? off + len : SMALL_LEN;

			for (int i = 0; i < end; i++)
				model[i] = i < SMALL_LEN ? pat(i) : 0; /* zeros fill any gap */
			memcpy(model + off, src, (size_t)len);
			m_copyback(a, off, len, src);
			if (flatten(a, out) != end || memcmp(out, model, (size_t)end) != 0 || a->m_pkthdr.len != end)
				bad++;
			m_freem(a);
		}
	CHECK_EQ(bad, 0);

	/* Extending by a lot: clusters, and the data lands byte-exact. */
	uint8_t *big = xmalloc(20000), *back = xmalloc(20000);

	for (int i = 0; i < 20000; i++)
		big[i] = pat2(i);
	struct mbuf *a = build(SMALL, NSMALL, true);

	m_copyback(a, 3000, 12000, big);
	CHECK_EQ(m_length(a), 15000);
	CHECK_EQ(a->m_pkthdr.len, 15000);
	CHECK_EQ(flatten(a, back), 15000);
	CHECK(is_pat(back, 0, SMALL_LEN));
	bool zeros = true;

	for (int i = SMALL_LEN; i < 3000; i++)
		zeros &= back[i] == 0;
	CHECK(zeros);
	CHECK(memcmp(back + 3000, big, 12000) == 0);
	CHECK(count_mbufs(a) < NSMALL + 12);
	m_freem(a);

	/* Without a packet header only the chain grows; the last mbuf's room is used first. */
	a = build(SMALL, NSMALL, false);
	m_copyback(a, SMALL_LEN, 10, big);
	CHECK_EQ(m_length(a), SMALL_LEN + 10);
	CHECK_EQ(count_mbufs(a), NSMALL);
	m_freem(a);
	free(big);
	free(back);
	check_clean();
}

/* m_copyback never writes read-only or shared storage: it refuses (a programmer error). */
static void test_copyback_refuses_readonly(void)
{
	uint8_t out[SMALL_LEN], src[SMALL_LEN];
	struct mbuf *a = build(SMALL, NSMALL, true);
	struct mbuf *ro = nth(a, 3); /* the MEXTADD mbuf: bytes 47..71 */
	unsigned long before;

	memset(src, 0x77, sizeof(src));
	pktmem_ext_set_readonly(ro->m_ext.ext_storage);
	before = diag_seen;
	m_copyback(a, 60, 5, src);
	CHECK_EQ(diag_seen, before + 1);
	CHECK(strcmp(diag_last_func, "m_copyback") == 0);
	CHECK(strstr(diag_last_msg, "read-only") != NULL);
	CHECK_EQ(flatten(a, out), SMALL_LEN);
	CHECK(is_pat(out, 0, SMALL_LEN)); /* nothing written, not even the writable part */
	/* A range beside it is fine. */
	m_copyback(a, 0, 47, src);
	m_copyback(a, 72, 20, src);
	CHECK_EQ(diag_seen, before + 1);
	CHECK_EQ(flatten(a, out), SMALL_LEN);
	CHECK(out[46] == 0x77 && is_pat(out + 47, 47, 25) && out[72] == 0x77);
	m_freem(a);

	/* Storage shared with a copy is read-only too. */
	a = build(SMALL, NSMALL, true);
	struct mbuf *c = m_copym(a, 0, M_COPYALL, M_WAIT);

	m_copyback(a, 10, 5, src); /* the first cluster */
	CHECK_EQ(diag_seen, before + 2);
	CHECK_EQ(flatten(c, out), SMALL_LEN);
	CHECK(is_pat(out, 0, SMALL_LEN));
	m_copyback(a, 0, 10, src); /* internal data: not shared */
	CHECK_EQ(diag_seen, before + 2);
	m_freem(c);
	m_freem(a);
	check_clean();
}

/* ------------------------------------------------------------ copy-on-write */

/* A SMALL chain whose MEXTADD storage is read-only, with a tag, and a shallow copy of it. */
static struct mbuf *build_shared(struct mbuf **copyp)
{
	struct mbuf *a = build(SMALL, NSMALL, true);
	struct m_tag *t = m_tag_get(5, 4, M_WAIT);

	memcpy(t + 1, "abc", 4);
	m_tag_prepend(a, t);
	a->m_flags |= M_MCAST;
	pktmem_ext_set_readonly(nth(a, 3)->m_ext.ext_storage);
	*copyp = m_copym(a, 0, M_COPYALL, M_WAIT);
	if (!*copyp)
		abort();
	return a;
}

/* The head still carries the packet header, its tag and flags. */
static bool header_kept(const struct mbuf *m, int len)
{
	const struct m_tag *t;

	if (!(m->m_flags & M_PKTHDR) || !(m->m_flags & M_MCAST) || m->m_pkthdr.len != len)
		return false;
	t = m_tag_find(m, 5);
	for (const struct mbuf *n = m->m_next; n; n = n->m_next)
		if (n->m_flags & M_PKTHDR)
			return false;
	return t && memcmp(t + 1, "abc", 4) == 0;
}

/* A one-cluster packet with the same header, tag and flags, and a copy of it. */
static struct mbuf *build_shared_one(struct mbuf **copyp)
{
	struct seg one[] = { { SEG_CLUSTER, 0, 1500 } };
	struct mbuf *a = build(one, 1, true);
	struct m_tag *t = m_tag_get(5, 4, M_WAIT);

	memcpy(t + 1, "abc", 4);
	m_tag_prepend(a, t);
	a->m_flags |= M_MCAST;
	*copyp = m_copypacket(a, M_WAIT);
	if (!*copyp)
		abort();
	return a;
}

static void test_copyback_cow_every_range(void)
{
	uint8_t src[1500], out[SMALL_LEN], model[SMALL_LEN], rawro[64];
	int bad = 0;

	for (int i = 0; i < 1500; i++)
		src[i] = pat2(i);
	for (int off = 0; off <= SMALL_LEN; off++)
		for (int len = 0; off + len <= SMALL_LEN; len++) {
			struct mbuf *c, *a = build_shared(&c);
			char *robuf = nth(a, 3)->m_ext.ext_buf;
			size_t rosz = nth(a, 3)->m_ext.ext_size; /* 44 */

			memcpy(rawro, robuf, rosz);
			for (int i = 0; i < SMALL_LEN; i++)
				model[i] = pat(i);
			memcpy(model + off, src, (size_t)len);

			struct mbuf *r = m_copyback_cow(a, off, len, src, M_WAIT);

			if (!r || flatten(r, out) != SMALL_LEN || memcmp(out, model, SMALL_LEN) != 0 ||
			    !range_writable(r, off, len) || !header_kept(r, SMALL_LEN))
				bad++;
			/* The copy and the read-only buffer are untouched. */
			if (flatten(c, out) != SMALL_LEN || !is_pat(out, 0, SMALL_LEN) ||
			    memcmp(rawro, robuf, rosz) != 0)
				bad++;
			m_freem(r);
			if (!all_refs(c, 1))
				bad++;
			m_freem(c);
		}
	CHECK_EQ(bad, 0);
	check_clean();

	/* A writable chain is written in place: same mbufs, nothing allocated. */
	struct mbuf *a = build(SMALL, NSMALL, true);
	struct mbuf *second = a->m_next;
	unsigned long long mbufs = cache_in_use(pktmem_mbuf_cache());
	struct mbuf *r = m_copyback_cow(a, 0, SMALL_LEN, src, M_DONTWAIT);

	CHECK(r == a && a->m_next == second);
	CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), mbufs);
	CHECK_EQ(flatten(a, out), SMALL_LEN);
	CHECK(memcmp(out, src, SMALL_LEN) == 0);
	m_freem(a);

	/* A shared 1500-byte cluster packet, one byte in the middle. */
	struct seg one[] = { { SEG_CLUSTER, 0, 1500 } };
	uint8_t big[1500];

	a = build(one, 1, true);
	struct mbuf *c = m_copypacket(a, M_WAIT);

	r = m_copyback_cow(a, 700, 1, src, M_WAIT);
	CHECK(r && (r->m_flags & M_PKTHDR) && r->m_pkthdr.len == 1500);
	CHECK(r && flatten(r, big) == 1500 && is_pat(big, 0, 700) && big[700] == src[0] && is_pat(big + 701, 701, 799));
	CHECK(r && range_writable(r, 700, 1));
	CHECK_EQ(flatten(c, big), 1500);
	CHECK(is_pat(big, 0, 1500));
	m_freem(r);
	m_freem(c);

	/* The same over a range of offsets and lengths: a front write moves the header to a new mbuf. */
	for (int off = 0; off <= 1500; off += 97)
		for (int len = 0; off + len <= 1500; len += (len < 4 ? 1 : 211)) {
			a = build_shared_one(&c);
			r = m_copyback_cow(a, off, len, src, M_WAIT);
			if (!r || flatten(r, big) != 1500 || !is_pat(big, 0, off) || memcmp(big + off, src, (size_t)len) ||
			    !is_pat(big + off + len, off + len, 1500 - off - len) || !range_writable(r, off, len) ||
			    !header_kept(r, 1500))
				bad++;
			if (flatten(c, big) != 1500 || !is_pat(big, 0, 1500))
				bad++;
			m_freem(r);
			m_freem(c);
		}
	CHECK_EQ(bad, 0);
	check_clean();
}

static void test_makewritable_every_range(void)
{
	uint8_t out[SMALL_LEN], rawro[64];
	int bad = 0;

	for (int off = 0; off <= SMALL_LEN; off++)
		for (int len = 0; off + len <= SMALL_LEN; len++) {
			struct mbuf *c, *a = build_shared(&c);
			char *robuf = nth(a, 3)->m_ext.ext_buf;
			size_t rosz = nth(a, 3)->m_ext.ext_size; /* 44 */

			memcpy(rawro, robuf, rosz);
			if (m_makewritable(&a, off, len, M_WAIT) != 0 || flatten(a, out) != SMALL_LEN ||
			    !is_pat(out, 0, SMALL_LEN) || !range_writable(a, off, len) || !header_kept(a, SMALL_LEN))
				bad++;
			/* Writing the range now reaches no one else's bytes. */
			poke(a, off, len, 0x3c);
			if (flatten(c, out) != SMALL_LEN || !is_pat(out, 0, SMALL_LEN) ||
			    memcmp(rawro, robuf, rosz) != 0)
				bad++;
			m_freem(a);
			m_freem(c);
		}
	CHECK_EQ(bad, 0);

	/* M_COPYALL (and any range past the end) stops at the end of the chain. */
	struct mbuf *c, *a = build_shared(&c);

	CHECK_EQ(m_makewritable(&a, 30, M_COPYALL, M_WAIT), 0);
	CHECK(range_writable(a, 30, SMALL_LEN - 30));
	CHECK(!range_writable(a, 0, 30)); /* the first cluster's shared head is left alone */
	CHECK_EQ(m_length(a), SMALL_LEN);
	CHECK_EQ(m_makewritable(&a, 0, SMALL_LEN + 500, M_WAIT), 0);
	CHECK(range_writable(a, 0, SMALL_LEN));
	CHECK_EQ(flatten(a, out), SMALL_LEN);
	CHECK(is_pat(out, 0, SMALL_LEN));
	CHECK(header_kept(a, SMALL_LEN));
	m_freem(a);
	m_freem(c);

	/* A one-cluster packet: the header moves to a new front when the front is made writable. */
	uint8_t big[1500];

	for (int off = 0; off <= 1500; off += 97)
		for (int len = 0; off + len <= 1500; len += (len < 4 ? 1 : 211)) {
			a = build_shared_one(&c);
			if (m_makewritable(&a, off, len, M_WAIT) != 0 || flatten(a, big) != 1500 ||
			    !is_pat(big, 0, 1500) || !range_writable(a, off, len) || !header_kept(a, 1500))
				bad++;
			poke(a, off, len, 0x3c);
			if (flatten(c, big) != 1500 || !is_pat(big, 0, 1500))
				bad++;
			m_freem(a);
			m_freem(c);
		}
	CHECK_EQ(bad, 0);
	check_clean();
}

/* ------------------------------------------------------------ m_devget */

struct copy_count {
	int calls;
	size_t bytes;
};

static struct copy_count devcopy_count;

static void devcopy(const void *from, void *to, size_t len)
{
	devcopy_count.calls++;
	devcopy_count.bytes += len;
	memcpy(to, from, len);
}

static void test_devget(void)
{
	static int ifnet_stand_in;
	struct ifnet *ifp = (struct ifnet *)&ifnet_stand_in;
	enum { N = 5000 };
	uint8_t *buf = xmalloc(N), *out = xmalloc(N);
	const int sizes[] = { 0, 1, 100, MHLEN, MHLEN + 1, MINCLSIZE - 1, MINCLSIZE, 1500, MCLBYTES, 3000, N };

	for (int i = 0; i < N; i++)
		buf[i] = pat(i);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		int len = sizes[i];

		for (int custom = 0; custom < 2; custom++) {
			memset(&devcopy_count, 0, sizeof(devcopy_count));
			struct mbuf *m = m_devget((char *)buf, len, 0, ifp, custom ? devcopy : NULL);

			CHECK(m != NULL);
			if (!m)
				continue;
			CHECK(m->m_flags & M_PKTHDR);
			CHECK(m->m_pkthdr.rcvif == ifp);
			CHECK_EQ(m->m_pkthdr.len, len);
			CHECK_EQ(m->m_type, MT_DATA);
			CHECK_EQ(flatten(m, out), len);
			CHECK(is_pat(out, 0, len));
			CHECK(range_writable(m, 0, len));
			if (custom) {
				/* Called once per mbuf that holds data, with the bytes counted exactly. */
				int holding = 0;

				for (struct mbuf *n = m; n; n = n->m_next)
					holding += n->m_len > 0;
				CHECK_EQ(devcopy_count.calls, holding);
				CHECK_EQ(devcopy_count.bytes, (size_t)len);
			} else {
				CHECK_EQ(devcopy_count.calls, 0);
			}
			if (len >= MINCLSIZE)
				CHECK(m->m_flags & M_EXT);
			m_freem(m);
		}
	}

	/* Trailer encapsulation: 512 bytes of data, type and length, then the headers. */
	memset(&devcopy_count, 0, sizeof(devcopy_count));
	struct mbuf *m = m_devget((char *)buf, 1000, 512, ifp, devcopy);

	CHECK(m != NULL);
	CHECK_EQ(m->m_pkthdr.len, 996);
	CHECK_EQ(flatten(m, out), 996);
	CHECK(is_pat(out, 516, 484));       /* the headers first */
	CHECK(is_pat(out + 484, 0, 512));   /* then the data */
	CHECK(devcopy_count.calls >= 2);
	CHECK_EQ(devcopy_count.bytes, 996);
	m_freem(m);
	free(buf);
	free(out);
	check_clean();
}

/* ------------------------------------------------------------ bad input */

static int never_fn(void *arg, void *data, unsigned int count)
{
	(void)data;
	(void)count;
	(*(int *)arg)++;
	return 0;
}

static void test_bad_input_diagnosed(void)
{
	struct mbuf *a = build(SMALL, NSMALL, true), *plain = build(SMALL, 3, false);
	uint8_t out[SMALL_LEN + 16], raw[SMALL_LEN];
	int called = 0;
	struct mbuf *r = (struct mbuf *)1;
	int rc = 0;

	memset(out, 0xee, sizeof(out));
	EXPECT_DIAG("m_copydata", m_copydata(a, -1, 1, out));
	EXPECT_DIAG("m_copydata", m_copydata(a, 0, -1, out));
	EXPECT_DIAG("m_copydata", m_copydata(a, SMALL_LEN, 1, out));
	CHECK(strstr(diag_last_msg, "223") != NULL && strstr(diag_last_msg, "past the end") != NULL);
	EXPECT_DIAG("m_copydata", m_copydata(a, SMALL_LEN - 1, 2, out));
	EXPECT_DIAG("m_copydata", m_copydata(a, SMALL_LEN + 1, 0, out));
	EXPECT_DIAG("m_copydata", m_copydata(NULL, 0, 1, out));
	EXPECT_DIAG("m_copydata", m_copydata(a, 0, 1, NULL));
	CHECK(out[0] == 0xee && out[1] == 0xee); /* nothing written */
	m_copydata(NULL, 0, 0, out);              /* zero bytes of nothing is fine */
	m_copydata(a, SMALL_LEN, 0, out);

	EXPECT_DIAG("m_copym", r = m_copym(a, -1, 5, M_WAIT));
	CHECK(r == NULL);
	EXPECT_DIAG("m_copym", r = m_copym(a, 0, SMALL_LEN + 1, M_WAIT));
	CHECK(r == NULL);
	EXPECT_DIAG("m_copym", r = m_copym(a, 100, SMALL_LEN, M_WAIT));
	CHECK(r == NULL && strstr(diag_last_msg, "100") != NULL);
	EXPECT_DIAG("m_copym", r = m_copym(a, SMALL_LEN + 1, M_COPYALL, M_WAIT));
	CHECK(r == NULL);
	EXPECT_DIAG("m_copym", r = m_copym(NULL, 0, 1, M_WAIT));
	CHECK(r == NULL);
	EXPECT_DIAG("m_copym", r = m_copym(a, 0, 1, 7));
	CHECK(r == NULL);
	EXPECT_DIAG("m_dup", r = m_dup(a, 0, -3, M_WAIT));
	CHECK(r == NULL);
	EXPECT_DIAG("m_dup", r = m_dup(a, 5, SMALL_LEN, M_DONTWAIT));
	CHECK(r == NULL);
	EXPECT_DIAG("m_copypacket", r = m_copypacket(plain, M_WAIT));
	CHECK(r == NULL);
	EXPECT_DIAG("m_copypacket", r = m_copypacket(NULL, M_WAIT));
	CHECK(r == NULL);

	EXPECT_DIAG("m_apply", rc = m_apply(a, 0, SMALL_LEN + 1, never_fn, &called));
	CHECK(rc == EINVAL && called == 0);
	EXPECT_DIAG("m_apply", rc = m_apply(a, -1, 1, never_fn, &called));
	CHECK(rc == EINVAL && called == 0);
	EXPECT_DIAG("m_apply", rc = m_apply(a, 0, 1, NULL, &called));
	CHECK(rc == EINVAL);
	CHECK_EQ(m_apply(NULL, 0, 0, never_fn, &called), 0);

	EXPECT_DIAG("m_copyback", m_copyback(NULL, 0, 1, out));
	EXPECT_DIAG("m_copyback", m_copyback(a, -1, 1, out));
	EXPECT_DIAG("m_copyback", m_copyback(a, 0, -1, out));
	EXPECT_DIAG("m_copyback", m_copyback(a, 0, 1, NULL));
	EXPECT_DIAG("m_copyback", m_copyback(a, INT32_MAX, 1, out));

	/* m_copyback_cow does not extend; a refused call leaves m0 the caller's. */
	EXPECT_DIAG("m_copyback_cow", r = m_copyback_cow(a, SMALL_LEN - 2, 3, out, M_WAIT));
	CHECK(r == NULL && strstr(diag_last_msg, "extends") != NULL);
	EXPECT_DIAG("m_copyback_cow", r = m_copyback_cow(a, -1, 1, out, M_WAIT));
	CHECK(r == NULL);
	EXPECT_DIAG("m_copyback_cow", r = m_copyback_cow(NULL, 0, 1, out, M_WAIT));
	CHECK(r == NULL);
	EXPECT_DIAG("m_copyback_cow", r = m_copyback_cow(a, 0, 1, out, 3));
	CHECK(r == NULL);

	struct mbuf *none = NULL;

	EXPECT_DIAG("m_makewritable", rc = m_makewritable(NULL, 0, 1, M_WAIT));
	CHECK(rc == EINVAL);
	EXPECT_DIAG("m_makewritable", rc = m_makewritable(&none, 0, 1, M_WAIT));
	CHECK(rc == EINVAL);
	EXPECT_DIAG("m_makewritable", rc = m_makewritable(&a, -5, 1, M_WAIT));
	CHECK(rc == EINVAL);
	EXPECT_DIAG("m_makewritable", rc = m_makewritable(&a, 0, 1, -1));
	CHECK(rc == EINVAL);

	EXPECT_DIAG("m_devget", r = m_devget((char *)raw, -1, 0, NULL, NULL));
	CHECK(r == NULL);
	EXPECT_DIAG("m_devget", r = m_devget((char *)raw, 100, 97, NULL, NULL));
	CHECK(r == NULL);
	EXPECT_DIAG("m_devget", r = m_devget(NULL, 100, 0, NULL, NULL));
	CHECK(r == NULL);

	/* After all of it, the chain is as it was. */
	CHECK_EQ(flatten(a, raw), SMALL_LEN);
	CHECK(is_pat(raw, 0, SMALL_LEN));
	CHECK_EQ(a->m_pkthdr.len, SMALL_LEN);
	CHECK_EQ(count_mbufs(a), NSMALL);
	CHECK(all_refs(a, 1));
	m_freem(a);
	m_freem(plain);
	check_clean();
}

/* ------------------------------------------------------------ failure contracts */

/* Allocation points passed by one run of @op on a fresh setup. */
#define COUNT_ALLOCS(n, setup, op, teardown)                                        \
	do {                                                                        \
		setup;                                                              \
		pktmem_fault_count_reset();                                         \
		op;                                                                 \
		(n) = pktmem_fault_count();                                         \
		pktmem_fault_off();                                                 \
		teardown;                                                           \
	} while (0)

static void test_copym_dup_fail_cleanly(void)
{
	uint8_t *out = xmalloc(BIG_LEN);

	for (int variant = 0; variant < 4; variant++) {
		/* shallow whole packet with tags, shallow inner range, deep whole, deep inner */
		bool deep = variant >= 2;
		int off = (variant & 1) ? 30 : 0;
		int len = (variant & 1) ? BIG_LEN - 100 : M_COPYALL;
		int want = (variant & 1) ? len : BIG_LEN;
		struct mbuf *a = build(BIG, NBIG, true), *c = NULL;

		m_tag_prepend(a, m_tag_get(3, 40, M_WAIT));
		m_tag_prepend(a, m_tag_get(4, 8, M_WAIT));
		unsigned long long mbufs = cache_in_use(pktmem_mbuf_cache());
		unsigned long long clusters = cache_in_use(pktmem_cluster_cache());
		unsigned long long all = all_in_use();
		unsigned long n;

		COUNT_ALLOCS(n, (void)0, c = deep ? m_dup(a, off, len, M_WAIT) : m_copym(a, off, len, M_WAIT),
			     m_freem(c));
		CHECK(n >= 2);
		for (unsigned long k = 1; k <= n; k++) {
			pktmem_fault_set(PKTMEM_FAULT_NTH, k, 0);
			c = deep ? m_dup(a, off, len, M_WAIT) : m_copym(a, off, len, M_WAIT);
			pktmem_fault_off();
			CHECK(c == NULL);
			m_freem(c);
			/* Nothing leaked, the source untouched. */
			CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), mbufs);
			CHECK_EQ(cache_in_use(pktmem_cluster_cache()), clusters);
			CHECK_EQ(all_in_use(), all);
			CHECK(all_refs(a, 1));
			CHECK_EQ(count_mbufs(a), NBIG);
			CHECK_EQ(a->m_pkthdr.len, BIG_LEN);
			CHECK(m_tag_find(a, 3) && m_tag_find(a, 4));
		}
		/* And it works again afterwards. */
		c = deep ? m_dup(a, off, len, M_WAIT) : m_copym(a, off, len, M_WAIT);
		CHECK(c && flatten(c, out) == want && is_pat(out, off, want));
		m_freem(c);
		CHECK_EQ(flatten(a, out), BIG_LEN);
		CHECK(is_pat(out, 0, BIG_LEN));
		m_freem(a);
	}

	/* m_copypacket the same way. */
	struct mbuf *a = build(SMALL, NSMALL, true), *c = NULL;
	unsigned long n;

	m_tag_prepend(a, m_tag_get(3, 40, M_WAIT));
	COUNT_ALLOCS(n, (void)0, c = m_copypacket(a, M_DONTWAIT), m_freem(c));
	CHECK(n >= 3);
	for (unsigned long k = 1; k <= n; k++) {
		pktmem_fault_set(PKTMEM_FAULT_NTH, k, 0);
		c = m_copypacket(a, M_DONTWAIT);
		pktmem_fault_off();
		CHECK(c == NULL);
		m_freem(c);
		CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), NSMALL);
		CHECK(all_refs(a, 1));
	}
	m_freem(a);
	free(out);
	check_clean();
}

static void test_copyback_extension_fails_by_length(void)
{
	enum { OFF = SMALL_LEN - 23, LEN = 5000 };
	uint8_t *src = xmalloc(LEN), *out = xmalloc(OFF + LEN + MCLBYTES);
	struct mbuf *a = NULL;
	unsigned long n;

	for (int i = 0; i < LEN; i++)
		src[i] = pat2(i);
	COUNT_ALLOCS(n, a = build(SMALL, NSMALL, true), m_copyback(a, OFF, LEN, src), m_freem(a));
	CHECK(n >= 3);
	for (unsigned long k = 1; k <= n; k++) {
		a = build(SMALL, NSMALL, true);
		pktmem_fault_set(PKTMEM_FAULT_NTH, k, 0);
		m_copyback(a, OFF, LEN, src);
		pktmem_fault_off();
		/* The length tells: it did not grow, and what fell inside the chain is written. */
		CHECK_EQ(m_length(a), SMALL_LEN);
		CHECK_EQ(a->m_pkthdr.len, SMALL_LEN);
		CHECK_EQ(flatten(a, out), SMALL_LEN);
		CHECK(is_pat(out, 0, OFF));
		CHECK(memcmp(out + OFF, src, SMALL_LEN - OFF) == 0);
		m_freem(a);
		check_clean();
	}
	free(src);
	free(out);
}

/*
 * Ranges for the failure tests: over several shared and read-only mbufs,
 * inside one (a split), and the front of a one-cluster packet (the header
 * moves to a new mbuf).
 */
static const struct {
	bool one;
	int off, len;
} FAIL_RANGES[] = {
	{ false, 20, 140 }, { false, 15, 10 }, { false, 5, 200 }, { true, 0, 1000 }, { true, 600, 10 },
};
#define NFAIL_RANGES ((int)(sizeof(FAIL_RANGES) / sizeof(FAIL_RANGES[0])))

static struct mbuf *build_for(int i, struct mbuf **copyp, int *lenp)
{
	*lenp = FAIL_RANGES[i].one ? 1500 : SMALL_LEN;
	return FAIL_RANGES[i].one ? build_shared_one(copyp) : build_shared(copyp);
}

static void test_copyback_cow_fails_freeing_chain(void)
{
	uint8_t src[SMALL_LEN * 8], out[1500];
	struct mbuf *a = NULL, *c = NULL, *r = NULL;
	unsigned long n;
	int total;

	for (int i = 0; i < (int)sizeof(src); i++)
		src[i] = pat2(i);
	for (int i = 0; i < NFAIL_RANGES; i++) {
		int off = FAIL_RANGES[i].off, len = FAIL_RANGES[i].len;

		COUNT_ALLOCS(n, a = build_for(i, &c, &total), r = m_copyback_cow(a, off, len, src, M_WAIT),
			     (m_freem(r), m_freem(c)));
		CHECK(n >= 1);
		for (unsigned long k = 1; k <= n; k++) {
			a = build_for(i, &c, &total);
			pktmem_fault_set(PKTMEM_FAULT_NTH, k, 0);
			r = m_copyback_cow(a, off, len, src, M_WAIT);
			pktmem_fault_off();
			/* NULL, and m0 is gone (NetBSD frees it); the copy keeps its
			 * bytes and is the sole holder again. */
			CHECK(r == NULL);
			CHECK_EQ(flatten(c, out), total);
			CHECK(is_pat(out, 0, total));
			CHECK(all_refs(c, 1));
			m_freem(r);
			m_freem(c);
			check_clean();
		}
	}
}

static void test_makewritable_fails_preserving(void)
{
	uint8_t out[1500];
	struct mbuf *a = NULL, *c = NULL;
	unsigned long n;
	int rc = 0, total;

	for (int i = 0; i < NFAIL_RANGES; i++) {
		int off = FAIL_RANGES[i].off, len = FAIL_RANGES[i].len;

		COUNT_ALLOCS(n, a = build_for(i, &c, &total), rc = m_makewritable(&a, off, len, M_WAIT),
			     (m_freem(a), m_freem(c)));
		CHECK_EQ(rc, 0);
		CHECK(n >= 1);
		for (unsigned long k = 1; k <= n; k++) {
			a = build_for(i, &c, &total);
			pktmem_fault_set(PKTMEM_FAULT_NTH, k, 0);
			rc = m_makewritable(&a, off, len, M_WAIT);
			pktmem_fault_off();
			CHECK_EQ(rc, ENOBUFS);
			/* *mp is a valid chain with the same bytes and header. */
			CHECK(a != NULL);
			CHECK_EQ(flatten(a, out), total);
			CHECK(is_pat(out, 0, total));
			CHECK(header_kept(a, total));
			CHECK_EQ(flatten(c, out), total);
			CHECK(is_pat(out, 0, total));
			/* And it can be made writable afterwards. */
			CHECK_EQ(m_makewritable(&a, off, len, M_WAIT), 0);
			CHECK(range_writable(a, off, len));
			CHECK_EQ(flatten(a, out), total);
			CHECK(is_pat(out, 0, total));
			CHECK(header_kept(a, total));
			m_freem(a);
			m_freem(c);
			check_clean();
		}
	}
}

static void test_devget_fails_cleanly(void)
{
	enum { N = 4000 };
	uint8_t *buf = xmalloc(N);
	struct mbuf *m = NULL;
	unsigned long n;

	memset(buf, 0x42, N);
	COUNT_ALLOCS(n, (void)0, m = m_devget((char *)buf, N, 0, NULL, NULL), m_freem(m));
	CHECK(n >= 4);
	for (unsigned long k = 1; k <= n; k++) {
		pktmem_fault_set(PKTMEM_FAULT_NTH, k, 0);
		m = m_devget((char *)buf, N, 0, NULL, NULL);
		pktmem_fault_off();
		CHECK(m == NULL);
		m_freem(m);
		check_clean();
	}
	free(buf);
}

int main(void)
{
	diag_capture();
	/* Let every cache the tests use exist before the baseline is taken. */
	struct mbuf *w = m_gethdr(M_WAIT, MT_DATA);

	MCLGET(w, M_WAIT);
	m_tag_prepend(w, m_tag_get(1, 8, M_WAIT));
	m_freem(w);
	baseline_in_use = all_in_use();

	TEST(test_copydata_every_range);
	TEST(test_copym_every_range);
	TEST(test_copym_shape);
	TEST(test_dup_every_range);
	TEST(test_copypacket_header_and_tags);
	TEST(test_apply_every_range);
	TEST(test_copyback_every_range);
	TEST(test_copyback_refuses_readonly);
	TEST(test_copyback_cow_every_range);
	TEST(test_makewritable_every_range);
	TEST(test_devget);
	TEST(test_bad_input_diagnosed);
	TEST(test_copym_dup_fail_cleanly);
	TEST(test_copyback_extension_fails_by_length);
	TEST(test_copyback_cow_fails_freeing_chain);
	TEST(test_makewritable_fails_preserving);
	TEST(test_devget_fails_cleanly);
	return test_summary();
}
