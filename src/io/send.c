/*
 * Sending packets without copying them: m_sendmsg(), m_writev(),
 * m_sendmmsg() and their sk_buff twins.
 *
 *   packet(s) --prepare--> iovecs on the stack --one system call--> r bytes
 *        ^                                                            |
 *        '---- io_m_sent()/io_skb_sent(): free what went, trim a part -'
 *
 * One path serves all six calls: send_batch() takes a batch view, and the
 * single-packet calls are batches of one (sendmsg or writev instead of
 * sendmmsg). Nothing is changed before the system call succeeds, except
 * that a cloned skb with fragments gets a private head first (same bytes),
 * because trimming its fragments afterwards must not touch its clones'.
 */
#include <errno.h>
#include <string.h>

#include "io/io_impl.h"

enum send_call {
	CALL_SENDMMSG,
	CALL_SENDMSG,
	CALL_WRITEV,
};

/*
 * Make @pkt ready to be sent and trimmed. Returns 0, or a negative errno
 * (the packet unchanged in its bytes) that refuses it.
 */
static int prepare(enum io_kind kind, void *pkt, const char *func)
{
	if (unlikely(!pkt)) {
		diag(func, "NULL packet");
		return -EINVAL;
	}
	if (kind == IO_MBUF)
		return mbuf_live(pkt, func) ? 0 : -EINVAL;

	struct sk_buff *skb = pkt;

	if (unlikely(skb_shared(skb))) {
		diag(func, "skb %p is shared (users %d): it would be trimmed under its other users",
		     (void *)skb, __atomic_load_n(&skb->users, __ATOMIC_RELAXED));
		return -EINVAL;
	}
	if (skb_shinfo(skb)->frag_list)
		return -EOPNOTSUPP;
	if (skb_shinfo(skb)->nr_frags && skb_cloned(skb) && pskb_expand_head(skb, 0, 0, GFP_ATOMIC) != 0)
		return -ENOMEM;
	return 0;
}

static void *pkt_sent(enum io_kind kind, void *pkt, size_t sent)
{
	return kind == IO_MBUF ? (void *)io_m_sent(pkt, sent) : (void *)io_skb_sent(pkt, sent);
}

/*
 * Send @n packets of @b with one system call; see <pktmem/netio.h> for the
 * contract. For CALL_SENDMSG/CALL_WRITEV @n is 1 and the return is bytes.
 */
static ssize_t send_batch(int fd, const struct io_batch *b, int n, const struct sockaddr *to,
			  socklen_t tolen, int flags, enum send_call call, const char *func)
{
	if (unlikely(n < 0 || (n > 0 && !b->mm && !b->sm))) {
		diag(func, "bad batch: %d packets at %p", n, b->kind == IO_MBUF ? (void *)b->mm : (void *)b->sm);
		return -EINVAL;
	}
#ifdef MSG_ZEROCOPY
	/* The kernel would read the pages after the call, and we free them as soon as it returns. */
	if (unlikely(flags & MSG_ZEROCOPY)) {
		diag(func, "MSG_ZEROCOPY in flags %#x: sent packets are freed on return, so the kernel may not read them later",
		     (unsigned)flags);
		return -EINVAL;
	}
#endif
	if (n == 0)
		return 0;
	if (n > PKTMEM_MMSG_MAX)
		n = PKTMEM_MMSG_MAX;

	/* Prepare and count; a packet that cannot go ends the batch before it. */
	int segs[IO_STACK_MSG];
	size_t niov = 0;
	int err = 0, i;

	for (i = 0; i < n; i++) {
		void *pkt = io_b_pkt(b, i);

		err = prepare(b->kind, pkt, func);
		if (err)
			break;

		int need = io_pkt_iovec(b->kind, pkt, NULL, 0, NULL);

		if (need > PKTMEM_IOV_MAX) {
			if (call != CALL_WRITEV) {
				err = -EMSGSIZE;
				break;
			}
			need = PKTMEM_IOV_MAX; /* a stream takes a prefix */
		}
		if (i < IO_STACK_MSG)
			segs[i] = need;
		niov += (size_t)need;
	}
	if (i == 0)
		return err;
	n = i;

	struct io_scratch s;

	if (!io_scratch_get(&s, niov, (size_t)n, GFP_ATOMIC)) {
		/* Cut the batch to what the stack arrays hold. */
		niov = 0;
		for (i = 0; i < n && i < IO_STACK_MSG && niov + (size_t)segs[i] <= IO_STACK_IOV; i++)
			niov += (size_t)segs[i];
		if (i == 0)
			return -ENOMEM;
		n = i;
		io_scratch_get(&s, niov, (size_t)n, GFP_ATOMIC);
	}

	struct iovec *iov = s.iov;

	for (i = 0; i < n; i++) {
		struct msghdr *mh = &s.hdr[i].msg_hdr;
		socklen_t alen = *io_b_addrlen(b, i);

		memset(mh, 0, sizeof(*mh));
		if (to) {
			mh->msg_name = (void *)(uintptr_t)to;
			mh->msg_namelen = tolen;
		} else if (call == CALL_SENDMMSG && alen) {
			mh->msg_name = io_b_addr(b, i);
			mh->msg_namelen = alen;
		}
		mh->msg_iov = iov;
		mh->msg_iovlen = (size_t)io_pkt_iovec(b->kind, io_b_pkt(b, i), iov,
						     call == CALL_WRITEV ? PKTMEM_IOV_MAX : (int)(niov - (size_t)(iov - s.iov)),
						     NULL);
		iov += mh->msg_iovlen;
		s.hdr[i].msg_len = 0;
	}

	ssize_t r;

	switch (call) {
	case CALL_WRITEV:
		r = writev(fd, s.iov, (int)s.hdr[0].msg_hdr.msg_iovlen);
		break;
	case CALL_SENDMSG:
		r = sendmsg(fd, &s.hdr[0].msg_hdr, flags);
		break;
	default:
		r = sendmmsg(fd, s.hdr, (unsigned int)n, flags);
		break;
	}
	if (r < 0) {
		err = -errno;
		io_scratch_put(&s);
		return err;
	}

	if (call == CALL_SENDMMSG) {
		for (i = 0; i < r; i++)
			io_b_set_pkt(b, i, pkt_sent(b->kind, io_b_pkt(b, i), s.hdr[i].msg_len));
	} else {
		io_b_set_pkt(b, 0, pkt_sent(b->kind, io_b_pkt(b, 0), (size_t)r));
	}
	io_scratch_put(&s);
	return r;
}

