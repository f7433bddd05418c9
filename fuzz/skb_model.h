/*
 * The sk_buff half of the fuzz targets: a packet and up to SK_COPIES second
 * holders (clones, skb_copy, pskb_copy, skb_realloc_headroom results, or
 * skbs made from an mbuf chain), each beside a byte array that says what it
 * must hold, and the operations of <pktmem/skbuff.h> applied to both.
 *
 * Writes go through skb_store_bits(), which must succeed exactly when every
 * byte of the range is in storage the skb holds alone (its head private,
 * and for fragment bytes the fragment's page writable too) and fail with
 * -EFAULT, writing nothing, otherwise. So a clone's bytes can only change
 * if the library says a shared area is private: the clone's own model
 * catches it.
 *
 * Included by fuzz_skb.c and fuzz_convert.c.
 */
#ifndef PKTMEM_FUZZ_SKB_MODEL_H
#define PKTMEM_FUZZ_SKB_MODEL_H

#include "fuzz_common.h"

#define SK_MAX_LEN    (80 * 1024) /* the model's capacity */
#define SK_GROW_LIMIT (40 * 1024) /* operations that would grow past this do not */
#define SK_COPIES     3

struct sholder {
	struct sk_buff *skb;
	int len;
	int ttl; /* copies: steps left to live */
	const char *made_by;
	unsigned char model[SK_MAX_LEN];
};

static struct sholder spkt;
static struct sholder scopies[SK_COPIES];
static unsigned char sscratch[SK_MAX_LEN + 16];

static inline gfp_t random_gfp(void)
{
	return one_in(2) ? GFP_KERNEL : GFP_ATOMIC;
}

/* ------------------------------------------------------------ checks */

/* The packet's bytes, gathered without skb_copy_bits(): head, then each fragment. */
static inline unsigned skb_gather(const struct sk_buff *skb, unsigned char *out)
{
	const struct skb_shared_info *sh = skb_shinfo(skb);
	unsigned n = skb_headlen(skb);

	memcpy(out, skb->data, n);
	for (int i = 0; i < sh->nr_frags; i++) {
		memcpy(out + n, skb_frag_address(&sh->frags[i]), skb_frag_size(&sh->frags[i]));
		n += skb_frag_size(&sh->frags[i]);
	}
	return n;
}

static inline void scompare(const char *who, struct sholder *h)
{
	static unsigned char buf[SK_MAX_LEN + 16];
	const struct sk_buff *skb = h->skb;

	EXPECT(skb != NULL, "%s: NULL skb", who);
	EXPECT(__atomic_load_n(&skb->users, __ATOMIC_RELAXED) == 1, "%s: users %d", who, skb->users);
	EXPECT((int)skb->len == h->len, "%s: len %u, model %d", who, skb->len, h->len);
	EXPECT(skb->data_len <= skb->len, "%s: data_len %u > len %u", who, skb->data_len, skb->len);
	EXPECT(skb->head_ext && skb->head == (unsigned char *)skb->head_ext->ext_buf &&
		       skb->end == skb->head_ext->ext_size,
	       "%s: head %p end %u do not match the head storage", who, (void *)skb->head, skb->end);
	EXPECT(skb->data >= skb->head && (unsigned)(skb->data - skb->head) + skb_headlen(skb) == skb->tail &&
		       skb->tail <= skb->end,
	       "%s: data at %+ld, headlen %u, tail %u, end %u", who, (long)(skb->data - skb->head), skb_headlen(skb),
	       skb->tail, skb->end);

	const struct skb_shared_info *sh = skb_shinfo(skb);
	unsigned frag_bytes = 0;

	EXPECT(sh->nr_frags <= MAX_SKB_FRAGS && sh->frag_list == NULL, "%s: nr_frags %u, frag_list %p", who,
	       sh->nr_frags, (void *)sh->frag_list);
	for (int i = 0; i < sh->nr_frags; i++) {
		const skb_frag_t *f = &sh->frags[i];

		EXPECT(f->bv_page && (size_t)f->bv_offset + f->bv_len <= f->bv_page->ext.ext_size,
		       "%s: frag %d: %u bytes at %u of a page of %zu", who, i, f->bv_len, f->bv_offset,
		       f->bv_page ? f->bv_page->ext.ext_size : 0);
		frag_bytes += f->bv_len;
	}
	EXPECT(frag_bytes == skb->data_len, "%s: the frags hold %u bytes, data_len %u", who, frag_bytes,
	       skb->data_len);

	int d;

	skb_gather(skb, buf);
	if ((d = first_difference(buf, h->model, h->len)) >= 0)
		FAIL("%s: byte %d of %d is %#x, model %#x", who, d, h->len, buf[d], h->model[d]);
	memset(buf, 0xA5, (size_t)h->len + 16);
	EXPECT(skb_copy_bits(skb, 0, buf, h->len) == 0, "%s: skb_copy_bits(0, %d) failed", who, h->len);
	if ((d = first_difference(buf, h->model, h->len)) >= 0 || buf[h->len] != 0xA5)
		FAIL("skb_copy_bits(0, %d) of %s: byte %d differs", h->len, who, d);
}

