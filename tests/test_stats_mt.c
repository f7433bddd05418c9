/*
 * The statistics with threads: while workers allocate, free, and create
 * and destroy caches, the publisher thread rewrites the shared segment
 * every millisecond, readers fetch it (every snapshot whole and valid JSON,
 * never torn), and other threads render JSON and text; then unpublishing
 * stops the thread and removes the segment. Under TSan this is the race
 * check of the walker, the seqlock and publish/unpublish.
 *
 * Worker threads never call CHECK (the harness is single-threaded); they
 * count their failures in atomics that the main thread checks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "json_check.h"

#define WORKERS 3
#define ROUNDS 2000

static struct kmem_cache *shared_cache;
static atomic_bool stop;
static atomic_int bad_snapshots, bad_renders, fetches, renders;
static char seg[64];

static void *worker(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	void *p[32];
	char name[32];

	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < 32; i++)
			p[i] = kmem_cache_alloc(shared_cache, GFP_KERNEL);
		for (int i = 0; i < 32; i++)
			kmem_cache_free(shared_cache, p[i]);
		if (r % 100 == 0) {
			/* Caches come and go under the walker's feet. */
			snprintf(name, sizeof(name), "t-mt-%u-%d", (unsigned)id, r);
			struct kmem_cache *c = kmem_cache_create(name, 48, 0, 0, NULL);
			void *o = kmem_cache_alloc(c, GFP_KERNEL);

			kmem_cache_free(c, o);
			kmem_cache_destroy(c);
		}
	}
	return NULL;
}

static void *reader(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		char *json = NULL;
		int n = pktmem_stats_fetch(seg, &json);

		if (n <= 0 || (int)strlen(json) != n || !json_valid(json, NULL) ||
		    !strstr(json, "\"t-mt-shared\""))
			atomic_fetch_add(&bad_snapshots, 1);
		atomic_fetch_add(&fetches, 1);
		free(json);
	}
	return NULL;
}

static void *renderer(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		if (pktmem_stats_json(f) != 0)
			atomic_fetch_add(&bad_renders, 1);
		pktmem_stats_print(f);
		fclose(f);
		if (!strstr(buf, "requests for memory denied"))
			atomic_fetch_add(&bad_renders, 1);
		free(buf);
		atomic_fetch_add(&renders, 1);
	}
	return NULL;
}

static void test_publish_under_load(void)
{
	pthread_t w[WORKERS], r[2], g;
	char path[128];

	shared_cache = kmem_cache_create("t-mt-shared", 256, 0, 0, NULL);
	snprintf(seg, sizeof(seg), "tstmt%ld", (long)getpid());
	snprintf(path, sizeof(path), "/dev/shm/pktmem.%s", seg);
	CHECK_EQ(pktmem_stats_publish(seg, 1), 0);

	for (uintptr_t i = 0; i < WORKERS; i++)
		pthread_create(&w[i], NULL, worker, (void *)i);
	for (int i = 0; i < 2; i++)
		pthread_create(&r[i], NULL, reader, NULL);
	pthread_create(&g, NULL, renderer, NULL);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(w[i], NULL);
	/* Let the readers see a few more rounds after the workers stopped. */
	nanosleep(&(struct timespec){ .tv_nsec = 50 * 1000000 }, NULL);
	atomic_store(&stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(r[i], NULL);
	pthread_join(g, NULL);

	CHECK_EQ(atomic_load(&bad_snapshots), 0);
	CHECK_EQ(atomic_load(&bad_renders), 0);
	CHECK(atomic_load(&fetches) > 0);
	CHECK(atomic_load(&renders) > 0);

	/* The last snapshots agree with the cache: everything freed. */
	struct pktmem_stats st;
	bool settled = false;

	kmem_cache_stats(shared_cache, &st);
	CHECK_EQ(st.in_use, 0);
	CHECK_EQ(st.allocs, (uint64_t)WORKERS * ROUNDS * 32);
	for (int i = 0; i < 500 && !settled; i++) {
		char *json = NULL;

		if (pktmem_stats_fetch(seg, &json) > 0)
			settled = json_field_of(json, "\"caches\"", "\"t-mt-shared\"", "allocs") == (long long)st.allocs &&
				  json_field_of(json, "\"caches\"", "\"t-mt-shared\"", "in_use") == 0 &&
				  strstr(json, "\"t-mt-0-") == NULL;
		free(json);
		if (!settled)
			nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000000 }, NULL);
	}
	CHECK(settled);

	CHECK_EQ(pktmem_stats_unpublish(), 0);
	CHECK(access(path, F_OK) != 0);
	kmem_cache_destroy(shared_cache);
}

/* Publish and unpublish from several threads at once: exactly one wins
 * each round, and no segment or thread is left. */
static atomic_int wins, busy;

static void *racer(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20; i++) {
		int rc = pktmem_stats_publish(seg, 1);

		if (rc == 0) {
			atomic_fetch_add(&wins, 1);
			nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
			pktmem_stats_unpublish();
		} else if (rc == -EBUSY) {
			atomic_fetch_add(&busy, 1);
		}
	}
	return NULL;
}

static void test_publish_race(void)
{
	pthread_t t[4];
	char path[128];

	snprintf(seg, sizeof(seg), "tstmtr%ld", (long)getpid());
	snprintf(path, sizeof(path), "/dev/shm/pktmem.%s", seg);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, racer, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	CHECK(atomic_load(&wins) > 0);
	CHECK_EQ(atomic_load(&wins) + atomic_load(&busy) <= 80, 1);
	/* Only a winner unpublishes, and only its own: nothing is left. */
	CHECK(access(path, F_OK) != 0);
	CHECK_EQ(pktmem_stats_unpublish(), -ENOENT);
}

int main(void)
{
	diag_capture();
	TEST(test_publish_under_load);
	TEST(test_publish_race);
	return test_summary();
}
