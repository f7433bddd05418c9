/*
 * <pktmem/mbuf.h>, bad input: each test here proves rows of
 * docs/bad-inputs/mbuf.md. For every refused call it asserts the return
 * value, the diagnostic (function name and values), that the caller's chain
 * is byte for byte as it was (or freed, where the contract says so), and
 * that no mbuf, cluster, tag or storage header is left behind.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pktmem/mbuf.h>

#include "check.h"

/* ------------------------------------------------------------ helpers */

static unsigned long long baseline_in_use;

/* Every test ends here: nothing of ours left in any cache (tags are kmalloc). */
static void check_clean(void)
{
	CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), 0);
	CHECK_EQ(cache_in_use(pktmem_cluster_cache()), 0);
	CHECK_EQ(all_in_use(), baseline_in_use);
}

static inline uint8_t pat(int i)
{
	return (uint8_t)(i * 7 + 3);
}

/*
 * The test chain: a packet header with 100 bytes inside, a cluster with
 * 1000 bytes (100 free in front), a plain mbuf with 200 bytes. 1300 bytes.
 */
#define CH_LEN 1300

static struct mbuf *chain(void)
{
	struct mbuf *h = m_gethdr(M_WAIT, MT_DATA), *c = m_get(M_WAIT, MT_DATA), *p = m_get(M_WAIT, MT_DATA);

	if (!h || !c || !p)
		abort();
	MCLGET(c, M_WAIT);
	if (!(c->m_flags & M_EXT))
		abort();
	c->m_data += 100;
	h->m_len = 100;
	c->m_len = 1000;
	p->m_len = 200;
	h->m_next = c;
	c->m_next = p;
	h->m_pkthdr.len = CH_LEN;
	int k = 0;

	for (struct mbuf *m = h; m; m = m->m_next)
		for (int i = 0; i < m->m_len; i++)
			m->m_data[i] = (char)pat(k++);
	return h;
}

/* What a chain looks like: every mbuf's place and length, and its bytes. */
struct snap {
	int n, pktlen, flags;
	struct mbuf *mb[8];
	char *data[8];
	int len[8];
	int refs[8];
	uint8_t bytes[4096];
	int total;
};

static void snap_take(struct snap *s, const struct mbuf *m)
{
	memset(s, 0, sizeof(*s));
	s->pktlen = (m->m_flags & M_PKTHDR) ? m->m_pkthdr.len : -1;
	s->flags = m->m_flags;
	for (; m && s->n < 8; m = m->m_next, s->n++) {
		s->mb[s->n] = (struct mbuf *)m;
		s->data[s->n] = m->m_data;
		s->len[s->n] = m->m_len;
		s->refs[s->n] = (m->m_flags & M_EXT) ? pktmem_ext_refs(m->m_ext.ext_storage) : 0;
		memcpy(s->bytes + s->total, m->m_data, (size_t)m->m_len);
		s->total += m->m_len;
	}
}

static int snap_same(const struct snap *a, const struct mbuf *m)
{
	static struct snap b;

	snap_take(&b, m);
	if (a->n != b.n || a->pktlen != b.pktlen || a->flags != b.flags || a->total != b.total)
		return 0;
	for (int i = 0; i < a->n; i++)
		if (a->mb[i] != b.mb[i] || a->data[i] != b.data[i] || a->len[i] != b.len[i] ||
		    a->refs[i] != b.refs[i])
			return 0;
	return memcmp(a->bytes, b.bytes, (size_t)a->total) == 0;
}

static int chain_is_pat(const struct mbuf *m, int from, int len)
{
	int k = 0;

	for (; m; m = m->m_next)
		for (int i = 0; i < m->m_len; i++, k++)
			if (k >= from && k < from + len && (uint8_t)m->m_data[i] != pat(k))
				return 0;
	return 1;
}

/* Run @fn in a child; true when the child died (a signal, or a sanitizer's exit). */
static int dies(void (*fn)(void))
{
	fflush(NULL);
	pid_t pid = fork();

	if (pid < 0)
		return 0;
	if (pid == 0) {
		struct rlimit no_core = { 0, 0 };

		setrlimit(RLIMIT_CORE, &no_core);
		if (!freopen("/dev/null", "w", stderr))
			_exit(0);
		fn();
		_exit(0); /* survived */
	}
	int st = 0;

	if (waitpid(pid, &st, 0) != pid)
		return 0;
	return WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) != 0);
}

/* ------------------------------------------------------------ allocation */

static void test_alloc_bad_wait_and_type(void)
{
	struct mbuf *m = (struct mbuf *)1;

	EXPECT_DIAG("m_get", m = m_get(7, MT_DATA));
	CHECK(m == NULL && HAS("wait flag 7"));
	EXPECT_DIAG("m_getclr", m = m_getclr(-1, MT_DATA));
	CHECK(m == NULL);
	EXPECT_DIAG("m_gethdr", m = m_gethdr(2, MT_DATA));
	CHECK(m == NULL);
	EXPECT_DIAG("m_get", MGET(m, 3, MT_DATA));
	CHECK(m == NULL);
	EXPECT_DIAG("m_gethdr", MGETHDR(m, 3, MT_DATA));
	CHECK(m == NULL);

	/* The type is the caller's: not checked, stored as a short (as in BSD). */
	EXPECT_NO_DIAG(m = m_get(M_WAIT, 300));
	CHECK(m != NULL && m->m_type == 300);
	EXPECT_NO_DIAG(MCHTYPE(m, -2));
	CHECK_EQ(m->m_type, -2);
	m_free(m);
	check_clean();
}

