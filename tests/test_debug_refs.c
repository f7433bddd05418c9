/*
 * Debug mode and the reference counts of shared storage, pages and bios.
 *
 * A freed object is filled with 0x6b, so a freed pktmem_ext, page
 * descriptor or bio reads a count of 0x6b6b6b6b, which looks live. An
 * extra pktmem_ext_put(), put_page(), __free_pages() or bio_put() must be
 * diagnosed at the call, from the record of the object that holds the
 * count (a cluster's header sits after its data, a bio after its set's
 * front pad), with both sites, and must leave the fill intact: the next
 * allocation of that object reports no write after free. So must a get
 * (pktmem_ext_get(), get_page(), bio_get()) of a freed one, undone. Outside debug
 * mode the same puts read a count of zero and are diagnosed as before,
 * and a genuine count equal to the fill is a count like any other.
 */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pktmem/blkdev.h>
#include <pktmem/ext.h>
#include <pktmem/mbuf.h>
#include <pktmem/page.h>

#include "check.h"

#define FILL 0x6b6b6b6b

/* The last diagnostic says "freed already" and gives both sites. */
static bool freed_already_with_sites(void)
{
	const char *freed = strstr(diag_last_msg, "freed at ");
	const char *again = strstr(diag_last_msg, "used again at ");

	return HAS("is freed already") && freed && again && freed < again &&
	       freed[strlen("freed at ")] != ';' && again[strlen("used again at ")] != '\0';
}

static unsigned long long pool_frees(mempool_t *pool)
{
	struct pktmem_stats st;

	mempool_stats(pool, &st);
	return st.frees;
}

/* ------------------------------------------------------------ debug mode */

/* A cluster's header sits at its end: the record of the whole object decides. */
static void test_ext_put_freed_cluster(void)
{
	if (!reuse_is_safe()) {
		printf("     put of freed storage: skipped under ASan and valgrind\n");
		return;
	}
	pktmem_debug_set(true);

	struct pktmem_ext *e = pktmem_ext_cluster(GFP_KERNEL, NUMA_NO_NODE);
	struct pktmem_debug_object o;

	CHECK(e != NULL);
	char *buf = e->ext_buf;

	pktmem_ext_put(e, NULL);
	CHECK_EQ(pktmem_debug_lookup(buf, &o), 0);
	CHECK_EQ(o.state, PKTMEM_DEBUG_FREE);
	CHECK_EQ(e->ext_refs, FILL);

	unsigned long long in_use = all_in_use();

	EXPECT_DIAG("pktmem_ext_put", pktmem_ext_put(e, NULL));
	CHECK(freed_already_with_sites());
	CHECK(HAS("in object"));
	CHECK(HAS("'mbuf_cluster'"));
	CHECK_EQ(e->ext_refs, FILL); /* not dropped */
	EXPECT_DIAG("pktmem_ext_get", pktmem_ext_get(e));
	CHECK(freed_already_with_sites());
	CHECK(HAS("in object"));
	CHECK_EQ(e->ext_refs, FILL); /* not taken */
	CHECK_EQ(all_in_use(), in_use);

	/* The fill is whole: the same object comes back without a complaint. */
	struct pktmem_ext *again;

	EXPECT_NO_DIAG(again = pktmem_ext_cluster(GFP_KERNEL, NUMA_NO_NODE));
	CHECK(again == e);
	CHECK_EQ(pktmem_ext_refs(again), 1);
	EXPECT_NO_DIAG(pktmem_ext_put(again, NULL));
	pktmem_debug_set(false);
}

/* An mbuf's cluster, freed with the mbuf, then put once more by hand. */
static void test_ext_put_after_m_freem(void)
{
	if (!reuse_is_safe()) {
		printf("     put of a freed mbuf's storage: skipped under ASan and valgrind\n");
		return;
	}
	pktmem_debug_set(true);

	struct mbuf *m = m_gethdr(M_WAIT, MT_DATA);

	CHECK(m != NULL);
	MCLGET(m, M_WAIT);
	CHECK(m->m_flags & M_EXT);
	struct pktmem_ext *e = m->m_ext.ext_storage;

	m_freem(m);
	EXPECT_DIAG("pktmem_ext_put", pktmem_ext_put(e, NULL));
	CHECK(freed_already_with_sites());
	CHECK_EQ(e->ext_refs, FILL);

	struct mbuf *m2;

	EXPECT_NO_DIAG(m2 = m_gethdr(M_WAIT, MT_DATA); MCLGET(m2, M_WAIT));
	CHECK(m2 != NULL && (m2->m_flags & M_EXT));
	CHECK(m2->m_ext.ext_storage == e);
	m_freem(m2);
	pktmem_debug_set(false);
}

