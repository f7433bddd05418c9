/*
 * <pktmem/skbuff.h> given bad input: the rows of docs/bad-inputs/skbuff.md
 * that test_skb.c does not already prove. Each test feeds one kind of bad
 * input and asserts the failure contract: the return value or errno, the
 * diagnostic (function name and values), the caller's skb unchanged, and
 * nothing left in use in any cache.
 *
 * Inputs the library deliberately does not check (an inline accessor given
 * NULL, a queue link that is not there) are run in a child process, which
 * must not survive them: that is what the table promises for them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include <pktmem/mbuf.h>
#include <pktmem/skbuff.h>
#include <pktmem/slab.h>
#include <pktmem/pktmem.h>

#include "check.h"

/* ------------------------------------------------------------ helpers */

/*
 * NULL as the compiler cannot see it: a visible NULL dereference may be
 * turned into a trap or dropped, and the child cases below must really
 * make the access the library makes.
 */
static struct sk_buff *volatile nskb;
static struct sk_buff_head *volatile nlist;
static struct page *volatile npage;
static skb_frag_t *volatile nfrag;
static volatile unsigned long sink;

static unsigned long long baseline;

/* Every test ends here: nothing of ours is left in use anywhere. */
static void check_clean(void)
{
	CHECK_EQ(cache_in_use(pktmem_skbuff_cache()), 0);
	CHECK_EQ(cache_in_use(pktmem_skbuff_fclone_cache()), 0);
	CHECK_EQ(all_in_use(), baseline);
}

/* One more diagnostic from @func since @seen, whose message holds @text. */
static void check_diag(unsigned long seen, const char *func, const char *text)
{
	CHECK_EQ(diag_seen, seen + 1);
	CHECK(strcmp(diag_last_func, func) == 0);
	if (text && !strstr(diag_last_msg, text)) {
		fprintf(stderr, "diagnostic \"%s\" lacks \"%s\"\n", diag_last_msg, text);
		CHECK(!"diagnostic text");
	}
}

/* A linear skb: @headroom, then @len bytes 0, 1, 2, ... */
static struct sk_buff *linear_skb(unsigned headroom, unsigned len)
{
	struct sk_buff *skb = alloc_skb(headroom + len + 32, GFP_KERNEL);

	skb_reserve(skb, (int)headroom);
	uint8_t *p = skb_put(skb, len);

	for (unsigned i = 0; i < len; i++)
		p[i] = (uint8_t)i;
	return skb;
}

/* What an skb looks like from outside, to compare before and after a refused call. */
struct shape {
	unsigned char *head, *data;
	unsigned len, data_len, tail, end;
	int users, refs, nr_frags;
	uint8_t bytes[64];
};

static struct shape shape_of(const struct sk_buff *skb)
{
	struct shape s;

	memset(&s, 0, sizeof(s));
	s.head = skb->head;
	s.data = skb->data;
	s.len = skb->len;
	s.data_len = skb->data_len;
	s.tail = skb->tail;
	s.end = skb->end;
	s.users = skb->users;
	s.refs = pktmem_ext_refs(skb->head_ext);
	s.nr_frags = skb_shinfo(skb)->nr_frags;
	memcpy(s.bytes, skb->data, skb_headlen(skb) < 64 ? skb_headlen(skb) : 64);
	return s;
}

static bool same_shape(const struct sk_buff *skb, const struct shape *before)
{
	struct shape now = shape_of(skb);

	return memcmp(&now, before, sizeof(now)) == 0;
}

/*
 * Run @fn in a child process and report whether the child was stopped by
 * it (a signal, or a sanitizer's report and exit) instead of returning.
 * The child's stderr goes to /dev/null: a sanitizer's report is expected.
 */
static bool dies(void (*fn)(void))
{
	fflush(NULL);
	pid_t pid = fork();

	if (pid < 0)
		return false;
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		if (fd >= 0)
			dup2(fd, 2);
		fn();
		_exit(0);
	}
	int st;

	if (waitpid(pid, &st, 0) != pid)
		return false;
	return !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* ------------------------------------------------------------ allocation */

static void test_bad_alloc_sizes(void)
{
	/* A negative int passed as the size, and sizes no head can describe. */
	static const unsigned bad[] = { (unsigned)-1, (unsigned)-1500, UINT_MAX - 63, INT_MAX, INT_MAX - 63 };
	unsigned long seen = diag_seen;

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		CHECK(alloc_skb(bad[i], GFP_KERNEL) == NULL);
		CHECK_EQ(errno, ENOMEM);
		errno = 0;
		CHECK(alloc_skb_fclone(bad[i], GFP_ATOMIC) == NULL);
		CHECK_EQ(errno, ENOMEM);
		errno = 0;
		CHECK(__alloc_skb(bad[i], GFP_ATOMIC, SKB_ALLOC_RX, NUMA_NO_NODE) == NULL);
		CHECK_EQ(errno, ENOMEM);
		CHECK(pktmem_skb_head_cache(bad[i]) == NULL); /* beyond every class */
	}
	CHECK_EQ(diag_seen, seen); /* too big is a failure, not a programmer error */
	CHECK(pktmem_skb_head_cache(1500) != NULL);

	/* The largest class's neighbour still works: the cap is not a class limit. */
	struct sk_buff *skb = alloc_skb(100000, GFP_KERNEL);

	CHECK(skb && skb_tailroom(skb) >= 100000);
	kfree_skb(skb);
	check_clean();
}

