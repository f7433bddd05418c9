/*
 * The failure sweep (issue 7, point 1): every allocating operation of every
 * face, with each of its allocation points made to fail in turn.
 *
 *   for each operation in ops[]:
 *       baseline = objects in use in every cache (and the pools alive)
 *       setup; count points with pktmem_fault_count(); check success; teardown
 *       for k = 1 .. points:
 *           setup                        (no fault: the input, known bytes)
 *           arm PKTMEM_FAULT_NTH k; run; disarm
 *           the fault was hit; the run failed (or, where the header says a
 *           fault may be absorbed, succeeded) and its contract holds:
 *           what was freed, what was kept and unchanged, what came back
 *           teardown                     (release what the test holds)
 *           in use == baseline, no diagnostic, every MEXTADD buffer
 *           released exactly once
 *
 * Each operation is one table entry: setup, run, a verdict (did it report
 * failure?), a checker for success, a checker for the failure contract
 * quoted from its header, and a teardown. The context the functions share
 * holds every object an operation can make; a run that consumes its input
 * clears the pointer, and the one teardown frees whatever is still held,
 * so "freed on failure" is proved by the in-use count coming back to the
 * baseline without the test freeing it (a chain not freed would leak; a
 * chain freed twice would be diagnosed).
 *
 * Bytes are pat(i) = (i * 7 + 3) & 0xff for byte i of a packet (head,
 * fragments and frag_list continue the same sequence), so "unchanged" is a
 * byte compare against the pattern plus a snapshot of the shape: every
 * mbuf's pointer, data, length, flags and storage reference count, every
 * skb's pointers, lengths, users and head/fragment reference counts.
 *
 * The block face is swept too (bio sets, bios, splits, requests), on a
 * queue over a scratch file; no I/O is done.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <pktmem/blkdev.h>
#include <pktmem/mbuf.h>
#include <pktmem/skbuff.h>
#include <pktmem/pktmem.h>

#include "check.h"

/* ------------------------------------------------------------ patterns, statistics */

static inline uint8_t pat(long i)
{
	return (uint8_t)((i * 7 + 3) & 0xff);
}

/* The bytes operations write (m_copyback). */
static inline uint8_t pat2(long i)
{
	return (uint8_t)(((i * 13 + 5) & 0xff) ^ 0x5a);
}

static bool is_pat(const uint8_t *b, long from, long n)
{
	for (long i = 0; i < n; i++)
		if (b[i] != pat(from + i))
			return false;
	return true;
}

static void fill_pat(void *p, long n, long from)
{
	for (long i = 0; i < n; i++)
		((uint8_t *)p)[i] = pat(from + i);
}

struct totals {
	unsigned long long in_use; /* caches and pools */
	int pools;
};

static int sum_cb(const struct pktmem_stats *st, void *arg)
{
	struct totals *t = arg;

	t->in_use += st->in_use;
	if (st->kind == PKTMEM_STATS_POOL)
		t->pools++;
	return 0;
}

static struct totals totals_now(void)
{
	struct totals t = { 0, 0 };

	pktmem_stats_walk(sum_cb, &t);
	return t;
}

static struct pktmem_stats stats_of(struct kmem_cache *c)
{
	struct pktmem_stats st;

	kmem_cache_stats(c, &st);
	return st;
}

static struct pktmem_stats pool_stats(mempool_t *p)
{
	struct pktmem_stats st;

	memset(&st, 0, sizeof(st));
	mempool_stats(p, &st);
	return st;
}

/* MEXTADD and pktmem_ext_attach buffers: every one is released exactly once. */
static int user_added, user_freed;

static void user_free(struct mbuf *m, void *buf, size_t size, void *arg)
{
	(void)m, (void)size, (void)arg;
	user_freed++;
	free(buf);
}

static void user_release(struct pktmem_ext *e, void *owner)
{
	(void)owner;
	user_freed++;
	free(e->ext_buf);
}

static struct kmem_cache *kc; /* the memory layer's own test cache */
#define BULK_MAX 40
#define KC_SIZE 200

/* ------------------------------------------------------------ mbuf chains */

enum seg_kind { SEG_INT, SEG_CLUSTER, SEG_EXTADD, SEG_EXTMALLOC };

struct seg {
	enum seg_kind kind;
	int lead; /* bytes before the data */
	int len;
};

/* A chain with one mbuf per segment holding pat(@from ...); packet header when @hdr. */
static struct mbuf *build(const struct seg *sg, int n, bool hdr, long from)
{
	struct mbuf *top = NULL, **tail = &top;
	long pos = from;

	for (int i = 0; i < n; i++) {
		struct mbuf *m = (i == 0 && hdr) ? m_gethdr(M_WAIT, MT_DATA) : m_get(M_WAIT, MT_DATA);

		if (!m)
			abort();
		switch (sg[i].kind) {
		case SEG_INT:
			break;
		case SEG_CLUSTER:
			MCLGET(m, M_WAIT);
			break;
		case SEG_EXTADD: {
			int size = sg[i].lead + sg[i].len + 16;
			char *buf = malloc((size_t)size);

			if (!buf)
				abort();
			MEXTADD(m, buf, size, 0, user_free, NULL);
			user_added++;
			break;
		}
		case SEG_EXTMALLOC:
			MEXTMALLOC(m, sg[i].lead + sg[i].len + 8, M_WAIT);
			break;
		}
		if (sg[i].kind != SEG_INT && !(m->m_flags & M_EXT))
			abort();
		m->m_data += sg[i].lead;
		m->m_len = sg[i].len;
		fill_pat(m->m_data, sg[i].len, pos);
		pos += sg[i].len;
		*tail = m;
		tail = &m->m_next;
	}
	if (hdr)
		top->m_pkthdr.len = (int)(pos - from);
	return top;
}

/* Every kind of storage, internal data on both sides of it; 2500 bytes. */
static const struct seg MIX[] = {
	{ SEG_INT, 16, 100 }, { SEG_CLUSTER, 40, 1200 }, { SEG_EXTADD, 8, 300 },
	{ SEG_INT, 0, 200 },  { SEG_EXTMALLOC, 0, 700 },
};
#define NMIX 5
#define MIX_LEN 2500

static struct mbuf *build_mix(void)
{
	struct mbuf *m = build(MIX, NMIX, true, 0);

	m_tag_prepend(m, m_tag_get(7, 24, M_WAIT));
	m_tag_prepend(m, m_tag_get(9, 4, M_WAIT));
	return m;
}

static int flatten(const struct mbuf *m, uint8_t *out)
{
	int n = 0;

	for (; m; m = m->m_next) {
		memcpy(out + n, m->m_data, (size_t)m->m_len);
		n += m->m_len;
	}
	return n;
}

static int count_tags(const struct mbuf *m)
{
	int n = 0;

	if (m && (m->m_flags & M_PKTHDR))
		for (const struct m_tag *t = m->m_pkthdr.tags.slh_first; t; t = t->m_tag_link.sle_next)
			n++;
	return n;
}

#define SNAP_BYTES 16384
#define SNAP_MBUFS 32

/* A chain as it was: shape, storage references and bytes. */
struct chain_snap {
	int n, total, pktlen, ntags;
	const struct mbuf *mb[SNAP_MBUFS];
	const char *data[SNAP_MBUFS];
	int len[SNAP_MBUFS], flags[SNAP_MBUFS], refs[SNAP_MBUFS];
	uint8_t bytes[SNAP_BYTES];
};

static void snap_chain(const struct mbuf *m, struct chain_snap *s)
{
	s->n = 0;
	s->pktlen = (m && (m->m_flags & M_PKTHDR)) ? m->m_pkthdr.len : -1;
	s->ntags = count_tags(m);
	s->total = flatten(m, s->bytes);
	for (; m && s->n < SNAP_MBUFS; m = m->m_next, s->n++) {
		s->mb[s->n] = m;
		s->data[s->n] = m->m_data;
		s->len[s->n] = m->m_len;
		s->flags[s->n] = m->m_flags;
		s->refs[s->n] = (m->m_flags & M_EXT) ? pktmem_ext_refs(m->m_ext.ext_storage) : 0;
	}
}

/* The same bytes (and packet length), whatever the shape. */
static bool chain_same_bytes(const struct mbuf *m, const struct chain_snap *s)
{
	static uint8_t now[SNAP_BYTES];

	if (!m || m_length(m) != s->total || flatten(m, now) != s->total)
		return false;
	if (s->pktlen >= 0 && (!(m->m_flags & M_PKTHDR) || m->m_pkthdr.len != s->pktlen))
		return false;
	return memcmp(now, s->bytes, (size_t)s->total) == 0;
}

/* Exactly as it was: the same mbufs, data pointers, lengths, flags, references, tags and bytes. */
static bool chain_unchanged(const struct mbuf *m, const struct chain_snap *s)
{
	int i = 0;

	if (!chain_same_bytes(m, s) || count_tags(m) != s->ntags)
		return false;
	for (; m; m = m->m_next, i++) {
		if (i >= s->n || m != s->mb[i] || m->m_data != s->data[i] || m->m_len != s->len[i] ||
		    m->m_flags != s->flags[i])
			return false;
		if ((m->m_flags & M_EXT) && pktmem_ext_refs(m->m_ext.ext_storage) != s->refs[i])
			return false;
	}
	return i == s->n;
}

/* Every external storage of @m has exactly @refs references. */
static bool all_refs(const struct mbuf *m, int refs)
{
	for (; m; m = m->m_next)
		if ((m->m_flags & M_EXT) && pktmem_ext_refs(m->m_ext.ext_storage) != refs)
			return false;
	return true;
}

static bool chain_is_pat(const struct mbuf *m, long from, int len)
{
	static uint8_t now[SNAP_BYTES];

	return m && m_length(m) == len && flatten(m, now) == len && is_pat(now, from, len);
}

/* ------------------------------------------------------------ sk_buffs */

/* The packet's bytes: head, fragments, frag_list (recursively), read by hand. */
static unsigned gather(const struct sk_buff *skb, uint8_t *out)
{
	const struct skb_shared_info *sh = skb_shinfo(skb);
	unsigned n = skb_headlen(skb);

	memcpy(out, skb->data, n);
	for (int i = 0; i < sh->nr_frags; i++) {
		memcpy(out + n, skb_frag_address(&sh->frags[i]), skb_frag_size(&sh->frags[i]));
		n += skb_frag_size(&sh->frags[i]);
	}
	for (const struct sk_buff *f = sh->frag_list; f; f = f->next)
		n += gather(f, out + n);
	return n;
}

static bool skb_is_pat(const struct sk_buff *skb, unsigned len)
{
	static uint8_t now[SNAP_BYTES];

	return skb && skb->len == len && gather(skb, now) == len && is_pat(now, 0, len);
}

/* A page whose bytes from @off continue the packet pattern at @from. */
static struct page *pattern_page(unsigned off, unsigned n, long from)
{
	struct page *pg = alloc_page(GFP_KERNEL);

	if (!pg)
		abort();
	memset(page_address(pg), 0xee, PAGE_SIZE);
	fill_pat((char *)page_address(pg) + off, n, from);
	return pg;
}

/*
 * An skb with @headroom, @headlen linear bytes, up to two fragments (@f1
 * bytes at offset 100 of a page, @f2 at offset 7 of another) and 64 bytes
 * of tailroom at least; the packet is pat(0 .. len).
 */
static struct sk_buff *make_skb(unsigned headroom, unsigned headlen, unsigned f1, unsigned f2, bool fclone)
{
	struct sk_buff *skb = fclone ? alloc_skb_fclone(headroom + headlen + 64, GFP_KERNEL)
				     : alloc_skb(headroom + headlen + 64, GFP_KERNEL);

	if (!skb)
		abort();
	skb_reserve(skb, (int)headroom);
	fill_pat(skb_put(skb, headlen), headlen, 0);
	if (f1)
		skb_add_rx_frag(skb, 0, pattern_page(100, f1, headlen), 100, (int)f1, PAGE_SIZE);
	if (f2)
		skb_add_rx_frag(skb, skb_shinfo(skb)->nr_frags, pattern_page(7, f2, headlen + f1), 7, (int)f2,
				PAGE_SIZE);
	return skb;
}

/* Hang linear skbs of @n1 and @n2 bytes, continuing the pattern, on @skb's frag_list. */
static void add_frag_list(struct sk_buff *skb, unsigned n1, unsigned n2)
{
	struct sk_buff *a = alloc_skb(n1, GFP_KERNEL), *b = alloc_skb(n2 + 16, GFP_KERNEL);

	if (!a || !b)
		abort();
	fill_pat(skb_put(a, n1), n1, skb->len);
	skb_reserve(b, 16);
	fill_pat(skb_put(b, n2), n2, skb->len + n1);
	a->next = b;
	skb_shinfo(skb)->frag_list = a;
	skb->len += n1 + n2;
	skb->data_len += n1 + n2;
}

/* The nonlinear packet most skb operations start from: 16 + 100 + 300 + 400 + 100 + 150. */
static struct sk_buff *make_full(void)
{
	struct sk_buff *skb = make_skb(16, 100, 300, 400, false);

	add_frag_list(skb, 100, 150);
	return skb;
}
#define FULL_LEN 1050

struct skb_snap {
	const struct sk_buff *skb;
	const unsigned char *head, *data;
	unsigned len, data_len, tail, end, nr_frags;
	int users, head_refs, nfl;
	struct page *fpage[MAX_SKB_FRAGS];
	unsigned foff[MAX_SKB_FRAGS], flen[MAX_SKB_FRAGS];
	int frefs[MAX_SKB_FRAGS];
	const struct sk_buff *fl[8];
	int fl_users[8], fl_refs[8];
	uint8_t bytes[SNAP_BYTES];
};

