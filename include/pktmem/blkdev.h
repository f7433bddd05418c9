/*
 * <pktmem/blkdev.h> — block I/O: bios, bio sets, requests and request
 * queues that do real reads and writes on a file or a block device.
 *
 *   bio_alloc_bioset()  a bio: a start sector, an operation, and a vector of
 *         |             (page, offset, length) pieces of memory (bio_vec)
 *   bio_add_page() ...  the caller fills the vector with pages
 *         |             (alloc_pages(), or any struct page)
 *   bi_next             bios may be chained into one contiguous I/O
 *         v
 *   blk_make_request()  a request for the whole chain, checked against the
 *         |             queue's limits; vectors that break the queue's
 *         |             memory alignment are bounced through aligned pages
 *         v
 *   blk_execute_rq_nowait()  the queue performs each bio (io_uring when
 *                       the library was built with liburing, else preadv/
 *                       pwritev on a worker thread), sets bi_status and
 *                       calls bi_end_io once per bio, then the request's
 *                       completion routine
 *   blk_execute_rq()    the same on the calling thread, and waits
 *
 * The names, fields and values follow Linux (block/bio.c, blk-core.c, the
 * 2.6 blk_make_request(9) manual page) so that block-layer code ported from
 * the kernel reads the same. Where this library differs it says so at the
 * declaration; the main differences: there is no struct block_device (a bio
 * does not name its device; a request_queue does, and is opened over a file
 * descriptor by blk_queue_open()), and bio_add_page() takes no page
 * reference (as in Linux: the caller keeps its pages until bi_end_io).
 *
 * Memory: bios come from a struct bio_set (a mempool over a kmem_cache of
 * the set's own, plus a mempool of vector arrays), requests from a
 * kmem_cache ("blk-request"), bounce pages from alloc_pages(). All of it
 * shows in pktmem_stats_walk().
 *
 * Thread-safety: see each function. In short: a bio or request belongs to
 * one holder at a time (the caller, then the queue from submission until
 * bi_end_io / the completion routine); the queue's submission functions may
 * be called from any thread at once; queue limits are set before I/O starts.
 */
#ifndef PKTMEM_BLKDEV_H
#define PKTMEM_BLKDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>

#include <pktmem/export.h>
#include <pktmem/gfp.h>
#include <pktmem/page.h>
#include <pktmem/mempool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ sectors */

/* A device address in 512-byte sectors, whatever the logical block size. */
typedef uint64_t sector_t;

#define SECTOR_SHIFT 9
#define SECTOR_SIZE  (1u << SECTOR_SHIFT)

/* ------------------------------------------------------------ status */

/*
 * The outcome of one bio or request, Linux's blk_status_t with its values.
 * BLK_STS_OK is success; blk_status_to_errno() gives the -errno.
 */
typedef unsigned char blk_status_t;

#define BLK_STS_OK           ((blk_status_t)0)
#define BLK_STS_NOTSUPP      ((blk_status_t)1)  /* -EOPNOTSUPP: operation not supported */
#define BLK_STS_TIMEOUT      ((blk_status_t)2)  /* -ETIMEDOUT */
#define BLK_STS_NOSPC        ((blk_status_t)3)  /* -ENOSPC: the device or file system is full */
#define BLK_STS_TRANSPORT    ((blk_status_t)4)  /* -ENOLINK */
#define BLK_STS_TARGET       ((blk_status_t)5)  /* -EREMOTEIO */
#define BLK_STS_MEDIUM       ((blk_status_t)7)  /* -ENODATA */
#define BLK_STS_PROTECTION   ((blk_status_t)8)  /* -EILSEQ */
#define BLK_STS_RESOURCE     ((blk_status_t)9)  /* -ENOMEM: out of memory */
#define BLK_STS_IOERR        ((blk_status_t)10) /* -EIO: any other I/O error, a short read */
#define BLK_STS_AGAIN        ((blk_status_t)12) /* -EAGAIN */
#define BLK_STS_DEV_RESOURCE ((blk_status_t)13) /* -EBUSY */
#define BLK_STS_OFFLINE      ((blk_status_t)16) /* -ENODEV */