/* Library memory: the header after the data, inside a kmalloc() block. */
static void test_ext_put_freed_kmalloc(void)
{
	if (!reuse_is_safe()) {
		printf("     put of freed kmalloc storage: skipped under ASan and valgrind\n");
		return;
	}
	pktmem_debug_set(true);

	struct pktmem_ext *e = pktmem_ext_alloc(100, GFP_KERNEL, NUMA_NO_NODE);

	CHECK(e != NULL);
	pktmem_ext_put(e, NULL);
	EXPECT_DIAG("pktmem_ext_put", pktmem_ext_put(e, NULL));
	CHECK(freed_already_with_sites());
	CHECK(HAS("in object"));
	CHECK(HAS("'kmalloc-"));
	CHECK_EQ(e->ext_refs, FILL);

	struct pktmem_ext *again;

	EXPECT_NO_DIAG(again = pktmem_ext_alloc(100, GFP_KERNEL, NUMA_NO_NODE));
	CHECK(again == e);
	pktmem_ext_put(again, NULL);
	pktmem_debug_set(false);
}

static int released;

static void count_release(struct pktmem_ext *e, void *owner)
{
	(void)owner;
	released++;
	free(e->ext_buf);
}

/* A caller's buffer: the header is an object of its own; release runs once. */
static void test_ext_put_freed_attached(void)
{
	if (!reuse_is_safe()) {
		printf("     put of a freed attached header: skipped under ASan and valgrind\n");
		return;
	}
	pktmem_debug_set(true);

	struct pktmem_ext *e = pktmem_ext_attach(malloc(64), 64, count_release, NULL, GFP_KERNEL);

	CHECK(e != NULL);
	released = 0;
	pktmem_ext_put(e, NULL);
	CHECK_EQ(released, 1);
	EXPECT_DIAG("pktmem_ext_put", pktmem_ext_put(e, NULL));
	CHECK(freed_already_with_sites());
	CHECK(!HAS("in object")); /* the header is the object */
	CHECK_EQ(released, 1);

	struct pktmem_ext *again;

	EXPECT_NO_DIAG(again = pktmem_ext_attach(malloc(64), 64, count_release, NULL, GFP_KERNEL));
	CHECK(again == e);
	pktmem_ext_put(again, NULL);
	CHECK_EQ(released, 2);
	pktmem_debug_set(false);
}

static void test_put_page_freed(void)
{
	if (!reuse_is_safe()) {
		printf("     put of a freed page: skipped under ASan and valgrind\n");
		return;
	}
	pktmem_debug_set(true);

	struct page *pg = alloc_page(GFP_KERNEL);

	CHECK(pg != NULL);
	put_page(pg);

	unsigned long long in_use = all_in_use();

	EXPECT_DIAG("put_page", put_page(pg));
	CHECK(freed_already_with_sites());
	CHECK(HAS("'page-descriptor'"));
	CHECK_EQ(pg->ext.ext_refs, FILL);
	EXPECT_DIAG("get_page", get_page(pg));
	CHECK(freed_already_with_sites());
	CHECK_EQ(pg->ext.ext_refs, FILL);
	EXPECT_DIAG("__free_pages", __free_page(pg)); /* its order reads as the fill too */
	CHECK(freed_already_with_sites());
	CHECK_EQ(pg->ext.ext_refs, FILL);
	CHECK_EQ(all_in_use(), in_use);

	struct page *again;

	EXPECT_NO_DIAG(again = alloc_page(GFP_KERNEL));
	CHECK(again == pg);
	CHECK_EQ(page_count(again), 1);
	EXPECT_NO_DIAG(put_page(again));
	pktmem_debug_set(false);
}

/* A view is a page descriptor too; its put of the viewed storage is not repeated. */
static void test_put_view_freed(void)
{
	if (!reuse_is_safe()) {
		printf("     put of a freed view: skipped under ASan and valgrind\n");
		return;
	}
	pktmem_debug_set(true);

	struct pktmem_ext *e = pktmem_ext_cluster(GFP_KERNEL, NUMA_NO_NODE);
	struct page *v = pktmem_page_view(e, e->ext_buf + 100, 200, GFP_KERNEL);

	CHECK(v != NULL);
	CHECK_EQ(pktmem_ext_refs(e), 2);
	put_page(v);
	CHECK_EQ(pktmem_ext_refs(e), 1);
	EXPECT_DIAG("put_page", put_page(v));
	CHECK(freed_already_with_sites());
	CHECK_EQ(pktmem_ext_refs(e), 1); /* the viewed storage keeps its reference */
	pktmem_ext_put(e, NULL);
	pktmem_debug_set(false);
}

