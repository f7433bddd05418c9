/*
 * <pktmem/uio.h>: struct uio, uiomove(), uiomove_frombuf(), m_uiotombuf()
 * and m_mbuftouio(), with FreeBSD's contracts: byte-exact moves across
 * iovec and mbuf boundaries, the accounting (resid, offset, iovecs), the
 * edge cases, and no mbuf or cluster left behind, under injected faults too.
 */
#include <errno.h>
#include <stdint.h>

#include <pktmem/mbuf.h>
#include <pktmem/uio.h>

#include "check.h"

static void check_no_leaks(void)
{
	CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), 0);
	CHECK_EQ(cache_in_use(pktmem_cluster_cache()), 0);
}

/* A deterministic byte for position @i of stream @seed. */
static unsigned char pat(unsigned seed, size_t i)
{
	return (unsigned char)((i * 131u + seed * 7u + (i >> 8)) & 0xff);
}

static void fill_pat(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = pat(seed, i);
}

static int is_pat(const unsigned char *p, size_t n, unsigned seed, size_t from)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != pat(seed, from + i))
			return 0;
	return 1;
}

/*
 * Carve @buf into iovecs by @shape (lengths, repeated), zero-length entries
 * included; returns how many and sets up @uio over @total bytes.
 */
static int carve(struct iovec *iov, int max, unsigned char *buf, size_t total, const size_t *shape,
		 int nshape, struct uio *uio, enum uio_rw rw)
{
	int n = 0;
	size_t off = 0;

	for (int k = 0; off < total && n < max - 1; k++) {
		size_t len = shape[k % nshape];

		if (len > total - off)
			len = total - off;
		iov[n].iov_base = buf + off;
		iov[n].iov_len = len;
		off += len;
		n++;
	}
	if (off < total) { /* the last takes the rest */
		iov[n].iov_base = buf + off;
		iov[n].iov_len = total - off;
		n++;
	}
	*uio = (struct uio){
		.uio_iov = iov,
		.uio_iovcnt = n,
		.uio_offset = 1000,
		.uio_resid = (ssize_t)total,
		.uio_segflg = UIO_SYSSPACE,
		.uio_rw = rw,
	};
	return n;
}

static const size_t shape_one[] = { 1u << 30 };
static const size_t shape_small[] = { 1, 0, 7, 3, 0, 0, 13, 2 };
static const size_t shape_mixed[] = { 0, 100, 1, 0, 2047, 2049, 5, 456 };
static const size_t shape_big[] = { 4096 };

struct shape {
	const size_t *s;
	int n;
};

static const struct shape shapes[] = {
	{ shape_one, 1 },
	{ shape_small, 8 },
	{ shape_mixed, 8 },
	{ shape_big, 1 },
};

#define NSHAPES ((int)(sizeof(shapes) / sizeof(shapes[0])))

/* ------------------------------------------------------------ uiomove */

