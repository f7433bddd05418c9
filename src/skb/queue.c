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

void skb_unlink(struct sk_buff *skb, struct sk_buff_head *list)
{
	pthread_mutex_lock(&list->lock);
	__skb_unlink(skb, list);
	pthread_mutex_unlock(&list->lock);
}

void skb_queue_purge(struct sk_buff_head *list)
{
	struct sk_buff *skb;

	while ((skb = skb_dequeue(list)) != NULL)
		kfree_skb(skb);
}
