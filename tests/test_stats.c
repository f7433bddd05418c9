/*
 * The statistics of <pktmem/pktmem.h> as a specification: the JSON is valid
 * and complete and its numbers are the snapshots'; the snprintf-style
 * buffer variant; the dump at exit chosen by PKTMEM_STATS (the test runs
 * itself again as a child with the environment set); publishing in shared
 * memory, read back here, from a child, and by the pktmem-top tool; and
 * unpublishing leaves nothing in /dev/shm. Threads: test_stats_mt.c.
 *
 * pktmem-top is looked for as argv[1], $PKTMEM_TOP, or next to this
 * program; without it, the tool's test says why it skips.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "json_check.h"

extern char **environ;

static char self_exe[4096];
static const char *tool_path;
static char tag[32]; /* "tst<pid>": every segment name of this run carries it */

/* ------------------------------------------------------------ helpers */

static char *render_json(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	CHECK_EQ(pktmem_stats_json(f), 0);
	fclose(f);
	return buf;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return NULL;
	do {
		if (len + 4096 + 1 > cap) {
			cap = (cap + 4096) * 2;
			buf = realloc(buf, cap);
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	buf[len] = '\0';
	fclose(f);
	return buf;
}

static bool has_name(const struct json_names *names, const char *name)
{
	for (int i = 0; i < names->n; i++)
		if (strcmp(names->names[i], name) == 0)
			return true;
	return false;
}

struct every_name {
	const struct json_names *names;
	int missing, caches, pools;
};

static int check_name_listed(const struct pktmem_stats *st, void *arg)
{
	struct every_name *e = arg;

	if (st->kind == PKTMEM_STATS_CACHE)
		e->caches++;
	else
		e->pools++;
	/* Names of this test are ASCII or have the one invalid byte below. */
	if (!strchr(st->name, '\xff') && !has_name(e->names, st->name)) {
		fprintf(stderr, "name '%s' is not in the JSON\n", st->name);
		e->missing++;
	}
	return 0;
}

/*
 * Run this program (or @prog) with @args and extra environment @env
 * (NAME=value strings; any PKTMEM_STATS* of ours is dropped first),
 * stdout and stderr to @out and @err (NULL: /dev/null), stdin from
 * @stdin_fd when it is >= 0. Returns the child's pid; wait_status() reaps it.
 */
static pid_t spawn(const char *prog, char *const args[], char *const env[], const char *out,
		   const char *err, int stdin_fd)
{
	char *envp[512];
	char *argv[16];
	int n = 0, a = 0;
	pid_t pid;

	for (char **e = environ; *e && n < 480; e++)
		if (strncmp(*e, "PKTMEM_STATS", 12) != 0)
			envp[n++] = *e;
	for (int i = 0; env && env[i]; i++)
		envp[n++] = env[i];
	envp[n] = NULL;
	argv[a++] = (char *)prog;
	for (int i = 0; args && args[i] && a < 15; i++)
		argv[a++] = args[i];
	argv[a] = NULL;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		int o = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(err ? err : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (stdin_fd >= 0)
			dup2(stdin_fd, 0);
		dup2(o, 1);
		dup2(e, 2);
		execve(prog, argv, envp);
		_exit(127);
	}
	return pid;
}

/* Reap @pid; one that has not exited within a minute is killed (and fails). */
static int wait_status(pid_t pid)
{
	int status;

	if (pid < 0)
		return -1;
	for (int i = 0; i < 6000; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0)
			return -1;
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000000 }, NULL);
	}
	fprintf(stderr, "child %ld did not exit: killed\n", (long)pid);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static int run(const char *prog, char *const args[], char *const env[], const char *out, const char *err)
{
	return wait_status(spawn(prog, args, env, out, err, -1));
}

static void tmp_path(char *buf, size_t size, const char *what)
{
	snprintf(buf, size, "/tmp/pktmem-%s-%s", tag, what);
}

