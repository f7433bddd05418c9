/*
 * What every benchmark's loop needs, shared by the single-file benchmarks
 * (bench_harness.h) and the suite (suite/suite.h): keep the work from being
 * optimised away, touch a buffer as its user would, read the clock.
 */
#ifndef PKTMEM_BENCH_UTIL_H
#define PKTMEM_BENCH_UTIL_H

#include <stdint.h>
#include <time.h>

/* Let @p escape through an empty asm, so that no work on it can be optimised away. */
static inline void escape(const void *p)
{
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

/* Write the first byte, as a user of the buffer would, then let it escape. */
static inline void touch(void *p, uint64_t i)
{
	*(volatile unsigned char *)p = (unsigned char)i;
	escape(p);
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif /* PKTMEM_BENCH_UTIL_H */
