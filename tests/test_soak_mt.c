/*
 * Stress and soak (issue 7, point 5): two threads exchanging packets
 * through locked queues, with the cluster cache and the sk_buff cache held
 * at a small limit, so that waiting allocations sleep and non-waiting ones
 * are denied, for a fixed number of operations; then every byte of every
 * packet and the statistics are checked.
 *
 *   sender (A)                                           receiver (B)
 *   mbuf chain: hdr + clusters + MEXTADD + tail
 *     m_copypacket -> copy --------- mbuf ring --------> verify every byte,
 *     original freed here                                 free (or return)
 *   sk_buff (fclone or plain) + page frag
 *     skb_clone (companion), skb_clone (plain)
 *       clones ---------------- sk_buff_head ----------> verify, free
 *     original freed here                                 (or clone back)
 *   verify, free  <----------- return ring / queue ----  (at most RET_MAX
 *                                                         each, M_DONTWAIT
 *                                                         and GFP_ATOMIC)
 *
 * Only A uses waiting masks (M_WAIT, GFP_KERNEL, every other packet); B
 * never waits, so it always drains. Whatever A may hold while it sleeps
 * (its packet under construction, the returns, each bounded) stays below
 * the limits, so a sleeping A is always woken by B's frees: waits end,
 * and a hang is a library bug (a watchdog turns it into a failure).
 * B pauses now and then so that A runs into the limits.
 *
 * At the end: nothing lost or damaged (sequence numbers, lengths, bytes),
 * no waiting allocation returned NULL, denials and waits both happened
 * (in the caches' statistics and in what the threads saw), every MEXTADD
 * free routine ran exactly once, every cache back at its baseline.
 *
 * Sized to run in about two seconds; a quarter under TSan (which runs it in
 * CI: the _mt suffix). PKTMEM_SOAK_SECONDS=N repeats rounds for N seconds,
 * for a manual soak.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <pktmem/mbuf.h>
#include <pktmem/skbuff.h>
#include <pktmem/pktmem.h>

#include "check.h"

#if defined(__SANITIZE_THREAD__)
#define SOAK_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SOAK_UNDER_TSAN 1
#endif
#endif

/* TSan runs the threads some ten times slower: fewer packets, longer pauses. */
#ifdef SOAK_UNDER_TSAN
#define SOAK_PACKETS 20000
#define PAUSE_US 2000
#else
#define SOAK_PACKETS 200000
#define PAUSE_US 300
#endif

#define CLUSTER_LIMIT 24  /* clusters in use at most */
#define SKBUFF_LIMIT  12  /* struct sk_buff (not fclone pairs) in use at most */
#define RET_MAX       4   /* packets B may have returned to A and A not yet freed, per kind */
#define RING_SLOTS    256 /* more than the cluster limit allows in flight */
#define SKBQ_MAX      512 /* fclone companions are not limited: bound their queue */
#define PAUSE_EVERY   96  /* B pauses after receiving this many packets */
#define WATCHDOG_S    240

/* ------------------------------------------------------------ packets */

static inline uint8_t pbyte(uint32_t seq, long i)
{
	return (uint8_t)((i * 7 + (long)seq * 131 + 3) & 0xff);
}

static void pfill(void *p, long n, uint32_t seq, long from)
{
	for (long i = 0; i < n; i++)
		((uint8_t *)p)[i] = pbyte(seq, from + i);
}

static inline uint32_t mix32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	x ^= x >> 16;
	return x;
}

/* The shape of mbuf packet @seq: header bytes, one or two clusters, an optional MEXTADD part and tail. */
struct mshape {
	int hlen, cl1, cl2, ext, tail;
};

static struct mshape mbuf_shape(uint32_t seq)
{
	uint32_t h = mix32(seq);
	struct mshape s;

	s.hlen = 20 + (int)(h % 100);
	s.cl1 = 100 + (int)((h >> 7) % 1900);
	s.cl2 = (h >> 18) % 3 == 0 ? 1 + (int)((h >> 3) % MCLBYTES) : 0;
	s.ext = seq % 3 == 0 ? 64 + (int)((h >> 11) % 1400) : 0;
	s.tail = (h >> 25) % 2 ? 1 + (int)((h >> 5) % 300) : 0;
	return s;
}

