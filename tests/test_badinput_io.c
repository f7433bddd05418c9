/*
 * <pktmem/uio.h> and <pktmem/netio.h>, bad input: each test here proves
 * rows of docs/bad-inputs/uio.md and netio.md. For every refused call it
 * asserts the return value (errno style as each header says), the
 * diagnostic where one is raised, that the caller's uio, chain or skb is
 * as it was, and that no mbuf, cluster, sk_buff or head is left behind.
 */
#define _GNU_SOURCE /* recvmmsg and friends */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include <pktmem/mbuf.h>
#include <pktmem/netio.h>
#include <pktmem/skbuff.h>
#include <pktmem/uio.h>

#include "check.h"

/* ------------------------------------------------------------ helpers */

static unsigned long long baseline_in_use;

static void check_clean(void)
{
	CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), 0);
	CHECK_EQ(cache_in_use(pktmem_cluster_cache()), 0);
	CHECK_EQ(cache_in_use(pktmem_skbuff_cache()), 0);
	CHECK_EQ(all_in_use(), baseline_in_use); /* skb heads, iovec arrays, pages */
}

static inline uint8_t pat(int i)
{
	return (uint8_t)(i * 11 + 5);
}

/* A packet: header mbuf with 40 bytes, a cluster with 1500. */
#define PKT_LEN 1540

static struct mbuf *packet(void)
{
	struct mbuf *h = m_gethdr(M_WAIT, MT_DATA), *c = m_get(M_WAIT, MT_DATA);

	if (!h || !c)
		abort();
	MCLGET(c, M_WAIT);
	h->m_len = 40;
	c->m_len = 1500;
	h->m_next = c;
	h->m_pkthdr.len = PKT_LEN;
	int k = 0;

	for (struct mbuf *m = h; m; m = m->m_next)
		for (int i = 0; i < m->m_len; i++)
			m->m_data[i] = (char)pat(k++);
	return h;
}

static int packet_intact(const struct mbuf *m)
{
	int k = 0;

	if (!m || !(m->m_flags & M_PKTHDR) || m->m_pkthdr.len != PKT_LEN || m_length(m) != PKT_LEN)
		return 0;
	for (; m; m = m->m_next)
		for (int i = 0; i < m->m_len; i++)
			if ((uint8_t)m->m_data[i] != pat(k++))
				return 0;
	return 1;
}

static struct sk_buff *skb_packet(void)
{
	struct sk_buff *skb = alloc_skb(64 + 300, GFP_KERNEL);

	if (!skb)
		abort();
	skb_reserve(skb, 64);
	unsigned char *p = skb_put(skb, 300);

	for (int i = 0; i < 300; i++)
		p[i] = pat(i);
	return skb;
}

static int skb_intact(const struct sk_buff *skb)
{
	if (!skb || skb->len != 300 || skb_headlen(skb) != 300)
		return 0;
	for (int i = 0; i < 300; i++)
		if (skb->data[i] != pat(i))
			return 0;
	return 1;
}

/* A descriptor number that is certainly closed. */
static int closed_fd(void)
{
	int fd = open("/dev/null", O_RDONLY);

	close(fd);
	return fd;
}

/* ------------------------------------------------------------ uiomove */

