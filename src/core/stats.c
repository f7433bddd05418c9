/*
 * The statistics registry and everything that shows it: the netstat -m
 * style text, JSON, the dump at exit, and the shared-memory publisher.
 *
 *   caches, pools ──register──▶ registry (stats_lock)
 *                                  │ pktmem_stats_walk()
 *                                  ▼
 *                       snapshot (array, lock released)
 *                          │            │
 *            pktmem_stats_print    render_json ──▶ FILE / buffer
 *                                       │
 *          publisher thread ──seqlock──▶ /dev/shm/pktmem.NAME ──▶ pktmem_stats_fetch,
 *                                                                  pktmem-top
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/*
 * A circular list with a sentinel, guarded by stats_lock. Lock order:
 * stats_lock before any cache or pool lock (fill routines take those).
 */
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static struct stats_node stats_head = { &stats_head, &stats_head, NULL };

void stats_register(struct stats_node *n)
{
	pthread_mutex_lock(&stats_lock);
	n->prev = stats_head.prev;
	n->next = &stats_head;
	stats_head.prev->next = n;
	stats_head.prev = n;
	pthread_mutex_unlock(&stats_lock);
}

void stats_unregister(struct stats_node *n)
{
	pthread_mutex_lock(&stats_lock);
	if (n->next) {
		n->prev->next = n->next;
		n->next->prev = n->prev;
		n->next = n->prev = NULL;
	}
	pthread_mutex_unlock(&stats_lock);
}

int pktmem_stats_walk(pktmem_stats_fn fn, void *arg)
{
	int rc = 0;

	if (!fn)
		return -EINVAL;
	pthread_mutex_lock(&stats_lock);
	for (struct stats_node *n = stats_head.next; n != &stats_head; n = n->next) {
		struct pktmem_stats st;

		memset(&st, 0, sizeof(st));
		n->fill(n, &st);
		rc = fn(&st, arg);
		if (rc)
			break;
	}
	pthread_mutex_unlock(&stats_lock);
	return rc;
}

/* ------------------------------------------------------------ totals */

struct totals {
	unsigned caches, pools, unused;
	uint64_t cache_denied, cache_waited, pool_denied, pool_waited;
	size_t cache_bytes;
};

/* A cache never used (most kmalloc size classes): the text leaves it out. */
static bool cache_unused(const struct pktmem_stats *st)
{
	return st->allocs == 0 && st->total == 0 && st->denied == 0;
}

static void totals_add(struct totals *t, const struct pktmem_stats *st)
{
	if (st->kind == PKTMEM_STATS_CACHE) {
		t->caches++;
		t->cache_bytes += st->bytes_mapped;
		t->cache_denied += st->denied;
		t->cache_waited += st->waited;
		if (cache_unused(st))
			t->unused++;
	} else {
		t->pools++;
		t->pool_denied += st->denied;
		t->pool_waited += st->waited;
	}
}

/* ------------------------------------------------------------ text */

struct print_state {
	FILE *out;
	struct totals t;
};

static int print_one(const struct pktmem_stats *st, void *arg)
{
	struct print_state *ps = arg;
	FILE *out = ps->out;
	uint64_t cached = st->total > st->in_use ? st->total - st->in_use : 0;

	totals_add(&ps->t, st);
	if (st->kind == PKTMEM_STATS_CACHE) {
		if (cache_unused(st))
			return 0;
		fprintf(out, "%" PRIu64 "/%" PRIu64 "/%" PRIu64 " %s (%zu B) objects in use (current/cache/total), peak %" PRIu64,
			st->in_use, cached, st->total, st->name, st->obj_size, st->peak);
		if (st->limit)
			fprintf(out, ", max %" PRIu64, st->limit);
		if (st->reserve_max)
			fprintf(out, ", reserve %" PRIu64 "/%" PRIu64, st->reserve, st->reserve_max);
	} else {
		fprintf(out, "%" PRIu64 "/%" PRIu64 "/%" PRIu64 " %s elements in use (current/reserve/total), peak %" PRIu64 ", reserve target %" PRIu64,
			st->in_use, st->reserve, st->total, st->name, st->peak, st->reserve_max);
	}
	fprintf(out, "\n    %" PRIu64 " allocs, %" PRIu64 " frees, %" PRIu64 " denied, %" PRIu64 " delayed\n",
		st->allocs, st->frees, st->denied, st->waited);
	return 0;
}