/* ------------------------------------------------------------ mbufs */

static ssize_t m_send_one(int fd, struct mbuf **mp, const struct sockaddr *to, socklen_t tolen, int flags,
			  enum send_call call, const char *func)
{
	if (unlikely(!mp)) {
		diag(func, "NULL packet pointer");
		return -EINVAL;
	}

	struct m_mmsg one = { .mm_m = *mp };
	struct io_batch b = { .kind = IO_MBUF, .mm = &one };
	ssize_t r = send_batch(fd, &b, 1, to, tolen, flags, call, func);

	*mp = one.mm_m;
	return r;
}

ssize_t m_sendmsg(int fd, struct mbuf **mp, const struct sockaddr *to, socklen_t tolen, int flags)
{
	return m_send_one(fd, mp, to, tolen, flags, CALL_SENDMSG, "m_sendmsg");
}

ssize_t m_writev(int fd, struct mbuf **mp)
{
	return m_send_one(fd, mp, NULL, 0, 0, CALL_WRITEV, "m_writev");
}

int m_sendmmsg(int fd, struct m_mmsg *msgs, int n, const struct sockaddr *to, socklen_t tolen, int flags)
{
	struct io_batch b = { .kind = IO_MBUF, .mm = msgs };

	return (int)send_batch(fd, &b, n, to, tolen, flags, CALL_SENDMMSG, "m_sendmmsg");
}

/* ------------------------------------------------------------ sk_buffs */

static ssize_t skb_send_one(int fd, struct sk_buff **skbp, const struct sockaddr *to, socklen_t tolen,
			    int flags, enum send_call call, const char *func)
{
	if (unlikely(!skbp)) {
		diag(func, "NULL packet pointer");
		return -EINVAL;
	}

	struct skb_mmsg one = { .sm_skb = *skbp };
	struct io_batch b = { .kind = IO_SKB, .sm = &one };
	ssize_t r = send_batch(fd, &b, 1, to, tolen, flags, call, func);

	*skbp = one.sm_skb;
	return r;
}

ssize_t skb_sendmsg(int fd, struct sk_buff **skbp, const struct sockaddr *to, socklen_t tolen, int flags)
{
	return skb_send_one(fd, skbp, to, tolen, flags, CALL_SENDMSG, "skb_sendmsg");
}

ssize_t skb_writev(int fd, struct sk_buff **skbp)
{
	return skb_send_one(fd, skbp, NULL, 0, 0, CALL_WRITEV, "skb_writev");
}

int skb_sendmmsg(int fd, struct skb_mmsg *msgs, int n, const struct sockaddr *to, socklen_t tolen,
		 int flags)
{
	struct io_batch b = { .kind = IO_SKB, .sm = msgs };

	return (int)send_batch(fd, &b, n, to, tolen, flags, CALL_SENDMMSG, "skb_sendmmsg");
}