static void test_bad_netdev_alloc(void)
{
	unsigned long seen = diag_seen;

	/* length + NET_SKB_PAD would wrap to a small head: refused, not a short skb. */
	static const unsigned bad[] = { UINT_MAX, UINT_MAX - NET_SKB_PAD + 1, (unsigned)-100 };

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		CHECK(netdev_alloc_skb(NULL, bad[i]) == NULL);
		CHECK_EQ(errno, ENOMEM);
		CHECK(__netdev_alloc_skb(NULL, bad[i], GFP_KERNEL) == NULL);
		CHECK(dev_alloc_skb(bad[i]) == NULL);
	}
	CHECK_EQ(diag_seen, seen);
	check_clean();
}

static void test_bad_frag_buffers(void)
{
	unsigned long seen = diag_seen;

	/* A zero-sized fragment is Linux's ZERO_SIZE_PTR: no byte, and build_skb refuses it. */
	void *z = netdev_alloc_frag(0);

	CHECK(z == (void *)16); /* ZERO_SIZE_PTR, see <pktmem/slab.h> */
	CHECK(build_skb(z, 0) == NULL);
	check_diag(seen, "build_skb", "not a buffer");
	skb_free_frag(z);
	skb_free_frag(NULL);
	CHECK_EQ(diag_seen, seen + 1);

	/* Freeing a stack buffer or an interior pointer: diagnosed by kfree, nothing freed. */
	char stack[64];
	char *f = netdev_alloc_frag(256);

	seen = diag_seen;
	skb_free_frag(stack);
	check_diag(seen, "kfree", "not allocated by kmalloc");
	skb_free_frag(f + 8); /* kfree hands it to its cache, which refuses it */
	check_diag(seen + 1, "kmem_cache_free", "inside");
	skb_free_frag(f);

	/* build_skb of a stack buffer: diagnosed, the buffer untouched. */
	memset(stack, 0x3c, sizeof(stack));
	seen = diag_seen;
	CHECK(build_skb(stack, sizeof(stack)) == NULL);
	check_diag(seen, "build_skb", NULL);
	CHECK(stack[0] == 0x3c && stack[63] == 0x3c);
	check_clean();
}

static void test_bad_atomic_masks(void)
{
	struct sk_buff *fc = alloc_skb_fclone(100, GFP_KERNEL);
	struct sk_buff *skb = linear_skb(16, 40);
	struct mbuf *m = m_gethdr(M_WAIT, MT_DATA);

	m->m_len = 20;
	m->m_pkthdr.len = 20;
	struct shape before = shape_of(skb);
	unsigned long long in_use = all_in_use();

	pktmem_atomic_begin();
	unsigned long seen = diag_seen;

	/* The fclone companion needs no allocation, but the mask is still a programmer error. */
	CHECK(skb_clone(fc, GFP_KERNEL) == NULL);
	check_diag(seen, "skb_clone", "atomic context");
	CHECK_EQ(pktmem_ext_refs(fc->head_ext), 1);

	CHECK_EQ(pskb_expand_head(skb, 16, 0, GFP_KERNEL), -ENOMEM);
	check_diag(seen + 1, "pskb_expand_head", "atomic context");
	CHECK(same_shape(skb, &before));

	CHECK(__netdev_alloc_skb(NULL, 100, GFP_KERNEL) == NULL);
	check_diag(seen + 2, "__alloc_skb", "atomic context");
	CHECK(skb_from_mbuf(m, 0, GFP_KERNEL) == NULL);
	check_diag(seen + 3, "__alloc_skb", "atomic context");
	CHECK(__alloc_skb(100, GFP_KERNEL, SKB_ALLOC_FCLONE | SKB_ALLOC_RX, 0) == NULL);
	check_diag(seen + 4, "__alloc_skb", "gfp");

	/* skb_share_check() drops the caller's reference even when the clone is refused. */
	skb_get(skb);
	CHECK(skb_share_check(skb, GFP_KERNEL) == NULL);
	check_diag(seen + 5, "skb_clone", "atomic context");
	CHECK_EQ(skb->users, 1);

	/* m_from_skb(M_WAIT) is refused by the mbuf allocator, nothing kept. */
	CHECK(m_from_skb(skb, M_WAIT) == NULL);
	check_diag(seen + 6, "m_from_skb", "atomic context");
	CHECK(same_shape(skb, &before));
	CHECK_EQ(all_in_use(), in_use);

	/* skb_unshare() consumes its skb in every case, a refused copy included. */
	struct sk_buff *c = skb_clone(skb, GFP_ATOMIC);

	CHECK(c != NULL);
	CHECK(skb_unshare(c, GFP_KERNEL) == NULL);
	CHECK_EQ(diag_seen, seen + 8);
	CHECK(strcmp(diag_last_func, "__alloc_skb") == 0);
	CHECK_EQ(pktmem_ext_refs(skb->head_ext), 1);
	pktmem_atomic_end();

	/* The same calls with GFP_ATOMIC work there. */
	pktmem_atomic_begin();
	c = skb_clone(fc, GFP_ATOMIC);
	CHECK(c != NULL);
	kfree_skb(c);
	CHECK_EQ(pskb_expand_head(skb, 16, 0, GFP_ATOMIC), 0);
	pktmem_atomic_end();

	m_freem(m);
	kfree_skb(skb);
	kfree_skb(fc);
	check_clean();
}

/* ------------------------------------------------------------ freeing */

