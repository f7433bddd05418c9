/*
 * <pktmem/mbuf.h> — BSD mbufs, as NetBSD's mbuf(9) and m_tag(9) describe
 * them, on pktmem's shared storage layer.
 *
 * An mbuf is an MSIZE (512-byte) object: a header, then either MLEN bytes
 * of data or, for the first mbuf of a packet (M_PKTHDR), a packet header and
 * MHLEN bytes of data. With M_EXT the data lives in external storage
 * instead: a cluster of MCLBYTES, MEXTMALLOC memory, or a caller's buffer
 * added with MEXTADD. External storage is a pktmem_ext (see <pktmem/ext.h>):
 * reference counted, so m_copym() and m_copypacket() share it without
 * copying a byte, and read-only while shared.
 *
 * Wait flags: M_WAIT does not fail for want of room (at a cache limit it
 * sleeps until a free makes room); only memory the system itself refuses,
 * or an injected fault, makes it return NULL. M_DONTWAIT never sleeps and
 * returns NULL instead, counted as denied in the statistics.
 *
 * Programmer errors that the manual page makes the caller's duty (offsets
 * or lengths past the chain, negative lengths, a missing packet header where
 * one is required) go to the diagnostic handler (<pktmem/pktmem.h>) with the
 * function and the values. If an application handler returns, the call
 * does nothing and returns its failure value.
 *
 * Sanitizer windows (a library built with ASan or PKTMEM_VALGRIND; see
 * pktmem_debug_set_windows() in <pktmem/pktmem.h>): the library functions
 * that make or reshape a chain poison, in each mbuf whose storage is
 * writable, the bytes before m_data and after m_data + m_len, so reading
 * past m_len is reported. A fresh mbuf or cluster is open whole (write at
 * mtod(), then set m_len), and M_LEADINGSPACE() / M_TRAILINGSPACE() open the
 * space they report: ask before writing outside the data, as BSD code does.
 * Shared storage is never poisoned.
 *
 * Thread-safety: an mbuf chain belongs to one thread at a time; different
 * chains may be used concurrently, and chains that share storage (copies of
 * one packet) may be used and freed on different threads.
 */
#ifndef PKTMEM_MBUF_H
#define PKTMEM_MBUF_H

#include <stddef.h>
#include <stdint.h>

#include <pktmem/export.h>
#include <pktmem/gfp.h>
#include <pktmem/ext.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ sizes */

#define MSIZE      512  /* size of an mbuf */
#define MCLBYTES   2048 /* size of a cluster */
#define MCLSHIFT   11
#define PKTMEM_MHDR_SIZE   56 /* the mbuf header (sizes pinned by static asserts) */
#define PKTMEM_PKTHDR_SIZE 56 /* the packet header */
#define MLEN       (MSIZE - PKTMEM_MHDR_SIZE)  /* data in a plain mbuf: 456 */
#define MHLEN      (MLEN - PKTMEM_PKTHDR_SIZE) /* data in a packet-header mbuf: 400 */
#define MINCLSIZE  (MHLEN + MLEN + 1)          /* smallest data put in a cluster */
#define M_COPYALL  1000000000                  /* m_copym(): to the end of the chain */

/* Wait flags (NetBSD's M_WAITOK / M_NOWAIT values). */
#define M_WAIT     0
#define M_DONTWAIT 1

/* mbuf types */
#define MT_FREE    0 /* should be on the free list */
#define MT_DATA    1 /* dynamic data */
#define MT_HEADER  2 /* packet header */
#define MT_SONAME  3 /* socket name */
#define MT_SOOPTS  4 /* socket options */
#define MT_FTABLE  5 /* fragment reassembly header */
#define MT_CONTROL 6 /* ancillary (protocol control) data */
#define MT_OOBDATA 7 /* out-of-band data */
#define MT_NTYPES  8

