/*
 * <pktmem/pktmem.h> — the library as a whole: version, statistics, the
 * diagnostic handler for programmer errors, and fault injection.
 *
 * No init call is needed: the library sets itself up on first use, from any
 * thread.
 *
 * Thread-safety: every function here may be called from any thread.
 */
#ifndef PKTMEM_PKTMEM_H
#define PKTMEM_PKTMEM_H

#include <stdint.h>
#include <stddef.h>
#include <stdio.h>

#include <pktmem/export.h>
#include <pktmem/gfp.h>
#include <pktmem/ext.h>
#include <pktmem/page.h>
#include <pktmem/slab.h>
#include <pktmem/mempool.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PKTMEM_VERSION_MAJOR 0
#define PKTMEM_VERSION_MINOR 1
#define PKTMEM_VERSION_PATCH 0
#define PKTMEM_VERSION ((PKTMEM_VERSION_MAJOR * 10000) + (PKTMEM_VERSION_MINOR * 100) + PKTMEM_VERSION_PATCH)

/* The version of the library actually linked, as PKTMEM_VERSION computes it. */
PKTMEM_API int pktmem_version(void);
/* The same as "MAJOR.MINOR.PATCH". */
PKTMEM_API const char *pktmem_version_string(void);

/* ------------------------------------------------------------ statistics */

enum pktmem_stats_kind {
	PKTMEM_STATS_CACHE = 1, /* a kmem_cache */
	PKTMEM_STATS_POOL = 2,  /* a mempool */
};

/*
 * A snapshot of one cache or pool. Counts are objects (elements for pools).
 *  in_use:  handed out to callers and not yet freed.
 *  total:   objects that exist: in use, resting in magazines, depot and
 *           reserve (for a pool: in use plus the reserve).
 *  peak:    the highest in_use seen. Exact for pools and for caches with a
 *           limit (they keep an exact running count). A cache without a
 *           limit keeps no shared count on its fast path; its peak is the
 *           highest number of objects out of its depot (in use, or resting
 *           in threads' magazines), an upper bound within one magazine
 *           (64 objects) per thread.
 *  allocs, frees: successful allocations and frees.
 *  denied:  allocations that failed (limit under a non-waiting mask, no
 *           memory, injected fault).
 *  waited:  allocations that slept before succeeding.
 *  limit:   the in-use cap, 0 for none. reserve / reserve_max: emergency
 *           reserve (caches) or mempool reserve now and its target (pools).
 */
struct pktmem_stats {
	char name[48];
	enum pktmem_stats_kind kind;
	size_t obj_size;
	uint64_t in_use;
	uint64_t total;
	uint64_t peak;
	uint64_t allocs;
	uint64_t frees;
	uint64_t denied;
	uint64_t waited;
	uint64_t limit;
	uint64_t reserve;
	uint64_t reserve_max;
	size_t bytes_mapped;  /* memory the cache took from the system */
};

/* Snapshots of one cache / one pool. Return 0, or -EINVAL for NULL. */
PKTMEM_API int kmem_cache_stats(struct kmem_cache *c, struct pktmem_stats *out);
PKTMEM_API int mempool_stats(mempool_t *pool, struct pktmem_stats *out);

/*
 * pktmem_stats_walk() - call @fn with a snapshot of every live cache and pool,
 * in creation order, stopping early when @fn returns non-zero (that value is
 * returned; 0 otherwise). @fn must not create or destroy caches or pools.
 */
typedef int (*pktmem_stats_fn)(const struct pktmem_stats *st, void *arg);
PKTMEM_API int pktmem_stats_walk(pktmem_stats_fn fn, void *arg);

/* Print every cache and pool in the style of `netstat -m`. */
PKTMEM_API void pktmem_stats_print(FILE *out);

