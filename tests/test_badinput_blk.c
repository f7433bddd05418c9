/*
 * Bad input to <pktmem/blkdev.h>, one test per group of rows of
 * docs/bad-inputs/blkdev.md: every refused call returns what the table
 * says, the diagnostic (when there is one) names the function, the
 * caller's bios, chains and files are left as they were, and the bio,
 * vector, request and page caches hold nothing more afterwards.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pktmem/blkdev.h>

#include "check.h"

/* ------------------------------------------------------------ helpers */

static char path[4096];
static struct bio_set bs;

/* A new empty file (its name in path); -1 on failure. */
static int new_file(void)
{
	const char *dir = getenv("TMPDIR");

	snprintf(path, sizeof(path), "%s/badblk.XXXXXX", dir && *dir ? dir : "/tmp");
	return mkstemp(path);
}

static void drop_file(int fd)
{
	if (fd >= 0)
		close(fd);
	unlink(path);
}

static off_t file_size(void)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Objects out of the block face's caches and pools, summed. */
static int add_blk(const struct pktmem_stats *st, void *arg)
{
	static const char *const names[] = { "bio", "bvec-", "blk-request", "page-", "mempool(slab:bio",
					     "mempool(slab:bvec" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strncmp(st->name, names[i], strlen(names[i]))) {
			*(uint64_t *)arg += st->in_use;
			break;
		}
	return 0;
}

static uint64_t blk_objects(void)
{
	uint64_t n = 0;

	pktmem_stats_walk(add_blk, &n);
	return n;
}

/* Did the last call diagnose, from @func? */
static bool diagnosed(unsigned long *seen, const char *func)
{
	bool ok = diag_seen == *seen + 1 && strcmp(diag_last_func, func) == 0;

	if (!ok)
		fprintf(stderr, "    expected one diagnostic from %s; got %lu, last from %s\n", func, diag_seen - *seen,
			diag_last_func);
	*seen = diag_seen;
	return ok;
}

struct ends {
	int calls;
	blk_status_t status;
};

static void count_end(struct bio *bio)
{
	struct ends *e = bio->bi_private;

	e->calls++;
	e->status = bio->bi_status;
}

/* A bio of @n pages of @each bytes at @off in each page, at @sector; pages filled with @fill. */
struct tb {
	struct bio *bio;
	struct page *pg[8];
	int n;
	struct ends e;
};

static struct bio *tb_new(struct tb *t, enum req_op op, sector_t sector, int n, unsigned int each, unsigned int off,
			  int fill)
{
	memset(t, 0, sizeof(*t));
	t->bio = bio_alloc_bioset((unsigned short)n, op, GFP_KERNEL, &bs);
	if (!t->bio)
		return NULL;
	t->bio->bi_iter.bi_sector = sector;
	t->bio->bi_private = &t->e;
	t->bio->bi_end_io = count_end;
	for (int i = 0; i < n; i++) {
		t->pg[i] = alloc_page(GFP_KERNEL);
		t->n++;
		memset(page_address(t->pg[i]), fill, PAGE_SIZE);
		bio_add_page(t->bio, t->pg[i], each, off);
	}
	return t->bio;
}

static void tb_free(struct tb *t)
{
	bio_put(t->bio);
	for (int i = 0; i < t->n; i++)
		put_page(t->pg[i]);
	memset(t, 0, sizeof(*t));
}

static struct bio *link2(struct tb *a, struct tb *b)
{
	a->bio->bi_next = b ? b->bio : NULL;
	if (b)
		b->bio->bi_next = NULL;
	return a->bio;
}

/* Is the iterator of @bio the same as @it? */
static bool iter_is(const struct bio *bio, const struct bvec_iter *it)
{
	return memcmp(&bio->bi_iter, it, sizeof(*it)) == 0;
}

/* ------------------------------------------------------------ bio sets */

static void test_bioset_bad_args(void)
{
	unsigned long seen = diag_seen;
	struct bio_set s, copy;

	memset(&s, 0xab, sizeof(s));
	copy = s;
	CHECK_EQ(bioset_init(NULL, 4, 0, BIOSET_NEED_BVECS), -EINVAL);
	CHECK_EQ(bioset_init(&s, 4, 0, 0x10), -EINVAL);                /* unknown flag */
	CHECK_EQ(bioset_init(&s, (unsigned int)INT_MAX + 1u, 0, 0), -EINVAL);
	CHECK_EQ(bioset_init(&s, 4, 65536 + 8, 0), -EINVAL);           /* front pad too large */
	CHECK_EQ(bioset_init(&s, 4, 12, 0), -EINVAL);                  /* not a multiple of 8 */
	CHECK(memcmp(&s, &copy, sizeof(s)) == 0);                      /* refused: untouched */
	CHECK_EQ(diag_seen, seen);

	/* Exit: NULL, a zeroed set, twice. */
	bioset_exit(NULL);
	memset(&s, 0, sizeof(s));
	bioset_exit(&s);
	CHECK_EQ(bioset_init(&s, 1, 0, BIOSET_NEED_BVECS), 0);
	bioset_exit(&s);
	bioset_exit(&s);
	CHECK(s.bio_slab == NULL);
	CHECK_EQ(diag_seen, seen);
}

static void test_bioset_exit_with_bio_out(void)
{
	uint64_t before = blk_objects();
	unsigned long seen = diag_seen;
	struct bio_set s;
	struct bio *bio;

	CHECK_EQ(bioset_init(&s, 1, 0, BIOSET_NEED_BVECS), 0);
	bio = bio_alloc_bioset(20, REQ_OP_READ, GFP_KERNEL, &s);
	CHECK(bio != NULL);
	bioset_exit(&s);
	CHECK(diagnosed(&seen, "bioset_exit"));
	CHECK(strstr(diag_last_msg, "1 bio(s) out") != NULL);
	CHECK(s.bio_slab != NULL); /* kept whole: the bio can still be put */
	bio_put(bio);
	bioset_exit(&s);
	CHECK_EQ(diag_seen, seen);
	CHECK(s.bio_slab == NULL);
	CHECK_EQ(blk_objects(), before);
}

/* ------------------------------------------------------------ bio allocation */

