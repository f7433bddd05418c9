/*
 * <pktmem/mbuf.h>, differential: random sequences of chain operations on an
 * mbuf packet and, beside it, on a plain byte array that models the same
 * packet. After every step the two must agree: the bytes (walked directly
 * and through m_copydata), m_pkthdr.len == the model's length == the sum of
 * m_len, and the chain's invariants (each mbuf's data inside its buffer,
 * m_len >= 0, a packet header on the head only).
 *
 * Copies made with m_copym, m_copypacket and m_dup stay alive for a few
 * steps, each with a model of its own, so that a later write to the packet
 * that reached a copy's shared storage (or the other way round) shows up.
 * Every step also counts what the live chains hold (mbufs, distinct
 * clusters, MEXTADD buffers, and the references on each shared area) and
 * compares it with the caches' statistics: a leak, an extra reference or
 * a double free is caught at the step that made it. A third of the packets
 * carry a packet tag, which must stay with the packet header wherever an
 * operation moves it (m_prepend, m_pullup, copy-on-write) and be copied
 * with it (m_copym at offset 0).
 *
 * Some steps run with the fault injector armed (PKTMEM_FAULT_RANDOM) for the
 * one library call of the step; that call's failure contract must hold and
 * the model follows it (a freed chain starts a new packet, a failed m_split
 * or m_makewritable leaves the bytes as they were, ...). A failure is only
 * accepted when the injector actually failed an allocation during the call.
 *
 *   test_mbuf_diff                        the fixed seeds
 *   test_mbuf_diff --seed S [--steps N]   one seed (reproduce a failure)
 *   test_mbuf_diff --seeds A-B [--steps N] [--no-faults] [-v]
 *
 * A failure prints the seed, the step, the last operations and the command
 * that replays it. (A replay in a fresh process can differ slightly under
 * fault injection, because the caches' growth, which also passes allocation
 * points, depends on what ran before; --seeds 1-S replays exactly.)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pktmem/ext.h>
#include <pktmem/mbuf.h>
#include <pktmem/pktmem.h>

#include "check.h"

#define MAX_LEN    12288 /* the model's capacity */
#define GROW_LIMIT 9000  /* above this, operations that would grow shrink instead */
#define NR_COPIES  4     /* second holders alive at once */
#define LOG_LINES  24    /* operations remembered for a failure report */
#define TAG_TYPE   0x4d44 /* the packet tag some packets carry */
#define TAG_LEN    8

/* ------------------------------------------------------------ PRNG */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state; /* xorshift64 */

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

/* Uniform in [0, n); 0 for n <= 0. */
static int rn(int n)
{
	return n > 0 ? (int)(rnd() % (uint64_t)n) : 0;
}

static bool one_in(int n)
{
	return rn(n) == 0;
}

static int imin(int a, int b)
{
	return a < b ? a : b;
}

static void fill_random(unsigned char *p, int n)
{
	while (n >= 8) {
		uint64_t v = rnd();

		memcpy(p, &v, 8);
		p += 8;
		n -= 8;
	}
	while (n-- > 0)
		*p++ = (unsigned char)rnd();
}

static int random_how(void)
{
	return one_in(2) ? M_WAIT : M_DONTWAIT;
}

static const char *how_name(int how)
{
	return how == M_WAIT ? "M_WAIT" : "M_DONTWAIT";
}

/* ------------------------------------------------------------ run state */

/* A chain and the bytes it must hold. */
struct holder {
	struct mbuf *m;
	int len;
	bool hdr;        /* its head carries the packet header */
	int ttl;         /* copies: steps left to live */
	const char *made_by;
	bool tagged;     /* carries a TAG_TYPE tag holding tag[] */
	unsigned char tag[TAG_LEN];
	unsigned char model[MAX_LEN];
};

static struct holder pkt;
static struct holder copies[NR_COPIES];

static struct {
	uint64_t seed;
	long step;
	long steps;
	int fault_one_in;     /* a step runs with faults armed with chance 1/this; 0: never */
	bool verbose;
	bool failed;          /* this seed failed: stop it */
	/* the current step's injector settings */
	bool faulty;
	unsigned long fault_ppm, fault_seed;
	unsigned long injected_before;
	int failures_printed;
} run;

static char oplog[LOG_LINES][224];
static long oplog_total;

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	char *line = oplog[oplog_total++ % LOG_LINES];
	int k = snprintf(line, sizeof(oplog[0]), "step %ld%s: ", run.step,
			 run.faulty ? " [faults]" : "");
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line + k, sizeof(oplog[0]) - (size_t)k, fmt, ap);
	va_end(ap);
	if (run.verbose)
		printf("  %s\n", line);
}

