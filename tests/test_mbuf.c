/*
 * <pktmem/mbuf.h>, single mbufs: allocation, external storage (clusters,
 * MEXTMALLOC, MEXTADD), packet headers, the macros and packet tags.
 * Chains: test_mbuf_copy.c and test_mbuf_shape.c; threads: test_mbuf_mt.c.
 */
#include <errno.h>
#include <stdint.h>

#include <pktmem/mbuf.h>

#include "check.h"

static unsigned long long in_use(struct kmem_cache *c)
{
	return cache_in_use(c);
}

static void check_no_leaks(void)
{
	CHECK_EQ(in_use(pktmem_mbuf_cache()), 0);
	CHECK_EQ(in_use(pktmem_cluster_cache()), 0);
}

static void test_sizes(void)
{
	CHECK_EQ(sizeof(struct mbuf), MSIZE);
	CHECK_EQ(MSIZE, 512);
	CHECK_EQ(MCLBYTES, 2048);
	CHECK_EQ(MINCLSIZE, MHLEN + MLEN + 1);
	CHECK_EQ(MLEN, MSIZE - (int)offsetof(struct mbuf, m_dat));
	CHECK_EQ(MHLEN, MSIZE - (int)offsetof(struct mbuf, m_pktdat));
	CHECK(sizeof(((struct mbuf *)0)->m_pkthdr.len) == sizeof(int));
	CHECK(max_protohdr > 0);
	int saved = max_protohdr;

	max_protohdr = 80; /* assignable */
	CHECK_EQ(max_protohdr, 80);
	max_protohdr = saved;
}

static void test_get_and_free(void)
{
	struct mbuf *m = m_get(M_WAIT, MT_DATA);

	CHECK(m != NULL);
	CHECK_EQ(m->m_len, 0);
	CHECK_EQ(m->m_type, MT_DATA);
	CHECK_EQ(m->m_flags, 0);
	CHECK(m->m_next == NULL && m->m_nextpkt == NULL);
	CHECK(mtod(m, char *) == m->m_dat);
	CHECK_EQ(M_LEADINGSPACE(m), 0);
	CHECK_EQ(M_TRAILINGSPACE(m), MLEN);
	memset(mtod(m, void *), 0xAA, MLEN);
	m->m_len = MLEN;
	CHECK_EQ(M_TRAILINGSPACE(m), 0);

	struct mbuf *h = m_gethdr(M_DONTWAIT, MT_HEADER);

	CHECK(h != NULL);
	CHECK(h->m_flags & M_PKTHDR);
	CHECK_EQ(h->m_len, 0);
	CHECK_EQ(h->m_pkthdr.len, 0);
	CHECK(h->m_pkthdr.rcvif == NULL);
	CHECK(h->m_pkthdr.tags.slh_first == NULL);
	CHECK(mtod(h, char *) == h->m_pktdat);
	CHECK_EQ(M_TRAILINGSPACE(h), MHLEN);

	struct mbuf *z = m_getclr(M_WAIT, MT_DATA);

	for (int i = 0; i < MLEN; i++)
		if (z->m_dat[i]) {
			CHECK(z->m_dat[i] == 0);
			break;
		}

	/* m_free returns the successor; m_freem frees a chain; MFREE too. */
	h->m_next = m;
	struct mbuf *n = m_free(h);

	CHECK(n == m);
	MFREE(m, n);
	CHECK(n == NULL);
	m_freem(z);
	m_freem(NULL);
	CHECK(m_free(NULL) == NULL);

	struct mbuf *a, *b;

	MGET(a, M_WAIT, MT_DATA);
	MGETHDR(b, M_WAIT, MT_DATA);
	CHECK(a && !(a->m_flags & M_PKTHDR));
	CHECK(b && (b->m_flags & M_PKTHDR));
	MCHTYPE(a, MT_CONTROL);
	CHECK_EQ(a->m_type, MT_CONTROL);
	a->m_next = b;
	m_freem(a);
	check_no_leaks();
}