static void test_bad_free_stack(void)
{
	struct sk_buff *real = linear_skb(0, 30);
	struct sk_buff copy = *real; /* a struct copy: the same head, not an object of ours */
	struct sk_buff zeroed;
	unsigned long seen = diag_seen;
	unsigned long long in_use = all_in_use();

	kfree_skb(&copy);
	check_diag(seen, "kfree_skb", "not an sk_buff of ours");
	CHECK_EQ(pktmem_ext_refs(real->head_ext), 1); /* the real skb's head is untouched */
	consume_skb(&copy);
	check_diag(seen + 1, "consume_skb", "not an sk_buff of ours");
	CHECK_EQ(all_in_use(), in_use);

	/* An fclone look-alike on the stack: the same. */
	copy.fclone = SKB_FCLONE_CLONE;
	kfree_skb(&copy);
	check_diag(seen + 2, "kfree_skb", "not an sk_buff of ours");
	CHECK_EQ(pktmem_ext_refs(real->head_ext), 1);

	/* A zeroed one (users 0) reads as freed already: diagnosed, nothing touched. */
	memset(&zeroed, 0, sizeof(zeroed));
	kfree_skb(&zeroed);
	check_diag(seen + 3, "kfree_skb", "freed again");

	CHECK(real->data[29] == 29);
	kfree_skb(real);
	check_clean();
}

static void test_bad_double_free(void)
{
#ifndef TEST_UNDER_ASAN
	if (TEST_UNDER_VALGRIND())
		return;
	/*
	 * consume_skb twice: diagnosed like kfree_skb, the head not put twice.
	 * In debug mode (PKTMEM_DEBUG=1) the freed sk_buff reads as the fill,
	 * and its record tells both frees apart, in debug mode's words.
	 */
	struct sk_buff *keep = linear_skb(0, 10);
	struct sk_buff *skb = skb_clone(keep, GFP_KERNEL);
	unsigned long seen = diag_seen;
	bool debug = pktmem_debug_enabled();

	consume_skb(skb);
	CHECK_EQ(pktmem_ext_refs(keep->head_ext), 1);
	consume_skb(skb);
	check_diag(seen, "consume_skb", debug ? "is freed already: freed at " : "freed again");
	kfree_skb(skb);
	check_diag(seen + 1, "kfree_skb", debug ? "is freed already: freed at " : "users 0");
	CHECK_EQ(pktmem_ext_refs(keep->head_ext), 1);
	CHECK(keep->data[9] == 9);

	/* An fclone pair's companion freed twice. */
	struct sk_buff *fc = alloc_skb_fclone(64, GFP_KERNEL), *c = skb_clone(fc, GFP_KERNEL);

	CHECK(c == fc + 1);
	kfree_skb(c);
	kfree_skb(c);
	check_diag(seen + 2, "kfree_skb", "freed again");
	CHECK_EQ(cache_in_use(pktmem_skbuff_fclone_cache()), 1);
	kfree_skb(fc);
	CHECK_EQ(cache_in_use(pktmem_skbuff_fclone_cache()), 0);

	/* A list with a member freed already, or a cycle: stops there, diagnosed. */
	struct sk_buff *a = alloc_skb(10, GFP_KERNEL), *b = alloc_skb(10, GFP_KERNEL);

	a->next = b;
	b->next = NULL;
	kfree_skb(b);
	kfree_skb_list(a); /* a freed; b is freed already */
	check_diag(seen + 3, "kfree_skb_list", "freed already");
	a = alloc_skb(10, GFP_KERNEL);
	a->next = a; /* a cycle: must end, not loop */
	kfree_skb_list(a);
	check_diag(seen + 4, "kfree_skb_list", "freed already");

	/*
	 * Debug mode: a freed sk_buff is filled with 0x6b, users included, so
	 * the object's debug record decides: the second free is diagnosed at
	 * the call with both sites, writes nothing, and the object comes back
	 * with its fill intact (no "written after free").
	 */
	bool was = debug_mode_set(true);

	skb = alloc_skb(10, GFP_KERNEL);
	kfree_skb(skb);
	seen = diag_seen;
	kfree_skb(skb);
	check_diag(seen, "kfree_skb", "is freed already: freed at ");
	CHECK(strstr(diag_last_msg, "used again at ") != NULL);
	struct sk_buff *list = alloc_skb(10, GFP_KERNEL);

	kfree_skb(list);
	kfree_skb_bulk(&list, 1);
	check_diag(seen + 1, "kfree_skb_bulk", "is freed already");
	/* A freed member of a list: its ->next is the fill, so the walk stops there. */
	struct sk_buff *head = alloc_skb(10, GFP_KERNEL), *gone = alloc_skb(10, GFP_KERNEL);

	head->next = gone;
	kfree_skb(gone);
	kfree_skb_list(head);
	check_diag(seen + 2, "kfree_skb_list", "skb in the list");
	CHECK(strstr(diag_last_msg, "is freed already: freed at ") != NULL);
	struct sk_buff *again = alloc_skb(10, GFP_KERNEL);

	CHECK_EQ(diag_seen, seen + 3);
	kfree_skb(again);
	pktmem_debug_set(false);

	/*
	 * skb_get() on a freed skb is not checked (Linux's refcount_t would
	 * warn): the count goes from 0 to 1 on an object its cache may hand
	 * out again. Put the count back so that the cache stays sound. Normal
	 * mode's, also under PKTMEM_DEBUG=1: in debug mode the count reads as
	 * the fill instead of 0.
	 */
	skb = alloc_skb(10, GFP_KERNEL);
	kfree_skb(skb);
	seen = diag_seen;
	CHECK(skb_get(skb) == skb);
	CHECK_EQ(skb->users, 1);
	CHECK_EQ(diag_seen, seen);
	CHECK_EQ(cache_in_use(pktmem_skbuff_cache()), 1); /* keep alone: the cache counts skb free */
	skb->users = 0;
	pktmem_debug_set(was);
	kfree_skb(keep);
	check_clean();
#endif
}