static void seg_name(char *buf, size_t size, const char *what)
{
	snprintf(buf, size, "%s-%s", tag, what);
}

static bool seg_exists(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "/dev/shm/pktmem.%s", name);
	return access(path, F_OK) == 0;
}

/* ------------------------------------------------------------ child modes */

static struct kmem_cache *child_cache; /* reachable at exit: no leak report */
static void *child_objs[7];

/* A cache with 7 allocations and 2 frees, then a return from main. */
static int child_exit_dump(void)
{
	child_cache = kmem_cache_create("t-exit", 64, 0, 0, NULL);
	for (int i = 0; i < 7; i++)
		child_objs[i] = kmem_cache_alloc(child_cache, GFP_KERNEL);
	kmem_cache_free(child_cache, child_objs[0]);
	kmem_cache_free(child_cache, child_objs[1]);
	return 0;
}

/* Publish @name, then die without exit(): the segment stays behind. */
static int child_publish_and_die(const char *name)
{
	if (pktmem_stats_publish(name, 10) != 0)
		return 3;
	_exit(0);
}

/* Published by PKTMEM_STATS_SHM: make a cache, say "ready", wait for EOF
 * on stdin, then exit() (the atexit handler unpublishes). */
static int child_env_publisher(void)
{
	char c;

	child_cache = kmem_cache_create("t-envpub", 96, 0, 0, NULL);
	for (int i = 0; i < 3; i++)
		child_objs[i] = kmem_cache_alloc(child_cache, GFP_KERNEL);
	printf("ready\n");
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	return 0;
}

/* ------------------------------------------------------------ JSON */

#define WEIRD_NAME "t-\"q\"\\b\x01\ttab \xc3\xa9\xff"
#define WEIRD_JSON "\"t-\\\"q\\\"\\\\b\\u0001\\ttab \xc3\xa9\\ufffd\""