/* The -errno of a status (0 for BLK_STS_OK; -EIO for an unknown value). */
static inline int blk_status_to_errno(blk_status_t status)
{
	switch (status) {
	case BLK_STS_OK:           return 0;
	case BLK_STS_NOTSUPP:      return -EOPNOTSUPP;
	case BLK_STS_TIMEOUT:      return -ETIMEDOUT;
	case BLK_STS_NOSPC:        return -ENOSPC;
	case BLK_STS_TRANSPORT:    return -ENOLINK;
	case BLK_STS_TARGET:       return -EREMOTEIO;
	case BLK_STS_MEDIUM:       return -ENODATA;
	case BLK_STS_PROTECTION:   return -EILSEQ;
	case BLK_STS_RESOURCE:     return -ENOMEM;
	case BLK_STS_AGAIN:        return -EAGAIN;
	case BLK_STS_DEV_RESOURCE: return -EBUSY;
	case BLK_STS_OFFLINE:      return -ENODEV;
	default:                   return -EIO;
	}
}

/*
 * The status for an errno (either sign; 0 gives BLK_STS_OK). Errors with no
 * status of their own (EBADF from a closed descriptor, EFAULT, ...) give
 * BLK_STS_IOERR, as in Linux.
 */
static inline blk_status_t errno_to_blk_status(int error)
{
	/* Unsigned: -INT_MIN does not fit an int. */
	unsigned int e = error < 0 ? 0u - (unsigned int)error : (unsigned int)error;

	switch (e) {
	case 0:          return BLK_STS_OK;
	case EOPNOTSUPP: return BLK_STS_NOTSUPP;
	case ETIMEDOUT:  return BLK_STS_TIMEOUT;
	case ENOSPC:     return BLK_STS_NOSPC;
	case ENOLINK:    return BLK_STS_TRANSPORT;
	case EREMOTEIO:  return BLK_STS_TARGET;
	case ENODATA:    return BLK_STS_MEDIUM;
	case EILSEQ:     return BLK_STS_PROTECTION;
	case ENOMEM:     return BLK_STS_RESOURCE;
	case EAGAIN:     return BLK_STS_AGAIN;
	case EBUSY:      return BLK_STS_DEV_RESOURCE;
	case ENODEV:     return BLK_STS_OFFLINE;
	default:         return BLK_STS_IOERR;
	}
}

/* ------------------------------------------------------------ operations */

/*
 * bi_opf / cmd_flags: the operation in the low REQ_OP_BITS bits, flags
 * above. Writes have odd numbers, as in Linux, so op_is_write() is one bit.
 * The queue performs REQ_OP_READ and REQ_OP_WRITE; blk_make_request()
 * refuses other operations with -EOPNOTSUPP.
 */
typedef unsigned int blk_opf_t;

enum req_op {
	REQ_OP_READ = 0,
	REQ_OP_WRITE = 1,
};

#define REQ_OP_BITS 8
#define REQ_OP_MASK ((blk_opf_t)((1u << REQ_OP_BITS) - 1))
#define REQ_SYNC    ((blk_opf_t)1u << 11) /* informational: a waiter is waiting */

/* Data directions, as bio_data_dir() and rq_data_dir() return them. */
#ifndef READ
#define READ 0
#endif
#ifndef WRITE
#define WRITE 1
#endif

static inline bool op_is_write(blk_opf_t op)
{
	return (op & 1u) != 0;
}

/* ------------------------------------------------------------ bio */

/* One piece of a bio's memory: @bv_len bytes at @bv_offset in @bv_page. */
struct bio_vec {
	struct page *bv_page;
	unsigned int bv_len;
	unsigned int bv_offset;
};