static void test_uiomove_bad(void)
{
	unsigned char buf[32], dst[16];
	struct iovec iov[2];
	struct uio uio;
	int rc = 0;

	for (int i = 0; i < 32; i++)
		buf[i] = pat(i);

	/* uio_resid larger than the iovecs hold: the 16 bytes that fit move, then EINVAL. */
	memset(dst, 0, sizeof(dst));
	iov[0] = (struct iovec){ dst, 16 };
	uio = (struct uio){ iov, 1, 0, 40, UIO_SYSSPACE, UIO_READ, NULL };
	EXPECT_DIAG("uiomove", rc = uiomove(buf, 32, &uio));
	CHECK_EQ(rc, EINVAL);
	CHECK(HAS("ran out") && HAS("24"));
	CHECK_EQ(uio.uio_resid, 24);
	CHECK_EQ(uio.uio_offset, 16);
	CHECK(memcmp(dst, buf, 16) == 0);

	/* Not checked for being bad, by contract: n <= 0 moves nothing. */
	iov[0] = (struct iovec){ dst, 16 };
	uio = (struct uio){ iov, 1, 0, 16, UIO_SYSSPACE, UIO_READ, NULL };
	EXPECT_NO_DIAG(rc = uiomove(buf, -5, &uio));
	CHECK(rc == 0 && uio.uio_resid == 16 && uio.uio_iov == iov && iov[0].iov_len == 16);

	/* Refused before a byte moves: the uio untouched. */
	EXPECT_DIAG("uiomove", rc = uiomove(NULL, 8, &uio));
	CHECK(rc == EINVAL && HAS("NULL buffer"));
	EXPECT_DIAG("uiomove", rc = uiomove(buf, 8, NULL));
	CHECK_EQ(rc, EINVAL);
	uio.uio_rw = (enum uio_rw)9;
	EXPECT_DIAG("uiomove", rc = uiomove(buf, 8, &uio));
	CHECK(rc == EINVAL && HAS("uio_rw 9"));
	uio.uio_rw = UIO_READ;
	uio.uio_segflg = (enum uio_seg)7;
	EXPECT_DIAG("uiomove", rc = uiomove(buf, 8, &uio));
	CHECK(rc == EINVAL && HAS("uio_segflg 7"));
	uio.uio_segflg = UIO_SYSSPACE;
	uio.uio_resid = -3;
	EXPECT_DIAG("uiomove", rc = uiomove(buf, 8, &uio));
	CHECK(rc == EINVAL && HAS("-3"));
	uio.uio_resid = 16;
	uio.uio_iov = NULL;
	EXPECT_DIAG("uiomove", rc = uiomove(buf, 8, &uio));
	CHECK(rc == EINVAL && HAS("NULL uio_iov"));
	uio.uio_iov = iov;
	CHECK(uio.uio_resid == 16 && uio.uio_offset == 0 && iov[0].iov_base == dst && iov[0].iov_len == 16);

	/* NULL buffer with UIO_NOCOPY is fine: no byte is touched. */
	uio.uio_segflg = UIO_NOCOPY;
	EXPECT_NO_DIAG(rc = uiomove(NULL, 8, &uio));
	CHECK(rc == 0 && uio.uio_resid == 8);
}

static void test_uiomove_frombuf_bad(void)
{
	unsigned char obj[20], dst[8];
	struct iovec iov = { dst, 8 };
	struct uio uio = { &iov, 1, -1, 8, UIO_SYSSPACE, UIO_READ, NULL };
	int rc = 0;

	memset(obj, 0x42, sizeof(obj));
	memset(dst, 0, sizeof(dst));
	/* A negative offset: EINVAL as documented, no diagnostic, uio untouched. */
	EXPECT_NO_DIAG(rc = uiomove_frombuf(obj, 20, &uio));
	CHECK(rc == EINVAL && uio.uio_resid == 8 && iov.iov_len == 8);
	/* An offset at or past the end: nothing to read, 0. */
	uio.uio_offset = 20;
	EXPECT_NO_DIAG(rc = uiomove_frombuf(obj, 20, &uio));
	CHECK(rc == 0 && uio.uio_resid == 8 && uio.uio_offset == 20);
	uio.uio_offset = 1000;
	EXPECT_NO_DIAG(rc = uiomove_frombuf(obj, 20, &uio));
	CHECK(rc == 0 && uio.uio_resid == 8);
	/* A negative buffer length is an empty buffer. */
	uio.uio_offset = 0;
	EXPECT_NO_DIAG(rc = uiomove_frombuf(obj, -4, &uio));
	CHECK(rc == 0 && uio.uio_resid == 8);
	uio.uio_resid = -1;
	EXPECT_NO_DIAG(rc = uiomove_frombuf(obj, 20, &uio));
	CHECK_EQ(rc, EINVAL);
	uio.uio_resid = 8;
	EXPECT_DIAG("uiomove_frombuf", rc = uiomove_frombuf(NULL, 20, &uio));
	CHECK(rc == EINVAL && HAS("NULL buffer"));
	EXPECT_DIAG("uiomove_frombuf", rc = uiomove_frombuf(obj, 20, NULL));
	CHECK_EQ(rc, EINVAL);
	CHECK(uio.uio_resid == 8 && dst[0] == 0);
}