/* m_flags */
#define M_EXT      0x00000001 /* has external storage */
#define M_PKTHDR   0x00000002 /* start of record */
#define M_EOR      0x00000004 /* end of record */
#define M_PROTO1   0x00000008 /* protocol-specific */
#define M_BCAST    0x00000100 /* sent/received as link-level broadcast */
#define M_MCAST    0x00000200 /* sent/received as link-level multicast */
#define M_LINK0    0x00001000 /* link-level specific */
#define M_LINK1    0x00002000
#define M_LINK2    0x00004000
#define M_CLUSTER  0x00010000 /* the external storage is a cluster */
/* flags copied with the packet header */
#define M_COPYFLAGS (M_PKTHDR | M_EOR | M_BCAST | M_MCAST | M_LINK0 | M_LINK1 | M_LINK2 | M_PROTO1)

/* Interfaces stay opaque; rcvif is for the caller's use. */
struct ifnet;
struct mbuf;
struct kmem_cache;

/* A packet tag (m_tag(9)); m_tag_len bytes of data follow the structure. */
struct m_tag {
	struct {
		struct m_tag *sle_next;
	} m_tag_link;
	uint16_t m_tag_id;  /* the tag's type */
	uint16_t m_tag_len; /* bytes of data after the structure */
	uint32_t m_tag_pad_;
};

/* The packet header of an M_PKTHDR mbuf. */
struct pkthdr {
	struct ifnet *rcvif;  /* receiving interface, the caller's */
	struct {
		struct m_tag *slh_first;
	} tags;               /* packet tags */
	int len;              /* total packet length */
	int csum_flags;       /* checksum offload flags, the caller's */
	uint32_t csum_data;
	unsigned int segsz;   /* segment size for offload, the caller's */
	uint16_t ether_vtag;  /* VLAN tag, the caller's */
	uint16_t pkthdr_flags;
	uint32_t pkthdr_pad_;
	void *pkthdr_spare_[2];
};

/* External storage of an M_EXT mbuf. */
struct _m_ext {
	char *ext_buf;        /* start of the buffer */
	size_t ext_size;      /* size of the buffer */
	/* MEXTADD's free routine and argument, kept for the caller's eyes */
	void (*ext_free)(struct mbuf *, void *, size_t, void *);
	void *ext_arg;
	int ext_type;         /* MEXTADD's type */
	int ext_pad_;
	struct pktmem_ext *ext_storage; /* the shared, reference-counted area */
};

struct mbuf {
	struct mbuf *m_next;    /* next buffer in the chain */
	struct mbuf *m_nextpkt; /* next chain in a queue */
	char *m_data;           /* location of the data */
	void *m_owner;          /* free for the caller's use */
	int m_len;              /* bytes of data in this mbuf */
	int m_flags;            /* M_* flags */
	uint64_t m_paddr_;      /* reserved */
	short m_type;           /* MT_* type */
	short m_state_;         /* library-private: live / free marker */
	int m_pad_;
	union {
		struct {
			struct pkthdr m_pkthdr; /* M_PKTHDR set */
			union {
				struct _m_ext m_ext;    /* M_EXT set */
				char m_pktdat[MHLEN];   /* M_PKTHDR set, no M_EXT */
			};
		};
		char m_dat[MLEN];               /* neither */
	};
};

/* Largest protocol header m_pullup() reads ahead for; assignable. */
PKTMEM_API extern int max_protohdr;

/* ------------------------------------------------------------ allocation */

/*
 * m_get() - a new mbuf of @type with internal data, m_len 0.
 * M_WAIT waits at a limit (NULL only when the system refuses memory or a
 * fault is injected); M_DONTWAIT returns NULL when none is to be had now.
 */
PKTMEM_API struct mbuf *m_get(int nowait, int type);

/* m_getclr() - m_get() with the MLEN data area zeroed. */
PKTMEM_API struct mbuf *m_getclr(int nowait, int type);

/* m_gethdr() - a new packet-header mbuf: M_PKTHDR, m_len and m_pkthdr.len 0. */
PKTMEM_API struct mbuf *m_gethdr(int nowait, int type);

/*
 * m_clget() - add a cluster to @m (MCLGET). On success M_EXT|M_CLUSTER is
 * set and m_data points at the cluster; on failure @m is unchanged (M_EXT
 * clear). @m must not already have external storage.
 */
