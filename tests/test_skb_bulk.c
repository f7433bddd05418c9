/*
 * alloc_skb_bulk(), kfree_skb_bulk() and kfree_skb_list()'s gathered frees:
 * every skb of a bulk allocation has the shape alloc_skb() gives; the
 * allocation is all or nothing under every injected fault and at a cache
 * limit; the bulk frees release every kind of skb (clones, fclones, frags,
 * frag_lists, shared heads, kmalloc heads, NULL entries) exactly once; bad
 * input is diagnosed. Every test ends with nothing in use in any cache.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <pktmem/mbuf.h>
#include <pktmem/skbuff.h>
#include <pktmem/slab.h>

#include "check.h"

#define MAXN 100

static unsigned long long base_in_use;

static void check_clean(void)
{
	CHECK_EQ(all_in_use(), base_in_use);
}

/* Sizes on both sides of the class edges (a 512 + 64 colour line, ...) and a kmalloc head. */
static const unsigned int sizes[] = { 0, 1, 100, 448, 449, 1500, 1984, 2048, 4000, 16000, 32768, 40000 };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static const int counts[] = { 1, 2, 16, 31, 32, 33, 64, 65, MAXN };
#define NCOUNTS (sizeof(counts) / sizeof(counts[0]))

/* @skb has the shape of @ref, a fresh alloc_skb() of the same size, with a head of its own. */
static void check_like(const struct sk_buff *skb, const struct sk_buff *ref)
{
	static const char zero_cb[sizeof(ref->cb)];
	const struct skb_shared_info *sh = skb_shinfo(skb);

	CHECK(skb != ref && skb->head != ref->head);
	CHECK(skb->next == NULL && skb->prev == NULL && skb->dev == NULL && skb->sk == NULL);
	CHECK(memcmp(skb->cb, zero_cb, sizeof(zero_cb)) == 0);
	CHECK_EQ(skb->len, 0);
	CHECK_EQ(skb->data_len, 0);
	CHECK_EQ(skb->mac_len, 0);
	CHECK_EQ(skb->hdr_len, 0);
	CHECK_EQ(skb->protocol, 0);
	CHECK_EQ(skb->transport_header, ref->transport_header);
	CHECK_EQ(skb->network_header, ref->network_header);
	CHECK_EQ(skb->mac_header, ref->mac_header);
	CHECK_EQ(skb->cloned, 0);
	CHECK_EQ(skb->pfmemalloc, 0);
	CHECK_EQ(skb->fclone, SKB_FCLONE_UNAVAILABLE);
	CHECK_EQ(skb->head_frag, 0);
	CHECK_EQ(skb->ip_summed, 0);
	CHECK_EQ(skb->priority, 0);
	CHECK_EQ(skb->mark, 0);
	CHECK_EQ(skb->truesize, ref->truesize);
	CHECK_EQ(skb->users, 1);
	CHECK(skb->destructor == NULL);
	CHECK(skb->data == skb->head);
	CHECK_EQ(skb->tail, 0);
	CHECK_EQ(skb->end, ref->end);
	CHECK(skb->head_ext != NULL && skb->head_ext != ref->head_ext);
	CHECK(skb->head_ext->ext_buf == (char *)skb->head);
	CHECK_EQ(skb->head_ext->ext_size, ref->head_ext->ext_size);
	CHECK_EQ(skb->head_ext->ext_type, ref->head_ext->ext_type);
	CHECK_EQ(skb->head_ext->ext_flags, ref->head_ext->ext_flags);
	CHECK_EQ(pktmem_ext_refs(skb->head_ext), 1);
	CHECK(!skb_cloned(skb));
	CHECK_EQ(skb_tailroom(skb), skb_tailroom(ref));
	CHECK_EQ(sh->nr_frags, 0);
	CHECK_EQ(sh->tx_flags, 0);
	CHECK_EQ(sh->gso_size, 0);
	CHECK_EQ(sh->gso_segs, 0);
	CHECK_EQ(sh->gso_type, 0);
	CHECK(sh->frag_list == NULL);
}

