/* The version of the library actually linked, for run-time checks. */
#include "internal.h"

#define STR2(x) #x
#define STR(x) STR2(x)

int pktmem_version(void)
{
	return PKTMEM_VERSION;
}

const char *pktmem_version_string(void)
{
	return STR(PKTMEM_VERSION_MAJOR) "." STR(PKTMEM_VERSION_MINOR) "." STR(PKTMEM_VERSION_PATCH);
}