static void test_bio_alloc_bad_args(void)
{
	uint64_t before = blk_objects();
	unsigned long seen = diag_seen;
	struct bio_set zero, novec;
	struct bio *bio;

	errno = 0;
	CHECK(bio_alloc_bioset(1, REQ_OP_READ, GFP_KERNEL, NULL) == NULL);
	CHECK_EQ(errno, EINVAL);
	CHECK(diagnosed(&seen, "bio_alloc_bioset"));
	memset(&zero, 0, sizeof(zero));
	errno = 0;
	CHECK(bio_alloc_bioset(1, REQ_OP_READ, GFP_KERNEL, &zero) == NULL);
	CHECK_EQ(errno, EINVAL);
	CHECK(diagnosed(&seen, "bio_alloc_bioset"));

	/* Too many vectors, or vectors from a set without them: EINVAL, no diagnostic. */
	errno = 0;
	CHECK(bio_alloc_bioset(BIO_MAX_VECS + 1, REQ_OP_READ, GFP_KERNEL, &bs) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(bio_alloc(BIO_MAX_VECS + 1, REQ_OP_READ, GFP_KERNEL) == NULL);
	CHECK_EQ(errno, EINVAL);
	CHECK_EQ(bioset_init(&novec, 1, 0, 0), 0);
	errno = 0;
	CHECK(bio_alloc_bioset(1, REQ_OP_READ, GFP_KERNEL, &novec) == NULL);
	CHECK_EQ(errno, EINVAL);
	bioset_exit(&novec);
	CHECK_EQ(diag_seen, seen);

	/* An unknown operation is not the allocator's business: blk_make_request() refuses it. */
	bio = bio_alloc_bioset(0, 7, GFP_KERNEL, &bs);
	CHECK(bio != NULL);
	CHECK_EQ(bio_op(bio), 7);
	bio_put(bio);

	/* The default set is one set, whatever the caller does. */
	CHECK(bio_default_bioset() == bio_default_bioset());
	bio = bio_alloc(1, REQ_OP_WRITE, GFP_KERNEL);
	CHECK(bio != NULL && bio->bi_pool == bio_default_bioset());
	bio_put(bio);
	CHECK_EQ(blk_objects(), before);
}

/* gfp(3): a waiting mask in atomic context is refused with EWOULDBLOCK. */
static void test_bio_alloc_atomic_context(void)
{
	uint64_t before = blk_objects();
	unsigned long seen = diag_seen;
	struct bio *bio;

	pktmem_atomic_begin();
	errno = 0;
	CHECK(bio_alloc_bioset(1, REQ_OP_READ, GFP_KERNEL, &bs) == NULL);
	CHECK_EQ(errno, EWOULDBLOCK);
	CHECK(diagnosed(&seen, "bio_alloc_bioset"));
	CHECK(strstr(diag_last_msg, "atomic context") != NULL);
	errno = 0;
	CHECK(bio_alloc(1, REQ_OP_READ, GFP_NOIO) == NULL);
	CHECK_EQ(errno, EWOULDBLOCK);
	CHECK(diagnosed(&seen, "bio_alloc_bioset"));
	/* A mask that does not wait is fine there. */
	bio = bio_alloc_bioset(1, REQ_OP_READ, GFP_ATOMIC, &bs);
	CHECK(bio != NULL);
	pktmem_atomic_end();
	bio_put(bio);
	CHECK_EQ(diag_seen, seen);
	CHECK_EQ(blk_objects(), before);
}

/* ------------------------------------------------------------ references */

static void test_bio_put_twice(void)
{
	uint64_t before = blk_objects();
	unsigned long seen = diag_seen;
	struct pktmem_stats a, b;
	struct bio *bio;

	bio_put(NULL); /* a no-op */
	CHECK_EQ(diag_seen, seen);

	/* get/put balanced: the bio lives until the last put. */
	bio = bio_alloc_bioset(1, REQ_OP_READ, GFP_KERNEL, &bs);
	bio_get(bio);
	bio_put(bio);
	CHECK_EQ(bio->__bi_cnt, 1);
	mempool_stats(&bs.bio_pool, &a);
	bio_put(bio);
	mempool_stats(&bs.bio_pool, &b);
	CHECK_EQ(b.frees, a.frees + 1);
	CHECK_EQ(blk_objects(), before);

	if (!reuse_is_safe()) {
		printf("     put of a freed bio: skipped under ASan and valgrind\n");
		return;
	}
	/*
	 * Put once more: the freed bio's count (0, while it rests in its cache
	 * or its pool's reserve) goes below zero. In debug mode a bio back in
	 * its cache is filled, reads 0x6b6b6b6b, and its record says freed: the
	 * put is refused with both sites (tests/test_debug_refs.c).
	 */
	bool filled = pktmem_debug_enabled() && bio->__bi_cnt == 0x6b6b6b6b;

	bio_put(bio);
	CHECK(diagnosed(&seen, "bio_put"));
	CHECK(strstr(diag_last_msg, filled ? "is freed already" : "put more often") != NULL);
	mempool_stats(&bs.bio_pool, &a);
	CHECK_EQ(a.frees, b.frees); /* not freed twice */
	CHECK_EQ(blk_objects(), before);
	/* The cache hands the object out again, whole. */
	bio = bio_alloc_bioset(1, REQ_OP_READ, GFP_KERNEL, &bs);
	CHECK(bio != NULL && bio->__bi_cnt == 1);
	bio_put(bio);
	CHECK_EQ(diag_seen, seen);
	CHECK_EQ(blk_objects(), before);
}

/* ------------------------------------------------------------ vectors */

static void test_bio_add_page_bad(void)
{
	uint64_t before = blk_objects();
	unsigned long seen = diag_seen;
	struct page *pg = alloc_page(GFP_KERNEL), *pg2 = alloc_page(GFP_KERNEL);
	struct bio *bio = bio_alloc_bioset(1, REQ_OP_WRITE, GFP_KERNEL, &bs);
	struct bvec_iter it;

	CHECK(pg && pg2 && bio);
	CHECK_EQ(bio_add_page(NULL, pg, 512, 0), 0);
	CHECK(diagnosed(&seen, "bio_add_page"));
	CHECK_EQ(bio_add_page(bio, NULL, 512, 0), 0);
	CHECK(diagnosed(&seen, "bio_add_page"));
	CHECK_EQ(bio_add_page(bio, pg, 0, 0), 0); /* nothing to add: no diagnostic */
	CHECK_EQ(diag_seen, seen);
	CHECK_EQ(bio->bi_vcnt, 0);

	/* Outside the page: offset past it, length past it, both huge (no wrap-around). */
	CHECK_EQ(bio_add_page(bio, pg, 1, PAGE_SIZE), 0);
	CHECK(diagnosed(&seen, "bio_add_page"));
	CHECK_EQ(bio_add_page(bio, pg, PAGE_SIZE + 1, 0), 0);
	CHECK(diagnosed(&seen, "bio_add_page"));
	CHECK_EQ(bio_add_page(bio, pg, 8, UINT_MAX - 4), 0);
	CHECK(diagnosed(&seen, "bio_add_page"));
	CHECK_EQ(bio->bi_vcnt, 0);
	CHECK_EQ(bio->bi_iter.bi_size, 0);

	/* Past the vector count: refused quietly, the bio unchanged. */
	while (bio->bi_vcnt < bio->bi_max_vecs)
		CHECK_EQ(bio_add_page(bio, bio->bi_vcnt % 2 ? pg2 : pg, 512, 0), 512);
	it = bio->bi_iter;
	CHECK_EQ(bio_add_page(bio, pg, 512, 1024), 0);
	CHECK(iter_is(bio, &it));
	CHECK_EQ(bio->bi_vcnt, bio->bi_max_vecs);
	/* ... except bytes that continue the last vector, which need no new one. */
	CHECK_EQ(bio_add_page(bio, bio->bi_io_vec[bio->bi_vcnt - 1].bv_page, 512, 512), 512);
	CHECK_EQ(diag_seen, seen);
	bio_put(bio);

	/* A misaligned offset or length is accepted here: the queue bounces it (or refuses it atomically). */
	bio = bio_alloc_bioset(2, REQ_OP_WRITE, GFP_KERNEL, &bs);
	CHECK_EQ(bio_add_page(bio, pg, 1000, 3), 1000);
	CHECK_EQ(bio_add_page(bio, pg2, 24, 7), 24);
	CHECK_EQ(bio->bi_iter.bi_size, 1024);

	/* More than 4 GiB in one bio: refused quietly. */
	it = bio->bi_iter;
	bio->bi_iter.bi_size = UINT_MAX - 100; /* as if it held almost 4 GiB */
	CHECK_EQ(bio_add_page(bio, pg2, 512, 2048), 0);
	CHECK_EQ(bio->bi_vcnt, 2);
	bio->bi_iter = it;
	CHECK_EQ(diag_seen, seen);
	bio_put(bio);
	put_page(pg);
	put_page(pg2);
	CHECK_EQ(blk_objects(), before);
}

static void test_bio_advance_bad(void)
{
	uint64_t before = blk_objects();
	unsigned long seen = diag_seen;
	struct tb t;
	struct bvec_iter it;

	tb_new(&t, REQ_OP_WRITE, 16, 2, 1024, 0, 1);
	it = t.bio->bi_iter;
	bio_advance(t.bio, 2049);
	CHECK(diagnosed(&seen, "bio_advance"));
	CHECK(iter_is(t.bio, &it));
	bio_advance(t.bio, UINT_MAX);
	CHECK(diagnosed(&seen, "bio_advance"));
	CHECK(iter_is(t.bio, &it));
	bio_advance(t.bio, 2048); /* exactly to the end is fine */
	CHECK_EQ(t.bio->bi_iter.bi_size, 0);
	CHECK_EQ(t.bio->bi_iter.bi_sector, 20);
	CHECK_EQ(diag_seen, seen);
	tb_free(&t);
	CHECK_EQ(blk_objects(), before);
}

/* ------------------------------------------------------------ split */

static void test_bio_split_bad(void)
{
	uint64_t before = blk_objects();
	unsigned long seen = diag_seen;
	static const int bad[] = { 0, -1, INT_MIN, 8, 9, INT_MAX };
	struct bio_set dry;
	struct tb t;
	struct bvec_iter it;

	tb_new(&t, REQ_OP_WRITE, 16, 2, 2048, 0, 1); /* 8 sectors */
	it = t.bio->bi_iter;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		CHECK(bio_split(t.bio, bad[i], GFP_KERNEL, &bs) == NULL);
		CHECK_EQ(errno, EINVAL);
		CHECK(diagnosed(&seen, "bio_split"));
		CHECK(iter_is(t.bio, &it));
	}
	errno = 0;
	CHECK(bio_split(NULL, 1, GFP_KERNEL, &bs) == NULL);
	CHECK_EQ(errno, EINVAL);
	CHECK(diagnosed(&seen, "bio_split"));

	/* No set: the allocation refuses it; the bio is unchanged. */
	errno = 0;
	CHECK(bio_split(t.bio, 2, GFP_KERNEL, NULL) == NULL);
	CHECK_EQ(errno, EINVAL);
	CHECK(diagnosed(&seen, "bio_alloc_bioset"));
	CHECK(iter_is(t.bio, &it));

	/* A waiting mask in atomic context. */
	pktmem_atomic_begin();
	errno = 0;
	CHECK(bio_split(t.bio, 2, GFP_KERNEL, &bs) == NULL);
	pktmem_atomic_end();
	CHECK_EQ(errno, EWOULDBLOCK);
	CHECK(diagnosed(&seen, "bio_alloc_bioset"));
	CHECK(iter_is(t.bio, &it));

	/* A dry set under a non-waiting mask. */
	CHECK_EQ(bioset_init(&dry, 0, 0, 0), 0);
	pktmem_fault_set(PKTMEM_FAULT_NTH, 1, 0);
	errno = 0;
	CHECK(bio_split(t.bio, 2, GFP_NOWAIT, &dry) == NULL);
	pktmem_fault_off();
	CHECK_EQ(errno, ENOMEM);
	CHECK(iter_is(t.bio, &it));
	bioset_exit(&dry);
	CHECK_EQ(diag_seen, seen);
	tb_free(&t);
	CHECK_EQ(blk_objects(), before);
}

