/*
 * <pktmem/mbuf.h>, the chain-shaping half, as a specification: m_adj (both
 * signs, every amount), m_split (every offset, sharing, exact restore on
 * failure), m_pullup and m_pulldown (many offsets and lengths across mbuf
 * boundaries, chains shorter than asked, shared storage never written),
 * M_PREPEND / m_prepend (with and without leading space, shared and
 * read-only storage, m_pkthdr.len), m_cat, the diagnosed misuses, every
 * allocation failure under fault injection, and a differential run against
 * a byte-array model. Every test ends with no mbuf and no cluster in use.
 *
 * Chains are built from mixed internal mbufs and clusters filled with a
 * known pattern; a local walker reads them back (no dependency on
 * m_copydata).
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <pktmem/ext.h>
#include <pktmem/mbuf.h>

#include "check.h"

/* ------------------------------------------------------------ helpers */

#define MAXBYTES 8192
#define MAXMBUFS 64

static unsigned char pat(int i)
{
	return (unsigned char)((i % 251) * 7 + 1);
}

/* One mbuf of a test chain: 'i' internal data, 'c' a cluster, 'e' MEXTMALLOC(4096). */
struct seg {
	char kind;
	int len;
	int lead; /* bytes left free in front of the data */
};

struct shape {
	const char *name;
	const struct seg *segs;
	int nsegs;
	bool pkthdr;
};

static const struct seg mixed[] = {
	{'i', 40, 8}, {'c', 700, 100}, {'i', 3, 0}, {'i', 0, 0}, {'c', 1500, 548}, {'i', 450, 6},
};
static const struct seg cluster_head[] = {
	{'c', 1000, 200}, {'i', 30, 0}, {'c', 2048, 0}, {'i', 456, 0},
};
static const struct seg smalls[] = {
	{'i', 1, 0}, {'i', 2, 5}, {'i', 14, 0}, {'i', 0, 9}, {'i', 20, 100}, {'i', 5, 451},
};
static const struct seg extmalloc[] = {
	{'i', 14, 50}, {'e', 3000, 500}, {'i', 7, 0},
};
static const struct seg full_internal[] = {
	{'i', 400, 0}, {'i', 456, 0}, {'i', 456, 0},
};
/* No room behind the first mbuf's data: m_pullup must allocate. */
static const struct seg tight[] = {
	{'i', 30, 370}, {'c', 500, 0}, {'i', 100, 0}, {'c', 300, 1748},
};
static const struct seg tight_cluster[] = {
	{'c', 10, 2038}, {'i', 200, 0}, {'c', 2048, 0},
};

#define SHAPE(s, hdr) {#s, s, (int)(sizeof(s) / sizeof(s[0])), hdr}
static const struct shape shapes[] = {
	SHAPE(mixed, true),        SHAPE(mixed, false),     SHAPE(cluster_head, true),
	SHAPE(cluster_head, false), SHAPE(smalls, true),     SHAPE(smalls, false),
	SHAPE(extmalloc, true),    SHAPE(full_internal, true), SHAPE(tight, true),
	SHAPE(tight_cluster, true), SHAPE(tight_cluster, false),
};
#define NSHAPES ((int)(sizeof(shapes) / sizeof(shapes[0])))

static struct ifnet *const fake_ifp = (struct ifnet *)(uintptr_t)0x1f0;

/* Build a chain of @sh with bytes pat(base + i); *total gets its length. */
static struct mbuf *build(const struct shape *sh, int base, int *total)
{
	struct mbuf *head = NULL, **pp = &head;
	int off = base;

	for (int i = 0; i < sh->nsegs; i++) {
		const struct seg *s = &sh->segs[i];
		struct mbuf *m = (i == 0 && sh->pkthdr) ? m_gethdr(M_WAIT, MT_DATA) : m_get(M_WAIT, MT_DATA);

		if (s->kind == 'c')
			MCLGET(m, M_WAIT);
		else if (s->kind == 'e')
			MEXTMALLOC(m, 4096, M_WAIT);
		CHECK(s->kind == 'i' || (m->m_flags & M_EXT));
		CHECK(s->lead + s->len <= (int)(m_buf_end(m) - m_buf_start(m)));
		m->m_data += s->lead;
		for (int j = 0; j < s->len; j++)
			m->m_data[j] = (char)pat(off + j);
		m->m_len = s->len;
		off += s->len;
		*pp = m;
		pp = &m->m_next;
	}
	if (sh->pkthdr) {
		head->m_pkthdr.len = off - base;
		head->m_pkthdr.rcvif = fake_ifp;
	}
	*total = off - base;
	return head;
}

/* Read a chain's bytes (at most @max); returns its length. */
static int chain_read(const struct mbuf *m, unsigned char *out, int max)
{
	int n = 0;

	for (; m; m = m->m_next) {
		for (int i = 0; i < m->m_len; i++, n++)
			if (n < max)
				out[n] = (unsigned char)m->m_data[i];
	}
	return n;
}

/* Does the chain hold exactly pat(base + from) .. pat(base + from + len - 1)? */
static bool chain_is(const struct mbuf *m, int base, int from, int len)
{
	static unsigned char buf[MAXBYTES];
	int n = chain_read(m, buf, MAXBYTES);

	if (n != len)
		return false;
	for (int i = 0; i < n; i++)
		if (buf[i] != pat(base + from + i))
			return false;
	return true;
}

static int chain_count(const struct mbuf *m)
{
	int n = 0;

	for (; m; m = m->m_next)
		n++;
	return n;
}

static void check_no_leaks(void)
{
	CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), 0);
	CHECK_EQ(cache_in_use(pktmem_cluster_cache()), 0);
}

/* Everything observable about a chain, to prove that it did not change. */
struct snap {
	int n;
	struct mbuf *mb[MAXMBUFS];
	char *data[MAXMBUFS];
	int len[MAXMBUFS];
	int flags[MAXMBUFS];
	struct pktmem_ext *ext[MAXMBUFS];
	int refs[MAXMBUFS];
	int pklen;
	int total;
	unsigned char bytes[MAXBYTES];
};