static void test_uiomove_read_write(void)
{
	unsigned char src[64], dst[64];
	struct iovec iov = { dst, sizeof(dst) };
	struct uio uio = { &iov, 1, 0, 64, UIO_SYSSPACE, UIO_READ, NULL };

	fill_pat(src, sizeof(src), 1);
	memset(dst, 0, sizeof(dst));
	/* UIO_READ: buffer -> iovecs */
	CHECK_EQ(uiomove(src, 10, &uio), 0);
	CHECK(memcmp(dst, src, 10) == 0);
	CHECK_EQ(dst[10], 0);
	CHECK_EQ(uio.uio_resid, 54);
	CHECK_EQ(uio.uio_offset, 10);
	CHECK(iov.iov_base == dst + 10);
	CHECK_EQ(iov.iov_len, 54);
	CHECK_EQ(uio.uio_iovcnt, 1);

	/* n larger than resid: only resid moves */
	CHECK_EQ(uiomove(src + 10, 1000, &uio), 0);
	CHECK(memcmp(dst, src, 64) == 0);
	CHECK_EQ(uio.uio_resid, 0);
	CHECK_EQ(uio.uio_offset, 64);

	/* resid 0, n <= 0: nothing moves, 0 returned */
	CHECK_EQ(uiomove(src, 5, &uio), 0);
	CHECK_EQ(uio.uio_offset, 64);
	iov = (struct iovec){ dst, 8 };
	uio = (struct uio){ &iov, 1, 0, 8, UIO_SYSSPACE, UIO_READ, NULL };
	CHECK_EQ(uiomove(src, 0, &uio), 0);
	CHECK_EQ(uiomove(src, -3, &uio), 0);
	CHECK_EQ(uio.uio_resid, 8);

	/* UIO_WRITE: iovecs -> buffer */
	memset(dst, 0, sizeof(dst));
	iov = (struct iovec){ src, 64 };
	uio = (struct uio){ &iov, 1, 5, 64, UIO_SYSSPACE, UIO_WRITE, NULL };
	CHECK_EQ(uiomove(dst, 64, &uio), 0);
	CHECK(memcmp(dst, src, 64) == 0);
	CHECK_EQ(uio.uio_resid, 0);
	CHECK_EQ(uio.uio_offset, 69);

	/* UIO_USERSPACE is the same memory here */
	memset(dst, 0, sizeof(dst));
	iov = (struct iovec){ src, 64 };
	uio = (struct uio){ &iov, 1, 0, 64, UIO_USERSPACE, UIO_WRITE, NULL };
	CHECK_EQ(uiomove(dst, 64, &uio), 0);
	CHECK(memcmp(dst, src, 64) == 0);
}

/*
 * FreeBSD's accounting edge: an iovec emptied by a move is stepped over by
 * the next move, not by the one that emptied it; zero-length entries in
 * front are stepped over before moving.
 */
static void test_uiomove_iovec_stepping(void)
{
	unsigned char src[32], a[4], b[4];
	struct iovec iov[4] = { { a, 0 }, { a, 4 }, { NULL, 0 }, { b, 4 } };
	struct uio uio = { iov, 4, 0, 8, UIO_SYSSPACE, UIO_READ, NULL };

	fill_pat(src, sizeof(src), 2);
	CHECK_EQ(uiomove(src, 4, &uio), 0);
	CHECK(uio.uio_iov == &iov[1]); /* the leading empty entry was stepped over */
	CHECK_EQ(uio.uio_iovcnt, 3);
	CHECK_EQ(iov[1].iov_len, 0); /* emptied, still current */
	CHECK(memcmp(a, src, 4) == 0);

	CHECK_EQ(uiomove(src + 4, 4, &uio), 0);
	CHECK(uio.uio_iov == &iov[3]);
	CHECK_EQ(uio.uio_iovcnt, 1);
	CHECK(memcmp(b, src + 4, 4) == 0);
	CHECK_EQ(uio.uio_resid, 0);
	CHECK_EQ(uio.uio_offset, 8);
}

/* Every iovec shape, moved in pieces of every size from 1 to 23 bytes, both ways. */
static void test_uiomove_shapes(void)
{
	enum { N = 9000 };
	static unsigned char obj[N], user[N];
	struct iovec iov[4096];
	struct uio uio;

	for (int sh = 0; sh < NSHAPES; sh++) {
		for (int step = 1; step <= 23; step += 2) {
			/* read: object -> user iovecs */
			fill_pat(obj, N, (unsigned)(sh + step));
			memset(user, 0, N);
			carve(iov, 4096, user, N, shapes[sh].s, shapes[sh].n, &uio, UIO_READ);
			for (size_t off = 0; off < N; off += (size_t)step) {
				int n = (int)(N - off < (size_t)step ? N - off : (size_t)step);

				CHECK_EQ(uiomove(obj + off, n, &uio), 0);
			}
			CHECK_EQ(uio.uio_resid, 0);
			CHECK_EQ(uio.uio_offset, 1000 + N);
			CHECK(is_pat(user, N, (unsigned)(sh + step), 0));

			/* write: user iovecs -> object, in one call */
			memset(obj, 0, N);
			carve(iov, 4096, user, N, shapes[sh].s, shapes[sh].n, &uio, UIO_WRITE);
			CHECK_EQ(uiomove(obj, N, &uio), 0);
			CHECK_EQ(uio.uio_resid, 0);
			CHECK(is_pat(obj, N, (unsigned)(sh + step), 0));
		}
	}
}