/*
 * The statistics as JSON: one object, the same in every output below.
 *
 *   {"format": "pktmem-stats", "format_version": 1,
 *    "library_version": "0.1.0", "pid": 4242,
 *    "timestamp": "2024-05-01T12:00:00.123Z", "timestamp_ms": 1714564800123,
 *    "caches": [ {"name": "mbuf", "kind": "cache", "obj_size": 256,
 *                 "in_use": 0, "total": 0, "peak": 0, "allocs": 0, "frees": 0,
 *                 "denied": 0, "waited": 0, "limit": 0, "reserve": 0,
 *                 "reserve_max": 0, "bytes_mapped": 0}, ... ],
 *    "pools":  [ {... the same fields, "kind": "pool" ...}, ... ],
 *    "totals": {"caches": 12, "pools": 1, "unused_caches": 9,
 *               "denied_by_pools": 0, "denied_by_caches": 0,
 *               "delayed_by_pools": 0, "delayed_by_caches": 0,
 *               "bytes_mapped": 2097152, "bytes_mapped_by_caches": 2097152}}
 *
 * Every field of struct pktmem_stats appears under its own name ("waited"
 * is the "delayed" of the text), each cache and pool in creation order,
 * unused caches included (the text leaves them out). Counts are unsigned
 * decimal integers. "timestamp" is UTC with milliseconds; "timestamp_ms"
 * the same instant in milliseconds since the Unix epoch. "bytes_mapped" in
 * the totals is everything the library holds from the system (the text's
 * "K bytes mapped"), which includes what no cache owns. Names are escaped
 * for JSON; bytes that are not UTF-8 become U+FFFD. New fields may be
 * added in later versions of the same "format_version"; a field's meaning
 * never changes without a new "format_version".
 *
 * The snapshot is taken with pktmem_stats_walk() (each entry consistent in
 * itself, the set not atomic) and written out after the registry's lock is
 * released, so a slow @out never holds up kmem_cache_create().
 */

/*
 * pktmem_stats_json() - write the statistics to @out (NULL: stdout) as one
 * JSON object followed by a newline.
 * Returns 0, -ENOMEM (no memory for the snapshot; nothing written) or -EIO
 * (@out reported a write error).
 */
PKTMEM_API int pktmem_stats_json(FILE *out);

/*
 * pktmem_stats_json_buf() - the same text, without the newline, into @buf
 * of @size bytes, as snprintf() does: at most @size - 1 bytes and a NUL
 * (when @size > 0; @buf may be NULL when @size is 0).
 * Returns the length of the whole text, so the text was cut (and is not
 * valid JSON) when the result is >= @size; or -EINVAL (@buf NULL with
 * @size > 0), -ENOMEM (no memory for the snapshot), -EOVERFLOW (longer than
 * INT_MAX).
 */
PKTMEM_API int pktmem_stats_json_buf(char *buf, size_t size);

/*
 * Looking at a process from outside. Two environment variables are read
 * once, when the library is loaded; unset, they cost nothing.
 *
 *  PKTMEM_STATS=text|json  print the statistics when the process exits
 *                          through exit() or a return from main() (not
 *                          _exit(), not a crash), after the program's own
 *                          atexit() handlers. Forked children that exit()
 *                          print theirs too.
 *  PKTMEM_STATS_FILE=path  where to print them (default: stderr). The file
 *                          is created or truncated at exit; "%p" in @path
 *                          becomes the process id, so that a parent and its
 *                          children do not overwrite each other.
 *  PKTMEM_STATS_SHM=name   pktmem_stats_publish(name, interval) at load, with
 *  PKTMEM_STATS_SHM_INTERVAL=ms  (default 1000).
 * An unknown value or a failure is reported on stderr as "pktmem: ..." and
 * otherwise ignored: the program runs on.
 */

/*
 * pktmem_stats_publish() - publish the statistics in the shared-memory
 * segment /dev/shm/pktmem.@name (shm_open name "/pktmem.@name", mode 0600:
 * readable by the same user), rewritten every @interval_ms milliseconds
 * (0: 1000) by a background thread, until pktmem_stats_unpublish() or exit()
 * (an atexit handler unpublishes). The first snapshot is in place when the
 * call returns. `pktmem-top name` displays it; pktmem_stats_fetch() reads it.
 *
 * @name: 1 to 64 characters from [A-Za-z0-9._-].
 *
 * Each snapshot is the JSON of pktmem_stats_json(), written under a sequence
 * counter, so a reader never takes a torn one. One segment per process.
 * A segment of the same name left by a process that is gone is taken over.
 *
 * Thread-safety: the publisher thread only reads the statistics, through
 * pktmem_stats_walk(), as any thread may; it blocks every signal and names
 * itself "pktmem-stats". Publish and unpublish may be called from any
 * thread, but not from a pktmem_stats_walk() callback (unpublishing waits
 * for the thread, which may be waiting for that walk). The thread does not
 * survive fork(): a child that wants its own segment publishes under
 * another name.
 *
 * Returns 0; -EINVAL (bad @name, @interval_ms over one hour), -EBUSY (this
 * process already publishes), -EEXIST (a live process, or something not
 * ours, holds that name), -ENOMEM, or the error of shm_open(), ftruncate(),
 * mmap() or pthread_create().
 */
