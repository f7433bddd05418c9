/*
 * Sanitizer windows: in a library built with ASan, the bytes of a data area
 * outside its valid window (an skb head's headroom and tailroom, an mbuf's
 * leading and trailing space) are poisoned while one holder has the
 * storage, and every operation keeps that in step. Asserted byte by byte
 * with ASan's own queries. Without ASan the poisoning compiles away: the
 * window checks are skipped (said so on stdout) and only the switch and the
 * BSD/Linux idioms are exercised.
 */
#define _GNU_SOURCE /* setenv */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pktmem/mbuf.h>
#include <pktmem/skbuff.h>

#include "check.h"

#ifdef TEST_UNDER_ASAN
#include <sanitizer/asan_interface.h>
#define HAVE_WINDOWS 1
/* Every byte of [p, p + n) is poisoned. */
static bool shut(const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!__asan_address_is_poisoned((const char *)p + i))
			return false;
	return true;
}
/* No byte of [p, p + n) is poisoned. */
static bool open_(const void *p, size_t n)
{
	return n == 0 || __asan_region_is_poisoned((void *)(uintptr_t)p, n) == NULL;
}
#else
#define HAVE_WINDOWS 0
static bool shut(const void *p, size_t n) { (void)p, (void)n; return true; }
static bool open_(const void *p, size_t n) { (void)p, (void)n; return true; }
#endif

/* The skb's window and nothing else of its head is open (shinfo included). */
static bool skb_window_exact(const struct sk_buff *skb)
{
	unsigned char *t = skb_tail_pointer(skb);

	return shut(skb->head, (size_t)(skb->data - skb->head)) && open_(skb->data, skb_headlen(skb)) &&
	       shut(t, skb->end - skb->tail) && open_(skb_shinfo(skb), sizeof(struct skb_shared_info));
}

/* The tailroom is poisoned and the window open (headroom not asserted). */
static bool skb_tail_exact(const struct sk_buff *skb)
{
	return open_(skb->data, skb_headlen(skb)) && shut(skb_tail_pointer(skb), skb->end - skb->tail) &&
	       open_(skb_shinfo(skb), sizeof(struct skb_shared_info));
}

static bool skb_all_open(const struct sk_buff *skb)
{
	return open_(skb->head, skb->end);
}

/* Leading and trailing space of @m poisoned, its data open. */
static bool m_window_exact(const struct mbuf *m)
{
	char *s = m_buf_start(m), *e = m_buf_end(m);

	return shut(s, (size_t)(m->m_data - s)) && open_(m->m_data, (size_t)m->m_len) &&
	       shut(m->m_data + m->m_len, (size_t)(e - (m->m_data + m->m_len)));
}

static bool m_all_open(const struct mbuf *m)
{
	return open_(m_buf_start(m), (size_t)(m_buf_end(m) - m_buf_start(m)));
}

static void fill(void *p, size_t n, int seed)
{
	for (size_t i = 0; i < n; i++)
		((unsigned char *)p)[i] = (unsigned char)(seed + i * 7);
}

/* ------------------------------------------------------------ sk_buff */

static void test_skb_linear(void)
{
	struct sk_buff *skb = alloc_skb(1000, GFP_KERNEL);

	CHECK(skb != NULL);
	CHECK(skb_window_exact(skb)); /* empty: the whole data area shut */
	skb_reserve(skb, 64);
	CHECK(skb_window_exact(skb));
	unsigned char *p = skb_put(skb, 100);

	CHECK(p == skb->data);
	memset(p, 1, 100);
	CHECK(skb_window_exact(skb));
	CHECK(shut(skb->data + 100, 1)); /* the byte past skb->len */
	CHECK(shut(skb->data - 1, 1));   /* the byte before the data */
	uint8_t buf[37];

	fill(buf, sizeof(buf), 3);
	CHECK(skb_put_data(skb, buf, sizeof(buf)) != NULL);
	CHECK(skb_put_zero(skb, 11) != NULL);
	CHECK_EQ(skb->len, 148);
	CHECK(skb_window_exact(skb));
	CHECK(skb_push(skb, 16) != NULL);
	memset(skb->data, 2, 16);
	CHECK(skb_window_exact(skb));
	/* Pulled headers stay readable (Linux reads them through mac_header). */
	CHECK(skb_pull(skb, 16) != NULL);
	CHECK(open_(skb->data - 16, 16));
	CHECK(shut(skb->head, 48));
	CHECK(skb_tail_exact(skb));
	skb_trim(skb, 50);
	CHECK(skb_tail_exact(skb));
	CHECK(shut(skb->data + 50, 1));
	/* skb_tailroom() opens what it reports; the next put shuts the rest again. */
	int room = skb_tailroom(skb);

	CHECK(room > 0);
	CHECK(open_(skb_tail_pointer(skb), (size_t)room) || !HAVE_WINDOWS);
	memset(skb_tail_pointer(skb), 3, 20); /* "receive" into it, then put */
	CHECK(skb_put(skb, 20) != NULL);
	CHECK(skb_tail_exact(skb));
	kfree_skb(skb);
}

