/*
 * What every fuzz target shares: the input decoder, the failure report,
 * the diagnostic handler, fault injection around one library call, and
 * the accounting that proves nothing leaked and no reference went astray.
 *
 *   input bytes --> fz_byte()/rn() --> choices of one step  --> library call
 *                                                         \--> byte-array model
 *   after every step: structure, lengths and bytes against the model,
 *                     references on every shared area against its holders
 *   after every input: every cache back where it started
 *
 * Every choice a step makes (which operation, offsets, lengths, wait
 * flags, which allocation to fail) is read from the input, so libFuzzer's
 * mutations steer the operations. The bytes written are not: they come from
 * a PRNG seeded by the input, so an input stays small and every byte of a
 * packet is (almost surely) distinct, which shows a misplaced copy.
 *
 * A mismatch prints what went wrong and the last operations, then calls
 * abort(): libFuzzer records the input as a crash, and the replay driver
 * (replay.c) stops on it. A diagnostic from the library is a mismatch too:
 * the harness makes only valid calls.
 *
 * Only static functions, included by one target per program.
 */
#ifndef PKTMEM_FUZZ_COMMON_H
#define PKTMEM_FUZZ_COMMON_H

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pktmem/ext.h>
#include <pktmem/mbuf.h>
#include <pktmem/page.h>
#include <pktmem/pktmem.h>
#include <pktmem/skbuff.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#ifdef PKTMEM_NO_WINDOW_HOOKS
/*
 * The _inline fuzzers run the header-inline fast paths (skb_push, M_PREPEND,
 * m_adj, ...) that a sanitizer build otherwise replaces by the exported
 * functions. Those move windows without telling the library, so window
 * poisoning is off in them (the other fuzzers keep it).
 */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	pktmem_debug_set_windows(false);
	return 0;
}
#endif

#define FZ_MAX_STEPS 256  /* steps per input, whatever its length */
#define FZ_LOG_LINES 32   /* operations remembered for a failure report */

/* ------------------------------------------------------------ input */

static struct {
	const uint8_t *p;
	size_t n;
} fz_in;

/* The next input byte; 0 once the input is used up. */
static inline unsigned fz_byte(void)
{
	if (!fz_in.n)
		return 0;
	fz_in.n--;
	return *fz_in.p++;
}

static inline bool fz_more(void)
{
	return fz_in.n != 0;
}

/* A choice in [0, n) read from the input (1, 2 or 4 bytes as n needs). */
static inline int rn(int n)
{
	uint32_t v;

	if (n <= 1)
		return 0;
	if (n <= 256)
		v = fz_byte();
	else if (n <= 65536)
		v = fz_byte() | fz_byte() << 8;
	else
		v = fz_byte() | fz_byte() << 8 | fz_byte() << 16 | (uint32_t)fz_byte() << 24;
	return (int)(v % (uint32_t)n);
}

static inline bool one_in(int n)
{
	return rn(n) == 0;
}

static inline int imin(int a, int b)
{
	return a < b ? a : b;
}

/* The first index where @a and @b differ, or -1. */
static inline int first_difference(const unsigned char *a, const unsigned char *b, int n)
{
	for (int i = 0; i < n; i++)
		if (a[i] != b[i])
			return i;
	return -1;
}

/* ------------------------------------------------------------ data bytes */

static uint64_t fz_rng;       /* the data bytes */
static uint64_t fz_check_rng; /* check_rn() */

