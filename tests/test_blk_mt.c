/*
 * <pktmem/blkdev.h> with threads: many submitters with completions on the
 * queue's thread, synchronous I/O from several threads at once, closing a
 * queue with I/O in flight, completion routines that submit more, and the
 * allocation rule of blk_make_request(9): with a bio set whose reserve is
 * one bio and whose cache is capped, blkdev_issue_rw() moves 1 MiB and
 * reads it back, where allocating a whole chain with a waiting mask before
 * submitting it blocks (shown with a bounded wait, then released).
 *
 * Worker threads never call CHECK (the harness is single-threaded); they
 * count failures in atomics that the main thread checks. A watchdog turns
 * a hang into a failure that names the test.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <pktmem/blkdev.h>

#include "check.h"

/* ------------------------------------------------------------ helpers */

static const char *volatile current_test = "?";

static void watchdog(int sig)
{
	static const char msg[] = "test_blk_mt: watchdog: a test is stuck: ";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0 || write(2, current_test, strlen(current_test)) < 0 ||
	    write(2, "\n", 1) < 0)
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

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static char tmp_path[4096];

static int tmp_file(void)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	snprintf(tmp_path, sizeof(tmp_path), "%s/test_blk_mt.XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(tmp_path);
	if (fd < 0)
		perror("mkstemp");
	return fd;
}

static void tmp_remove(int fd)
{
	close(fd);
	unlink(tmp_path);
}

static unsigned char pattern(uint64_t o, unsigned int seed)
{
	return (unsigned char)((o * 131u) ^ (o >> 9) ^ seed);
}

static bool file_matches(uint64_t off, size_t len, unsigned int seed)
{
	unsigned char *buf = malloc(len);
	int fd = open(tmp_path, O_RDONLY);
	bool ok = buf && fd >= 0 && pread(fd, buf, len, (off_t)off) == (ssize_t)len;

	for (size_t i = 0; ok && i < len; i++)
		ok = buf[i] == pattern(off + i, seed);
	free(buf);
	if (fd >= 0)
		close(fd);
	return ok;
}

/* Sum of in_use over the block face's caches and pools (see test_blk.c). */
static int sum_blk(const struct pktmem_stats *st, void *arg)
{
	static const char *const prefixes[] = { "bio", "bvec-", "blk-request", "page-", "mempool(slab:bio",
						"mempool(slab:bvec" };
	uint64_t *sum = arg;

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		if (!strncmp(st->name, prefixes[i], strlen(prefixes[i]))) {
			*sum += st->in_use;
			break;
		}
	}
	return 0;
}

static uint64_t blk_in_use(void)
{
	uint64_t sum = 0;

	pktmem_stats_walk(sum_blk, &sum);
	return sum;
}

static struct bio_set bs;

/* The engines: the library's default (io_uring where built in) and the worker. */
static const unsigned int engines[] = { 0, BLK_QUEUE_NO_URING };
#define NR_ENGINES 2

/*
 * A bio of @np pages written with pattern(seed) (or zero for reads) for
 * @sector; its end routine is @end_io with @priv. The pages are the bio's
 * owner's: put_bio_pages() frees both.
 */
static struct bio *new_bio(enum req_op op, sector_t sector, int np, unsigned int seed, bio_end_io_t *end_io,
			   void *priv)
{
	struct bio *bio = bio_alloc_bioset((unsigned short)np, op, GFP_KERNEL, &bs);
	uint64_t o = sector << SECTOR_SHIFT;

	bio->bi_iter.bi_sector = sector;
	bio->bi_end_io = end_io;
	bio->bi_private = priv;
	for (int i = 0; i < np; i++) {
		struct page *pg = alloc_page(GFP_KERNEL);
		unsigned char *p = page_address(pg);

		for (unsigned int j = 0; j < PAGE_SIZE; j++)
			p[j] = op == REQ_OP_WRITE ? pattern(o + j, seed) : 0;
		o += PAGE_SIZE;
		bio_add_page(bio, pg, PAGE_SIZE, 0);
	}
	return bio;
}

static bool bio_matches(const struct bio *bio, unsigned int seed)
{
	uint64_t o = bio->bi_iter.bi_sector << SECTOR_SHIFT;

	for (unsigned int i = 0; i < bio->bi_vcnt; i++) {
		const unsigned char *p = page_address(bio->bi_io_vec[i].bv_page);

		for (unsigned int j = 0; j < PAGE_SIZE; j++)
			if (p[j] != pattern(o + j, seed))
				return false;
		o += PAGE_SIZE;
	}
	return true;
}