static void test_skb_alloc_kinds(void)
{
	struct sk_buff *skb = netdev_alloc_skb(NULL, 300);

	CHECK(skb != NULL);
	CHECK_EQ(skb_headroom(skb), NET_SKB_PAD);
	CHECK(skb_window_exact(skb));
	kfree_skb(skb);

	void *frag = netdev_alloc_frag(2048);

	CHECK(frag != NULL);
	fill(frag, 200, 5);
	skb = build_skb(frag, 2048);
	CHECK(skb != NULL);
	CHECK(skb_window_exact(skb));
	CHECK(skb_put(skb, 200) != NULL);
	CHECK(skb->data[199] == (unsigned char)(5 + 199 * 7));
	CHECK(skb_window_exact(skb));
	kfree_skb(skb);

	skb = alloc_skb_fclone(500, GFP_KERNEL);
	CHECK(skb != NULL);
	CHECK(skb_window_exact(skb));
	kfree_skb(skb);
}

static void test_skb_shared_heads(void)
{
	struct sk_buff *skb = alloc_skb(600, GFP_KERNEL);

	skb_reserve(skb, 32);
	memset(skb_put(skb, 200), 4, 200);
	CHECK(skb_window_exact(skb));
	struct sk_buff *c = skb_clone(skb, GFP_KERNEL);

	CHECK(c != NULL);
	CHECK(skb_all_open(skb)); /* shared: clones see different windows */
	skb_trim(c, 100);
	CHECK(skb_all_open(c)); /* not re-poisoned while shared */
	CHECK(c->data[150] == 4); /* the original's bytes, past the clone's len */
	kfree_skb(c);
	/* One holder again: the next operation shuts the tailroom. */
	skb_trim(skb, 150);
	CHECK(skb_tail_exact(skb));
	kfree_skb(skb);

	/* fclone pair: the companion clone shares the head too. */
	skb = alloc_skb_fclone(600, GFP_KERNEL);
	memset(skb_put(skb, 64), 5, 64);
	c = skb_clone(skb, GFP_KERNEL);
	CHECK(c != NULL && skb_all_open(skb));
	kfree_skb(c);
	kfree_skb(skb);

	/* An mbuf after m_from_skb() holds the head: open. */
	skb = alloc_skb(600, GFP_KERNEL);
	skb_reserve(skb, 16);
	memset(skb_put(skb, 64), 6, 64);
	struct mbuf *m = m_from_skb(skb, M_WAIT);

	CHECK(m != NULL);
	CHECK(skb_all_open(skb));
	kfree_skb(skb);
	m_freem(m);
}

static struct sk_buff *skb_with_frags(unsigned head, unsigned f0, unsigned f1)
{
	struct sk_buff *skb = alloc_skb(head + 256, GFP_KERNEL);

	skb_reserve(skb, 64);
	fill(skb_put(skb, head), head, 1);
	struct page *p0 = alloc_page(GFP_KERNEL), *p1 = alloc_page(GFP_KERNEL);

	fill(page_address(p0), f0, 2);
	fill(page_address(p1), f1, 3);
	skb_add_rx_frag(skb, 0, p0, 0, (int)f0, f0);
	skb_add_rx_frag(skb, 1, p1, 0, (int)f1, f1);
	return skb;
}