/* Would skb_store_bits(@off, @n) find every byte writable? */
static inline bool skb_range_writable(const struct sk_buff *skb, int off, int n)
{
	const struct skb_shared_info *sh = skb_shinfo(skb);
	bool head_mine = pktmem_ext_writable(skb->head_ext);
	int start = (int)skb_headlen(skb);

	if (n == 0)
		return true;
	if (off < start && !head_mine)
		return false;
	for (int i = 0; i < sh->nr_frags; i++) {
		int end = start + (int)sh->frags[i].bv_len;

		if (sh->frags[i].bv_len && off < end && off + n > start &&
		    !(head_mine && pktmem_ext_writable(&sh->frags[i].bv_page->ext)))
			return false;
		start = end;
	}
	return true;
}

static inline struct sholder *skb_holders(struct sholder **hs)
{
	int n = 0;

	if (spkt.skb)
		hs[n++] = &spkt;
	for (int i = 0; i < SK_COPIES; i++)
		if (scopies[i].skb)
			hs[n++] = &scopies[i];
	hs[n] = NULL;
	return hs[0];
}

/* The pair an fclone skb belongs to (the private struct begins with the two skbs). */
static inline const void *fclone_pair(const struct sk_buff *skb)
{
	return skb->fclone == SKB_FCLONE_CLONE ? (const void *)(skb - 1) : (const void *)skb;
}

/* Count the skbs' references on their heads (fuzz_common.h), and the skbs and fclone pairs in use. */
static inline void skb_hold_refs(unsigned long long *skbs, unsigned long long *pairs)
{
	struct sholder *hs[SK_COPIES + 2];
	const void *seen[SK_COPIES + 1];
	int ns = 0;

	*skbs = *pairs = 0;
	skb_holders(hs);
	for (int i = 0; hs[i]; i++) {
		const struct sk_buff *skb = hs[i]->skb;

		rc_hold(skb->head_ext);
		if (skb->fclone == SKB_FCLONE_UNAVAILABLE) {
			(*skbs)++;
			continue;
		}
		const void *p = fclone_pair(skb);
		int j;

		for (j = 0; j < ns && seen[j] != p; j++)
			;
		if (j == ns) {
			seen[ns++] = p;
			(*pairs)++;
		}
	}
}

static inline void skb_compare_all(void)
{
	if (spkt.skb)
		scompare("skb", &spkt);
	for (int i = 0; i < SK_COPIES; i++)
		if (scopies[i].skb)
			scompare(scopies[i].made_by, &scopies[i]);
}

static inline void skb_age_copies(void)
{
	for (int i = 0; i < SK_COPIES; i++)
		if (scopies[i].skb && --scopies[i].ttl <= 0) {
			kfree_skb(scopies[i].skb);
			scopies[i].skb = NULL;
		}
}

static inline void skb_free_all(void)
{
	kfree_skb(spkt.skb);
	spkt.skb = NULL;
	spkt.len = 0;
	for (int i = 0; i < SK_COPIES; i++) {
		kfree_skb(scopies[i].skb);
		scopies[i].skb = NULL;
	}
}

static inline void skb_gone(struct sholder *h)
{
	h->skb = NULL;
	h->len = 0;
}

/* ------------------------------------------------------------ building */