void pktmem_stats_print(FILE *out)
{
	struct print_state ps = { .out = out ? out : stdout };

	pktmem_stats_walk(print_one, &ps);
	/*
	 * Pools and caches are counted apart: a pool asks its cache without
	 * waiting first, so a cache denial is often a request the pool's
	 * reserve then served, not a failure the caller saw.
	 */
	fprintf(ps.out, "%" PRIu64 " requests for memory denied by pools, %" PRIu64 " by caches\n",
		ps.t.pool_denied, ps.t.cache_denied);
	fprintf(ps.out, "%" PRIu64 " requests for memory delayed by pools, %" PRIu64 " by caches\n",
		ps.t.pool_waited, ps.t.cache_waited);
	fprintf(ps.out, "%zuK bytes mapped by %u caches (%u unused, not shown) and %u pools\n",
		arena_bytes_mapped() / 1024, ps.t.caches, ps.t.unused, ps.t.pools);
}

/* ------------------------------------------------------------ snapshots */

/* Every entry of the registry, copied out so the lock is not held while
 * the copy is formatted. Reused by the publisher from one round to the next. */
struct snapshot {
	struct pktmem_stats *v;
	size_t n, cap;
	bool oom;
};

static int snapshot_add(const struct pktmem_stats *st, void *arg)
{
	struct snapshot *s = arg;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct pktmem_stats *v = realloc(s->v, cap * sizeof(*v));

		if (!v) {
			s->oom = true;
			return 1;
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = *st;
	return 0;
}

static int snapshot_take(struct snapshot *s)
{
	s->n = 0;
	s->oom = false;
	pktmem_stats_walk(snapshot_add, s);
	return s->oom ? -ENOMEM : 0;
}

/* ------------------------------------------------------------ JSON */

/*
 * Text output into a buffer, snprintf style: len counts every byte asked
 * for even past size, so the caller learns the whole length. A growing
 * sink reallocates instead of cutting.
 */
struct sink {
	char *buf;
	size_t size, len;
	bool grow, failed;
};

static void sink_printf(struct sink *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sink_printf(struct sink *s, const char *fmt, ...)
{
	for (;;) {
		size_t room = s->len < s->size ? s->size - s->len : 0;
		va_list ap;
		int n;

		va_start(ap, fmt);
		n = vsnprintf(room ? s->buf + s->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			s->failed = true;
			return;
		}
		if ((size_t)n < room || !s->grow || s->failed) {
			s->len += (size_t)n;
			return;
		}
		size_t want = (s->len + (size_t)n + 1) * 2;
		char *b = realloc(s->buf, want);

		if (!b) {
			s->failed = true;
			s->len += (size_t)n;
			return;
		}
		s->buf = b;
		s->size = want;
	}
}

/* Length of the well-formed UTF-8 sequence at @s (@left bytes), 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t left)
{
	uint32_t cp;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (left < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* @src as a JSON string with its quotes. A name has at most 47 bytes and
 * each takes at most 6 escaped, so @dst needs 48 * 6 + 3. */
#define JSON_NAME_MAX (sizeof(((struct pktmem_stats *)0)->name) * 6 + 3)

static void json_string(char *dst, const char *src)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t left = strlen(src);
	char *d = dst;

	*d++ = '"';
	while (left) {
		size_t n = utf8_len(s, left);

		if (n == 0) {
			d += sprintf(d, "\\ufffd");
			n = 1;
		} else if (*s == '"' || *s == '\\') {
			*d++ = '\\';
			*d++ = (char)*s;
		} else if (*s == '\n') {
			d += sprintf(d, "\\n");
		} else if (*s == '\t') {
			d += sprintf(d, "\\t");
		} else if (*s < 0x20 || *s == 0x7f) {
			d += sprintf(d, "\\u%04x", *s);
		} else {
			memcpy(d, s, n);
			d += n;
		}
		s += n;
		left -= n;
	}
	*d++ = '"';
	*d = '\0';
}

static void json_entry(struct sink *o, const struct pktmem_stats *st, bool first)
{
	char name[JSON_NAME_MAX];

	json_string(name, st->name);
	sink_printf(o, "%s\n    {\"name\": %s, \"kind\": \"%s\", \"obj_size\": %zu, "
		    "\"in_use\": %" PRIu64 ", \"total\": %" PRIu64 ", \"peak\": %" PRIu64 ", "
		    "\"allocs\": %" PRIu64 ", \"frees\": %" PRIu64 ", \"denied\": %" PRIu64 ", "
		    "\"waited\": %" PRIu64 ", \"limit\": %" PRIu64 ", \"reserve\": %" PRIu64 ", "
		    "\"reserve_max\": %" PRIu64 ", \"bytes_mapped\": %zu}",
		    first ? "" : ",", name, st->kind == PKTMEM_STATS_CACHE ? "cache" : "pool",
		    st->obj_size, st->in_use, st->total, st->peak, st->allocs, st->frees,
		    st->denied, st->waited, st->limit, st->reserve, st->reserve_max, st->bytes_mapped);
}

static void json_array(struct sink *o, const struct snapshot *s, enum pktmem_stats_kind kind)
{
	bool first = true;

	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i].kind != kind)
			continue;
		json_entry(o, &s->v[i], first);
		first = false;
	}
	sink_printf(o, "%s]", first ? "" : "\n  ");
}