static void test_skb_reshaping(void)
{
	/* pskb_expand_head: fresh headroom shut, the moved headroom kept, tail shut. */
	struct sk_buff *skb = alloc_skb(400, GFP_KERNEL);

	skb_reserve(skb, 32);
	memset(skb_put(skb, 100), 7, 100);
	CHECK_EQ(pskb_expand_head(skb, 64, 128, GFP_KERNEL), 0);
	CHECK_EQ(skb_headroom(skb), 96);
	CHECK(shut(skb->head, 64));
	CHECK(skb_tail_exact(skb));
	CHECK(skb->data[99] == 7);
	kfree_skb(skb);

	/* skb_copy: the headroom's bytes are copied (open), the tailroom shut. */
	skb = skb_with_frags(100, 300, 200);
	struct sk_buff *c = skb_copy(skb, GFP_KERNEL);

	CHECK(c != NULL && !skb_is_nonlinear(c));
	CHECK(open_(c->head, skb_headroom(c)));
	CHECK(skb_tail_exact(c));
	kfree_skb(c);
	/* pskb_copy: only the linear data is copied; headroom and tailroom shut. */
	c = pskb_copy(skb, GFP_KERNEL);
	CHECK(c != NULL);
	CHECK(skb_window_exact(c));
	kfree_skb(c);

	/* pskb_may_pull writes the frags' bytes into the tailroom first. */
	CHECK(pskb_may_pull(skb, 250));
	CHECK(skb_headlen(skb) >= 250);
	CHECK(skb_tail_exact(skb));
	CHECK(pskb_pull(skb, 120) != NULL);
	CHECK(skb_tail_exact(skb));
	CHECK_EQ(pskb_trim(skb, 200), 0);
	CHECK(skb_tail_exact(skb));
	kfree_skb(skb);

	skb = skb_with_frags(40, 300, 200);
	CHECK_EQ(skb_linearize(skb), 0);
	CHECK(!skb_is_nonlinear(skb) && skb->len == 540);
	CHECK(skb_tail_exact(skb));
	kfree_skb(skb);

	/* pskb_trim into the head of a nonlinear skb. */
	skb = skb_with_frags(100, 300, 200);
	CHECK_EQ(pskb_trim(skb, 60), 0);
	CHECK(skb_tail_exact(skb));
	kfree_skb(skb);

	/* skb_from_mbuf: the copied prefix is the window. */
	struct mbuf *m = m_gethdr(M_WAIT, MT_DATA);

	fill(mtod(m, char *), 80, 9);
	m->m_len = m->m_pkthdr.len = 80;
	skb = skb_from_mbuf(m, 32, GFP_KERNEL);
	CHECK(skb != NULL);
	CHECK(skb_window_exact(skb));
	kfree_skb(skb);
	m_freem(m);
}

/* ------------------------------------------------------------ mbufs */

static void test_mbuf_fresh(void)
{
	/* The BSD idiom: write at mtod() of a fresh mbuf, then set m_len. */
	struct mbuf *m = m_gethdr(M_WAIT, MT_DATA);

	CHECK(m_all_open(m));
	fill(mtod(m, char *), MHLEN, 1);
	m->m_len = m->m_pkthdr.len = MHLEN;
	MCLGET(m, M_WAIT);
	CHECK(m->m_flags & M_EXT);
	CHECK(m_all_open(m));
	fill(mtod(m, char *), MCLBYTES, 2);
	m->m_len = m->m_pkthdr.len = MCLBYTES;
	m_freem(m);

	m = m_get(M_WAIT, MT_DATA);
	CHECK(m_all_open(m));
	MEXTMALLOC(m, 5000, M_WAIT);
	CHECK(m_all_open(m));
	m_freem(m);

	m = m_getclr(M_WAIT, MT_DATA);
	CHECK(m_all_open(m));
	m_freem(m);
}

/* A writable two-mbuf packet: 60 bytes inside, then 1000 in a cluster. */
static struct mbuf *two_mbuf_packet(void)
{
	struct mbuf *m = m_gethdr(M_WAIT, MT_DATA), *n = m_get(M_WAIT, MT_DATA);

	MCLGET(n, M_WAIT);
	fill(mtod(m, char *), 60, 1);
	m->m_len = 60;
	fill(mtod(n, char *), 1000, 2);
	n->m_len = 1000;
	m->m_next = n;
	m->m_pkthdr.len = 1060;
	return m;
}

