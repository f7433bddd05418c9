/*
 * Debug mode: a record per object, kept in a hash table beside the caches.
 *
 *   kmem_cache_free(c, p) --> slow path --> debug_on_free: state LIVE? -> FREE,
 *                                             fill 0x6b, remember the site
 *                                           state FREE already? -> double free
 *   kmem_cache_alloc(c)   --> slow path --> debug_on_alloc: 0x6b intact? -> LIVE
 *
 * Nothing here runs unless SLOW_DEBUG is set in slow_paths, which sends
 * every allocation and free of every cache through the slow paths. The table
 * has one lock: debug mode trades speed for answers.
 */
#include <errno.h>
#include <execinfo.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"
#include "mem/slab_impl.h"

#define FREE_BYTE DEBUG_FREE_BYTE
#define NBUCKETS (1u << 16)

struct rec {
	struct rec *next;
	struct kmem_cache *cache;
	bool kept; /* allocated under debug_keep_begin(): no leak */
	struct pktmem_debug_object o;
};

/* This thread's debug_keep_begin() depth; per thread, so it needs no lock. */
static _Thread_local unsigned keep_depth;

void debug_keep_begin(void)
{
	keep_depth++;
}

void debug_keep_end(void)
{
	keep_depth--;
}

/* Guards the table; records are malloc'd (never our own caches: no recursion). */
static pthread_mutex_t dbg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rec *bucket[NBUCKETS];

static unsigned hash_ptr(const void *p)
{
	uintptr_t x = (uintptr_t)p >> 4;

	x ^= x >> 17;
	x *= 0xed5ad4bbu;
	x ^= x >> 11;
	return (unsigned)(x & (NBUCKETS - 1));
}

static struct rec *find(const void *obj)
{
	for (struct rec *r = bucket[hash_ptr(obj)]; r; r = r->next)
		if (r->o.obj == obj)
			return r;
	return NULL;
}

static int tid(void)
{
	return (int)syscall(SYS_gettid);
}

/* Return addresses of our caller's callers, skipping the library's own frames. */
static void site(void **out)
{
	void *bt[PKTMEM_DEBUG_DEPTH + 4];
	int n = backtrace(bt, PKTMEM_DEBUG_DEPTH + 4);
	int skip = n > 3 ? 3 : 0; /* site, the hook, the slow path */

	memset(out, 0, PKTMEM_DEBUG_DEPTH * sizeof(void *));
	for (int i = skip, j = 0; i < n && j < PKTMEM_DEBUG_DEPTH; i++, j++)
		out[j] = bt[i];
}

/* "sym <- sym <- sym" for a message. */
static void site_text(void *const *s, char *buf, size_t len)
{
	int n = 0;

	while (n < 3 && s[n])
		n++;
	buf[0] = '\0';
	char **names = n ? backtrace_symbols(s, n) : NULL;

	for (int i = 0; i < n; i++) {
		size_t used = strlen(buf);

		snprintf(buf + used, len - used, "%s%s", i ? " <- " : "", names ? names[i] : "?");
	}
	free(names);
}

void debug_on_alloc(struct kmem_cache *c, void *obj, size_t size, bool has_ctor)
{
	pthread_mutex_lock(&dbg_lock);

	struct rec *r = find(obj);

	if (r && r->o.state == PKTMEM_DEBUG_FREE && !has_ctor) {
		const unsigned char *b = obj;

		for (size_t i = 0; i < size; i++) {
			if (b[i] != FREE_BYTE) {
				char where[384];

				site_text(r->o.free_site, where, sizeof(where));
				pthread_mutex_unlock(&dbg_lock);
				diag("kmem_cache_alloc",
				     "object %p of cache '%s' was written after free: byte %zu is %#x, not %#x (freed at %s)",
				     obj, kmem_cache_name(c), i, b[i], FREE_BYTE, where);
				pthread_mutex_lock(&dbg_lock);
				r = find(obj);
				break;
			}
		}
	}
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r) {
			pthread_mutex_unlock(&dbg_lock);
			return; /* no record: this object goes unchecked */
		}
		r->o.obj = obj;
		unsigned h = hash_ptr(obj);

		r->next = bucket[h];
		bucket[h] = r;
	}
	r->cache = c;
	r->kept = keep_depth > 0;
	snprintf(r->o.cache, sizeof(r->o.cache), "%s", kmem_cache_name(c));
	r->o.size = size;
	r->o.state = PKTMEM_DEBUG_LIVE;
	r->o.alloc_tid = tid();
	site(r->o.alloc_site);
	pthread_mutex_unlock(&dbg_lock);
}

