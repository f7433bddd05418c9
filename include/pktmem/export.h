/*
 * <pktmem/export.h> — symbol visibility. The library is built with hidden
 * visibility; only declarations marked PKTMEM_API are exported.
 */
#ifndef PKTMEM_EXPORT_H
#define PKTMEM_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define PKTMEM_API __attribute__((visibility("default")))
#else
#define PKTMEM_API
#endif

#endif /* PKTMEM_EXPORT_H */