static void snap_skb(const struct sk_buff *skb, struct skb_snap *s)
{
	const struct skb_shared_info *sh = skb_shinfo(skb);

	s->skb = skb;
	s->head = skb->head;
	s->data = skb->data;
	s->len = skb->len;
	s->data_len = skb->data_len;
	s->tail = skb->tail;
	s->end = skb->end;
	s->users = skb->users;
	s->head_refs = pktmem_ext_refs(skb->head_ext);
	s->nr_frags = sh->nr_frags;
	for (unsigned i = 0; i < sh->nr_frags; i++) {
		s->fpage[i] = sh->frags[i].bv_page;
		s->foff[i] = sh->frags[i].bv_offset;
		s->flen[i] = sh->frags[i].bv_len;
		s->frefs[i] = page_count(sh->frags[i].bv_page);
	}
	s->nfl = 0;
	for (const struct sk_buff *f = sh->frag_list; f && s->nfl < 8; f = f->next, s->nfl++) {
		s->fl[s->nfl] = f;
		s->fl_users[s->nfl] = f->users;
		s->fl_refs[s->nfl] = pktmem_ext_refs(f->head_ext);
	}
	gather(skb, s->bytes);
}

static bool skb_same_bytes(const struct sk_buff *skb, const struct skb_snap *s)
{
	static uint8_t now[SNAP_BYTES];

	return skb && skb->len == s->len && gather(skb, now) == s->len && memcmp(now, s->bytes, s->len) == 0;
}

/* Exactly as it was: pointers, lengths, users, head/fragment/frag_list references and bytes. */
static bool skb_unchanged(const struct sk_buff *skb, const struct skb_snap *s)
{
	const struct skb_shared_info *sh = skb_shinfo(skb);
	int i = 0;

	if (skb != s->skb || skb->head != s->head || skb->data != s->data || skb->len != s->len ||
	    skb->data_len != s->data_len || skb->tail != s->tail || skb->end != s->end || skb->users != s->users ||
	    pktmem_ext_refs(skb->head_ext) != s->head_refs || sh->nr_frags != s->nr_frags)
		return false;
	for (unsigned f = 0; f < sh->nr_frags; f++)
		if (sh->frags[f].bv_page != s->fpage[f] || sh->frags[f].bv_offset != s->foff[f] ||
		    sh->frags[f].bv_len != s->flen[f] || page_count(sh->frags[f].bv_page) != s->frefs[f])
			return false;
	for (const struct sk_buff *f = sh->frag_list; f; f = f->next, i++)
		if (i >= s->nfl || f != s->fl[i] || f->users != s->fl_users[i] ||
		    pktmem_ext_refs(f->head_ext) != s->fl_refs[i])
			return false;
	return i == s->nfl && skb_same_bytes(skb, s);
}

/* ------------------------------------------------------------ the operation table */

/*
 * Everything an operation can hold. The teardown frees whatever is not
 * NULL; a run that consumes an input sets its pointer to NULL.
 */
struct ctx {
	bool hit;                     /* the run passed the armed fault point */
	/* memory layer */
	void *obj;                    /* from kc */
	void *objs[8];                /* kmem_cache_alloc_bulk into kc */
	int nobjs;
	void *kp;                     /* kmalloc */
	struct page *pg;
	unsigned order;
	struct pktmem_ext *ext, *ext2;
	struct page *view;
	mempool_t *pool;
	void *elem;                   /* from pool */
	mempool_t *embedded;          /* a pool in the test's memory, set up */
	size_t reserve_kc;            /* kc's reserve to restore (set_reserve ops) */
	bool restore_kc;
	/* mbufs */
	struct mbuf *m, *c, *r, *to;  /* the input, another holder, the result, a header target */
	struct mbuf *n;               /* a result that is part of m (m_pulldown): not freed on its own */
	struct mbuf *mv[8];           /* m_getcl_bulk's burst */
	int nmv;                      /* how many of mv are held */
	struct m_tag *tag;
	void *ubuf;                   /* a caller's buffer still the caller's (malloc, or kmalloc with ubuf_k) */
	bool ubuf_k;
	/* sk_buffs */
	struct sk_buff *s, *s2, *rs;
	struct sk_buff *bulk[BULK_MAX]; /* alloc_skb_bulk results, nbulk of them */
	int nbulk;
	bool restore_skb_reserve;
	size_t res_skbuff, res_head;
	/* block I/O */
	struct bio_set *bs;           /* set up (bioset_exit in the teardown) */
	struct bio *bio, *rbio;       /* the input bio, a result bio */
	struct request *rq;
	struct page *bpg;             /* the input bio's pages (order 1) */
	/* results */
	int rc, err;
	bool b;
	int offp;
	unsigned long long before_a, before_b; /* in_use or counters, op-specific */
	struct chain_snap cs, cs2;
	struct skb_snap ss, ss2;
};

static struct ctx X;

/* What a fault may do to an operation, as its header says. */
enum outcome {
	MUST_FAIL, /* every fault hit fails the operation */
	ABSORBED,  /* a reserve serves it: every fault hit still succeeds */
	EITHER,    /* documented both ways (a partial success reported as success) */
};

struct op {
	const char *name;
	void (*setup)(struct ctx *);
	void (*run)(struct ctx *);
	bool (*failed)(const struct ctx *);
	void (*success)(struct ctx *);
	void (*failure)(struct ctx *);
	enum outcome outcome;
};

static void teardown(struct ctx *x)
{
	m_freem(x->m);
	m_freem(x->c);
	m_freem(x->r);
	m_freem(x->to);
	m_freem_bulk(x->mv, x->nmv);
	m_tag_free(x->tag);
	kfree_skb(x->s);
	kfree_skb(x->s2);
	kfree_skb(x->rs);
	kfree_skb_bulk(x->bulk, x->nbulk);
	if (x->ubuf) {
		if (x->ubuf_k)
			kfree(x->ubuf);
		else
			free(x->ubuf);
	}
	if (x->obj)
		kmem_cache_free(kc, x->obj);
	kmem_cache_free_bulk(kc, (size_t)x->nobjs, x->objs);
	kfree(x->kp);
	if (x->pg)
		__free_pages(x->pg, x->order);
	put_page(x->view);
	pktmem_ext_put(x->ext, NULL);
	pktmem_ext_put(x->ext2, NULL);
	if (x->pool) {
		mempool_free(x->elem, x->pool);
		mempool_destroy(x->pool);
	}
	mempool_exit(x->embedded);
	blk_put_request(x->rq);
	bio_put(x->rbio);
	bio_put(x->bio);
	if (x->bpg)
		__free_pages(x->bpg, 1);
	bioset_exit(x->bs);
	if (x->restore_kc)
		kmem_cache_set_reserve(kc, x->reserve_kc);
	if (x->restore_skb_reserve) {
		kmem_cache_set_reserve(pktmem_skbuff_cache(), x->res_skbuff);
		kmem_cache_set_reserve(pktmem_skb_head_cache(1500), x->res_head);
	}
	memset(x, 0, sizeof(*x));
}

static void no_setup(struct ctx *x)
{
	(void)x;
}

/* Verdicts. */
static bool r_null(const struct ctx *x) { return x->r == NULL; }
static bool rs_null(const struct ctx *x) { return x->rs == NULL; }
static bool rc_nonzero(const struct ctx *x) { return x->rc != 0; }
static bool b_false(const struct ctx *x) { return !x->b; }

/* ============================================================ memory layer */

/* kmem_cache_alloc: NULL, errno ENOMEM, counted as denied, nothing in use. */
static void st_kc(struct ctx *x)
{
	struct pktmem_stats st = stats_of(kc);

	x->before_a = st.in_use;
	x->before_b = st.denied;
}
static void run_cache_alloc(struct ctx *x)
{
	errno = 0;
	x->obj = kmem_cache_alloc(kc, GFP_KERNEL);
	x->err = errno;
}
static bool obj_null(const struct ctx *x) { return x->obj == NULL; }
static void ok_cache_alloc(struct ctx *x)
{
	memset(x->obj, 0x5a, KC_SIZE);
	CHECK_EQ(stats_of(kc).in_use, x->before_a + 1);
}
static void fail_cache_alloc(struct ctx *x)
{
	CHECK_EQ(x->err, ENOMEM);
	CHECK_EQ(stats_of(kc).in_use, x->before_a);
	CHECK_EQ(stats_of(kc).denied, x->before_b + 1);
}

/* With __GFP_MEMALLOC and an emergency reserve, a fault is served from the reserve. */
static void st_kc_reserve(struct ctx *x)
{
	x->reserve_kc = stats_of(kc).reserve_max;
	x->restore_kc = true;
	CHECK_EQ(kmem_cache_set_reserve(kc, 2), 0);
	x->before_a = stats_of(kc).reserve;
	x->before_b = stats_of(kc).in_use;
}
static void run_cache_alloc_memalloc(struct ctx *x)
{
	x->obj = kmem_cache_alloc(kc, GFP_ATOMIC | __GFP_MEMALLOC);
}
static void ok_cache_alloc_memalloc(struct ctx *x)
{
	memset(x->obj, 0x5a, KC_SIZE);
	CHECK_EQ(stats_of(kc).reserve, x->before_a - (x->hit ? 1 : 0));
	CHECK_EQ(stats_of(kc).in_use, x->before_b + 1);
}

/* A waiting __GFP_NOFAIL allocation retries past a fault. */
static void run_cache_alloc_nofail(struct ctx *x)
{
	x->obj = kmem_cache_alloc(kc, GFP_KERNEL | __GFP_NOFAIL);
}
static void ok_cache_alloc_nofail(struct ctx *x)
{
	memset(x->obj, 0x5a, KC_SIZE);
	CHECK_EQ(stats_of(kc).in_use, x->before_a + 1);
	CHECK_EQ(stats_of(kc).denied, x->before_b); /* a retried fault is no denial */
}

/* kmem_cache_alloc_bulk: all or nothing. */
static void run_cache_bulk(struct ctx *x)
{
	x->rc = kmem_cache_alloc_bulk(kc, GFP_KERNEL, 8, x->objs);
	x->nobjs = x->rc;
}
static bool bulk_failed(const struct ctx *x) { return x->rc == 0; }
static void ok_cache_bulk(struct ctx *x)
{
	CHECK_EQ(x->rc, 8);
	for (int i = 0; i < 8; i++) {
		CHECK(x->objs[i] != NULL);
		for (int j = 0; j < i; j++)
			CHECK(x->objs[i] != x->objs[j]);
	}
	CHECK_EQ(stats_of(kc).in_use, x->before_a + 8);
}
static void fail_cache_bulk(struct ctx *x)
{
	CHECK_EQ(stats_of(kc).in_use, x->before_a);
	CHECK_EQ(stats_of(kc).denied, x->before_b + 1);
}

/* kmem_cache_set_reserve: -ENOMEM and the reserve as it was. */
static void st_set_reserve(struct ctx *x)
{
	x->reserve_kc = stats_of(kc).reserve_max;
	x->restore_kc = true;
	CHECK_EQ(kmem_cache_set_reserve(kc, 2), 0);
	x->before_a = stats_of(kc).in_use;
}
static void run_set_reserve(struct ctx *x)
{
	x->rc = kmem_cache_set_reserve(kc, 6);
}
static void ok_set_reserve(struct ctx *x)
{
	CHECK_EQ(x->rc, 0);
	CHECK_EQ(stats_of(kc).reserve, 6);
	CHECK_EQ(stats_of(kc).reserve_max, 6);
	CHECK_EQ(stats_of(kc).in_use, x->before_a);
}
static void fail_set_reserve(struct ctx *x)
{
	CHECK_EQ(x->rc, -ENOMEM);
	CHECK_EQ(stats_of(kc).reserve, 2);
	CHECK_EQ(stats_of(kc).reserve_max, 2);
	CHECK_EQ(stats_of(kc).in_use, x->before_a);
}

/* kmalloc: NULL, errno ENOMEM. */
static void run_kmalloc_small(struct ctx *x)
{
	errno = 0;
	x->kp = kmalloc(100, GFP_KERNEL);
	x->err = errno;
	x->before_a = 100;
}
static void run_kmalloc_large(struct ctx *x)
{
	errno = 0;
	x->kp = kmalloc(300000, GFP_KERNEL);
	x->err = errno;
	x->before_a = 300000;
}
static bool kp_null(const struct ctx *x) { return x->kp == NULL; }
static void ok_kmalloc(struct ctx *x)
{
	CHECK(ksize(x->kp) >= x->before_a);
	memset(x->kp, 0x33, x->before_a);
}
static void fail_kmalloc(struct ctx *x)
{
	CHECK_EQ(x->err, ENOMEM);
}

/* alloc_pages: NULL, errno ENOMEM (the run and the descriptor both given back). */
static void run_alloc_pages(struct ctx *x)
{
	errno = 0;
	x->order = 2;
	x->pg = alloc_pages(GFP_KERNEL, 2);
	x->err = errno;
}
static bool pg_null(const struct ctx *x) { return x->pg == NULL; }
static void ok_alloc_pages(struct ctx *x)
{
	CHECK_EQ(page_count(x->pg), 1);
	CHECK_EQ(x->pg->order, 2);
	CHECK(((uintptr_t)page_address(x->pg) & (PAGE_SIZE - 1)) == 0);
	memset(page_address(x->pg), 0x44, PAGE_SIZE << 2);
}
static void fail_alloc_pages(struct ctx *x)
{
	CHECK_EQ(x->err, ENOMEM);
}