static void test_bad_wait_flag_and_double_free(void)
{
	unsigned long before = diag_seen;

	CHECK(m_get(7, MT_DATA) == NULL);
	CHECK_EQ(diag_seen, before + 1);
	CHECK(strcmp(diag_last_func, "m_get") == 0);

	struct mbuf *m = m_get(M_WAIT, MT_DATA);

	m_free(m);
#ifndef TEST_UNDER_ASAN
	/* A second free is diagnosed (under ASan or valgrind, they report it instead). */
	if (!TEST_UNDER_VALGRIND()) {
		before = diag_seen;
		m_free(m);
		CHECK_EQ(diag_seen, before + 1);
		CHECK(strstr(diag_last_msg, "not live") != NULL);
	}
#endif
	check_no_leaks();
}

static void test_clusters(void)
{
	struct mbuf *m = m_gethdr(M_WAIT, MT_DATA);
	struct pktmem_stats st;

	MCLGET(m, M_WAIT);
	CHECK(m->m_flags & M_EXT);
	CHECK(m->m_flags & M_CLUSTER);
	CHECK(m->m_ext.ext_buf != NULL);
	CHECK_EQ(m->m_ext.ext_size, MCLBYTES);
	CHECK(mtod(m, char *) == m->m_ext.ext_buf);
	CHECK_EQ(M_TRAILINGSPACE(m), MCLBYTES);
	CHECK_EQ(pktmem_ext_refs(m->m_ext.ext_storage), 1);
	memset(mtod(m, void *), 0x42, MCLBYTES);
	kmem_cache_stats(pktmem_cluster_cache(), &st);
	CHECK_EQ(st.in_use, 1);

	/* A shared cluster has no usable leading or trailing space. */
	m->m_data += 100;
	m->m_len = 200;
	CHECK_EQ(M_LEADINGSPACE(m), 100);
	CHECK_EQ(m_leadingspace(m), 100); /* the function behind the macro */
	CHECK_EQ(M_TRAILINGSPACE(m), MCLBYTES - 300);
	pktmem_ext_get(m->m_ext.ext_storage);
	CHECK_EQ(M_LEADINGSPACE(m), 0);
	CHECK_EQ(M_TRAILINGSPACE(m), 0);
	pktmem_ext_put(m->m_ext.ext_storage, NULL);
	CHECK_EQ(M_LEADINGSPACE(m), 100);

	/* MCLGET on an mbuf that has storage is refused. */
	unsigned long before = diag_seen;

	MCLGET(m, M_WAIT);
	CHECK_EQ(diag_seen, before + 1);
	m_freem(m);

	/* A failed MCLGET leaves the mbuf as it was. */
	struct mbuf *n = m_get(M_WAIT, MT_DATA);

	pktmem_fault_set(PKTMEM_FAULT_NTH, 1, 0);
	MCLGET(n, M_DONTWAIT);
	pktmem_fault_off();
	CHECK(!(n->m_flags & M_EXT));
	CHECK(mtod(n, char *) == n->m_dat);
	m_free(n);
	check_no_leaks();
}

static void test_extmalloc(void)
{
	struct mbuf *m = m_get(M_WAIT, MT_DATA);

	MEXTMALLOC(m, 9000, M_WAIT);
	CHECK(m->m_flags & M_EXT);
	CHECK(!(m->m_flags & M_CLUSTER));
	CHECK_EQ(m->m_ext.ext_size, 9000);
	CHECK_EQ(M_TRAILINGSPACE(m), 9000);
	memset(mtod(m, void *), 1, 9000);
	m_free(m);

	m = m_get(M_WAIT, MT_DATA);
	pktmem_fault_set(PKTMEM_FAULT_NTH, 1, 0);
	MEXTMALLOC(m, 100, M_DONTWAIT);
	pktmem_fault_off();
	CHECK(!(m->m_flags & M_EXT));
	m_free(m);
	check_no_leaks();
}

struct free_log {
	int calls;
	struct mbuf *m;
	void *buf;
	size_t size;
	void *arg;
};

static void count_free(struct mbuf *m, void *buf, size_t size, void *arg)
{
	struct free_log *log = arg;

	log->calls++;
	log->m = m;
	log->buf = buf;
	log->size = size;
	log->arg = arg;
	free(buf);
}

