/*
 * Fuzz target: sk_buffs against a byte-array model.
 *
 * The input is a program (see fuzz_common.h): packets from alloc_skb,
 * alloc_skb_fclone, netdev_alloc_skb and __alloc_skb(SKB_ALLOC_RX), with
 * skb_reserve, skb_put_data and page fragments (alloc_pages +
 * skb_add_rx_frag, sometimes two fragments of one page); then skb_put_data,
 * skb_push, skb_pull, pskb_pull, more fragments, writes through
 * skb_store_bits after skb_cow / skb_unshare / skb_linearize /
 * pskb_expand_head, clones and copies kept alive as second holders
 * (skb_clone, skb_copy, pskb_copy, skb_realloc_headroom, skb_share_check)
 * whose bytes must never change when another holder writes, writes into
 * those holders, pskb_may_pull, pskb_trim, skb_trim, skb_linearize and
 * skb_copy_bits. After every step each skb is checked against its model
 * and every head and page's reference count against its holders; after
 * the input, every cache is back where it started.
 */
#include "skb_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_begin(data, size);
	while (fz_more() && run.step < FZ_MAX_STEPS) {
		int op = fz_step_begin(NR_SKB_OPS);

		skb_do_op(op);
		skb_compare_all();

		unsigned long long skbs, pairs, clusters;
		long users;

		rc_reset();
		skb_hold_refs(&skbs, &pairs);
		rc_verify(&clusters, &users);
		EXPECT(cache_in_use(pktmem_skbuff_cache()) == skbs, "skbuff cache: %llu in use, %llu skbs live",
		       cache_in_use(pktmem_skbuff_cache()), skbs);
		EXPECT(cache_in_use(pktmem_skbuff_fclone_cache()) == pairs,
		       "fclone cache: %llu in use, %llu pairs live", cache_in_use(pktmem_skbuff_fclone_cache()), pairs);
		skb_age_copies();
		fz_step_end();
	}
	skb_free_all();
	fz_end();
	return 0;
}