static void test_uiotombuf_bad(void)
{
	unsigned char src[3000];
	struct iovec iov[2];
	struct uio uio;
	struct mbuf *m = (struct mbuf *)1;

	for (int i = 0; i < 3000; i++)
		src[i] = pat(i);

	/* uio_resid larger than the iovecs: refused before anything moves. */
	iov[0] = (struct iovec){ src, 1000 };
	iov[1] = (struct iovec){ src + 1000, 1000 };
	uio = (struct uio){ iov, 2, 0, 2500, UIO_SYSSPACE, UIO_WRITE, NULL };
	EXPECT_DIAG("m_uiotombuf", m = m_uiotombuf(&uio, M_WAIT, 0, 0, M_PKTHDR));
	CHECK(m == NULL && HAS("2000") && HAS("2500"));
	CHECK(uio.uio_resid == 2500 && uio.uio_offset == 0 && uio.uio_iov == iov && uio.uio_iovcnt == 2);
	CHECK(iov[0].iov_base == src && iov[0].iov_len == 1000);
	CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), 0);

	/* The wrong direction, bad flags, NULL: diagnosed, NULL, uio untouched. */
	uio = (struct uio){ iov, 2, 0, 2000, UIO_SYSSPACE, UIO_READ, NULL };
	EXPECT_DIAG("m_uiotombuf", m = m_uiotombuf(&uio, M_WAIT, 0, 0, 0));
	CHECK(m == NULL && HAS("UIO_READ"));
	uio.uio_rw = UIO_WRITE;
	EXPECT_DIAG("m_uiotombuf", m = m_uiotombuf(&uio, 5, 0, 0, 0));
	CHECK(m == NULL);
	EXPECT_DIAG("m_uiotombuf", m = m_uiotombuf(NULL, M_WAIT, 0, 0, 0));
	CHECK(m == NULL);
	uio.uio_resid = -1;
	EXPECT_DIAG("m_uiotombuf", m = m_uiotombuf(&uio, M_WAIT, 0, 0, 0));
	CHECK(m == NULL);
	uio.uio_resid = 2000;

	/* align outside 0..MHLEN-1: NULL without a diagnostic, as documented. */
	EXPECT_NO_DIAG(m = m_uiotombuf(&uio, M_WAIT, 0, MHLEN, M_PKTHDR));
	CHECK(m == NULL);
	EXPECT_NO_DIAG(m = m_uiotombuf(&uio, M_WAIT, 0, -1, 0));
	CHECK(m == NULL);
	CHECK(uio.uio_resid == 2000 && iov[0].iov_len == 1000 && iov[1].iov_len == 1000);
	CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), 0);

	/* A negative or M_COPYALL len means all of uio_resid, not an error. */
	EXPECT_NO_DIAG(m = m_uiotombuf(&uio, M_WAIT, M_COPYALL, 0, M_PKTHDR));
	CHECK(m != NULL && m->m_pkthdr.len == 2000 && uio.uio_resid == 0);
	m_freem(m);
	iov[0] = (struct iovec){ src, 1000 };
	uio = (struct uio){ iov, 1, 0, 1000, UIO_SYSSPACE, UIO_WRITE, NULL };
	EXPECT_NO_DIAG(m = m_uiotombuf(&uio, M_WAIT, -7, 0, 0));
	CHECK(m != NULL && m_length(m) == 1000 && uio.uio_resid == 0);
	m_freem(m);
	check_clean();
}