static void snap_take(struct snap *s, const struct mbuf *m)
{
	s->n = 0;
	s->pklen = (m->m_flags & M_PKTHDR) ? m->m_pkthdr.len : -1;
	for (const struct mbuf *x = m; x && s->n < MAXMBUFS; x = x->m_next, s->n++) {
		s->mb[s->n] = (struct mbuf *)x;
		s->data[s->n] = x->m_data;
		s->len[s->n] = x->m_len;
		s->flags[s->n] = x->m_flags;
		s->ext[s->n] = (x->m_flags & M_EXT) ? x->m_ext.ext_storage : NULL;
		s->refs[s->n] = (x->m_flags & M_EXT) ? pktmem_ext_refs(x->m_ext.ext_storage) : 0;
	}
	s->total = chain_read(m, s->bytes, MAXBYTES);
}

static bool snap_same(const struct snap *s, const struct mbuf *m)
{
	static struct snap now;

	snap_take(&now, m);
	if (now.n != s->n || now.pklen != s->pklen || now.total != s->total)
		return false;
	for (int i = 0; i < s->n; i++) {
		if (now.mb[i] != s->mb[i] || now.data[i] != s->data[i] || now.len[i] != s->len[i] ||
		    now.flags[i] != s->flags[i] || now.ext[i] != s->ext[i] || now.refs[i] != s->refs[i])
			return false;
	}
	return memcmp(now.bytes, s->bytes, (size_t)s->total) == 0;
}

/*
 * Another holder of external storage: one extra reference and a copy of
 * every byte of the area, to prove later that nobody wrote into it.
 */
struct holder {
	struct pktmem_ext *e;
	unsigned char *copy;
};

static void hold(struct holder *h, struct mbuf *m)
{
	h->e = m->m_ext.ext_storage;
	pktmem_ext_get(h->e);
	h->copy = malloc(h->e->ext_size);
	memcpy(h->copy, h->e->ext_buf, h->e->ext_size);
}

static bool holder_intact(const struct holder *h)
{
	return memcmp(h->copy, h->e->ext_buf, h->e->ext_size) == 0;
}

static void unhold(struct holder *h)
{
	CHECK(holder_intact(h));
	pktmem_ext_put(h->e, NULL);
	free(h->copy);
	h->e = NULL;
}

/* Hold every external storage of a chain; returns how many. */
static int hold_all(struct holder *hs, int max, struct mbuf *m)
{
	int n = 0;

	for (; m && n < max; m = m->m_next)
		if (m->m_flags & M_EXT)
			hold(&hs[n++], m);
	return n;
}

/* Number of allocation points an operation passes (counted, not failed). */
#define COUNT_ALLOCS(var, stmt)              \
	do {                                 \
		pktmem_fault_count_reset();  \
		stmt;                        \
		(var) = pktmem_fault_count(); \
		pktmem_fault_off();          \
	} while (0)

/* Run @stmt with the @k-th allocation from now failing. */
#define WITH_FAULT(k, stmt)                                 \
	do {                                                \
		pktmem_fault_set(PKTMEM_FAULT_NTH, (k), 0); \
		stmt;                                       \
		pktmem_fault_off();                         \
	} while (0)

static int imin(int a, int b)
{
	return a < b ? a : b;
}

static int imax(int a, int b)
{
	return a > b ? a : b;
}

static void fill_bytes(struct mbuf *m, int base)
{
	for (int i = 0; i < m->m_len; i++)
		m->m_data[i] = (char)pat(base + i);
}

/* An internal mbuf holding pat(base ..) for @len bytes, @lead bytes in. */
static struct mbuf *small(int base, int len, int lead)
{
	struct mbuf *m = m_get(M_WAIT, MT_DATA);

	m->m_data += lead;
	m->m_len = len;
	fill_bytes(m, base);
	return m;
}

/* ------------------------------------------------------------ m_adj */

static void test_adj_every_amount(void)
{
	for (int s = 0; s < NSHAPES; s++) {
		const struct shape *sh = &shapes[s];
		int total;

		m_freem(build(sh, 0, &total));
		for (int k = 0; k <= total + 2; k++) {
			int cut = imin(k, total);

			/* front */
			struct mbuf *m = build(sh, s, &total);
			struct snap before;

			snap_take(&before, m);
			m_adj(m, k);
			CHECK(chain_is(m, s, cut, total - cut));
			CHECK_EQ(chain_count(m), before.n);
			if (sh->pkthdr)
				CHECK_EQ(m->m_pkthdr.len, total - cut);
			else
				CHECK(!(m->m_flags & M_PKTHDR));
			/* Data never moves: each mbuf with data left ends where it did. */
			int i = 0;
			for (struct mbuf *x = m; x; x = x->m_next, i++) {
				CHECK(x == before.mb[i]);
				if (x->m_len)
					CHECK(x->m_data + x->m_len == before.data[i] + before.len[i]);
			}
			m_freem(m);

			/* back */
			m = build(sh, s, &total);
			snap_take(&before, m);
			m_adj(m, -k);
			CHECK(chain_is(m, s, 0, total - cut));
			CHECK_EQ(chain_count(m), before.n);
			if (sh->pkthdr)
				CHECK_EQ(m->m_pkthdr.len, total - cut);
			i = 0;
			for (struct mbuf *x = m; x; x = x->m_next, i++)
				CHECK(x->m_data == before.data[i]);
			m_freem(m);
		}
	}

	/* The extremes of an int empty the chain. */
	int total;
	struct mbuf *m = build(&shapes[0], 0, &total);

	m_adj(m, INT_MIN);
	CHECK_EQ(m_length(m), 0);
	CHECK_EQ(m->m_pkthdr.len, 0);
	m_freem(m);
	m = build(&shapes[0], 0, &total);
	m_adj(m, INT_MAX);
	CHECK_EQ(m_length(m), 0);
	CHECK_EQ(m->m_pkthdr.len, 0);
	m_freem(m);
	check_no_leaks();
}

/* m_adj on shared storage moves pointers only: the other holder's bytes stay. */
static void test_adj_shared(void)
{
	int total;
	struct mbuf *m = build(&shapes[2], 0, &total); /* cluster_head */
	struct holder hs[8];
	int nh = hold_all(hs, 8, m);

	m_adj(m, 100);
	m_adj(m, -100);
	CHECK(chain_is(m, 0, 100, total - 200));
	CHECK_EQ(m->m_pkthdr.len, total - 200);
	m_freem(m);
	for (int i = 0; i < nh; i++)
		unhold(&hs[i]);
	check_no_leaks();
}