static int mshape_len(struct mshape s)
{
	return s.hlen + s.cl1 + s.cl2 + s.ext + s.tail;
}

/* The shape of sk_buff packet @seq: linear bytes and an optional page fragment. */
static void skb_shape(uint32_t seq, unsigned *lin, unsigned *frag)
{
	uint32_t h = mix32(seq ^ 0x9e3779b9U);

	*lin = 60 + h % 1400;
	*frag = (h >> 12) % 2 ? 200 + (h >> 3) % 800 : 0;
}

/* ------------------------------------------------------------ MEXTADD accounting */

static atomic_uchar *ext_freed; /* per MEXTADD buffer of the round: times its free routine ran */
static atomic_int ext_added;

static void ext_free(struct mbuf *m, void *buf, size_t size, void *arg)
{
	(void)m, (void)size;
	atomic_fetch_add(&ext_freed[(uintptr_t)arg], 1);
	free(buf);
}

/* ------------------------------------------------------------ the mbuf ring */

struct ring {
	pthread_mutex_t lock;
	struct mbuf *slot[RING_SLOTS];
	unsigned head, count;
};

static void ring_init(struct ring *r)
{
	pthread_mutex_init(&r->lock, NULL);
	r->head = r->count = 0;
}

static bool ring_push(struct ring *r, struct mbuf *m)
{
	bool ok;

	pthread_mutex_lock(&r->lock);
	ok = r->count < RING_SLOTS;
	if (ok) {
		r->slot[(r->head + r->count) % RING_SLOTS] = m;
		r->count++;
	}
	pthread_mutex_unlock(&r->lock);
	return ok;
}

static struct mbuf *ring_pop(struct ring *r)
{
	struct mbuf *m = NULL;

	pthread_mutex_lock(&r->lock);
	if (r->count) {
		m = r->slot[r->head];
		r->head = (r->head + 1) % RING_SLOTS;
		r->count--;
	}
	pthread_mutex_unlock(&r->lock);
	return m;
}

static unsigned ring_len(struct ring *r)
{
	pthread_mutex_lock(&r->lock);
	unsigned n = r->count;
	pthread_mutex_unlock(&r->lock);
	return n;
}

/* ------------------------------------------------------------ the exchange */

struct soak {
	uint32_t packets;
	struct ring a2b, b2a;            /* mbuf copies there, returned chains back */
	struct sk_buff_head skq, retq;   /* skb clones there, clones of clones back */
	atomic_int done;
	/* what the threads saw */
	atomic_ulong sent_m, sent_s, recv_m, recv_s, returned_m, returned_s;
	atomic_ulong denied_a, denied_b, wait_null, bad, order;
	atomic_ulong bytes;
};

/* Every byte of an mbuf packet, its header and its shape's length. */
static bool mbuf_ok(const struct mbuf *m)
{
	uint32_t seq = m->m_pkthdr.csum_data;
	int want = mshape_len(mbuf_shape(seq));
	long pos = 0;

	if (!(m->m_flags & M_PKTHDR) || m->m_pkthdr.len != want)
		return false;
	for (; m; m = m->m_next) {
		const uint8_t *p = (const uint8_t *)m->m_data;

		for (int i = 0; i < m->m_len; i++)
			if (p[i] != pbyte(seq, pos + i))
				return false;
		pos += m->m_len;
	}
	return pos == want;
}

/* Every byte of an sk_buff packet (head and fragments). */
static bool skb_ok(const struct sk_buff *skb)
{
	uint32_t seq = skb->mark;
	unsigned lin, frag;
	const struct skb_shared_info *sh = skb_shinfo(skb);
	long pos = 0;

	skb_shape(seq, &lin, &frag);
	if (skb->len != lin + frag || skb_headlen(skb) != lin || sh->frag_list)
		return false;
	for (unsigned i = 0; i < lin; i++)
		if (skb->data[i] != pbyte(seq, i))
			return false;
	pos = lin;
	for (int f = 0; f < sh->nr_frags; f++) {
		const uint8_t *p = skb_frag_address(&sh->frags[f]);

		for (unsigned i = 0; i < skb_frag_size(&sh->frags[f]); i++)
			if (p[i] != pbyte(seq, pos + i))
				return false;
		pos += skb_frag_size(&sh->frags[f]);
	}
	return pos == (long)(lin + frag);
}