static void test_mbuftouio_bad(void)
{
	struct mbuf *m = packet();
	static unsigned char dst[4000];
	struct iovec iov = { dst, sizeof(dst) };
	struct uio uio = { &iov, 1, 0, 4000, UIO_SYSSPACE, UIO_READ, NULL };
	int rc = -1;

	/* uio_resid larger than the chain: the chain's bytes move, the rest stays to move. */
	memset(dst, 0, sizeof(dst));
	EXPECT_NO_DIAG(rc = m_mbuftouio(&uio, m, 0));
	CHECK_EQ(rc, 0);
	CHECK_EQ(uio.uio_resid, 4000 - PKT_LEN);
	CHECK_EQ(uio.uio_offset, PKT_LEN);
	for (int i = 0; i < PKT_LEN; i++)
		if (dst[i] != pat(i)) {
			CHECK(dst[i] == pat(i));
			break;
		}
	CHECK_EQ(dst[PKT_LEN], 0);
	/* len larger than the chain (M_COPYALL too): the same. */
	iov = (struct iovec){ dst, sizeof(dst) };
	uio = (struct uio){ &iov, 1, 0, 4000, UIO_SYSSPACE, UIO_READ, NULL };
	EXPECT_NO_DIAG(rc = m_mbuftouio(&uio, m, M_COPYALL));
	CHECK(rc == 0 && uio.uio_resid == 4000 - PKT_LEN);
	/* NULL chain: nothing to move. */
	uio = (struct uio){ &iov, 1, 0, 100, UIO_SYSSPACE, UIO_READ, NULL };
	EXPECT_NO_DIAG(rc = m_mbuftouio(&uio, NULL, 0));
	CHECK(rc == 0 && uio.uio_resid == 100);
	/* The wrong direction, a bad uio: diagnosed, EINVAL, nothing moved. */
	uio.uio_rw = UIO_WRITE;
	EXPECT_DIAG("m_mbuftouio", rc = m_mbuftouio(&uio, m, 0));
	CHECK(rc == EINVAL && HAS("UIO_WRITE"));
	uio.uio_rw = UIO_READ;
	uio.uio_resid = -1;
	EXPECT_DIAG("m_mbuftouio", rc = m_mbuftouio(&uio, m, 0));
	CHECK_EQ(rc, EINVAL);
	EXPECT_DIAG("m_mbuftouio", rc = m_mbuftouio(NULL, m, 0));
	CHECK_EQ(rc, EINVAL);
	/* iovecs short of uio_resid, with a longer chain: what fits moves, then EINVAL. */
	iov = (struct iovec){ dst, 100 };
	uio = (struct uio){ &iov, 1, 0, 500, UIO_SYSSPACE, UIO_READ, NULL };
	EXPECT_DIAG("uiomove", rc = m_mbuftouio(&uio, m, 0));
	CHECK(rc == EINVAL && uio.uio_resid == 400);
	CHECK(packet_intact(m)); /* the chain is only read */
	m_freem(m);
	check_clean();
}

/* ------------------------------------------------------------ netio: sending */