static void test_double_free(void)
{
#ifndef TEST_UNDER_ASAN
	if (TEST_UNDER_VALGRIND())
		return; /* memcheck reports the reuse itself */
	struct mbuf *m = chain(), *second = m->m_next, *n = (struct mbuf *)1;

	m_freem(m);
	CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), 0);
	/* The whole chain again: the head is seen dead, the walk stops there. */
	EXPECT_DIAG("m_free", m_freem(m));
	CHECK(HAS("not live"));
	/* One mbuf again, by function and by macro: NULL, nothing freed twice. */
	EXPECT_DIAG("m_free", n = m_free(second));
	CHECK(n == NULL);
	n = (struct mbuf *)1;
	EXPECT_DIAG("m_free", MFREE(m, n));
	CHECK(n == NULL);
	/* The cache's count did not go below zero. */
	CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), 0);
	/* The cache is intact: a new mbuf comes out live. */
	struct mbuf *fresh = m_get(M_WAIT, MT_DATA);

	CHECK(fresh != NULL);
	m_free(fresh);
	check_clean();
#endif
}

static void test_free_stack_pointer(void)
{
	struct mbuf onstack;
	struct mbuf *n = (struct mbuf *)1;

	/* Zeroed, as any non-mbuf memory of MSIZE bytes: no live marker. */
	memset(&onstack, 0, sizeof(onstack));
	EXPECT_DIAG("m_free", n = m_free(&onstack));
	CHECK(n == NULL && HAS("not live"));
	EXPECT_DIAG("m_free", m_freem(&onstack));
	n = (struct mbuf *)1;
	EXPECT_DIAG("m_free", MFREE(&onstack, n));
	CHECK(n == NULL);

	/*
	 * A stack copy of a live mbuf, with a cluster and a tag, has the
	 * marker: m_free refuses it before dropping anything, so the
	 * original keeps its storage reference and its tag.
	 */
	struct mbuf *real = m_gethdr(M_WAIT, MT_DATA);

	MCLGET(real, M_WAIT);
	CHECK(real->m_flags & M_EXT);
	struct m_tag *t = m_tag_get(77, 4, M_WAIT);

	CHECK(t != NULL);
	m_tag_prepend(real, t);
	memcpy(&onstack, real, sizeof(onstack));
	EXPECT_DIAG("m_free", n = m_free(&onstack));
	CHECK(n == NULL && HAS("not library memory"));
	CHECK_EQ(pktmem_ext_refs(real->m_ext.ext_storage), 1);
	CHECK(m_tag_find(real, 77) == t);
	CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), 1); /* real is still there, ours */
	m_freem(real);
	check_clean();
}

static void test_ext_twice(void)
{
	struct mbuf *m = m_get(M_WAIT, MT_DATA);
	static char user[64];

	MCLGET(m, M_WAIT);
	CHECK(m->m_flags & M_EXT);
	char *buf = m->m_ext.ext_buf;
	struct pktmem_ext *st = m->m_ext.ext_storage;

	EXPECT_DIAG("MCLGET", MCLGET(m, M_WAIT));
	CHECK(HAS("already has external storage"));
	EXPECT_DIAG("MCLGET", m_clget(m, M_DONTWAIT));
	EXPECT_DIAG("MEXTMALLOC", MEXTMALLOC(m, 100, M_WAIT));
	EXPECT_DIAG("MEXTMALLOC", m_extmalloc(m, 100, M_WAIT));
	EXPECT_DIAG("MEXTADD", MEXTADD(m, user, 64, 0, NULL, NULL));
	EXPECT_DIAG("MEXTADD", m_extadd(m, user, 64, 0, NULL, NULL));
	/* The first storage stays, alone; the caller's buffer is still the caller's. */
	CHECK(m->m_ext.ext_buf == buf && m->m_ext.ext_storage == st);
	CHECK_EQ(pktmem_ext_refs(st), 1);
	CHECK(m->m_flags & M_CLUSTER);
	CHECK_EQ(cache_in_use(pktmem_cluster_cache()), 1);
	m_free(m);

	/* Bad sizes, buffers, wait flags and NULL: M_EXT stays clear. */
	m = m_get(M_WAIT, MT_DATA);
	EXPECT_DIAG("MEXTMALLOC", MEXTMALLOC(m, 0, M_WAIT));
	EXPECT_DIAG("MEXTMALLOC", MEXTMALLOC(m, -5, M_WAIT));
	CHECK(HAS("-5"));
	EXPECT_DIAG("MEXTMALLOC", MEXTMALLOC(m, 100, 9));
	EXPECT_DIAG("MEXTADD", MEXTADD(m, NULL, 64, 0, NULL, NULL));
	EXPECT_DIAG("MEXTADD", MEXTADD(m, user, -1, 0, NULL, NULL));
	EXPECT_DIAG("MCLGET", MCLGET(m, 5));
	EXPECT_DIAG("MCLGET", MCLGET((struct mbuf *)NULL, M_WAIT));
	CHECK(!(m->m_flags & M_EXT) && m->m_data == m->m_dat);
	m_free(m);
	check_clean();
}

/* ------------------------------------------------------------ packet headers */

