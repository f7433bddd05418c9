/*
 * demo — a producer and a consumer thread passing packet buffers through
 * the pktmem memory layer.
 *
 *   ./demo [COUNT]          (default 2000000 buffers)
 *
 * What it shows:
 *
 *   producer                                         consumer
 *   mempool_alloc(pool, GFP_KERNEL)   --- ring --->  verify seq + pattern
 *   (1 in 8: GFP_NOWAIT first)        (1024 slots)   mempool_free(buf, pool)
 *        |                                                |
 *        +--- mempool "packets": reserve of 64 -----------+
 *                 over kmem_cache "demo_packet" (2048 B), limit 512 in use
 *
 * - The cache is capped at 512 objects in use (the `nmbclusters` idea), and
 *   the pool's reserve of 64 is taken out of those 512. The ring holds more
 *   than 512, so the cap, not the ring, bounds the buffers in flight.
 * - Now and then the consumer stalls for a moment, like a slow application.
 *   The producer then runs into the cap: the cache denies the pool's
 *   non-waiting first try, the pool hands out its reserve, and when that is
 *   empty a GFP_KERNEL allocation sleeps until the consumer frees a buffer
 *   ("delayed"). It never fails.
 * - One allocation in eight is first tried with GFP_NOWAIT, as a receive
 *   path in interrupt context would. Those that find the cache at its cap
 *   and the reserve dry fail at once; the demo counts them as drops and
 *   takes the buffer with GFP_KERNEL instead, so every sequence number is
 *   delivered.
 * - At the end: throughput, the statistics in `netstat -m` style, the
 *   reserve, and a check that nothing is left in use. The exit status is
 *   non-zero if any buffer failed verification or anything leaked.
 *
 * Part 2 carries packets as mbuf chains (COUNT / 4 of them):
 *
 *   producer                                           consumer
 *   m_gethdr + MCLGET (M_WAIT, clusters capped at 256)  m_pullup(m, 8): read the tunnel header
 *   m_copyback(payload), M_PREPEND(8-byte header)       m_copydata: verify every byte
 *   1 in 4: send m_copypacket() (the cluster is shared)  1 in 16: mbuf -> sk_buff -> mbuf,
 *           and free the original here                          verify both, no byte copied
 *                                --- ring --->           m_freem
 *
 * Copies share clusters and are freed on the other thread; the round trip
 * through an sk_buff shares the clusters too. At the end the mbuf, cluster
 * and sk_buff caches must be back at zero in use.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pktmem/gfp.h>
#include <pktmem/slab.h>
#include <pktmem/mempool.h>
#include <pktmem/pktmem.h>
#include <pktmem/mbuf.h>
#include <pktmem/skbuff.h>

enum {
	PACKET_SIZE = 2048,
	CACHE_LIMIT = 512,      /* objects of the cache in use, reserve included */
	POOL_RESERVE = 64,      /* mempool min_nr */
	RING_SLOTS = 1024,      /* a power of two, larger than CACHE_LIMIT */
	NOWAIT_EVERY = 8,       /* one allocation in 8 tries GFP_NOWAIT first */
	STALL_EVERY = 1 << 18,  /* the consumer stalls once per 256 Ki buffers */
	STALL_NS = 2000000,     /* for 2 ms */
};

#define DEFAULT_COUNT 2000000UL

/* ---------------------------------------------------------------- packet */

/* What the producer writes: a header, then a pattern derived from seq. */
struct packet {
	uint64_t seq;
	uint64_t words[(PACKET_SIZE - sizeof(uint64_t)) / sizeof(uint64_t)];
};

_Static_assert(sizeof(struct packet) == PACKET_SIZE, "packet must fill the buffer");

static inline uint64_t pattern_word(uint64_t seq, size_t i)
{
	/* Differs per buffer and per word, so a stale or shared buffer shows. */
	return (seq * 0x9e3779b97f4a7c15ULL) ^ (i * 0xff51afd7ed558ccdULL);
}