bool debug_on_free(struct kmem_cache *c, void *obj, size_t size, bool has_ctor, const char *func)
{
	void *here[PKTMEM_DEBUG_DEPTH];

	site(here);
	pthread_mutex_lock(&dbg_lock);

	struct rec *r = find(obj);

	if (r && r->o.state == PKTMEM_DEBUG_FREE) {
		char first[384], now[384];

		site_text(r->o.free_site, first, sizeof(first));
		site_text(here, now, sizeof(now));
		pthread_mutex_unlock(&dbg_lock);
		diag(func, "double free of %p (cache '%s'): freed first at %s; again at %s", obj, kmem_cache_name(c),
		     first, now);
		return false;
	}
	if (r) {
		r->o.state = PKTMEM_DEBUG_FREE;
		r->o.free_tid = tid();
		memcpy(r->o.free_site, here, sizeof(here));
	}
	pthread_mutex_unlock(&dbg_lock);
	/* Objects without a record (allocated before debug mode) are not filled:
	 * their next allocation has nothing to check them against. */
	if (r && !has_ctor)
		memset(obj, FREE_BYTE, size);
	return true;
}

bool debug_freed(const void *obj, const char *func, const char *what)
{
	void *here[PKTMEM_DEBUG_DEPTH];

	site(here);
	pthread_mutex_lock(&dbg_lock);

	struct rec *r = find(obj);

	if (!r || r->o.state != PKTMEM_DEBUG_FREE) {
		pthread_mutex_unlock(&dbg_lock);
		return false;
	}
	char first[384], now[384], cache[sizeof(r->o.cache)];

	site_text(r->o.free_site, first, sizeof(first));
	site_text(here, now, sizeof(now));
	memcpy(cache, r->o.cache, sizeof(cache));
	pthread_mutex_unlock(&dbg_lock);
	diag(func, "%s %p (cache '%s') is freed already: freed at %s; used again at %s", what, obj, cache, first, now);
	return true;
}

bool debug_freed_at(const void *p, const char *func, const char *what)
{
	const void *obj = slab_obj_start(p);
	char name[64];

	if (!obj)
		return false;
	if (obj == p)
		return debug_freed(obj, func, what);
	snprintf(name, sizeof(name), "%s %p in object", what, p);
	return debug_freed(obj, func, name);
}

void debug_forget_cache(struct kmem_cache *c)
{
	pthread_mutex_lock(&dbg_lock);
	for (unsigned h = 0; h < NBUCKETS; h++) {
		for (struct rec **pp = &bucket[h]; *pp;) {
			struct rec *r = *pp;

			if (r->cache == c) {
				*pp = r->next;
				free(r);
			} else {
				pp = &r->next;
			}
		}
	}
	pthread_mutex_unlock(&dbg_lock);
}

/*
 * Drop every record. While debug mode is off, allocations and frees pass
 * the hooks by, so the records left from an earlier time on are stale: an
 * object freed then (record FREE) and allocated again while off would have
 * its next, legitimate free refused as a double free. Switching debug mode
 * on therefore starts from an empty table, as the contract says: objects
 * allocated before that have no record.
 */
static void forget_all(void)
{
	pthread_mutex_lock(&dbg_lock);
	for (unsigned h = 0; h < NBUCKETS; h++) {
		while (bucket[h]) {
			struct rec *r = bucket[h];

			bucket[h] = r->next;
			free(r);
		}
	}
	pthread_mutex_unlock(&dbg_lock);
}