static void failf(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void failf(int line, const char *fmt, ...)
{
	va_list ap;

	if (run.failed)
		return;
	run.failed = true;
	check_failed_now = 1;
	if (run.failures_printed++ >= 3)
		return;
	fprintf(stderr, "%s:%d: seed %" PRIu64 " step %ld: ", __FILE__, line, run.seed, run.step);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n  last operations:\n");
	for (long i = oplog_total > LOG_LINES ? oplog_total - LOG_LINES : 0; i < oplog_total; i++)
		fprintf(stderr, "    %s\n", oplog[i % LOG_LINES]);
	fprintf(stderr, "  replay: test_mbuf_diff --seed %" PRIu64 " --steps %ld%s -v\n", run.seed,
		run.step + 1, run.fault_one_in ? "" : " --no-faults");
}

#define FAIL(...) failf(__LINE__, __VA_ARGS__)
#define EXPECT(cond, ...)                    \
	do {                                 \
		if (!(cond))                 \
			FAIL(__VA_ARGS__);   \
	} while (0)

/*
 * Coverage: how often each operation ran, and each failure contract was
 * seen to run (printed at the end, so a quiet run is visibly not an idle one).
 */
static struct {
	const char *name;
	long n;
} seen[48];

static void count(const char *name)
{
	int i;

	for (i = 0; i < (int)(sizeof(seen) / sizeof(seen[0])) - 1 && seen[i].name; i++)
		if (!strcmp(seen[i].name, name))
			break;
	seen[i].name = name;
	seen[i].n++;
}

/* Arm the injector around one library call (when this step is a fault step). */
static void arm(void)
{
	run.injected_before = pktmem_fault_injected();
	if (run.faulty)
		pktmem_fault_set(PKTMEM_FAULT_RANDOM, run.fault_ppm, run.fault_seed++);
}

/* Disarm; true if an allocation was made to fail since arm(). */
static bool disarm(void)
{
	if (run.faulty)
		pktmem_fault_off();
	return pktmem_fault_injected() != run.injected_before;
}

/* ------------------------------------------------------------ MEXTADD buffers */

/* One record per MEXTADD buffer, kept to the end to check its free count. */
struct ext_rec {
	void *buf;
	size_t size;
	int calls;       /* free routine calls */
	bool attached;   /* MEXTADD succeeded: the routine must run exactly once */
};

static struct ext_rec *ext_recs;
static size_t ext_nrecs, ext_cap;
static long ext_attached, ext_released;

static void ext_free_routine(struct mbuf *m, void *buf, size_t size, void *arg)
{
	size_t i = (size_t)(uintptr_t)arg;

	(void)m;
	if (i >= ext_nrecs) {
		FAIL("MEXTADD free routine: unknown argument %zu", i);
		return;
	}
	struct ext_rec *r = &ext_recs[i];

	r->calls++;
	EXPECT(r->attached, "MEXTADD free routine called for buffer #%zu that was never attached", i);
	EXPECT(r->calls == 1, "MEXTADD free routine called %d times for buffer #%zu", r->calls, i);
	EXPECT(buf == r->buf && size == r->size,
	       "MEXTADD free routine for #%zu: buffer %p size %zu, attached %p size %zu", i, buf, size,
	       r->buf, r->size);
	if (r->calls == 1 && buf == r->buf) {
		ext_released++;
		free(buf);
	}
}

/* Attach a new malloc'd buffer to @m with MEXTADD; false (and nothing attached) on failure. */
static bool attach_extadd(struct mbuf *m)
{
	size_t size = 16 + (size_t)rn(4096);
	void *buf = malloc(size);

	if (!buf)
		abort();
	if (ext_nrecs == ext_cap) {
		ext_cap = ext_cap ? 2 * ext_cap : 1024;
		ext_recs = realloc(ext_recs, ext_cap * sizeof(*ext_recs));
		if (!ext_recs)
			abort();
	}
	size_t i = ext_nrecs++;

	ext_recs[i] = (struct ext_rec){ .buf = buf, .size = size };
	MEXTADD(m, buf, (int)size, rn(3), ext_free_routine, (void *)(uintptr_t)i);
	if (!(m->m_flags & M_EXT)) {
		/* The contract: the buffer stays ours, the routine never runs. */
		free(buf);
		return false;
	}
	ext_recs[i].attached = true;
	ext_attached++;
	EXPECT(m->m_ext.ext_buf == buf && m->m_ext.ext_size == size, "MEXTADD: m_ext describes %p/%zu, not %p/%zu",
	       (void *)m->m_ext.ext_buf, m->m_ext.ext_size, buf, size);
	return true;
}

/* ------------------------------------------------------------ chain checks */

/* Structural invariants; the total of m_len in *lenp. @hdr: the head must have M_PKTHDR. */
static bool chain_ok(const char *who, struct mbuf *m0, bool hdr, int *lenp)
{
	int sum = 0, i = 0;

	if (!m0) {
		FAIL("%s: the chain is NULL", who);
		return false;
	}
	if (hdr && !(m0->m_flags & M_PKTHDR)) {
		FAIL("%s: the head has no M_PKTHDR (flags %#x)", who, (unsigned)m0->m_flags);
		return false;
	}
	for (struct mbuf *m = m0; m; m = m->m_next, i++) {
		uintptr_t start = (uintptr_t)m_buf_start(m), end = (uintptr_t)m_buf_end(m);
		uintptr_t data = (uintptr_t)m->m_data;

		if (i > 100000) {
			FAIL("%s: more than 100000 mbufs (a loop?)", who);
			return false;
		}
		if (m->m_len < 0) {
			FAIL("%s: mbuf #%d has m_len %d", who, i, m->m_len);
			return false;
		}
		if (data < start || data > end || (uintptr_t)m->m_len > end - data) {
			FAIL("%s: mbuf #%d: data at %+" PRIdPTR " len %d outside its buffer of %" PRIuPTR
			     " bytes (flags %#x)", who, i, (intptr_t)(data - start), m->m_len, end - start,
			     (unsigned)m->m_flags);
			return false;
		}
		if (m != m0 && (m->m_flags & M_PKTHDR)) {
			FAIL("%s: mbuf #%d (not the head) has M_PKTHDR", who, i);
			return false;
		}
		if (m->m_type == MT_FREE) {
			FAIL("%s: mbuf #%d has type MT_FREE", who, i);
			return false;
		}
		if (m->m_flags & M_EXT) {
			const struct pktmem_ext *e = m->m_ext.ext_storage;

			if (!e || e->ext_buf != m->m_ext.ext_buf || e->ext_size != m->m_ext.ext_size ||
			    pktmem_ext_refs(e) < 1) {
				FAIL("%s: mbuf #%d: external storage %p does not match m_ext (%p, %zu)", who, i,
				     (const void *)e, (void *)m->m_ext.ext_buf, m->m_ext.ext_size);
				return false;
			}
		} else if (m->m_flags & M_CLUSTER) {
			FAIL("%s: mbuf #%d has M_CLUSTER without M_EXT", who, i);
			return false;
		}
		sum += m->m_len;
	}
	if ((m0->m_flags & M_PKTHDR) && m0->m_pkthdr.len != sum) {
		FAIL("%s: m_pkthdr.len %d but the mbufs hold %d bytes", who, m0->m_pkthdr.len, sum);
		return false;
	}
	*lenp = sum;
	return true;
}

/* The chain's bytes, walked directly (independent of m_copydata). */
static void chain_bytes(const struct mbuf *m, unsigned char *out)
{
	for (; m; m = m->m_next) {
		memcpy(out, m->m_data, (size_t)m->m_len);
		out += m->m_len;
	}
}

static int first_difference(const unsigned char *a, const unsigned char *b, int n)
{
	for (int i = 0; i < n; i++)
		if (a[i] != b[i])
			return i;
	return -1;
}

/* The chain against its model: invariants, length, bytes, m_copydata. */
static void compare(const char *who, struct holder *h)
{
	static unsigned char buf[MAX_LEN + 16];
	int len, d;

	if (!chain_ok(who, h->m, h->hdr, &len))
		return;
	if (len != h->len) {
		FAIL("%s: chain holds %d bytes, model %d", who, len, h->len);
		return;
	}
	if (h->hdr) {
		/* The packet tag goes wherever the packet header goes. */
		const struct m_tag *t = m_tag_find(h->m, TAG_TYPE);

		if (h->tagged && (!t || t->m_tag_len != TAG_LEN || memcmp(t + 1, h->tag, TAG_LEN))) {
			FAIL("%s: the packet tag is %s", who, t ? "damaged" : "gone");
			return;
		}
		if (!h->tagged && t) {
			FAIL("%s: a packet tag appeared", who);
			return;
		}
	}
	chain_bytes(h->m, buf);
	if ((d = first_difference(buf, h->model, len)) >= 0) {
		FAIL("%s: byte %d of %d is %#x, model %#x", who, d, len, buf[d], h->model[d]);
		return;
	}
	memset(buf, 0xA5, (size_t)len + 16);
	m_copydata(h->m, 0, len, buf);
	if ((d = first_difference(buf, h->model, len)) >= 0 || buf[len] != 0xA5) {
		FAIL("m_copydata(0, %d) of %s: byte %d differs", len, who, d);
		return;
	}
	if (len > 0) {
		int off = rn(len), n = 1 + rn(len - off);

		memset(buf, 0xA5, (size_t)n + 16);
		m_copydata(h->m, off, n, buf);
		if ((d = first_difference(buf, h->model + off, n)) >= 0 || buf[n] != 0xA5)
			FAIL("m_copydata(%d, %d) of %s (%d bytes): byte %d differs", off, n, who, len, d);
	}
}

/* Is every byte of [off, off+n) in writable storage? */
static bool range_writable(const struct mbuf *m, int off, int n)
{
	int pos = 0;

	for (; m && pos < off + n; pos += m->m_len, m = m->m_next)
		if (m->m_len > 0 && pos + m->m_len > off && !m_writable(m))
			return false;
	return true;
}

/* Write @n bytes at @off straight into the mbufs' data (the caller checked writability). */
static int write_through(struct mbuf *m, int off, const unsigned char *src, int n)
{
	int pos = 0, done = 0;

	for (; m && done < n; pos += m->m_len, m = m->m_next) {
		if (pos + m->m_len <= off + done)
			continue;
		int at = off + done - pos, k = imin(m->m_len - at, n - done);

		memcpy(m->m_data + at, src + done, (size_t)k);
		done += k;
	}
	return done;
}

/* ------------------------------------------------------------ accounting */

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;

	return (x > y) - (x < y);
}

