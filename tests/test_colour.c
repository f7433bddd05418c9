/*
 * Cache colouring: the data areas of a burst of packets must not all fall in
 * a few L1 sets. A 32 KiB 8-way L1 has 64 sets of 64-byte lines, chosen by
 * address bits 6-11; buffers laid out at a power-of-two stride of 2 KiB or
 * more start in one or two sets, so a burst's 32 headers (the bytes a packet
 * path touches first) evict each other. Each burst here is taken in a fresh
 * process's caches, where objects come out in address order.
 */
#include <stdint.h>

#include <pktmem/mbuf.h>
#include <pktmem/skbuff.h>

#include "check.h"

#define BURST 32
#define L1_SETS 64

/* How many of the 64 L1 sets the first line of each of @n areas falls in. */
static int sets_of(void *const *p, int n)
{
	unsigned char seen[L1_SETS] = { 0 };
	int sets = 0;

	for (int i = 0; i < n; i++) {
		unsigned s = (unsigned)((uintptr_t)p[i] >> 6) % L1_SETS;

		sets += !seen[s];
		seen[s] = 1;
	}
	return sets;
}

/*
 * A burst of 32 must use at least 16 sets: then no set holds more than a
 * few of its headers, well within 8 ways (an unlucky arrangement of a
 * coloured layout still spreads them; a power-of-two one gives 1 or 2).
 */
#define MIN_SETS 16

static void test_skb_heads(void)
{
	static const unsigned int sizes[] = { 200, 1500, 3000 };

	for (unsigned k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct sk_buff *skb[BURST];
		void *data[BURST], *shinfo[BURST];

		for (int i = 0; i < BURST; i++) {
			skb[i] = alloc_skb(sizes[k], GFP_KERNEL);
			CHECK(skb[i] != NULL);
			if (!skb[i])
				return;
			skb_reserve(skb[i], 64);
			data[i] = skb[i]->data;
			shinfo[i] = skb_shinfo(skb[i]);
		}
		int ds = sets_of(data, BURST), ss = sets_of(shinfo, BURST);

		if (ds < MIN_SETS || ss < MIN_SETS)
			fprintf(stderr, "alloc_skb(%u) x %d: data in %d sets, shared info in %d sets\n", sizes[k],
				BURST, ds, ss);
		CHECK(ds >= MIN_SETS);
		CHECK(ss >= MIN_SETS);
		for (int i = 0; i < BURST; i++)
			kfree_skb(skb[i]);
	}
}

static void test_clusters(void)
{
	struct mbuf *m[BURST];
	void *data[BURST];

	for (int i = 0; i < BURST; i++) {
		m[i] = m_gethdr(M_WAIT, MT_DATA);
		MCLGET(m[i], M_WAIT);
		CHECK(m[i]->m_flags & M_EXT);
		data[i] = mtod(m[i], void *);
	}
	int ds = sets_of(data, BURST);

	if (ds < MIN_SETS)
		fprintf(stderr, "clusters x %d: data in %d sets\n", BURST, ds);
	CHECK(ds >= MIN_SETS);
	for (int i = 0; i < BURST; i++)
		m_freem(m[i]);
}

/*
 * The colour line is part of a head's room: every size gets at least its
 * tailroom, and a head re-made at its own size stays in its class (the same
 * end), around every class boundary.
 */
static void test_head_classes(void)
{
	for (unsigned int base = 256; base <= 65536; base *= 2) {
		for (unsigned int size = base - 400; size <= base + 130; size += 13) {
			struct sk_buff *skb = alloc_skb(size, GFP_KERNEL);

			CHECK(skb != NULL);
			if (!skb)
				return;
			unsigned int end = skb->end;

			CHECK(skb_tailroom(skb) >= (int)size);
			CHECK_EQ(pskb_expand_head(skb, 0, 0, GFP_KERNEL), 0);
			if (skb->end != end)
				fprintf(stderr, "alloc_skb(%u): end %u, after pskb_expand_head(0, 0) %u\n", size, end,
					skb->end);
			CHECK_EQ(skb->end, end);
			kfree_skb(skb);
		}
	}
}

int main(void)
{
	diag_capture();
	TEST(test_skb_heads);
	TEST(test_head_classes);
	TEST(test_clusters);
	CHECK_EQ(all_in_use(), 0);
	return test_summary();
}