static void test_json_complete(void)
{
	struct kmem_cache *c = kmem_cache_create("t-json", 200, 0, 0, NULL);
	struct kmem_cache *w = kmem_cache_create(WEIRD_NAME, 32, 0, 0, NULL);
	mempool_t *pool = mempool_create_slab_pool(3, c);
	void *p[10], *e;
	static struct json_names names;
	struct pktmem_stats st;

	for (int i = 0; i < 10; i++)
		p[i] = kmem_cache_alloc(c, GFP_KERNEL);
	for (int i = 0; i < 3; i++)
		kmem_cache_free(c, p[i]);
	e = mempool_alloc(pool, GFP_KERNEL);

	char *json = render_json();
	size_t len = strlen(json);

	CHECK(json_valid(json, &names));
	CHECK(len > 2 && json[len - 1] == '\n' && json[len - 2] == '}');
	CHECK(strncmp(json, "{", 1) == 0);

	/* Every cache and pool of the registry, by name, unused ones too. */
	struct every_name en = { .names = &names };

	pktmem_stats_walk(check_name_listed, &en);
	CHECK_EQ(en.missing, 0);
	CHECK(has_name(&names, "kmalloc-65536"));
	CHECK(strstr(json, "\"name\": " WEIRD_JSON) != NULL);
	CHECK(has_name(&names, "t-\"q\"\\b\x01\ttab \xc3\xa9\xef\xbf\xbd"));
	CHECK_EQ(json_top_field(json, "\"totals\"", "caches"), en.caches);
	CHECK_EQ(json_top_field(json, "\"totals\"", "pools"), en.pools);

	/* The numbers are the snapshot's, field by field. */
	kmem_cache_stats(c, &st);
	CHECK_EQ(json_field_of(json, "\"caches\"", "\"t-json\"", "obj_size"), st.obj_size);
	CHECK_EQ(json_field_of(json, "\"caches\"", "\"t-json\"", "in_use"), st.in_use);
	CHECK_EQ(json_field_of(json, "\"caches\"", "\"t-json\"", "total"), st.total);
	CHECK_EQ(json_field_of(json, "\"caches\"", "\"t-json\"", "peak"), st.peak);
	CHECK_EQ(json_field_of(json, "\"caches\"", "\"t-json\"", "allocs"), st.allocs);
	CHECK_EQ(json_field_of(json, "\"caches\"", "\"t-json\"", "frees"), st.frees);
	CHECK_EQ(json_field_of(json, "\"caches\"", "\"t-json\"", "denied"), st.denied);
	CHECK_EQ(json_field_of(json, "\"caches\"", "\"t-json\"", "waited"), st.waited);
	CHECK_EQ(json_field_of(json, "\"caches\"", "\"t-json\"", "limit"), st.limit);
	CHECK_EQ(json_field_of(json, "\"caches\"", "\"t-json\"", "reserve"), st.reserve);
	CHECK_EQ(json_field_of(json, "\"caches\"", "\"t-json\"", "reserve_max"), st.reserve_max);
	CHECK_EQ(json_field_of(json, "\"caches\"", "\"t-json\"", "bytes_mapped"), st.bytes_mapped);
	CHECK_EQ(st.allocs, 10 + 3 + 1); /* ours, the pool's reserve, the pool's alloc */
	CHECK(strstr(json, "\"name\": \"t-json\", \"kind\": \"cache\"") != NULL);

	mempool_stats(pool, &st);
	char pname[80];

	snprintf(pname, sizeof(pname), "\"%s\"", st.name);
	CHECK_EQ(json_field_of(json, "\"pools\"", pname, "in_use"), 1);
	CHECK_EQ(json_field_of(json, "\"pools\"", pname, "reserve"), st.reserve);
	CHECK_EQ(json_field_of(json, "\"pools\"", pname, "reserve_max"), 3);
	CHECK(strstr(strstr(json, "\"pools\""), "\"kind\": \"pool\"") != NULL);

	/* Header fields. */
	CHECK(strstr(json, "\"format\": \"pktmem-stats\"") != NULL);
	CHECK_EQ(json_top_field(json, NULL, "format_version"), 1);
	CHECK(strstr(json, "\"library_version\": \"0.1.0\"") != NULL);
	CHECK_EQ(json_top_field(json, NULL, "pid"), getpid());
	long long ms = json_top_field(json, NULL, "timestamp_ms");

	CHECK(llabs(ms - (long long)time(NULL) * 1000) < 60 * 1000);
	const char *ts = strstr(json, "\"timestamp\": \"");

	CHECK(ts && strlen(ts) > 40 && ts[18] == '-' && ts[24] == 'T' && ts[37] == 'Z');
	CHECK(json_top_field(json, "\"totals\"", "bytes_mapped") >= (long long)st.bytes_mapped);
	CHECK(json_top_field(json, "\"totals\"", "denied_by_pools") >= 0);
	CHECK(json_top_field(json, "\"totals\"", "delayed_by_caches") >= 0);
	free(json);

	mempool_free(e, pool);
	mempool_destroy(pool);
	for (int i = 3; i < 10; i++)
		kmem_cache_free(c, p[i]);
	CHECK_EQ(cache_in_use(c), 0);
	kmem_cache_destroy(c);
	kmem_cache_destroy(w);

	/* Destroyed caches leave the JSON. */
	json = render_json();
	CHECK(json_valid(json, NULL));
	CHECK(strstr(json, "\"t-json\"") == NULL);
	free(json);
}

