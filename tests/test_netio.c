/*
 * <pktmem/netio.h>: packets as iovecs, zero-copy sends that leave a packet
 * describing exactly its unsent rest, and batch receives into clusters and
 * skb heads; over socketpair(AF_UNIX, SOCK_STREAM / SOCK_DGRAM) and UDP on
 * 127.0.0.1 only. Every failure path runs under injected faults with no
 * mbuf, cluster or sk_buff left behind. Nothing blocks without a timeout.
 */
#define _GNU_SOURCE /* recvmmsg and friends, usleep, setitimer */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <pktmem/mbuf.h>
#include <pktmem/netio.h>
#include <pktmem/skbuff.h>

#include "check.h"

static void check_no_leaks(void)
{
	CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), 0);
	CHECK_EQ(cache_in_use(pktmem_cluster_cache()), 0);
	CHECK_EQ(cache_in_use(pktmem_skbuff_cache()), 0);
	CHECK_EQ(cache_in_use(pktmem_skbuff_fclone_cache()), 0);
}

static unsigned char pat(unsigned seed, size_t i)
{
	return (unsigned char)((i * 131u + seed * 7u + (i >> 8)) & 0xff);
}

static int is_pat(const unsigned char *p, size_t n, unsigned seed, size_t from)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != pat(seed, from + i))
			return 0;
	return 1;
}

/* ------------------------------------------------------------ packets */

/*
 * A packet chain over the pattern: mbufs of the given sizes (0: an empty
 * mbuf; more than fits: a cluster), some with data off the buffer start,
 * every fourth cluster shared with a copy that is then freed (so storage
 * that was shared is exercised).
 */
static struct mbuf *make_chain(const int *sizes, int n, unsigned seed)
{
	struct mbuf *top = NULL, **tail = &top;
	size_t off = 0;

	for (int i = 0; i < n; i++) {
		struct mbuf *m = i == 0 ? m_gethdr(M_WAIT, MT_DATA) : m_get(M_WAIT, MT_DATA);

		if (sizes[i] > M_TRAILINGSPACE(m))
			m_clget(m, M_WAIT);
		if (i % 3 == 1 && M_TRAILINGSPACE(m) >= sizes[i] + 5)
			m->m_data += 5;
		for (int k = 0; k < sizes[i]; k++)
			mtod(m, unsigned char *)[k] = pat(seed, off + (size_t)k);
		m->m_len = sizes[i];
		off += (size_t)sizes[i];
		*tail = m;
		tail = &m->m_next;
	}
	top->m_pkthdr.len = (int)off;
	return top;
}

/* A chain of @len bytes: a header mbuf of 100, then clusters. */
static struct mbuf *make_big_chain(int len, unsigned seed)
{
	int sizes[1100], n = 0, left = len;

	sizes[n++] = left < 100 ? left : 100;
	left -= sizes[0];
	while (left > 0 && n < 1100) {
		sizes[n] = left < MCLBYTES ? left : MCLBYTES;
		left -= sizes[n++];
	}
	return make_chain(sizes, n, seed);
}

static int chain_is_pat(struct mbuf *m, unsigned seed, size_t from)
{
	int len = m_length(m);
	unsigned char *buf = malloc((size_t)len + 1);

	m_copydata(m, 0, len, buf);
	int ok = is_pat(buf, (size_t)len, seed, from);

	free(buf);
	return ok;
}

static int count_mbufs(const struct mbuf *m)
{
	int n = 0;

	for (; m; m = m->m_next)
		n++;
	return n;
}

/* An skb: @headlen bytes linear (after 64 of headroom), then @nfrags page fragments of @fragsize. */
static struct sk_buff *make_skb(unsigned headlen, int nfrags, unsigned fragsize, unsigned seed)
{
	struct sk_buff *skb = alloc_skb(64 + headlen, GFP_KERNEL);
	size_t off = 0;

	skb_reserve(skb, 64);
	unsigned char *p = skb_put(skb, headlen);

	for (unsigned k = 0; k < headlen; k++)
		p[k] = pat(seed, off++);
	for (int i = 0; i < nfrags; i++) {
		struct page *pg = alloc_page(GFP_KERNEL);
		unsigned foff = (unsigned)(i * 13) % 64;
		unsigned char *q = (unsigned char *)page_address(pg) + foff;

		for (unsigned k = 0; k < fragsize; k++)
			q[k] = pat(seed, off++);
		skb_add_rx_frag(skb, i, pg, (int)foff, (int)fragsize, PAGE_SIZE);
	}
	return skb;
}

static int skb_is_pat(const struct sk_buff *skb, unsigned seed, size_t from)
{
	unsigned char *buf = malloc(skb->len + 1);

	skb_copy_bits(skb, 0, buf, (int)skb->len);
	int ok = is_pat(buf, skb->len, seed, from);

	free(buf);
	return ok;
}

/* ------------------------------------------------------------ sockets */

static void nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Wait (at most 2 s) for @fd to be readable. */
static int wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 2000) == 1;
}

/* Read what is there now (non-blocking) into @buf at *@have, up to @cap. */
static void drain(int fd, unsigned char *buf, size_t *have, size_t cap)
{
	for (;;) {
		ssize_t r = recv(fd, buf + *have, cap - *have, MSG_DONTWAIT);

		if (r <= 0)
			return;
		*have += (size_t)r;
	}
}

/* Read exactly @len bytes (2 s per wait). */
static int read_exact(int fd, unsigned char *buf, size_t len)
{
	size_t have = 0;

	while (have < len) {
		if (!wait_readable(fd))
			return 0;
		ssize_t r = recv(fd, buf + have, len - have, 0);

		if (r <= 0)
			return 0;
		have += (size_t)r;
	}
	return 1;
}

