/*
 * A deliberate read one byte past the valid window, for CI: under ASan
 * (PKTMEM_SANITIZE=address) the library poisons an skb's tailroom and an
 * mbuf's trailing space, so the read must be reported as use-after-poison
 * although it stays inside memory the library owns. `overread skb` reads
 * past skb->len, `overread mbuf` past m_len. Exits 0 by itself; the error
 * is ASan's (CTest looks for its report). Built with -DPKTMEM_VALGRIND the
 * same program serves memcheck, which reports an invalid read.
 */
#include <stdio.h>
#include <string.h>

#include <pktmem/mbuf.h>
#include <pktmem/skbuff.h>

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "skb";
	volatile unsigned char sink = 0;

	if (strcmp(what, "skb") == 0) {
		struct sk_buff *skb = alloc_skb(256, GFP_KERNEL);

		skb_reserve(skb, 32);
		memset(skb_put(skb, 100), 1, 100);
		sink = skb->data[skb->len - 1];   /* the last byte: fine */
		sink = skb->data[skb->len];       /* one past skb->len: reported */
		kfree_skb(skb);
	} else {
		struct mbuf *m = m_gethdr(M_WAIT, MT_DATA), *d;

		memset(mtod(m, char *), 2, 100);
		m->m_len = m->m_pkthdr.len = 100;
		d = m_dup(m, 0, M_COPYALL, M_WAIT); /* a library-made chain: windows set */
		sink = (unsigned char)mtod(d, char *)[d->m_len - 1];
		sink = (unsigned char)mtod(d, char *)[d->m_len]; /* one past m_len: reported */
		m_freem(d);
		m_freem(m);
	}
	printf("read past the window of an %s unnoticed (%d)\n", what, sink);
	return 0;
}
