/*
 * Fuzz target: mbuf chains against a byte-array model.
 *
 * The input is a program: each step reads an opcode byte (the operation,
 * and one step in eight a fault step that fails the k-th allocation of the
 * step's library call), then the operation reads its offsets, lengths and
 * wait flags. Packets are built in varied ways (small mbufs, clusters,
 * MEXTADD, MEXTMALLOC, read-only storage, m_devget with and without
 * trailer encapsulation); then m_copyback, m_copyback_cow,
 * m_makewritable, M_PREPEND, m_adj, m_pullup, m_pulldown, m_split + m_cat,
 * copies kept alive as second holders (m_copym, m_copypacket, m_dup),
 * writes into those copies, m_apply and m_copydata. After every step each
 * chain is checked against its model and every shared area's reference
 * count against its holders; after the input, every cache is empty again.
 */
#include "fuzz_common.h"
#include "../tests/mbuf_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_begin(data, size);
	mext_reset();
	while (fz_more() && run.step < FZ_MAX_STEPS) {
		int op = fz_step_begin(NR_MBUF_OPS);

		mbuf_do_op(op);
		mbuf_compare_all();

		unsigned long long mbufs, clusters;
		long users;

		rc_reset();
		mbuf_hold_refs(rc_hold, &mbufs);
		rc_verify(&clusters, &users);
		mbuf_check_caches(mbufs, clusters, users);
		mbuf_age_copies();
		fz_step_end();
	}
	mbuf_free_all();
	mext_check_all_released();
	fz_end();
	return 0;
}
