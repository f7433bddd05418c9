/*
 * <pktmem/blkdev.h>: bios, bio sets, blk_make_request() on chains within
 * and beyond a queue's limits, bouncing, and real I/O on a file in a
 * temporary directory through both engines (io_uring where the library has
 * it, and the worker): written data reads back byte for byte, sync and
 * async; every bi_end_io runs exactly once with the right status, for
 * injected I/O errors, a read past the end of the file, a descriptor that
 * cannot write or is closed, and failed allocations; and every test leaves
 * the bio, vector, request and page caches as it found them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pktmem/blkdev.h>

#include "check.h"

/* ------------------------------------------------------------ helpers */

static char tmp_path[4096];

/* A new empty file in $TMPDIR (or /tmp); its path in tmp_path. */
static int tmp_file(void)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	snprintf(tmp_path, sizeof(tmp_path), "%s/test_blk.XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(tmp_path);
	if (fd < 0)
		perror("mkstemp");
	return fd;
}

static void tmp_remove(int fd)
{
	if (fd >= 0)
		close(fd);
	unlink(tmp_path);
}

/* The byte the tests write at file offset @o. */
static unsigned char pattern(uint64_t o, unsigned int seed)
{
	return (unsigned char)((o * 131u) ^ (o >> 9) ^ seed);
}

/*
 * The sum of in_use over the caches and pools the block face uses: bios
 * (every set), vector arrays, requests and pages. Compared before and
 * after each test: every object a test takes must come back.
 */
static int sum_blk(const struct pktmem_stats *st, void *arg)
{
	static const char *const prefixes[] = { "bio", "bvec-", "blk-request", "page-", "mempool(slab:bio",
						"mempool(slab:bvec" };
	uint64_t *sum = arg;

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		if (!strncmp(st->name, prefixes[i], strlen(prefixes[i]))) {
			/* Pools: elements out. Caches: objects out (reserves included, stable). */
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

/* Where a bio's completion is recorded. */
struct tracker {
	atomic_int calls;
	atomic_int status;
};

static void track_end_io(struct bio *bio)
{
	struct tracker *t = bio->bi_private;

	atomic_store(&t->status, bio->bi_status);
	atomic_fetch_add(&t->calls, 1);
}

#define MAX_TPAGES 32

/* A test bio: its pages and tracker. */
struct tbio {
	struct bio *bio;
	struct page *pages[MAX_TPAGES];
	int np;
	struct tracker t;
};

/*
 * A bio of @np vectors of @each bytes (each in its own page, at @offset),
 * for @sector; for writes filled with pattern(seed).
 */
static struct bio *tbio_new(struct tbio *tb, enum req_op op, sector_t sector, int np, unsigned int each,
			    unsigned int offset, unsigned int seed, struct bio_set *bs)
{
	uint64_t o = sector << SECTOR_SHIFT;

	memset(tb, 0, sizeof(*tb));
	tb->bio = bio_alloc_bioset((unsigned short)np, op, GFP_KERNEL, bs);
	if (!tb->bio)
		return NULL;
	tb->bio->bi_iter.bi_sector = sector;
	tb->bio->bi_private = &tb->t;
	tb->bio->bi_end_io = track_end_io;
	for (int i = 0; i < np; i++) {
		unsigned char *p;

		tb->pages[i] = alloc_page(GFP_KERNEL);
		tb->np++;
		p = (unsigned char *)page_address(tb->pages[i]) + offset;
		for (unsigned int j = 0; j < each; j++)
			p[j] = op == REQ_OP_WRITE ? pattern(o + j, seed) : 0xEE;
		o += each;
		if (bio_add_page(tb->bio, tb->pages[i], each, offset) != (int)each)
			return NULL;
	}
	return tb->bio;
}

/* True when a read bio's pages hold pattern(seed) from its sector on. */
static bool tbio_matches(const struct tbio *tb, sector_t sector, unsigned int each, unsigned int offset,
			 unsigned int seed)
{
	uint64_t o = sector << SECTOR_SHIFT;

	for (int i = 0; i < tb->np; i++) {
		const unsigned char *p = (const unsigned char *)page_address(tb->pages[i]) + offset;

		for (unsigned int j = 0; j < each; j++)
			if (p[j] != pattern(o + j, seed))
				return false;
		o += each;
	}
	return true;
}

static void tbio_free(struct tbio *tb)
{
	bio_put(tb->bio);
	for (int i = 0; i < tb->np; i++)
		put_page(tb->pages[i]);
	tb->np = 0;
	tb->bio = NULL;
}

/* Link bios into a chain. */
static struct bio *chain_of(struct tbio *tb, int n)
{
	for (int i = 0; i + 1 < n; i++)
		tb[i].bio->bi_next = tb[i + 1].bio;
	tb[n - 1].bio->bi_next = NULL;
	return tb[0].bio;
}

/*
 * The file's bytes at @off match pattern(seed)? Read with pread on a
 * descriptor of its own (buffered, whatever the queue's is), not the queue.
 */
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

static bool file_write_pattern(uint64_t off, size_t len, unsigned int seed)
{
	unsigned char *buf = malloc(len);
	int fd = open(tmp_path, O_WRONLY);
	bool ok;

	for (size_t i = 0; buf && i < len; i++)
		buf[i] = pattern(off + i, seed);
	ok = buf && fd >= 0 && pwrite(fd, buf, len, (off_t)off) == (ssize_t)len;
	free(buf);
	if (fd >= 0)
		close(fd);
	return ok;
}

static struct bio_set bs;

/*
 * Execute and put @rq: synchronously, or (@async) through the engine with
 * a completion routine, waiting here. Returns the request's status.
 */
struct one_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	blk_status_t status;
};

static void one_done(struct request *rq, blk_status_t status)
{
	struct one_wait *ow = rq->end_io_data;

	blk_put_request(rq);
	pthread_mutex_lock(&ow->lock);
	ow->status = status;
	ow->done = true;
	pthread_cond_signal(&ow->cond);
	pthread_mutex_unlock(&ow->lock);
}

static blk_status_t exec_rq(struct request *rq, bool async)
{
	struct one_wait ow = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, BLK_STS_OK };
	blk_status_t st;

	if (IS_ERR_OR_NULL(rq))
		return (blk_status_t)255;
	if (!async) {
		st = blk_execute_rq(rq, false);
		blk_put_request(rq);
		return st;
	}
	rq->end_io_data = &ow;
	blk_execute_rq_nowait(rq, false, one_done);
	pthread_mutex_lock(&ow.lock);
	while (!ow.done)
		pthread_cond_wait(&ow.cond, &ow.lock);
	pthread_mutex_unlock(&ow.lock);
	return ow.status;
}

/* ------------------------------------------------------------ bios */