/* The storage layer: pktmem_ext_cluster/alloc/attach and page views. */
static bool ext_null(const struct ctx *x) { return x->ext == NULL; }
static void run_ext_cluster(struct ctx *x)
{
	errno = 0;
	x->ext = pktmem_ext_cluster(GFP_KERNEL, NUMA_NO_NODE);
	x->err = errno;
}
static void ok_ext(struct ctx *x)
{
	CHECK_EQ(pktmem_ext_refs(x->ext), 1);
	CHECK(pktmem_ext_writable(x->ext));
	memset(x->ext->ext_buf, 0x21, x->ext->ext_size);
}
static void fail_ext(struct ctx *x)
{
	CHECK_EQ(x->err, ENOMEM);
}
static void run_ext_alloc(struct ctx *x)
{
	errno = 0;
	x->ext = pktmem_ext_alloc(3000, GFP_KERNEL, NUMA_NO_NODE);
	x->err = errno;
}
static void st_ubuf(struct ctx *x)
{
	x->ubuf = malloc(1000);
	fill_pat(x->ubuf, 1000, 0);
	user_added++;
}
static void run_ext_attach(struct ctx *x)
{
	errno = 0;
	x->ext = pktmem_ext_attach(x->ubuf, 1000, user_release, NULL, GFP_ATOMIC);
	x->err = errno;
	if (x->ext)
		x->ubuf = NULL; /* the storage's now */
}
static void ok_ext_attach(struct ctx *x)
{
	CHECK_EQ(pktmem_ext_refs(x->ext), 1);
	CHECK(is_pat((uint8_t *)x->ext->ext_buf, 0, 1000));
}
static void fail_ext_attach(struct ctx *x)
{
	/* The buffer stays the caller's: not released, bytes untouched. */
	CHECK_EQ(x->err, ENOMEM);
	CHECK(x->ubuf != NULL);
	CHECK_EQ(user_freed, user_added - 1);
	CHECK(is_pat(x->ubuf, 0, 1000));
	free(x->ubuf);
	x->ubuf = NULL;
	user_freed++;
}
static void st_view(struct ctx *x)
{
	x->ext2 = pktmem_ext_cluster(GFP_KERNEL, NUMA_NO_NODE);
	fill_pat(x->ext2->ext_buf, PKTMEM_CLUSTER_SIZE, 0);
}
static void run_view(struct ctx *x)
{
	errno = 0;
	x->view = pktmem_page_view(x->ext2, x->ext2->ext_buf + 100, 500, GFP_ATOMIC);
	x->err = errno;
}
static bool view_null(const struct ctx *x) { return x->view == NULL; }
static void ok_view(struct ctx *x)
{
	CHECK_EQ(pktmem_ext_refs(x->ext2), 2);
	CHECK(pktmem_page_storage(x->view) == x->ext2);
	CHECK(is_pat(page_address(x->view), 100, 500));
}
static void fail_view(struct ctx *x)
{
	CHECK_EQ(x->err, ENOMEM);
	CHECK_EQ(pktmem_ext_refs(x->ext2), 1); /* @ext untouched */
	CHECK(pktmem_ext_writable(x->ext2));
}

/* ------------------------------------------------------------ mempool */

static int pools_alive(void)
{
	return totals_now().pools;
}

/* mempool_create_*: NULL (errno ENOMEM), everything it had allocated freed, no pool registered. */
static void st_pool_count(struct ctx *x)
{
	x->before_a = stats_of(kc).in_use;
	x->before_b = (unsigned long long)pools_alive();
}
static void run_pool_create_slab(struct ctx *x)
{
	errno = 0;
	x->pool = mempool_create_slab_pool(4, kc);
	x->err = errno;
	x->rc = 4;
}
static void run_pool_create_page(struct ctx *x)
{
	errno = 0;
	x->pool = mempool_create_page_pool(3, 1);
	x->err = errno;
	x->rc = 3;
}
static void run_pool_create_kmalloc(struct ctx *x)
{
	errno = 0;
	x->pool = mempool_create_kmalloc_pool(3, 700);
	x->err = errno;
	x->rc = 3;
}
static bool pool_null(const struct ctx *x) { return x->pool == NULL; }
static void ok_pool_create(struct ctx *x)
{
	CHECK(mempool_initialized(x->pool));
	CHECK(mempool_is_saturated(x->pool));
	CHECK_EQ(pool_stats(x->pool).reserve, x->rc);
	CHECK_EQ(pools_alive(), x->before_b + 1);
}
static void fail_pool_create(struct ctx *x)
{
	CHECK_EQ(x->err, ENOMEM);
	CHECK_EQ(stats_of(kc).in_use, x->before_a);
	CHECK_EQ(pools_alive(), x->before_b);
}

/* mempool_init_slab_pool in the caller's memory: -ENOMEM, the pool left uninitialised. */
static mempool_t embedded_pool;
static void run_pool_init_slab(struct ctx *x)
{
	memset(&embedded_pool, 0xa5, sizeof(embedded_pool));
	x->rc = mempool_init_slab_pool(&embedded_pool, 4, kc);
	if (x->rc == 0)
		x->embedded = &embedded_pool;
}
static bool pool_init_failed(const struct ctx *x) { return x->rc != 0; }
static void ok_pool_init(struct ctx *x)
{
	CHECK(mempool_initialized(&embedded_pool));
	CHECK_EQ(pool_stats(&embedded_pool).reserve, 4);
	CHECK_EQ(pools_alive(), x->before_b + 1);
}
static void fail_pool_init(struct ctx *x)
{
	CHECK_EQ(x->rc, -ENOMEM);
	CHECK(!mempool_initialized(&embedded_pool));
	CHECK_EQ(stats_of(kc).in_use, x->before_a);
	CHECK_EQ(pools_alive(), x->before_b);
	mempool_exit(&embedded_pool); /* "safe on a zeroed or already exited pool" */
}

/* mempool_alloc(GFP_KERNEL) with an empty reserve never fails: a fault is retried with the full mask. */
static void run_pool_alloc_kernel(struct ctx *x)
{
	x->elem = mempool_alloc(x->pool, GFP_KERNEL);
}

/* mempool_alloc(GFP_ATOMIC) with a full reserve: a failing allocator is covered by the reserve. */
static void st_pool2(struct ctx *x)
{
	x->pool = mempool_create_slab_pool(2, kc);
	if (!x->pool)
		abort();
	x->before_a = stats_of(kc).in_use;
}
static void run_pool_alloc(struct ctx *x)
{
	x->elem = mempool_alloc(x->pool, GFP_ATOMIC);
}
static bool elem_null(const struct ctx *x) { return x->elem == NULL; }
static void ok_pool_alloc_reserve(struct ctx *x)
{
	memset(x->elem, 0x66, KC_SIZE);
	/* From the allocator when no fault was hit, else the reserve's top. */
	CHECK_EQ(x->pool->curr_nr, x->hit ? 1 : 2);
	CHECK_EQ(stats_of(kc).in_use, x->before_a + (x->hit ? 0 : 1));
	CHECK_EQ(pool_stats(x->pool).in_use, 1);
}

/* mempool_alloc(GFP_ATOMIC) with an empty reserve: NULL at once, counted as denied. */
static void st_pool0(struct ctx *x)
{
	x->pool = mempool_create_slab_pool(0, kc);
	if (!x->pool)
		abort();
	x->before_a = stats_of(kc).in_use;
	x->before_b = pool_stats(x->pool).denied;
}
static void ok_pool_alloc_empty(struct ctx *x)
{
	memset(x->elem, 0x66, KC_SIZE);
	CHECK_EQ(stats_of(kc).in_use, x->before_a + 1);
}
static void fail_pool_alloc_empty(struct ctx *x)
{
	struct pktmem_stats st = pool_stats(x->pool);

	CHECK_EQ(st.denied, x->before_b + 1);
	CHECK_EQ(st.in_use, 0);
	CHECK_EQ(x->pool->curr_nr, 0);
	CHECK_EQ(stats_of(kc).in_use, x->before_a);
}

/*
 * mempool_resize() growing 2 -> 6: -ENOMEM (the array) with the pool
 * unchanged, or 0 with the new target in force even when the fill ran dry
 * part way, and later frees filling the reserve up.
 */
static void run_pool_resize(struct ctx *x)
{
	x->rc = mempool_resize(x->pool, 6);
}
static void ok_pool_resize(struct ctx *x)
{
	CHECK_EQ(x->rc, 0);
	CHECK_EQ(x->pool->min_nr, 6);
	int have = x->pool->curr_nr;

	CHECK(have >= 2 && have <= 6);
	CHECK_EQ(have == 6, !x->hit);
	if (have < 6) {
		/* A free goes into the reserve while it is below the target. */
		void *e = mempool_alloc(x->pool, GFP_KERNEL);

		CHECK(e != NULL);
		mempool_free(e, x->pool);
		CHECK_EQ(x->pool->curr_nr, have + 1);
	}
}
static void fail_pool_resize(struct ctx *x)
{
	CHECK_EQ(x->rc, -ENOMEM);
	CHECK_EQ(x->pool->min_nr, 2);
	CHECK_EQ(x->pool->curr_nr, 2);
	CHECK_EQ(stats_of(kc).in_use, x->before_a);
}

/* ============================================================ mbufs */

/* Allocation: NULL with nothing in use. Under an injected fault even M_WAIT gets NULL. */
static void st_mbuf_count(struct ctx *x)
{
	x->before_a = stats_of(pktmem_mbuf_cache()).in_use;
}
static void run_m_get_dontwait(struct ctx *x) { x->r = m_get(M_DONTWAIT, MT_DATA); }
static void run_m_get_wait(struct ctx *x) { x->r = m_get(M_WAIT, MT_DATA); }
static void run_m_gethdr(struct ctx *x) { x->r = m_gethdr(M_DONTWAIT, MT_HEADER); }
static void run_m_getclr(struct ctx *x) { x->r = m_getclr(M_DONTWAIT, MT_DATA); }
static void ok_m_get(struct ctx *x)
{
	CHECK_EQ(x->r->m_len, 0);
	CHECK(!(x->r->m_flags & M_EXT));
	CHECK_EQ(M_TRAILINGSPACE(x->r), (x->r->m_flags & M_PKTHDR) ? MHLEN : MLEN);
	if (x->r->m_flags & M_PKTHDR)
		CHECK_EQ(x->r->m_pkthdr.len, 0);
	CHECK_EQ(stats_of(pktmem_mbuf_cache()).in_use, x->before_a + 1);
}
static void fail_m_get(struct ctx *x)
{
	CHECK_EQ(stats_of(pktmem_mbuf_cache()).in_use, x->before_a);
}

/*
 * m_getcl_bulk / m_getcl: all or nothing. On failure 0 (NULL), no mbuf and
 * no cluster in use, the caller's array untouched.
 */
#define MV_UNTOUCHED ((struct mbuf *)(uintptr_t)0x5e5e5e5e)
static void st_getcl_count(struct ctx *x)
{
	for (int i = 0; i < 8; i++)
		x->mv[i] = MV_UNTOUCHED;
	x->before_a = stats_of(pktmem_mbuf_cache()).in_use;
	x->before_b = stats_of(pktmem_cluster_cache()).in_use;
}
static void run_getcl_bulk(struct ctx *x)
{
	x->rc = m_getcl_bulk(x->mv, 8, M_WAIT, MT_DATA, M_PKTHDR);
	x->nmv = x->rc;
}
static void run_getcl(struct ctx *x) { x->r = m_getcl(M_DONTWAIT, MT_DATA, M_PKTHDR); }
static bool getcl_bulk_failed(const struct ctx *x) { return x->rc == 0; }
static void ok_getcl_one(const struct mbuf *m)
{
	CHECK((m->m_flags & (M_EXT | M_CLUSTER | M_PKTHDR)) == (M_EXT | M_CLUSTER | M_PKTHDR));
	CHECK(m->m_data == m->m_ext.ext_buf);
	CHECK_EQ(m->m_len, 0);
	CHECK_EQ(m->m_pkthdr.len, 0);
	CHECK_EQ(M_TRAILINGSPACE(m), MCLBYTES);
}
static void ok_getcl_bulk(struct ctx *x)
{
	CHECK_EQ(x->rc, 8);
	for (int i = 0; i < 8; i++)
		ok_getcl_one(x->mv[i]);
	CHECK_EQ(stats_of(pktmem_mbuf_cache()).in_use, x->before_a + 8);
	CHECK_EQ(stats_of(pktmem_cluster_cache()).in_use, x->before_b + 8);
}
static void ok_getcl(struct ctx *x)
{
	ok_getcl_one(x->r);
	CHECK_EQ(stats_of(pktmem_mbuf_cache()).in_use, x->before_a + 1);
	CHECK_EQ(stats_of(pktmem_cluster_cache()).in_use, x->before_b + 1);
}
static void fail_getcl(struct ctx *x)
{
	for (int i = 0; i < 8; i++)
		CHECK(x->mv[i] == MV_UNTOUCHED);
	CHECK_EQ(stats_of(pktmem_mbuf_cache()).in_use, x->before_a);
	CHECK_EQ(stats_of(pktmem_cluster_cache()).in_use, x->before_b);
}

