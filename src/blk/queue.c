/*
 * Request queues over a file descriptor, and the engines that perform them.
 *
 *   blk_execute_rq_nowait()                  blk_execute_rq()
 *        |  inflight++                            |  inflight++
 *        v                                        |  the caller's thread
 *   +-------------------- engine ------------+    |  performs each bio with
 *   | worker: a list under q->lock; one      |    |  preadv/pwritev ("direct
 *   |   thread pops requests and performs    |    |  issue"), whatever the
 *   |   each bio with preadv/pwritev         |    |  engine, then completes
 *   | io_uring: the submitter writes one     |    |
 *   |   READV/WRITEV SQE per bio under       |    |
 *   |   sq_lock; a reaper thread takes the   |    |
 *   |   CQEs; bios wait in a list (in order) |    |
 *   |   while the ring is full               |    |
 *   +----------------------------------------+    |
 *        |  blk_rq_finish(): bio_endio() per bio, the request's end_io,
 *        v  inflight--   (on the worker / reaper thread, or the caller's)
 *   blk_queue_close(): wait until inflight == 0, stop the thread, free.
 *
 * Each bio is one I/O at its own sector: its status is its own. A short
 * transfer is continued (preadv/pwritev for the rest, whichever engine
 * started it); a read that meets the end of the file before the bio is
 * full completes with BLK_STS_IOERR, as a read past the end of a device
 * does in Linux. Errors of the system call map with errno_to_blk_status().
 *
 * The io_uring engine needs PKTMEM_HAVE_LIBURING at build time; where the
 * kernel refuses io_uring (an old kernel, a seccomp filter,
 * kernel.io_uring_disabled) the queue quietly uses the worker. So it does
 * under valgrind, which does not treat a waiting io_uring_enter() as a
 * blocking call: the reaper would hold valgrind's one running thread while
 * it waits, and the submitter could never run (liburing issue 657).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/fs.h>

#include "blk_impl.h"

#if defined(PKTMEM_HAVE_LIBURING) && defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define under_valgrind() (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef under_valgrind
#define under_valgrind() false
#endif

_Thread_local struct request_queue *blk_completing_queue;

/* ------------------------------------------------------------ performing */

int blk_io_injected(struct request_queue *q)
{
	unsigned long n = atomic_load_explicit(&q->fail_nth, memory_order_relaxed);

	while (n != 0) {
		if (atomic_compare_exchange_weak_explicit(&q->fail_nth, &n, n - 1, memory_order_relaxed,
							  memory_order_relaxed))
			return n == 1 ? atomic_load_explicit(&q->fail_error, memory_order_relaxed) : 0;
	}
	return 0;
}

void blk_io_consume(struct rq_io *io, size_t n)
{
	io->done += n;
	while (n > 0 && io->iovcnt > 0) {
		if (n < io->iov->iov_len) {
			io->iov->iov_base = (char *)io->iov->iov_base + n;
			io->iov->iov_len -= n;
			return;
		}
		n -= io->iov->iov_len;
		io->iov++;
		io->iovcnt--;
	}
}

void blk_io_finish_sync(struct request_queue *q, struct rq_io *io)
{
	bool write = bio_data_dir(io->bio) == WRITE;

	while (io->done < io->len) {
		off_t pos = io->pos + (off_t)io->done;
		ssize_t n = write ? pwritev(q->fd, io->iov, io->iovcnt, pos) : preadv(q->fd, io->iov, io->iovcnt, pos);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			io->status = errno_to_blk_status(errno);
			return;
		}
		if (n == 0) {
			/* The end of the file (or a device that takes nothing): a short transfer. */
			io->status = BLK_STS_IOERR;
			return;
		}
		blk_io_consume(io, (size_t)n);
	}
}

void blk_io_perform(struct request_queue *q, struct rq_io *io)
{
	int err = blk_io_injected(q);

	if (err) {
		io->status = errno_to_blk_status(err);
		return;
	}
	blk_io_finish_sync(q, io);
}

/* ------------------------------------------------------------ worker engine */