static void test_extadd(void)
{
	struct free_log log = { 0 };
	char *buf = malloc(3000);
	struct mbuf *m = m_gethdr(M_WAIT, MT_DATA);

	MEXTADD(m, buf, 3000, 0, count_free, &log);
	CHECK(m->m_flags & M_EXT);
	CHECK(mtod(m, char *) == buf);
	CHECK_EQ(m->m_ext.ext_size, 3000);
	CHECK(m->m_ext.ext_free == count_free);
	CHECK(m->m_ext.ext_arg == &log);
	CHECK_EQ(M_TRAILINGSPACE(m), 3000);

	/* A second holder: the routine runs only when the last reference goes. */
	struct pktmem_ext *e = m->m_ext.ext_storage;

	pktmem_ext_get(e);
	m_free(m);
	CHECK_EQ(log.calls, 0);
	pktmem_ext_put(e, NULL);
	CHECK_EQ(log.calls, 1);
	CHECK(log.m == NULL); /* the last holder was not an mbuf */
	CHECK(log.buf == buf);
	CHECK_EQ(log.size, 3000);
	CHECK(log.arg == &log);

	/* When an mbuf lets go last, the routine sees that mbuf. */
	memset(&log, 0, sizeof(log));
	buf = malloc(64);
	m = m_get(M_WAIT, MT_DATA);
	MEXTADD(m, buf, 64, 7, count_free, &log);
	CHECK_EQ(m->m_ext.ext_type, 7);
	struct mbuf *seen = m;

	m_free(m);
	CHECK_EQ(log.calls, 1);
	CHECK(log.m == seen);

	/* No routine: free(3), the usual free for malloc'd memory. */
	m = m_get(M_WAIT, MT_DATA);
	MEXTADD(m, malloc(100), 100, 0, NULL, NULL);
	CHECK(m->m_flags & M_EXT);
	m_free(m); /* LeakSanitizer would report the buffer if it were not freed */

	/* If the storage header cannot be had, the buffer stays the caller's. */
	char stack_buf[32];

	m = m_get(M_WAIT, MT_DATA);
	pktmem_fault_set(PKTMEM_FAULT_NTH, 1, 0);
	MEXTADD(m, stack_buf, sizeof(stack_buf), 0, count_free, &log);
	pktmem_fault_off();
	CHECK(!(m->m_flags & M_EXT));
	m_free(m);
	CHECK_EQ(log.calls, 1);
	check_no_leaks();
}

static int rom_releases;

static void rom_release(struct mbuf *m, void *buf, size_t size, void *arg)
{
	(void)m, (void)buf, (void)size, (void)arg;
	rom_releases++; /* static memory: nothing to free */
}

static void test_readonly_storage(void)
{
	static char rom[256] = "read-only bytes";
	struct mbuf *m = m_get(M_WAIT, MT_DATA);

	MEXTADD(m, rom, sizeof(rom), 0, rom_release, NULL);
	pktmem_ext_set_readonly(m->m_ext.ext_storage);
	m->m_len = 16;
	m->m_data += 8;
	CHECK_EQ(M_LEADINGSPACE(m), 0);
	CHECK_EQ(M_TRAILINGSPACE(m), 0);
	CHECK(!m_writable(m));
	rom_releases = 0;
	m_free(m);
	CHECK_EQ(rom_releases, 1);
	check_no_leaks();
}

static void test_align_and_prepend_macro(void)
{
	struct mbuf *m = m_get(M_WAIT, MT_DATA);

	M_ALIGN(m, 20);
	CHECK_EQ(M_TRAILINGSPACE(m), 20 + ((MLEN - 20) % (int)sizeof(long)));
	CHECK((uintptr_t)mtod(m, char *) % sizeof(long) == 0);
	m_free(m);

	/* Misuse is diagnosed and changes nothing. */
	unsigned long before = diag_seen;

	m = m_get(M_WAIT, MT_DATA);
	M_ALIGN(m, MLEN + 1);
	M_ALIGN(m, -1);
	CHECK_EQ(diag_seen, before + 2);
	CHECK(mtod(m, char *) == m->m_dat);
	MCLGET(m, M_WAIT);
	M_ALIGN(m, 100); /* the area is the cluster's */
	CHECK_EQ(M_TRAILINGSPACE(m), 100 + ((MCLBYTES - 100) % (int)sizeof(long)));
	m->m_len = 1;
	struct mbuf *keep = m;

	M_PREPEND(m, -5, M_DONTWAIT); /* negative: diagnosed, m is NULL, the chain is the caller's */
	CHECK(m == NULL);
	CHECK_EQ(diag_seen, before + 3);
	m_free(keep);

	m = m_gethdr(M_WAIT, MT_DATA);
	MH_ALIGN(m, 40);
	CHECK(M_TRAILINGSPACE(m) >= 40 && M_TRAILINGSPACE(m) < 40 + (int)sizeof(long));
	m->m_len = 40;
	m->m_pkthdr.len = 40;
	memset(mtod(m, void *), 'p', 40);
	int lead = M_LEADINGSPACE(m);

	/* In place: leading space is used, pkthdr.len grows. */
	M_PREPEND(m, 14, M_DONTWAIT);
	CHECK(m != NULL);
	CHECK_EQ(m->m_len, 54);
	CHECK_EQ(m->m_pkthdr.len, 54);
	CHECK_EQ(M_LEADINGSPACE(m), lead - 14);
	CHECK(mtod(m, char *)[14] == 'p');
	m_freem(m);
	check_no_leaks();
}

