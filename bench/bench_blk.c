/*
 * bench_blk — block I/O through a pktmem request queue beside plain
 * pread/pwrite of the same pattern on the same file, same run.
 *
 *   cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release
 *   cmake --build build-bench --target bench_blk
 *   build-bench/bench_blk [--quick] [--reps N] [--ms T] [--filter STR]
 *                         [--direct] [--engine worker|io_uring|both]
 *                         [--json[=FILE]] [--list]
 *
 * Medians over several processes: bench/run.sh -b build-bench/bench_blk
 * (run.sh's heading says "bench_mem" and its columns "glibc"; for this
 * program that column is the plain pread/pwrite side).
 *
 * The file: 64 MiB in $TMPDIR (or /tmp), created and written in full
 * before anything is timed, then removed at exit. By default both sides go
 * through the page cache, which is warm (the whole file was just written
 * and read): the figures are the software cost of each path, not the
 * disk's. With --direct both sides open the file with O_DIRECT (the plain
 * side with page-aligned buffers), so both go to the device.
 *
 * Workloads, pktmem side vs plain side (what one operation is):
 *   rd4k_sync     bio_alloc(1) + bio_add_page + blk_make_request +
 *                 blk_execute_rq + blk_put_request + bio_put: one 4 KiB
 *                 read at a random 4 KiB-aligned offset
 *                 vs pread of 4 KiB at the same offsets (same sequence)
 *   wr128k_sync   one 128 KiB sequential write (a bio of 32 pages) through
 *                 the queue vs pwrite of 128 KiB at the same offsets
 *   rd4k_qd16_ur  the 4 KiB reads with blk_execute_rq_nowait, 16 in flight
 *   rd4k_qd16_wk  (a completion routine refills), on the io_uring engine
 *                 (when the library was built with liburing and the kernel
 *                 allows it) and on the worker engine, vs the same pread
 *                 loop, one at a time
 *   bio_alloc     bio_alloc(1 vec) + bio_put vs malloc + free of the same
 *                 size: ns per bio (kop/s = thousands of bios per second)
 * blk_execute_rq() issues on the calling thread whatever the engine, so
 * the synchronous rows have one row each; --engine picks the queued rows.
 *
 * Method (as bench_mem): each workload calibrates an iteration count per
 * side so that one repetition takes about --ms milliseconds (default 50),
 * after warming up. Then --reps repetitions (default 7), alternating the
 * sides and swapping which goes first each time, timed with
 * CLOCK_MONOTONIC. It reports the median ns per operation of each side and
 * the ratio pktmem/plain of the medians: below 1 the queue is faster.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pktmem/blkdev.h>
#include <pktmem/pktmem.h>

#include "bench_harness.h"

#define FILE_SIZE (64u << 20)
#define QD 16
#define WR_PAGES 32 /* 128 KiB */

/* ---------------------------------------------------------------- helpers */

static void fail(const char *what)
{
	fprintf(stderr, "bench_blk: %s failed: %s\n", what, strerror(errno));
	exit(1);
}

/* xorshift64: the same offset sequence on both sides of a repetition. */
static inline uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static inline off_t rand_block(uint64_t *s)
{
	return (off_t)(next_rand(s) % (FILE_SIZE / 4096)) * 4096;
}

/* ---------------------------------------------------------------- options */

static struct {
	bool direct;
	bool want_uring, want_worker;
} blk_opt = { false, true, true };

/* ---------------------------------------------------------------- the file */

static char path[4096];
static int plain_fd = -1;                 /* the plain side's descriptor */
static struct request_queue *queues[2];   /* [0] io_uring, [1] worker */

static void cleanup(void)
{
	for (int i = 0; i < 2; i++)
		blk_queue_close(queues[i]);
	if (plain_fd >= 0)
		close(plain_fd);
	if (path[0])
		unlink(path);
}