static void test_bio_alloc_put(void)
{
	static const unsigned short nr[] = { 0, 1, 4, 5, 16, 17, 64, 65, 256 };
	uint64_t before = blk_in_use();
	struct pktmem_stats st;

	for (size_t i = 0; i < sizeof(nr) / sizeof(nr[0]); i++) {
		struct bio *bio = bio_alloc_bioset(nr[i], REQ_OP_WRITE, GFP_KERNEL, &bs);

		CHECK(bio != NULL);
		if (!bio)
			continue;
		CHECK(bio->bi_max_vecs >= nr[i]);
		CHECK_EQ(bio->bi_vcnt, 0);
		CHECK_EQ(bio->bi_iter.bi_size, 0);
		CHECK_EQ(bio_op(bio), REQ_OP_WRITE);
		CHECK_EQ(bio_data_dir(bio), WRITE);
		CHECK_EQ(bio->bi_status, BLK_STS_OK);
		CHECK(bio->bi_pool == &bs);
		bio_put(bio);
	}
	/* Too many vectors; vectors from a set that has none. */
	errno = 0;
	CHECK(bio_alloc_bioset(BIO_MAX_VECS + 1, REQ_OP_READ, GFP_KERNEL, &bs) == NULL);
	CHECK_EQ(errno, EINVAL);
	{
		struct bio_set nobv;

		CHECK_EQ(bioset_init(&nobv, 1, 0, 0), 0);
		errno = 0;
		CHECK(bio_alloc_bioset(1, REQ_OP_READ, GFP_KERNEL, &nobv) == NULL);
		CHECK_EQ(errno, EINVAL);
		struct bio *clone_like = bio_alloc_bioset(0, REQ_OP_READ, GFP_KERNEL, &nobv);
		CHECK(clone_like != NULL);
		CHECK_EQ(clone_like ? clone_like->bi_max_vecs : 99, 0);
		bio_put(clone_like);
		bioset_exit(&nobv);
	}
	CHECK_EQ(bioset_init(&(struct bio_set){ 0 }, 1, 3, 0), -EINVAL); /* misaligned front pad */
	CHECK_EQ(bioset_init(&(struct bio_set){ 0 }, 1, 0, 0x100), -EINVAL);

	/* References: get twice, put three times. */
	{
		struct bio *bio = bio_alloc(1, REQ_OP_READ, GFP_KERNEL);

		CHECK(bio != NULL && bio->bi_pool == bio_default_bioset());
		bio_get(bio);
		bio_get(bio);
		bio_put(bio);
		bio_put(bio);
		CHECK_EQ(mempool_stats(&bio_default_bioset()->bio_pool, &st), 0);
		CHECK_EQ(st.in_use, 1);
		bio_put(bio);
		mempool_stats(&bio_default_bioset()->bio_pool, &st);
		CHECK_EQ(st.in_use, 0);
	}
	/* Front pad: the caller's bytes before the bio. */
	{
		struct wrapped {
			uint64_t cookie;
			struct bio bio;
		};
		struct bio_set padded;
		struct bio *bio;

		CHECK_EQ(bioset_init(&padded, 2, offsetof(struct wrapped, bio), BIOSET_NEED_BVECS), 0);
		/* The set's cache is named by its object size, as Linux names bio slabs. */
		char want[32];

		snprintf(want, sizeof(want), "bio-%zu",
			 offsetof(struct wrapped, bio) + sizeof(struct bio) + BIO_INLINE_VECS * sizeof(struct bio_vec));
		CHECK(strcmp(kmem_cache_name(padded.bio_slab), want) == 0);
		bio = bio_alloc_bioset(2, REQ_OP_READ, GFP_KERNEL, &padded);
		CHECK(bio != NULL);
		struct wrapped *w = (struct wrapped *)((char *)bio - offsetof(struct wrapped, bio));
		w->cookie = 0x1234;
		CHECK_EQ(w->cookie, 0x1234);
		bio_put(bio);
		mempool_stats(&padded.bio_pool, &st);
		CHECK_EQ(st.in_use, 0);
		bioset_exit(&padded);
	}
	mempool_stats(&bs.bio_pool, &st);
	CHECK_EQ(st.in_use, 0);
	CHECK_EQ(blk_in_use(), before);
}

static void test_bio_add_page(void)
{
	uint64_t before = blk_in_use();
	unsigned long diags = diag_seen;
	struct page *pg = alloc_page(GFP_KERNEL), *pg2 = alloc_page(GFP_KERNEL), *big = alloc_pages(GFP_KERNEL, 2);
	struct bio *bio = bio_alloc_bioset(2, REQ_OP_WRITE, GFP_KERNEL, &bs);

	CHECK(pg && pg2 && big && bio);
	CHECK_EQ(bio->bi_max_vecs, BIO_INLINE_VECS); /* small bios use the inline vectors */
	CHECK_EQ(bio_add_page(bio, pg, 0, 0), 0);
	CHECK_EQ(bio_add_page(bio, pg, 512, 0), 512);
	CHECK_EQ(bio_add_page(bio, pg, 512, 512), 512); /* continues the last vector: merged */
	CHECK_EQ(bio->bi_vcnt, 1);
	CHECK_EQ(bio->bi_io_vec[0].bv_len, 1024);
	CHECK_EQ(bio_add_page(bio, pg2, 100, 8), 100);
	CHECK_EQ(bio_add_page(bio, big, 4 * PAGE_SIZE, 0), (int)(4 * PAGE_SIZE)); /* a 4-page run is one vector */
	CHECK_EQ(bio_add_page(bio, pg, 1, 4000), 1);
	CHECK_EQ(bio->bi_vcnt, 4);
	CHECK_EQ(bio_add_page(bio, pg2, 1, 0), 0); /* full */
	CHECK_EQ(bio->bi_iter.bi_size, 1024 + 100 + 4 * PAGE_SIZE + 1);
	CHECK_EQ(diag_seen, diags);

	/* Outside the page: refused and diagnosed. */
	CHECK_EQ(bio_add_page(bio, pg, 16, PAGE_SIZE - 8), 0);
	CHECK_EQ(diag_seen, diags + 1);
	CHECK(strcmp(diag_last_func, "bio_add_page") == 0);

	bio_put(bio);
	put_page(pg);
	put_page(pg2);
	__free_pages(big, 2);
	CHECK_EQ(blk_in_use(), before);
}

/* The parent of a chain records when it ends; children are put by bio_chain's routine. */
static void test_bio_split_chain(void)
{
	uint64_t before = blk_in_use();
	unsigned long diags = diag_seen;
	struct tbio parent;
	struct bio *split, *split2;

	CHECK(tbio_new(&parent, REQ_OP_WRITE, 100, 2, 2048, 0, 1, &bs) != NULL); /* 8 sectors */

	split = bio_split(parent.bio, 3, GFP_KERNEL, &bs);
	CHECK(split != NULL);
	CHECK(split->bi_flags & BIO_CLONED);
	CHECK(split->bi_io_vec == parent.bio->bi_io_vec);
	CHECK_EQ(split->bi_iter.bi_sector, 100);
	CHECK_EQ(split->bi_iter.bi_size, 3 * 512);
	CHECK_EQ(parent.bio->bi_iter.bi_sector, 103);
	CHECK_EQ(parent.bio->bi_iter.bi_size, 5 * 512);
	CHECK_EQ(parent.bio->bi_iter.bi_idx, 0);
	CHECK_EQ(parent.bio->bi_iter.bi_bvec_done, 1536);

	/* Split again across the vector boundary. */
	split2 = bio_split(parent.bio, 2, GFP_KERNEL, &bs);
	CHECK(split2 != NULL);
	CHECK_EQ(split2->bi_iter.bi_bvec_done, 1536);
	CHECK_EQ(parent.bio->bi_iter.bi_idx, 1);
	CHECK_EQ(parent.bio->bi_iter.bi_bvec_done, 512);
	CHECK_EQ(bio_sectors(parent.bio), 3);

	/* A clone takes no pages; out-of-range splits are diagnosed. */
	CHECK_EQ(bio_add_page(split, parent.pages[0], 512, 0), 0);
	CHECK_EQ(diag_seen, diags + 1);
	CHECK(bio_split(parent.bio, 3, GFP_KERNEL, &bs) == NULL);
	CHECK(bio_split(parent.bio, 0, GFP_KERNEL, &bs) == NULL);
	CHECK_EQ(diag_seen, diags + 3);

	/* Chain both to the parent: it ends once, after all three, with the child's error. */
	bio_chain(split, parent.bio);
	bio_chain(split2, parent.bio);
	CHECK(parent.bio->bi_flags & BIO_CHAIN);
	split2->bi_status = BLK_STS_NOSPC;
	bio_endio(split2);
	CHECK_EQ(atomic_load(&parent.t.calls), 0);
	bio_endio(parent.bio);
	CHECK_EQ(atomic_load(&parent.t.calls), 0);
	bio_endio(split);
	CHECK_EQ(atomic_load(&parent.t.calls), 1);
	CHECK_EQ(atomic_load(&parent.t.status), BLK_STS_NOSPC);
	CHECK(!(parent.bio->bi_flags & BIO_CHAIN));

	/* Chaining a bio that has an end routine is a bug. */
	bio_chain(parent.bio, parent.bio);
	CHECK_EQ(diag_seen, diags + 4);

	tbio_free(&parent);
	CHECK_EQ(blk_in_use(), before);
}