/* ------------------------------------------------------------ chain, endio */

static void test_bio_chain_bad(void)
{
	uint64_t before = blk_objects();
	unsigned long seen = diag_seen;
	struct tb parent;
	struct bio *kid = bio_alloc_bioset(0, REQ_OP_WRITE, GFP_KERNEL, &bs);

	tb_new(&parent, REQ_OP_WRITE, 0, 1, 512, 0, 1);
	bio_chain(NULL, parent.bio);
	CHECK(diagnosed(&seen, "bio_chain"));
	bio_chain(kid, NULL);
	CHECK(diagnosed(&seen, "bio_chain"));
	bio_chain(kid, kid); /* would wait for itself forever */
	CHECK(diagnosed(&seen, "bio_chain"));
	CHECK(kid->bi_end_io == NULL && kid->bi_private == NULL && !(kid->bi_flags & BIO_CHAIN));
	/* A bio that already has an end routine (here: the parent, into the kid). */
	bio_chain(parent.bio, kid);
	CHECK(diagnosed(&seen, "bio_chain"));
	CHECK(parent.bio->bi_end_io == count_end && parent.bio->bi_private == &parent.e);
	CHECK_EQ(kid->__bi_remaining, 1);
	CHECK(!(kid->bi_flags & BIO_CHAIN));

	/* Chained twice: the second is refused, the parent waits for one child only. */
	bio_chain(kid, parent.bio);
	bio_chain(kid, parent.bio);
	CHECK(diagnosed(&seen, "bio_chain"));
	CHECK_EQ(parent.bio->__bi_remaining, 2);
	bio_endio(kid);
	bio_endio(parent.bio);
	CHECK_EQ(parent.e.calls, 1);
	CHECK_EQ(diag_seen, seen);
	tb_free(&parent);
	CHECK_EQ(blk_objects(), before);
}

static void test_bio_endio_twice(void)
{
	uint64_t before = blk_objects();
	struct tb t;
	struct bio *bare;

	/* Not checked, as in Linux: the end routine runs again. */
	tb_new(&t, REQ_OP_READ, 0, 1, 512, 0, 0);
	bio_endio(t.bio);
	bio_endio(t.bio);
	CHECK_EQ(t.e.calls, 2);
	/* bio_io_error() on a bio without an end routine: the status only. */
	bare = bio_alloc_bioset(0, REQ_OP_READ, GFP_KERNEL, &bs);
	bio_io_error(bare);
	CHECK_EQ(bare->bi_status, BLK_STS_IOERR);
	CHECK_EQ(bare->__bi_cnt, 1); /* still the caller's */
	bio_put(bare);
	tb_free(&t);
	CHECK_EQ(blk_objects(), before);
}

