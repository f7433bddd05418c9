/*
 * <pktmem/netio.h> — zero-copy I/O on packets: an mbuf chain or an sk_buff
 * (head and page fragments) goes to writev(2)/sendmsg(2)/sendmmsg(2) as an
 * iovec array pointing at its own storage, and readv(2)/recvmsg(2)/
 * recvmmsg(2) receive straight into fresh clusters or skb heads, trimmed to
 * what arrived.
 *
 *   send:  chain [hdr|54]->[ cluster 2048 ]->[ cluster 700 ]
 *          iovec { 54 }     { 2048 }          { 700 }        -> sendmsg
 *          2000 bytes sent: [hdr|0]->[ cluster, 102 left ]->[ cluster 700 ]
 *                           (fully sent mbufs freed; the header mbuf stays)
 *
 *   recv:  m_recvmmsg(n = 3, maxlen = 9000): 3 packets of 5 clusters each
 *          described as iovecs -> one recvmmsg -> 2 datagrams arrived:
 *          [hdr+cl 1200]                           (4 clusters freed)
 *          [hdr+cl 2048]->[cl 2048]->[cl 4904 ...] (trimmed to 9000)
 *          third packet freed
 *
 * Conventions, for every function here:
 *  - Errors are returned as a negative errno (-EAGAIN, -ENOMEM, ...);
 *    errno itself is left as the system call set it and means nothing to
 *    the caller. A return >= 0 is a byte or packet count.
 *  - One call makes at most one system call and never retries it: -EINTR
 *    and -EAGAIN (== -EWOULDBLOCK) come back as they are, and what the
 *    function would have consumed or allocated is left or freed exactly as
 *    for any other error. Whether to retry is the caller's choice.
 *  - Allocation: receive functions take a wait flag (M_WAIT/M_DONTWAIT) or
 *    an allocation mask for their buffers. Send functions never sleep: the
 *    little they may allocate (iovec and header arrays when a call needs
 *    more than 128 iovecs or 32 packets, a private skb head, see
 *    skb_sendmsg()) is taken without waiting. When the arrays cannot be
 *    had, a batch is cut to what fits on the stack (a single packet that
 *    does not fit fails with -ENOMEM, nothing sent); receives do the same
 *    with their own wait flag.
 *  - MSG_ZEROCOPY is refused (diagnostic, -EINVAL, nothing sent): sent
 *    packets are freed on return, so the kernel may not read them later.
 *  - SIGPIPE: a stream whose peer has gone raises it on a send unless the
 *    caller passes MSG_NOSIGNAL (the writev calls cannot) or ignores it.
 *  - Nothing is leaked on any path: on an error every buffer the function
 *    allocated is freed, and every packet the caller passed is either
 *    untouched (still the caller's) or, only after it has been sent in
 *    full, freed.
 *
 * Thread-safety: a packet and a batch array belong to one thread at a
 * time; different packets may be sent and received on different threads
 * and sockets at once.
 */
#ifndef PKTMEM_NETIO_H
#define PKTMEM_NETIO_H

#include <stddef.h>
#include <sys/types.h>  /* ssize_t */
#include <sys/uio.h>    /* struct iovec */
#include <sys/socket.h> /* struct sockaddr, socklen_t */

#include <pktmem/export.h>
#include <pktmem/gfp.h>

