/*
 * <pktmem/mbuf.h> under threads: both wait modes at a cluster limit, and
 * copies sharing clusters and MEXTADD storage freed on different threads
 * (the storage is released exactly once). Runs under TSan in CI.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include <pktmem/mbuf.h>

#include "check.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { 0, (long)ms * 1000000L };

	nanosleep(&ts, NULL);
}

static void check_no_leaks(void)
{
	CHECK_EQ(cache_in_use(pktmem_mbuf_cache()), 0);
	CHECK_EQ(cache_in_use(pktmem_cluster_cache()), 0);
}

/* ------------------------------------------------------- wait at a limit */

struct holder {
	struct mbuf *held;
	atomic_int released;
};

static void *release_later(void *arg)
{
	struct holder *h = arg;

	sleep_ms(80);
	atomic_store(&h->released, 1);
	m_freem(h->held);
	return NULL;
}

static void test_wait_modes_at_cluster_limit(void)
{
	struct kmem_cache *cl = pktmem_cluster_cache();
	struct mbuf *m[3];
	struct holder h = { NULL, 0 };
	struct pktmem_stats st0, st;
	pthread_t t;

	kmem_cache_stats(cl, &st0);
	kmem_cache_set_limit(cl, 3);
	for (int i = 0; i < 3; i++) {
		m[i] = m_gethdr(M_WAIT, MT_DATA);
		MCLGET(m[i], M_WAIT);
		CHECK(m[i]->m_flags & M_EXT);
	}

	/* M_DONTWAIT: fails at once, counted as denied. */
	struct mbuf *x = m_gethdr(M_DONTWAIT, MT_DATA);
	double t0 = now_ms();

	MCLGET(x, M_DONTWAIT);
	CHECK(now_ms() - t0 < 50);
	CHECK(!(x->m_flags & M_EXT));
	kmem_cache_stats(cl, &st);
	CHECK_EQ(st.denied, st0.denied + 1);

	/* M_WAIT: sleeps until the other thread frees a cluster, never fails. */
	h.held = m[0];
	pthread_create(&t, NULL, release_later, &h);
	t0 = now_ms();
	MCLGET(x, M_WAIT);
	CHECK(x->m_flags & M_EXT);
	CHECK(atomic_load(&h.released) == 1);
	CHECK(now_ms() - t0 >= 50);
	pthread_join(t, NULL);
	kmem_cache_stats(cl, &st);
	CHECK_EQ(st.waited, st0.waited + 1);

	m_freem(x);
	m_freem(m[1]);
	m_freem(m[2]);
	kmem_cache_set_limit(cl, 0);
	check_no_leaks();
}

/* ------------------------------------------------------- shared storage */

#define ROUNDS 2000
#define COPIES 4

static atomic_int extadd_frees;

static void extadd_free(struct mbuf *m, void *buf, size_t size, void *arg)
{
	(void)m, (void)size, (void)arg;
	atomic_fetch_add(&extadd_frees, 1);
	free(buf);
}

struct pair {
	struct mbuf *m;
	int bad;
};

static void *verify_and_free(void *arg)
{
	struct pair *p = arg;
	unsigned char buf[1500];

	m_copydata(p->m, 0, 1500, buf);
	for (int i = 0; i < 1500; i++)
		if (buf[i] != (unsigned char)(i * 7 + 3)) {
			p->bad = 1;
			break;
		}
	m_freem(p->m);
	return NULL;
}

static struct mbuf *make_packet(bool extadd)
{
	struct mbuf *m = m_gethdr(M_WAIT, MT_DATA);
	unsigned char *d;

	if (extadd) {
		d = malloc(1500);
		MEXTADD(m, d, 1500, 0, extadd_free, NULL);
	} else {
		MCLGET(m, M_WAIT);
		d = mtod(m, unsigned char *);
	}
	for (int i = 0; i < 1500; i++)
		d[i] = (unsigned char)(i * 7 + 3);
	m->m_len = m->m_pkthdr.len = 1500;
	return m;
}

static void test_copies_freed_on_other_threads(void)
{
	atomic_store(&extadd_frees, 0);
	for (int round = 0; round < ROUNDS; round++) {
		bool extadd = round & 1;
		struct mbuf *m = make_packet(extadd);
		struct pair p[COPIES];
		pthread_t t[COPIES];

		for (int i = 0; i < COPIES; i++) {
			p[i].m = i == 0 ? m_copypacket(m, M_WAIT) : m_copym(m, 0, M_COPYALL, M_WAIT);
			p[i].bad = 0;
			CHECK(p[i].m != NULL);
			CHECK(p[i].m->m_ext.ext_storage == m->m_ext.ext_storage);
		}
		CHECK_EQ(pktmem_ext_refs(m->m_ext.ext_storage), COPIES + 1);
		for (int i = 0; i < COPIES; i++)
			pthread_create(&t[i], NULL, verify_and_free, &p[i]);
		m_freem(m); /* the original goes here, the copies there, in any order */
		for (int i = 0; i < COPIES; i++) {
			pthread_join(t[i], NULL);
			CHECK_EQ(p[i].bad, 0);
		}
	}
	CHECK_EQ(atomic_load(&extadd_frees), ROUNDS / 2);
	check_no_leaks();
}

int main(void)
{
	diag_capture();
	TEST(test_wait_modes_at_cluster_limit);
	TEST(test_copies_freed_on_other_threads);
	return test_summary();
}