/*
 * What the live chains hold must be what the caches say is in use, and
 * every shared area must have exactly as many references as mbufs point at it.
 */
static void check_accounting(void)
{
	static struct pktmem_ext **exts;
	static size_t cap;
	size_t n = 0;
	unsigned long long mbufs = 0, clusters = 0;
	long users = 0;
	struct holder *hs[NR_COPIES + 1];
	int nh = 0;

	if (pkt.m)
		hs[nh++] = &pkt;
	for (int i = 0; i < NR_COPIES; i++)
		if (copies[i].m)
			hs[nh++] = &copies[i];
	for (int h = 0; h < nh; h++)
		for (struct mbuf *m = hs[h]->m; m; m = m->m_next) {
			mbufs++;
			if (!(m->m_flags & M_EXT))
				continue;
			if (n == cap) {
				cap = cap ? 2 * cap : 1024;
				exts = realloc(exts, cap * sizeof(*exts));
				if (!exts)
					abort();
			}
			exts[n++] = m->m_ext.ext_storage;
		}
	qsort(exts, n, sizeof(*exts), cmp_ptr);
	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j < n && exts[j] == exts[i])
			j++;
		if (pktmem_ext_refs(exts[i]) != (int)(j - i)) {
			FAIL("storage %p (flags %#x, %zu bytes) has %d references, %zu mbufs point at it",
			     (void *)exts[i], exts[i]->ext_flags, exts[i]->ext_size, pktmem_ext_refs(exts[i]), j - i);
			return;
		}
		if (exts[i]->ext_flags & PKTMEM_EXT_CLUSTER)
			clusters++;
		if (exts[i]->ext_flags & PKTMEM_EXT_USER)
			users++;
		i = j;
	}
	EXPECT(cache_in_use(pktmem_mbuf_cache()) == mbufs, "mbuf cache: %llu in use, the live chains hold %llu",
	       cache_in_use(pktmem_mbuf_cache()), mbufs);
	EXPECT(cache_in_use(pktmem_cluster_cache()) == clusters,
	       "cluster cache: %llu in use, the live chains hold %llu", cache_in_use(pktmem_cluster_cache()),
	       clusters);
	EXPECT(ext_attached - ext_released == users, "MEXTADD buffers: %ld attached - %ld released, %ld live",
	       ext_attached, ext_released, users);
}

/* ------------------------------------------------------------ building a packet */

enum seg_kind { SEG_INTERNAL, SEG_CLUSTER, SEG_EXTADD, SEG_EXTMALLOC, SEG_KINDS };

static size_t devget_copied;

static void counting_copy(const void *from, void *to, size_t len)
{
	memcpy(to, from, len);
	devget_copied += len;
}

static void set_packet(struct mbuf *m, int len)
{
	pkt.m = m;
	pkt.len = len;
	pkt.hdr = true;
	pkt.tagged = false;
	if (one_in(3)) {
		struct m_tag *t = m_tag_get(TAG_TYPE, TAG_LEN, M_WAIT);

		if (!t) {
			FAIL("m_tag_get(M_WAIT) returned NULL");
			return;
		}
		fill_random(pkt.tag, TAG_LEN);
		memcpy(t + 1, pkt.tag, TAG_LEN);
		m_tag_prepend(m, t);
		pkt.tagged = true;
	}
}

static void build_devget(int len)
{
	static unsigned char src[MAX_LEN];
	bool plain = one_in(2);
	bool hit;
	int off0 = 0, plen;

	if (len == 0)
		len = 1;
	/*
	 * Trailer encapsulation, now and then: @off0 bytes of data, a 16-bit
	 * type and length, then the headers; the packet is the headers
	 * followed by the data, 4 bytes shorter than the buffer.
	 */
	if (len > 8 && one_in(4))
		off0 = 1 + rn(len - 8);
	fill_random(src, len);
	note("m_devget(%d bytes, off0 %d, copy %s)", len, off0, plain ? "NULL" : "counting");
	devget_copied = 0;
	arm();
	struct mbuf *m = m_devget((char *)src, len, off0, NULL, plain ? NULL : counting_copy);
	hit = disarm();
	if (!m) {
		count("fail: m_devget NULL");
		EXPECT(hit, "m_devget(%d) returned NULL with no allocation failed", len);
		return; /* no packet: the next step builds one */
	}
	if (off0) {
		plen = len - 4;
		memcpy(pkt.model, src + off0 + 4, (size_t)(len - off0 - 4));
		memcpy(pkt.model + len - off0 - 4, src, (size_t)off0);
		count("m_devget with trailer encapsulation");
	} else {
		plen = len;
		memcpy(pkt.model, src, (size_t)len);
	}
	EXPECT(plain || devget_copied == (size_t)plen, "m_devget: the copy routine moved %zu of %d bytes",
	       devget_copied, plen);
	set_packet(m, plen);
	compare("m_devget", &pkt);
}