static void free_bio(struct bio *bio)
{
	for (unsigned int i = 0; i < bio->bi_vcnt; i++)
		put_page(bio->bi_io_vec[i].bv_page);
	bio_put(bio);
}

/* ------------------------------------------------------------ many submitters */

#define SUBMITTERS 4
#define PER_THREAD 96
#define SLOT_SECTORS 24 /* each request owns 12 KiB of the file */

/* Every bio records its own completions in this table: exactly one each. */
struct slot {
	atomic_int ends;
	atomic_int status;
};

struct submitter {
	struct request_queue *q;
	int id;
	enum req_op op;
	struct slot slots[PER_THREAD][3];
	atomic_int requests_done;
	atomic_int bad;           /* wrong status, wrong data, refused request */
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

struct bio_tag {
	struct submitter *s;
	struct slot *slot;
	unsigned int seed;
};

static void mt_bio_end(struct bio *bio)
{
	struct bio_tag *tag = bio->bi_private;

	atomic_store(&tag->slot->status, bio->bi_status);
	if (bio->bi_status != BLK_STS_OK || (bio_data_dir(bio) == READ && !bio_matches(bio, tag->seed)))
		atomic_fetch_add(&tag->s->bad, 1);
	atomic_fetch_add(&tag->slot->ends, 1);
	free(tag);
	free_bio(bio);
}

static void mt_rq_done(struct request *rq, blk_status_t status)
{
	struct submitter *s = rq->end_io_data;

	if (status != BLK_STS_OK)
		atomic_fetch_add(&s->bad, 1);
	blk_put_request(rq);
	pthread_mutex_lock(&s->lock);
	atomic_fetch_add(&s->requests_done, 1);
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void *submit_many(void *arg)
{
	struct submitter *s = arg;

	for (int i = 0; i < PER_THREAD; i++) {
		sector_t base = ((sector_t)s->id * PER_THREAD + (sector_t)i) * SLOT_SECTORS;
		int nbios = 1 + i % 3;
		struct bio *head = NULL, *tail = NULL;
		struct request *rq;

		for (int b = 0; b < nbios; b++) {
			struct bio_tag *tag = malloc(sizeof(*tag));
			struct bio *bio;

			tag->s = s;
			tag->slot = &s->slots[i][b];
			tag->seed = (unsigned int)s->id;
			bio = new_bio(s->op, base + (sector_t)b * 8, 1, tag->seed, mt_bio_end, tag);
			if (tail)
				tail->bi_next = bio;
			else
				head = bio;
			tail = bio;
		}
		rq = blk_make_request(s->q, head, GFP_KERNEL);
		if (IS_ERR(rq)) {
			atomic_fetch_add(&s->bad, 1);
			continue;
		}
		rq->end_io_data = s;
		blk_execute_rq_nowait(rq, i % 5 == 0, mt_rq_done);
	}
	pthread_mutex_lock(&s->lock);
	while (atomic_load(&s->requests_done) < PER_THREAD)
		pthread_cond_wait(&s->cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static void run_submitters(struct request_queue *q, enum req_op op, struct submitter *subs)
{
	pthread_t th[SUBMITTERS];

	for (int t = 0; t < SUBMITTERS; t++) {
		memset(&subs[t], 0, sizeof(subs[t]));
		subs[t].q = q;
		subs[t].id = t;
		subs[t].op = op;
		pthread_mutex_init(&subs[t].lock, NULL);
		pthread_cond_init(&subs[t].cond, NULL);
		pthread_create(&th[t], NULL, submit_many, &subs[t]);
	}
	for (int t = 0; t < SUBMITTERS; t++)
		pthread_join(th[t], NULL);
	for (int t = 0; t < SUBMITTERS; t++) {
		CHECK_EQ(atomic_load(&subs[t].bad), 0);
		CHECK_EQ(atomic_load(&subs[t].requests_done), PER_THREAD);
		for (int i = 0; i < PER_THREAD; i++)
			for (int b = 0; b < 1 + i % 3; b++) {
				CHECK_EQ(atomic_load(&subs[t].slots[i][b].ends), 1);
				CHECK_EQ(atomic_load(&subs[t].slots[i][b].status), BLK_STS_OK);
			}
		pthread_cond_destroy(&subs[t].cond);
		pthread_mutex_destroy(&subs[t].lock);
	}
}

static void test_async_many_submitters(void)
{
	static struct submitter subs[SUBMITTERS];
	uint64_t before = blk_in_use();

	for (int e = 0; e < NR_ENGINES; e++) {
		int fd = tmp_file();
		struct request_queue *q = blk_queue_open_fd(fd, engines[e]);

		CHECK(q != NULL);
		if (!q)
			continue;
		printf("     engine %s\n", blk_queue_engine(q));
		run_submitters(q, REQ_OP_WRITE, subs);
		for (int t = 0; t < SUBMITTERS; t++)
			for (int i = 0; i < PER_THREAD; i++) {
				uint64_t off = (((uint64_t)t * PER_THREAD + (uint64_t)i) * SLOT_SECTORS) << 9;

				CHECK(file_matches(off, (size_t)(1 + i % 3) * PAGE_SIZE, (unsigned int)t));
			}
		run_submitters(q, REQ_OP_READ, subs); /* the end routine compares the data */
		blk_queue_close(q);
		tmp_remove(fd);
	}
	CHECK_EQ(blk_in_use(), before);
}

/* ------------------------------------------------------------ synchronous, many threads */

struct sync_arg {
	struct request_queue *q;
	int id;
	atomic_int bad;
};

static void *sync_rounds(void *arg)
{
	struct sync_arg *a = arg;

	for (int i = 0; i < 64; i++) {
		sector_t sector = ((sector_t)a->id * 64 + (sector_t)i) * 16;
		unsigned int seed = (unsigned int)(a->id * 1000 + i);
		struct bio *w = new_bio(REQ_OP_WRITE, sector, 2, seed, NULL, NULL);
		struct bio *r = new_bio(REQ_OP_READ, sector, 2, 0, NULL, NULL);
		struct request *rq = blk_make_request(a->q, w, GFP_KERNEL);

		if (IS_ERR(rq) || blk_execute_rq(rq, false) != BLK_STS_OK)
			atomic_fetch_add(&a->bad, 1);
		if (!IS_ERR(rq))
			blk_put_request(rq);
		rq = blk_make_request(a->q, r, GFP_KERNEL);
		if (IS_ERR(rq) || blk_execute_rq(rq, false) != BLK_STS_OK || !bio_matches(r, seed))
			atomic_fetch_add(&a->bad, 1);
		if (!IS_ERR(rq))
			blk_put_request(rq);
		free_bio(w);
		free_bio(r);
	}
	return NULL;
}

static void test_sync_many_threads(void)
{
	uint64_t before = blk_in_use();

	for (int e = 0; e < NR_ENGINES; e++) {
		int fd = tmp_file();
		struct request_queue *q = blk_queue_open_fd(fd, engines[e]);
		struct sync_arg args[SUBMITTERS];
		pthread_t th[SUBMITTERS];

		for (int t = 0; t < SUBMITTERS; t++) {
			args[t].q = q;
			args[t].id = t;
			atomic_init(&args[t].bad, 0);
			pthread_create(&th[t], NULL, sync_rounds, &args[t]);
		}
		for (int t = 0; t < SUBMITTERS; t++) {
			pthread_join(th[t], NULL);
			CHECK_EQ(atomic_load(&args[t].bad), 0);
		}
		blk_queue_close(q);
		tmp_remove(fd);
	}
	CHECK_EQ(blk_in_use(), before);
}

/* ------------------------------------------------------------ closing */

struct counter {
	atomic_int bios, requests, bad;
	struct request_queue *q;
	unsigned int seed;
};

static void count_bio_end(struct bio *bio)
{
	struct counter *c = bio->bi_private;

	if (bio->bi_status != BLK_STS_OK)
		atomic_fetch_add(&c->bad, 1);
	atomic_fetch_add(&c->bios, 1);
	free_bio(bio);
}

static void count_rq_done(struct request *rq, blk_status_t status)
{
	struct counter *c = rq->end_io_data;

	if (status != BLK_STS_OK)
		atomic_fetch_add(&c->bad, 1);
	atomic_fetch_add(&c->requests, 1);
	blk_put_request(rq);
}

/* Close right after submitting: every request completes before close returns. */
static void test_close_with_io_in_flight(void)
{
	uint64_t before = blk_in_use();

	for (int e = 0; e < NR_ENGINES; e++) {
		int fd = tmp_file();
		struct request_queue *q = blk_queue_open_fd(fd, engines[e]);
		struct counter c = { 0 };

		for (int i = 0; i < 200; i++) {
			struct bio *bio = new_bio(REQ_OP_WRITE, (sector_t)i * 8, 1, 11, count_bio_end, &c);
			struct request *rq = blk_make_request(q, bio, GFP_KERNEL);

			rq->end_io_data = &c;
			blk_execute_rq_nowait(rq, false, count_rq_done);
		}
		blk_queue_close(q);
		CHECK_EQ(atomic_load(&c.bios), 200);
		CHECK_EQ(atomic_load(&c.requests), 200);
		CHECK_EQ(atomic_load(&c.bad), 0);
		CHECK(file_matches(0, 200 * PAGE_SIZE, 11));
		tmp_remove(fd);
	}
	CHECK_EQ(blk_in_use(), before);
}

/*
 * Completion routines that submit more: each write's routine reads the
 * same range back; close waits for the follow-ups too.
 */
static void verify_read_end(struct bio *bio)
{
	struct counter *c = bio->bi_private;

	if (bio->bi_status != BLK_STS_OK || !bio_matches(bio, c->seed))
		atomic_fetch_add(&c->bad, 1);
	atomic_fetch_add(&c->bios, 1);
	free_bio(bio);
}

static void write_then_read_end(struct bio *bio)
{
	struct counter *c = bio->bi_private;
	struct bio *r = new_bio(REQ_OP_READ, bio->bi_iter.bi_sector, (int)bio->bi_vcnt, 0, verify_read_end, c);
	struct request *rq = blk_make_request(c->q, r, GFP_NOIO);

	if (bio->bi_status != BLK_STS_OK)
		atomic_fetch_add(&c->bad, 1);
	free_bio(bio);
	if (IS_ERR(rq)) {
		atomic_fetch_add(&c->bad, 1);
		free_bio(r);
		return;
	}
	blk_execute_rq_nowait(rq, true, NULL);
}

static atomic_int nested_result = -1, forbidden_result = 1;

/*
 * A completion routine may execute a request synchronously (it runs right
 * there), but must not wait for the queue's own completions: closing the
 * queue or blkdev_issue_rw() on it are refused.
 */
static void nested_end(struct bio *bio)
{
	struct counter *c = bio->bi_private;
	struct bio *r = new_bio(REQ_OP_READ, bio->bi_iter.bi_sector, 1, 0, NULL, NULL);
	struct request *rq = blk_make_request(c->q, r, GFP_NOIO);
	char buf[4096];

	atomic_store(&nested_result, blk_execute_rq(rq, false) == BLK_STS_OK && bio_matches(r, c->seed));
	blk_put_request(rq);
	free_bio(r);
	atomic_store(&forbidden_result, blkdev_issue_rw(c->q, REQ_OP_READ, 0, buf, sizeof(buf), GFP_NOIO, &bs));
	blk_queue_close(c->q);
	atomic_fetch_add(&c->bios, 1);
	free_bio(bio);
}

static void test_completion_submits_more(void)
{
	uint64_t before = blk_in_use();

	for (int e = 0; e < NR_ENGINES; e++) {
		int fd = tmp_file();
		struct request_queue *q = blk_queue_open_fd(fd, engines[e]);
		struct counter c = { 0 };
		unsigned long diags = diag_seen;

		c.q = q;
		c.seed = 21;
		for (int i = 0; i < 50; i++) {
			struct bio *bio = new_bio(REQ_OP_WRITE, (sector_t)i * 16, 2, 21, write_then_read_end, &c);

			blk_execute_rq_nowait(blk_make_request(q, bio, GFP_KERNEL), false, NULL);
		}
		{
			struct bio *bio = new_bio(REQ_OP_WRITE, 2000, 1, 21, nested_end, &c);

			blk_execute_rq_nowait(blk_make_request(q, bio, GFP_KERNEL), false, NULL);
		}
		blk_queue_close(q);
		CHECK_EQ(atomic_load(&c.bios), 51);
		CHECK_EQ(atomic_load(&c.bad), 0);
		CHECK_EQ(atomic_load(&nested_result), 1);
		CHECK_EQ(atomic_load(&forbidden_result), -EDEADLK);
		CHECK_EQ(diag_seen, diags + 2);
		tmp_remove(fd);
	}
	CHECK_EQ(blk_in_use(), before);
}

/* ------------------------------------------------------------ the allocation rule */

/*
 * The tight set: a reserve of one bio, and its cache capped at two bios in
 * all (the reserve's included). A 1 MiB I/O at 64 KiB per bio needs 16.
 */
#define TIGHT_LIMIT 2

static void test_issue_rw_tight_set(void)
{
	uint64_t before = blk_in_use();

	for (int e = 0; e < NR_ENGINES; e++) {
		struct bio_set tight;
		struct pktmem_stats st;
		int fd = tmp_file();
		struct request_queue *q = blk_queue_open_fd(fd, engines[e]);
		size_t len = 1 << 20;
		char *buf = malloc(len), *back = malloc(len);

		CHECK_EQ(bioset_init(&tight, 1, 0, BIOSET_NEED_BVECS), 0);
		kmem_cache_set_limit(tight.bio_slab, TIGHT_LIMIT);
		for (size_t i = 0; i < len; i++)
			buf[i] = (char)pattern(i, 33);

		CHECK_EQ(blkdev_issue_rw(q, REQ_OP_WRITE, 0, buf, len, GFP_KERNEL, &tight), 0);
		CHECK(file_matches(0, len, 33));
		memset(back, 0, len);
		CHECK_EQ(blkdev_issue_rw(q, REQ_OP_READ, 0, back, len, GFP_KERNEL, &tight), 0);
		CHECK(memcmp(buf, back, len) == 0);

		mempool_stats(&tight.bio_pool, &st);
		printf("     engine %s: %llu bios, %llu waits on the reserve, %llu non-waiting refusals\n",
		       blk_queue_engine(q), (unsigned long long)st.allocs, (unsigned long long)st.waited,
		       (unsigned long long)st.denied);
		CHECK_EQ(st.allocs, 32);   /* 16 bios each way */
		CHECK_EQ(st.in_use, 0);
		CHECK(st.denied > 0);      /* chains were cut where a bio could not be had */
		CHECK(st.peak <= TIGHT_LIMIT);

		kmem_cache_set_limit(tight.bio_slab, 0);
		bioset_exit(&tight);
		blk_queue_close(q);
		free(buf);
		free(back);
		tmp_remove(fd);
	}
	CHECK_EQ(blk_in_use(), before);
}

/* The naive way: allocate a whole 16-bio chain with GFP_KERNEL before submitting any of it. */
struct naive {
	struct bio_set *set;
	struct bio *bios[16];
	atomic_int got;
	atomic_int done;
};

static void *naive_chain(void *arg)
{
	struct naive *n = arg;

	for (int i = 0; i < 16; i++) {
		n->bios[i] = bio_alloc_bioset(16, REQ_OP_WRITE, GFP_KERNEL, n->set);
		atomic_fetch_add(&n->got, 1);
	}
	for (int i = 0; i < 16; i++)
		bio_put(n->bios[i]);
	atomic_store(&n->done, 1);
	return NULL;
}

static void test_naive_chain_allocation_blocks(void)
{
	uint64_t before = blk_in_use();
	struct bio_set tight;
	struct naive n;
	pthread_t th;
	struct pktmem_stats st;

	memset(&n, 0, sizeof(n));
	CHECK_EQ(bioset_init(&tight, 1, 0, BIOSET_NEED_BVECS), 0);
	kmem_cache_set_limit(tight.bio_slab, TIGHT_LIMIT);
	n.set = &tight;
	pthread_create(&th, NULL, naive_chain, &n);

	/* Bounded wait: 200 ms later it still holds TIGHT_LIMIT bios and sleeps for the next. */
	sleep_ms(200);
	CHECK_EQ(atomic_load(&n.got), TIGHT_LIMIT);
	CHECK_EQ(atomic_load(&n.done), 0);
	mempool_stats(&tight.bio_pool, &st);
	CHECK(st.waited >= 1);
	printf("     after 200 ms: %d of 16 bios, still waiting: nothing it holds was submitted\n",
	       atomic_load(&n.got));

	/* Release it: lift the cap; the pool's timed retry finds memory. */
	kmem_cache_set_limit(tight.bio_slab, 0);
	pthread_join(th, NULL);
	CHECK_EQ(atomic_load(&n.got), 16);
	CHECK_EQ(atomic_load(&n.done), 1);
	mempool_stats(&tight.bio_pool, &st);
	CHECK_EQ(st.in_use, 0);
	bioset_exit(&tight);
	CHECK_EQ(blk_in_use(), before);
}

int main(void)
{
	signal(SIGALRM, watchdog);
	diag_capture();
	if (bioset_init(&bs, 16, 0, BIOSET_NEED_BVECS)) {
		fprintf(stderr, "bioset_init failed\n");
		return 1;
	}
	RUN(test_async_many_submitters);
	RUN(test_sync_many_threads);
	RUN(test_close_with_io_in_flight);
	RUN(test_completion_submits_more);
	RUN(test_issue_rw_tight_set);
	RUN(test_naive_chain_allocation_blocks);
	bioset_exit(&bs);
	return test_summary();
}
