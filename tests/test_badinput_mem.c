/*
 * Bad input to the memory faces (gfp.h, page.h, ext.h, slab.h, mempool.h,
 * pktmem.h): each test feeds one kind of wrong argument and asserts what
 * docs/bad-inputs/ says happens — the return value and errno, the
 * diagnostic (function name and values), and that the caller's data and
 * the statistics are left as they were. One test per row group of those
 * tables; the tables cite these functions by name.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* ------------------------------------------------------------ helpers */

#if defined(TEST_UNDER_ASAN)
/*
 * Absurd sizes (a reserve of 2^40 objects) must reach the library's own
 * failure path: ASan's allocator would abort on them instead of returning
 * NULL as malloc does.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}
#endif
#if defined(__SANITIZE_THREAD__)
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
	return "allocator_may_return_null=1";
}
#endif

struct find_arg {
	const char *name;
	struct pktmem_stats st;
	int found;
};

static int find_one(const struct pktmem_stats *st, void *arg)
{
	struct find_arg *f = arg;

	if (strcmp(st->name, f->name) != 0)
		return 0;
	f->st = *st;
	f->found = 1;
	return 1;
}

/* In-use count of the cache or pool called @name (-1: none such). */
static long long in_use_of(const char *name)
{
	struct find_arg f = { .name = name };

	pktmem_stats_walk(find_one, &f);
	return f.found ? (long long)f.st.in_use : -1;
}

/* A diagnostic was raised by @func since @before, and its text has @needle. */
static int diag_from(unsigned long before, const char *func, const char *needle)
{
	return diag_seen == before + 1 && strcmp(diag_last_func, func) == 0 &&
	       (!needle || strstr(diag_last_msg, needle) != NULL);
}

/*
 * In debug mode a released storage header or page descriptor goes back to
 * its cache filled with 0x6b, so its reference count reads 0x6b6b6b6b, not
 * 0: a further put or get is then told apart by the object's debug record
 * and diagnosed as "freed already" under the function's own name, and the
 * fill is left as it was (tests/test_debug_refs.c has the details). In
 * normal mode the count reads 0 and the diagnostic is the count's. The
 * name and wording each mode gives, for @func in debug mode and @normal
 * otherwise. (Inline: under ASan the lines that ask are compiled out.)
 */
static inline bool freed_put_or_get_seen(unsigned long before, const char *func, const char *normal,
					 const char *normal_text)
{
	if (pktmem_debug_enabled())
		return diag_from(before, func, "is freed already");
	return diag_from(before, normal, normal_text);
}

/* The count a released header reads: the fill in debug mode, else 0. */
static inline int released_count(void)
{
	return pktmem_debug_enabled() ? 0x6b6b6b6b : 0;
}

static int ctor_calls;

static void ctor_mark(void *obj)
{
	ctor_calls++;
	memset(obj, 0xC5, 8);
}

/* ------------------------------------------------------------ gfp.h */

static void test_bad_gfp_masks(void)
{
	/* Unknown bits do not make a mask waiting; only __GFP_DIRECT_RECLAIM does. */
	CHECK(!gfpflags_allow_blocking(0xffff0000u));
	CHECK(!gfpflags_allow_blocking(GFP_ATOMIC | __GFP_NOFAIL));
	CHECK(gfpflags_allow_blocking(~0u));
	CHECK(gfpflags_allow_blocking(GFP_NOIO));

	/* __GFP_NOFAIL without a waiting mask cannot retry: it fails like any non-waiting mask. */
	struct kmem_cache *c = kmem_cache_create("bi-nofail", 32, 0, 0, NULL);
	void *a;

	kmem_cache_set_limit(c, 1);
	a = kmem_cache_alloc(c, GFP_ATOMIC);
	CHECK(a != NULL);
	errno = 0;
	CHECK(kmem_cache_alloc(c, GFP_ATOMIC | __GFP_NOFAIL) == NULL);
	CHECK_EQ(errno, ENOMEM);
	kmem_cache_free(c, a);
	CHECK_EQ(cache_in_use(c), 0);
	kmem_cache_destroy(c);
}

static void test_bad_error_pointers(void)
{
	int x;

	/* The boundary: -1 .. -MAX_ERRNO are errors, -MAX_ERRNO - 1 is not. */
	CHECK(IS_ERR(ERR_PTR(-1)));
	CHECK(IS_ERR(ERR_PTR(-MAX_ERRNO)));
	CHECK(!IS_ERR(ERR_PTR(-MAX_ERRNO - 1)));
	CHECK_EQ(PTR_ERR(ERR_PTR(-EINVAL)), -EINVAL);
	/* A positive errno (a common slip) is no error pointer. */
	CHECK(!IS_ERR(ERR_PTR(EINVAL)));
	CHECK(!IS_ERR_OR_NULL(ERR_PTR(EINVAL)));
	/* NULL and a real pointer. */
	CHECK(!IS_ERR(NULL));
	CHECK(IS_ERR_OR_NULL(NULL));
	CHECK(!IS_ERR(&x) && !IS_ERR_OR_NULL(&x));
	/* PTR_ERR of a valid pointer is just its address as a number. */
	CHECK_EQ(PTR_ERR(&x), (long)(intptr_t)&x);
}

static void test_bad_atomic_context(void)
{
	unsigned long before = diag_seen;

	CHECK(!pktmem_in_atomic());
	pktmem_atomic_end(); /* never begun */
	CHECK(diag_from(before, "pktmem_atomic_end", "unbalanced"));
	CHECK(!pktmem_in_atomic()); /* the depth did not go below zero */
	pktmem_atomic_begin();
	CHECK(pktmem_in_atomic());
	pktmem_atomic_end();
	CHECK(!pktmem_in_atomic());
	CHECK_EQ(diag_seen, before + 1);
}

static void test_bad_nodes(void)
{
	int n = pktmem_nr_nodes();

	CHECK(n >= 1 && n <= 64);
	CHECK(pktmem_node_valid(0));
	CHECK(!pktmem_node_valid(NUMA_NO_NODE)); /* "any node" is no node number */
	CHECK(!pktmem_node_valid(-2));
	CHECK(!pktmem_node_valid(INT_MIN));
	CHECK(!pktmem_node_valid(64));
	CHECK(!pktmem_node_valid(INT_MAX));
	CHECK(!pktmem_node_valid(n) || n < 64);
}

static int released;
static void release_count(struct pktmem_ext *e, void *owner)
{
	(void)e;
	(void)owner;
	released++;
}

/* A node number no machine has. */
#define BAD_NODE 63

/* ------------------------------------------------------------ waiting masks in atomic context */