static void test_pkthdr_copy_move(void)
{
	struct mbuf *from = m_gethdr(M_WAIT, MT_DATA);
	struct mbuf *to = m_get(M_WAIT, MT_DATA);
	struct m_tag *t1 = m_tag_get(1, 4, M_WAIT), *t2 = m_tag_get(2, 0, M_WAIT);

	memcpy(t1 + 1, "abcd", 4);
	m_tag_prepend(from, t2);
	m_tag_prepend(from, t1);
	from->m_pkthdr.len = 1234;
	from->m_pkthdr.rcvif = (struct ifnet *)0x1000;
	from->m_pkthdr.csum_flags = 5;
	from->m_flags |= M_BCAST | M_LINK1;

	M_COPY_PKTHDR(to, from);
	CHECK(to->m_flags & M_PKTHDR);
	CHECK(to->m_flags & M_BCAST);
	CHECK(to->m_flags & M_LINK1);
	CHECK(mtod(to, char *) == to->m_pktdat);
	CHECK_EQ(to->m_pkthdr.len, 1234);
	CHECK(to->m_pkthdr.rcvif == (struct ifnet *)0x1000);
	CHECK_EQ(to->m_pkthdr.csum_flags, 5);
	struct m_tag *c1 = m_tag_find(to, 1);

	CHECK(c1 != NULL && c1 != t1);
	CHECK(c1 && memcmp(c1 + 1, "abcd", 4) == 0);
	CHECK(m_tag_find(to, 2) != NULL);
	CHECK(m_tag_find(from, 1) == t1); /* the source keeps its own */
	/* the copy keeps the order */
	CHECK(to->m_pkthdr.tags.slh_first && to->m_pkthdr.tags.slh_first->m_tag_id == 1);

	struct mbuf *moved = m_get(M_WAIT, MT_DATA);

	M_MOVE_PKTHDR(moved, from);
	CHECK(moved->m_flags & M_PKTHDR);
	CHECK(!(from->m_flags & M_PKTHDR));
	CHECK(m_tag_find(moved, 1) == t1); /* the very same tags */
	CHECK(from->m_pkthdr.tags.slh_first == NULL);
	CHECK_EQ(moved->m_pkthdr.len, 1234);

	/* Bad targets and sources are refused. */
	unsigned long before = diag_seen;

	M_COPY_PKTHDR(to, from); /* from has no header now, to has one */
	CHECK_EQ(diag_seen, before + 1);

	/* Tag copies that fail are left out; the header is still copied. */
	struct mbuf *to2 = m_get(M_WAIT, MT_DATA);

	pktmem_fault_set(PKTMEM_FAULT_NTH, 2, 0);
	CHECK_EQ(m_copy_pkthdr(to2, moved), -ENOMEM);
	pktmem_fault_off();
	CHECK(to2->m_flags & M_PKTHDR);
	CHECK(to2->m_pkthdr.tags.slh_first == NULL);

	m_freem(from);
	m_freem(to);   /* frees its copied tags */
	m_freem(moved);
	m_freem(to2);
	check_no_leaks();
}