/*
 * Where a bio stands: the next sector, the bytes left, and the position in
 * the vector array (bi_idx, and bi_bvec_done bytes into that vector). A
 * split clone shares its parent's vector array and differs only here.
 * The queue leaves a bio's iterator as it was submitted.
 */
struct bvec_iter {
	sector_t bi_sector;
	unsigned int bi_size;
	unsigned int bi_idx;
	unsigned int bi_bvec_done;
};

struct bio;
struct bio_set;
typedef void (bio_end_io_t)(struct bio *bio);

/* The most vectors one bio holds, and how many live inside the bio itself. */
#define BIO_MAX_VECS    256
#define BIO_INLINE_VECS 4

/* bi_flags (read-only for callers). */
#define BIO_CLONED  0x1u /* shares another bio's vector array (bio_split) */
#define BIO_CHAIN   0x2u /* has chained children: bio_endio() counts them down */
#define BIO_BOUNCED 0x4u /* a bounce copy made by the queue */

/*
 * A block I/O. Callers set bi_iter.bi_sector, bi_end_io and bi_private, and
 * fill the vectors with bio_add_page(); the library sets bi_status before it
 * calls bi_end_io. The other fields are read-only for callers; fields
 * starting with "__" are the library's.
 */
struct bio {
	struct bio *bi_next;          /* next bio of a chain (a request's list) */
	blk_opf_t bi_opf;             /* REQ_OP_* | REQ_* flags */
	unsigned short bi_flags;      /* BIO_* */
	blk_status_t bi_status;       /* set before bi_end_io runs */
	struct bvec_iter bi_iter;
	bio_end_io_t *bi_end_io;      /* called once by bio_endio() (may be NULL) */
	void *bi_private;             /* the caller's */
	unsigned short bi_vcnt;       /* vectors filled */
	unsigned short bi_max_vecs;   /* vectors the array holds */
	int __bi_cnt;                 /* references: bio_get()/bio_put() */
	int __bi_remaining;           /* completions still awaited (bio_chain()) */
	struct bio_vec *bi_io_vec;    /* the vector array */
	struct bio_set *bi_pool;      /* where the bio came from */
	struct bio_vec bi_inline_vecs[]; /* BIO_INLINE_VECS when the set has vectors */
};

static inline enum req_op bio_op(const struct bio *bio)
{
	return (enum req_op)(bio->bi_opf & REQ_OP_MASK);
}

/* WRITE (1) for a write, READ (0) otherwise. */
static inline int bio_data_dir(const struct bio *bio)
{
	return op_is_write(bio->bi_opf) ? WRITE : READ;
}

/* Remaining size in sectors and bytes. */
static inline unsigned int bio_sectors(const struct bio *bio)
{
	return bio->bi_iter.bi_size >> SECTOR_SHIFT;
}

static inline sector_t bio_end_sector(const struct bio *bio)
{
	return bio->bi_iter.bi_sector + bio_sectors(bio);
}

/* ------------------------------------------------------------ bio_set */

/* bioset_init() flags. */
#define BIOSET_NEED_BVECS 0x1 /* bios of this set carry vectors (all but split clones do) */

/*
 * A source of bios with a guaranteed reserve: a mempool of @pool_size bios
 * over a kmem_cache of the set's own (objects of front_pad + sizeof(struct
 * bio) + BIO_INLINE_VECS vectors), and, with BIOSET_NEED_BVECS, a mempool
 * of BIO_MAX_VECS-entry vector arrays. Vector arrays of 5..16 and 17..64
 * entries come first from shared caches ("bvec-16", "bvec-64") without
 * waiting, then from the set's pool. Public so that it can be embedded;
 * fields are the library's, except that bio_slab may be given a limit
 * (kmem_cache_set_limit) or read for statistics.
 */
struct bio_set {
	struct kmem_cache *bio_slab;
	unsigned int front_pad;
	unsigned int flags;
	mempool_t bio_pool;
	mempool_t bvec_pool;
};

