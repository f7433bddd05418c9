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
#include <time.h>
#include <unistd.h>

#include <pktmem/blkdev.h>
#include <pktmem/pktmem.h>

#define FILE_SIZE (64u << 20)
#define MAX_REPS 101
#define QD 16
#define WR_PAGES 32 /* 128 KiB */

/* ---------------------------------------------------------------- helpers */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_blk: %s failed: %s\n", what, strerror(errno));
	exit(1);
}

static inline void escape(void *p)
{
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
	double s[MAX_REPS];

	memcpy(s, v, (size_t)n * sizeof(*s));
	qsort(s, (size_t)n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
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
	int reps;
	unsigned target_ms;
	const char *filter;
	const char *json;
	bool direct;
	bool want_uring, want_worker;
	bool list;
} opt = { 7, 50, NULL, NULL, false, true, true, false };

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
		die("mkstemp");
	if (posix_memalign((void **)&buf, 4096, 1 << 20))
		die("posix_memalign");
	for (unsigned int i = 0; i < (1u << 20); i++)
		buf[i] = (char)(i * 7);
	for (unsigned int off = 0; off < FILE_SIZE; off += 1u << 20)
		if (pwrite(fd, buf, 1 << 20, off) != 1 << 20)
			die("pwrite (setup)");
	fsync(fd);
	for (unsigned int off = 0; off < FILE_SIZE; off += 1u << 20) /* warm the cache */
		if (pread(fd, buf, 1 << 20, off) != 1 << 20)
			die("pread (setup)");
	free(buf);
	close(fd);
	plain_fd = open(path, O_RDWR | (opt.direct ? O_DIRECT : 0));
	if (plain_fd < 0)
		die("open (plain side)");
}

static struct request_queue *open_queue(unsigned int flags)
{
	int fd = open(path, O_RDWR | O_CLOEXEC | (opt.direct ? O_DIRECT : 0));
	struct request_queue *q;

	if (fd < 0)
		die("open (queue)");
	q = blk_queue_open_fd(fd, flags | BLK_QUEUE_OWN_FD);
	if (!q)
		die("blk_queue_open_fd");
	return q;
}

/* ---------------------------------------------------------------- sides */

struct side {
	uint64_t (*run)(struct side *s, uint64_t iters);
	struct request_queue *q;
	struct page *pages[WR_PAGES];
	char *buf;               /* plain side: 128 KiB, page-aligned */
	uint64_t seed;
	off_t wpos;
};

static void put_pages(struct side *s)
{
	for (int i = 0; i < WR_PAGES; i++)
		if (s->pages[i])
			put_page(s->pages[i]);
}

/* --- 4 KiB random reads */

static uint64_t q_read4k(struct side *s, uint64_t iters)
{
	uint64_t seed = s->seed, t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		struct bio *bio = bio_alloc(1, REQ_OP_READ, GFP_KERNEL);
		struct request *rq;

		bio->bi_iter.bi_sector = (sector_t)rand_block(&seed) >> SECTOR_SHIFT;
		bio_add_page(bio, s->pages[0], 4096, 0);
		rq = blk_make_request(s->q, bio, GFP_KERNEL);
		if (IS_ERR(rq) || blk_execute_rq(rq, false) != BLK_STS_OK)
			die("queue read");
		blk_put_request(rq);
		bio_put(bio);
	}
	return now_ns() - t0;
}

static uint64_t plain_read4k(struct side *s, uint64_t iters)
{
	uint64_t seed = s->seed, t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++)
		if (pread(plain_fd, s->buf, 4096, rand_block(&seed)) != 4096)
			die("pread");
	escape(s->buf);
	return now_ns() - t0;
}

/* --- the same reads, 16 in flight */

