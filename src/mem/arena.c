/*
 * The arena: the only place pktmem takes memory from the system.
 *
 *      caches / kmalloc / pages
 *               |  arena_map(size, align, node, huge)
 *               v
 *      mmap (anonymous) --> trim to alignment --> mbind(MPOL_BIND, node)
 *                                              \-> MAP_HUGETLB or THP
 *
 * Spans are aligned so that the slab layer finds a span's header from any
 * object address by masking. Each span is bound to one node with mbind
 * (a raw system call, so libnuma is not needed), so memory asked of node N
 * is on node N or the call fails: it never falls back to another node.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#define MPOL_BIND_MODE 2 /* MPOL_BIND from <linux/mempolicy.h> */
#define HUGE_SIZE (2UL << 20)

/* Written once under pthread_once, read-only afterwards. */
static pthread_once_t nodes_once = PTHREAD_ONCE_INIT;
static uint64_t nodes_with_memory; /* bit n: node n has memory */
static int nodes_count = 1;

static atomic_size_t bytes_mapped;

/*
 * One bit per 2 MiB of the 47-bit user address space: 8 MiB of zero-filled
 * BSS, of which only the pages covering addresses we actually use are ever
 * touched. Set before a span is handed out, cleared before it is unmapped;
 * read with relaxed loads by arena_owns(). Static, so the fast paths need
 * no pointer load and no "not yet set up" test.
 */
atomic_ulong arena_span_bits[ARENA_SPAN_WORDS];

static void span_mark(void *base, bool on)
{
	uintptr_t idx = (uintptr_t)base / ARENA_SPAN_ALIGN;

	if (idx >= ARENA_SPAN_WORDS * 64)
		return; /* beyond 47 bits: never reported as ours */
	if (on)
		atomic_fetch_or(&arena_span_bits[idx / 64], 1UL << (idx % 64));
	else
		atomic_fetch_and(&arena_span_bits[idx / 64], ~(1UL << (idx % 64)));
}

/* Parse a sysfs node list such as "0-1,4" into a bit mask. */
static uint64_t parse_node_list(const char *s)
{
	uint64_t mask = 0;

	while (*s && *s != '\n') {
		char *end;
		long lo = strtol(s, &end, 10), hi = lo;

		if (end == s)
			break;
		if (*end == '-') {
			s = end + 1;
			hi = strtol(s, &end, 10);
		}
		for (long n = lo; n <= hi && n < MAX_NODES; n++)
			if (n >= 0)
				mask |= 1ULL << n;
		s = *end == ',' ? end + 1 : end;
	}
	return mask;
}

static uint64_t read_node_list(const char *path)
{
	char buf[256];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return parse_node_list(buf);
}

static void nodes_init(void)
{
	uint64_t mask = read_node_list("/sys/devices/system/node/has_memory");

	if (!mask)
		mask = read_node_list("/sys/devices/system/node/online");
	if (!mask)
		mask = 1; /* no sysfs: a machine without NUMA is node 0 */
	nodes_with_memory = mask;
	nodes_count = 64 - __builtin_clzll(mask);
}

int node_count(void)
{
	pthread_once(&nodes_once, nodes_init);
	return nodes_count;
}

bool node_has_memory(int node)
{
	pthread_once(&nodes_once, nodes_init);
	return node >= 0 && node < MAX_NODES && (nodes_with_memory >> node & 1);
}

int pktmem_nr_nodes(void)
{
	return node_count();
}

bool pktmem_node_valid(int node)
{
	return node_has_memory(node);
}

int node_of_caller(void)
{
	unsigned cpu = 0, node = 0;

	if (syscall(SYS_getcpu, &cpu, &node, NULL) != 0 || !node_has_memory((int)node))
		return node_has_memory(0) ? 0 : __builtin_ctzll(nodes_with_memory);
	return (int)node;
}

static void *map_aligned(size_t size, size_t align)
{
	size_t len = size + align - PAGE_SIZE;
	char *raw = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (raw == MAP_FAILED)
		return NULL;
	uintptr_t start = ((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1);
	size_t head = start - (uintptr_t)raw;
	size_t tail = len - head - size;

	if (head)
		munmap(raw, head);
	if (tail)
		munmap((char *)start + size, tail);
	return (void *)start;
}

static void *map_hugetlb(size_t size, size_t align)
{
	if (align > HUGE_SIZE || size % HUGE_SIZE)
		return NULL;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int bind_to_node(void *p, size_t size, int node)
{
	unsigned long mask[(MAX_NODES + 63) / 64] = { 0 };

	mask[node / 64] = 1UL << (node % 64);
	if (syscall(SYS_mbind, p, size, MPOL_BIND_MODE, mask, (unsigned long)MAX_NODES + 1, 0UL) == 0)
		return 0;
	/*
	 * A kernel without NUMA support (or a sandbox that forbids mbind)
	 * still places everything on the one node there is.
	 */
	if ((errno == ENOSYS || errno == EPERM) && node_count() == 1)
		return 0;
	return -1;
}

void *arena_map(size_t size, size_t align, int node, bool huge)
{
	void *p = NULL;

	if (node != NUMA_NO_NODE && !node_has_memory(node)) {
		errno = EINVAL;
		return NULL;
	}
	if (huge)
		p = map_hugetlb(size, align);
	if (!p) {
		p = map_aligned(size, align);
		if (!p) {
			errno = ENOMEM;
			return NULL;
		}
		if (huge)
			madvise(p, size, MADV_HUGEPAGE); /* best effort: THP */
	}
	if (node != NUMA_NO_NODE && bind_to_node(p, size, node) != 0) {
		int err = errno;

		munmap(p, size);
		errno = err == EINVAL ? EINVAL : ENOMEM;
		return NULL;
	}
	if (align >= ARENA_SPAN_ALIGN)
		span_mark(p, true);
	atomic_fetch_add_explicit(&bytes_mapped, size, memory_order_relaxed);
	return p;
}

void arena_unmap(void *p, size_t size)
{
	if (!p)
		return;
	if ((uintptr_t)p % ARENA_SPAN_ALIGN == 0)
		span_mark(p, false);
	/* ASan keeps manual poison across munmap; the next mapping here is new. */
	mem_unpoison(p, size);
	munmap(p, size);
	atomic_fetch_sub_explicit(&bytes_mapped, size, memory_order_relaxed);
}

size_t arena_bytes_mapped(void)
{
	return atomic_load_explicit(&bytes_mapped, memory_order_relaxed);
}