static void test_bad_waiting_mask_atomic(void)
{
	struct kmem_cache *c = kmem_cache_create("bi-atomic", 64, 0, 0, NULL);
	mempool_t *pool = mempool_create_slab_pool(2, c);
	void *warm = kmem_cache_alloc(c, GFP_KERNEL), *bulk[4];
	unsigned long before;

	pktmem_atomic_begin();
	before = diag_seen;
	errno = 0;
	CHECK(kmem_cache_alloc(c, GFP_KERNEL) == NULL);
	CHECK(diag_from(before, "kmem_cache_alloc", "atomic context"));
	CHECK_EQ(errno, EWOULDBLOCK);
	before = diag_seen;
	CHECK(kmem_cache_alloc_node(c, GFP_KERNEL, 0) == NULL);
	CHECK(diag_from(before, "kmem_cache_alloc_node", "atomic context"));
	before = diag_seen;
	CHECK(kmem_cache_zalloc(c, GFP_NOFS) == NULL);
	CHECK(diag_from(before, "kmem_cache_zalloc", "atomic context"));
	before = diag_seen;
	CHECK_EQ(kmem_cache_alloc_bulk(c, GFP_NOIO, 4, bulk), 0);
	CHECK(diag_from(before, "kmem_cache_alloc_bulk", "atomic context"));
	/* kmalloc() of a size class and of a large block alike, under the caller's name. */
	before = diag_seen;
	errno = 0;
	CHECK(kmalloc(100, GFP_KERNEL) == NULL);
	CHECK(diag_from(before, "kmalloc", "atomic context"));
	CHECK_EQ(errno, EWOULDBLOCK);
	before = diag_seen;
	errno = 0;
	CHECK(kmalloc(1 << 20, GFP_KERNEL) == NULL);
	CHECK(diag_from(before, "kmalloc", "atomic context"));
	CHECK_EQ(errno, EWOULDBLOCK);
	before = diag_seen;
	CHECK(kzalloc(1 << 20, GFP_KERNEL) == NULL);
	CHECK(diag_from(before, "kzalloc", "gfp 0x10d"));
	before = diag_seen;
	CHECK(kmalloc_node(100, GFP_KERNEL, 0) == NULL);
	CHECK(diag_from(before, "kmalloc_node", "depth 1"));
	before = diag_seen;
	CHECK(mempool_alloc(pool, GFP_KERNEL) == NULL);
	CHECK(diag_from(before, "mempool_alloc", "atomic context"));
	before = diag_seen;
	errno = 0;
	CHECK(alloc_page(GFP_KERNEL) == NULL);
	CHECK(diag_from(before, "alloc_page", "atomic context"));
	CHECK_EQ(errno, EWOULDBLOCK);
	before = diag_seen;
	CHECK(alloc_pages(GFP_KERNEL, 2) == NULL);
	CHECK(diag_from(before, "alloc_pages", "atomic context"));
	before = diag_seen;
	CHECK(alloc_pages_node(0, GFP_KERNEL, 1) == NULL);
	CHECK(diag_from(before, "alloc_pages_node", "atomic context"));
	before = diag_seen;
	CHECK(pktmem_ext_cluster(GFP_KERNEL, NUMA_NO_NODE) == NULL);
	CHECK(diag_from(before, "pktmem_ext_cluster", "atomic context"));
	before = diag_seen;
	CHECK(pktmem_ext_alloc(100, GFP_KERNEL, NUMA_NO_NODE) == NULL);
	CHECK(diag_from(before, "pktmem_ext_alloc", "atomic context"));
	static char user_buf[16];

	before = diag_seen;
	errno = 0;
	CHECK(pktmem_ext_attach(user_buf, sizeof(user_buf), release_count, NULL, GFP_KERNEL) == NULL);
	CHECK(diag_from(before, "pktmem_ext_attach", "atomic context"));
	CHECK_EQ(errno, EWOULDBLOCK);
	CHECK_EQ(released, 0); /* the buffer stays the caller's */

	/* Non-waiting masks are served. */
	void *a = kmem_cache_alloc(c, GFP_ATOMIC), *m = mempool_alloc(pool, GFP_NOWAIT);
	void *k = kmalloc(1 << 20, GFP_ATOMIC);

	CHECK(a != NULL && m != NULL && k != NULL);
	pktmem_atomic_end();

	kfree(k);
	kmem_cache_free(c, a);
	kmem_cache_free(c, warm);
	mempool_free(m, pool);
	mempool_destroy(pool);
	CHECK_EQ(cache_in_use(c), 0);
	kmem_cache_destroy(c);
}

/* ------------------------------------------------------------ page.h */

