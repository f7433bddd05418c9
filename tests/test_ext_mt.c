/*
 * <pktmem/ext.h> under threads: references dropped on several threads at
 * once release the storage exactly once. Runs under TSan in CI.
 */
#include <pthread.h>

#include "check.h"

static int releases;

static void release_buf(struct pktmem_ext *e, void *owner)
{
	(void)owner;
	releases++; /* only the last holder gets here: no race */
	free(e->ext_buf);
}

/* Many holders dropping at once on two threads: released exactly once. */
struct drop_ctx {
	struct pktmem_ext *e;
	int n;
};

static void *drop_refs(void *arg)
{
	struct drop_ctx *d = arg;

	for (int i = 0; i < d->n; i++)
		pktmem_ext_put(d->e, NULL);
	return NULL;
}

static void test_concurrent_puts(void)
{
	releases = 0;
	for (int round = 0; round < 200; round++) {
		char *buf = malloc(64);
		struct pktmem_ext *e = pktmem_ext_attach(buf, 64, release_buf, NULL, GFP_KERNEL);
		struct drop_ctx a = { e, 500 }, b = { e, 500 };
		pthread_t t1, t2;

		for (int i = 0; i < 999; i++)
			pktmem_ext_get(e); /* 1000 references */
		pthread_create(&t1, NULL, drop_refs, &a);
		pthread_create(&t2, NULL, drop_refs, &b);
		pthread_join(t1, NULL);
		pthread_join(t2, NULL);
		CHECK_EQ(releases, round + 1);
	}
}

int main(void)
{
	diag_capture();
	TEST(test_concurrent_puts);
	return test_summary();
}