static void *worker_main(void *arg)
{
	struct request_queue *q = arg;

	blk_completing_queue = q;
	pthread_mutex_lock(&q->lock);
	for (;;) {
		struct rq_impl *ri = q->head;

		if (!ri) {
			if (q->stop)
				break;
			pthread_cond_wait(&q->work, &q->lock);
			continue;
		}
		q->head = ri->next;
		if (!q->head)
			q->tail = NULL;
		pthread_mutex_unlock(&q->lock);

		for (unsigned int i = 0; i < ri->nr_io; i++)
			blk_io_perform(q, &ri->io[i]);
		blk_rq_finish(q, ri);

		pthread_mutex_lock(&q->lock);
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

static void worker_queue(struct request_queue *q, struct rq_impl *ri, bool at_head)
{
	pthread_mutex_lock(&q->lock);
	if (at_head) {
		ri->next = q->head;
		q->head = ri;
		if (!q->tail)
			q->tail = ri;
	} else {
		ri->next = NULL;
		if (q->tail)
			q->tail->next = ri;
		else
			q->head = ri;
		q->tail = ri;
	}
	pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->lock);
}

static int worker_start(struct request_queue *q)
{
	q->engine = ENGINE_WORKER;
	q->stop = false;
	if (pthread_create(&q->thread, NULL, worker_main, q))
		return -EAGAIN;
	q->thread_running = true;
	return 0;
}

static void worker_stop(struct request_queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->stop = true;
	pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->thread, NULL);
}

/* ------------------------------------------------------------ io_uring engine */

#ifdef PKTMEM_HAVE_LIBURING

#define URING_ENTRIES 128
#define REAP_BATCH    64

/*
 * Move waiting I/Os into the ring while it has room, in order, and submit
 * them. sq_lock held. One I/O at a time rather than whole requests: a
 * request may carry more bios than the ring holds, and then it goes in
 * over several rounds as completions make room. Never more in the ring
 * than the completion queue holds, so no completion is ever dropped.
 */
static void uring_push_pending(struct request_queue *q)
{
	bool any = false;

	while (q->pend_head && q->in_ring < q->ring_cap) {
		struct rq_impl *ri = q->pend_head;
		struct rq_io *io = &ri->io[ri->pushed++];
		struct io_uring_sqe *sqe;

		while (!(sqe = io_uring_get_sqe(&q->ring)))
			io_uring_submit(&q->ring); /* the SQ is full of prepared entries: hand them over */
		io->inject = blk_io_injected(q);
		if (io->inject)
			io_uring_prep_nop(sqe); /* complete through the ring all the same, on the reaper */
		else if (bio_data_dir(io->bio) == WRITE)
			io_uring_prep_writev(sqe, q->fd, io->iov, (unsigned int)io->iovcnt, (uint64_t)io->pos);
		else
			io_uring_prep_readv(sqe, q->fd, io->iov, (unsigned int)io->iovcnt, (uint64_t)io->pos);
		io_uring_sqe_set_data(sqe, io);
		q->in_ring++;
		any = true;
		if (ri->pushed == ri->nr_io) {
			q->pend_head = ri->next;
			if (!q->pend_head)
				q->pend_tail = NULL;
		}
	}
	while (any) {
		int ret = io_uring_submit(&q->ring);

		if (ret >= 0 || (ret != -EINTR && ret != -EAGAIN && ret != -EBUSY))
			break;
		sched_yield();
	}
}

static void uring_queue(struct request_queue *q, struct rq_impl *ri, bool at_head)
{
	ri->pushed = 0;
	ri->io_left = ri->nr_io;
	pthread_mutex_lock(&q->sq_lock);
	if (at_head && q->pend_head && q->pend_head->pushed == 0) {
		ri->next = q->pend_head;
		q->pend_head = ri;
	} else if (at_head && q->pend_head) {
		/* The head is half in the ring: go right behind it. */
		ri->next = q->pend_head->next;
		q->pend_head->next = ri;
		if (q->pend_tail == q->pend_head)
			q->pend_tail = ri;
	} else {
		ri->next = NULL;
		if (q->pend_tail)
			q->pend_tail->next = ri;
		else
			q->pend_head = ri;
		q->pend_tail = ri;
	}
	uring_push_pending(q);
	pthread_mutex_unlock(&q->sq_lock);
}

