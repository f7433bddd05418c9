/*
 * blkdev_issue_rw(): a whole buffer through a queue, allocating bio chains
 * the way blk_make_request(9)'s WARNING asks.
 *
 *   buffer  [..........................................................]
 *   chain 1  bio(wait) -> bio(nowait) -> bio(nowait) -x  allocation failed:
 *            submit these three, go on
 *   chain 2  bio(wait: sleeps until chain 1's bios come back) -> ...
 *
 * Why only the first bio may wait: bios of a set come from its reserve
 * once memory is short, and a bio goes back to the reserve only when its
 * I/O completes. A chain is submitted only when it is complete, so a
 * caller that waits for its second bio while holding its first waits for
 * a completion that cannot happen before its own submission: with a
 * reserve of one bio that is a deadlock on the first chain. Holding
 * nothing unsubmitted while waiting breaks the cycle: the first bio of a
 * chain waits only for bios of earlier chains, which are in flight and
 * will come back. The bios after it never wait, and when one cannot be
 * had the chain is cut there and submitted: a partial allocation is a
 * smaller I/O, never an error (the page warns that failing it invites a
 * live-lock).
 *
 * Pages follow the same rule as their bio, and come from alloc_pages(), so
 * that nothing needs bouncing: bouncing would allocate again.
 */
#include <errno.h>
#include <string.h>

#include "blk_impl.h"

/* Pages per bio: 64 KiB, so that a request gathers several bios. */
#define ISSUE_BIO_PAGES 16

struct issue_ctx {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned long in_flight; /* requests submitted, not completed */
	int error;               /* the first -errno */
	char *buf;
	sector_t sector;         /* where buf[0] goes */
};

static void issue_error(struct issue_ctx *ctx, int err)
{
	pthread_mutex_lock(&ctx->lock);
	if (!ctx->error)
		ctx->error = err;
	pthread_mutex_unlock(&ctx->lock);
}

/* A bio of ours is done: copy read data out, free its pages and the bio. */
static void issue_bio_done(struct bio *bio)
{
	struct issue_ctx *ctx = bio->bi_private;
	blk_status_t status = __atomic_load_n(&bio->bi_status, __ATOMIC_RELAXED);

	if (status != BLK_STS_OK) {
		issue_error(ctx, blk_status_to_errno(status));
	} else if (bio_data_dir(bio) == READ) {
		char *dst = ctx->buf + ((bio->bi_iter.bi_sector - ctx->sector) << SECTOR_SHIFT);

		for (unsigned int i = 0; i < bio->bi_vcnt; i++) {
			struct bio_vec *bv = &bio->bi_io_vec[i];

			memcpy(dst, (char *)page_address(bv->bv_page) + bv->bv_offset, bv->bv_len);
			dst += bv->bv_len;
		}
	}
	for (unsigned int i = 0; i < bio->bi_vcnt; i++)
		__free_page(bio->bi_io_vec[i].bv_page);
	bio_put(bio);
}

static void issue_rq_done(struct request *rq, blk_status_t status)
{
	struct issue_ctx *ctx = rq->end_io_data;

	(void)status; /* each bio reported its own */
	blk_put_request(rq);
	pthread_mutex_lock(&ctx->lock);
	ctx->in_flight--;
	pthread_cond_signal(&ctx->cond);
	pthread_mutex_unlock(&ctx->lock);
}

/* Sleep until fewer than @n requests are in flight. */
static void issue_wait_below(struct issue_ctx *ctx, unsigned long n)
{
	pthread_mutex_lock(&ctx->lock);
	while (ctx->in_flight >= n)
		pthread_cond_wait(&ctx->cond, &ctx->lock);
	pthread_mutex_unlock(&ctx->lock);
}

/*
 * One bio for up to @bytes of the buffer from @pos, allocated with @gfp.
 * Returns the bio with as many whole pages as could be had (its size may be
 * short of @bytes), or NULL if not even the bio or its first page could.
 */
static struct bio *issue_bio(struct issue_ctx *ctx, enum req_op op, size_t pos, unsigned int bytes,
			     unsigned int pages, gfp_t gfp, struct bio_set *bs)
{
	struct bio *bio = bio_alloc_bioset((unsigned short)pages, op, gfp, bs);
	unsigned int added = 0;

	if (!bio)
		return NULL;
	while (added < bytes) {
		unsigned int n = bytes - added < PAGE_SIZE ? bytes - added : (unsigned int)PAGE_SIZE;
		struct page *pg = alloc_page(gfp);

		if (!pg)
			break;
		if (op == REQ_OP_WRITE)
			memcpy(page_address(pg), ctx->buf + pos + added, n);
		bio_add_page(bio, pg, n, 0);
		added += n;
	}
	if (added == 0) {
		bio_put(bio);
		return NULL;
	}
	bio->bi_iter.bi_sector = ctx->sector + (pos >> SECTOR_SHIFT);
	bio->bi_private = ctx;
	bio->bi_end_io = issue_bio_done;
	return bio;
}

