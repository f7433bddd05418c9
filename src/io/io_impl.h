/*
 * Shared by the I/O files (iovec.c, send.c, recv.c): the two packet kinds
 * seen through one small interface, the batch arrays seen through one view,
 * and the scratch arrays a system call needs (on the stack when small).
 */
#ifndef PKTMEM_IO_IMPL_H
#define PKTMEM_IO_IMPL_H

#include <sys/socket.h>
#include <sys/uio.h>

#include <pktmem/netio.h>
#include <pktmem/skbuff.h>

#include "mbuf/mbuf_impl.h"

/* ------------------------------------------------------------ packets */

enum io_kind {
	IO_MBUF, /* a struct mbuf chain */
	IO_SKB,  /* a struct sk_buff */
};

/* m_to_iovec() or skb_to_iovec() by kind. */
static inline int io_pkt_iovec(enum io_kind kind, const void *pkt, struct iovec *iov, int iovcnt, size_t *lenp)
{
	return kind == IO_MBUF ? m_to_iovec(pkt, iov, iovcnt, lenp) : skb_to_iovec(pkt, iov, iovcnt, lenp);
}

/*
 * io_m_sent() / io_skb_sent() - account for @sent bytes of the packet
 * having gone out: all of it frees the packet and returns NULL; less trims
 * the sent bytes from the front and returns the (possibly new) head.
 * io_skb_sent() writes the shared info when it passes fragments: the skb
 * must not be cloned then (see io_skb_prepare()).
 */
struct mbuf *io_m_sent(struct mbuf *m, size_t sent);
struct sk_buff *io_skb_sent(struct sk_buff *skb, size_t sent);

/* ------------------------------------------------------------ batches */

/* A batch array of either kind. */
struct io_batch {
	enum io_kind kind;
	struct m_mmsg *mm;   /* IO_MBUF */
	struct skb_mmsg *sm; /* IO_SKB */
};

static inline void *io_b_pkt(const struct io_batch *b, int i)
{
	return b->kind == IO_MBUF ? (void *)b->mm[i].mm_m : (void *)b->sm[i].sm_skb;
}

static inline void io_b_set_pkt(const struct io_batch *b, int i, void *pkt)
{
	if (b->kind == IO_MBUF)
		b->mm[i].mm_m = pkt;
	else
		b->sm[i].sm_skb = pkt;
}

static inline struct sockaddr_storage *io_b_addr(const struct io_batch *b, int i)
{
	return b->kind == IO_MBUF ? &b->mm[i].mm_addr : &b->sm[i].sm_addr;
}

static inline socklen_t *io_b_addrlen(const struct io_batch *b, int i)
{
	return b->kind == IO_MBUF ? &b->mm[i].mm_addrlen : &b->sm[i].sm_addrlen;
}

static inline int *io_b_flags(const struct io_batch *b, int i)
{
	return b->kind == IO_MBUF ? &b->mm[i].mm_flags : &b->sm[i].sm_flags;
}

/* ------------------------------------------------------------ scratch */

#define IO_STACK_IOV 128 /* iovecs on the stack (2 KiB) */
#define IO_STACK_MSG 32  /* message headers on the stack (2 KiB) */

/*
 * Arrays for one system call: the stack ones when they are big enough,
 * else one kmalloc() with @gfp. io_scratch_get() returns false (nothing
 * held) when the heap arrays could not be had; callers then cut their
 * batch to what the stack holds, or fail with -ENOMEM.
 */
struct io_scratch {
	struct iovec *iov;
	struct mmsghdr *hdr;
	void *heap;
	struct iovec iov_stack[IO_STACK_IOV];
	struct mmsghdr hdr_stack[IO_STACK_MSG];
};

bool io_scratch_get(struct io_scratch *s, size_t niov, size_t nmsg, gfp_t gfp);
void io_scratch_put(struct io_scratch *s);

#endif /* PKTMEM_IO_IMPL_H */
