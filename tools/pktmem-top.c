/*
 * pktmem-top: the caches and pools of a running process, refreshing like
 * top(1). The process publishes its statistics with pktmem_stats_publish()
 * or the environment variable PKTMEM_STATS_SHM=NAME; this tool reads the
 * segment with pktmem_stats_fetch() and draws the JSON it holds.
 *
 *   pktmem-top [-1|--once] [-n COUNT] [-d MS] [-a] [--json] NAME
 *   pktmem-top -l|--list
 *
 * Exit status: 0, 1 when the segment is absent or unreadable (or goes away
 * while watching), 2 for a usage error.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pktmem/pktmem.h>

#define SHM_DIR "/dev/shm/"
#define SHM_PREFIX "pktmem."

/* ------------------------------------------------------------ the snapshot */

enum field {
	F_OBJ_SIZE, F_IN_USE, F_TOTAL, F_PEAK, F_ALLOCS, F_FREES, F_DENIED, F_WAITED,
	F_LIMIT, F_RESERVE, F_RESERVE_MAX, F_BYTES_MAPPED, NFIELDS
};
static const char *const field_names[NFIELDS] = {
	"obj_size", "in_use", "total", "peak", "allocs", "frees", "denied", "waited",
	"limit", "reserve", "reserve_max", "bytes_mapped",
};

enum total {
	T_CACHES, T_POOLS, T_UNUSED, T_DENIED_POOLS, T_DENIED_CACHES, T_DELAYED_POOLS,
	T_DELAYED_CACHES, T_BYTES_MAPPED, NTOTALS
};
static const char *const total_names[NTOTALS] = {
	"caches", "pools", "unused_caches", "denied_by_pools", "denied_by_caches",
	"delayed_by_pools", "delayed_by_caches", "bytes_mapped",
};

struct row {
	char name[64];
	bool pool;
	uint64_t f[NFIELDS];
};

struct snap {
	long pid;
	long format_version;
	char version[32];
	char timestamp[40];
	long long timestamp_ms;
	uint64_t totals[NTOTALS];
	struct row *rows;
	size_t n, cap;
};

/* ------------------------------------------------------------ a small JSON reader */

/*
 * A recursive reader for the statistics object: it accepts any JSON, keeps
 * the keys it knows (at the places it knows them) and skips the rest, so a
 * newer library that adds fields still displays.
 */
enum where { AT_TOP, AT_CACHES, AT_POOLS, AT_ROW, AT_TOTALS, AT_OTHER };

struct reader {
	const char *p;
	struct snap *s;
	struct row *row;
	int depth;
};

static void ws(struct reader *r)
{
	while (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')
		r->p++;
}

/* A string into @out (cut to @cap; \u escapes beyond ASCII become '?'). */
static bool read_string(struct reader *r, char *out, size_t cap)
{
	size_t n = 0;

	if (*r->p != '"')
		return false;
	r->p++;
	while (*r->p != '"') {
		char c = *r->p++;

		if (c == '\0')
			return false;
		if (c == '\\') {
			c = *r->p++;
			switch (c) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'u': {
				unsigned v = 0;

				for (int i = 0; i < 4; i++) {
					char h = *r->p++;

					if (!h || !strchr("0123456789abcdefABCDEF", h))
						return false;
					v = v * 16 + (unsigned)(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
				}
				c = v < 0x80 ? (char)v : '?';
				break;
			}
			case '\0':
				return false;
			default:
				break; /* \" \\ \/ */
			}
		}
		if (out && n + 1 < cap)
			out[n++] = c;
	}
	r->p++;
	if (out && cap)
		out[n] = '\0';
	return true;
}

static bool read_value(struct reader *r, enum where at, const char *key);

static bool read_number(struct reader *r, long double *v)
{
	char *end;

	*v = strtold(r->p, &end);
	if (end == r->p)
		return false;
	r->p = end;
	return true;
}

static int index_of(const char *const *names, int n, const char *key)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], key) == 0)
			return i;
	return -1;
}

