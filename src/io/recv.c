/*
 * Receiving straight into packet buffers: m_recvmmsg(), m_recvmsg(),
 * m_readv() into clusters and skb_recvmmsg(), skb_recvmsg(), skb_readv()
 * into skb heads.
 *
 *   1. allocate n packets, each with room for maxlen bytes, and describe
 *      that room as iovecs           [hdr+cl][cl][cl]  [hdr+cl][cl][cl] ...
 *   2. one system call               recvmmsg: 2 datagrams, 2100 and 60 bytes
 *   3. trim each packet to what it got, free the rest
 *                                    [hdr+cl 2048][cl 52]  [hdr+cl 60]
 *
 * The batch shrinks instead of failing when buffers run short: the packets
 * that could be allocated are used (the caller asked for "up to n"). Every
 * buffer that does not leave with a received packet is freed here.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "io/io_impl.h"
#include "storage/window.h"

enum recv_call {
	CALL_RECVMMSG,
	CALL_RECVMSG,
	CALL_READV,
};

/* What each packet of a receive looks like. */
struct rx_shape {
	enum io_kind kind;
	size_t maxlen;   /* room for data */
	size_t lspace;   /* mbufs: free bytes in front of the first cluster */
	size_t headroom; /* skbs: skb_reserve() */
	int how;         /* mbufs */
	gfp_t gfp;       /* skbs, and the scratch arrays */
	int segs;        /* iovecs per packet */
};

/* ------------------------------------------------------------ one packet */

/* A packet of clusters with room for @sh->maxlen, described into @iov. */
static struct mbuf *m_rx_alloc(const struct rx_shape *sh, struct iovec *iov)
{
	struct mbuf *top = NULL, **tail = &top;
	size_t left = sh->maxlen;

	do {
		struct mbuf *m = top ? m_get(sh->how, MT_DATA) : m_gethdr(sh->how, MT_DATA);

		if (!m)
			goto fail;
		m_clget(m, sh->how);
		if (!(m->m_flags & M_EXT)) {
			m_free(m);
			goto fail;
		}
		if (!top)
			m->m_data += sh->lspace;
		*tail = m;
		tail = &m->m_next;

		size_t room = (size_t)m_trailingspace(m);
		size_t use = room < left ? room : left;

		iov->iov_base = m->m_data;
		iov->iov_len = use;
		iov++;
		left -= use;
	} while (left > 0);
	return top;
fail:
	m_freem(top);
	return NULL;
}

/* Trim a received packet to the @len bytes that arrived, freeing empty clusters. */
static void m_rx_trim(struct mbuf *top, size_t len)
{
	struct mbuf *m = top;

	top->m_pkthdr.len = (int)len;
	for (;;) {
		size_t room = (size_t)m_trailingspace(m);

		m->m_len = (int)(room < len ? room : len);
		len -= (size_t)m->m_len;
		if (len == 0 || !m->m_next)
			break;
		m = m->m_next;
	}
	m_freem(m->m_next);
	m->m_next = NULL;
	win_m_close(top);
}

static struct sk_buff *skb_rx_alloc(const struct rx_shape *sh, struct iovec *iov)
{
	struct sk_buff *skb = alloc_skb((unsigned int)(sh->headroom + sh->maxlen), sh->gfp);

	if (!skb)
		return NULL;
	skb_reserve(skb, (int)sh->headroom);
	win_open(skb_tail_pointer(skb), sh->maxlen); /* the kernel writes there, then skb_put() */
	iov->iov_base = skb_tail_pointer(skb);
	iov->iov_len = sh->maxlen;
	return skb;
}

static void *rx_alloc(const struct rx_shape *sh, struct iovec *iov)
{
	return sh->kind == IO_MBUF ? (void *)m_rx_alloc(sh, iov) : (void *)skb_rx_alloc(sh, iov);
}

static void rx_trim(const struct rx_shape *sh, void *pkt, size_t len)
{
	if (len > sh->maxlen) /* MSG_TRUNC in the flags reports the full length */
		len = sh->maxlen;
	if (sh->kind == IO_MBUF)
		m_rx_trim(pkt, len);
	else
		skb_put(pkt, (unsigned int)len);
}

static void rx_free(const struct rx_shape *sh, void *pkt)
{
	if (sh->kind == IO_MBUF)
		m_freem(pkt);
	else
		kfree_skb(pkt);
}

/* ------------------------------------------------------------ the batch */

/*
 * Receive into up to @n packets of @b with one system call; see
 * <pktmem/netio.h>. CALL_RECVMSG and CALL_READV have @n 1 and return bytes.
 */