struct qd_state {
	struct side *s;
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
	rq = blk_make_request(st->s->q, bio, GFP_NOIO);
	if (IS_ERR(rq))
		die("blk_make_request");
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

static uint64_t q_read4k_qd(struct side *s, uint64_t iters)
{
	struct qd_state st;
	sector_t sector;
	uint64_t t0, t1;
	int slots = 0;

	memset(&st, 0, sizeof(st));
	st.s = s;
	st.seed = s->seed;
	st.target = iters;
	pthread_mutex_init(&st.lock, NULL);
	pthread_cond_init(&st.cond, NULL);
	t0 = now_ns();
	while (slots < QD && qd_take(&st, &sector))
		qd_issue(&st, s->pages[slots++], sector);
	/* Each slot ends (completed++) when its last read finds nothing left to take. */
	pthread_mutex_lock(&st.lock);
	while (st.completed < (uint64_t)slots)
		pthread_cond_wait(&st.cond, &st.lock);
	pthread_mutex_unlock(&st.lock);
	t1 = now_ns();
	if (atomic_load(&st.failed))
		die("queued read");
	pthread_cond_destroy(&st.cond);
	pthread_mutex_destroy(&st.lock);
	return t1 - t0;
}

/* --- 128 KiB sequential writes */

static uint64_t q_write128k(struct side *s, uint64_t iters)
{
	off_t pos = s->wpos;
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		struct bio *bio = bio_alloc(WR_PAGES, REQ_OP_WRITE, GFP_KERNEL);
		struct request *rq;

		bio->bi_iter.bi_sector = (sector_t)pos >> SECTOR_SHIFT;
		for (int p = 0; p < WR_PAGES; p++)
			bio_add_page(bio, s->pages[p], PAGE_SIZE, 0);
		rq = blk_make_request(s->q, bio, GFP_KERNEL);
		if (IS_ERR(rq) || blk_execute_rq(rq, false) != BLK_STS_OK)
			die("queue write");
		blk_put_request(rq);
		bio_put(bio);
		pos = (pos + WR_PAGES * PAGE_SIZE) % FILE_SIZE;
	}
	s->wpos = pos;
	return now_ns() - t0;
}

static uint64_t plain_write128k(struct side *s, uint64_t iters)
{
	off_t pos = s->wpos;
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < iters; i++) {
		if (pwrite(plain_fd, s->buf, WR_PAGES * PAGE_SIZE, pos) != (ssize_t)(WR_PAGES * PAGE_SIZE))
			die("pwrite");
		pos = (pos + WR_PAGES * PAGE_SIZE) % FILE_SIZE;
	}
	s->wpos = pos;
	return now_ns() - t0;
}

/* --- bio allocation */

static uint64_t q_bio_alloc(struct side *s, uint64_t iters)
{
	uint64_t t0 = now_ns();

	(void)s;
	for (uint64_t i = 0; i < iters; i++) {
		struct bio *bio = bio_alloc(1, REQ_OP_READ, GFP_KERNEL);

		if (__builtin_expect(!bio, 0))
			die("bio_alloc");
		bio->bi_iter.bi_sector = i;
		escape(bio);
		bio_put(bio);
	}
	return now_ns() - t0;
}

static uint64_t plain_bio_alloc(struct side *s, uint64_t iters)
{
	size_t size = sizeof(struct bio) + BIO_INLINE_VECS * sizeof(struct bio_vec);
	uint64_t t0 = now_ns();

	(void)s;
	for (uint64_t i = 0; i < iters; i++) {
		struct bio *bio = malloc(size);

		if (__builtin_expect(!bio, 0))
			die("malloc");
		memset(bio, 0, sizeof(*bio)); /* bio_alloc initialises its fields too */
		bio->bi_iter.bi_sector = i;
		escape(bio);
		free(bio);
	}
	return now_ns() - t0;
}

/* ---------------------------------------------------------------- workloads */

enum kind { K_RD4K, K_RD4K_QD, K_WR128K, K_BIO };

struct workload {
	char id[24];
	enum kind kind;
	int engine; /* index into queues[], or -1 */
	size_t size;
	const char *what;
	int reps;
	double pk[MAX_REPS], pl[MAX_REPS];
	double pk_med, pl_med;
	bool ran;
};

static struct workload workloads[16];
static int nr_workloads;

static void add_workload(const char *id, enum kind kind, int engine, size_t size, const char *what)
{
	struct workload *w = &workloads[nr_workloads++];

	snprintf(w->id, sizeof(w->id), "%s", id);
	w->kind = kind;
	w->engine = engine;
	w->size = size;
	w->what = what;
}

