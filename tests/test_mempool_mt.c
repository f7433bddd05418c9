/*
 * <pktmem/mempool.h> with threads: a waiting allocation sleeps on an empty
 * pool until another thread frees (it never returns NULL), a zero-minimum
 * pool hands a freed element to its sleeper, the timed retry finds memory
 * freed straight to the allocator, a slab pool at its cache's limit waits
 * on the pool (not in the cache), and many threads hammer one small pool
 * while resizes run. Every element is handed to one owner at a time, and
 * all counts balance at the end.
 *
 * Worker threads never call CHECK (the harness is single-threaded); they
 * count their failures in atomics that the main thread checks.
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

#include "check.h"

/* ------------------------------------------------------------ helpers */

/* A blocked test would hang CTest until its timeout; fail fast and say which. */
static const char *volatile current_test = "?";

static void watchdog(int sig)
{
	static const char msg[] = "test_mempool_mt: watchdog: a test is stuck: ";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0 ||
	    write(2, current_test, strlen(current_test)) < 0 || write(2, "\n", 1) < 0)
		_exit(2);
	_exit(1);
}

#define RUN(fn)                        \
	do {                           \
		current_test = #fn;    \
		alarm(60);             \
		TEST(fn);              \
		alarm(0);              \
	} while (0)

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static struct pktmem_stats stats(mempool_t *pool)
{
	struct pktmem_stats st;

	memset(&st, 0, sizeof(st));
	mempool_stats(pool, &st);
	return st;
}

/* Wait (bounded) until @n allocations on @pool have gone to sleep. */
static int wait_for_sleepers(mempool_t *pool, uint64_t n)
{
	for (int i = 0; i < 5000; i++) {
		if (stats(pool).waited >= n)
			return 1;
		sleep_ms(1);
	}
	return 0;
}

/*
 * A thread-safe counting allocator. Elements carry an owner flag: whoever
 * gets an element from the pool claims it with a CAS, so an element handed
 * to two holders at once is caught.
 */
struct elem {
	atomic_int owned;
	int serial;
};

struct counter {
	atomic_int calls, allocs, frees;
	atomic_int fail_all;   /* every call fails */
	atomic_int fail_ratio; /* > 0: all calls but one in fail_ratio fail */
};

static void *counting_alloc(gfp_t gfp, void *data)
{
	struct counter *c = data;
	int call = atomic_fetch_add(&c->calls, 1) + 1;
	int ratio = atomic_load(&c->fail_ratio);
	struct elem *e;

	(void)gfp;
	if (atomic_load(&c->fail_all) || (ratio > 0 && call % ratio != 0))
		return NULL;
	e = malloc(sizeof(*e));
	if (!e)
		return NULL;
	atomic_init(&e->owned, 0);
	e->serial = atomic_fetch_add(&c->allocs, 1) + 1;
	return e;
}

static void counting_free(void *element, void *data)
{
	struct counter *c = data;

	atomic_fetch_add(&c->frees, 1);
	free(element);
}

static int claim(void *element)
{
	int expected = 0;

	return atomic_compare_exchange_strong(&((struct elem *)element)->owned, &expected, 1);
}

static void unclaim(void *element)
{
	atomic_store(&((struct elem *)element)->owned, 0);
}

/* ------------------------------------------------------------ blocking */

struct delayed_free {
	mempool_t *pool;
	void *element;
	int delay_ms;
	atomic_int freed; /* set just before the free */
};

static void *free_later(void *arg)
{
	struct delayed_free *d = arg;

	sleep_ms(d->delay_ms);
	atomic_store(&d->freed, 1);
	mempool_free(d->element, d->pool);
	return NULL;
}

static void test_kernel_alloc_blocks_until_free(void)
{
	struct counter c = { 0 };
	mempool_t *pool = mempool_create(1, counting_alloc, counting_free, &c);
	struct delayed_free d = { .pool = pool, .delay_ms = 50 };
	pthread_t t;
	void *got;
	double t0, elapsed;

	CHECK(pool != NULL);
	atomic_store(&c.fail_all, 1); /* the allocator never serves again */
	d.element = mempool_alloc(pool, GFP_KERNEL);
	CHECK(d.element != NULL);
	CHECK_EQ(stats(pool).reserve, 0);

	t0 = now_ms();
	CHECK_EQ(pthread_create(&t, NULL, free_later, &d), 0);
	got = mempool_alloc(pool, GFP_KERNEL); /* sleeps until the other thread frees */
	elapsed = now_ms() - t0;
	CHECK(got == d.element);
	CHECK_EQ(atomic_load(&d.freed), 1); /* it returned after the free, not before */
	CHECK(elapsed >= 45);
	pthread_join(t, NULL);
	CHECK_EQ(stats(pool).waited, 1);
	CHECK_EQ(stats(pool).denied, 0);
	CHECK_EQ(atomic_load(&c.frees), 0); /* the element went through the reserve */

	mempool_free(got, pool);
	CHECK_EQ(stats(pool).in_use, 0);
	mempool_destroy(pool);
	CHECK_EQ(atomic_load(&c.frees), atomic_load(&c.allocs));
}