static void test_shape(void)
{
	struct sk_buff *skbs[MAXN];

	for (unsigned s = 0; s < NSIZES; s++) {
		unsigned int size = sizes[s];
		struct sk_buff *ref = alloc_skb(size, GFP_KERNEL);
		struct kmem_cache *hc = pktmem_skb_head_cache(size);

		CHECK(ref != NULL);
		if (hc) {
			/* The head class, colour line included: the object is the head's truesize share. */
			unsigned int obj = kmem_cache_size(hc);

			CHECK_EQ(obj, ref->truesize - sizeof(struct sk_buff));
			CHECK(obj >= 576 && ((obj - 64) & (obj - 65)) == 0);
		} else {
			CHECK(ref->head_ext->ext_type < 0); /* a kmalloc head */
		}
		for (unsigned c = 0; c < NCOUNTS; c++) {
			int n = counts[c];
			unsigned long long heads = hc ? cache_in_use(hc) : 0;
			unsigned long long structs = cache_in_use(pktmem_skbuff_cache());

			CHECK_EQ(alloc_skb_bulk(skbs, n, size, GFP_KERNEL), n);
			CHECK_EQ(cache_in_use(pktmem_skbuff_cache()), structs + (unsigned)n);
			if (hc)
				CHECK_EQ(cache_in_use(hc), heads + (unsigned)n);
			for (int i = 0; i < n; i++) {
				check_like(skbs[i], ref);
				for (int j = 0; j < i; j++)
					CHECK(skbs[j] != skbs[i] && skbs[j]->head != skbs[i]->head);
				/* The whole tailroom is the caller's to write. */
				memset(skb_put(skbs[i], (unsigned)skb_tailroom(skbs[i])), i & 0xff, skbs[i]->end);
			}
			for (int i = 0; i < n; i++)
				CHECK_EQ(skbs[i]->data[skbs[i]->len - 1], i & 0xff);
			kfree_skb_bulk(skbs, n);
			CHECK_EQ(cache_in_use(pktmem_skbuff_cache()), structs);
			if (hc)
				CHECK_EQ(cache_in_use(hc), heads);
		}
		kfree_skb(ref);
	}
	/* n == 0 returns 0 and allocates nothing; __GFP_ZERO is ignored as by alloc_skb(). */
	CHECK_EQ(alloc_skb_bulk(skbs, 0, 1500, GFP_KERNEL), 0);
	CHECK_EQ(alloc_skb_bulk(NULL, 0, 1500, GFP_KERNEL), 0);
	CHECK_EQ(alloc_skb_bulk(skbs, 4, 1500, GFP_KERNEL | __GFP_ZERO), 4);
	kfree_skb_bulk(skbs, 4);
	check_clean();
}

/* One allocation, with the @k-th allocation point failing (0: none). */
static int alloc_with_fault(struct sk_buff **skbs, int n, unsigned int size, enum pktmem_fault_mode mode,
			    unsigned long k)
{
	int got;

	if (k)
		pktmem_fault_set(mode, k, 0);
	got = alloc_skb_bulk(skbs, n, size, GFP_KERNEL);
	pktmem_fault_off();
	return got;
}