/* ------------------------------------------------------------ m_split */

/* The mbuf NetBSD's walk stops at for @len0, and the offset in it. */
static struct mbuf *split_point(struct mbuf *m, int len0, int *in)
{
	while (m && len0 > m->m_len) {
		len0 -= m->m_len;
		m = m->m_next;
	}
	*in = len0;
	return m;
}

static void test_split_every_offset(void)
{
	for (int s = 0; s < NSHAPES; s++) {
		const struct shape *sh = &shapes[s];
		int total;

		m_freem(build(sh, 0, &total));
		for (int k = 0; k <= total + 2; k++) {
			struct mbuf *m = build(sh, s, &total);
			struct snap before;
			int in;
			struct mbuf *x = split_point(m, k, &in);
			bool shares = x && (x->m_flags & M_EXT) && in < x->m_len;

			snap_take(&before, m);
			struct mbuf *t = m_split(m, k, M_DONTWAIT);

			if (k > total || (k == total && !sh->pkthdr)) {
				CHECK(t == NULL);
				CHECK(snap_same(&before, m));
				m_freem(m);
				continue;
			}
			CHECK(t != NULL);
			if (!t) {
				m_freem(m);
				continue;
			}
			CHECK(chain_is(m, s, 0, k));
			CHECK(chain_is(t, s, k, total - k));
			CHECK(x->m_next == NULL); /* the head ends at the cut */
			if (sh->pkthdr) {
				CHECK(m->m_flags & M_PKTHDR);
				CHECK(t->m_flags & M_PKTHDR);
				CHECK_EQ(m->m_pkthdr.len, k);
				CHECK_EQ(t->m_pkthdr.len, total - k);
				CHECK(t->m_pkthdr.rcvif == fake_ifp);
			} else {
				CHECK(!(t->m_flags & M_PKTHDR));
			}
			if (shares) {
				/* Cut inside external storage: shared, not copied. */
				CHECK(t->m_flags & M_EXT);
				CHECK(t->m_ext.ext_storage == x->m_ext.ext_storage);
				CHECK_EQ(pktmem_ext_refs(x->m_ext.ext_storage), 2);
				CHECK(t->m_data == x->m_data + in);
				CHECK(!m_writable(x) && !m_writable(t));
			}
			/* Each tail mbuf holds its own bytes now: freeing the head leaves it whole. */
			m_freem(m);
			CHECK(chain_is(t, s, k, total - k));
			m_freem(t);
		}
	}
	check_no_leaks();
}

/* Splitting a tail again, and a chain split into every piece, still adds up. */
static void test_split_repeatedly(void)
{
	int total;
	struct mbuf *m = build(&shapes[0], 0, &total);
	struct mbuf *pieces[64];
	int np = 0, at = 0;

	while (np < 63) {
		struct mbuf *t = m_split(m, 97, M_WAIT);

		CHECK(chain_is(m, 0, at, imin(97, total - at)));
		pieces[np++] = m;
		at += 97;
		if (!t || at >= total) {
			m_freem(t);
			break;
		}
		CHECK_EQ(t->m_pkthdr.len, total - at);
		m = t;
	}
	for (int i = 0; i < np; i++)
		m_freem(pieces[i]);
	check_no_leaks();
}

static void test_split_failure_restores(void)
{
	unsigned long most = 0;

	for (int s = 0; s < NSHAPES; s++) {
		const struct shape *sh = &shapes[s];
		int total;

		m_freem(build(sh, 0, &total));
		for (int k = 0; k <= total; k++) {
			struct mbuf *m = build(sh, s, &total);
			struct mbuf *t;
			unsigned long allocs;

			COUNT_ALLOCS(allocs, t = m_split(m, k, M_DONTWAIT));
			m_freem(t);
			m_freem(m);
			most = allocs > most ? allocs : most;
			for (unsigned long j = 1; j <= allocs; j++) {
				static struct snap before;

				m = build(sh, s, &total);
				snap_take(&before, m);
				WITH_FAULT(j, t = m_split(m, k, M_DONTWAIT));
				CHECK(t == NULL);
				CHECK(snap_same(&before, m));
				m_freem(t);
				m_freem(m);
				check_no_leaks();
			}
		}
	}
	CHECK_EQ(most, 2); /* a packet cut inside a full internal mbuf: header + data mbuf */
	check_no_leaks();
}

/* ------------------------------------------------------------ m_pullup */

static void test_pullup_many(void)
{
	static const int protohdrs[] = {0, 60, 128, 400, 5000};
	int saved = max_protohdr;

	for (size_t p = 0; p < sizeof(protohdrs) / sizeof(protohdrs[0]); p++) {
		max_protohdr = protohdrs[p];
		for (int s = 0; s < NSHAPES; s++) {
			const struct shape *sh = &shapes[s];
			int total;

			for (int len = 0; len <= MHLEN; len++) {
				struct mbuf *m = build(sh, s, &total);
				int first = m->m_len;
				struct m_tag *tag = NULL;

				if (sh->pkthdr) {
					tag = m_tag_get(7, 4, M_WAIT);
					m_tag_prepend(m, tag);
				}
				struct mbuf *r = m_pullup(m, len);

				if (len > total) {
					CHECK(r == NULL);
					check_no_leaks();
					continue;
				}
				CHECK(r != NULL);
				if (!r)
					continue;
				CHECK(r->m_len >= len);
				CHECK(chain_is(r, s, 0, total));
				CHECK_EQ(!!(r->m_flags & M_PKTHDR), sh->pkthdr);
				for (struct mbuf *x = r->m_next; x; x = x->m_next)
					CHECK(!(x->m_flags & M_PKTHDR));
				if (sh->pkthdr) {
					CHECK_EQ(r->m_pkthdr.len, total);
					CHECK(r->m_pkthdr.rcvif == fake_ifp);
					CHECK(m_tag_find(r, 7) == tag);
				}
				if (first >= len) {
					CHECK(r == m); /* already contiguous: untouched */
					CHECK_EQ(r->m_len, first);
				} else {
					/* Read ahead to max_protohdr, as room and data allow, no further. */
					int want = imax(len, max_protohdr);

					CHECK(r->m_len >= imin(want, total) || M_TRAILINGSPACE(r) == 0);
					CHECK(r->m_len <= imax(want, first));
					CHECK(m_writable(r));
				}
				m_freem(r);
			}
		}
	}
	max_protohdr = saved;
	check_no_leaks();
}

