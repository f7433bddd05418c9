/*
 * The diagnostic routine: where programmer errors go (what a kernel would
 * panic or BUG on). One handler for the whole process; the default prints
 * and aborts, an application may install its own, for example to log and
 * keep running, in which case the failing call refuses its operation.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>

#include "internal.h"

/*
 * The handler and its argument change together, so they sit behind a
 * lock; diagnostics are rare, so a lock on this path costs nothing that
 * matters. The count is atomic because tests read it while other threads
 * may raise diagnostics.
 */
static pthread_mutex_t diag_lock = PTHREAD_MUTEX_INITIALIZER;
static pktmem_diag_handler_t diag_handler;
static void *diag_arg;
static atomic_ulong diag_raised;

static void default_handler(const char *func, const char *msg, void *arg)
{
	(void)arg;
	fprintf(stderr, "pktmem: %s: %s\n", func, msg);
	fflush(stderr);
	abort();
}

pktmem_diag_handler_t pktmem_set_diag_handler(pktmem_diag_handler_t fn, void *arg)
{
	pthread_mutex_lock(&diag_lock);
	pktmem_diag_handler_t old = diag_handler ? diag_handler : default_handler;
	diag_handler = fn;
	diag_arg = arg;
	pthread_mutex_unlock(&diag_lock);
	return old;
}

pktmem_diag_handler_t pktmem_get_diag_handler(void **argp)
{
	pthread_mutex_lock(&diag_lock);
	pktmem_diag_handler_t fn = diag_handler ? diag_handler : default_handler;
	void *arg = diag_arg;
	pthread_mutex_unlock(&diag_lock);
	if (argp)
		*argp = arg;
	return fn;
}

unsigned long pktmem_diag_count(void)
{
	return atomic_load(&diag_raised);
}

void diag(const char *func, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	atomic_fetch_add(&diag_raised, 1);
	pthread_mutex_lock(&diag_lock);
	pktmem_diag_handler_t fn = diag_handler ? diag_handler : default_handler;
	void *arg = diag_arg;
	pthread_mutex_unlock(&diag_lock);
	fn(func, msg, arg);
}