/* Append a page fragment of up to @max bytes (a new page, or more of a page the skb already has). */
static inline void add_frag(struct sholder *h, int max)
{
	struct sk_buff *skb = h->skb;
	struct skb_shared_info *sh = skb_shinfo(skb);
	int i = sh->nr_frags;
	struct page *pg;
	bool hit, shared = i > 0 && one_in(3);
	unsigned order = one_in(4) ? 1 : 0;

	if (i >= MAX_SKB_FRAGS || max <= 0)
		return;
	if (shared) {
		pg = sh->frags[rn(i)].bv_page;
		if (pg->ext.ext_flags & PKTMEM_EXT_VIEW)
			return; /* a view's bytes are another area's: leave them */
		get_page(pg);
		order = pg->order;
	} else {
		gfp_t gfp = random_gfp();

		arm();
		pg = alloc_pages(gfp, order);
		hit = disarm();
		if (!pg) {
			EXPECT(hit, "alloc_pages(order %u) returned NULL with no allocation failed", order);
			return;
		}
		EXPECT(page_count(pg) == 1 && pg->order == order && pg->ext.ext_size == PAGE_SIZE << order,
		       "alloc_pages(order %u): count %d, order %u, %zu bytes", order, page_count(pg), pg->order,
		       pg->ext.ext_size);
		fill_random(page_address(pg), (int)(PAGE_SIZE << order));
	}

	int psize = (int)(PAGE_SIZE << order);
	int off = rn(psize), size = 1 + rn(imin(psize - off, max));

	note("skb_add_rx_frag(frag %d, %s page of order %u, off %d, size %d) on %d bytes", i,
	     shared ? "shared" : "new", order, off, size, h->len);
	skb_add_rx_frag(skb, i, pg, off, size, (unsigned)psize);
	memcpy(h->model + h->len, (char *)page_address(pg) + off, (size_t)size);
	h->len += size;
}

static inline void build_skb_packet(struct sholder *h, const char *name)
{
	static const char *const kinds[] = { "alloc_skb", "alloc_skb_fclone", "netdev_alloc_skb", "__alloc_skb(RX)" };
	int kind = rn(4);
	unsigned size = (unsigned)rn(one_in(4) ? 9000 : 2000);
	gfp_t gfp = random_gfp();
	struct sk_buff *skb;
	bool hit;

	note("%s(%u, %s) for %s", kinds[kind], size, gfp == GFP_KERNEL ? "GFP_KERNEL" : "GFP_ATOMIC", name);
	arm();
	switch (kind) {
	case 0:
		skb = alloc_skb(size, gfp);
		break;
	case 1:
		skb = alloc_skb_fclone(size, gfp);
		break;
	case 2:
		skb = netdev_alloc_skb(NULL, size);
		break;
	default:
		skb = __alloc_skb(size, gfp, SKB_ALLOC_RX, NUMA_NO_NODE);
		break;
	}
	hit = disarm();
	if (!skb) {
		EXPECT(hit, "%s(%u) returned NULL with no allocation failed", kinds[kind], size);
		return;
	}
	EXPECT(skb->len == 0 && skb_tailroom(skb) >= (int)size && skb->users == 1 && !skb_cloned(skb),
	       "%s(%u): len %u, tailroom %d, users %d, cloned %d", kinds[kind], size, skb->len, skb_tailroom(skb),
	       skb->users, skb_cloned(skb));
	EXPECT(skb_headroom(skb) == (kind == 2 ? NET_SKB_PAD : 0u), "%s: headroom %u", kinds[kind],
	       skb_headroom(skb));
	h->skb = skb;
	h->len = 0;
	h->ttl = 1 + rn(24);
	h->made_by = kinds[kind];

	int reserve = rn(imin(skb_tailroom(skb), 300) + 1);

	skb_reserve(skb, reserve);

	int n = rn(skb_tailroom(skb) + 1);

	fill_random(h->model, n);
	note("  skb_reserve(%d), skb_put_data(%d)", reserve, n);
	EXPECT(skb_put_data(skb, h->model, (unsigned)n) == skb->data, "skb_put_data on an empty skb");
	h->len = n;

	int nfrags = one_in(3) ? 0 : rn(one_in(4) ? MAX_SKB_FRAGS + 1 : 4);

	for (int i = 0; i < nfrags; i++)
		add_frag(h, imin(SK_GROW_LIMIT - h->len, 3000));
}