/* ------------------------------------------------------------ helpers and status */

static void test_status_and_helpers_bad(void)
{
	struct bio b;
	struct request rq;

	CHECK_EQ(blk_status_to_errno((blk_status_t)6), -EIO); /* a hole in the numbering */
	CHECK_EQ(blk_status_to_errno((blk_status_t)255), -EIO);
	CHECK_EQ(errno_to_blk_status(INT_MIN), BLK_STS_IOERR); /* no overflow negating it */
	CHECK_EQ(errno_to_blk_status(INT_MAX), BLK_STS_IOERR);
	CHECK_EQ(errno_to_blk_status(-ENOSPC), errno_to_blk_status(ENOSPC));
	CHECK_EQ(errno_to_blk_status(EBADF), BLK_STS_IOERR);

	/* An operation number the queue does not perform: the helpers still answer by its bits. */
	CHECK(op_is_write(3));
	CHECK(!op_is_write(2));
	memset(&b, 0, sizeof(b));
	b.bi_opf = 3 | REQ_SYNC;
	CHECK_EQ(bio_op(&b), 3);
	CHECK_EQ(bio_data_dir(&b), WRITE);
	/* A size that is not whole sectors: sectors round down. */
	b.bi_iter.bi_sector = 10;
	b.bi_iter.bi_size = 1000;
	CHECK_EQ(bio_sectors(&b), 1);
	CHECK_EQ(bio_end_sector(&b), 11);
	memset(&rq, 0, sizeof(rq));
	rq.cmd_flags = 2;
	rq.__sector = 7;
	rq.__data_len = 1000;
	CHECK_EQ(req_op(&rq), 2);
	CHECK_EQ(rq_data_dir(&rq), READ);
	CHECK_EQ(blk_rq_pos(&rq), 7);
	CHECK_EQ(blk_rq_bytes(&rq), 1000);
	CHECK_EQ(blk_rq_sectors(&rq), 1);
}

/* ------------------------------------------------------------ opening */

/* The lowest free descriptor number: equal before and after means nothing leaked. */
static int next_fd(void)
{
	int fd = dup(0);

	if (fd >= 0)
		close(fd);
	return fd;
}

static void test_queue_open_bad(void)
{
	uint64_t before = blk_objects();
	int fds = next_fd(), fd, pfd[2];
	char dir[4096];
	const char *tmp = getenv("TMPDIR");

	errno = 0;
	CHECK(blk_queue_open("/nonexistent/badblk", O_RDWR) == NULL);
	CHECK_EQ(errno, ENOENT);
	errno = 0;
	CHECK(blk_queue_open(NULL, O_RDWR) == NULL);
	CHECK_EQ(errno, EINVAL);
	snprintf(dir, sizeof(dir), "%s", tmp && *tmp ? tmp : "/tmp");
	errno = 0;
	CHECK(blk_queue_open(dir, O_RDONLY) == NULL); /* opens, then not a file: EINVAL, closed */
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(blk_queue_open(dir, O_RDWR) == NULL); /* open(2) refuses it */
	CHECK_EQ(errno, EISDIR);
	CHECK_EQ(next_fd(), fds);

	/* Descriptors: none, closed, a directory, a pipe, unknown flags. */
	errno = 0;
	CHECK(blk_queue_open_fd(-1, 0) == NULL);
	CHECK_EQ(errno, EBADF);
	fd = new_file();
	close(fd);
	errno = 0;
	CHECK(blk_queue_open_fd(fd, BLK_QUEUE_OWN_FD) == NULL);
	CHECK_EQ(errno, EBADF);
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	errno = 0;
	CHECK(blk_queue_open_fd(fd, BLK_QUEUE_OWN_FD) == NULL);
	CHECK_EQ(errno, EINVAL);
	CHECK(fcntl(fd, F_GETFD) >= 0); /* a refused descriptor stays the caller's, even with OWN_FD */
	close(fd);
	CHECK_EQ(pipe(pfd), 0);
	errno = 0;
	CHECK(blk_queue_open_fd(pfd[0], 0) == NULL);
	CHECK_EQ(errno, EINVAL);
	close(pfd[0]);
	close(pfd[1]);
	fd = open(path, O_RDWR);
	errno = 0;
	CHECK(blk_queue_open_fd(fd, 0x100) == NULL);
	CHECK_EQ(errno, EINVAL);
	CHECK(fcntl(fd, F_GETFD) >= 0);
	drop_file(fd);

	/* O_DIRECT where the file system refuses it: open(2)'s EINVAL. */
	fd = new_file();
	{
		struct request_queue *q = blk_queue_open(path, O_RDWR | O_DIRECT);

		if (q) {
			printf("     O_DIRECT accepted here: logical block %u, dma mask %u\n", queue_logical_block_size(q),
			       queue_dma_alignment(q));
			blk_queue_close(q);
		} else {
			CHECK_EQ(errno, EINVAL);
		}
	}
	drop_file(fd);
	CHECK_EQ(next_fd(), fds);
	CHECK_EQ(blk_objects(), before);
}

/* ------------------------------------------------------------ limits */

static bool limits_are(struct request_queue *q, const struct queue_limits *want)
{
	return queue_logical_block_size(q) == want->logical_block_size &&
	       queue_max_hw_sectors(q) == want->max_hw_sectors && queue_max_sectors(q) == want->max_hw_sectors &&
	       queue_max_segments(q) == want->max_segments && queue_dma_alignment(q) == want->dma_alignment &&
	       memcmp(blk_queue_limits(q), want, sizeof(*want)) == 0;
}

