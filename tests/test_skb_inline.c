/*
 * The header-inline fast paths of skb_reserve/skb_put/skb_push/skb_pull
 * against the exported functions they stand in front of, and the fields
 * skb_clone() and a fresh __alloc_skb() set now that they copy and zero
 * the struct in blocks rather than field by field.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <pktmem/pktmem.h>
#include <pktmem/skbuff.h>

#include "check.h"

static unsigned long long baseline;

/* Where an skb's pointers stand, relative to its own head. */
struct shape {
	long data, ret;
	unsigned int len, data_len, tail, end;
};

static struct shape shape_of(const struct sk_buff *skb, const void *ret)
{
	struct shape s = {
		.data = (long)(skb->data - skb->head),
		.ret = ret ? (long)((const unsigned char *)ret - skb->head) : -1,
		.len = skb->len,
		.data_len = skb->data_len,
		.tail = skb->tail,
		.end = skb->end,
	};
	return s;
}

static bool same_shape(struct shape a, struct shape b)
{
	return a.data == b.data && a.ret == b.ret && a.len == b.len && a.data_len == b.data_len &&
	       a.tail == b.tail && a.end == b.end;
}

enum op { OP_RESERVE, OP_PUT, OP_PUSH, OP_PULL, NR_OPS };

/* Run @op on @skb through the header (inline) or the exported function. */
static const void *run_op(enum op op, struct sk_buff *skb, unsigned int len, bool inline_path)
{
	switch (op) {
	case OP_RESERVE:
		if (inline_path)
			skb_reserve(skb, (int)len);
		else
			(skb_reserve)(skb, (int)len);
		return NULL;
	case OP_PUT:
		return inline_path ? skb_put(skb, len) : (skb_put)(skb, len);
	case OP_PUSH:
		return inline_path ? skb_push(skb, len) : (skb_push)(skb, len);
	default:
		return inline_path ? skb_pull(skb, len) : (skb_pull)(skb, len);
	}
}

/* Give @skb a state: @room of headroom, @body linear bytes, @fake bytes "in frags" set by hand. */
static void set_state(struct sk_buff *skb, unsigned int room, unsigned int body, unsigned int fake, bool bad)
{
	(skb_reserve)(skb, (int)room);
	(skb_put)(skb, body);
	skb->len += fake;
	skb->data_len = fake;
	if (bad) /* data_len above len: lengths a caller broke by hand */
		skb->len = fake / 2;
}

static const unsigned int lens[] = { 0, 1, 13, 14, 63, 64, 65, 100, 255, 256, 511, 512, 1000, 4000,
				     0x7fffffffu, 0x80000000u, 0xffffffffu };

/* Every op, length and state gives the same result, diagnostic and skb either way. */
static void test_inline_matches_out_of_line(void)
{
	static const unsigned int rooms[] = { 0, 14, 64, 300 }, bodies[] = { 0, 1, 60, 200 }, fakes[] = { 0, 40 };
	unsigned long cases = 0;

	for (int op = 0; op < NR_OPS; op++)
		for (size_t r = 0; r < sizeof(rooms) / sizeof(rooms[0]); r++)
			for (size_t b = 0; b < sizeof(bodies) / sizeof(bodies[0]); b++)
				for (size_t f = 0; f < sizeof(fakes) / sizeof(fakes[0]); f++)
					for (int bad = 0; bad <= (fakes[f] ? 1 : 0); bad++)
						for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
							struct sk_buff *a = alloc_skb(512, GFP_KERNEL);
							struct sk_buff *o = alloc_skb(512, GFP_KERNEL);

							set_state(a, rooms[r], bodies[b], fakes[f], bad);
							set_state(o, rooms[r], bodies[b], fakes[f], bad);
							CHECK(same_shape(shape_of(a, NULL), shape_of(o, NULL)));

							unsigned long d0 = diag_seen;
							const void *ra = run_op((enum op)op, a, lens[l], true);
							unsigned long da = diag_seen - d0;
							char fa[64];

							snprintf(fa, sizeof(fa), "%s", da ? diag_last_func : "");
							d0 = diag_seen;
							const void *ro = run_op((enum op)op, o, lens[l], false);
							unsigned long dn = diag_seen - d0;

							if (!same_shape(shape_of(a, ra), shape_of(o, ro)) || da != dn ||
							    (dn && strcmp(fa, diag_last_func) != 0)) {
								fprintf(stderr,
									"op %d room %u body %u fake %u bad %d len %u: "
									"inline ret %ld len %u data %ld diag %lu (%s), "
									"exported ret %ld len %u data %ld diag %lu (%s)\n",
									op, rooms[r], bodies[b], fakes[f], bad, lens[l],
									shape_of(a, ra).ret, a->len, shape_of(a, ra).data,
									da, fa, shape_of(o, ro).ret, o->len,
									shape_of(o, ro).data, dn, diag_last_func);
								CHECK(0);
							}
							cases++;
							a->len = a->data_len = 0; /* the hand-set lengths go */
							o->len = o->data_len = 0;
							kfree_skb(a);
							kfree_skb(o);
						}
	CHECK(cases > 1000);
	CHECK_EQ(all_in_use(), baseline);
}