static void store_number(struct reader *r, enum where at, const char *key, long double v)
{
	struct snap *s = r->s;
	uint64_t u = v < 0 ? 0 : (uint64_t)v;
	int i;

	if (at == AT_TOP) {
		if (strcmp(key, "pid") == 0)
			s->pid = (long)v;
		else if (strcmp(key, "format_version") == 0)
			s->format_version = (long)v;
		else if (strcmp(key, "timestamp_ms") == 0)
			s->timestamp_ms = (long long)v;
	} else if (at == AT_ROW && r->row && (i = index_of(field_names, NFIELDS, key)) >= 0) {
		r->row->f[i] = u;
	} else if (at == AT_TOTALS && (i = index_of(total_names, NTOTALS, key)) >= 0) {
		s->totals[i] = u;
	}
}

static bool read_object(struct reader *r, enum where at)
{
	r->p++;
	ws(r);
	if (*r->p == '}') {
		r->p++;
		return true;
	}
	for (;;) {
		char key[64];

		ws(r);
		if (!read_string(r, key, sizeof(key)))
			return false;
		ws(r);
		if (*r->p++ != ':')
			return false;
		ws(r);
		if (!read_value(r, at, key))
			return false;
		ws(r);
		if (*r->p == ',') {
			r->p++;
			continue;
		}
		return *r->p++ == '}';
	}
}

static struct row *new_row(struct snap *s, bool pool)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct row *rows = realloc(s->rows, cap * sizeof(*rows));

		if (!rows)
			return NULL;
		s->rows = rows;
		s->cap = cap;
	}
	memset(&s->rows[s->n], 0, sizeof(s->rows[0]));
	s->rows[s->n].pool = pool;
	return &s->rows[s->n++];
}

static bool read_array(struct reader *r, enum where at)
{
	r->p++;
	ws(r);
	if (*r->p == ']') {
		r->p++;
		return true;
	}
	for (;;) {
		ws(r);
		if ((at == AT_CACHES || at == AT_POOLS) && *r->p == '{') {
			r->row = new_row(r->s, at == AT_POOLS);
			if (!r->row || !read_object(r, AT_ROW))
				return false;
			r->row = NULL;
		} else if (!read_value(r, AT_OTHER, "")) {
			return false;
		}
		ws(r);
		if (*r->p == ',') {
			r->p++;
			continue;
		}
		return *r->p++ == ']';
	}
}

static bool read_value(struct reader *r, enum where at, const char *key)
{
	struct snap *s = r->s;
	long double v;
	bool ok;

	if (++r->depth > 32)
		return false;
	switch (*r->p) {
	case '{':
		ok = read_object(r, at == AT_TOP && strcmp(key, "totals") == 0 ? AT_TOTALS :
				    at == AT_TOP && r->depth == 1 ? AT_TOP : AT_OTHER);
		break;
	case '[':
		ok = read_array(r, at == AT_TOP && strcmp(key, "caches") == 0 ? AT_CACHES :
				   at == AT_TOP && strcmp(key, "pools") == 0 ? AT_POOLS : AT_OTHER);
		break;
	case '"':
		if (at == AT_ROW && strcmp(key, "name") == 0 && r->row)
			ok = read_string(r, r->row->name, sizeof(r->row->name));
		else if (at == AT_TOP && strcmp(key, "library_version") == 0)
			ok = read_string(r, s->version, sizeof(s->version));
		else if (at == AT_TOP && strcmp(key, "timestamp") == 0)
			ok = read_string(r, s->timestamp, sizeof(s->timestamp));
		else
			ok = read_string(r, NULL, 0);
		break;
	case 't':
		ok = strncmp(r->p, "true", 4) == 0;
		r->p += ok ? 4 : 0;
		break;
	case 'f':
		ok = strncmp(r->p, "false", 5) == 0;
		r->p += ok ? 5 : 0;
		break;
	case 'n':
		ok = strncmp(r->p, "null", 4) == 0;
		r->p += ok ? 4 : 0;
		break;
	default:
		ok = read_number(r, &v);
		if (ok)
			store_number(r, at, key, v);
		break;
	}
	r->depth--;
	return ok;
}

static bool parse_snapshot(const char *json, struct snap *s)
{
	struct reader r = { .p = json, .s = s };

	s->n = 0;
	memset(s->totals, 0, sizeof(s->totals));
	s->pid = 0;
	s->format_version = 0;
	s->timestamp_ms = 0;
	s->version[0] = s->timestamp[0] = '\0';
	ws(&r);
	if (*r.p != '{' || !read_value(&r, AT_TOP, ""))
		return false;
	ws(&r);
	return *r.p == '\0' && s->format_version >= 1;
}

/* ------------------------------------------------------------ drawing */