static void test_queue_limits_bad(void)
{
	uint64_t before = blk_objects();
	int fd = new_file();
	struct request_queue *q = blk_queue_open_fd(fd, 0);
	struct queue_limits was;
	const char *engine;

	CHECK(q != NULL);
	if (!q) {
		drop_file(fd);
		return;
	}
	engine = blk_queue_engine(q);
	CHECK(!strcmp(engine, "io_uring") || !strcmp(engine, "worker"));
	was = *blk_queue_limits(q);

	CHECK_EQ(blk_queue_logical_block_size(NULL, 512), -EINVAL);
	CHECK_EQ(blk_queue_max_hw_sectors(NULL, 64), -EINVAL);
	CHECK_EQ(blk_queue_max_segments(NULL, 4), -EINVAL);
	CHECK_EQ(blk_queue_dma_alignment(NULL, 511), -EINVAL);
	CHECK_EQ(blk_queue_fail_nth(NULL, 1, EIO), -EINVAL);

	CHECK_EQ(blk_queue_logical_block_size(q, 0), -EINVAL);
	CHECK_EQ(blk_queue_logical_block_size(q, 256), -EINVAL);
	CHECK_EQ(blk_queue_logical_block_size(q, 1536), -EINVAL);   /* not a power of two */
	CHECK_EQ(blk_queue_logical_block_size(q, 2 * PAGE_SIZE), -EINVAL);
	CHECK_EQ(blk_queue_max_hw_sectors(q, 0), -EINVAL);
	CHECK_EQ(blk_queue_max_hw_sectors(q, 65537), -EINVAL);
	CHECK_EQ(blk_queue_max_segments(q, 0), -EINVAL);
	CHECK_EQ(blk_queue_max_segments(q, 1025), -EINVAL);
	CHECK_EQ(blk_queue_dma_alignment(q, 3000), -EINVAL);        /* not 2^n - 1 */
	CHECK_EQ(blk_queue_dma_alignment(q, 1023), -EINVAL);        /* not below the block size */
	CHECK_EQ(blk_queue_dma_alignment(q, UINT_MAX), -EINVAL);
	CHECK_EQ(blk_queue_fail_nth(q, 1, 0), -EINVAL);
	CHECK_EQ(blk_queue_fail_nth(q, 1, -EIO), -EINVAL);
	CHECK_EQ(blk_queue_fail_nth(q, 1, 5000), -EINVAL);
	CHECK(limits_are(q, &was));

	/* Combinations: a block size the request limit cannot carry, and the reverse. */
	CHECK_EQ(blk_queue_max_hw_sectors(q, 4), 0);
	CHECK_EQ(blk_queue_logical_block_size(q, 4096), -EINVAL);
	CHECK_EQ(blk_queue_max_hw_sectors(q, was.max_hw_sectors), 0);
	CHECK_EQ(blk_queue_logical_block_size(q, 4096), 0);
	CHECK_EQ(blk_queue_max_hw_sectors(q, 4), -EINVAL);
	CHECK_EQ(blk_queue_dma_alignment(q, 4095), 0);
	CHECK_EQ(blk_queue_logical_block_size(q, 2048), -EINVAL); /* the mask would not be below it */
	CHECK_EQ(queue_logical_block_size(q), 4096);
	CHECK_EQ(queue_max_hw_sectors(q), was.max_hw_sectors);
	CHECK_EQ(queue_dma_alignment(q), 4095);

	/* The caller closed the descriptor behind the queue: its number stays, I/O fails (see test_blk). */
	{
		int d = dup(fd);
		struct request_queue *q2 = blk_queue_open_fd(d, 0);

		CHECK(q2 != NULL);
		close(d);
		CHECK_EQ(blk_queue_fd(q2), d);
		blk_queue_close(q2);
	}
	blk_queue_close(q);
	drop_file(fd);
	CHECK_EQ(blk_objects(), before);
}

/* O_DIRECT: the file's own alignment is the floor of the limits, and chains are checked against it. */
static void test_direct_limits(void)
{
	uint64_t before = blk_objects();
	unsigned long seen = diag_seen;
	int fd = new_file();
	struct request_queue *q;
	unsigned int lbs, mask;
	struct tb t;
	struct request *rq;
	unsigned char *p;

	close(fd);
	q = blk_queue_open(path, O_RDWR | O_DIRECT);
	if (!q) {
		printf("     O_DIRECT refused by this file system: skipped\n");
		drop_file(-1);
		return;
	}
	lbs = queue_logical_block_size(q);
	mask = queue_dma_alignment(q);
	if (lbs > 512)
		CHECK_EQ(blk_queue_logical_block_size(q, lbs / 2), -EINVAL);
	if (mask > 0)
		CHECK_EQ(blk_queue_dma_alignment(q, mask >> 1), -EINVAL);
	CHECK_EQ(queue_logical_block_size(q), lbs);
	CHECK_EQ(queue_dma_alignment(q), mask);

	/* A sector or a size off the file's block: refused, the bio untouched. */
	if (lbs > 512) {
		tb_new(&t, REQ_OP_WRITE, 1, 1, lbs, 0, 0x5a);
		rq = blk_make_request(q, t.bio, GFP_KERNEL);
		CHECK(IS_ERR(rq) && PTR_ERR(rq) == -EINVAL);
		tb_free(&t);
		tb_new(&t, REQ_OP_WRITE, 0, 1, 512, 0, 0x5a);
		rq = blk_make_request(q, t.bio, GFP_KERNEL);
		CHECK(IS_ERR(rq) && PTR_ERR(rq) == -EINVAL);
		CHECK_EQ(t.e.calls, 0);
		tb_free(&t);
	}
	/* Memory off the alignment: bounced, and the data lands right. */
	tb_new(&t, REQ_OP_WRITE, 0, 1, lbs, 8, 0x5a);
	rq = blk_make_request(q, t.bio, GFP_KERNEL);
	CHECK(!IS_ERR(rq));
	if (!IS_ERR(rq)) {
		if (mask >= 8)
			CHECK(rq->bio != t.bio && (rq->bio->bi_flags & BIO_BOUNCED));
		CHECK_EQ(blk_execute_rq(rq, false), BLK_STS_OK);
		blk_put_request(rq);
	}
	CHECK_EQ(t.e.calls, 1);
	tb_free(&t);
	tb_new(&t, REQ_OP_READ, 0, 1, lbs, 8, 0);
	rq = blk_make_request(q, t.bio, GFP_KERNEL);
	CHECK(!IS_ERR(rq));
	if (!IS_ERR(rq)) {
		CHECK_EQ(blk_execute_rq(rq, false), BLK_STS_OK);
		blk_put_request(rq);
	}
	p = (unsigned char *)page_address(t.pg[0]) + 8;
	CHECK(p[0] == 0x5a && p[lbs - 1] == 0x5a);
	tb_free(&t);
	CHECK_EQ(diag_seen, seen);
	blk_queue_close(q);
	drop_file(-1);
	CHECK_EQ(blk_objects(), before);
}

/* ------------------------------------------------------------ blk_make_request */

