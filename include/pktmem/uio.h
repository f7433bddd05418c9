/*
 * <pktmem/uio.h> — BSD's struct uio and the routines that move bytes
 * between it and kernel buffers and mbuf chains, with FreeBSD's names,
 * types and contracts (uio(9), mbuf(9)), so stack code that uses them
 * ports as it is.
 *
 *   struct uio                 iovec array                 buffer / mbuf chain
 *   +-------------+            +-----------+-----------+
 *   | uio_iov     |----------->| base, len | base, len | ...
 *   | uio_iovcnt  |            +-----------+-----------+
 *   | uio_resid   |  bytes still to move      uiomove(): UIO_READ  buffer -> iovecs
 *   | uio_offset  |  position in the object              UIO_WRITE iovecs -> buffer
 *   | uio_rw      |
 *   +-------------+
 *
 * Each move advances the uio: the current iovec's base and length, the
 * iovec pointer and count (past exhausted entries), uio_resid down and
 * uio_offset up, so a chain of calls consumes the uio piece by piece.
 *
 * One address space: a user program has no kernel/user boundary, so
 * UIO_USERSPACE is moved exactly like UIO_SYSSPACE (no copyin/copyout, and
 * so never EFAULT); UIO_NOCOPY advances the uio without touching a byte.
 * uio_td is kept for the caller and never looked at.
 *
 * Errors: these functions return 0 or a positive errno, as FreeBSD's do.
 * Programmer errors that FreeBSD KASSERTs (a uio_rw that is neither
 * UIO_READ nor UIO_WRITE, a negative uio_resid, iovecs that run out before
 * uio_resid does) go to the diagnostic handler (<pktmem/pktmem.h>); if an
 * application handler returns, the call returns EINVAL.
 *
 * Thread-safety: a uio belongs to one thread at a time.
 */
#ifndef PKTMEM_UIO_H
#define PKTMEM_UIO_H

#include <sys/types.h> /* ssize_t, off_t */
#include <sys/uio.h>   /* struct iovec, readv(), writev() */

#include <pktmem/export.h>

#ifdef __cplusplus
extern "C" {
#endif

struct mbuf;
struct thread; /* opaque: the caller's */

/* Direction of a move, seen from the owner of the uio. */
enum uio_rw {
	UIO_READ,  /* from the buffer into the iovecs (a read(2) being served) */
	UIO_WRITE, /* from the iovecs into the buffer (a write(2) being served) */
};

/* Where the iovecs point. */
enum uio_seg {
	UIO_USERSPACE, /* user memory: here the same as UIO_SYSSPACE */
	UIO_SYSSPACE,  /* library memory */
	UIO_NOCOPY,    /* account for the bytes, move none */
};

/* Most iovecs one uio or one system call may have (FreeBSD and Linux: 1024). */
#ifndef UIO_MAXIOV
#define UIO_MAXIOV 1024 /* <sys/uio.h> defines it too in _DEFAULT_SOURCE */
#endif

struct uio {
	struct iovec *uio_iov;   /* the scatter/gather list, advanced as bytes move */
	int uio_iovcnt;          /* entries left in uio_iov */
	off_t uio_offset;        /* offset in the target object, advanced */
	ssize_t uio_resid;       /* bytes left to move */
	enum uio_seg uio_segflg; /* address space of the iovecs */
	enum uio_rw uio_rw;      /* direction */
	struct thread *uio_td;   /* owner: the caller's, unused */
};

/*
 * uiomove() - move up to @n bytes between the buffer @cp and @uio, in the
 * direction uio->uio_rw says, and advance @uio by what moved. It moves
 * min(@n, uio_resid) bytes, skipping iovecs of length zero; @n <= 0 moves
 * nothing. Returns 0 (EINVAL after a diagnostic, see above).
 */
PKTMEM_API int uiomove(void *cp, int n, struct uio *uio);

/*
 * uiomove_frombuf() - uiomove() from the buffer @buf of @buflen bytes,
 * starting at uio->uio_offset within it: the uio's offset selects the bytes
 * (a read of a small in-memory object). Moves nothing and returns 0 when
 * the offset is at or past the end; EINVAL for a negative offset or resid.
 */
PKTMEM_API int uiomove_frombuf(void *buf, int buflen, struct uio *uio);

/*
 * m_uiotombuf() - a new mbuf chain holding the next bytes of @uio (which
 * must be UIO_WRITE: the bytes come from the iovecs), advancing the uio.
 *  @how:   M_WAIT or M_DONTWAIT, for every mbuf and cluster.
 *  @len:   bytes to take: min(@len, uio_resid); @len <= 0 means all of
 *          uio_resid.
 *  @align: bytes left free in front of the data in the first mbuf (room to
 *          prepend headers; FreeBSD 15 names it lspace). Must be less than
 *          MHLEN, else NULL.
 *  @flags: M_PKTHDR makes the first mbuf a packet header whose
 *          m_pkthdr.len is the chain's length; M_EOR marks the last mbuf.
 *          Other flags are ignored (there is no M_EXTPG here).
 * The chain is all allocated before a byte moves: mbufs with internal data
 * for small amounts, clusters otherwise. Nothing to take (uio_resid 0)
 * gives one empty mbuf, as in FreeBSD.
 * Returns the chain, or NULL with nothing allocated and @uio untouched (no
 * memory under M_DONTWAIT, or @align too large).
 */
PKTMEM_API struct mbuf *m_uiotombuf(struct uio *uio, int how, int len, int align, int flags);

/*
 * m_mbuftouio() - copy the data of the chain @m, from its start, into @uio
 * (which must be UIO_READ), advancing the uio: min(@len, uio_resid) bytes,
 * all of uio_resid for @len <= 0, and never more than the chain holds.
 * Returns 0 (EINVAL after a diagnostic).
 */
PKTMEM_API int m_mbuftouio(struct uio *uio, const struct mbuf *m, int len);

#ifdef __cplusplus
}
#endif

#endif /* PKTMEM_UIO_H */
