/*
 * ops_dpdk.c — the DPDK side (built only when pkg-config finds libdpdk).
 *
 * EAL: --no-huge --no-shconf --no-pci --no-telemetry -m 512 -l A,B, where
 * A and B are the two CPUs the rest of the suite uses (A is the main lcore,
 * where every single-threaded op runs, pktmem's too). Without hugepages
 * DPDK would give each 2.3 KiB mbuf its own 4 KiB page; the pools are made
 * with RTE_MEMPOOL_F_NO_IOVA_CONTIG, so objects are packed as in a hugepage
 * deployment. Each pool has a per-lcore cache of 256 (DPDK's usual size),
 * and the cross-thread and scaling rows run their second thread on EAL
 * lcore B, so both lcores use their cache as a DPDK application would.
 *
 * Correctness, after every batch (outside the timing): every pool's
 * rte_mempool_avail_count() is back to its size minus the fixtures, the
 * fixtures' refcounts are 1 and rte_mbuf_check() passes on them. Before
 * anything is timed, a self-test checks what alloc, clone and free return.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_mempool.h>
#include <rte_version.h>

#include "suite.h"

#define POOL_SIZE 8191 /* 2^n - 1: the ring-backed pool's best size */
#define POOL_CACHE 256

static struct rte_mempool *mbuf_pool, *clone_pool, *obj_pool;
static struct rte_mbuf *clone_src, *prep_pkt; /* fixtures, from mbuf_pool */
static unsigned other_lcore = RTE_MAX_LCORE;
static bool up;
static char note[256];

/* ---------------------------------------------------------------- runner */

static void lcore_launch(int (*fn)(void *), void *arg)
{
	if (rte_eal_remote_launch(fn, arg, other_lcore))
		die("rte_eal_remote_launch", "dpdk");
}

static void lcore_wait(void)
{
	rte_eal_wait_lcore(other_lcore);
}

static const struct runner dpdk_runner = { "lcore", lcore_launch, lcore_wait };

/* ---------------------------------------------------------------- ops */

static uint64_t dp_mbuf_single(void *ctx, uint64_t iters)
{
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(mbuf_pool);

		if (__builtin_expect(!m, 0))
			die("rte_pktmbuf_alloc", "dpdk");
		touch(rte_pktmbuf_mtod(m, void *), i);
		rte_pktmbuf_free(m);
	}
	return now_ns() - t0;
}

static uint64_t dp_mbuf_bulk(void *ctx, uint64_t iters)
{
	struct rte_mbuf *m[BURST];
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		if (__builtin_expect(rte_pktmbuf_alloc_bulk(mbuf_pool, m, BURST) != 0, 0))
			die("rte_pktmbuf_alloc_bulk", "dpdk");
		for (int j = 0; j < BURST; j++)
			touch(rte_pktmbuf_mtod(m[j], void *), i);
		rte_pktmbuf_free_bulk(m, BURST);
	}
	return now_ns() - t0;
}

static uint64_t dp_mempool_single(void *ctx, uint64_t iters)
{
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		void *p;

		if (__builtin_expect(rte_mempool_get(obj_pool, &p) != 0, 0))
			die("rte_mempool_get", "dpdk");
		touch(p, i);
		rte_mempool_put(obj_pool, p);
	}
	return now_ns() - t0;
}

static uint64_t dp_mempool_bulk(void *ctx, uint64_t iters)
{
	void *p[BURST];
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		if (__builtin_expect(rte_mempool_get_bulk(obj_pool, p, BURST) != 0, 0))
			die("rte_mempool_get_bulk", "dpdk");
		for (int j = 0; j < BURST; j++)
			touch(p[j], i);
		rte_mempool_put_bulk(obj_pool, p, BURST);
	}
	return now_ns() - t0;
}

static uint64_t dp_clone(void *ctx, uint64_t iters)
{
	struct rte_mbuf *m = clone_src;
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		struct rte_mbuf *c = rte_pktmbuf_clone(m, clone_pool);

		if (__builtin_expect(!c, 0))
			die("rte_pktmbuf_clone", "dpdk");
		escape(c);
		(void)*rte_pktmbuf_mtod(c, volatile char *); /* the data is shared: read it */
		rte_pktmbuf_free(c);
	}
	return now_ns() - t0;
}