static void test_all_or_nothing(void)
{
	static const unsigned int fsizes[] = { 1500, 40000 };
	static const int fcounts[] = { 1, 7, 32, 33, 100 };
	struct sk_buff *skbs[MAXN], *sentinel = (struct sk_buff *)(uintptr_t)0x5a5a5a5a;

	for (unsigned s = 0; s < 2; s++) {
		for (unsigned c = 0; c < sizeof(fcounts) / sizeof(fcounts[0]); c++) {
			unsigned int size = fsizes[s];
			int n = fcounts[c];
			unsigned long long before = all_in_use();

			pktmem_fault_count_reset();
			CHECK_EQ(alloc_skb_bulk(skbs, n, size, GFP_KERNEL), n);
			unsigned long points = pktmem_fault_count();

			pktmem_fault_off();
			kfree_skb_bulk(skbs, n);
			/*
			 * One bulk call for the sk_buffs, one for the heads (or a
			 * kmalloc per head), and beyond a burst of 32 the array of
			 * pointers the call keeps meanwhile.
			 */
			CHECK_EQ(points, 1 + (size == 1500 ? 1 : (unsigned long)n) + (n > 32));
			for (unsigned long k = 1; k <= points; k++) {
				unsigned long injected = pktmem_fault_injected();

				for (int i = 0; i < n; i++)
					skbs[i] = sentinel;
				errno = 0;
				CHECK_EQ(alloc_with_fault(skbs, n, size, PKTMEM_FAULT_NTH, k), 0);
				CHECK_EQ(pktmem_fault_injected(), injected + 1);
				CHECK_EQ(errno, ENOMEM);
				for (int i = 0; i < n; i++)
					CHECK(skbs[i] == sentinel);
				CHECK_EQ(all_in_use(), before);
			}
			/* Every k-th point failing: the first failure ends the call, whole. */
			for (unsigned long k = 1; k <= 3 && k <= points; k++) {
				CHECK_EQ(alloc_with_fault(skbs, n, size, PKTMEM_FAULT_EVERY, k), 0);
				CHECK_EQ(all_in_use(), before);
			}
		}
	}
	check_clean();
}

/* At a cache limit GFP_ATOMIC fails at once and keeps nothing; below it the run succeeds. */
static void test_limit(void)
{
	struct kmem_cache *sc = pktmem_skbuff_cache(), *hc = pktmem_skb_head_cache(1500);
	struct sk_buff *skbs[MAXN];
	struct pktmem_stats st;

	for (int which = 0; which < 2; which++) {
		struct kmem_cache *lc = which ? hc : sc;
		unsigned long long structs = cache_in_use(sc), heads = cache_in_use(hc);

		CHECK_EQ(kmem_cache_set_limit(lc, cache_in_use(lc) + 40), 0);
		kmem_cache_stats(lc, &st);
		uint64_t denied = st.denied;

		errno = 0;
		CHECK_EQ(alloc_skb_bulk(skbs, 41, 1500, GFP_ATOMIC), 0);
		CHECK_EQ(errno, ENOMEM);
		/* Beyond the room left: nothing is taken, not even what would fit. */
		CHECK_EQ(alloc_skb_bulk(skbs, 50, 1500, GFP_NOWAIT), 0);
		kmem_cache_stats(lc, &st);
		CHECK(st.denied >= denied + 2);
		CHECK_EQ(cache_in_use(sc), structs);
		CHECK_EQ(cache_in_use(hc), heads);
		/* More than the limit itself: a waiting mask fails too, rather than wait for ever. */
		unsigned long long over = cache_in_use(lc) + 41;

		CHECK(over <= MAXN);
		CHECK_EQ(alloc_skb_bulk(skbs, (int)over, 1500, GFP_KERNEL), 0);
		CHECK_EQ(cache_in_use(sc), structs);
		CHECK_EQ(cache_in_use(hc), heads);
		CHECK_EQ(alloc_skb_bulk(skbs, 40, 1500, GFP_ATOMIC), 40);
		CHECK_EQ(alloc_skb_bulk(skbs + 40, 1, 1500, GFP_ATOMIC), 0);
		CHECK_EQ(cache_in_use(sc), structs + 40);
		CHECK_EQ(cache_in_use(hc), heads + 40);
		kfree_skb_bulk(skbs, 40);
		CHECK_EQ(kmem_cache_set_limit(lc, 0), 0);
	}
	check_clean();
}

