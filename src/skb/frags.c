/*
 * Page fragments and the nonlinear operations: reading and writing across
 * head, frags and frag_list, trimming, and pulling bytes from the frags
 * into the head. A write or a change of the shared info needs the head to
 * ourselves: when it is shared, the operation first takes a private head
 * (pskb_expand_head), as Linux does, or refuses where Linux has no
 * allocation in its contract.
 */
#include <errno.h>

#include "skb_impl.h"
#include "storage/window.h"

static bool frag_args_ok(struct sk_buff *skb, int i, struct page *page, int off, int size, const char *func)
{
	struct skb_shared_info *sh = skb_shinfo(skb);

	if (unlikely(i < 0 || i >= MAX_SKB_FRAGS || i > sh->nr_frags || !page || off < 0 || size < 0 ||
		     (size_t)off + (size_t)size > page->ext.ext_size)) {
		diag(func, "skb %p: frag %d (nr_frags %u, max %d), page %p, off %d, size %d", (void *)skb, i,
		     sh->nr_frags, MAX_SKB_FRAGS, (void *)page, off, size);
		return false;
	}
	if (unlikely(!head_private(skb))) {
		diag(func, "skb %p: shared info is shared with a clone (frag %d)", (void *)skb, i);
		return false;
	}
	return true;
}

/*
 * Set fragment @i; nr_frags becomes i + 1, so the fragments from @i on that
 * it replaces are dropped (their page references put). Returns their bytes.
 */
static unsigned int fill_desc(struct skb_shared_info *sh, int i, struct page *page, int off, int size)
{
	unsigned int dropped = 0;

	for (int j = i; j < sh->nr_frags; j++) {
		dropped += sh->frags[j].bv_len;
		put_page(sh->frags[j].bv_page);
	}
	sh->frags[i].bv_page = page;
	sh->frags[i].bv_offset = (unsigned int)off;
	sh->frags[i].bv_len = (unsigned int)size;
	sh->nr_frags = (uint8_t)(i + 1);
	return dropped;
}

void skb_fill_page_desc(struct sk_buff *skb, int i, struct page *page, int off, int size)
{
	if (frag_args_ok(skb, i, page, off, size, "skb_fill_page_desc"))
		fill_desc(skb_shinfo(skb), i, page, off, size);
}

void skb_add_rx_frag(struct sk_buff *skb, int i, struct page *page, int off, int size, unsigned int truesize)
{
	if (!frag_args_ok(skb, i, page, off, size, "skb_add_rx_frag"))
		return;

	/* Replaced fragments leave the packet: the lengths stay true. */
	unsigned int dropped = fill_desc(skb_shinfo(skb), i, page, off, size);

	skb->len = skb->len - dropped + (unsigned int)size;
	skb->data_len = skb->data_len - dropped + (unsigned int)size;
	skb->truesize += truesize;
}

/*
 * Walk [offset, offset + len) of the packet, calling @fn on each piece with
 * its address, its length, the piece's writability and @arg. Shared by
 * skb_copy_bits() and skb_store_bits(). @parent_private: the shared info
 * that holds @skb (as a frag_list member) is ours alone; a member reached
 * through a shared info a clone also sees, or one with a second user
 * (pskb_copy), is shared however its own storage is counted.
 */
typedef int (*piece_fn)(unsigned char *p, int n, bool writable, void *arg);

static int walk(const struct sk_buff *skb, int offset, int len, bool parent_private, piece_fn fn, void *arg)
{
	int start = (int)skb_headlen(skb), copy;
	bool mine = parent_private && head_private(skb);

	if ((copy = start - offset) > 0) {
		if (copy > len)
			copy = len;
		int rc = fn(skb->data + offset, copy, mine, arg);

		if (rc)
			return rc;
		if ((len -= copy) == 0)
			return 0;
		offset += copy;
	}
	const struct skb_shared_info *sh = skb_shinfo(skb);

	for (int i = 0; i < sh->nr_frags; i++) {
		int end = start + (int)sh->frags[i].bv_len;

		if ((copy = end - offset) > 0) {
			if (copy > len)
				copy = len;
			int rc = fn((unsigned char *)skb_frag_address(&sh->frags[i]) + (offset - start), copy,
				    mine && frag_writable(&sh->frags[i]), arg);

			if (rc)
				return rc;
			if ((len -= copy) == 0)
				return 0;
			offset += copy;
		}
		start = end;
	}
	for (const struct sk_buff *f = sh->frag_list; f; f = f->next) {
		int end = start + (int)f->len;

		if ((copy = end - offset) > 0) {
			if (copy > len)
				copy = len;
			int rc = walk(f, offset - start, copy, mine && !skb_shared(f), fn, arg);

			if (rc)
				return rc;
			if ((len -= copy) == 0)
				return 0;
			offset += copy;
		}
		start = end;
	}
	return len ? -EFAULT : 0;
}

static int copy_out(unsigned char *p, int n, bool writable, void *arg)
{
	unsigned char **to = arg;

	(void)writable;
	memcpy(*to, p, (size_t)n);
	*to += n;
	return 0;
}

static int check_writable(unsigned char *p, int n, bool writable, void *arg)
{
	(void)p, (void)n, (void)arg;
	return writable ? 0 : -EFAULT;
}

static int copy_in(unsigned char *p, int n, bool writable, void *arg)
{
	const unsigned char **from = arg;

	(void)writable;
	memcpy(p, *from, (size_t)n);
	*from += n;
	return 0;
}

static bool range_ok(const struct sk_buff *skb, int offset, int len)
{
	/* Reads may start in the headroom (skb_copy() copies it too). */
	return len >= 0 && offset >= -(int)skb_headroom(skb) && offset <= (int)skb->len - len;
}