/* Free what B sent back, after checking it. */
static void drain_returns(struct soak *s)
{
	struct mbuf *m;
	struct sk_buff *skb;

	while ((m = ring_pop(&s->b2a)) != NULL) {
		if (!mbuf_ok(m))
			atomic_fetch_add(&s->bad, 1);
		m_freem(m);
	}
	while ((skb = skb_dequeue(&s->retq)) != NULL) {
		if (!skb_ok(skb))
			atomic_fetch_add(&s->bad, 1);
		kfree_skb(skb);
	}
}

/* Append an mbuf with @len bytes of packet @seq from @pos, in a cluster when @cluster. NULL: denied. */
static struct mbuf *add_mbuf(struct mbuf *last, int how, bool cluster, int len, uint32_t seq, long pos)
{
	struct mbuf *n = m_get(how, MT_DATA);

	if (!n)
		return NULL;
	if (cluster) {
		MCLGET(n, how);
		if (!(n->m_flags & M_EXT)) {
			m_free(n);
			return NULL;
		}
	}
	n->m_len = len;
	pfill(n->m_data, len, seq, pos);
	last->m_next = n;
	return n;
}

/* A builds mbuf packet @seq, sends a copy, frees the original. */
static void send_mbuf(struct soak *s, uint32_t seq, int how)
{
	struct mshape sh = mbuf_shape(seq);
	struct mbuf *m = m_gethdr(how, MT_DATA), *last;
	long pos;

	if (!m)
		goto denied;
	m->m_len = sh.hlen;
	m->m_pkthdr.len = mshape_len(sh);
	m->m_pkthdr.csum_data = seq;
	pfill(m->m_data, sh.hlen, seq, 0);
	pos = sh.hlen;
	if (!(last = add_mbuf(m, how, true, sh.cl1, seq, pos)))
		goto denied;
	pos += sh.cl1;
	if (sh.cl2) {
		if (!(last = add_mbuf(last, how, true, sh.cl2, seq, pos)))
			goto denied;
		pos += sh.cl2;
	}
	if (sh.ext) {
		struct mbuf *n = m_get(how, MT_DATA);
		int id = atomic_load(&ext_added);
		char *buf = malloc((size_t)sh.ext + 32);

		if (!n || !buf)
			abort(); /* the mbuf cache has no limit: M_DONTWAIT is denied only at one */
		MEXTADD(n, buf, sh.ext + 32, 0, ext_free, (void *)(uintptr_t)id);
		if (!(n->m_flags & M_EXT))
			abort();
		atomic_store(&ext_added, id + 1);
		n->m_data += 16;
		n->m_len = sh.ext;
		pfill(n->m_data, sh.ext, seq, pos);
		last->m_next = n;
		last = n;
		pos += sh.ext;
	}
	if (sh.tail && !(last = add_mbuf(last, how, false, sh.tail, seq, pos)))
		goto denied;

	/* The copy shares the clusters and the MEXTADD buffer; the original goes here. */
	struct mbuf *c = m_copypacket(m, how);

	if (!c)
		goto denied;
	m_freem(m);
	while (!ring_push(&s->a2b, c))
		sched_yield();
	atomic_fetch_add(&s->sent_m, 1);
	return;
denied:
	if (how == M_WAIT)
		atomic_fetch_add(&s->wait_null, 1);
	else
		atomic_fetch_add(&s->denied_a, 1);
	m_freem(m);
}