static uint64_t dp_prepend(void *ctx, uint64_t iters)
{
	struct rte_mbuf *m = prep_pkt;
	uint64_t t0 = now_ns();

	(void)ctx;
	for (uint64_t i = 0; i < iters; i++) {
		char *h = rte_pktmbuf_prepend(m, HDR_LEN);

		if (__builtin_expect(!h, 0))
			die("rte_pktmbuf_prepend", "dpdk");
		memcpy(h, eth_hdr, HDR_LEN);
		touch(h, i);
		if (__builtin_expect(!rte_pktmbuf_adj(m, HDR_LEN), 0))
			die("rte_pktmbuf_adj", "dpdk");
	}
	return now_ns() - t0;
}

/* --- cross-thread and scaling */

static void dp_mbuf_alloc(void *ctx, void **o, unsigned n)
{
	(void)ctx;
	if (__builtin_expect(rte_pktmbuf_alloc_bulk(mbuf_pool, (struct rte_mbuf **)o, n) != 0, 0))
		die("rte_pktmbuf_alloc_bulk", "dpdk");
	for (unsigned j = 0; j < n; j++)
		touch(rte_pktmbuf_mtod((struct rte_mbuf *)o[j], void *), j);
}

static void dp_mbuf_free(void *ctx, void **o, unsigned n)
{
	(void)ctx;
	rte_pktmbuf_free_bulk((struct rte_mbuf **)o, n);
}

static void dp_obj_alloc(void *ctx, void **o, unsigned n)
{
	(void)ctx;
	if (__builtin_expect(rte_mempool_get_bulk(obj_pool, o, n) != 0, 0))
		die("rte_mempool_get_bulk", "dpdk");
	for (unsigned j = 0; j < n; j++)
		touch(o[j], j);
}

static void dp_obj_free(void *ctx, void **o, unsigned n)
{
	(void)ctx;
	rte_mempool_put_bulk(obj_pool, o, n);
}

static const struct xfer xf_mbuf = { dp_mbuf_alloc, dp_mbuf_free, NULL, "dpdk" };
static const struct xfer xf_obj = { dp_obj_alloc, dp_obj_free, NULL, "dpdk" };

static uint64_t dp_xthread_mbuf(void *ctx, uint64_t iters)
{
	(void)ctx;
	return xring_run(&xf_mbuf, iters, &dpdk_runner);
}

static uint64_t dp_xthread_obj(void *ctx, uint64_t iters)
{
	(void)ctx;
	return xring_run(&xf_obj, iters, &dpdk_runner);
}

static uint64_t dp_pair(void *ctx, uint64_t iters)
{
	(void)ctx;
	return pair_run(dp_mbuf_single, NULL, iters, &dpdk_runner);
}

/* ---------------------------------------------------------------- checks */

static int pool_full(struct rte_mempool *mp, unsigned held, char *msg, size_t n)
{
	unsigned avail = rte_mempool_avail_count(mp);

	if (avail + held != mp->size) {
		snprintf(msg, n, "pool %s: %u available, %u expected (leak or double free)", mp->name, avail,
			 mp->size - held);
		return 1;
	}
	return 0;
}

static int mbuf_ok(struct rte_mbuf *m, char *msg, size_t n)
{
	const char *reason = NULL;

	if (rte_mbuf_refcnt_read(m) != 1) {
		snprintf(msg, n, "fixture mbuf refcnt %u, expected 1", rte_mbuf_refcnt_read(m));
		return 1;
	}
	if (rte_mbuf_check(m, 1, &reason)) {
		snprintf(msg, n, "fixture mbuf: %s", reason ? reason : "rte_mbuf_check failed");
		return 1;
	}
	if (m->pkt_len != PKT_LEN || m->data_len != PKT_LEN) {
		snprintf(msg, n, "fixture mbuf length %u/%u, expected %d", m->pkt_len, m->data_len, PKT_LEN);
		return 1;
	}
	return 0;
}

static int dp_check(void *ctx, char *msg, size_t n)
{
	(void)ctx;
	return pool_full(mbuf_pool, 2, msg, n) || pool_full(clone_pool, 0, msg, n) ||
	       pool_full(obj_pool, 0, msg, n) || mbuf_ok(clone_src, msg, n) || mbuf_ok(prep_pkt, msg, n);
}