static void build_workloads(bool have_uring)
{
	/* Synchronous requests are issued on the caller's thread whatever the engine: one row each. */
	add_workload("rd4k_sync", K_RD4K, 1, 4096, "4 KiB random read, blk_execute_rq vs pread");
	add_workload("wr128k_sync", K_WR128K, 1, 128 * 1024, "128 KiB sequential write, blk_execute_rq vs pwrite");
	if (opt.want_uring && have_uring)
		add_workload("rd4k_qd16_ur", K_RD4K_QD, 0, 4096, "4 KiB random read, 16 in flight (io_uring) vs pread");
	if (opt.want_worker)
		add_workload("rd4k_qd16_wk", K_RD4K_QD, 1, 4096, "4 KiB random read, 16 in flight (worker) vs pread");
	add_workload("bio_alloc", K_BIO, -1, sizeof(struct bio) + BIO_INLINE_VECS * sizeof(struct bio_vec),
		     "bio_alloc(1)+bio_put vs malloc+free");
}

static void sides_for(struct workload *w, struct side *pk, struct side *pl)
{
	memset(pk, 0, sizeof(*pk));
	memset(pl, 0, sizeof(*pl));
	pk->q = w->engine >= 0 ? queues[w->engine] : NULL;
	if (posix_memalign((void **)&pl->buf, 4096, WR_PAGES * PAGE_SIZE))
		die("posix_memalign");
	memset(pl->buf, 0x5a, WR_PAGES * PAGE_SIZE);
	for (int i = 0; i < WR_PAGES; i++) {
		pk->pages[i] = alloc_page(GFP_KERNEL);
		if (!pk->pages[i])
			die("alloc_page");
		memset(page_address(pk->pages[i]), 0x5a, PAGE_SIZE);
	}
	switch (w->kind) {
	case K_RD4K:
		pk->run = q_read4k;
		pl->run = plain_read4k;
		break;
	case K_RD4K_QD:
		pk->run = q_read4k_qd;
		pl->run = plain_read4k;
		break;
	case K_WR128K:
		pk->run = q_write128k;
		pl->run = plain_write128k;
		break;
	case K_BIO:
		pk->run = q_bio_alloc;
		pl->run = plain_bio_alloc;
		break;
	}
}

static uint64_t calibrate(struct side *s)
{
	uint64_t target = (uint64_t)opt.target_ms * 1000000u, iters = 64, t;

	for (;;) {
		t = s->run(s, iters);
		if (t >= target / 10 || iters >= (1ULL << 40))
			break;
		iters *= t < target / 100 ? 8 : 2;
	}
	t = s->run(s, iters);
	if (t == 0)
		t = 1;
	iters = (uint64_t)((double)iters * (double)target / (double)t);
	return iters ? iters : 1;
}

static void run_workload(struct workload *w)
{
	struct side pk, pl;
	uint64_t pk_iters, pl_iters;

	sides_for(w, &pk, &pl);
	pk_iters = calibrate(&pk);
	pl_iters = calibrate(&pl);
	w->reps = opt.reps;
	for (int r = 0; r < opt.reps; r++) {
		uint64_t seed = 0x9e3779b97f4a7c15ULL ^ (uint64_t)(r + 1) * 0x100000001b3ULL;

		for (int k = 0; k < 2; k++) {
			bool do_pk = (k == 0) == (r % 2 == 0);
			struct side *s = do_pk ? &pk : &pl;
			uint64_t iters = do_pk ? pk_iters : pl_iters;
			double ns;

			s->seed = seed; /* both sides read the same offsets in this repetition */
			ns = (double)s->run(s, iters) / (double)iters;
			(do_pk ? w->pk : w->pl)[r] = ns;
		}
	}
	w->pk_med = median(w->pk, w->reps);
	w->pl_med = median(w->pl, w->reps);
	w->ran = true;
	put_pages(&pk);
	free(pl.buf);
}

/* ---------------------------------------------------------------- output */

static bool selected(const struct workload *w)
{
	return !opt.filter || strstr(w->id, opt.filter);
}

