/*
 * A minimal test harness: CHECK() records a failure with its line and goes
 * on; TEST() runs one function; the summary line is the one CTest and CI
 * read ("N passed, N failed"). Tests also install a diagnostic handler that
 * counts instead of aborting, so that refused operations can be asserted.
 */
#ifndef PKTMEM_TEST_CHECK_H
#define PKTMEM_TEST_CHECK_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pktmem/pktmem.h>

/* Under ASan, freed objects are poisoned: a test skips deliberate reuse. */
#if defined(__SANITIZE_ADDRESS__)
#define TEST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_UNDER_ASAN 1
#endif
#endif

/* Under valgrind (memcheck), freed cached objects are no-access too. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define TEST_UNDER_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef TEST_UNDER_VALGRIND
#define TEST_UNDER_VALGRIND() 0
#endif

/* May a test touch a freed object on purpose? Not where either tool would report the access itself. */
static inline bool reuse_is_safe(void)
{
#ifdef TEST_UNDER_ASAN
	return false;
#else
	return !TEST_UNDER_VALGRIND();
#endif
}

static int check_failed_now;
static int tests_passed, tests_failed;

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
			check_failed_now = 1;                                        \
		}                                                                    \
	} while (0)

#define CHECK_EQ(a, b)                                                               \
	do {                                                                         \
		long long va_ = (long long)(a), vb_ = (long long)(b);                \
		if (va_ != vb_) {                                                    \
			fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld != %lld)\n", \
				__FILE__, __LINE__, #a, #b, va_, vb_);               \
			check_failed_now = 1;                                        \
		}                                                                    \
	} while (0)

#define TEST(fn)                                                                     \
	do {                                                                         \
		check_failed_now = 0;                                                \
		fn();                                                                \
		if (check_failed_now) {                                              \
			tests_failed++;                                              \
			fprintf(stderr, "FAIL %s\n", #fn);                           \
		} else {                                                             \
			tests_passed++;                                              \
			printf("ok   %s\n", #fn);                                    \
		}                                                                    \
	} while (0)

static inline int test_summary(void)
{
	printf("%d passed, %d failed\n", tests_passed, tests_failed);
	return tests_failed ? 1 : 0;
}

/*
 * Switch debug mode to @on for the length of a test (when it is on, a
 * double free or a use of a freed object is diagnosed in its words, "double
 * free of" or "is freed already", and freed objects read as 0x6b); returns
 * the state to hand back to debug_mode_set() at its end, so that the tests
 * after it run in the mode the environment chose.
 */
static inline bool debug_mode_set(bool on)
{
	bool was = pktmem_debug_enabled();

	pktmem_debug_set(on);
	return was;
}

/* Diagnostics recorded by the counting handler. */
static char diag_last_func[64];
static char diag_last_msg[512];
static unsigned long diag_seen;

static void counting_diag(const char *func, const char *msg, void *arg)
{
	(void)arg;
	snprintf(diag_last_func, sizeof(diag_last_func), "%s", func);
	snprintf(diag_last_msg, sizeof(diag_last_msg), "%s", msg);
	diag_seen++;
}

static inline void diag_capture(void)
{
	pktmem_set_diag_handler(counting_diag, NULL);
}

/* One diagnostic from @func while @stmt runs. */
#define EXPECT_DIAG(func, stmt)                                                     \
	do {                                                                        \
		unsigned long before_ = diag_seen;                                  \
		stmt;                                                               \
		CHECK_EQ(diag_seen, before_ + 1);                                   \
		CHECK(strcmp(diag_last_func, (func)) == 0);                         \
	} while (0)

/* No diagnostic while @stmt runs. */
#define EXPECT_NO_DIAG(stmt)                                                        \
	do {                                                                        \
		unsigned long before_ = diag_seen;                                  \
		stmt;                                                               \
		CHECK_EQ(diag_seen, before_);                                       \
	} while (0)

/* The last diagnostic's message contains @s. */
#define HAS(s) (strstr(diag_last_msg, (s)) != NULL)

static inline int sum_in_use_(const struct pktmem_stats *st, void *arg)
{
	if (st->kind == PKTMEM_STATS_CACHE)
		*(unsigned long long *)arg += st->in_use;
	return 0;
}

/* Objects in use in every cache of the library (kmalloc, pages, ... all). */
static inline unsigned long long all_in_use(void)
{
	unsigned long long n = 0;

	pktmem_stats_walk(sum_in_use_, &n);
	return n;
}

/* In-use count of a cache (asserted back at zero by every test). */
static inline unsigned long long cache_in_use(struct kmem_cache *c)
{
	struct pktmem_stats st;

	kmem_cache_stats(c, &st);
	return st.in_use;
}

#endif /* PKTMEM_TEST_CHECK_H */