/* Pulled into the first mbuf itself when it is writable and has room. */
static void test_pullup_in_place(void)
{
	int total;
	struct mbuf *m = build(&shapes[0], 0, &total); /* 40 internal bytes at 8, then a cluster */
	struct mbuf *r = m_pullup(m, 100);

	CHECK(r == m);
	CHECK(r->m_len >= 100);
	CHECK(chain_is(r, 0, 0, total));
	m_freem(r);

	/* Already contiguous in a cluster: untouched. */
	m = build(&shapes[2], 0, &total); /* cluster_head: 1000 bytes in a cluster */
	struct mbuf *second = m->m_next;
	r = m_pullup(m, MHLEN);
	CHECK(r == m && r->m_len == 1000 && r->m_next == second && second->m_len == 30);
	m_freem(r);

	/* A writable cluster with trailing room serves as well as internal data. */
	m = m_gethdr(M_WAIT, MT_DATA);
	MCLGET(m, M_WAIT);
	m->m_len = 10;
	fill_bytes(m, 0);
	m->m_next = small(10, 100, 0);
	m->m_pkthdr.len = 110;
	r = m_pullup(m, 60);
	CHECK(r == m && (r->m_flags & M_EXT) && r->m_len >= 60);
	CHECK(chain_is(r, 0, 0, 110));
	m_freem(r);
	check_no_leaks();
}

static unsigned char user_buf[4096];
static int user_frees;

static void user_free(struct mbuf *m, void *buf, size_t size, void *arg)
{
	(void)m;
	(void)size;
	(void)arg;
	CHECK(buf == user_buf);
	user_frees++;
}

/* A shared or read-only first mbuf is never written: a new mbuf takes the bytes. */
static void test_pullup_shared_first(void)
{
	for (int ro = 0; ro < 2; ro++) {
		struct mbuf *m = m_gethdr(M_WAIT, MT_DATA);
		struct holder h = {0};

		/* Shared: a cluster someone else holds. Read-only: a caller's buffer held alone. */
		if (ro) {
			memset(user_buf, 0x3c, sizeof(user_buf));
			MEXTADD(m, user_buf, (int)sizeof(user_buf), 0, user_free, NULL);
			pktmem_ext_set_readonly(m->m_ext.ext_storage);
		} else {
			MCLGET(m, M_WAIT);
		}
		m->m_data += 100;
		m->m_len = 20;
		fill_bytes(m, 0);
		m->m_next = small(20, 100, 0);
		m->m_pkthdr.len = 120;
		m->m_pkthdr.rcvif = fake_ifp;

		unsigned char copy[sizeof(user_buf)];

		if (ro)
			memcpy(copy, user_buf, sizeof(copy));
		else
			hold(&h, m);
		CHECK_EQ(M_TRAILINGSPACE(m), 0);

		struct mbuf *r = m_pullup(m, 60);

		CHECK(r != NULL && r != m);
		if (r) {
			CHECK(r->m_len >= 60);
			CHECK(r->m_flags & M_PKTHDR);
			CHECK_EQ(r->m_pkthdr.len, 120);
			CHECK(r->m_pkthdr.rcvif == fake_ifp);
			CHECK(chain_is(r, 0, 0, 120));
			CHECK(m_writable(r));
		}
		m_freem(r);
		if (ro) {
			CHECK_EQ(user_frees, 1);
			CHECK(memcmp(copy, user_buf, sizeof(copy)) == 0);
			user_frees = 0;
		} else {
			unhold(&h);
		}
		check_no_leaks();
	}
}

/* Shorter than asked, in one mbuf or many: the chain is freed, NULL. */
static void test_pullup_short(void)
{
	struct mbuf *m = m_gethdr(M_WAIT, MT_DATA);

	MCLGET(m, M_WAIT);
	m->m_len = 10;
	m->m_pkthdr.len = 10;
	CHECK(m_pullup(m, 11) == NULL);
	check_no_leaks();

	int total;

	m = build(&shapes[4], 0, &total); /* smalls: 42 bytes in six mbufs */
	CHECK(m_pullup(m, total + 1) == NULL);
	check_no_leaks();
	m = build(&shapes[4], 0, &total);
	m = m_pullup(m, total);
	CHECK(m && m->m_len == total && chain_is(m, 0, 0, total));
	m_freem(m);
	check_no_leaks();
}

static void test_pullup_failure(void)
{
	int tested = 0;

	for (int s = 0; s < NSHAPES; s++) {
		const struct shape *sh = &shapes[s];
		int total;

		for (int len = 1; len <= MHLEN; len += 7) {
			struct mbuf *m = build(sh, s, &total);
			struct mbuf *r;
			unsigned long allocs;

			COUNT_ALLOCS(allocs, r = m_pullup(m, len));
			m_freem(r);
			for (unsigned long j = 1; j <= allocs; j++) {
				m = build(sh, s, &total);
				WITH_FAULT(j, r = m_pullup(m, len));
				CHECK(r == NULL); /* and the chain is gone: */
				check_no_leaks();
				tested++;
			}
		}
	}
	CHECK(tested > 100);
	check_no_leaks();
}

/* ------------------------------------------------------------ m_pulldown */

static const int pd_lens[] = {0, 1, 2, 3, 4, 7, 8, 13, 20, 40, 60, 100, 399, 400, 401,
			      455, 456, 457, 700, 1024, 1500, 2047, 2048};
#define NPDLENS ((int)(sizeof(pd_lens) / sizeof(pd_lens[0])))

/* Offsets worth trying: every one near an mbuf boundary, and a stride. */
static bool pd_offset_wanted(const struct shape *sh, int off)
{
	int b = 0;

	if (off % 37 == 0)
		return true;
	for (int i = 0; i < sh->nsegs; i++) {
		b += sh->segs[i].len;
		if (off >= b - 3 && off <= b + 3)
			return true;
	}
	return off <= 3;
}