static void test_pkthdr_bad(void)
{
	struct mbuf *h = m_gethdr(M_WAIT, MT_DATA), *plain = m_get(M_WAIT, MT_DATA);
	struct mbuf *other = m_gethdr(M_WAIT, MT_DATA);
	struct m_tag *t = m_tag_get(5, 4, M_WAIT);

	m_tag_prepend(h, t);
	h->m_pkthdr.len = 77;
	other->m_pkthdr.len = 12;
	int rc = 0;

	/* from without a header */
	EXPECT_DIAG("M_COPY_PKTHDR", rc = m_copy_pkthdr(other, plain));
	CHECK_EQ(rc, -EINVAL);
	CHECK(HAS("no packet header"));
	/* to not empty (already a header) */
	EXPECT_DIAG("M_COPY_PKTHDR", rc = m_copy_pkthdr(other, h));
	CHECK_EQ(rc, -EINVAL);
	CHECK(HAS("not empty"));
	EXPECT_DIAG("M_COPY_PKTHDR", M_COPY_PKTHDR(other, h));
	EXPECT_DIAG("M_COPY_PKTHDR", rc = m_copy_pkthdr(NULL, h));
	CHECK_EQ(rc, -EINVAL);
	CHECK_EQ(other->m_pkthdr.len, 12);
	CHECK(other->m_pkthdr.tags.slh_first == NULL);

	EXPECT_DIAG("M_MOVE_PKTHDR", m_move_pkthdr(other, h));
	EXPECT_DIAG("M_MOVE_PKTHDR", M_MOVE_PKTHDR(plain, other->m_next));
	EXPECT_DIAG("M_MOVE_PKTHDR", M_MOVE_PKTHDR(plain, NULL));
	/* to with external storage is not empty either */
	MCLGET(plain, M_WAIT);
	EXPECT_DIAG("M_MOVE_PKTHDR", M_MOVE_PKTHDR(plain, h));
	/* Nothing moved: h keeps its header and its tag. */
	CHECK((h->m_flags & M_PKTHDR) && h->m_pkthdr.len == 77);
	CHECK(m_tag_find(h, 5) == t);
	CHECK(!(plain->m_flags & M_PKTHDR));
	m_freem(h);
	m_freem(plain);
	m_freem(other);
	check_clean();
}

static void test_align_bad(void)
{
	struct mbuf *m = m_get(M_WAIT, MT_DATA), *h = m_gethdr(M_WAIT, MT_DATA);

	EXPECT_DIAG("M_ALIGN", M_ALIGN(m, MLEN + 1));
	CHECK(HAS("457"));
	EXPECT_DIAG("M_ALIGN", M_ALIGN(m, -1));
	EXPECT_DIAG("M_ALIGN", MH_ALIGN(h, MHLEN + 1));
	EXPECT_DIAG("M_ALIGN", m_align(h, -8));
	CHECK(m->m_data == m->m_dat && h->m_data == h->m_pktdat);
	/* An mbuf that already holds data is not "newly allocated". */
	m->m_len = 10;
	EXPECT_DIAG("M_ALIGN", M_ALIGN(m, 10));
	CHECK(m->m_data == m->m_dat && m->m_len == 10);
	EXPECT_NO_DIAG(m_align(NULL, 0)); /* NULL: nothing to align, nothing done */
	m_free(m);
	m_free(h);
	check_clean();
}

/* ------------------------------------------------------------ prepend */

static void test_prepend_bad(void)
{
	struct mbuf *m = chain(), *keep = m;
	static struct snap s;

	snap_take(&s, m);
	CHECK_EQ(M_LEADINGSPACE(m), 0); /* the header's data starts at m_pktdat */

	/* More than MHLEN with M_DONTWAIT: refused; m is NULL, the chain not freed. */
	EXPECT_DIAG("m_prepend", M_PREPEND(m, MHLEN + 1, M_DONTWAIT));
	CHECK(m == NULL);
	CHECK(HAS("401") && HAS("MHLEN"));
	CHECK(snap_same(&s, keep));
	m = keep;
	EXPECT_DIAG("m_prepend", M_PREPEND(m, -4, M_DONTWAIT));
	CHECK(m == NULL && snap_same(&s, keep));
	m = keep;

	/* The function itself. */
	struct mbuf *r = (struct mbuf *)1;

	EXPECT_DIAG("m_prepend", r = m_prepend(m, MHLEN + 1, M_WAIT));
	CHECK(r == NULL);
	EXPECT_DIAG("m_prepend", r = m_prepend(m, -1, M_DONTWAIT));
	CHECK(r == NULL);
	EXPECT_DIAG("m_prepend", r = m_prepend(m, 4, 6));
	CHECK(r == NULL);
	EXPECT_DIAG("m_prepend", r = m_prepend(NULL, 4, M_DONTWAIT));
	CHECK(r == NULL);
	CHECK(snap_same(&s, m));
	CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), 3);

	/* More than MHLEN where the writable room in front holds it: in place. */
	struct mbuf *c = m_gethdr(M_WAIT, MT_DATA);

	MCLGET(c, M_WAIT);
	c->m_data += 1000;
	c->m_len = 10;
	c->m_pkthdr.len = 10;
	EXPECT_NO_DIAG(M_PREPEND(c, MHLEN + 100, M_DONTWAIT));
	CHECK(c != NULL && c->m_len == 10 + MHLEN + 100 && c->m_pkthdr.len == c->m_len);
	CHECK(c->m_next == NULL);
	m_freem(c);
	m_freem(m);
	check_clean();
}

/* ------------------------------------------------------------ copies */

