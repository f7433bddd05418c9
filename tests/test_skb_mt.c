/*
 * <pktmem/skbuff.h> across threads: clones (and their shared storage) freed
 * on another thread than the one that made them, fclone pairs whose halves
 * go on two threads in either order, and a locked queue between a producer
 * and a consumer. Storage is released exactly once, and nothing is left in
 * any cache at the end. Built for the TSan run (the _mt suffix).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include <pktmem/skbuff.h>

#include "check.h"

#define ROUNDS 2000
#define CLONES 4
#define BATCH 64

static atomic_int releases;

static void count_release(struct pktmem_ext *e, void *owner)
{
	(void)owner;
	atomic_fetch_add(&releases, 1);
	free(e->ext_buf);
}

/* An skb with 40 linear bytes and a fragment viewing a caller's buffer that counts its release. */
static struct sk_buff *counted_skb(uint32_t seq)
{
	struct sk_buff *skb = alloc_skb(64, GFP_KERNEL);
	unsigned char *buf = malloc(256);

	memset(skb_put(skb, 40), (int)(seq & 0xff), 40);
	memset(buf, (int)(~seq & 0xff), 256);
	struct pktmem_ext *e = pktmem_ext_attach(buf, 256, count_release, NULL, GFP_KERNEL);
	struct page *v = pktmem_page_view(e, buf, 256, GFP_KERNEL);

	pktmem_ext_put(e, NULL); /* the view holds it now */
	skb_add_rx_frag(skb, 0, v, 0, 256, 256);
	skb->mark = seq;
	return skb;
}

static bool counted_ok(const struct sk_buff *skb)
{
	unsigned char b[296];
	uint32_t seq = skb->mark;

	if (skb->len != 296 || skb_copy_bits(skb, 0, b, 296) != 0)
		return false;
	for (int i = 0; i < 296; i++)
		if (b[i] != (unsigned char)(i < 40 ? seq : ~seq))
			return false;
	return true;
}

/* ------------------------------------------------------------ clones freed elsewhere */

struct pipe {
	struct sk_buff_head q;
	atomic_int done;
	atomic_int bad;
};

static void *free_clones(void *arg)
{
	struct pipe *p = arg;

	for (;;) {
		struct sk_buff *skb = skb_dequeue(&p->q);

		if (!skb) {
			if (atomic_load(&p->done) && skb_queue_len(&p->q) == 0)
				break;
			sched_yield();
			continue;
		}
		if (!counted_ok(skb))
			atomic_fetch_add(&p->bad, 1);
		kfree_skb(skb);
	}
	return NULL;
}

static void test_clones_freed_on_another_thread(void)
{
	struct pipe p;
	pthread_t t;

	skb_queue_head_init(&p.q);
	atomic_store(&p.done, 0);
	atomic_store(&p.bad, 0);
	atomic_store(&releases, 0);
	pthread_create(&t, NULL, free_clones, &p);
	for (uint32_t r = 0; r < ROUNDS; r++) {
		struct sk_buff *skb = r % 2 ? alloc_skb_fclone(64, GFP_KERNEL) : NULL;

		if (skb) { /* the fclone flavour: its companion goes to the other thread */
			memset(skb_put(skb, 40), (int)(r & 0xff), 40);
			kfree_skb(skb);
		}
		skb = counted_skb(r);
		for (int c = 0; c < CLONES; c++) {
			struct sk_buff *n = skb_clone(skb, GFP_KERNEL);

			CHECK(n != NULL);
			skb_queue_tail(&p.q, n);
		}
		/* Half the time the original goes first, half the time last. */
		if (r % 2 == 0) {
			kfree_skb(skb);
		} else {
			while (skb_queue_len(&p.q) > 0)
				sched_yield();
			CHECK(counted_ok(skb));
			kfree_skb(skb);
		}
	}
	atomic_store(&p.done, 1);
	pthread_join(t, NULL);
	CHECK_EQ(atomic_load(&p.bad), 0);
	CHECK_EQ(atomic_load(&releases), ROUNDS);
	pthread_mutex_destroy(&p.q.lock);
	CHECK_EQ(cache_in_use(pktmem_skbuff_cache()), 0);
}

/* ------------------------------------------------------------ fclone pairs on two threads */

