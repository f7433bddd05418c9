/*
 * <pktmem/mempool.h> as a specification, single-threaded: preallocation,
 * the order of sources, reserve refill, resize both ways, destroy and
 * failed create freeing everything, the refusals (__GFP_ZERO, bad
 * arguments), non-waiting allocation on a dry pool, statistics, and the
 * three ready pools. Waiting and threads: test_mempool_mt.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <time.h>

#include "check.h"

/* ------------------------------------------------------------ helpers */

/*
 * A counting allocator: every call, success and free is counted, the masks
 * it was called with are recorded, and it can be told to fail.
 */
#define ELEM_MAGIC 0x6d656d706f6f6cULL

struct elem {
	uint64_t magic;
	int serial; /* 1 for the first element this allocator made */
};

struct counter {
	int calls;    /* alloc_fn calls */
	int allocs;   /* alloc_fn successes */
	int frees;    /* free_fn calls */
	int fail_at;  /* this call number fails (0: none) */
	int fail_all; /* every call fails */
	gfp_t gfp[64];
};

static void *counting_alloc(gfp_t gfp, void *data)
{
	struct counter *c = data;
	struct elem *e;

	if (c->calls < 64)
		c->gfp[c->calls] = gfp;
	c->calls++;
	if (c->fail_all || c->calls == c->fail_at)
		return NULL;
	e = malloc(sizeof(*e));
	if (!e)
		return NULL;
	e->magic = ELEM_MAGIC;
	e->serial = ++c->allocs;
	return e;
}

static void counting_free(void *element, void *data)
{
	struct counter *c = data;
	struct elem *e = element;

	CHECK(e->magic == ELEM_MAGIC);
	e->magic = 0;
	c->frees++;
	free(e);
}

static gfp_t last_gfp(const struct counter *c)
{
	return c->calls > 0 && c->calls <= 64 ? c->gfp[c->calls - 1] : 0;
}

static int serial(void *element)
{
	return ((struct elem *)element)->serial;
}

static struct pktmem_stats stats(mempool_t *pool)
{
	struct pktmem_stats st;

	memset(&st, 0xff, sizeof(st));
	CHECK_EQ(mempool_stats(pool, &st), 0);
	return st;
}

static unsigned long long pool_in_use(mempool_t *pool)
{
	return stats(pool).in_use;
}

static int count_pools_cb(const struct pktmem_stats *st, void *arg)
{
	if (st->kind == PKTMEM_STATS_POOL)
		(*(int *)arg)++;
	return 0;
}

/* Pools known to the statistics registry: every test leaves none behind. */
static int pools_registered(void)
{
	int n = 0;

	pktmem_stats_walk(count_pools_cb, &n);
	return n;
}

static int cache_objects_cb(const struct pktmem_stats *st, void *arg)
{
	if (st->kind == PKTMEM_STATS_CACHE)
		*(unsigned long long *)arg += st->in_use;
	return 0;
}