PKTMEM_API void m_clget(struct mbuf *m, int how);

/*
 * m_extmalloc() - add @len bytes of library memory as external storage
 * (MEXTMALLOC). Success sets M_EXT; failure leaves @m unchanged.
 */
PKTMEM_API void m_extmalloc(struct mbuf *m, int len, int how);

/*
 * m_extadd() - add a caller's buffer as external storage (MEXTADD).
 * @free, if not NULL, is called exactly once, when the last reference to
 * the storage goes: with the mbuf being freed (or NULL when the last
 * holder is not an mbuf, for example an sk_buff after a conversion), @buf,
 * @size and @arg. It releases the buffer only: the library always frees
 * the mbuf itself. A NULL @free means the usual one: free(3), for a
 * malloc'd buffer. @type is kept for the caller (0 is fine). The small
 * storage header is allocated without sleeping (the macro has no wait
 * flag, and may be used in atomic context); if it cannot be had, M_EXT
 * stays clear and the buffer remains the caller's.
 */
PKTMEM_API void m_extadd(struct mbuf *m, void *buf, int size, int type,
			 void (*free)(struct mbuf *, void *, size_t, void *), void *arg);

/* m_free() - free one mbuf (and its tags and its storage reference); returns its successor. */
PKTMEM_API struct mbuf *m_free(struct mbuf *m);

/* m_freem() - free a whole chain. NULL is a no-op. */
PKTMEM_API void m_freem(struct mbuf *m);

/* ------------------------------------------------------------ bulk (pktmem extension) */

/* Most mbufs m_getcl_bulk() hands out in one call. */
#define M_GETCL_BULK_MAX 256

/*
 * m_getcl_bulk() - @n mbufs, each with a 2 KiB cluster (a pktmem
 * extension, as DPDK's rte_pktmbuf_alloc_bulk): every mbuf is what
 * m_get() (@flags 0) or m_gethdr() (@flags with M_PKTHDR) and MCLGET
 * would give — @type, @flags | M_EXT | M_CLUSTER, m_data at the start of
 * the cluster, m_len (and pkthdr.len) 0 — and is stored in @mv[0..n).
 * @flags may hold the M_COPYFLAGS bits only. All or nothing: returns @n,
 * or 0 with nothing allocated and @mv untouched. M_WAIT waits at a cache
 * limit as m_gethdr() does (0 only when the system refuses memory, a fault
 * is injected, or @n exceeds a limit set on either cache); M_DONTWAIT
 * returns 0 at once. @n is at most M_GETCL_BULK_MAX; @n 0 returns 0. A bad
 * @how, @type (not MT_DATA .. MT_NTYPES - 1), @flags or @n, or a NULL @mv,
 * is a diagnostic and 0. The mbufs are the caller's; any thread may free them.
 */
PKTMEM_API int m_getcl_bulk(struct mbuf **mv, int n, int how, int type, int flags);

/*
 * m_getcl() - one such mbuf (FreeBSD's m_getcl): what m_getcl_bulk() does for one,
 * NULL on failure, diagnosed under its own name.
 */
PKTMEM_API struct mbuf *m_getcl(int how, int type, int flags);

/*
 * m_freem_bulk() - m_freem() of each of the @n chains of @mv (NULL
 * entries skipped), as DPDK's rte_pktmbuf_free_bulk: the usual packet
 * (one mbuf, no tag, its cluster held by it alone) goes back to the caches
 * in batches, every other chain through m_freem() itself, with the same
 * checks and diagnostics (a freed or foreign mbuf is diagnosed under
 * m_free's name and skipped). @mv itself is not changed. A negative @n, or
 * a NULL @mv with @n > 0, is a diagnostic and frees nothing. The chains may
 * come from any thread; @mv's chains must be the caller's alone.
 */
PKTMEM_API void m_freem_bulk(struct mbuf **mv, int n);

/* ------------------------------------------------------------ packet headers */