static void test_copym_bad(void)
{
	struct mbuf *m = chain(), *r = (struct mbuf *)1;
	static struct snap s;

	snap_take(&s, m);
	EXPECT_DIAG("m_copym", r = m_copym(m, 0, -1, M_WAIT));
	CHECK(r == NULL && HAS("negative"));
	EXPECT_DIAG("m_copym", r = m_copym(m, -1, 10, M_WAIT));
	CHECK(r == NULL);
	EXPECT_DIAG("m_copym", r = m_copym(m, CH_LEN + 1, 0, M_WAIT));
	CHECK(r == NULL && HAS("past the end") && HAS("1300"));
	EXPECT_DIAG("m_copym", r = m_copym(m, 1000, 301, M_DONTWAIT));
	CHECK(r == NULL);
	EXPECT_DIAG("m_copym", r = m_copym(m, CH_LEN + 1, M_COPYALL, M_WAIT));
	CHECK(r == NULL && HAS("past the end"));
	EXPECT_DIAG("m_copym", r = m_copym(m, -1, M_COPYALL, M_WAIT));
	CHECK(r == NULL);
	EXPECT_DIAG("m_copym", r = m_copym(NULL, 0, 1, M_WAIT));
	CHECK(r == NULL);
	EXPECT_DIAG("m_copym", r = m_copym(m, 0, 1, 4));
	CHECK(r == NULL);

	EXPECT_DIAG("m_dup", r = m_dup(m, 0, -1, M_WAIT));
	CHECK(r == NULL);
	EXPECT_DIAG("m_dup", r = m_dup(m, CH_LEN, 1, M_WAIT));
	CHECK(r == NULL);
	EXPECT_DIAG("m_dup", r = m_dup(m, CH_LEN + 5, M_COPYALL, M_WAIT));
	CHECK(r == NULL);

	/* A copy of nothing is NULL, without a diagnostic (NetBSD). */
	EXPECT_NO_DIAG(r = m_copym(m, CH_LEN, M_COPYALL, M_WAIT));
	CHECK(r == NULL);
	EXPECT_NO_DIAG(r = m_copym(m, 5, 0, M_WAIT));
	CHECK(r == NULL);
	EXPECT_NO_DIAG(r = m_dup(m, CH_LEN, M_COPYALL, M_WAIT));
	CHECK(r == NULL);

	/* M_COPYALL where it belongs: to the end, from any offset inside. */
	EXPECT_NO_DIAG(r = m_copym(m, 0, M_COPYALL, M_WAIT));
	CHECK(r != NULL && m_length(r) == CH_LEN && r->m_pkthdr.len == CH_LEN && chain_is_pat(r, 0, CH_LEN));
	m_freem(r);
	EXPECT_NO_DIAG(r = m_dup(m, 150, M_COPYALL, M_WAIT));
	CHECK(r != NULL && m_length(r) == CH_LEN - 150);
	m_freem(r);

	/* m_copypacket: the header is required. */
	struct mbuf *plain = m_get(M_WAIT, MT_DATA);

	plain->m_len = 5;
	EXPECT_DIAG("m_copypacket", r = m_copypacket(plain, M_WAIT));
	CHECK(r == NULL && HAS("no packet header"));
	EXPECT_DIAG("m_copypacket", r = m_copypacket(NULL, M_WAIT));
	CHECK(r == NULL);
	EXPECT_DIAG("m_copypacket", r = m_copypacket(m, 17));
	CHECK(r == NULL);

	CHECK(snap_same(&s, m));
	m_freem(plain);
	m_freem(m);
	check_clean();
}

static void test_copydata_bad(void)
{
	struct mbuf *m = chain();
	static struct snap s;
	uint8_t out[CH_LEN + 8];

	snap_take(&s, m);
	memset(out, 0xee, sizeof(out));
	EXPECT_DIAG("m_copydata", m_copydata(m, 0, -1, out));
	EXPECT_DIAG("m_copydata", m_copydata(m, -3, 4, out));
	CHECK(HAS("-3"));
	EXPECT_DIAG("m_copydata", m_copydata(m, CH_LEN + 1, 0, out));
	EXPECT_DIAG("m_copydata", m_copydata(m, CH_LEN - 10, 11, out));
	CHECK(HAS("past the end") && HAS("1290"));
	/* M_COPYALL is not "to the end" here (nor in NetBSD): a length past the end. */
	EXPECT_DIAG("m_copydata", m_copydata(m, 0, M_COPYALL, out));
	EXPECT_DIAG("m_copydata", m_copydata(m, 0, 1, NULL));
	EXPECT_DIAG("m_copydata", m_copydata(NULL, 0, 1, out));
	for (size_t i = 0; i < sizeof(out); i++)
		if (out[i] != 0xee) {
			CHECK(out[i] == 0xee); /* nothing written */
			break;
		}
	EXPECT_NO_DIAG(m_copydata(m, CH_LEN, 0, out)); /* zero bytes at the end is fine */
	CHECK(snap_same(&s, m));
	m_freem(m);
	check_clean();
}

static void test_copyback_bad(void)
{
	struct mbuf *m = chain(), *r = (struct mbuf *)1;
	static struct snap s;
	static uint8_t src[CH_LEN + 64];

	memset(src, 0x11, sizeof(src));
	snap_take(&s, m);
	EXPECT_DIAG("m_copyback", m_copyback(m, 0, -1, src));
	EXPECT_DIAG("m_copyback", m_copyback(m, -1, 4, src));
	EXPECT_DIAG("m_copyback", m_copyback(m, INT_MAX - 2, 4, src));
	EXPECT_DIAG("m_copyback", m_copyback(m, 0, 4, NULL));
	EXPECT_DIAG("m_copyback", m_copyback(NULL, 0, 4, src));
	/* M_COPYALL is no length to write: refused before a byte is read. */
	EXPECT_DIAG("m_copyback", m_copyback(m, 0, M_COPYALL, src));
	CHECK(HAS("M_COPYALL"));
	CHECK(snap_same(&s, m));

	/* Shared storage in the range: refused before anything is written. */
	struct mbuf *copy = m_copym(m, 0, M_COPYALL, M_WAIT);

	CHECK(copy != NULL);
	EXPECT_DIAG("m_copyback", m_copyback(m, 50, 200, src));
	CHECK(HAS("shared"));
	CHECK(chain_is_pat(m, 0, CH_LEN) && chain_is_pat(copy, 0, CH_LEN));
	m_freem(copy);

	/* m_copyback_cow: no extension, no M_COPYALL; m0 stays the caller's. */
	EXPECT_DIAG("m_copyback_cow", r = m_copyback_cow(m, CH_LEN - 1, 2, src, M_WAIT));
	CHECK(r == NULL && HAS("extends"));
	EXPECT_DIAG("m_copyback_cow", r = m_copyback_cow(m, 0, M_COPYALL, src, M_WAIT));
	CHECK(r == NULL);
	EXPECT_DIAG("m_copyback_cow", r = m_copyback_cow(m, 0, -1, src, M_WAIT));
	CHECK(r == NULL);
	EXPECT_DIAG("m_copyback_cow", r = m_copyback_cow(m, 0, 1, src, 8));
	CHECK(r == NULL);
	CHECK(snap_same(&s, m));

	/* An offset past the end is no error for m_copyback: the gap is zeros. */
	EXPECT_NO_DIAG(m_copyback(m, CH_LEN + 10, 5, src));
	CHECK_EQ(m_length(m), CH_LEN + 15);
	CHECK_EQ(m->m_pkthdr.len, CH_LEN + 15);
	uint8_t tail[15];

	m_copydata(m, CH_LEN, 15, tail);
	for (int i = 0; i < 10; i++)
		CHECK_EQ(tail[i], 0);
	for (int i = 10; i < 15; i++)
		CHECK_EQ(tail[i], 0x11);
	CHECK(chain_is_pat(m, 0, CH_LEN));
	m_freem(m);
	check_clean();
}