#define JSON_FORMAT_VERSION 1

/* The JSON object of pktmem_stats_json(), without a trailing newline. */
static void render_json(struct sink *o, const struct snapshot *s)
{
	struct totals t = { 0 };
	struct timespec now;
	struct tm tm;
	char when[32];

	for (size_t i = 0; i < s->n; i++)
		totals_add(&t, &s->v[i]);
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);

	sink_printf(o, "{\n  \"format\": \"pktmem-stats\", \"format_version\": %d,\n"
		    "  \"library_version\": \"%s\", \"pid\": %ld,\n"
		    "  \"timestamp\": \"%s.%03ldZ\", \"timestamp_ms\": %lld,\n",
		    JSON_FORMAT_VERSION, pktmem_version_string(), (long)getpid(),
		    when, now.tv_nsec / 1000000,
		    (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000);
	sink_printf(o, "  \"caches\": [");
	json_array(o, s, PKTMEM_STATS_CACHE);
	sink_printf(o, ",\n  \"pools\": [");
	json_array(o, s, PKTMEM_STATS_POOL);
	sink_printf(o, ",\n  \"totals\": {\"caches\": %u, \"pools\": %u, \"unused_caches\": %u, "
		    "\"denied_by_pools\": %" PRIu64 ", \"denied_by_caches\": %" PRIu64 ", "
		    "\"delayed_by_pools\": %" PRIu64 ", \"delayed_by_caches\": %" PRIu64 ", "
		    "\"bytes_mapped\": %zu, \"bytes_mapped_by_caches\": %zu}\n}",
		    t.caches, t.pools, t.unused, t.pool_denied, t.cache_denied,
		    t.pool_waited, t.cache_waited, arena_bytes_mapped(), t.cache_bytes);
}

int pktmem_stats_json_buf(char *buf, size_t size)
{
	struct snapshot s = { 0 };
	struct sink o = { .buf = buf, .size = size };

	if (!buf && size)
		return -EINVAL;
	if (size)
		buf[0] = '\0';
	if (snapshot_take(&s)) {
		free(s.v);
		return -ENOMEM;
	}
	render_json(&o, &s);
	free(s.v);
	if (o.failed)
		return -ENOMEM;
	return o.len > INT_MAX ? -EOVERFLOW : (int)o.len;
}

