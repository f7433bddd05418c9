/*
 * mbuf allocation, external storage and packet headers.
 *
 *   kmem_cache "mbuf" (MSIZE objects)          kmem_cache "mbuf_cluster"
 *   +------------------------------+           +-------------------+------+
 *   | header | pkthdr | m_ext -----+---------->| 2048 bytes        | ext  |
 *   +------------------------------+    ref    +-------------------+------+
 *                                   (shared by copies; last put frees)
 *
 * Chain copies and writes live in copy.c, reshaping (prepend, pullup,
 * split, ...) in shape.c, packet tags in tag.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mbuf_impl.h"
#include "storage/ext_impl.h"
#include "storage/window.h"

_Static_assert(sizeof(struct mbuf) == MSIZE, "an mbuf is MSIZE bytes");
_Static_assert(offsetof(struct mbuf, m_dat) == PKTMEM_MHDR_SIZE, "the mbuf header is PKTMEM_MHDR_SIZE bytes");
_Static_assert(sizeof(struct pkthdr) == PKTMEM_PKTHDR_SIZE, "the packet header is PKTMEM_PKTHDR_SIZE bytes");
_Static_assert(offsetof(struct mbuf, m_pktdat) == PKTMEM_MHDR_SIZE + PKTMEM_PKTHDR_SIZE, "m_pktdat follows the packet header");
_Static_assert(sizeof(struct _m_ext) <= MHLEN, "m_ext fits in the packet data area");
_Static_assert(MLEN == 456 && MHLEN == 400 && MINCLSIZE == 857, "the sizes the header comments give");
_Static_assert(MCLBYTES == PKTMEM_CLUSTER_SIZE, "a cluster is MCLBYTES");

/*
 * Assignable by the application, read by m_pullup(); an int as in BSD.
 * 40 (IPv6) + 20 (TCP) covers the common headers.
 */
int max_protohdr = 60;

static struct once mbuf_once = ONCE_INIT;
static struct kmem_cache *mbuf_cache;

static void mbuf_cache_init(void)
{
	mbuf_cache = kmem_cache_create("mbuf", MSIZE, 64, SLAB_PANIC, NULL);
}

struct kmem_cache *pktmem_mbuf_cache(void)
{
	once_run(&mbuf_once, mbuf_cache_init);
	return mbuf_cache;
}

static inline struct mbuf *mbuf_alloc(int how, int type, int flags, const char *func)
{
	if (unlikely(!how_ok(how, func)))
		return NULL;
	once_run(&mbuf_once, mbuf_cache_init);

	struct mbuf *m = kmem_cache_alloc(mbuf_cache, how_to_gfp(how));

	if (unlikely(!m))
		return NULL;
	mbuf_init(m, type, flags);
	return m;
}

struct mbuf *m_get(int nowait, int type)
{
	return mbuf_alloc(nowait, type, 0, "m_get");
}

struct mbuf *m_gethdr(int nowait, int type)
{
	return mbuf_alloc(nowait, type, M_PKTHDR, "m_gethdr");
}

struct mbuf *m_getclr(int nowait, int type)
{
	struct mbuf *m = mbuf_alloc(nowait, type, 0, "m_getclr");

	if (m)
		memset(m->m_dat, 0, MLEN);
	return m;
}

void mbuf_attach_ext(struct mbuf *m, struct pktmem_ext *e, int extra_flags)
{
	mbuf_attach_ext_inline(m, e, extra_flags);
}

static bool ext_attach_ok(struct mbuf *m, const char *func)
{
	if (unlikely(!m)) {
		diag(func, "NULL mbuf");
		return false;
	}
	if (unlikely(!mbuf_live(m, func)))
		return false;
	if (unlikely(m->m_flags & M_EXT)) {
		diag(func, "mbuf %p already has external storage (%p, %zu bytes)", (void *)m,
		     (void *)m->m_ext.ext_buf, m->m_ext.ext_size);
		return false;
	}
	return true;
}

void m_clget(struct mbuf *m, int how)
{
	if (!ext_attach_ok(m, "MCLGET") || !how_ok(how, "MCLGET"))
		return;

	struct pktmem_ext *e = ext_cluster_new(how_to_gfp(how));

	if (e)
		mbuf_attach_ext(m, e, M_CLUSTER);
}

