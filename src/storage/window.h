/*
 * Sanitizer windows of data areas: in an sk_buff head or an mbuf's buffer,
 * the bytes outside the valid window (headroom, tailroom, leading and
 * trailing space) are poisoned for ASan and no-access for memcheck, so that
 * a read past skb->len or m_len is reported. Only storage with a single
 * holder is poisoned (holders of shared storage see different windows);
 * storage is opened whole when it becomes shared and before it is freed.
 *
 * Every hook compiles to nothing unless the library is built with ASan or
 * with PKTMEM_VALGRIND; there it also obeys the run-time switch
 * (PKTMEM_POISON_WINDOWS, pktmem_debug_set_windows()).
 */
#ifndef PKTMEM_WINDOW_H
#define PKTMEM_WINDOW_H

#include "internal.h"

struct sk_buff;
struct mbuf;
struct pktmem_ext;

#if defined(PKTMEM_ASAN) || defined(PKTMEM_VALGRIND)
#define PKTMEM_WINDOWS 1

/* Open @n bytes at @p: addressable (and, for memcheck, defined). */
void win_open(const void *p, size_t n);
/* Storage @e is about to get a second holder, or be freed: open all of it. */
void win_ext_open(const struct pktmem_ext *e);

/* A new head (or one just set up around a caller's buffer): all poisoned. */
void win_skb_fresh(const struct sk_buff *skb);
/* skb_reserve(), on an empty skb: headroom and tailroom poisoned. */
void win_skb_reserve(const struct sk_buff *skb);
/* The tail grew from @old_tail: the new bytes opened, the tailroom poisoned. */
void win_skb_put(const struct sk_buff *skb, unsigned int old_tail);
/* The data grew by @len at the front: those bytes opened. */
void win_skb_push(const struct sk_buff *skb, unsigned int len);
/* The tail moved (trim, new head): the tailroom poisoned. */
void win_skb_tail(const struct sk_buff *skb);
/* A new head with @nhead fresh bytes of headroom in front of the copied ones. */
void win_skb_newhead(const struct sk_buff *skb, unsigned int nhead);
/* The library is about to read or write @skb's headroom (copies keep it). */
void win_skb_headroom(const struct sk_buff *skb);

/* Poison the space outside the window of every unshared mbuf of chain @m. */
void win_m_close(const struct mbuf *m);
/* @m's internal area is about to hold a header or m_ext: open it whole. */
void win_m_internal(const struct mbuf *m);

#else /* neither ASan nor memcheck: nothing at all */
#define PKTMEM_WINDOWS 0

static inline void win_open(const void *p, size_t n) { (void)p, (void)n; }
static inline void win_ext_open(const struct pktmem_ext *e) { (void)e; }
static inline void win_skb_fresh(const struct sk_buff *skb) { (void)skb; }
static inline void win_skb_reserve(const struct sk_buff *skb) { (void)skb; }
static inline void win_skb_put(const struct sk_buff *skb, unsigned int old_tail) { (void)skb, (void)old_tail; }
static inline void win_skb_push(const struct sk_buff *skb, unsigned int len) { (void)skb, (void)len; }
static inline void win_skb_tail(const struct sk_buff *skb) { (void)skb; }
static inline void win_skb_newhead(const struct sk_buff *skb, unsigned int nhead) { (void)skb, (void)nhead; }
static inline void win_skb_headroom(const struct sk_buff *skb) { (void)skb; }
static inline void win_m_close(const struct mbuf *m) { (void)m; }
static inline void win_m_internal(const struct mbuf *m) { (void)m; }
#endif

/* Return @m after closing its windows: for `return win_m_ret(result);`. */
static inline struct mbuf *win_m_ret(struct mbuf *m)
{
	win_m_close(m);
	return m;
}

#endif /* PKTMEM_WINDOW_H */