/* Index of the mbuf holding byte @off, empty mbufs skipped; -1 past the end. */
static int holder_index(const struct mbuf *m, int off, int *in)
{
	int i = 0;

	for (; m; m = m->m_next, i++) {
		if (off < m->m_len) {
			*in = off;
			return i;
		}
		off -= m->m_len;
	}
	return -1;
}

static void pulldown_one(const struct shape *sh, int s, int off, int len, bool want_offp, bool shared)
{
	int total;
	struct mbuf *m = build(sh, s, &total);
	static struct snap before;
	struct holder hs[8];
	int nh = shared ? hold_all(hs, 8, m) : 0;
	int in = 0;
	int idx = holder_index(m, off, &in);
	int offp = -1;

	snap_take(&before, m);
	struct mbuf *r = m_pulldown(m, off, len, want_offp ? &offp : NULL);

	if (off + len > total || off >= total) {
		CHECK(r == NULL);
		for (int i = 0; i < nh; i++)
			unhold(&hs[i]);
		check_no_leaks();
		return;
	}
	CHECK(r != NULL);
	if (!r) {
		for (int i = 0; i < nh; i++)
			unhold(&hs[i]);
		return;
	}
	int at = want_offp ? offp : 0;

	CHECK(at >= 0 && at + len <= r->m_len);
	for (int i = 0; i < len; i++)
		if ((unsigned char)r->m_data[at + i] != pat(s + off + i)) {
			CHECK(!"region bytes");
			break;
		}
	CHECK(m_writable(r));
	/* r is in the chain, the chain is whole, its head and header intact. */
	bool found = false;

	for (struct mbuf *x = m; x; x = x->m_next)
		found |= x == r;
	CHECK(found);
	CHECK(chain_is(m, s, 0, total));
	if (sh->pkthdr) {
		CHECK(m->m_flags & M_PKTHDR);
		CHECK_EQ(m->m_pkthdr.len, total);
	}
	/* Mbufs before the one holding off: untouched; that one keeps its bytes before off. */
	struct mbuf *x = m;

	for (int i = 0; i < idx; i++, x = x->m_next) {
		CHECK(x == before.mb[i]);
		CHECK(x->m_data == before.data[i] && x->m_len == before.len[i]);
	}
	CHECK(x == before.mb[idx]);
	CHECK(x->m_data == before.data[idx] && x->m_len >= in);

	/* The region is ours to write, and writing it touches nobody else. */
	memset(r->m_data + at, 0xa5, (size_t)len);
	for (int i = 0; i < nh; i++) {
		CHECK(holder_intact(&hs[i]));
		unhold(&hs[i]);
	}
	m_freem(m);
	check_no_leaks();
}

static void test_pulldown_many(void)
{
	for (int s = 0; s < NSHAPES; s++) {
		const struct shape *sh = &shapes[s];
		int total;

		m_freem(build(sh, 0, &total));
		for (int off = 0; off <= total + 1; off++) {
			if (!pd_offset_wanted(sh, off) && off != total)
				continue;
			for (int l = 0; l < NPDLENS; l++) {
				int len = pd_lens[l];

				if (off + len > total + 2 && l > 0 && off + pd_lens[l - 1] > total + 2)
					continue; /* one length past the end is enough */
				pulldown_one(sh, s, off, len, true, false);
				pulldown_one(sh, s, off, len, false, false);
			}
		}
	}
	check_no_leaks();
}

/* With every external area held by someone else, none may be written. */
static void test_pulldown_shared(void)
{
	for (int s = 0; s < NSHAPES; s++) {
		const struct shape *sh = &shapes[s];
		int total;

		m_freem(build(sh, 0, &total));
		for (int off = 0; off < total; off++) {
			if (!pd_offset_wanted(sh, off))
				continue;
			for (int l = 1; l < NPDLENS; l += 2) {
				if (off + pd_lens[l] > total)
					break;
				pulldown_one(sh, s, off, pd_lens[l], true, true);
				pulldown_one(sh, s, off, pd_lens[l], false, true);
			}
		}
	}
	check_no_leaks();
}

/* The fast case returns the mbuf itself; the cut case keeps the rest of a big area shared. */
static void test_pulldown_cases(void)
{
	int total, offp = -1;
	struct mbuf *m = build(&shapes[6], 0, &total); /* extmalloc: 14 | 3000 in a 4096 area | 7 */
	struct mbuf *ext = m->m_next;
	struct mbuf *r = m_pulldown(m, 20, 100, &offp);

	CHECK(r == ext && offp == 6);
	m_freem(m);

	/* No offp, region inside a big area: a copy of the region, the rest shared. */
	m = build(&shapes[6], 0, &total);
	ext = m->m_next;
	r = m_pulldown(m, 20, 100, NULL);
	CHECK(r != NULL && r != ext);
	if (r) {
		CHECK_EQ(ext->m_len, 6);
		CHECK(ext->m_next == r);
		CHECK_EQ(r->m_len, 100);
		CHECK(r->m_next && (r->m_next->m_flags & M_EXT));
		CHECK(r->m_next->m_ext.ext_storage == ext->m_ext.ext_storage);
		CHECK_EQ(r->m_next->m_len, 3000 - 106);
		CHECK(chain_is(m, 0, 0, total));
	}
	m_freem(m);

	/* Across a boundary into a writable mbuf with room: in place. */
	m = build(&shapes[0], 0, &total); /* 40 at 8 of MHLEN, then cluster */
	r = m_pulldown(m, 10, 100, &offp);
	CHECK(r == m && offp == 10 && m->m_len >= 110);
	CHECK(chain_is(m, 0, 0, total));
	m_freem(m);
	check_no_leaks();
}

static void test_pulldown_failure(void)
{
	int tested = 0;

	for (int s = 0; s < NSHAPES; s++) {
		const struct shape *sh = &shapes[s];
		int total;

		m_freem(build(sh, 0, &total));
		for (int off = 0; off < total; off += 29) {
			for (int l = 1; l < NPDLENS; l++) {
				for (int sharedp = 0; sharedp < 2; sharedp++) {
					int len = pd_lens[l], where;
					int *offp = (off & 1) ? NULL : &where;
					struct mbuf *m, *r;
					struct holder hs[8];
					int nh;
					unsigned long allocs;

					if (off + len > total)
						continue;
					m = build(sh, s, &total);
					nh = sharedp ? hold_all(hs, 8, m) : 0;
					COUNT_ALLOCS(allocs, r = m_pulldown(m, off, len, offp));
					CHECK(r != NULL);
					m_freem(m);
					for (int i = 0; i < nh; i++)
						unhold(&hs[i]);
					for (unsigned long j = 1; j <= allocs; j++) {
						m = build(sh, s, &total);
						nh = sharedp ? hold_all(hs, 8, m) : 0;
						WITH_FAULT(j, r = m_pulldown(m, off, len, offp));
						CHECK(r == NULL); /* and the chain is gone: */
						for (int i = 0; i < nh; i++)
							unhold(&hs[i]);
						check_no_leaks();
						tested++;
					}
				}
			}
		}
	}
	CHECK(tested > 100);
	check_no_leaks();
}