/*
 * m_copy_pkthdr() - copy @from's packet header to @to (M_COPY_PKTHDR):
 * @to gets M_PKTHDR and the copyable flags, m_data at its MHLEN area, the
 * header fields and a copy of every tag. @from must have M_PKTHDR and @to
 * must be empty (no M_EXT, no M_PKTHDR): otherwise a diagnostic, and
 * -EINVAL with nothing changed. If the tags cannot be copied (no memory;
 * the macro has no wait flag, so it never sleeps), the header is copied
 * with no tag at all and m_copy_pkthdr() returns -ENOMEM; otherwise 0.
 */
PKTMEM_API int m_copy_pkthdr(struct mbuf *to, struct mbuf *from);

/* m_move_pkthdr() - as m_copy_pkthdr(), moving the tags and clearing @from's M_PKTHDR. */
PKTMEM_API void m_move_pkthdr(struct mbuf *to, struct mbuf *from);

/* ------------------------------------------------------------ chains */

/*
 * m_devget() - a new packet-header chain holding @totlen bytes of @buf,
 * copied with @copy(from, to, len) once per contiguous piece (NULL: memcpy).
 * rcvif = @ifp. A non-zero @off0 means trailer encapsulation, as in BSD:
 * the packet is buf[off0 + 4, totlen) followed by buf[0, off0), and
 * pkthdr.len is totlen - 4. Never sleeps (M_DONTWAIT). NULL on failure,
 * nothing kept.
 */
PKTMEM_API struct mbuf *m_devget(char *buf, int totlen, int off0, struct ifnet *ifp,
				 void (*copy)(const void *, void *, size_t));

/*
 * m_copym() - a copy of @len bytes (M_COPYALL: to the end) from @off0:
 * external storage is shared (no byte copied), internal data copied. From
 * offset 0 of a packet-header chain the header and its tags are copied too,
 * and the copy's pkthdr.len is the number of bytes copied. NULL on failure
 * (a tag that cannot be copied fails the copy) with the source untouched;
 * a copy of zero bytes is NULL, as in NetBSD. A range past the end is a
 * diagnostic.
 */
PKTMEM_API struct mbuf *m_copym(struct mbuf *m, int off0, int len, int wait);

/* m_copypacket() - m_copym(m, 0, M_COPYALL, how) of a packet-header chain. */
PKTMEM_API struct mbuf *m_copypacket(struct mbuf *m, int how);

/* m_copydata() - copy @len bytes at @off to @cp. A range past the end is a diagnostic. */
PKTMEM_API void m_copydata(struct mbuf *m, int off, int len, void *cp);

/*
 * m_copyback() - write @len bytes of @cp at @off, extending the chain
 * (M_DONTWAIT; any gap zero-filled, pkthdr.len raised). It can fail only
 * when extending: then the chain keeps its length, which the caller checks.
 * Shared or read-only storage in the range is a diagnostic (use
 * m_copyback_cow()), detected before anything is written.
 */
PKTMEM_API void m_copyback(struct mbuf *m0, int off, int len, void *cp);

/*
 * m_copyback_cow() - as m_copyback() on chains with shared or read-only
 * storage: those parts are replaced by new mbufs first, the other holders'
 * bytes unchanged. No extension. Returns the (possibly new) head; on failure
 * NULL with @m0 freed, as NetBSD does. A call refused by a diagnostic (bad
 * range, an attempt to extend) returns NULL and leaves @m0 to the caller.
 */
PKTMEM_API struct mbuf *m_copyback_cow(struct mbuf *m0, int off, int len, void *cp, int how);

/*
 * m_makewritable() - make [off, off + len) writable (clamped to the end),
 * replacing shared or read-only parts by copies; *mp is updated. 0, or
 * ENOBUFS with the contents unchanged and *mp still a valid chain.
 */
PKTMEM_API int m_makewritable(struct mbuf **mp, int off, int len, int how);

/*
 * m_cat() - append @n to @m (same type); pkthdr.len is not updated. Data of
 * @n may be copied into @m's writable trailing space and those mbufs freed.
 */
PKTMEM_API void m_cat(struct mbuf *m, struct mbuf *n);