static void make_file(void)
{
	const char *dir = getenv("TMPDIR");
	char *buf;
	int fd;

	snprintf(path, sizeof(path), "%s/bench_blk.XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		fail("mkstemp");
	if (posix_memalign((void **)&buf, 4096, 1 << 20))
		fail("posix_memalign");
	for (unsigned int i = 0; i < (1u << 20); i++)
		buf[i] = (char)(i * 7);
	for (unsigned int off = 0; off < FILE_SIZE; off += 1u << 20)
		if (pwrite(fd, buf, 1 << 20, off) != 1 << 20)
			fail("pwrite (setup)");
	fsync(fd);
	for (unsigned int off = 0; off < FILE_SIZE; off += 1u << 20) /* warm the cache */
		if (pread(fd, buf, 1 << 20, off) != 1 << 20)
			fail("pread (setup)");
	free(buf);
	close(fd);
	plain_fd = open(path, O_RDWR | (blk_opt.direct ? O_DIRECT : 0));
	if (plain_fd < 0)
		fail("open (plain side)");
}

static struct request_queue *open_queue(unsigned int flags)
{
	int fd = open(path, O_RDWR | O_CLOEXEC | (blk_opt.direct ? O_DIRECT : 0));
	struct request_queue *q;

	if (fd < 0)
		fail("open (queue)");
	q = blk_queue_open_fd(fd, flags | BLK_QUEUE_OWN_FD);
	if (!q)
		fail("blk_queue_open_fd");
	return q;
}

/* ---------------------------------------------------------------- sides */

/* A side's ctx. Each op performs @iters operations and returns the nanoseconds they took. */
struct fixture {
	struct request_queue *q; /* pktmem side */
	struct page *pages[WR_PAGES]; /* pktmem side */
	char *buf;               /* plain side: 128 KiB, page-aligned */
	off_t wpos;
};

/* --- 4 KiB random reads */

static uint64_t q_read4k(struct bench_side *s, uint64_t iters)
{
	struct fixture *f = s->ctx;
	uint64_t seed = s->seed, t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		struct bio *bio = bio_alloc(1, REQ_OP_READ, GFP_KERNEL);
		struct request *rq;

		bio->bi_iter.bi_sector = (sector_t)rand_block(&seed) >> SECTOR_SHIFT;
		bio_add_page(bio, f->pages[0], 4096, 0);
		rq = blk_make_request(f->q, bio, GFP_KERNEL);
		if (IS_ERR(rq) || blk_execute_rq(rq, false) != BLK_STS_OK)
			fail("queue read");
		blk_put_request(rq);
		bio_put(bio);
	}
	return now_ns() - t0;
}

static uint64_t plain_read4k(struct bench_side *s, uint64_t iters)
{
	struct fixture *f = s->ctx;
	uint64_t seed = s->seed, t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++)
		if (pread(plain_fd, f->buf, 4096, rand_block(&seed)) != 4096)
			fail("pread");
	escape(f->buf);
	return now_ns() - t0;
}

/* --- the same reads, 16 in flight */

struct qd_state {
	struct request_queue *q;
	uint64_t seed;
	uint64_t issued, target;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t completed;      /* slots whose chain of reads has ended */
	atomic_int failed;
};

/*
 * Take the next read, if any is left: count it and draw its offset in one
 * critical section, so that exactly @target reads are issued (a straggler
 * past the target would outlive the run's state) and the offsets are the
 * plain side's sequence whatever the completion order.
 */
static bool qd_take(struct qd_state *st, sector_t *sector)
{
	bool take;

	pthread_mutex_lock(&st->lock);
	take = st->issued < st->target;
	if (take) {
		st->issued++;
		*sector = (sector_t)rand_block(&st->seed) >> SECTOR_SHIFT;
	}
	pthread_mutex_unlock(&st->lock);
	return take;
}

static void qd_bio_end(struct bio *bio)
{
	if (bio->bi_status != BLK_STS_OK)
		atomic_store(&((struct qd_state *)bio->bi_private)->failed, 1);
}

static void qd_rq_done(struct request *rq, blk_status_t status);

static void qd_issue(struct qd_state *st, struct page *pg, sector_t sector)
{
	struct bio *bio = bio_alloc(1, REQ_OP_READ, GFP_NOIO);
	struct request *rq;

	bio->bi_iter.bi_sector = sector;
	bio->bi_private = st;
	bio->bi_end_io = qd_bio_end;
	bio_add_page(bio, pg, 4096, 0);
	rq = blk_make_request(st->q, bio, GFP_NOIO);
	if (IS_ERR(rq))
		fail("blk_make_request");
	rq->end_io_data = st;
	rq->rq_private = bio;
	blk_execute_rq_nowait(rq, false, qd_rq_done);
}

/* A request is done: refill its slot with the next read, or say that all are done. */
static void qd_rq_done(struct request *rq, blk_status_t status)
{
	struct qd_state *st = rq->end_io_data;
	struct bio *bio = rq->rq_private;
	struct page *pg = bio->bi_io_vec[0].bv_page;
	sector_t sector;

	(void)status;
	blk_put_request(rq);
	bio_put(bio);
	if (qd_take(st, &sector)) {
		qd_issue(st, pg, sector);
	} else {
		pthread_mutex_lock(&st->lock);
		st->completed++; /* counted only once nothing more will be issued from here */
		pthread_cond_signal(&st->cond);
		pthread_mutex_unlock(&st->lock);
	}
}