/* ------------------------------------------------------------ M_PREPEND, m_prepend */

static void test_prepend_in_place(void)
{
	struct mbuf *m = m_gethdr(M_WAIT, MT_DATA);

	m->m_data += 100;
	m->m_len = 50;
	m->m_pkthdr.len = 50;
	fill_bytes(m, 14);
	struct mbuf *old = m;
	char *olddata = m->m_data;

	M_PREPEND(m, 14, M_DONTWAIT);
	CHECK(m == old);
	CHECK(m->m_data == olddata - 14);
	CHECK_EQ(m->m_len, 64);
	CHECK_EQ(m->m_pkthdr.len, 64);
	for (int i = 0; i < 14; i++)
		m->m_data[i] = (char)pat(i);
	CHECK(chain_is(m, 0, 0, 64));

	/* The benchmark's round trip: prepend 14, trim them again. */
	for (int i = 0; i < 1000; i++) {
		M_PREPEND(m, 14, M_DONTWAIT);
		m_adj(m, 14);
	}
	CHECK(m == old && m->m_data == olddata - 14 && m->m_pkthdr.len == 64);
	m_freem(m);
	check_no_leaks();
}

static void test_prepend_new_mbuf(void)
{
	/* A packet header mbuf full from its first byte. */
	struct mbuf *m = m_gethdr(M_WAIT, MT_DATA);
	struct m_tag *tag = m_tag_get(3, 8, M_WAIT);

	m_tag_prepend(m, tag);
	m->m_len = MHLEN;
	m->m_pkthdr.len = MHLEN;
	m->m_pkthdr.rcvif = fake_ifp;
	m->m_flags |= M_BCAST;
	fill_bytes(m, 20);
	struct mbuf *old = m;

	M_PREPEND(m, 20, M_DONTWAIT);
	CHECK(m != old && m->m_next == old);
	CHECK(m->m_flags & M_PKTHDR);
	CHECK(m->m_flags & M_BCAST);
	CHECK(!(old->m_flags & M_PKTHDR));
	CHECK_EQ(m->m_len, 20);
	CHECK_EQ(m->m_pkthdr.len, MHLEN + 20);
	CHECK(m->m_pkthdr.rcvif == fake_ifp);
	CHECK(m_tag_find(m, 3) == tag);
	/* Placed at the end of the area (long-aligned), leaving room in front. */
	char *end = m->m_pktdat + MHLEN;

	CHECK(m->m_data + 20 <= end && end - (m->m_data + 20) < (long)sizeof(long));
	CHECK(((uintptr_t)m->m_data & (sizeof(long) - 1)) == 0);
	for (int i = 0; i < 20; i++)
		m->m_data[i] = (char)pat(i);
	CHECK(chain_is(m, 0, 0, MHLEN + 20));

	/* As much as a whole MHLEN. */
	M_PREPEND(m, MHLEN, M_WAIT);
	CHECK_EQ(m->m_len, MHLEN);
	CHECK(m->m_data == m->m_pktdat);
	CHECK_EQ(m->m_pkthdr.len, 2 * MHLEN + 20);
	m_freem(m);

	/* Without a packet header: an MLEN mbuf, no header anywhere. */
	m = m_get(M_WAIT, MT_DATA);
	m->m_len = MLEN;
	old = m;
	M_PREPEND(m, MLEN, M_DONTWAIT);
	CHECK(m != old && m->m_next == old && !(m->m_flags & M_PKTHDR));
	CHECK_EQ(m->m_len, MLEN);
	CHECK(m->m_data == m->m_dat);
	m_freem(m);
	check_no_leaks();
}

/* Leading space in shared or read-only storage is no space: a new mbuf, no write. */
static void test_prepend_shared(void)
{
	for (int ro = 0; ro < 2; ro++) {
		struct mbuf *m = m_gethdr(M_WAIT, MT_DATA);

		MCLGET(m, M_WAIT);
		m->m_data += 500;
		m->m_len = 100;
		m->m_pkthdr.len = 100;
		memset(m->m_ext.ext_buf, 0x77, PKTMEM_CLUSTER_SIZE); /* every byte compared below is written */
		fill_bytes(m, 14);
		memset(m->m_ext.ext_buf, 0x77, 500);

		struct holder h = {0};
		unsigned char copy[PKTMEM_CLUSTER_SIZE];

		if (ro)
			pktmem_ext_set_readonly(m->m_ext.ext_storage);
		else
			hold(&h, m);
		memcpy(copy, m->m_ext.ext_buf, sizeof(copy));
		CHECK_EQ(M_LEADINGSPACE(m), 0);

		struct mbuf *old = m;
		struct pktmem_ext *e = m->m_ext.ext_storage;

		M_PREPEND(m, 14, M_DONTWAIT);
		CHECK(m != old && m->m_next == old);
		CHECK_EQ(m->m_pkthdr.len, 114);
		for (int i = 0; i < 14; i++)
			m->m_data[i] = (char)pat(i);
		CHECK(chain_is(m, 0, 0, 114));
		CHECK(memcmp(copy, e->ext_buf, sizeof(copy)) == 0);
		m_freem(m);
		if (!ro)
			unhold(&h);
		check_no_leaks();
	}
}