void m_extmalloc(struct mbuf *m, int len, int how)
{
	if (!ext_attach_ok(m, "MEXTMALLOC") || !how_ok(how, "MEXTMALLOC"))
		return;
	if (unlikely(len <= 0)) {
		diag("MEXTMALLOC", "length %d for mbuf %p", len, (void *)m);
		return;
	}

	struct pktmem_ext *e = pktmem_ext_alloc((size_t)len, how_to_gfp(how), NUMA_NO_NODE);

	if (e)
		mbuf_attach_ext(m, e, 0);
}

/*
 * The release routine of MEXTADD storage: the caller's free routine with
 * the mbuf that let go last (NULL when that was not an mbuf), or, when the
 * caller gave none, free(3) — userspace's "usual" free for malloc'd memory.
 */
static void mextadd_release(struct pktmem_ext *e, void *owner)
{
	void (*fn)(struct mbuf *, void *, size_t, void *) =
		(void (*)(struct mbuf *, void *, size_t, void *))e->ext_free_fn;

	if (fn)
		fn(owner, e->ext_buf, e->ext_size, e->ext_arg);
	else
		free(e->ext_buf);
}

void m_extadd(struct mbuf *m, void *buf, int size, int type, void (*free_fn)(struct mbuf *, void *, size_t, void *),
	      void *arg)
{
	if (!ext_attach_ok(m, "MEXTADD"))
		return;
	if (unlikely(!buf || size < 0)) {
		diag("MEXTADD", "buffer %p, size %d for mbuf %p", buf, size, (void *)m);
		return;
	}
	/* No wait flag, and it may be used in atomic context: never sleep. The
	 * header cache has no limit, so this only fails when memory is truly
	 * gone (or a fault is injected). */
	struct pktmem_ext *e = pktmem_ext_attach(buf, (size_t)size, mextadd_release, arg, GFP_ATOMIC);

	if (!e)
		return;
	e->ext_free_fn = (void *)free_fn;
	e->ext_type = type;
	mbuf_attach_ext(m, e, 0);
	m->m_ext.ext_free = free_fn;
	m->m_ext.ext_arg = arg;
	m->m_ext.ext_type = type;
}

struct mbuf *m_free(struct mbuf *m)
{
	if (!m)
		return NULL;
	if (unlikely(!mbuf_live(m, "m_free")))
		return NULL;
	/* A copy of a live mbuf (on the stack, say) carries the live marker
	 * too: refuse it before its storage reference and tags are dropped,
	 * which belong to the original. (The cache checks the exact object.) */
	if (unlikely(!arena_owns(m))) {
		diag("m_free", "%p is not library memory: not an mbuf (a copy of one?); nothing freed", (void *)m);
		return NULL;
	}

	struct mbuf *n = m->m_next;

	if ((m->m_flags & M_PKTHDR) && m->m_pkthdr.tags.slh_first)
		m_tag_delete_chain(m);
	if (m->m_flags & M_EXT)
		ext_put_inline(m->m_ext.ext_storage, m);
	win_m_internal(m);
	m->m_state_ = MBUF_DEAD;
	m->m_type = MT_FREE;
	kmem_cache_free(mbuf_cache, m);
	return n;
}

void m_freem(struct mbuf *m)
{
	while (m)
		m = m_free(m);
}

void m_align(struct mbuf *m, int len)
{
	if (unlikely(!m || !mbuf_live(m, "M_ALIGN")))
		return;

	char *start = m_buf_start(m);
	int size = (int)(m_buf_end(m) - start);

	if (unlikely(len < 0 || len > size || m->m_len != 0 || m->m_data != start)) {
		diag("M_ALIGN", "mbuf %p: length %d for a data area of %d bytes (m_len %d, data at offset %td)",
		     (void *)m, len, size, m->m_len, m->m_data - start);
		return;
	}
	m->m_data += (size - len) & ~(int)(sizeof(long) - 1);
}

int m_length(const struct mbuf *m)
{
	int len = 0;

	for (; m; m = m->m_next)
		len += m->m_len;
	return len;
}