/* @v in at most 9 characters: exact below a million, then k/M/G/T. */
static const char *human(char buf[16], uint64_t v)
{
	static const char units[] = "kMGTPE";
	double d = (double)v;
	int u = -1;

	if (v < 1000000) {
		snprintf(buf, 16, "%" PRIu64, v);
		return buf;
	}
	while (d >= 1000 && u < 5) {
		d /= 1000;
		u++;
	}
	snprintf(buf, 16, "%.1f%c", d, units[u]);
	return buf;
}

static const char *bytes(char buf[16], uint64_t v)
{
	if (v < 10 * 1024)
		snprintf(buf, 16, "%" PRIu64, v);
	else if (v < 10ull * 1024 * 1024)
		snprintf(buf, 16, "%" PRIu64 "K", v / 1024);
	else if (v < 10ull * 1024 * 1024 * 1024)
		snprintf(buf, 16, "%" PRIu64 "M", v / (1024 * 1024));
	else
		snprintf(buf, 16, "%" PRIu64 "G", v / (1024 * 1024 * 1024));
	return buf;
}

/* The name with terminal control bytes made harmless. */
static const char *printable(char out[64], const char *name)
{
	size_t i;

	for (i = 0; name[i] && i < 63; i++)
		out[i] = (unsigned char)name[i] < 0x20 || name[i] == 0x7f ? '?' : name[i];
	out[i] = '\0';
	return out;
}

/* The row of the previous snapshot with @name and kind, for the rates. */
static const struct row *find_row(const struct snap *s, const struct row *like)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->rows[i].pool == like->pool && strcmp(s->rows[i].name, like->name) == 0)
			return &s->rows[i];
	return NULL;
}

static bool row_unused(const struct row *r)
{
	return !r->pool && r->f[F_ALLOCS] == 0 && r->f[F_TOTAL] == 0 && r->f[F_DENIED] == 0;
}

static void rate(char buf[16], const struct row *now, const struct row *before, double dt)
{
	char h[16];

	if (!before || dt <= 0 || now->f[F_ALLOCS] < before->f[F_ALLOCS]) {
		snprintf(buf, 16, "-");
		return;
	}
	snprintf(buf, 16, "%s", human(h, (uint64_t)((double)(now->f[F_ALLOCS] - before->f[F_ALLOCS]) / dt + 0.5)));
}