/* One CQE's worth of completion; runs on the reaper. */
static void uring_complete(struct request_queue *q, struct rq_io *io, int res)
{
	struct rq_impl *ri = io->ri;

	if (io->inject) {
		io->status = errno_to_blk_status(io->inject);
	} else if (res < 0) {
		io->status = errno_to_blk_status(-res);
	} else if (res == 0) {
		io->status = BLK_STS_IOERR; /* end of file before the bio was full */
	} else {
		blk_io_consume(io, (size_t)res);
		if (io->done < io->len)
			blk_io_finish_sync(q, io); /* a short transfer: the rest, here */
	}
	if (--ri->io_left == 0)
		blk_rq_finish(q, ri);
}

static void *reaper_main(void *arg)
{
	struct request_queue *q = arg;
	struct rq_io *ios[REAP_BATCH];
	int res[REAP_BATCH];
	bool stop = false;

	blk_completing_queue = q;
	while (!stop) {
		struct io_uring_cqe *cqe;
		unsigned int n = 0, head;
		int ret = io_uring_wait_cqe(&q->ring, &cqe);

		if (ret < 0) {
			if (ret != -EINTR && ret != -EAGAIN)
				sched_yield();
			continue;
		}
		io_uring_for_each_cqe(&q->ring, head, cqe) {
			ios[n] = io_uring_cqe_get_data(cqe);
			res[n] = cqe->res;
			if (++n == REAP_BATCH)
				break;
		}
		io_uring_cq_advance(&q->ring, n);

		/*
		 * Taking sq_lock also orders the submitter's writes to the
		 * requests before our reads of them for tools (TSan) that do not
		 * see the kernel's ring as synchronisation.
		 */
		pthread_mutex_lock(&q->sq_lock);
		q->in_ring -= n;
		uring_push_pending(q);
		pthread_mutex_unlock(&q->sq_lock);

		for (unsigned int i = 0; i < n; i++) {
			if (!ios[i])
				stop = true; /* blk_queue_close()'s last NOP */
			else
				uring_complete(q, ios[i], res[i]);
		}
	}
	return NULL;
}

static int uring_start(struct request_queue *q)
{
	struct io_uring_params p;
	int err;

	if (under_valgrind())
		return -ENOSYS;
	memset(&p, 0, sizeof(p));
	if (io_uring_queue_init_params(URING_ENTRIES, &q->ring, &p) < 0)
		return -ENOSYS;
	err = pthread_mutex_init(&q->sq_lock, NULL);
	if (err) {
		io_uring_queue_exit(&q->ring);
		return -err;
	}
	q->ring_cap = p.cq_entries;
	q->in_ring = 0;
	q->pend_head = q->pend_tail = NULL;
	q->engine = ENGINE_URING;
	if (pthread_create(&q->thread, NULL, reaper_main, q)) {
		pthread_mutex_destroy(&q->sq_lock);
		io_uring_queue_exit(&q->ring);
		return -EAGAIN;
	}
	q->thread_running = true;
	return 0;
}

static void uring_stop(struct request_queue *q)
{
	struct io_uring_sqe *sqe;

	pthread_mutex_lock(&q->sq_lock);
	while (!(sqe = io_uring_get_sqe(&q->ring)))
		io_uring_submit(&q->ring);
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data(sqe, NULL);
	while (io_uring_submit(&q->ring) < 0)
		sched_yield();
	pthread_mutex_unlock(&q->sq_lock);
	pthread_join(q->thread, NULL);
	pthread_mutex_destroy(&q->sq_lock);
	io_uring_queue_exit(&q->ring);
}

#endif /* PKTMEM_HAVE_LIBURING */

void blk_engine_queue(struct request_queue *q, struct rq_impl *ri, bool at_head)
{
#ifdef PKTMEM_HAVE_LIBURING
	if (q->engine == ENGINE_URING) {
		uring_queue(q, ri, at_head);
		return;
	}
#endif
	worker_queue(q, ri, at_head);
}

/* ------------------------------------------------------------ limits */

/* Defaults as Linux's: BLK_MAX_SEGMENTS, a 512 KiB request, dma_alignment 511. */
#define DEFAULT_MAX_SECTORS  1024
#define DEFAULT_MAX_SEGMENTS 128
#define DEFAULT_DMA_MASK     511
#define MAX_SECTORS_CAP      65536  /* 32 MiB: bounce copies stay within order-5 pages */
#define MAX_SEGMENTS_CAP     1024   /* IOV_MAX */

