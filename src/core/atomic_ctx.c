/*
 * Atomic context: stretches of a thread's code that must never sleep,
 * marked by the application. Per thread, so no lock is involved.
 */
#include "internal.h"

_Thread_local unsigned int atomic_depth __attribute__((tls_model("initial-exec")));

void pktmem_atomic_begin(void)
{
	atomic_depth++;
}

void pktmem_atomic_end(void)
{
	if (unlikely(atomic_depth == 0)) {
		diag("pktmem_atomic_end", "not in atomic context (unbalanced pktmem_atomic_end)");
		return;
	}
	atomic_depth--;
}

bool pktmem_in_atomic(void)
{
	return atomic_depth != 0;
}

bool atomic_wait_refused(gfp_t gfp, const char *func)
{
	diag(func, "allocation with a waiting mask (gfp %#x) in atomic context (depth %u): use GFP_ATOMIC or M_DONTWAIT",
	     gfp, atomic_depth);
	return true;
}