static void draw(FILE *out, const char *name, const struct snap *s, const struct snap *prev, bool all)
{
	struct timespec now;
	char a[16], b[16], c[16], d[16], e[16], f[16], g[16], h[16], k[16], m[16], w[16], pr[64];
	double dt = prev && prev->n ? (double)(s->timestamp_ms - prev->timestamp_ms) / 1000.0 : 0;
	bool running = s->pid > 0 && (kill((pid_t)s->pid, 0) == 0 || errno != ESRCH);
	long long age_ms;

	clock_gettime(CLOCK_REALTIME, &now);
	age_ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 - s->timestamp_ms;
	fprintf(out, "pktmem-top  %s  pid %ld (%s)  pktmem %s  %s  (%.1fs ago)\n", name, s->pid,
		running ? "running" : "gone", s->version, s->timestamp, age_ms < 0 ? 0.0 : (double)age_ms / 1000.0);
	fprintf(out, "%" PRIu64 " cache%s (%" PRIu64 " unused%s), %" PRIu64 " pool%s, %s bytes mapped\n",
		s->totals[T_CACHES], s->totals[T_CACHES] == 1 ? "" : "s", s->totals[T_UNUSED],
		all ? "" : ", not shown; -a shows them", s->totals[T_POOLS],
		s->totals[T_POOLS] == 1 ? "" : "s", bytes(a, s->totals[T_BYTES_MAPPED]));
	fprintf(out, "requests denied: %" PRIu64 " by pools, %" PRIu64 " by caches; delayed: %" PRIu64 " by pools, %" PRIu64 " by caches\n\n",
		s->totals[T_DENIED_POOLS], s->totals[T_DENIED_CACHES],
		s->totals[T_DELAYED_POOLS], s->totals[T_DELAYED_CACHES]);

	for (int pool = 0; pool <= 1; pool++) {
		bool header = false;

		for (size_t i = 0; i < s->n; i++) {
			const struct row *r = &s->rows[i];

			if (r->pool != pool || (!all && row_unused(r)))
				continue;
			if (!header) {
				if (pool)
					fprintf(out, "\n%-24s %7s %9s %9s %9s %9s %9s %9s %9s %9s %7s %7s\n", "POOL", "SIZE",
						"IN USE", "RESERVE", "TOTAL", "PEAK", "TARGET", "ALLOCS/s", "ALLOCS",
						"FREES", "DENIED", "DELAYED");
				else
					fprintf(out, "%-24s %7s %9s %9s %9s %9s %9s %9s %9s %9s %7s %7s %7s\n", "CACHE", "SIZE",
						"IN USE", "CACHED", "TOTAL", "PEAK", "LIMIT", "ALLOCS/s", "ALLOCS",
						"FREES", "DENIED", "DELAYED", "MAPPED");
				header = true;
			}
			rate(g, r, prev ? find_row(prev, r) : NULL, dt);
			if (pool) {
				fprintf(out, "%-24.24s %7s %9s %9s %9s %9s %9s %9s %9s %9s %7s %7s\n",
					printable(pr, r->name), bytes(a, r->f[F_OBJ_SIZE]), human(b, r->f[F_IN_USE]),
					human(c, r->f[F_RESERVE]), human(d, r->f[F_TOTAL]), human(e, r->f[F_PEAK]),
					human(f, r->f[F_RESERVE_MAX]), g, human(h, r->f[F_ALLOCS]),
					human(k, r->f[F_FREES]), human(m, r->f[F_DENIED]), human(w, r->f[F_WAITED]));
			} else {
				uint64_t cached = r->f[F_TOTAL] > r->f[F_IN_USE] ? r->f[F_TOTAL] - r->f[F_IN_USE] : 0;
				char lim[16], den[16], del[16], map[16];

				if (r->f[F_LIMIT])
					human(lim, r->f[F_LIMIT]);
				else
					snprintf(lim, sizeof(lim), "-");
				fprintf(out, "%-24.24s %7s %9s %9s %9s %9s %9s %9s %9s %9s %7s %7s %7s\n",
					printable(pr, r->name), bytes(a, r->f[F_OBJ_SIZE]), human(b, r->f[F_IN_USE]),
					human(c, cached), human(d, r->f[F_TOTAL]), human(e, r->f[F_PEAK]), lim, g,
					human(h, r->f[F_ALLOCS]), human(k, r->f[F_FREES]), human(den, r->f[F_DENIED]),
					human(del, r->f[F_WAITED]), bytes(map, r->f[F_BYTES_MAPPED]));
			}
		}
	}
}

/* ------------------------------------------------------------ main */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: pktmem-top [-1|--once] [-n COUNT] [-d MS] [-a] [--json] NAME\n"
		"       pktmem-top -l|--list\n"
		"Show the pktmem caches and pools of a process that publishes them under NAME\n"
		"(pktmem_stats_publish(NAME, ms) or PKTMEM_STATS_SHM=NAME), redrawn every second.\n"
		"  -1, --once   print one snapshot and exit (no screen clearing)\n"
		"  -n COUNT     exit after COUNT snapshots\n"
		"  -d MS        redraw every MS milliseconds (default 1000)\n"
		"  -a           show caches never used too\n"
		"  --json       print the raw JSON snapshot (once, unless -n is given)\n"
		"  -l, --list   list the published segments\n"
		"NAME may also be given as /pktmem.NAME or " SHM_DIR SHM_PREFIX "NAME.\n");
}

static int list_segments(void)
{
	DIR *d = opendir(SHM_DIR);
	struct dirent *e;
	int n = 0;

	if (!d) {
		fprintf(stderr, "pktmem-top: %s: %s\n", SHM_DIR, strerror(errno));
		return 1;
	}
	while ((e = readdir(d)) != NULL) {
		char *json = NULL;
		const char *name = e->d_name + strlen(SHM_PREFIX);
		struct snap s = { 0 };
		int rc;

		if (strncmp(e->d_name, SHM_PREFIX, strlen(SHM_PREFIX)) != 0)
			continue;
		rc = pktmem_stats_fetch(name, &json);
		if (rc >= 0 && parse_snapshot(json, &s))
			printf("%-32s pid %ld (%s)  %s\n", name, s.pid,
			       kill((pid_t)s.pid, 0) == 0 || errno != ESRCH ? "running" : "gone", s.timestamp);
		else
			printf("%-32s unreadable: %s\n", name, rc < 0 ? strerror(-rc) : "not a statistics snapshot");
		free(json);
		free(s.rows);
		n++;
	}
	closedir(d);
	if (n == 0)
		printf("no pktmem statistics segments in %s\n", SHM_DIR);
	return 0;
}

