/*
 * m_getcl_bulk() on one thread, m_freem_bulk() on another (the two ends of
 * a driver's ring), and M_WAIT waiting at a cluster limit until the other
 * thread frees. Runs under TSan too (the "threaded" label).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include <pktmem/mbuf.h>

#include "check.h"

#define BURST  32
#define ROUNDS 400
#define SLOTS  4

/* A ring of bursts between the threads, under one lock. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct mbuf *burst[SLOTS][BURST];
	int head, tail; /* produced, consumed */
	bool done;
} ring = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static _Atomic int bad_bytes;

static void *consumer(void *arg)
{
	(void)arg;
	for (;;) {
		struct mbuf *mv[BURST];

		pthread_mutex_lock(&ring.lock);
		while (ring.tail == ring.head && !ring.done)
			pthread_cond_wait(&ring.cond, &ring.lock);
		if (ring.tail == ring.head) {
			pthread_mutex_unlock(&ring.lock);
			return NULL;
		}
		memcpy(mv, ring.burst[ring.tail % SLOTS], sizeof(mv));
		ring.tail++;
		pthread_cond_broadcast(&ring.cond);
		pthread_mutex_unlock(&ring.lock);
		/* Read what the other thread wrote, then free the burst here. */
		for (int i = 0; i < BURST; i++) {
			const unsigned char *d = mtod(mv[i], unsigned char *);

			if (mv[i]->m_len != 64 + i || d[0] != (unsigned char)i || d[mv[i]->m_len - 1] != 0xa5)
				bad_bytes++;
		}
		m_freem_bulk(mv, BURST);
	}
}

static void test_alloc_here_free_there_mt(void)
{
	pthread_t t;

	CHECK_EQ(pthread_create(&t, NULL, consumer, NULL), 0);
	for (int r = 0; r < ROUNDS; r++) {
		struct mbuf *mv[BURST];

		CHECK_EQ(m_getcl_bulk(mv, BURST, M_WAIT, MT_DATA, M_PKTHDR), BURST);
		for (int i = 0; i < BURST; i++) {
			unsigned char *d = mtod(mv[i], unsigned char *);

			mv[i]->m_len = mv[i]->m_pkthdr.len = 64 + i;
			memset(d, i, (size_t)(64 + i));
			d[63 + i] = 0xa5;
		}
		pthread_mutex_lock(&ring.lock);
		while (ring.head - ring.tail == SLOTS)
			pthread_cond_wait(&ring.cond, &ring.lock);
		memcpy(ring.burst[ring.head % SLOTS], mv, sizeof(mv));
		ring.head++;
		pthread_cond_broadcast(&ring.cond);
		pthread_mutex_unlock(&ring.lock);
	}
	pthread_mutex_lock(&ring.lock);
	ring.done = true;
	pthread_cond_broadcast(&ring.cond);
	pthread_mutex_unlock(&ring.lock);
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK_EQ(bad_bytes, 0);
	CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), 0);
	CHECK_EQ(cache_in_use(pktmem_cluster_cache()), 0);
}

static struct mbuf *held[BURST];
static _Atomic int freeing;

static void *late_freer(void *arg)
{
	(void)arg;
	/* Let the other thread reach the limit and wait there. */
	struct timespec ts = { 0, 200 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	freeing = 1;
	m_freem_bulk(held, BURST);
	return NULL;
}

/* M_WAIT at a cluster limit waits for the other thread's m_freem_bulk(). */
static void test_wait_at_limit_mt(void)
{
	struct kmem_cache *cc = pktmem_cluster_cache();
	struct mbuf *mv[BURST];
	struct pktmem_stats st;
	pthread_t t;

	CHECK_EQ(kmem_cache_set_limit(cc, BURST + 8), 0);
	CHECK_EQ(m_getcl_bulk(held, BURST, M_WAIT, MT_DATA, M_PKTHDR), BURST);
	CHECK_EQ(m_getcl_bulk(mv, BURST, M_DONTWAIT, MT_DATA, M_PKTHDR), 0);
	kmem_cache_stats(cc, &st);
	unsigned long long waited = st.waited;

	CHECK_EQ(pthread_create(&t, NULL, late_freer, NULL), 0);
	CHECK_EQ(m_getcl_bulk(mv, BURST, M_WAIT, MT_DATA, M_PKTHDR), BURST);
	CHECK(freeing); /* room was made only by the other thread's free */
	CHECK_EQ(pthread_join(t, NULL), 0);
	kmem_cache_stats(cc, &st);
	CHECK_EQ(st.waited, waited + 1);
	m_freem_bulk(mv, BURST);
	CHECK_EQ(kmem_cache_set_limit(cc, 0), 0);
	CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), 0);
	CHECK_EQ(cache_in_use(cc), 0);
}

int main(void)
{
	diag_capture();
	TEST(test_alloc_here_free_there_mt);
	TEST(test_wait_at_limit_mt);
	return test_summary();
}