static void test_uiomove_nocopy(void)
{
	unsigned char src[16], dst[16];
	struct iovec iov = { dst, 16 };
	struct uio uio = { &iov, 1, 0, 16, UIO_NOCOPY, UIO_READ, NULL };

	fill_pat(src, 16, 3);
	memset(dst, 0x5a, 16);
	CHECK_EQ(uiomove(src, 16, &uio), 0);
	CHECK_EQ(uio.uio_resid, 0);
	CHECK_EQ(uio.uio_offset, 16);
	CHECK(iov.iov_base == dst + 16);
	for (int i = 0; i < 16; i++)
		CHECK_EQ(dst[i], 0x5a);
}

static void test_uiomove_diagnostics(void)
{
	unsigned char buf[8];
	struct iovec iov = { buf, 8 };
	struct uio uio = { &iov, 1, 0, 8, UIO_SYSSPACE, (enum uio_rw)7, NULL };
	unsigned long d = diag_seen;

	CHECK_EQ(uiomove(buf, 8, &uio), EINVAL);
	CHECK_EQ(diag_seen, d + 1);
	CHECK(strcmp(diag_last_func, "uiomove") == 0);
	CHECK_EQ(uio.uio_resid, 8);

	uio.uio_rw = UIO_READ;
	uio.uio_resid = -1;
	CHECK_EQ(uiomove(buf, 8, &uio), EINVAL);
	CHECK_EQ(diag_seen, d + 2);

	/* the iovecs hold less than uio_resid says */
	uio = (struct uio){ &iov, 1, 0, 20, UIO_SYSSPACE, UIO_READ, NULL };
	CHECK_EQ(uiomove(buf, 20, &uio), EINVAL);
	CHECK_EQ(diag_seen, d + 3);
	CHECK_EQ(uio.uio_resid, 12); /* the 8 that had room moved */
}

static void test_uiomove_frombuf(void)
{
	unsigned char obj[100], dst[40];
	struct iovec iov = { dst, 40 };
	struct uio uio = { &iov, 1, 90, 40, UIO_SYSSPACE, UIO_READ, NULL };

	fill_pat(obj, 100, 4);
	/* from offset 90: the last 10 bytes */
	CHECK_EQ(uiomove_frombuf(obj, 100, &uio), 0);
	CHECK(is_pat(dst, 10, 4, 90));
	CHECK_EQ(uio.uio_resid, 30);
	CHECK_EQ(uio.uio_offset, 100);
	/* at the end: nothing */
	CHECK_EQ(uiomove_frombuf(obj, 100, &uio), 0);
	CHECK_EQ(uio.uio_resid, 30);
	/* from the start, limited by resid */
	iov = (struct iovec){ dst, 40 };
	uio = (struct uio){ &iov, 1, 0, 40, UIO_SYSSPACE, UIO_READ, NULL };
	CHECK_EQ(uiomove_frombuf(obj, 100, &uio), 0);
	CHECK(is_pat(dst, 40, 4, 0));
	CHECK_EQ(uio.uio_offset, 40);
	/* bad offsets and lengths */
	uio.uio_offset = -1;
	CHECK_EQ(uiomove_frombuf(obj, 100, &uio), EINVAL);
	uio.uio_offset = 0;
	uio.uio_resid = 5;
	CHECK_EQ(uiomove_frombuf(obj, 0, &uio), 0);
	CHECK_EQ(uiomove_frombuf(obj, -4, &uio), 0);
	CHECK_EQ(uio.uio_resid, 5);
}

/* ------------------------------------------------------------ m_uiotombuf */