static void test_bio_chain_many(void)
{
	uint64_t before = blk_in_use();
	struct bio *parent = bio_alloc_bioset(0, REQ_OP_READ, GFP_KERNEL, &bs), *kids[10];
	struct tracker t = { 0 };

	parent->bi_private = &t;
	parent->bi_end_io = track_end_io;
	for (int i = 0; i < 10; i++) {
		kids[i] = bio_alloc_bioset(0, REQ_OP_READ, GFP_KERNEL, &bs);
		bio_chain(kids[i], parent);
	}
	/* A grandchild chained to the first child: chains nest. */
	struct bio *grand = bio_alloc_bioset(0, REQ_OP_READ, GFP_KERNEL, &bs);
	bio_chain(grand, kids[0]);
	for (int i = 9; i >= 0; i--)
		bio_endio(kids[i]);
	bio_endio(parent);
	CHECK_EQ(atomic_load(&t.calls), 0); /* kids[0] waits for its grandchild */
	grand->bi_status = BLK_STS_MEDIUM;
	bio_endio(grand);
	CHECK_EQ(atomic_load(&t.calls), 1);
	CHECK_EQ(atomic_load(&t.status), BLK_STS_MEDIUM);
	bio_put(parent);
	CHECK_EQ(blk_in_use(), before);
}

static void test_status_errno(void)
{
	CHECK_EQ(blk_status_to_errno(BLK_STS_OK), 0);
	CHECK_EQ(blk_status_to_errno(BLK_STS_IOERR), -EIO);
	CHECK_EQ(blk_status_to_errno(BLK_STS_NOSPC), -ENOSPC);
	CHECK_EQ(blk_status_to_errno(BLK_STS_RESOURCE), -ENOMEM);
	CHECK_EQ(blk_status_to_errno(BLK_STS_NOTSUPP), -EOPNOTSUPP);
	CHECK_EQ(blk_status_to_errno((blk_status_t)200), -EIO);
	CHECK_EQ(errno_to_blk_status(0), BLK_STS_OK);
	CHECK_EQ(errno_to_blk_status(-EIO), BLK_STS_IOERR);
	CHECK_EQ(errno_to_blk_status(EBADF), BLK_STS_IOERR);
	CHECK_EQ(errno_to_blk_status(ENOSPC), BLK_STS_NOSPC);
	CHECK_EQ(errno_to_blk_status(-EAGAIN), BLK_STS_AGAIN);
}

/* ------------------------------------------------------------ queues */

static void test_queue_open_limits(void)
{
	uint64_t before = blk_in_use();
	int fd = tmp_file();
	struct request_queue *q = blk_queue_open_fd(fd, 0);

	CHECK(q != NULL);
	if (!q) {
		tmp_remove(fd);
		return;
	}
	printf("     engine: %s\n", blk_queue_engine(q));
	CHECK_EQ(blk_queue_fd(q), fd);
	CHECK_EQ(queue_logical_block_size(q), 512);
	CHECK_EQ(queue_max_hw_sectors(q), 1024);
	CHECK_EQ(queue_max_segments(q), 128);
	CHECK_EQ(queue_dma_alignment(q), 511);

	CHECK_EQ(blk_queue_logical_block_size(q, 4096), 0);
	CHECK_EQ(queue_logical_block_size(q), 4096);
	CHECK_EQ(blk_queue_logical_block_size(q, 1000), -EINVAL);
	CHECK_EQ(blk_queue_logical_block_size(q, 256), -EINVAL);
	CHECK_EQ(blk_queue_logical_block_size(q, 8192), -EINVAL);
	CHECK_EQ(blk_queue_max_hw_sectors(q, 4), -EINVAL); /* less than one 4 KiB block */
	CHECK_EQ(blk_queue_max_hw_sectors(q, 64), 0);
	CHECK_EQ(blk_queue_max_segments(q, 0), -EINVAL);
	CHECK_EQ(blk_queue_max_segments(q, 4), 0);
	CHECK_EQ(blk_queue_dma_alignment(q, 100), -EINVAL);
	CHECK_EQ(blk_queue_dma_alignment(q, 4095), 0);
	CHECK_EQ(blk_queue_dma_alignment(q, 8191), -EINVAL);
	CHECK_EQ(blk_queue_dma_alignment(q, 0), 0);
	CHECK_EQ(blk_queue_fail_nth(q, 1, 0), -EINVAL);
	CHECK_EQ(blk_queue_fail_nth(q, 0, 0), 0);
	blk_queue_close(q);
	CHECK(fcntl(fd, F_GETFD) >= 0); /* not ours: still open */

	/* Not a file or device; a bad descriptor; unknown flags; a missing path. */
	{
		int dfd = open("/", O_RDONLY | O_DIRECTORY);

		errno = 0;
		CHECK(blk_queue_open_fd(dfd, 0) == NULL);
		CHECK_EQ(errno, EINVAL);
		close(dfd);
	}
	errno = 0;
	CHECK(blk_queue_open_fd(-1, 0) == NULL);
	CHECK_EQ(errno, EBADF);
	errno = 0;
	CHECK(blk_queue_open_fd(fd, 0x80) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(blk_queue_open("/nonexistent/dir/file", O_RDWR) == NULL);
	CHECK_EQ(errno, ENOENT);

	/* blk_queue_open() owns its descriptor. */
	q = blk_queue_open(tmp_path, O_RDWR);
	CHECK(q != NULL);
	if (q) {
		int qfd = blk_queue_fd(q);

		blk_queue_close(q);
		CHECK(fcntl(qfd, F_GETFD) < 0);
	}
	tmp_remove(fd);
	CHECK_EQ(blk_in_use(), before);
}

/* Write a chain of bios through @q, then read it back through @q, synchronously. */
static void rw_sync_on(unsigned int qflags, int open_flags, unsigned int each, const char *label)
{
	uint64_t before = blk_in_use();
	int fd = tmp_file();
	struct request_queue *q;
	struct tbio w[3], r[3];
	struct request *rq;
	sector_t sector = 8;
	int n = 3, np = 4;

	close(fd);
	fd = open(tmp_path, O_RDWR | open_flags);
	if (fd < 0 && errno == EINVAL) {
		printf("     %s: O_DIRECT refused by this file system: skipped\n", label);
		tmp_remove(-1);
		return;
	}
	q = blk_queue_open_fd(fd, qflags);
	CHECK(q != NULL);
	if (!q) {
		tmp_remove(fd);
		return;
	}
	printf("     %s: engine %s, logical block %u, dma mask %u\n", label, blk_queue_engine(q),
	       queue_logical_block_size(q), queue_dma_alignment(q));
	if (each % queue_logical_block_size(q))
		each = queue_logical_block_size(q);
	sector = (sector_t)queue_logical_block_size(q) / 512 * 3;

	for (int i = 0; i < n; i++)
		CHECK(tbio_new(&w[i], REQ_OP_WRITE, sector + (sector_t)i * np * each / 512, np, each, 0, 7, &bs));
	rq = blk_make_request(q, chain_of(w, n), GFP_KERNEL);
	CHECK(!IS_ERR(rq));
	if (!IS_ERR(rq)) {
		CHECK_EQ(rq_data_dir(rq), WRITE);
		CHECK_EQ(blk_rq_pos(rq), sector);
		CHECK_EQ(blk_rq_bytes(rq), n * np * each);
		CHECK_EQ(rq->nr_phys_segments, n * np);
		CHECK(rq->bio == w[0].bio && rq->biotail == w[n - 1].bio);
		CHECK_EQ(blk_execute_rq(rq, false), BLK_STS_OK);
		blk_put_request(rq);
	}
	for (int i = 0; i < n; i++) {
		CHECK_EQ(atomic_load(&w[i].t.calls), 1);
		CHECK_EQ(atomic_load(&w[i].t.status), BLK_STS_OK);
		CHECK(w[i].bio->bi_next == NULL);
		tbio_free(&w[i]);
	}
	CHECK(file_matches(sector << 9, (size_t)n * np * each, 7));

	for (int i = 0; i < n; i++)
		CHECK(tbio_new(&r[i], REQ_OP_READ, sector + (sector_t)i * np * each / 512, np, each, 0, 0, &bs));
	rq = blk_make_request(q, chain_of(r, n), GFP_KERNEL);
	CHECK(!IS_ERR(rq));
	if (!IS_ERR(rq)) {
		CHECK_EQ(rq_data_dir(rq), READ);
		CHECK_EQ(blk_execute_rq(rq, true), BLK_STS_OK);
		blk_put_request(rq);
	}
	for (int i = 0; i < n; i++) {
		CHECK_EQ(atomic_load(&r[i].t.calls), 1);
		CHECK(tbio_matches(&r[i], sector + (sector_t)i * np * each / 512, each, 0, 7));
		tbio_free(&r[i]);
	}
	blk_queue_close(q);
	tmp_remove(fd);
	CHECK_EQ(blk_in_use(), before);
}

static void test_rw_sync(void)
{
	rw_sync_on(0, 0, 4096, "default engine");
	rw_sync_on(BLK_QUEUE_NO_URING, 0, 4096, "worker");
	rw_sync_on(0, 0, 1024, "default engine, 1 KiB vectors");
}

static void test_rw_sync_direct(void)
{
	rw_sync_on(0, O_DIRECT, 4096, "O_DIRECT, default engine");
	rw_sync_on(BLK_QUEUE_NO_URING, O_DIRECT, 4096, "O_DIRECT, worker");
}

/* Asynchronous: many requests in flight, completions on the queue's thread. */
struct async_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done;
	int bad_status;
};