static void test_prepend_failure(void)
{
	/* M_PREPEND with M_DONTWAIT: the chain is freed and m becomes NULL. */
	int total;
	struct mbuf *m = build(&shapes[7], 0, &total); /* full_internal: no leading space */
	unsigned long allocs;
	struct mbuf *probe = build(&shapes[7], 0, &total);

	COUNT_ALLOCS(allocs, M_PREPEND(probe, 14, M_DONTWAIT));
	CHECK_EQ(allocs, 1);
	m_freem(probe);
	WITH_FAULT(1, M_PREPEND(m, 14, M_DONTWAIT));
	CHECK(m == NULL);
	check_no_leaks();

	/* m_prepend directly: the same. */
	m = build(&shapes[0], 0, &total);
	struct mbuf *r;

	WITH_FAULT(1, r = m_prepend(m, 10, M_DONTWAIT));
	CHECK(r == NULL);
	check_no_leaks();
}

/* m_prepend leaves m_pkthdr.len alone (M_PREPEND is the one that adds). */
static void test_m_prepend_direct(void)
{
	int total;
	struct mbuf *m = build(&shapes[0], 0, &total);
	struct mbuf *r = m_prepend(m, 30, M_DONTWAIT);

	CHECK(r && r->m_next == m);
	CHECK_EQ(r->m_len, 30);
	CHECK_EQ(r->m_pkthdr.len, total);
	CHECK(!(m->m_flags & M_PKTHDR));
	CHECK(r->m_type == m->m_type);
	m_freem(r);

	m = build(&shapes[0], 0, &total);
	r = m_prepend(m, 0, M_WAIT);
	CHECK(r && r->m_len == 0 && r->m_pkthdr.len == total);
	m_freem(r);

	m = build(&shapes[1], 0, &total); /* no header */
	r = m_prepend(m, MLEN, M_WAIT);
	CHECK(r && r->m_len == MLEN && !(r->m_flags & M_PKTHDR));
	m_freem(r);
	check_no_leaks();
}

/* ------------------------------------------------------------ m_cat */

static void test_cat(void)
{
	/* Small mbufs are copied into writable trailing room and freed; a cluster is linked. */
	struct mbuf *m = m_gethdr(M_WAIT, MT_DATA);

	m->m_data += 8;
	m->m_len = 40;
	m->m_pkthdr.len = 40;
	fill_bytes(m, 0);
	struct mbuf *n = small(40, 20, 0);

	n->m_next = small(60, 30, 100);
	struct mbuf *cl = m_get(M_WAIT, MT_DATA);

	MCLGET(cl, M_WAIT);
	cl->m_len = 1000;
	fill_bytes(cl, 90);
	n->m_next->m_next = cl;
	m_cat(m, n);
	CHECK_EQ(m->m_len, 90);
	CHECK(m->m_next == cl);
	CHECK_EQ(m->m_pkthdr.len, 40); /* not updated */
	CHECK(chain_is(m, 0, 0, 1090));
	CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), 2);

	/* Onto a writable cluster with room: copied too (NetBSD), n freed. */
	n = small(1090, 100, 0);
	m_cat(m, n);
	CHECK_EQ(cl->m_len, 1100);
	CHECK(cl->m_next == NULL);
	CHECK(chain_is(m, 0, 0, 1190));
	CHECK_EQ(m->m_pkthdr.len, 40);

	/* Onto shared storage: linked, never written even though it fits. */
	struct holder h;

	hold(&h, cl);
	n = small(1190, 10, 0);
	m_cat(m, n);
	CHECK(cl->m_next == n);
	CHECK_EQ(cl->m_len, 1100);
	CHECK(holder_intact(&h));
	CHECK(chain_is(m, 0, 0, 1200));

	/* Too big for the room: linked. And NULL appends nothing. */
	struct mbuf *big = small(1200, MLEN, 0);

	m_cat(m, big);
	CHECK(n->m_next == big);
	m_cat(m, NULL);
	CHECK(chain_is(m, 0, 0, 1200 + MLEN));
	CHECK_EQ(m->m_pkthdr.len, 40);
	m_freem(m);
	unhold(&h);

	/* Onto read-only storage: linked. */
	m = m_get(M_WAIT, MT_DATA);
	MCLGET(m, M_WAIT);
	m->m_len = 10;
	fill_bytes(m, 0);
	pktmem_ext_set_readonly(m->m_ext.ext_storage);
	n = small(10, 5, 0);
	m_cat(m, n);
	CHECK(m->m_next == n && m->m_len == 10);
	CHECK(chain_is(m, 0, 0, 15));
	m_freem(m);
	check_no_leaks();
}

/* ------------------------------------------------------------ diagnostics */

/* EXPECT_DIAG of check.h with the statement first. */
#define EXPECT_DIAG_IN(stmt, fname)                                    \
	do {                                                        \
		unsigned long seen_ = diag_seen;                    \
		stmt;                                               \
		CHECK_EQ(diag_seen, seen_ + 1);                     \
		CHECK(strcmp(diag_last_func, (fname)) == 0);        \
	} while (0)

static void test_diagnosed_misuse(void)
{
	int total, offp = 12345;
	struct mbuf *m = build(&shapes[0], 0, &total);
	struct mbuf *plain = build(&shapes[1], 0, &total);
	static struct snap before, before_plain;
	struct mbuf *r = (struct mbuf *)1;

	diag_capture();
	snap_take(&before, m);
	snap_take(&before_plain, plain);

	EXPECT_DIAG_IN(r = m_pullup(m, -1), "m_pullup");
	CHECK(r == NULL);
	EXPECT_DIAG_IN(r = m_pullup(m, MHLEN + 1), "m_pullup");
	CHECK(r == NULL);
	EXPECT_DIAG_IN(r = m_pullup(NULL, 4), "m_pullup");

	EXPECT_DIAG_IN(r = m_pulldown(m, -1, 4, &offp), "m_pulldown");
	CHECK(r == NULL);
	EXPECT_DIAG_IN(r = m_pulldown(m, 0, MCLBYTES + 1, &offp), "m_pulldown");
	EXPECT_DIAG_IN(r = m_pulldown(m, 0, -1, NULL), "m_pulldown");
	EXPECT_DIAG_IN(r = m_pulldown(NULL, 0, 4, NULL), "m_pulldown");
	CHECK_EQ(offp, 12345);

	EXPECT_DIAG_IN(m_adj(NULL, 3), "m_adj");

	EXPECT_DIAG_IN(r = m_prepend(m, -1, M_DONTWAIT), "m_prepend");
	CHECK(r == NULL);
	EXPECT_DIAG_IN(r = m_prepend(m, MHLEN + 1, M_DONTWAIT), "m_prepend");
	EXPECT_DIAG_IN(r = m_prepend(plain, MLEN + 1, M_DONTWAIT), "m_prepend");
	EXPECT_DIAG_IN(r = m_prepend(NULL, 4, M_DONTWAIT), "m_prepend");
	EXPECT_DIAG_IN(r = m_prepend(m, 4, 7), "m_prepend");

	EXPECT_DIAG_IN(m_cat(NULL, plain), "m_cat");
	EXPECT_DIAG_IN(m_cat(m, m), "m_cat");
	EXPECT_DIAG_IN(m_cat(m, m->m_next->m_next), "m_cat");

	EXPECT_DIAG_IN(r = m_split(m, -1, M_DONTWAIT), "m_split");
	CHECK(r == NULL);
	EXPECT_DIAG_IN(r = m_split(NULL, 0, M_DONTWAIT), "m_split");
	EXPECT_DIAG_IN(r = m_split(m, 1, 42), "m_split");

	/* Nothing was touched. */
	CHECK(snap_same(&before, m));
	CHECK(snap_same(&before_plain, plain));
	pktmem_set_diag_handler(NULL, NULL);
	m_freem(m);
	m_freem(plain);
	check_no_leaks();
}