/*
 * bioset_init() - set up @bs: a reserve of @pool_size bios (and as many
 * vector arrays with BIOSET_NEED_BVECS), each bio preceded by @front_pad
 * bytes of the caller's (so a caller's structure may end with a struct bio:
 * find it back with container_of). Returns 0, -EINVAL (unknown flags,
 * pool_size above INT_MAX, front_pad above 64 KiB or not a multiple of
 * the bio's alignment, 8) or -ENOMEM (nothing left allocated). Not
 * thread-safe with other use of @bs.
 */
PKTMEM_API int bioset_init(struct bio_set *bs, unsigned int pool_size, unsigned int front_pad, int flags);

/*
 * bioset_exit() - free the reserve and the set's cache. Every bio of the
 * set must have been put: one still out goes to the diagnostic handler,
 * and the set is left as it was. Safe on a zeroed or already exited set.
 */
PKTMEM_API void bioset_exit(struct bio_set *bs);

/*
 * bio_alloc_bioset() - a bio with room for @nr_vecs vectors, operation
 * @opf, from @bs. Linux's signature without the struct block_device (the
 * queue a bio goes to is chosen at blk_make_request()).
 * With a waiting mask (GFP_KERNEL, GFP_NOIO) it never returns NULL: it
 * sleeps on the set's reserve until a bio of the set is put. So a caller
 * must never hold unsubmitted bios of the set while it waits for another:
 * see blkdev_issue_rw() and the WARNING of blk_make_request(9).
 * With GFP_ATOMIC/GFP_NOWAIT it returns NULL (errno ENOMEM) when the cache
 * and the reserve are dry. NULL with errno EINVAL for nr_vecs above
 * BIO_MAX_VECS, or nr_vecs > 0 from a set without BIOSET_NEED_BVECS;
 * NULL with errno EWOULDBLOCK for a waiting mask inside
 * pktmem_atomic_begin() (diagnostic, as gfp(3) says).
 * The bio has one reference, bi_sector 0, size 0, no end_io. Any thread.
 */
PKTMEM_API struct bio *bio_alloc_bioset(unsigned short nr_vecs, blk_opf_t opf, gfp_t gfp_mask,
					struct bio_set *bs);

/*
 * bio_alloc() - bio_alloc_bioset() from the library's own set
 * (bio_default_bioset(): a reserve of 2 bios, with vectors).
 */
PKTMEM_API struct bio *bio_alloc(unsigned short nr_vecs, blk_opf_t opf, gfp_t gfp_mask);

/* The set bio_alloc() uses (created on first use; never freed). */
PKTMEM_API struct bio_set *bio_default_bioset(void);

/* bio_get() - take one more reference (any thread). */
PKTMEM_API void bio_get(struct bio *bio);

/*
 * bio_put() - drop a reference; the last one returns the bio (and its
 * vector array) to its set. Pages are not touched: they are the caller's.
 * NULL is a no-op. A put below zero goes to the diagnostic handler.
 */
PKTMEM_API void bio_put(struct bio *bio);

/*
 * bio_add_page() - append @len bytes at @offset in @page to @bio's vectors
 * (merged into the last vector when they continue it in the same page).
 * Takes no page reference: the page must stay until bi_end_io has run.
 * Returns @len, or 0 when the bio is full (bi_vcnt == bi_max_vecs), would
 * exceed 4 GiB, or @len is 0. A range outside the page, a split clone
 * (BIO_CLONED), or a NULL bio or page goes to the diagnostic handler (0 if
 * it returns).
 */
PKTMEM_API int bio_add_page(struct bio *bio, struct page *page, unsigned int len, unsigned int offset);

/*
 * bio_advance() - move @bio's iterator @bytes forward (sector, size and
 * vector position), as a driver does when part of a bio is done.
 * Advancing past bi_size goes to the diagnostic handler.
 */
PKTMEM_API void bio_advance(struct bio *bio, unsigned int bytes);