static void test_send_bad_fd(void)
{
	int fds[2] = { -1, closed_fd() };

	for (int k = 0; k < 2; k++) {
		int fd = fds[k];
		struct mbuf *m = packet(), *keep = m;
		ssize_t r;

		EXPECT_NO_DIAG(r = m_sendmsg(fd, &m, NULL, 0, MSG_DONTWAIT));
		CHECK_EQ(r, -EBADF);
		CHECK(m == keep && packet_intact(m));
		EXPECT_NO_DIAG(r = m_writev(fd, &m));
		CHECK_EQ(r, -EBADF);
		CHECK(m == keep && packet_intact(m));

		struct m_mmsg mm[2] = { { .mm_m = m }, { .mm_m = packet() } };
		struct mbuf *second = mm[1].mm_m;

		EXPECT_NO_DIAG(r = m_sendmmsg(fd, mm, 2, NULL, 0, 0));
		CHECK_EQ(r, -EBADF);
		CHECK(mm[0].mm_m == m && mm[1].mm_m == second && packet_intact(m) && packet_intact(second));
		m_freem(m);
		m_freem(second);

		struct sk_buff *skb = skb_packet(), *skeep = skb;

		EXPECT_NO_DIAG(r = skb_sendmsg(fd, &skb, NULL, 0, 0));
		CHECK_EQ(r, -EBADF);
		CHECK(skb == skeep && skb_intact(skb));
		EXPECT_NO_DIAG(r = skb_writev(fd, &skb));
		CHECK_EQ(r, -EBADF);
		CHECK(skb == skeep && skb_intact(skb));

		struct skb_mmsg sm[1] = { { .sm_skb = skb } };

		EXPECT_NO_DIAG(r = skb_sendmmsg(fd, sm, 1, NULL, 0, 0));
		CHECK_EQ(r, -EBADF);
		CHECK(sm[0].sm_skb == skb && skb_intact(skb));
		kfree_skb(skb);
	}

	/* Not a socket (a pipe): sendmsg's -ENOTSOCK, packet untouched; writev works there. */
	int p[2];

	CHECK(pipe(p) == 0);
	struct mbuf *m = packet(), *keep = m;
	ssize_t r;

	EXPECT_NO_DIAG(r = m_sendmsg(p[1], &m, NULL, 0, 0));
	CHECK_EQ(r, -ENOTSOCK);
	CHECK(m == keep && packet_intact(m));
	m_freem(m);
	close(p[0]);
	close(p[1]);
	check_clean();
}

static void test_send_null_chain(void)
{
	int sv[2];
	ssize_t r = 0;
	struct mbuf *none = NULL;
	struct sk_buff *snone = NULL;

	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
	/* NULL pointer to the packet, or a NULL packet: -EINVAL, diagnosed, nothing sent. */
	EXPECT_DIAG("m_sendmsg", r = m_sendmsg(sv[0], NULL, NULL, 0, 0));
	CHECK(r == -EINVAL && HAS("NULL packet pointer"));
	EXPECT_DIAG("m_sendmsg", r = m_sendmsg(sv[0], &none, NULL, 0, 0));
	CHECK(r == -EINVAL && HAS("NULL packet") && none == NULL);
	EXPECT_DIAG("m_writev", r = m_writev(sv[0], NULL));
	CHECK_EQ(r, -EINVAL);
	EXPECT_DIAG("m_writev", r = m_writev(sv[0], &none));
	CHECK_EQ(r, -EINVAL);
	EXPECT_DIAG("skb_sendmsg", r = skb_sendmsg(sv[0], &snone, NULL, 0, 0));
	CHECK_EQ(r, -EINVAL);
	EXPECT_DIAG("skb_sendmsg", r = skb_sendmsg(sv[0], NULL, NULL, 0, 0));
	CHECK_EQ(r, -EINVAL);
	EXPECT_DIAG("skb_writev", r = skb_writev(sv[0], &snone));
	CHECK_EQ(r, -EINVAL);
	EXPECT_DIAG("skb_writev", r = skb_writev(sv[0], NULL));
	CHECK_EQ(r, -EINVAL);

	/* Batches: a NULL array, a negative count, a NULL first packet. */
	struct m_mmsg mm[2];
	struct skb_mmsg sm[2];

	memset(mm, 0, sizeof(mm));
	memset(sm, 0, sizeof(sm));
	EXPECT_DIAG("m_sendmmsg", r = m_sendmmsg(sv[0], NULL, 2, NULL, 0, 0));
	CHECK_EQ(r, -EINVAL);
	EXPECT_DIAG("m_sendmmsg", r = m_sendmmsg(sv[0], mm, -1, NULL, 0, 0));
	CHECK_EQ(r, -EINVAL);
	EXPECT_DIAG("m_sendmmsg", r = m_sendmmsg(sv[0], mm, 2, NULL, 0, 0));
	CHECK_EQ(r, -EINVAL);
	EXPECT_DIAG("skb_sendmmsg", r = skb_sendmmsg(sv[0], NULL, 1, NULL, 0, 0));
	CHECK_EQ(r, -EINVAL);
	EXPECT_DIAG("skb_sendmmsg", r = skb_sendmmsg(sv[0], sm, 1, NULL, 0, 0));
	CHECK_EQ(r, -EINVAL);
	EXPECT_NO_DIAG(r = m_sendmmsg(sv[0], NULL, 0, NULL, 0, 0));
	CHECK_EQ(r, 0);

	/* A NULL packet after a good one ends the batch before it (diagnosed). */
	mm[0].mm_m = packet();
	mm[1].mm_m = NULL;
	EXPECT_DIAG("m_sendmmsg", r = m_sendmmsg(sv[0], mm, 2, NULL, 0, 0));
	CHECK_EQ(r, 1);
	CHECK(mm[0].mm_m == NULL); /* sent in full, freed */
	char buf[2000];

	CHECK_EQ(recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT), PKT_LEN);
	CHECK_EQ(recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT), -1); /* nothing more */
	close(sv[0]);
	close(sv[1]);
	check_clean();
}