/* ------------------------------------------------------------ operations */

static inline void op_skb_new(void)
{
	note("kfree_skb(packet of %d bytes)", spkt.len);
	kfree_skb(spkt.skb);
	skb_gone(&spkt);
	build_skb_packet(&spkt, "packet");
}

/* Give @h a private head (skb_cow); false if it failed (then the skb is unchanged). */
static inline bool cow_head(struct sholder *h, unsigned headroom)
{
	bool hit;
	int rc;

	note("skb_cow(%u) on %d bytes (cloned %d, headroom %u)", headroom, h->len, skb_cloned(h->skb),
	     skb_headroom(h->skb));
	arm();
	rc = skb_cow(h->skb, headroom);
	hit = disarm();
	if (rc) {
		EXPECT(hit, "skb_cow(%u) returned %d with no allocation failed", headroom, rc);
		EXPECT(rc == -ENOMEM, "skb_cow failed with %d, not -ENOMEM", rc);
		return false;
	}
	EXPECT(!skb_cloned(h->skb) && skb_headroom(h->skb) >= headroom, "skb_cow(%u): cloned %d, headroom %u",
	       headroom, skb_cloned(h->skb), skb_headroom(h->skb));
	return true;
}

static inline void op_skb_frag(void)
{
	if (skb_shinfo(spkt.skb)->nr_frags >= MAX_SKB_FRAGS)
		return;
	if (skb_cloned(spkt.skb) && !cow_head(&spkt, 0))
		return;
	add_frag(&spkt, imin(SK_GROW_LIMIT - spkt.len, 4096));
}

/* Append to the linear part (a nonlinear skb gets a fragment instead). */
static inline void op_skb_put(void)
{
	struct sk_buff *skb = spkt.skb;

	if (skb_is_nonlinear(skb)) {
		op_skb_frag();
		return;
	}
	if (skb_cloned(skb) && !cow_head(&spkt, 0))
		return;
	int room = skb_tailroom(skb), n;

	if (room == 0 || one_in(4)) {
		int ntail = 1 + rn(2000);
		bool hit;
		int rc;

		note("pskb_expand_head(0, %d) for tailroom", ntail);
		arm();
		rc = pskb_expand_head(skb, 0, ntail, random_gfp());
		hit = disarm();
		if (rc) {
			EXPECT(hit && rc == -ENOMEM, "pskb_expand_head(0, %d) returned %d%s", ntail, rc,
			       hit ? "" : " with no allocation failed");
			return;
		}
		EXPECT(skb_tailroom(skb) >= room + ntail, "pskb_expand_head(0, %d): tailroom %d, was %d", ntail,
		       skb_tailroom(skb), room);
		room = skb_tailroom(skb);
	}
	n = rn(imin(room, SK_GROW_LIMIT - spkt.len) + 1);
	fill_random(spkt.model + spkt.len, n);
	note("skb_put_data(%d) on %d bytes (tailroom %d)", n, spkt.len, room);

	unsigned char *p = skb_put_data(skb, spkt.model + spkt.len, (unsigned)n);

	EXPECT(p == skb->data + spkt.len, "skb_put_data returned %p, the old tail is %p", (void *)p,
	       (void *)(skb->data + spkt.len));
	spkt.len += n;
}

static inline void op_skb_push(void)
{
	struct sk_buff *skb = spkt.skb;
	unsigned n = 1 + (unsigned)rn(one_in(4) ? 600 : 64);

	if (spkt.len + (int)n > SK_GROW_LIMIT)
		return;
	if ((skb_cloned(skb) || skb_headroom(skb) < n) && !cow_head(&spkt, n))
		return;
	note("skb_push(%u) on %d bytes (headroom %u)", n, spkt.len, skb_headroom(skb));

	unsigned char *p = skb_push(skb, n);

	EXPECT(p == skb->data, "skb_push returned %p, data is %p", (void *)p, (void *)skb->data);
	memmove(spkt.model + n, spkt.model, (size_t)spkt.len);
	fill_random(spkt.model, (int)n);
	memcpy(p, spkt.model, n);
	spkt.len += (int)n;
}