static ssize_t recv_batch(int fd, const struct io_batch *b, int n, const struct rx_shape *sh, int flags,
			  enum recv_call call)
{
	for (int i = 0; i < n; i++)
		io_b_set_pkt(b, i, NULL);
	if (n == 0)
		return 0;
	if (n > PKTMEM_MMSG_MAX)
		n = PKTMEM_MMSG_MAX;

	/* The arrays; when the heap has none, as many packets as the stack holds. */
	struct io_scratch s;

	if (!io_scratch_get(&s, (size_t)n * (size_t)sh->segs, (size_t)n, sh->gfp)) {
		int fit = IO_STACK_IOV / sh->segs;

		if (fit > IO_STACK_MSG)
			fit = IO_STACK_MSG;
		if (fit == 0)
			return sh->kind == IO_MBUF ? -ENOBUFS : -ENOMEM;
		n = n < fit ? n : fit;
		io_scratch_get(&s, (size_t)n * (size_t)sh->segs, (size_t)n, sh->gfp);
	}

	/* The buffers; a shortage cuts the batch. */
	int have;

	for (have = 0; have < n; have++) {
		struct iovec *iov = s.iov + (size_t)have * (size_t)sh->segs;
		void *pkt = rx_alloc(sh, iov);

		if (!pkt)
			break;
		io_b_set_pkt(b, have, pkt);

		struct msghdr *mh = &s.hdr[have].msg_hdr;

		memset(mh, 0, sizeof(*mh));
		mh->msg_name = io_b_addr(b, have);
		mh->msg_namelen = sizeof(struct sockaddr_storage);
		mh->msg_iov = iov;
		mh->msg_iovlen = (size_t)sh->segs;
		s.hdr[have].msg_len = 0;
	}
	if (have == 0) {
		io_scratch_put(&s);
		return sh->kind == IO_MBUF ? -ENOBUFS : -ENOMEM;
	}

	ssize_t r;
	int got;

	switch (call) {
	case CALL_READV:
		r = readv(fd, s.iov, sh->segs);
		s.hdr[0].msg_hdr.msg_namelen = 0;
		break;
	case CALL_RECVMSG:
		r = recvmsg(fd, &s.hdr[0].msg_hdr, flags);
		break;
	default:
		r = recvmmsg(fd, s.hdr, (unsigned int)have, flags, NULL);
		break;
	}
	int err = r < 0 ? -errno : 0;

	if (r < 0)
		got = 0;
	else if (call == CALL_RECVMMSG)
		got = (int)r;
	else {
		s.hdr[0].msg_len = (unsigned int)r;
		got = 1;
	}

	for (int i = 0; i < have; i++) {
		void *pkt = io_b_pkt(b, i);

		if (i >= got) {
			rx_free(sh, pkt);
			io_b_set_pkt(b, i, NULL);
			continue;
		}
		rx_trim(sh, pkt, s.hdr[i].msg_len);
		*io_b_addrlen(b, i) = s.hdr[i].msg_hdr.msg_namelen;
		*io_b_flags(b, i) = s.hdr[i].msg_hdr.msg_flags;
	}
	io_scratch_put(&s);
	return r < 0 ? err : r;
}

/* ------------------------------------------------------------ arguments */

/* The largest packet one receive builds: 1 MiB of data is plenty, and keeps sizes in int. */
#define RX_MAXLEN (1 << 20)

static bool m_shape(struct rx_shape *sh, int maxlen, int lspace, int how, const char *func)
{
	if (!how_ok(how, func))
		return false;
	if (unlikely(maxlen <= 0 || maxlen > RX_MAXLEN || lspace < 0 || lspace >= MCLBYTES)) {
		diag(func, "maxlen %d must be 1..%d and lspace %d 0..%d", maxlen, RX_MAXLEN, lspace, MCLBYTES - 1);
		return false;
	}
	*sh = (struct rx_shape){
		.kind = IO_MBUF,
		.maxlen = (size_t)maxlen,
		.lspace = (size_t)lspace,
		.how = how,
		.gfp = how_to_gfp(how),
	};
	int first = MCLBYTES - lspace;

	sh->segs = maxlen <= first ? 1 : 1 + (maxlen - first + MCLBYTES - 1) / MCLBYTES;
	return true;
}

static bool skb_shape(struct rx_shape *sh, unsigned int maxlen, unsigned int headroom, gfp_t gfp,
		      const char *func)
{
	if (unlikely(maxlen == 0 || maxlen > RX_MAXLEN || headroom > RX_MAXLEN)) {
		diag(func, "maxlen %u must be 1..%d and headroom %u at most %d", maxlen, RX_MAXLEN, headroom,
		     RX_MAXLEN);
		return false;
	}
	*sh = (struct rx_shape){
		.kind = IO_SKB,
		.maxlen = maxlen,
		.headroom = headroom,
		.gfp = gfp,
		.segs = 1,
	};
	return true;
}