/* A bio after its set's front pad: the record of the whole object decides. */
static void check_bio_put_freed(unsigned int front_pad)
{
	struct bio_set bs;

	pktmem_debug_set(true);
	CHECK_EQ(bioset_init(&bs, 2, front_pad, BIOSET_NEED_BVECS), 0);

	struct bio *bio = bio_alloc_bioset(1, REQ_OP_READ, GFP_KERNEL, &bs);

	CHECK(bio != NULL);
	bio_put(bio);
	CHECK_EQ(bio->__bi_cnt, FILL); /* the reserve is full: back in the cache, filled */

	unsigned long long frees = pool_frees(&bs.bio_pool);

	EXPECT_DIAG("bio_put", bio_put(bio));
	CHECK(freed_already_with_sites());
	CHECK(front_pad ? HAS("in object") : !HAS("in object"));
	CHECK(HAS("'bio-"));
	CHECK_EQ(bio->__bi_cnt, FILL);
	CHECK_EQ(pool_frees(&bs.bio_pool), frees);
	EXPECT_DIAG("bio_get", bio_get(bio));
	CHECK(freed_already_with_sites());
	CHECK(front_pad ? HAS("in object") : !HAS("in object"));
	CHECK_EQ(bio->__bi_cnt, FILL);

	struct bio *again;

	EXPECT_NO_DIAG(again = bio_alloc_bioset(1, REQ_OP_READ, GFP_KERNEL, &bs));
	CHECK(again == bio);
	EXPECT_NO_DIAG(bio_put(again));
	CHECK_EQ(pool_frees(&bs.bio_pool), frees + 1);
	bioset_exit(&bs);
	pktmem_debug_set(false);
}

static void test_bio_put_freed(void)
{
	if (!reuse_is_safe()) {
		printf("     put of a freed bio: skipped under ASan and valgrind\n");
		return;
	}
	check_bio_put_freed(0);
	check_bio_put_freed(64);
}

/*
 * A live count equal to the fill, in debug mode: the object's record says
 * live, so it is an ordinary count, dropped by one, nothing diagnosed; so
 * is one above it. Live objects only: this part runs under ASan too.
 */
static void test_live_count_like_fill(void)
{
	pktmem_debug_set(true);

	struct pktmem_ext *e = pktmem_ext_cluster(GFP_KERNEL, NUMA_NO_NODE);

	e->ext_refs = FILL;
	EXPECT_NO_DIAG(pktmem_ext_put(e, NULL));
	CHECK_EQ(pktmem_ext_refs(e), FILL - 1);
	e->ext_refs = FILL + 1;
	EXPECT_NO_DIAG(pktmem_ext_put(e, NULL));
	CHECK_EQ(pktmem_ext_refs(e), FILL);
	e->ext_refs = 2;
	EXPECT_NO_DIAG(pktmem_ext_put(e, NULL));
	CHECK_EQ(pktmem_ext_refs(e), 1);
	pktmem_ext_put(e, NULL);

	struct page *pg = alloc_page(GFP_KERNEL);

	pg->ext.ext_refs = FILL;
	EXPECT_NO_DIAG(put_page(pg));
	CHECK_EQ(page_count(pg), FILL - 1);
	pg->ext.ext_refs = 1;
	put_page(pg);

	struct bio_set bs;

	CHECK_EQ(bioset_init(&bs, 2, 64, BIOSET_NEED_BVECS), 0);
	struct bio *bio = bio_alloc_bioset(1, REQ_OP_READ, GFP_KERNEL, &bs);
	unsigned long long frees = pool_frees(&bs.bio_pool);

	bio->__bi_cnt = FILL;
	EXPECT_NO_DIAG(bio_put(bio));
	CHECK_EQ(bio->__bi_cnt, FILL - 1);
	bio->__bi_cnt = FILL + 1;
	EXPECT_NO_DIAG(bio_put(bio));
	CHECK_EQ(bio->__bi_cnt, FILL);
	bio->__bi_cnt = 1;
	bio_get(bio);
	EXPECT_NO_DIAG(bio_put(bio));
	CHECK_EQ(bio->__bi_cnt, 1);
	CHECK_EQ(pool_frees(&bs.bio_pool), frees);
	EXPECT_NO_DIAG(bio_put(bio));
	CHECK_EQ(pool_frees(&bs.bio_pool), frees + 1);
	bioset_exit(&bs);
	pktmem_debug_set(false);
}

/* ------------------------------------------------------------ normal mode */

/* The same counts outside debug mode: ordinary counts, no record asked. */
static void test_live_count_like_fill_normal(void)
{
	pktmem_debug_set(false);

	struct pktmem_ext *e = pktmem_ext_cluster(GFP_KERNEL, NUMA_NO_NODE);

	e->ext_refs = FILL;
	EXPECT_NO_DIAG(pktmem_ext_put(e, NULL));
	CHECK_EQ(pktmem_ext_refs(e), FILL - 1);
	e->ext_refs = 1;
	pktmem_ext_put(e, NULL);

	struct bio *bio = bio_alloc(1, REQ_OP_READ, GFP_KERNEL);

	bio->__bi_cnt = FILL;
	EXPECT_NO_DIAG(bio_put(bio));
	CHECK_EQ(bio->__bi_cnt, FILL - 1);
	bio->__bi_cnt = 1;
	bio_put(bio);
}