static double spread(const double *v, int n, double med)
{
	double lo = v[0], hi = v[0];

	for (int i = 1; i < n; i++) {
		lo = v[i] < lo ? v[i] : lo;
		hi = v[i] > hi ? v[i] : hi;
	}
	return med > 0 ? 100.0 * (hi - lo) / med : 0;
}

static void print_table(FILE *out)
{
	fprintf(out, "| %-14s | %6s | %10s | %10s | %8s | %8s | %8s | %9s |\n", "workload", "size", "pktmem ns",
		"plain ns", "ratio", "pktmem", "plain", "spread %");
	fprintf(out, "| %-14s | %6s | %10s | %10s | %8s | %8s | %8s | %9s |\n", "", "B", "per op", "per op",
		"pk/plain", "kop/s", "kop/s", "pk/plain");
	fprintf(out, "|----------------|-------:|-----------:|-----------:|---------:|---------:|---------:|----------:|\n");
	for (int i = 0; i < nr_workloads; i++) {
		const struct workload *w = &workloads[i];
		char sp[32];

		if (!w->ran)
			continue;
		snprintf(sp, sizeof(sp), "%.0f/%.0f", spread(w->pk, w->reps, w->pk_med),
			 spread(w->pl, w->reps, w->pl_med));
		fprintf(out, "| %-14s | %6zu | %10.1f | %10.1f | %8.3f | %8.0f | %8.0f | %9s |\n", w->id, w->size,
			w->pk_med, w->pl_med, w->pk_med / w->pl_med, 1e6 / w->pk_med, 1e6 / w->pl_med, sp);
	}
	fprintf(out, "\nmedian of %d repetitions of ~%u ms each side, interleaved; %s.\n"
		"ratio = pktmem/plain ns per op: below 1 the queue is faster. kop/s = 1e6/ns (bio_alloc: thousands\n"
		"of bios per second). _ur = io_uring engine, _wk = worker engine. spread = (max-min)/median in %%.\n",
		opt.reps, opt.target_ms,
		opt.direct ? "O_DIRECT on both sides" : "page cache warm on both sides (64 MiB file)");
}

static void print_json(FILE *out)
{
	char host[64] = "";
	bool first = true;

	gethostname(host, sizeof(host) - 1);
	fprintf(out, "{\"bench\": \"bench_blk\", \"pktmem_version\": \"%s\", \"host\": \"%s\", \"cpus\": %ld,"
		" \"reps\": %d, \"target_ms\": %u, \"direct\": %s, \"unit\": \"ns/op\","
		" \"note\": \"glibc_ns is the plain pread/pwrite (or malloc) side\", \"results\": [\n",
		pktmem_version_string(), host, sysconf(_SC_NPROCESSORS_ONLN), opt.reps, opt.target_ms,
		opt.direct ? "true" : "false");
	/* One result per line, bench_mem's field names: bench/run.sh reads them. */
	for (int i = 0; i < nr_workloads; i++) {
		const struct workload *w = &workloads[i];

		if (!w->ran)
			continue;
		fprintf(out, "%s{\"id\": \"%s\", \"size\": %zu, \"what\": \"%s\", \"pktmem_ns\": %.3f, \"glibc_ns\": %.3f,"
			" \"ratio\": %.4f, \"pktmem_reps\": [", first ? "  " : ",\n  ", w->id, w->size, w->what,
			w->pk_med, w->pl_med, w->pk_med / w->pl_med);
		for (int r = 0; r < w->reps; r++)
			fprintf(out, "%s%.3f", r ? ", " : "", w->pk[r]);
		fprintf(out, "], \"glibc_reps\": [");
		for (int r = 0; r < w->reps; r++)
			fprintf(out, "%s%.3f", r ? ", " : "", w->pl[r]);
		fprintf(out, "]}");
		first = false;
	}
	fprintf(out, "\n]}\n");
}