static void test_json_buf(void)
{
	int n = pktmem_stats_json_buf(NULL, 0);
	char small[16];

	CHECK(n > 100);
	char *buf = malloc((size_t)n + 1);

	CHECK_EQ(pktmem_stats_json_buf(buf, (size_t)n + 1), n); /* nothing changed meanwhile */
	CHECK_EQ(strlen(buf), n);
	CHECK(json_valid(buf, NULL));
	CHECK(buf[n - 1] == '}');

	/* Cut as snprintf cuts: size - 1 bytes and a NUL, the whole length returned. */
	memset(small, 'x', sizeof(small));
	CHECK_EQ(pktmem_stats_json_buf(small, sizeof(small)), n);
	CHECK_EQ(strlen(small), sizeof(small) - 1);
	CHECK(memcmp(small, buf, sizeof(small) - 1) == 0);
	small[0] = 'x';
	CHECK_EQ(pktmem_stats_json_buf(small, 1), n);
	CHECK_EQ(small[0], '\0');
	CHECK_EQ(pktmem_stats_json_buf(NULL, 5), -EINVAL);
	free(buf);

	/* The FILE variant writes the same text plus a newline. */
	char *json = render_json();

	CHECK_EQ(strlen(json), n + 1);
	free(json);
}

/* ------------------------------------------------------------ dump at exit */

static void test_exit_dump_json(void)
{
	char pattern[128], path[160], env_file[200];
	char *args[] = { "--child-exit-dump", NULL };
	char *env[] = { "PKTMEM_STATS=json", env_file, NULL };

	/* "%p" becomes the child's pid: the parent learns it from fork(). */
	tmp_path(pattern, sizeof(pattern), "exit.%p.json");
	snprintf(env_file, sizeof(env_file), "PKTMEM_STATS_FILE=%s", pattern);
	pid_t pid = spawn(self_exe, args, env, NULL, NULL, -1);
	int status = wait_status(pid);

	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	tmp_path(path, sizeof(path), "exit.");
	snprintf(path + strlen(path), sizeof(path) - strlen(path), "%ld.json", (long)pid);
	char *json = read_file(path);

	CHECK(json != NULL);
	if (json) {
		CHECK(json_valid(json, NULL));
		CHECK_EQ(json_top_field(json, NULL, "pid"), pid);
		CHECK_EQ(json_field_of(json, "\"caches\"", "\"t-exit\"", "allocs"), 7);
		CHECK_EQ(json_field_of(json, "\"caches\"", "\"t-exit\"", "frees"), 2);
		CHECK_EQ(json_field_of(json, "\"caches\"", "\"t-exit\"", "in_use"), 5);
		CHECK_EQ(json_field_of(json, "\"caches\"", "\"t-exit\"", "obj_size"), 64);
	}
	free(json);
	unlink(path);
}

static void test_exit_dump_text(void)
{
	char path[128], env_file[200];
	char *args[] = { "--child-exit-dump", NULL };
	char *env[] = { "PKTMEM_STATS=text", env_file, NULL };

	tmp_path(path, sizeof(path), "exit.txt");
	snprintf(env_file, sizeof(env_file), "PKTMEM_STATS_FILE=%s", path);
	int status = run(self_exe, args, env, NULL, NULL);
	char *text = read_file(path);

	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(text != NULL);
	if (text) {
		CHECK(strstr(text, "5/") != NULL);
		CHECK(strstr(text, " t-exit (64 B) objects in use") != NULL);
		CHECK(strstr(text, "7 allocs, 2 frees") != NULL);
		CHECK(strstr(text, "requests for memory denied by pools") != NULL);
		CHECK(strstr(text, "K bytes mapped by") != NULL);
	}
	free(text);
	unlink(path);

	/* Default: stderr. */
	char err[128];
	char *env_stderr[] = { "PKTMEM_STATS=text", NULL };

	tmp_path(err, sizeof(err), "exit.err");
	status = run(self_exe, args, env_stderr, NULL, err);
	text = read_file(err);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(text && strstr(text, " t-exit (64 B) objects in use") != NULL);
	free(text);
	unlink(err);
}

/*
 * The children inherit this test's environment, PKTMEM_DEBUG=1 included
 * (and this test never switches debug mode, so its own mode says theirs).
 * Debug mode then reports at exit the five objects child_exit_dump()
 * leaves live: check that the report is there and names them, and cut it
 * out of @text, so that what is left is what the statistics wrote.
 */
