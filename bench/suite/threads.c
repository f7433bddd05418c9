/*
 * threads.c — the second CPU: a persistent pinned worker thread, the SPSC
 * ring every cross-thread row uses (pktmem, glibc and DPDK alike), and the
 * pair runner of the scaling rows.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "suite.h"

int cpu_main = -1, cpu_other = -1;

/* ---------------------------------------------------------------- worker */

/*
 * One worker thread, pinned to cpu_other, started on first use. It sleeps
 * on a condition variable between jobs; the mutex guards job and done.
 */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool started;
	int (*job)(void *);
	void *arg;
	bool done;
} worker = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static void *worker_main(void *unused)
{
	(void)unused;
	if (cpu_other >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu_other, &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	pthread_mutex_lock(&worker.lock);
	for (;;) {
		while (!worker.job)
			pthread_cond_wait(&worker.cond, &worker.lock);
		int (*fn)(void *) = worker.job;
		void *arg = worker.arg;

		pthread_mutex_unlock(&worker.lock);
		fn(arg);
		pthread_mutex_lock(&worker.lock);
		worker.job = NULL;
		worker.done = true;
		pthread_cond_broadcast(&worker.cond);
	}
	return NULL;
}

static void worker_launch(int (*fn)(void *), void *arg)
{
	pthread_mutex_lock(&worker.lock);
	if (!worker.started) {
		if (pthread_create(&worker.thread, NULL, worker_main, NULL))
			die("pthread_create", "worker");
		pthread_detach(worker.thread);
		worker.started = true;
	}
	worker.job = fn;
	worker.arg = arg;
	worker.done = false;
	pthread_cond_broadcast(&worker.cond);
	pthread_mutex_unlock(&worker.lock);
}

static void worker_wait(void)
{
	pthread_mutex_lock(&worker.lock);
	while (!worker.done)
		pthread_cond_wait(&worker.cond, &worker.lock);
	pthread_mutex_unlock(&worker.lock);
}

const struct runner pthread_runner = { "pthread", worker_launch, worker_wait };

/* ---------------------------------------------------------------- ring */

#define RING_SLOTS 1024 /* a power of two, a multiple of BURST */

/*
 * Wait a little. After a while, yield: on a shared machine the other
 * thread may have lost its CPU, and spinning would only keep it off.
 */
static inline void spin(unsigned *n)
{
	if (++*n < 128) {
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	} else {
		*n = 0;
		sched_yield();
	}
}

struct xring {
	_Alignas(64) _Atomic uint64_t head; /* written by the allocating thread */
	_Alignas(64) _Atomic uint64_t tail; /* written by the freeing thread */
	_Alignas(64) void *slot[RING_SLOTS];
	const struct xfer *x;
	uint64_t end; /* objects to pass in all */
	uint64_t t1;  /* when the last burst was freed */
};

static int xring_consumer(void *arg)
{
	struct xring *r = arg;
	const struct xfer *x = r->x;
	uint64_t tail = 0;

	while (tail < r->end) {
		/* Bursts are published whole and never straddle the ring's end. */
		unsigned n = 0;

		while (atomic_load_explicit(&r->head, memory_order_acquire) == tail)
			spin(&n);
		x->free(x->ctx, &r->slot[tail & (RING_SLOTS - 1)], BURST);
		tail += BURST;
		atomic_store_explicit(&r->tail, tail, memory_order_release);
	}
	r->t1 = now_ns();
	return 0;
}

uint64_t xring_run(const struct xfer *x, uint64_t bursts, const struct runner *run)
{
	static struct xring r; /* 8 KiB: off the stack; one run at a time */
	uint64_t warm = bursts / 16 + 8, head = 0, t0 = 0;
	unsigned n = 0;

	memset(&r, 0, sizeof(r));
	r.x = x;
	r.end = (warm + bursts) * BURST;
	run->launch(xring_consumer, &r);
	for (uint64_t b = 0; b < warm + bursts; b++) {
		void **slot = &r.slot[head & (RING_SLOTS - 1)];

		if (b == warm)
			t0 = now_ns();
		while (head - atomic_load_explicit(&r.tail, memory_order_acquire) > RING_SLOTS - BURST)
			spin(&n);
		x->alloc(x->ctx, slot, BURST); /* it writes each buffer's first data byte */
		head += BURST;
		atomic_store_explicit(&r.head, head, memory_order_release);
	}
	run->wait();
	return r.t1 - t0;
}

/* ---------------------------------------------------------------- pair */

struct pair {
	uint64_t (*single)(void *, uint64_t);
	void *ctx;
	uint64_t iters;
	_Atomic int ready;
};

static int pair_other(void *arg)
{
	struct pair *p = arg;
	unsigned n = 0;

	atomic_fetch_add(&p->ready, 1);
	while (atomic_load(&p->ready) < 2)
		spin(&n);
	p->single(p->ctx, p->iters);
	return 0;
}

uint64_t pair_run(uint64_t (*single)(void *, uint64_t), void *ctx, uint64_t iters, const struct runner *run)
{
	struct pair p = { single, ctx, iters, 0 };
	uint64_t t0;
	unsigned n = 0;

	run->launch(pair_other, &p);
	while (atomic_load(&p.ready) < 1)
		spin(&n);
	t0 = now_ns();
	atomic_fetch_add(&p.ready, 1);
	single(ctx, iters);
	run->wait();
	return now_ns() - t0;
}