/*
 * A chain built by hand, as a driver would: a header mbuf and more, each
 * with internal data, a cluster, MEXTADD or MEXTMALLOC storage, data at a
 * random place in it (empty mbufs too), some storage marked read-only.
 */
static void build_by_hand(int style, int target)
{
	static const char *const names[] = { "internal", "clusters", "MEXTADD", "MEXTMALLOC", "mixed" };
	struct mbuf *head = NULL, **tail = &head;
	int total = 0, segs = 1 + rn(style == SEG_INTERNAL ? 10 : 4), made = 0;
	int how = random_how();

	note("build %s chain: up to %d mbufs, about %d bytes", names[style], segs, target);
	for (int s = 0; s < segs && (s == 0 || total < target); s++) {
		int kind = style == SEG_KINDS ? rn(SEG_KINDS) : style;
		bool hit;

		arm();
		struct mbuf *m = s == 0 ? m_gethdr(how, MT_DATA) : m_get(how, MT_DATA);
		hit = disarm();
		if (!m) {
			count("fail: m_get/m_gethdr NULL while building");
			EXPECT(hit, "%s(%s) returned NULL with no allocation failed", s ? "m_get" : "m_gethdr",
			       how_name(how));
			m_freem(head);
			return;
		}
		*tail = m;
		tail = &m->m_next;
		made++;
		arm();
		switch (kind) {
		case SEG_CLUSTER:
			MCLGET(m, how);
			break;
		case SEG_EXTADD:
			attach_extadd(m);
			break;
		case SEG_EXTMALLOC:
			MEXTMALLOC(m, 1 + rn(3000), how);
			break;
		default:
			break;
		}
		hit = disarm();
		if (kind != SEG_INTERNAL && !(m->m_flags & M_EXT)) {
			/* A failed attach leaves the mbuf as it was: internal data. */
			count("fail: MCLGET/MEXTADD/MEXTMALLOC left M_EXT clear");
			EXPECT(hit, "attaching %s storage failed with no allocation failed", names[kind]);
			EXPECT(m->m_data == m_buf_start(m) && m->m_len == 0,
			       "a failed storage attach changed the mbuf");
		}

		int cap = (int)(m_buf_end(m) - m_buf_start(m));
		int lead = one_in(3) ? rn(cap / 2 + 1) : 0;
		int n = one_in(8) ? 0 : 1 + rn(cap - lead);

		n = imin(n, MAX_LEN - 1 - total);
		if (n > target - total && !one_in(4))
			n = imin(n, target > total ? target - total : 0);
		m->m_data = m_buf_start(m) + lead;
		m->m_len = n;
		fill_random((unsigned char *)m->m_data, n);
		memcpy(pkt.model + total, m->m_data, (size_t)n);
		total += n;
		if ((m->m_flags & M_EXT) && one_in(6))
			pktmem_ext_set_readonly(m->m_ext.ext_storage);
	}
	head->m_pkthdr.len = total;
	set_packet(head, total);
	note("  built %d mbufs, %d bytes", made, total);
	compare("built chain", &pkt);
}

static void build_packet(void)
{
	int target = one_in(8) ? rn(64) : rn(one_in(3) ? 6000 : 1600);
	int style = rn(7);

	if (one_in(20)) {
		struct mbuf *m;

		note("build an empty packet (m_gethdr)");
		m = m_gethdr(M_WAIT, MT_DATA);
		EXPECT(m != NULL, "m_gethdr(M_WAIT) returned NULL");
		if (m)
			set_packet(m, 0);
		return;
	}
	if (style >= 5)
		build_devget(target);
	else
		build_by_hand(style, target);
}

/* A packet became NULL through a failure contract: the chain was freed. */
static void packet_gone(void)
{
	pkt.m = NULL;
	pkt.len = 0;
}

/* ------------------------------------------------------------ operations */

static unsigned char scratch[MAX_LEN + 16];

static void op_adj(void)
{
	int len = pkt.len, n = rn(len + 1);

	if (one_in(2))
		n = -n;
	note("m_adj(%d) of %d bytes", n, len);
	m_adj(pkt.m, n);
	if (n >= 0)
		memmove(pkt.model, pkt.model + n, (size_t)(len - n));
	pkt.len = len - (n >= 0 ? n : -n);
}

/* m_copyback_cow of [off, off+n) inside the packet. */
static void op_cow_at(int off, int n)
{
	int how = random_how();
	bool hit;

	fill_random(scratch, n);
	note("m_copyback_cow(off %d, len %d, %s) of %d bytes", off, n, how_name(how), pkt.len);
	arm();
	struct mbuf *r = m_copyback_cow(pkt.m, off, n, scratch, how);
	hit = disarm();
	if (!r) {
		count("fail: m_copyback_cow freed the packet");
		EXPECT(hit, "m_copyback_cow(%d, %d, %s) returned NULL with no allocation failed", off, n,
		       how_name(how));
		packet_gone(); /* the contract: the chain is freed */
		return;
	}
	pkt.m = r;
	memcpy(pkt.model + off, scratch, (size_t)n);
}

static void op_cow(void)
{
	if (pkt.len == 0) {
		op_adj();
		return;
	}
	int off = rn(pkt.len), n = 1 + rn(pkt.len - off);

	op_cow_at(off, n);
}

/*
 * m_copyback: append at the end, past the end (a zero-filled gap), or over
 * bytes inside (maybe running past the end). Writing into shared or
 * read-only storage is the caller's error, so a range that is not writable
 * goes to m_copyback_cow, or becomes a pure append.
 */