/* m_dup() - as m_copym() but a deep copy: no storage is shared. */
PKTMEM_API struct mbuf *m_dup(struct mbuf *m, int off0, int len, int wait);

/*
 * m_prepend() - a new mbuf of @len bytes in front (taking over the packet
 * header); pkthdr.len unchanged. On failure the chain is freed and NULL
 * returned.
 */
PKTMEM_API struct mbuf *m_prepend(struct mbuf *m, int len, int how);

/*
 * m_pulldown() - make @len bytes at @off contiguous in one mbuf whose
 * storage is not shared, and return it; the data is at mtod(n) + *offp
 * (or mtod(n) when @offp is NULL). Mbufs before @off are unchanged. On
 * failure (including a chain shorter than off + len) the chain is freed and
 * NULL returned. @len at most MCLBYTES.
 */
PKTMEM_API struct mbuf *m_pulldown(struct mbuf *m, int off, int len, int *offp);

/*
 * m_pullup() - make the first @len bytes (at most MHLEN) contiguous in the
 * first mbuf, reading ahead up to max_protohdr. On failure (including a
 * chain shorter than @len) the chain is freed and NULL returned.
 */
PKTMEM_API struct mbuf *m_pullup(struct mbuf *n, int len);

/*
 * m_split() - cut the chain after @len0 bytes and return the tail (with a
 * packet header if @m0 has one; m0's pkthdr.len becomes len0). Storage is
 * shared across the cut. Past the end: NULL, chain unchanged. On failure:
 * NULL with the chain exactly as it was.
 */
PKTMEM_API struct mbuf *m_split(struct mbuf *m0, int len0, int wait);

/*
 * m_adj() - trim @req_len bytes from the front (> 0) or the back (< 0),
 * adjusting pkthdr.len; no data moves; trimming more than there is empties
 * the chain.
 */
PKTMEM_API void m_adj(struct mbuf *mp, int req_len);

/*
 * m_apply() - call @f(arg, data, count) for each piece of [off, off + len),
 * with pointers into the chain's own storage; returns the first non-zero
 * result of @f, else 0; EINVAL for a bad range (diagnosed).
 */
PKTMEM_API int m_apply(struct mbuf *m, int off, int len, int (*f)(void *, void *, unsigned int), void *arg);

/* Bytes of data in a whole chain (the sum of m_len). */
PKTMEM_API int m_length(const struct mbuf *m);

/* ------------------------------------------------------------ packet tags */

/* m_tag_get() - a tag of @type with @len bytes of data after it (kmalloc). NULL on failure. */
PKTMEM_API struct m_tag *m_tag_get(int type, int len, int wait);
/* m_tag_free() - free a tag that is on no packet. */
PKTMEM_API void m_tag_free(struct m_tag *t);
/* m_tag_prepend() - put @t first on packet @m (M_PKTHDR required). */
PKTMEM_API void m_tag_prepend(struct mbuf *m, struct m_tag *t);
/* m_tag_unlink() - take @t off @m without freeing it (diagnosed if not on @m). */
PKTMEM_API void m_tag_unlink(struct mbuf *m, struct m_tag *t);
/* m_tag_delete() - unlink and free. */
PKTMEM_API void m_tag_delete(struct mbuf *m, struct m_tag *t);
/* m_tag_delete_chain() - free every tag of @m. */
PKTMEM_API void m_tag_delete_chain(struct mbuf *m);
/* m_tag_find() - the first (newest) tag of @type on @m, or NULL. */
PKTMEM_API struct m_tag *m_tag_find(const struct mbuf *m, int type);
/* m_tag_copy() - a copy of @t, never sleeping. NULL on failure. */
PKTMEM_API struct m_tag *m_tag_copy(struct m_tag *t);
/*
 * m_tag_copy_chain() - append copies of all of @from's tags to @to, in
 * order, never sleeping. 1, or 0 with no copy kept (to's own tags stay).
 */
PKTMEM_API int m_tag_copy_chain(struct mbuf *to, struct mbuf *from);