/* ------------------------------------------------------------ NULL and unchecked inputs */

static void null_skb_get(void) { skb_get(nskb); }
static void null_skb_shared(void) { sink = (unsigned long)skb_shared(nskb); }
static void null_skb_cloned(void) { sink = (unsigned long)skb_cloned(nskb); }
static void null_skb_header_cloned(void) { sink = (unsigned long)skb_header_cloned(nskb); }
static void null_skb_tail_pointer(void) { *(volatile unsigned char *)skb_tail_pointer(nskb) = 0; }
static void null_skb_end_pointer(void) { *(volatile unsigned char *)skb_end_pointer(nskb) = 0; }
static void null_skb_shinfo(void) { sink = skb_shinfo(nskb)->nr_frags; }
static void null_skb_headlen(void) { sink = skb_headlen(nskb); }
static void null_skb_is_nonlinear(void) { sink = skb_is_nonlinear(nskb); }
static void null_skb_headroom(void) { sink = skb_headroom(nskb); }
static void null_skb_tailroom(void) { sink = (unsigned long)skb_tailroom(nskb); }
static void null_skb_clone(void) { skb_clone(nskb, GFP_KERNEL); }
static void null_skb_copy(void) { skb_copy(nskb, GFP_KERNEL); }
static void null_pskb_copy(void) { pskb_copy(nskb, GFP_KERNEL); }
static void null_skb_share_check(void) { skb_share_check(nskb, GFP_KERNEL); }
static void null_skb_put(void) { skb_put(nskb, 1); }
static void null_skb_push(void) { skb_push(nskb, 1); }
static void null_skb_copy_bits(void) { char b[4]; skb_copy_bits(nskb, 0, b, 4); }
static void null_pskb_expand_head(void) { pskb_expand_head(nskb, 0, 0, GFP_KERNEL); }

/* NULL buffers with a length: not checked either (memcpy faults). */
static void *volatile nbuf;

static void null_copy_bits_to(void)
{
	struct sk_buff *skb = alloc_skb(64, GFP_KERNEL);

	skb_put(skb, 10);
	skb_copy_bits(skb, 0, nbuf, 10);
}

static void null_store_bits_from(void)
{
	struct sk_buff *skb = alloc_skb(64, GFP_KERNEL);

	skb_put(skb, 10);
	skb_store_bits(skb, 0, nbuf, 10);
}

static void null_put_data(void)
{
	skb_put_data(alloc_skb(64, GFP_KERNEL), nbuf, 10);
}