static void async_done(struct request *rq, blk_status_t status)
{
	struct async_wait *aw = rq->end_io_data;

	blk_put_request(rq);
	pthread_mutex_lock(&aw->lock);
	if (status != BLK_STS_OK)
		aw->bad_status++;
	aw->done++;
	pthread_cond_signal(&aw->cond);
	pthread_mutex_unlock(&aw->lock);
}

static void async_wait_for(struct async_wait *aw, int n)
{
	pthread_mutex_lock(&aw->lock);
	while (aw->done < n)
		pthread_cond_wait(&aw->cond, &aw->lock);
	pthread_mutex_unlock(&aw->lock);
}

#define ASYNC_N 24

static void rw_async_on(unsigned int qflags)
{
	uint64_t before = blk_in_use();
	int fd = tmp_file();
	struct request_queue *q = blk_queue_open_fd(fd, qflags);
	static struct tbio tb[ASYNC_N];
	struct async_wait aw = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };

	CHECK(q != NULL);
	if (!q) {
		tmp_remove(fd);
		return;
	}
	/* Writes, one 8 KiB bio per request, alternately queued at the head. */
	for (int i = 0; i < ASYNC_N; i++) {
		struct request *rq;

		CHECK(tbio_new(&tb[i], REQ_OP_WRITE, (sector_t)i * 16, 2, 4096, 0, 3, &bs));
		rq = blk_make_request(q, tb[i].bio, GFP_KERNEL);
		CHECK(!IS_ERR(rq));
		rq->end_io_data = &aw;
		blk_execute_rq_nowait(rq, i % 2, async_done);
	}
	async_wait_for(&aw, ASYNC_N);
	CHECK_EQ(aw.bad_status, 0);
	for (int i = 0; i < ASYNC_N; i++) {
		CHECK_EQ(atomic_load(&tb[i].t.calls), 1);
		CHECK_EQ(atomic_load(&tb[i].t.status), BLK_STS_OK);
		tbio_free(&tb[i]);
	}
	CHECK(file_matches(0, ASYNC_N * 8192, 3));

	/* Reads back, with a NULL completion: the queue puts the request. */
	for (int i = 0; i < ASYNC_N; i++) {
		struct request *rq;

		CHECK(tbio_new(&tb[i], REQ_OP_READ, (sector_t)i * 16, 2, 4096, 0, 0, &bs));
		rq = blk_make_request(q, tb[i].bio, GFP_KERNEL);
		CHECK(!IS_ERR(rq));
		blk_execute_rq_nowait(rq, false, NULL);
	}
	blk_queue_close(q); /* drains: every read completes before it returns */
	for (int i = 0; i < ASYNC_N; i++) {
		CHECK_EQ(atomic_load(&tb[i].t.calls), 1);
		CHECK(tbio_matches(&tb[i], (sector_t)i * 16, 4096, 0, 3));
		tbio_free(&tb[i]);
	}
	tmp_remove(fd);
	CHECK_EQ(blk_in_use(), before);
}

static void test_rw_async(void)
{
	rw_async_on(0);
	rw_async_on(BLK_QUEUE_NO_URING);
}

/*
 * A request with more bios than an io_uring ring holds (its completion
 * queue is 256 entries): it goes in over several rounds. 300 bios of one
 * sector each, written and read back, synchronously and queued.
 */
#define BIG_NR 300

