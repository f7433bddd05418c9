/*
 * <pktmem/mbuf.h>, the bulk extension: m_getcl_bulk(), m_getcl() and
 * m_freem_bulk(). Every mbuf handed out is compared field by field with
 * m_gethdr() + MCLGET; failures (injected at each allocation point, a
 * cluster limit) leave nothing behind and the caller's array untouched;
 * m_freem_bulk() frees every kind of chain and keeps m_free()'s checks.
 * Two threads: test_mbuf_bulk_mt.c.
 */
#include <errno.h>
#include <stdint.h>

#include <pktmem/mbuf.h>

#include "check.h"

#define BURST 32

static struct mbuf *const SENTINEL = (struct mbuf *)(uintptr_t)0x5e5e5e5e;

static void check_no_leaks(void)
{
	CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), 0);
	CHECK_EQ(cache_in_use(pktmem_cluster_cache()), 0);
	CHECK_EQ(all_in_use(), 0);
}

static void fill_sentinel(struct mbuf **mv, int n)
{
	for (int i = 0; i < n; i++)
		mv[i] = SENTINEL;
}

static bool all_sentinel(struct mbuf *const *mv, int n)
{
	for (int i = 0; i < n; i++)
		if (mv[i] != SENTINEL)
			return false;
	return true;
}

/* @m is what m_get/m_gethdr(@type) + MCLGET give, @ref being one such mbuf. */
static void check_like(const struct mbuf *m, const struct mbuf *ref)
{
	CHECK(m->m_next == NULL && m->m_nextpkt == NULL && m->m_owner == NULL);
	CHECK_EQ(m->m_len, 0);
	CHECK_EQ(m->m_flags, ref->m_flags);
	CHECK_EQ(m->m_type, ref->m_type);
	CHECK((m->m_flags & (M_EXT | M_CLUSTER)) == (M_EXT | M_CLUSTER));
	CHECK(m->m_data == m->m_ext.ext_buf);
	CHECK_EQ(m->m_ext.ext_size, ref->m_ext.ext_size);
	CHECK_EQ(m->m_ext.ext_size, MCLBYTES);
	CHECK(m->m_ext.ext_free == NULL && m->m_ext.ext_arg == NULL);
	CHECK_EQ(m->m_ext.ext_type, ref->m_ext.ext_type);
	CHECK(m->m_ext.ext_storage != NULL);
	CHECK_EQ(m->m_ext.ext_storage->ext_flags, ref->m_ext.ext_storage->ext_flags);
	CHECK_EQ(m->m_ext.ext_storage->ext_node, ref->m_ext.ext_storage->ext_node);
	CHECK(m->m_ext.ext_storage->ext_buf == m->m_ext.ext_buf);
	CHECK_EQ(pktmem_ext_refs(m->m_ext.ext_storage), 1);
	if (m->m_flags & M_PKTHDR) {
		CHECK(memcmp(&m->m_pkthdr, &ref->m_pkthdr, sizeof(m->m_pkthdr)) == 0);
		CHECK_EQ(m->m_pkthdr.len, 0);
		CHECK(m->m_pkthdr.tags.slh_first == NULL);
	}
	CHECK(m_writable(m));
	CHECK_EQ(M_LEADINGSPACE(m), 0);
	CHECK_EQ(M_TRAILINGSPACE(m), MCLBYTES);
}