/* The macros evaluate their arguments once, as the functions did. */
static void test_inline_single_evaluation(void)
{
	struct sk_buff *skbs[1];
	int i = 0;
	unsigned int n = 0;

	skbs[0] = alloc_skb(256, GFP_KERNEL);
	skb_reserve(skbs[i++], (int)(n += 32));
	CHECK_EQ(i, 1);
	CHECK_EQ(n, 32);
	i = 0;
	CHECK(skb_put(skbs[i++], n += 8) == skbs[0]->head + 32);
	CHECK_EQ(i, 1);
	CHECK_EQ(skbs[0]->len, 40);
	i = 0;
	CHECK(skb_push(skbs[i++], n -= 26) == skbs[0]->head + 18);
	CHECK_EQ(i, 1);
	CHECK_EQ(skbs[0]->len, 54);
	i = 0;
	CHECK(skb_pull(skbs[i++], n++) == skbs[0]->head + 32);
	CHECK_EQ(i, 1);
	CHECK_EQ(n, 15);
	CHECK_EQ(skbs[0]->len, 40);
	kfree_skb(skbs[0]);
	CHECK_EQ(all_in_use(), baseline);
}

static void noop_destructor(struct sk_buff *skb)
{
	(void)skb;
}

/* Set every field a caller may set to something other than zero. */
static void dirty(struct sk_buff *skb, struct sk_buff *link)
{
	skb->next = link;
	skb->prev = link;
	skb->dev = (struct net_device *)(uintptr_t)0x1000;
	skb->sk = (struct sock *)(uintptr_t)0x2000;
	memset(skb->cb, 0x5a, sizeof(skb->cb));
	skb->mac_len = 14;
	skb->hdr_len = 54;
	skb->protocol = 0x0800;
	skb->transport_header = 34;
	skb->network_header = 14;
	skb->mac_header = 0;
	skb->ip_summed = 3;
	skb->priority = 7;
	skb->mark = 0xabcdef;
	skb->destructor = noop_destructor;
}

static void check_clone_of(const struct sk_buff *n, const struct sk_buff *skb, unsigned int fclone)
{
	CHECK(n->next == NULL && n->prev == NULL);
	CHECK(n->sk == NULL);
	CHECK(n->destructor == NULL);
	CHECK_EQ(n->users, 1);
	CHECK_EQ(n->cloned, 1);
	CHECK_EQ(skb->cloned, 1);
	CHECK_EQ(n->fclone, fclone);
	CHECK(n->dev == skb->dev);
	CHECK(memcmp(n->cb, skb->cb, sizeof(n->cb)) == 0);
	CHECK_EQ(n->len, skb->len);
	CHECK_EQ(n->data_len, skb->data_len);
	CHECK_EQ(n->mac_len, skb->mac_len);
	CHECK_EQ(n->hdr_len, skb->hdr_len);
	CHECK_EQ(n->protocol, skb->protocol);
	CHECK_EQ(n->transport_header, skb->transport_header);
	CHECK_EQ(n->network_header, skb->network_header);
	CHECK_EQ(n->mac_header, skb->mac_header);
	CHECK_EQ(n->pfmemalloc, skb->pfmemalloc);
	CHECK_EQ(n->head_frag, skb->head_frag);
	CHECK_EQ(n->ip_summed, skb->ip_summed);
	CHECK_EQ(n->priority, skb->priority);
	CHECK_EQ(n->mark, skb->mark);
	CHECK_EQ(n->truesize, skb->truesize);
	CHECK_EQ(n->tail, skb->tail);
	CHECK_EQ(n->end, skb->end);
	CHECK(n->head == skb->head && n->data == skb->data && n->head_ext == skb->head_ext);
}