static void test_send_freed_chain(void)
{
#ifndef TEST_UNDER_ASAN
	if (TEST_UNDER_VALGRIND())
		return;
	int sv[2];
	ssize_t r = 0;
	struct mbuf *m = packet(), *dead;

	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
	m_freem(m);
	dead = m;
	EXPECT_DIAG("m_sendmsg", r = m_sendmsg(sv[0], &dead, NULL, 0, 0));
	CHECK(r == -EINVAL && HAS("not live") && dead == m);
	EXPECT_DIAG("m_writev", r = m_writev(sv[0], &dead));
	CHECK_EQ(r, -EINVAL);
	CHECK_EQ(recv(sv[1], &r, sizeof(r), MSG_DONTWAIT), -1); /* nothing went */
	close(sv[0]);
	close(sv[1]);
	check_clean();
#endif
}

static void test_to_iovec_bad(void)
{
	struct mbuf *m = packet();
	struct iovec iov[4];
	size_t len = 99;
	int n;

	/* NULL packet: nothing described. */
	CHECK_EQ(m_to_iovec(NULL, iov, 4, &len), 0);
	CHECK_EQ(len, 0);
	len = 99;
	CHECK_EQ(skb_to_iovec(NULL, iov, 4, &len), 0);
	CHECK_EQ(len, 0);
	/* A negative or too small count: a prefix (none at all for <= 0). */
	len = 99;
	iov[0].iov_base = NULL;
	EXPECT_NO_DIAG(n = m_to_iovec(m, iov, -3, &len));
	CHECK(n == 0 && len == 0 && iov[0].iov_base == NULL);
	EXPECT_NO_DIAG(n = m_to_iovec(m, iov, 1, &len));
	CHECK(n == 1 && len == 40);
	struct sk_buff *skb = skb_packet();

	EXPECT_NO_DIAG(n = skb_to_iovec(skb, iov, -1, &len));
	CHECK(n == 0 && len == 0);
	/* NULL array: a count of what the whole packet needs. */
	CHECK_EQ(m_to_iovec(m, NULL, 0, &len), 2);
	CHECK_EQ(len, PKT_LEN);
	CHECK_EQ(skb_to_iovec(skb, NULL, 0, &len), 1);
	CHECK_EQ(len, 300);
	kfree_skb(skb);
	m_freem(m);
	check_clean();
}

/* ------------------------------------------------------------ netio: receiving */