/* A builds sk_buff packet @seq, queues one or two clones, frees the original. */
static void send_skb(struct soak *s, uint32_t seq, gfp_t gfp, bool fclone)
{
	unsigned lin, frag;
	struct sk_buff *skb, *c1 = NULL, *c2 = NULL;

	skb_shape(seq, &lin, &frag);
	skb = fclone ? alloc_skb_fclone(lin + 32, gfp) : alloc_skb(lin + 32, gfp);
	if (!skb)
		goto denied;
	skb_reserve(skb, 32);
	pfill(skb_put(skb, lin), lin, seq, 0);
	skb->mark = seq;
	if (frag) {
		struct page *pg = alloc_page(gfp);

		if (!pg)
			goto denied;
		pfill((char *)page_address(pg) + 64, frag, seq, lin);
		skb_add_rx_frag(skb, 0, pg, 64, (int)frag, PAGE_SIZE);
	}
	/* fclone: the companion, no allocation; plain: from the limited cache. */
	c1 = skb_clone(skb, gfp);
	if (!c1)
		goto denied;
	if (fclone && seq % 3 == 0) {
		c2 = skb_clone(skb, gfp); /* the companion is busy: a plain one */
		if (!c2)
			goto denied;
	}
	kfree_skb(skb);
	while (skb_queue_len(&s->skq) > SKBQ_MAX)
		sched_yield();
	skb_queue_tail(&s->skq, c1);
	if (c2)
		skb_queue_tail(&s->skq, c2);
	atomic_fetch_add(&s->sent_s, c2 ? 2 : 1);
	return;
denied:
	if (gfp == GFP_KERNEL)
		atomic_fetch_add(&s->wait_null, 1);
	else
		atomic_fetch_add(&s->denied_a, 1);
	kfree_skb(c1);
	kfree_skb(skb);
}

static void *sender(void *arg)
{
	struct soak *s = arg;

	for (uint32_t seq = 0; seq < s->packets; seq++) {
		drain_returns(s);
		/* Alternate the kinds, and within each the waiting and the non-waiting mask. */
		bool wait = (seq / 2) % 2 == 0;

		if (seq % 2 == 0)
			send_mbuf(s, seq, wait ? M_WAIT : M_DONTWAIT);
		else
			send_skb(s, seq, wait ? GFP_KERNEL : GFP_ATOMIC, (seq / 4) % 2 == 0);
	}
	atomic_store(&s->done, 1);
	return NULL;
}

static void *receiver(void *arg)
{
	struct soak *s = arg;
	uint32_t last_m = 0, last_s = 0;
	bool first_m = true, first_s = true;
	unsigned long n = 0;

	for (;;) {
		bool got = false;
		struct mbuf *m = ring_pop(&s->a2b);

		if (m) {
			uint32_t seq = m->m_pkthdr.csum_data;

			got = true;
			if (!mbuf_ok(m))
				atomic_fetch_add(&s->bad, 1);
			if (!first_m && seq <= last_m)
				atomic_fetch_add(&s->order, 1);
			first_m = false;
			last_m = seq;
			atomic_fetch_add(&s->bytes, (unsigned long)m->m_pkthdr.len);
			atomic_fetch_add(&s->recv_m, 1);
			/* Now and then the chain goes back, to be freed on the other thread. */
			if (seq % 5 == 0 && ring_len(&s->b2a) < RET_MAX && ring_push(&s->b2a, m))
				atomic_fetch_add(&s->returned_m, 1);
			else
				m_freem(m);
		}
		struct sk_buff *skb = skb_dequeue(&s->skq);

		if (skb) {
			uint32_t seq = skb->mark;

			got = true;
			if (!skb_ok(skb))
				atomic_fetch_add(&s->bad, 1);
			if (!first_s && seq < last_s) /* two clones of one packet share a number */
				atomic_fetch_add(&s->order, 1);
			first_s = false;
			last_s = seq;
			atomic_fetch_add(&s->bytes, skb->len);
			atomic_fetch_add(&s->recv_s, 1);
			if (seq % 5 == 0 && skb_queue_len(&s->retq) < RET_MAX) {
				struct sk_buff *r = skb_clone(skb, GFP_ATOMIC);

				if (r) {
					skb_queue_tail(&s->retq, r);
					atomic_fetch_add(&s->returned_s, 1);
				} else {
					atomic_fetch_add(&s->denied_b, 1);
				}
			}
			kfree_skb(skb);
		}
		if (got && ++n % PAUSE_EVERY == 0) {
			struct timespec ts = { 0, PAUSE_US * 1000L };

			nanosleep(&ts, NULL); /* let A run into the limits */
		}
		if (!got) {
			if (atomic_load(&s->done) && ring_len(&s->a2b) == 0 && skb_queue_len(&s->skq) == 0)
				break;
			sched_yield();
		}
	}
	return NULL;
}

