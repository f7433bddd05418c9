/*
 * The header-inline M_PREPEND / m_adj paths and m_copypacket's one-mbuf
 * path give the results of the general code: each case is run both ways
 * (the inline m_adj against the out-of-line (m_adj), m_copypacket against
 * m_copym(m, 0, M_COPYALL), which always takes the general walker) and the
 * mbufs compared field by field.
 */
#include <string.h>

#include <pktmem/mbuf.h>
#include <pktmem/pktmem.h>

#include "check.h"

static void check_no_leaks(void)
{
	CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), 0);
	CHECK_EQ(cache_in_use(pktmem_cluster_cache()), 0);
}

/* A header mbuf with a cluster, @len bytes of data after @lead bytes of space. */
static struct mbuf *cluster_packet(int lead, int len)
{
	struct mbuf *m = m_gethdr(M_WAIT, MT_DATA);

	MCLGET(m, M_WAIT);
	CHECK(m->m_flags & M_EXT);
	m->m_data += lead;
	memset(m->m_data, 0x5a, (size_t)len);
	m->m_len = len;
	m->m_pkthdr.len = len;
	return m;
}

static void same_mbuf(const struct mbuf *a, const struct mbuf *b, const struct mbuf *abase, const struct mbuf *bbase)
{
	CHECK_EQ(a->m_len, b->m_len);
	CHECK_EQ(a->m_flags, b->m_flags);
	CHECK_EQ(a->m_data - m_buf_start(abase), b->m_data - m_buf_start(bbase));
	if (a->m_flags & M_PKTHDR)
		CHECK_EQ(a->m_pkthdr.len, b->m_pkthdr.len);
}

/* Every trim from the front, each length both ways, on internal and cluster data, with and without a header. */
static void test_adj_inline_matches(void)
{
	static const int lens[] = { -20, -1, 0, 1, 13, 14, 15, 99, 100, 101, 500 };

	for (int kind = 0; kind < 3; kind++) {
		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			struct mbuf *a, *b;

			if (kind == 0) {
				a = cluster_packet(64, 100);
				b = cluster_packet(64, 100);
			} else {
				a = kind == 1 ? m_gethdr(M_WAIT, MT_DATA) : m_get(M_WAIT, MT_DATA);
				b = kind == 1 ? m_gethdr(M_WAIT, MT_DATA) : m_get(M_WAIT, MT_DATA);
				a->m_len = b->m_len = 100;
				if (kind == 1)
					a->m_pkthdr.len = b->m_pkthdr.len = 100;
			}
			m_adj(a, lens[i]);
			(m_adj)(b, lens[i]);
			same_mbuf(a, b, a, b);
			m_freem(a);
			m_freem(b);
		}
	}
	/* a two-mbuf chain: a trim reaching the second mbuf takes the full path */
	struct mbuf *m = cluster_packet(0, 10);

	m->m_next = m_get(M_WAIT, MT_DATA);
	m->m_next->m_len = 30;
	m->m_pkthdr.len = 40;
	m_adj(m, 10);
	CHECK_EQ(m->m_len, 0);
	CHECK_EQ(m->m_pkthdr.len, 30);
	m_adj(m, 5);
	CHECK_EQ(m->m_next->m_len, 25);
	CHECK_EQ(m->m_pkthdr.len, 25);
	m_freem(m);
	check_no_leaks();
}

/* Bad input still reaches m_adj()'s diagnostics through the inline path. */
static void test_adj_inline_diagnoses(void)
{
	EXPECT_DIAG("m_adj", m_adj(NULL, 14));
#ifndef TEST_UNDER_ASAN
	if (TEST_UNDER_VALGRIND())
		return; /* the freed mbuf is read below */
	struct mbuf *m = m_gethdr(M_WAIT, MT_DATA);

	m->m_len = 50;
	m_free(m);
	EXPECT_DIAG("m_adj", m_adj(m, 14));
#endif
	check_no_leaks();
}