static void test_recv_bad_fd(void)
{
	int fds[2] = { -1, closed_fd() };

	for (int k = 0; k < 2; k++) {
		int fd = fds[k];
		struct m_mmsg mm[3];
		struct skb_mmsg sm[3];
		struct mbuf *m = (struct mbuf *)1;
		struct sk_buff *skb = (struct sk_buff *)1;
		ssize_t r;

		for (int i = 0; i < 3; i++) {
			mm[i].mm_m = (struct mbuf *)1;
			sm[i].sm_skb = (struct sk_buff *)1;
		}
		EXPECT_NO_DIAG(r = m_recvmmsg(fd, mm, 3, 9000, 0, MSG_DONTWAIT, M_WAIT));
		CHECK_EQ(r, -EBADF);
		CHECK(mm[0].mm_m == NULL && mm[1].mm_m == NULL && mm[2].mm_m == NULL);
		EXPECT_NO_DIAG(r = m_recvmsg(fd, &mm[0], 1500, 64, 0, M_DONTWAIT));
		CHECK(r == -EBADF && mm[0].mm_m == NULL);
		EXPECT_NO_DIAG(r = m_readv(fd, &m, 3000, M_WAIT));
		CHECK(r == -EBADF && m == NULL);
		EXPECT_NO_DIAG(r = skb_recvmmsg(fd, sm, 3, 1500, 32, 0, GFP_KERNEL));
		CHECK_EQ(r, -EBADF);
		CHECK(sm[0].sm_skb == NULL && sm[1].sm_skb == NULL && sm[2].sm_skb == NULL);
		sm[0].sm_skb = (struct sk_buff *)1;
		EXPECT_NO_DIAG(r = skb_recvmsg(fd, &sm[0], 1500, 32, 0, GFP_ATOMIC));
		CHECK(r == -EBADF && sm[0].sm_skb == NULL);
		EXPECT_NO_DIAG(r = skb_readv(fd, &skb, 1500, 0, GFP_KERNEL));
		CHECK(r == -EBADF && skb == NULL);
		check_clean(); /* every buffer allocated for the call was freed */
	}

	/* Not a socket: recvmsg's -ENOTSOCK, nothing kept. */
	int p[2];
	struct m_mmsg one = { .mm_m = (struct mbuf *)1 };
	ssize_t r;

	CHECK(pipe(p) == 0);
	EXPECT_NO_DIAG(r = m_recvmsg(p[0], &one, 1500, 0, MSG_DONTWAIT, M_WAIT));
	CHECK(r == -ENOTSOCK && one.mm_m == NULL);
	close(p[0]);
	close(p[1]);
	check_clean();
}