int pktmem_stats_json(FILE *out)
{
	struct snapshot s = { 0 };
	struct sink o = { .grow = true };
	int rc = 0;

	if (!out)
		out = stdout;
	if (snapshot_take(&s) == 0)
		render_json(&o, &s);
	free(s.v);
	if (s.oom || o.failed) {
		free(o.buf);
		return -ENOMEM;
	}
	if (fwrite(o.buf, 1, o.len, out) != o.len || fputc('\n', out) == EOF || fflush(out) == EOF)
		rc = -EIO;
	free(o.buf);
	return rc;
}

/* ------------------------------------------------------------ dump at exit */

enum dump_format { DUMP_NONE, DUMP_TEXT, DUMP_JSON };
static enum dump_format dump_format;
static const char *dump_path;

/* @pattern with each "%p" replaced by the process id, "%%" by "%". */
static char *expand_path(const char *pattern)
{
	size_t cap = strlen(pattern) + 64;
	char *path = malloc(cap), *d = path;

	if (!path)
		return NULL;
	for (const char *p = pattern; *p; p++) {
		if ((size_t)(d - path) + 24 >= cap) {
			size_t off = (size_t)(d - path);
			char *bigger = realloc(path, cap *= 2);

			if (!bigger) {
				free(path);
				return NULL;
			}
			path = bigger;
			d = path + off;
		}
		if (p[0] == '%' && p[1] == 'p') {
			d += sprintf(d, "%ld", (long)getpid());
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			*d++ = '%';
			p++;
		} else {
			*d++ = *p;
		}
	}
	*d = '\0';
	return path;
}

static void dump_at_exit(void)
{
	FILE *out = stderr;
	char *path = NULL;

	if (dump_path && *dump_path) {
		path = expand_path(dump_path);
		out = path ? fopen(path, "we") : NULL;
		if (!out) {
			fprintf(stderr, "pktmem: PKTMEM_STATS_FILE=%s: %s\n", dump_path, strerror(errno));
			free(path);
			return;
		}
	}
	if (dump_format == DUMP_JSON)
		pktmem_stats_json(out);
	else
		pktmem_stats_print(out);
	if (out == stderr)
		fflush(out);
	else
		fclose(out);
	free(path);
}

/* ------------------------------------------------------------ shared memory */

/*
 * The segment: a header, then the JSON text as 32-bit words. The writer
 * (one thread) makes seq odd, writes len and the words, makes seq even
 * again; a reader copies between two reads of an even, unchanged seq.
 *
 * Every shared access is atomic, so the copy is race-free in the C11 sense
 * and needs no write access to the mapping. The ordering comes without
 * fences (TSan does not model them): the writer's word stores are releases,
 * so a reader whose acquire load sees any word of round k also sees seq
 * made odd for round k, and its later second load of seq differs from the
 * first; the reader's word loads are acquires, so that second load cannot
 * move above them. On x86 all of these are plain moves. seq 0 means no
 * snapshot yet.
 */
#define SHM_MAGIC "pktmemS"
#define SHM_LAYOUT 1
#define SHM_SIZE (1u << 20) /* tmpfs allocates only the pages written */
#define SHM_PREFIX "/pktmem."
#define SHM_NAME_MAX 64

struct shm_header {
	char magic[8];        /* SHM_MAGIC with its NUL */
	uint32_t layout;      /* SHM_LAYOUT */
	uint32_t size;        /* of the whole segment */
	uint32_t text_offset; /* where the words start */
	int32_t pid;          /* the publisher */
	uint32_t interval_ms;
	uint32_t reserved;
	_Atomic uint32_t seq;
	_Atomic uint32_t len;    /* bytes of text */
	_Atomic uint32_t status; /* 0, or EMSGSIZE: the snapshot did not fit */
};
_Static_assert(sizeof(struct shm_header) <= 64, "the text starts at 64");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "shared-memory atomics must be lock-free");

