/*
 * A deliberate use after free of a cached object, for CI: under valgrind
 * (with -DPKTMEM_VALGRIND=ON) memcheck must report it, although the memory
 * never went back to the system. Exits 0 by itself; the error is
 * valgrind's.
 */
#include <stdio.h>

#include <pktmem/slab.h>

int main(void)
{
	struct kmem_cache *c = kmem_cache_create("uaf", 64, 0, 0, NULL);
	volatile char *p = kmem_cache_alloc(c, GFP_KERNEL);

	p[0] = 1;
	kmem_cache_free(c, (void *)p);
	p[1] = 2; /* use after free: memcheck reports an invalid write */
	printf("wrote after free\n");
	return 0;
}