/* ------------------------------------------------------------ statistics */

#define MAX_CACHES 128

struct cache_snap {
	int n;
	char name[MAX_CACHES][48];
	uint64_t in_use[MAX_CACHES];
};

static int snap_cb(const struct pktmem_stats *st, void *arg)
{
	struct cache_snap *c = arg;

	if (c->n < MAX_CACHES) {
		memcpy(c->name[c->n], st->name, sizeof(st->name));
		c->in_use[c->n] = st->in_use;
		c->n++;
	}
	return 0;
}

static void snap_caches(struct cache_snap *c)
{
	c->n = 0;
	pktmem_stats_walk(snap_cb, c);
}

/* Every cache and pool of @base is back at its count (new ones at zero). */
static int caches_off_baseline(const struct cache_snap *base)
{
	static struct cache_snap now;
	int off = 0;

	snap_caches(&now);
	for (int i = 0; i < now.n; i++) {
		uint64_t want = 0;

		for (int j = 0; j < base->n; j++)
			if (strcmp(base->name[j], now.name[i]) == 0)
				want = base->in_use[j];
		if (now.in_use[i] != want) {
			fprintf(stderr, "cache %s: %llu in use, baseline %llu\n", now.name[i],
				(unsigned long long)now.in_use[i], (unsigned long long)want);
			off++;
		}
	}
	return off;
}

static struct pktmem_stats stats_of(struct kmem_cache *c)
{
	struct pktmem_stats st;

	kmem_cache_stats(c, &st);
	return st;
}

/* ------------------------------------------------------------ the test */

static void watchdog(int sig)
{
	static const char msg[] = "test_soak_mt: no progress within the watchdog's time: a waiter was never woken?\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0) {
		/* nothing more to say */
	}
	_exit(3);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct totals {
	unsigned long rounds, packets, sent_m, sent_s, recv_m, recv_s, returned_m, returned_s;
	unsigned long denied_a, denied_b, bytes;
	uint64_t cl_waited, cl_denied, sk_waited, sk_denied;
	int ext_buffers;
};

static struct totals tot;

static void soak_round(uint32_t packets)
{
	static struct soak s;
	struct kmem_cache *cl = pktmem_cluster_cache(), *sk = pktmem_skbuff_cache();
	struct pktmem_stats cl0 = stats_of(cl), sk0 = stats_of(sk), cl1, sk1;
	pthread_t a, b;

	memset(&s, 0, sizeof(s));
	s.packets = packets;
	ring_init(&s.a2b);
	ring_init(&s.b2a);
	skb_queue_head_init(&s.skq);
	skb_queue_head_init(&s.retq);
	ext_freed = calloc(packets, sizeof(*ext_freed));
	atomic_store(&ext_added, 0);

	kmem_cache_set_limit(cl, CLUSTER_LIMIT);
	kmem_cache_set_limit(sk, SKBUFF_LIMIT);
	pthread_create(&b, NULL, receiver, &s);
	pthread_create(&a, NULL, sender, &s);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	drain_returns(&s);
	kmem_cache_set_limit(cl, 0);
	kmem_cache_set_limit(sk, 0);

	cl1 = stats_of(cl);
	sk1 = stats_of(sk);

	/* Nothing lost, nothing damaged, nothing out of order. */
	CHECK_EQ(atomic_load(&s.bad), 0);
	CHECK_EQ(atomic_load(&s.order), 0);
	CHECK_EQ(atomic_load(&s.recv_m), atomic_load(&s.sent_m));
	CHECK_EQ(atomic_load(&s.recv_s), atomic_load(&s.sent_s));
	CHECK_EQ(ring_len(&s.a2b) + ring_len(&s.b2a), 0);
	CHECK_EQ(skb_queue_len(&s.skq) + skb_queue_len(&s.retq), 0);
	/* A waiting mask never comes back empty-handed. */
	CHECK_EQ(atomic_load(&s.wait_null), 0);
	/* Every MEXTADD free routine ran exactly once. */
	int added = atomic_load(&ext_added), once = 0;

	for (int i = 0; i < added; i++)
		once += atomic_load(&ext_freed[i]) == 1;
	CHECK_EQ(once, added);
	CHECK(added > 0);

	tot.rounds++;
	tot.packets += packets;
	tot.sent_m += atomic_load(&s.sent_m);
	tot.sent_s += atomic_load(&s.sent_s);
	tot.recv_m += atomic_load(&s.recv_m);
	tot.recv_s += atomic_load(&s.recv_s);
	tot.returned_m += atomic_load(&s.returned_m);
	tot.returned_s += atomic_load(&s.returned_s);
	tot.denied_a += atomic_load(&s.denied_a);
	tot.denied_b += atomic_load(&s.denied_b);
	tot.bytes += atomic_load(&s.bytes);
	tot.cl_waited += cl1.waited - cl0.waited;
	tot.cl_denied += cl1.denied - cl0.denied;
	tot.sk_waited += sk1.waited - sk0.waited;
	tot.sk_denied += sk1.denied - sk0.denied;
	tot.ext_buffers += added;

	/* Both limits made allocations wait and made others fail, this round. */
	CHECK(cl1.waited > cl0.waited);
	CHECK(cl1.denied > cl0.denied);
	CHECK(sk1.waited > sk0.waited);
	CHECK(sk1.denied > sk0.denied);
	CHECK(atomic_load(&s.denied_a) > 0);
	/* The limits held: never more in use than allowed. */
	CHECK(cl1.peak <= CLUSTER_LIMIT || cl0.peak > CLUSTER_LIMIT);

	free(ext_freed);
	ext_freed = NULL;
	pthread_mutex_destroy(&s.a2b.lock);
	pthread_mutex_destroy(&s.b2a.lock);
	pthread_mutex_destroy(&s.skq.lock);
	pthread_mutex_destroy(&s.retq.lock);
}