struct sleeper {
	mempool_t *pool;
	gfp_t gfp;
	void *got;
	double returned_at;
};

static void *alloc_in_thread(void *arg)
{
	struct sleeper *s = arg;

	s->got = mempool_alloc(s->pool, s->gfp);
	s->returned_at = now_ms();
	return NULL;
}

static void test_zero_min_pool_waiter_woken_by_free(void)
{
	struct counter c = { 0 };
	mempool_t *pool = mempool_create(0, counting_alloc, counting_free, &c);
	struct sleeper s = { .pool = pool, .gfp = GFP_KERNEL };
	pthread_t t;
	void *x;
	double freed_at;

	CHECK(pool != NULL);
	x = mempool_alloc(pool, GFP_KERNEL);
	CHECK(x != NULL);
	atomic_store(&c.fail_all, 1);

	CHECK_EQ(pthread_create(&t, NULL, alloc_in_thread, &s), 0);
	CHECK(wait_for_sleepers(pool, 1));
	freed_at = now_ms();
	mempool_free(x, pool); /* min_nr == 0, yet the sleeper gets it */
	pthread_join(t, NULL);
	CHECK(s.got == x); /* the allocator is dry: only the free's hand-over can have served it */
	CHECK(s.returned_at >= freed_at);
	CHECK_EQ(atomic_load(&c.frees), 0);
	CHECK_EQ(stats(pool).reserve, 0);
	CHECK_EQ(stats(pool).waited, 1);

	mempool_free(s.got, pool); /* nobody waits now: back to the allocator */
	CHECK_EQ(atomic_load(&c.frees), 1);
	CHECK_EQ(stats(pool).reserve, 0);
	CHECK_EQ(stats(pool).in_use, 0);
	mempool_destroy(pool);
	CHECK_EQ(atomic_load(&c.frees), atomic_load(&c.allocs));
}

static void test_timed_retry_finds_memory_freed_elsewhere(void)
{
	struct counter c = { 0 };
	mempool_t *pool = mempool_create(1, counting_alloc, counting_free, &c);
	struct sleeper s = { .pool = pool, .gfp = GFP_KERNEL };
	pthread_t t;
	void *held;

	CHECK(pool != NULL);
	atomic_store(&c.fail_all, 1);
	held = mempool_alloc(pool, GFP_KERNEL);
	CHECK(held != NULL);

	CHECK_EQ(pthread_create(&t, NULL, alloc_in_thread, &s), 0);
	CHECK(wait_for_sleepers(pool, 1));
	/* Memory comes back to the allocator, not to the pool: nobody signals. */
	atomic_store(&c.fail_all, 0);
	pthread_join(t, NULL);
	CHECK(s.got != NULL);
	CHECK(s.got != held);
	CHECK_EQ(stats(pool).waited, 1);

	mempool_free(s.got, pool);
	mempool_free(held, pool);
	CHECK_EQ(stats(pool).in_use, 0);
	mempool_destroy(pool);
	CHECK_EQ(atomic_load(&c.frees), atomic_load(&c.allocs));
}

static void test_slab_pool_waits_on_pool_at_cache_limit(void)
{
	struct kmem_cache *kc = kmem_cache_create("mp-mt-limit", 128, 0, 0, NULL);
	mempool_t *pool;
	struct sleeper s;
	pthread_t t;
	void *a, *b;

	CHECK(kc != NULL);
	pool = mempool_create_slab_pool(2, kc);
	CHECK(pool != NULL);
	CHECK_EQ(kmem_cache_set_limit(kc, 2), 0); /* the reserve holds all the cache allows */
	a = mempool_alloc(pool, GFP_KERNEL);
	b = mempool_alloc(pool, GFP_KERNEL);
	CHECK(a != NULL && b != NULL);

	/*
	 * The sleeper must sleep on the pool, where a free into the reserve
	 * wakes it, and not inside the cache, where that free never arrives.
	 */
	s = (struct sleeper){ .pool = pool, .gfp = GFP_KERNEL };
	CHECK_EQ(pthread_create(&t, NULL, alloc_in_thread, &s), 0);
	CHECK(wait_for_sleepers(pool, 1));
	double freed_at = now_ms();
	mempool_free(a, pool);
	pthread_join(t, NULL);
	CHECK(s.got == a); /* the cache is still at its limit: the reserve served it */
	CHECK(s.returned_at >= freed_at);

	mempool_free(s.got, pool);
	mempool_free(b, pool);
	CHECK_EQ(stats(pool).in_use, 0);
	mempool_destroy(pool);
	CHECK_EQ(cache_in_use(kc), 0);
	kmem_cache_destroy(kc);
}

/* ------------------------------------------------------------ hammering */

#define HAMMER_THREADS 6
#define HAMMER_ROUNDS  3000