static inline void op_skb_pull(void)
{
	struct sk_buff *skb = spkt.skb;
	unsigned n;

	if (one_in(2)) {
		n = (unsigned)rn((int)skb_headlen(skb) + 1);
		note("skb_pull(%u) on %d bytes (headlen %u)", n, spkt.len, skb_headlen(skb));
		EXPECT(skb_pull(skb, n) == skb->data, "skb_pull(%u) did not return the new data", n);
	} else {
		bool hit;
		unsigned char *p;

		n = (unsigned)rn(spkt.len + (one_in(8) ? 64 : 1));
		note("pskb_pull(%u) on %d bytes (headlen %u)", n, spkt.len, skb_headlen(skb));
		arm();
		p = pskb_pull(skb, n);
		hit = disarm();
		if (n > (unsigned)spkt.len) {
			EXPECT(p == NULL, "pskb_pull(%u) of a %d-byte packet succeeded", n, spkt.len);
			return;
		}
		if (!p) {
			EXPECT(hit, "pskb_pull(%u) of %d bytes returned NULL with no allocation failed", n, spkt.len);
			return; /* unchanged: compared at the end of the step */
		}
		EXPECT(p == skb->data, "pskb_pull(%u) did not return the new data", n);
	}
	memmove(spkt.model, spkt.model + n, (size_t)spkt.len - n);
	spkt.len -= (int)n;
}

/*
 * A write through skb_store_bits(), after an optional preparation (skb_cow,
 * skb_unshare, skb_linearize, pskb_expand_head). It succeeds exactly when
 * the range is in storage @h holds alone.
 */
static inline void store(struct sholder *h, const char *who)
{
	int prep = rn(5), rc;
	bool hit, must_be_private = false;

	switch (prep) {
	case 1:
		if (!cow_head(h, (unsigned)rn(100)))
			return;
		break;
	case 2: {
		bool was_cloned = skb_cloned(h->skb);
		struct sk_buff *old = h->skb;

		note("skb_unshare(%s of %d bytes, cloned %d)", who, h->len, was_cloned);
		arm();
		h->skb = skb_unshare(h->skb, random_gfp());
		hit = disarm();
		if (!h->skb) {
			EXPECT(hit && was_cloned, "skb_unshare returned NULL (cloned %d)%s", was_cloned,
			       hit ? "" : " with no allocation failed");
			skb_gone(h);
			return;
		}
		EXPECT(was_cloned || h->skb == old, "skb_unshare of an skb that is not cloned returned another one");
		must_be_private = was_cloned; /* a copy holds everything alone */
		scompare("skb_unshare", h);
		break;
	}
	case 3: {
		bool nonlinear = skb_is_nonlinear(h->skb);

		note("skb_linearize(%s of %d bytes, data_len %u)", who, h->len, h->skb->data_len);
		arm();
		rc = skb_linearize(h->skb);
		hit = disarm();
		if (rc) {
			EXPECT(hit && rc == -ENOMEM, "skb_linearize returned %d%s", rc,
			       hit ? "" : " with no allocation failed");
			return;
		}
		EXPECT(!skb_is_nonlinear(h->skb), "skb_linearize returned 0, data_len %u", h->skb->data_len);
		must_be_private = nonlinear; /* a new head, all bytes copied */
		break;
	}
	case 4: {
		int nhead = rn(3) * 32, ntail = rn(3) * 100;
		unsigned headroom = skb_headroom(h->skb);

		note("pskb_expand_head(%s, %d, %d)", who, nhead, ntail);
		arm();
		rc = pskb_expand_head(h->skb, nhead, ntail, random_gfp());
		hit = disarm();
		if (rc) {
			EXPECT(hit && rc == -ENOMEM, "pskb_expand_head returned %d%s", rc,
			       hit ? "" : " with no allocation failed");
			return;
		}
		EXPECT(!skb_cloned(h->skb) && skb_headroom(h->skb) == headroom + (unsigned)nhead,
		       "pskb_expand_head(%d, %d): cloned %d, headroom %u, was %u", nhead, ntail, skb_cloned(h->skb),
		       skb_headroom(h->skb), headroom);
		break;
	}
	default:
		break;
	}
	if (h->len == 0)
		return;

	int off = rn(h->len), n = 1 + rn(h->len - off);
	bool writable = skb_range_writable(h->skb, off, n);

	EXPECT(writable || !must_be_private, "%s: after %s the range [%d, %d) is not writable", who,
	       prep == 2 ? "skb_unshare" : "skb_linearize", off, off + n);
	fill_random(sscratch, n);
	note("skb_store_bits(%s, off %d, len %d) of %d bytes, writable %d", who, off, n, h->len, writable);
	rc = skb_store_bits(h->skb, off, sscratch, n);
	if (writable) {
		EXPECT(rc == 0, "skb_store_bits(%d, %d) into storage held alone returned %d", off, n, rc);
		memcpy(h->model + off, sscratch, (size_t)n);
	} else {
		EXPECT(rc == -EFAULT, "skb_store_bits(%d, %d) into shared storage returned %d", off, n, rc);
	}
}

