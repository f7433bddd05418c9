/*
 * struct uio: uiomove(), uiomove_frombuf(), and the two mbuf routines built
 * on it, m_uiotombuf() and m_mbuftouio(), with FreeBSD's contracts.
 *
 *   uio_iov -> [ base,len ][ base,len ][ base,len ]      uio_resid = sum left
 *                  ^ moved bytes advance base and shrink len; an entry that
 *                    reaches zero is stepped over (uio_iov++, uio_iovcnt--)
 *
 * Everything that moves bytes goes through uiomove(), so the accounting
 * (resid down, offset up, iovecs advanced) lives in one place.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include <pktmem/uio.h>

#include "mbuf/mbuf_impl.h"
#include "storage/window.h"

/* FreeBSD KASSERTs these; we diagnose them. True when the uio may be used. */
static bool uio_ok(const struct uio *uio, const char *func)
{
	if (unlikely(!uio)) {
		diag(func, "NULL uio");
		return false;
	}
	if (unlikely(uio->uio_rw != UIO_READ && uio->uio_rw != UIO_WRITE)) {
		diag(func, "uio %p: uio_rw %d is neither UIO_READ nor UIO_WRITE", (const void *)uio,
		     (int)uio->uio_rw);
		return false;
	}
	if (unlikely(uio->uio_segflg != UIO_USERSPACE && uio->uio_segflg != UIO_SYSSPACE &&
		     uio->uio_segflg != UIO_NOCOPY)) {
		diag(func, "uio %p: uio_segflg %d is not a UIO_* segment", (const void *)uio,
		     (int)uio->uio_segflg);
		return false;
	}
	if (unlikely(uio->uio_resid < 0)) {
		diag(func, "uio %p: uio_resid %zd is negative", (const void *)uio, uio->uio_resid);
		return false;
	}
	if (unlikely(!uio->uio_iov && uio->uio_iovcnt > 0)) {
		diag(func, "uio %p: NULL uio_iov with uio_iovcnt %d", (const void *)uio, uio->uio_iovcnt);
		return false;
	}
	return true;
}

/*
 * Do the iovecs hold at least @want bytes? Diagnosed when not. A walk over
 * the iovecs, for callers that must fail before moving anything.
 */
static bool uio_holds(const struct uio *uio, ssize_t want, const char *func)
{
	size_t have = 0;

	for (int i = 0; i < uio->uio_iovcnt && have < (size_t)want; i++)
		have += uio->uio_iov[i].iov_len;
	if (likely(have >= (size_t)want))
		return true;
	diag(func, "uio %p: its %d iovecs hold %zu bytes, less than the %zd to move", (const void *)uio,
	     uio->uio_iovcnt, have, want);
	return false;
}

int uiomove(void *cp, int n, struct uio *uio)
{
	if (!uio_ok(uio, "uiomove"))
		return EINVAL;
	if (unlikely(!cp && n > 0 && uio->uio_resid > 0 && uio->uio_segflg != UIO_NOCOPY)) {
		diag("uiomove", "NULL buffer for %d bytes (uio %p)", n, (void *)uio);
		return EINVAL;
	}

	char *p = cp;

	while (n > 0 && uio->uio_resid > 0) {
		if (unlikely(uio->uio_iovcnt <= 0)) {
			diag("uiomove", "uio %p: iovecs ran out with uio_resid %zd left", (void *)uio,
			     uio->uio_resid);
			return EINVAL;
		}
		struct iovec *iov = uio->uio_iov;
		size_t cnt = iov->iov_len;

		if (cnt == 0) {
			uio->uio_iov++;
			uio->uio_iovcnt--;
			continue;
		}
		if (cnt > (size_t)n)
			cnt = (size_t)n;
		if (cnt > (size_t)uio->uio_resid)
			cnt = (size_t)uio->uio_resid;

		if (uio->uio_segflg != UIO_NOCOPY) {
			if (uio->uio_rw == UIO_READ)
				memmove(iov->iov_base, p, cnt);
			else
				memmove(p, iov->iov_base, cnt);
		}
		iov->iov_base = (char *)iov->iov_base + cnt;
		iov->iov_len -= cnt;
		uio->uio_resid -= (ssize_t)cnt;
		uio->uio_offset += (off_t)cnt;
		p += cnt;
		n -= (int)cnt;
	}
	return 0;
}