#ifdef __cplusplus
extern "C" {
#endif

struct mbuf;
struct sk_buff;

/* Most segments a packet may have for one send (the kernel's limit, UIO_MAXIOV). */
#define PKTMEM_IOV_MAX 1024
/* Most packets one batch call sends or receives (the kernel caps vlen here too). */
#define PKTMEM_MMSG_MAX 1024

/* ------------------------------------------------------------ describing */

/*
 * m_to_iovec() - describe the data of the chain @m as iovecs, one per mbuf
 * that holds data (empty mbufs are skipped), pointing into the chain's own
 * storage: nothing is copied or referenced, so the iovecs are valid while
 * the chain is neither changed nor freed.
 *  @iov, @iovcnt: the array to fill. When the chain needs more entries, the
 *     first @iovcnt are filled: a prefix of the data.
 *  @lenp: if not NULL, set to the bytes the filled entries describe.
 * Returns the number of entries filled. With @iov NULL, fills nothing and
 * returns the number of entries the whole chain needs (and *lenp its
 * length). NULL @m describes nothing.
 */
PKTMEM_API int m_to_iovec(const struct mbuf *m, struct iovec *iov, int iovcnt, size_t *lenp);

/*
 * skb_to_iovec() - the same for an sk_buff: the linear part (if not
 * empty), each page fragment, then each skb on the frag_list with its own
 * head and fragments, in packet order.
 */
PKTMEM_API int skb_to_iovec(const struct sk_buff *skb, struct iovec *iov, int iovcnt, size_t *lenp);

/* ------------------------------------------------------------ batches */

/*
 * One packet of a batch (m_sendmmsg(), m_recvmmsg()), with its peer's
 * address. For sending, mm_addr/mm_addrlen name the destination (mm_addrlen
 * 0: none, a connected socket) unless the call gives one for the whole
 * batch. Receiving fills in the source (mm_addrlen 0 when the socket has
 * none to give, as a socketpair) and mm_flags with the message's msg_flags
 * (MSG_TRUNC: the datagram was longer than the buffer and was cut).
 */
struct m_mmsg {
	struct mbuf *mm_m;
	struct sockaddr_storage mm_addr;
	socklen_t mm_addrlen;
	int mm_flags;
};

/* The same for sk_buffs (skb_sendmmsg(), skb_recvmmsg()). */
struct skb_mmsg {
	struct sk_buff *sm_skb;
	struct sockaddr_storage sm_addr;
	socklen_t sm_addrlen;
	int sm_flags;
};

/* ------------------------------------------------------------ sending */

/*
 * m_sendmsg() - send the packet *@mp with one sendmsg(2), zero-copy.
 *  @to, @tolen: the destination, or NULL/0 on a connected socket.
 *  @flags: sendmsg flags (MSG_DONTWAIT, MSG_NOSIGNAL, ...).
 * Returns the bytes sent, and the chain then describes exactly the bytes
 * still unsent:
 *  - all sent: the chain is freed and *@mp set to NULL;
 *  - some sent (a stream socket that took part of it): the sent bytes are
 *    trimmed from the front as m_adj() would (pkthdr.len too), and mbufs
 *    that were sent entirely are freed, except a packet-header mbuf, which
 *    stays at the head (with m_len 0) to carry the header and its tags.
 *    The chain is still the caller's; *@mp may change (a chain without a
 *    header loses its head).
 * On error, a negative errno with nothing sent and the chain untouched and
 * still the caller's: the sendmsg error (-EAGAIN, -EINTR, -EPIPE, ...),
 * -EMSGSIZE for a chain of more than PKTMEM_IOV_MAX segments (a datagram
 * cannot go in parts; use m_writev() on a stream),
 * -ENOMEM when the iovec array for more than 128 segments could not be had.
 * An empty chain sends a zero-length datagram (0 on a stream) and is freed.
 */
PKTMEM_API ssize_t m_sendmsg(int fd, struct mbuf **mp, const struct sockaddr *to, socklen_t tolen,
			     int flags);

/*
 * m_writev() - as m_sendmsg() with one writev(2): for any descriptor
 * (pipes, files, sockets without flags). A chain of more than
 * PKTMEM_IOV_MAX segments writes its first PKTMEM_IOV_MAX (a partial
 * write, as above).
 */
PKTMEM_API ssize_t m_writev(int fd, struct mbuf **mp);

/*
 * m_sendmmsg() - send @n packets with one sendmmsg(2), zero-copy.
 *  @msgs: the packets (mm_m) and, when @to is NULL, each one's destination.
 *  @to, @tolen: one destination for all of them, or NULL/0.
 * Returns r >= 0, the number of packets the socket took (sendmmsg's count),
 * from the first; each of msgs[0..r) is left as m_sendmsg() leaves a
 * packet: sent in full, it is freed and its mm_m set to NULL; sent in part
 * (only a stream socket does that, and then it is the last one taken), it
 * is trimmed to its unsent rest. msgs[r..n) are untouched and still the
 * caller's. So: every entry still non-NULL is to be sent again, in order
 * (on a datagram socket, msgs[r..n)). At most PKTMEM_MMSG_MAX packets go
 * per call.
 * On error (the first packet could not go), a negative errno with every
 * packet untouched: the sendmmsg error, or -EMSGSIZE / -ENOMEM as for
 * m_sendmsg(). A packet that is refused that way when it comes first
 * (more than PKTMEM_IOV_MAX segments) ends the batch before it when it
 * comes later.
 */
PKTMEM_API int m_sendmmsg(int fd, struct m_mmsg *msgs, int n, const struct sockaddr *to, socklen_t tolen,
			  int flags);

/*
 * skb_sendmsg() - send *@skbp (linear part, then fragments) with one
 * sendmsg(2), zero-copy, leaving it as m_sendmsg() leaves a chain: all sent:
 * consumed (consume_skb()) and *@skbp set to NULL; some sent: the sent bytes
 * are pulled from the front (the linear part first, then fragments, whose
 * page references are dropped as each is passed), so the skb describes the
 * unsent rest; error: untouched.
 * Trimming fragments writes the shared info, which clones share: so an skb
 * that is cloned (skb_cloned()) and has fragments is first given a private
 * head with pskb_expand_head(skb, 0, 0, GFP_ATOMIC) (the linear bytes are
 * copied, the fragments stay shared); if that fails, -ENOMEM with nothing
 * sent and the skb as it was.
 * The skb must not be shared (users == 1: diagnostic and -EINVAL). An skb
 * with a frag_list is refused with -EOPNOTSUPP (linearize it, or send its
 * parts).
 */
PKTMEM_API ssize_t skb_sendmsg(int fd, struct sk_buff **skbp, const struct sockaddr *to, socklen_t tolen,
			       int flags);

/* skb_writev() - skb_sendmsg() with one writev(2). */
PKTMEM_API ssize_t skb_writev(int fd, struct sk_buff **skbp);

/*
 * skb_sendmmsg() - m_sendmmsg() for sk_buffs: returns the number r of
 * packets the socket took; those sent in full are consumed and their
 * sm_skb set to NULL, one sent in part is trimmed as skb_sendmsg() does,
 * the rest are untouched. A packet that cannot be prepared as
 * skb_sendmsg() prepares it (a cloned skb whose private head could not be
 * had, a frag_list) ends the batch before it, or is the error when it
 * comes first. "Untouched" skbs keep their bytes, but one that was cloned
 * may have been given its private head already.
 */
PKTMEM_API int skb_sendmmsg(int fd, struct skb_mmsg *msgs, int n, const struct sockaddr *to,
			    socklen_t tolen, int flags);

/* ------------------------------------------------------------ receiving */

/*
 * m_recvmmsg() - receive up to @n datagrams with one recvmmsg(2) straight
 * into clusters.
 *  @maxlen: bytes each packet can take (1 to 1 MiB; outside that, a
 *     diagnostic and -EINVAL): a packet is a chain of
 *     clusters, the first a packet-header mbuf, enough for @lspace +
 *     @maxlen bytes (9000 bytes: five clusters).
 *  @lspace: bytes left free in front of the data in the first cluster, so
 *     that M_PREPEND() of a header up to that size is done in place
 *     (0 <= @lspace < MCLBYTES).
 *  @flags: recvmmsg flags (MSG_DONTWAIT, MSG_WAITFORONE, ...).
 *  @how: M_WAIT or M_DONTWAIT for the mbufs and clusters.
 * Returns the number of packets received, k >= 0: msgs[0..k) each hold a
 * new packet that is now the caller's (m_pkthdr.len and every m_len trimmed
 * to the bytes that arrived, clusters beyond them freed; a zero-length
 * datagram is an empty packet), with mm_addr/mm_addrlen the source and
 * mm_flags the msg_flags. msgs[k..n) have mm_m set to NULL. Buffers for
 * packets that did not come are freed before returning.
 * With M_DONTWAIT, when not all @n packets' buffers can be had, the batch
 * is cut to those that could (-ENOBUFS if not even one, nothing received).
 * On error a negative errno: the recvmmsg error (-EAGAIN, -EINTR, ...),
 * with nothing received, nothing kept and every mm_m NULL.
 */
PKTMEM_API int m_recvmmsg(int fd, struct m_mmsg *msgs, int n, int maxlen, int lspace, int flags, int how);

/*
 * m_recvmsg() - one datagram with one recvmsg(2), as m_recvmmsg() with
 * @n = 1. Returns its length (>= 0: 0 is a zero-length datagram, or the end
 * of a stream) with msg->mm_m the new packet, or a negative errno with
 * msg->mm_m NULL. With MSG_TRUNC in @flags the length returned is the
 * datagram's full length, as recvmsg(2) reports it; the packet holds at
 * most @maxlen bytes of it (m_pkthdr.len). An empty packet is returned at
 * the end of a stream too: the caller frees it.
 */
PKTMEM_API ssize_t m_recvmsg(int fd, struct m_mmsg *msg, int maxlen, int lspace, int flags, int how);

/*
 * m_readv() - read up to @maxlen bytes with one readv(2) into a new packet
 * of clusters, for any descriptor. Returns the bytes read with *@mp the
 * packet (trimmed as above); 0 at end of file with *@mp NULL; a negative
 * errno (-ENOBUFS: no buffers under M_DONTWAIT) with *@mp NULL.
 */
PKTMEM_API ssize_t m_readv(int fd, struct mbuf **mp, int maxlen, int how);

/*
 * skb_recvmmsg() - m_recvmmsg() into skb heads: each skb is
 * alloc_skb(@headroom + @maxlen, @gfp) (@maxlen 1 to 1 MiB, @headroom at
 * most 1 MiB; otherwise a diagnostic and -EINVAL) with @headroom reserved
 * (skb_reserve(), for skb_push() later), the datagram received at its tail
 * and skb_put() to the bytes that arrived. Received skbs are the caller's;
 * the others are freed and their sm_skb set to NULL. A non-waiting @gfp
 * that cannot have all @n buffers cuts the batch (-ENOMEM if not one).
 * Errors as m_recvmmsg().
 */
PKTMEM_API int skb_recvmmsg(int fd, struct skb_mmsg *msgs, int n, unsigned int maxlen, unsigned int headroom,
			    int flags, gfp_t gfp);

/* skb_recvmsg() - one datagram into one skb head, as m_recvmsg(). */
PKTMEM_API ssize_t skb_recvmsg(int fd, struct skb_mmsg *msg, unsigned int maxlen, unsigned int headroom,
			       int flags, gfp_t gfp);

/* skb_readv() - one readv(2) into one skb head, as m_readv(). */
PKTMEM_API ssize_t skb_readv(int fd, struct sk_buff **skbp, unsigned int maxlen, unsigned int headroom,
			     gfp_t gfp);

#ifdef __cplusplus
}
#endif

#endif /* PKTMEM_NETIO_H */