/* MCLGET / MEXTMALLOC / MEXTADD: on failure M_EXT stays clear and the mbuf is unchanged. */
static void st_plain_mbuf(struct ctx *x)
{
	x->m = m_gethdr(M_WAIT, MT_DATA);
	x->m->m_len = 40;
	fill_pat(x->m->m_data, 40, 0);
	x->m->m_pkthdr.len = 40;
	snap_chain(x->m, &x->cs);
	x->before_a = stats_of(pktmem_cluster_cache()).in_use;
}
static void run_mclget(struct ctx *x) { MCLGET(x->m, M_DONTWAIT); }
static void run_mextmalloc(struct ctx *x) { MEXTMALLOC(x->m, 5000, M_WAIT); }
static bool no_ext(const struct ctx *x) { return !(x->m->m_flags & M_EXT); }
static void ok_mclget(struct ctx *x)
{
	CHECK((x->m->m_flags & (M_EXT | M_CLUSTER)) == (M_EXT | M_CLUSTER));
	CHECK(x->m->m_data == x->m->m_ext.ext_buf);
	CHECK_EQ(M_TRAILINGSPACE(x->m) + x->m->m_len, MCLBYTES);
	CHECK_EQ(stats_of(pktmem_cluster_cache()).in_use, x->before_a + 1);
}
static void ok_mextmalloc(struct ctx *x)
{
	CHECK(x->m->m_flags & M_EXT);
	CHECK(x->m->m_ext.ext_size >= 5000);
	CHECK(m_writable(x->m));
}
static void fail_ext_attach_mbuf(struct ctx *x)
{
	CHECK(chain_unchanged(x->m, &x->cs));
	CHECK(x->m->m_data == x->m->m_pktdat);
	CHECK_EQ(stats_of(pktmem_cluster_cache()).in_use, x->before_a);
}
static void st_mextadd(struct ctx *x)
{
	st_plain_mbuf(x);
	x->m->m_len = 0;
	x->m->m_pkthdr.len = 0;
	snap_chain(x->m, &x->cs);
	x->ubuf = malloc(3000);
	fill_pat(x->ubuf, 3000, 0);
	user_added++;
}
static void run_mextadd(struct ctx *x)
{
	MEXTADD(x->m, x->ubuf, 3000, 5, user_free, (void *)x);
	if (x->m->m_flags & M_EXT)
		x->ubuf = NULL; /* the mbuf's now */
}
static void ok_mextadd(struct ctx *x)
{
	CHECK(x->m->m_flags & M_EXT);
	CHECK_EQ(x->m->m_ext.ext_size, 3000);
	CHECK(x->m->m_ext.ext_free == user_free && x->m->m_ext.ext_arg == (void *)x);
	x->m->m_len = 3000;
	CHECK(is_pat((uint8_t *)x->m->m_data, 0, 3000));
}
static void fail_mextadd(struct ctx *x)
{
	/* M_EXT clear, the buffer the caller's: its free routine not called. */
	CHECK(chain_unchanged(x->m, &x->cs));
	CHECK(x->ubuf != NULL);
	CHECK_EQ(user_freed, user_added - 1);
	CHECK(is_pat(x->ubuf, 0, 3000));
	free(x->ubuf);
	x->ubuf = NULL;
	user_freed++;
}

/* The copy family: NULL with the source untouched (shape, references, header, tags). */
static void st_mix(struct ctx *x)
{
	x->m = build_mix();
	snap_chain(x->m, &x->cs);
}
static void run_copym_hdr(struct ctx *x) { x->r = m_copym(x->m, 0, M_COPYALL, M_DONTWAIT); }
static void run_copym_inner(struct ctx *x) { x->r = m_copym(x->m, 50, 2000, M_WAIT); }
static void run_copypacket(struct ctx *x) { x->r = m_copypacket(x->m, M_DONTWAIT); }
static const struct seg ONE[] = { { SEG_CLUSTER, 0, 1500 } };

/* One header mbuf with a cluster and two tags: m_copypacket's one-mbuf path. */
static void st_one_tagged(struct ctx *x)
{
	x->m = build(ONE, 1, true, 0);
	m_tag_prepend(x->m, m_tag_get(7, 24, M_WAIT));
	m_tag_prepend(x->m, m_tag_get(9, 8, M_WAIT));
	snap_chain(x->m, &x->cs);
}
static void ok_copy_one_tagged(struct ctx *x)
{
	CHECK(x->r->m_next == NULL && (x->r->m_flags & (M_PKTHDR | M_EXT)) == (M_PKTHDR | M_EXT));
	CHECK(x->r->m_ext.ext_buf == x->m->m_ext.ext_buf); /* shared, not copied */
	CHECK_EQ(x->r->m_pkthdr.len, x->m->m_len);
	CHECK(m_tag_find(x->r, 7) && m_tag_find(x->r, 9));
	CHECK(chain_same_bytes(x->m, &x->cs));
}
static void run_dup_hdr(struct ctx *x) { x->r = m_dup(x->m, 0, M_COPYALL, M_DONTWAIT); }
static void run_dup_inner(struct ctx *x) { x->r = m_dup(x->m, 50, 2000, M_WAIT); }
static void ok_copy_whole(struct ctx *x)
{
	CHECK(chain_is_pat(x->r, 0, MIX_LEN));
	CHECK(x->r->m_flags & M_PKTHDR);
	CHECK_EQ(x->r->m_pkthdr.len, MIX_LEN);
	CHECK(m_tag_find(x->r, 7) && m_tag_find(x->r, 9));
	CHECK(chain_same_bytes(x->m, &x->cs));
}
static void ok_copy_inner(struct ctx *x)
{
	CHECK(chain_is_pat(x->r, 50, 2000));
	CHECK(chain_same_bytes(x->m, &x->cs));
}
static void ok_dup(struct ctx *x)
{
	/* Deep: nothing shared, so the source's storage is still held alone. */
	CHECK(all_refs(x->r, 1));
	CHECK(chain_unchanged(x->m, &x->cs));
}
static void ok_dup_whole(struct ctx *x)
{
	ok_copy_whole(x);
	ok_dup(x);
}
static void ok_dup_inner(struct ctx *x)
{
	ok_copy_inner(x);
	ok_dup(x);
}
static void fail_source_unchanged(struct ctx *x)
{
	CHECK(chain_unchanged(x->m, &x->cs));
	CHECK(all_refs(x->m, 1));
}

/* m_copyback extending: the chain keeps its length; what fell inside it is written. */
static uint8_t wbuf[8192];

static void st_copyback(struct ctx *x)
{
	st_mix(x);
	x->before_a = stats_of(pktmem_mbuf_cache()).in_use;
}
#define CB_OFF (MIX_LEN - 30)
#define CB_LEN 5000
static void run_copyback(struct ctx *x)
{
	m_copyback(x->m, CB_OFF, CB_LEN, wbuf);
}
static bool copyback_failed(const struct ctx *x)
{
	return m_length(x->m) != CB_OFF + CB_LEN;
}
static void ok_copyback(struct ctx *x)
{
	static uint8_t now[SNAP_BYTES];

	CHECK_EQ(flatten(x->m, now), CB_OFF + CB_LEN);
	CHECK_EQ(x->m->m_pkthdr.len, CB_OFF + CB_LEN);
	CHECK(is_pat(now, 0, CB_OFF));
	CHECK(memcmp(now + CB_OFF, wbuf, CB_LEN) == 0);
}
static void fail_copyback(struct ctx *x)
{
	static uint8_t now[SNAP_BYTES];

	CHECK_EQ(m_length(x->m), MIX_LEN);
	CHECK_EQ(x->m->m_pkthdr.len, MIX_LEN);
	CHECK_EQ(flatten(x->m, now), MIX_LEN);
	CHECK(is_pat(now, 0, CB_OFF));
	CHECK(memcmp(now + CB_OFF, wbuf, MIX_LEN - CB_OFF) == 0);
	CHECK_EQ(stats_of(pktmem_mbuf_cache()).in_use, x->before_a); /* no extension kept */
}

/* The packet and a copy of it sharing its external storage (references 2). */
static void st_shared(struct ctx *x)
{
	x->m = build_mix();
	x->c = m_copypacket(x->m, M_WAIT);
	snap_chain(x->m, &x->cs);
	snap_chain(x->c, &x->cs2);
}

/* A one-cluster packet (the header mbuf holds the cluster) and a copy sharing it. */
static void st_shared_one(struct ctx *x)
{
	x->m = build(ONE, 1, true, 0);
	m_tag_prepend(x->m, m_tag_get(7, 24, M_WAIT));
	x->c = m_copypacket(x->m, M_WAIT);
	snap_chain(x->m, &x->cs);
	snap_chain(x->c, &x->cs2);
}

/* m_copyback_cow over shared storage: NULL with m0 freed; the other holder's bytes kept, sole holder again. */
#define COW_OFF 90
#define COW_LEN 1600
static void run_copyback_cow(struct ctx *x)
{
	x->r = m_copyback_cow(x->m, COW_OFF, COW_LEN, wbuf, M_DONTWAIT);
	x->m = NULL; /* consumed either way */
}
static void run_copyback_cow_front(struct ctx *x)
{
	x->r = m_copyback_cow(x->m, 0, 1000, wbuf, M_WAIT);
	x->m = NULL;
}
static void ok_copyback_cow_front(struct ctx *x)
{
	static uint8_t now[SNAP_BYTES];

	CHECK_EQ(flatten(x->r, now), 1500);
	CHECK(memcmp(now, wbuf, 1000) == 0);
	CHECK(is_pat(now + 1000, 1000, 500));
	CHECK(x->r->m_flags & M_PKTHDR);
	CHECK_EQ(x->r->m_pkthdr.len, 1500);
	CHECK(m_tag_find(x->r, 7) != NULL);
	CHECK(chain_same_bytes(x->c, &x->cs2));
}
static void ok_copyback_cow(struct ctx *x)
{
	static uint8_t now[SNAP_BYTES];

	CHECK_EQ(flatten(x->r, now), MIX_LEN);
	CHECK(is_pat(now, 0, COW_OFF));
	CHECK(memcmp(now + COW_OFF, wbuf, COW_LEN) == 0);
	CHECK(is_pat(now + COW_OFF + COW_LEN, COW_OFF + COW_LEN, MIX_LEN - COW_OFF - COW_LEN));
	CHECK(chain_same_bytes(x->c, &x->cs2));
}
static void fail_other_holder_alone(struct ctx *x)
{
	CHECK(chain_same_bytes(x->c, &x->cs2));
	CHECK(all_refs(x->c, 1));
}

/* m_makewritable: ENOBUFS, *mp a valid chain with the same bytes; the copy untouched. */
static void run_makewritable(struct ctx *x)
{
	x->rc = m_makewritable(&x->m, COW_OFF, COW_LEN, M_DONTWAIT);
}
static bool is_writable_range(const struct mbuf *m, long off, long len)
{
	long pos = 0;

	for (; m; m = m->m_next) {
		long a = off > pos ? off : pos, b = off + len < pos + m->m_len ? off + len : pos + m->m_len;

		if (a < b && !m_writable(m))
			return false;
		pos += m->m_len;
	}
	return true;
}
static void ok_makewritable(struct ctx *x)
{
	CHECK_EQ(x->rc, 0);
	CHECK(is_writable_range(x->m, COW_OFF, COW_LEN));
	CHECK(chain_same_bytes(x->m, &x->cs));
	CHECK(chain_same_bytes(x->c, &x->cs2));
}
static void run_makewritable_front(struct ctx *x)
{
	x->rc = m_makewritable(&x->m, 0, 1000, M_WAIT);
}
static void ok_makewritable_front(struct ctx *x)
{
	CHECK_EQ(x->rc, 0);
	CHECK(is_writable_range(x->m, 0, 1000));
	CHECK(chain_same_bytes(x->m, &x->cs));
	CHECK_EQ(count_tags(x->m), x->cs.ntags);
	CHECK(chain_same_bytes(x->c, &x->cs2));
}
static void fail_makewritable(struct ctx *x)
{
	CHECK_EQ(x->rc, ENOBUFS);
	CHECK(x->m != NULL);
	CHECK(chain_same_bytes(x->m, &x->cs));
	CHECK_EQ(count_tags(x->m), x->cs.ntags);
	CHECK(chain_same_bytes(x->c, &x->cs2));
}

/* m_prepend / M_PREPEND with no leading space: on failure the chain is freed (NULL). */
static const struct seg FULLHEAD[] = { { SEG_INT, 0, 390 }, { SEG_CLUSTER, 0, 1200 } };
static void st_fullhead(struct ctx *x)
{
	x->m = build(FULLHEAD, 2, true, 0);
	snap_chain(x->m, &x->cs);
}
static void run_m_prepend(struct ctx *x)
{
	x->r = m_prepend(x->m, 20, M_DONTWAIT);
	x->m = NULL;
}
static void ok_m_prepend(struct ctx *x)
{
	CHECK_EQ(x->r->m_len, 20);
	CHECK(x->r->m_flags & M_PKTHDR);
	CHECK(!(x->r->m_next->m_flags & M_PKTHDR));
	CHECK_EQ(x->r->m_pkthdr.len, 1590); /* m_prepend leaves it */
	CHECK(chain_is_pat(x->r->m_next, 0, 1590));
}
static void run_M_PREPEND(struct ctx *x)
{
	struct mbuf *m = x->m;

	M_PREPEND(m, 20, M_DONTWAIT);
	x->m = NULL;
	x->r = m;
}
static void ok_M_PREPEND(struct ctx *x)
{
	CHECK_EQ(x->r->m_len, 20);
	CHECK_EQ(x->r->m_pkthdr.len, 1610);
	CHECK(chain_is_pat(x->r->m_next, 0, 1590));
}
static void fail_nothing_held(struct ctx *x)
{
	/*
	 * NULL came back and nothing is held: the input chain was freed, or
	 * nothing was made (the in-use count after the teardown proves it).
	 */
	(void)x;
}

/* m_pullup: the first mbuf has 10 bytes and no room for 90 more: a new one is needed; on failure the chain is freed. */
static const struct seg PULLUP[] = { { SEG_INT, 380, 10 }, { SEG_CLUSTER, 0, 1200 } };
static void st_pullup(struct ctx *x)
{
	x->m = build(PULLUP, 2, true, 0);
	snap_chain(x->m, &x->cs);
}
static void run_m_pullup(struct ctx *x)
{
	x->r = m_pullup(x->m, 100);
	x->m = NULL;
}
static void ok_m_pullup(struct ctx *x)
{
	CHECK(x->r->m_len >= 100);
	CHECK(x->r->m_flags & M_PKTHDR);
	CHECK_EQ(x->r->m_pkthdr.len, 1210);
	CHECK(chain_is_pat(x->r, 0, 1210));
}