/* ------------------------------------------------------------ caches */

/* The cache of mbufs (MSIZE objects), to set limits and reserves. */
PKTMEM_API struct kmem_cache *pktmem_mbuf_cache(void);

/* ------------------------------------------------------------ macros */

#define mtod(m, t) ((t)((m)->m_data))

#define MGET(m, how, type)    ((m) = m_get((how), (type)))
#define MGETHDR(m, how, type) ((m) = m_gethdr((how), (type)))
#define MCLGET(m, how)        m_clget((m), (how))
#define MEXTMALLOC(m, size, how) m_extmalloc((m), (size), (how))
#define MEXTADD(m, buf, size, type, free, arg) m_extadd((m), (buf), (size), (type), (free), (arg))
#define M_COPY_PKTHDR(to, from) ((void)m_copy_pkthdr((to), (from)))
#define M_MOVE_PKTHDR(to, from) m_move_pkthdr((to), (from))
#define MFREE(m, n)           ((n) = m_free(m))
#define MCHTYPE(m, t)         ((void)((m)->m_type = (short)(t)))

/*
 * Library-private: the value of m_state_ in a live mbuf. The header-inline
 * fast paths below test it as the library functions do.
 */
#define PKTMEM_MBUF_LIVE_ ((short)0x4d42)

/*
 * Is the data of @m writable (internal data, or external storage held alone)?
 * Plain storage (neither read-only nor a view) needs only its reference
 * count; the rest asks pktmem_ext_writable(), which follows views.
 */
static inline int m_writable(const struct mbuf *m)
{
	const struct pktmem_ext *e;

	if (!(m->m_flags & M_EXT))
		return 1;
	e = m->m_ext.ext_storage;
	if (__builtin_expect(!(e->ext_flags & (PKTMEM_EXT_RDONLY | PKTMEM_EXT_VIEW)), 1))
		return pktmem_ext_refs(e) == 1;
	return pktmem_ext_writable(e);
}

/* First byte of the buffer that holds @m's data. */
static inline char *m_buf_start(const struct mbuf *m)
{
	if (m->m_flags & M_EXT)
		return m->m_ext.ext_buf;
	return (m->m_flags & M_PKTHDR) ? (char *)m->m_pktdat : (char *)m->m_dat;
}

/* One past the last byte of the buffer that holds @m's data. */
static inline char *m_buf_end(const struct mbuf *m)
{
	if (m->m_flags & M_EXT)
		return m->m_ext.ext_buf + m->m_ext.ext_size;
	return (m->m_flags & M_PKTHDR) ? (char *)m->m_pktdat + MHLEN : (char *)m->m_dat + MLEN;
}

/*
 * Space before the data; 0 when the storage is shared or read-only. Under
 * a sanitizer the space reported is opened (pktmem_window_open()): BSD
 * code asks before it writes there.
 */
static inline int m_leadingspace(const struct mbuf *m)
{
	int n = m_writable(m) ? (int)(m->m_data - m_buf_start(m)) : 0;

#ifdef PKTMEM_WINDOW_HOOKS
	if (n > 0)
		pktmem_window_open(m->m_data - n, (size_t)n);
#endif
	return n;
}

/* Space after the data; 0 when the storage is shared or read-only. Opened as above. */
static inline int m_trailingspace(const struct mbuf *m)
{
	int n = m_writable(m) ? (int)(m_buf_end(m) - (m->m_data + m->m_len)) : 0;

#ifdef PKTMEM_WINDOW_HOOKS
	if (n > 0)
		pktmem_window_open(m->m_data + m->m_len, (size_t)n);
#endif
	return n;
}

#define M_LEADINGSPACE(m)  m_leadingspace(m)
#define M_TRAILINGSPACE(m) m_trailingspace(m)

/*
 * m_align() - point a fresh mbuf's m_data so that @len bytes end at the end
 * of its data area (MLEN, MHLEN or the external buffer, chosen by the
 * flags as current NetBSD does), aligned to a long. A length larger than the
 * area, a negative one, or an mbuf that already holds data goes to the
 * diagnostic handler and changes nothing. M_ALIGN and MH_ALIGN both use it.
 */