#define SHM_TEXT_OFFSET 64
#define SHM_TEXT_MAX (SHM_SIZE - SHM_TEXT_OFFSET)

static _Atomic uint32_t *shm_words(void *base)
{
	return (_Atomic uint32_t *)((char *)base + SHM_TEXT_OFFSET);
}

/* "/pktmem.@name" into @out, or -EINVAL. */
static int shm_name(const char *name, char out[sizeof(SHM_PREFIX) + SHM_NAME_MAX])
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > SHM_NAME_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return -EINVAL;
	}
	memcpy(out, SHM_PREFIX, sizeof(SHM_PREFIX) - 1);
	memcpy(out + sizeof(SHM_PREFIX) - 1, name, n + 1);
	return 0;
}

static void shm_write(struct shm_header *h, const char *text, size_t len)
{
	_Atomic uint32_t *w = shm_words(h);
	uint32_t seq = atomic_load_explicit(&h->seq, memory_order_relaxed);

	atomic_store_explicit(&h->seq, seq + 1, memory_order_relaxed);
	if (len > SHM_TEXT_MAX) {
		atomic_store_explicit(&h->status, EMSGSIZE, memory_order_release);
		atomic_store_explicit(&h->len, 0, memory_order_release);
	} else {
		for (size_t i = 0; i < len; i += 4) {
			uint32_t word = 0;

			memcpy(&word, text + i, len - i < 4 ? len - i : 4);
			atomic_store_explicit(&w[i / 4], word, memory_order_release);
		}
		atomic_store_explicit(&h->status, 0, memory_order_release);
		atomic_store_explicit(&h->len, (uint32_t)len, memory_order_release);
	}
	atomic_store_explicit(&h->seq, seq + 2, memory_order_release);
}

/* One consistent copy of the text, or -EAGAIN (being written) / -EMSGSIZE. */
static int shm_read_once(const struct shm_header *h, size_t size, uint32_t *copy, size_t *len)
{
	const _Atomic uint32_t *w = shm_words((void *)h);
	uint32_t seq = atomic_load_explicit(&h->seq, memory_order_acquire);
	uint32_t n, status;

	if (seq == 0 || (seq & 1))
		return -EAGAIN;
	n = atomic_load_explicit(&h->len, memory_order_acquire);
	status = atomic_load_explicit(&h->status, memory_order_acquire);
	if (n > size - SHM_TEXT_OFFSET)
		n = 0; /* torn; the seq check below rejects it */
	for (uint32_t i = 0; i < (n + 3) / 4; i++)
		copy[i] = atomic_load_explicit(&w[i], memory_order_acquire);
	if (atomic_load_explicit(&h->seq, memory_order_relaxed) != seq)
		return -EAGAIN;
	if (status)
		return -(int)status;
	*len = n;
	return 0;
}