static void test_make_request_bad(void)
{
	uint64_t before = blk_objects();
	unsigned long seen = diag_seen;
	int fd = new_file();
	struct request_queue *q = blk_queue_open_fd(fd, 0);
	struct tb a, b;
	struct request *rq;

	CHECK(q != NULL);
	tb_new(&a, REQ_OP_WRITE, 0, 2, 4096, 0, 1);
	tb_new(&b, REQ_OP_WRITE, 16, 2, 4096, 0, 1);

	rq = blk_make_request(NULL, a.bio, GFP_KERNEL);
	CHECK(IS_ERR(rq) && PTR_ERR(rq) == -EINVAL);
	CHECK(diagnosed(&seen, "blk_make_request"));
	rq = blk_make_request(q, NULL, GFP_KERNEL);
	CHECK(IS_ERR(rq) && PTR_ERR(rq) == -EINVAL);
	CHECK(diagnosed(&seen, "blk_make_request"));

	/* Segments: 4 in the chain, 3 allowed. */
	CHECK_EQ(blk_queue_max_segments(q, 3), 0);
	rq = blk_make_request(q, link2(&a, &b), GFP_KERNEL);
	CHECK(IS_ERR(rq) && PTR_ERR(rq) == -EINVAL);
	CHECK_EQ(blk_queue_max_segments(q, 128), 0);
	/* Sectors: 32 in the chain, 31 allowed. */
	CHECK_EQ(blk_queue_max_hw_sectors(q, 31), 0);
	rq = blk_make_request(q, link2(&a, &b), GFP_KERNEL);
	CHECK(IS_ERR(rq) && PTR_ERR(rq) == -EINVAL);
	CHECK_EQ(blk_queue_max_hw_sectors(q, 1024), 0);
	/* Not contiguous; overlapping. */
	b.bio->bi_iter.bi_sector = 24;
	rq = blk_make_request(q, link2(&a, &b), GFP_KERNEL);
	CHECK(IS_ERR(rq) && PTR_ERR(rq) == -EINVAL);
	b.bio->bi_iter.bi_sector = 8;
	rq = blk_make_request(q, link2(&a, &b), GFP_KERNEL);
	CHECK(IS_ERR(rq) && PTR_ERR(rq) == -EINVAL);
	b.bio->bi_iter.bi_sector = 16;
	/* A chain whose bi_next loops back: refused, not walked forever. */
	a.bio->bi_next = b.bio;
	b.bio->bi_next = a.bio;
	rq = blk_make_request(q, a.bio, GFP_KERNEL);
	CHECK(IS_ERR(rq) && PTR_ERR(rq) == -EINVAL);
	a.bio->bi_next = a.bio;
	rq = blk_make_request(q, a.bio, GFP_KERNEL);
	CHECK(IS_ERR(rq) && PTR_ERR(rq) == -EINVAL);
	a.bio->bi_next = NULL;
	b.bio->bi_next = NULL;
	/* Past the largest file offset: refused rather than wrapped to offset 0. */
	a.bio->bi_iter.bi_sector = (sector_t)1 << 55;
	rq = blk_make_request(q, a.bio, GFP_KERNEL);
	CHECK(IS_ERR(rq) && PTR_ERR(rq) == -EINVAL);
	a.bio->bi_iter.bi_sector = ((sector_t)INT64_MAX >> SECTOR_SHIFT) - 15;
	rq = blk_make_request(q, a.bio, GFP_KERNEL);
	CHECK(IS_ERR(rq) && PTR_ERR(rq) == -EINVAL);
	a.bio->bi_iter.bi_sector = 0;
	/* Block size: 4 KiB blocks, a bio at sector 4. */
	CHECK_EQ(blk_queue_logical_block_size(q, 4096), 0);
	b.bio->bi_iter.bi_sector = 4;
	rq = blk_make_request(q, b.bio, GFP_KERNEL);
	CHECK(IS_ERR(rq) && PTR_ERR(rq) == -EINVAL);
	b.bio->bi_iter.bi_sector = 16;
	CHECK_EQ(blk_queue_logical_block_size(q, 512), 0);
	/* Unknown operation; mixed operations (diagnosed). */
	a.bio->bi_opf = 5;
	b.bio->bi_opf = 5;
	rq = blk_make_request(q, link2(&a, &b), GFP_KERNEL);
	CHECK(IS_ERR(rq) && PTR_ERR(rq) == -EOPNOTSUPP);
	a.bio->bi_opf = REQ_OP_WRITE;
	b.bio->bi_opf = REQ_OP_READ;
	rq = blk_make_request(q, link2(&a, &b), GFP_KERNEL);
	CHECK(IS_ERR(rq) && PTR_ERR(rq) == -EINVAL);
	CHECK(diagnosed(&seen, "blk_make_request"));
	b.bio->bi_opf = REQ_OP_WRITE;
	CHECK_EQ(diag_seen, seen);

	/* A waiting mask in atomic context: diagnosed, -EINVAL (blkdev(3)). */
	pktmem_atomic_begin();
	rq = blk_make_request(q, link2(&a, &b), GFP_KERNEL);
	pktmem_atomic_end();
	CHECK(IS_ERR(rq) && PTR_ERR(rq) == -EINVAL);
	CHECK(diagnosed(&seen, "blk_make_request"));

	/* After all that, the chain is intact and nothing was ended. */
	CHECK(a.bio->bi_next == b.bio && b.bio->bi_next == NULL);
	CHECK_EQ(a.bio->bi_iter.bi_size, 8192);
	CHECK_EQ(a.e.calls + b.e.calls, 0);
	rq = blk_make_request(q, link2(&a, &b), GFP_KERNEL);
	CHECK(!IS_ERR(rq));
	if (!IS_ERR(rq)) {
		CHECK_EQ(blk_execute_rq(rq, false), BLK_STS_OK);
		blk_put_request(rq);
	}
	CHECK_EQ(a.e.calls + b.e.calls, 2);
	CHECK_EQ(file_size(), 16384);
	tb_free(&a);
	tb_free(&b);
	CHECK_EQ(diag_seen, seen);
	blk_queue_close(q);
	drop_file(fd);
	CHECK_EQ(blk_objects(), before);
}

/* ------------------------------------------------------------ execution */

static void test_execute_bad(void)
{
	uint64_t before = blk_objects();
	unsigned long seen = diag_seen;
	int fd = new_file();
	struct request_queue *q = blk_queue_open_fd(fd, 0);
	struct tb t;
	struct request *rq;

	CHECK_EQ(blk_execute_rq(NULL, false), BLK_STS_IOERR);
	CHECK(diagnosed(&seen, "blk_execute_rq"));
	blk_execute_rq_nowait(NULL, false, NULL);
	CHECK(diagnosed(&seen, "blk_execute_rq_nowait"));
	blk_put_request(NULL);
	CHECK_EQ(diag_seen, seen);

	/* Executed twice: the second is refused; the bio ended once. */
	tb_new(&t, REQ_OP_WRITE, 0, 1, 4096, 0, 3);
	rq = blk_make_request(q, t.bio, GFP_KERNEL);
	CHECK_EQ(blk_execute_rq(rq, false), BLK_STS_OK);
	CHECK_EQ(blk_execute_rq(rq, false), BLK_STS_IOERR);
	CHECK(diagnosed(&seen, "blk_execute_rq"));
	blk_execute_rq_nowait(rq, false, NULL);
	CHECK(diagnosed(&seen, "blk_execute_rq_nowait"));
	CHECK_EQ(t.e.calls, 1);
	/* The accessors still read what was made. */
	CHECK_EQ(blk_rq_pos(rq), 0);
	CHECK_EQ(blk_rq_bytes(rq), 4096);
	CHECK_EQ(req_op(rq), REQ_OP_WRITE);
	blk_put_request(rq);
	tb_free(&t);

	/* In atomic context: the waiting form is refused before anything is done; the other is fine. */
	tb_new(&t, REQ_OP_READ, 0, 1, 4096, 0, 0);
	rq = blk_make_request(q, t.bio, GFP_KERNEL);
	pktmem_atomic_begin();
	CHECK_EQ(blk_execute_rq(rq, false), BLK_STS_IOERR);
	pktmem_atomic_end();
	CHECK(diagnosed(&seen, "blk_execute_rq"));
	CHECK_EQ(t.e.calls, 0);
	CHECK_EQ(blk_execute_rq(rq, false), BLK_STS_OK); /* not spent by the refusal */
	CHECK_EQ(t.e.calls, 1);
	blk_put_request(rq);
	tb_free(&t);

	/* Put twice, or executed after its put: diagnosed while the object rests in its cache. */
	if (reuse_is_safe() && !pktmem_debug_enabled()) {
		tb_new(&t, REQ_OP_READ, 0, 1, 4096, 0, 0);
		rq = blk_make_request(q, t.bio, GFP_KERNEL);
		blk_put_request(rq);
		blk_put_request(rq);
		CHECK(diagnosed(&seen, "blk_put_request"));
		CHECK(strstr(diag_last_msg, "already put") != NULL);
		CHECK_EQ(blk_execute_rq(rq, false), BLK_STS_IOERR);
		CHECK(diagnosed(&seen, "blk_execute_rq"));
		CHECK_EQ(t.e.calls, 0);
		CHECK(t.bio->bi_next == NULL);
		tb_free(&t);
	} else {
		printf("     reuse of a put request: skipped under ASan, valgrind and debug mode\n");
	}
	CHECK_EQ(diag_seen, seen);
	blk_queue_close(q);
	drop_file(fd);
	CHECK_EQ(blk_objects(), before);
}