/* What alloc, clone and free hand back, once, before anything is timed. */
static int self_test(void)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(mbuf_pool), *c;
	char msg[160];

	if (!m || m->pool != mbuf_pool || rte_mbuf_refcnt_read(m) != 1 || m->data_off != RTE_PKTMBUF_HEADROOM ||
	    m->buf_len != RTE_MBUF_DEFAULT_BUF_SIZE || m->pkt_len != 0 || m->nb_segs != 1 || m->next) {
		fprintf(stderr, "bench_suite: dpdk: rte_pktmbuf_alloc returned a bad mbuf\n");
		return -1;
	}
	c = rte_pktmbuf_clone(clone_src, clone_pool);
	if (!c || !RTE_MBUF_CLONED(c) || rte_mbuf_refcnt_read(clone_src) != 2 || c->pkt_len != PKT_LEN ||
	    rte_pktmbuf_mtod(c, char *) != rte_pktmbuf_mtod(clone_src, char *)) {
		fprintf(stderr, "bench_suite: dpdk: rte_pktmbuf_clone returned a bad clone\n");
		return -1;
	}
	rte_pktmbuf_free(c);
	rte_pktmbuf_free(m);
	if (dp_check(NULL, msg, sizeof(msg))) {
		fprintf(stderr, "bench_suite: dpdk self-test: %s\n", msg);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- setup */

static struct rte_mempool *pktmbuf_pool(const char *name, uint16_t data_room)
{
	struct rte_pktmbuf_pool_private priv = { .mbuf_data_room_size = data_room, .mbuf_priv_size = 0 };
	struct rte_mempool *mp = rte_mempool_create_empty(name, POOL_SIZE, sizeof(struct rte_mbuf) + data_room,
							  POOL_CACHE, sizeof(priv), SOCKET_ID_ANY,
							  RTE_MEMPOOL_F_NO_IOVA_CONTIG);

	if (!mp)
		return NULL;
	if (rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), NULL) != 0)
		goto fail;
	rte_pktmbuf_pool_init(mp, &priv);
	if (rte_mempool_populate_default(mp) < 0)
		goto fail;
	rte_mempool_obj_iter(mp, rte_pktmbuf_init, NULL);
	return mp;
fail:
	rte_mempool_free(mp);
	return NULL;
}

static struct rte_mbuf *packet(void)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(mbuf_pool);
	char *d = m ? rte_pktmbuf_append(m, PKT_LEN) : NULL;

	if (!d)
		return NULL;
	memcpy(d, flat_src, PKT_LEN);
	return m;
}

int dpdk_start(const char *argv0, bool quiet)
{
	char lcores[32], *argv[16];
	int argc = 0;

	if (cpu_main >= 0 && cpu_other >= 0)
		snprintf(lcores, sizeof(lcores), "%d,%d", cpu_main, cpu_other);
	else
		snprintf(lcores, sizeof(lcores), "%d", cpu_main >= 0 ? cpu_main : 0);
	argv[argc++] = (char *)argv0;
	argv[argc++] = "--no-huge";
	argv[argc++] = "--no-shconf";
	argv[argc++] = "--no-pci";
	argv[argc++] = "--no-telemetry";
	argv[argc++] = "-m";
	argv[argc++] = "512";
	argv[argc++] = "-l";
	argv[argc++] = lcores;
	if (quiet)
		argv[argc++] = "--log-level=error";
	argv[argc] = NULL;
	if (rte_eal_init(argc, argv) < 0) {
		snprintf(note, sizeof(note), "DPDK not measured: rte_eal_init failed (%s)", rte_strerror(rte_errno));
		return -1;
	}
	other_lcore = rte_get_next_lcore(rte_get_main_lcore(), 1, 0);
	mbuf_pool = pktmbuf_pool("bs_mbuf", RTE_MBUF_DEFAULT_BUF_SIZE);
	clone_pool = pktmbuf_pool("bs_clone", 0);
	obj_pool = rte_mempool_create("bs_obj", POOL_SIZE, OBJ_SIZE, POOL_CACHE, 0, NULL, NULL, NULL, NULL,
				      SOCKET_ID_ANY, RTE_MEMPOOL_F_NO_IOVA_CONTIG);
	if (!mbuf_pool || !clone_pool || !obj_pool) {
		snprintf(note, sizeof(note), "DPDK not measured: pool creation failed (%s)", rte_strerror(rte_errno));
		return -1;
	}
	clone_src = packet();
	prep_pkt = packet();
	if (!clone_src || !prep_pkt || self_test()) {
		snprintf(note, sizeof(note), "DPDK not measured: fixtures or self-test failed");
		return -1;
	}
	snprintf(note, sizeof(note), "%s, EAL --no-huge -m 512 -l %s, pools NO_IOVA_CONTIG, cache %d%s", rte_version(),
		 lcores, POOL_CACHE, other_lcore < RTE_MAX_LCORE ? "" : " (one lcore: no cross-thread rows)");
	up = true;
	return 0;
}