static void usage(FILE *out, const char *argv0)
{
	fprintf(out,
		"usage: %s [options]\n"
		"  --quick         3 repetitions of ~10 ms (a smoke run)\n"
		"  --reps N        repetitions per side (default 7, at most %d)\n"
		"  --ms T          target milliseconds per repetition (default 50)\n"
		"  --filter STR    only workloads whose id contains STR\n"
		"  --direct        O_DIRECT on both sides (default: warm page cache)\n"
		"  --engine E      worker, io_uring or both (default both; io_uring where available)\n"
		"  --json          JSON on stdout instead of the table\n"
		"  --json=FILE     the table on stdout and JSON into FILE\n"
		"  --list          list the workloads\n",
		argv0, MAX_REPS);
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return s[0] != '-' && !errno && end != s && !*end && *out >= 1 && *out <= max;
}

int main(int argc, char **argv)
{
	FILE *json = NULL, *table = stdout;
	struct pktmem_stats st;
	unsigned long v;
	bool have_uring;
	int ret = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--quick")) {
			opt.reps = 3;
			opt.target_ms = 10;
		} else if (!strcmp(a, "--reps") && i + 1 < argc && parse_uint(argv[i + 1], MAX_REPS, &v)) {
			opt.reps = (int)v;
			i++;
		} else if (!strcmp(a, "--ms") && i + 1 < argc && parse_uint(argv[i + 1], 100000, &v)) {
			opt.target_ms = (unsigned)v;
			i++;
		} else if (!strcmp(a, "--filter") && i + 1 < argc) {
			opt.filter = argv[++i];
		} else if (!strcmp(a, "--direct")) {
			opt.direct = true;
		} else if (!strcmp(a, "--engine") && i + 1 < argc) {
			const char *e = argv[++i];

			opt.want_uring = !strcmp(e, "io_uring") || !strcmp(e, "both");
			opt.want_worker = !strcmp(e, "worker") || !strcmp(e, "both");
			if (!opt.want_uring && !opt.want_worker) {
				usage(stderr, argv[0]);
				return 2;
			}
		} else if (!strcmp(a, "--json")) {
			opt.json = "-";
		} else if (!strncmp(a, "--json=", 7) && a[7]) {
			opt.json = a + 7;
		} else if (!strcmp(a, "--list")) {
			opt.list = true;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout, argv[0]);
			return 0;
		} else {
			usage(stderr, argv[0]);
			return 2;
		}
	}

	make_file();
	atexit(cleanup);
	queues[0] = open_queue(0);
	have_uring = !strcmp(blk_queue_engine(queues[0]), "io_uring");
	if (!have_uring) {
		blk_queue_close(queues[0]);
		queues[0] = NULL;
	}
	queues[1] = open_queue(BLK_QUEUE_NO_URING);
	build_workloads(have_uring);

	if (opt.list) {
		for (int i = 0; i < nr_workloads; i++)
			printf("%-14s %6zu  %s\n", workloads[i].id, workloads[i].size, workloads[i].what);
		return 0;
	}
	if (opt.json && strcmp(opt.json, "-")) {
		json = fopen(opt.json, "w");
		if (!json) {
			perror(opt.json);
			return 1;
		}
	} else if (opt.json) {
		json = stdout;
		table = NULL;
	}
	if (table)
		fprintf(table, "bench_blk: pktmem %s, %ld CPUs, %d reps x ~%u ms, engines: %s%s, file %s, %s\n\n",
			pktmem_version_string(), sysconf(_SC_NPROCESSORS_ONLN), opt.reps, opt.target_ms,
			have_uring && opt.want_uring ? "io_uring " : "", opt.want_worker ? "worker" : "", path,
			opt.direct ? "O_DIRECT" : "page cache warm");
	for (int i = 0; i < nr_workloads; i++) {
		if (!selected(&workloads[i]))
			continue;
		run_workload(&workloads[i]);
		if (table) {
			fprintf(stderr, ".");
			fflush(stderr);
		}
	}
	if (table) {
		fprintf(stderr, "\n");
		print_table(table);
	}
	if (json) {
		print_json(json);
		if (json != stdout)
			fclose(json);
	}
	/* Everything came back. */
	if (mempool_stats(&bio_default_bioset()->bio_pool, &st) == 0 && st.in_use) {
		fprintf(stderr, "bench_blk: %" PRIu64 " bios still out\n", st.in_use);
		ret = 1;
	}
	return ret;
}