/* Checks a chain from m_uiotombuf against the pattern; returns its length. */
static int check_chain(struct mbuf *m, unsigned seed, size_t from, int align, int flags)
{
	int len = m_length(m);
	unsigned char *buf = malloc((size_t)len + 1);

	m_copydata(m, 0, len, buf);
	CHECK(is_pat(buf, (size_t)len, seed, from));
	free(buf);
	CHECK_EQ(m->m_data - m_buf_start(m), align);
	CHECK_EQ(!!(m->m_flags & M_PKTHDR), !!(flags & M_PKTHDR));
	if (flags & M_PKTHDR)
		CHECK_EQ(m->m_pkthdr.len, len);
	for (struct mbuf *n = m; n; n = n->m_next) {
		CHECK_EQ(!!(n->m_flags & M_EOR), (flags & M_EOR) && !n->m_next);
		if (n != m)
			CHECK(!(n->m_flags & M_PKTHDR));
		/* every mbuf but the last is filled to the end of its buffer */
		if (n->m_next)
			CHECK(n->m_data + n->m_len == m_buf_end(n));
	}
	return len;
}

static void test_uiotombuf_sizes(void)
{
	static const int totals[] = { 0, 1, MHLEN - 1, MHLEN, MHLEN + 1, MLEN, MLEN + 1, MINCLSIZE,
				      MCLBYTES - 1, MCLBYTES, MCLBYTES + 1, 3 * MCLBYTES + 5, 9000 };
	static const int aligns[] = { 0, 1, 16, 64, MHLEN - 1 };
	static const int flagset[] = { 0, M_PKTHDR, M_EOR, M_PKTHDR | M_EOR };
	static unsigned char user[9000];
	struct iovec iov[4096];
	struct uio uio;

	for (size_t t = 0; t < sizeof(totals) / sizeof(totals[0]); t++)
		for (size_t a = 0; a < sizeof(aligns) / sizeof(aligns[0]); a++)
			for (size_t f = 0; f < sizeof(flagset) / sizeof(flagset[0]); f++) {
				int sh = (int)((t + a + f) % NSHAPES);
				unsigned seed = (unsigned)(t * 31 + a * 7 + f);
				int total = totals[t];

				fill_pat(user, (size_t)total, seed);
				carve(iov, 4096, user, (size_t)total, shapes[sh].s, shapes[sh].n, &uio, UIO_WRITE);

				struct mbuf *m = m_uiotombuf(&uio, M_WAIT, 0, aligns[a], flagset[f]);

				CHECK(m != NULL);
				if (!m)
					continue;
				CHECK_EQ(check_chain(m, seed, 0, aligns[a], flagset[f]), total);
				CHECK_EQ(uio.uio_resid, 0);
				CHECK_EQ(uio.uio_offset, 1000 + total);
				if (total == 0) /* the smallest empty mbuf */
					CHECK(m->m_next == NULL && m->m_len == 0);
				m_freem(m);
			}
	check_no_leaks();
}