/* M_PREPEND in place: leading space counts only in writable storage; a shared cluster or a 0-byte prepend keep BSD's behaviour. */
static void test_prepend_inline(void)
{
	struct mbuf *m = cluster_packet(64, 100);
	char *d = m->m_data;

	M_PREPEND(m, 14, M_DONTWAIT);
	CHECK(m != NULL && m->m_data == d - 14 && m->m_len == 114 && m->m_pkthdr.len == 114);
	M_PREPEND(m, 0, M_DONTWAIT);
	CHECK(m->m_data == d - 14 && m->m_len == 114 && m->m_pkthdr.len == 114 && !m->m_next);

	/* shared: no leading space, so a new mbuf goes in front; the copy is unchanged */
	struct mbuf *c = m_copypacket(m, M_WAIT);

	CHECK(c != NULL);
	M_PREPEND(m, 14, M_DONTWAIT);
	CHECK(m != NULL && m->m_next != NULL && m->m_len == 14 && m->m_pkthdr.len == 128);
	CHECK(c->m_data == d - 14 && c->m_len == 114 && c->m_pkthdr.len == 114);
	/* a 0-byte prepend on shared storage is still in place */
	M_PREPEND(c, 0, M_DONTWAIT);
	CHECK(c->m_next == NULL && c->m_len == 114);
	m_freem(c);

	/* internal data with no room in front: a new mbuf */
	struct mbuf *p = m_gethdr(M_WAIT, MT_DATA);

	p->m_len = p->m_pkthdr.len = 10;
	M_PREPEND(p, 4, M_DONTWAIT);
	CHECK(p != NULL && p->m_next != NULL && p->m_len == 4 && p->m_pkthdr.len == 14);
	/* the new mbuf has room at its front: the next prepend is in place */
	char *pd = p->m_data;

	M_PREPEND(p, 4, M_DONTWAIT);
	CHECK(p->m_data == pd - 4 && p->m_len == 8 && p->m_pkthdr.len == 18);
	m_freem(p);
	m_freem(m);
	check_no_leaks();
}

/* Read-only storage has no leading space either. */
static void test_prepend_readonly(void)
{
	struct mbuf *m = cluster_packet(64, 100);

	pktmem_ext_set_readonly(m->m_ext.ext_storage);
	CHECK_EQ(M_LEADINGSPACE(m), 0);
	M_PREPEND(m, 14, M_DONTWAIT);
	CHECK(m != NULL && m->m_next != NULL && m->m_len == 14 && m->m_pkthdr.len == 114);
	m_freem(m);
	check_no_leaks();
}

static int tag_type = 77;

/* m_copypacket of a one-cluster packet equals m_copym's general copy: header, tags, storage share. */
static void test_copypacket_one_mbuf(void)
{
	for (int tagged = 0; tagged < 2; tagged++) {
		struct mbuf *m = cluster_packet(32, 1500);

		m->m_flags |= M_BCAST | M_PROTO1;
		m->m_pkthdr.csum_flags = 5;
		m->m_pkthdr.ether_vtag = 42;
		if (tagged) {
			struct m_tag *t = m_tag_get(tag_type, 8, M_WAIT);

			memset(t + 1, 0x33, 8);
			m_tag_prepend(m, t);
		}
		struct mbuf *a = m_copypacket(m, M_DONTWAIT);
		struct mbuf *b = m_copym(m, 0, M_COPYALL, M_DONTWAIT);

		CHECK(a != NULL && b != NULL);
		CHECK(a->m_next == NULL && b->m_next == NULL);
		same_mbuf(a, b, m, m);
		CHECK(a->m_data == m->m_data && a->m_ext.ext_storage == m->m_ext.ext_storage);
		CHECK_EQ(a->m_type, b->m_type);
		CHECK_EQ(a->m_pkthdr.csum_flags, 5);
		CHECK_EQ(a->m_pkthdr.ether_vtag, 42);
		CHECK_EQ(a->m_ext.ext_size, b->m_ext.ext_size);
		CHECK(a->m_ext.ext_buf == b->m_ext.ext_buf);
		CHECK_EQ(pktmem_ext_refs(m->m_ext.ext_storage), 3);
		CHECK(!m_writable(m) && !m_writable(a));
		struct m_tag *ta = m_tag_find(a, tag_type), *tb = m_tag_find(b, tag_type);

		CHECK((ta != NULL) == tagged && (tb != NULL) == tagged);
		if (tagged && ta)
			CHECK(ta != m_tag_find(m, tag_type) && memcmp(ta + 1, tb + 1, 8) == 0);
		m_freem(a);
		m_freem(b);
		CHECK_EQ(pktmem_ext_refs(m->m_ext.ext_storage), 1);
		m_freem(m);
	}
	check_no_leaks();
}

/* Bad input to m_copypacket still gets its diagnostics. */
static void test_copypacket_bad_input(void)
{
	struct mbuf *m = cluster_packet(0, 100);
	struct mbuf *c;

	EXPECT_DIAG("m_copypacket", c = m_copypacket(m, 7));
	CHECK(c == NULL);
	EXPECT_DIAG("m_copypacket", c = m_copypacket(NULL, M_WAIT));
	CHECK(c == NULL);
	m->m_flags &= ~M_PKTHDR;
	EXPECT_DIAG("m_copypacket", c = m_copypacket(m, M_WAIT));
	CHECK(c == NULL);
	m->m_flags |= M_PKTHDR;
	CHECK_EQ(pktmem_ext_refs(m->m_ext.ext_storage), 1);
	m_freem(m);
	check_no_leaks();
}

int main(void)
{
	diag_capture();
	TEST(test_adj_inline_matches);
	TEST(test_adj_inline_diagnoses);
	TEST(test_prepend_inline);
	TEST(test_prepend_readonly);
	TEST(test_copypacket_one_mbuf);
	TEST(test_copypacket_bad_input);
	return test_summary();
}