static void cut_leak_report(char *text)
{
	if (!text || !pktmem_debug_enabled())
		return;
	char *start = strstr(text, "pktmem: 5 objects still live\n");

	CHECK(start != NULL);
	if (!start)
		return;
	CHECK(strstr(start, "5 objects (320 bytes) of cache 't-exit' allocated at:\n") != NULL);
	char *end = strchr(start, '\n') + 1;

	/* Its group lines ("  5 objects ...") and backtrace lines (six spaces). */
	while ((end[0] == ' ' && end[1] == ' ' && end[2] >= '0' && end[2] <= '9') ||
	       strncmp(end, "      ", 6) == 0) {
		char *nl = strchr(end, '\n');

		end = nl ? nl + 1 : end + strlen(end);
	}
	memmove(start, end, strlen(end) + 1);
}

static void test_exit_dump_off_and_bad(void)
{
	char err[128], *text;
	char *args[] = { "--child-exit-dump", NULL };
	int status;

	tmp_path(err, sizeof(err), "exit.err");

	/* Unset: not a byte. */
	status = run(self_exe, args, NULL, NULL, err);
	text = read_file(err);
	cut_leak_report(text);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(text && text[0] == '\0');
	free(text);

	/* An unknown format is named, and the program runs on. */
	char *env_bad[] = { "PKTMEM_STATS=yaml", NULL };

	status = run(self_exe, args, env_bad, NULL, err);
	text = read_file(err);
	cut_leak_report(text);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(text && strstr(text, "pktmem: PKTMEM_STATS=yaml: want text or json") != NULL);
	CHECK(text && strstr(text, "t-exit") == NULL);
	free(text);

	/* A file that cannot be created is named. */
	char *env_nofile[] = { "PKTMEM_STATS=json", "PKTMEM_STATS_FILE=/nonexistent-dir/x.json", NULL };

	status = run(self_exe, args, env_nofile, NULL, err);
	text = read_file(err);
	cut_leak_report(text);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(text && strstr(text, "pktmem: PKTMEM_STATS_FILE=/nonexistent-dir/x.json: No such file") != NULL);
	free(text);
	unlink(err);
}

/* ------------------------------------------------------------ shared memory */

/* Fetch until @cache shows @allocs allocations, for up to 5 seconds. */
static bool fetch_until(const char *name, const char *quoted_cache, long long allocs)
{
	for (int i = 0; i < 500; i++) {
		char *json = NULL;
		int n = pktmem_stats_fetch(name, &json);
		bool ok = n > 0 && json_valid(json, NULL) &&
			  json_field_of(json, "\"caches\"", quoted_cache, "allocs") == allocs;

		free(json);
		if (ok)
			return true;
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000000 }, NULL);
	}
	return false;
}