static void test_bad_page_order_node(void)
{
	struct page *pg;

	/* Warm the page caches so that their statistics exist. */
	pg = alloc_page(GFP_KERNEL);
	CHECK(pg != NULL);
	__free_page(pg);
	long long desc = in_use_of("page-descriptor");

	errno = 0;
	CHECK(alloc_pages(GFP_KERNEL, MAX_PAGE_ORDER + 1) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(alloc_pages(GFP_KERNEL, UINT_MAX) == NULL); /* (unsigned)-1 */
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(alloc_pages_node(BAD_NODE, GFP_KERNEL, 0) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(alloc_pages_node(-2, GFP_KERNEL, 0) == NULL);
	CHECK_EQ(errno, EINVAL);
	CHECK_EQ(in_use_of("page-descriptor"), desc);

	/* alloc_page() under an injected fault: NULL, ENOMEM, nothing held. */
	CHECK_EQ(pktmem_fault_set(PKTMEM_FAULT_NTH, 2, 0), 0); /* the descriptor */
	errno = 0;
	CHECK(alloc_page(GFP_KERNEL) == NULL);
	CHECK_EQ(errno, ENOMEM);
	pktmem_fault_off();
	CHECK_EQ(in_use_of("page-descriptor"), desc);
	CHECK_EQ(in_use_of("page-order0"), 0);
}

static void test_bad_page_free(void)
{
	struct page *pg = alloc_pages(GFP_KERNEL, 1);
	char on_stack[sizeof(struct page)];
	unsigned long before = diag_seen;

	CHECK(pg != NULL);
	memset(page_address(pg), 0x3c, 64);
	__free_pages(pg, 0); /* wrong order */
	CHECK(diag_from(before, "__free_pages", "has order 1, freed as order 0"));
	CHECK_EQ(page_count(pg), 1);
	before = diag_seen;
	__free_page(pg); /* the same mistake */
	CHECK(diag_from(before, "__free_pages", "freed as order 0"));
	CHECK_EQ(page_count(pg), 1);
	CHECK(((unsigned char *)page_address(pg))[63] == 0x3c);
	CHECK(page_to_nid(pg) >= 0);

	/* A pointer that is no page descriptor: refused before it is read. */
	memset(on_stack, 0, sizeof(on_stack));
	before = diag_seen;
	__free_pages((struct page *)on_stack, 0);
	CHECK(diag_from(before, "__free_pages", "not a page descriptor"));
	void *m = malloc(sizeof(struct page));

	before = diag_seen;
	__free_page(m);
	CHECK(diag_from(before, "__free_pages", "not a page descriptor"));
	free(m);

	/* NULL is a no-op. */
	before = diag_seen;
	__free_pages(NULL, 3);
	__free_page(NULL);
	put_page(NULL);
	CHECK_EQ(diag_seen, before);

	__free_pages(pg, 1);
	CHECK_EQ(in_use_of("page-order1"), 0);
}

static void test_bad_page_double_put(void)
{
	struct page *pg = alloc_page(GFP_KERNEL);
	long long desc = in_use_of("page-descriptor");

	CHECK(pg != NULL);
	get_page(pg);
	CHECK_EQ(page_count(pg), 2);
	put_page(pg);
	put_page(pg); /* the last reference: freed */
	CHECK_EQ(in_use_of("page-descriptor"), desc - 1);
#if !defined(TEST_UNDER_ASAN)
	if (!TEST_UNDER_VALGRIND()) {
		/* A further put or get of the freed descriptor is refused. */
		unsigned long before = diag_seen;

		put_page(pg);
		CHECK(freed_put_or_get_seen(before, "put_page", "pktmem_ext_put", "released again"));
		before = diag_seen;
		get_page(pg);
		CHECK(freed_put_or_get_seen(before, "get_page", "pktmem_ext_get", "already released"));
		CHECK_EQ(pg->ext.ext_refs, released_count());
		before = diag_seen;
		__free_page(pg);
		CHECK(freed_put_or_get_seen(before, "__free_pages", "pktmem_ext_put", "released again"));
		CHECK_EQ(in_use_of("page-descriptor"), desc - 1);
		/* Nothing entered the free lists twice. */
		struct page *a = alloc_page(GFP_KERNEL), *b = alloc_page(GFP_KERNEL);

		CHECK(a != NULL && b != NULL && a != b);
		put_page(a);
		put_page(b);
	}
#endif
	CHECK_EQ(in_use_of("page-order0"), 0);
}

static void test_bad_page_view(void)
{
	struct pktmem_ext *e = pktmem_ext_alloc(1000, GFP_KERNEL, NUMA_NO_NODE);
	unsigned long before;
	char elsewhere[16];

	CHECK(e != NULL);
	before = diag_seen;
	CHECK(pktmem_page_view(NULL, elsewhere, 4, GFP_KERNEL) == NULL);
	CHECK(diag_from(before, "pktmem_page_view", "not inside storage"));
	before = diag_seen;
	CHECK(pktmem_page_view(e, elsewhere, 4, GFP_KERNEL) == NULL);
	CHECK(diag_from(before, "pktmem_page_view", "not inside storage"));
	before = diag_seen;
	CHECK(pktmem_page_view(e, e->ext_buf + 990, 11, GFP_KERNEL) == NULL); /* past the end */
	CHECK(diag_from(before, "pktmem_page_view", NULL));
	before = diag_seen;
	CHECK(pktmem_page_view(e, e->ext_buf + 10, SIZE_MAX, GFP_KERNEL) == NULL); /* wraps */
	CHECK(diag_from(before, "pktmem_page_view", NULL));
	before = diag_seen;
	CHECK(pktmem_page_view(e, e->ext_buf + 1001, 0, GFP_KERNEL) == NULL);
	CHECK(diag_from(before, "pktmem_page_view", NULL));
	CHECK_EQ(pktmem_ext_refs(e), 1); /* no reference taken by a refusal */

	/* The whole area, and an empty view at its end, are fine. */
	struct page *v = pktmem_page_view(e, e->ext_buf, 1000, GFP_KERNEL);
	struct page *z = pktmem_page_view(e, e->ext_buf + 1000, 0, GFP_KERNEL);

	CHECK(v != NULL && z != NULL);
	CHECK_EQ(pktmem_ext_refs(e), 3);
	CHECK(pktmem_page_storage(v) == e);
	CHECK(!pktmem_ext_writable(&v->ext)); /* the storage is shared */
	put_page(v);
	put_page(z);
	CHECK_EQ(pktmem_ext_refs(e), 1);

	/* A failed view leaves the storage untouched. */
	CHECK_EQ(pktmem_fault_set(PKTMEM_FAULT_NTH, 1, 0), 0);
	errno = 0;
	CHECK(pktmem_page_view(e, e->ext_buf, 8, GFP_KERNEL) == NULL);
	CHECK_EQ(errno, ENOMEM);
	pktmem_fault_off();
	CHECK_EQ(pktmem_ext_refs(e), 1);
	pktmem_ext_put(e, NULL);
}

/* ------------------------------------------------------------ ext.h */

static void test_bad_ext_alloc(void)
{
	long long cl = in_use_of("mbuf_cluster");

	errno = 0;
	CHECK(pktmem_ext_alloc(0, GFP_KERNEL, NUMA_NO_NODE) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(pktmem_ext_alloc(SIZE_MAX, GFP_KERNEL, NUMA_NO_NODE) == NULL); /* a negative length */
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(pktmem_ext_alloc(((size_t)1 << 40) + 1, GFP_KERNEL, NUMA_NO_NODE) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(pktmem_ext_alloc(64, GFP_KERNEL, BAD_NODE) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(pktmem_ext_cluster(GFP_KERNEL, BAD_NODE) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(pktmem_ext_cluster(GFP_KERNEL, -7) == NULL);
	CHECK_EQ(errno, EINVAL);
	if (cl >= 0)
		CHECK_EQ(in_use_of("mbuf_cluster"), cl);

	/* The cluster cache is a cache like any other; its limit is honoured. */
	struct kmem_cache *cc = pktmem_cluster_cache();

	CHECK(cc != NULL && strcmp(kmem_cache_name(cc), "mbuf_cluster") == 0);
	CHECK(pktmem_cluster_cache() == cc);
	struct pktmem_ext *held = pktmem_ext_cluster(GFP_KERNEL, NUMA_NO_NODE);

	CHECK(held != NULL);
	CHECK_EQ(kmem_cache_set_limit(cc, (size_t)cache_in_use(cc)), 0);
	errno = 0;
	CHECK(pktmem_ext_cluster(GFP_NOWAIT, NUMA_NO_NODE) == NULL);
	CHECK_EQ(errno, ENOMEM);
	CHECK_EQ(kmem_cache_set_limit(cc, 0), 0);
	pktmem_ext_put(held, NULL);
}

static void test_bad_ext_attach(void)
{
	static char buf[256];
	long long hdr = in_use_of("ext_header");

	released = 0;
	errno = 0;
	CHECK(pktmem_ext_attach(NULL, 10, release_count, NULL, GFP_KERNEL) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(pktmem_ext_attach(buf, sizeof(buf), NULL, NULL, GFP_KERNEL) == NULL);
	CHECK_EQ(errno, EINVAL);
	/* A failed header allocation: the buffer stays the caller's (no release). */
	CHECK_EQ(pktmem_fault_set(PKTMEM_FAULT_NTH, 1, 0), 0);
	errno = 0;
	CHECK(pktmem_ext_attach(buf, sizeof(buf), release_count, NULL, GFP_KERNEL) == NULL);
	CHECK_EQ(errno, ENOMEM);
	pktmem_fault_off();
	CHECK_EQ(released, 0);
	if (hdr >= 0)
		CHECK_EQ(in_use_of("ext_header"), hdr);
}

static void test_bad_ext_refs(void)
{
	static char buf[64];
	struct pktmem_ext *e = pktmem_ext_attach(buf, sizeof(buf), release_count, NULL, GFP_KERNEL);
	unsigned long before = diag_seen;

	released = 0;
	CHECK(e != NULL);
	CHECK(pktmem_ext_writable(e));
	pktmem_ext_set_readonly(e);
	pktmem_ext_set_readonly(e); /* twice: still just read-only */
	CHECK(!pktmem_ext_writable(e));
	CHECK_EQ(pktmem_ext_refs(e), 1);
	pktmem_ext_put(NULL, NULL); /* no-op */
	CHECK_EQ(diag_seen, before);
	pktmem_ext_put(e, NULL);
	CHECK_EQ(released, 1);
#if !defined(TEST_UNDER_ASAN)
	if (!TEST_UNDER_VALGRIND()) {
		/* A second put is refused, release not rerun. */
		pktmem_ext_put(e, NULL);
		CHECK(freed_put_or_get_seen(before, "pktmem_ext_put", "pktmem_ext_put",
					    "released again (reference count 0)"));
		CHECK_EQ(released, 1);
		before = diag_seen;
		pktmem_ext_get(e);
		CHECK(freed_put_or_get_seen(before, "pktmem_ext_get", "pktmem_ext_get", "reference count 0"));
		CHECK_EQ(pktmem_ext_refs(e), released_count()); /* the refused get took nothing */
	}
#endif
}

/* ------------------------------------------------------------ slab.h: create, destroy */

static void test_bad_cache_create(void)
{
	unsigned long before = diag_seen;

	errno = 0;
	CHECK(kmem_cache_create("bi", 0, 0, 0, NULL) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(kmem_cache_create("bi", (unsigned)-1, 0, 0, NULL) == NULL); /* a negative size */
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(kmem_cache_create("bi", (1u << 30) + 1, 0, 0, NULL) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(kmem_cache_create("bi", 64, 24, 0, NULL) == NULL); /* not a power of two */
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(kmem_cache_create("bi", 64, 0, 0x1, NULL) == NULL); /* unknown flag */
	CHECK_EQ(errno, EINVAL);
	CHECK_EQ(diag_seen, before); /* plain failures are no diagnostic */

	/* SLAB_PANIC turns the failure into a diagnostic naming the values. */
	errno = 0;
	CHECK(kmem_cache_create("bi-panic", 0, 0, SLAB_PANIC, NULL) == NULL);
	CHECK(diag_from(before, "kmem_cache_create", "'bi-panic' (size 0"));
	CHECK_EQ(errno, EINVAL);

	/* A NULL name is accepted and labelled. */
	struct kmem_cache *c = kmem_cache_create(NULL, 8, 0, 0, NULL);

	CHECK(c != NULL && strcmp(kmem_cache_name(c), "(unnamed)") == 0);
	kmem_cache_destroy(c);
}

static void test_bad_cache_destroy(void)
{
	struct kmem_cache *c = kmem_cache_create("bi-destroy", 64, 0, 0, NULL);
	unsigned char *x = kmem_cache_alloc(c, GFP_KERNEL), *y = kmem_cache_alloc(c, GFP_KERNEL);
	unsigned long before = diag_seen;

	memset(x, 0xa5, 64);
	kmem_cache_destroy(c);
	CHECK(diag_from(before, "kmem_cache_destroy", "'bi-destroy' still has 2 objects in use"));
	/* Kept: the objects stay valid and the cache usable. */
	CHECK(x[0] == 0xa5 && x[63] == 0xa5);
	CHECK_EQ(cache_in_use(c), 2);
	CHECK_EQ(kmem_cache_size(c), 64);
	kmem_cache_free(c, x);
	before = diag_seen;
	kmem_cache_destroy(c); /* still one */
	CHECK(diag_from(before, "kmem_cache_destroy", "1 objects in use"));
	kmem_cache_free(c, y);
	before = diag_seen;
	kmem_cache_destroy(c);
	kmem_cache_destroy(NULL);
	CHECK_EQ(diag_seen, before);
}

/* ------------------------------------------------------------ slab.h: alloc */

static void test_bad_cache_alloc(void)
{
	struct kmem_cache *c = kmem_cache_create("bi-alloc", 48, 0, 0, NULL);
	struct kmem_cache *k = kmem_cache_create("bi-ctor", 48, 0, 0, ctor_mark);
	unsigned long before;
	void *bulk[8];

	errno = 0;
	CHECK(kmem_cache_alloc_node(c, GFP_KERNEL, BAD_NODE) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(kmem_cache_alloc_node(c, GFP_KERNEL, -2) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(kmem_cache_alloc_node(c, GFP_KERNEL, INT_MAX) == NULL);
	CHECK_EQ(errno, EINVAL);

	/* __GFP_ZERO on a cache with a constructor would wipe the constructed state. */
	before = diag_seen;
	errno = 0;
	CHECK(kmem_cache_alloc(k, GFP_KERNEL | __GFP_ZERO) == NULL);
	CHECK(diag_from(before, "kmem_cache_alloc", "'bi-ctor' has a constructor"));
	CHECK_EQ(errno, EINVAL);
	before = diag_seen;
	CHECK(kmem_cache_zalloc(k, GFP_KERNEL) == NULL);
	CHECK(diag_from(before, "kmem_cache_zalloc", "constructor"));
	before = diag_seen;
	CHECK(kmem_cache_alloc_node(k, GFP_KERNEL | __GFP_ZERO, 0) == NULL);
	CHECK(diag_from(before, "kmem_cache_alloc_node", "constructor"));
	before = diag_seen;
	CHECK_EQ(kmem_cache_alloc_bulk(k, GFP_KERNEL | __GFP_ZERO, 2, bulk), 0);
	CHECK(diag_from(before, "kmem_cache_alloc_bulk", "constructor"));

	/* Bulk: NULL cache or array, and zero objects. */
	before = diag_seen;
	CHECK_EQ(kmem_cache_alloc_bulk(NULL, GFP_KERNEL, 2, bulk), 0);
	CHECK(diag_from(before, "kmem_cache_alloc_bulk", "nr 2"));
	before = diag_seen;
	CHECK_EQ(kmem_cache_alloc_bulk(c, GFP_KERNEL, 2, NULL), 0);
	CHECK(diag_from(before, "kmem_cache_alloc_bulk", NULL));
	before = diag_seen;
	CHECK_EQ(kmem_cache_alloc_bulk(c, GFP_KERNEL, 0, NULL), 0);
	CHECK_EQ(diag_seen, before);
	/* Bulk beyond the limit: all or nothing. */
	kmem_cache_set_limit(c, 4);
	errno = 0;
	CHECK_EQ(kmem_cache_alloc_bulk(c, GFP_KERNEL, 5, bulk), 0); /* can never fit: no wait */
	CHECK_EQ(errno, ENOMEM);
	CHECK_EQ(cache_in_use(c), 0);
	kmem_cache_set_limit(c, 0);

	CHECK_EQ(cache_in_use(c), 0);
	CHECK_EQ(cache_in_use(k), 0);
	kmem_cache_destroy(c);
	kmem_cache_destroy(k);
}

/* ------------------------------------------------------------ slab.h: free */

static void test_bad_cache_free(void)
{
	struct kmem_cache *a = kmem_cache_create("bi-free-a", 64, 0, 0, NULL);
	struct kmem_cache *b = kmem_cache_create("bi-free-b", 64, 0, 0, NULL);
	char on_stack[64];
	void *x = kmem_cache_alloc(a, GFP_KERNEL), *m = malloc(64);
	unsigned long before = diag_seen;

	kmem_cache_free(a, NULL); /* no-op */
	CHECK_EQ(diag_seen, before);
	kmem_cache_free(NULL, x);
	CHECK(diag_from(before, "kmem_cache_free", "NULL cache"));
	before = diag_seen;
	kmem_cache_free(b, x);
	CHECK(diag_from(before, "kmem_cache_free", "is not an object of cache 'bi-free-b' (it belongs to bi-free-a)"));
	before = diag_seen;
	kmem_cache_free(a, on_stack);
	CHECK(diag_from(before, "kmem_cache_free", "no pktmem cache"));
	before = diag_seen;
	kmem_cache_free(a, m);
	CHECK(diag_from(before, "kmem_cache_free", "no pktmem cache"));
	before = diag_seen;
	kmem_cache_free(a, (char *)x + 1);
	CHECK(diag_from(before, "kmem_cache_free", "inside an object of cache 'bi-free-a'"));
	CHECK_EQ(cache_in_use(a), 1);
	CHECK_EQ(cache_in_use(b), 0);

	/* Bulk: NULL cache / array refused; NULL and foreign entries skipped, the rest freed. */
	void *arr[4] = { x, NULL, on_stack, m };

	before = diag_seen;
	kmem_cache_free_bulk(NULL, 4, arr);
	CHECK(diag_from(before, "kmem_cache_free_bulk", "nr 4"));
	before = diag_seen;
	kmem_cache_free_bulk(a, 4, NULL);
	CHECK(diag_from(before, "kmem_cache_free_bulk", NULL));
	before = diag_seen;
	kmem_cache_free_bulk(a, 0, NULL);
	CHECK_EQ(diag_seen, before);
	kmem_cache_free_bulk(a, 4, arr);
	CHECK_EQ(diag_seen, before + 2); /* the stack and the malloc pointer */
	CHECK(strcmp(diag_last_func, "kmem_cache_free_bulk") == 0);
	CHECK_EQ(cache_in_use(a), 0);
	free(m);
	kmem_cache_destroy(a);
	kmem_cache_destroy(b);
}

/* Debug mode off: the commonest double free (freeing the object freed last again) is caught. */
static void test_bad_double_free_fast(void)
{
	struct kmem_cache *c = kmem_cache_create("bi-double-fast", 64, 0, 0, NULL);
	struct pktmem_stats st;
	unsigned long before;

	bool was = debug_mode_set(false); /* PKTMEM_DEBUG=1 turned it on: this is normal mode's check */

	CHECK(!pktmem_debug_enabled());
	void *p = kmem_cache_alloc(c, GFP_KERNEL), *q = kmalloc(40, GFP_KERNEL);

	kmem_cache_free(c, p);
	before = diag_seen;
	kmem_cache_free(c, p);
	CHECK(diag_from(before, "kmem_cache_free", "freed twice"));
	kmem_cache_stats(c, &st);
	CHECK_EQ(st.frees, 1);
	kfree(q);
	before = diag_seen;
	kfree(q);
	CHECK(diag_from(before, "kmem_cache_free", "freed twice"));
	/* Each object comes back once. */
	void *a = kmem_cache_alloc(c, GFP_KERNEL), *b = kmem_cache_alloc(c, GFP_KERNEL);

	CHECK(a != b);
	kmem_cache_free(c, a);
	kmem_cache_free(c, b);
	CHECK_EQ(cache_in_use(c), 0);
	kmem_cache_destroy(c);
	pktmem_debug_set(was);
}

/* Counts no array can hold: refused before any size computation wraps. */
static void test_bad_huge_counts(void)
{
	struct kmem_cache *c = kmem_cache_create("bi-huge", 64, 0, 0, NULL);
	void *arr[4] = { NULL, NULL, NULL, NULL };
	unsigned long before = diag_seen;

	CHECK_EQ(kmem_cache_alloc_bulk(c, GFP_KERNEL, (size_t)INT_MAX + 1, arr), 0);
	CHECK(diag_from(before, "kmem_cache_alloc_bulk", "at most INT_MAX"));
	before = diag_seen;
	CHECK_EQ(kmem_cache_alloc_bulk(c, GFP_KERNEL, SIZE_MAX, arr), 0);
	CHECK(diag_from(before, "kmem_cache_alloc_bulk", "at most INT_MAX"));
	CHECK(arr[0] == NULL && arr[3] == NULL);

	/* A reserve of 2, then sizes whose byte counts wrap: -ENOMEM, the 2 kept. */
	CHECK_EQ(kmem_cache_set_reserve(c, 2), 0);
	CHECK_EQ(kmem_cache_set_reserve(c, SIZE_MAX / 8 + 2), -ENOMEM);
	CHECK_EQ(kmem_cache_set_reserve(c, SIZE_MAX), -ENOMEM);
	struct pktmem_stats st;

	kmem_cache_stats(c, &st);
	CHECK_EQ(st.reserve, 2);
	/* The cache still works, its reserve included. */
	void *x = kmem_cache_alloc(c, GFP_KERNEL);

	CHECK(x != NULL);
	kmem_cache_free(c, x);
	CHECK_EQ(kmem_cache_set_reserve(c, 0), 0);
	CHECK_EQ(cache_in_use(c), 0);
	kmem_cache_destroy(c);
}

static void test_bad_double_free_debug(void)
{
	struct kmem_cache *c = kmem_cache_create("bi-double", 64, 0, 0, NULL);
	struct pktmem_stats st;
	unsigned long before;

	bool was = debug_mode_set(true);
	void *p = kmem_cache_alloc(c, GFP_KERNEL), *q = kmalloc(40, GFP_KERNEL);

	kmem_cache_free(c, p);
	before = diag_seen;
	kmem_cache_free(c, p);
	CHECK(diag_from(before, "kmem_cache_free", "double free"));
	void *arr[1] = { p };

	before = diag_seen;
	kmem_cache_free_bulk(c, 1, arr);
	CHECK(diag_from(before, "kmem_cache_free_bulk", "double free"));
	kmem_cache_stats(c, &st);
	CHECK_EQ(st.frees, 1);
	kfree(q);
	before = diag_seen;
	kfree(q); /* kfree() hands a size-class block to its cache, which names itself */
	CHECK(diag_from(before, "kmem_cache_free", "double free"));
	CHECK(strstr(diag_last_msg, "cache 'kmalloc-64'") != NULL);
	/* Each object comes back once. */
	void *a = kmem_cache_alloc(c, GFP_KERNEL), *b = kmem_cache_alloc(c, GFP_KERNEL);

	CHECK(a != b);
	kmem_cache_free(c, a);
	kmem_cache_free(c, b);
	pktmem_debug_set(was);
	CHECK_EQ(cache_in_use(c), 0);
	kmem_cache_destroy(c);
}

/* ------------------------------------------------------------ slab.h: set_limit, reserve, queries */

static void test_bad_cache_params(void)
{
	struct kmem_cache *c = kmem_cache_create("bi-params", 32, 0, 0, NULL);
	void *o[3];

	CHECK_EQ(kmem_cache_set_limit(NULL, 4), -EINVAL);
	CHECK_EQ(kmem_cache_set_reserve(NULL, 4), -EINVAL);
	CHECK_EQ(kmem_cache_shrink(NULL), 0);
	CHECK_EQ(kmem_cache_size(NULL), 0);
	CHECK(kmem_cache_name(NULL) == NULL);

	/* A limit below the number in use frees nothing; non-waiting allocations fail until frees. */
	for (int i = 0; i < 3; i++)
		o[i] = kmem_cache_alloc(c, GFP_KERNEL);
	CHECK_EQ(kmem_cache_set_limit(c, 1), 0);
	CHECK_EQ(cache_in_use(c), 3);
	errno = 0;
	CHECK(kmem_cache_alloc(c, GFP_NOWAIT) == NULL);
	CHECK_EQ(errno, ENOMEM);
	kmem_cache_free(c, o[0]);
	kmem_cache_free(c, o[1]);
	CHECK(kmem_cache_alloc(c, GFP_NOWAIT) == NULL); /* 1 in use, limit 1 */
	kmem_cache_free(c, o[2]);
	o[0] = kmem_cache_alloc(c, GFP_NOWAIT);
	CHECK(o[0] != NULL);
	kmem_cache_free(c, o[0]);
	CHECK_EQ(kmem_cache_set_limit(c, 0), 0);

	/* A reserve too large to hold: -ENOMEM, the cache keeps what it had. */
	CHECK_EQ(kmem_cache_set_reserve(c, 2), 0);
	CHECK_EQ(kmem_cache_set_reserve(c, (size_t)1 << 40), -ENOMEM);
	CHECK_EQ(kmem_cache_set_reserve(c, SIZE_MAX), -ENOMEM);
	struct pktmem_stats st;

	kmem_cache_stats(c, &st);
	CHECK_EQ(st.reserve, 2);
	CHECK_EQ(st.reserve_max, 2);
	CHECK_EQ(kmem_cache_set_reserve(c, 0), 0);
	CHECK_EQ(kmem_cache_shrink(c), 0);
	CHECK_EQ(cache_in_use(c), 0);
	kmem_cache_destroy(c);
}

/* ------------------------------------------------------------ slab.h: kmalloc */

static void test_bad_kmalloc_sizes(void)
{
	void *p;

	p = kmalloc(0, GFP_KERNEL);
	CHECK(p != NULL && p == kzalloc(0, GFP_KERNEL));
	CHECK_EQ(ksize(p), 0);
	kfree(p); /* accepted */
	errno = 0;
	CHECK(kmalloc(SIZE_MAX, GFP_KERNEL) == NULL); /* a negative length */
	CHECK_EQ(errno, ENOMEM);
	errno = 0;
	CHECK(kzalloc((size_t)-4096, GFP_KERNEL) == NULL);
	CHECK_EQ(errno, ENOMEM);
	errno = 0;
	CHECK(kmalloc_node(SIZE_MAX - 1, GFP_KERNEL, 0) == NULL);
	CHECK_EQ(errno, ENOMEM);
	errno = 0;
	CHECK(kmalloc_node(64, GFP_KERNEL, BAD_NODE) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(kmalloc_node(1 << 20, GFP_KERNEL, -3) == NULL);
	CHECK_EQ(errno, EINVAL);
	CHECK(kmalloc_node(0, GFP_KERNEL, BAD_NODE) == p); /* the size is looked at first */
	CHECK_EQ(in_use_of("kmalloc-64"), 0);
}

static void test_bad_kfree_ksize(void)
{
	char on_stack[64];
	char *m = malloc(64), *small = kmalloc(100, GFP_KERNEL), *big = kmalloc(1 << 20, GFP_KERNEL);
	unsigned long before = diag_seen;
	struct kmem_cache *c = kmem_cache_create("bi-kfree", 200, 0, 0, NULL);
	void *obj = kmem_cache_alloc(c, GFP_KERNEL);

	kfree(NULL);
	CHECK_EQ(ksize(NULL), 0);
	CHECK_EQ(diag_seen, before);

	kfree(m);
	CHECK(diag_from(before, "kfree", "was not allocated by kmalloc()"));
	before = diag_seen;
	kfree(on_stack);
	CHECK(diag_from(before, "kfree", "was not allocated by kmalloc()"));
	before = diag_seen;
	CHECK_EQ(ksize(m), 0);
	CHECK(diag_from(before, "ksize", "was not allocated by kmalloc()"));
	before = diag_seen;
	CHECK_EQ(ksize(on_stack), 0);
	CHECK(diag_from(before, "ksize", NULL));

	/* Interior pointers. */
	before = diag_seen;
	kfree(small + 16); /* handed to its cache, which names itself */
	CHECK(diag_from(before, "kmem_cache_free", "inside an object of cache 'kmalloc-128'"));
	before = diag_seen;
	kfree(big + 4096);
	CHECK(diag_from(before, "kfree", "points inside a 1048576-byte kmalloc block"));
	before = diag_seen;
	CHECK_EQ(ksize(small + 16), 0);
	CHECK(diag_from(before, "ksize", "inside a kmalloc block"));
	before = diag_seen;
	CHECK_EQ(ksize(big + 4096), 0);
	CHECK(diag_from(before, "ksize", "inside a kmalloc block"));
	CHECK(ksize(small) >= 100 && ksize(big) >= 1 << 20);
	small[99] = 1; /* still ours */

	/* Objects of any kmem_cache are accepted, as in Linux. */
	before = diag_seen;
	CHECK_EQ(ksize(obj), 200);
	kfree(obj);
	CHECK_EQ(diag_seen, before);
	CHECK_EQ(cache_in_use(c), 0);

	/* A large block freed twice: its mapping is gone, the second kfree is refused. */
	kfree(big);
	before = diag_seen;
	kfree(big);
	CHECK(diag_from(before, "kfree", "was not allocated by kmalloc()"));
	before = diag_seen;
	CHECK_EQ(ksize(big), 0);
	CHECK(diag_from(before, "ksize", NULL));

	kfree(small);
	free(m);
	kmem_cache_destroy(c);
}

/* ------------------------------------------------------------ mempool.h */

static void *never_alloc(gfp_t gfp, void *data)
{
	(void)gfp;
	(void)data;
	return NULL;
}

static void never_free(void *e, void *data)
{
	(void)e;
	(void)data;
}

static void test_bad_mempool_create(void)
{
	mempool_t pool, zero;
	struct kmem_cache *c = kmem_cache_create("bi-pool-create", 32, 0, 0, NULL);

	memset(&pool, 0x5a, sizeof(pool));
	CHECK_EQ(mempool_init_node(NULL, 1, mempool_kmalloc, mempool_kfree, (void *)64, GFP_KERNEL, NUMA_NO_NODE),
		 -EINVAL);
	CHECK_EQ(mempool_init(&pool, -1, mempool_kmalloc, mempool_kfree, (void *)64), -EINVAL);
	CHECK_EQ(mempool_init(&pool, 1, NULL, mempool_kfree, (void *)64), -EINVAL);
	CHECK_EQ(mempool_init(&pool, 1, mempool_kmalloc, NULL, (void *)64), -EINVAL);
	CHECK_EQ(mempool_init_node(&pool, 1, mempool_kmalloc, mempool_kfree, (void *)64, GFP_KERNEL, BAD_NODE),
		 -EINVAL);
	CHECK_EQ(mempool_init_node(&pool, 1, mempool_kmalloc, mempool_kfree, (void *)64, GFP_KERNEL, -2), -EINVAL);
	CHECK_EQ(((unsigned char *)&pool)[0], 0x5a); /* refused before anything was written */

	errno = 0;
	CHECK(mempool_create(-5, mempool_kmalloc, mempool_kfree, (void *)64) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(mempool_create(1, NULL, NULL, NULL) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(mempool_create_node(1, mempool_kmalloc, mempool_kfree, (void *)64, GFP_KERNEL, BAD_NODE) == NULL);
	CHECK_EQ(errno, EINVAL);

	/* The ready pools. */
	errno = 0;
	CHECK(mempool_create_slab_pool(1, NULL) == NULL);
	CHECK_EQ(errno, EINVAL);
	CHECK_EQ(mempool_init_slab_pool(&pool, 1, NULL), -EINVAL);
	CHECK_EQ(mempool_init_slab_pool(&pool, -1, c), -EINVAL);
	errno = 0;
	CHECK(mempool_create_slab_pool(-1, c) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(mempool_create_kmalloc_pool(1, 0) == NULL);
	CHECK_EQ(errno, EINVAL);
	CHECK_EQ(mempool_init_kmalloc_pool(&pool, 1, 0), -EINVAL);
	errno = 0;
	CHECK(mempool_create_kmalloc_pool(1, SIZE_MAX) == NULL); /* the reserve cannot be filled */
	CHECK_EQ(errno, ENOMEM);
	CHECK_EQ(mempool_init_kmalloc_pool(&pool, 2, SIZE_MAX), -ENOMEM);
	CHECK(!mempool_initialized(&pool)); /* a failed init leaves the pool zeroed */
	errno = 0;
	CHECK(mempool_create_page_pool(1, -1) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(mempool_create_page_pool(1, MAX_PAGE_ORDER + 1) == NULL);
	CHECK_EQ(errno, EINVAL);
	CHECK_EQ(mempool_init_page_pool(&pool, 1, -1), -EINVAL);
	CHECK_EQ(mempool_init_page_pool(&pool, 1, 99), -EINVAL);

	/* Allocator dry at creation: -ENOMEM / NULL, nothing kept. */
	CHECK_EQ(mempool_init(&pool, 2, never_alloc, never_free, NULL), -ENOMEM);
	CHECK(!mempool_initialized(&pool));
	errno = 0;
	CHECK(mempool_create(2, never_alloc, never_free, NULL) == NULL);
	CHECK_EQ(errno, ENOMEM);

	/* Queries and teardown of NULL, zeroed and exited pools. */
	memset(&zero, 0, sizeof(zero));
	CHECK(!mempool_initialized(NULL));
	CHECK(!mempool_initialized(&zero));
	unsigned long before = diag_seen;

	mempool_exit(NULL);
	mempool_exit(&zero);
	mempool_destroy(NULL);
	CHECK_EQ(diag_seen, before);
	CHECK_EQ(mempool_init_slab_pool(&pool, 1, c), 0);
	CHECK(mempool_initialized(&pool));
	CHECK(mempool_is_saturated(&pool));
	mempool_exit(&pool);
	mempool_exit(&pool); /* twice */
	CHECK(!mempool_initialized(&pool));
	CHECK_EQ(diag_seen, before);
	CHECK_EQ(mempool_is_saturated(NULL), 0);
	CHECK(diag_from(before, "mempool_is_saturated", "NULL pool"));
	CHECK_EQ(cache_in_use(c), 0);
	kmem_cache_destroy(c);
}

static void test_bad_mempool_alloc(void)
{
	struct kmem_cache *c = kmem_cache_create("bi-pool-alloc", 32, 0, 0, NULL);
	mempool_t *pool = mempool_create_slab_pool(2, c), zero;
	unsigned long before = diag_seen;
	struct pktmem_stats st;

	/* __GFP_ZERO: Linux warns (and zeroes only what the allocator gives); we refuse. */
	CHECK(mempool_alloc(pool, GFP_KERNEL | __GFP_ZERO) == NULL);
	CHECK(diag_from(before, "mempool_alloc", "__GFP_ZERO is not supported"));
	before = diag_seen;
	CHECK(mempool_alloc(pool, GFP_ATOMIC | __GFP_ZERO) == NULL);
	CHECK(diag_from(before, "mempool_alloc", "gfp_mask 0x102"));
	before = diag_seen;
	CHECK(mempool_alloc(NULL, GFP_KERNEL) == NULL);
	CHECK(diag_from(before, "mempool_alloc", "not initialised"));
	memset(&zero, 0, sizeof(zero));
	before = diag_seen;
	CHECK(mempool_alloc(&zero, GFP_KERNEL) == NULL);
	CHECK(diag_from(before, "mempool_alloc", "not initialised"));
	mempool_stats(pool, &st);
	CHECK_EQ(st.allocs, 0);
	CHECK_EQ(st.reserve, 2);

	/* The ready pools' allocators given bad data. */
	errno = 0;
	CHECK(mempool_alloc_pages(GFP_KERNEL, (void *)(intptr_t)(MAX_PAGE_ORDER + 1)) == NULL);
	CHECK_EQ(errno, EINVAL);
	CHECK(mempool_kmalloc(GFP_KERNEL, (void *)0) == kmalloc(0, GFP_KERNEL)); /* ZERO_SIZE_PTR */
	errno = 0;
	CHECK(mempool_kmalloc(GFP_KERNEL, (void *)SIZE_MAX) == NULL);
	CHECK_EQ(errno, ENOMEM);
	void *s = mempool_alloc_slab(GFP_KERNEL | __GFP_NORETRY, c);

	CHECK(s != NULL);
	before = diag_seen;
	mempool_free_slab(s, NULL);
	CHECK(diag_from(before, "kmem_cache_free", "NULL cache"));
	mempool_free_slab(s, c);

	mempool_destroy(pool);
	CHECK_EQ(cache_in_use(c), 0);
	kmem_cache_destroy(c);
}

static void test_bad_mempool_free(void)
{
	struct kmem_cache *c = kmem_cache_create("bi-pool-free", 32, 0, 0, NULL);
	struct kmem_cache *other = kmem_cache_create("bi-pool-other", 32, 0, 0, NULL);
	mempool_t *pool = mempool_create_slab_pool(2, c);
	mempool_t *kpool = mempool_create_kmalloc_pool(1, 512);
	char on_stack[32];
	struct pktmem_stats st;
	unsigned long before = diag_seen;

	void *a = mempool_alloc(pool, GFP_KERNEL), *b = mempool_alloc(pool, GFP_KERNEL);
	void *o = kmem_cache_alloc(other, GFP_KERNEL);

	mempool_free(NULL, pool); /* no-op */
	CHECK_EQ(diag_seen, before);
	mempool_free(a, NULL);
	CHECK(diag_from(before, "mempool_free", "not initialised"));

	/* Drain the reserve so that frees go into it: the road a foreign pointer must not take. */
	void *r1, *r2;

	CHECK_EQ(pktmem_fault_set(PKTMEM_FAULT_EVERY, 1, 0), 0); /* the allocator is dry */
	r1 = mempool_alloc(pool, GFP_NOWAIT);
	r2 = mempool_alloc(pool, GFP_NOWAIT);
	pktmem_fault_off();
	CHECK(r1 != NULL && r2 != NULL);
	mempool_stats(pool, &st);
	CHECK_EQ(st.reserve, 0);
	CHECK_EQ(st.in_use, 4);
	before = diag_seen;
	mempool_free(on_stack, pool);
	CHECK(diag_from(before, "mempool_free", "is not an element of pool"));
	before = diag_seen;
	mempool_free(o, pool); /* an object of another cache */
	CHECK(diag_from(before, "mempool_free", "mempool(slab:bi-pool-free)"));
	before = diag_seen;
	mempool_free((char *)a + 4, pool);
	CHECK(diag_from(before, "mempool_free", NULL));
	mempool_stats(pool, &st);
	CHECK_EQ(st.reserve, 0);
	CHECK_EQ(st.in_use, 4);
	CHECK_EQ(st.frees, 0);

	/* A double free into the reserve is caught: the element would be handed out twice. */
	mempool_free(r2, pool);
	before = diag_seen;
	mempool_free(r2, pool);
	CHECK(diag_from(before, "mempool_free", "double free"));
	mempool_stats(pool, &st);
	CHECK_EQ(st.reserve, 1);
	CHECK_EQ(st.in_use, 3);
	CHECK_EQ(st.frees, 1);
	void *again = mempool_alloc(pool, GFP_NOWAIT), *other_one = mempool_alloc(pool, GFP_NOWAIT);

	CHECK(again != other_one);
	mempool_free(again, pool);
	mempool_free(other_one, pool);

	/* kmalloc pools: a smaller block or a foreign one is refused. */
	void *small = kmalloc(64, GFP_KERNEL), *k = mempool_alloc(kpool, GFP_KERNEL);

	before = diag_seen;
	mempool_free(small, kpool);
	CHECK(diag_from(before, "mempool_free", "mempool(kmalloc-512)"));
	before = diag_seen;
	mempool_free(on_stack, kpool);
	CHECK(diag_from(before, "mempool_free", NULL));
	mempool_free(k, kpool);
	kfree(small);

	/* A pool after mempool_exit(): refused, the element stays the caller's. */
	mempool_t emb;

	CHECK_EQ(mempool_init_slab_pool(&emb, 1, c), 0);
	void *e = mempool_alloc(&emb, GFP_KERNEL);

	mempool_exit(&emb);
	before = diag_seen;
	mempool_free(e, &emb);
	CHECK(diag_from(before, "mempool_free", "not initialised"));
	kmem_cache_free(c, e);

	/* The page pool's free routine checks the order and the descriptor. */
	struct page *pg = mempool_alloc_pages(GFP_KERNEL, (void *)1);

	CHECK(pg != NULL);
	before = diag_seen;
	mempool_free_pages(pg, (void *)0);
	CHECK(diag_from(before, "__free_pages", "freed as order 0"));
	before = diag_seen;
	mempool_free_pages(on_stack, (void *)0);
	CHECK(diag_from(before, "__free_pages", "not a page descriptor"));
	mempool_free_pages(pg, (void *)1);
	before = diag_seen;
	mempool_kfree(on_stack, NULL);
	CHECK(diag_from(before, "kfree", NULL));

	mempool_free(a, pool);
	mempool_free(b, pool);
	mempool_free(r1, pool);
	mempool_destroy(pool);
	mempool_destroy(kpool);
	kmem_cache_free(other, o);
	CHECK_EQ(cache_in_use(c), 0);
	CHECK_EQ(cache_in_use(other), 0);
	CHECK_EQ(in_use_of("kmalloc-512"), 0);
	kmem_cache_destroy(c);
	kmem_cache_destroy(other);
}

static void test_bad_mempool_resize(void)
{
	struct kmem_cache *c = kmem_cache_create("bi-pool-resize", 32, 0, 0, NULL);
	mempool_t *pool = mempool_create_slab_pool(4, c), zero;
	struct pktmem_stats st;
	void *e[6];

	memset(&zero, 0, sizeof(zero));
	CHECK_EQ(mempool_resize(NULL, 2), -EINVAL);
	CHECK_EQ(mempool_resize(&zero, 2), -EINVAL);
	/* Linux BUG()s on a target <= 0; we refuse and keep the pool as it was. */
	CHECK_EQ(mempool_resize(pool, 0), -EINVAL);
	CHECK_EQ(mempool_resize(pool, -3), -EINVAL);
	CHECK_EQ(mempool_resize(pool, INT_MIN), -EINVAL);
	mempool_stats(pool, &st);
	CHECK_EQ(st.reserve, 4);
	CHECK_EQ(st.reserve_max, 4);

	/* Below the number in use: allowed; the surplus reserve goes, frees stop refilling at 1. */
	for (int i = 0; i < 6; i++)
		e[i] = mempool_alloc(pool, GFP_KERNEL);
	CHECK_EQ(mempool_resize(pool, 1), 0);
	mempool_stats(pool, &st);
	CHECK_EQ(st.in_use, 6);
	CHECK_EQ(st.reserve, 1);
	CHECK_EQ(st.reserve_max, 1);
	for (int i = 0; i < 6; i++)
		mempool_free(e[i], pool);
	mempool_stats(pool, &st);
	CHECK_EQ(st.in_use, 0);
	CHECK_EQ(st.reserve, 1);
	CHECK_EQ(cache_in_use(c), 1);

	/* No memory for the larger array: -ENOMEM, the pool as it was. */
	CHECK_EQ(pktmem_fault_set(PKTMEM_FAULT_EVERY, 1, 0), 0);
	CHECK_EQ(mempool_resize(pool, 3), -ENOMEM);
	pktmem_fault_off();
	mempool_stats(pool, &st);
	CHECK_EQ(st.reserve_max, 1);
	CHECK_EQ(st.reserve, 1);

	/* Growing with a dry allocator: 0, the target stands (Linux's choice). */
	CHECK_EQ(pktmem_fault_set(PKTMEM_FAULT_NTH, 2, 0), 0); /* the array, then the first element */
	CHECK_EQ(mempool_resize(pool, 3), 0);
	pktmem_fault_off();
	mempool_stats(pool, &st);
	CHECK_EQ(st.reserve_max, 3);
	CHECK(!mempool_is_saturated(pool));

	mempool_destroy(pool);
	CHECK_EQ(cache_in_use(c), 0);
	kmem_cache_destroy(c);
}

/* ------------------------------------------------------------ pktmem.h */

static int stop_at_first(const struct pktmem_stats *st, void *arg)
{
	(void)st;
	++*(int *)arg;
	return 7;
}

static void test_bad_stats_args(void)
{
	struct kmem_cache *c = kmem_cache_create("bi-stats", 32, 0, 0, NULL);
	mempool_t zero;
	struct pktmem_stats st;
	int calls = 0;

	memset(&zero, 0, sizeof(zero));
	CHECK_EQ(kmem_cache_stats(NULL, &st), -EINVAL);
	CHECK_EQ(kmem_cache_stats(c, NULL), -EINVAL);
	CHECK_EQ(mempool_stats(NULL, &st), -EINVAL);
	CHECK_EQ(mempool_stats(&zero, &st), -EINVAL);
	CHECK_EQ(pktmem_stats_walk(NULL, NULL), -EINVAL);
	CHECK_EQ(pktmem_stats_walk(stop_at_first, &calls), 7);
	CHECK_EQ(calls, 1);

	/* JSON into a buffer: NULL with a size, NULL with none, too small. */
	CHECK_EQ(pktmem_stats_json_buf(NULL, 10), -EINVAL);
	int len = pktmem_stats_json_buf(NULL, 0);

	CHECK(len > 10);
	char small[8];

	memset(small, 'x', sizeof(small));
	CHECK_EQ(pktmem_stats_json_buf(small, sizeof(small)), len);
	CHECK(small[7] == '\0' && strlen(small) == 7);
	CHECK_EQ(pktmem_stats_json_buf(small, 1), len);
	CHECK(small[0] == '\0');

	/* A stream that fails every write. */
	FILE *full = fopen("/dev/full", "w");

	if (full) {
		setvbuf(full, NULL, _IONBF, 0);
		CHECK_EQ(pktmem_stats_json(full), -EIO);
		fclose(full);
	}
	/* NULL streams mean stdout (sent to /dev/null here, and checked it was written). */
	char path[] = "/tmp/bi-stats-XXXXXX";
	int fd = mkstemp(path), saved = dup(1);

	CHECK(fd >= 0 && saved >= 0);
	fflush(stdout);
	dup2(fd, 1);
	CHECK_EQ(pktmem_stats_json(NULL), 0);
	pktmem_stats_print(NULL);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	char text[256] = "";

	CHECK(pread(fd, text, sizeof(text) - 1, 0) > 0);
	CHECK(strncmp(text, "{", 1) == 0 && strstr(text, "pktmem-stats") != NULL);
	close(fd);
	unlink(path);
	kmem_cache_destroy(c);
}

static void other_handler(const char *func, const char *msg, void *arg)
{
	(void)func;
	(void)msg;
	++*(int *)arg;
}

static void test_bad_diag_handler(void)
{
	int hits = 0;
	unsigned long count = pktmem_diag_count();
	pktmem_diag_handler_t prev = pktmem_set_diag_handler(other_handler, &hits);

	CHECK(prev == counting_diag);
	/* The pair in place comes back together, and a NULL argp stores nothing. */
	void *arg = NULL;

	CHECK(pktmem_get_diag_handler(&arg) == other_handler);
	CHECK(arg == &hits);
	CHECK(pktmem_get_diag_handler(NULL) == other_handler);
	pktmem_atomic_end(); /* raise one */
	CHECK_EQ(hits, 1);
	CHECK_EQ(pktmem_diag_count(), count + 1);
	/* NULL restores the default (which aborts): what comes back is not ours. */
	prev = pktmem_set_diag_handler(NULL, NULL);
	CHECK(prev == other_handler);
	arg = &hits;
	pktmem_diag_handler_t dflt = pktmem_get_diag_handler(&arg);

	CHECK(arg == NULL);
	prev = pktmem_set_diag_handler(counting_diag, NULL);
	CHECK(prev != NULL && prev != other_handler && prev != counting_diag);
	CHECK(prev == dflt);

	/* The default handler prints the function and the values, then aborts. */
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();

	if (pid == 0) {
		pktmem_set_diag_handler(NULL, NULL);
		(void)freopen("/dev/null", "w", stderr);
		pktmem_atomic_end();
		_exit(0);
	}
	int status = 0;

	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
}

static void test_bad_debug_args(void)
{
	struct pktmem_debug_object o;
	int x;
	bool was = debug_mode_set(false); /* off, also when PKTMEM_DEBUG=1 turned it on */
	void *before_on = kmalloc(32, GFP_KERNEL);

	CHECK_EQ(pktmem_debug_lookup(NULL, &o), -EINVAL);
	CHECK_EQ(pktmem_debug_lookup(&x, NULL), -EINVAL);
	CHECK_EQ(pktmem_debug_lookup(&x, &o), -ENOENT);
	pktmem_debug_set(true);
	CHECK(pktmem_debug_enabled());
	/* Allocated before debug mode: no record, not checked. */
	CHECK_EQ(pktmem_debug_lookup(before_on, &o), -ENOENT);
	void *p = kmalloc(32, GFP_KERNEL);

	CHECK_EQ(pktmem_debug_lookup(p, &o), 0);
	CHECK_EQ(o.state, PKTMEM_DEBUG_LIVE);

	/* Print and report to stderr when given nothing better (NULL / unknown). */
	char path[] = "/tmp/bi-debug-XXXXXX";
	int fd = mkstemp(path), saved = dup(2);

	CHECK(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	pktmem_debug_print(NULL);
	pktmem_debug_print(&x);
	size_t live = pktmem_debug_report_leaks(NULL);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);

	char text[4096] = "";
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);

	close(fd);
	unlink(path);
	CHECK(n > 0);
	CHECK(strstr(text, "no debug record for (nil)") != NULL);
	CHECK(strstr(text, " still live") != NULL);
	CHECK(live >= 1);

	kfree(p);
	pktmem_debug_set(false);
	CHECK(!pktmem_debug_enabled());
	kfree(before_on);
	pktmem_debug_set(was);
}

static void test_bad_fault_args(void)
{
	unsigned long injected = pktmem_fault_injected();

	CHECK_EQ(pktmem_fault_set(PKTMEM_FAULT_NTH, 0, 0), -EINVAL);
	CHECK_EQ(pktmem_fault_set(PKTMEM_FAULT_EVERY, 0, 0), -EINVAL);
	CHECK_EQ(pktmem_fault_set(PKTMEM_FAULT_RANDOM, 1000001, 0), -EINVAL);
	CHECK_EQ(pktmem_fault_set((enum pktmem_fault_mode)42, 1, 0), -EINVAL);
	CHECK_EQ(pktmem_fault_set((enum pktmem_fault_mode)-1, 1, 0), -EINVAL);
	/* Nothing was armed: allocations succeed and nothing is counted. */
	void *p = kmalloc(16, GFP_KERNEL);

	CHECK(p != NULL);
	kfree(p);
	CHECK_EQ(pktmem_fault_injected(), injected);
	/* Off twice, count without arming: harmless. */
	pktmem_fault_off();
	pktmem_fault_off();
	pktmem_fault_count_reset();
	p = kmalloc(16, GFP_KERNEL);
	CHECK(p != NULL);
	CHECK(pktmem_fault_count() >= 1);
	kfree(p);
	pktmem_fault_off();
	CHECK_EQ(pktmem_fault_injected(), injected);
	/* PKTMEM_FAULT_OFF through pktmem_fault_set() is a valid way to disarm. */
	CHECK_EQ(pktmem_fault_set(PKTMEM_FAULT_OFF, 0, 0), 0);
}

static void test_no_input_names(void)
{
	/* The names that take no argument: they answer the same every time. */
	CHECK_EQ(pktmem_version(), PKTMEM_VERSION);
	CHECK(strcmp(pktmem_version_string(), "0.1.0") == 0 || pktmem_version() != 100);
	CHECK(pktmem_nr_nodes() == pktmem_nr_nodes());
	CHECK(pktmem_cluster_cache() == pktmem_cluster_cache());
	CHECK(!pktmem_in_atomic());
}

int main(void)
{
	diag_capture();
	TEST(test_bad_gfp_masks);
	TEST(test_bad_error_pointers);
	TEST(test_bad_atomic_context);
	TEST(test_bad_nodes);
	TEST(test_bad_waiting_mask_atomic);
	TEST(test_bad_page_order_node);
	TEST(test_bad_page_free);
	TEST(test_bad_page_double_put);
	TEST(test_bad_page_view);
	TEST(test_bad_ext_alloc);
	TEST(test_bad_ext_attach);
	TEST(test_bad_ext_refs);
	TEST(test_bad_cache_create);
	TEST(test_bad_cache_destroy);
	TEST(test_bad_cache_alloc);
	TEST(test_bad_cache_free);
	TEST(test_bad_double_free_debug);
	TEST(test_bad_double_free_fast);
	TEST(test_bad_huge_counts);
	TEST(test_bad_cache_params);
	TEST(test_bad_kmalloc_sizes);
	TEST(test_bad_kfree_ksize);
	TEST(test_bad_mempool_create);
	TEST(test_bad_mempool_alloc);
	TEST(test_bad_mempool_free);
	TEST(test_bad_mempool_resize);
	TEST(test_bad_stats_args);
	TEST(test_bad_diag_handler);
	TEST(test_bad_debug_args);
	TEST(test_bad_fault_args);
	TEST(test_no_input_names);
	return test_summary();
}
