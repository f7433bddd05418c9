/*
 * ops_nodpdk.c — stands in for ops_dpdk.c when pkg-config found no libdpdk
 * at configure time: no DPDK ops, and the rows that need them say why.
 */
#define _GNU_SOURCE
#include "suite.h"

int dpdk_start(const char *argv0, bool quiet)
{
	(void)argv0, (void)quiet;
	return -1;
}

void ops_dpdk_register(void)
{
}

void mem_dpdk_measure(void)
{
}

const char *dpdk_note(void)
{
	return "DPDK not measured: libdpdk was not found when the bench was configured (bench/install-peers.sh)";
}

bool dpdk_present(void)
{
	return false;
}