static inline void op_skb_store(void)
{
	store(&spkt, "packet");
}

static inline struct sholder *skb_free_slot(void)
{
	for (int i = 0; i < SK_COPIES; i++)
		if (!scopies[i].skb)
			return &scopies[i];
	struct sholder *h = &scopies[rn(SK_COPIES)];

	note("  kfree_skb(copy made by %s, %d bytes)", h->made_by, h->len);
	kfree_skb(h->skb);
	h->skb = NULL;
	return h;
}

/* A new second holder of the packet's bytes. */
static inline void keep_copy(struct sholder *h, struct sk_buff *n, const char *name, const struct sholder *from)
{
	h->skb = n;
	h->len = from->len;
	h->ttl = 1 + rn(24);
	h->made_by = name;
	memcpy(h->model, from->model, (size_t)from->len);
	scompare(name, h);
}

static inline void op_skb_clone(void)
{
	struct sholder *h = skb_free_slot();
	bool companion = spkt.skb->fclone == SKB_FCLONE_ORIG, hit;
	gfp_t gfp = random_gfp();

	note("skb_clone(%d bytes, fclone %u)", spkt.len, spkt.skb->fclone);
	arm();
	struct sk_buff *n = skb_clone(spkt.skb, gfp);

	hit = disarm();
	if (!n) {
		EXPECT(hit, "skb_clone returned NULL with no allocation failed");
		return;
	}
	EXPECT(n != spkt.skb && n->head_ext == spkt.skb->head_ext && skb_cloned(n) && skb_cloned(spkt.skb),
	       "skb_clone: the clone does not share the head");
	(void)companion;
	keep_copy(h, n, "skb_clone", &spkt);
}

static inline void op_skb_copy(void)
{
	struct sholder *h = skb_free_slot();
	int kind = rn(3);
	gfp_t gfp = random_gfp();
	unsigned headroom = skb_headroom(spkt.skb), want = (unsigned)rn(300);
	static const char *const names[] = { "skb_copy", "pskb_copy", "skb_realloc_headroom" };
	struct sk_buff *n;
	bool hit;

	note("%s(%d bytes, headroom %u, want %u)", names[kind], spkt.len, headroom, want);
	arm();
	n = kind == 0 ? skb_copy(spkt.skb, gfp) : kind == 1 ? pskb_copy(spkt.skb, gfp)
							     : skb_realloc_headroom(spkt.skb, want);
	hit = disarm();
	if (!n) {
		EXPECT(hit, "%s returned NULL with no allocation failed", names[kind]);
		return;
	}
	EXPECT(n->head_ext != spkt.skb->head_ext && !skb_cloned(n), "%s: the copy shares the head", names[kind]);
	if (kind == 0)
		EXPECT(!skb_is_nonlinear(n) && skb_headroom(n) == headroom, "skb_copy: data_len %u, headroom %u (was %u)",
		       n->data_len, skb_headroom(n), headroom);
	if (kind == 1)
		EXPECT(skb_headroom(n) == headroom, "pskb_copy: headroom %u (was %u)", skb_headroom(n), headroom);
	if (kind == 2)
		EXPECT(skb_headroom(n) >= want, "skb_realloc_headroom(%u): headroom %u", want, skb_headroom(n));
	keep_copy(h, n, names[kind], &spkt);
	if (kind == 0)
		EXPECT(skb_range_writable(n, 0, h->len), "skb_copy: the copy is not writable");
}