static bool is_pow2(unsigned long v)
{
	return v && !(v & (v - 1));
}

/*
 * What O_DIRECT needs of @fd: statx(STATX_DIOALIGN) where the kernel
 * reports it (Linux 6.1+). We call the system call with a buffer in the
 * kernel's layout, since the C library's struct statx may predate the two
 * fields (offsets 0x98 and 0x9c). Else a block device's logical block size,
 * else 512 for both.
 */
static void dio_alignment(int fd, bool blockdev, unsigned int *lbs, unsigned int *mem)
{
	*lbs = 512;
	*mem = 512;
#ifdef SYS_statx
	{
		_Alignas(8) unsigned char buf[256];
		uint32_t mask, mem_align, off_align;

		memset(buf, 0, sizeof(buf));
		if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH, 0x2000u /* STATX_DIOALIGN */, buf) == 0) {
			memcpy(&mask, buf, sizeof(mask));
			memcpy(&mem_align, buf + 0x98, sizeof(mem_align));
			memcpy(&off_align, buf + 0x9c, sizeof(off_align));
			if ((mask & 0x2000u) && off_align && is_pow2(off_align) && is_pow2(mem_align)) {
				*lbs = off_align < 512 ? 512 : off_align;
				*mem = mem_align;
				return;
			}
		}
	}
#endif
	if (blockdev) {
		int ssz = 0;

		if (ioctl(fd, BLKSSZGET, &ssz) == 0 && ssz >= 512 && is_pow2((unsigned long)ssz)) {
			*lbs = (unsigned int)ssz;
			*mem = (unsigned int)ssz;
		}
	}
}

const struct queue_limits *blk_queue_limits(const struct request_queue *q)
{
	return &q->limits;
}

int blk_queue_logical_block_size(struct request_queue *q, unsigned int size)
{
	if (!q || size < 512 || size > PAGE_SIZE || !is_pow2(size) || size < q->dio_lbs ||
	    q->limits.dma_alignment >= size || (size >> SECTOR_SHIFT) > q->limits.max_hw_sectors)
		return -EINVAL;
	q->limits.logical_block_size = size;
	return 0;
}

int blk_queue_max_hw_sectors(struct request_queue *q, unsigned int max_hw_sectors)
{
	if (!q || max_hw_sectors < (q->limits.logical_block_size >> SECTOR_SHIFT) || max_hw_sectors > MAX_SECTORS_CAP)
		return -EINVAL;
	q->limits.max_hw_sectors = max_hw_sectors;
	return 0;
}

int blk_queue_max_segments(struct request_queue *q, unsigned short max_segments)
{
	if (!q || max_segments < 1 || max_segments > MAX_SEGMENTS_CAP)
		return -EINVAL;
	q->limits.max_segments = max_segments;
	return 0;
}

int blk_queue_dma_alignment(struct request_queue *q, unsigned int mask)
{
	if (!q || !is_pow2((unsigned long)mask + 1) || mask >= q->limits.logical_block_size || mask < q->dio_mem_mask)
		return -EINVAL;
	q->limits.dma_alignment = mask;
	return 0;
}

int blk_queue_fail_nth(struct request_queue *q, unsigned long nth, int error)
{
	if (!q || (nth && (error <= 0 || error > MAX_ERRNO)))
		return -EINVAL;
	atomic_store(&q->fail_error, error);
	atomic_store(&q->fail_nth, nth);
	return 0;
}

int blk_queue_fd(const struct request_queue *q)
{
	return q->fd;
}

const char *blk_queue_engine(const struct request_queue *q)
{
	return q->engine == ENGINE_URING ? "io_uring" : "worker";
}

/* ------------------------------------------------------------ open, close */

struct request_queue *blk_queue_open_fd(int fd, unsigned int flags)
{
	struct request_queue *q;
	struct stat st;
	unsigned int lbs, mem;
	int fl, err;

