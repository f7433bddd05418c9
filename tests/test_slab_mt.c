/*
 * <pktmem/slab.h> under threads: frees from another thread, a thread that
 * exits holding a magazine, waiting and denial at a limit, and a stress run
 * of threads exchanging objects. Runs under TSan in CI.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "check.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------- remote free */

#define REMOTE_N 20000

struct remote {
	struct kmem_cache *c;
	void **objs;
};

static void *remote_freer(void *arg)
{
	struct remote *r = arg;

	for (int i = 0; i < REMOTE_N; i++) {
		unsigned *v = r->objs[i];

		if (v[0] != (unsigned)i || v[15] != ~(unsigned)i)
			return (void *)1;
		kmem_cache_free(r->c, r->objs[i]);
	}
	return NULL;
}

static void test_free_on_other_thread(void)
{
	struct remote r = { kmem_cache_create("mt-remote", 64, 0, 0, NULL), NULL };
	pthread_t t;
	void *ret;

	r.objs = malloc(REMOTE_N * sizeof(void *));
	for (int i = 0; i < REMOTE_N; i++) {
		unsigned *v = kmem_cache_alloc(r.c, GFP_KERNEL);

		v[0] = (unsigned)i;
		v[15] = ~(unsigned)i;
		r.objs[i] = v;
	}
	CHECK_EQ(cache_in_use(r.c), REMOTE_N);
	pthread_create(&t, NULL, remote_freer, &r);
	pthread_join(t, &ret);
	CHECK(ret == NULL);
	CHECK_EQ(cache_in_use(r.c), 0);

	struct pktmem_stats st;

	kmem_cache_stats(r.c, &st);
	CHECK_EQ(st.allocs, REMOTE_N);
	CHECK_EQ(st.frees, REMOTE_N);
	/* Objects freed remotely are reused: no new memory for a second round. */
	uint64_t total = st.total;

	for (int i = 0; i < REMOTE_N; i++)
		r.objs[i] = kmem_cache_alloc(r.c, GFP_KERNEL);
	kmem_cache_stats(r.c, &st);
	CHECK_EQ(st.total, total);
	for (int i = 0; i < REMOTE_N; i++)
		kmem_cache_free(r.c, r.objs[i]);
	free(r.objs);
	kmem_cache_destroy(r.c);
}

/* ---------------------------------------------------------- thread exit */

static void *hold_magazine(void *arg)
{
	struct kmem_cache *c = arg;
	void *p[40];

	for (int i = 0; i < 40; i++)
		p[i] = kmem_cache_alloc(c, GFP_KERNEL);
	for (int i = 0; i < 40; i++)
		kmem_cache_free(c, p[i]); /* they rest in this thread's magazine */
	return NULL;
}

static void test_thread_exit_returns_magazine(void)
{
	struct kmem_cache *c = kmem_cache_create("mt-exit", 128, 0, 0, NULL);
	pthread_t t;
	struct pktmem_stats st;

	pthread_create(&t, NULL, hold_magazine, c);
	pthread_join(t, NULL);
	kmem_cache_stats(c, &st);
	CHECK_EQ(st.in_use, 0);
	CHECK_EQ(st.allocs, 40);
	CHECK_EQ(st.frees, 40);

	/* Everything the thread held is in the depot again: taking all of it
	 * creates no new object. */
	uint64_t total = st.total;
	void **p = malloc(total * sizeof(void *));

	CHECK_EQ(kmem_cache_alloc_bulk(c, GFP_KERNEL, total, p), (int)total);
	kmem_cache_stats(c, &st);
	CHECK_EQ(st.total, total);
	kmem_cache_free_bulk(c, total, p);
	free(p);
	CHECK_EQ(cache_in_use(c), 0);
	kmem_cache_destroy(c); /* with no thread cache left pointing at it */
}

/* ---------------------------------------------------------- limit: wait */

struct limit_ctx {
	struct kmem_cache *c;
	void *held;
	atomic_int freed;
};

static void *delayed_free(void *arg)
{
	struct limit_ctx *l = arg;

	sleep_ms(80);
	atomic_store(&l->freed, 1);
	kmem_cache_free(l->c, l->held);
	return NULL;
}

static void *waiting_alloc(void *arg)
{
	struct limit_ctx *l = arg;

	l->held = kmem_cache_alloc(l->c, GFP_KERNEL);
	return NULL;
}