/*
 * bio_split() - split the first @sectors off @bio: returns a new bio from
 * @bs (any set; it needs no vectors) for those sectors, sharing @bio's
 * vector array (BIO_CLONED), and advances @bio past them. The clone must
 * complete before @bio is put: bio_chain(split, bio) is the usual way.
 * NULL (errno ENOMEM) when a non-waiting mask finds @bs dry; @bio is then
 * unchanged. @sectors must be above 0 and below bio_sectors(bio)
 * (otherwise, or for a NULL @bio, the diagnostic handler and NULL with
 * errno EINVAL); block alignment is the queue's to check, at
 * blk_make_request().
 */
PKTMEM_API struct bio *bio_split(struct bio *bio, int sectors, gfp_t gfp, struct bio_set *bs);

/*
 * bio_chain() - make @parent complete only after @bio has: @bio's
 * bi_end_io becomes the library's chain routine, which puts @bio, passes
 * its error (if @parent has none yet) to @parent, and calls
 * bio_endio(@parent). @bio must have no bi_end_io and no bi_private yet
 * (else the diagnostic handler, as for a NULL bio or parent or a bio
 * chained to itself). Any number of bios may chain to one parent.
 */
PKTMEM_API void bio_chain(struct bio *bio, struct bio *parent);

/*
 * bio_endio() - the bio is done, with its bi_status: call bi_end_io (if
 * any). A bio with chained children calls it only on the last of its
 * own completion and theirs. The queue calls this for every bio it
 * performs; a caller calls it to fail a bio it never submitted.
 */
PKTMEM_API void bio_endio(struct bio *bio);

/* bio_io_error() - end @bio with BLK_STS_IOERR. */
static inline void bio_io_error(struct bio *bio)
{
	bio->bi_status = BLK_STS_IOERR;
	bio_endio(bio);
}

/* ------------------------------------------------------------ queue */

/*
 * A request queue: a file descriptor (a regular file or a block device)
 * with the limits of the device behind it, and an engine that performs
 * requests: io_uring when the library was built with liburing and the
 * kernel allows it, else preadv/pwritev on a worker thread of the queue.
 * Opaque.
 */
struct request_queue;

/*
 * A queue's limits. Read them with blk_queue_limits() or the queue_*()
 * helpers; change them with the blk_queue_*() setters, before I/O starts.
 */
struct queue_limits {
	unsigned int logical_block_size; /* bytes; I/O offsets and sizes are multiples */
	unsigned int max_hw_sectors;     /* sectors one request may carry */
	unsigned short max_segments;     /* vectors one request may carry */
	unsigned int dma_alignment;      /* a mask: every vector's address and length
					  * must have these bits clear, else it is bounced */
};

/* blk_queue_open_fd() flags. */
#define BLK_QUEUE_OWN_FD   0x1u /* blk_queue_close() closes the descriptor */
#define BLK_QUEUE_NO_URING 0x2u /* use the worker thread even where io_uring works */

/*
 * blk_queue_open_fd() - a queue over @fd, a regular file or a block device
 * opened for reading, writing or both (with or without O_DIRECT: the queue
 * reads the descriptor's flags). Limits: for O_DIRECT the file's own
 * requirements (statx STATX_DIOALIGN where the kernel reports them, else
 * the block device's logical block size or 512); otherwise a logical block
 * size of 512 and Linux's default dma_alignment of 511. max_hw_sectors 1024
 * (512 KiB), max_segments 128.
 * Without BLK_QUEUE_OWN_FD the descriptor stays the caller's: it must stay
 * open until blk_queue_close() (a descriptor closed earlier makes I/O fail
 * with BLK_STS_IOERR; nothing hangs).
 * Returns the queue, or NULL with errno: EBADF, EINVAL (not a regular file
 * or block device, unknown flags), ENOMEM, EAGAIN (no thread).
 */
PKTMEM_API struct request_queue *blk_queue_open_fd(int fd, unsigned int flags);

