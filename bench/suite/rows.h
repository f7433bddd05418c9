/* rows.h — the rows of the table (rows.c). */
#ifndef PKTMEM_BENCH_ROWS_H
#define PKTMEM_BENCH_ROWS_H

enum row_kind {
	LE,     /* goal: pktmem ns / peer ns <= goal */
	GE,     /* goal: peer ns / pktmem ns >= goal (throughput ratio) */
	INFO,   /* no goal; ratio pktmem ns / peer ns */
	GEINFO, /* no goal; ratio peer ns / pktmem ns (throughput) */
};

struct row {
	const char *section; /* "DPDK", "memcpy", "glibc", "scaling", "malloc", "floor" */
	const char *name;
	const char *pk;   /* op ids */
	const char *peer;
	enum row_kind kind;
	double goal;
};

extern const struct row rows[];
extern const unsigned nr_rows;

#endif /* PKTMEM_BENCH_ROWS_H */