static void op_copyback(void)
{
	static unsigned char expect[MAX_LEN];
	int len = pkt.len, off, n, explen, got;
	bool hit;

	switch (rn(3)) {
	case 0:
		off = len;
		n = 1 + rn(one_in(4) ? 1500 : 100);
		break;
	case 1:
		off = len + 1 + rn(64);
		n = 1 + rn(200);
		break;
	default:
		if (len == 0) {
			op_copyback();
			return;
		}
		off = rn(len);
		n = 1 + rn(one_in(3) ? len - off + 100 : len - off);
		break;
	}
	if (off + n > len && off + n > GROW_LIMIT) {
		op_adj();
		return;
	}
	if (off < len && !range_writable(pkt.m, off, imin(n, len - off))) {
		if (off + n <= len) {
			op_cow_at(off, n);
			return;
		}
		off = len;
	}
	fill_random(scratch, n);
	memcpy(expect, pkt.model, (size_t)len);
	if (off > len)
		memset(expect + len, 0, (size_t)(off - len));
	memcpy(expect + off, scratch, (size_t)n);
	explen = off + n > len ? off + n : len;

	note("m_copyback(off %d, len %d) of %d bytes", off, n, len);
	arm();
	m_copyback(pkt.m, off, n, scratch);
	hit = disarm();
	if (!chain_ok("m_copyback", pkt.m, true, &got))
		return;
	if (got != explen) {
		/* Only a failed extension may fall short, and the length says how far it got. */
		if (!hit || got < len || got > explen) {
			FAIL("m_copyback(off %d, len %d) of %d bytes: length %d, expected %d%s", off, n, len, got,
			     explen, hit ? "" : " (no allocation failed)");
			return;
		}
		chain_bytes(pkt.m, scratch);
		if (first_difference(scratch, expect, got) < 0) {
			memcpy(pkt.model, expect, (size_t)got);
		} else if (got != len || first_difference(scratch, pkt.model, len) >= 0) {
			FAIL("m_copyback(off %d, len %d) failed part way to %d bytes with contents that are "
			     "neither the written prefix nor the old packet", off, n, got);
			return;
		}
		pkt.len = got;
		count("fail: m_copyback extension short");
		note("  extension failed: %d bytes", got);
		return;
	}
	memcpy(pkt.model, expect, (size_t)explen);
	pkt.len = explen;
}

/* m_makewritable of a random range, then a write straight into the mbufs. */
static void op_makewritable(struct holder *h, const char *who)
{
	if (h->len == 0)
		return;
	int off = rn(h->len), n = 1 + rn(h->len - off), how = random_how(), err;
	bool hit;

	if (one_in(10)) {
		off = 0;
		n = h->len;
	}
	note("m_makewritable(%s, off %d, len %d, %s) of %d bytes", who, off, n, how_name(how), h->len);
	arm();
	err = m_makewritable(&h->m, off, n, how);
	hit = disarm();
	if (err) {
		count("fail: m_makewritable ENOBUFS, contents kept");
		EXPECT(hit, "m_makewritable(%d, %d, %s) returned %d with no allocation failed", off, n,
		       how_name(how), err);
		EXPECT(err == ENOBUFS, "m_makewritable failed with %d, not ENOBUFS", err);
		EXPECT(h->m != NULL, "m_makewritable failed and left *mp NULL");
		return; /* the contents must be as they were: compared at the end of the step */
	}
	compare("m_makewritable", h);
	if (run.failed)
		return;
	if (!range_writable(h->m, off, n)) {
		FAIL("m_makewritable(%d, %d) returned 0 but the range is not writable", off, n);
		return;
	}
	fill_random(scratch, n);
	write_through(h->m, off, scratch, n);
	memcpy(h->model + off, scratch, (size_t)n);
}

/* M_PREPEND (or m_prepend itself), then write the new header bytes. */
static void op_prepend(void)
{
	int plen = 1 + rn(one_in(8) ? MHLEN : 40), how = random_how(), oldlen = pkt.len;
	bool direct = one_in(4), hit;

	if (oldlen + plen > GROW_LIMIT) {
		op_adj();
		return;
	}
	note("%s(%d, %s) on %d bytes (leading space %d)", direct ? "m_prepend" : "M_PREPEND", plen,
	     how_name(how), oldlen, M_LEADINGSPACE(pkt.m));
	arm();
	if (direct) {
		pkt.m = m_prepend(pkt.m, plen, how);
	} else {
		M_PREPEND(pkt.m, plen, how);
	}
	hit = disarm();
	if (!pkt.m) {
		count("fail: M_PREPEND/m_prepend freed the packet");
		EXPECT(hit, "%s(%d, %s) failed with no allocation failed", direct ? "m_prepend" : "M_PREPEND",
		       plen, how_name(how));
		packet_gone();
		return;
	}
	if (direct) {
		/* m_prepend leaves m_pkthdr.len alone; M_PREPEND is what adds. */
		EXPECT(!(pkt.m->m_flags & M_PKTHDR) || pkt.m->m_pkthdr.len == oldlen,
		       "m_prepend changed m_pkthdr.len from %d to %d", oldlen, pkt.m->m_pkthdr.len);
		if (pkt.m->m_flags & M_PKTHDR)
			pkt.m->m_pkthdr.len += plen;
	}
	EXPECT(pkt.m->m_flags & M_PKTHDR, "the packet header did not stay on the head");
	EXPECT(pkt.m->m_len >= plen, "%d bytes prepended but the head holds %d", plen, pkt.m->m_len);
	EXPECT(m_writable(pkt.m), "the prepended space is in storage that is not writable");
	if (run.failed)
		return;
	/* The old bytes follow the new space. */
	m_copydata(pkt.m, plen, oldlen, scratch);
	if (first_difference(scratch, pkt.model, oldlen) >= 0) {
		FAIL("after prepending %d bytes the old packet does not follow", plen);
		return;
	}
	memmove(pkt.model + plen, pkt.model, (size_t)oldlen);
	fill_random(pkt.model, plen);
	memcpy(mtod(pkt.m, char *), pkt.model, (size_t)plen);
	pkt.len = oldlen + plen;
}

static void op_pullup(void)
{
	int len = pkt.len, n = 1 + rn(MHLEN);
	bool hit;

	if (one_in(8) && len < MHLEN)
		n = len + 1 + rn(MHLEN - len); /* shorter than asked: freed */
	if (one_in(10))
		max_protohdr = rn(MHLEN + 1);
	note("m_pullup(%d) of %d bytes (head holds %d, max_protohdr %d)", n, len, pkt.m->m_len, max_protohdr);
	arm();
	struct mbuf *r = m_pullup(pkt.m, n);
	hit = disarm();
	if (n > len) {
		count("short: m_pullup of a shorter packet freed it");
		EXPECT(r == NULL, "m_pullup(%d) of a %d-byte packet returned a chain", n, len);
		if (r)
			pkt.m = r;
		else
			packet_gone();
		return;
	}
	if (!r) {
		count("fail: m_pullup freed the packet");
		EXPECT(hit, "m_pullup(%d) of %d bytes returned NULL with no allocation failed", n, len);
		packet_gone();
		return;
	}
	pkt.m = r;
	EXPECT(r->m_len >= n, "m_pullup(%d): the first mbuf holds only %d bytes", n, r->m_len);
}