static void test_publish_fetch(void)
{
	struct kmem_cache *c = kmem_cache_create("t-pub", 128, 0, 0, NULL);
	char name[64], *json = NULL;
	void *p[10];
	int n;

	seg_name(name, sizeof(name), "pub");
	for (int i = 0; i < 5; i++)
		p[i] = kmem_cache_alloc(c, GFP_KERNEL);

	CHECK_EQ(pktmem_stats_publish(name, 20), 0);
	CHECK(seg_exists(name));
	/* The first snapshot is there when publish returns. */
	n = pktmem_stats_fetch(name, &json);
	CHECK(n > 0 && json && (int)strlen(json) == n);
	CHECK(json && json_valid(json, NULL));
	CHECK(json && json_field_of(json, "\"caches\"", "\"t-pub\"", "allocs") == 5);
	CHECK(json && json_top_field(json, NULL, "pid") == getpid());
	free(json);

	/* Later snapshots follow the process. */
	for (int i = 5; i < 10; i++)
		p[i] = kmem_cache_alloc(c, GFP_KERNEL);
	CHECK(fetch_until(name, "\"t-pub\"", 10));

	/* A forked child has no publisher: its unpublish and its exit() leave
	 * the parent's segment alone. */
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();

	if (pid == 0)
		exit(pktmem_stats_unpublish() == -ENOENT ? 0 : 1);
	int status = wait_status(pid);

	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(seg_exists(name));
	CHECK(fetch_until(name, "\"t-pub\"", 10));

	/* One publisher per process; bad arguments. */
	CHECK_EQ(pktmem_stats_publish("other", 20), -EBUSY);
	CHECK_EQ(pktmem_stats_publish(NULL, 20), -EINVAL);
	CHECK_EQ(pktmem_stats_fetch(NULL, &json), -EINVAL);
	CHECK_EQ(pktmem_stats_fetch(name, NULL), -EINVAL);
	CHECK_EQ(pktmem_stats_fetch("a/b", &json), -EINVAL);
	CHECK_EQ(pktmem_stats_fetch("", &json), -EINVAL);

	CHECK_EQ(pktmem_stats_unpublish(), 0);
	CHECK(!seg_exists(name));
	CHECK_EQ(pktmem_stats_fetch(name, &json), -ENOENT);
	CHECK(json == NULL);
	CHECK_EQ(pktmem_stats_unpublish(), -ENOENT);

	/* Names: 1 to 64 of [A-Za-z0-9._-]; intervals up to an hour. */
	char long_name[70];

	memset(long_name, 'a', 65);
	long_name[65] = '\0';
	CHECK_EQ(pktmem_stats_publish(long_name, 20), -EINVAL);
	long_name[64] = '\0';
	CHECK_EQ(pktmem_stats_fetch(long_name, &json), -ENOENT); /* a valid name */
	CHECK_EQ(pktmem_stats_publish("", 20), -EINVAL);
	CHECK_EQ(pktmem_stats_publish("a/b", 20), -EINVAL);
	CHECK_EQ(pktmem_stats_publish("..\n", 20), -EINVAL);
	CHECK_EQ(pktmem_stats_publish(name, 3600 * 1000 + 1), -EINVAL);

	/* Interval 0 is the default second; publish again after unpublish. */
	CHECK_EQ(pktmem_stats_publish(name, 0), 0);
	CHECK_EQ(pktmem_stats_fetch(name, &json) > 0, 1);
	free(json);
	CHECK_EQ(pktmem_stats_unpublish(), 0);
	CHECK(!seg_exists(name));

	/* A segment that is not ours is refused, not clobbered. */
	char foreign[128];

	snprintf(foreign, sizeof(foreign), "/dev/shm/pktmem.%s", name);
	int fd = open(foreign, O_WRONLY | O_CREAT | O_EXCL, 0600);

	CHECK(fd >= 0);
	CHECK(write(fd, "not a segment of pktmem, but long enough to hold a header.......", 64) == 64);
	close(fd);
	CHECK_EQ(pktmem_stats_fetch(name, &json), -EPROTO);
	CHECK_EQ(pktmem_stats_publish(name, 20), -EEXIST);
	unlink(foreign);

	for (int i = 0; i < 10; i++)
		kmem_cache_free(c, p[i]);
	CHECK_EQ(cache_in_use(c), 0);
	kmem_cache_destroy(c);
}

/* A child publishes through PKTMEM_STATS_SHM; this process reads it, may not
 * take the name of a live publisher, and sees the segment go at its exit. */