static void packet_fill(struct packet *p, uint64_t seq)
{
	p->seq = seq;
	for (size_t i = 0; i < sizeof(p->words) / sizeof(p->words[0]); i++)
		p->words[i] = pattern_word(seq, i);
}

static bool packet_check(const struct packet *p, uint64_t seq)
{
	uint64_t bad = p->seq ^ seq;

	for (size_t i = 0; i < sizeof(p->words) / sizeof(p->words[0]); i++)
		bad |= p->words[i] ^ pattern_word(seq, i);
	return bad == 0;
}

/* ---------------------------------------------------------------- ring */

/*
 * A single-producer single-consumer ring of pointers. Each side owns one
 * index and only reads the other's; release/acquire on the indices orders
 * the slot contents. A side that finds the ring full (or empty) spins a
 * little, then yields the CPU, since the other side may share it.
 */
struct ring {
	_Alignas(64) _Atomic size_t head; /* next slot to write; producer's */
	_Alignas(64) _Atomic size_t tail; /* next slot to read; consumer's */
	_Alignas(64) void *slot[RING_SLOTS];
};

static void backoff(unsigned *spins)
{
	if (++*spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	} else {
		sched_yield();
	}
}

static void ring_put(struct ring *r, void *p)
{
	size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	unsigned spins = 0;

	while (head - atomic_load_explicit(&r->tail, memory_order_acquire) == RING_SLOTS)
		backoff(&spins);
	r->slot[head & (RING_SLOTS - 1)] = p;
	atomic_store_explicit(&r->head, head + 1, memory_order_release);
}

static void *ring_get(struct ring *r)
{
	size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	unsigned spins = 0;
	void *p;

	while (atomic_load_explicit(&r->head, memory_order_acquire) == tail)
		backoff(&spins);
	p = r->slot[tail & (RING_SLOTS - 1)];
	atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
	return p;
}

/* ---------------------------------------------------------------- threads */