static inline uint64_t fz_xorshift(uint64_t *state)
{
	uint64_t x = *state; /* xorshift64 */

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

static inline uint64_t fz_rnd(void)
{
	return fz_xorshift(&fz_rng);
}

/*
 * A choice that varies only a check, never what runs (tests/mbuf_model.h):
 * from a PRNG of its own, seeded by the input like the data bytes, so that
 * it reads no input byte and draws no data byte: an input keeps its meaning.
 */
static inline int check_rn(int n)
{
	return n > 0 ? (int)(fz_xorshift(&fz_check_rng) % (uint64_t)n) : 0;
}

static inline void fill_random(unsigned char *p, int n)
{
	while (n >= 8) {
		uint64_t v = fz_rnd();

		memcpy(p, &v, 8);
		p += 8;
		n -= 8;
	}
	while (n-- > 0)
		*p++ = (unsigned char)fz_rnd();
}

/* ------------------------------------------------------------ failure report */

static struct {
	long step;
	unsigned fault_k;         /* this step fails its k-th allocation of an armed call (0: none) */
	unsigned long injected_before;
	unsigned long steps_total, inputs_total;
} run;

static char oplog[FZ_LOG_LINES][224];
static long oplog_total;

/*
 * With PKTMEM_FUZZ_STATS set, the replay driver (or a libFuzzer run) prints
 * at exit how often each noted call ran, how often each failure contract or
 * rare path the model counts was seen, and how often a fault step failed an
 * allocation: a quiet run is visibly not an idle one.
 */
#define FZ_STATS_ROWS 128
static struct {
	char name[56];
	unsigned long n, faulted;
} fz_stats[FZ_STATS_ROWS];
static int fz_stats_on = -1;

static inline void fz_stats_print(void)
{
	fprintf(stderr, "%-55s %10s %10s\n", "call (as noted) or path (as counted)", "steps", "faulted");
	for (int i = 0; i < FZ_STATS_ROWS && fz_stats[i].name[0]; i++)
		fprintf(stderr, "%-55s %10lu %10lu\n", fz_stats[i].name, fz_stats[i].n, fz_stats[i].faulted);
}

/* One more of @name's first @k characters (cut to fit). */
static inline void fz_stats_add(const char *name, size_t k, bool faulted)
{
	char key[sizeof(fz_stats[0].name)];

	k = k < sizeof(key) - 1 ? k : sizeof(key) - 1;
	memcpy(key, name, k);
	key[k] = 0;
	for (int i = 0; i < FZ_STATS_ROWS; i++) {
		if (!fz_stats[i].name[0])
			memcpy(fz_stats[i].name, key, k + 1);
		if (!strcmp(fz_stats[i].name, key)) {
			fz_stats[i].n++;
			fz_stats[i].faulted += faulted;
			return;
		}
	}
}

/* A log line counts as its call: its first word. */
static inline void fz_stats_count(const char *line, bool faulted)
{
	size_t k = 0;

	while (*line == ' ')
		line++;
	while (line[k] && line[k] != '(' && line[k] != ' ')
		k++;
	fz_stats_add(line, k, faulted);
}

/* A failure contract or rare path seen (tests/mbuf_model.h). */
static inline void count(const char *what)
{
	if (fz_stats_on > 0)
		fz_stats_add(what, strlen(what), false);
}

static inline void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void note(const char *fmt, ...)
{
	char *line = oplog[oplog_total++ % FZ_LOG_LINES];
	int k = snprintf(line, sizeof(oplog[0]), "step %ld", run.step);

	if (run.fault_k)
		k += snprintf(line + k, sizeof(oplog[0]) - (size_t)k, " [fail alloc #%u]", run.fault_k);
	k += snprintf(line + k, sizeof(oplog[0]) - (size_t)k, ": ");

	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line + k, sizeof(oplog[0]) - (size_t)k, fmt, ap);
	va_end(ap);
	if (fz_stats_on > 0)
		fz_stats_count(line + k, false);
}

static inline void fz_print_log(void)
{
	fprintf(stderr, "  last operations:\n");
	for (long i = oplog_total > FZ_LOG_LINES ? oplog_total - FZ_LOG_LINES : 0; i < oplog_total; i++)
		fprintf(stderr, "    %s\n", oplog[i % FZ_LOG_LINES]);
}

