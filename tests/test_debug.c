/*
 * Debug mode (<pktmem/pktmem.h>): per-object records, double frees with
 * both sites, writes after free, switching off and on again, the leak
 * report, and PKTMEM_DEBUG=1 and =0 from the environment (child processes
 * of this test). Each test gives back the mode it found, so that the suite
 * also runs whole with PKTMEM_DEBUG=1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static void test_records(void)
{
	struct kmem_cache *c = kmem_cache_create("d-rec", 100, 0, 0, NULL);
	struct pktmem_debug_object o;

	bool was = debug_mode_set(true);
	CHECK(pktmem_debug_enabled());

	void *p = kmem_cache_alloc(c, GFP_KERNEL);

	CHECK_EQ(pktmem_debug_lookup(p, &o), 0);
	CHECK(o.obj == p);
	CHECK_EQ(o.state, PKTMEM_DEBUG_LIVE);
	CHECK(strcmp(o.cache, "d-rec") == 0);
	CHECK_EQ(o.size, 100);
	CHECK(o.alloc_tid > 0);
	CHECK(o.alloc_site[0] != NULL);
	kmem_cache_free(c, p);
	CHECK_EQ(pktmem_debug_lookup(p, &o), 0);
	CHECK_EQ(o.state, PKTMEM_DEBUG_FREE);
	CHECK(o.free_site[0] != NULL);
	CHECK_EQ(pktmem_debug_lookup(NULL, &o), -EINVAL);
	pktmem_debug_set(false);
	CHECK(!pktmem_debug_enabled());

	void *q = kmem_cache_alloc(c, GFP_KERNEL); /* not recorded anew while off */

	kmem_cache_free(c, q);
	CHECK_EQ(cache_in_use(c), 0);
	kmem_cache_destroy(c);
	CHECK_EQ(pktmem_debug_lookup(p, &o), -ENOENT); /* records die with their cache */
	pktmem_debug_set(was);
}

static void test_double_free(void)
{
	struct kmem_cache *c = kmem_cache_create("d-double", 64, 0, 0, NULL);
	struct pktmem_stats st;

	bool was = debug_mode_set(true);
	void *p = kmem_cache_alloc(c, GFP_KERNEL);

	kmem_cache_free(c, p);
	unsigned long before = diag_seen;

	kmem_cache_free(c, p); /* refused: the object is on the free list once */
	CHECK_EQ(diag_seen, before + 1);
	CHECK(strstr(diag_last_msg, "double free") != NULL);
	CHECK(strstr(diag_last_msg, "freed first at") != NULL);
	CHECK(strstr(diag_last_msg, "again at") != NULL);
	kmem_cache_stats(c, &st);
	CHECK_EQ(st.frees, 1);
	CHECK_EQ(st.in_use, 0);

	/* The object comes back once, not twice. */
	void *a = kmem_cache_alloc(c, GFP_KERNEL), *b = kmem_cache_alloc(c, GFP_KERNEL);

	CHECK(a != b);
	kmem_cache_free(c, a);
	kmem_cache_free(c, b);
	pktmem_debug_set(was);
	kmem_cache_destroy(c);
}

static void test_write_after_free(void)
{
#ifndef TEST_UNDER_ASAN /* ASan reports the write itself first */
	struct kmem_cache *c = kmem_cache_create("d-uaf", 128, 0, 0, NULL);

	bool was = debug_mode_set(true);
	unsigned char *p = kmem_cache_alloc(c, GFP_KERNEL);

	memset(p, 0, 128);
	kmem_cache_free(c, p);
	CHECK(p[0] == 0x6b && p[127] == 0x6b); /* filled on free */
	p[77] = 0x42;                           /* a write after free */
	unsigned long before = diag_seen;
	unsigned char *again = kmem_cache_alloc(c, GFP_KERNEL); /* LIFO: the same object */

	CHECK(again == p);
	CHECK_EQ(diag_seen, before + 1);
	CHECK(strstr(diag_last_msg, "written after free") != NULL);
	CHECK(strstr(diag_last_msg, "byte 77") != NULL);
	kmem_cache_free(c, again);
	pktmem_debug_set(was);
	kmem_cache_destroy(c);
#endif
}

/*
 * While debug mode is off its hooks do not run, so the records of an
 * earlier time on go stale. Switched on again it starts afresh: an object
 * freed then, and allocated again while off, is freed once more without a
 * false "double free", and is not checked against a fill it no longer has.
 */