PKTMEM_API int pktmem_stats_publish(const char *name, unsigned interval_ms);

/*
 * pktmem_stats_unpublish() - stop the publisher thread (waits for it) and
 * remove the segment. Returns 0, or -ENOENT when nothing was published by
 * this process.
 */
PKTMEM_API int pktmem_stats_unpublish(void);

/*
 * pktmem_stats_fetch() - read the latest snapshot published under @name, by
 * any process, into *@json: a NUL-terminated malloc'd string the caller
 * releases with free(). Waits up to about a second while a snapshot is
 * being written. The snapshot's "pid" names the publisher, which may have
 * died since (see kill(pid, 0)).
 * Returns the length of the JSON text; -EINVAL (bad @name or @json NULL),
 * -ENOENT (no such segment), -EPROTO (a segment that is not a pktmem
 * statistics segment of this layout), -EAGAIN (no complete snapshot within
 * the wait), -EMSGSIZE (the snapshot did not fit in the segment), -ENOMEM,
 * or the error of shm_open() or mmap() (-EACCES: another user's).
 */
PKTMEM_API int pktmem_stats_fetch(const char *name, char **json);

/* ------------------------------------------------------------ diagnostics */

/*
 * The diagnostic handler is called for programmer errors that a kernel would
 * panic on (a double free, a foreign pointer, a length past the buffer, a
 * waiting allocation where waiting is forbidden). @func names the public
 * function, @msg gives the values. The default handler prints
 * "pktmem: <func>: <msg>" to stderr and aborts. If an installed handler
 * returns, the library function refuses the operation and returns its
 * documented error value (NULL, -EINVAL, or nothing), leaving the caller's
 * data unchanged.
 */
typedef void (*pktmem_diag_handler_t)(const char *func, const char *msg, void *arg);

/* Install @fn (NULL: the default) and return the previous handler. */
PKTMEM_API pktmem_diag_handler_t pktmem_set_diag_handler(pktmem_diag_handler_t fn, void *arg);

/*
 * The handler in place (the default handler's address if none was
 * installed), and in *@argp, unless @argp is NULL, the argument it is
 * called with; both are read together, so a caller can save them and
 * later restore them with pktmem_set_diag_handler(). Thread-safe.
 */
PKTMEM_API pktmem_diag_handler_t pktmem_get_diag_handler(void **argp);

/* Number of diagnostics raised so far in this process. */
PKTMEM_API unsigned long pktmem_diag_count(void);

/* ------------------------------------------------------------ debug mode */

/*
 * Debug mode, off by default and costing nothing then (the fast paths read
 * one word they read anyway). Switched on by the environment variable
 * PKTMEM_DEBUG=1 at start-up, or by pktmem_debug_set() at any time. While on,
 * every cache allocation and free goes through a checking path:
 *  - freed objects of caches without a constructor are filled with 0x6b and
 *    checked when handed out again: a write after free is diagnosed with
 *    the offset, the value and where the object was freed;
 *  - a double free is diagnosed with both sites (the first free's and this
 *    one's backtraces) and refused; a foreign pointer is diagnosed as always;
 *  - every object has a record: its cache, state, owner thread and the
 *    backtraces of its allocation and last free, which a debugger can print
 *    with `call pktmem_debug_print(ptr)`;
 *  - pktmem_debug_report_leaks() lists the objects still live, grouped by
 *    allocation site with a backtrace (leaving out what the library keeps
 *    for the process's life: the default bio set's reserve); with
 *    PKTMEM_DEBUG=1 it runs at exit.
 * Objects allocated before debug mode was switched on (the last time: it
 * starts afresh) have no record and are not checked. Thread-safe; much
 * slower than normal mode.
 */
#define PKTMEM_DEBUG_LIVE 1
#define PKTMEM_DEBUG_FREE 2
#define PKTMEM_DEBUG_DEPTH 8