void pktmem_debug_set(bool on)
{
	if (on && !debug_on()) {
		forget_all(); /* before the hooks run again: none of them sees a stale record */
		atomic_fetch_or(&slow_paths, SLOW_DEBUG);
	} else if (!on) {
		atomic_fetch_and(&slow_paths, ~SLOW_DEBUG);
	}
}

bool pktmem_debug_enabled(void)
{
	return debug_on();
}

int pktmem_debug_lookup(const void *obj, struct pktmem_debug_object *out)
{
	if (!obj || !out)
		return -EINVAL;
	pthread_mutex_lock(&dbg_lock);

	struct rec *r = find(obj);

	if (r)
		*out = r->o;
	pthread_mutex_unlock(&dbg_lock);
	return r ? 0 : -ENOENT;
}

static void print_site(FILE *out, void *const *s)
{
	int n = 0;

	while (n < PKTMEM_DEBUG_DEPTH && s[n])
		n++;
	char **names = n ? backtrace_symbols(s, n) : NULL;

	for (int i = 0; i < n; i++)
		fprintf(out, "      %s\n", names ? names[i] : "?");
	free(names);
}

void pktmem_debug_print(const void *obj)
{
	struct pktmem_debug_object o;

	if (pktmem_debug_lookup(obj, &o) != 0) {
		fprintf(stderr, "pktmem: no debug record for %p\n", obj);
		return;
	}
	fprintf(stderr, "pktmem: %p: %s object of cache '%s' (%zu bytes), allocated by thread %d at:\n", obj,
		o.state == PKTMEM_DEBUG_LIVE ? "live" : "free", o.cache, o.size, o.alloc_tid);
	print_site(stderr, o.alloc_site);
	if (o.state == PKTMEM_DEBUG_FREE) {
		fprintf(stderr, "    freed by thread %d at:\n", o.free_tid);
		print_site(stderr, o.free_site);
	}
}

size_t pktmem_debug_report_leaks(FILE *out)
{
	struct group {
		struct group *next;
		const struct rec *first;
		size_t count, bytes;
	} *groups = NULL;
	size_t live = 0;

	if (!out)
		out = stderr;
	pthread_mutex_lock(&dbg_lock);
	for (unsigned h = 0; h < NBUCKETS; h++) {
		for (const struct rec *r = bucket[h]; r; r = r->next) {
			if (r->o.state != PKTMEM_DEBUG_LIVE || r->kept)
				continue;
			live++;
			struct group *g;

			for (g = groups; g; g = g->next)
				if (g->first->cache == r->cache &&
				    !memcmp(g->first->o.alloc_site, r->o.alloc_site, sizeof(r->o.alloc_site)))
					break;
			if (!g && (g = calloc(1, sizeof(*g))) != NULL) {
				g->first = r;
				g->next = groups;
				groups = g;
			}
			if (g) {
				g->count++;
				g->bytes += r->o.size;
			}
		}
	}
	fprintf(out, "pktmem: %zu %s still live\n", live, live == 1 ? "object" : "objects");
	for (struct group *g = groups, *next; g; g = next) {
		next = g->next;
		fprintf(out, "  %zu %s (%zu bytes) of cache '%s' allocated at:\n", g->count,
			g->count == 1 ? "object" : "objects", g->bytes, g->first->o.cache);
		print_site(out, g->first->o.alloc_site);
		free(g);
	}
	pthread_mutex_unlock(&dbg_lock);
	return live;
}

static void report_at_exit(void)
{
	pktmem_debug_report_leaks(stderr);
}

/* PKTMEM_DEBUG=1 switches debug mode on before main() and reports at exit. */
__attribute__((constructor)) static void debug_from_env(void)
{
	const char *v = getenv("PKTMEM_DEBUG");

	if (v && *v && strcmp(v, "0") != 0) {
		pktmem_debug_set(true);
		atexit(report_at_exit);
	}
}