static void test_bad_null_skb(void)
{
	static void (*const fns[])(void) = {
		null_skb_get,        null_skb_shared,      null_skb_cloned,    null_skb_header_cloned,
		null_skb_tail_pointer, null_skb_end_pointer, null_skb_shinfo,  null_skb_headlen,
		null_skb_is_nonlinear, null_skb_headroom,    null_skb_tailroom, null_skb_clone,
		null_skb_copy,       null_skb_put,         null_skb_push,      null_skb_copy_bits,
		null_pskb_expand_head, null_pskb_copy,      null_skb_share_check, null_copy_bits_to,
		null_store_bits_from, null_put_data,
	};

	for (unsigned i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		if (!dies(fns[i])) {
			fprintf(stderr, "NULL skb case %u returned\n", i);
			CHECK(!"a NULL skb is dereferenced");
		}

	/* The functions that do take NULL. */
	unsigned long seen = diag_seen;

	kfree_skb(NULL);
	consume_skb(NULL);
	kfree_skb_list(NULL);
	CHECK(skb_unshare(NULL, GFP_KERNEL) == NULL);
	CHECK_EQ(diag_seen, seen);
	CHECK(m_from_skb(NULL, M_DONTWAIT) == NULL);
	check_diag(seen, "m_from_skb", "NULL");
	check_clean();
}

/* ------------------------------------------------------------ linear data */

static void test_bad_linear(void)
{
	struct sk_buff *skb = linear_skb(16, 40);
	struct shape before = shape_of(skb);
	unsigned long seen = diag_seen;

	/* skb_reserve: negative, past the end (empty skb), and on data. */
	struct sk_buff *e = alloc_skb(100, GFP_KERNEL);
	struct shape e0 = shape_of(e);

	skb_reserve(e, -1);
	check_diag(seen, "skb_reserve", "put/push 4294967295");
	skb_reserve(e, (int)e->end + 1);
	check_diag(seen + 1, "skb_reserve", "past the end");
	skb_reserve(e, INT_MAX);
	CHECK_EQ(diag_seen, seen + 3);
	CHECK(same_shape(e, &e0));
	skb_reserve(e, (int)e->end); /* exactly the whole head is fine */
	CHECK_EQ(skb_tailroom(e), 0);
	CHECK_EQ(diag_seen, seen + 3);
	kfree_skb(e);
	skb_reserve(skb, 4);
	check_diag(seen + 3, "skb_reserve", "len 40");
	CHECK(same_shape(skb, &before));

	/* A negative int as a length: a huge unsigned, refused whole. */
	seen = diag_seen;
	CHECK(skb_put(skb, (unsigned)-1) == NULL);
	check_diag(seen, "skb_put", "skb_over_panic");
	CHECK(skb_push(skb, (unsigned)-1) == NULL);
	check_diag(seen + 1, "skb_push", "skb_under_panic");
	CHECK(skb_push(skb, 17) == NULL); /* one more than the headroom */
	check_diag(seen + 2, "skb_push", "push 17");
	CHECK(skb_pull(skb, (unsigned)-1) == NULL);
	CHECK(skb_pull(skb, 41) == NULL);
	CHECK_EQ(diag_seen, seen + 3); /* skb_pull past len is a plain failure */
	CHECK(skb_put_zero(skb, (unsigned)-1) == NULL);
	CHECK(skb_put_data(skb, "x", (unsigned)-1) == NULL);
	CHECK_EQ(diag_seen, seen + 5);
	CHECK(same_shape(skb, &before));

	/* skb_trim of a nonlinear skb: diagnosed (pskb_trim's job), unchanged. */
	struct sk_buff *nl = alloc_skb(64, GFP_KERNEL);

	memset(skb_put(nl, 10), 1, 10);
	skb_add_rx_frag(nl, 0, alloc_page(GFP_KERNEL), 0, 100, PAGE_SIZE);
	struct shape nl0 = shape_of(nl);

	seen = diag_seen;
	skb_trim(nl, 5);
	check_diag(seen, "skb_trim", "nonlinear");
	CHECK(same_shape(nl, &nl0));
	CHECK_EQ(pskb_trim(nl, 500), 0); /* longer than the packet: nothing */
	CHECK(same_shape(nl, &nl0));

	/* skb_linearize / pskb_may_pull of an skb whose data_len is more than its frags hold. */
	nl->len += 50;
	nl->data_len += 50;
	nl0 = shape_of(nl);
	CHECK_EQ(skb_linearize(nl), -EFAULT);
	CHECK(same_shape(nl, &nl0));
	/* The pull may first give the head more room: the lengths and bytes stay. */
	CHECK(!pskb_may_pull(nl, nl->len));
	CHECK(pskb_pull(nl, nl->len) == NULL);
	CHECK(nl->len == 160 && nl->data_len == 150 && skb_shinfo(nl)->nr_frags == 1);
	CHECK(nl->data[0] == 1 && nl->data[9] == 1);
	CHECK_EQ(diag_seen, seen + 1);
	nl->len -= 50;
	nl->data_len -= 50;
	kfree_skb(nl);
	kfree_skb(skb);
	check_clean();
}

static void test_bad_expand(void)
{
	struct sk_buff *skb = linear_skb(16, 40);
	struct shape before = shape_of(skb);
	unsigned long seen = diag_seen;

	/* Shared (users 2): a programmer error, -EINVAL, unchanged. */
	skb_get(skb);
	before = shape_of(skb);
	CHECK_EQ(pskb_expand_head(skb, 0, 0, GFP_KERNEL), -EINVAL);
	check_diag(seen, "pskb_expand_head", "users 2");
	CHECK(same_shape(skb, &before));
	kfree_skb(skb);
	before = shape_of(skb);

	/* Negative room. */
	CHECK_EQ(pskb_expand_head(skb, -1, 0, GFP_KERNEL), -EINVAL);
	check_diag(seen + 1, "pskb_expand_head", "nhead -1");
	CHECK_EQ(pskb_expand_head(skb, 0, -64, GFP_KERNEL), -EINVAL);
	check_diag(seen + 2, "pskb_expand_head", "ntail -64");
	CHECK(same_shape(skb, &before));

	/* More room than a head can describe: -ENOMEM, unchanged, nothing kept. */
	unsigned long long in_use = all_in_use();

	CHECK_EQ(pskb_expand_head(skb, INT_MAX, INT_MAX, GFP_KERNEL), -ENOMEM);
	CHECK_EQ(pskb_expand_head(skb, INT_MAX, 0, GFP_KERNEL), -ENOMEM);
	CHECK_EQ(pskb_expand_head(skb, 0, INT_MAX, GFP_KERNEL), -ENOMEM);
	CHECK(same_shape(skb, &before));

	/* skb_cow / skb_cow_head / skb_realloc_headroom with such a headroom (a negative int, too). */
	static const unsigned huge[] = { (unsigned)-1, (unsigned)INT_MAX + 1, INT_MAX, INT_MAX - 10 };

	for (unsigned i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		CHECK_EQ(skb_cow(skb, huge[i]), -ENOMEM);
		CHECK_EQ(skb_cow_head(skb, huge[i]), -ENOMEM);
		CHECK(skb_realloc_headroom(skb, huge[i]) == NULL);
		CHECK(same_shape(skb, &before));
	}
	CHECK_EQ(diag_seen, seen + 3);
	CHECK_EQ(all_in_use(), in_use);

	/* ... and on a clone, the other holder keeps its head. */
	struct sk_buff *c = skb_clone(skb, GFP_KERNEL);

	CHECK_EQ(skb_cow(c, (unsigned)-1), -ENOMEM);
	CHECK(c->head == skb->head && skb_cloned(c));
	kfree_skb(c);
	kfree_skb(skb);
	check_clean();
}

/* ------------------------------------------------------------ fragments and bytes */

static void test_bad_bits(void)
{
	struct sk_buff *skb = linear_skb(16, 40);
	uint8_t buf[64], junk[64];

	skb_add_rx_frag(skb, 0, alloc_page(GFP_KERNEL), 0, 60, PAGE_SIZE);
	memset(skb_frag_address(&skb_shinfo(skb)->frags[0]), 0x11, 60);
	memset(junk, 0xee, sizeof(junk));
	pktmem_window_open(skb->head, 16); /* the headroom, primed to prove it stays unchanged */
	memset(skb->head, 0x22, 16);
	struct shape before = shape_of(skb);
	unsigned long seen = diag_seen;

	/* Reads: offset past the end, before the headroom, negative length; the buffer untouched. */
	static const int bad[][2] = { { 100, 1 }, { 101, 0 }, { 99, 2 }, { 0, 101 }, { -17, 4 },
				      { INT_MIN, 4 }, { 0, -1 }, { INT_MAX, 1 }, { 1, INT_MAX } };

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(buf, 0x5a, sizeof(buf));
		CHECK_EQ(skb_copy_bits(skb, bad[i][0], buf, bad[i][1]), -EFAULT);
		CHECK(buf[0] == 0x5a && buf[63] == 0x5a);
		CHECK_EQ(skb_store_bits(skb, bad[i][0], junk, bad[i][1]), -EFAULT);
	}
	/* A store may not start in the headroom (a read may). */
	CHECK_EQ(skb_store_bits(skb, -4, junk, 8), -EFAULT);
	CHECK_EQ(skb_store_bits(skb, -1, junk, 0), -EFAULT);
	CHECK_EQ(skb_copy_bits(skb, -4, buf, 8), 0);
	CHECK(buf[0] == 0x22 && buf[4] == 0);
	CHECK(same_shape(skb, &before));
	CHECK(skb->head[15] == 0x22);
	CHECK(*(uint8_t *)skb_frag_address(&skb_shinfo(skb)->frags[0]) == 0x11);
	CHECK_EQ(diag_seen, seen); /* range errors are returns, not diagnostics */
	kfree_skb(skb);
	check_clean();
}