static inline void failf(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
static inline void failf(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	pktmem_fault_off();
	fprintf(stderr, "\nFUZZ MISMATCH (%s:%d) at step %ld: ", file, line, run.step);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	fz_print_log();
	abort();
}

#define FAIL(...) failf(__FILE__, __LINE__, __VA_ARGS__)
#define EXPECT(cond, ...)                  \
	do {                               \
		if (!(cond))               \
			FAIL(__VA_ARGS__); \
	} while (0)

/* A diagnostic from a valid call is a library bug (or a harness bug): stop. */
static inline void fz_diag(const char *func, const char *msg, void *arg)
{
	(void)arg;
	pktmem_fault_off();
	fprintf(stderr, "\nFUZZ DIAGNOSTIC at step %ld: %s: %s\n", run.step, func, msg);
	fz_print_log();
	abort();
}

/* ------------------------------------------------------------ fault injection */

/* Arm the injector around one library call (when this step is a fault step). */
static inline void arm(void)
{
	run.injected_before = pktmem_fault_injected();
	if (run.fault_k)
		pktmem_fault_set(PKTMEM_FAULT_NTH, run.fault_k, 0);
}

/* Disarm; true if an allocation was made to fail since arm(). */
static inline bool disarm(void)
{
	bool hit;

	if (run.fault_k)
		pktmem_fault_off();
	hit = pktmem_fault_injected() != run.injected_before;
	if (hit && fz_stats_on > 0)
		fz_stats_count("allocation-failed-on-purpose", true);
	return hit;
}

/* ------------------------------------------------------------ accounting */

static inline unsigned long long cache_in_use(struct kmem_cache *c)
{
	struct pktmem_stats st;

	kmem_cache_stats(c, &st);
	return st.in_use;
}

static inline int sum_in_use(const struct pktmem_stats *st, void *arg)
{
	if (st->kind == PKTMEM_STATS_CACHE)
		*(unsigned long long *)arg += st->in_use;
	return 0;
}

/* Objects in use in every cache of the library (kmalloc, pages, heads, ... all). */
static inline unsigned long long all_in_use(void)
{
	unsigned long long n = 0;

	pktmem_stats_walk(sum_in_use, &n);
	return n;
}

/*
 * Who holds each shared area. A reference is taken by: an mbuf with M_EXT
 * (its ext_storage), an sk_buff (its head), each fragment of a head's shared
 * info (its page), and a page descriptor that views other storage (the
 * viewed area). An sk_buff head is storage flagged USER|EMBEDDED whose
 * shared info sits right after its ext_size bytes (as skbuff.h draws it);
 * a head held only by mbufs (after m_from_skb) still holds its fragments.
 * Every distinct area must have exactly as many references as holders.
 */
struct refcount_ent {
	const struct pktmem_ext *e;
	long holders;
};

static struct refcount_ent *rc_ents;
static size_t rc_n, rc_cap;

static inline bool ext_is_skb_head(const struct pktmem_ext *e)
{
	return (e->ext_flags & (PKTMEM_EXT_USER | PKTMEM_EXT_EMBEDDED)) == (PKTMEM_EXT_USER | PKTMEM_EXT_EMBEDDED);
}

static inline void rc_hold(const struct pktmem_ext *e);

/* Count one reference to @e; the first time @e is seen, count what it holds. */
static inline void rc_hold(const struct pktmem_ext *e)
{
	EXPECT(e != NULL, "a holder points at NULL storage");
	for (size_t i = 0; i < rc_n; i++)
		if (rc_ents[i].e == e) {
			rc_ents[i].holders++;
			return;
		}
	if (rc_n == rc_cap) {
		rc_cap = rc_cap ? 2 * rc_cap : 256;
		rc_ents = realloc(rc_ents, rc_cap * sizeof(*rc_ents));
		if (!rc_ents)
			abort();
	}
	rc_ents[rc_n++] = (struct refcount_ent){ e, 1 };
	if (ext_is_skb_head(e)) {
		const struct skb_shared_info *sh = (const struct skb_shared_info *)(e->ext_buf + e->ext_size);

		EXPECT(sh->nr_frags <= MAX_SKB_FRAGS, "head %p: nr_frags %u", (const void *)e, sh->nr_frags);
		EXPECT(sh->frag_list == NULL, "head %p: a frag_list appeared", (const void *)e);
		for (int i = 0; i < sh->nr_frags; i++)
			rc_hold(&sh->frags[i].bv_page->ext);
	}
	if (e->ext_flags & PKTMEM_EXT_VIEW)
		rc_hold((const struct pktmem_ext *)e->ext_arg);
}

static inline void rc_reset(void)
{
	rc_n = 0;
}

/* Every counted area against its reference count; returns clusters and MEXTADD areas seen. */
static inline void rc_verify(unsigned long long *clusters, long *user_bufs)
{
	*clusters = 0;
	*user_bufs = 0;
	for (size_t i = 0; i < rc_n; i++) {
		const struct pktmem_ext *e = rc_ents[i].e;

		if (pktmem_ext_refs(e) != rc_ents[i].holders)
			FAIL("storage %p (flags %#x, %zu bytes) has %d references, %ld holders", (const void *)e,
			     e->ext_flags, e->ext_size, pktmem_ext_refs(e), rc_ents[i].holders);
		if (e->ext_flags & PKTMEM_EXT_CLUSTER)
			(*clusters)++;
		if ((e->ext_flags & (PKTMEM_EXT_USER | PKTMEM_EXT_EMBEDDED)) == PKTMEM_EXT_USER)
			(*user_bufs)++;
	}
}

/* ------------------------------------------------------------ per input */

static unsigned long long fz_baseline;
static bool fz_ready;

/* Touch every cache a target uses once, so that the baseline is stable. */
static inline void fz_warm_up(void)
{
	struct mbuf *m = m_gethdr(M_WAIT, MT_DATA), *n = m_get(M_WAIT, MT_DATA);

	MCLGET(m, M_WAIT);
	MEXTMALLOC(n, 100, M_WAIT);
	m->m_next = n;
	m_tag_prepend(m, m_tag_get(1, 8, M_WAIT));

	struct sk_buff *skb = alloc_skb(100, GFP_KERNEL), *c;
	struct page *pg = alloc_page(GFP_KERNEL);

	skb_add_rx_frag(skb, 0, pg, 0, 10, 10);
	c = skb_clone(skb, GFP_KERNEL);
	kfree_skb(c);
	kfree_skb(skb);
	skb = alloc_skb_fclone(100, GFP_KERNEL);
	kfree_skb(skb);
	m_freem(m);
	fz_baseline = all_in_use();
}

static inline void fz_begin(const uint8_t *data, size_t size)
{
	if (!fz_ready) {
		fz_stats_on = getenv("PKTMEM_FUZZ_STATS") != NULL;
		if (fz_stats_on)
			atexit(fz_stats_print);
		pktmem_set_diag_handler(fz_diag, NULL);
		fz_warm_up();
		fz_ready = true;
	}
	fz_in.p = data;
	fz_in.n = size;
	/* FNV-1a of the input seeds the data bytes. */
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 0x100000001b3ULL;
	fz_rng = h | 1;
	fz_check_rng = (h * 0x9E3779B97F4A7C15ULL) | 1;
	oplog_total = 0;
	run.step = 0;
	run.fault_k = 0;
	run.inputs_total++;
}

/*
 * Read a step's opcode byte: the low five bits choose among @nops
 * operations; a top-three-bits value of 7 (one step in eight) makes the
 * step a fault step, failing the k-th allocation of each armed call.
 */
static inline int fz_step_begin(int nops)
{
	unsigned b = fz_byte();

	run.fault_k = (b >> 5) == 7 ? 1 + (unsigned)rn(12) : 0;
	return (int)(b & 0x1f) % nops;
}

static inline void fz_step_end(void)
{
	run.fault_k = 0;
	pktmem_fault_off();
	run.step++;
	run.steps_total++;
}

/* After everything was freed: every cache as before the input (MEXTADD buffers: mext_check_all_released). */
static inline void fz_end(void)
{
	pktmem_fault_off();
	EXPECT(cache_in_use(pktmem_mbuf_cache()) == 0, "after the input: %llu mbufs in use",
	       cache_in_use(pktmem_mbuf_cache()));
	EXPECT(cache_in_use(pktmem_cluster_cache()) == 0, "after the input: %llu clusters in use",
	       cache_in_use(pktmem_cluster_cache()));
	EXPECT(cache_in_use(pktmem_skbuff_cache()) == 0, "after the input: %llu sk_buffs in use",
	       cache_in_use(pktmem_skbuff_cache()));
	EXPECT(cache_in_use(pktmem_skbuff_fclone_cache()) == 0, "after the input: %llu fclone pairs in use",
	       cache_in_use(pktmem_skbuff_fclone_cache()));
	EXPECT(all_in_use() == fz_baseline, "after the input: %llu objects in use in all caches, %llu before",
	       all_in_use(), fz_baseline);
}

#endif /* PKTMEM_FUZZ_COMMON_H */