/*
 * blk_queue_open() - open(2) @path with @open_flags (O_RDONLY, O_RDWR,
 * O_WRONLY, plus O_DIRECT, O_CREAT (mode 0666 less the umask), O_TRUNC,
 * O_SYNC, O_DSYNC ...; O_CLOEXEC is always added) and open a queue that
 * owns the descriptor. NULL with open(2)'s errno or blk_queue_open_fd()'s.
 * O_DIRECT where the file system refuses it gives errno EINVAL.
 */
PKTMEM_API struct request_queue *blk_queue_open(const char *path, int open_flags);

/*
 * blk_queue_close() - drain and free the queue. The rule with I/O in
 * flight: every request already handed to the queue is performed and
 * completed as usual (bi_end_io and the completion routine run, with the
 * real status) before blk_queue_close() returns; requests that those
 * routines submit are waited for too, so they must stop resubmitting.
 * Nothing is cancelled and nothing hangs: a request whose descriptor went
 * bad completes with an error. The caller must not submit from other
 * threads once it calls this, nor use @q after. Requests made by
 * blk_make_request() but never executed must be put (blk_put_request())
 * first (they point at the queue, and a bounced one holds a bio of the
 * queue's own bounce set): the close reports any left to the diagnostic
 * handler and leaves the queue open. Calling it from one of the queue's completion routines
 * goes to the diagnostic handler (it would wait for itself). NULL is a
 * no-op.
 */
PKTMEM_API void blk_queue_close(struct request_queue *q);

/* The queue's descriptor. */
PKTMEM_API int blk_queue_fd(const struct request_queue *q);

/* "io_uring" or "worker": the engine performing the queue's I/O. */
PKTMEM_API const char *blk_queue_engine(const struct request_queue *q);

/* The queue's current limits (valid while the queue is open). */
PKTMEM_API const struct queue_limits *blk_queue_limits(const struct request_queue *q);

static inline unsigned int queue_logical_block_size(const struct request_queue *q)
{
	return blk_queue_limits(q)->logical_block_size;
}

static inline unsigned int queue_max_hw_sectors(const struct request_queue *q)
{
	return blk_queue_limits(q)->max_hw_sectors;
}

static inline unsigned int queue_max_sectors(const struct request_queue *q)
{
	return blk_queue_limits(q)->max_hw_sectors;
}

static inline unsigned short queue_max_segments(const struct request_queue *q)
{
	return blk_queue_limits(q)->max_segments;
}

static inline unsigned int queue_dma_alignment(const struct request_queue *q)
{
	return blk_queue_limits(q)->dma_alignment;
}

/*
 * Setters. Linux's names; unlike Linux they return 0 or -EINVAL, because
 * the device behind the queue is real and a limit it cannot honour is
 * refused rather than obeyed into failed I/O. Call them before submitting
 * I/O (they do not synchronise with requests in flight).
 *
 * blk_queue_logical_block_size(): a power of two from 512 to PAGE_SIZE, at
 *   least what O_DIRECT needs of the file, above the dma alignment mask,
 *   and no larger than max_hw_sectors allows.
 * blk_queue_max_hw_sectors(): 1 logical block's worth of sectors or more,
 *   at most 65536 (32 MiB, so that a bounce copy fits its vectors).
 * blk_queue_max_segments(): 1 to BIO_MAX_VECS * 4 (1024, IOV_MAX).
 * blk_queue_dma_alignment(): a mask (2^n - 1) below the logical block size,
 *   at least what O_DIRECT needs of memory.
 */
PKTMEM_API int blk_queue_logical_block_size(struct request_queue *q, unsigned int size);
PKTMEM_API int blk_queue_max_hw_sectors(struct request_queue *q, unsigned int max_hw_sectors);
PKTMEM_API int blk_queue_max_segments(struct request_queue *q, unsigned short max_segments);
PKTMEM_API int blk_queue_dma_alignment(struct request_queue *q, unsigned int mask);