static void test_bad_frags(void)
{
	struct sk_buff *skb = alloc_skb(64, GFP_KERNEL);
	struct page *pg = alloc_page(GFP_KERNEL);
	unsigned long seen = diag_seen;

	/* Slot numbers out of range, sizes that are negative ints, ranges past the page. */
	skb_fill_page_desc(skb, MAX_SKB_FRAGS + 1, pg, 0, 10);
	check_diag(seen, "skb_fill_page_desc", "max 17");
	skb_fill_page_desc(skb, INT_MIN, pg, 0, 10);
	skb_fill_page_desc(skb, 1, pg, 0, 10); /* past nr_frags 0 */
	skb_fill_page_desc(skb, 0, pg, 0, -1);
	skb_fill_page_desc(skb, 0, pg, INT_MAX, 10);
	skb_fill_page_desc(skb, 0, pg, PAGE_SIZE, 1);
	skb_add_rx_frag(skb, 0, pg, 0, INT_MIN, 10);
	skb_add_rx_frag(skb, 0, pg, 10, PAGE_SIZE - 9, 10);
	CHECK_EQ(diag_seen, seen + 8);
	CHECK(strcmp(diag_last_func, "skb_add_rx_frag") == 0);
	CHECK_EQ(skb_shinfo(skb)->nr_frags, 0);
	CHECK_EQ(skb->len, 0);
	CHECK_EQ(page_count(pg), 1);

	/* More than MAX_SKB_FRAGS: the 18th slot is refused, the 17 kept. */
	for (int i = 0; i < MAX_SKB_FRAGS; i++) {
		get_page(pg);
		skb_add_rx_frag(skb, i, pg, i, 1, 1);
	}
	seen = diag_seen;
	skb_add_rx_frag(skb, MAX_SKB_FRAGS, pg, 0, 1, 1);
	check_diag(seen, "skb_add_rx_frag", "frag 17");
	CHECK_EQ(skb_shinfo(skb)->nr_frags, MAX_SKB_FRAGS);
	CHECK_EQ(skb->len, MAX_SKB_FRAGS);
	CHECK_EQ(page_count(pg), 1 + MAX_SKB_FRAGS);

	/* The inline size helpers do not check: sizes wrap as unsigned ints, as in Linux. */
	skb_frag_t f = { pg, 5, 0 };

	skb_frag_size_sub(&f, 6);
	CHECK_EQ(skb_frag_size(&f), UINT_MAX);
	skb_frag_size_add(&f, 2);
	CHECK_EQ(skb_frag_size(&f), 1);
	skb_frag_off_add(&f, -1);
	CHECK_EQ(skb_frag_off(&f), UINT_MAX);
	skb_frag_off_set(&f, PAGE_SIZE * 2); /* past the page: stored, not checked */
	CHECK_EQ(skb_frag_off(&f), PAGE_SIZE * 2);
	skb_frag_size_set(&f, UINT_MAX);
	CHECK_EQ(skb_frag_size(&f), UINT_MAX);
	__skb_frag_set_page(&f, NULL);
	CHECK(skb_frag_page(&f) == NULL);
	kfree_skb(skb);
	CHECK_EQ(page_count(pg), 1);
	__free_page(pg);
	check_clean();
}

static void frag_ref_empty_slot(void)
{
	struct sk_buff *skb = alloc_skb(64, GFP_KERNEL);

	skb_shinfo(skb)->frags[3].bv_page = npage; /* slot 3 is beyond nr_frags 0 */
	skb_frag_ref(skb, 3);
}

static void frag_address_no_page(void)
{
	skb_frag_t f = { npage, 10, 0 };

	*(volatile char *)skb_frag_address(&f) = 0;
}

static void frag_ref_no_page(void)
{
	skb_frag_t f = { npage, 10, 0 };

	__skb_frag_ref(&f);
}