static void test_publish_env_child(void)
{
	char name[64], env_shm[100], out[128], *json = NULL;
	char *args[] = { "--child-env-publisher", NULL };
	char *env[] = { env_shm, "PKTMEM_STATS_SHM_INTERVAL=20", NULL };
	int pfd[2];

	seg_name(name, sizeof(name), "env");
	snprintf(env_shm, sizeof(env_shm), "PKTMEM_STATS_SHM=%s", name);
	tmp_path(out, sizeof(out), "env.out");
	CHECK(pipe2(pfd, O_CLOEXEC) == 0); /* the child keeps no write end */
	pid_t pid = spawn(self_exe, args, env, out, NULL, pfd[0]);

	close(pfd[0]);
	/* Wait for "ready": the child is past its allocations. */
	for (int i = 0; i < 500; i++) {
		char *text = read_file(out);
		bool ready = text && strstr(text, "ready");

		free(text);
		if (ready)
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000000 }, NULL);
	}
	CHECK(fetch_until(name, "\"t-envpub\"", 3));
	CHECK_EQ(pktmem_stats_fetch(name, &json) > 0, 1);
	CHECK(json && json_top_field(json, NULL, "pid") == pid);
	CHECK(json && json_field_of(json, "\"caches\"", "\"t-envpub\"", "in_use") == 3);
	free(json);

	CHECK_EQ(pktmem_stats_publish(name, 20), -EEXIST); /* its publisher lives */

	close(pfd[1]); /* EOF: the child returns from main */
	int status = wait_status(pid);

	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(!seg_exists(name)); /* unpublished by the atexit handler */
	unlink(out);
}

/* A publisher that died without exit() leaves its segment; the name is
 * taken over by the next publisher. */
static void test_publish_stale_takeover(void)
{
	char name[64], *json = NULL;
	char *args[] = { "--child-publish-and-die", name, NULL };

	seg_name(name, sizeof(name), "stale");
	int status = run(self_exe, args, NULL, NULL, NULL);

	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(seg_exists(name));
	CHECK(pktmem_stats_fetch(name, &json) > 0);
	CHECK(json && json_valid(json, NULL));
	CHECK(json && json_top_field(json, NULL, "pid") != getpid());
	free(json);
	json = NULL;

	CHECK_EQ(pktmem_stats_publish(name, 50), 0);
	CHECK(pktmem_stats_fetch(name, &json) > 0);
	CHECK(json && json_top_field(json, NULL, "pid") == getpid());
	free(json);
	CHECK_EQ(pktmem_stats_unpublish(), 0);
	CHECK(!seg_exists(name));
}

/* ------------------------------------------------------------ pktmem-top */

static void test_tool(void)
{
	if (!tool_path) {
		printf("skip test_tool: pktmem-top not found (give its path as argv[1] or $PKTMEM_TOP, "
		       "or build it next to this program)\n");
		return;
	}

	struct kmem_cache *c = kmem_cache_create("t-top", 300, 0, 0, NULL);
	char name[64], out[128], err[128], *text;
	void *p[4];
	int status;

	for (int i = 0; i < 4; i++)
		p[i] = kmem_cache_alloc(c, GFP_KERNEL);
	seg_name(name, sizeof(name), "top");
	tmp_path(out, sizeof(out), "top.out");
	tmp_path(err, sizeof(err), "top.err");
	CHECK_EQ(pktmem_stats_publish(name, 20), 0);

	/* --once: one frame, no screen clearing. */
	char *once[] = { "--once", name, NULL };

	status = run(tool_path, once, NULL, out, err);
	text = read_file(out);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(text && strstr(text, "CACHE") && strstr(text, "IN USE"));
	CHECK(text && strstr(text, "t-top "));
	CHECK(text && strstr(text, "(running)"));
	CHECK(text && strstr(text, "\033[2J") == NULL);
	free(text);

	/* -n 3: three frames; the full /dev/shm path is accepted too. */
	char full[128];
	char *three[] = { "-n", "3", "-d", "30", full, NULL };
	int frames = 0;

	snprintf(full, sizeof(full), "/dev/shm/pktmem.%s", name);
	status = run(tool_path, three, NULL, out, err);
	text = read_file(out);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (const char *s = text; s && (s = strstr(s, "pktmem-top  ")); s++)
		frames++;
	CHECK_EQ(frames, 3);
	free(text);

	/* --json: the snapshot as published. */
	char *json_args[] = { "--json", name, NULL };

	status = run(tool_path, json_args, NULL, out, err);
	text = read_file(out);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(text && json_valid(text, NULL));
	CHECK(text && json_field_of(text, "\"caches\"", "\"t-top\"", "in_use") == 4);
	free(text);

	CHECK_EQ(pktmem_stats_unpublish(), 0);

	/* Absent: non-zero, and says what to do. */
	status = run(tool_path, once, NULL, out, err);
	text = read_file(err);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	CHECK(text && strstr(text, "no statistics segment"));
	CHECK(text && strstr(text, "PKTMEM_STATS_SHM="));
	free(text);

	/* Usage errors: 2. */
	char *bad[] = { "-n", "zero", name, NULL };

	status = run(tool_path, bad, NULL, out, err);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 2);
	status = run(tool_path, NULL, NULL, out, err);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 2);

	unlink(out);
	unlink(err);
	for (int i = 0; i < 4; i++)
		kmem_cache_free(c, p[i]);
	CHECK_EQ(cache_in_use(c), 0);
	kmem_cache_destroy(c);
}

