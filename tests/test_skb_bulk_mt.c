/*
 * Bulk sk_buffs across threads: thread A allocates bursts with
 * alloc_skb_bulk(GFP_KERNEL) under a limit on the sk_buff cache (so that it
 * waits for thread B's frees), writes them and hands them over; thread B
 * checks the bytes and frees them with kfree_skb_bulk() or kfree_skb_list().
 * Some bursts carry a clone whose original A drops at the same time, so a
 * shared head is let go on two threads. Two threads making requests of
 * more than a burst wait at a limit without blocking each other. Nothing is
 * left in use at the end.
 * Built for the TSan run (the _mt suffix).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <pktmem/skbuff.h>
#include <pktmem/slab.h>

#include "check.h"

#define ROUNDS 400
#define BURST 32
#define SLOTS 4

struct burst {
	struct sk_buff *skb[BURST + 1]; /* + a clone, some rounds */
	int n;
	uint32_t seq;
};

struct ring {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct burst slot[SLOTS];
	unsigned head, tail; /* under lock */
	atomic_int bad;
};

static void ring_put(struct ring *r, const struct burst *b)
{
	pthread_mutex_lock(&r->lock);
	while (r->tail - r->head == SLOTS)
		pthread_cond_wait(&r->cond, &r->lock);
	r->slot[r->tail % SLOTS] = *b;
	r->tail++;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static void ring_get(struct ring *r, struct burst *b)
{
	pthread_mutex_lock(&r->lock);
	while (r->tail == r->head)
		pthread_cond_wait(&r->cond, &r->lock);
	*b = r->slot[r->head % SLOTS];
	r->head++;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static bool burst_ok(const struct burst *b)
{
	for (int i = 0; i < b->n; i++) {
		const struct sk_buff *skb = b->skb[i];
		uint8_t want = (uint8_t)(b->seq + (uint32_t)(i % BURST));

		if (skb->len != 1500)
			return false;
		for (unsigned j = 0; j < 1500; j += 97)
			if (skb->data[j] != want)
				return false;
	}
	return true;
}

static void *consumer(void *arg)
{
	struct ring *r = arg;
	struct burst b;

	for (int round = 0; round < ROUNDS; round++) {
		ring_get(r, &b);
		if (!burst_ok(&b))
			atomic_fetch_add(&r->bad, 1);
		if (round % 2 == 0) {
			kfree_skb_bulk(b.skb, b.n);
		} else {
			struct sk_buff *list = NULL;

			for (int i = b.n - 1; i >= 0; i--) {
				b.skb[i]->next = list;
				list = b.skb[i];
			}
			kfree_skb_list(list);
		}
	}
	return NULL;
}

static void test_alloc_here_free_there(void)
{
	struct kmem_cache *sc = pktmem_skbuff_cache();
	unsigned long long before = all_in_use();
	struct ring r = { .head = 0, .tail = 0 };
	pthread_t t;

	pthread_mutex_init(&r.lock, NULL);
	pthread_cond_init(&r.cond, NULL);
	atomic_store(&r.bad, 0);
	/* Two bursts' worth: A waits for B's frees whenever it runs ahead. */
	CHECK_EQ(kmem_cache_set_limit(sc, cache_in_use(sc) + 2 * BURST + 2), 0);
	pthread_create(&t, NULL, consumer, &r);
	for (int round = 0; round < ROUNDS; round++) {
		struct burst b = { .n = BURST, .seq = (uint32_t)round };

		CHECK_EQ(alloc_skb_bulk(b.skb, BURST, 1500, GFP_KERNEL), BURST);
		for (int i = 0; i < BURST; i++)
			memset(skb_put(b.skb[i], 1500), (uint8_t)(b.seq + (uint32_t)i), 1500);

		struct sk_buff *orig = NULL;

		if (round % 4 == 1) {
			/* B frees the clone while A frees the original: the head goes once. */
			orig = b.skb[0];
			b.skb[0] = skb_clone(orig, GFP_KERNEL);
			CHECK(b.skb[0] != NULL);
		}
		ring_put(&r, &b);
		kfree_skb(orig);
	}
	pthread_join(t, NULL);

	struct pktmem_stats st;

	kmem_cache_stats(sc, &st);
	printf("     the producer waited at the limit %llu times\n", (unsigned long long)st.waited);
	CHECK_EQ(atomic_load(&r.bad), 0);
	CHECK_EQ(kmem_cache_set_limit(sc, 0), 0);
	pthread_cond_destroy(&r.cond);
	pthread_mutex_destroy(&r.lock);
	CHECK_EQ(all_in_use(), before);
	CHECK_EQ(diag_seen, 0);
}

/*
 * Two threads allocating 40 at a time (more than one burst) under a limit
 * of 64: each call takes its whole request at once or waits holding
 * nothing, so neither can sit on half a request waiting for the other's.
 */
#define BIG 40

static void *big_requests(void *arg)
{
	atomic_int *bad = arg;
	struct sk_buff *skbs[BIG];

	for (int round = 0; round < ROUNDS; round++) {
		if (alloc_skb_bulk(skbs, BIG, 1500, GFP_KERNEL) != BIG) {
			atomic_fetch_add(bad, 1);
			continue;
		}
		for (int i = 0; i < BIG; i++)
			memset(skb_put(skbs[i], 64), round & 0xff, 64);
		kfree_skb_bulk(skbs, BIG);
	}
	return NULL;
}

static void test_two_waiters_at_a_limit(void)
{
	struct kmem_cache *sc = pktmem_skbuff_cache();
	unsigned long long before = all_in_use();
	atomic_int bad;
	pthread_t t[2];

	atomic_store(&bad, 0);
	CHECK_EQ(kmem_cache_set_limit(sc, cache_in_use(sc) + 64), 0);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, big_requests, &bad);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ(atomic_load(&bad), 0);
	CHECK_EQ(kmem_cache_set_limit(sc, 0), 0);
	CHECK_EQ(all_in_use(), before);
	CHECK_EQ(diag_seen, 0);
}

int main(void)
{
	diag_capture();
	kfree_skb(alloc_skb(10, GFP_KERNEL));
	TEST(test_alloc_here_free_there);
	TEST(test_two_waiters_at_a_limit);
	return test_summary();
}