/*
 * A freed header, descriptor or bio rests in its cache unwritten: its count
 * reads 0, and a further get or put is diagnosed and undone.
 */
static void test_released_again_normal(void)
{
	if (!reuse_is_safe()) {
		printf("     puts of freed objects: skipped under ASan and valgrind\n");
		return;
	}
	pktmem_debug_set(false);

	struct pktmem_ext *e = pktmem_ext_cluster(GFP_KERNEL, NUMA_NO_NODE);

	pktmem_ext_put(e, NULL);
	EXPECT_DIAG("pktmem_ext_put", pktmem_ext_put(e, NULL));
	CHECK(HAS("released again (reference count 0)"));
	CHECK_EQ(e->ext_refs, 0);
	EXPECT_DIAG("pktmem_ext_get", pktmem_ext_get(e));
	CHECK(HAS("reference count 0: already released"));
	CHECK_EQ(e->ext_refs, 0);

	struct page *pg = alloc_page(GFP_KERNEL);

	put_page(pg);
	EXPECT_DIAG("pktmem_ext_put", put_page(pg));
	CHECK(HAS("released again (reference count 0)"));
	CHECK_EQ(pg->ext.ext_refs, 0);
	EXPECT_DIAG("pktmem_ext_get", get_page(pg));
	CHECK(HAS("reference count 0: already released"));
	CHECK_EQ(pg->ext.ext_refs, 0);

	struct bio_set bs;

	CHECK_EQ(bioset_init(&bs, 2, 64, BIOSET_NEED_BVECS), 0);
	struct bio *bio = bio_alloc_bioset(1, REQ_OP_READ, GFP_KERNEL, &bs);

	bio_put(bio);
	unsigned long long frees = pool_frees(&bs.bio_pool);

	EXPECT_DIAG("bio_get", bio_get(bio));
	CHECK(HAS("reference count 0: it was put for the last time already"));
	CHECK_EQ(bio->__bi_cnt, 0);
	EXPECT_DIAG("bio_put", bio_put(bio));
	CHECK(HAS("put more often than it was got (count -1)"));
	CHECK_EQ(pool_frees(&bs.bio_pool), frees);
	bioset_exit(&bs);
}

/*
 * A child that switches debug mode on, then sets up the default bio set
 * (bio_alloc) and puts the bio, with @leak_one an object it never frees:
 * its exit status is the leak report's count. _exit: no sanitizer's own
 * leak check of the deliberate leak.
 */
static void default_bioset_child(bool leak_one)
{
	FILE *null = fopen("/dev/null", "w");

	pktmem_debug_set(true);
	struct bio *bio = bio_alloc(1, REQ_OP_READ, GFP_KERNEL);

	bio_put(bio);
	if (leak_one)
		(void)kmalloc(100, GFP_KERNEL);
	_exit((int)pktmem_debug_report_leaks(null));
}

static int run_self(const char *arg)
{
	pid_t pid = fork();

	if (pid == 0) {
		execl("/proc/self/exe", "test_debug_refs", arg, (char *)NULL);
		_exit(100);
	}
	int status = 0;

	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The default bio set lives as long as the process: not a leak; a real one still is. */
static void test_default_bioset_not_a_leak(void)
{
	CHECK_EQ(run_self("--bioset-child"), 0);
	CHECK_EQ(run_self("--bioset-child-leak"), 1);
}

static unsigned long long in_use_at_start;

/* Every object went back: no put above leaked or kept one. */
static void test_nothing_kept(void)
{
	CHECK_EQ(all_in_use(), in_use_at_start);
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--bioset-child") == 0)
		default_bioset_child(false);
	if (argc == 2 && strcmp(argv[1], "--bioset-child-leak") == 0)
		default_bioset_child(true);

	bool was_on = pktmem_debug_enabled(); /* PKTMEM_DEBUG=1 in the environment */

	diag_capture();
	(void)bio_default_bioset(); /* its reserve is allocated once and kept */
	in_use_at_start = all_in_use();
	TEST(test_live_count_like_fill_normal);
	TEST(test_released_again_normal);
	TEST(test_live_count_like_fill);
	TEST(test_ext_put_freed_cluster);
	TEST(test_ext_put_after_m_freem);
	TEST(test_ext_put_freed_kmalloc);
	TEST(test_ext_put_freed_attached);
	TEST(test_put_page_freed);
	TEST(test_put_view_freed);
	TEST(test_bio_put_freed);
	TEST(test_nothing_kept);
	TEST(test_default_bioset_not_a_leak);
	pktmem_debug_set(was_on);
	return test_summary();
}