static inline void op_skb_may_pull(void)
{
	struct sk_buff *skb = spkt.skb;
	unsigned n = (unsigned)rn(spkt.len + (one_in(8) ? 100 : 1));
	bool ok, hit;

	note("pskb_may_pull(%u) on %d bytes (headlen %u)", n, spkt.len, skb_headlen(skb));
	arm();
	ok = pskb_may_pull(skb, n);
	hit = disarm();
	if (n > (unsigned)spkt.len) {
		EXPECT(!ok, "pskb_may_pull(%u) of %d bytes returned true", n, spkt.len);
		return;
	}
	if (!ok) {
		EXPECT(hit, "pskb_may_pull(%u) of %d bytes returned false with no allocation failed", n, spkt.len);
		return;
	}
	EXPECT(skb_headlen(skb) >= n, "pskb_may_pull(%u): headlen %u", n, skb_headlen(skb));
}

static inline void op_skb_trim(void)
{
	struct sk_buff *skb = spkt.skb;
	unsigned n = (unsigned)rn(spkt.len + 2);
	bool hit;
	int rc;

	if (!skb_is_nonlinear(skb) && one_in(2)) {
		note("skb_trim(%u) on %d bytes", n, spkt.len);
		skb_trim(skb, n);
	} else {
		note("pskb_trim(%u) on %d bytes (data_len %u)", n, spkt.len, skb->data_len);
		arm();
		rc = pskb_trim(skb, n);
		hit = disarm();
		if (rc) {
			EXPECT(hit && rc == -ENOMEM, "pskb_trim(%u) returned %d%s", n, rc,
			       hit ? "" : " with no allocation failed");
			return;
		}
	}
	if (n < (unsigned)spkt.len)
		spkt.len = (int)n;
}

static inline void op_skb_linearize(void)
{
	bool hit;
	int rc;

	note("skb_linearize(%d bytes, data_len %u)", spkt.len, spkt.skb->data_len);
	arm();
	rc = skb_linearize(spkt.skb);
	hit = disarm();
	if (rc) {
		EXPECT(hit && rc == -ENOMEM, "skb_linearize returned %d%s", rc, hit ? "" : " with no allocation failed");
		return;
	}
	EXPECT(!skb_is_nonlinear(spkt.skb), "skb_linearize returned 0, data_len %u", spkt.skb->data_len);
}

static inline void op_skb_unshare(void)
{
	bool was_cloned = skb_cloned(spkt.skb), hit;
	struct sk_buff *old = spkt.skb;

	note("skb_unshare(%d bytes, cloned %d)", spkt.len, was_cloned);
	arm();
	spkt.skb = skb_unshare(spkt.skb, random_gfp());
	hit = disarm();
	if (!spkt.skb) {
		EXPECT(hit && was_cloned, "skb_unshare returned NULL (cloned %d)%s", was_cloned,
		       hit ? "" : " with no allocation failed");
		skb_gone(&spkt);
		return;
	}
	EXPECT(was_cloned ? !skb_cloned(spkt.skb) : spkt.skb == old, "skb_unshare: cloned %d, same %d",
	       skb_cloned(spkt.skb), spkt.skb == old);
}

/* Write into a second holder: the packet must not change. */
static inline void op_skb_write_copy(void)
{
	struct sholder *h = &scopies[rn(SK_COPIES)];

	if (!h->skb) {
		op_skb_clone();
		return;
	}
	store(h, h->made_by);
}

static inline void op_skb_free_copy(void)
{
	struct sholder *h = &scopies[rn(SK_COPIES)];

	if (h->skb) {
		note("kfree_skb(copy made by %s, %d bytes)", h->made_by, h->len);
		kfree_skb(h->skb);
		skb_gone(h);
	}
}

/*
 * skb_get() then skb_share_check(): the holder gets a clone, our extra
 * reference is dropped, and the original (users back to 1) becomes a copy.
 */
static inline void op_skb_share_check(void)
{
	struct sholder *h = skb_free_slot();
	struct sk_buff *orig = skb_get(spkt.skb), *n;
	bool hit;

	note("skb_get + skb_share_check(%d bytes)", spkt.len);
	arm();
	n = skb_share_check(orig, random_gfp());
	hit = disarm();
	EXPECT(orig->users == 1, "skb_share_check: the shared skb has users %d, expected 1", orig->users);
	if (!n) {
		EXPECT(hit, "skb_share_check returned NULL with no allocation failed");
		return; /* the packet keeps the original */
	}
	EXPECT(n != orig && n->head_ext == orig->head_ext, "skb_share_check of a shared skb did not clone it");
	keep_copy(h, orig, "skb_share_check original", &spkt);
	spkt.skb = n;
}