static void test_makewritable_bad(void)
{
	struct mbuf *m = chain(), *none = NULL;
	static struct snap s;
	int rc = -1;

	snap_take(&s, m);
	EXPECT_DIAG("m_makewritable", rc = m_makewritable(&m, -1, 4, M_WAIT));
	CHECK_EQ(rc, EINVAL);
	EXPECT_DIAG("m_makewritable", rc = m_makewritable(&m, 0, -4, M_WAIT));
	CHECK_EQ(rc, EINVAL);
	EXPECT_DIAG("m_makewritable", rc = m_makewritable(&m, 0, 4, 3));
	CHECK_EQ(rc, EINVAL);
	EXPECT_DIAG("m_makewritable", rc = m_makewritable(NULL, 0, 4, M_WAIT));
	CHECK_EQ(rc, EINVAL);
	EXPECT_DIAG("m_makewritable", rc = m_makewritable(&none, 0, 4, M_WAIT));
	CHECK_EQ(rc, EINVAL);
	CHECK(snap_same(&s, m));

	/* Past the end, M_COPYALL included: stops at the end, as in NetBSD. */
	EXPECT_NO_DIAG(rc = m_makewritable(&m, CH_LEN + 50, 10, M_WAIT));
	CHECK_EQ(rc, 0);
	CHECK(snap_same(&s, m));
	struct mbuf *copy = m_copym(m, 0, M_COPYALL, M_WAIT);

	EXPECT_NO_DIAG(rc = m_makewritable(&m, 0, M_COPYALL, M_WAIT));
	CHECK_EQ(rc, 0);
	for (struct mbuf *x = m; x; x = x->m_next)
		CHECK(m_writable(x));
	CHECK_EQ(m_length(m), CH_LEN);
	CHECK(chain_is_pat(m, 0, CH_LEN) && chain_is_pat(copy, 0, CH_LEN));
	m_freem(copy);
	m_freem(m);
	check_clean();
}

static int apply_calls;

static int apply_count(void *arg, void *data, unsigned int count)
{
	(void)arg;
	(void)data;
	(void)count;
	apply_calls++;
	return 0;
}

static void test_apply_length_devget_bad(void)
{
	struct mbuf *m = chain(), *r = (struct mbuf *)1;
	int rc = 0;
	char raw[64] = { 0 };

	apply_calls = 0;
	EXPECT_DIAG("m_apply", rc = m_apply(m, 0, CH_LEN + 1, apply_count, NULL));
	CHECK_EQ(rc, EINVAL);
	EXPECT_DIAG("m_apply", rc = m_apply(m, 0, M_COPYALL, apply_count, NULL));
	CHECK_EQ(rc, EINVAL);
	EXPECT_DIAG("m_apply", rc = m_apply(m, -1, 1, apply_count, NULL));
	CHECK_EQ(rc, EINVAL);
	EXPECT_DIAG("m_apply", rc = m_apply(m, 0, 1, NULL, NULL));
	CHECK_EQ(rc, EINVAL);
	CHECK_EQ(apply_calls, 0);

	/* m_length: NULL is an empty chain. */
	CHECK_EQ(m_length(NULL), 0);

	EXPECT_DIAG("m_devget", r = m_devget(raw, -1, 0, NULL, NULL));
	CHECK(r == NULL && HAS("-1"));
	EXPECT_DIAG("m_devget", r = m_devget(raw, 64, 61, NULL, NULL)); /* trailer past the end */
	CHECK(r == NULL);
	EXPECT_DIAG("m_devget", r = m_devget(raw, 64, -2, NULL, NULL));
	CHECK(r == NULL);
	EXPECT_DIAG("m_devget", r = m_devget(NULL, 10, 0, NULL, NULL));
	CHECK(r == NULL);
	m_freem(m);
	check_clean();
}

/* ------------------------------------------------------------ reshaping */