static void big_request_on(unsigned int qflags, bool async)
{
	int fd = tmp_file();
	struct request_queue *q = blk_queue_open_fd(fd, qflags);
	static struct tbio tb[BIG_NR];
	struct request *rq;
	int bad = 0;

	CHECK_EQ(blk_queue_max_segments(q, 1024), 0);
	for (int i = 0; i < BIG_NR; i++)
		tbio_new(&tb[i], REQ_OP_WRITE, (sector_t)i, 1, 512, 0, 13, &bs);
	for (int i = 0; i + 1 < BIG_NR; i++)
		tb[i].bio->bi_next = tb[i + 1].bio;
	rq = blk_make_request(q, tb[0].bio, GFP_KERNEL);
	CHECK(!IS_ERR(rq));
	CHECK_EQ(exec_rq(rq, async), BLK_STS_OK);
	for (int i = 0; i < BIG_NR; i++) {
		bad += atomic_load(&tb[i].t.calls) != 1;
		tbio_free(&tb[i]);
	}
	CHECK_EQ(bad, 0);
	CHECK(file_matches(0, BIG_NR * 512, 13));

	for (int i = 0; i < BIG_NR; i++)
		tbio_new(&tb[i], REQ_OP_READ, (sector_t)i, 1, 512, 0, 0, &bs);
	for (int i = 0; i + 1 < BIG_NR; i++)
		tb[i].bio->bi_next = tb[i + 1].bio;
	rq = blk_make_request(q, tb[0].bio, GFP_KERNEL);
	CHECK(!IS_ERR(rq));
	CHECK_EQ(exec_rq(rq, async), BLK_STS_OK);
	for (int i = 0; i < BIG_NR; i++) {
		bad += atomic_load(&tb[i].t.calls) != 1 || !tbio_matches(&tb[i], (sector_t)i, 512, 0, 13);
		tbio_free(&tb[i]);
	}
	CHECK_EQ(bad, 0);
	blk_queue_close(q);
	tmp_remove(fd);
}

static void test_big_request(void)
{
	uint64_t before = blk_in_use();

	for (int async = 0; async < 2; async++) {
		big_request_on(0, async);
		big_request_on(BLK_QUEUE_NO_URING, async);
	}
	CHECK_EQ(blk_in_use(), before);
}

/* ------------------------------------------------------------ blk_make_request */

static void test_make_request_limits(void)
{
	uint64_t before = blk_in_use();
	unsigned long diags = diag_seen;
	int fd = tmp_file();
	struct request_queue *q = blk_queue_open_fd(fd, 0);
	struct tbio tb[4];
	struct request *rq;

	CHECK(q != NULL);
	CHECK_EQ(blk_queue_max_hw_sectors(q, 32), 0); /* 16 KiB per request */
	CHECK_EQ(blk_queue_max_segments(q, 6), 0);

	/* Within: 3 bios x 2 pages, 12 KiB, 6 segments. Put unexecuted: the chain is ours again. */
	for (int i = 0; i < 3; i++)
		tbio_new(&tb[i], REQ_OP_WRITE, 64 + (sector_t)i * 8, 2, 2048, 0, 1, &bs);
	rq = blk_make_request(q, chain_of(tb, 3), GFP_KERNEL);
	CHECK(!IS_ERR(rq));
	if (!IS_ERR(rq)) {
		CHECK_EQ(blk_rq_sectors(rq), 24);
		CHECK_EQ(rq->nr_phys_segments, 6);
		blk_put_request(rq);
	}
	CHECK(tb[0].bio->bi_next == tb[1].bio && tb[1].bio->bi_next == tb[2].bio && !tb[2].bio->bi_next);

	/* Beyond max_segments: a 4th bio makes 8 segments. */
	tbio_new(&tb[3], REQ_OP_WRITE, 64 + 24, 2, 2048, 0, 1, &bs);
	rq = blk_make_request(q, chain_of(tb, 4), GFP_KERNEL);
	CHECK(IS_ERR(rq) && PTR_ERR(rq) == -EINVAL);
	CHECK_EQ(blk_queue_max_segments(q, 128), 0);
	/* Beyond max_hw_sectors: 32 sectors are fine, 33 not. */
	rq = blk_make_request(q, chain_of(tb, 4), GFP_KERNEL);
	CHECK(!IS_ERR(rq));
	blk_put_request(rq);
	tbio_free(&tb[3]);
	tbio_new(&tb[3], REQ_OP_WRITE, 64 + 24, 2, 2048 + 512, 0, 1, &bs);
	rq = blk_make_request(q, chain_of(tb, 4), GFP_KERNEL);
	CHECK(IS_ERR(rq) && PTR_ERR(rq) == -EINVAL);
	tbio_free(&tb[3]);

	/* Not contiguous: a gap between bio 1 and bio 2. */
	tb[2].bio->bi_iter.bi_sector += 8;
	rq = blk_make_request(q, chain_of(tb, 3), GFP_KERNEL);
	CHECK(IS_ERR(rq) && PTR_ERR(rq) == -EINVAL);
	tb[2].bio->bi_iter.bi_sector -= 8;

	/* Not a multiple of the logical block size (4 KiB now): size, then sector. */
	CHECK_EQ(blk_queue_logical_block_size(q, 4096), 0);
	rq = blk_make_request(q, NULL, GFP_KERNEL); /* no bio at all: diagnosed */
	CHECK(IS_ERR(rq) && PTR_ERR(rq) == -EINVAL);
	CHECK_EQ(diag_seen, diags + 1);
	tb[0].bio->bi_next = NULL;
	tb[0].bio->bi_iter.bi_sector = 64;
	rq = blk_make_request(q, tb[0].bio, GFP_KERNEL); /* 4 KiB at sector 64: aligned */
	CHECK(!IS_ERR(rq));
	blk_put_request(rq);
	tb[0].bio->bi_iter.bi_sector = 65;
	rq = blk_make_request(q, tb[0].bio, GFP_KERNEL);
	CHECK(IS_ERR(rq) && PTR_ERR(rq) == -EINVAL);
	tb[0].bio->bi_iter.bi_sector = 64;
	tb[0].bio->bi_iter.bi_size -= 512;
	rq = blk_make_request(q, tb[0].bio, GFP_KERNEL);
	CHECK(IS_ERR(rq) && PTR_ERR(rq) == -EINVAL);
	tb[0].bio->bi_iter.bi_size += 512;
	CHECK_EQ(blk_queue_logical_block_size(q, 512), 0);

	/* An empty bio; an operation the queue does not perform. */
	{
		struct bio *empty = bio_alloc_bioset(1, REQ_OP_READ, GFP_KERNEL, &bs);

		rq = blk_make_request(q, empty, GFP_KERNEL);
		CHECK(IS_ERR(rq) && PTR_ERR(rq) == -EINVAL);
		bio_put(empty);
		tb[0].bio->bi_opf = 3; /* REQ_OP_DISCARD in Linux */
		rq = blk_make_request(q, tb[0].bio, GFP_KERNEL);
		CHECK(IS_ERR(rq) && PTR_ERR(rq) == -EOPNOTSUPP);
		tb[0].bio->bi_opf = REQ_OP_WRITE;
	}

	/* Mixed directions in one chain: the caller's bug, diagnosed. */
	tb[1].bio->bi_opf = REQ_OP_READ;
	rq = blk_make_request(q, chain_of(tb, 3), GFP_KERNEL);
	CHECK(IS_ERR(rq) && PTR_ERR(rq) == -EINVAL);
	CHECK_EQ(diag_seen, diags + 2);
	CHECK(strstr(diag_last_msg, "read") != NULL);
	tb[1].bio->bi_opf = REQ_OP_WRITE;

	for (int i = 0; i < 3; i++) {
		CHECK_EQ(atomic_load(&tb[i].t.calls), 0); /* refused chains are never ended */
		tbio_free(&tb[i]);
	}
	blk_queue_close(q);
	tmp_remove(fd);
	CHECK_EQ(blk_in_use(), before);
}

/* ------------------------------------------------------------ bouncing */

/*
 * A bio whose vectors break the dma alignment: 1000 bytes at offset 100 of
 * one page and 24 bytes at offset 3 of another (1 KiB in all).
 */
