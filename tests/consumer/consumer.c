/*
 * An ordinary program built outside the pktmem tree against an installed
 * pktmem: a cache, a mempool over it, a few allocations. Exit status 0 means
 * the headers, the library and the link line all work together.
 */
#include <stdio.h>
#include <string.h>

#include <pktmem/slab.h>
#include <pktmem/mempool.h>

struct record {
	int id;
	char payload[120];
};

int main(void)
{
	struct kmem_cache *cache;
	mempool_t *pool;
	void *objs[8];
	int i;

	cache = kmem_cache_create("consumer_record", sizeof(struct record), 0, 0, NULL);
	if (!cache) {
		perror("kmem_cache_create");
		return 1;
	}

	for (i = 0; i < 8; i++) {
		struct record *r = kmem_cache_alloc(cache, GFP_KERNEL);
		if (!r) {
			fprintf(stderr, "kmem_cache_alloc failed\n");
			return 1;
		}
		r->id = i;
		memset(r->payload, 'x', sizeof(r->payload));
		objs[i] = r;
	}
	for (i = 0; i < 8; i++)
		kmem_cache_free(cache, objs[i]);

	pool = mempool_create_slab_pool(4, cache);
	if (!pool) {
		perror("mempool_create_slab_pool");
		return 1;
	}
	for (i = 0; i < 8; i++) {
		objs[i] = mempool_alloc(pool, GFP_KERNEL);
		if (!objs[i]) {
			fprintf(stderr, "mempool_alloc(GFP_KERNEL) returned NULL\n");
			return 1;
		}
	}
	for (i = 0; i < 8; i++)
		mempool_free(objs[i], pool);
	mempool_destroy(pool);
	kmem_cache_destroy(cache);

	printf("consumer: ok\n");
	return 0;
}
