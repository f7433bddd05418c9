/*
 * Fault injection: make chosen allocations fail so that every failure
 * contract can be tested. Each allocation point calls fault_point(), which
 * costs one relaxed load while nothing is armed; the state below is only
 * touched once a test arms the injector.
 */
#include <errno.h>
#include <pthread.h>

#include "internal.h"

/*
 * slow_paths (SLOW_FAULT) is the one word the fast paths read. The rest of the state is
 * guarded by fault_lock: the slow path runs only while a test injects faults,
 * and serialising it makes "the n-th allocation" well defined across threads.
 */
atomic_int slow_paths;

static pthread_mutex_t fault_lock = PTHREAD_MUTEX_INITIALIZER;
static enum pktmem_fault_mode fault_mode;
static unsigned long fault_n;
static unsigned long fault_seen;   /* allocation points passed */
static unsigned long fault_failed; /* allocations made to fail */
static uint64_t fault_rng;

static uint64_t next_random(void)
{
	/* xorshift64*: small, seedable, good enough to spread failures. */
	fault_rng ^= fault_rng >> 12;
	fault_rng ^= fault_rng << 25;
	fault_rng ^= fault_rng >> 27;
	return fault_rng * 0x2545F4914F6CDD1DULL;
}

bool fault_point_slow(void)
{
	bool fail = false;

	pthread_mutex_lock(&fault_lock);
	fault_seen++;
	switch (fault_mode) {
	case PKTMEM_FAULT_NTH:
		fail = fault_seen == fault_n;
		break;
	case PKTMEM_FAULT_EVERY:
		fail = fault_seen % fault_n == 0;
		break;
	case PKTMEM_FAULT_RANDOM:
		fail = next_random() % 1000000u < fault_n;
		break;
	case PKTMEM_FAULT_OFF:
		break;
	}
	if (fail)
		fault_failed++;
	pthread_mutex_unlock(&fault_lock);
	return fail;
}

int pktmem_fault_set(enum pktmem_fault_mode mode, unsigned long n, unsigned long seed)
{
	switch (mode) {
	case PKTMEM_FAULT_OFF:
		pktmem_fault_off();
		return 0;
	case PKTMEM_FAULT_NTH:
	case PKTMEM_FAULT_EVERY:
		if (n == 0)
			return -EINVAL;
		break;
	case PKTMEM_FAULT_RANDOM:
		if (n > 1000000u)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	pthread_mutex_lock(&fault_lock);
	fault_mode = mode;
	fault_n = n;
	fault_seen = 0;
	fault_rng = seed * 0x9E3779B97F4A7C15ULL + 1; /* never zero */
	atomic_fetch_or(&slow_paths, SLOW_FAULT);
	pthread_mutex_unlock(&fault_lock);
	return 0;
}

void pktmem_fault_off(void)
{
	pthread_mutex_lock(&fault_lock);
	fault_mode = PKTMEM_FAULT_OFF;
	atomic_fetch_and(&slow_paths, ~SLOW_FAULT);
	pthread_mutex_unlock(&fault_lock);
}

unsigned long pktmem_fault_count(void)
{
	pthread_mutex_lock(&fault_lock);
	unsigned long n = fault_seen;
	pthread_mutex_unlock(&fault_lock);
	return n;
}

void pktmem_fault_count_reset(void)
{
	/* Counting without failing: the slow path runs, the mode stays OFF. */
	pthread_mutex_lock(&fault_lock);
	fault_mode = PKTMEM_FAULT_OFF;
	fault_seen = 0;
	atomic_fetch_or(&slow_paths, SLOW_FAULT);
	pthread_mutex_unlock(&fault_lock);
}

unsigned long pktmem_fault_injected(void)
{
	pthread_mutex_lock(&fault_lock);
	unsigned long n = fault_failed;
	pthread_mutex_unlock(&fault_lock);
	return n;
}