struct pairs {
	pthread_barrier_t bar;
	struct sk_buff *clone[BATCH];
	int batches;
};

/* Order per batch: 0 originals first, 1 clones first, 2 both at once. */
static void *free_companions(void *arg)
{
	struct pairs *p = arg;

	for (int b = 0; b < p->batches; b++) {
		int order = b % 3;

		pthread_barrier_wait(&p->bar); /* clones are ready */
		if (order == 0)
			pthread_barrier_wait(&p->bar); /* the originals are gone */
		for (int i = 0; i < BATCH; i++)
			kfree_skb(p->clone[i]);
		if (order == 1)
			pthread_barrier_wait(&p->bar); /* our clones are gone */
		pthread_barrier_wait(&p->bar); /* batch over */
	}
	return NULL;
}

static void test_fclone_pairs_two_threads(void)
{
	struct pairs p;
	struct sk_buff *orig[BATCH];
	pthread_t t;

	p.batches = 60;
	pthread_barrier_init(&p.bar, NULL, 2);
	pthread_create(&t, NULL, free_companions, &p);
	for (int b = 0; b < p.batches; b++) {
		int order = b % 3;

		for (int i = 0; i < BATCH; i++) {
			orig[i] = alloc_skb_fclone(200, GFP_KERNEL);
			memset(skb_put(orig[i], 100), i, 100);
			p.clone[i] = skb_clone(orig[i], GFP_KERNEL);
			CHECK(p.clone[i] == orig[i] + 1);
		}
		pthread_barrier_wait(&p.bar);
		if (order == 1)
			pthread_barrier_wait(&p.bar);
		for (int i = 0; i < BATCH; i++) {
			if (order == 1)
				CHECK(!skb_cloned(orig[i]));
			kfree_skb(orig[i]);
		}
		if (order == 0)
			pthread_barrier_wait(&p.bar);
		pthread_barrier_wait(&p.bar);
	}
	pthread_join(t, NULL);
	pthread_barrier_destroy(&p.bar);
	CHECK_EQ(cache_in_use(pktmem_skbuff_fclone_cache()), 0);
	CHECK_EQ(cache_in_use(pktmem_skb_head_cache(200)), 0);
}

/* ------------------------------------------------------------ producer and consumer */

#define QITEMS 20000

static void *consume(void *arg)
{
	struct pipe *p = arg;
	uint32_t want = 0;

	while (want < QITEMS) {
		struct sk_buff *skb = skb_dequeue(&p->q);

		if (!skb) {
			sched_yield();
			continue;
		}
		if (skb->mark != want || skb->len != 100 || skb->data[0] != (unsigned char)want ||
		    skb->data[99] != (unsigned char)want)
			atomic_fetch_add(&p->bad, 1);
		want++;
		consume_skb(skb);
	}
	return NULL;
}

static void test_queue_producer_consumer(void)
{
	struct pipe p;
	pthread_t t;

	skb_queue_head_init(&p.q);
	atomic_store(&p.bad, 0);
	pthread_create(&t, NULL, consume, &p);
	for (uint32_t i = 0; i < QITEMS; i++) {
		struct sk_buff *skb = alloc_skb(100, GFP_KERNEL);

		memset(skb_put(skb, 100), (int)(i & 0xff), 100);
		skb->mark = i;
		skb_queue_tail(&p.q, skb);
		while (skb_queue_len(&p.q) > 1000)
			sched_yield();
	}
	pthread_join(t, NULL);
	CHECK_EQ(atomic_load(&p.bad), 0);
	CHECK_EQ(skb_queue_len(&p.q), 0);
	pthread_mutex_destroy(&p.q.lock);
	CHECK_EQ(cache_in_use(pktmem_skbuff_cache()), 0);
	CHECK_EQ(cache_in_use(pktmem_skb_head_cache(100)), 0);
}

int main(void)
{
	diag_capture();
	TEST(test_clones_freed_on_another_thread);
	TEST(test_fclone_pairs_two_threads);
	TEST(test_queue_producer_consumer);
	if (pktmem_diag_count() != 0) {
		fprintf(stderr, "unexpected diagnostic: %s: %s\n", diag_last_func, diag_last_msg);
		tests_failed++;
	}
	return test_summary();
}