struct demo {
	mempool_t *pool;
	struct kmem_cache *cache;
	struct ring ring;
	uint64_t count;
	/* Producer's results. */
	uint64_t nowait_tries, nowait_drops;
	/* Consumer's results. */
	uint64_t verified, corrupt, stalls;
	uint64_t end_ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *producer(void *arg)
{
	struct demo *d = arg;

	for (uint64_t seq = 0; seq < d->count; seq++) {
		struct packet *p = NULL;

		if (seq % NOWAIT_EVERY == 0) {
			d->nowait_tries++;
			p = mempool_alloc(d->pool, GFP_NOWAIT);
			if (!p)
				d->nowait_drops++;
		}
		if (!p)
			p = mempool_alloc(d->pool, GFP_KERNEL); /* never NULL */
		if (!p) {
			fprintf(stderr, "demo: mempool_alloc(GFP_KERNEL) returned NULL at seq %" PRIu64 "\n", seq);
			exit(2);
		}
		packet_fill(p, seq);
		ring_put(&d->ring, p);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct demo *d = arg;

	for (uint64_t seq = 0; seq < d->count; seq++) {
		struct packet *p = ring_get(&d->ring);

		if (packet_check(p, seq))
			d->verified++;
		else if (d->corrupt++ < 5)
			fprintf(stderr, "demo: buffer %p: expected seq %" PRIu64 ", found %" PRIu64 " or a bad pattern\n",
				(void *)p, seq, p->seq);
		mempool_free(p, d->pool);

		if (seq % STALL_EVERY == STALL_EVERY - 1) {
			struct timespec pause = { 0, STALL_NS };

			d->stalls++;
			nanosleep(&pause, NULL);
		}
	}
	d->end_ns = now_ns();
	return NULL;
}

/* ---------------------------------------------------------------- main */

static void print_line(const char *what, const struct pktmem_stats *st)
{
	printf("  %-7s %-26s in use %" PRIu64 ", peak %" PRIu64 ", allocs %" PRIu64
	       ", frees %" PRIu64 ", denied %" PRIu64 ", waited %" PRIu64 "\n",
	       what, st->name, st->in_use, st->peak, st->allocs, st->frees, st->denied, st->waited);
}


/* ---------------------------------------------------------------- part 2: mbuf packets */

enum {
	CLUSTER_LIMIT = 256,   /* clusters in use, the nmbclusters of the demo */
	TUNNEL_HDR = 8,        /* seq (4 bytes) + payload length (4 bytes) */
	COPY_EVERY = 4,        /* 1 in 4 packets travels as an m_copypacket() copy */
	CROSS_EVERY = 16,      /* 1 in 16 goes mbuf -> sk_buff -> mbuf at the consumer */
};

struct pkt_demo {
	struct ring ring;
	uint64_t count;
	uint64_t verified, corrupt, copies, crossings, cross_bad, end_ns;
};

static uint32_t payload_len(uint64_t seq)
{
	return 64 + (uint32_t)(seq * 2654435761u % 1437); /* 64 .. 1500 */
}

static unsigned char payload_byte(uint64_t seq, uint32_t i)
{
	return (unsigned char)(seq * 31 + i * 7);
}

static void *pkt_producer(void *arg)
{
	struct pkt_demo *d = arg;
	unsigned char buf[1500];

	for (uint64_t seq = 0; seq < d->count; seq++) {
		uint32_t len = payload_len(seq);
		struct mbuf *m = m_gethdr(M_WAIT, MT_DATA);

		MCLGET(m, M_WAIT); /* at the cluster limit this sleeps until the consumer frees */
		m->m_data += 64;   /* headroom for the tunnel header */
		for (uint32_t i = 0; i < len; i++)
			buf[i] = payload_byte(seq, i);
		m_copyback(m, 0, (int)len, buf);

		uint32_t hdr[2] = { (uint32_t)seq, len };

		M_PREPEND(m, TUNNEL_HDR, M_DONTWAIT);
		if (!m)
			abort(); /* there is leading space: cannot fail */
		memcpy(mtod(m, void *), hdr, sizeof(hdr));
		if (seq % COPY_EVERY == 0) {
			/* The copy shares the cluster; the original dies here, the copy there. */
			struct mbuf *c = m_copypacket(m, M_WAIT);

			m_freem(m);
			m = c;
			d->copies++;
		}
		ring_put(&d->ring, m);
	}
	return NULL;
}

static bool pkt_verify(struct mbuf *m, uint64_t seq, uint32_t len)
{
	unsigned char buf[1500 + TUNNEL_HDR];

	if (m->m_pkthdr.len != (int)(len + TUNNEL_HDR))
		return false;
	m_copydata(m, TUNNEL_HDR, (int)len, buf);
	for (uint32_t i = 0; i < len; i++)
		if (buf[i] != payload_byte(seq, i))
			return false;
	return true;
}

static bool pkt_cross(struct mbuf *m, uint64_t seq, uint32_t len)
{
	unsigned char buf[1500 + TUNNEL_HDR];
	struct sk_buff *skb = skb_from_mbuf(m, 64, GFP_KERNEL);
	bool ok = skb && skb->len == len + TUNNEL_HDR;

	if (ok) {
		skb_copy_bits(skb, TUNNEL_HDR, buf, (int)len);
		for (uint32_t i = 0; i < len && ok; i++)
			ok = buf[i] == payload_byte(seq, i);
	}
	struct mbuf *back = ok ? m_from_skb(skb, M_WAIT) : NULL;

	kfree_skb(skb);
	ok = ok && back && pkt_verify(back, seq, len);
	m_freem(back);
	return ok;
}

static void *pkt_consumer(void *arg)
{
	struct pkt_demo *d = arg;

	for (uint64_t n = 0; n < d->count; n++) {
		struct mbuf *m = ring_get(&d->ring);
		uint32_t hdr[2];

		m = m_pullup(m, TUNNEL_HDR);
		if (!m) {
			d->corrupt++;
			continue;
		}
		memcpy(hdr, mtod(m, void *), sizeof(hdr));
		if (hdr[0] != (uint32_t)n || !pkt_verify(m, n, hdr[1]))
			d->corrupt++;
		else
			d->verified++;
		if (n % CROSS_EVERY == 0) {
			d->crossings++;
			if (!pkt_cross(m, n, hdr[1]))
				d->cross_bad++;
		}
		m_freem(m);
	}
	d->end_ns = now_ns();
	return NULL;
}

/* Part 2. Returns non-zero on failure. */
static int run_packets(uint64_t count)
{
	static struct pkt_demo d;
	struct kmem_cache *caches[3] = { pktmem_mbuf_cache(), pktmem_cluster_cache(), pktmem_skbuff_cache() };
	pthread_t prod, cons;
	int failed = 0;

	d.count = count;
	kmem_cache_set_limit(pktmem_cluster_cache(), CLUSTER_LIMIT);
	printf("part 2: %" PRIu64 " packets of 64..1500 bytes as mbuf chains, clusters capped at %d,\n"
	       "1 in %d sent as a shared copy, 1 in %d taken through an sk_buff and back\n\n",
	       count, CLUSTER_LIMIT, COPY_EVERY, CROSS_EVERY);

	uint64_t start = now_ns();

	if (pthread_create(&cons, NULL, pkt_consumer, &d) || pthread_create(&prod, NULL, pkt_producer, &d)) {
		fprintf(stderr, "demo: pthread_create failed\n");
		return 1;
	}
	pthread_join(prod, NULL);
	pthread_join(cons, NULL);
	kmem_cache_set_limit(pktmem_cluster_cache(), 0);

	double secs = (double)(d.end_ns - start) / 1e9;

	printf("passed %" PRIu64 " packets in %.3f s: %.2f M packets/s\n", count, secs, (double)count / secs / 1e6);
	printf("verified %" PRIu64 ", corrupt %" PRIu64 ", shared copies %" PRIu64
	       ", mbuf->skb->mbuf crossings %" PRIu64 " (bad %" PRIu64 ")\n\n",
	       d.verified, d.corrupt, d.copies, d.crossings, d.cross_bad);
	if (d.corrupt || d.cross_bad || d.verified != count)
		failed = 1;
	for (int i = 0; i < 3; i++) {
		struct pktmem_stats st;

		kmem_cache_stats(caches[i], &st);
		print_line("cache", &st);
		if (st.in_use) {
			fprintf(stderr, "demo: %" PRIu64 " objects of %s still in use\n", st.in_use, st.name);
			failed = 1;
		}
	}
	printf("\n");
	return failed;
}

int main(int argc, char **argv)
{
	static struct demo d; /* the ring is 8 KiB: keep it off the stack */
	struct pktmem_stats cs, ps;
	pthread_t prod, cons;
	uint64_t start;
	double secs;
	int failed = 0;

	d.count = DEFAULT_COUNT;
	if (argc > 1) {
		char *end;

		errno = 0;
		d.count = strtoull(argv[1], &end, 0);
		if (errno || *end || d.count == 0 || argv[1][0] == '-') {
			fprintf(stderr, "usage: %s [COUNT]   (buffers to pass, default %lu)\n",
				argv[0], DEFAULT_COUNT);
			return 2;
		}
	}

	d.cache = kmem_cache_create("demo_packet", PACKET_SIZE, 0, SLAB_HWCACHE_ALIGN, NULL);
	if (!d.cache) {
		perror("demo: kmem_cache_create");
		return 1;
	}
	kmem_cache_set_limit(d.cache, CACHE_LIMIT);
	d.pool = mempool_create_slab_pool(POOL_RESERVE, d.cache);
	if (!d.pool) {
		perror("demo: mempool_create_slab_pool");
		kmem_cache_destroy(d.cache);
		return 1;
	}

	printf("pktmem %s demo: %" PRIu64 " buffers of %d bytes, producer -> ring(%d) -> consumer\n",
	       pktmem_version_string(), d.count, PACKET_SIZE, RING_SLOTS);
	printf("cache limit %d objects in use, pool reserve %d, 1 in %d allocations GFP_NOWAIT first,\n"
	       "consumer stalls %d ms every %d buffers\n\n",
	       CACHE_LIMIT, POOL_RESERVE, NOWAIT_EVERY, STALL_NS / 1000000, STALL_EVERY);

	start = now_ns();
	if (pthread_create(&cons, NULL, consumer, &d) || pthread_create(&prod, NULL, producer, &d)) {
		fprintf(stderr, "demo: pthread_create failed\n");
		return 1;
	}
	pthread_join(prod, NULL);
	pthread_join(cons, NULL);
	secs = (double)(d.end_ns - start) / 1e9;

	printf("passed %" PRIu64 " buffers in %.3f s: %.2f M buffers/s, %.1f ns/buffer, %.2f GB/s written+verified\n",
	       d.count, secs, (double)d.count / secs / 1e6, secs * 1e9 / (double)d.count,
	       (double)d.count * PACKET_SIZE / secs / 1e9);
	printf("verified %" PRIu64 ", corrupt %" PRIu64 ", consumer stalls %" PRIu64 "\n",
	       d.verified, d.corrupt, d.stalls);
	printf("GFP_NOWAIT tries %" PRIu64 ", dropped at once (cache at limit, reserve dry) %" PRIu64 "\n",
	       d.nowait_tries, d.nowait_drops);
	if (mempool_stats(d.pool, &ps) == 0 && kmem_cache_stats(d.cache, &cs) == 0 &&
	    cs.allocs >= POOL_RESERVE && ps.allocs >= cs.allocs - POOL_RESERVE)
		/* The pool is the cache's only user: what the cache did not serve, the reserve did. */
		printf("pool reserve of %d: served %" PRIu64 " allocations while the cache was at its limit\n",
		       POOL_RESERVE, ps.allocs - (cs.allocs - POOL_RESERVE));
	printf("\n");

	printf("--- pktmem_stats_print ---\n");
	pktmem_stats_print(stdout);
	printf("--------------------------\n\n");

	if (d.corrupt || d.verified != d.count)
		failed = 1;

	/*
	 * Both threads are gone, so every buffer is back. The pool should have
	 * nothing out, a full reserve, and the cache exactly the reserve in use.
	 */
	if (mempool_stats(d.pool, &ps) || kmem_cache_stats(d.cache, &cs)) {
		fprintf(stderr, "demo: statistics unavailable\n");
		failed = 1;
	} else {
		printf("before teardown:\n");
		print_line("pool", &ps);
		print_line("cache", &cs);
		printf("  pool reserve %" PRIu64 "/%" PRIu64 "%s\n", ps.reserve, ps.reserve_max,
		       mempool_is_saturated(d.pool) ? " (full)" : "");
		if (ps.in_use != 0) {
			fprintf(stderr, "demo: %" PRIu64 " pool elements still in use\n", ps.in_use);
			failed = 1;
		}
		if (cs.in_use != ps.reserve) {
			fprintf(stderr, "demo: cache has %" PRIu64 " objects in use, the pool's reserve is %" PRIu64 "\n",
				cs.in_use, ps.reserve);
			failed = 1;
		}
	}

	mempool_destroy(d.pool);
	memset(&cs, 0, sizeof(cs));
	if (kmem_cache_stats(d.cache, &cs) == 0) {
		print_line("cache", &cs);
		if (cs.in_use != 0) {
			fprintf(stderr, "demo: %" PRIu64 " cache objects still in use after mempool_destroy\n",
				cs.in_use);
			failed = 1;
		}
	}
	/* A cache with objects out would go to the diagnostic handler: keep it. */
	if (cs.in_use == 0)
		kmem_cache_destroy(d.cache);
	printf("\n");

	if (run_packets(d.count / 4 ? d.count / 4 : 1))
		failed = 1;

	printf("--- pktmem_stats_print ---\n");
	pktmem_stats_print(stdout);
	printf("--------------------------\n");
	printf("%s\n", failed ? "FAILED" : "OK");
	return failed;
}