static bool parse_count(const char *arg, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(arg, &end, 10);
	return arg[0] && !*end && !errno && *out > 0;
}

int main(int argc, char **argv)
{
	long count = -1, delay_ms = 1000;
	bool once = false, all = false, json_out = false;
	const char *name = NULL;
	struct snap cur = { 0 }, prev = { 0 };

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-1") == 0 || strcmp(a, "--once") == 0) {
			once = true;
		} else if (strcmp(a, "-a") == 0) {
			all = true;
		} else if (strcmp(a, "--json") == 0) {
			json_out = true;
		} else if (strcmp(a, "-l") == 0 || strcmp(a, "--list") == 0) {
			return list_segments();
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		} else if ((strcmp(a, "-n") == 0 || strcmp(a, "-d") == 0) && i + 1 < argc) {
			long v;

			if (!parse_count(argv[++i], &v)) {
				fprintf(stderr, "pktmem-top: %s %s: want a positive number\n", a, argv[i]);
				return 2;
			}
			if (a[1] == 'n')
				count = v;
			else
				delay_ms = v;
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr, "pktmem-top: unknown option %s\n", a);
			usage(stderr);
			return 2;
		} else if (!name) {
			name = a;
		} else {
			fprintf(stderr, "pktmem-top: one NAME only\n");
			return 2;
		}
	}
	if (!name) {
		usage(stderr);
		return 2;
	}
	if (strncmp(name, SHM_DIR, strlen(SHM_DIR)) == 0)
		name += strlen(SHM_DIR);
	if (name[0] == '/')
		name++;
	if (strncmp(name, SHM_PREFIX, strlen(SHM_PREFIX)) == 0)
		name += strlen(SHM_PREFIX);
	if (once || (json_out && count < 0))
		count = 1;
	bool clear = count != 1 && isatty(STDOUT_FILENO);

	for (long it = 0; count < 0 || it < count; it++) {
		char *json = NULL;
		int rc = pktmem_stats_fetch(name, &json);

		if (rc == -ENOENT) {
			if (it == 0)
				fprintf(stderr, "pktmem-top: no statistics segment '%s' (%s%s%s): is the process running "
					"with pktmem_stats_publish(\"%s\", ...) or PKTMEM_STATS_SHM=%s?\n",
					name, SHM_DIR, SHM_PREFIX, name, name, name);
			else
				fprintf(stderr, "pktmem-top: segment '%s' is gone: the process unpublished or exited\n", name);
			return 1;
		}
		if (rc < 0) {
			fprintf(stderr, "pktmem-top: %s%s%s: %s\n", SHM_DIR, SHM_PREFIX, name,
				rc == -EPROTO ? "not a pktmem statistics segment (or another layout version)" :
				rc == -EINVAL ? "bad name (1 to 64 of A-Z a-z 0-9 . _ -)" : strerror(-rc));
			return 1;
		}
		if (json_out) {
			printf("%s\n", json);
		} else if (!parse_snapshot(json, &cur)) {
			fprintf(stderr, "pktmem-top: %s: the snapshot is not the statistics JSON this tool reads\n", name);
			free(json);
			return 1;
		} else {
			char *screen = NULL;
			size_t len = 0;
			FILE *f = open_memstream(&screen, &len);

			if (!f) {
				fprintf(stderr, "pktmem-top: %s\n", strerror(errno));
				free(json);
				return 1;
			}
			if (clear)
				fputs("\033[H\033[2J", f);
			draw(f, name, &cur, it ? &prev : NULL, all);
			fclose(f);
			/* One write per frame, so the screen never shows half of one. */
			fwrite(screen, 1, len, stdout);
			free(screen);
			struct snap t = prev;

			prev = cur;
			cur = t;
		}
		free(json);
		fflush(stdout);
		if (count < 0 || it + 1 < count) {
			struct timespec ts = { delay_ms / 1000, (delay_ms % 1000) * 1000000 };

			nanosleep(&ts, NULL);
			if (!clear && !json_out)
				putchar('\n');
		}
	}
	free(cur.rows);
	free(prev.rows);
	return 0;
}
