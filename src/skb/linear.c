/*
 * The linear part of an sk_buff: reserve, put, push, pull, trim. These
 * move pointers only; overruns are programmer errors, reported as Linux's
 * skb_over_panic / skb_under_panic would, with the skb's lengths.
 */
#include "skb_impl.h"
#include "storage/window.h"

static __attribute__((cold, noinline)) void skb_panic(const struct sk_buff *skb, unsigned int len, const char *func,
							const char *what)
{
	diag(func, "%s: skb %p len %u put/push %u: head %p data %p tail %u end %u data_len %u", what,
	     (const void *)skb, skb->len, len, (void *)skb->head, (void *)skb->data, skb->tail, skb->end,
	     skb->data_len);
}

void (skb_reserve)(struct sk_buff *skb, int len)
{
	if (unlikely(len < 0 || skb->len != 0 || skb->tail + (unsigned int)len > skb->end)) {
		skb_panic(skb, (unsigned int)len, "skb_reserve", "reserve on a non-empty skb or past the end");
		return;
	}
	skb->data += len;
	skb->tail += (unsigned int)len;
	win_skb_reserve(skb);
}

static inline void *put_checked(struct sk_buff *skb, unsigned int len, const char *func)
{
	unsigned char *tmp = skb_tail_pointer(skb);

	if (unlikely(skb_is_nonlinear(skb))) {
		skb_panic(skb, len, func, "put on a nonlinear skb");
		return NULL;
	}
	if (unlikely(len > skb->end - skb->tail)) {
		skb_panic(skb, len, func, "skb_over_panic");
		return NULL;
	}
	skb->tail += len;
	skb->len += len;
	win_skb_put(skb, skb->tail - len);
	return tmp;
}

void *(skb_put)(struct sk_buff *skb, unsigned int len)
{
	return put_checked(skb, len, "skb_put");
}

/* Writing needs the head to ourselves: a clone (or an mbuf) may read it. */
static inline bool head_writable(struct sk_buff *skb, unsigned int len, const char *func)
{
	if (likely(head_private(skb)))
		return true;
	skb_panic(skb, len, func, "write into a shared head (skb_cow() first)");
	return false;
}

void *skb_put_data(struct sk_buff *skb, const void *data, unsigned int len)
{
	if (!head_writable(skb, len, "skb_put_data"))
		return NULL;

	void *p = put_checked(skb, len, "skb_put_data");

	if (p)
		memcpy(p, data, len);
	return p;
}

void *skb_put_zero(struct sk_buff *skb, unsigned int len)
{
	if (!head_writable(skb, len, "skb_put_zero"))
		return NULL;

	void *p = put_checked(skb, len, "skb_put_zero");

	if (p)
		memset(p, 0, len);
	return p;
}

void *(skb_push)(struct sk_buff *skb, unsigned int len)
{
	if (unlikely(len > skb_headroom(skb))) {
		skb_panic(skb, len, "skb_push", "skb_under_panic");
		return NULL;
	}
	skb->data -= len;
	skb->len += len;
	win_skb_push(skb, len);
	return skb->data;
}

void *(skb_pull)(struct sk_buff *skb, unsigned int len)
{
	if (unlikely(len > skb->len))
		return NULL;
	if (unlikely(len > skb_headlen(skb))) {
		skb_panic(skb, len, "skb_pull", "pull into the frags (use pskb_pull)");
		return NULL;
	}
	skb->len -= len;
	skb->data += len;
	return skb->data;
}

void skb_trim(struct sk_buff *skb, unsigned int len)
{
	if (skb->len <= len)
		return;
	if (unlikely(skb_is_nonlinear(skb))) {
		skb_panic(skb, len, "skb_trim", "trim of a nonlinear skb (use pskb_trim)");
		return;
	}
	skb->len = len;
	skb->tail = (unsigned int)(skb->data - skb->head) + len;
	win_skb_tail(skb);
}