static void test_atomic_context(void)
{
	struct sk_buff *skbs[8], *sentinel = (struct sk_buff *)(uintptr_t)0x77;

	for (int i = 0; i < 8; i++)
		skbs[i] = sentinel;
	pktmem_atomic_begin();
	errno = 0;
	EXPECT_DIAG("alloc_skb_bulk", CHECK_EQ(alloc_skb_bulk(skbs, 8, 1500, GFP_KERNEL), 0));
	CHECK(HAS("atomic"));
	CHECK_EQ(errno, EWOULDBLOCK);
	for (int i = 0; i < 8; i++)
		CHECK(skbs[i] == sentinel);
	EXPECT_NO_DIAG(CHECK_EQ(alloc_skb_bulk(skbs, 8, 1500, GFP_ATOMIC), 8));
	EXPECT_NO_DIAG(kfree_skb_bulk(skbs, 8));
	pktmem_atomic_end();
	check_clean();
}

/* ------------------------------------------------------------ freeing a mixture */

static int destructed;

static void count_destructor(struct sk_buff *skb)
{
	(void)skb;
	destructed++;
}

/*
 * @out gets every kind of skb the frees must handle, some NULL entries
 * among them; @keep gets the references the test itself still holds after
 * the bulk free (freed by the caller afterwards). Returns the count.
 */
static int make_mixture(struct sk_buff **out, struct sk_buff **keep, int *nkeep, struct mbuf **mb)
{
	int n = 0;

	*nkeep = 0;
	/* Plain skbs of three classes, interleaved, so that runs of heads are cut. */
	for (int i = 0; i < 12; i++) {
		out[n] = alloc_skb(i % 3 == 0 ? 100 : i % 3 == 1 ? 1500 : 3000, GFP_KERNEL);
		memset(skb_put(out[n], 50), i, 50);
		n++;
	}
	out[n++] = NULL;
	/* A clone and its original: both in the list, and a clone whose original the test keeps. */
	struct sk_buff *orig = alloc_skb(1500, GFP_KERNEL);

	skb_put(orig, 100);
	out[n++] = orig;
	out[n++] = skb_clone(orig, GFP_KERNEL);
	struct sk_buff *kept = alloc_skb(1500, GFP_KERNEL);

	skb_put(kept, 60);
	out[n++] = skb_clone(kept, GFP_KERNEL);
	keep[(*nkeep)++] = kept;
	/* fclones: a pair both freed here, an original alone, a companion whose original is kept. */
	struct sk_buff *fa = alloc_skb_fclone(1500, GFP_KERNEL);

	out[n++] = fa;
	out[n++] = skb_clone(fa, GFP_KERNEL);
	out[n++] = alloc_skb_fclone(700, GFP_KERNEL);
	struct sk_buff *fk = alloc_skb_fclone(1500, GFP_KERNEL);

	out[n++] = skb_clone(fk, GFP_KERNEL);
	keep[(*nkeep)++] = fk;
	out[n++] = NULL;
	/* Frags, and a frag_list. */
	struct sk_buff *fr = alloc_skb(256, GFP_KERNEL);
	struct page *pg = alloc_page(GFP_KERNEL);

	skb_put(fr, 10);
	skb_add_rx_frag(fr, 0, pg, 0, 1000, PAGE_SIZE);
	out[n++] = fr;
	struct sk_buff *fl = alloc_skb(256, GFP_KERNEL);
	struct sk_buff *a = alloc_skb(100, GFP_KERNEL), *b = alloc_skb(100, GFP_KERNEL);

	skb_put(a, 100);
	skb_put(b, 100);
	a->next = b;
	skb_shinfo(fl)->frag_list = a;
	fl->len += 200;
	fl->data_len += 200;
	out[n++] = fl;
	/* Users 2: the bulk free drops one reference, the test the other. */
	struct sk_buff *shared = alloc_skb(1500, GFP_KERNEL);

	out[n++] = skb_get(shared);
	keep[(*nkeep)++] = shared;
	/* A head an mbuf shares, a build_skb head, a kmalloc head, a destructor. */
	struct sk_buff *conv = alloc_skb(1500, GFP_KERNEL);

	memset(skb_put(conv, 300), 0xab, 300);
	*mb = m_from_skb(conv, M_WAIT);
	out[n++] = conv;
	void *frag = netdev_alloc_frag(2048);

	out[n++] = build_skb(frag, 2048);
	out[n++] = alloc_skb(40000, GFP_KERNEL);
	struct sk_buff *d = alloc_skb(1500, GFP_KERNEL);

	d->destructor = count_destructor;
	out[n++] = d;
	/* More plain ones than one gathered run holds. */
	for (int i = 0; i < 20; i++)
		out[n++] = alloc_skb(1500, GFP_KERNEL);
	out[n++] = NULL;

	int nulls = 0;

	for (int i = 0; i < n; i++)
		nulls += out[i] == NULL;
	CHECK_EQ(nulls, 3); /* every allocation above succeeded */
	return n;
}