static void test_soak(void)
{
	static struct cache_snap base;
	const char *env = getenv("PKTMEM_SOAK_SECONDS");
	double seconds = env ? atof(env) : 0, t0 = now_s();

	signal(SIGALRM, watchdog);
	alarm(WATCHDOG_S + (unsigned)(seconds > 0 ? seconds : 0));

	/* Warm up every cache the exchange uses, then take the baseline. */
	struct mbuf *w = m_gethdr(M_WAIT, MT_DATA);

	MCLGET(w, M_WAIT);
	m_freem(w);
	kfree_skb(alloc_skb(100, GFP_KERNEL));
	kfree_skb(alloc_skb_fclone(100, GFP_KERNEL));
	put_page(alloc_page(GFP_KERNEL));
	snap_caches(&base);

	do
		soak_round(SOAK_PACKETS);
	while (now_s() - t0 < seconds);
	alarm(0);

	CHECK_EQ(caches_off_baseline(&base), 0);
	CHECK_EQ(pktmem_diag_count(), 0);

	double el = now_s() - t0;

	printf("soak: %lu round(s), %lu packets in %.2f s (%.0f/s), %.1f MB verified\n", tot.rounds, tot.packets, el,
	       tot.packets / el, tot.bytes / 1e6);
	printf("  mbuf copies sent %lu, received %lu, returned to the sender %lu; MEXTADD buffers %d, each freed once\n",
	       tot.sent_m, tot.recv_m, tot.returned_m, tot.ext_buffers);
	printf("  skb clones sent %lu, received %lu, cloned back %lu\n", tot.sent_s, tot.recv_s, tot.returned_s);
	printf("  packets given up by the sender (M_DONTWAIT/GFP_ATOMIC denied) %lu, clones back denied %lu\n",
	       tot.denied_a, tot.denied_b);
	printf("  cluster cache (limit %d): waited %llu, denied %llu\n", CLUSTER_LIMIT,
	       (unsigned long long)tot.cl_waited, (unsigned long long)tot.cl_denied);
	printf("  skbuff cache (limit %d): waited %llu, denied %llu\n", SKBUFF_LIMIT,
	       (unsigned long long)tot.sk_waited, (unsigned long long)tot.sk_denied);
}

int main(void)
{
	diag_capture();
	TEST(test_soak);
	if (pktmem_diag_count() != 0)
		fprintf(stderr, "unexpected diagnostic: %s: %s\n", diag_last_func, diag_last_msg);
	return test_summary();
}