static void op_pulldown(void)
{
	int len = pkt.len, off = rn(len + 1), avail = len - off, n, offp = -12345;
	bool use_offp = one_in(2), hit;

	if (avail == 0 || one_in(12))
		n = imin(avail + 1 + rn(64), MCLBYTES); /* past the end: freed */
	else
		n = 1 + rn(imin(avail, one_in(4) ? MCLBYTES : 200));
	if (n <= avail && one_in(2) && pkt.m->m_next) {
		/* Often across a boundary: start a little before the end of some mbuf. */
		int pos = 0, k = rn(8);
		struct mbuf *m = pkt.m;

		while (m->m_next && k-- > 0) {
			pos += m->m_len;
			m = m->m_next;
		}
		if (pos + m->m_len < len) {
			off = pos + m->m_len - imin(m->m_len, 1 + rn(16));
			n = imin(1 + rn(imin(len - off, 300)), MCLBYTES);
		}
	}
	note("m_pulldown(off %d, len %d, %s) of %d bytes", off, n, use_offp ? "&offp" : "NULL", len);
	arm();
	struct mbuf *r = m_pulldown(pkt.m, off, n, use_offp ? &offp : NULL);
	hit = disarm();
	if (off + n > len) {
		count("short: m_pulldown past the end freed the packet");
		EXPECT(r == NULL, "m_pulldown(%d, %d) of a %d-byte packet returned an mbuf", off, n, len);
		if (!r)
			packet_gone();
		return;
	}
	if (!r) {
		count("fail: m_pulldown freed the packet");
		EXPECT(hit, "m_pulldown(%d, %d) of %d bytes returned NULL with no allocation failed", off, n, len);
		packet_gone();
		return;
	}
	int pos = 0, at = use_offp ? offp : 0;
	struct mbuf *m;

	for (m = pkt.m; m && m != r; m = m->m_next)
		pos += m->m_len;
	if (!m) {
		FAIL("m_pulldown(%d, %d) returned an mbuf that is not in the chain", off, n);
		return;
	}
	if (at < 0 || at + n > r->m_len || pos + at != off) {
		FAIL("m_pulldown(%d, %d): region at *offp %d in an mbuf of %d bytes at chain offset %d", off, n,
		     at, r->m_len, pos);
		return;
	}
	int d = first_difference((unsigned char *)r->m_data + at, pkt.model + off, n);

	EXPECT(d < 0, "m_pulldown(%d, %d): byte %d of the region differs", off, n, d);
	EXPECT(m_writable(r), "m_pulldown(%d, %d): the mbuf returned shares its storage", off, n);
	if (!run.failed && one_in(2)) {
		fill_random(pkt.model + off, n);
		memcpy(r->m_data + at, pkt.model + off, (size_t)n);
	}
}

/*
 * m_split, maybe grow the head, then m_cat the tail back. A tail that
 * carries a packet header loses it first, as a BSD caller does
 * (m_remove_pkthdr / m_demote); m_cat must leave m_pkthdr.len alone, and
 * the caller fixes it.
 */
static void op_split_cat(void)
{
	int len = pkt.len, at = rn(len + 1), how = random_how(), extra = 0, got;
	bool hit;

	if (one_in(20))
		at = len + 1 + rn(100);
	note("m_split(%d, %s) of %d bytes", at, how_name(how), len);
	arm();
	struct mbuf *t = m_split(pkt.m, at, how);
	hit = disarm();
	if (at > len) {
		count("short: m_split past the end left the packet");
		EXPECT(t == NULL, "m_split(%d) of a %d-byte packet returned a tail", at, len);
		m_freem(t);
		return;
	}
	if (!t) {
		count("fail: m_split restored the packet");
		EXPECT(hit, "m_split(%d) of %d bytes returned NULL with no allocation failed", at, len);
		return; /* restored: compared at the end of the step */
	}
	if (!chain_ok("m_split head", pkt.m, true, &got))
		return;
	EXPECT(got == at, "m_split(%d): the head holds %d bytes", at, got);
	chain_bytes(pkt.m, scratch);
	EXPECT(first_difference(scratch, pkt.model, at) < 0, "m_split(%d): the head's bytes differ", at);
	EXPECT(t->m_flags & M_PKTHDR, "m_split(%d): the tail of a packet has no packet header", at);
	if (!chain_ok("m_split tail", t, false, &got)) {
		return;
	}
	EXPECT(got == len - at, "m_split(%d): the tail holds %d bytes, expected %d", at, got, len - at);
	chain_bytes(t, scratch);
	EXPECT(first_difference(scratch, pkt.model + at, len - at) < 0, "m_split(%d): the tail's bytes differ", at);
	if (run.failed) {
		m_freem(t);
		return;
	}
	/* Grow the head: its last mbuf may share storage with the tail's first. */
	if (one_in(3) && len + 64 < GROW_LIMIT) {
		static unsigned char ins[64];

		extra = 1 + rn(64);
		fill_random(ins, extra);
		note("  m_copyback(off %d, len %d) on the head", at, extra);
		m_copyback(pkt.m, at, extra, ins);
		EXPECT(pkt.m->m_pkthdr.len == at + extra, "m_copyback at the end of the split head: length %d, "
		       "expected %d", pkt.m->m_pkthdr.len, at + extra);
		chain_bytes(t, scratch);
		EXPECT(first_difference(scratch, pkt.model + at, len - at) < 0,
		       "m_copyback at the end of the split head changed the tail's bytes");
		memmove(pkt.model + at + extra, pkt.model + at, (size_t)(len - at));
		memcpy(pkt.model + at, ins, (size_t)extra);
	}
	if (t->m_flags & M_PKTHDR) {
		m_tag_delete_chain(t);
		t->m_flags &= ~M_PKTHDR;
	}
	note("  m_cat(head of %d bytes, tail of %d bytes)", at + extra, len - at);
	m_cat(pkt.m, t);
	EXPECT(pkt.m->m_pkthdr.len == at + extra, "m_cat changed m_pkthdr.len to %d (was %d)",
	       pkt.m->m_pkthdr.len, at + extra);
	pkt.m->m_pkthdr.len = len + extra;
	pkt.len = len + extra;
}

static struct holder *free_slot(void)
{
	for (int i = 0; i < NR_COPIES; i++)
		if (!copies[i].m)
			return &copies[i];
	struct holder *h = &copies[rn(NR_COPIES)];

	note("  free copy made by %s (%d bytes)", h->made_by, h->len);
	m_freem(h->m);
	h->m = NULL;
	return h;
}