PKTMEM_API void m_align(struct mbuf *m, int len);

#define M_ALIGN(m, len)  m_align((m), (len))
#define MH_ALIGN(m, len) m_align((m), (len))

/*
 * Make room for @plen bytes in front of the data: in place when there is
 * writable leading space, else with a new mbuf (m_prepend()). With
 * M_DONTWAIT, a failure frees the chain and sets @m to NULL. A packet
 * header's len grows by @plen. @m must be an lvalue, evaluated twice (read,
 * then assigned); @plen once. As in BSD, whose macro evaluates both more
 * than once, pass neither with side effects. A bad @plen (negative, or more
 * than one mbuf holds) goes to the diagnostic handler through m_prepend();
 * if the handler returns, @m is set to NULL and the chain is left to the
 * caller, unfreed.
 */
#define M_PREPEND(m, plen, how)                                               \
	do {                                                                  \
		(m) = m_prepend_inline_((m), (plen), (how));                  \
	} while (0)

/*
 * m_prepend_inline_() - M_PREPEND's body (library-private name; use the
 * macro). In place when the writable leading space holds @plen bytes, else
 * m_prepend(); returns the head (NULL when m_prepend() failed). Without
 * sanitizer windows the in-place case reads the flags once and inlines
 * the writability test; with them (PKTMEM_WINDOW_HOOKS) it goes through
 * M_LEADINGSPACE(), which opens the space it reports.
 */
static inline struct mbuf *m_prepend_inline_(struct mbuf *m, int plen, int how)
{
#ifndef PKTMEM_WINDOW_HOOKS
	int flags = m->m_flags;
	ptrdiff_t lead = 0; /* as M_LEADINGSPACE(): none in shared or read-only storage */

	if (!(flags & M_EXT))
		lead = m->m_data - ((flags & M_PKTHDR) ? (char *)m->m_pktdat : (char *)m->m_dat);
	else if (m_writable(m))
		lead = m->m_data - m->m_ext.ext_buf;
	if (__builtin_expect(plen >= 0 && lead >= plen, 1)) {
		m->m_data -= plen;
		m->m_len += plen;
		if (flags & M_PKTHDR)
			m->m_pkthdr.len += plen;
		return m;
	}
#else
	if (plen >= 0 && M_LEADINGSPACE(m) >= plen) {
		m->m_data -= plen;
		m->m_len += plen;
		if (m->m_flags & M_PKTHDR)
			m->m_pkthdr.len += plen;
		return m;
	}
#endif
	m = m_prepend(m, plen, how);
	if (m != NULL && (m->m_flags & M_PKTHDR))
		m->m_pkthdr.len += plen;
	return m;
}

/*
 * m_adj_inline_() - what a call of m_adj() compiles to (library-private
 * name): the common trim of 0 < @req_len < m_len bytes from the front of
 * a live first mbuf is done in place, exactly as m_adj() would; anything
 * else (NULL, a freed mbuf, a trim from the back, one reaching the next
 * mbuf) and every call in a build with sanitizer windows
 * (PKTMEM_WINDOW_HOOKS, where m_adj() re-poisons the trimmed bytes) is
 * m_adj() itself, with its diagnostics. (m_adj) names the function.
 */
static inline void m_adj_inline_(struct mbuf *mp, int req_len)
{
#ifndef PKTMEM_WINDOW_HOOKS
	if (__builtin_expect(mp != NULL && mp->m_state_ == PKTMEM_MBUF_LIVE_ && req_len > 0 &&
				     req_len < mp->m_len, 1)) {
		mp->m_data += req_len;
		mp->m_len -= req_len;
		if (mp->m_flags & M_PKTHDR)
			mp->m_pkthdr.len -= req_len;
		return;
	}
#endif
	(m_adj)(mp, req_len);
}

#define m_adj(mp, req_len) m_adj_inline_((mp), (req_len))

#ifdef __cplusplus
}
#endif

#endif /* PKTMEM_MBUF_H */
