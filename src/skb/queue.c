/*
 * Locked sk_buff queues. The lock-free "__" variants are inline in the
 * header; these wrap them in the queue's mutex, so producers and consumers
 * on different threads may share a queue.
 */
#include "skb_impl.h"

void skb_queue_head_init(struct sk_buff_head *list)
{
	pthread_mutex_init(&list->lock, NULL);
	__skb_queue_head_init(list);
}

void skb_queue_tail(struct sk_buff_head *list, struct sk_buff *newsk)
{
	pthread_mutex_lock(&list->lock);
	__skb_queue_tail(list, newsk);
	pthread_mutex_unlock(&list->lock);
}

void skb_queue_head(struct sk_buff_head *list, struct sk_buff *newsk)
{
	pthread_mutex_lock(&list->lock);
	__skb_queue_head(list, newsk);
	pthread_mutex_unlock(&list->lock);
}

struct sk_buff *skb_dequeue(struct sk_buff_head *list)
{
	pthread_mutex_lock(&list->lock);
	struct sk_buff *skb = __skb_dequeue(list);

	pthread_mutex_unlock(&list->lock);
	return skb;
}

struct sk_buff *skb_dequeue_tail(struct sk_buff_head *list)
{
	pthread_mutex_lock(&list->lock);
	struct sk_buff *skb = __skb_dequeue_tail(list);

	pthread_mutex_unlock(&list->lock);
	return skb;
}

/*
 * Is @skb linked where its neighbours say (as list debugging checks)? An skb
 * on no queue has NULL links; one on another queue is not told apart.
 */
static bool linked(const struct sk_buff *skb)
{
	return skb->next && skb->prev && ((const struct sk_buff_list *)skb->next)->prev == skb &&
	       ((const struct sk_buff_list *)skb->prev)->next == skb;
}

void skb_unlink(struct sk_buff *skb, struct sk_buff_head *list)
{
	pthread_mutex_lock(&list->lock);
	if (unlikely(!linked(skb) || list->qlen == 0)) {
		uint32_t qlen = list->qlen;

		pthread_mutex_unlock(&list->lock);
		diag("skb_unlink", "skb %p is not on a queue (next %p, prev %p; list %p qlen %u)", (void *)skb,
		     (void *)skb->next, (void *)skb->prev, (void *)list, qlen);
		return;
	}
	__skb_unlink(skb, list);
	pthread_mutex_unlock(&list->lock);
}

void skb_queue_purge(struct sk_buff_head *list)
{
	struct sk_buff *skb;

	while ((skb = skb_dequeue(list)) != NULL)
		kfree_skb(skb);
}