static struct bio *misaligned_bio(struct tbio *tb, enum req_op op, sector_t sector, unsigned int seed)
{
	uint64_t o = sector << SECTOR_SHIFT;
	unsigned char *p;

	memset(tb, 0, sizeof(*tb));
	tb->bio = bio_alloc_bioset(2, op, GFP_KERNEL, &bs);
	tb->bio->bi_iter.bi_sector = sector;
	tb->bio->bi_private = &tb->t;
	tb->bio->bi_end_io = track_end_io;
	tb->pages[0] = alloc_page(GFP_KERNEL);
	tb->pages[1] = alloc_page(GFP_KERNEL);
	tb->np = 2;
	p = (unsigned char *)page_address(tb->pages[0]) + 100;
	for (int i = 0; i < 1000; i++)
		p[i] = op == REQ_OP_WRITE ? pattern(o + (uint64_t)i, seed) : 0;
	p = (unsigned char *)page_address(tb->pages[1]) + 3;
	for (int i = 0; i < 24; i++)
		p[i] = op == REQ_OP_WRITE ? pattern(o + 1000 + (uint64_t)i, seed) : 0;
	bio_add_page(tb->bio, tb->pages[0], 1000, 100);
	bio_add_page(tb->bio, tb->pages[1], 24, 3);
	return tb->bio;
}

static bool misaligned_matches(const struct tbio *tb, sector_t sector, unsigned int seed)
{
	uint64_t o = sector << SECTOR_SHIFT;
	const unsigned char *p = (const unsigned char *)page_address(tb->pages[0]) + 100;

	for (int i = 0; i < 1000; i++)
		if (p[i] != pattern(o + (uint64_t)i, seed))
			return false;
	p = (const unsigned char *)page_address(tb->pages[1]) + 3;
	for (int i = 0; i < 24; i++)
		if (p[i] != pattern(o + 1000 + (uint64_t)i, seed))
			return false;
	return true;
}

static void bounce_on(unsigned int qflags, bool async)
{
	uint64_t before = blk_in_use();
	int fd = tmp_file();
	struct request_queue *q = blk_queue_open_fd(fd, qflags);
	struct tbio w[2], r;
	struct request *rq;

	CHECK(q != NULL);
	/* An aligned bio first, then the misaligned one: only the second is bounced. */
	tbio_new(&w[0], REQ_OP_WRITE, 0, 1, 1024, 0, 9, &bs);
	misaligned_bio(&w[1], REQ_OP_WRITE, 2, 9);
	rq = blk_make_request(q, chain_of(w, 2), GFP_KERNEL);
	CHECK(!IS_ERR(rq));
	if (!IS_ERR(rq)) {
		CHECK(rq->bio == w[0].bio);
		CHECK(rq->biotail != w[1].bio && (rq->biotail->bi_flags & BIO_BOUNCED));
		CHECK(rq->biotail->bi_private == w[1].bio);
		CHECK_EQ(rq->nr_phys_segments, 2);
		CHECK_EQ(exec_rq(rq, async), BLK_STS_OK);
	}
	CHECK_EQ(atomic_load(&w[0].t.calls), 1);
	CHECK_EQ(atomic_load(&w[1].t.calls), 1);
	CHECK_EQ(atomic_load(&w[1].t.status), BLK_STS_OK);
	CHECK(file_matches(0, 2048, 9));
	tbio_free(&w[0]);
	tbio_free(&w[1]);

	/* Read it back into misaligned memory: the bounce copies the data back. */
	misaligned_bio(&r, REQ_OP_READ, 2, 0);
	rq = blk_make_request(q, r.bio, GFP_NOIO);
	CHECK(!IS_ERR(rq));
	if (!IS_ERR(rq)) {
		CHECK(rq->bio != r.bio);
		CHECK_EQ(exec_rq(rq, async), BLK_STS_OK);
	}
	CHECK_EQ(atomic_load(&r.t.calls), 1);
	CHECK(misaligned_matches(&r, 2, 9));
	tbio_free(&r);

	/* A bounced read that fails passes its status to the original. */
	misaligned_bio(&r, REQ_OP_READ, 2, 0);
	blk_queue_fail_nth(q, 1, EIO);
	rq = blk_make_request(q, r.bio, GFP_KERNEL);
	CHECK(!IS_ERR(rq));
	CHECK_EQ(exec_rq(rq, async), BLK_STS_IOERR);
	CHECK_EQ(atomic_load(&r.t.calls), 1);
	CHECK_EQ(atomic_load(&r.t.status), BLK_STS_IOERR);
	tbio_free(&r);

	blk_queue_close(q);
	tmp_remove(fd);
	CHECK_EQ(blk_in_use(), before);
}

static void test_bounce_waiting(void)
{
	for (int async = 0; async < 2; async++) {
		bounce_on(0, async);
		bounce_on(BLK_QUEUE_NO_URING, async);
	}
}

static void test_bounce_atomic_is_a_bug(void)
{
	uint64_t before = blk_in_use();
	unsigned long diags = diag_seen;
	int fd = tmp_file();
	struct request_queue *q = blk_queue_open_fd(fd, 0);
	struct tbio w, ok;
	struct request *rq;
	char want[64];

	misaligned_bio(&w, REQ_OP_WRITE, 0, 1);
	rq = blk_make_request(q, w.bio, GFP_ATOMIC);
	CHECK(IS_ERR(rq) && PTR_ERR(rq) == -EINVAL);
	CHECK_EQ(diag_seen, diags + 1);
	CHECK(strcmp(diag_last_func, "blk_make_request") == 0);
	snprintf(want, sizeof(want), "bio %p", (void *)w.bio);
	CHECK(strstr(diag_last_msg, want) != NULL);          /* names the bio */
	CHECK(strstr(diag_last_msg, "dma_alignment mask 0x1ff") != NULL); /* and the limit */
	CHECK_EQ(atomic_load(&w.t.calls), 0);
	tbio_free(&w);

	/* Aligned pages need no bouncing: GFP_ATOMIC is fine. */
	tbio_new(&ok, REQ_OP_WRITE, 0, 2, 4096, 0, 1, &bs);
	rq = blk_make_request(q, ok.bio, GFP_ATOMIC);
	CHECK(!IS_ERR(rq));
	if (!IS_ERR(rq)) {
		CHECK_EQ(blk_execute_rq(rq, false), BLK_STS_OK);
		blk_put_request(rq);
	}
	tbio_free(&ok);
	CHECK_EQ(diag_seen, diags + 1);

	/* A queue without an alignment limit bounces nothing. */
	CHECK_EQ(blk_queue_dma_alignment(q, 0), 0);
	misaligned_bio(&w, REQ_OP_WRITE, 0, 1);
	rq = blk_make_request(q, w.bio, GFP_ATOMIC);
	CHECK(!IS_ERR(rq));
	if (!IS_ERR(rq)) {
		CHECK(rq->bio == w.bio);
		CHECK_EQ(blk_execute_rq(rq, false), BLK_STS_OK);
		blk_put_request(rq);
	}
	CHECK(file_matches(0, 1024, 1));
	tbio_free(&w);

	blk_queue_close(q);
	tmp_remove(fd);
	CHECK_EQ(blk_in_use(), before);
}

/* ------------------------------------------------------------ I/O errors */