int pktmem_stats_fetch(const char *name, char **json)
{
	char path[sizeof(SHM_PREFIX) + SHM_NAME_MAX];
	struct stat sb;
	uint32_t *copy = NULL;
	void *base;
	size_t len = 0;
	int fd, rc;

	if (!json || shm_name(name, path))
		return -EINVAL;
	*json = NULL;
	fd = shm_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (sb.st_size < SHM_TEXT_OFFSET || sb.st_size > (off_t)UINT32_MAX) {
		close(fd);
		return -EPROTO;
	}
	base = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
	rc = base == MAP_FAILED ? -errno : 0;
	close(fd);
	if (rc)
		return rc;

	const struct shm_header *h = base;

	if (memcmp(h->magic, SHM_MAGIC, sizeof(h->magic)) != 0 || h->layout != SHM_LAYOUT ||
	    h->text_offset != SHM_TEXT_OFFSET || h->size != (uint64_t)sb.st_size) {
		rc = -EPROTO;
		goto out;
	}
	copy = malloc(((size_t)sb.st_size - SHM_TEXT_OFFSET) + 4);
	if (!copy) {
		rc = -ENOMEM;
		goto out;
	}
	/* A snapshot takes microseconds to write: retry for about a second. */
	rc = -EAGAIN;
	for (int tries = 0; tries < 1000 && rc == -EAGAIN; tries++) {
		rc = shm_read_once(h, (size_t)sb.st_size, copy, &len);
		if (rc == -EAGAIN)
			nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
	if (rc == 0) {
		((char *)copy)[len] = '\0';
		*json = (char *)copy;
		copy = NULL;
		rc = len > INT_MAX ? -EOVERFLOW : (int)len;
	}
out:
	free(copy);
	munmap(base, (size_t)sb.st_size);
	return rc;
}

/*
 * The publisher: one per process, guarded by pub_lock. Its thread sleeps on
 * cond (CLOCK_MONOTONIC) between rounds so that unpublishing wakes it at once.
 */
struct publisher {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	pthread_t thread;
	pid_t pid;
	unsigned interval_ms;
	struct shm_header *h;
	char path[sizeof(SHM_PREFIX) + SHM_NAME_MAX];
	struct snapshot snap;
	struct sink text;
};

static pthread_mutex_t pub_lock = PTHREAD_MUTEX_INITIALIZER;
static struct publisher *pub;
static bool pub_atexit_registered;

static void publish_round(struct publisher *p)
{
	p->text.len = 0;
	p->text.failed = false;
	if (snapshot_take(&p->snap) != 0)
		return; /* no memory: keep the last snapshot */
	render_json(&p->text, &p->snap);
	if (!p->text.failed)
		shm_write(p->h, p->text.buf, p->text.len);
}

static void *publisher_main(void *arg)
{
	struct publisher *p = arg;
	struct timespec next;

	pthread_setname_np(pthread_self(), "pktmem-stats");
	clock_gettime(CLOCK_MONOTONIC, &next);
	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		next.tv_sec += p->interval_ms / 1000;
		next.tv_nsec += (long)(p->interval_ms % 1000) * 1000000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000;
		}
		while (!p->stop && pthread_cond_timedwait(&p->cond, &p->lock, &next) != ETIMEDOUT)
			;
		if (p->stop)
			break;
		pthread_mutex_unlock(&p->lock);
		publish_round(p);
		pthread_mutex_lock(&p->lock);
		/* Fell behind (a stopped process, a huge snapshot): do not catch up. */
		struct timespec now;

		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > next.tv_sec + 1)
			next = now;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static void publisher_free(struct publisher *p)
{
	if (p->h)
		munmap(p->h, SHM_SIZE);
	free(p->snap.v);
	free(p->text.buf);
	free(p);
}

/* True when @path holds a segment of ours whose publisher is gone. */
static bool shm_stale(const char *path)
{
	struct shm_header h;
	bool stale = false;
	int fd = shm_open(path, O_RDONLY | O_CLOEXEC, 0);

	if (fd < 0)
		return false;
	if (pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
	    memcmp(h.magic, SHM_MAGIC, sizeof(h.magic)) == 0 && h.pid > 0 && h.pid != getpid())
		stale = kill(h.pid, 0) != 0 && errno == ESRCH;
	close(fd);
	return stale;
}

/* Create the segment, with its header and no snapshot yet. */
static int shm_create(struct publisher *p)
{
	int fd = shm_open(p->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0 && errno == EEXIST && shm_stale(p->path)) {
		shm_unlink(p->path);
		fd = shm_open(p->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	}
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, SHM_SIZE) != 0) {
		int rc = -errno;

		close(fd);
		shm_unlink(p->path);
		return rc;
	}
	void *base = mmap(NULL, SHM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int rc = base == MAP_FAILED ? -errno : 0;

	close(fd);
	if (rc) {
		shm_unlink(p->path);
		return rc;
	}
	p->h = base;
	p->h->layout = SHM_LAYOUT;
	p->h->size = SHM_SIZE;
	p->h->text_offset = SHM_TEXT_OFFSET;
	p->h->pid = (int32_t)getpid();
	p->h->interval_ms = p->interval_ms;
	memcpy(p->h->magic, SHM_MAGIC, sizeof(p->h->magic));
	return 0;
}