/* m_copym / m_copypacket / m_dup of a random range, kept as a second holder. */
static void op_copy(void)
{
	int len = pkt.len, kind = rn(5), how = random_how(), off, n;
	const char *name;
	bool hit;
	struct mbuf *c;

	if (len == 0) {
		op_prepend();
		return;
	}
	off = one_in(3) ? 0 : rn(len);
	n = 1 + rn(len - off);

	struct holder *h = free_slot();

	switch (kind) {
	case 0:
		name = "m_copypacket";
		off = 0;
		n = len;
		note("m_copypacket(%s) of %d bytes", how_name(how), len);
		arm();
		c = m_copypacket(pkt.m, how);
		break;
	case 1:
	case 2:
		name = "m_copym";
		if (kind == 2)
			n = M_COPYALL;
		note("m_copym(off %d, len %d, %s) of %d bytes", off, n, how_name(how), len);
		arm();
		c = m_copym(pkt.m, off, n, how);
		break;
	default:
		name = "m_dup";
		if (kind == 4)
			n = M_COPYALL;
		note("m_dup(off %d, len %d, %s) of %d bytes", off, n, how_name(how), len);
		arm();
		c = m_dup(pkt.m, off, n, how);
		break;
	}
	hit = disarm();
	if (!c) {
		count("fail: m_copym/m_copypacket/m_dup NULL, source kept");
		EXPECT(hit, "%s(%d, %d) returned NULL with no allocation failed", name, off, n);
		return; /* the source must be untouched: compared at the end of the step */
	}
	if (n == M_COPYALL)
		n = len - off;
	h->m = c;
	h->len = n;
	h->hdr = off == 0;
	h->tagged = h->hdr && pkt.tagged;
	memcpy(h->tag, pkt.tag, TAG_LEN);
	h->ttl = 1 + rn(24);
	h->made_by = name;
	memcpy(h->model, pkt.model + off, (size_t)n);
	EXPECT(off != 0 || (c->m_flags & M_PKTHDR), "%s(off 0) of a packet: the copy has no packet header", name);
	compare(name, h);
	if (kind >= 3)
		for (struct mbuf *m = c; m; m = m->m_next)
			if ((m->m_flags & M_EXT) && pktmem_ext_refs(m->m_ext.ext_storage) != 1) {
				FAIL("m_dup: the copy shares storage (%d references)",
				     pktmem_ext_refs(m->m_ext.ext_storage));
				break;
			}
}

/* Write into a live copy (m_makewritable or m_copyback_cow): the packet must not change. */
static void op_write_copy(void)
{
	int i = rn(NR_COPIES);
	struct holder *h = &copies[i];

	if (!h->m || h->len == 0) {
		op_copy();
		return;
	}
	if (one_in(2)) {
		op_makewritable(h, "copy");
		return;
	}

	int off = rn(h->len), n = 1 + rn(h->len - off), how = random_how();
	bool hit;

	fill_random(scratch, n);
	note("m_copyback_cow(copy, off %d, len %d, %s) of %d bytes", off, n, how_name(how), h->len);
	arm();
	struct mbuf *r = m_copyback_cow(h->m, off, n, scratch, how);
	hit = disarm();
	if (!r) {
		count("fail: m_copyback_cow freed a copy");
		EXPECT(hit, "m_copyback_cow on a copy returned NULL with no allocation failed");
		h->m = NULL; /* freed by the contract */
		return;
	}
	h->m = r;
	memcpy(h->model + off, scratch, (size_t)n);
}

struct apply_state {
	const struct mbuf *chain;
	const unsigned char *model;
	int pos;       /* bytes seen so far */
	int calls;
	int stop_at;   /* return 7 on this call (0: never) */
	bool bad;
	char why[160];
};

static int apply_fn(void *arg, void *data, unsigned int n)
{
	struct apply_state *s = arg;
	const char *p = data;
	const struct mbuf *m;

	s->calls++;
	for (m = s->chain; m; m = m->m_next)
		if (p >= m->m_data && p + n <= m->m_data + m->m_len)
			break;
	if (!s->bad && !m) {
		s->bad = true;
		snprintf(s->why, sizeof(s->why), "call %d: %u bytes at %p are not inside one mbuf's data", s->calls,
			 n, data);
	}
	if (!s->bad && memcmp(p, s->model + s->pos, n)) {
		s->bad = true;
		snprintf(s->why, sizeof(s->why), "call %d: %u bytes at offset %d differ from the model", s->calls, n,
			 s->pos);
	}
	s->pos += (int)n;
	return s->calls == s->stop_at ? 7 : 0;
}

static void op_apply(void)
{
	int len = pkt.len, off = rn(len + 1), n = rn(len - off + 1), rv;
	struct apply_state s = { .chain = pkt.m, .stop_at = one_in(3) ? 1 + rn(4) : 0 };

	s.model = pkt.model + off;
	note("m_apply(off %d, len %d, stop at call %d) of %d bytes", off, n, s.stop_at, len);
	rv = m_apply(pkt.m, off, n, apply_fn, &s);
	EXPECT(!s.bad, "m_apply(%d, %d): %s", off, n, s.why);
	if (rv == 7) {
		count("m_apply: f's return value ended it");
		EXPECT(s.stop_at && s.calls == s.stop_at, "m_apply returned f's 7 after %d calls (stop at %d)",
		       s.calls, s.stop_at);
	} else {
		EXPECT(rv == 0, "m_apply returned %d", rv);
		EXPECT(s.pos == n, "m_apply(%d, %d) passed %d bytes", off, n, s.pos);
		EXPECT(!s.stop_at || s.calls < s.stop_at, "m_apply went on after f returned 7");
	}
}

static void op_new_packet(void)
{
	note("m_freem(packet of %d bytes)", pkt.len);
	m_freem(pkt.m);
	packet_gone();
	build_packet();
}

/* ------------------------------------------------------------ the driver */

struct op {
	void (*fn)(void);
	int weight;
	const char *name;
};

static void op_makewritable_pkt(void)
{
	op_makewritable(&pkt, "packet");
}

static void op_free_copy(void)
{
	struct holder *h = &copies[rn(NR_COPIES)];

	if (h->m) {
		note("m_freem(copy made by %s, %d bytes)", h->made_by, h->len);
		m_freem(h->m);
		h->m = NULL;
	}
}

