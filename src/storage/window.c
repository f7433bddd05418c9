/*
 * Sanitizer windows of data areas (see window.h) and their run-time switch.
 *
 *   sk_buff head, one holder:  [ headroom | data .. tail | tailroom ][shinfo]
 *                                poisoned    open           poisoned   open
 *   mbuf buffer, writable:     [ leading  | m_data .. +m_len | trailing ]
 *                                poisoned    open               poisoned
 *
 * ASan poisons in 8-byte granules and can only poison the end of one, so
 * the byte just past a window is always caught, the byte just before it
 * only when the window starts on a multiple of 8. memcheck is exact, but it
 * keeps no definedness for no-access bytes: bytes that come back into a
 * window are marked defined.
 */
#include <stdlib.h>
#include <string.h>

#include <pktmem/mbuf.h>
#include <pktmem/skbuff.h>

#include "storage/window.h"

/*
 * The switch, read by every hook. WIN_OFF: never poison; WIN_ON: poison;
 * WIN_HEAL: switched off after something was poisoned, so the hooks open
 * instead of poisoning and each buffer heals at its next operation.
 * Atomic: any thread may flip it while others use buffers.
 */
enum { WIN_OFF, WIN_ON, WIN_HEAL };

#if PKTMEM_WINDOWS
static atomic_int win_state = WIN_ON;
static atomic_bool win_used; /* something was poisoned since start-up */

static inline int state(void)
{
	return atomic_load_explicit(&win_state, memory_order_relaxed);
}

void win_open(const void *p, size_t n)
{
	if (n)
		mem_unpoison(p, n);
}

static void win_poison(const void *p, size_t n)
{
	if (!n)
		return;
	if (state() == WIN_ON) {
		if (!atomic_load_explicit(&win_used, memory_order_relaxed))
			atomic_store_explicit(&win_used, true, memory_order_relaxed);
		mem_poison(p, n);
	} else {
		mem_unpoison(p, n);
	}
}

void win_ext_open(const struct pktmem_ext *e)
{
	if (state() != WIN_OFF)
		win_open(e->ext_buf, e->ext_size);
}

/* Only a head we hold alone gets a window: a clone or an mbuf sees others. */
static inline bool skb_windowed(const struct sk_buff *skb)
{
	return state() != WIN_OFF && skb->head_ext && pktmem_ext_writable(skb->head_ext);
}

void win_skb_fresh(const struct sk_buff *skb)
{
	if (skb_windowed(skb))
		win_poison(skb->head, skb->end);
}

void win_skb_reserve(const struct sk_buff *skb)
{
	if (!skb_windowed(skb))
		return;
	win_poison(skb->head, (size_t)(skb->data - skb->head));
	win_poison(skb_tail_pointer(skb), skb->end - skb->tail);
}

void win_skb_put(const struct sk_buff *skb, unsigned int old_tail)
{
	if (!skb_windowed(skb))
		return;
	win_open(skb->head + old_tail, skb->tail - old_tail);
	win_poison(skb_tail_pointer(skb), skb->end - skb->tail);
}

void win_skb_push(const struct sk_buff *skb, unsigned int len)
{
	if (skb_windowed(skb))
		win_open(skb->data, len);
}

void win_skb_tail(const struct sk_buff *skb)
{
	if (skb_windowed(skb) && skb->tail <= skb->end)
		win_poison(skb_tail_pointer(skb), skb->end - skb->tail);
}

void win_skb_newhead(const struct sk_buff *skb, unsigned int nhead)
{
	if (!skb_windowed(skb))
		return;
	win_poison(skb->head, nhead);
	win_poison(skb_tail_pointer(skb), skb->end - skb->tail);
}

void win_skb_headroom(const struct sk_buff *skb)
{
	if (state() != WIN_OFF && skb->data > skb->head)
		win_open(skb->head, (size_t)(skb->data - skb->head));
}

void win_m_close(const struct mbuf *m)
{
	if (state() == WIN_OFF)
		return;
	for (; m; m = m->m_next) {
		if (!m_writable(m))
			continue;
		char *s = m_buf_start(m), *e = m_buf_end(m);
		char *d = m->m_data, *t = d + m->m_len;

		if (m->m_len < 0 || d < s || t > e)
			continue; /* not a window we understand: leave it open */
		win_poison(s, (size_t)(d - s));
		win_poison(t, (size_t)(e - t));
	}
}

void win_m_internal(const struct mbuf *m)
{
	if (state() != WIN_OFF && !(m->m_flags & M_EXT))
		win_open(m->m_dat, MLEN);
}

/* PKTMEM_POISON_WINDOWS=0 turns window poisoning off before main(). */
__attribute__((constructor)) static void windows_from_env(void)
{
	const char *v = getenv("PKTMEM_POISON_WINDOWS");

	if (v && strcmp(v, "0") == 0)
		pktmem_debug_set_windows(false);
}
#endif

void pktmem_debug_set_windows(bool on)
{
#if PKTMEM_WINDOWS
	if (on)
		atomic_store_explicit(&win_state, WIN_ON, memory_order_relaxed);
	else
		atomic_store_explicit(&win_state,
				      atomic_load_explicit(&win_used, memory_order_relaxed) ? WIN_HEAL : WIN_OFF,
				      memory_order_relaxed);
#else
	(void)on;
#endif
}

bool pktmem_debug_windows_enabled(void)
{
#if PKTMEM_WINDOWS
	return state() == WIN_ON;
#else
	return false;
#endif
}

void pktmem_window_open(const void *p, size_t len)
{
#if PKTMEM_WINDOWS
	/* Not limited to library memory: MEXTADD buffers are the caller's and
	 * get windows too. A range that wraps is refused. */
	if (!p || !len || state() == WIN_OFF)
		return;
	if (unlikely((uintptr_t)p + len - 1 < (uintptr_t)p)) {
		diag("pktmem_window_open", "%zu bytes at %p wrap around the address space; nothing opened", len, p);
		return;
	}
	win_open(p, len);
#else
	(void)p, (void)len;
#endif
}