static void test_uiotombuf_len(void)
{
	static unsigned char user[5000];
	struct iovec iov[64];
	struct uio uio;

	fill_pat(user, sizeof(user), 9);
	carve(iov, 64, user, 5000, shape_mixed, 8, &uio, UIO_WRITE);

	/* len limits; the uio goes on from where it stopped */
	struct mbuf *m1 = m_uiotombuf(&uio, M_DONTWAIT, 1234, 0, M_PKTHDR);
	CHECK(m1 && m1->m_pkthdr.len == 1234);
	CHECK_EQ(uio.uio_resid, 5000 - 1234);
	struct mbuf *m2 = m_uiotombuf(&uio, M_DONTWAIT, 100000, 8, 0); /* more than resid: the rest */
	CHECK(m2 && m_length(m2) == 5000 - 1234);
	CHECK_EQ(uio.uio_resid, 0);
	if (m1 && m2) {
		check_chain(m1, 9, 0, 0, M_PKTHDR);
		check_chain(m2, 9, 1234, 8, 0);
	}
	m_freem(m1);
	m_freem(m2);

	/* negative len: all of resid, as 0 */
	carve(iov, 64, user, 300, shape_one, 1, &uio, UIO_WRITE);
	m1 = m_uiotombuf(&uio, M_WAIT, -5, 0, 0);
	CHECK(m1 && m_length(m1) == 300);
	m_freem(m1);

	/* align past a packet header mbuf's room: NULL, uio untouched */
	carve(iov, 64, user, 300, shape_one, 1, &uio, UIO_WRITE);
	CHECK(m_uiotombuf(&uio, M_WAIT, 0, MHLEN, 0) == NULL);
	CHECK(m_uiotombuf(&uio, M_WAIT, 0, -1, 0) == NULL);
	CHECK_EQ(uio.uio_resid, 300);
	CHECK(iov[0].iov_base == user);

	/* wrong direction and wait flag: diagnosed */
	unsigned long d = diag_seen;

	uio.uio_rw = UIO_READ;
	CHECK(m_uiotombuf(&uio, M_WAIT, 0, 0, 0) == NULL);
	CHECK_EQ(diag_seen, d + 1);
	uio.uio_rw = UIO_WRITE;
	CHECK(m_uiotombuf(&uio, 5, 0, 0, 0) == NULL);
	CHECK_EQ(diag_seen, d + 2);
	check_no_leaks();
}

/* Every allocation of m_uiotombuf failed in turn: NULL, uio untouched, nothing kept. */
static void test_uiotombuf_faults(void)
{
	static unsigned char user[7000];
	struct iovec iov[64];
	struct uio uio;

	fill_pat(user, sizeof(user), 11);
	for (int how = M_WAIT; how <= M_DONTWAIT; how++) {
		carve(iov, 64, user, 7000, shape_mixed, 8, &uio, UIO_WRITE);
		pktmem_fault_count_reset();
		struct mbuf *m = m_uiotombuf(&uio, how, 0, 32, M_PKTHDR | M_EOR);
		unsigned long points = pktmem_fault_count();

		pktmem_fault_off();
		CHECK(m != NULL);
		m_freem(m);
		CHECK(points >= 4);
		for (unsigned long k = 1; k <= points; k++) {
			carve(iov, 64, user, 7000, shape_mixed, 8, &uio, UIO_WRITE);
			pktmem_fault_set(PKTMEM_FAULT_NTH, k, 0);
			m = m_uiotombuf(&uio, how, 0, 32, M_PKTHDR | M_EOR);
			pktmem_fault_off();
			CHECK(m == NULL);
			m_freem(m);
			CHECK_EQ(uio.uio_resid, 7000);
			CHECK_EQ(uio.uio_offset, 1000);
			CHECK(uio.uio_iov == iov && iov[1].iov_base == user);
			check_no_leaks();
		}
	}
}

/* ------------------------------------------------------------ m_mbuftouio */

/* A chain over the pattern with mbufs of the given sizes (0: an empty mbuf; > MLEN: a cluster). */
static struct mbuf *build_chain(const int *sizes, int n, unsigned seed)
{
	struct mbuf *top = NULL, **tail = &top;
	size_t off = 0;