static void test_getcl_bulk_like_gethdr_mclget(void)
{
	static const int flagsets[] = { 0, M_PKTHDR, M_PKTHDR | M_BCAST | M_EOR };
	static const int types[] = { MT_DATA, MT_HEADER, MT_OOBDATA };

	for (int f = 0; f < 3; f++) {
		struct mbuf *ref = (flagsets[f] & M_PKTHDR) ? m_gethdr(M_WAIT, types[f]) : m_get(M_WAIT, types[f]);
		struct mbuf *mv[BURST + 1];

		ref->m_flags |= flagsets[f];
		MCLGET(ref, M_WAIT);
		CHECK(ref->m_flags & M_EXT);
		mv[BURST] = SENTINEL;
		CHECK_EQ(m_getcl_bulk(mv, BURST, f == 1 ? M_DONTWAIT : M_WAIT, types[f], flagsets[f]), BURST);
		CHECK(mv[BURST] == SENTINEL); /* nothing written past n */
		CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), BURST + 1);
		CHECK_EQ(cache_in_use(pktmem_cluster_cache()), BURST + 1);
		for (int i = 0; i < BURST; i++) {
			check_like(mv[i], ref);
			for (int j = 0; j < i; j++)
				CHECK(mv[i] != mv[j] && mv[i]->m_data != mv[j]->m_data);
			/* The whole cluster is the caller's to write, then m_len set. */
			memset(mtod(mv[i], char *), i, MCLBYTES);
			mv[i]->m_len = MCLBYTES;
			if (mv[i]->m_flags & M_PKTHDR)
				mv[i]->m_pkthdr.len = MCLBYTES;
		}
		for (int i = 0; i < BURST; i++)
			CHECK(mtod(mv[i], unsigned char *)[MCLBYTES - 1] == (unsigned char)i);

		struct mbuf *one = m_getcl(M_WAIT, types[f], flagsets[f]);

		CHECK(one != NULL);
		if (one) {
			check_like(one, ref);
			m_freem(one);
		}
		m_freem_bulk(mv, BURST);
		m_freem(ref);
		check_no_leaks();
	}
	/* Zero asked, zero given: no diagnostic, the array untouched. */
	struct mbuf *mv[2] = { SENTINEL, SENTINEL };

	EXPECT_NO_DIAG(CHECK_EQ(m_getcl_bulk(mv, 0, M_WAIT, MT_DATA, M_PKTHDR), 0));
	EXPECT_NO_DIAG(CHECK_EQ(m_getcl_bulk(NULL, 0, M_WAIT, MT_DATA, 0), 0));
	CHECK(all_sentinel(mv, 2));
	/* The largest burst. */
	struct mbuf *big[M_GETCL_BULK_MAX];

	CHECK_EQ(m_getcl_bulk(big, M_GETCL_BULK_MAX, M_WAIT, MT_DATA, M_PKTHDR), M_GETCL_BULK_MAX);
	CHECK_EQ(cache_in_use(pktmem_cluster_cache()), M_GETCL_BULK_MAX);
	m_freem_bulk(big, M_GETCL_BULK_MAX);
	check_no_leaks();
}

/* Each allocation point of a burst failing in turn: 0, nothing in use, the array untouched. */
static void test_getcl_bulk_fault_all_or_nothing(void)
{
	for (int how = M_WAIT; how <= M_DONTWAIT; how++) {
		struct mbuf *mv[BURST];

		pktmem_fault_count_reset();
		CHECK_EQ(m_getcl_bulk(mv, BURST, how, MT_DATA, M_PKTHDR), BURST);
		unsigned long points = pktmem_fault_count();

		pktmem_fault_off();
		m_freem_bulk(mv, BURST);
		CHECK(points >= 2); /* the mbuf run and the cluster run */
		for (unsigned long k = 1; k <= points; k++) {
			unsigned long injected = pktmem_fault_injected();

			fill_sentinel(mv, BURST);
			CHECK_EQ(pktmem_fault_set(PKTMEM_FAULT_NTH, k, 0), 0);
			errno = 0;
			CHECK_EQ(m_getcl_bulk(mv, BURST, how, MT_DATA, M_PKTHDR), 0);
			pktmem_fault_off();
			CHECK_EQ(pktmem_fault_injected(), injected + 1);
			CHECK_EQ(errno, ENOMEM);
			CHECK(all_sentinel(mv, BURST));
			check_no_leaks();
		}
		/* And the single form. */
		CHECK_EQ(pktmem_fault_set(PKTMEM_FAULT_NTH, 2, 0), 0);
		CHECK(m_getcl(how, MT_DATA, 0) == NULL);
		pktmem_fault_off();
		check_no_leaks();
	}
}