static void test_adj_split_past_end(void)
{
	struct mbuf *m = chain(), *r = (struct mbuf *)1;
	static struct snap s;

	/* m_split past the end: NULL, chain unchanged, no diagnostic. */
	snap_take(&s, m);
	EXPECT_NO_DIAG(r = m_split(m, CH_LEN + 1, M_WAIT));
	CHECK(r == NULL && snap_same(&s, m));
	EXPECT_NO_DIAG(r = m_split(m, M_COPYALL, M_DONTWAIT));
	CHECK(r == NULL && snap_same(&s, m));
	EXPECT_DIAG("m_split", r = m_split(m, -1, M_WAIT));
	CHECK(r == NULL && HAS("-1"));
	EXPECT_DIAG("m_split", r = m_split(m, 10, 5));
	CHECK(r == NULL);
	EXPECT_DIAG("m_split", r = m_split(NULL, 10, M_WAIT));
	CHECK(r == NULL && snap_same(&s, m));

	/* m_adj of more than there is, either end: the chain is emptied, kept. */
	EXPECT_NO_DIAG(m_adj(m, CH_LEN + 500));
	CHECK_EQ(m_length(m), 0);
	CHECK_EQ(m->m_pkthdr.len, 0);
	CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), 3);
	m_freem(m);
	m = chain();
	EXPECT_NO_DIAG(m_adj(m, -(CH_LEN + 500)));
	CHECK_EQ(m_length(m), 0);
	CHECK_EQ(m->m_pkthdr.len, 0);
	m_freem(m);
	m = chain();
	EXPECT_NO_DIAG(m_adj(m, INT_MIN));
	CHECK_EQ(m_length(m), 0);
	CHECK_EQ(m->m_pkthdr.len, 0);
	m_freem(m);
	m = chain();
	EXPECT_NO_DIAG(m_adj(m, M_COPYALL));
	CHECK_EQ(m_length(m), 0);
	EXPECT_DIAG("m_adj", m_adj(NULL, 4));
	m_freem(m);
	check_clean();
}

static void test_pullup_pulldown_bad(void)
{
	struct mbuf *m = chain(), *r = (struct mbuf *)1;
	static struct snap s;
	int offp = 4242;

	/* Lengths outside the contract: diagnosed, the chain kept. */
	snap_take(&s, m);
	EXPECT_DIAG("m_pullup", r = m_pullup(m, MHLEN + 1));
	CHECK(r == NULL && HAS("401"));
	EXPECT_DIAG("m_pullup", r = m_pullup(m, -1));
	CHECK(r == NULL);
	EXPECT_DIAG("m_pullup", r = m_pullup(m, M_COPYALL));
	CHECK(r == NULL);
	EXPECT_DIAG("m_pullup", r = m_pullup(NULL, 4));
	EXPECT_DIAG("m_pulldown", r = m_pulldown(m, 0, MCLBYTES + 1, &offp));
	CHECK(r == NULL && HAS("2049"));
	EXPECT_DIAG("m_pulldown", r = m_pulldown(m, -1, 4, &offp));
	EXPECT_DIAG("m_pulldown", r = m_pulldown(m, 0, -1, NULL));
	EXPECT_DIAG("m_pulldown", r = m_pulldown(m, 0, M_COPYALL, NULL));
	EXPECT_DIAG("m_pulldown", r = m_pulldown(NULL, 0, 4, NULL));
	CHECK(r == NULL && offp == 4242);
	CHECK(snap_same(&s, m));

	/* Beyond the packet: the contract frees the chain and returns NULL. */
	EXPECT_NO_DIAG(r = m_pullup(m, MHLEN)); /* 400 > 100 in the head, chain long enough */
	CHECK(r != NULL && r->m_len >= MHLEN && chain_is_pat(r, 0, CH_LEN));
	m_freem(r);

	struct mbuf *small = m_gethdr(M_WAIT, MT_DATA), *two = m_get(M_WAIT, MT_DATA);

	small->m_len = 10;
	two->m_len = 20;
	small->m_next = two;
	small->m_pkthdr.len = 30;
	EXPECT_NO_DIAG(r = m_pullup(small, 31)); /* the packet has 30 */
	CHECK(r == NULL);
	CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), 0);

	m = chain();
	EXPECT_NO_DIAG(r = m_pulldown(m, CH_LEN + 1, 1, &offp));
	CHECK(r == NULL && offp == 4242);
	CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), 0);
	CHECK_EQ(cache_in_use(pktmem_cluster_cache()), 0);
	m = chain();
	EXPECT_NO_DIAG(r = m_pulldown(m, CH_LEN - 5, 6, NULL)); /* region runs past the end */
	CHECK(r == NULL);
	m = chain();
	EXPECT_NO_DIAG(r = m_pulldown(m, CH_LEN, 0, NULL)); /* an empty region at the very end */
	CHECK(r == NULL);
	check_clean();
}

static void test_max_protohdr_bad(void)
{
	int saved = max_protohdr;
	int values[] = { -100, 0, INT_MAX };

	for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
		struct mbuf *m = chain(), *r;

		max_protohdr = values[v];
		EXPECT_NO_DIAG(r = m_pullup(m, 150));
		CHECK(r != NULL && r->m_len >= 150 && r->m_len <= MLEN);
		CHECK(r && m_length(r) == CH_LEN && chain_is_pat(r, 0, CH_LEN));
		m_freem(r);
	}
	max_protohdr = saved;
	check_clean();
}

static void test_cat_bad(void)
{
	struct mbuf *m = chain(), *other = chain();
	static struct snap s;

	snap_take(&s, m);
	EXPECT_DIAG("m_cat", m_cat(NULL, other));
	EXPECT_DIAG("m_cat", m_cat(m, m));
	CHECK(HAS("already part"));
	EXPECT_DIAG("m_cat", m_cat(m, m->m_next->m_next)); /* would make a cycle */
	EXPECT_NO_DIAG(m_cat(m, NULL));
	CHECK(snap_same(&s, m));
	m_freem(m);
	m_freem(other);
	check_clean();
}

/* ------------------------------------------------------------ freed chains */