/* m_pulldown: region in shared storage (a copy and the rest kept shared), and across mbufs. */
static const struct seg PD[] = { { SEG_INT, 0, 100 }, { SEG_CLUSTER, 0, 1500 }, { SEG_INT, 0, 300 } };
static void st_pulldown(struct ctx *x)
{
	x->m = build(PD, 3, true, 0);
	x->c = m_copypacket(x->m, M_WAIT);
	snap_chain(x->c, &x->cs2);
}
static bool n_null(const struct ctx *x) { return x->n == NULL; }
static void run_pulldown_inside(struct ctx *x)
{
	x->n = m_pulldown(x->m, 200, 100, NULL);
	x->m = x->n ? x->m : NULL; /* on failure the chain is freed */
	x->rc = 200;
	x->before_a = 100;
}
static void run_pulldown_across(struct ctx *x)
{
	x->offp = -1;
	x->n = m_pulldown(x->m, 50, 700, &x->offp);
	x->m = x->n ? x->m : NULL;
	x->rc = 50;
	x->before_a = 700;
}
static void ok_pulldown(struct ctx *x)
{
	int off = x->offp > 0 ? x->offp : 0;

	CHECK(x->n->m_len - off >= (int)x->before_a);
	CHECK(is_pat((uint8_t *)x->n->m_data + off, x->rc, (long)x->before_a));
	CHECK(m_writable(x->n));
	CHECK(chain_is_pat(x->m, 0, 1900));
	CHECK(chain_same_bytes(x->c, &x->cs2));
}

/* m_split: NULL with the chain exactly as it was, pkthdr.len untouched. */
static const struct seg SPLIT[] = { { SEG_INT, 0, 100 }, { SEG_INT, 0, 456 }, { SEG_CLUSTER, 0, 1500 } };
static void st_split_hdr(struct ctx *x)
{
	x->m = build(SPLIT, 3, true, 0);
	snap_chain(x->m, &x->cs);
}
static void st_split_plain(struct ctx *x)
{
	x->m = build(SPLIT, 3, false, 0);
	snap_chain(x->m, &x->cs);
}
static void run_split_cluster(struct ctx *x)
{
	x->rc = 900;
	x->r = m_split(x->m, 900, M_DONTWAIT);
}
static void run_split_internal(struct ctx *x)
{
	x->rc = 110; /* 446 bytes of internal data remain: more than MHLEN, two mbufs */
	x->r = m_split(x->m, 110, M_WAIT);
}
static void ok_split(struct ctx *x)
{
	CHECK(chain_is_pat(x->m, 0, x->rc));
	CHECK(chain_is_pat(x->r, x->rc, 2056 - x->rc));
	if (x->m->m_flags & M_PKTHDR) {
		CHECK_EQ(x->m->m_pkthdr.len, x->rc);
		CHECK(x->r->m_flags & M_PKTHDR);
		CHECK_EQ(x->r->m_pkthdr.len, 2056 - x->rc);
	}
}
static void fail_split(struct ctx *x)
{
	CHECK(chain_unchanged(x->m, &x->cs));
}

/* m_devget: NULL, nothing kept. */
static uint8_t devbuf[4000];
static void run_devget(struct ctx *x)
{
	x->r = m_devget((char *)devbuf, 4000, 0, NULL, NULL);
}
static void ok_devget(struct ctx *x)
{
	CHECK(chain_is_pat(x->r, 0, 4000));
	CHECK_EQ(x->r->m_pkthdr.len, 4000);
}

/* Tags: m_tag_get NULL; m_tag_copy_chain 0 with no copy kept; M_COPY_PKTHDR -ENOMEM with no tag at all. */
static void run_tag_get(struct ctx *x)
{
	x->tag = m_tag_get(3, 600, M_DONTWAIT);
}
static bool tag_null(const struct ctx *x) { return x->tag == NULL; }
static void ok_tag_get(struct ctx *x)
{
	CHECK_EQ(x->tag->m_tag_id, 3);
	CHECK_EQ(x->tag->m_tag_len, 600);
	memset(x->tag + 1, 0x77, 600);
}
static void st_one_tag(struct ctx *x)
{
	x->tag = m_tag_get(12, 40, M_WAIT);
	fill_pat(x->tag + 1, 40, 0);
	x->to = m_gethdr(M_WAIT, MT_DATA); /* holds the copy, so that the teardown frees it */
}
static void run_tag_copy(struct ctx *x)
{
	struct m_tag *t = m_tag_copy(x->tag);

	x->rc = t != NULL;
	if (t)
		m_tag_prepend(x->to, t);
}
static void ok_tag_copy(struct ctx *x)
{
	struct m_tag *t = m_tag_find(x->to, 12);

	CHECK(t && t != x->tag && t->m_tag_len == 40 && is_pat((uint8_t *)(t + 1), 0, 40));
}
static void fail_tag_copy(struct ctx *x)
{
	CHECK_EQ(count_tags(x->to), 0);
	CHECK(is_pat((uint8_t *)(x->tag + 1), 0, 40));
}
static void st_tagged(struct ctx *x)
{
	x->m = build_mix();
	m_tag_prepend(x->m, m_tag_get(11, 300, M_WAIT));
	snap_chain(x->m, &x->cs);
	x->to = m_gethdr(M_WAIT, MT_DATA);
	x->tag = m_tag_get(5, 8, M_WAIT); /* to's own tag */
	m_tag_prepend(x->to, x->tag);
	x->tag = NULL;
}
static void run_tag_copy_chain(struct ctx *x)
{
	x->rc = m_tag_copy_chain(x->to, x->m);
}
static bool rc_zero(const struct ctx *x) { return x->rc == 0; }
static void ok_tag_copy_chain(struct ctx *x)
{
	CHECK_EQ(x->rc, 1);
	CHECK_EQ(count_tags(x->to), 4);
	CHECK(m_tag_find(x->to, 5) && m_tag_find(x->to, 11) && m_tag_find(x->to, 7) && m_tag_find(x->to, 9));
	CHECK(chain_unchanged(x->m, &x->cs));
}
static void fail_tag_copy_chain(struct ctx *x)
{
	CHECK_EQ(count_tags(x->to), 1);
	CHECK(m_tag_find(x->to, 5) != NULL);
	CHECK(chain_unchanged(x->m, &x->cs));
}
static void st_copy_pkthdr(struct ctx *x)
{
	x->m = build_mix();
	x->m->m_pkthdr.csum_flags = 0x1234;
	x->m->m_flags |= M_BCAST;
	snap_chain(x->m, &x->cs);
	x->to = m_get(M_WAIT, MT_DATA);
}
static void run_copy_pkthdr(struct ctx *x)
{
	/* M_COPY_PKTHDR is this call with the result dropped; the result is what tells. */
	x->rc = m_copy_pkthdr(x->to, x->m);
}
static void ok_copy_pkthdr(struct ctx *x)
{
	CHECK_EQ(x->rc, 0);
	CHECK((x->to->m_flags & (M_PKTHDR | M_BCAST)) == (M_PKTHDR | M_BCAST));
	CHECK_EQ(x->to->m_pkthdr.len, MIX_LEN);
	CHECK_EQ(x->to->m_pkthdr.csum_flags, 0x1234);
	CHECK_EQ(count_tags(x->to), 2);
	CHECK(chain_unchanged(x->m, &x->cs));
}
static void fail_copy_pkthdr(struct ctx *x)
{
	CHECK_EQ(x->rc, -ENOMEM);
	CHECK((x->to->m_flags & (M_PKTHDR | M_BCAST)) == (M_PKTHDR | M_BCAST));
	CHECK_EQ(x->to->m_pkthdr.len, MIX_LEN);
	CHECK_EQ(x->to->m_pkthdr.csum_flags, 0x1234);
	CHECK_EQ(count_tags(x->to), 0);
	CHECK(chain_unchanged(x->m, &x->cs));
}

/* ============================================================ sk_buffs */

static void ok_alloc_skb_common(struct sk_buff *skb, unsigned size)
{
	CHECK_EQ(skb->users, 1);
	CHECK_EQ(skb->len, 0);
	CHECK(skb_tailroom(skb) >= (int)size);
	memset(skb_put(skb, size), 0x99, size);
}
static void run_alloc_skb(struct ctx *x) { x->rs = __alloc_skb(1500, GFP_ATOMIC, 0, NUMA_NO_NODE); }
static void run_alloc_skb_fclone(struct ctx *x)
{
	x->rs = __alloc_skb(1500, GFP_ATOMIC, SKB_ALLOC_FCLONE, NUMA_NO_NODE);
}
static void run_alloc_skb_rx(struct ctx *x) { x->rs = __alloc_skb(1500, GFP_ATOMIC, SKB_ALLOC_RX, NUMA_NO_NODE); }
static void run_alloc_skb_big(struct ctx *x) { x->rs = __alloc_skb(70000, GFP_KERNEL, 0, NUMA_NO_NODE); }
static void ok_alloc_skb(struct ctx *x)
{
	ok_alloc_skb_common(x->rs, 1500);
	CHECK_EQ(skb_headroom(x->rs), 0);
}
static void ok_alloc_skb_fclone(struct ctx *x)
{
	ok_alloc_skb(x);
	CHECK_EQ(x->rs->fclone, SKB_FCLONE_ORIG);
}
static void ok_alloc_skb_rx(struct ctx *x)
{
	ok_alloc_skb(x);
	CHECK(x->rs->pfmemalloc);
}
static void ok_alloc_skb_big(struct ctx *x)
{
	ok_alloc_skb_common(x->rs, 70000);
}
static void st_skb_counts(struct ctx *x)
{
	x->before_a = stats_of(pktmem_skbuff_cache()).in_use + stats_of(pktmem_skbuff_fclone_cache()).in_use;
	x->before_b = stats_of(pktmem_skb_head_cache(1500)).in_use;
}
static void fail_skb_nothing_kept(struct ctx *x)
{
	CHECK_EQ(stats_of(pktmem_skbuff_cache()).in_use + stats_of(pktmem_skbuff_fclone_cache()).in_use, x->before_a);
	CHECK_EQ(stats_of(pktmem_skb_head_cache(1500)).in_use, x->before_b);
}

/* SKB_ALLOC_RX with reserves on the sk_buff and head caches: every fault is served from them. */
static void st_rx_reserve(struct ctx *x)
{
	x->res_skbuff = stats_of(pktmem_skbuff_cache()).reserve_max;
	x->res_head = stats_of(pktmem_skb_head_cache(1500)).reserve_max;
	x->restore_skb_reserve = true;
	CHECK_EQ(kmem_cache_set_reserve(pktmem_skbuff_cache(), x->res_skbuff + 1), 0);
	CHECK_EQ(kmem_cache_set_reserve(pktmem_skb_head_cache(1500), x->res_head + 1), 0);
}

/* build_skb: NULL with the buffer still the caller's, its bytes untouched. */
static void st_build_skb(struct ctx *x)
{
	x->ubuf = netdev_alloc_frag(2048);
	x->ubuf_k = true;
	fill_pat(x->ubuf, 2048, 0);
}
static void run_build_skb(struct ctx *x)
{
	x->rs = build_skb(x->ubuf, 2048);
	if (x->rs)
		x->ubuf = NULL;
}
static void ok_build_skb(struct ctx *x)
{
	CHECK(x->rs->head_frag);
	CHECK_EQ(x->rs->users, 1);
	CHECK(skb_tailroom(x->rs) > 1000);
	CHECK(is_pat(x->rs->head, 0, 1000));
}
static void fail_build_skb(struct ctx *x)
{
	CHECK(x->ubuf != NULL);
	CHECK(is_pat(x->ubuf, 0, 2048));
}

static void run_netdev_alloc_skb(struct ctx *x) { x->rs = netdev_alloc_skb(NULL, 1500); }
static void ok_netdev_alloc_skb(struct ctx *x)
{
	CHECK_EQ(skb_headroom(x->rs), NET_SKB_PAD);
	ok_alloc_skb_common(x->rs, 1500);
}

/* alloc_skb_bulk: all or nothing; on failure the array is as it was (zeroed by the driver). */
static void run_alloc_skb_bulk32(struct ctx *x) { x->nbulk = alloc_skb_bulk(x->bulk, 32, 1500, GFP_ATOMIC); }
static void run_alloc_skb_bulk40(struct ctx *x) { x->nbulk = alloc_skb_bulk(x->bulk, 40, 1500, GFP_KERNEL); }
static void run_alloc_skb_bulk_big(struct ctx *x) { x->nbulk = alloc_skb_bulk(x->bulk, 3, 40000, GFP_KERNEL); }
static bool nbulk_zero(const struct ctx *x) { return x->nbulk == 0; }
static void ok_alloc_skb_bulk_n(struct ctx *x, int n, unsigned size)
{
	CHECK_EQ(x->nbulk, n);
	for (int i = 0; i < x->nbulk; i++) {
		CHECK_EQ(skb_headroom(x->bulk[i]), 0);
		ok_alloc_skb_common(x->bulk[i], size);
	}
}
static void ok_alloc_skb_bulk32(struct ctx *x) { ok_alloc_skb_bulk_n(x, 32, 1500); }
static void ok_alloc_skb_bulk40(struct ctx *x) { ok_alloc_skb_bulk_n(x, 40, 1500); }
static void ok_alloc_skb_bulk_big(struct ctx *x) { ok_alloc_skb_bulk_n(x, 3, 40000); }
static void fail_alloc_skb_bulk(struct ctx *x)
{
	fail_skb_nothing_kept(x);
	for (int i = 0; i < BULK_MAX; i++)
		CHECK(x->bulk[i] == NULL);
}