/* Objects in use over every cache (kmalloc's size classes included). */
static unsigned long long cache_objects_in_use(void)
{
	unsigned long long n = 0;

	pktmem_stats_walk(cache_objects_cb, &n);
	return n;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------ tests */

static void test_create_preallocates_min_nr(void)
{
	struct counter c = { 0 };
	mempool_t *pool = mempool_create(4, counting_alloc, counting_free, &c);
	struct pktmem_stats st;

	CHECK(pool != NULL);
	CHECK_EQ(c.calls, 4);
	CHECK_EQ(c.allocs, 4);
	CHECK_EQ(c.frees, 0);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(c.gfp[i], GFP_KERNEL); /* preallocation uses the create mask as given */
	CHECK(mempool_initialized(pool));
	CHECK(mempool_is_saturated(pool));
	st = stats(pool);
	CHECK(strcmp(st.name, "mempool") == 0);
	CHECK_EQ(st.kind, PKTMEM_STATS_POOL);
	CHECK_EQ(st.reserve, 4);
	CHECK_EQ(st.reserve_max, 4);
	CHECK_EQ(st.total, 4);
	CHECK_EQ(st.in_use, 0);
	CHECK_EQ(st.allocs, 0);
	CHECK_EQ(pools_registered(), 1);
	CHECK_EQ(pool_in_use(pool), 0);
	mempool_destroy(pool);
	CHECK_EQ(c.frees, 4);

	/* On a node, with another mask: the mask reaches alloc_fn. */
	memset(&c, 0, sizeof(c));
	pool = mempool_create_node(3, counting_alloc, counting_free, &c, GFP_ATOMIC, 0);
	CHECK(pool != NULL);
	CHECK_EQ(c.allocs, 3);
	CHECK_EQ(c.gfp[0], GFP_ATOMIC);
	CHECK_EQ(pool_in_use(pool), 0);
	mempool_destroy(pool);
	CHECK_EQ(c.frees, 3);

	/* A zero minimum preallocates nothing and is saturated at once. */
	memset(&c, 0, sizeof(c));
	pool = mempool_create(0, counting_alloc, counting_free, &c);
	CHECK(pool != NULL);
	CHECK_EQ(c.calls, 0);
	CHECK(mempool_is_saturated(pool));
	CHECK_EQ(pool_in_use(pool), 0);
	mempool_destroy(pool);
	CHECK_EQ(c.frees, 0);

	/* mempool_init on caller memory, and exit. */
	mempool_t embedded;
	memset(&c, 0, sizeof(c));
	CHECK_EQ(mempool_init(&embedded, 2, counting_alloc, counting_free, &c), 0);
	CHECK_EQ(c.allocs, 2);
	CHECK(mempool_initialized(&embedded));
	CHECK_EQ(pool_in_use(&embedded), 0);
	mempool_exit(&embedded);
	CHECK_EQ(c.frees, 2);
	CHECK(!mempool_initialized(&embedded));
	mempool_exit(&embedded); /* already exited: no-op */
	CHECK_EQ(c.frees, 2);
	CHECK_EQ(pools_registered(), 0);
}

static void test_order_of_sources(void)
{
	struct counter c = { 0 };
	mempool_t *pool = mempool_create(2, counting_alloc, counting_free, &c);
	void *a, *b, *d, *e;

	CHECK(pool != NULL);

	/* The allocator first, while it can serve: the reserve stays whole. */
	a = mempool_alloc(pool, GFP_KERNEL);
	CHECK(a != NULL);
	CHECK_EQ(c.calls, 3);
	CHECK_EQ(serial(a), 3);
	CHECK_EQ(stats(pool).reserve, 2);
	/* ...asked without waiting, without emergency memory, quietly. */
	CHECK(!(last_gfp(&c) & __GFP_DIRECT_RECLAIM));
	CHECK(!(last_gfp(&c) & __GFP_IO));
	CHECK(!(last_gfp(&c) & __GFP_MEMALLOC));
	CHECK(last_gfp(&c) & __GFP_NOMEMALLOC);
	CHECK(last_gfp(&c) & __GFP_NOWARN);
	CHECK(last_gfp(&c) & __GFP_NORETRY);
	CHECK(last_gfp(&c) & __GFP_FS);

	/* Allocator dry: one try, then the reserve, last in first out. */
	c.fail_all = 1;
	b = mempool_alloc(pool, GFP_KERNEL);
	CHECK(b != NULL);
	CHECK_EQ(c.calls, 4);
	CHECK_EQ(serial(b), 2);
	d = mempool_alloc(pool, GFP_ATOMIC);
	CHECK(d != NULL);
	CHECK_EQ(c.calls, 5);
	CHECK_EQ(serial(d), 1);
	CHECK_EQ(stats(pool).reserve, 0);

	/* Reserve empty, waiting mask: the allocator again with the full mask. */
	c.fail_all = 0;
	c.fail_at = c.calls + 1;
	e = mempool_alloc(pool, GFP_KERNEL | __GFP_MEMALLOC);
	CHECK(e != NULL);
	CHECK_EQ(c.calls, 7);
	CHECK(!(c.gfp[5] & __GFP_DIRECT_RECLAIM));
	CHECK(c.gfp[6] & __GFP_DIRECT_RECLAIM);
	CHECK(c.gfp[6] & __GFP_IO);
	CHECK(c.gfp[6] & __GFP_NORETRY);
	CHECK(!(c.gfp[6] & __GFP_MEMALLOC)); /* the reserve, not emergency memory, is the fallback */
	CHECK(c.gfp[6] & __GFP_NOMEMALLOC);

	CHECK_EQ(stats(pool).denied, 0);
	CHECK_EQ(stats(pool).waited, 0);
	CHECK_EQ(stats(pool).allocs, 4);
	mempool_free(a, pool);
	mempool_free(b, pool);
	mempool_free(d, pool);
	mempool_free(e, pool);
	CHECK_EQ(pool_in_use(pool), 0);
	mempool_destroy(pool);
	CHECK_EQ(c.frees, c.allocs);
}

static void test_nowait_dry_returns_null_at_once(void)
{
	struct counter c = { 0 };
	mempool_t *pool = mempool_create(1, counting_alloc, counting_free, &c);
	void *held;
	double t0;

	CHECK(pool != NULL);
	c.fail_all = 1;
	held = mempool_alloc(pool, GFP_NOWAIT);
	CHECK(held != NULL);

	t0 = now_ms();
	CHECK(mempool_alloc(pool, GFP_NOWAIT) == NULL);
	CHECK(mempool_alloc(pool, GFP_ATOMIC) == NULL);
	CHECK(now_ms() - t0 < 50); /* no sleep: the pool's retry period is 100 ms */
	CHECK_EQ(c.calls, 1 + 1 + 2); /* preallocation, held, then one try each: no waiting mask to retry with */
	CHECK_EQ(stats(pool).denied, 2);
	CHECK_EQ(stats(pool).waited, 0);
	CHECK_EQ(stats(pool).allocs, 1);

	/* The same for a zero-minimum pool. */
	struct counter z = { .fail_all = 1 };
	mempool_t *zero = mempool_create(0, counting_alloc, counting_free, &z);
	CHECK(zero != NULL);
	CHECK(mempool_alloc(zero, GFP_NOWAIT) == NULL);
	CHECK_EQ(stats(zero).denied, 1);
	z.fail_all = 0;
	void *x = mempool_alloc(zero, GFP_NOWAIT);
	CHECK(x != NULL);
	mempool_free(x, zero); /* nobody waits: straight back to the allocator */
	CHECK_EQ(z.frees, 1);
	CHECK_EQ(stats(zero).reserve, 0);
	CHECK_EQ(pool_in_use(zero), 0);
	mempool_destroy(zero);

	mempool_free(held, pool);
	CHECK_EQ(pool_in_use(pool), 0);
	mempool_destroy(pool);
	CHECK_EQ(c.frees, c.allocs);
}

static void test_free_refills_reserve_first(void)
{
	struct counter c = { 0 };
	mempool_t *pool = mempool_create(3, counting_alloc, counting_free, &c);
	void *r[3], *x, *y;

	CHECK(pool != NULL);
	c.fail_all = 1;
	for (int i = 0; i < 3; i++) {
		r[i] = mempool_alloc(pool, GFP_KERNEL);
		CHECK(r[i] != NULL);
	}
	CHECK(!mempool_is_saturated(pool));
	c.fail_all = 0;
	x = mempool_alloc(pool, GFP_KERNEL); /* from the allocator */
	CHECK(x != NULL);
	CHECK_EQ(serial(x), 4);

	/* Any element refills a short reserve, not only those that came from it. */
	mempool_free(x, pool);
	CHECK_EQ(c.frees, 0);
	CHECK_EQ(stats(pool).reserve, 1);
	mempool_free(r[0], pool);
	mempool_free(r[1], pool);
	CHECK_EQ(c.frees, 0);
	CHECK(mempool_is_saturated(pool));
	/* Full: the next free goes to free_fn. */
	mempool_free(r[2], pool);
	CHECK_EQ(c.frees, 1);
	CHECK_EQ(stats(pool).reserve, 3);

	/* Last in, first out. */
	c.fail_all = 1;
	y = mempool_alloc(pool, GFP_NOWAIT);
	CHECK(y == r[1]);
	mempool_free(y, pool);

	CHECK_EQ(stats(pool).frees, 5);
	CHECK_EQ(pool_in_use(pool), 0);
	mempool_destroy(pool);
	CHECK_EQ(c.frees, c.allocs);
}

static void test_resize_grow(void)
{
	struct counter c = { 0 };
	mempool_t *pool = mempool_create(2, counting_alloc, counting_free, &c);
	void *out[2];
	unsigned long injected;

	CHECK(pool != NULL);
	c.fail_all = 1;
	out[0] = mempool_alloc(pool, GFP_KERNEL);
	out[1] = mempool_alloc(pool, GFP_KERNEL);
	CHECK(out[0] && out[1]);
	CHECK_EQ(stats(pool).reserve, 0);

	/* Fills the reserve to the new minimum; the two handed out do not count. */
	c.fail_all = 0;
	int calls = c.calls;
	CHECK_EQ(mempool_resize(pool, 5), 0);
	CHECK_EQ(c.calls - calls, 5);
	CHECK(c.gfp[calls] & __GFP_DIRECT_RECLAIM); /* the fill may sleep */
	CHECK_EQ(stats(pool).reserve, 5);
	CHECK_EQ(stats(pool).reserve_max, 5);
	CHECK(mempool_is_saturated(pool));
	/* Full already: the two coming back go to free_fn. */
	mempool_free(out[0], pool);
	mempool_free(out[1], pool);
	CHECK_EQ(c.frees, 2);

	/* Allocator failing mid-fill: as Linux, 0, the target stands, frees fill it. */
	c.fail_at = c.calls + 2;
	CHECK_EQ(mempool_resize(pool, 8), 0);
	CHECK_EQ(stats(pool).reserve, 6);
	CHECK_EQ(stats(pool).reserve_max, 8);
	CHECK(!mempool_is_saturated(pool));
	void *x = mempool_alloc(pool, GFP_KERNEL); /* from the allocator */
	CHECK(x != NULL);
	CHECK_EQ(stats(pool).reserve, 6);
	mempool_free(x, pool);
	CHECK_EQ(stats(pool).reserve, 7);

	/* The new array cannot be had: -ENOMEM, pool unchanged, no element asked for. */
	calls = c.calls;
	injected = pktmem_fault_injected();
	CHECK_EQ(pktmem_fault_set(PKTMEM_FAULT_NTH, 1, 0), 0);
	CHECK_EQ(mempool_resize(pool, 20), -ENOMEM);
	pktmem_fault_off();
	CHECK_EQ(pktmem_fault_injected(), injected + 1);
	CHECK_EQ(c.calls, calls);
	CHECK_EQ(stats(pool).reserve, 7);
	CHECK_EQ(stats(pool).reserve_max, 8);

	/* Growing by one, from a zero minimum. */
	struct counter z = { 0 };
	mempool_t *zero = mempool_create(0, counting_alloc, counting_free, &z);
	CHECK(zero != NULL);
	CHECK_EQ(mempool_resize(zero, 1), 0);
	CHECK_EQ(z.allocs, 1);
	CHECK_EQ(stats(zero).reserve, 1);
	CHECK_EQ(pool_in_use(zero), 0);
	mempool_destroy(zero);
	CHECK_EQ(z.frees, 1);

	CHECK_EQ(pool_in_use(pool), 0);
	mempool_destroy(pool);
	CHECK_EQ(c.frees, c.allocs);
}

static void test_resize_shrink(void)
{
	struct counter c = { 0 };
	mempool_t *pool = mempool_create(5, counting_alloc, counting_free, &c);
	void *out[4];

	CHECK(pool != NULL);
	/* Full reserve: the surplus goes at once. */
	CHECK_EQ(mempool_resize(pool, 4), 0);
	CHECK_EQ(c.frees, 1);
	CHECK_EQ(stats(pool).reserve, 4);
	CHECK_EQ(stats(pool).reserve_max, 4);

	/* All elements out: shrinking frees nothing now... */
	c.fail_all = 1;
	for (int i = 0; i < 4; i++) {
		out[i] = mempool_alloc(pool, GFP_KERNEL);
		CHECK(out[i] != NULL);
	}
	CHECK_EQ(mempool_resize(pool, 2), 0);
	CHECK_EQ(c.frees, 1);
	CHECK_EQ(stats(pool).reserve, 0);
	CHECK_EQ(stats(pool).reserve_max, 2);
	/* ...and later frees stop refilling at the new minimum. */
	mempool_free(out[0], pool);
	mempool_free(out[1], pool);
	CHECK_EQ(c.frees, 1);
	CHECK(mempool_is_saturated(pool));
	mempool_free(out[2], pool);
	mempool_free(out[3], pool);
	CHECK_EQ(c.frees, 3);
	CHECK_EQ(stats(pool).reserve, 2);

	/* Some out, shrink below what rests: only the surplus of the reserve goes. */
	out[0] = mempool_alloc(pool, GFP_KERNEL);
	CHECK(out[0] != NULL);
	CHECK_EQ(mempool_resize(pool, 1), 0);
	CHECK_EQ(c.frees, 3); /* reserve held 1 == new minimum */
	mempool_free(out[0], pool);
	CHECK_EQ(c.frees, 4);

	/* Equal size: nothing happens. Zero or negative: -EINVAL, unchanged. */
	CHECK_EQ(mempool_resize(pool, 1), 0);
	CHECK_EQ(mempool_resize(pool, 0), -EINVAL);
	CHECK_EQ(mempool_resize(pool, -3), -EINVAL);
	CHECK_EQ(stats(pool).reserve, 1);
	CHECK_EQ(stats(pool).reserve_max, 1);
	CHECK_EQ(c.frees, 4);

	CHECK_EQ(pool_in_use(pool), 0);
	mempool_destroy(pool);
	CHECK_EQ(c.frees, c.allocs);
}

static void test_destroy_frees_everything(void)
{
	struct counter c = { 0 };
	mempool_t *pool = mempool_create(6, counting_alloc, counting_free, &c);
	void *p[10];

	CHECK(pool != NULL);
	for (int i = 0; i < 10; i++) {
		c.fail_all = i % 2; /* half from the allocator, half from the reserve */
		p[i] = mempool_alloc(pool, GFP_KERNEL);
		CHECK(p[i] != NULL);
	}
	CHECK_EQ(pool_in_use(pool), 10);
	CHECK_EQ(stats(pool).peak, 10);
	CHECK_EQ(stats(pool).total, 11);
	for (int i = 9; i >= 0; i--)
		mempool_free(p[i], pool);

	/* NULLs are no-ops. */
	int frees = c.frees;
	mempool_free(NULL, pool);
	CHECK_EQ(c.frees, frees);
	CHECK_EQ(stats(pool).frees, 10);
	mempool_destroy(NULL);

	CHECK_EQ(pool_in_use(pool), 0);
	mempool_destroy(pool);
	CHECK_EQ(c.allocs, 11);
	CHECK_EQ(c.frees, c.allocs);
	CHECK_EQ(pools_registered(), 0);
}

static void test_failed_create_frees_what_it_allocated(void)
{
	unsigned long long objects = cache_objects_in_use();
	struct counter c;
	mempool_t pool;

	/* The allocator fails at the k-th preallocation. */
	for (int k = 1; k <= 5; k++) {
		memset(&c, 0, sizeof(c));
		c.fail_at = k;
		errno = 0;
		CHECK(mempool_create(5, counting_alloc, counting_free, &c) == NULL);
		CHECK_EQ(errno, ENOMEM);
		CHECK_EQ(c.allocs, k - 1);
		CHECK_EQ(c.frees, k - 1);

		memset(&c, 0, sizeof(c));
		c.fail_at = k;
		memset(&pool, 0x5a, sizeof(pool));
		CHECK_EQ(mempool_init(&pool, 5, counting_alloc, counting_free, &c), -ENOMEM);
		CHECK_EQ(c.frees, k - 1);
		CHECK(!mempool_initialized(&pool)); /* left uninitialised */
		mempool_exit(&pool);                /* and safe to exit */
		CHECK_EQ(c.frees, k - 1);
	}

	/* Every allocation point of a create fails in turn: the pool's own memory too. */
	memset(&c, 0, sizeof(c));
	pktmem_fault_count_reset();
	mempool_t *ok = mempool_create(3, counting_alloc, counting_free, &c);
	unsigned long points = pktmem_fault_count();
	pktmem_fault_off();
	CHECK(ok != NULL);
	CHECK(points >= 3 + 3); /* the pool, its array, its record, three elements */
	mempool_destroy(ok);
	for (unsigned long k = 1; k <= points; k++) {
		unsigned long injected = pktmem_fault_injected();

		memset(&c, 0, sizeof(c));
		CHECK_EQ(pktmem_fault_set(PKTMEM_FAULT_NTH, k, 0), 0);
		errno = 0;
		mempool_t *p = mempool_create(3, counting_alloc, counting_free, &c);
		pktmem_fault_off();
		CHECK(p == NULL);
		CHECK_EQ(errno, ENOMEM);
		CHECK_EQ(pktmem_fault_injected(), injected + 1);
		CHECK_EQ(c.frees, c.allocs);
		CHECK_EQ(cache_objects_in_use(), objects);
		mempool_destroy(p);
	}
	CHECK_EQ(pools_registered(), 0);
	CHECK_EQ(cache_objects_in_use(), objects);
}

static void test_bad_arguments(void)
{
	struct counter c = { 0 };
	mempool_t pool;

	errno = 0;
	CHECK(mempool_create(-1, counting_alloc, counting_free, &c) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(mempool_create(1, NULL, counting_free, &c) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(mempool_create(1, counting_alloc, NULL, &c) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(mempool_create_node(1, counting_alloc, counting_free, &c, GFP_KERNEL, 4096) == NULL);
	CHECK_EQ(errno, EINVAL);
	CHECK_EQ(mempool_init(&pool, -1, counting_alloc, counting_free, &c), -EINVAL);
	CHECK_EQ(mempool_init_node(&pool, 1, counting_alloc, counting_free, &c, GFP_KERNEL, -7), -EINVAL);
	CHECK_EQ(c.calls, 0);

	errno = 0;
	CHECK(mempool_create_slab_pool(1, NULL) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(mempool_create_kmalloc_pool(1, 0) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(mempool_create_page_pool(1, -1) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(mempool_create_page_pool(1, MAX_PAGE_ORDER + 1) == NULL);
	CHECK_EQ(errno, EINVAL);
	CHECK_EQ(mempool_init_slab_pool(&pool, 1, NULL), -EINVAL);
	CHECK_EQ(mempool_init_kmalloc_pool(&pool, 1, 0), -EINVAL);
	CHECK_EQ(mempool_init_page_pool(&pool, 1, MAX_PAGE_ORDER + 1), -EINVAL);

	/* A zeroed pool: not initialised, and every teardown call is safe. */
	struct pktmem_stats st;
	memset(&pool, 0, sizeof(pool));
	CHECK(!mempool_initialized(&pool));
	CHECK(!mempool_initialized(NULL));
	mempool_exit(&pool);
	mempool_exit(NULL);
	CHECK_EQ(mempool_resize(&pool, 4), -EINVAL);
	CHECK_EQ(mempool_stats(&pool, &st), -EINVAL);
	CHECK_EQ(mempool_stats(NULL, &st), -EINVAL);
	/* Using it is a programmer error: a diagnostic, and the call refused. */
	unsigned long raised = pktmem_diag_count();
	int dummy;
	CHECK(mempool_alloc(&pool, GFP_KERNEL) == NULL);
	CHECK(strcmp(diag_last_func, "mempool_alloc") == 0);
	mempool_free(&dummy, &pool);
	CHECK(strcmp(diag_last_func, "mempool_free") == 0);
	CHECK_EQ(pktmem_diag_count(), raised + 2);
	CHECK_EQ(pools_registered(), 0);
}

static void test_gfp_zero_refused(void)
{
	struct counter c = { 0 };
	mempool_t *pool = mempool_create(2, counting_alloc, counting_free, &c);
	unsigned long raised = pktmem_diag_count();
	unsigned long seen = diag_seen;

	CHECK(pool != NULL);
	CHECK(mempool_alloc(pool, GFP_KERNEL | __GFP_ZERO) == NULL);
	CHECK_EQ(pktmem_diag_count(), raised + 1);
	CHECK_EQ(diag_seen, seen + 1);
	CHECK(strcmp(diag_last_func, "mempool_alloc") == 0);
	CHECK(strstr(diag_last_msg, "__GFP_ZERO") != NULL);
	CHECK(mempool_alloc(pool, GFP_ATOMIC | __GFP_ZERO) == NULL);
	CHECK_EQ(pktmem_diag_count(), raised + 2);
	/* Refused before anything moved. */
	CHECK_EQ(c.calls, 2);
	CHECK_EQ(stats(pool).reserve, 2);
	CHECK_EQ(stats(pool).allocs, 0);
	CHECK_EQ(pool_in_use(pool), 0);
	mempool_destroy(pool);
	CHECK_EQ(c.frees, c.allocs);
}

static int find_pool_cb(const struct pktmem_stats *st, void *arg)
{
	return st->kind == PKTMEM_STATS_POOL && strcmp(st->name, (const char *)arg) == 0;
}

static void test_statistics(void)
{
	struct counter c = { 0 };
	mempool_t *pool = mempool_create(2, counting_alloc, counting_free, &c);
	void *p[5];
	struct pktmem_stats st;

	CHECK(pool != NULL);
	for (int i = 0; i < 5; i++)
		p[i] = mempool_alloc(pool, GFP_KERNEL);
	for (int i = 0; i < 3; i++)
		mempool_free(p[i], pool);
	p[0] = mempool_alloc(pool, GFP_KERNEL);
	st = stats(pool);
	CHECK_EQ(st.allocs, 6);
	CHECK_EQ(st.frees, 3);
	CHECK_EQ(st.in_use, 3);
	CHECK_EQ(st.peak, 5);
	CHECK_EQ(st.reserve, 2);
	CHECK_EQ(st.total, 5);
	CHECK_EQ(st.limit, 0);

	CHECK_EQ(pktmem_stats_walk(find_pool_cb, "mempool"), 1);
	char buf[8192] = { 0 };
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
	CHECK(f != NULL);
	pktmem_stats_print(f);
	fclose(f);
	CHECK(strstr(buf, "mempool") != NULL);

	mempool_free(p[0], pool);
	mempool_free(p[3], pool);
	mempool_free(p[4], pool);
	st = stats(pool);
	CHECK_EQ(st.in_use, 0);
	CHECK_EQ(st.peak, 5);
	CHECK_EQ(st.total, st.reserve);
	mempool_destroy(pool);
	CHECK_EQ(c.frees, c.allocs);
	CHECK_EQ(pktmem_stats_walk(find_pool_cb, "mempool"), 0);
}

static void test_slab_pool(void)
{
	struct kmem_cache *kc = kmem_cache_create("mp-obj", 64, 0, 0, NULL);
	mempool_t *pool;
	struct pktmem_stats st;
	void *p[4];

	CHECK(kc != NULL);
	pool = mempool_create_slab_pool(3, kc);
	CHECK(pool != NULL);
	st = stats(pool);
	CHECK(strcmp(st.name, "mempool(slab:mp-obj)") == 0);
	CHECK_EQ(st.obj_size, 64);
	CHECK_EQ(cache_in_use(kc), 3); /* the reserve is the cache's objects in use */

	/* Make the cache dry: its limit allows one more object. */
	CHECK_EQ(kmem_cache_set_limit(kc, 4), 0);
	p[0] = mempool_alloc(pool, GFP_KERNEL); /* from the cache */
	CHECK(p[0] != NULL);
	CHECK_EQ(cache_in_use(kc), 4);
	CHECK_EQ(stats(pool).reserve, 3);
	for (int i = 1; i < 4; i++) {
		p[i] = mempool_alloc(pool, i == 1 ? GFP_KERNEL : GFP_ATOMIC); /* the reserve */
		CHECK(p[i] != NULL);
		memset(p[i], i, 64);
	}
	CHECK_EQ(stats(pool).reserve, 0);
	CHECK(mempool_alloc(pool, GFP_NOWAIT) == NULL);
	CHECK_EQ(stats(pool).denied, 1);
	struct pktmem_stats cst;
	CHECK_EQ(kmem_cache_stats(kc, &cst), 0);
	CHECK(cst.denied >= 1);

	for (int i = 0; i < 4; i++)
		mempool_free(p[i], pool);
	CHECK_EQ(stats(pool).reserve, 3);
	CHECK_EQ(cache_in_use(kc), 3);
	CHECK_EQ(pool_in_use(pool), 0);
	mempool_destroy(pool);
	CHECK_EQ(cache_in_use(kc), 0);

	/* The init variant on caller memory, and resize through the cache. */
	mempool_t embedded;
	CHECK_EQ(kmem_cache_set_limit(kc, 0), 0);
	CHECK_EQ(mempool_init_slab_pool(&embedded, 2, kc), 0);
	CHECK_EQ(cache_in_use(kc), 2);
	CHECK_EQ(mempool_resize(&embedded, 5), 0);
	CHECK_EQ(cache_in_use(kc), 5);
	CHECK_EQ(mempool_resize(&embedded, 1), 0);
	CHECK_EQ(cache_in_use(kc), 1);
	void *x = mempool_alloc(&embedded, GFP_KERNEL);
	CHECK(x != NULL);
	mempool_free(x, &embedded);
	CHECK_EQ(pool_in_use(&embedded), 0);
	mempool_exit(&embedded);
	CHECK_EQ(cache_in_use(kc), 0);
	kmem_cache_destroy(kc);
}

static void test_kmalloc_pool(void)
{
	mempool_t *pool = mempool_create_kmalloc_pool(2, 100);
	struct pktmem_stats st;
	void *a, *r[2];

	CHECK(pool != NULL);
	st = stats(pool);
	CHECK(strcmp(st.name, "mempool(kmalloc-100)") == 0);
	CHECK_EQ(st.obj_size, 100);
	CHECK_EQ(st.reserve, 2);
	a = mempool_alloc(pool, GFP_KERNEL);
	CHECK(a != NULL);
	CHECK(ksize(a) >= 100);
	memset(a, 0xab, 100);

	/* Dry: every allocation point fails, so the reserve serves, then nothing. */
	CHECK_EQ(pktmem_fault_set(PKTMEM_FAULT_EVERY, 1, 0), 0);
	r[0] = mempool_alloc(pool, GFP_KERNEL);
	r[1] = mempool_alloc(pool, GFP_ATOMIC);
	CHECK(mempool_alloc(pool, GFP_NOWAIT) == NULL);
	pktmem_fault_off();
	CHECK(r[0] != NULL && r[1] != NULL);
	memset(r[0], 1, 100);
	memset(r[1], 2, 100);
	CHECK_EQ(stats(pool).denied, 1);

	mempool_free(r[0], pool);
	mempool_free(r[1], pool);
	mempool_free(a, pool);
	CHECK_EQ(pool_in_use(pool), 0);
	mempool_destroy(pool);

	mempool_t embedded;
	CHECK_EQ(mempool_init_kmalloc_pool(&embedded, 1, 5000), 0);
	CHECK(strcmp(stats(&embedded).name, "mempool(kmalloc-5000)") == 0);
	a = mempool_alloc(&embedded, GFP_KERNEL);
	CHECK(a != NULL);
	memset(a, 0, 5000);
	mempool_free(a, &embedded);
	CHECK_EQ(pool_in_use(&embedded), 0);
	mempool_exit(&embedded);
}

static void test_page_pool(void)
{
	mempool_t *pool = mempool_create_page_pool(2, 1);
	struct pktmem_stats st;
	struct page *pg, *r[2];

	CHECK(pool != NULL);
	st = stats(pool);
	CHECK(strcmp(st.name, "mempool(page-order1)") == 0);
	CHECK_EQ(st.obj_size, 2 * PAGE_SIZE);
	pg = mempool_alloc(pool, GFP_KERNEL);
	CHECK(pg != NULL);
	CHECK_EQ(pg->order, 1);
	CHECK_EQ(page_count(pg), 1);
	CHECK(page_address(pg) != NULL);
	CHECK(((uintptr_t)page_address(pg) & (PAGE_SIZE - 1)) == 0);
	memset(page_address(pg), 0x5c, 2 * PAGE_SIZE);

	CHECK_EQ(pktmem_fault_set(PKTMEM_FAULT_EVERY, 1, 0), 0);
	r[0] = mempool_alloc(pool, GFP_KERNEL);
	r[1] = mempool_alloc(pool, GFP_NOWAIT);
	CHECK(mempool_alloc(pool, GFP_ATOMIC) == NULL);
	pktmem_fault_off();
	CHECK(r[0] != NULL && r[1] != NULL);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(r[i]->order, 1);
		memset(page_address(r[i]), i, 2 * PAGE_SIZE);
	}
	CHECK_EQ(stats(pool).denied, 1);
	mempool_free(pg, pool);
	mempool_free(r[0], pool);
	mempool_free(r[1], pool);
	CHECK_EQ(pool_in_use(pool), 0);
	mempool_destroy(pool);

	mempool_t embedded;
	CHECK_EQ(mempool_init_page_pool(&embedded, 3, 0), 0);
	CHECK(strcmp(stats(&embedded).name, "mempool(page-order0)") == 0);
	pg = mempool_alloc(&embedded, GFP_KERNEL);
	CHECK(pg != NULL);
	CHECK_EQ(pg->order, 0);
	memset(page_address(pg), 1, PAGE_SIZE);
	mempool_free(pg, &embedded);
	CHECK_EQ(pool_in_use(&embedded), 0);
	mempool_exit(&embedded);
}

int main(void)
{
	diag_capture();
	TEST(test_create_preallocates_min_nr);
	TEST(test_order_of_sources);
	TEST(test_nowait_dry_returns_null_at_once);
	TEST(test_free_refills_reserve_first);
	TEST(test_resize_grow);
	TEST(test_resize_shrink);
	TEST(test_destroy_frees_everything);
	TEST(test_failed_create_frees_what_it_allocated);
	TEST(test_bad_arguments);
	TEST(test_gfp_zero_refused);
	TEST(test_statistics);
	TEST(test_slab_pool);
	TEST(test_kmalloc_pool);
	TEST(test_page_pool);
	CHECK_EQ(pools_registered(), 0);
	if (check_failed_now)
		tests_failed++;
	return test_summary();
}