void ops_dpdk_register(void)
{
	static const struct op ops[] = {
		{ "dp.mbuf_single", "rte_pktmbuf_alloc+write+rte_pktmbuf_free", dp_mbuf_single, NULL, 1, false,
		  dp_check },
		{ "dp.mbuf_bulk32", "rte_pktmbuf_alloc_bulk 32+write+rte_pktmbuf_free_bulk 32", dp_mbuf_bulk, NULL,
		  BURST, false, dp_check },
		{ "dp.mempool_single", "rte_mempool_get+write+rte_mempool_put (2 KiB objects)", dp_mempool_single,
		  NULL, 1, false, dp_check },
		{ "dp.mempool_bulk32", "rte_mempool_get_bulk 32+write+put_bulk 32 (2 KiB)", dp_mempool_bulk, NULL,
		  BURST, false, dp_check },
		{ "dp.clone", "rte_pktmbuf_clone of a 1500-byte mbuf (indirect pool)+read+rte_pktmbuf_free",
		  dp_clone, NULL, 1, false, dp_check },
		{ "dp.prepend_adj", "rte_pktmbuf_prepend 14+write header+rte_pktmbuf_adj 14", dp_prepend, NULL, 1,
		  false, dp_check },
		{ "dp.scale1", "mbuf_single on one lcore (ns per op)", dp_mbuf_single, NULL, 1, false, dp_check },
	};
	static const struct op two[] = {
		{ "dp.xthread_mbuf", "lcore A: alloc_bulk 32 -> SPSC ring -> lcore B: free_bulk 32 (per buffer)",
		  dp_xthread_mbuf, NULL, BURST, true, dp_check },
		{ "dp.xthread_mempool", "lcore A: mempool_get_bulk 32 -> ring -> lcore B: put_bulk 32",
		  dp_xthread_obj, NULL, BURST, true, dp_check },
		{ "dp.scale2", "mbuf_single on two lcores at once (wall ns per op of both)", dp_pair, NULL, 2, true,
		  dp_check },
	};

	if (!up)
		return;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		op_add(&ops[i]);
	if (other_lcore < RTE_MAX_LCORE)
		for (size_t i = 0; i < sizeof(two) / sizeof(two[0]); i++)
			op_add(&two[i]);
}

struct memsum {
	size_t bytes;
};

static void mem_chunk(struct rte_mempool *mp, void *arg, struct rte_mempool_memhdr *hdr, unsigned idx)
{
	(void)mp, (void)idx;
	((struct memsum *)arg)->bytes += hdr->len;
}

void mem_dpdk_measure(void)
{
	static const unsigned lens[2] = { PKT_LEN, SMALL_PKT };
	struct memsum s = { 0 };

	if (!up)
		return;
	rte_mempool_mem_iter(mbuf_pool, mem_chunk, &s);
	for (int k = 0; k < 2; k++) {
		struct mem_row r = { .side = "dpdk", .payload = lens[k] };

		snprintf(r.what, sizeof(r.what), "rte_mbuf, %u-byte packet", lens[k]);
		r.held = (double)s.bytes / mbuf_pool->size;
		r.objects = (double)mbuf_pool->header_size + mbuf_pool->elt_size + mbuf_pool->trailer_size;
		r.header = r.objects - (RTE_MBUF_DEFAULT_BUF_SIZE - RTE_PKTMBUF_HEADROOM);
		snprintf(r.how, sizeof(r.how),
			 "pool chunks / %u objects; objects - data room %d: object header %u + rte_mbuf %zu + headroom %d",
			 mbuf_pool->size, RTE_MBUF_DEFAULT_BUF_SIZE - RTE_PKTMBUF_HEADROOM, mbuf_pool->header_size,
			 sizeof(struct rte_mbuf), RTE_PKTMBUF_HEADROOM);
		mem_add(&r);
	}
}

const char *dpdk_note(void)
{
	return note;
}

bool dpdk_present(void)
{
	return up;
}