static inline void op_skb_cow(void)
{
	cow_head(&spkt, (unsigned)rn(400));
}

static inline void op_skb_expand(void)
{
	int nhead = rn(300), ntail = rn(300), rc;
	unsigned headroom = skb_headroom(spkt.skb);
	int tailroom = skb_tailroom(spkt.skb);
	bool hit;

	note("pskb_expand_head(%d, %d) on %d bytes", nhead, ntail, spkt.len);
	arm();
	rc = pskb_expand_head(spkt.skb, nhead, ntail, random_gfp());
	hit = disarm();
	if (rc) {
		EXPECT(hit && rc == -ENOMEM, "pskb_expand_head returned %d%s", rc, hit ? "" : " with no allocation failed");
		return;
	}
	EXPECT(!skb_cloned(spkt.skb) && skb_headroom(spkt.skb) == headroom + (unsigned)nhead &&
		       (skb_is_nonlinear(spkt.skb) || skb_tailroom(spkt.skb) >= tailroom + ntail),
	       "pskb_expand_head(%d, %d): cloned %d, headroom %u (was %u), tailroom %d (was %d)", nhead, ntail,
	       skb_cloned(spkt.skb), skb_headroom(spkt.skb), headroom, skb_tailroom(spkt.skb), tailroom);
}

/* Reads: skb_copy_bits of a range, and into the headroom (which the model does not know: length only). */
static inline void op_skb_copy_bits(void)
{
	int off = rn(spkt.len + 1), n = rn(spkt.len - off + 1), d;
	int back = rn((int)skb_headroom(spkt.skb) + 2);

	note("skb_copy_bits(%d, %d) of %d bytes; from -%d", off, n, spkt.len, back);
	memset(sscratch, 0xA5, (size_t)n + 16);
	EXPECT(skb_copy_bits(spkt.skb, off, sscratch, n) == 0, "skb_copy_bits(%d, %d) failed", off, n);
	d = first_difference(sscratch, spkt.model + off, n);
	EXPECT(d < 0 && sscratch[n] == 0xA5, "skb_copy_bits(%d, %d): byte %d differs", off, n, d);
	/* Past the end, or before the headroom: -EFAULT. */
	EXPECT(skb_copy_bits(spkt.skb, off, sscratch, spkt.len - off + 1) == -EFAULT,
	       "skb_copy_bits past the end did not fail");
	int rc = skb_copy_bits(spkt.skb, -back, sscratch, back);

	EXPECT(rc == ((unsigned)back <= skb_headroom(spkt.skb) ? 0 : -EFAULT),
	       "skb_copy_bits(-%d) with headroom %u returned %d", back, skb_headroom(spkt.skb), rc);
}

struct skb_op {
	void (*fn)(void);
	const char *name;
};

static const struct skb_op skb_ops[] = {
	{ op_skb_new, "new" },           { op_skb_put, "put" },
	{ op_skb_push, "push" },         { op_skb_pull, "pull" },
	{ op_skb_frag, "frag" },         { op_skb_store, "store" },
	{ op_skb_clone, "clone" },       { op_skb_copy, "copy" },
	{ op_skb_may_pull, "may_pull" }, { op_skb_trim, "trim" },
	{ op_skb_linearize, "linearize" }, { op_skb_unshare, "unshare" },
	{ op_skb_write_copy, "write_copy" }, { op_skb_free_copy, "free_copy" },
	{ op_skb_share_check, "share_check" }, { op_skb_cow, "cow" },
	{ op_skb_expand, "expand" },     { op_skb_copy_bits, "copy_bits" },
};
#define NR_SKB_OPS ((int)(sizeof(skb_ops) / sizeof(skb_ops[0])))

static inline void skb_do_op(int op)
{
	if (!spkt.skb)
		build_skb_packet(&spkt, "packet");
	else
		skb_ops[op].fn();
}

#endif /* PKTMEM_FUZZ_SKB_MODEL_H */