/* Clones: NULL with the original exactly as it was. */
static void st_skb_plain(struct ctx *x)
{
	x->s = make_skb(16, 100, 300, 0, false);
	snap_skb(x->s, &x->ss);
}
static void st_skb_fclone(struct ctx *x)
{
	x->s = make_skb(16, 100, 300, 0, true);
	snap_skb(x->s, &x->ss);
}
static void st_skb_fclone_busy(struct ctx *x)
{
	x->s = make_skb(16, 100, 300, 0, true);
	x->s2 = skb_clone(x->s, GFP_KERNEL); /* the companion */
	if (!x->s2 || x->s2->fclone != SKB_FCLONE_CLONE)
		abort();
	snap_skb(x->s, &x->ss);
	snap_skb(x->s2, &x->ss2);
}
static void run_skb_clone(struct ctx *x) { x->rs = skb_clone(x->s, GFP_ATOMIC); }
static void ok_skb_clone(struct ctx *x)
{
	CHECK(skb_is_pat(x->rs, 400));
	CHECK(x->rs->head == x->s->head);
	CHECK(skb_cloned(x->s) && skb_cloned(x->rs));
	CHECK_EQ(pktmem_ext_refs(x->s->head_ext), x->ss.head_refs + 1);
}
static void ok_skb_clone_fclone(struct ctx *x)
{
	ok_skb_clone(x);
	CHECK_EQ(x->rs->fclone, SKB_FCLONE_CLONE);
}
static void fail_skb_clone(struct ctx *x)
{
	CHECK(skb_unchanged(x->s, &x->ss));
	if (x->s2)
		CHECK(skb_unchanged(x->s2, &x->ss2));
	CHECK_EQ(skb_cloned(x->s), x->ss.head_refs > 1);
}

/* Copies of a nonlinear packet with fragments and a frag_list: NULL, source unchanged. */
static void st_skb_full(struct ctx *x)
{
	x->s = make_full();
	snap_skb(x->s, &x->ss);
}
static void run_skb_copy(struct ctx *x) { x->rs = skb_copy(x->s, GFP_ATOMIC); }
static void run_pskb_copy(struct ctx *x) { x->rs = pskb_copy(x->s, GFP_ATOMIC); }
static void ok_skb_copy(struct ctx *x)
{
	CHECK(skb_is_pat(x->rs, FULL_LEN));
	CHECK(!skb_is_nonlinear(x->rs));
	CHECK_EQ(skb_headroom(x->rs), 16);
	CHECK(!skb_cloned(x->rs));
	CHECK(skb_unchanged(x->s, &x->ss));
}
static void ok_pskb_copy(struct ctx *x)
{
	CHECK(skb_is_pat(x->rs, FULL_LEN));
	CHECK_EQ(skb_headlen(x->rs), 100);
	CHECK(!skb_cloned(x->rs));
	/* The fragments are shared now: one more reference each. */
	for (unsigned i = 0; i < x->ss.nr_frags; i++)
		CHECK_EQ(page_count(x->ss.fpage[i]), x->ss.frefs[i] + 1);
	CHECK(skb_same_bytes(x->s, &x->ss));
}
static void fail_skb_source_unchanged(struct ctx *x)
{
	CHECK(skb_unchanged(x->s, &x->ss));
	if (x->s2)
		CHECK(skb_unchanged(x->s2, &x->ss2));
}

/* A packet and a clone of it (the head shared, references 2). */
static void st_skb_cloned(struct ctx *x)
{
	x->s = make_skb(16, 100, 300, 400, false);
	x->s2 = skb_clone(x->s, GFP_KERNEL);
	snap_skb(x->s, &x->ss);
	snap_skb(x->s2, &x->ss2);
}

/* skb_unshare: it consumes the skb; NULL means the copy failed and the skb is gone. */
static void run_skb_unshare(struct ctx *x)
{
	x->rs = skb_unshare(x->s, GFP_ATOMIC);
	x->s = NULL;
}
static void ok_skb_unshare(struct ctx *x)
{
	CHECK(skb_is_pat(x->rs, 800));
	CHECK(!skb_cloned(x->rs));
	CHECK(x->rs != x->s2);
	CHECK(skb_is_pat(x->s2, 800));
	CHECK_EQ(pktmem_ext_refs(x->s2->head_ext), 1);
}
static void fail_skb_unshare(struct ctx *x)
{
	/* Our skb was freed: the clone is the head's sole holder again. */
	CHECK(skb_is_pat(x->s2, 800));
	CHECK_EQ(pktmem_ext_refs(x->s2->head_ext), 1);
	CHECK_EQ(x->s2->users, 1);
}

/* skb_share_check: a shared skb (users 2); NULL means the clone failed and our reference is dropped. */
static void st_skb_shared(struct ctx *x)
{
	x->s = make_skb(16, 100, 300, 400, false);
	x->s2 = skb_get(x->s); /* the other user's reference */
	snap_skb(x->s, &x->ss);
}
static void run_skb_share_check(struct ctx *x)
{
	x->rs = skb_share_check(x->s, GFP_ATOMIC);
	x->s = NULL;
}
static void ok_skb_share_check(struct ctx *x)
{
	CHECK(x->rs != x->s2);
	CHECK(skb_is_pat(x->rs, 800));
	CHECK_EQ(x->s2->users, 1);
	CHECK_EQ(pktmem_ext_refs(x->s2->head_ext), 2);
}
static void fail_skb_share_check(struct ctx *x)
{
	CHECK_EQ(x->s2->users, 1);
	CHECK_EQ(pktmem_ext_refs(x->s2->head_ext), 1);
	CHECK(skb_is_pat(x->s2, 800));
}

/* Head reallocation: -ENOMEM with the skb (and its clone) unchanged. */
static void run_pskb_expand_head(struct ctx *x) { x->rc = pskb_expand_head(x->s, 32, 64, GFP_ATOMIC); }
static void ok_expand(struct ctx *x, unsigned headroom)
{
	CHECK_EQ(x->rc, 0);
	CHECK(skb_headroom(x->s) >= headroom);
	CHECK(!skb_cloned(x->s));
	CHECK(skb_same_bytes(x->s, &x->ss));
	CHECK(skb_same_bytes(x->s2, &x->ss2));
	CHECK_EQ(pktmem_ext_refs(x->s2->head_ext), 1);
}
static void ok_pskb_expand_head(struct ctx *x)
{
	ok_expand(x, 48);
	CHECK(skb_tailroom(x->s) >= 0);
}
static void run_skb_cow(struct ctx *x) { x->rc = skb_cow(x->s, 128); }
static void ok_skb_cow(struct ctx *x) { ok_expand(x, 128); }
static void run_skb_cow_head(struct ctx *x) { x->rc = skb_cow_head(x->s, 8); }
static void ok_skb_cow_head(struct ctx *x) { ok_expand(x, 16); }
static void fail_rc_enomem_unchanged(struct ctx *x)
{
	CHECK_EQ(x->rc, -ENOMEM);
	fail_skb_source_unchanged(x);
}

/* skb_realloc_headroom: NULL, the source unchanged (and not left cloned). */
static void run_realloc_grow(struct ctx *x) { x->rs = skb_realloc_headroom(x->s, 200); }
static void run_realloc_same(struct ctx *x) { x->rs = skb_realloc_headroom(x->s, 8); }
static void ok_realloc(struct ctx *x, unsigned headroom)
{
	CHECK(skb_headroom(x->rs) >= headroom);
	CHECK(skb_is_pat(x->rs, 400));
	CHECK(skb_same_bytes(x->s, &x->ss));
	CHECK(!skb_cloned(x->rs) || x->rs->head != x->s->head);
}
static void ok_realloc_grow(struct ctx *x) { ok_realloc(x, 200); }
static void ok_realloc_same(struct ctx *x) { ok_realloc(x, 16); }
static void fail_realloc(struct ctx *x)
{
	CHECK(skb_unchanged(x->s, &x->ss));
	CHECK(!skb_cloned(x->s));
}

/* Pulling from the fragments: false with the packet's bytes unchanged. */
static void st_skb_nofl(struct ctx *x)
{
	x->s = make_skb(16, 100, 300, 400, false);
	snap_skb(x->s, &x->ss);
}
static void run_may_pull_750(struct ctx *x) { x->b = pskb_may_pull(x->s, 750); }
static void run_may_pull_120(struct ctx *x) { x->b = pskb_may_pull(x->s, 120); }
static void ok_may_pull(struct ctx *x, unsigned len)
{
	CHECK(x->b);
	CHECK(skb_headlen(x->s) >= len);
	CHECK(skb_same_bytes(x->s, &x->ss));
	if (x->s2)
		CHECK(skb_same_bytes(x->s2, &x->ss2));
}
static void ok_may_pull_750(struct ctx *x) { ok_may_pull(x, 750); }
static void ok_may_pull_120(struct ctx *x) { ok_may_pull(x, 120); }
static void fail_may_pull(struct ctx *x)
{
	CHECK(!x->b);
	CHECK(skb_same_bytes(x->s, &x->ss));
	CHECK(skb_unchanged(x->s, &x->ss)); /* stronger than the header's "bytes unchanged" */
	if (x->s2)
		CHECK(skb_unchanged(x->s2, &x->ss2));
}

/* pskb_pull: NULL with the packet unchanged. */
static void run_pskb_pull(struct ctx *x)
{
	x->b = pskb_pull(x->s, 150) != NULL;
}
static void ok_pskb_pull(struct ctx *x)
{
	static uint8_t now[SNAP_BYTES];

	CHECK(x->b);
	CHECK_EQ(x->s->len, x->ss.len - 150);
	CHECK_EQ(gather(x->s, now), x->ss.len - 150);
	CHECK(memcmp(now, x->ss.bytes + 150, x->ss.len - 150) == 0);
	if (x->s2)
		CHECK(skb_same_bytes(x->s2, &x->ss2));
}

/* pskb_trim / skb_linearize: -ENOMEM with the skb unchanged. */
static void run_pskb_trim_350(struct ctx *x) { x->rc = pskb_trim(x->s, 350); }
static void run_pskb_trim_900(struct ctx *x) { x->rc = pskb_trim(x->s, 900); }
static void ok_pskb_trim(struct ctx *x, unsigned len)
{
	CHECK_EQ(x->rc, 0);
	CHECK(skb_is_pat(x->s, len));
	if (x->s2)
		CHECK(skb_same_bytes(x->s2, &x->ss2));
}
static void ok_pskb_trim_350(struct ctx *x) { ok_pskb_trim(x, 350); }
static void ok_pskb_trim_900(struct ctx *x) { ok_pskb_trim(x, 900); }
static void run_linearize(struct ctx *x) { x->rc = skb_linearize(x->s); }
static void ok_linearize(struct ctx *x)
{
	CHECK_EQ(x->rc, 0);
	CHECK(!skb_is_nonlinear(x->s));
	CHECK(skb_is_pat(x->s, FULL_LEN));
	CHECK_EQ(skb_headroom(x->s), 16);
}

/* ============================================================ conversions */

/* skb_from_mbuf: NULL, nothing kept, the chain as it was (its storage held by it alone). */
static void run_skb_from_mbuf(struct ctx *x)
{
	errno = 0;
	x->rs = skb_from_mbuf(x->m, 32, GFP_ATOMIC);
	x->err = errno;
}
static void ok_skb_from_mbuf(struct ctx *x)
{
	CHECK(skb_is_pat(x->rs, MIX_LEN));
	CHECK_EQ(skb_headroom(x->rs), 32);
	CHECK(chain_same_bytes(x->m, &x->cs));
	CHECK(all_refs(x->m, 2)); /* each external buffer shared with a fragment */
}
static void fail_skb_from_mbuf(struct ctx *x)
{
	CHECK_EQ(x->err, ENOMEM);
	fail_source_unchanged(x);
}

/* m_from_skb: NULL, nothing kept, the skb as it was. */
static void run_m_from_skb(struct ctx *x) { x->r = m_from_skb(x->s, M_DONTWAIT); }
static void ok_m_from_skb(struct ctx *x)
{
	CHECK(chain_is_pat(x->r, 0, FULL_LEN));
	CHECK_EQ(x->r->m_pkthdr.len, FULL_LEN);
	CHECK(skb_same_bytes(x->s, &x->ss));
	CHECK(skb_cloned(x->s));
}

/* ============================================================ block I/O */

static struct bio_set sweep_bs;
static struct request_queue *sweep_q;

/* bioset_init: -ENOMEM with nothing left allocated (no pool registered). */
static void run_bioset_init(struct ctx *x)
{
	x->rc = bioset_init(&sweep_bs, 2, 0, BIOSET_NEED_BVECS);
	if (x->rc == 0)
		x->bs = &sweep_bs;
}
static void ok_bioset_init(struct ctx *x)
{
	CHECK_EQ(x->rc, 0);
	CHECK_EQ(pools_alive(), x->before_b + 2);
	x->bio = bio_alloc_bioset(8, REQ_OP_READ, GFP_ATOMIC, x->bs);
	CHECK(x->bio != NULL);
}
static void fail_bioset_init(struct ctx *x)
{
	CHECK_EQ(x->rc, -ENOMEM);
	CHECK_EQ(pools_alive(), x->before_b);
	bioset_exit(&sweep_bs); /* "safe on a zeroed or already exited set" */
}

/* A set of @pool_size bios with vectors. */
static void st_bioset(struct ctx *x, unsigned pool_size)
{
	memset(&sweep_bs, 0, sizeof(sweep_bs));
	if (bioset_init(&sweep_bs, pool_size, 0, BIOSET_NEED_BVECS) != 0)
		abort();
	x->bs = &sweep_bs;
}
static void st_bioset2(struct ctx *x) { st_bioset(x, 2); }
static void st_bioset0(struct ctx *x) { st_bioset(x, 0); }
static bool rbio_null(const struct ctx *x) { return x->rbio == NULL; }