static uint64_t q_read4k_qd(struct bench_side *s, uint64_t iters)
{
	struct fixture *f = s->ctx;
	struct qd_state st;
	sector_t sector;
	uint64_t t0, t1;
	int slots = 0;

	memset(&st, 0, sizeof(st));
	st.q = f->q;
	st.seed = s->seed;
	st.target = iters;
	pthread_mutex_init(&st.lock, NULL);
	pthread_cond_init(&st.cond, NULL);
	t0 = now_ns();
	while (slots < QD && qd_take(&st, &sector))
		qd_issue(&st, f->pages[slots++], sector);
	/* Each slot ends (completed++) when its last read finds nothing left to take. */
	pthread_mutex_lock(&st.lock);
	while (st.completed < (uint64_t)slots)
		pthread_cond_wait(&st.cond, &st.lock);
	pthread_mutex_unlock(&st.lock);
	t1 = now_ns();
	if (atomic_load(&st.failed))
		fail("queued read");
	pthread_cond_destroy(&st.cond);
	pthread_mutex_destroy(&st.lock);
	return t1 - t0;
}

/* --- 128 KiB sequential writes */

static uint64_t q_write128k(struct bench_side *s, uint64_t iters)
{
	struct fixture *f = s->ctx;
	off_t pos = f->wpos;
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		struct bio *bio = bio_alloc(WR_PAGES, REQ_OP_WRITE, GFP_KERNEL);
		struct request *rq;

		bio->bi_iter.bi_sector = (sector_t)pos >> SECTOR_SHIFT;
		for (int p = 0; p < WR_PAGES; p++)
			bio_add_page(bio, f->pages[p], PAGE_SIZE, 0);
		rq = blk_make_request(f->q, bio, GFP_KERNEL);
		if (IS_ERR(rq) || blk_execute_rq(rq, false) != BLK_STS_OK)
			fail("queue write");
		blk_put_request(rq);
		bio_put(bio);
		pos = (pos + WR_PAGES * PAGE_SIZE) % FILE_SIZE;
	}
	f->wpos = pos;
	return now_ns() - t0;
}

static uint64_t plain_write128k(struct bench_side *s, uint64_t iters)
{
	struct fixture *f = s->ctx;
	off_t pos = f->wpos;
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		if (pwrite(plain_fd, f->buf, WR_PAGES * PAGE_SIZE, pos) != (ssize_t)(WR_PAGES * PAGE_SIZE))
			fail("pwrite");
		pos = (pos + WR_PAGES * PAGE_SIZE) % FILE_SIZE;
	}
	f->wpos = pos;
	return now_ns() - t0;
}

/* --- bio allocation */

static uint64_t q_bio_alloc(struct bench_side *s, uint64_t iters)
{
	uint64_t t0 = now_ns();

	(void)s;
	for (uint64_t i = 0; i < iters; i++) {
		struct bio *bio = bio_alloc(1, REQ_OP_READ, GFP_KERNEL);

		if (__builtin_expect(!bio, 0))
			fail("bio_alloc");
		bio->bi_iter.bi_sector = i;
		escape(bio);
		bio_put(bio);
	}
	return now_ns() - t0;
}

static uint64_t plain_bio_alloc(struct bench_side *s, uint64_t iters)
{
	size_t size = sizeof(struct bio) + BIO_INLINE_VECS * sizeof(struct bio_vec);
	uint64_t t0 = now_ns();

	(void)s;
	for (uint64_t i = 0; i < iters; i++) {
		struct bio *bio = malloc(size);

		if (__builtin_expect(!bio, 0))
			fail("malloc");
		memset(bio, 0, sizeof(*bio)); /* bio_alloc initialises its fields too */
		bio->bi_iter.bi_sector = i;
		escape(bio);
		free(bio);
	}
	return now_ns() - t0;
}

/* ---------------------------------------------------------------- workloads */

static struct bench_workload workloads[16];

static void add_workload(struct bench *b, const char *id, bench_op pk_run, bench_op plain_run, int engine, size_t size,
			 const char *what)
{
	struct bench_workload *w = &workloads[b->nr_workloads++];

	w->id = id;
	w->pk_run = pk_run;
	w->peer_run = plain_run;
	w->arg = engine; /* index into queues[], or -1 */
	w->size = size;
	w->what = what;
}

static void build_workloads(struct bench *b, bool have_uring)
{
	/* Synchronous requests are issued on the caller's thread whatever the engine: one row each. */
	add_workload(b, "rd4k_sync", q_read4k, plain_read4k, 1, 4096, "4 KiB random read, blk_execute_rq vs pread");
	add_workload(b, "wr128k_sync", q_write128k, plain_write128k, 1, 128 * 1024,
		     "128 KiB sequential write, blk_execute_rq vs pwrite");
	if (blk_opt.want_uring && have_uring)
		add_workload(b, "rd4k_qd16_ur", q_read4k_qd, plain_read4k, 0, 4096,
			     "4 KiB random read, 16 in flight (io_uring) vs pread");
	if (blk_opt.want_worker)
		add_workload(b, "rd4k_qd16_wk", q_read4k_qd, plain_read4k, 1, 4096,
			     "4 KiB random read, 16 in flight (worker) vs pread");
	add_workload(b, "bio_alloc", q_bio_alloc, plain_bio_alloc, -1,
		     sizeof(struct bio) + BIO_INLINE_VECS * sizeof(struct bio_vec), "bio_alloc(1)+bio_put vs malloc+free");
}