static void test_free_mixture(void)
{
	struct sk_buff *arr[80], *keep[8];
	int nkeep;
	struct mbuf *mb;

	for (int how = 0; how < 2; how++) {
		destructed = 0;
		int n = make_mixture(arr, keep, &nkeep, &mb);

		CHECK(n <= 80);
		if (how == 0) {
			EXPECT_NO_DIAG(kfree_skb_bulk(arr, n));
		} else {
			/* The same through ->next (NULL entries left out). */
			struct sk_buff *list = NULL;

			for (int i = n - 1; i >= 0; i--) {
				if (!arr[i])
					continue;
				arr[i]->next = list;
				list = arr[i];
			}
			EXPECT_NO_DIAG(kfree_skb_list(list));
		}
		CHECK_EQ(destructed, 1);
		/* What the test kept is intact, and still shared where it was. */
		CHECK_EQ(keep[0]->len, 60);
		CHECK_EQ(pktmem_ext_refs(keep[0]->head_ext), 1);
		CHECK_EQ(keep[2]->users, 1);
		CHECK_EQ(m_length(mb), 300);
		uint8_t buf[300];

		m_copydata(mb, 0, 300, buf);
		CHECK(buf[0] == 0xab && buf[299] == 0xab);
		m_freem(mb);
		for (int i = 0; i < nkeep; i++)
			kfree_skb(keep[i]);
		check_clean();
	}
}

/* Debug mode: the gathered frees step aside; every object is checked and accounted for. */
static void test_debug_mode(void)
{
	struct sk_buff *skbs[40];
	FILE *null = fopen("/dev/null", "w");

	CHECK(null != NULL);
	bool was = debug_mode_set(true);
	size_t live = pktmem_debug_report_leaks(null);

	for (int how = 0; how < 2; how++) {
		EXPECT_NO_DIAG(CHECK_EQ(alloc_skb_bulk(skbs, 40, 1500, GFP_KERNEL), 40));
		CHECK_EQ(pktmem_debug_report_leaks(null), live + 80); /* 40 sk_buffs, 40 heads */
		if (how == 0) {
			EXPECT_NO_DIAG(kfree_skb_bulk(skbs, 40));
		} else {
			for (int i = 0; i < 39; i++)
				skbs[i]->next = skbs[i + 1];
			EXPECT_NO_DIAG(kfree_skb_list(skbs[0]));
		}
		CHECK_EQ(pktmem_debug_report_leaks(null), live);
	}
	pktmem_debug_set(was);
	fclose(null);
	check_clean();
}

/* ------------------------------------------------------------ bad input */