static void test_freed_chain_refused(void)
{
#ifndef TEST_UNDER_ASAN
	if (TEST_UNDER_VALGRIND())
		return;
	struct mbuf *m = m_gethdr(M_WAIT, MT_DATA), *r = (struct mbuf *)1;
	uint8_t out[8];

	m->m_len = 8;
	m->m_pkthdr.len = 8;
	m_free(m);
	EXPECT_DIAG("m_copym", r = m_copym(m, 0, 4, M_WAIT));
	CHECK(r == NULL && HAS("not live"));
	EXPECT_DIAG("m_copydata", m_copydata(m, 0, 4, out));
	EXPECT_DIAG("m_copyback", m_copyback(m, 0, 4, out));
	EXPECT_DIAG("m_adj", m_adj(m, 4));
	EXPECT_DIAG("m_split", r = m_split(m, 4, M_WAIT));
	EXPECT_DIAG("m_pullup", r = m_pullup(m, 4));
	EXPECT_DIAG("m_pulldown", r = m_pulldown(m, 0, 4, NULL));
	EXPECT_DIAG("m_prepend", r = m_prepend(m, 4, M_WAIT));
	EXPECT_DIAG("MCLGET", MCLGET(m, M_WAIT));
	EXPECT_DIAG("M_ALIGN", M_ALIGN(m, 4));
	CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), 0);
	check_clean();
#endif
}

/* ------------------------------------------------------------ tags */

static void test_tags_bad(void)
{
	struct m_tag *t = (struct m_tag *)1;
	unsigned long long before = all_in_use();

	/* Lengths and types outside 0..65535, bad wait flag: NULL, nothing allocated. */
	EXPECT_DIAG("m_tag_get", t = m_tag_get(1, 65536, M_WAIT));
	CHECK(t == NULL && HAS("65536"));
	EXPECT_DIAG("m_tag_get", t = m_tag_get(1, INT_MAX, M_DONTWAIT));
	CHECK(t == NULL);
	EXPECT_DIAG("m_tag_get", t = m_tag_get(1, -1, M_WAIT));
	CHECK(t == NULL);
	EXPECT_DIAG("m_tag_get", t = m_tag_get(-1, 4, M_WAIT));
	CHECK(t == NULL);
	EXPECT_DIAG("m_tag_get", t = m_tag_get(70000, 4, M_WAIT));
	CHECK(t == NULL);
	EXPECT_DIAG("m_tag_get", t = m_tag_get(1, 4, 12));
	CHECK(t == NULL);
	CHECK_EQ(all_in_use(), before);

	/* The largest length is fine. */
	EXPECT_NO_DIAG(t = m_tag_get(1, 65535, M_WAIT));
	CHECK(t != NULL && t->m_tag_len == 65535);
	m_tag_free(t);

	struct mbuf *a = m_gethdr(M_WAIT, MT_DATA), *b = m_gethdr(M_WAIT, MT_DATA);
	struct mbuf *plain = m_get(M_WAIT, MT_DATA);
	struct m_tag *ta = m_tag_get(7, 4, M_WAIT), *tb = m_tag_get(8, 4, M_WAIT);
	struct m_tag *loose = m_tag_get(9, 4, M_WAIT);

	m_tag_prepend(a, ta);
	m_tag_prepend(b, tb);

	/* A tag not on the chain: diagnosed, not unlinked, not freed. */
	EXPECT_DIAG("m_tag_delete", m_tag_delete(a, tb));
	CHECK(HAS("not on mbuf"));
	CHECK(m_tag_find(b, 8) == tb && m_tag_find(a, 7) == ta);
	EXPECT_DIAG("m_tag_delete", m_tag_delete(a, loose));
	EXPECT_DIAG("m_tag_delete", m_tag_delete(a, NULL));
	EXPECT_DIAG("m_tag_unlink", m_tag_unlink(a, tb));
	EXPECT_DIAG("m_tag_unlink", m_tag_unlink(a, loose));
	CHECK(m_tag_find(b, 8) == tb && m_tag_find(a, 7) == ta && loose->m_tag_id == 9);

	/* No packet header: every tag call refuses. */
	EXPECT_DIAG("m_tag_prepend", m_tag_prepend(plain, loose));
	CHECK(HAS("no packet header"));
	EXPECT_DIAG("m_tag_prepend", m_tag_prepend(NULL, loose));
	EXPECT_DIAG("m_tag_prepend", m_tag_prepend(a, NULL));
	EXPECT_DIAG("m_tag_find", t = m_tag_find(plain, 9));
	CHECK(t == NULL);
	EXPECT_DIAG("m_tag_find", t = m_tag_find(NULL, 9));
	EXPECT_DIAG("m_tag_delete_chain", m_tag_delete_chain(plain));
	EXPECT_DIAG("m_tag_delete_chain", m_tag_delete_chain(NULL));
	EXPECT_DIAG("m_tag_unlink", m_tag_unlink(plain, loose));
	EXPECT_DIAG("m_tag_delete", m_tag_delete(plain, loose));
	EXPECT_DIAG("m_tag_copy", t = m_tag_copy(NULL));
	CHECK(t == NULL);
	int ok = 1;

	EXPECT_DIAG("m_tag_copy_chain", ok = m_tag_copy_chain(plain, a));
	CHECK_EQ(ok, 0);
	ok = 1;
	EXPECT_DIAG("m_tag_copy_chain", ok = m_tag_copy_chain(b, plain));
	CHECK_EQ(ok, 0);
	CHECK(m_tag_find(b, 8) == tb && tb->m_tag_link.sle_next == NULL); /* b's own tags stay */
	CHECK(plain->m_flags == 0);

	/* The same tag put on twice, or a packet's tags copied onto itself: no cycle. */
	EXPECT_DIAG("m_tag_prepend", m_tag_prepend(a, ta));
	CHECK(HAS("already on"));
	struct m_tag *ta2 = m_tag_get(17, 0, M_WAIT);

	m_tag_prepend(a, ta2);
	EXPECT_DIAG("m_tag_prepend", m_tag_prepend(a, ta)); /* not first, still on it */
	CHECK(a->m_pkthdr.tags.slh_first == ta2 && ta2->m_tag_link.sle_next == ta && ta->m_tag_link.sle_next == NULL);
	CHECK(m_tag_find(a, 12345) == NULL); /* the walk ends */
	ok = 1;
	EXPECT_DIAG("m_tag_copy_chain", ok = m_tag_copy_chain(a, a));
	CHECK(ok == 0 && HAS("both the source and the target"));
	CHECK(a->m_pkthdr.tags.slh_first == ta2 && ta2->m_tag_link.sle_next == ta && ta->m_tag_link.sle_next == NULL);

	/* A struct m_tag that m_tag_get did not make: kfree refuses it. */
	struct m_tag onstack;

	memset(&onstack, 0, sizeof(onstack));
	EXPECT_DIAG("kfree", m_tag_free(&onstack));
	EXPECT_NO_DIAG(m_tag_free(NULL));

	m_tag_free(loose);
	m_freem(a);
	m_freem(b);
	m_freem(plain);
	check_clean();
}