static void test_tags(void)
{
	struct mbuf *m = m_gethdr(M_WAIT, MT_DATA);
	struct m_tag *a = m_tag_get(10, 16, M_WAIT), *b = m_tag_get(20, 8, M_DONTWAIT);
	struct m_tag *c = m_tag_get(10, 0, M_WAIT);

	CHECK(a && b && c);
	CHECK_EQ(a->m_tag_id, 10);
	CHECK_EQ(a->m_tag_len, 16);
	memset(a + 1, 0x33, 16);
	m_tag_prepend(m, a);
	m_tag_prepend(m, b);
	CHECK(m_tag_find(m, 10) == a);
	CHECK(m_tag_find(m, 20) == b);
	CHECK(m_tag_find(m, 30) == NULL);
	m_tag_prepend(m, c);
	CHECK(m_tag_find(m, 10) == c); /* the newest of a type is found first */

	m_tag_unlink(m, c);
	CHECK(m_tag_find(m, 10) == a);
	m_tag_free(c);

	struct m_tag *copy = m_tag_copy(a);

	CHECK(copy && copy != a && copy->m_tag_len == 16);
	CHECK(copy && ((unsigned char *)(copy + 1))[15] == 0x33);
	m_tag_free(copy);

	m_tag_delete(m, b);
	CHECK(m_tag_find(m, 20) == NULL);

	/* m_tag_copy_chain: all or nothing. */
	struct mbuf *n = m_gethdr(M_WAIT, MT_DATA);
	struct m_tag *own = m_tag_get(99, 0, M_WAIT);

	m_tag_prepend(n, own);
	m_tag_prepend(m, m_tag_get(11, 2, M_WAIT));
	pktmem_fault_set(PKTMEM_FAULT_NTH, 2, 0);
	CHECK_EQ(m_tag_copy_chain(n, m), 0);
	pktmem_fault_off();
	CHECK(m_tag_find(n, 99) == own);
	CHECK(m_tag_find(n, 10) == NULL && m_tag_find(n, 11) == NULL);
	CHECK_EQ(m_tag_copy_chain(n, m), 1);
	CHECK(m_tag_find(n, 10) != NULL && m_tag_find(n, 11) != NULL && m_tag_find(n, 99) == own);

	/* Bad input. */
	unsigned long before = diag_seen;
	struct mbuf *plain = m_get(M_WAIT, MT_DATA);

	CHECK(m_tag_get(1, -1, M_WAIT) == NULL);
	CHECK(m_tag_find(plain, 1) == NULL);
	m_tag_unlink(m, own); /* not on m */
	m_tag_delete(m, own); /* not on m: not freed either */
	CHECK_EQ(diag_seen, before + 4);
	CHECK(m_tag_find(n, 99) == own);

	m_tag_delete_chain(n);
	CHECK(n->m_pkthdr.tags.slh_first == NULL);
	m_freem(n);
	m_freem(plain);
	m_freem(m); /* frees a and the copied 11 */
	CHECK(m_tag_get(5, 0, 9) == NULL);
	check_no_leaks();
}

static void test_limits_nowait(void)
{
	struct kmem_cache *cl = pktmem_cluster_cache();
	struct mbuf *m[4];
	struct pktmem_stats st0, st;

	kmem_cache_stats(cl, &st0);
	kmem_cache_set_limit(cl, 3);
	for (int i = 0; i < 4; i++) {
		m[i] = m_gethdr(M_DONTWAIT, MT_DATA);
		MCLGET(m[i], M_DONTWAIT);
	}
	CHECK(m[0]->m_flags & M_EXT);
	CHECK(m[2]->m_flags & M_EXT);
	CHECK(!(m[3]->m_flags & M_EXT)); /* denied at the limit */
	kmem_cache_stats(cl, &st);
	CHECK_EQ(st.denied, st0.denied + 1);
	for (int i = 0; i < 4; i++)
		m_freem(m[i]);
	kmem_cache_set_limit(cl, 0);
	check_no_leaks();
}

int main(void)
{
	diag_capture();
	TEST(test_sizes);
	TEST(test_get_and_free);
	TEST(test_bad_wait_flag_and_double_free);
	TEST(test_clusters);
	TEST(test_extmalloc);
	TEST(test_extadd);
	TEST(test_readonly_storage);
	TEST(test_align_and_prepend_macro);
	TEST(test_pkthdr_copy_move);
	TEST(test_tags);
	TEST(test_limits_nowait);
	return test_summary();
}