static void test_bad_inputs(void)
{
	struct sk_buff *skbs[4], *sentinel = (struct sk_buff *)(uintptr_t)0x99;

	for (int i = 0; i < 4; i++)
		skbs[i] = sentinel;
	EXPECT_DIAG("alloc_skb_bulk", CHECK_EQ(alloc_skb_bulk(NULL, 3, 1500, GFP_KERNEL), 0));
	CHECK(HAS("n 3") && HAS("size 1500"));
	EXPECT_DIAG("alloc_skb_bulk", CHECK_EQ(alloc_skb_bulk(skbs, -1, 1500, GFP_KERNEL), 0));
	CHECK(HAS("n -1"));
	/* A size no head can have: as alloc_skb(), ENOMEM without a diagnostic. */
	CHECK(alloc_skb(UINT_MAX, GFP_KERNEL) == NULL);
	errno = 0;
	EXPECT_NO_DIAG(CHECK_EQ(alloc_skb_bulk(skbs, 4, UINT_MAX, GFP_KERNEL), 0));
	CHECK_EQ(errno, ENOMEM);
	EXPECT_NO_DIAG(CHECK_EQ(alloc_skb_bulk(skbs, 4, (unsigned)INT_MAX - 63, GFP_KERNEL), 0));
	for (int i = 0; i < 4; i++)
		CHECK(skbs[i] == sentinel);

	/* kfree_skb_bulk: bad counts free nothing. */
	CHECK_EQ(alloc_skb_bulk(skbs, 4, 1500, GFP_KERNEL), 4);
	EXPECT_DIAG("kfree_skb_bulk", kfree_skb_bulk(NULL, 2));
	CHECK(HAS("n 2"));
	EXPECT_DIAG("kfree_skb_bulk", kfree_skb_bulk(skbs, -3));
	CHECK(HAS("n -3"));
	for (int i = 0; i < 4; i++)
		CHECK_EQ(skbs[i]->users, 1);
	EXPECT_NO_DIAG(kfree_skb_bulk(NULL, 0));
	EXPECT_NO_DIAG(kfree_skb_bulk(skbs, 0));

	/* One skb twice in the array: the second is diagnosed, the rest freed once. */
	struct sk_buff *dup[5] = { skbs[0], skbs[1], skbs[1], skbs[2], skbs[3] };

	EXPECT_DIAG("kfree_skb_bulk", kfree_skb_bulk(dup, 5));
	CHECK(HAS("freed again"));
	check_clean();

	/* A copy on the stack: refused, its head's reference kept; the real skb is freed after. */
	struct sk_buff *real = alloc_skb(1500, GFP_KERNEL);
	struct sk_buff copy = *real;
	struct sk_buff *withcopy[3] = { alloc_skb(100, GFP_KERNEL), &copy, NULL };

	EXPECT_DIAG("kfree_skb_bulk", kfree_skb_bulk(withcopy, 3));
	CHECK(HAS("not an sk_buff of ours"));
	CHECK_EQ(pktmem_ext_refs(real->head_ext), 1);
	kfree_skb(real);
	check_clean();

	/* An skb freed by an earlier call (resting in its cache): diagnosed, not freed again. */
#ifndef TEST_UNDER_ASAN
	if (!TEST_UNDER_VALGRIND()) {
		struct sk_buff *one[1];

		CHECK_EQ(alloc_skb_bulk(one, 1, 1500, GFP_KERNEL), 1);
		kfree_skb_bulk(one, 1);
		EXPECT_DIAG("kfree_skb_bulk", kfree_skb_bulk(one, 1));
		/* In debug mode it reads as the fill; its record tells, in debug mode's words. */
		CHECK(HAS(pktmem_debug_enabled() ? "is freed already: freed at " : "freed again"));
		check_clean();
	}
#endif
}

int main(void)
{
	diag_capture();
	/* Let every cache exist before the baseline. */
	kfree_skb(alloc_skb(10, GFP_KERNEL));
	m_freem(m_gethdr(M_WAIT, MT_DATA));
	base_in_use = all_in_use();

	TEST(test_shape);
	TEST(test_all_or_nothing);
	TEST(test_limit);
	TEST(test_atomic_context);
	TEST(test_free_mixture);
	TEST(test_debug_mode);
	TEST(test_bad_inputs);
	return test_summary();
}