	if (flags & ~(BLK_QUEUE_OWN_FD | BLK_QUEUE_NO_URING)) {
		errno = EINVAL;
		return NULL;
	}
	if (fstat(fd, &st) < 0 || (fl = fcntl(fd, F_GETFL)) < 0)
		return NULL; /* errno EBADF */
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		errno = EINVAL;
		return NULL;
	}
	q = kzalloc(sizeof(*q), GFP_KERNEL);
	if (!q)
		return NULL;
	q->fd = fd;
	q->flags = flags;
	q->direct = (fl & O_DIRECT) != 0;
	q->limits.logical_block_size = 512;
	q->limits.max_hw_sectors = DEFAULT_MAX_SECTORS;
	q->limits.max_segments = DEFAULT_MAX_SEGMENTS;
	q->limits.dma_alignment = DEFAULT_DMA_MASK;
	q->dio_lbs = 512;
	if (q->direct) {
		dio_alignment(fd, S_ISBLK(st.st_mode), &lbs, &mem);
		if (lbs > PAGE_SIZE || mem > lbs) {
			kfree(q);
			errno = EINVAL; /* alignments our pages cannot meet */
			return NULL;
		}
		q->dio_lbs = lbs;
		q->dio_mem_mask = mem - 1;
		q->limits.logical_block_size = lbs;
		if (q->dio_mem_mask > q->limits.dma_alignment)
			q->limits.dma_alignment = q->dio_mem_mask;
	}
	if (q->limits.dma_alignment >= q->limits.logical_block_size)
		q->limits.dma_alignment = q->limits.logical_block_size - 1;

	err = bioset_init_named(&q->bounce_bs, 2, 0, BIOSET_NEED_BVECS, "bio-bounce");
	if (err)
		goto fail;
	if (pthread_mutex_init(&q->lock, NULL) || pthread_cond_init(&q->idle, NULL) ||
	    pthread_cond_init(&q->work, NULL)) {
		bioset_exit(&q->bounce_bs);
		err = -ENOMEM;
		goto fail;
	}
	err = -ENOSYS;
#ifdef PKTMEM_HAVE_LIBURING
	if (!(flags & BLK_QUEUE_NO_URING))
		err = uring_start(q);
#endif
	if (err)
		err = worker_start(q);
	if (err) {
		pthread_cond_destroy(&q->work);
		pthread_cond_destroy(&q->idle);
		pthread_mutex_destroy(&q->lock);
		bioset_exit(&q->bounce_bs);
		goto fail;
	}
	return q;
fail:
	kfree(q);
	errno = -err;
	return NULL;
}

struct request_queue *blk_queue_open(const char *path, int open_flags)
{
	struct request_queue *q;
	int fd, saved;

	if (!path) {
		errno = EINVAL;
		return NULL;
	}
	fd = open(path, open_flags | O_CLOEXEC, 0666);
	if (fd < 0)
		return NULL;
	q = blk_queue_open_fd(fd, BLK_QUEUE_OWN_FD);
	if (!q) {
		saved = errno;
		close(fd);
		errno = saved;
	}
	return q;
}

void blk_queue_close(struct request_queue *q)
{
	if (!q)
		return;
	if (blk_completing_queue == q) {
		diag("blk_queue_close", "called from a completion routine of queue %p: it would wait for itself",
		     (void *)q);
		return;
	}
	pthread_mutex_lock(&q->lock);
	while (q->inflight > 0)
		pthread_cond_wait(&q->idle, &q->lock);
	if (unlikely(q->unstarted > 0)) {
		/* Those requests point at the queue: freeing it would leave them dangling. */
		unsigned long n = q->unstarted;

		pthread_mutex_unlock(&q->lock);
		diag("blk_queue_close", "queue %p still has %lu request(s) made and neither executed nor put: not closed",
		     (void *)q, n);
		return;
	}
	pthread_mutex_unlock(&q->lock);

#ifdef PKTMEM_HAVE_LIBURING
	if (q->engine == ENGINE_URING)
		uring_stop(q);
	else
#endif
		worker_stop(q);

	pthread_cond_destroy(&q->work);
	pthread_cond_destroy(&q->idle);
	pthread_mutex_destroy(&q->lock);
	bioset_exit(&q->bounce_bs);
	if (q->flags & BLK_QUEUE_OWN_FD)
		close(q->fd);
	kfree(q);
}