/* ------------------------------------------------------------ teardown */

static void test_nothing_left(void)
{
	DIR *d = opendir("/dev/shm");
	struct dirent *e;
	int left = 0;

	CHECK(d != NULL);
	while (d && (e = readdir(d)) != NULL) {
		if (strstr(e->d_name, tag)) {
			char path[512];

			fprintf(stderr, "left behind: /dev/shm/%s\n", e->d_name);
			snprintf(path, sizeof(path), "/dev/shm/%s", e->d_name);
			unlink(path);
			left++;
		}
	}
	if (d)
		closedir(d);
	CHECK_EQ(left, 0);
}

static const char *find_tool(int argc, char **argv)
{
	static char next_to_us[4096 + 16];
	const char *env = getenv("PKTMEM_TOP");
	char *slash;

	if (argc > 1 && argv[1][0] != '-')
		return access(argv[1], X_OK) == 0 ? argv[1] : NULL;
	if (env && *env)
		return access(env, X_OK) == 0 ? env : NULL;
	snprintf(next_to_us, sizeof(next_to_us), "%s", self_exe);
	slash = strrchr(next_to_us, '/');
	if (!slash)
		return NULL;
	strcpy(slash + 1, "pktmem-top");
	return access(next_to_us, X_OK) == 0 ? next_to_us : NULL;
}

int main(int argc, char **argv)
{
	/* A child mode never outlives a broken parent by long. */
	if (argc > 1 && strncmp(argv[1], "--child-", 8) == 0)
		alarm(60);
	if (argc > 1 && strcmp(argv[1], "--child-exit-dump") == 0)
		return child_exit_dump();
	if (argc > 2 && strcmp(argv[1], "--child-publish-and-die") == 0)
		return child_publish_and_die(argv[2]);
	if (argc > 1 && strcmp(argv[1], "--child-env-publisher") == 0)
		return child_env_publisher();

	ssize_t n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);

	if (n <= 0) {
		fprintf(stderr, "cannot find this program through /proc/self/exe\n");
		return 1;
	}
	self_exe[n] = '\0';
	snprintf(tag, sizeof(tag), "tst%ld", (long)getpid());
	tool_path = find_tool(argc, argv);
	diag_capture();
	/* A tool test child's stdout is a file: no SIGPIPE surprises either way. */
	signal(SIGPIPE, SIG_IGN);

	TEST(test_json_complete);
	TEST(test_json_buf);
	TEST(test_exit_dump_json);
	TEST(test_exit_dump_text);
	TEST(test_exit_dump_off_and_bad);
	TEST(test_publish_fetch);
	TEST(test_publish_env_child);
	TEST(test_publish_stale_takeover);
	TEST(test_tool);
	TEST(test_nothing_left);
	return test_summary();
}