/* M_DONTWAIT at a cluster limit: 0 at once, the mbufs it took given back. */
static void test_getcl_bulk_at_cluster_limit(void)
{
	struct kmem_cache *cc = pktmem_cluster_cache();
	struct mbuf *held[20], *mv[BURST];

	CHECK_EQ(kmem_cache_set_limit(cc, 40), 0);
	CHECK_EQ(m_getcl_bulk(held, 20, M_DONTWAIT, MT_DATA, M_PKTHDR), 20);
	fill_sentinel(mv, BURST);
	CHECK_EQ(m_getcl_bulk(mv, 21, M_DONTWAIT, MT_DATA, M_PKTHDR), 0);
	CHECK(all_sentinel(mv, BURST));
	CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), 20);
	CHECK_EQ(cache_in_use(cc), 20);
	/* More than the limit could ever give: 0 even with M_WAIT, which cannot wait for it. */
	CHECK_EQ(m_getcl_bulk(mv, 41, M_WAIT, MT_DATA, M_PKTHDR), 0);
	CHECK(all_sentinel(mv, BURST));
	CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), 20);
	/* Exactly what is left. */
	CHECK_EQ(m_getcl_bulk(mv, 20, M_DONTWAIT, MT_DATA, M_PKTHDR), 20);
	CHECK(m_getcl(M_DONTWAIT, MT_DATA, M_PKTHDR) == NULL);
	m_freem_bulk(mv, 20);
	m_freem_bulk(held, 20);
	CHECK_EQ(kmem_cache_set_limit(cc, 0), 0);
	check_no_leaks();
}

static int user_freed;

static void user_free(struct mbuf *m, void *buf, size_t size, void *arg)
{
	(void)m, (void)size, (void)arg;
	user_freed++;
	free(buf);
}

