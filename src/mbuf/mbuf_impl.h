/*
 * Shared by the mbuf files: how wait flags map to allocation masks, the
 * live/free marker, and the internal allocators.
 */
#ifndef PKTMEM_MBUF_IMPL_H
#define PKTMEM_MBUF_IMPL_H

#include <string.h>

#include <pktmem/mbuf.h>

#include "internal.h"
#include "storage/window.h"

#define MBUF_LIVE PKTMEM_MBUF_LIVE_ /* "MB": allocated */
#define MBUF_DEAD ((short)0x6466) /* freed */

/*
 * M_WAIT / M_DONTWAIT as an allocation mask; any other value is a
 * programmer error (diagnosed by the caller through how_ok()).
 */
static inline gfp_t how_to_gfp(int how)
{
	return how == M_WAIT ? GFP_KERNEL : GFP_ATOMIC;
}

static inline bool how_ok(int how, const char *func)
{
	if (likely(how == M_WAIT || how == M_DONTWAIT))
		return true;
	diag(func, "wait flag %d is neither M_WAIT (%d) nor M_DONTWAIT (%d)", how, M_WAIT, M_DONTWAIT);
	return false;
}

/* Is @m a live mbuf? Diagnoses a freed one (a double free or use after free). */
static inline bool mbuf_live(const struct mbuf *m, const char *func)
{
	if (likely(m->m_state_ == MBUF_LIVE))
		return true;
	diag(func, "mbuf %p is not live (state %#x): freed already, or not an mbuf", (const void *)m,
	     (unsigned)(unsigned short)m->m_state_);
	return false;
}

/*
 * A fresh object of the mbuf cache made a live, empty mbuf of @type with
 * @flags: m_data at its internal area (after the packet header, zeroed,
 * when @flags has M_PKTHDR). Shared by the single and the bulk allocators.
 */
static inline void mbuf_init(struct mbuf *m, int type, int flags)
{
	m->m_next = NULL;
	m->m_nextpkt = NULL;
	m->m_owner = NULL;
	m->m_len = 0;
	m->m_flags = flags;
	m->m_paddr_ = 0;
	m->m_type = (short)type;
	m->m_state_ = MBUF_LIVE;
	if (flags & M_PKTHDR) {
		memset(&m->m_pkthdr, 0, sizeof(m->m_pkthdr));
		m->m_data = m->m_pktdat;
	} else {
		m->m_data = m->m_dat;
	}
}

/* Attach storage @e (one reference, now @m's) to @m as its external buffer (M_EXT). */
static inline void mbuf_attach_ext_inline(struct mbuf *m, struct pktmem_ext *e, int extra_flags)
{
	win_m_internal(m);
	m->m_ext.ext_buf = e->ext_buf;
	m->m_ext.ext_size = e->ext_size;
	m->m_ext.ext_free = NULL;
	m->m_ext.ext_arg = NULL;
	m->m_ext.ext_type = 0;
	m->m_ext.ext_storage = e;
	m->m_data = e->ext_buf;
	m->m_flags |= M_EXT | extra_flags;
}

/* mbuf_attach_ext_inline(), out of line for the callers off the packet paths. */
void mbuf_attach_ext(struct mbuf *m, struct pktmem_ext *e, int extra_flags);

/*
 * Make @n (without M_EXT) share @m's external storage: one more reference,
 * the same m_ext, M_EXT (and M_CLUSTER) set. m_data/m_len are the caller's
 * to set. No allocation, cannot fail.
 */
void mbuf_share_ext(struct mbuf *n, const struct mbuf *m);

/*
 * m_copypacket() of @m, a live header mbuf alone in its chain, with
 * external storage and m_len > 0, @how already checked: one new header
 * mbuf sharing the storage, or NULL (nothing kept).
 */
struct mbuf *mbuf_copy_ext_packet(struct mbuf *m, int how);

/*
 * m_tag_copy_chain() and m_copy_pkthdr() with a wait flag, for callers that
 * have one (m_copym with M_WAIT must not fail for want of a tag).
 */
int mbuf_tag_copy_chain(struct mbuf *to, struct mbuf *from, int how);
int mbuf_copy_pkthdr(struct mbuf *to, struct mbuf *from, int how);

#endif /* PKTMEM_MBUF_IMPL_H */