int skb_copy_bits(const struct sk_buff *skb, int offset, void *to, int len)
{
	if (!range_ok(skb, offset, len))
		return -EFAULT;
	if (offset < 0)
		win_skb_headroom(skb);
	return walk(skb, offset, len, true, copy_out, &to);
}

int skb_store_bits(struct sk_buff *skb, int offset, const void *from, int len)
{
	/* Unlike reads, a store stays inside the packet: the headroom is not its to write. */
	if (offset < 0 || !range_ok(skb, offset, len))
		return -EFAULT;
	/* All or nothing: check every piece before writing any. */
	if (walk(skb, offset, len, true, check_writable, NULL) != 0)
		return -EFAULT;
	return walk(skb, offset, len, true, copy_in, &from);
}

/* ------------------------------------------------------------ reshaping */

/*
 * Make @skb linear in a new private head with @ntail extra bytes of
 * tailroom: every byte copied, frags and frag_list dropped (they go when
 * their last holder does). 0 or -ENOMEM with the skb unchanged.
 */
static int collapse(struct sk_buff *skb, unsigned int ntail)
{
	unsigned int headroom = skb_headroom(skb);
	struct pktmem_ext *e = head_alloc((size_t)headroom + skb->len + ntail, GFP_ATOMIC, NUMA_NO_NODE);

	if (!e)
		return -ENOMEM;
	if (skb_copy_bits(skb, -(int)headroom, e->ext_buf, (int)(headroom + skb->len)) != 0) {
		pktmem_ext_put(e, NULL);
		return -EFAULT;
	}

	struct pktmem_ext *old = skb->head_ext;

	skb->head = (unsigned char *)e->ext_buf;
	skb->data = skb->head + headroom;
	skb->tail = headroom + skb->len;
	skb->end = (unsigned int)e->ext_size;
	skb->data_len = 0;
	skb->head_ext = e;
	skb->cloned = 0;
	skb->head_frag = 0;
	win_skb_tail(skb);
	pktmem_ext_put(old, NULL);
	return 0;
}

/* Give @skb a private head (and shared info) if it has none. */
static int make_private(struct sk_buff *skb, int ntail)
{
	if (head_private(skb) && ntail <= 0)
		return 0;
	return pskb_expand_head(skb, 0, ntail > 0 ? ntail : 0, GFP_ATOMIC);
}

int pskb_trim(struct sk_buff *skb, unsigned int len)
{
	if (len >= skb->len)
		return 0;
	if (!skb_is_nonlinear(skb)) {
		skb_trim(skb, len);
		return 0;
	}
	if (skb_shinfo(skb)->frag_list && collapse(skb, 0) != 0)
		return -ENOMEM;
	if (!skb_is_nonlinear(skb)) {
		skb_trim(skb, len);
		return 0;
	}
	if (make_private(skb, 0) != 0)
		return -ENOMEM;

	struct skb_shared_info *sh = skb_shinfo(skb);
	unsigned int headlen = skb_headlen(skb), offset = headlen;
	int keep = 0;

	for (int i = 0; i < sh->nr_frags; i++) {
		unsigned int size = sh->frags[i].bv_len;

		if (offset >= len) {
			put_page(sh->frags[i].bv_page);
			continue;
		}
		if (offset + size > len)
			sh->frags[i].bv_len = len - offset;
		sh->frags[keep++] = sh->frags[i];
		offset += size;
	}
	sh->nr_frags = (uint8_t)keep;
	if (len < headlen) {
		skb->tail = (unsigned int)(skb->data - skb->head) + len;
		skb->data_len = 0;
	} else {
		skb->data_len = len - headlen;
	}
	skb->len = len;
	win_skb_tail(skb);
	return 0;
}

/* Move @delta bytes from the frags to the end of the head. The tail, or NULL. */
static unsigned char *pull_tail(struct sk_buff *skb, unsigned int delta)
{
	int eat = (int)(skb->tail + delta) - (int)skb->end;

	if (skb_shinfo(skb)->frag_list)
		return collapse(skb, 0) == 0 ? skb_tail_pointer(skb) : NULL;
	if ((eat > 0 || !head_private(skb)) && make_private(skb, eat > 0 ? eat + 128 : 0) != 0)
		return NULL;
	win_open(skb_tail_pointer(skb), delta);
	if (skb_copy_bits(skb, (int)skb_headlen(skb), skb_tail_pointer(skb), (int)delta) != 0)
		return NULL;

	struct skb_shared_info *sh = skb_shinfo(skb);
	unsigned int left = delta;
	int keep = 0;

	for (int i = 0; i < sh->nr_frags; i++) {
		unsigned int size = sh->frags[i].bv_len;

		if (left >= size) {
			put_page(sh->frags[i].bv_page);
			left -= size;
			continue;
		}
		sh->frags[i].bv_offset += left;
		sh->frags[i].bv_len -= left;
		left = 0;
		sh->frags[keep++] = sh->frags[i];
	}
	sh->nr_frags = (uint8_t)keep;
	skb->tail += delta;
	skb->data_len -= delta;
	return skb_tail_pointer(skb);
}

bool pskb_may_pull(struct sk_buff *skb, unsigned int len)
{
	if (len <= skb_headlen(skb))
		return true;
	if (len > skb->len)
		return false;
	return pull_tail(skb, len - skb_headlen(skb)) != NULL;
}

void *pskb_pull(struct sk_buff *skb, unsigned int len)
{
	if (len > skb->len || !pskb_may_pull(skb, len))
		return NULL;
	skb->len -= len;
	skb->data += len;
	return skb->data;
}

int skb_linearize(struct sk_buff *skb)
{
	if (!skb_is_nonlinear(skb))
		return 0;
	return collapse(skb, 0);
}