static void test_mbuf_chains(void)
{
	struct mbuf *m = two_mbuf_packet();
	struct mbuf *d = m_dup(m, 0, M_COPYALL, M_WAIT);

	CHECK(d != NULL);
	for (struct mbuf *x = d; x; x = x->m_next)
		CHECK(m_window_exact(x));
	CHECK(shut(mtod(d, char *) + d->m_len, 1)); /* the byte past m_len */

	/* M_TRAILINGSPACE opens what it reports: the BSD append idiom. */
	struct mbuf *last = d;

	while (last->m_next)
		last = last->m_next;
	if (M_TRAILINGSPACE(last) >= 10) {
		memset(mtod(last, char *) + last->m_len, 0x5a, 10);
		last->m_len += 10;
		d->m_pkthdr.len += 10;
	}
	CHECK(mtod(last, char *)[last->m_len - 1] == 0x5a);
	m_freem(d);

	/* m_copym shares the cluster: open for both holders. */
	struct mbuf *c = m_copym(m, 0, M_COPYALL, M_WAIT);

	CHECK(c != NULL);
	CHECK(m_all_open(m->m_next));
	CHECK(m_window_exact(c)); /* internal data is copied: its own window */
	m_freem(c);
	/* One holder again: the next operation shuts the cluster's spaces. */
	m_adj(m, -10);
	CHECK(m_window_exact(m->m_next));
	CHECK_EQ(m->m_next->m_len, 990);
	m_adj(m, 16);
	CHECK(m_window_exact(m));
	CHECK(shut(mtod(m, char *) - 1, 1));

	/* M_PREPEND in place uses the (opened) leading space. */
	M_PREPEND(m, 8, M_DONTWAIT);
	CHECK(m != NULL);
	memset(mtod(m, char *), 0x11, 8);
	CHECK_EQ(m->m_pkthdr.len, 1042);
	/* And with a new mbuf when there is none. */
	M_PREPEND(m, 300, M_DONTWAIT);
	CHECK(m != NULL);
	memset(mtod(m, char *), 0x22, 300);
	CHECK(m_window_exact(m));
	CHECK_EQ(m->m_pkthdr.len, 1342);

	/* m_pullup into a fresh first mbuf, then its trailing space is shut. */
	m = m_pullup(m, 320);
	CHECK(m != NULL);
	CHECK(m->m_len >= 320);
	CHECK(m_window_exact(m));

	/* m_split in internal data: the head keeps len0, its rest is trailing space. */
	struct mbuf *t = m_split(m, 100, M_WAIT);

	CHECK(t != NULL);
	CHECK_EQ(m->m_len, 100);
	CHECK(m_window_exact(m));
	CHECK(m_window_exact(t));
	m_freem(t);
	m_freem(m);
}

static void test_mbuf_producers(void)
{
	char buf[3000];

	fill(buf, sizeof(buf), 4);
	struct mbuf *m = m_devget(buf, 2500, 0, NULL, NULL);

	CHECK(m != NULL);
	for (struct mbuf *x = m; x; x = x->m_next)
		CHECK(m_window_exact(x));

	/* m_copyback extends into trailing space, then closes again. */
	m_copyback(m, 2500, 100, buf);
	CHECK_EQ(m->m_pkthdr.len, 2600);
	for (struct mbuf *x = m; x; x = x->m_next)
		CHECK(m_window_exact(x));

	/* m_pulldown across mbufs. */
	int off = -1;
	struct mbuf *n = m_pulldown(m, 10, 600, &off);

	CHECK(n != NULL && off >= 0);
	CHECK(m_window_exact(n));
	char got[600];

	m_copydata(m, 10, 600, got);
	CHECK(memcmp(got, buf + 10, 600) == 0);

	/* m_makewritable / m_copyback_cow over a shared copy. */
	struct mbuf *c = m_copypacket(m, M_WAIT);

	CHECK(c != NULL);
	CHECK_EQ(m_makewritable(&c, 0, 2600, M_WAIT), 0);
	for (struct mbuf *x = c; x; x = x->m_next)
		CHECK(!m_writable(x) || m_window_exact(x));
	c = m_copyback_cow(c, 5, 10, buf, M_WAIT);
	CHECK(c != NULL);
	m_freem(c);
	m_freem(m);

	/* m_cat copies into the trailing space, which it asked for. */
	struct mbuf *a = m_get(M_WAIT, MT_DATA), *b = m_get(M_WAIT, MT_DATA);

	memset(mtod(a, char *), 1, 40);
	a->m_len = 40;
	memset(mtod(b, char *), 2, 30);
	b->m_len = 30;
	m_cat(a, b);
	CHECK_EQ(a->m_len, 70);
	CHECK(a->m_next == NULL);
	CHECK(m_window_exact(a));
	m_freem(a);
}

/* ------------------------------------------------------------ the switch */