static struct fixture fixtures[2]; /* [0] pktmem, [1] plain */

static void setup(struct bench_workload *w, struct bench_side *pk, struct bench_side *pl)
{
	struct fixture *fpk = &fixtures[0], *fpl = &fixtures[1];

	memset(fixtures, 0, sizeof(fixtures));
	pk->ctx = fpk;
	pl->ctx = fpl;
	fpk->q = w->arg >= 0 ? queues[w->arg] : NULL;
	if (posix_memalign((void **)&fpl->buf, 4096, WR_PAGES * PAGE_SIZE))
		fail("posix_memalign");
	memset(fpl->buf, 0x5a, WR_PAGES * PAGE_SIZE);
	for (int i = 0; i < WR_PAGES; i++) {
		fpk->pages[i] = alloc_page(GFP_KERNEL);
		if (!fpk->pages[i])
			fail("alloc_page");
		memset(page_address(fpk->pages[i]), 0x5a, PAGE_SIZE);
	}
}

static int teardown(struct bench_workload *w, struct bench_side *pk, struct bench_side *pl)
{
	struct fixture *fpk = pk->ctx, *fpl = pl->ctx;

	(void)w;
	for (int i = 0; i < WR_PAGES; i++)
		if (fpk->pages[i])
			put_page(fpk->pages[i]);
	free(fpl->buf);
	return 0;
}

/* ---------------------------------------------------------------- main */

static bool option(int argc, char **argv, int *i)
{
	const char *a = argv[*i];

	if (!strcmp(a, "--direct")) {
		blk_opt.direct = true;
		return true;
	}
	if (!strcmp(a, "--engine") && *i + 1 < argc) {
		const char *e = argv[++*i];

		blk_opt.want_uring = !strcmp(e, "io_uring") || !strcmp(e, "both");
		blk_opt.want_worker = !strcmp(e, "worker") || !strcmp(e, "both");
		return blk_opt.want_uring || blk_opt.want_worker;
	}
	return false;
}

/* The file and the queues, before anything is listed or run. */
static int prepare(struct bench *b)
{
	static char tail[4200], footer[512];
	bool have_uring;

	make_file();
	atexit(cleanup);
	queues[0] = open_queue(0);
	have_uring = !strcmp(blk_queue_engine(queues[0]), "io_uring");
	if (!have_uring) {
		blk_queue_close(queues[0]);
		queues[0] = NULL;
	}
	queues[1] = open_queue(BLK_QUEUE_NO_URING);
	build_workloads(b, have_uring);

	snprintf(tail, sizeof(tail), ", engines: %s%s, file %s, %s", have_uring && blk_opt.want_uring ? "io_uring " : "",
		 blk_opt.want_worker ? "worker" : "", path, blk_opt.direct ? "O_DIRECT" : "page cache warm");
	b->heading_tail = tail;
	snprintf(footer, sizeof(footer),
		 "; %s.\n"
		 "ratio = pktmem/plain ns per op: below 1 the queue is faster. kop/s = 1e6/ns (bio_alloc: thousands\n"
		 "of bios per second). _ur = io_uring engine, _wk = worker engine. spread = (max-min)/median in %%.\n",
		 blk_opt.direct ? "O_DIRECT on both sides" : "page cache warm on both sides (64 MiB file)");
	b->footer = footer;
	b->json_fields = blk_opt.direct ? "\"direct\": true, " : "\"direct\": false, ";
	return 0;
}

/* Everything came back. */
static int finish(void)
{
	struct pktmem_stats st;

	if (mempool_stats(&bio_default_bioset()->bio_pool, &st) == 0 && st.in_use) {
		fprintf(stderr, "bench_blk: %" PRIu64 " bios still out\n", st.in_use);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct bench bench = {
		.name = "bench_blk",
		.peer = "plain",
		.json_fields_post = ", \"note\": \"glibc_ns is the plain pread/pwrite (or malloc) side\"",
		.usage_mid = "  --direct        O_DIRECT on both sides (default: warm page cache)\n"
			     "  --engine E      worker, io_uring or both (default both; io_uring where available)\n",
		.workloads = workloads,
		.layout = { .id_w = 14, .size_w = 6, .ns_w = 10, .ns_prec = 1, .rate_prec = 0, .rate_scale = 1e6,
			    .rate_unit = "kop/s" },
		.first_iters = 64,
		.option = option,
		.prepare = prepare,
		.setup = setup,
		.teardown = teardown,
		.finish = finish,
	};

	return bench_main(&bench, argc, argv);
}