/* A request made, then the queue closed before it ran: the close is refused, the request still works. */
static void test_execute_after_close(void)
{
	uint64_t before = blk_objects();
	unsigned long seen = diag_seen;
	int fd = new_file();
	struct request_queue *q = blk_queue_open_fd(fd, BLK_QUEUE_OWN_FD);
	struct tb t, m;
	struct request *rq, *rq2;

	blk_queue_close(NULL);
	CHECK_EQ(diag_seen, seen);
	tb_new(&t, REQ_OP_WRITE, 0, 1, 4096, 0, 0x33);
	rq = blk_make_request(q, t.bio, GFP_KERNEL);
	CHECK(!IS_ERR(rq));
	blk_queue_close(q);
	CHECK(diagnosed(&seen, "blk_queue_close"));
	CHECK(strstr(diag_last_msg, "1 request(s)") != NULL);
	CHECK(fcntl(fd, F_GETFD) >= 0); /* not closed */
	CHECK_EQ(blk_execute_rq(rq, false), BLK_STS_OK);
	CHECK_EQ(t.e.calls, 1);
	blk_put_request(rq);
	tb_free(&t);

	/* A bounced one, made and never executed: the same; putting it lets the close go on. */
	tb_new(&m, REQ_OP_WRITE, 0, 1, 1024, 5, 0x44);
	rq2 = blk_make_request(q, m.bio, GFP_KERNEL);
	CHECK(!IS_ERR(rq2) && rq2->bio != m.bio);
	blk_queue_close(q);
	CHECK(diagnosed(&seen, "blk_queue_close"));
	blk_put_request(rq2);
	CHECK(m.bio->bi_next == NULL);
	CHECK_EQ(m.e.calls, 0);
	tb_free(&m);
	blk_queue_close(q);
	CHECK_EQ(diag_seen, seen);
	CHECK(fcntl(fd, F_GETFD) < 0); /* closed now, with the queue */
	drop_file(-1);
	CHECK_EQ(blk_objects(), before);
}

/* Calls a completion routine must not make: each would wait for itself. */
struct inside {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct request_queue *q;
	bool running, release, done;
	unsigned long diags;     /* diagnostics seen inside */
	int issue_err;
	char close_func[64];
};

static void blocking_done(struct request *rq, blk_status_t status)
{
	struct inside *in = rq->end_io_data;
	unsigned long d = diag_seen;
	char buf[512];

	(void)status;
	blk_queue_close(in->q);
	snprintf(in->close_func, sizeof(in->close_func), "%s", diag_last_func);
	in->issue_err = blkdev_issue_rw(in->q, REQ_OP_READ, 0, buf, 512, GFP_KERNEL, &bs);
	in->diags = diag_seen - d;
	blk_put_request(rq);
	pthread_mutex_lock(&in->lock);
	in->running = true;
	pthread_cond_broadcast(&in->cond);
	while (!in->release)
		pthread_cond_wait(&in->cond, &in->lock);
	in->done = true;
	pthread_cond_broadcast(&in->cond);
	pthread_mutex_unlock(&in->lock);
}

static void from_completion_on(unsigned int qflags)
{
	uint64_t before = blk_objects();
	unsigned long seen;
	int fd = new_file();
	struct request_queue *q = blk_queue_open_fd(fd, qflags);
	struct inside in = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, q, false, false, false, 0, 0, "" };
	struct tb a, b;
	struct request *ra, *rb;

	tb_new(&a, REQ_OP_WRITE, 0, 1, 4096, 0, 1);
	tb_new(&b, REQ_OP_WRITE, 8, 1, 4096, 0, 2);
	ra = blk_make_request(q, a.bio, GFP_KERNEL);
	ra->end_io_data = &in;
	blk_execute_rq_nowait(ra, false, blocking_done);
	pthread_mutex_lock(&in.lock);
	while (!in.running)
		pthread_cond_wait(&in.cond, &in.lock);
	pthread_mutex_unlock(&in.lock);
	seen = diag_seen;
	CHECK_EQ(in.diags, 2);
	CHECK(strcmp(in.close_func, "blk_queue_close") == 0);
	CHECK_EQ(in.issue_err, -EDEADLK);

	/* The queue's thread is held: a request handed over now stays in flight. */
	rb = blk_make_request(q, b.bio, GFP_KERNEL);
	blk_execute_rq_nowait(rb, false, NULL);
	blk_put_request(rb);
	CHECK(diagnosed(&seen, "blk_put_request"));
	CHECK(strstr(diag_last_msg, "in flight") != NULL);

	pthread_mutex_lock(&in.lock);
	in.release = true;
	pthread_cond_broadcast(&in.cond);
	while (!in.done)
		pthread_cond_wait(&in.cond, &in.lock);
	pthread_mutex_unlock(&in.lock);
	blk_queue_close(q); /* waits for rb, which the queue puts itself */
	CHECK_EQ(a.e.calls, 1);
	CHECK_EQ(b.e.calls, 1);
	CHECK_EQ(b.e.status, BLK_STS_OK);
	CHECK_EQ(diag_seen, seen);
	tb_free(&a);
	tb_free(&b);
	drop_file(fd);
	CHECK_EQ(blk_objects(), before);
}

static void test_calls_from_completion(void)
{
	from_completion_on(0);
	from_completion_on(BLK_QUEUE_NO_URING);
}