static void io_errors_on(unsigned int qflags, bool async)
{
	uint64_t before = blk_in_use();
	int fd = tmp_file();
	struct request_queue *q = blk_queue_open_fd(fd, qflags);
	struct tbio tb[3];
	struct request *rq;

	CHECK(q != NULL);
	CHECK(file_write_pattern(0, 6144, 5)); /* the file is 6 KiB long */

	/* A read past the end: the bio inside is fine, the one across the end is short. */
	tbio_new(&tb[0], REQ_OP_READ, 0, 1, 4096, 0, 0, &bs);
	tbio_new(&tb[1], REQ_OP_READ, 8, 1, 4096, 0, 0, &bs);
	tbio_new(&tb[2], REQ_OP_READ, 16, 1, 4096, 0, 0, &bs);
	rq = blk_make_request(q, chain_of(tb, 3), GFP_KERNEL);
	CHECK(!IS_ERR(rq));
	CHECK_EQ(exec_rq(rq, async), BLK_STS_IOERR);
	CHECK_EQ(atomic_load(&tb[0].t.status), BLK_STS_OK);
	CHECK_EQ(atomic_load(&tb[1].t.status), BLK_STS_IOERR);
	CHECK_EQ(atomic_load(&tb[2].t.status), BLK_STS_IOERR);
	CHECK(tbio_matches(&tb[0], 0, 4096, 0, 5));
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(atomic_load(&tb[i].t.calls), 1);
		tbio_free(&tb[i]);
	}

	/* Injected: the second of three bios fails with EIO, then one with ENOSPC. */
	for (int round = 0; round < 2; round++) {
		int err = round ? ENOSPC : EIO;
		blk_status_t want = round ? BLK_STS_NOSPC : BLK_STS_IOERR;

		for (int i = 0; i < 3; i++)
			tbio_new(&tb[i], REQ_OP_WRITE, (sector_t)i * 2, 1, 1024, 0, 5, &bs);
		rq = blk_make_request(q, chain_of(tb, 3), GFP_KERNEL);
		CHECK_EQ(blk_queue_fail_nth(q, 2, err), 0);
		CHECK_EQ(exec_rq(rq, async), want);
		CHECK_EQ(atomic_load(&tb[0].t.status), BLK_STS_OK);
		CHECK_EQ(atomic_load(&tb[1].t.status), want);
		CHECK_EQ(atomic_load(&tb[2].t.status), BLK_STS_OK);
		for (int i = 0; i < 3; i++) {
			CHECK_EQ(atomic_load(&tb[i].t.calls), 1);
			tbio_free(&tb[i]);
		}
	}
	/* The hook fired once: the next I/O is fine. */
	tbio_new(&tb[0], REQ_OP_WRITE, 0, 1, 1024, 0, 5, &bs);
	rq = blk_make_request(q, tb[0].bio, GFP_KERNEL);
	CHECK_EQ(exec_rq(rq, async), BLK_STS_OK);
	tbio_free(&tb[0]);

	blk_queue_close(q);

	/* A descriptor that cannot write (EBADF), then one that was closed. */
	{
		int ro = open(tmp_path, O_RDONLY), dup_fd;

		q = blk_queue_open_fd(ro, qflags | BLK_QUEUE_OWN_FD);
		CHECK(q != NULL);
		tbio_new(&tb[0], REQ_OP_WRITE, 0, 1, 1024, 0, 5, &bs);
		rq = blk_make_request(q, tb[0].bio, GFP_KERNEL);
		CHECK_EQ(exec_rq(rq, async), BLK_STS_IOERR);
		CHECK_EQ(atomic_load(&tb[0].t.calls), 1);
		CHECK_EQ(atomic_load(&tb[0].t.status), BLK_STS_IOERR);
		tbio_free(&tb[0]);
		blk_queue_close(q);

		dup_fd = dup(fd);
		q = blk_queue_open_fd(dup_fd, qflags);
		CHECK(q != NULL);
		close(dup_fd); /* the queue's descriptor is gone; no other open until the I/O is done */
		tbio_new(&tb[0], REQ_OP_READ, 0, 1, 1024, 0, 0, &bs);
		rq = blk_make_request(q, tb[0].bio, GFP_KERNEL);
		CHECK_EQ(exec_rq(rq, async), BLK_STS_IOERR);
		CHECK_EQ(atomic_load(&tb[0].t.calls), 1);
		CHECK_EQ(atomic_load(&tb[0].t.status), BLK_STS_IOERR);
		tbio_free(&tb[0]);
		blk_queue_close(q);
	}
	tmp_remove(fd);
	CHECK_EQ(blk_in_use(), before);
}

static void test_io_errors(void)
{
	for (int async = 0; async < 2; async++) {
		io_errors_on(0, async);
		io_errors_on(BLK_QUEUE_NO_URING, async);
	}
}

/* ------------------------------------------------------------ allocation failures */

static void test_alloc_failures(void)
{
	uint64_t before = blk_in_use();
	int fd = tmp_file();
	struct request_queue *q = blk_queue_open_fd(fd, 0);
	struct bio_set dry;
	struct tbio w[2];
	struct request *rq;
	unsigned long points;
	int made = 0, refused = 0;

	/* A set without a reserve: a non-waiting allocation under a fault fails. */
	CHECK_EQ(bioset_init(&dry, 0, 0, BIOSET_NEED_BVECS), 0);
	pktmem_fault_set(PKTMEM_FAULT_NTH, 1, 0);
	errno = 0;
	CHECK(bio_alloc_bioset(1, REQ_OP_READ, GFP_NOWAIT, &dry) == NULL);
	CHECK_EQ(errno, ENOMEM);
	pktmem_fault_off();
	/* A set with a reserve rides out the same fault. */
	pktmem_fault_set(PKTMEM_FAULT_NTH, 1, 0);
	struct bio *b = bio_alloc_bioset(1, REQ_OP_READ, GFP_NOWAIT, &bs);
	CHECK(b != NULL);
	pktmem_fault_off();
	bio_put(b);
	/* A vector array that cannot be had (the last allocation point) frees its bio. */
	pktmem_fault_count_reset();
	b = bio_alloc_bioset(100, REQ_OP_READ, GFP_NOWAIT, &dry);
	points = pktmem_fault_count();
	pktmem_fault_off();
	CHECK(b != NULL);
	bio_put(b);
	pktmem_fault_set(PKTMEM_FAULT_NTH, points, 0);
	CHECK(bio_alloc_bioset(100, REQ_OP_READ, GFP_NOWAIT, &dry) == NULL);
	pktmem_fault_off();
	{
		struct pktmem_stats st;

		mempool_stats(&dry.bio_pool, &st);
		CHECK_EQ(st.in_use, 0);
		CHECK_EQ(st.allocs, 2);
		CHECK_EQ(st.frees, 2);
	}
	bioset_exit(&dry);

	/*
	 * blk_make_request() of a chain that needs bouncing: count its
	 * allocation points, then fail each in turn. Every outcome is a
	 * request or ERR_PTR(-ENOMEM) with the chain as it was.
	 */
	tbio_new(&w[0], REQ_OP_WRITE, 0, 1, 1024, 0, 2, &bs);
	misaligned_bio(&w[1], REQ_OP_WRITE, 2, 2);
	pktmem_fault_count_reset();
	rq = blk_make_request(q, chain_of(w, 2), GFP_KERNEL);
	points = pktmem_fault_count();
	pktmem_fault_off();
	CHECK(!IS_ERR(rq));
	blk_put_request(rq);
	CHECK(points >= 3); /* the request, the bounce bio, its page */
	for (unsigned long n = 1; n <= points; n++) {
		pktmem_fault_set(PKTMEM_FAULT_NTH, n, 0);
		rq = blk_make_request(q, chain_of(w, 2), GFP_KERNEL);
		pktmem_fault_off();
		if (IS_ERR(rq)) {
			CHECK_EQ(PTR_ERR(rq), -ENOMEM);
			refused++;
			CHECK(w[0].bio->bi_next == w[1].bio && w[1].bio->bi_next == NULL);
		} else {
			CHECK_EQ(blk_execute_rq(rq, false), BLK_STS_OK);
			blk_put_request(rq);
			made++;
			CHECK_EQ(atomic_load(&w[1].t.calls), made);
		}
		CHECK_EQ(atomic_load(&w[0].t.calls), made);
	}
	CHECK(refused >= 2);
	CHECK(file_matches(0, 2048, 2));
	tbio_free(&w[0]);
	tbio_free(&w[1]);

	/* Faults inside blkdev_issue_rw(): it completes, or says -ENOMEM; nothing leaks. */
	{
		size_t len = 256 * 1024;
		char *buf = malloc(len), *back = malloc(len);

		for (size_t i = 0; i < len; i++)
			buf[i] = (char)pattern(i, 4);
		pktmem_fault_set(PKTMEM_FAULT_EVERY, 7, 0);
		int err = blkdev_issue_rw(q, REQ_OP_WRITE, 0, buf, len, GFP_KERNEL, &bs);
		pktmem_fault_off();
		CHECK(err == 0 || err == -ENOMEM);
		if (err == 0)
			CHECK(file_matches(0, len, 4));
		CHECK_EQ(blkdev_issue_rw(q, REQ_OP_WRITE, 0, buf, len, GFP_KERNEL, &bs), 0);
		CHECK_EQ(blkdev_issue_rw(q, REQ_OP_READ, 0, back, len, GFP_KERNEL, &bs), 0);
		CHECK(memcmp(buf, back, len) == 0);
		free(buf);
		free(back);
	}
	blk_queue_close(q);
	tmp_remove(fd);
	CHECK_EQ(blk_in_use(), before);
}

