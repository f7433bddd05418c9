/*
 * Packet buffers by the burst (a pktmem extension, as DPDK's
 * rte_pktmbuf_alloc_bulk / rte_pktmbuf_free_bulk): the BSD calls cost a
 * cache visit per mbuf and per cluster; here a burst costs two bulk runs
 * to allocate and one batched return per 32 packets to free.
 *
 *   m_getcl_bulk:  kmem_cache_alloc_bulk(mbuf)  kmem_cache_alloc_bulk(cluster)
 *                  \______ each pair set up as m_gethdr() + MCLGET ______/
 *   m_freem_bulk:  plain packet -> batch of mbufs + batch of clusters
 *                  anything else -> m_freem()
 */
#include "mbuf_impl.h"
#include "storage/ext_impl.h"
#include "storage/window.h"

/* Packets whose objects m_freem_bulk() holds before giving them back. */
#define FREE_BATCH 32

/* The flags a caller may ask for: those a packet header carries. */
#define GETCL_FLAGS M_COPYFLAGS

static bool getcl_args_ok(struct mbuf **mv, int n, int how, int type, int flags, const char *func)
{
	if (unlikely(!how_ok(how, func)))
		return false;
	if (unlikely(type < MT_DATA || type >= MT_NTYPES)) {
		diag(func, "type %d is not an mbuf type (MT_DATA %d .. %d)", type, MT_DATA, MT_NTYPES - 1);
		return false;
	}
	if (unlikely(flags & ~GETCL_FLAGS)) {
		diag(func, "flags %#x: only M_PKTHDR and the packet flags (%#x) may be asked for", (unsigned)flags,
		     (unsigned)GETCL_FLAGS);
		return false;
	}
	if (unlikely(n < 0 || n > M_GETCL_BULK_MAX || (!mv && n > 0))) {
		diag(func, "array %p, count %d (0 .. M_GETCL_BULK_MAX %d)", (void *)mv, n, M_GETCL_BULK_MAX);
		return false;
	}
	return true;
}

/*
 * Two all-or-nothing runs (mbufs, then clusters, the order of m_gethdr()
 * and MCLGET) into the stack, so that @mv is written only on success.
 */
static int getcl_bulk(struct mbuf **mv, int n, int how, int type, int flags, const char *func)
{
	void *ms[M_GETCL_BULK_MAX], *cs[M_GETCL_BULK_MAX];

	if (unlikely(!getcl_args_ok(mv, n, how, type, flags, func)) || n == 0)
		return 0;

	struct kmem_cache *mc = pktmem_mbuf_cache();
	gfp_t gfp = how_to_gfp(how);

	once_run(&ext_once, ext_caches_init);
	if (unlikely(kmem_cache_alloc_bulk(mc, gfp, (size_t)n, ms) != n))
		return 0;
	if (unlikely(kmem_cache_alloc_bulk(ext_cluster_cache, gfp, (size_t)n, cs) != n)) {
		kmem_cache_free_bulk(mc, (size_t)n, ms);
		return 0;
	}
	for (int i = 0; i < n; i++) {
		struct mbuf *m = ms[i];

		mbuf_init(m, type, flags);
		mbuf_attach_ext_inline(m, ext_cluster_setup(cs[i], NUMA_NO_NODE), M_CLUSTER);
		mv[i] = m;
	}
	return n;
}

int m_getcl_bulk(struct mbuf **mv, int n, int how, int type, int flags)
{
	return getcl_bulk(mv, n, how, type, flags, "m_getcl_bulk");
}

/*
 * One packet: the same checks and set-up as a burst of one, but through
 * the caches' single-object paths, which cost a third of what the bulk
 * calls' set-up does for one object.
 */
struct mbuf *m_getcl(int how, int type, int flags)
{
	struct mbuf *m;

	if (unlikely(!getcl_args_ok(&m, 1, how, type, flags, "m_getcl")))
		return NULL;

	struct kmem_cache *mc = pktmem_mbuf_cache();
	gfp_t gfp = how_to_gfp(how);

	if (unlikely(!(m = kmem_cache_alloc(mc, gfp))))
		return NULL;

	struct pktmem_ext *e = ext_cluster_new(gfp);

	if (unlikely(!e)) {
		kmem_cache_free(mc, m);
		return NULL;
	}
	mbuf_init(m, type, flags);
	mbuf_attach_ext_inline(m, e, M_CLUSTER);
	return m;
}

/* Give back @nr mbufs and their @nr clusters, collected by m_freem_bulk(). */
static void batch_free(void **mbufs, void **clusters, size_t nr)
{
	kmem_cache_free_bulk(pktmem_mbuf_cache(), nr, mbufs);
	kmem_cache_free_bulk(ext_cluster_cache, nr, clusters);
}

/*
 * m_freem_bulk() takes a packet into its batch when m_free() of it would
 * free exactly one mbuf and one cluster: m_free()'s checks in its order
 * (live: a double free, also of an entry that came earlier in @mv, is not;
 * then library memory), then alone in its chain, no tag, and a plain
 * cluster with a count of one (the sole holder: nobody can take a
 * reference behind its back, see ext.c). Every other chain, and one
 * failing a check, goes to m_freem(), which diagnoses it. The steps taken
 * are m_free()'s, sanitizer window hooks included; the caches check each
 * object when the batch goes back. mbufs[k] and clusters[k] are one
 * packet's, so one count serves both.
 */
void m_freem_bulk(struct mbuf **mv, int n)
{
	void *mbufs[FREE_BATCH], *clusters[FREE_BATCH];
	size_t nr = 0;

	if (unlikely(n < 0 || (!mv && n > 0))) {
		diag("m_freem_bulk", "array %p, count %d", (void *)mv, n);
		return;
	}
	/* Debug mode records each free under the function that made it: one by one there. */
	if (unlikely(debug_on())) {
		for (int i = 0; i < n; i++)
			m_freem(mv[i]);
		return;
	}
	for (int i = 0; i < n; i++) {
		struct mbuf *m = mv[i];

		if (!m)
			continue;
		if (unlikely(m->m_state_ != MBUF_LIVE || !arena_owns(m)))
			goto one_by_one;

		int flags = m->m_flags;

		if (!(flags & M_EXT) || m->m_next != NULL || ((flags & M_PKTHDR) && m->m_pkthdr.tags.slh_first))
			goto one_by_one;

		struct pktmem_ext *e = m->m_ext.ext_storage;

		if (e->ext_flags != PKTMEM_EXT_CLUSTER || __atomic_load_n(&e->ext_refs, __ATOMIC_ACQUIRE) != 1)
			goto one_by_one;
		__atomic_store_n(&e->ext_refs, 0, __ATOMIC_RELAXED);
		win_ext_open(e);
		win_m_internal(m);
		m->m_state_ = MBUF_DEAD;
		m->m_type = MT_FREE;
		clusters[nr] = e->ext_buf;
		mbufs[nr++] = m;
		if (unlikely(nr == FREE_BATCH)) {
			batch_free(mbufs, clusters, nr);
			nr = 0;
		}
		continue;
one_by_one:
		m_freem(m);
	}
	if (nr)
		batch_free(mbufs, clusters, nr);
}