static void test_off_and_on_again(void)
{
	struct kmem_cache *c = kmem_cache_create("d-again", 64, 0, 0, NULL);
	struct pktmem_debug_object o;
	bool was = debug_mode_set(true);
	unsigned char *p = kmem_cache_alloc(c, GFP_KERNEL);

	kmem_cache_free(c, p);
	pktmem_debug_set(false);
	unsigned char *q = kmem_cache_alloc(c, GFP_KERNEL); /* LIFO: the same object */

	CHECK(q == p);
	memset(q, 0, 64); /* its owner's data, not the fill */
	pktmem_debug_set(true);
	CHECK_EQ(pktmem_debug_lookup(q, &o), -ENOENT); /* allocated before debug mode was on */
	EXPECT_NO_DIAG(kmem_cache_free(c, q));
	CHECK_EQ(cache_in_use(c), 0);

	/* Recorded from here on: a real double free is still caught. */
	unsigned char *r = kmem_cache_alloc(c, GFP_KERNEL);

	CHECK_EQ(pktmem_debug_lookup(r, &o), 0);
	CHECK_EQ(o.state, PKTMEM_DEBUG_LIVE);
	kmem_cache_free(c, r);
	EXPECT_DIAG("kmem_cache_free", kmem_cache_free(c, r));
	CHECK(HAS("double free"));
	CHECK_EQ(cache_in_use(c), 0);
	pktmem_debug_set(was);
	kmem_cache_destroy(c);
}

static int ctor_runs;

static void ctor(void *obj)
{
	ctor_runs++;
	memset(obj, 0x11, 32);
}

static void test_ctor_cache_not_filled(void)
{
	struct kmem_cache *c = kmem_cache_create("d-ctor", 32, 0, 0, ctor);

	bool was = debug_mode_set(true);
	unsigned char *p = kmem_cache_alloc(c, GFP_KERNEL);

	kmem_cache_free(c, p);
	unsigned char *q = kmem_cache_alloc(c, GFP_KERNEL);

	CHECK(q == p);
	CHECK(q[0] == 0x11 && q[31] == 0x11); /* constructed state kept */
	kmem_cache_free(c, q);
	pktmem_debug_set(was);
	kmem_cache_destroy(c);
}

static void *leak_here(struct kmem_cache *c)
{
	return kmem_cache_alloc(c, GFP_KERNEL);
}

static void test_leak_report(void)
{
	struct kmem_cache *c = kmem_cache_create("d-leak", 40, 0, 0, NULL);
	void *p[4];

	bool was = debug_mode_set(true);
	for (int i = 0; i < 3; i++)
		p[i] = leak_here(c);
	p[3] = kmem_cache_alloc(c, GFP_KERNEL);

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	CHECK_EQ(pktmem_debug_report_leaks(f), 4);
	fclose(f);
	CHECK(strstr(buf, "4 objects still live") != NULL);
	CHECK(strstr(buf, "of cache 'd-leak'") != NULL);
	free(buf);
	for (int i = 0; i < 4; i++)
		kmem_cache_free(c, p[i]);
	f = open_memstream(&buf, &len);
	CHECK_EQ(pktmem_debug_report_leaks(f), 0);
	fclose(f);
	free(buf);
	pktmem_debug_set(was);
	kmem_cache_destroy(c);
}

/* The child: PKTMEM_DEBUG=1 is in its environment; it leaks one object. */
static int child_main(void)
{
	struct kmem_cache *c = kmem_cache_create("d-child", 24, 0, 0, NULL);

	if (!pktmem_debug_enabled())
		return 3;
	(void)kmem_cache_alloc(c, GFP_KERNEL);
	return 0;
}

/* The child with PKTMEM_DEBUG=0: debug mode stays off, nothing reported at exit. */
static int child_off_main(void)
{
	struct kmem_cache *c = kmem_cache_create("d-child-off", 24, 0, 0, NULL);

	if (pktmem_debug_enabled())
		return 3;
	(void)kmem_cache_alloc(c, GFP_KERNEL);
	return 0;
}

/* Run this program as a child with PKTMEM_DEBUG=@value and @mode; its stderr to @out. */
static int run_child(const char *value, const char *mode, char *out, size_t size)
{
	int pipefd[2];

	CHECK(pipe(pipefd) == 0);
	pid_t pid = fork();

	if (pid == 0) {
		dup2(pipefd[1], 2);
		close(pipefd[0]);
		setenv("PKTMEM_DEBUG", value, 1);
		execl("/proc/self/exe", "test_debug", mode, (char *)NULL);
		_exit(4);
	}
	close(pipefd[1]);
	size_t got = 0;
	ssize_t n;

	while (got < size - 1 && (n = read(pipefd[0], out + got, size - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(pipefd[0]);
	int status = 0;

	waitpid(pid, &status, 0);
	return status;
}

/*
 * The environment decides at start-up, both ways: this test's own
 * environment (PKTMEM_DEBUG=1 or not) does not leak into the children.
 */
static void test_environment(void)
{
	char out[4096];
	int status = run_child("1", "--child", out, sizeof(out));

	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(strstr(out, "1 object still live") != NULL);
	CHECK(strstr(out, "'d-child'") != NULL);

	status = run_child("0", "--child-off", out, sizeof(out));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(strstr(out, "still live") == NULL);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--child") == 0)
		return child_main();
	if (argc > 1 && strcmp(argv[1], "--child-off") == 0)
		return child_off_main();
	diag_capture();
	TEST(test_records);
	TEST(test_double_free);
	TEST(test_write_after_free);
	TEST(test_off_and_on_again);
	TEST(test_ctor_cache_not_filled);
	TEST(test_leak_report);
	TEST(test_environment);
	return test_summary();
}