static void frag_page_null(void) { sink = (unsigned long)skb_frag_page(nfrag); }
static void frag_size_null(void) { sink = skb_frag_size(nfrag); }
static void frag_off_null(void) { sink = skb_frag_off(nfrag); }

static void test_bad_frag_inline(void)
{
	CHECK(dies(frag_ref_empty_slot));
	CHECK(dies(frag_address_no_page));
	CHECK(dies(frag_ref_no_page));

	/* Dropping: put_page(NULL) is a no-op, so an empty slot costs nothing... */
	struct sk_buff *skb = alloc_skb(64, GFP_KERNEL);
	skb_frag_t f = { npage, 10, 0 };

	__skb_frag_unref(&f);
	skb_shinfo(skb)->frags[2].bv_page = npage;
	skb_frag_unref(skb, 2);
	/* ... but a stale page left in a slot past nr_frags loses a reference it was never given. */
	struct page *pg = alloc_page(GFP_KERNEL);

	get_page(pg);
	skb_shinfo(skb)->frags[5].bv_page = pg;
	skb_frag_unref(skb, 5);
	CHECK_EQ(page_count(pg), 1);
	CHECK_EQ(skb_shinfo(skb)->nr_frags, 0);
	__free_page(pg);
	kfree_skb(skb);
	CHECK(dies(frag_page_null));
	CHECK(dies(frag_size_null));
	CHECK(dies(frag_off_null));
	check_clean();
}

/* ------------------------------------------------------------ queues */

static void unlink_unqueued(void)
{
	struct sk_buff_head q;
	struct sk_buff *skb = alloc_skb(10, GFP_KERNEL);

	__skb_queue_head_init(&q);
	__skb_unlink(skb, &q); /* next and prev are NULL */
}

static void queue_twice(void)
{
	struct sk_buff_head q;
	struct sk_buff *skb = alloc_skb(10, GFP_KERNEL);

	__skb_queue_head_init(&q);
	__skb_queue_tail(&q, skb);
	__skb_queue_tail(&q, skb); /* already on it: the links now point at itself */
	if (skb_queue_len(&q) != 2)
		_exit(0); /* not the corruption we describe: make the CHECK fail */
	while (__skb_dequeue(&q))
		;
}

/* The locked variants: the same corruption under the lock. */
static void queue_head_twice_locked(void)
{
	struct sk_buff_head q;
	struct sk_buff *skb = alloc_skb(10, GFP_KERNEL);

	skb_queue_head_init(&q);
	skb_queue_head(&q, skb);
	skb_queue_head(&q, skb);
	if (skb_queue_len(&q) != 2)
		_exit(0);
	while (skb_dequeue(&q))
		;
}

static void queue_head_twice(void)
{
	struct sk_buff_head q;
	struct sk_buff *skb = alloc_skb(10, GFP_KERNEL);

	__skb_queue_head_init(&q);
	__skb_queue_head(&q, skb);
	__skb_queue_head(&q, skb);
	if (skb_queue_len(&q) != 2)
		_exit(0);
	while (__skb_dequeue_tail(&q))
		;
}

static void queue_tail_twice_locked(void)
{
	struct sk_buff_head q;
	struct sk_buff *skb = alloc_skb(10, GFP_KERNEL);

	skb_queue_head_init(&q);
	skb_queue_tail(&q, skb);
	skb_queue_tail(&q, skb);
	if (skb_queue_len(&q) != 2)
		_exit(0);
	while (skb_dequeue_tail(&q))
		;
}

static void queue_null_list(void)
{
	sink = skb_queue_len(nlist);
}

static void peek_null_list(void)
{
	sink = (unsigned long)skb_peek(nlist);
}

static void peek_tail_null_list(void)
{
	sink = (unsigned long)skb_peek_tail(nlist);
}

static void empty_null_list(void)
{
	sink = skb_queue_empty(nlist);
}

static void test_bad_queue(void)
{
	struct sk_buff_head q, other;
	struct sk_buff *a = alloc_skb(10, GFP_KERNEL), *b = alloc_skb(10, GFP_KERNEL);
	unsigned long seen = diag_seen;

	skb_queue_head_init(&q);
	skb_queue_head_init(&other);
	skb_queue_tail(&q, a);

	/* skb_unlink of an skb on no queue: diagnosed, the queue unchanged. */
	skb_unlink(b, &q);
	check_diag(seen, "skb_unlink", "not on a queue");
	CHECK_EQ(skb_queue_len(&q), 1);
	CHECK(skb_peek(&q) == a && skb_peek_tail(&q) == a);
	CHECK(b->next == NULL && b->prev == NULL);
	/* ... or of one on a queue whose count says it is empty. */
	skb_unlink(a, &other);
	check_diag(seen + 1, "skb_unlink", "qlen 0");
	CHECK_EQ(skb_queue_len(&q), 1);
	CHECK(skb_peek(&q) == a);

	/* Empty queues: NULL from every dequeue and peek. */
	CHECK(skb_dequeue(&other) == NULL && skb_dequeue_tail(&other) == NULL);
	CHECK(__skb_dequeue(&other) == NULL && __skb_dequeue_tail(&other) == NULL);
	CHECK(skb_peek(&other) == NULL && skb_peek_tail(&other) == NULL);
	CHECK(skb_queue_empty(&other));
	CHECK_EQ(diag_seen, seen + 2);

	/* Re-initialising a queue that holds skbs forgets them (not freed): the caller's. */
	pthread_mutex_destroy(&q.lock);
	skb_queue_head_init(&q);
	CHECK(skb_queue_empty(&q));
	CHECK_EQ(skb_queue_len(&q), 0);
	CHECK_EQ(cache_in_use(pktmem_skbuff_cache()), 2);
	__skb_queue_tail(&other, b);
	__skb_queue_head_init(&other);
	CHECK(skb_queue_empty(&other));
	CHECK_EQ(cache_in_use(pktmem_skbuff_cache()), 2);
	b->next = b->prev = NULL;
	a->next = a->prev = NULL;

	/* Purging a queue whose skb someone else also holds drops only the queue's reference. */
	skb_get(a);
	skb_queue_tail(&q, a);
	__skb_queue_tail(&other, b);
	skb_get(b);
	skb_queue_purge(&q);
	__skb_queue_purge(&other);
	CHECK_EQ(a->users, 1);
	CHECK_EQ(b->users, 1);
	CHECK_EQ(cache_in_use(pktmem_skbuff_cache()), 2);
	kfree_skb(a);
	kfree_skb(b);
	pthread_mutex_destroy(&q.lock);
	pthread_mutex_destroy(&other.lock);

	/* The lock-free inline variants check nothing, as in Linux. */
	CHECK(dies(unlink_unqueued));
	CHECK(dies(queue_twice));
	CHECK(dies(queue_head_twice));
	CHECK(dies(queue_head_twice_locked));
	CHECK(dies(queue_tail_twice_locked));
	CHECK(dies(queue_null_list));
	CHECK(dies(peek_null_list));
	CHECK(dies(peek_tail_null_list));
	CHECK(dies(empty_null_list));
	check_clean();
}