struct hammer {
	mempool_t *pool;
	int waiting; /* GFP_KERNEL, one element at a time; else GFP_ATOMIC, up to 4 held */
	unsigned seed;
	atomic_int *errors;
	atomic_int *stop_resizing;
	pthread_barrier_t *start; /* all hammers begin together, so they collide */
};

static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;
	void *held[4] = { 0 };
	int n = 0;

	pthread_barrier_wait(h->start);
	for (int i = 0; i < HAMMER_ROUNDS; i++) {
		h->seed = h->seed * 1103515245u + 12345u;
		if (h->waiting) {
			void *e = mempool_alloc(h->pool, GFP_KERNEL);

			if (!e || !claim(e)) {
				atomic_fetch_add(h->errors, 1);
				continue;
			}
			if ((h->seed >> 16) % 8 == 0)
				sched_yield(); /* hold it a while: others find the pool dry */
			unclaim(e);
			mempool_free(e, h->pool);
		} else if (n < 4 && (h->seed >> 16) % 3 != 0) {
			void *e = mempool_alloc(h->pool, GFP_ATOMIC);

			if (!e)
				continue; /* dry: allowed without a waiting mask */
			if (!claim(e)) {
				atomic_fetch_add(h->errors, 1);
				continue;
			}
			held[n++] = e;
		} else if (n > 0) {
			void *e = held[--n];

			unclaim(e);
			mempool_free(e, h->pool);
		}
	}
	while (n > 0) {
		unclaim(held[--n]);
		mempool_free(held[n], h->pool);
	}
	return NULL;
}

static void *resize_thread(void *arg)
{
	struct hammer *h = arg;
	int sizes[] = { 1, 6, 2, 8, 3, 4 };

	for (int i = 0; !atomic_load(h->stop_resizing); i++) {
		if (mempool_resize(h->pool, sizes[i % 6]) != 0)
			atomic_fetch_add(h->errors, 1);
		sleep_ms(1);
	}
	return NULL;
}

static void hammer(int with_resize)
{
	struct counter c = { 0 };
	mempool_t *pool = mempool_create(2, counting_alloc, counting_free, &c);
	struct hammer h[HAMMER_THREADS + 1];
	pthread_t t[HAMMER_THREADS + 1];
	atomic_int errors = 0, stop = 0;
	pthread_barrier_t start;
	struct pktmem_stats st;

	pthread_barrier_init(&start, NULL, HAMMER_THREADS);

	CHECK(pool != NULL);
	atomic_store(&c.fail_ratio, 50); /* 49 allocator calls in 50 fail */
	for (int i = 0; i <= HAMMER_THREADS; i++) {
		h[i] = (struct hammer){ .pool = pool, .waiting = i % 2, .seed = 7u + (unsigned)i,
					.errors = &errors, .stop_resizing = &stop, .start = &start };
		if (i < HAMMER_THREADS)
			CHECK_EQ(pthread_create(&t[i], NULL, hammer_thread, &h[i]), 0);
		else if (with_resize)
			CHECK_EQ(pthread_create(&t[i], NULL, resize_thread, &h[i]), 0);
	}
	for (int i = 0; i < HAMMER_THREADS; i++)
		pthread_join(t[i], NULL);
	atomic_store(&stop, 1);
	if (with_resize)
		pthread_join(t[HAMMER_THREADS], NULL);
	pthread_barrier_destroy(&start);

	CHECK_EQ(atomic_load(&errors), 0);
	st = stats(pool);
	CHECK_EQ(st.in_use, 0);
	CHECK_EQ(st.allocs, st.frees);
	CHECK(st.allocs >= (uint64_t)HAMMER_ROUNDS * HAMMER_THREADS / 2); /* every waiting alloc succeeded */
	CHECK(st.peak >= 1);
	printf("     %s: %llu allocs, %llu denied, %llu waited, peak %llu\n",
	       with_resize ? "with resizes" : "fixed reserve", (unsigned long long)st.allocs,
	       (unsigned long long)st.denied, (unsigned long long)st.waited, (unsigned long long)st.peak);
	CHECK(st.reserve <= st.reserve_max);
	/* Everything the allocator made is either freed or resting in the reserve. */
	CHECK_EQ(atomic_load(&c.allocs) - atomic_load(&c.frees), (int)st.reserve);
	mempool_destroy(pool);
	CHECK_EQ(atomic_load(&c.frees), atomic_load(&c.allocs));
}

static void test_many_threads_small_reserve_failing_allocator(void)
{
	hammer(0);
}

static void test_many_threads_while_resizing(void)
{
	hammer(1);
}

int main(void)
{
	signal(SIGALRM, watchdog);
	diag_capture();
	RUN(test_kernel_alloc_blocks_until_free);
	RUN(test_zero_min_pool_waiter_woken_by_free);
	RUN(test_timed_retry_finds_memory_freed_elsewhere);
	RUN(test_slab_pool_waits_on_pool_at_cache_limit);
	RUN(test_many_threads_small_reserve_failing_allocator);
	RUN(test_many_threads_while_resizing);
	CHECK_EQ(diag_seen, 0);
	if (check_failed_now)
		tests_failed++;
	return test_summary();
}