/*
 * blk_queue_fail_nth() - a test hook: the @nth bio performed from now on
 * (counting from 1, on this queue) completes with -@error (a positive errno,
 * e.g. EIO) without touching the file; @nth 0 disarms. Returns 0 or -EINVAL.
 * Any thread.
 */
PKTMEM_API int blk_queue_fail_nth(struct request_queue *q, unsigned long nth, int error);

/* ------------------------------------------------------------ request */

struct request;
typedef void (rq_end_io_fn)(struct request *rq, blk_status_t status);

/*
 * A request: a contiguous run of sectors carried by a chain of bios, as
 * blk_make_request() builds it. After blk_make_request() the caller
 * finishes initialising it (end_io_data, rq_private), then executes it
 * once. Fields other than those two are read-only.
 */
struct request {
	struct request_queue *q;
	blk_opf_t cmd_flags;        /* the bios' operation and flags */
	sector_t __sector;          /* first sector */
	unsigned int __data_len;    /* bytes */
	unsigned short nr_phys_segments;
	struct bio *bio, *biotail;  /* the chain (bounce copies in place of bounced bios) */
	rq_end_io_fn *end_io;       /* set by blk_execute_rq*() */
	void *end_io_data;          /* the caller's, for its completion routine */
	void *rq_private;           /* the caller's */
};

static inline sector_t blk_rq_pos(const struct request *rq)
{
	return rq->__sector;
}

static inline unsigned int blk_rq_bytes(const struct request *rq)
{
	return rq->__data_len;
}

static inline unsigned int blk_rq_sectors(const struct request *rq)
{
	return rq->__data_len >> SECTOR_SHIFT;
}

static inline enum req_op req_op(const struct request *rq)
{
	return (enum req_op)(rq->cmd_flags & REQ_OP_MASK);
}

static inline int rq_data_dir(const struct request *rq)
{
	return op_is_write(rq->cmd_flags) ? WRITE : READ;
}

/*
 * blk_make_request() - given a bio chain, allocate the request for it
 * (blk_make_request(9)). @bio is the head of a chain linked by bi_next,
 * whose vectors the caller has set; every bio has the same operation
 * (bio_data_dir() gives the request's direction) and the chain covers one
 * contiguous run of sectors. The request is allocated with @gfp_mask.
 *
 * Bouncing: a bio whose vectors break the queue's dma_alignment (an address
 * or length with mask bits set) is copied through aligned pages: a bounce
 * bio takes its place in the request's chain, and on completion copies read
 * data back, frees its pages and ends the original bio. Bouncing allocates,
 * so it needs a mask that may wait: under GFP_ATOMIC/GFP_NOWAIT a bio that
 * needs bouncing goes to the diagnostic handler (the kernel's BUG), naming
 * the bio, the vector and the limit, and ERR_PTR(-EINVAL) is returned if
 * the handler returns. Allocate aligned pages (alloc_pages()) to avoid it.
 *
 * Returns the request, or ERR_PTR(-errno), with the chain then untouched
 * and still the caller's:
 *   -EINVAL      the chain is beyond the queue's limits: more than
 *                max_hw_sectors sectors or max_segments vectors, a bio
 *                of zero bytes, a sector or size that is not a multiple of
 *                the logical block size, bios not contiguous, or sectors
 *                past the largest file offset (2^63 - 1 bytes);
 *   -EOPNOTSUPP  an operation other than REQ_OP_READ/REQ_OP_WRITE;
 *   -ENOMEM      an allocation failed (request, vector table, bounce bio or
 *                pages).
 * Bios of different directions in one chain, or a NULL queue or bio, go to
 * the diagnostic handler (ERR_PTR(-EINVAL) if it returns).
 * Any thread; a waiting mask inside pktmem_atomic_begin() is diagnosed.
 */
PKTMEM_API struct request *blk_make_request(struct request_queue *q, struct bio *bio, gfp_t gfp_mask);