/* A UDP socket bound to 127.0.0.1 on a free port, with its address. */
static int udp_socket(struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	socklen_t len = sizeof(*addr);

	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr->sin_port = 0;
	if (fd < 0 || bind(fd, (struct sockaddr *)addr, sizeof(*addr)) != 0)
		return -1;
	getsockname(fd, (struct sockaddr *)addr, &len);

	struct timeval tv = { 2, 0 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	int big = 1 << 20;

	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	return fd;
}

/* ------------------------------------------------------------ describing */

static void test_m_to_iovec(void)
{
	static const int sizes[] = { 10, 0, 456, 0, 2048, 1, 0 };
	struct mbuf *m = make_chain(sizes, 7, 1);
	struct iovec iov[8];
	size_t len = 0;

	CHECK_EQ(m_to_iovec(m, NULL, 0, &len), 4); /* empty mbufs take no entry */
	CHECK_EQ(len, 10 + 456 + 2048 + 1);
	CHECK_EQ(m_to_iovec(m, iov, 8, &len), 4);
	CHECK_EQ(len, 2515);
	/* the entries are the chain's own storage: zero-copy */
	struct mbuf *n = m;
	int k = 0;

	for (; n; n = n->m_next) {
		if (!n->m_len)
			continue;
		CHECK(iov[k].iov_base == n->m_data);
		CHECK_EQ(iov[k].iov_len, n->m_len);
		k++;
	}
	/* a short array: a prefix */
	CHECK_EQ(m_to_iovec(m, iov, 2, &len), 2);
	CHECK_EQ(len, 466);
	CHECK_EQ(m_to_iovec(m, iov, 0, &len), 0);
	CHECK_EQ(len, 0);
	CHECK_EQ(m_to_iovec(NULL, iov, 8, &len), 0);
	CHECK_EQ(len, 0);
	CHECK_EQ(m_to_iovec(m, iov, 8, NULL), 4);
	m_freem(m);
	check_no_leaks();
}

static void test_skb_to_iovec(void)
{
	struct sk_buff *skb = make_skb(100, 3, 500, 2);
	struct iovec iov[8];
	size_t len = 0;

	CHECK_EQ(skb_to_iovec(skb, NULL, 0, &len), 4);
	CHECK_EQ(len, 1600);
	CHECK_EQ(skb_to_iovec(skb, iov, 8, &len), 4);
	CHECK(iov[0].iov_base == skb->data && iov[0].iov_len == 100);
	for (int i = 0; i < 3; i++) {
		CHECK(iov[1 + i].iov_base == skb_frag_address(&skb_shinfo(skb)->frags[i]));
		CHECK_EQ(iov[1 + i].iov_len, 500);
	}

	/* an empty head takes no entry; a frag_list follows the frags */
	struct sk_buff *nohead = make_skb(0, 2, 300, 3);
	struct sk_buff *inner = make_skb(50, 1, 70, 4);

	skb_shinfo(nohead)->frag_list = inner;
	nohead->len += inner->len;
	nohead->data_len += inner->len;
	CHECK_EQ(skb_to_iovec(nohead, iov, 8, &len), 4);
	CHECK_EQ(len, 600 + 120);
	CHECK(iov[2].iov_base == inner->data);
	CHECK_EQ(skb_to_iovec(nohead, iov, 3, &len), 3);
	CHECK_EQ(len, 650);
	CHECK_EQ(skb_to_iovec(NULL, iov, 8, &len), 0);
	kfree_skb(nohead);
	kfree_skb(skb);
	check_no_leaks();
}

/* ------------------------------------------------------------ whole sends */

static void test_m_sendmsg_stream(void)
{
	static const int sizes[] = { 60, 456, 0, 2048, 2048, 1, 300, 1500 };
	int sv[2];
	unsigned char buf[8000];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct mbuf *m = make_chain(sizes, 8, 5);
	int len = m_length(m);

	CHECK_EQ(m_sendmsg(sv[0], &m, NULL, 0, MSG_NOSIGNAL), len);
	CHECK(m == NULL);
	CHECK(read_exact(sv[1], buf, (size_t)len));
	CHECK(is_pat(buf, (size_t)len, 5, 0));

	/* writev, and an empty chain (0 bytes, freed) */
	m = make_chain(sizes, 8, 6);
	CHECK_EQ(m_writev(sv[0], &m), len);
	CHECK(m == NULL);
	CHECK(read_exact(sv[1], buf, (size_t)len));
	CHECK(is_pat(buf, (size_t)len, 6, 0));
	m = m_gethdr(M_WAIT, MT_DATA);
	CHECK_EQ(m_sendmsg(sv[0], &m, NULL, 0, 0), 0);
	CHECK(m == NULL);

	/* m_readv: straight into clusters, then end of file */
	m = make_chain(sizes, 8, 7);
	CHECK_EQ(m_writev(sv[0], &m), len);
	struct mbuf *r = NULL;
	size_t got = 0;

	while (got < (size_t)len && wait_readable(sv[1])) {
		ssize_t k = m_readv(sv[1], &r, 9000, M_WAIT);

		CHECK(k > 0 && r != NULL);
		if (k <= 0 || !r)
			break;
		CHECK_EQ(r->m_pkthdr.len, k);
		CHECK_EQ(m_length(r), k);
		CHECK(r->m_flags & M_PKTHDR);
		CHECK(chain_is_pat(r, 7, got));
		got += (size_t)k;
		m_freem(r);
	}
	CHECK_EQ(got, len);
	close(sv[0]);
	CHECK_EQ(m_readv(sv[1], &r, 9000, M_DONTWAIT), 0);
	CHECK(r == NULL);
	close(sv[1]);
	check_no_leaks();
}

static void test_m_sendmsg_dgram_pair(void)
{
	static const int sizes[] = { 28, 0, 2048, 700, 1 };
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
	struct mbuf *m = make_chain(sizes, 5, 8);
	int len = m_length(m);

	CHECK_EQ(m_sendmsg(sv[0], &m, NULL, 0, 0), len);
	CHECK(m == NULL);

	struct m_mmsg msg;

	CHECK(wait_readable(sv[1]));
	CHECK_EQ(m_recvmsg(sv[1], &msg, 4000, 0, MSG_DONTWAIT, M_WAIT), len);
	CHECK(msg.mm_m != NULL);
	if (msg.mm_m) {
		CHECK_EQ(msg.mm_m->m_pkthdr.len, len);
		CHECK_EQ(count_mbufs(msg.mm_m), 2); /* 2777 bytes: two clusters */
		CHECK(chain_is_pat(msg.mm_m, 8, 0));
		CHECK_EQ(msg.mm_flags & MSG_TRUNC, 0);
	}
	m_freem(msg.mm_m);

	/* a batch over the connected pair; a zero-length datagram too */
	struct m_mmsg out[4], in[8];

	memset(out, 0, sizeof(out));
	for (int i = 0; i < 4; i++)
		out[i].mm_m = i == 0 ? m_gethdr(M_WAIT, MT_DATA) : make_big_chain(i * 1000, (unsigned)(20 + i));
	CHECK_EQ(m_sendmmsg(sv[0], out, 4, NULL, 0, 0), 4);
	for (int i = 0; i < 4; i++)
		CHECK(out[i].mm_m == NULL);
	int got = 0;

	while (got < 4 && wait_readable(sv[1])) {
		int k = m_recvmmsg(sv[1], in, 8, 3000, 0, MSG_DONTWAIT, M_DONTWAIT);

		CHECK(k > 0);
		if (k <= 0)
			break;
		for (int i = 0; i < k; i++) {
			CHECK_EQ(in[i].mm_m->m_pkthdr.len, (got + i) * 1000);
			CHECK_EQ(in[i].mm_addrlen, 0);
			CHECK(chain_is_pat(in[i].mm_m, (unsigned)(20 + got + i), 0));
			m_freem(in[i].mm_m);
		}
		for (int i = k; i < 8; i++)
			CHECK(in[i].mm_m == NULL);
		got += k;
	}
	CHECK_EQ(got, 4);
	close(sv[0]);
	close(sv[1]);
	check_no_leaks();
}

/* ------------------------------------------------------------ partial writes */

/*
 * A megabyte chain into a non-blocking stream with a small send buffer:
 * after every partial write the chain holds exactly the unsent rest (bytes,
 * pkthdr.len, fully sent mbufs freed); after EAGAIN it is untouched; the
 * peer gets every byte once, in order.
 */
static void test_partial_writes_chain(void)
{
	enum { LEN = 1 << 20 };
	int sv[2];
	unsigned char *rx = malloc(LEN);
	size_t have = 0, sent = 0;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	int small = 4096;

	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	nonblock(sv[0]);

	struct mbuf *m = make_big_chain(LEN, 9);
	int partials = 0, eagains = 0;

	for (int iter = 0; m && iter < 200000; iter++) {
		int before_len = m_length(m), before_n = count_mbufs(m);
		ssize_t r = m_sendmsg(sv[0], &m, NULL, 0, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (r == -EAGAIN) {
			eagains++;
			CHECK(m != NULL);
			CHECK_EQ(m_length(m), before_len);
			CHECK_EQ(count_mbufs(m), before_n);
			drain(sv[1], rx, &have, LEN);
			continue;
		}
		CHECK(r > 0);
		if (r <= 0)
			break;
		sent += (size_t)r;
		if (!m) {
			CHECK_EQ(sent, LEN);
			break;
		}
		partials++;
		CHECK_EQ(m_length(m), LEN - (int)sent);
		CHECK_EQ(m->m_pkthdr.len, LEN - (int)sent);
		CHECK(m->m_flags & M_PKTHDR);
		/* after the header mbuf, only mbufs that still hold unsent bytes */
		for (struct mbuf *n = m->m_next; n; n = n->m_next)
			CHECK(n->m_len > 0);
		if (partials % 16 == 1)
			CHECK(chain_is_pat(m, 9, sent));
	}
	CHECK(m == NULL);
	CHECK(partials > 2);
	CHECK(eagains > 0);
	while (have < LEN && wait_readable(sv[1]))
		drain(sv[1], rx, &have, LEN);
	CHECK_EQ(have, LEN);
	CHECK(is_pat(rx, LEN, 9, 0));
	m_freem(m);
	free(rx);
	close(sv[0]);
	close(sv[1]);
	check_no_leaks();
}

/*
 * The same with an skb of head and page fragments, sent while a clone
 * holds it: the sender gets a private head, trimming never touches the
 * clone, whose bytes stay whole.
 */
static void test_partial_writes_skb(void)
{
	int sv[2];
	unsigned char *rx = malloc(1 << 17);
	size_t have = 0, sent = 0;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	int small = 4096;

	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	nonblock(sv[0]);

	struct sk_buff *skb = make_skb(1000, 16, 4000, 10);
	unsigned int total = skb->len;
	struct sk_buff *clone = skb_clone(skb, GFP_KERNEL);

	CHECK(skb_cloned(skb));
	int partials = 0;

	for (int iter = 0; skb && iter < 100000; iter++) {
		unsigned before = skb->len;
		ssize_t r = skb_sendmsg(sv[0], &skb, NULL, 0, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (r == -EAGAIN) {
			CHECK_EQ(skb->len, before);
			drain(sv[1], rx, &have, 1 << 17);
			continue;
		}
		CHECK(r > 0);
		if (r <= 0)
			break;
		sent += (size_t)r;
		if (!skb)
			break;
		partials++;
		CHECK_EQ(skb->len, total - sent);
		CHECK(!skb_cloned(skb)); /* made private before the first send */
		CHECK(skb_is_pat(skb, 10, sent));
		for (int i = 0; i < skb_shinfo(skb)->nr_frags; i++)
			CHECK(skb_frag_size(&skb_shinfo(skb)->frags[i]) > 0);
	}
	CHECK(skb == NULL);
	CHECK(partials > 2);
	while (have < total && wait_readable(sv[1]))
		drain(sv[1], rx, &have, 1 << 17);
	CHECK_EQ(have, total);
	CHECK(is_pat(rx, total, 10, 0));
	/* the clone is whole */
	CHECK_EQ(clone->len, total);
	CHECK_EQ(skb_shinfo(clone)->nr_frags, 16);
	CHECK(skb_is_pat(clone, 10, 0));
	kfree_skb(clone);
	free(rx);
	close(sv[0]);
	close(sv[1]);
	check_no_leaks();
}

/* A batch on a stream: entries still non-NULL are what is left to send, in order. */
static void test_sendmmsg_stream_partial(void)
{
	enum { N = 12, EACH = 20000 };
	int sv[2];
	unsigned char *rx = malloc(N * EACH);
	size_t have = 0;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	int small = 4096;

	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	nonblock(sv[0]);

	struct m_mmsg v[N];

	memset(v, 0, sizeof(v));
	for (int i = 0; i < N; i++) {
		int sizes[10], n = 0, left = EACH;

		while (left > 0) {
			sizes[n] = left < MCLBYTES ? left : MCLBYTES;
			left -= sizes[n++];
		}
		/* one pattern across the whole stream: packet i starts at i * EACH */
		v[i].mm_m = make_chain(sizes, n, 11);
	}
	/* rewrite each packet's bytes to continue the stream's pattern */
	for (int i = 0; i < N; i++) {
		unsigned char *tmp = malloc(EACH);

		for (int k = 0; k < EACH; k++)
			tmp[k] = pat(11, (size_t)i * EACH + (size_t)k);
		m_copyback(v[i].mm_m, 0, EACH, tmp);
		free(tmp);
	}

	int first = 0;

	for (int iter = 0; first < N && iter < 100000; iter++) {
		int r = m_sendmmsg(sv[0], v + first, N - first, NULL, 0, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (r == -EAGAIN) {
			drain(sv[1], rx, &have, N * EACH);
			continue;
		}
		CHECK(r > 0);
		if (r <= 0)
			break;
		for (int i = first; i < first + r - 1; i++)
			CHECK(v[i].mm_m == NULL);
		while (first < N && v[first].mm_m == NULL)
			first++;
		if (first < N)
			CHECK(v[first].mm_m->m_pkthdr.len == m_length(v[first].mm_m));
	}
	CHECK_EQ(first, N);
	while (have < N * EACH && wait_readable(sv[1]))
		drain(sv[1], rx, &have, N * EACH);
	CHECK_EQ(have, N * EACH);
	CHECK(is_pat(rx, N * EACH, 11, 0));
	for (int i = 0; i < N; i++)
		m_freem(v[i].mm_m);
	free(rx);
	close(sv[0]);
	close(sv[1]);
	check_no_leaks();
}

/* More segments than one system call takes. */
static void test_too_many_segments(void)
{
	int sizes[1100];
	int sv[2];

	for (int i = 0; i < 1100; i++)
		sizes[i] = 1 + i % 7;
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct mbuf *m = make_chain(sizes, 1100, 12);
	int len = m_length(m);

	/* a message cannot go in parts: refused, untouched */
	CHECK_EQ(m_sendmsg(sv[0], &m, NULL, 0, 0), -EMSGSIZE);
	CHECK_EQ(m_length(m), len);
	CHECK_EQ(count_mbufs(m), 1100);

	/* writev takes a prefix of PKTMEM_IOV_MAX segments */
	size_t prefix = 0;

	for (int i = 0; i < PKTMEM_IOV_MAX; i++)
		prefix += (size_t)sizes[i];
	CHECK_EQ(m_writev(sv[0], &m), (ssize_t)prefix);
	CHECK_EQ(m_length(m), len - (int)prefix);
	CHECK(chain_is_pat(m, 12, prefix));
	CHECK_EQ(m_writev(sv[0], &m), len - (int)prefix);
	CHECK(m == NULL);

	unsigned char *buf = malloc((size_t)len);

	CHECK(read_exact(sv[1], buf, (size_t)len));
	CHECK(is_pat(buf, (size_t)len, 12, 0));
	free(buf);
	close(sv[0]);
	close(sv[1]);
	check_no_leaks();
}

/* ------------------------------------------------------------ UDP batches */

static const int udp_sizes[] = { 0, 1, 100, 1472, 2047, 2048, 2049, 3000, 4096, 4097, 6143, 8192, 9000, 17, 555 };
#define NUDP ((int)(sizeof(udp_sizes) / sizeof(udp_sizes[0])))

static void test_udp_batch(void)
{
	struct sockaddr_in a, b;
	int fa = udp_socket(&a), fb = udp_socket(&b);

	CHECK(fa >= 0 && fb >= 0);

	struct m_mmsg out[NUDP], in[64];

	memset(out, 0, sizeof(out));
	for (int i = 0; i < NUDP; i++) {
		int sz = udp_sizes[i];

		out[i].mm_m = sz ? make_big_chain(sz, (unsigned)(30 + i)) : m_gethdr(M_WAIT, MT_DATA);
	}
	CHECK_EQ(m_sendmmsg(fa, out, NUDP, (struct sockaddr *)&b, sizeof(b), 0), NUDP);
	for (int i = 0; i < NUDP; i++)
		CHECK(out[i].mm_m == NULL);

	int got = 0;

	for (int tries = 0; got < NUDP && tries < 50; tries++) {
		int k = m_recvmmsg(fb, in, 64, 9000, 0, MSG_WAITFORONE, M_WAIT);

		CHECK(k > 0);
		if (k <= 0)
			break;
		for (int i = 0; i < k; i++) {
			struct mbuf *m = in[i].mm_m;
			int sz = udp_sizes[got + i];

			CHECK_EQ(m->m_pkthdr.len, sz);
			CHECK_EQ(m_length(m), sz);
			/* clusters: as many as the bytes need (one for an empty datagram) */
			CHECK_EQ(count_mbufs(m), sz ? (sz + MCLBYTES - 1) / MCLBYTES : 1);
			for (struct mbuf *n = m; n; n = n->m_next) {
				CHECK(n->m_flags & M_EXT);
				if (n->m_next)
					CHECK_EQ(n->m_len, MCLBYTES);
			}
			CHECK(chain_is_pat(m, (unsigned)(30 + got + i), 0));
			CHECK_EQ(in[i].mm_flags & MSG_TRUNC, 0);
			CHECK_EQ(in[i].mm_addrlen, sizeof(struct sockaddr_in));
			struct sockaddr_in *src = (struct sockaddr_in *)&in[i].mm_addr;

			CHECK(src->sin_port == a.sin_port && src->sin_addr.s_addr == a.sin_addr.s_addr);
			m_freem(m);
		}
		for (int i = k; i < 64; i++)
			CHECK(in[i].mm_m == NULL);
		got += k;
	}
	CHECK_EQ(got, NUDP);

	/* each packet to its own address (mm_addr), and a truncated datagram */
	memset(out, 0, sizeof(out));
	out[0].mm_m = make_big_chain(5000, 50);
	memcpy(&out[0].mm_addr, &b, sizeof(b));
	out[0].mm_addrlen = sizeof(b);
	CHECK_EQ(m_sendmmsg(fa, out, 1, NULL, 0, 0), 1);
	CHECK_EQ(m_recvmmsg(fb, in, 4, 3000, 0, MSG_WAITFORONE, M_WAIT), 1);
	CHECK(in[0].mm_flags & MSG_TRUNC);
	CHECK_EQ(in[0].mm_m->m_pkthdr.len, 3000);
	CHECK(chain_is_pat(in[0].mm_m, 50, 0));
	m_freem(in[0].mm_m);

	/* MSG_TRUNC asked for: the full length is reported, the packet holds what fit */
	out[0].mm_m = make_big_chain(5000, 51);
	CHECK_EQ(m_sendmsg(fa, &out[0].mm_m, (struct sockaddr *)&b, sizeof(b), 0), 5000);
	struct m_mmsg one;

	CHECK_EQ(m_recvmsg(fb, &one, 3000, 0, MSG_TRUNC, M_WAIT), 5000);
	CHECK_EQ(one.mm_m->m_pkthdr.len, 3000);
	CHECK(chain_is_pat(one.mm_m, 51, 0));
	m_freem(one.mm_m);

	/* nothing there: -EAGAIN, no packet kept */
	for (int i = 0; i < 4; i++)
		in[i].mm_m = (struct mbuf *)&one; /* overwritten */
	CHECK_EQ(m_recvmmsg(fb, in, 4, 9000, 0, MSG_DONTWAIT, M_DONTWAIT), -EAGAIN);
	for (int i = 0; i < 4; i++)
		CHECK(in[i].mm_m == NULL);
	close(fa);
	close(fb);
	check_no_leaks();
}

/* Headroom for a tunnel header: M_PREPEND in place, no new mbuf. */
static void test_recv_lspace_prepend(void)
{
	struct sockaddr_in a, b;
	int fa = udp_socket(&a), fb = udp_socket(&b);
	struct mbuf *m = make_big_chain(1400, 60);

	CHECK_EQ(m_sendmsg(fa, &m, (struct sockaddr *)&b, sizeof(b), 0), 1400);

	struct m_mmsg in[2];

	CHECK_EQ(m_recvmmsg(fb, in, 2, 2000, 16, MSG_WAITFORONE, M_WAIT), 1);
	m = in[0].mm_m;
	CHECK_EQ(M_LEADINGSPACE(m), 16);
	CHECK_EQ(count_mbufs(m), 1);

	unsigned long long before = cache_in_use(pktmem_mbuf_cache());

	M_PREPEND(m, 16, M_DONTWAIT);
	CHECK(m != NULL);
	CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), before);
	CHECK_EQ(m->m_pkthdr.len, 1416);
	memset(mtod(m, void *), 0xee, 16);
	/* and it goes out again, header and all */
	CHECK_EQ(m_sendmsg(fa, &m, (struct sockaddr *)&b, sizeof(b), 0), 1416);
	CHECK_EQ(m_recvmsg(fb, &in[0], 2000, 0, 0, M_WAIT), 1416);
	unsigned char hdr[16];

	m_copydata(in[0].mm_m, 0, 16, hdr);
	CHECK(hdr[0] == 0xee && hdr[15] == 0xee);
	m_adj(in[0].mm_m, 16);
	CHECK(chain_is_pat(in[0].mm_m, 60, 0));
	m_freem(in[0].mm_m);

	/* a 9000-byte packet with headroom: the first cluster holds 2048 - lspace */
	m = make_big_chain(9000, 61);
	CHECK_EQ(m_sendmsg(fa, &m, (struct sockaddr *)&b, sizeof(b), 0), 9000);
	CHECK_EQ(m_recvmsg(fb, &in[0], 9000, 100, 0, M_WAIT), 9000);
	CHECK_EQ(in[0].mm_m->m_len, MCLBYTES - 100);
	CHECK_EQ(count_mbufs(in[0].mm_m), 5);
	CHECK(chain_is_pat(in[0].mm_m, 61, 0));
	m_freem(in[0].mm_m);
	close(fa);
	close(fb);
	check_no_leaks();
}

/* ------------------------------------------------------------ sk_buffs */

static void test_skb_send_recv(void)
{
	struct sockaddr_in a, b;
	int fa = udp_socket(&a), fb = udp_socket(&b);
	struct skb_mmsg out[6], in[8];

	memset(out, 0, sizeof(out));
	for (int i = 0; i < 6; i++)
		out[i].sm_skb = make_skb((unsigned)(i * 100), i, 900, (unsigned)(70 + i));
	CHECK_EQ(skb_sendmmsg(fa, out, 6, (struct sockaddr *)&b, sizeof(b), 0), 6);
	for (int i = 0; i < 6; i++)
		CHECK(out[i].sm_skb == NULL);

	int got = 0;

	for (int tries = 0; got < 6 && tries < 20; tries++) {
		int k = skb_recvmmsg(fb, in, 8, 9000, 48, MSG_WAITFORONE, GFP_KERNEL);

		CHECK(k > 0);
		if (k <= 0)
			break;
		for (int i = 0; i < k; i++) {
			struct sk_buff *skb = in[i].sm_skb;
			int j = got + i;

			CHECK_EQ(skb->len, (unsigned)(j * 100 + j * 900));
			CHECK(!skb_is_nonlinear(skb));
			CHECK_EQ(skb_headroom(skb), 48);
			CHECK(skb_is_pat(skb, (unsigned)(70 + j), 0));
			CHECK(((struct sockaddr_in *)&in[i].sm_addr)->sin_port == a.sin_port);
			CHECK(skb_push(skb, 48) != NULL); /* the headroom is there */
			kfree_skb(skb);
		}
		got += k;
	}
	CHECK_EQ(got, 6);

	/* single: skb_sendmsg / skb_recvmsg, and skb_writev / skb_readv on a stream */
	struct sk_buff *skb = make_skb(300, 2, 1000, 80);

	CHECK_EQ(skb_sendmsg(fa, &skb, (struct sockaddr *)&b, sizeof(b), 0), 2300);
	CHECK(skb == NULL);
	CHECK_EQ(skb_recvmsg(fb, &in[0], 4000, 0, 0, GFP_KERNEL), 2300);
	CHECK(skb_is_pat(in[0].sm_skb, 80, 0));
	kfree_skb(in[0].sm_skb);

	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	skb = make_skb(10, 3, 4000, 81);
	CHECK_EQ(skb_writev(sv[0], &skb), 12010);
	CHECK(skb == NULL);
	size_t have = 0;

	while (have < 12010 && wait_readable(sv[1])) {
		ssize_t k = skb_readv(sv[1], &skb, 5000, 16, GFP_KERNEL);

		CHECK(k > 0 && skb && skb->len == (unsigned)k);
		if (k <= 0 || !skb)
			break;
		CHECK(skb_is_pat(skb, 81, have));
		have += (size_t)k;
		kfree_skb(skb);
	}
	CHECK_EQ(have, 12010);
	close(sv[0]);
	CHECK_EQ(skb_readv(sv[1], &skb, 5000, 16, GFP_KERNEL), 0);
	CHECK(skb == NULL);
	close(sv[1]);
	close(fa);
	close(fb);
	check_no_leaks();
}

/* ------------------------------------------------------------ errors */

static void test_bad_arguments(void)
{
	unsigned long d = diag_seen;
	struct m_mmsg mm[2];
	struct skb_mmsg sm[2];
	struct mbuf *m = NULL;
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
	CHECK_EQ(m_sendmsg(sv[0], NULL, NULL, 0, 0), -EINVAL);
	CHECK_EQ(m_sendmsg(sv[0], &m, NULL, 0, 0), -EINVAL); /* NULL packet */
	CHECK_EQ(m_recvmmsg(sv[1], mm, 2, 0, 0, 0, M_WAIT), -EINVAL);
	CHECK_EQ(m_recvmmsg(sv[1], mm, 2, 100, MCLBYTES, 0, M_WAIT), -EINVAL);
	CHECK_EQ(m_recvmmsg(sv[1], mm, 2, 100, 0, 0, 7), -EINVAL);
	CHECK_EQ(m_recvmmsg(sv[1], NULL, 2, 100, 0, 0, M_WAIT), -EINVAL);
	CHECK_EQ(skb_recvmmsg(sv[1], sm, -1, 100, 0, 0, GFP_KERNEL), -EINVAL);
	CHECK_EQ(skb_recvmsg(sv[1], sm, 0, 0, 0, GFP_KERNEL), -EINVAL);
	CHECK_EQ(diag_seen, d + 8);
	CHECK_EQ(m_recvmmsg(sv[1], mm, 0, 100, 0, 0, M_WAIT), 0);

	/* a shared skb is refused; a frag_list is not supported; both untouched */
	struct sk_buff *skb = make_skb(100, 1, 100, 90);

	skb_get(skb);
	CHECK_EQ(skb_sendmsg(sv[0], &skb, NULL, 0, 0), -EINVAL);
	CHECK_EQ(diag_seen, d + 9);
	kfree_skb(skb);
	skb_shinfo(skb)->frag_list = make_skb(10, 0, 0, 91);
	skb->len += 10;
	skb->data_len += 10;
	CHECK_EQ(skb_sendmsg(sv[0], &skb, NULL, 0, 0), -EOPNOTSUPP);
	CHECK(skb != NULL && skb->len == 210);
	kfree_skb(skb);

	/* an error from the socket: the packet untouched and still ours */
	close(sv[1]);
	m = make_big_chain(3000, 92);
	ssize_t r = m_sendmsg(sv[0], &m, NULL, 0, MSG_NOSIGNAL);

	CHECK(r == -ECONNREFUSED || r == -ENOTCONN || r == -EPIPE);
	CHECK(m != NULL && m_length(m) == 3000);
	m_freem(m);
	close(sv[0]);
	check_no_leaks();
}

/* MSG_ZEROCOPY would have the kernel read pages we free on return: refused, nothing sent. */
static void test_zerocopy_refused(void)
{
#ifdef MSG_ZEROCOPY
	unsigned long d = diag_seen;
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);

	struct mbuf *m = make_big_chain(3000, 93);
	struct sk_buff *skb = make_skb(100, 1, 100, 94);
	struct m_mmsg mm[1] = { { .mm_m = m } };

	CHECK_EQ(m_sendmsg(sv[0], &m, NULL, 0, MSG_ZEROCOPY), -EINVAL);
	CHECK_EQ(m_sendmmsg(sv[0], mm, 1, NULL, 0, MSG_ZEROCOPY | MSG_DONTWAIT), -EINVAL);
	CHECK_EQ(skb_sendmsg(sv[0], &skb, NULL, 0, MSG_ZEROCOPY), -EINVAL);
	CHECK_EQ(diag_seen, d + 3);
	CHECK(strcmp(diag_last_func, "skb_sendmsg") == 0 && strstr(diag_last_msg, "MSG_ZEROCOPY") != NULL);
	CHECK(m != NULL && m_length(m) == 3000 && mm[0].mm_m == m);
	CHECK(skb != NULL && skb->len == 200);

	char b;

	CHECK_EQ(recv(sv[1], &b, 1, MSG_DONTWAIT), -1); /* nothing was sent */
	m_freem(m);
	kfree_skb(skb);
	close(sv[0]);
	close(sv[1]);
	check_no_leaks();
#endif
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* A signal interrupts a blocking receive: -EINTR, nothing kept. */
static void test_eintr(void)
{
	struct sockaddr_in b;
	int fb = udp_socket(&b); /* SO_RCVTIMEO 2 s: never hangs */
	struct sigaction sa, old;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm; /* no SA_RESTART */
	sigaction(SIGALRM, &sa, &old);

	struct itimerval it = { { 0, 0 }, { 0, 50000 } };
	struct m_mmsg in[4];

	setitimer(ITIMER_REAL, &it, NULL);
	CHECK_EQ(m_recvmmsg(fb, in, 4, 9000, 0, 0, M_WAIT), -EINTR);
	for (int i = 0; i < 4; i++)
		CHECK(in[i].mm_m == NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	struct skb_mmsg sin;

	CHECK_EQ(skb_recvmsg(fb, &sin, 9000, 0, 0, GFP_KERNEL), -EINTR);
	CHECK(sin.sm_skb == NULL);
	sigaction(SIGALRM, &old, NULL);
	close(fb);
	check_no_leaks();
}

/* ------------------------------------------------------------ faults */

/* Send @n datagrams of the UDP sizes to @to from @fd. */
static void send_plain(int fd, const struct sockaddr_in *to, int n)
{
	static unsigned char buf[9000];

	for (int i = 0; i < n; i++) {
		int sz = udp_sizes[i % NUDP];

		for (int k = 0; k < sz; k++)
			buf[k] = pat((unsigned)(100 + i), (size_t)k);
		sendto(fd, buf, (size_t)sz, 0, (const struct sockaddr *)to, sizeof(*to));
	}
}

static void drain_dgrams(int fd)
{
	static unsigned char buf[9000];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		;
}

/*
 * Each allocation of a batch receive failed in turn, both wait flags and
 * both kinds: the batch is cut to the buffers that could be had (or
 * -ENOBUFS/-ENOMEM with none), every received packet is whole, nothing is
 * left behind.
 */
static void test_recv_faults(void)
{
	enum { N = 40 }; /* 40 x 5 clusters: more iovecs than the stack holds */
	struct sockaddr_in a, b;
	int fa = udp_socket(&a), fb = udp_socket(&b);
	static struct m_mmsg in[N];
	static struct skb_mmsg sin[N];

	for (int kind = 0; kind < 2; kind++)
		for (int wait = 0; wait < 2; wait++) {
			send_plain(fa, &b, N);
			CHECK(wait_readable(fb));
			usleep(10000);
			pktmem_fault_count_reset();
			int k = kind == 0 ? m_recvmmsg(fb, in, N, 9000, 0, MSG_DONTWAIT, wait ? M_WAIT : M_DONTWAIT)
					  : skb_recvmmsg(fb, sin, N, 9000, 0, MSG_DONTWAIT, wait ? GFP_KERNEL : GFP_ATOMIC);
			unsigned long points = pktmem_fault_count();

			pktmem_fault_off();
			CHECK_EQ(k, N);
			for (int i = 0; i < N; i++) {
				if (kind == 0)
					m_freem(in[i].mm_m);
				else
					kfree_skb(sin[i].sm_skb);
			}
			CHECK(points > N);
			for (unsigned long p = 1; p <= points; p += (p < 20 ? 1 : 7)) {
				drain_dgrams(fb);
				send_plain(fa, &b, N);
				CHECK(wait_readable(fb));
				usleep(2000);
				pktmem_fault_set(PKTMEM_FAULT_NTH, p, 0);
				k = kind == 0 ? m_recvmmsg(fb, in, N, 9000, 0, MSG_DONTWAIT, wait ? M_WAIT : M_DONTWAIT)
					      : skb_recvmmsg(fb, sin, N, 9000, 0, MSG_DONTWAIT, wait ? GFP_KERNEL : GFP_ATOMIC);
				pktmem_fault_off();
				if (k < 0)
					CHECK(k == (kind == 0 ? -ENOBUFS : -ENOMEM) || k == -EAGAIN);
				for (int i = 0; i < N; i++) {
					if (i >= k) {
						CHECK(kind == 0 ? in[i].mm_m == NULL : sin[i].sm_skb == NULL);
						continue;
					}
					int sz = udp_sizes[i % NUDP];

					if (kind == 0) {
						CHECK_EQ(in[i].mm_m->m_pkthdr.len, sz);
						CHECK(chain_is_pat(in[i].mm_m, (unsigned)(100 + i), 0));
						m_freem(in[i].mm_m);
					} else {
						CHECK_EQ(sin[i].sm_skb->len, sz);
						CHECK(skb_is_pat(sin[i].sm_skb, (unsigned)(100 + i), 0));
						kfree_skb(sin[i].sm_skb);
					}
				}
				check_no_leaks();
			}
			drain_dgrams(fb);
		}
	close(fa);
	close(fb);
	check_no_leaks();
}

/*
 * The send side allocates only when it must: an iovec array for a chain
 * of more than 128 segments, a private head for a cloned skb with
 * fragments. Failing those: -ENOMEM, nothing sent, packet untouched; a
 * batch is cut before the packet that could not be prepared.
 */
static void test_send_faults(void)
{
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
	int big = 1 << 20;

	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));

	/* a 200-segment chain */
	int sizes[200];

	for (int i = 0; i < 200; i++)
		sizes[i] = 10 + i;
	struct mbuf *m = make_chain(sizes, 200, 110);
	int len = m_length(m);

	pktmem_fault_set(PKTMEM_FAULT_EVERY, 1, 0);
	CHECK_EQ(m_sendmsg(sv[0], &m, NULL, 0, 0), -ENOMEM);
	pktmem_fault_off();
	CHECK(m && m_length(m) == len && count_mbufs(m) == 200);
	CHECK(chain_is_pat(m, 110, 0));
	CHECK_EQ(m_sendmsg(sv[0], &m, NULL, 0, 0), len);
	CHECK(m == NULL);
	drain_dgrams(sv[1]);

	/* a batch of small packets and a big one: cut before the big one */
	struct m_mmsg v[3];

	memset(v, 0, sizeof(v));
	v[0].mm_m = make_big_chain(100, 111);
	v[1].mm_m = make_big_chain(3000, 112);
	v[2].mm_m = make_chain(sizes, 200, 113);
	pktmem_fault_set(PKTMEM_FAULT_EVERY, 1, 0);
	CHECK_EQ(m_sendmmsg(sv[0], v, 3, NULL, 0, 0), 2);
	pktmem_fault_off();
	CHECK(v[0].mm_m == NULL && v[1].mm_m == NULL && v[2].mm_m != NULL);
	CHECK_EQ(m_sendmmsg(sv[0], v + 2, 1, NULL, 0, 0), 1);
	CHECK(v[2].mm_m == NULL);
	drain_dgrams(sv[1]);

	/* a cloned skb with fragments whose private head cannot be had */
	struct sk_buff *skb = make_skb(200, 3, 500, 114);
	struct sk_buff *clone = skb_clone(skb, GFP_KERNEL);
	unsigned char *head = skb->head;

	pktmem_fault_set(PKTMEM_FAULT_EVERY, 1, 0);
	CHECK_EQ(skb_sendmsg(sv[0], &skb, NULL, 0, 0), -ENOMEM);
	pktmem_fault_off();
	CHECK(skb && skb->head == head && skb->len == 1700 && skb_cloned(skb));
	struct skb_mmsg sv2[2] = { { .sm_skb = make_skb(10, 0, 0, 115) }, { .sm_skb = skb } };

	pktmem_fault_set(PKTMEM_FAULT_EVERY, 1, 0);
	CHECK_EQ(skb_sendmmsg(sv[0], sv2, 2, NULL, 0, 0), 1);
	pktmem_fault_off();
	CHECK(sv2[0].sm_skb == NULL && sv2[1].sm_skb == skb);
	CHECK_EQ(skb_sendmsg(sv[0], &skb, NULL, 0, 0), 1700);
	CHECK(skb == NULL);
	CHECK(skb_is_pat(clone, 114, 0));
	kfree_skb(clone);
	drain_dgrams(sv[1]);
	close(sv[0]);
	close(sv[1]);
	check_no_leaks();
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	diag_capture();
	TEST(test_m_to_iovec);
	TEST(test_skb_to_iovec);
	TEST(test_m_sendmsg_stream);
	TEST(test_m_sendmsg_dgram_pair);
	TEST(test_partial_writes_chain);
	TEST(test_partial_writes_skb);
	TEST(test_sendmmsg_stream_partial);
	TEST(test_too_many_segments);
	TEST(test_udp_batch);
	TEST(test_recv_lspace_prepend);
	TEST(test_skb_send_recv);
	TEST(test_bad_arguments);
	TEST(test_zerocopy_refused);
	TEST(test_eintr);
	TEST(test_recv_faults);
	TEST(test_send_faults);
	return test_summary();
}