/* ------------------------------------------------------------ whole buffers */

static void test_issue_rw(void)
{
	uint64_t before = blk_in_use();
	int fd = tmp_file();
	struct request_queue *q = blk_queue_open_fd(fd, 0);
	size_t len = 1 << 20;
	char *buf = malloc(len), *back = malloc(len);

	for (size_t i = 0; i < len; i++)
		buf[i] = (char)pattern(i + 4096, 6);
	CHECK_EQ(blkdev_issue_rw(q, REQ_OP_WRITE, 8, buf, len, GFP_KERNEL, &bs), 0);
	CHECK(file_matches(4096, len, 6));
	memset(back, 0, len);
	CHECK_EQ(blkdev_issue_rw(q, REQ_OP_READ, 8, back, len, GFP_KERNEL, &bs), 0);
	CHECK(memcmp(buf, back, len) == 0);

	/* Unaligned length or sector, a mask that may not wait, another operation. */
	CHECK_EQ(blkdev_issue_rw(q, REQ_OP_WRITE, 0, buf, 1000, GFP_KERNEL, &bs), -EINVAL);
	CHECK_EQ(blkdev_issue_rw(q, REQ_OP_WRITE, 0, buf, 0, GFP_KERNEL, &bs), -EINVAL);
	CHECK_EQ(blkdev_issue_rw(q, REQ_OP_WRITE, 0, buf, 4096, GFP_ATOMIC, &bs), -EINVAL);
	CHECK_EQ(blkdev_issue_rw(q, (enum req_op)3, 0, buf, 4096, GFP_KERNEL, &bs), -EINVAL);
	CHECK_EQ(blk_queue_logical_block_size(q, 4096), 0);
	CHECK_EQ(blkdev_issue_rw(q, REQ_OP_WRITE, 1, buf, 4096, GFP_KERNEL, &bs), -EINVAL);

	/* Reading past the end of the file reports the error; the rest still arrives. */
	memset(back, 0, len);
	CHECK_EQ(blkdev_issue_rw(q, REQ_OP_READ, 8 + 2048 - 128, back, 128 * 1024, GFP_KERNEL, &bs), -EIO);
	CHECK(memcmp(back, buf + len - 64 * 1024, 64 * 1024) == 0);

	free(buf);
	free(back);
	blk_queue_close(q);
	tmp_remove(fd);
	CHECK_EQ(blk_in_use(), before);
}

/* The inline helpers: sectors, direction, ending a bio with an error, limits. */
static void test_inline_helpers(void)
{
	uint64_t before = blk_in_use();
	struct tracker t = { 0, 0 };
	struct page *pg = alloc_page(GFP_KERNEL);
	struct bio *bio = bio_alloc_bioset(1, REQ_OP_WRITE, GFP_KERNEL, &bs);

	CHECK(op_is_write(REQ_OP_WRITE));
	CHECK(!op_is_write(REQ_OP_READ));
	bio->bi_iter.bi_sector = 8;
	CHECK_EQ(bio_add_page(bio, pg, PAGE_SIZE, 0), PAGE_SIZE);
	CHECK_EQ(bio_sectors(bio), PAGE_SIZE >> 9);
	CHECK_EQ(bio_end_sector(bio), 8 + (PAGE_SIZE >> 9));
	bio->bi_private = &t;
	bio->bi_end_io = track_end_io;
	bio_io_error(bio);
	CHECK_EQ(atomic_load(&t.calls), 1);
	CHECK_EQ(atomic_load(&t.status), BLK_STS_IOERR);
	bio_put(bio);
	put_page(pg);

	int fd = tmp_file();
	struct request_queue *q = blk_queue_open_fd(fd, 0);

	CHECK(q != NULL);
	if (q) {
		const struct queue_limits *lim = blk_queue_limits(q);

		CHECK_EQ(queue_max_sectors(q), lim->max_hw_sectors);
		CHECK_EQ(queue_max_hw_sectors(q), lim->max_hw_sectors);
		blk_queue_close(q);
	}
	tmp_remove(fd);
	CHECK_EQ(blk_in_use(), before);
}

int main(void)
{
	struct pktmem_stats st;

	diag_capture();
	if (bioset_init(&bs, 4, 0, BIOSET_NEED_BVECS)) {
		fprintf(stderr, "bioset_init failed\n");
		return 1;
	}
	bio_default_bioset(); /* its reserve is permanent: create it before any test counts */
	TEST(test_bio_alloc_put);
	TEST(test_bio_add_page);
	TEST(test_bio_split_chain);
	TEST(test_bio_chain_many);
	TEST(test_status_errno);
	TEST(test_queue_open_limits);
	TEST(test_rw_sync);
	TEST(test_rw_sync_direct);
	TEST(test_rw_async);
	TEST(test_big_request);
	TEST(test_make_request_limits);
	TEST(test_bounce_waiting);
	TEST(test_bounce_atomic_is_a_bug);
	TEST(test_io_errors);
	TEST(test_alloc_failures);
	TEST(test_issue_rw);
	TEST(test_inline_helpers);

	mempool_stats(&bs.bio_pool, &st);
	if (st.in_use != 0) {
		fprintf(stderr, "test_blk: %llu bios still out\n", (unsigned long long)st.in_use);
		tests_failed++;
	}
	bioset_exit(&bs);
	return test_summary();
}