static void locked_queue_null_list(void)
{
	skb_queue_tail(nlist, alloc_skb(10, GFP_KERNEL));
}

static void insert_null_neighbour(void)
{
	struct sk_buff_head q;

	__skb_queue_head_init(&q);
	__skb_insert(alloc_skb(10, GFP_KERNEL), nskb, (struct sk_buff *)&q, &q);
}

static void head_init_null(void)
{
	__skb_queue_head_init(nlist);
}

static void test_bad_queue_null(void)
{
	CHECK(dies(locked_queue_null_list));
	CHECK(dies(insert_null_neighbour));
	CHECK(dies(head_init_null));
	check_clean();
}

/* ------------------------------------------------------------ conversions */

static void test_bad_conversions(void)
{
	struct mbuf *m = m_gethdr(M_WAIT, MT_DATA), *c = m_get(M_WAIT, MT_DATA);
	unsigned long seen = diag_seen;

	MCLGET(c, M_WAIT);
	unsigned long long in_use = all_in_use();

	m->m_len = 30;
	c->m_len = 100;
	m->m_next = c;
	m->m_pkthdr.len = 130;

	/* A negative m_len anywhere in the chain: diagnosed, EINVAL, the chain unchanged. */
	c->m_len = -1;
	errno = 0;
	CHECK(skb_from_mbuf(m, 0, GFP_KERNEL) == NULL);
	CHECK_EQ(errno, EINVAL);
	check_diag(seen, "skb_from_mbuf", "m_len -1");
	c->m_len = 100;
	m->m_len = INT_MIN;
	CHECK(skb_from_mbuf(m, 0, GFP_KERNEL) == NULL);
	check_diag(seen + 1, "skb_from_mbuf", "m_len -2147483648");
	m->m_len = 30;
	CHECK_EQ(all_in_use(), in_use);
	CHECK_EQ(pktmem_ext_refs(c->m_ext.ext_storage), 1);

	/* A headroom that is a negative int, or too big for a head: ENOMEM, nothing kept. */
	static const unsigned huge[] = { (unsigned)-1, UINT_MAX - 10, INT_MAX };

	for (unsigned i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		errno = 0;
		CHECK(skb_from_mbuf(m, huge[i], GFP_KERNEL) == NULL);
		CHECK_EQ(errno, ENOMEM);
	}
	CHECK_EQ(diag_seen, seen + 2);
	CHECK_EQ(all_in_use(), in_use);
	CHECK_EQ(pktmem_ext_refs(c->m_ext.ext_storage), 1);

	/* A bad wait flag to m_from_skb: diagnosed, nothing shared. */
	struct sk_buff *skb = skb_from_mbuf(m, 16, GFP_KERNEL);

	CHECK(skb != NULL);
	CHECK(m_from_skb(skb, -1) == NULL);
	check_diag(seen + 2, "m_from_skb", "wait flag -1");
	CHECK_EQ(pktmem_ext_refs(skb->head_ext), 1);
	kfree_skb(skb);
	m_freem(m);
	check_clean();
}

int main(void)
{
	diag_capture();
	kfree_skb(alloc_skb(10, GFP_KERNEL));
	m_freem(m_gethdr(M_WAIT, MT_DATA));
	kfree(kmalloc(100, GFP_KERNEL));
	baseline = all_in_use();

	TEST(test_bad_alloc_sizes);
	TEST(test_bad_netdev_alloc);
	TEST(test_bad_frag_buffers);
	TEST(test_bad_atomic_masks);
	TEST(test_bad_free_stack);
	TEST(test_bad_double_free);
	TEST(test_bad_null_skb);
	TEST(test_bad_linear);
	TEST(test_bad_expand);
	TEST(test_bad_bits);
	TEST(test_bad_frags);
	TEST(test_bad_frag_inline);
	TEST(test_bad_queue);
	TEST(test_bad_queue_null);
	TEST(test_bad_conversions);
	return test_summary();
}
