/*
 * ops_malloc.c — 2 KiB malloc+free through jemalloc and mimalloc, in the
 * same process as glibc's: each library is dlopen()ed with RTLD_LOCAL (so
 * it replaces nobody's malloc) and called through the handle: jemalloc's
 * own malloc/free (its usual fast path) and its mallocx/dallocx, mimalloc's
 * mi_malloc/mi_free.
 *
 * jemalloc uses initial-exec TLS, which dlopen refuses unless glibc keeps
 * enough spare static TLS: main.c re-executes the program once with
 * GLIBC_TUNABLES=glibc.rtld.optional_static_tls=... when that is not set.
 * If a library still cannot be loaded its rows say why (malloc_peers_note).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "suite.h"

static void *(*je_mallocx)(size_t, int);
static void (*je_dallocx)(void *, int);
static void *(*je_malloc_fn)(size_t);
static void (*je_free_fn)(void *);
static void *(*mi_malloc_fn)(size_t);
static void (*mi_free_fn)(void *);
static char note[512];

static uint64_t je_run(void *ctx, uint64_t iters)
{
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		void *p = je_mallocx(OBJ_SIZE, 0);

		if (__builtin_expect(!p, 0))
			die("mallocx", "jemalloc");
		touch(p, i);
		je_dallocx(p, 0);
	}
	return now_ns() - t0;
}

static uint64_t je_plain_run(void *ctx, uint64_t iters)
{
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		void *p = je_malloc_fn(OBJ_SIZE);

		if (__builtin_expect(!p, 0))
			die("malloc", "jemalloc");
		touch(p, i);
		je_free_fn(p);
	}
	return now_ns() - t0;
}

static uint64_t mi_run(void *ctx, uint64_t iters)
{
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		void *p = mi_malloc_fn(OBJ_SIZE);

		if (__builtin_expect(!p, 0))
			die("mi_malloc", "mimalloc");
		touch(p, i);
		mi_free_fn(p);
	}
	return now_ns() - t0;
}

static void *load(const char *const *names, const char *label)
{
	const char *err = "not found";

	for (; *names; names++) {
		void *h = dlopen(*names, RTLD_NOW | RTLD_LOCAL);

		if (h)
			return h;
		err = dlerror();
	}
	snprintf(note + strlen(note), sizeof(note) - strlen(note), "%s%s not measured (%s)", note[0] ? "; " : "",
		 label, err ? err : "?");
	return NULL;
}

void ops_malloc_register(void)
{
	static const char *const je[] = { "libjemalloc.so.2", "libjemalloc.so", NULL };
	static const char *const mi[] = { "libmimalloc.so.2", "libmimalloc.so", NULL };
	void *h;

	if ((h = load(je, "jemalloc"))) {
		/* The library's own malloc/free, through its handle: its fast path, interposing on nothing. */
		*(void **)&je_malloc_fn = dlsym(h, "malloc");
		*(void **)&je_free_fn = dlsym(h, "free");
		*(void **)&je_mallocx = dlsym(h, "mallocx");
		*(void **)&je_dallocx = dlsym(h, "dallocx");
		if (je_malloc_fn && je_free_fn) {
			struct op o = { "je.malloc2k", "jemalloc's malloc(2048)+write+free (dlopen handle, same process)",
					je_plain_run, NULL, 1, false, NULL };

			op_add(&o);
		}
		if (je_mallocx && je_dallocx) {
			struct op o = { "je.mallocx2k", "jemalloc mallocx(2048, 0)+write+dallocx (dlopen, same process)",
					je_run, NULL, 1, false, NULL };

			op_add(&o);
		}
		if (!je_malloc_fn || !je_free_fn) {
			snprintf(note + strlen(note), sizeof(note) - strlen(note),
				 "%sjemalloc not measured (no malloc/free in it)", note[0] ? "; " : "");
		}
	}
	if ((h = load(mi, "mimalloc"))) {
		*(void **)&mi_malloc_fn = dlsym(h, "mi_malloc");
		*(void **)&mi_free_fn = dlsym(h, "mi_free");
		if (mi_malloc_fn && mi_free_fn) {
			struct op o = { "mi.malloc2k", "mimalloc mi_malloc(2048)+write+mi_free (dlopen, same process)",
					mi_run, NULL, 1, false, NULL };

			op_add(&o);
		} else {
			snprintf(note + strlen(note), sizeof(note) - strlen(note),
				 "%smimalloc not measured (no mi_malloc/mi_free)", note[0] ? "; " : "");
		}
	}
}

const char *malloc_peers_note(void)
{
	return note[0] ? note : "jemalloc and mimalloc loaded with dlopen(RTLD_LOCAL) in this process";
}