struct pktmem_debug_object {
	const void *obj;
	char cache[48];
	size_t size;
	int state;                             /* PKTMEM_DEBUG_LIVE or _FREE */
	int alloc_tid, free_tid;               /* owner thread, last freeing thread */
	void *alloc_site[PKTMEM_DEBUG_DEPTH];  /* return addresses, innermost first */
	void *free_site[PKTMEM_DEBUG_DEPTH];
};

PKTMEM_API void pktmem_debug_set(bool on);
PKTMEM_API bool pktmem_debug_enabled(void);

/* Copy the record of @obj to @out. 0, or -ENOENT (no record) / -EINVAL. */
PKTMEM_API int pktmem_debug_lookup(const void *obj, struct pktmem_debug_object *out);

/* Print the record of @obj (with symbolized backtraces) to stderr. */
PKTMEM_API void pktmem_debug_print(const void *obj);

/* Print live objects grouped by allocation site to @out; returns how many are live. */
PKTMEM_API size_t pktmem_debug_report_leaks(FILE *out);

/*
 * Sanitizer windows. A library built with AddressSanitizer (or with
 * -DPKTMEM_VALGRIND=ON, for memcheck) poisons, besides the free objects of
 * its caches, the bytes outside the valid window of each data area held by
 * one owner: an sk_buff head's headroom and tailroom, an mbuf's leading and
 * trailing space. Reading one byte past skb->len or m_len is then reported.
 * Shared storage (a cloned head, a cluster m_copym() shares) is not
 * poisoned, since its holders see different windows. Code that writes
 * outside a window without asking first (skb_put(), skb_push(),
 * M_TRAILINGSPACE(), M_LEADINGSPACE(), skb_tailroom(), or
 * pktmem_window_open() in <pktmem/ext.h>) is reported too; for such code,
 * PKTMEM_POISON_WINDOWS=0 in the environment turns window poisoning off at
 * start-up, and pktmem_debug_set_windows() at any time (buffers already
 * poisoned then heal at their next operation). In other builds both are
 * no-ops and pktmem_debug_windows_enabled() is false.
 */
PKTMEM_API void pktmem_debug_set_windows(bool on);
PKTMEM_API bool pktmem_debug_windows_enabled(void);

/* --------------------------------------------------------- fault injection */

/*
 * Every allocation point of the library (an object from a cache, a bulk run,
 * a kmalloc, a page run, a mempool element from its allocator, a span from
 * the system) first asks the fault injector. When it says fail, that
 * allocation fails as if memory were exhausted, and the caller's failure
 * contract runs. Off by default; costs one load and a branch when off.
 */
enum pktmem_fault_mode {
	PKTMEM_FAULT_OFF = 0,
	PKTMEM_FAULT_NTH,    /* the @n-th allocation from now fails, once */
	PKTMEM_FAULT_EVERY,  /* every @n-th allocation from now fails */
	PKTMEM_FAULT_RANDOM, /* each fails with probability @n / 1000000 (seeded) */
};

/*
 * pktmem_fault_set() - arm the injector (any thread; counts are global).
 * Counting starts at 1 with the next allocation point passed. @seed is used
 * by PKTMEM_FAULT_RANDOM. Returns 0, or -EINVAL (n == 0 for NTH/EVERY,
 * n > 1000000 for RANDOM, unknown mode).
 */
PKTMEM_API int pktmem_fault_set(enum pktmem_fault_mode mode, unsigned long n, unsigned long seed);

/* Disarm the injector. */
PKTMEM_API void pktmem_fault_off(void);

/*
 * Allocation points passed since the last pktmem_fault_set() or
 * pktmem_fault_count_reset() — counted only while the injector is armed or
 * counting was asked for with pktmem_fault_count_reset(), which also
 * disarms an armed injector (it counts without failing until
 * pktmem_fault_off() or pktmem_fault_set()). Lets a test count the
 * allocations of an operation, then fail each in turn.
 */
PKTMEM_API unsigned long pktmem_fault_count(void);
PKTMEM_API void pktmem_fault_count_reset(void);

/* Allocations made to fail so far. */
PKTMEM_API unsigned long pktmem_fault_injected(void);

#ifdef __cplusplus
}
#endif

#endif /* PKTMEM_PKTMEM_H */