int blkdev_issue_rw(struct request_queue *q, enum req_op op, sector_t sector, void *buf, size_t len, gfp_t gfp,
		    struct bio_set *bs)
{
	const gfp_t nowait = GFP_NOWAIT | __GFP_NOWARN;
	struct issue_ctx ctx;
	unsigned int lbs, rq_max, seg_max;
	size_t pos = 0;

	/* The bios carry vectors: a set without BIOSET_NEED_BVECS cannot serve them. */
	if (!q || !bs || !buf || (op != REQ_OP_READ && op != REQ_OP_WRITE) || !(bs->flags & BIOSET_NEED_BVECS))
		return -EINVAL;
	if (blk_completing_queue == q) {
		diag("blkdev_issue_rw", "called from a completion routine of queue %p: it would wait for itself",
		     (void *)q);
		return -EDEADLK;
	}
	lbs = queue_logical_block_size(q);
	if (len == 0 || len % lbs || (sector << SECTOR_SHIFT) % lbs || !gfpflags_allow_blocking(gfp))
		return -EINVAL;
	/* What one request may carry, in whole logical blocks and pages' worth of segments. */
	rq_max = (queue_max_hw_sectors(q) << SECTOR_SHIFT) / lbs * lbs;
	seg_max = queue_max_segments(q);

	memset(&ctx, 0, sizeof(ctx));
	pthread_mutex_init(&ctx.lock, NULL);
	pthread_cond_init(&ctx.cond, NULL);
	ctx.buf = buf;
	ctx.sector = sector;

	while (pos < len) {
		struct bio *head = NULL, *tail = NULL;
		unsigned int rq_bytes = 0, rq_segs = 0;
		struct request *rq;

		/* Build one chain: the first bio may wait, the others may not. */
		while (pos < len && rq_bytes < rq_max && rq_segs < seg_max) {
			gfp_t mask = head ? nowait : gfp;
			size_t want = len - pos;
			unsigned int pages, bytes;
			struct bio *bio;

			if (want > rq_max - rq_bytes)
				want = rq_max - rq_bytes;
			pages = (unsigned int)((want + PAGE_SIZE - 1) / PAGE_SIZE);
			if (pages > ISSUE_BIO_PAGES)
				pages = ISSUE_BIO_PAGES;
			if (pages > seg_max - rq_segs)
				pages = seg_max - rq_segs;
			bytes = want < (size_t)pages * PAGE_SIZE ? (unsigned int)want : pages * (unsigned int)PAGE_SIZE;

			bio = issue_bio(&ctx, op, pos, bytes, pages, mask, bs);
			if (!bio)
				break; /* cut the chain here */
			if (tail)
				tail->bi_next = bio;
			else
				head = bio;
			tail = bio;
			rq_bytes += bio->bi_iter.bi_size;
			rq_segs += bio->bi_vcnt;
			pos += bio->bi_iter.bi_size;
			if (bio->bi_iter.bi_size < bytes)
				break; /* a page could not be had: submit what we have */
		}

		if (!head) {
			/*
			 * Even the first (waiting) allocation failed: only an
			 * injected fault or real exhaustion does that. Let what is
			 * in flight finish and try again; with nothing in flight,
			 * give up.
			 */
			unsigned long n;

			pthread_mutex_lock(&ctx.lock);
			n = ctx.in_flight;
			pthread_mutex_unlock(&ctx.lock);
			if (n == 0) {
				issue_error(&ctx, -ENOMEM);
				break;
			}
			issue_wait_below(&ctx, n);
			continue;
		}

		rq = blk_make_request(q, head, gfp);
		if (IS_ERR(rq)) {
			issue_error(&ctx, (int)PTR_ERR(rq));
			for (struct bio *b = head, *next; b; b = next) {
				next = b->bi_next;
				b->bi_next = NULL;
				b->bi_status = errno_to_blk_status((int)PTR_ERR(rq));
				bio_endio(b);
			}
			break;
		}
		rq->end_io_data = &ctx;
		pthread_mutex_lock(&ctx.lock);
		ctx.in_flight++;
		pthread_mutex_unlock(&ctx.lock);
		blk_execute_rq_nowait(rq, false, issue_rq_done);
	}

	issue_wait_below(&ctx, 1);
	pthread_cond_destroy(&ctx.cond);
	pthread_mutex_destroy(&ctx.lock);
	return ctx.error;
}
