/*
 * rows.c — the table of issue #6: which op is compared with which, and the
 * goal. An op id names one side (see suite.h); a row whose op is missing
 * (a peer not installed) is printed as "not measured".
 *
 * kind LE: goal met when pktmem ns / peer ns <= goal (ratio of times).
 * kind GE: goal met when peer ns / pktmem ns >= goal (ratio of throughputs:
 *          buffers per second, or the 2-thread speed-up).
 * kind INFO: no goal; the ratio is pktmem ns / peer ns.
 * kind GEINFO: no goal; the ratio is peer ns / pktmem ns (throughput).
 */
#include "rows.h"

const struct row rows[] = {
	/* --- vs DPDK */
	{ "DPDK", "packet buffer alloc+free, one at a time: m_gethdr+MCLGET+m_freem", "pk.mbuf_single",
	  "dp.mbuf_single", LE, 0.8 },
	{ "DPDK", "packet buffer alloc+free, one at a time: alloc_skb(1500)+kfree_skb", "pk.skb_single",
	  "dp.mbuf_single", LE, 0.8 },
	{ "DPDK", "packet buffer alloc+free, one at a time, one call: m_getcl+m_freem", "pk.mgetcl_single",
	  "dp.mbuf_single", INFO, 0 },
	{ "DPDK", "packet buffers, bursts of 32: m_getcl_bulk 32, m_freem_bulk 32 (vs alloc_bulk/free_bulk)",
	  "pk.mbuf_bulk32", "dp.mbuf_bulk32", LE, 1.0 },
	{ "DPDK", "packet buffers, bursts of 32: 32x(m_gethdr+MCLGET), 32x m_freem (vs alloc_bulk/free_bulk)",
	  "pk.mbuf_burst32", "dp.mbuf_bulk32", INFO, 0 },
	{ "DPDK", "packet buffers, bursts of 32: alloc_skb_bulk 32 (1500), kfree_skb_bulk 32 (vs alloc_bulk/free_bulk)",
	  "pk.skb_bulk32", "dp.mbuf_bulk32", LE, 1.0 },
	{ "DPDK",
	  "packet buffers, bursts of 32, one call each: 32x alloc_skb(1500), kfree_skb_list (vs alloc_bulk/free_bulk)",
	  "pk.skb_burst32", "dp.mbuf_bulk32", INFO, 0 },
	{ "DPDK", "kmem_cache_alloc+free, one at a time (vs rte_mempool_get+put)", "pk.cache_single",
	  "dp.mempool_single", LE, 0.7 },
	{ "DPDK", "kmem_cache_alloc_bulk/free_bulk 32 (vs rte_mempool get/put bulk 32)", "pk.cache_bulk32",
	  "dp.mempool_bulk32", LE, 1.0 },
	{ "DPDK", "alloc on CPU 0, free on CPU 1, ring, bursts of 32: m_getcl_bulk/m_freem_bulk (buffers/s)",
	  "pk.xthread_mbuf_bulk", "dp.xthread_mbuf", GE, 1.2 },
	{ "DPDK", "alloc on CPU 0, free on CPU 1, ring, bursts of 32: 32x(m_gethdr+MCLGET)/m_freem (buffers/s)",
	  "pk.xthread_mbuf", "dp.xthread_mbuf", GEINFO, 0 },
	{ "DPDK", "alloc on CPU 0, free on CPU 1, ring, bursts of 32: kmem_cache bulk vs mempool bulk (objects/s)",
	  "pk.xthread_cache", "dp.xthread_mempool", GE, 1.2 },
	{ "DPDK", "clone a 1500-byte packet + free the clone: m_copypacket", "pk.copypacket", "dp.clone", LE, 0.7 },
	{ "DPDK", "clone a 1500-byte packet + free the clone: skb_clone", "pk.skb_clone", "dp.clone", LE, 0.7 },
	{ "DPDK", "clone a 1500-byte packet + free the clone: skb_clone of an fclone skb", "pk.skb_fclone",
	  "dp.clone", LE, 0.5 },
	{ "DPDK", "prepend 14 + take off: M_PREPEND+m_adj (vs rte_pktmbuf_prepend+adj)", "pk.prepend_adj",
	  "dp.prepend_adj", LE, 1.0 },
	{ "DPDK", "prepend 14 + take off: skb_push+skb_pull (vs rte_pktmbuf_prepend+adj)", "pk.push_pull",
	  "dp.prepend_adj", LE, 1.0 },
	/* --- vs memcpy */
	{ "memcpy", "m_copydata 1500 bytes of a 2-mbuf chain (vs glibc memcpy 1500)", "pk.copydata",
	  "gl.memcpy1500", LE, 1.1 },
	{ "memcpy", "m_copyback 1500 bytes into a 2-mbuf chain (vs glibc memcpy 1500)", "pk.copyback",
	  "gl.memcpy1500", LE, 1.1 },
	/* --- vs glibc-malloc-based equivalents (bench_mbuf, bench_skb) */
	{ "glibc", "m_gethdr+MCLGET+m_freem (vs malloc(2048)+free)", "pk.mbuf_single", "gl.malloc2k", LE, 0.5 },
	{ "glibc", "m_get+m_free (vs malloc(256)+free)", "pk.mget_single", "gl.malloc256", LE, 0.5 },
	{ "glibc", "32 packet buffers then 32 frees: m_getcl_bulk, m_freem_bulk (vs 32 malloc(2048), 32 free)",
	  "pk.mbuf_bulk32", "gl.malloc2k_burst32", LE, 0.5 },
	{ "glibc", "32 packet buffers then 32 frees, one call each: 32x(m_gethdr+MCLGET), 32x m_freem (vs 32 malloc)",
	  "pk.mbuf_burst32", "gl.malloc2k_burst32", INFO, 0 },
	{ "glibc", "alloc_skb(1500)+kfree_skb (vs malloc'd struct + data, 2 frees)", "pk.skb_single", "gl.skb", LE,
	  0.5 },
	{ "glibc", "m_copypacket+m_freem (vs malloc+memcpy 1500+free)", "pk.copypacket", "gl.copy", LE, 0.5 },
	{ "glibc", "alloc_skb_fclone+skb_clone+2 frees (vs malloc'd skb + clone, 3 frees)", "pk.fclone_full",
	  "gl.skb_clone", LE, 0.5 },
	{ "glibc", "M_PREPEND 14+m_adj (vs memmove 1500 by 14 in a flat buffer)", "pk.prepend_adj", "gl.memmove",
	  LE, 0.5 },
	{ "glibc", "skb_push 14+skb_pull (vs malloc 1514+memcpy+free: no headroom)", "pk.push_pull",
	  "gl.skb_prepend", LE, 0.5 },
	{ "glibc", "alloc on CPU 0, free on CPU 1, ring, 32: mbuf+cluster (vs malloc(2048)/free)",
	  "pk.xthread_mbuf", "gl.xthread", LE, 0.5 },
	/* --- scaling */
	{ "scaling", "pktmem: 2 pinned threads alloc+free (mbuf+cluster) vs 1 thread (throughput)", "pk.scale2",
	  "pk.scale1", GE, 1.9 },
	{ "scaling", "DPDK: 2 lcores rte_pktmbuf_alloc+free vs 1 lcore (throughput)", "dp.scale2", "dp.scale1",
	  GEINFO, 0 },
	/* --- allocators (2 KiB malloc+free) */
	{ "malloc", "kmem_cache 2 KiB vs glibc malloc(2048)+free", "pk.cache_single", "gl.malloc2k", INFO, 0 },
	{ "malloc", "kmem_cache 2 KiB vs jemalloc malloc+free", "pk.cache_single", "je.malloc2k", INFO, 0 },
	{ "malloc", "kmem_cache 2 KiB vs mimalloc mi_malloc+mi_free", "pk.cache_single", "mi.malloc2k", INFO, 0 },
	{ "malloc", "kmalloc(2048)+kfree vs glibc malloc(2048)+free", "pk.kmalloc2k", "gl.malloc2k", INFO, 0 },
	{ "malloc", "kmalloc(2048)+kfree vs jemalloc", "pk.kmalloc2k", "je.malloc2k", INFO, 0 },
	{ "malloc", "kmalloc(2048)+kfree vs mimalloc", "pk.kmalloc2k", "mi.malloc2k", INFO, 0 },
	/* --- floors */
	{ "floor", "kmem_cache_alloc+free vs pointer-stack pop+push", "pk.cache_single", "fl.stack_single", INFO,
	  0 },
	{ "floor", "kmem_cache bulk 32 vs pointer-stack pop 32+push 32", "pk.cache_bulk32", "fl.stack_burst32",
	  INFO, 0 },
	{ "floor", "m_copydata 1500 vs a 32-byte AVX2 copy loop", "pk.copydata", "fl.memcpy_avx2", INFO, 0 },
	{ "floor", "glibc memcpy 1500 vs a 32-byte AVX2 copy loop", "gl.memcpy1500", "fl.memcpy_avx2", INFO, 0 },
};

const unsigned nr_rows = sizeof(rows) / sizeof(rows[0]);