int uiomove_frombuf(void *buf, int buflen, struct uio *uio)
{
	if (unlikely(!uio)) {
		diag("uiomove_frombuf", "NULL uio");
		return EINVAL;
	}
	if (uio->uio_offset < 0 || uio->uio_resid < 0)
		return EINVAL;
	if (unlikely(!buf && buflen > 0)) {
		diag("uiomove_frombuf", "NULL buffer of %d bytes (uio %p)", buflen, (void *)uio);
		return EINVAL;
	}
	if (buflen <= 0 || uio->uio_offset >= buflen)
		return 0;
	return uiomove((char *)buf + uio->uio_offset, buflen - (int)uio->uio_offset, uio);
}

static inline int imin(int a, int b)
{
	return a < b ? a : b;
}

/*
 * One mbuf for a chain being built: a cluster when the rest does not fit
 * the mbuf's own data area, as FreeBSD's m_getm2() chooses. The first one
 * has the packet header when @pkthdr. NULL when none is to be had.
 */
static struct mbuf *uio_mbuf(int how, bool pkthdr, long need)
{
	struct mbuf *m = pkthdr ? m_gethdr(how, MT_DATA) : m_get(how, MT_DATA);

	if (!m)
		return NULL;
	if (need > (pkthdr ? MHLEN : MLEN)) {
		m_clget(m, how);
		if (!(m->m_flags & M_EXT)) {
			m_free(m);
			return NULL;
		}
	}
	return m;
}

struct mbuf *m_uiotombuf(struct uio *uio, int how, int len, int align, int flags)
{
	if (!how_ok(how, "m_uiotombuf") || !uio_ok(uio, "m_uiotombuf"))
		return NULL;
	if (unlikely(uio->uio_rw != UIO_WRITE)) {
		diag("m_uiotombuf", "uio %p is UIO_READ: the bytes come from a UIO_WRITE uio", (void *)uio);
		return NULL;
	}
	/* The smallest first mbuf is a packet header's: no room past it. */
	if (align < 0 || align >= MHLEN)
		return NULL;

	ssize_t total = uio->uio_resid;

	if (len > 0 && total > len)
		total = len;
	if (unlikely(total > INT_MAX - MCLBYTES)) {
		diag("m_uiotombuf", "uio %p: %zd bytes do not fit one mbuf chain", (void *)uio, total);
		return NULL;
	}
	/* Iovecs short of uio_resid would fail the fill half way, the uio advanced. */
	if (!uio_holds(uio, total, "m_uiotombuf"))
		return NULL;

	/* Allocate the whole chain first: all of it or nothing, uio untouched. */
	struct mbuf *top = NULL, **tail = &top;
	long need = (long)total + align;
	bool pkthdr = (flags & M_PKTHDR) != 0;

	do {
		struct mbuf *m = uio_mbuf(how, pkthdr, need);

		if (!m) {
			m_freem(top);
			return NULL;
		}
		need -= m_buf_end(m) - m_buf_start(m);
		*tail = m;
		tail = &m->m_next;
		pkthdr = false;
	} while (need > 0);
	top->m_data += align;

	/* Then fill it. uiomove() cannot fail on a uio that passed uio_ok(). */
	int progress = 0;

	for (struct mbuf *m = top; m; m = m->m_next) {
		int n = imin(M_TRAILINGSPACE(m), (int)total - progress);

		if (uiomove(mtod(m, void *), n, uio) != 0) {
			m_freem(top);
			return NULL;
		}
		m->m_len = n;
		progress += n;
		if (!m->m_next && (flags & M_EOR))
			m->m_flags |= M_EOR;
	}
	if (top->m_flags & M_PKTHDR)
		top->m_pkthdr.len = progress;
	return win_m_ret(top);
}

int m_mbuftouio(struct uio *uio, const struct mbuf *m, int len)
{
	if (!uio_ok(uio, "m_mbuftouio"))
		return EINVAL;
	if (unlikely(uio->uio_rw != UIO_READ)) {
		diag("m_mbuftouio", "uio %p is UIO_WRITE: the bytes go to a UIO_READ uio", (void *)uio);
		return EINVAL;
	}

	ssize_t total = uio->uio_resid;

	if (len > 0 && total > len)
		total = len;

	for (ssize_t progress = 0; m && progress < total; m = m->m_next) {
		int n = (int)(total - progress < m->m_len ? total - progress : m->m_len);
		int error = uiomove(mtod(m, void *), n, uio);

		if (error)
			return error;
		progress += n;
	}
	return 0;
}