/* A clone copies what describes the packet and nothing of the original's links, socket or users. */
static void test_clone_fields(void)
{
	for (int fc = 0; fc <= 1; fc++) {
		struct sk_buff *skb = fc ? alloc_skb_fclone(300, GFP_KERNEL) : alloc_skb(300, GFP_KERNEL);
		struct sk_buff *other = alloc_skb(10, GFP_KERNEL);

		skb_reserve(skb, 40);
		memset(skb_put(skb, 100), 0xc3, 100);
		dirty(skb, other);
		skb_get(skb); /* users 2: not copied */

		struct sk_buff *n = skb_clone(skb, GFP_KERNEL);

		CHECK(n != NULL);
		check_clone_of(n, skb, fc ? SKB_FCLONE_CLONE : SKB_FCLONE_UNAVAILABLE);
		CHECK_EQ(pktmem_ext_refs(skb->head_ext), 2);

		/* A second clone of an fclone skb is an ordinary one. */
		struct sk_buff *n2 = skb_clone(skb, GFP_KERNEL);

		CHECK(n2 != NULL);
		check_clone_of(n2, skb, SKB_FCLONE_UNAVAILABLE);
		CHECK_EQ(pktmem_ext_refs(skb->head_ext), 3);
		kfree_skb(n2);
		kfree_skb(n);
		skb->next = skb->prev = NULL;
		skb->destructor = NULL;
		kfree_skb(skb);
		CHECK_EQ(skb->users, 1);
		kfree_skb(skb);
		kfree_skb(other);
	}
	CHECK_EQ(all_in_use(), baseline);
}

/* A fresh skb is zero but for what describes its head, even in an object a dirty skb left. */
static void test_fresh_fields(void)
{
	for (int fc = 0; fc <= 1; fc++) {
		for (int round = 0; round < 3; round++) {
			struct sk_buff *skb = fc ? alloc_skb_fclone(700, GFP_KERNEL) : alloc_skb(700, GFP_KERNEL);

			CHECK(skb->next == NULL && skb->prev == NULL && skb->dev == NULL && skb->sk == NULL);
			for (size_t i = 0; i < sizeof(skb->cb); i++)
				CHECK_EQ(skb->cb[i], 0);
			CHECK_EQ(skb->len, 0);
			CHECK_EQ(skb->data_len, 0);
			CHECK_EQ(skb->mac_len, 0);
			CHECK_EQ(skb->hdr_len, 0);
			CHECK_EQ(skb->protocol, 0);
			CHECK_EQ(skb->transport_header, 0xffff);
			CHECK_EQ(skb->network_header, 0xffff);
			CHECK_EQ(skb->mac_header, 0xffff);
			CHECK_EQ(skb->cloned, 0);
			CHECK_EQ(skb->pfmemalloc, 0);
			CHECK_EQ(skb->fclone, fc ? SKB_FCLONE_ORIG : SKB_FCLONE_UNAVAILABLE);
			CHECK_EQ(skb->head_frag, 0);
			CHECK_EQ(skb->ip_summed, 0);
			CHECK_EQ(skb->priority, 0);
			CHECK_EQ(skb->mark, 0);
			CHECK_EQ(skb->users, 1);
			CHECK(skb->destructor == NULL);
			CHECK_EQ(skb->tail, 0);
			CHECK(skb->end >= 700);
			CHECK(skb->data == skb->head && skb->head != NULL);
			CHECK(skb->head_ext != NULL && (unsigned char *)skb->head_ext->ext_buf == skb->head);
			CHECK(skb->truesize > skb->end + sizeof(struct sk_buff));
			CHECK_EQ(skb_shinfo(skb)->nr_frags, 0);
			CHECK(skb_shinfo(skb)->frag_list == NULL);

			/* Leave the object dirty for the next round (the cache hands it back first). */
			dirty(skb, NULL);
			skb->pfmemalloc = 1;
			skb->cloned = 1;
			skb->destructor = NULL;
			skb->cloned = 0;
			kfree_skb(skb);
		}
	}
	CHECK_EQ(all_in_use(), baseline);
}

int main(void)
{
	diag_capture();
	kfree_skb(alloc_skb(10, GFP_KERNEL));
	baseline = all_in_use();

	TEST(test_inline_matches_out_of_line);
	TEST(test_inline_single_evaluation);
	TEST(test_clone_fields);
	TEST(test_fresh_fields);
	return test_summary();
}