/*
 * blk_execute_rq_nowait() - hand @rq to its queue and return. Every bio is
 * performed, gets its bi_status and its bi_end_io (once each, in chain
 * order), then @done runs once with the request's status (the first
 * error among its bios, else BLK_STS_OK). @done and the bi_end_io routines
 * run on the queue's completion thread; they may submit more requests and
 * put bios, but must not call blk_queue_close() or blkdev_issue_rw() on
 * the same queue, nor wait for memory that only this queue's completions
 * free.
 * @done owns the request: it calls blk_put_request() (now or later). With
 * @done NULL the queue puts the request itself. @at_head puts the request
 * in front of others still waiting (for the worker, or for room in the
 * io_uring ring).
 * Any thread.
 */
PKTMEM_API void blk_execute_rq_nowait(struct request *rq, bool at_head, rq_end_io_fn *done);

/*
 * blk_execute_rq() - perform @rq and wait: returns its status after every
 * bio's bi_end_io has run. The I/O runs on the calling thread with
 * preadv/pwritev whatever the engine (what blk-mq calls direct issue: a
 * caller that waits gains nothing from another thread, and io_uring's
 * round trip through the reaper costs two wake-ups), so the bi_end_io
 * routines run here too. @at_head is Linux's and has no effect. The
 * request stays the caller's (put it with blk_put_request()). May be
 * called from a completion routine (the I/O then holds up that queue's
 * other completions); not inside pktmem_atomic_begin() (diagnostic,
 * BLK_STS_IOERR). Any thread.
 */
PKTMEM_API blk_status_t blk_execute_rq(struct request *rq, bool at_head);

/*
 * blk_put_request() - free a request. One never executed still holds its
 * chain: bounce copies are freed and the original chain is left to the
 * caller, not ended. NULL is a no-op. Any thread.
 */
PKTMEM_API void blk_put_request(struct request *rq);

/* ------------------------------------------------------------ whole buffers */

/*
 * blkdev_issue_rw() - write @len bytes from @buf to the queue at @sector,
 * or read them into @buf (@op REQ_OP_WRITE or REQ_OP_READ), and wait.
 *
 * This is the allocation rule of blk_make_request(9) as a helper. The
 * bytes go through pages from alloc_pages() (so nothing needs bouncing),
 * 16 pages per bio, bios from @bs, chained into requests as the queue's
 * limits allow. Only the first bio (and its pages) of each chain is
 * allocated with @gfp; the rest with GFP_NOWAIT. When a non-waiting
 * allocation fails, the chain built so far is submitted as it is and the
 * rest of the I/O goes into the next chain, whose first allocation may
 * wait for the completions of the chains in flight. So a set whose reserve
 * is a single bio still moves any amount of data, where allocating a
 * whole chain with a waiting mask before submitting it would deadlock.
 * A partial allocation is never an error.
 *
 * @sector and @len must be multiples of the logical block size and @len
 * above 0, and @bs must have been set up with BIOSET_NEED_BVECS (else
 * -EINVAL). @gfp must allow waiting (GFP_KERNEL, GFP_NOIO: else -EINVAL,
 * since nothing would guarantee progress); in atomic context the first
 * allocation is refused (diagnostic) and -ENOMEM returned. Returns 0, or
 * the -errno of the first bio that failed with an I/O error (the other
 * chains are still performed); -ENOMEM when a first allocation failed
 * (injected faults), and the -errno of blk_make_request() if it refused a
 * chain, in both cases with no further chain submitted. Not from a
 * completion routine of @q (diagnostic, -EDEADLK). Any other thread.
 */
PKTMEM_API int blkdev_issue_rw(struct request_queue *q, enum req_op op, sector_t sector, void *buf,
			       size_t len, gfp_t gfp, struct bio_set *bs);

#ifdef __cplusplus
}
#endif

#endif /* PKTMEM_BLKDEV_H */