static void test_recv_bad_args(void)
{
	int sv[2];
	struct m_mmsg mm[2];
	struct skb_mmsg sm[2];
	struct mbuf *m = (struct mbuf *)1;
	struct sk_buff *skb = (struct sk_buff *)1;
	ssize_t r = 0;

	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
	mm[0].mm_m = mm[1].mm_m = (struct mbuf *)1;
	EXPECT_DIAG("m_recvmmsg", r = m_recvmmsg(sv[1], mm, 2, 0, 0, 0, M_WAIT));
	CHECK(r == -EINVAL && HAS("maxlen 0"));
	CHECK(mm[0].mm_m == NULL && mm[1].mm_m == NULL);
	EXPECT_DIAG("m_recvmmsg", r = m_recvmmsg(sv[1], mm, 2, (1 << 20) + 1, 0, 0, M_WAIT));
	CHECK_EQ(r, -EINVAL);
	EXPECT_DIAG("m_recvmmsg", r = m_recvmmsg(sv[1], mm, 2, 100, -1, 0, M_WAIT));
	CHECK_EQ(r, -EINVAL);
	EXPECT_DIAG("m_recvmmsg", r = m_recvmmsg(sv[1], mm, 2, 100, MCLBYTES, 0, M_WAIT));
	CHECK_EQ(r, -EINVAL);
	EXPECT_DIAG("m_recvmmsg", r = m_recvmmsg(sv[1], mm, 2, 100, 0, 0, 4));
	CHECK_EQ(r, -EINVAL);
	EXPECT_DIAG("m_recvmmsg", r = m_recvmmsg(sv[1], NULL, 2, 100, 0, 0, M_WAIT));
	CHECK_EQ(r, -EINVAL);
	EXPECT_DIAG("m_recvmmsg", r = m_recvmmsg(sv[1], mm, -2, 100, 0, 0, M_WAIT));
	CHECK_EQ(r, -EINVAL);
	EXPECT_DIAG("m_recvmsg", r = m_recvmsg(sv[1], NULL, 100, 0, 0, M_WAIT));
	CHECK_EQ(r, -EINVAL);
	mm[0].mm_m = (struct mbuf *)1;
	EXPECT_DIAG("m_recvmsg", r = m_recvmsg(sv[1], &mm[0], -5, 0, 0, M_WAIT));
	CHECK(r == -EINVAL && mm[0].mm_m == NULL);
	EXPECT_DIAG("m_readv", r = m_readv(sv[1], NULL, 100, M_WAIT));
	CHECK_EQ(r, -EINVAL);
	EXPECT_DIAG("m_readv", r = m_readv(sv[1], &m, 0, M_WAIT));
	CHECK(r == -EINVAL && m == NULL);

	sm[0].sm_skb = sm[1].sm_skb = (struct sk_buff *)1;
	EXPECT_DIAG("skb_recvmmsg", r = skb_recvmmsg(sv[1], sm, 2, 0, 0, 0, GFP_KERNEL));
	CHECK(r == -EINVAL && sm[0].sm_skb == NULL && sm[1].sm_skb == NULL);
	EXPECT_DIAG("skb_recvmmsg", r = skb_recvmmsg(sv[1], sm, 2, 100, (1u << 20) + 1, 0, GFP_KERNEL));
	CHECK_EQ(r, -EINVAL);
	EXPECT_DIAG("skb_recvmmsg", r = skb_recvmmsg(sv[1], NULL, 1, 100, 0, 0, GFP_KERNEL));
	CHECK_EQ(r, -EINVAL);
	EXPECT_DIAG("skb_recvmsg", r = skb_recvmsg(sv[1], NULL, 100, 0, 0, GFP_KERNEL));
	CHECK_EQ(r, -EINVAL);
	sm[0].sm_skb = (struct sk_buff *)1;
	EXPECT_DIAG("skb_recvmsg", r = skb_recvmsg(sv[1], &sm[0], 0, 0, 0, GFP_KERNEL));
	CHECK(r == -EINVAL && sm[0].sm_skb == NULL);
	EXPECT_DIAG("skb_readv", r = skb_readv(sv[1], NULL, 100, 0, GFP_KERNEL));
	CHECK_EQ(r, -EINVAL);
	EXPECT_DIAG("skb_readv", r = skb_readv(sv[1], &skb, (1u << 20) + 1, 0, GFP_KERNEL));
	CHECK(r == -EINVAL && skb == NULL);

	/* Nothing was consumed from the socket by any of them. */
	CHECK_EQ(send(sv[0], "x", 1, 0), 1);
	EXPECT_NO_DIAG(r = m_recvmsg(sv[1], &mm[0], 100, 0, MSG_DONTWAIT, M_WAIT));
	CHECK(r == 1 && mm[0].mm_m != NULL);
	m_freem(mm[0].mm_m);
	close(sv[0]);
	close(sv[1]);
	check_clean();
}

int main(void)
{
	diag_capture();
	/* Let every cache the tests use exist before the baseline is taken. */
	struct mbuf *w = packet();
	struct sk_buff *s = skb_packet();

	m_freem(w);
	kfree_skb(s);
	baseline_in_use = all_in_use();

	TEST(test_uiomove_bad);
	TEST(test_uiomove_frombuf_bad);
	TEST(test_uiotombuf_bad);
	TEST(test_mbuftouio_bad);
	TEST(test_send_bad_fd);
	TEST(test_send_null_chain);
	TEST(test_send_freed_chain);
	TEST(test_to_iovec_bad);
	TEST(test_recv_bad_fd);
	TEST(test_recv_bad_args);
	return test_summary();
}