static void test_wait_at_limit(void)
{
	struct limit_ctx l = { kmem_cache_create("mt-limit", 256, 0, 0, NULL), NULL, 0 };
	void *p[4];
	pthread_t t;
	struct pktmem_stats st;

	kmem_cache_set_limit(l.c, 4);
	for (int i = 0; i < 4; i++)
		p[i] = kmem_cache_alloc(l.c, GFP_KERNEL);
	l.held = p[0];

	/* A non-waiting allocation fails at once. */
	double t0 = now_ms();

	CHECK(kmem_cache_alloc(l.c, GFP_NOWAIT) == NULL);
	CHECK(now_ms() - t0 < 50);

	/* A waiting one sleeps until the other thread frees. */
	pthread_create(&t, NULL, delayed_free, &l);
	t0 = now_ms();
	void *w = kmem_cache_alloc(l.c, GFP_KERNEL);
	double waited = now_ms() - t0;

	CHECK(w != NULL);
	CHECK(atomic_load(&l.freed) == 1);
	CHECK(waited >= 50);
	pthread_join(t, NULL);
	kmem_cache_stats(l.c, &st);
	CHECK_EQ(st.waited, 1);
	CHECK_EQ(st.denied, 1);
	CHECK_EQ(st.in_use, 4);
	CHECK_EQ(st.peak, 4);
	kmem_cache_free(l.c, w);
	for (int i = 1; i < 4; i++)
		kmem_cache_free(l.c, p[i]);

	/* Raising the limit wakes a waiter too. */
	for (int i = 0; i < 4; i++)
		p[i] = kmem_cache_alloc(l.c, GFP_KERNEL);
	pthread_create(&t, NULL, waiting_alloc, &l);
	sleep_ms(50);
	CHECK_EQ(cache_in_use(l.c), 4); /* the waiter still sleeps */
	kmem_cache_set_limit(l.c, 5);
	pthread_join(t, NULL);
	CHECK(l.held != NULL);
	CHECK_EQ(cache_in_use(l.c), 5);
	kmem_cache_free(l.c, l.held);
	for (int i = 0; i < 4; i++)
		kmem_cache_free(l.c, p[i]);
	CHECK_EQ(cache_in_use(l.c), 0);
	kmem_cache_destroy(l.c);
}

/* ---------------------------------------------------------- stress */

#define RING 256
#define STRESS_OPS 200000

struct ring {
	void *slot[RING];
	atomic_uint head, tail;
};

struct stress {
	struct kmem_cache *c;
	struct ring to_b;
	atomic_int bad;
};

static void *stress_producer(void *arg)
{
	struct stress *s = arg;
	unsigned head = 0;

	for (unsigned i = 0; i < STRESS_OPS; i++) {
		unsigned *v = kmem_cache_alloc(s->c, GFP_KERNEL);

		v[0] = i;
		v[63] = i * 2654435761u;
		/* half the objects cross to the consumer, half are freed here */
		if (i & 1) {
			kmem_cache_free(s->c, v);
			continue;
		}
		while (head - atomic_load_explicit(&s->to_b.tail, memory_order_acquire) == RING)
			;
		s->to_b.slot[head % RING] = v;
		atomic_store_explicit(&s->to_b.head, ++head, memory_order_release);
	}
	return NULL;
}

static void *stress_consumer(void *arg)
{
	struct stress *s = arg;
	unsigned tail = 0;

	for (unsigned i = 0; i < STRESS_OPS / 2; i++) {
		while (atomic_load_explicit(&s->to_b.head, memory_order_acquire) == tail)
			;
		unsigned *v = s->to_b.slot[tail % RING];

		atomic_store_explicit(&s->to_b.tail, ++tail, memory_order_release);
		if (v[63] != v[0] * 2654435761u)
			atomic_fetch_add(&s->bad, 1);
		kmem_cache_free(s->c, v);
		/* and it allocates some of its own */
		void *own = kmem_cache_alloc(s->c, GFP_KERNEL);

		memset(own, 0xEE, 256);
		kmem_cache_free(s->c, own);
	}
	return NULL;
}

static void test_stress_exchange(void)
{
	struct stress *s = calloc(1, sizeof(*s));
	pthread_t a, b;

	s->c = kmem_cache_create("mt-stress", 256, 0, 0, NULL);
	pthread_create(&b, NULL, stress_consumer, s);
	pthread_create(&a, NULL, stress_producer, s);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	CHECK_EQ(atomic_load(&s->bad), 0);
	CHECK_EQ(cache_in_use(s->c), 0);

	struct pktmem_stats st;

	kmem_cache_stats(s->c, &st);
	CHECK_EQ(st.allocs, STRESS_OPS + STRESS_OPS / 2);
	kmem_cache_destroy(s->c);
	free(s);
}

/* Several threads at a small limit, waiting on each other. */
struct contend {
	struct kmem_cache *c;
	atomic_int bad;
};

static void *contend_worker(void *arg)
{
	struct contend *k = arg;
	void *held[3];

	for (int i = 0; i < 3000; i++) {
		for (int j = 0; j < 3; j++) {
			held[j] = kmem_cache_alloc(k->c, GFP_KERNEL);
			if (!held[j])
				atomic_fetch_add(&k->bad, 1);
		}
		for (int j = 0; j < 3; j++)
			kmem_cache_free(k->c, held[j]);
	}
	return NULL;
}

static void test_contention_at_limit(void)
{
	struct contend k = { kmem_cache_create("mt-contend", 64, 0, 0, NULL), 0 };
	pthread_t t[4];
	struct pktmem_stats st;

	/* 4 threads needing 3 each share 9: some always wait, none may fail
	 * or deadlock (each holds at most 3, and a thread that cannot get its
	 * next object waits for frees of the others). Limit >= 3*(4-1)+1. */
	kmem_cache_set_limit(k.c, 10);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, contend_worker, &k);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	kmem_cache_stats(k.c, &st);
	CHECK_EQ(atomic_load(&k.bad), 0);
	CHECK_EQ(st.in_use, 0);
	CHECK(st.peak <= 10);
	CHECK_EQ(st.allocs, 4 * 3000 * 3);
	kmem_cache_destroy(k.c);
}

int main(void)
{
	diag_capture();
	TEST(test_free_on_other_thread);
	TEST(test_thread_exit_returns_magazine);
	TEST(test_wait_at_limit);
	TEST(test_stress_exchange);
	TEST(test_contention_at_limit);
	return test_summary();
}