/* A mixture of every kind of chain, more than one batch of each, with NULLs. */
static void test_freem_bulk_mixture(void)
{
	struct mbuf *mv[160];
	int n = 0;

	user_freed = 0;
	for (int round = 0; round < 4; round++) {
		struct mbuf *burst[8];

		CHECK_EQ(m_getcl_bulk(burst, 8, M_WAIT, MT_DATA, M_PKTHDR), 8);
		for (int i = 0; i < 8; i++) {
			burst[i]->m_len = burst[i]->m_pkthdr.len = 60 + i;
			mv[n++] = burst[i];
		}
		/* a cluster shared by the original and its copy, both in the array */
		struct mbuf *c = m_copypacket(burst[0], M_WAIT);

		CHECK(c != NULL && pktmem_ext_refs(c->m_ext.ext_storage) == 2);
		mv[n++] = c;
		/* a copy whose original is freed first, elsewhere: refs back to 1 */
		struct mbuf *c2 = m_copypacket(burst[1], M_WAIT);

		mv[n++] = c2;
		mv[n++] = NULL;
		/* a chain: header mbuf, cluster, plain mbuf */
		struct mbuf *h = m_gethdr(M_WAIT, MT_DATA), *mid = m_getcl(M_WAIT, MT_DATA, 0), *t = m_get(M_WAIT, MT_DATA);

		h->m_len = 10;
		mid->m_len = 1000;
		t->m_len = 5;
		h->m_next = mid;
		mid->m_next = t;
		h->m_pkthdr.len = 1015;
		mv[n++] = h;
		/* small mbufs, with and without a header */
		mv[n++] = m_get(M_WAIT, MT_DATA);
		mv[n++] = m_gethdr(M_WAIT, MT_HEADER);
		/* a tagged packet with a cluster */
		struct mbuf *tg = m_getcl(M_WAIT, MT_DATA, M_PKTHDR);

		m_tag_prepend(tg, m_tag_get(7, 12, M_WAIT));
		m_tag_prepend(tg, m_tag_get(8, 0, M_WAIT));
		mv[n++] = tg;
		/* MEXTADD storage */
		struct mbuf *ea = m_gethdr(M_WAIT, MT_DATA);

		MEXTADD(ea, malloc(1500), 1500, 0, user_free, NULL);
		CHECK(ea->m_flags & M_EXT);
		mv[n++] = ea;
		/* MEXTMALLOC storage */
		struct mbuf *em = m_get(M_WAIT, MT_DATA);

		MEXTMALLOC(em, 4000, M_WAIT);
		CHECK(em->m_flags & M_EXT);
		mv[n++] = em;
		mv[n++] = NULL;
		/* burst[1] goes before its copy, so the copy sees a count of 1 */
		struct mbuf *tmp[1] = { burst[1] };

		for (int i = 0; i < n; i++)
			if (mv[i] == burst[1])
				mv[i] = NULL;
		m_freem_bulk(tmp, 1);
		CHECK_EQ(pktmem_ext_refs(c2->m_ext.ext_storage), 1);
	}
	CHECK(n <= 160);
	CHECK(cache_in_use(pktmem_mbuf_cache()) > 0);
	EXPECT_NO_DIAG(m_freem_bulk(mv, n));
	CHECK_EQ(user_freed, 4);
	check_no_leaks();
	/* All NULL, and none at all. */
	struct mbuf *nulls[3] = { NULL, NULL, NULL };

	EXPECT_NO_DIAG(m_freem_bulk(nulls, 3));
	EXPECT_NO_DIAG(m_freem_bulk(NULL, 0));
	EXPECT_NO_DIAG(m_freem_bulk(nulls, 0));
}

/* The same in debug mode, where every free is recorded one by one. */
static void test_freem_bulk_debug_mode(void)
{
	struct mbuf *mv[BURST];

	bool was = debug_mode_set(true);
	CHECK_EQ(m_getcl_bulk(mv, BURST, M_WAIT, MT_DATA, M_PKTHDR), BURST);

	struct pktmem_debug_object rec;

	CHECK_EQ(pktmem_debug_lookup(mv[3], &rec), 0);
	CHECK_EQ(rec.state, PKTMEM_DEBUG_LIVE);
	mv[5]->m_next = m_get(M_WAIT, MT_DATA);
	EXPECT_NO_DIAG(m_freem_bulk(mv, BURST));
	CHECK_EQ(pktmem_debug_lookup(mv[3], &rec), 0);
	CHECK_EQ(rec.state, PKTMEM_DEBUG_FREE);
	pktmem_debug_set(was);
	check_no_leaks();
}

/* m_free()'s checks hold: a double free and a stack copy are diagnosed, the rest freed. */
static void test_freem_bulk_refuses_bad_mbufs(void)
{
	struct mbuf *mv[6];
	int n = 0, twice = 1;

	/*
	 * In debug mode m_freem_bulk() frees one by one, so the packet given
	 * twice is back in its cache before its second turn; under ASan that
	 * turn's read is reported, as for the earlier call below: left out.
	 */
#if defined(TEST_UNDER_ASAN)
	twice = !pktmem_debug_enabled();
#endif
	CHECK_EQ(m_getcl_bulk(mv, 4, M_WAIT, MT_DATA, M_PKTHDR), 4);
	n = 4;
	/* The same packet twice in one call: the second is dead by then. */
	if (twice)
		mv[n++] = mv[1];
	/* A stack copy of a live mbuf (live marker and all): not library memory. */
	struct mbuf copy;

	memcpy(&copy, mv[2], sizeof(copy));
	mv[n++] = &copy;

	unsigned long before = diag_seen;

	m_freem_bulk(mv, n);
	CHECK_EQ(diag_seen, before + 1 + twice);
	CHECK(strcmp(diag_last_func, "m_free") == 0);
	CHECK(HAS("not library memory"));
	check_no_leaks();
#if !defined(TEST_UNDER_ASAN)
	/* Freed already, by an earlier call (the memory not reused yet). */
	if (!TEST_UNDER_VALGRIND()) {
		EXPECT_DIAG("m_free", m_freem_bulk(mv, 1));
		CHECK(HAS("not live"));
		check_no_leaks();
	}
#endif
}