/* ------------------------------------------------------------ past the end of the file */

static void test_io_past_end(void)
{
	uint64_t before = blk_objects();
	int fd = new_file();
	struct request_queue *q = blk_queue_open_fd(fd, 0);
	struct tb w, r;
	struct request *rq;

	/* A write past the end makes the file longer (a file is not a device of fixed size). */
	tb_new(&w, REQ_OP_WRITE, 64, 1, 4096, 0, 0x77);
	rq = blk_make_request(q, w.bio, GFP_KERNEL);
	CHECK_EQ(blk_execute_rq(rq, false), BLK_STS_OK);
	blk_put_request(rq);
	CHECK_EQ(file_size(), 64 * 512 + 4096);
	tb_free(&w);

	/* A read across the end: BLK_STS_IOERR for that bio; the bytes that were there did arrive. */
	tb_new(&r, REQ_OP_READ, 68, 1, 4096, 0, 0);
	rq = blk_make_request(q, r.bio, GFP_KERNEL);
	CHECK_EQ(blk_execute_rq(rq, false), BLK_STS_IOERR);
	blk_put_request(rq);
	CHECK_EQ(r.e.calls, 1);
	CHECK_EQ(r.e.status, BLK_STS_IOERR);
	CHECK(((unsigned char *)page_address(r.pg[0]))[2047] == 0x77);
	tb_free(&r);
	/* Wholly past the end: the same. */
	tb_new(&r, REQ_OP_READ, 1000, 1, 4096, 0, 0);
	rq = blk_make_request(q, r.bio, GFP_KERNEL);
	CHECK_EQ(blk_execute_rq(rq, false), BLK_STS_IOERR);
	blk_put_request(rq);
	CHECK_EQ(r.e.status, BLK_STS_IOERR);
	tb_free(&r);
	CHECK_EQ(file_size(), 64 * 512 + 4096);

	/* blkdev_issue_rw() at a sector past any file offset: refused, nothing written at offset 0. */
	{
		char buf[4096];

		memset(buf, 0x11, sizeof(buf));
		CHECK_EQ(blkdev_issue_rw(q, REQ_OP_WRITE, (sector_t)1 << 55, buf, sizeof(buf), GFP_KERNEL, &bs), -EINVAL);
		CHECK_EQ(blkdev_issue_rw(q, REQ_OP_READ, 0, buf, sizeof(buf), GFP_KERNEL, &bs), 0);
		CHECK(buf[0] == 0 && buf[4095] == 0);
		CHECK_EQ(file_size(), 64 * 512 + 4096);
	}
	blk_queue_close(q);
	drop_file(fd);
	CHECK_EQ(blk_objects(), before);
}

/* ------------------------------------------------------------ blkdev_issue_rw */

static void test_issue_rw_bad(void)
{
	uint64_t before = blk_objects();
	unsigned long seen = diag_seen;
	int fd = new_file();
	struct request_queue *q = blk_queue_open_fd(fd, 0);
	struct bio_set novec;
	char buf[8192];

	memset(buf, 0x22, sizeof(buf));
	CHECK_EQ(bioset_init(&novec, 2, 0, 0), 0);
	CHECK_EQ(blkdev_issue_rw(NULL, REQ_OP_WRITE, 0, buf, 4096, GFP_KERNEL, &bs), -EINVAL);
	CHECK_EQ(blkdev_issue_rw(q, REQ_OP_WRITE, 0, NULL, 4096, GFP_KERNEL, &bs), -EINVAL);
	CHECK_EQ(blkdev_issue_rw(q, REQ_OP_WRITE, 0, buf, 4096, GFP_KERNEL, NULL), -EINVAL);
	CHECK_EQ(blkdev_issue_rw(q, REQ_OP_WRITE, 0, buf, 4096, GFP_KERNEL, &novec), -EINVAL);
	CHECK_EQ(blkdev_issue_rw(q, (enum req_op)9, 0, buf, 4096, GFP_KERNEL, &bs), -EINVAL);
	CHECK_EQ(blkdev_issue_rw(q, REQ_OP_WRITE, 0, buf, 0, GFP_KERNEL, &bs), -EINVAL);
	CHECK_EQ(blkdev_issue_rw(q, REQ_OP_WRITE, 0, buf, 700, GFP_KERNEL, &bs), -EINVAL);
	CHECK_EQ(blkdev_issue_rw(q, REQ_OP_WRITE, 0, buf, 4096, GFP_NOWAIT, &bs), -EINVAL);
	CHECK_EQ(blk_queue_logical_block_size(q, 4096), 0);
	CHECK_EQ(blkdev_issue_rw(q, REQ_OP_WRITE, 3, buf, 4096, GFP_KERNEL, &bs), -EINVAL);
	CHECK_EQ(blkdev_issue_rw(q, REQ_OP_WRITE, 0, buf, 2048, GFP_KERNEL, &bs), -EINVAL);
	CHECK_EQ(diag_seen, seen);
	CHECK_EQ(file_size(), 0);

	/* In atomic context: the first allocation is refused (diagnosed), -ENOMEM, nothing written. */
	pktmem_atomic_begin();
	CHECK_EQ(blkdev_issue_rw(q, REQ_OP_WRITE, 0, buf, 8192, GFP_KERNEL, &bs), -ENOMEM);
	pktmem_atomic_end();
	CHECK(diagnosed(&seen, "bio_alloc_bioset"));
	CHECK_EQ(file_size(), 0);
	CHECK_EQ(blkdev_issue_rw(q, REQ_OP_WRITE, 0, buf, 8192, GFP_KERNEL, &bs), 0);
	CHECK_EQ(file_size(), 8192);
	bioset_exit(&novec);
	blk_queue_close(q);
	drop_file(fd);
	CHECK_EQ(diag_seen, seen);
	CHECK_EQ(blk_objects(), before);
}

int main(void)
{
	diag_capture();
	if (bioset_init(&bs, 4, 0, BIOSET_NEED_BVECS)) {
		fprintf(stderr, "bioset_init failed\n");
		return 1;
	}
	bio_default_bioset(); /* its reserve is permanent: made before any test counts */
	TEST(test_bioset_bad_args);
	TEST(test_bioset_exit_with_bio_out);
	TEST(test_bio_alloc_bad_args);
	TEST(test_bio_alloc_atomic_context);
	TEST(test_bio_put_twice);
	TEST(test_bio_add_page_bad);
	TEST(test_bio_advance_bad);
	TEST(test_bio_split_bad);
	TEST(test_bio_chain_bad);
	TEST(test_bio_endio_twice);
	TEST(test_status_and_helpers_bad);
	TEST(test_queue_open_bad);
	TEST(test_queue_limits_bad);
	TEST(test_direct_limits);
	TEST(test_make_request_bad);
	TEST(test_execute_bad);
	TEST(test_execute_after_close);
	TEST(test_calls_from_completion);
	TEST(test_io_past_end);
	TEST(test_issue_rw_bad);
	bioset_exit(&bs);
	return test_summary();
}