static void run_bio_alloc_small(struct ctx *x)
{
	x->rbio = bio_alloc_bioset(4, REQ_OP_READ, GFP_ATOMIC, x->bs);
}
static void run_bio_alloc_32(struct ctx *x)
{
	errno = 0;
	x->rbio = bio_alloc_bioset(32, REQ_OP_WRITE, GFP_ATOMIC, x->bs);
	x->err = errno;
}
static void run_bio_alloc_default(struct ctx *x)
{
	x->rbio = bio_alloc(1, REQ_OP_READ, GFP_KERNEL);
}
static void ok_bio_alloc(struct ctx *x)
{
	CHECK_EQ(x->rbio->__bi_cnt, 1);
	CHECK_EQ(x->rbio->bi_iter.bi_size, 0);
	CHECK_EQ(x->rbio->bi_vcnt, 0);
	CHECK(x->rbio->bi_end_io == NULL);
	CHECK(x->rbio->bi_max_vecs >= 1);
}
static void ok_bio_alloc_32(struct ctx *x)
{
	ok_bio_alloc(x);
	CHECK(x->rbio->bi_max_vecs >= 32);
	CHECK_EQ(bio_op(x->rbio), REQ_OP_WRITE);
}
static void fail_bio_alloc(struct ctx *x)
{
	CHECK_EQ(x->err, ENOMEM);
}

/* A bio over 8 KiB of an order-1 page run (16 sectors, two vectors), from the set. */
static void st_bio_input(struct ctx *x)
{
	x->bpg = alloc_pages(GFP_KERNEL, 1);
	fill_pat(page_address(x->bpg), 2 * PAGE_SIZE, 0);
	x->bio = bio_alloc_bioset(4, REQ_OP_WRITE, GFP_KERNEL, &sweep_bs);
	if (!x->bio || bio_add_page(x->bio, x->bpg, 4096, 0) != 4096 ||
	    bio_add_page(x->bio, x->bpg, 4096, 4096) != 4096)
		abort();
	x->bio->bi_iter.bi_sector = 8;
}
static void st_split(struct ctx *x)
{
	st_bioset0(x);
	st_bio_input(x);
	x->before_a = x->bio->bi_iter.bi_sector;
	x->before_b = x->bio->bi_iter.bi_size;
	x->rc = x->bio->bi_flags;
}
static void run_bio_split(struct ctx *x)
{
	errno = 0;
	x->rbio = bio_split(x->bio, 4, GFP_ATOMIC, x->bs);
	x->err = errno;
}
static void ok_bio_split(struct ctx *x)
{
	CHECK(x->rbio->bi_flags & BIO_CLONED);
	CHECK_EQ(x->rbio->bi_iter.bi_sector, 8);
	CHECK_EQ(bio_sectors(x->rbio), 4);
	CHECK_EQ(x->bio->bi_iter.bi_sector, 12);
	CHECK_EQ(bio_sectors(x->bio), 12);
	/* The clone completes before the parent is put: the teardown puts it first. */
	bio_put(x->rbio);
	x->rbio = NULL;
}
static void fail_bio_split(struct ctx *x)
{
	CHECK_EQ(x->err, ENOMEM);
	CHECK_EQ(x->bio->bi_iter.bi_sector, x->before_a);
	CHECK_EQ(x->bio->bi_iter.bi_size, x->before_b);
	CHECK_EQ(x->bio->bi_iter.bi_idx, 0);
	CHECK_EQ(x->bio->bi_flags, x->rc);
	CHECK_EQ(x->bio->__bi_cnt, 1);
}

/* blk_make_request: ERR_PTR(-ENOMEM) with the chain untouched and still the caller's. */
static void st_make_request(struct ctx *x)
{
	st_bioset2(x);
	st_bio_input(x);
	x->rbio = bio_alloc_bioset(1, REQ_OP_WRITE, GFP_KERNEL, &sweep_bs); /* a second bio, chained */
	if (!x->rbio || bio_add_page(x->rbio, x->bpg, 512, 0) != 512)
		abort();
	x->rbio->bi_iter.bi_sector = 24;
	x->bio->bi_next = x->rbio;
	x->before_a = x->bio->bi_iter.bi_size;
	x->before_b = x->rbio->bi_iter.bi_size;
}
static void run_make_request(struct ctx *x)
{
	x->rq = blk_make_request(sweep_q, x->bio, GFP_ATOMIC);
	if (IS_ERR(x->rq)) {
		x->rc = (int)PTR_ERR(x->rq);
		x->rq = NULL;
	}
}
static bool rq_failed(const struct ctx *x) { return x->rq == NULL; }

/* The second bio's vector starts 3 bytes into the page: it is bounced (GFP_KERNEL). */
static void st_make_request_bounce(struct ctx *x)
{
	st_bioset2(x);
	st_bio_input(x);
	x->rbio = bio_alloc_bioset(1, REQ_OP_WRITE, GFP_KERNEL, &sweep_bs);
	if (!x->rbio || bio_add_page(x->rbio, x->bpg, 1024, 3) != 1024)
		abort();
	x->rbio->bi_iter.bi_sector = 24;
	x->bio->bi_next = x->rbio;
	x->before_a = x->bio->bi_iter.bi_size;
	x->before_b = x->rbio->bi_iter.bi_size;
}
static void run_make_request_kernel(struct ctx *x)
{
	x->rq = blk_make_request(sweep_q, x->bio, GFP_KERNEL);
	if (IS_ERR(x->rq)) {
		x->rc = (int)PTR_ERR(x->rq);
		x->rq = NULL;
	}
}
static void ok_make_request(struct ctx *x)
{
	CHECK(x->rq != NULL);
	CHECK_EQ(rq_data_dir(x->rq), WRITE);
	/* The request holds the chain until it is put; it is put before the bios. */
	blk_put_request(x->rq);
	x->rq = NULL;
	CHECK(x->bio->bi_next == x->rbio);
	x->bio->bi_next = NULL;
}
static void fail_make_request(struct ctx *x)
{
	CHECK_EQ(x->rc, -ENOMEM);
	CHECK(x->bio->bi_next == x->rbio);
	CHECK(x->rbio->bi_next == NULL);
	CHECK_EQ(x->bio->bi_iter.bi_size, x->before_a);
	CHECK_EQ(x->rbio->bi_iter.bi_size, x->before_b);
	CHECK_EQ(x->bio->__bi_cnt, 1);
	CHECK_EQ(x->rbio->__bi_cnt, 1);
	CHECK(x->bio->bi_end_io == NULL);
	x->bio->bi_next = NULL;
}

/* ============================================================ the table */

#define OP(name, setup, run, failed, ok, fail, outcome) { name, setup, run, failed, ok, fail, outcome }