static bool batch_ok(const void *msgs, int n, const char *func)
{
	if (likely(n >= 0 && (n == 0 || msgs)))
		return true;
	diag(func, "bad batch: %d packets at %p", n, msgs);
	return false;
}

/* ------------------------------------------------------------ mbufs */

int m_recvmmsg(int fd, struct m_mmsg *msgs, int n, int maxlen, int lspace, int flags, int how)
{
	struct rx_shape sh;
	struct io_batch b = { .kind = IO_MBUF, .mm = msgs };

	if (!batch_ok(msgs, n, "m_recvmmsg"))
		return -EINVAL;
	if (!m_shape(&sh, maxlen, lspace, how, "m_recvmmsg")) {
		for (int i = 0; i < n; i++)
			msgs[i].mm_m = NULL;
		return -EINVAL;
	}
	return (int)recv_batch(fd, &b, n, &sh, flags, CALL_RECVMMSG);
}

ssize_t m_recvmsg(int fd, struct m_mmsg *msg, int maxlen, int lspace, int flags, int how)
{
	struct rx_shape sh;
	struct io_batch b = { .kind = IO_MBUF, .mm = msg };

	if (!batch_ok(msg, 1, "m_recvmsg"))
		return -EINVAL;
	msg->mm_m = NULL;
	if (!m_shape(&sh, maxlen, lspace, how, "m_recvmsg"))
		return -EINVAL;
	return recv_batch(fd, &b, 1, &sh, flags, CALL_RECVMSG);
}

ssize_t m_readv(int fd, struct mbuf **mp, int maxlen, int how)
{
	struct rx_shape sh;
	struct m_mmsg one;
	struct io_batch b = { .kind = IO_MBUF, .mm = &one };

	if (unlikely(!mp)) {
		diag("m_readv", "NULL packet pointer");
		return -EINVAL;
	}
	*mp = NULL;
	if (!m_shape(&sh, maxlen, 0, how, "m_readv"))
		return -EINVAL;

	ssize_t r = recv_batch(fd, &b, 1, &sh, 0, CALL_READV);

	if (r == 0) { /* end of file: no packet */
		m_freem(one.mm_m);
		one.mm_m = NULL;
	}
	*mp = one.mm_m;
	return r;
}

/* ------------------------------------------------------------ sk_buffs */

int skb_recvmmsg(int fd, struct skb_mmsg *msgs, int n, unsigned int maxlen, unsigned int headroom, int flags,
		 gfp_t gfp)
{
	struct rx_shape sh;
	struct io_batch b = { .kind = IO_SKB, .sm = msgs };

	if (!batch_ok(msgs, n, "skb_recvmmsg"))
		return -EINVAL;
	if (!skb_shape(&sh, maxlen, headroom, gfp, "skb_recvmmsg")) {
		for (int i = 0; i < n; i++)
			msgs[i].sm_skb = NULL;
		return -EINVAL;
	}
	return (int)recv_batch(fd, &b, n, &sh, flags, CALL_RECVMMSG);
}

ssize_t skb_recvmsg(int fd, struct skb_mmsg *msg, unsigned int maxlen, unsigned int headroom, int flags,
		    gfp_t gfp)
{
	struct rx_shape sh;
	struct io_batch b = { .kind = IO_SKB, .sm = msg };

	if (!batch_ok(msg, 1, "skb_recvmsg"))
		return -EINVAL;
	msg->sm_skb = NULL;
	if (!skb_shape(&sh, maxlen, headroom, gfp, "skb_recvmsg"))
		return -EINVAL;
	return recv_batch(fd, &b, 1, &sh, flags, CALL_RECVMSG);
}

ssize_t skb_readv(int fd, struct sk_buff **skbp, unsigned int maxlen, unsigned int headroom, gfp_t gfp)
{
	struct rx_shape sh;
	struct skb_mmsg one;
	struct io_batch b = { .kind = IO_SKB, .sm = &one };

	if (unlikely(!skbp)) {
		diag("skb_readv", "NULL packet pointer");
		return -EINVAL;
	}
	*skbp = NULL;
	if (!skb_shape(&sh, maxlen, headroom, gfp, "skb_readv"))
		return -EINVAL;

	ssize_t r = recv_batch(fd, &b, 1, &sh, 0, CALL_READV);

	if (r == 0) {
		kfree_skb(one.sm_skb);
		one.sm_skb = NULL;
	}
	*skbp = one.sm_skb;
	return r;
}