/* ------------------------------------------------------------ unchecked inline helpers */

static struct mbuf *volatile null_mbuf;
static volatile long sink;

static void deref_mtod(void)
{
	sink = (long)mtod(null_mbuf, char *);
}

static void deref_writable(void)
{
	sink = m_writable(null_mbuf);
}

static void deref_buf_start(void)
{
	sink = (long)m_buf_start(null_mbuf);
}

static void deref_buf_end(void)
{
	sink = (long)m_buf_end(null_mbuf);
}

static void deref_leadingspace(void)
{
	sink = M_LEADINGSPACE(null_mbuf);
}

static void deref_trailingspace(void)
{
	sink = m_trailingspace(null_mbuf);
}

static void deref_leading_fn(void)
{
	sink = m_leadingspace(null_mbuf);
}

static void deref_trailing_macro(void)
{
	sink = M_TRAILINGSPACE(null_mbuf);
}

static void deref_chtype(void)
{
	MCHTYPE(null_mbuf, MT_DATA);
}

static void deref_prepend(void)
{
	struct mbuf *m = null_mbuf;

	M_PREPEND(m, 4, M_DONTWAIT);
	sink = (long)m;
}

/*
 * NULL is not checked by the inline accessors and macros (as in BSD: a
 * branch on every use for a caller's bug); the process faults. Each runs in
 * a child that must die. Shared storage, which they do check, reads as no
 * space at all.
 */
static void test_inline_helpers_unchecked(void)
{
	/* Under valgrind each child's fault would be reported as an error of the run. */
	if (!TEST_UNDER_VALGRIND()) {
		CHECK(dies(deref_mtod));
		CHECK(dies(deref_writable));
		CHECK(dies(deref_buf_start));
		CHECK(dies(deref_buf_end));
		CHECK(dies(deref_leadingspace));
		CHECK(dies(deref_leading_fn));
		CHECK(dies(deref_trailingspace));
		CHECK(dies(deref_trailing_macro));
		CHECK(dies(deref_chtype));
		CHECK(dies(deref_prepend));
	}

	struct mbuf *m = m_get(M_WAIT, MT_DATA);

	MCLGET(m, M_WAIT);
	m->m_data += 100;
	m->m_len = 100;
	struct mbuf *c = m_copym(m, 0, M_COPYALL, M_WAIT);

	CHECK(c != NULL);
	CHECK(!m_writable(m) && !m_writable(c));
	CHECK_EQ(m_leadingspace(m), 0);
	CHECK_EQ(M_LEADINGSPACE(m), 0);
	CHECK_EQ(m_trailingspace(m), 0);
	CHECK_EQ(M_TRAILINGSPACE(c), 0);
	/* The buffer bounds and mtod are plain reads, shared or not. */
	CHECK(m_buf_start(m) == m->m_ext.ext_buf && m_buf_end(m) == m->m_ext.ext_buf + MCLBYTES);
	CHECK(mtod(c, char *) == m->m_data);
	m_freem(c);
	CHECK(m_writable(m));
	CHECK_EQ(M_LEADINGSPACE(m), 100);
	m_freem(m);
	check_clean();
}

int main(void)
{
	diag_capture();
	/* Let every cache the tests use exist before the baseline is taken. */
	struct mbuf *w = m_gethdr(M_WAIT, MT_DATA);

	MCLGET(w, M_WAIT);
	m_tag_prepend(w, m_tag_get(1, 4, M_WAIT));
	struct mbuf *x = m_get(M_WAIT, MT_DATA);

	MEXTMALLOC(x, 10, M_WAIT);
	m_freem(w);
	m_freem(x);
	baseline_in_use = all_in_use();

	TEST(test_alloc_bad_wait_and_type);
	TEST(test_double_free);
	TEST(test_free_stack_pointer);
	TEST(test_ext_twice);
	TEST(test_pkthdr_bad);
	TEST(test_align_bad);
	TEST(test_prepend_bad);
	TEST(test_copym_bad);
	TEST(test_copydata_bad);
	TEST(test_copyback_bad);
	TEST(test_makewritable_bad);
	TEST(test_apply_length_devget_bad);
	TEST(test_adj_split_past_end);
	TEST(test_pullup_pulldown_bad);
	TEST(test_max_protohdr_bad);
	TEST(test_cat_bad);
	TEST(test_freed_chain_refused);
	TEST(test_tags_bad);
	TEST(test_inline_helpers_unchecked);
	return test_summary();
}