static void unpublish_at_exit(void)
{
	pktmem_stats_unpublish();
}

int pktmem_stats_publish(const char *name, unsigned interval_ms)
{
	struct publisher *p;
	pthread_condattr_t ca;
	sigset_t all, old;
	int rc;

	if (interval_ms == 0)
		interval_ms = 1000;
	if (interval_ms > 3600 * 1000)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	if (shm_name(name, p->path)) {
		free(p);
		return -EINVAL;
	}
	p->interval_ms = interval_ms;
	p->pid = getpid();
	p->text.grow = true;

	pthread_mutex_lock(&pub_lock);
	/* A publisher inherited through fork() has no thread here: forget it. */
	if (pub && pub->pid != getpid()) {
		munmap(pub->h, SHM_SIZE);
		pub = NULL; /* its memory belongs to the parent's image; leak the copy */
	}
	if (pub) {
		rc = -EBUSY;
		goto fail_unlock;
	}
	rc = shm_create(p);
	if (rc)
		goto fail_unlock;
	publish_round(p);

	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	/* The thread inherits this mask: the program's signals go elsewhere. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&p->thread, NULL, publisher_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		pthread_cond_destroy(&p->cond);
		pthread_mutex_destroy(&p->lock);
		shm_unlink(p->path);
		goto fail_unlock;
	}
	pub = p;
	if (!pub_atexit_registered)
		pub_atexit_registered = atexit(unpublish_at_exit) == 0;
	pthread_mutex_unlock(&pub_lock);
	return 0;

fail_unlock:
	pthread_mutex_unlock(&pub_lock);
	publisher_free(p);
	return rc;
}

int pktmem_stats_unpublish(void)
{
	struct publisher *p;

	pthread_mutex_lock(&pub_lock);
	p = pub;
	pub = NULL;
	pthread_mutex_unlock(&pub_lock);
	if (!p)
		return -ENOENT;
	if (p->pid != getpid()) {
		/* Inherited through fork(): the thread and the segment are the parent's. */
		munmap(p->h, SHM_SIZE);
		return -ENOENT;
	}
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	shm_unlink(p->path);
	publisher_free(p);
	return 0;
}

/* ------------------------------------------------------------ environment */

/*
 * Read the environment once at load. With nothing set this is three
 * getenv() calls and no handler, thread or file.
 */
__attribute__((constructor)) static void stats_env_init(void)
{
	const char *fmt = getenv("PKTMEM_STATS");
	const char *shm = getenv("PKTMEM_STATS_SHM");

	if (fmt && *fmt) {
		if (strcmp(fmt, "text") == 0)
			dump_format = DUMP_TEXT;
		else if (strcmp(fmt, "json") == 0)
			dump_format = DUMP_JSON;
		else
			fprintf(stderr, "pktmem: PKTMEM_STATS=%s: want text or json; no statistics at exit\n", fmt);
		dump_path = getenv("PKTMEM_STATS_FILE");
		if (dump_format != DUMP_NONE && atexit(dump_at_exit) != 0)
			fprintf(stderr, "pktmem: PKTMEM_STATS: cannot register the exit handler\n");
	}
	if (shm && *shm) {
		const char *iv = getenv("PKTMEM_STATS_SHM_INTERVAL");
		unsigned long ms = 0;
		char *end = NULL;
		int rc;

		if (iv && *iv) {
			errno = 0;
			ms = strtoul(iv, &end, 10);
			if (errno || *end || ms > 3600 * 1000) {
				fprintf(stderr, "pktmem: PKTMEM_STATS_SHM_INTERVAL=%s: want milliseconds up to 3600000; using 1000\n", iv);
				ms = 0;
			}
		}
		rc = pktmem_stats_publish(shm, (unsigned)ms);
		if (rc)
			fprintf(stderr, "pktmem: PKTMEM_STATS_SHM=%s: %s\n", shm, strerror(-rc));
	}
}