static const struct op ops[] = {
	{ op_copyback, 14, "op copyback" },
	{ op_cow, 7, "op cow" },
	{ op_makewritable_pkt, 8, "op makewritable_pkt" },
	{ op_prepend, 10, "op prepend" },
	{ op_adj, 9, "op adj" },
	{ op_pullup, 8, "op pullup" },
	{ op_pulldown, 9, "op pulldown" },
	{ op_split_cat, 9, "op split_cat" },
	{ op_copy, 10, "op copy" },
	{ op_write_copy, 5, "op write_copy" },
	{ op_apply, 6, "op apply" },
	{ op_new_packet, 2, "op new_packet" },
	{ op_free_copy, 2, "op free_copy" },
};

static void step(void)
{
	static const unsigned long ppm[] = { 20000, 100000, 300000, 600000, 1000000 };
	unsigned long diags = diag_seen;

	run.faulty = run.fault_one_in && one_in(run.fault_one_in);
	run.fault_ppm = ppm[rn(5)];
	run.fault_seed = (unsigned long)rnd();

	if (!pkt.m) {
		build_packet();
	} else {
		int total = 0, pick;

		for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
			total += ops[i].weight;
		pick = rn(total);
		for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
			if (pick < ops[i].weight) {
				count(ops[i].name);
				ops[i].fn();
				break;
			}
			pick -= ops[i].weight;
		}
	}
	run.faulty = false;
	pktmem_fault_off();
	if (run.failed)
		return;
	if (diag_seen != diags) {
		FAIL("a diagnostic was raised: %s: %s", diag_last_func, diag_last_msg);
		return;
	}
	if (pkt.m)
		compare("packet", &pkt);
	for (int i = 0; i < NR_COPIES && !run.failed; i++) {
		struct holder *h = &copies[i];

		if (!h->m)
			continue;
		compare(h->made_by, h);
		if (--h->ttl <= 0 && !run.failed) {
			m_freem(h->m);
			h->m = NULL;
		}
	}
	if (!run.failed)
		check_accounting();
}

/* One seed: @steps steps from a fresh state; everything freed at the end. */
static bool run_seed(uint64_t seed, long steps, int fault_one_in)
{
	int saved_protohdr = max_protohdr;

	rng_state = seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL;
	if (!rng_state)
		rng_state = 1;
	run.seed = seed;
	run.steps = steps;
	run.fault_one_in = fault_one_in;
	run.failed = false;
	oplog_total = 0;
	packet_gone();
	if (run.verbose)
		printf("seed %" PRIu64 ", %ld steps%s\n", seed, steps, fault_one_in ? "" : ", no faults");
	for (run.step = 0; run.step < steps && !run.failed; run.step++)
		step();
	pktmem_fault_off();
	m_freem(pkt.m);
	packet_gone();
	for (int i = 0; i < NR_COPIES; i++) {
		m_freem(copies[i].m);
		copies[i].m = NULL;
	}
	max_protohdr = saved_protohdr;
	if (!run.failed) {
		EXPECT(cache_in_use(pktmem_mbuf_cache()) == 0, "after the seed: %llu mbufs in use",
		       cache_in_use(pktmem_mbuf_cache()));
		EXPECT(cache_in_use(pktmem_cluster_cache()) == 0, "after the seed: %llu clusters in use",
		       cache_in_use(pktmem_cluster_cache()));
		EXPECT(ext_attached == ext_released, "after the seed: %ld MEXTADD buffers not released",
		       ext_attached - ext_released);
	}
	return !run.failed;
}

/* ------------------------------------------------------------ tests */

#define DEFAULT_STEPS 2000 /* 150 + 60 seeds: ~2.5 s here, ~7-15 s under ASan+UBSan */

static struct {
	uint64_t first, last;
	long steps;
	bool no_faults;
	bool custom;
} cfg = { 1, 150, DEFAULT_STEPS, false, false };

static int seeds_failed;

static void run_range(uint64_t first, uint64_t last, long steps, int fault_one_in)
{
	for (uint64_t s = first; s <= last; s++)
		if (!run_seed(s, steps, fault_one_in))
			seeds_failed++;
}

/* Random sequences, a step in ten with faults injected. */
static void test_random_sequences(void)
{
	if (cfg.custom)
		run_range(cfg.first, cfg.last, cfg.steps, cfg.no_faults ? 0 : 10);
	else
		run_range(cfg.first, cfg.last, cfg.steps, 10);
}

/* Other seeds, every other step under fault injection: the failure contracts. */
static void test_random_sequences_under_faults(void)
{
	if (cfg.custom)
		return;
	run_range(1001, 1060, cfg.steps / 2, 2);
}

/* Nothing is left behind: caches empty, each MEXTADD routine called once. */
static void test_everything_freed(void)
{
	long once = 0, wrong = 0;

	CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), 0);
	CHECK_EQ(cache_in_use(pktmem_cluster_cache()), 0);
	for (size_t i = 0; i < ext_nrecs; i++) {
		if (ext_recs[i].calls == (ext_recs[i].attached ? 1 : 0))
			once += ext_recs[i].attached;
		else
			wrong++;
	}
	CHECK_EQ(wrong, 0);
	CHECK_EQ(once, ext_attached);
	CHECK_EQ(ext_attached, ext_released);
	CHECK(ext_attached > 0 || cfg.custom);
	CHECK_EQ(seeds_failed, 0);
	printf("     %ld MEXTADD buffers, %zu records, %lu faults injected\n", ext_attached, ext_nrecs,
	       pktmem_fault_injected());
	for (int i = 0; seen[i].name; i++)
		printf("     %-52s %8ld\n", seen[i].name, seen[i].n);
	free(ext_recs);
	ext_recs = NULL;
	ext_nrecs = ext_cap = 0;
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [--seed S | --seeds A-B] [--steps N] [--no-faults] [-v]\n", argv0);
	exit(2);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--seed") && i + 1 < argc) {
			cfg.first = cfg.last = strtoull(argv[++i], NULL, 0);
			cfg.custom = true;
		} else if (!strcmp(a, "--seeds") && i + 1 < argc) {
			char *end;

			cfg.first = strtoull(argv[++i], &end, 0);
			cfg.last = *end == '-' ? strtoull(end + 1, NULL, 0) : cfg.first;
			cfg.custom = true;
		} else if (!strcmp(a, "--steps") && i + 1 < argc) {
			cfg.steps = strtol(argv[++i], NULL, 0);
		} else if (!strcmp(a, "--no-faults")) {
			cfg.no_faults = true;
			cfg.custom = true;
		} else if (!strcmp(a, "-v")) {
			run.verbose = true;
		} else {
			usage(argv[0]);
		}
	}
	if (cfg.steps <= 0 || cfg.last < cfg.first)
		usage(argv[0]);
	diag_capture();

	TEST(test_random_sequences);
	TEST(test_random_sequences_under_faults);
	TEST(test_everything_freed);
	return test_summary();
}
