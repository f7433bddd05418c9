/*
 * Packet tags (m_tag(9)): typed blobs of metadata hung off a packet header,
 * a singly linked list in front-insertion order. Tag memory is kmalloc().
 */
#include <errno.h>
#include <string.h>

#include "mbuf_impl.h"

static bool tag_mbuf_ok(const struct mbuf *m, const char *func)
{
	if (unlikely(!m || !(m->m_flags & M_PKTHDR))) {
		diag(func, "mbuf %p has no packet header (flags %#x)", (const void *)m, m ? m->m_flags : 0);
		return false;
	}
	return true;
}

struct m_tag *m_tag_get(int type, int len, int wait)
{
	if (unlikely(len < 0 || len > UINT16_MAX || type < 0 || type > UINT16_MAX)) {
		diag("m_tag_get", "type %d, length %d (each must be 0..65535)", type, len);
		return NULL;
	}
	if (unlikely(!how_ok(wait, "m_tag_get")))
		return NULL;

	struct m_tag *t = kmalloc(sizeof(*t) + (size_t)len, how_to_gfp(wait));

	if (!t)
		return NULL;
	t->m_tag_link.sle_next = NULL;
	t->m_tag_id = (uint16_t)type;
	t->m_tag_len = (uint16_t)len;
	t->m_tag_pad_ = 0;
	return t;
}

void m_tag_free(struct m_tag *t)
{
	kfree(t);
}

void m_tag_prepend(struct mbuf *m, struct m_tag *t)
{
	if (!tag_mbuf_ok(m, "m_tag_prepend"))
		return;
	if (unlikely(!t)) {
		diag("m_tag_prepend", "NULL tag for mbuf %p", (void *)m);
		return;
	}
	/* Tag lists are a few entries long; a tag put on twice would make a cycle. */
	for (struct m_tag *x = m->m_pkthdr.tags.slh_first; x; x = x->m_tag_link.sle_next) {
		if (unlikely(x == t)) {
			diag("m_tag_prepend", "tag %p (type %u) is already on mbuf %p", (void *)t, t->m_tag_id,
			     (void *)m);
			return;
		}
	}
	t->m_tag_link.sle_next = m->m_pkthdr.tags.slh_first;
	m->m_pkthdr.tags.slh_first = t;
}

/*
 * Take @t off @m; false (diagnosed) when it is not there. m_tag_delete()
 * frees only on true: the global diagnostic count could move under another
 * thread's diagnostic, so it cannot tell.
 */
static bool tag_unlink(struct mbuf *m, struct m_tag *t, const char *func)
{
	if (!tag_mbuf_ok(m, func))
		return false;
	for (struct m_tag **pp = &m->m_pkthdr.tags.slh_first; *pp; pp = &(*pp)->m_tag_link.sle_next) {
		if (*pp == t) {
			*pp = t->m_tag_link.sle_next;
			t->m_tag_link.sle_next = NULL;
			return true;
		}
	}
	diag(func, "tag %p (type %u) is not on mbuf %p", (void *)t, t ? t->m_tag_id : 0u, (void *)m);
	return false;
}

void m_tag_unlink(struct mbuf *m, struct m_tag *t)
{
	(void)tag_unlink(m, t, "m_tag_unlink");
}

void m_tag_delete(struct mbuf *m, struct m_tag *t)
{
	if (tag_unlink(m, t, "m_tag_delete"))
		m_tag_free(t);
}

void m_tag_delete_chain(struct mbuf *m)
{
	if (!tag_mbuf_ok(m, "m_tag_delete_chain"))
		return;

	struct m_tag *t = m->m_pkthdr.tags.slh_first;

	m->m_pkthdr.tags.slh_first = NULL;
	while (t) {
		struct m_tag *next = t->m_tag_link.sle_next;

		m_tag_free(t);
		t = next;
	}
}

struct m_tag *m_tag_find(const struct mbuf *m, int type)
{
	if (!tag_mbuf_ok(m, "m_tag_find"))
		return NULL;
	for (struct m_tag *t = m->m_pkthdr.tags.slh_first; t; t = t->m_tag_link.sle_next)
		if (t->m_tag_id == type)
			return t;
	return NULL;
}

static struct m_tag *tag_copy(struct m_tag *t, int how)
{
	struct m_tag *c = m_tag_get(t->m_tag_id, t->m_tag_len, how);

	if (c)
		memcpy(c + 1, t + 1, t->m_tag_len);
	return c;
}

/* NetBSD's m_tag_copy() has no wait flag and never sleeps. */
struct m_tag *m_tag_copy(struct m_tag *t)
{
	if (unlikely(!t)) {
		diag("m_tag_copy", "NULL tag");
		return NULL;
	}
	return tag_copy(t, M_DONTWAIT);
}

int m_tag_copy_chain(struct mbuf *to, struct mbuf *from)
{
	return mbuf_tag_copy_chain(to, from, M_DONTWAIT);
}

int mbuf_tag_copy_chain(struct mbuf *to, struct mbuf *from, int how)
{
	if (!tag_mbuf_ok(to, "m_tag_copy_chain") || !tag_mbuf_ok(from, "m_tag_copy_chain"))
		return 0;
	/* The copies would be appended to the list being walked, without end. */
	if (unlikely(to == from)) {
		diag("m_tag_copy_chain", "mbuf %p is both the source and the target", (void *)to);
		return 0;
	}

	struct m_tag **tail = &to->m_pkthdr.tags.slh_first;

	while (*tail)
		tail = &(*tail)->m_tag_link.sle_next;
	struct m_tag **first_new = tail;

	for (struct m_tag *t = from->m_pkthdr.tags.slh_first; t; t = t->m_tag_link.sle_next) {
		struct m_tag *c = tag_copy(t, how);

		if (!c) {
			/* All or nothing: drop the copies made so far, keep to's own tags. */
			struct m_tag *x = *first_new;

			*first_new = NULL;
			while (x) {
				struct m_tag *next = x->m_tag_link.sle_next;

				m_tag_free(x);
				x = next;
			}
			return 0;
		}
		*tail = c;
		tail = &c->m_tag_link.sle_next;
	}
	return 1;
}
