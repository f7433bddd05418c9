/*
 * The statistics registry: every live cache and pool, in creation order,
 * and the netstat -m style printer over them.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <string.h>

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

struct print_totals {
	FILE *out;
	unsigned caches, pools, unused;
	uint64_t cache_denied, cache_waited, pool_denied, pool_waited;
	size_t bytes;
};

static int print_one(const struct pktmem_stats *st, void *arg)
{
	struct print_totals *t = arg;
	uint64_t cached = st->total > st->in_use ? st->total - st->in_use : 0;

	if (st->kind == PKTMEM_STATS_CACHE) {
		t->caches++;
		t->bytes += st->bytes_mapped;
		t->cache_denied += st->denied;
		t->cache_waited += st->waited;
		/* Caches never used (most kmalloc size classes) would only be noise. */
		if (st->allocs == 0 && st->total == 0 && st->denied == 0) {
			t->unused++;
			return 0;
		}
		fprintf(t->out, "%" PRIu64 "/%" PRIu64 "/%" PRIu64 " %s (%zu B) objects in use (current/cache/total), peak %" PRIu64,
			st->in_use, cached, st->total, st->name, st->obj_size, st->peak);
		if (st->limit)
			fprintf(t->out, ", max %" PRIu64, st->limit);
		if (st->reserve_max)
			fprintf(t->out, ", reserve %" PRIu64 "/%" PRIu64, st->reserve, st->reserve_max);
	} else {
		t->pools++;
		t->pool_denied += st->denied;
		t->pool_waited += st->waited;
		fprintf(t->out, "%" PRIu64 "/%" PRIu64 "/%" PRIu64 " %s elements in use (current/reserve/total), peak %" PRIu64 ", reserve target %" PRIu64,
			st->in_use, st->reserve, st->total, st->name, st->peak, st->reserve_max);
	}
	fprintf(t->out, "\n    %" PRIu64 " allocs, %" PRIu64 " frees, %" PRIu64 " denied, %" PRIu64 " delayed\n",
		st->allocs, st->frees, st->denied, st->waited);
	return 0;
}

void pktmem_stats_print(FILE *out)
{
	struct print_totals t = { .out = out ? out : stdout };

	pktmem_stats_walk(print_one, &t);
	/*
	 * Pools and caches are counted apart: a pool asks its cache without
	 * waiting first, so a cache denial is often a request the pool's
	 * reserve then served, not a failure the caller saw.
	 */
	fprintf(t.out, "%" PRIu64 " requests for memory denied by pools, %" PRIu64 " by caches\n",
		t.pool_denied, t.cache_denied);
	fprintf(t.out, "%" PRIu64 " requests for memory delayed by pools, %" PRIu64 " by caches\n",
		t.pool_waited, t.cache_waited);
	fprintf(t.out, "%zuK bytes mapped by %u caches (%u unused, not shown) and %u pools\n",
		arena_bytes_mapped() / 1024, t.caches, t.unused, t.pools);
}