static const struct op ops[] = {
	/* memory layer */
	OP("kmem_cache_alloc", st_kc, run_cache_alloc, obj_null, ok_cache_alloc, fail_cache_alloc, MUST_FAIL),
	OP("kmem_cache_alloc MEMALLOC+reserve", st_kc_reserve, run_cache_alloc_memalloc, obj_null,
	   ok_cache_alloc_memalloc, NULL, ABSORBED),
	OP("kmem_cache_alloc GFP_KERNEL|NOFAIL", st_kc, run_cache_alloc_nofail, obj_null, ok_cache_alloc_nofail, NULL,
	   ABSORBED),
	OP("kmem_cache_alloc_bulk(8)", st_kc, run_cache_bulk, bulk_failed, ok_cache_bulk, fail_cache_bulk, MUST_FAIL),
	OP("kmem_cache_set_reserve(2->6)", st_set_reserve, run_set_reserve, rc_nonzero, ok_set_reserve,
	   fail_set_reserve, MUST_FAIL),
	OP("kmalloc(100)", no_setup, run_kmalloc_small, kp_null, ok_kmalloc, fail_kmalloc, MUST_FAIL),
	OP("kmalloc(300000)", no_setup, run_kmalloc_large, kp_null, ok_kmalloc, fail_kmalloc, MUST_FAIL),
	OP("alloc_pages(order 2)", no_setup, run_alloc_pages, pg_null, ok_alloc_pages, fail_alloc_pages, MUST_FAIL),
	OP("pktmem_ext_cluster", no_setup, run_ext_cluster, ext_null, ok_ext, fail_ext, MUST_FAIL),
	OP("pktmem_ext_alloc(3000)", no_setup, run_ext_alloc, ext_null, ok_ext, fail_ext, MUST_FAIL),
	OP("pktmem_ext_attach", st_ubuf, run_ext_attach, ext_null, ok_ext_attach, fail_ext_attach, MUST_FAIL),
	OP("pktmem_page_view", st_view, run_view, view_null, ok_view, fail_view, MUST_FAIL),
	OP("mempool_create_slab_pool(4)", st_pool_count, run_pool_create_slab, pool_null, ok_pool_create,
	   fail_pool_create, MUST_FAIL),
	OP("mempool_create_page_pool(3, 1)", st_pool_count, run_pool_create_page, pool_null, ok_pool_create,
	   fail_pool_create, MUST_FAIL),
	OP("mempool_create_kmalloc_pool(3)", st_pool_count, run_pool_create_kmalloc, pool_null, ok_pool_create,
	   fail_pool_create, MUST_FAIL),
	OP("mempool_init_slab_pool(4)", st_pool_count, run_pool_init_slab, pool_init_failed, ok_pool_init,
	   fail_pool_init, MUST_FAIL),
	OP("mempool_alloc ATOMIC, reserve full", st_pool2, run_pool_alloc, elem_null, ok_pool_alloc_reserve, NULL,
	   ABSORBED),
	OP("mempool_alloc ATOMIC, reserve empty", st_pool0, run_pool_alloc, elem_null, ok_pool_alloc_empty,
	   fail_pool_alloc_empty, MUST_FAIL),
	OP("mempool_alloc KERNEL, reserve empty", st_pool0, run_pool_alloc_kernel, elem_null, ok_pool_alloc_empty,
	   NULL, ABSORBED),
	OP("mempool_resize(2->6)", st_pool2, run_pool_resize, rc_nonzero, ok_pool_resize, fail_pool_resize, EITHER),

	/* mbufs */
	OP("m_get(M_DONTWAIT)", st_mbuf_count, run_m_get_dontwait, r_null, ok_m_get, fail_m_get, MUST_FAIL),
	OP("m_get(M_WAIT)", st_mbuf_count, run_m_get_wait, r_null, ok_m_get, fail_m_get, MUST_FAIL),
	OP("m_gethdr", st_mbuf_count, run_m_gethdr, r_null, ok_m_get, fail_m_get, MUST_FAIL),
	OP("m_getclr", st_mbuf_count, run_m_getclr, r_null, ok_m_get, fail_m_get, MUST_FAIL),
	OP("m_getcl_bulk(8, M_WAIT)", st_getcl_count, run_getcl_bulk, getcl_bulk_failed, ok_getcl_bulk, fail_getcl,
	   MUST_FAIL),
	OP("m_getcl(M_DONTWAIT)", st_getcl_count, run_getcl, r_null, ok_getcl, fail_getcl, MUST_FAIL),
	OP("MCLGET", st_plain_mbuf, run_mclget, no_ext, ok_mclget, fail_ext_attach_mbuf, MUST_FAIL),
	OP("MEXTMALLOC(5000)", st_plain_mbuf, run_mextmalloc, no_ext, ok_mextmalloc, fail_ext_attach_mbuf, MUST_FAIL),
	OP("MEXTADD", st_mextadd, run_mextadd, no_ext, ok_mextadd, fail_mextadd, MUST_FAIL),
	OP("m_copym(0, M_COPYALL) +tags", st_mix, run_copym_hdr, r_null, ok_copy_whole, fail_source_unchanged,
	   MUST_FAIL),
	OP("m_copym(50, 2000)", st_mix, run_copym_inner, r_null, ok_copy_inner, fail_source_unchanged, MUST_FAIL),
	OP("m_copypacket +tags", st_mix, run_copypacket, r_null, ok_copy_whole, fail_source_unchanged, MUST_FAIL),
	OP("m_copypacket one cluster +tags", st_one_tagged, run_copypacket, r_null, ok_copy_one_tagged,
	   fail_source_unchanged, MUST_FAIL),
	OP("m_dup(0, M_COPYALL) +tags", st_mix, run_dup_hdr, r_null, ok_dup_whole, fail_source_unchanged, MUST_FAIL),
	OP("m_dup(50, 2000)", st_mix, run_dup_inner, r_null, ok_dup_inner, fail_source_unchanged, MUST_FAIL),
	OP("m_copyback extending", st_copyback, run_copyback, copyback_failed, ok_copyback, fail_copyback, MUST_FAIL),
	OP("m_copyback_cow (shared)", st_shared, run_copyback_cow, r_null, ok_copyback_cow, fail_other_holder_alone,
	   MUST_FAIL),
	OP("m_makewritable (shared)", st_shared, run_makewritable, rc_nonzero, ok_makewritable, fail_makewritable,
	   MUST_FAIL),
	OP("m_copyback_cow front, header moves", st_shared_one, run_copyback_cow_front, r_null,
	   ok_copyback_cow_front, fail_other_holder_alone, MUST_FAIL),
	OP("m_makewritable front, header moves", st_shared_one, run_makewritable_front, rc_nonzero,
	   ok_makewritable_front, fail_makewritable, MUST_FAIL),
	OP("m_prepend", st_fullhead, run_m_prepend, r_null, ok_m_prepend, fail_nothing_held, MUST_FAIL),
	OP("M_PREPEND", st_fullhead, run_M_PREPEND, r_null, ok_M_PREPEND, fail_nothing_held, MUST_FAIL),
	OP("m_pullup(100)", st_pullup, run_m_pullup, r_null, ok_m_pullup, fail_nothing_held, MUST_FAIL),
	OP("m_pulldown inside shared cluster", st_pulldown, run_pulldown_inside, n_null, ok_pulldown,
	   fail_other_holder_alone, MUST_FAIL),
	OP("m_pulldown across mbufs", st_pulldown, run_pulldown_across, n_null, ok_pulldown, fail_other_holder_alone,
	   MUST_FAIL),
	OP("m_split in cluster (pkthdr)", st_split_hdr, run_split_cluster, r_null, ok_split, fail_split, MUST_FAIL),
	OP("m_split internal > MHLEN (pkthdr)", st_split_hdr, run_split_internal, r_null, ok_split, fail_split,
	   MUST_FAIL),
	OP("m_split in cluster (no pkthdr)", st_split_plain, run_split_cluster, r_null, ok_split, fail_split,
	   MUST_FAIL),
	OP("m_devget(4000)", no_setup, run_devget, r_null, ok_devget, fail_nothing_held, MUST_FAIL),
	OP("m_tag_get", no_setup, run_tag_get, tag_null, ok_tag_get, fail_nothing_held, MUST_FAIL),
	OP("m_tag_copy", st_one_tag, run_tag_copy, rc_zero, ok_tag_copy, fail_tag_copy, MUST_FAIL),
	OP("m_tag_copy_chain (3 tags)", st_tagged, run_tag_copy_chain, rc_zero, ok_tag_copy_chain,
	   fail_tag_copy_chain, MUST_FAIL),
	OP("M_COPY_PKTHDR (2 tags)", st_copy_pkthdr, run_copy_pkthdr, rc_nonzero, ok_copy_pkthdr, fail_copy_pkthdr,
	   MUST_FAIL),

	/* sk_buffs */
	OP("__alloc_skb", st_skb_counts, run_alloc_skb, rs_null, ok_alloc_skb, fail_skb_nothing_kept, MUST_FAIL),
	OP("__alloc_skb FCLONE", st_skb_counts, run_alloc_skb_fclone, rs_null, ok_alloc_skb_fclone,
	   fail_skb_nothing_kept, MUST_FAIL),
	OP("__alloc_skb RX", st_skb_counts, run_alloc_skb_rx, rs_null, ok_alloc_skb_rx, fail_skb_nothing_kept,
	   MUST_FAIL),
	OP("__alloc_skb RX, reserves set", st_rx_reserve, run_alloc_skb_rx, rs_null, ok_alloc_skb_rx, NULL, ABSORBED),
	OP("__alloc_skb(70000) kmalloc head", st_skb_counts, run_alloc_skb_big, rs_null, ok_alloc_skb_big,
	   fail_skb_nothing_kept, MUST_FAIL),
	OP("build_skb", st_build_skb, run_build_skb, rs_null, ok_build_skb, fail_build_skb, MUST_FAIL),
	OP("netdev_alloc_skb", st_skb_counts, run_netdev_alloc_skb, rs_null, ok_netdev_alloc_skb,
	   fail_skb_nothing_kept, MUST_FAIL),
	OP("alloc_skb_bulk 32 (1500) ATOMIC", st_skb_counts, run_alloc_skb_bulk32, nbulk_zero, ok_alloc_skb_bulk32,
	   fail_alloc_skb_bulk, MUST_FAIL),
	OP("alloc_skb_bulk 40 (1500) (kmalloc'd)", st_skb_counts, run_alloc_skb_bulk40, nbulk_zero, ok_alloc_skb_bulk40,
	   fail_alloc_skb_bulk, MUST_FAIL),
	OP("alloc_skb_bulk 3 (40000) kmalloc heads", st_skb_counts, run_alloc_skb_bulk_big, nbulk_zero,
	   ok_alloc_skb_bulk_big, fail_alloc_skb_bulk, MUST_FAIL),
	OP("skb_clone (plain)", st_skb_plain, run_skb_clone, rs_null, ok_skb_clone, fail_skb_clone, MUST_FAIL),
	OP("skb_clone (fclone companion)", st_skb_fclone, run_skb_clone, rs_null, ok_skb_clone_fclone, fail_skb_clone,
	   MUST_FAIL),
	OP("skb_clone (fclone, companion busy)", st_skb_fclone_busy, run_skb_clone, rs_null, ok_skb_clone,
	   fail_skb_clone, MUST_FAIL),
	OP("skb_copy (frags + frag_list)", st_skb_full, run_skb_copy, rs_null, ok_skb_copy, fail_skb_source_unchanged,
	   MUST_FAIL),
	OP("pskb_copy (frags + frag_list)", st_skb_full, run_pskb_copy, rs_null, ok_pskb_copy,
	   fail_skb_source_unchanged, MUST_FAIL),
	OP("skb_unshare (cloned)", st_skb_cloned, run_skb_unshare, rs_null, ok_skb_unshare, fail_skb_unshare,
	   MUST_FAIL),
	OP("skb_share_check (users 2)", st_skb_shared, run_skb_share_check, rs_null, ok_skb_share_check,
	   fail_skb_share_check, MUST_FAIL),
	OP("pskb_expand_head (cloned)", st_skb_cloned, run_pskb_expand_head, rc_nonzero, ok_pskb_expand_head,
	   fail_rc_enomem_unchanged, MUST_FAIL),
	OP("skb_realloc_headroom (grow)", st_skb_plain, run_realloc_grow, rs_null, ok_realloc_grow, fail_realloc,
	   MUST_FAIL),
	OP("skb_realloc_headroom (enough)", st_skb_plain, run_realloc_same, rs_null, ok_realloc_same, fail_realloc,
	   MUST_FAIL),
	OP("skb_cow (cloned)", st_skb_cloned, run_skb_cow, rc_nonzero, ok_skb_cow, fail_rc_enomem_unchanged,
	   MUST_FAIL),
	OP("skb_cow_head (cloned)", st_skb_cloned, run_skb_cow_head, rc_nonzero, ok_skb_cow_head,
	   fail_rc_enomem_unchanged, MUST_FAIL),
	OP("pskb_may_pull past tailroom", st_skb_nofl, run_may_pull_750, b_false, ok_may_pull_750, fail_may_pull,
	   MUST_FAIL),
	OP("pskb_may_pull (cloned)", st_skb_cloned, run_may_pull_120, b_false, ok_may_pull_120, fail_may_pull,
	   MUST_FAIL),
	OP("pskb_may_pull (frag_list)", st_skb_full, run_may_pull_120, b_false, ok_may_pull_120, fail_may_pull,
	   MUST_FAIL),
	OP("pskb_pull(150) (cloned)", st_skb_cloned, run_pskb_pull, b_false, ok_pskb_pull, fail_may_pull, MUST_FAIL),
	OP("pskb_trim (cloned)", st_skb_cloned, run_pskb_trim_350, rc_nonzero, ok_pskb_trim_350,
	   fail_rc_enomem_unchanged, MUST_FAIL),
	OP("pskb_trim (frag_list)", st_skb_full, run_pskb_trim_900, rc_nonzero, ok_pskb_trim_900,
	   fail_rc_enomem_unchanged, MUST_FAIL),
	OP("skb_linearize", st_skb_full, run_linearize, rc_nonzero, ok_linearize, fail_rc_enomem_unchanged,
	   MUST_FAIL),

	/* block I/O */
	OP("bioset_init(2, BVECS)", st_pool_count, run_bioset_init, rc_nonzero, ok_bioset_init, fail_bioset_init,
	   MUST_FAIL),
	OP("bio_alloc_bioset(4) ATOMIC, reserve 2", st_bioset2, run_bio_alloc_small, rbio_null, ok_bio_alloc, NULL,
	   ABSORBED),
	/* A failing "bvec-64" is covered by the set's vector pool, whose allocator may still serve. */
	OP("bio_alloc_bioset(32) ATOMIC, reserve 0", st_bioset0, run_bio_alloc_32, rbio_null, ok_bio_alloc_32,
	   fail_bio_alloc, EITHER),
	OP("bio_alloc(1) GFP_KERNEL (default set)", no_setup, run_bio_alloc_default, rbio_null, ok_bio_alloc, NULL,
	   ABSORBED),
	OP("bio_split ATOMIC, reserve 0", st_split, run_bio_split, rbio_null, ok_bio_split, fail_bio_split, MUST_FAIL),
	OP("blk_make_request (2 bios)", st_make_request, run_make_request, rq_failed, ok_make_request,
	   fail_make_request, MUST_FAIL),
	/* The bounce bio comes from the queue's set: a reserve covers it; its pages have none. */
	OP("blk_make_request bouncing, GFP_KERNEL", st_make_request_bounce, run_make_request_kernel, rq_failed,
	   ok_make_request, fail_make_request, EITHER),

	/* conversions */
	OP("skb_from_mbuf", st_mix, run_skb_from_mbuf, rs_null, ok_skb_from_mbuf, fail_skb_from_mbuf, MUST_FAIL),
	OP("m_from_skb (frags + frag_list)", st_skb_full, run_m_from_skb, r_null, ok_m_from_skb,
	   fail_skb_source_unchanged, MUST_FAIL),
};
#define NOPS ((int)(sizeof(ops) / sizeof(ops[0])))

/* ------------------------------------------------------------ the driver */

struct sweep_result {
	unsigned long points, hits, failed, absorbed;
	bool held;
};

static unsigned long total_points, total_hits;

/*
 * One run of @op: setup, the operation (with fault @k armed, or counting
 * when @k is 0), the verdict and its checker, teardown, and the leak check.
 * Returns whether the operation reported failure; *@points gets the count
 * when @k is 0, *@hit whether the armed fault was reached.
 */
static bool run_once(const struct op *op, unsigned long k, unsigned long *points, bool *hit)
{
	struct totals base = totals_now();
	unsigned long diags = pktmem_diag_count();
	struct ctx *x = &X;

	memset(x, 0, sizeof(*x));
	op->setup(x);
	CHECK_EQ(pktmem_diag_count(), diags); /* the setup itself is clean */

	unsigned long injected = pktmem_fault_injected();

	if (k == 0) {
		pktmem_fault_count_reset();
		op->run(x);
		*points = pktmem_fault_count();
		pktmem_fault_off();
	} else {
		pktmem_fault_set(PKTMEM_FAULT_NTH, k, 0);
		op->run(x);
		pktmem_fault_off();
	}
	x->hit = pktmem_fault_injected() != injected;
	*hit = x->hit;

	bool failed = op->failed(x);

	if (k == 0 || !failed) {
		if (k > 0 && op->outcome == MUST_FAIL && x->hit)
			CHECK(!"an injected fault was hit and the operation still reported success");
		if (k == 0 || op->outcome != MUST_FAIL || !x->hit)
			op->success(x);
	} else if (op->failure) {
		if (op->outcome == ABSORBED)
			CHECK(!"a fault the reserve should absorb failed the operation");
		else
			op->failure(x);
	} else {
		CHECK(!"the operation failed where its contract says it cannot");
	}
	CHECK_EQ(pktmem_diag_count(), diags); /* no programmer error on any path */
	teardown(x);

	struct totals now = totals_now();

	CHECK_EQ(now.in_use, base.in_use);
	CHECK_EQ(now.pools, base.pools);
	CHECK_EQ(user_freed, user_added);
	return failed;
}

static struct sweep_result sweep(const struct op *op)
{
	struct sweep_result res = { 0, 0, 0, 0, true };
	unsigned long points = 0, unused;
	bool hit;

	check_failed_now = 0;
	CHECK(!run_once(op, 0, &points, &hit));
	if (check_failed_now) {
		fprintf(stderr, "  ^ %s: the run without a fault\n", op->name);
		res.held = false;
	}
	res.points = points;
	for (unsigned long k = 1; k <= points; k++) {
		check_failed_now = 0;
		bool failed = run_once(op, k, &unused, &hit);

		CHECK(hit); /* the count run passed this many points: the k-th is reached */
		if (hit) {
			res.hits++;
			if (failed)
				res.failed++;
			else
				res.absorbed++;
		}
		if (check_failed_now) {
			fprintf(stderr, "  ^ %s: allocation point %lu of %lu failing\n", op->name, k, points);
			res.held = false;
		}
	}
	check_failed_now = 0;
	return res;
}

int main(void)
{
	diag_capture();
	kc = kmem_cache_create("failsweep", KC_SIZE, 0, 0, NULL);
	if (!kc)
		return 1;
	for (int i = 0; i < (int)sizeof(wbuf); i++)
		wbuf[i] = pat2(i);
	fill_pat(devbuf, sizeof(devbuf), 0);
	/* Let every cache exist (lazily made state) before the first baseline. */
	kfree_skb(alloc_skb(10, GFP_KERNEL));
	m_freem(m_gethdr(M_WAIT, MT_DATA));
	put_page(alloc_page(GFP_KERNEL));
	bio_put(bio_alloc(1, REQ_OP_READ, GFP_KERNEL));

	char path[] = "/tmp/pktmem-failsweep.XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0 || ftruncate(fd, 1 << 20) != 0)
		return 1;
	unlink(path);
	sweep_q = blk_queue_open_fd(fd, BLK_QUEUE_OWN_FD | BLK_QUEUE_NO_URING);
	if (!sweep_q)
		return 1;

	printf("%-38s %7s %8s %7s %9s  %s\n", "operation", "points", "injected", "failed", "absorbed", "contract");
	for (int i = 0; i < NOPS; i++) {
		struct sweep_result r = sweep(&ops[i]);

		printf("%-38s %7lu %8lu %7lu %9lu  %s\n", ops[i].name, r.points, r.hits, r.failed, r.absorbed,
		       r.held ? "held" : "BROKEN");
		fflush(stdout);
		total_points += r.points;
		total_hits += r.hits;
		if (r.held)
			tests_passed++;
		else
			tests_failed++;
	}
	printf("%d operations, %lu allocation points, %lu failures injected\n", NOPS, total_points, total_hits);
	blk_queue_close(sweep_q);
	kmem_cache_destroy(kc);
	return test_summary();
}