static void test_bulk_bad_inputs(void)
{
	struct mbuf *mv[4];

	fill_sentinel(mv, 4);
	EXPECT_DIAG("m_getcl_bulk", CHECK_EQ(m_getcl_bulk(mv, -1, M_WAIT, MT_DATA, 0), 0));
	CHECK(HAS("count -1"));
	EXPECT_DIAG("m_getcl_bulk", CHECK_EQ(m_getcl_bulk(mv, M_GETCL_BULK_MAX + 1, M_WAIT, MT_DATA, 0), 0));
	CHECK(HAS("count 257"));
	EXPECT_DIAG("m_getcl_bulk", CHECK_EQ(m_getcl_bulk(NULL, 2, M_WAIT, MT_DATA, 0), 0));
	CHECK(HAS("count 2"));
	EXPECT_DIAG("m_getcl_bulk", CHECK_EQ(m_getcl_bulk(mv, 2, 7, MT_DATA, 0), 0));
	CHECK(HAS("wait flag 7"));
	EXPECT_DIAG("m_getcl_bulk", CHECK_EQ(m_getcl_bulk(mv, 2, M_DONTWAIT, MT_FREE, 0), 0));
	CHECK(HAS("type 0"));
	EXPECT_DIAG("m_getcl_bulk", CHECK_EQ(m_getcl_bulk(mv, 2, M_DONTWAIT, 300, 0), 0));
	CHECK(HAS("type 300"));
	EXPECT_DIAG("m_getcl_bulk", CHECK_EQ(m_getcl_bulk(mv, 2, M_WAIT, MT_DATA, M_EXT | M_PKTHDR), 0));
	CHECK(HAS("flags 0x3"));
	EXPECT_DIAG("m_getcl_bulk", CHECK_EQ(m_getcl_bulk(mv, 2, M_WAIT, MT_DATA, M_CLUSTER), 0));
	CHECK(HAS("flags 0x10000"));
	CHECK(all_sentinel(mv, 4));
	EXPECT_DIAG("m_getcl", CHECK(m_getcl(-1, MT_DATA, M_PKTHDR) == NULL));
	CHECK(HAS("wait flag -1"));
	EXPECT_DIAG("m_getcl", CHECK(m_getcl(M_WAIT, MT_DATA, 0x40000000) == NULL));
	CHECK(HAS("flags 0x40000000"));
	EXPECT_DIAG("m_freem_bulk", m_freem_bulk(NULL, 3));
	CHECK(HAS("count 3"));
	CHECK_EQ(m_getcl_bulk(mv, 2, M_WAIT, MT_DATA, 0), 2);
	EXPECT_DIAG("m_freem_bulk", m_freem_bulk(mv, -2));
	CHECK(HAS("count -2"));
	CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), 2); /* nothing freed */
	m_freem_bulk(mv, 2);
	check_no_leaks();
}

int main(void)
{
	diag_capture();
	TEST(test_getcl_bulk_like_gethdr_mclget);
	TEST(test_getcl_bulk_fault_all_or_nothing);
	TEST(test_getcl_bulk_at_cluster_limit);
	TEST(test_freem_bulk_mixture);
	TEST(test_freem_bulk_debug_mode);
	TEST(test_freem_bulk_refuses_bad_mbufs);
	TEST(test_bulk_bad_inputs);
	return test_summary();
}