	for (int i = 0; i < n; i++) {
		struct mbuf *m = i == 0 ? m_gethdr(M_WAIT, MT_DATA) : m_get(M_WAIT, MT_DATA);

		if (sizes[i] > M_TRAILINGSPACE(m))
			m_clget(m, M_WAIT);
		if (i % 3 == 1 && M_TRAILINGSPACE(m) > sizes[i] + 5)
			m->m_data += 5; /* data not at the buffer start */
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

static void test_mbuftouio(void)
{
	static const int sizes[] = { 10, 0, 456, 1, 2048, 0, 300, 2000, 7 };
	struct mbuf *m = build_chain(sizes, 9, 21);
	int len = m_length(m);
	static unsigned char user[8000];
	struct iovec iov[4096];
	struct uio uio;

	CHECK_EQ(len, 10 + 456 + 1 + 2048 + 300 + 2000 + 7);
	for (int sh = 0; sh < NSHAPES; sh++) {
		/* the whole chain into a uio with room to spare: stops at the chain's end */
		memset(user, 0, sizeof(user));
		carve(iov, 4096, user, 8000, shapes[sh].s, shapes[sh].n, &uio, UIO_READ);
		CHECK_EQ(m_mbuftouio(&uio, m, 0), 0);
		CHECK(is_pat(user, (size_t)len, 21, 0));
		CHECK_EQ(user[len], 0);
		CHECK_EQ(uio.uio_resid, 8000 - len);
		CHECK_EQ(uio.uio_offset, 1000 + len);

		/* limited by len, then by resid */
		for (int lim = 1; lim < len; lim += 97) {
			memset(user, 0, sizeof(user));
			carve(iov, 4096, user, 8000, shapes[sh].s, shapes[sh].n, &uio, UIO_READ);
			CHECK_EQ(m_mbuftouio(&uio, m, lim), 0);
			CHECK(is_pat(user, (size_t)lim, 21, 0));
			CHECK_EQ(user[lim], 0);
			CHECK_EQ(uio.uio_resid, 8000 - lim);

			memset(user, 0, sizeof(user));
			carve(iov, 4096, user, (size_t)lim, shapes[sh].s, shapes[sh].n, &uio, UIO_READ);
			CHECK_EQ(m_mbuftouio(&uio, m, 0), 0);
			CHECK(is_pat(user, (size_t)lim, 21, 0));
			CHECK_EQ(uio.uio_resid, 0);
		}
	}

	/* a UIO_WRITE uio is the wrong way round */
	unsigned long d = diag_seen;

	carve(iov, 4096, user, 100, shape_one, 1, &uio, UIO_WRITE);
	CHECK_EQ(m_mbuftouio(&uio, m, 0), EINVAL);
	CHECK_EQ(diag_seen, d + 1);
	/* a NULL chain moves nothing */
	carve(iov, 4096, user, 100, shape_one, 1, &uio, UIO_READ);
	CHECK_EQ(m_mbuftouio(&uio, NULL, 0), 0);
	CHECK_EQ(uio.uio_resid, 100);
	m_freem(m);
	check_no_leaks();
}

/* m_uiotombuf then m_mbuftouio gives back the bytes, at every length up to three clusters. */
static void test_round_trip(void)
{
	static unsigned char in[3 * MCLBYTES + 1], out[3 * MCLBYTES + 1];
	struct iovec iov[64];
	struct uio uio;

	for (int len = 0; len <= 3 * MCLBYTES + 1; len += (len < 600 ? 1 : 37)) {
		fill_pat(in, (size_t)len, (unsigned)len);
		carve(iov, 64, in, (size_t)len, shape_small, 8, &uio, UIO_WRITE);

		struct mbuf *m = m_uiotombuf(&uio, M_DONTWAIT, 0, len % 50, M_PKTHDR);

		CHECK(m != NULL);
		if (!m)
			break;
		memset(out, 0, sizeof(out));
		carve(iov, 64, out, (size_t)len, shape_mixed, 8, &uio, UIO_READ);
		CHECK_EQ(m_mbuftouio(&uio, m, 0), 0);
		CHECK_EQ(uio.uio_resid, 0);
		if (memcmp(in, out, (size_t)len) != 0) {
			CHECK(memcmp(in, out, (size_t)len) == 0);
			m_freem(m);
			break;
		}
		m_freem(m);
	}
	check_no_leaks();
}

int main(void)
{
	diag_capture();
	TEST(test_uiomove_read_write);
	TEST(test_uiomove_iovec_stepping);
	TEST(test_uiomove_shapes);
	TEST(test_uiomove_nocopy);
	TEST(test_uiomove_diagnostics);
	TEST(test_uiomove_frombuf);
	TEST(test_uiotombuf_sizes);
	TEST(test_uiotombuf_len);
	TEST(test_uiotombuf_faults);
	TEST(test_mbuftouio);
	TEST(test_round_trip);
	return test_summary();
}
