/*
 * Fuzz target: mbuf chains and sk_buffs that share storage, against their
 * byte-array models.
 *
 * Both worlds of fuzz_mbuf.c and fuzz_skb.c live side by side, and
 * conversions move packets between them without copying a byte of external
 * storage: skb_from_mbuf() (clusters, MEXTADD and MEXTMALLOC storage, skb
 * heads and pages become fragments viewing that storage) and m_from_skb()
 * (the head and every fragment become M_EXT storage of new mbufs). After a
 * conversion both holders stay alive, and every later write on either
 * side (m_copyback_cow, m_makewritable, M_PREPEND, m_pulldown on the mbuf
 * side; skb_store_bits after skb_cow / skb_unshare / skb_linearize on the
 * skb side) must leave the other side's bytes as they were. References are
 * counted across both worlds after every step (an mbuf holding an skb
 * head, a fragment viewing a cluster, ...), and every cache is back where
 * it started after the input.
 *
 * A step's opcode byte chooses the world (mbuf, skb or conversion), the
 * next byte the operation in it.
 */
#include "fuzz_common.h"
#include "../tests/mbuf_model.h"
#include "skb_model.h"

/*
 * Fragments skb_from_mbuf() makes of the mbufs from the first M_EXT one on,
 * by its documented rule: one per external buffer; data inside mbufs is
 * packed into pages, a run of such mbufs is one fragment, and a page is
 * left for a new one when the next mbuf's bytes do not fit in it.
 */
static int frag_segments(const struct mbuf *m)
{
	int n = 0;
	size_t used = PAGE_SIZE; /* bytes of the current copy page in use; none yet */
	bool in_run = false;

	while (m && !(m->m_flags & M_EXT))
		m = m->m_next;
	for (; m; m = m->m_next) {
		size_t len = (size_t)m->m_len;

		if (len == 0)
			continue;
		if (m->m_flags & M_EXT) {
			n++;
			in_run = false;
			continue;
		}
		if (used + len > PAGE_SIZE) {
			used = 0;
			in_run = false;
		}
		n += !in_run;
		used += len;
		in_run = true;
	}
	return n;
}

static int ext_segments(const struct mbuf *m)
{
	int n = 0;

	for (; m; m = m->m_next)
		n += (m->m_flags & M_EXT) && m->m_len > 0;
	return n;
}

/* skb_from_mbuf of the packet or a copy, into the skb packet or a second skb holder. */
static void op_to_skb(void)
{
	struct mholder *src = one_in(3) ? &copies[rn(MB_COPIES)] : &pkt;
	unsigned headroom = (unsigned)rn(one_in(4) ? 1024 : 128);
	gfp_t gfp = random_gfp();
	bool into_pkt = one_in(2), hit;

	if (!src->m)
		src = &pkt;
	if (!src->m)
		return;

	int segs = frag_segments(src->m), exts = ext_segments(src->m);

	note("skb_from_mbuf(%s of %d bytes, %d fragment segments, headroom %u) into %s", src == &pkt ? "packet"
	     : src->made_by, src->len, segs, headroom, into_pkt ? "the skb packet" : "a second skb");
	errno = 0;
	arm();
	struct sk_buff *skb = skb_from_mbuf(src->m, headroom, gfp);

	hit = disarm();
	if (!skb) {
		if (segs > MAX_SKB_FRAGS) {
			EXPECT(errno == EMSGSIZE, "skb_from_mbuf of %d segments: errno %d, not EMSGSIZE", segs, errno);
			return;
		}
		EXPECT(hit, "skb_from_mbuf(%d bytes, %d segments) returned NULL with no allocation failed", src->len,
		       segs);
		return;
	}
	EXPECT(segs <= MAX_SKB_FRAGS && skb_shinfo(skb)->nr_frags == segs,
	       "skb_from_mbuf made an skb of %d fragments (%d expected, %d external)", skb_shinfo(skb)->nr_frags, segs,
	       exts);
	EXPECT(skb_headroom(skb) == headroom && !skb_cloned(skb), "skb_from_mbuf: headroom %u (asked %u), cloned %d",
	       skb_headroom(skb), headroom, skb_cloned(skb));

	struct sholder *h;

	if (into_pkt) {
		kfree_skb(spkt.skb);
		h = &spkt;
	} else {
		h = skb_free_slot();
	}
	h->skb = skb;
	h->len = src->len;
	h->ttl = 1 + rn(24);
	h->made_by = "skb_from_mbuf";
	memcpy(h->model, src->model, (size_t)src->len);
	scompare("skb_from_mbuf", h);
}

/* m_from_skb of the skb packet or a second skb, into the mbuf packet or a copy holder. */
static void op_to_mbuf(void)
{
	struct sholder *src = one_in(3) ? &scopies[rn(SK_COPIES)] : &spkt;
	int how = random_how();
	bool into_pkt = one_in(2), hit;

	if (!src->skb)
		src = &spkt;
	if (!src->skb || src->len > MB_MAX_LEN)
		return;
	note("m_from_skb(%s of %d bytes, %u frags, %s) into %s", src == &spkt ? "skb packet" : src->made_by,
	     src->len, skb_shinfo(src->skb)->nr_frags, how_name(how), into_pkt ? "the mbuf packet" : "a copy");
	arm();
	struct mbuf *m = m_from_skb(src->skb, how);

	hit = disarm();
	if (!m) {
		EXPECT(hit, "m_from_skb(%d bytes) returned NULL with no allocation failed", src->len);
		return;
	}

	struct mholder *h;

	if (into_pkt) {
		m_freem(pkt.m);
		h = &pkt;
	} else {
		h = mbuf_free_slot();
	}
	h->m = m;
	h->len = src->len;
	h->hdr = true;
	h->tagged = false;
	h->ttl = 1 + rn(24);
	h->made_by = "m_from_skb";
	memcpy(h->model, src->model, (size_t)src->len);
	mcompare("m_from_skb", h);
}

static void op_convert(void)
{
	if (one_in(2))
		op_to_skb();
	else
		op_to_mbuf();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_begin(data, size);
	mext_reset();
	while (fz_more() && run.step < FZ_MAX_STEPS) {
		int world = fz_step_begin(32);

		if (world < 12)
			mbuf_do_op(rn(NR_MBUF_OPS));
		else if (world < 24)
			skb_do_op(rn(NR_SKB_OPS));
		else
			op_convert();
		mbuf_compare_all();
		skb_compare_all();

		unsigned long long mbufs, skbs, pairs, clusters;
		long users;

		rc_reset();
		mbuf_hold_refs(rc_hold, &mbufs);
		skb_hold_refs(&skbs, &pairs);
		rc_verify(&clusters, &users);
		mbuf_check_caches(mbufs, clusters, users);
		EXPECT(cache_in_use(pktmem_skbuff_cache()) == skbs, "skbuff cache: %llu in use, %llu skbs live",
		       cache_in_use(pktmem_skbuff_cache()), skbs);
		EXPECT(cache_in_use(pktmem_skbuff_fclone_cache()) == pairs, "fclone cache: %llu in use, %llu pairs",
		       cache_in_use(pktmem_skbuff_fclone_cache()), pairs);
		mbuf_age_copies();
		skb_age_copies();
		fz_step_end();
	}
	mbuf_free_all();
	skb_free_all();
	mext_check_all_released();
	fz_end();
	return 0;
}