static bool pkthdr_args_ok(struct mbuf *to, struct mbuf *from, const char *func)
{
	if (unlikely(!to || !from)) {
		diag(func, "NULL mbuf (to %p, from %p)", (void *)to, (void *)from);
		return false;
	}
	if (unlikely(!(from->m_flags & M_PKTHDR))) {
		diag(func, "source mbuf %p has no packet header (flags %#x)", (void *)from, from->m_flags);
		return false;
	}
	if (unlikely(to->m_flags & (M_EXT | M_PKTHDR))) {
		diag(func, "target mbuf %p is not empty (flags %#x)", (void *)to, to->m_flags);
		return false;
	}
	return true;
}

static void pkthdr_take(struct mbuf *to, struct mbuf *from)
{
	win_m_internal(to);
	to->m_pkthdr = from->m_pkthdr;
	to->m_pkthdr.tags.slh_first = NULL;
	to->m_flags = (from->m_flags & M_COPYFLAGS) | (to->m_flags & ~M_COPYFLAGS);
	to->m_data = to->m_pktdat;
}

int mbuf_copy_pkthdr(struct mbuf *to, struct mbuf *from, int how)
{
	if (!pkthdr_args_ok(to, from, "M_COPY_PKTHDR"))
		return -EINVAL;
	pkthdr_take(to, from);
	if (!from->m_pkthdr.tags.slh_first) /* the usual packet: nothing more to copy */
		return 0;
	return mbuf_tag_copy_chain(to, from, how) ? 0 : -ENOMEM;
}

/* The macro has no wait flag: tags are copied without sleeping. */
int m_copy_pkthdr(struct mbuf *to, struct mbuf *from)
{
	return mbuf_copy_pkthdr(to, from, M_DONTWAIT);
}

void m_move_pkthdr(struct mbuf *to, struct mbuf *from)
{
	if (!pkthdr_args_ok(to, from, "M_MOVE_PKTHDR"))
		return;
	pkthdr_take(to, from);
	to->m_pkthdr.tags = from->m_pkthdr.tags;
	from->m_pkthdr.tags.slh_first = NULL;
	from->m_flags &= ~M_PKTHDR;
}

void mbuf_share_ext(struct mbuf *n, const struct mbuf *m)
{
	win_m_internal(n);
	ext_get_inline(m->m_ext.ext_storage);
	n->m_ext = m->m_ext;
	n->m_flags |= m->m_flags & (M_EXT | M_CLUSTER);
}

/*
 * m_copypacket() of a packet that is one header mbuf with external storage
 * (copy.c checked @m and @how): a new header mbuf with @m's header and
 * tags, sharing the storage. The same mbuf copy_chain() would build, made
 * in one pass: allocation, header and m_ext written once each.
 */
struct mbuf *mbuf_copy_ext_packet(struct mbuf *m, int how)
{
	once_run(&mbuf_once, mbuf_cache_init);

	struct mbuf *h = kmem_cache_alloc(mbuf_cache, how_to_gfp(how));

	if (unlikely(!h))
		return NULL;
	/*
	 * Every field written once: mbuf_init(), pkthdr_take() and the share in
	 * one. A fresh object is open whole (as after m_gethdr()), so no
	 * window needs opening for the header.
	 */
	h->m_flags = m->m_flags & M_COPYFLAGS; /* M_EXT once the reference is taken */
	h->m_next = NULL;
	h->m_nextpkt = NULL;
	h->m_owner = NULL;
	h->m_paddr_ = 0;
	h->m_type = m->m_type;
	h->m_state_ = MBUF_LIVE;
	h->m_pkthdr = m->m_pkthdr;
	h->m_pkthdr.tags.slh_first = NULL;
	h->m_pkthdr.len = m->m_len;
	if (unlikely(m->m_pkthdr.tags.slh_first != NULL) && !mbuf_tag_copy_chain(h, m, how)) {
		h->m_data = h->m_pktdat;
		h->m_len = 0;
		m_free(h);
		return NULL;
	}
	ext_get_inline(m->m_ext.ext_storage);
	h->m_ext = m->m_ext;
	h->m_flags |= m->m_flags & (M_EXT | M_CLUSTER);
	h->m_data = m->m_data;
	h->m_len = m->m_len;
	return h;
}
