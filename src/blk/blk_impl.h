/*
 * The block face's private structures: requests as the queue sees them,
 * the queue itself, and the engines that perform I/O. See queue.c for the
 * picture.
 */
#ifndef PKTMEM_BLK_IMPL_H
#define PKTMEM_BLK_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <pktmem/blkdev.h>

#include "internal.h"

#ifdef PKTMEM_HAVE_LIBURING
#include <liburing.h>
#endif

/* ------------------------------------------------------------ segments */

/*
 * Walk the bytes a bio's iterator describes, one vector piece at a time:
 * from bi_idx, bi_bvec_done bytes in, for bi_size bytes. A split clone
 * walks its share of the parent's array the same way.
 */
struct seg_iter {
	const struct bio_vec *vec;
	unsigned int idx;
	unsigned int skip;
	unsigned int left;
};

static inline void seg_iter_init(struct seg_iter *it, const struct bio *bio)
{
	it->vec = bio->bi_io_vec;
	it->idx = bio->bi_iter.bi_idx;
	it->skip = bio->bi_iter.bi_bvec_done;
	it->left = bio->bi_iter.bi_size;
}

static inline bool seg_next(struct seg_iter *it, char **addr, unsigned int *len)
{
	const struct bio_vec *bv;
	unsigned int n;

	if (it->left == 0)
		return false;
	bv = &it->vec[it->idx];
	n = bv->bv_len - it->skip;
	if (n > it->left)
		n = it->left;
	*addr = (char *)page_address(bv->bv_page) + bv->bv_offset + it->skip;
	*len = n;
	it->left -= n;
	it->idx++;
	it->skip = 0;
	return true;
}

/* ------------------------------------------------------------ requests */

/* One bio's I/O inside a request. */
struct rq_io {
	struct bio *bio;
	struct rq_impl *ri;
	struct iovec *iov;       /* the rest to transfer (advanced as bytes move) */
	int iovcnt;
	int inject;              /* errno injected by blk_queue_fail_nth(), or 0 */
	off_t pos;               /* file offset of the first byte */
	size_t len;
	size_t done;             /* bytes transferred so far */
	blk_status_t status;
};

struct sync_wait;

/* Small requests keep their tables inside the request object. */
#define RQ_INLINE_IOS  4
#define RQ_INLINE_IOVS 32

struct rq_impl {
	struct request rq;
	struct rq_impl *next;    /* the worker's or the ring's waiting list */
	unsigned int nr_io;
	unsigned int io_left;    /* io_uring: I/Os not yet completed (reaper only) */
	unsigned int pushed;     /* io_uring: I/Os put in the ring so far (sq_lock) */
	struct rq_io *io;
	void *table;             /* kmalloc'd io + iovec table, NULL when inline */
	bool started;
	struct sync_wait *sync;  /* blk_execute_rq()'s waiter, when it waits */
	struct rq_io inline_io[RQ_INLINE_IOS];
	struct iovec inline_iov[RQ_INLINE_IOVS];
};

static inline struct rq_impl *rq_impl_of(struct request *rq)
{
	return (struct rq_impl *)((char *)rq - offsetof(struct rq_impl, rq));
}

/* ------------------------------------------------------------ the queue */

enum blk_engine_kind { ENGINE_WORKER, ENGINE_URING };

struct request_queue {
	int fd;
	unsigned int flags;          /* BLK_QUEUE_* */
	bool direct;                 /* the descriptor has O_DIRECT */
	struct queue_limits limits;
	unsigned int dio_lbs;        /* the least O_DIRECT allows (512 without it) */
	unsigned int dio_mem_mask;   /* ditto for memory (0 without O_DIRECT) */
	struct bio_set bounce_bs;

	pthread_mutex_t lock;        /* inflight, unstarted, the worker's list, stop */
	pthread_cond_t idle;         /* inflight dropped to 0 */
	pthread_cond_t work;         /* the worker has something to do */
	unsigned long inflight;      /* requests handed over, completion not returned */
	unsigned long unstarted;     /* requests made, neither executed nor put */
	struct rq_impl *head, *tail; /* worker engine: waiting requests */
	bool stop;

	enum blk_engine_kind engine;
	pthread_t thread;            /* the worker or the io_uring reaper */
	bool thread_running;

	atomic_ulong fail_nth;       /* blk_queue_fail_nth(): countdown, 0 off */
	atomic_int fail_error;

#ifdef PKTMEM_HAVE_LIBURING
	struct io_uring ring;
	pthread_mutex_t sq_lock;     /* the submission side of the ring, below */
	unsigned int in_ring;        /* SQEs submitted whose CQE is not reaped */
	unsigned int ring_cap;       /* at most this many in the ring (the CQ size) */
	struct rq_impl *pend_head, *pend_tail; /* requests with I/Os waiting for room in the ring */
#endif
};

/*
 * The queue whose completion routines the calling thread is running (its
 * worker or reaper), or NULL. Lets blk_queue_close() and blkdev_issue_rw()
 * refuse to wait for themselves.
 */
extern _Thread_local struct request_queue *blk_completing_queue INTERNAL_DATA;

/* request.c: the end of a request: end every bio, run the completion, drop inflight. */
void blk_rq_finish(struct request_queue *q, struct rq_impl *ri);

/* queue.c: perform one I/O from start to end on the calling thread. */
void blk_io_perform(struct request_queue *q, struct rq_io *io);
/* queue.c: perform what is left of one I/O with preadv/pwritev (any engine). */
void blk_io_finish_sync(struct request_queue *q, struct rq_io *io);
/* queue.c: move an I/O's iovecs @n bytes forward. */
void blk_io_consume(struct rq_io *io, size_t n);
/* queue.c: the errno blk_queue_fail_nth() injects into the next I/O, or 0. */
int blk_io_injected(struct request_queue *q);

/* engines (queue.c): hand over an asynchronous request. */
void blk_engine_queue(struct request_queue *q, struct rq_impl *ri, bool at_head);

/* bio.c: a bio set whose cache has a name of our choosing. */
int bioset_init_named(struct bio_set *bs, unsigned int pool_size, unsigned int front_pad, int flags,
		      const char *name);

#endif /* PKTMEM_BLK_IMPL_H */