static void test_switch(void)
{
	/* On by default where the library poisons (ASan here; a PKTMEM_VALGRIND
	 * library says so too, which this test cannot see at compile time). */
	CHECK(!HAVE_WINDOWS || pktmem_debug_windows_enabled());
	pktmem_debug_set_windows(false);
	CHECK(!pktmem_debug_windows_enabled());

	/* Off: nothing new is poisoned... */
	struct sk_buff *skb = alloc_skb(500, GFP_KERNEL);

	skb_reserve(skb, 32);
	CHECK(skb_all_open(skb));
	memset(skb->head, 0, skb->end); /* writes outside the window: allowed now */
	struct mbuf *m = m_devget((char *)skb->head, 300, 0, NULL, NULL);

	CHECK(m != NULL && m_all_open(m));
	m_freem(m);
	kfree_skb(skb);

	/* ...and a buffer poisoned before heals at its next operation. */
	pktmem_debug_set_windows(true);
	CHECK(!HAVE_WINDOWS || pktmem_debug_windows_enabled());
	skb = alloc_skb(500, GFP_KERNEL);
	skb_put(skb, 10);
	CHECK(skb_window_exact(skb));
	CHECK(shut(skb->data + 10, 1));
	pktmem_debug_set_windows(false);
	skb_put(skb, 10);
	CHECK(skb_all_open(skb));
	pktmem_debug_set_windows(true);
	skb_put(skb, 10);
	CHECK(skb_window_exact(skb));
	kfree_skb(skb);

	/* pktmem_window_open() is the one-place escape hatch. */
	skb = alloc_skb(500, GFP_KERNEL);
	pktmem_window_open(skb->head, 64);
	CHECK(open_(skb->head, 64));
	memset(skb->head, 9, 64);
	kfree_skb(skb);
	pktmem_window_open(NULL, 10); /* no-op */
}

/* pktmem_window_open(): NULL and 0 do nothing; a wrapping range is refused (where it does anything). */
static void test_window_open_bad(void)
{
	char local[64];
	unsigned long d = diag_seen;

	pktmem_window_open(NULL, 10);
	pktmem_window_open(local, 0);
	CHECK_EQ(diag_seen, d);
	pktmem_window_open((void *)(uintptr_t)-16, 64); /* wraps */
	/* The library has windows under ASan and with PKTMEM_VALGRIND (asked at run time). */
	if (pktmem_debug_windows_enabled()) {
		CHECK_EQ(diag_seen, d + 1);
		CHECK(strcmp(diag_last_func, "pktmem_window_open") == 0 && strstr(diag_last_msg, "wrap"));
	} else {
		CHECK_EQ(diag_seen, d); /* no sanitizer: a no-op */
	}
	/* A caller's MEXTADD buffer gets windows too, and can be opened. */
	char *buf = malloc(256);
	struct mbuf *m = m_gethdr(M_WAIT, MT_DATA);

	MEXTADD(m, buf, 256, 0, NULL, NULL);
	m->m_len = m->m_pkthdr.len = 100;
	struct mbuf *c = m_dup(m, 0, M_COPYALL, M_WAIT); /* a fresh copy, windows closed */

	CHECK(c != NULL);
	m_adj(m, 16); /* windows closed on m too */
	CHECK(shut(buf, 16) && shut(buf + 100, 156));
	pktmem_window_open(buf + 100, 156);
	CHECK(open_(buf + 100, 156));
	m_freem(c);
	m_freem(m); /* frees buf */
}

/* PKTMEM_POISON_WINDOWS=0 is read once, at start-up. */
static const char *self;

static void test_env(void)
{
	pid_t pid = fork();

	CHECK(pid >= 0);
	if (pid == 0) {
		setenv("PKTMEM_POISON_WINDOWS", "0", 1);
		execl(self, self, "--env-child", (char *)NULL);
		_exit(127);
	}
	int status = 0;

	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static int env_child(void)
{
	if (pktmem_debug_windows_enabled())
		return 1;
	/* Off from the start: a fresh head is not poisoned at all. */
	struct sk_buff *skb = alloc_skb(500, GFP_KERNEL);
	int rc = skb_all_open(skb) ? 0 : 2;

	kfree_skb(skb);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--env-child") == 0)
		return env_child();
	diag_capture();
	if (!HAVE_WINDOWS)
		printf("skipped: the window checks need AddressSanitizer (this build has none); "
		       "running the idioms and the switch only\n");
	TEST(test_skb_linear);
	TEST(test_skb_alloc_kinds);
	TEST(test_skb_shared_heads);
	TEST(test_skb_reshaping);
	TEST(test_mbuf_fresh);
	TEST(test_mbuf_chains);
	TEST(test_mbuf_producers);
	TEST(test_switch);
	TEST(test_window_open_bad);
	self = argv[0];
	TEST(test_env);
	return test_summary();
}