/* ------------------------------------------------------------ differential */

static uint64_t rng_state;

static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return n ? (unsigned)(rng_state % n) : 0;
}

/*
 * Random M_PREPEND (writing the new bytes), m_adj, m_pullup, m_pulldown
 * (writing the region), m_split + m_cat, with other holders of random
 * external areas: after each step the chain equals a plain byte array and
 * m_pkthdr.len its length, and no held area has changed.
 */
static void test_differential(void)
{
	static unsigned char model[MAXBYTES], got[MAXBYTES];

	for (uint64_t seed = 1; seed <= 6; seed++) {
		int total;
		struct mbuf *m = build(&shapes[seed % 2 ? 0 : 2], 0, &total);
		int mlen = total;
		struct holder hs[4] = {{0}};

		rng_state = seed * 0x9E3779B97F4A7C15ULL;
		for (int i = 0; i < mlen; i++)
			model[i] = pat(i);
		for (int step = 0; step < 3000; step++) {
			unsigned op = rnd(7);

			if (op == 0 && mlen + MHLEN < MAXBYTES) {
				int p = (int)rnd(MHLEN + 1);

				M_PREPEND(m, p, M_WAIT);
				memmove(model + p, model, (size_t)mlen);
				for (int i = 0; i < p; i++)
					model[i] = m->m_data[i] = (char)rnd(256);
				mlen += p;
			} else if (op == 1) {
				int k = (int)rnd((unsigned)mlen + 10) - 5;

				m_adj(m, k);
				if (k >= 0) {
					int cut = imin(k, mlen);

					memmove(model, model + cut, (size_t)(mlen - cut));
					mlen -= cut;
				} else {
					mlen -= imin(-k, mlen);
				}
			} else if (op == 2 && mlen > 0) {
				int len = (int)rnd((unsigned)imin(MHLEN, mlen)) + 1;

				m = m_pullup(m, len);
				CHECK(m != NULL);
				if (!m)
					break;
				CHECK(m->m_len >= len);
			} else if (op == 3 && mlen > 0) {
				int off = (int)rnd((unsigned)mlen);
				int len = (int)rnd((unsigned)imin(MCLBYTES, mlen - off)) + 1;
				int o = 0;
				bool use_offp = rnd(2);
				struct mbuf *r = m_pulldown(m, off, len, use_offp ? &o : NULL);

				CHECK(r != NULL);
				if (!r) {
					m = NULL;
					break;
				}
				CHECK(m_writable(r) && o + len <= r->m_len);
				for (int i = 0; i < len; i++)
					model[off + i] = r->m_data[o + i] = (char)rnd(256);
			} else if (op == 4) {
				int k = (int)rnd((unsigned)mlen + 1);
				struct mbuf *t = m_split(m, k, M_WAIT);

				CHECK_EQ(m->m_pkthdr.len, k);
				CHECK(t != NULL);
				if (t) {
					CHECK_EQ(t->m_pkthdr.len, mlen - k);
					m_cat(m, t);
				}
				m->m_pkthdr.len = mlen;
			} else if (op == 5) {
				/* Someone else takes (or lets go of) a reference to an area. */
				int slot = (int)rnd(4);

				if (hs[slot].e) {
					unhold(&hs[slot]);
				} else {
					int pick = (int)rnd((unsigned)chain_count(m));
					struct mbuf *x = m;

					while (pick-- > 0)
						x = x->m_next;
					if (x->m_flags & M_EXT)
						hold(&hs[slot], x);
				}
			}
			CHECK_EQ(chain_read(m, got, MAXBYTES), mlen);
			CHECK_EQ(m->m_pkthdr.len, mlen);
			CHECK(memcmp(got, model, (size_t)mlen) == 0);
			for (int h = 0; h < 4; h++)
				if (hs[h].e)
					CHECK(holder_intact(&hs[h]));
			if (check_failed_now) {
				fprintf(stderr, "differential: seed %llu step %d op %u\n", (unsigned long long)seed,
					step, op);
				break;
			}
		}
		m_freem(m);
		for (int h = 0; h < 4; h++)
			if (hs[h].e)
				unhold(&hs[h]);
		check_no_leaks();
	}
}

int main(void)
{
	TEST(test_adj_every_amount);
	TEST(test_adj_shared);
	TEST(test_split_every_offset);
	TEST(test_split_repeatedly);
	TEST(test_split_failure_restores);
	TEST(test_pullup_many);
	TEST(test_pullup_in_place);
	TEST(test_pullup_shared_first);
	TEST(test_pullup_short);
	TEST(test_pullup_failure);
	TEST(test_pulldown_many);
	TEST(test_pulldown_shared);
	TEST(test_pulldown_cases);
	TEST(test_pulldown_failure);
	TEST(test_prepend_in_place);
	TEST(test_prepend_new_mbuf);
	TEST(test_prepend_shared);
	TEST(test_prepend_failure);
	TEST(test_m_prepend_direct);
	TEST(test_cat);
	TEST(test_diagnosed_misuse);
	TEST(test_differential);
	return test_summary();
}
