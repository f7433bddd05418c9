/*
 * relay — a UDP tunnel relay on the loopback interface, the README's main
 * demo. Three threads in one process, three UDP sockets on 127.0.0.1:
 *
 *   sender ---- datagrams ----> relay ------ tunnel datagrams ----> receiver
 *   m_sendmmsg (mbufs)          m_recvmmsg straight into clusters   m_recvmmsg
 *                               M_PREPEND 8-byte tunnel header      check + strip header
 *                               (in place: room was left in front)  verify every byte
 *                               m_sendmmsg, zero-copy
 *
 * In the second mode the relay receives into sk_buff heads and prepends
 * with skb_push instead. Nothing is copied between the sockets: the
 * datagram lands in a cluster (or skb head), gets its header in the
 * headroom, and the same bytes go out.
 *
 *   ./relay [COUNT] [mbuf|skb|both]      (default 200000 datagrams, both modes)
 *
 * Datagrams are 64..1400 bytes. The sender keeps at most WINDOW datagrams
 * in flight, so that the sockets' buffers never overflow and nothing is
 * lost; if something is lost anyway (or corrupted), the receiver says so
 * and the program exits non-zero. At the end: datagrams per second, the
 * statistics in netstat -m style, and a check that no mbuf, cluster or
 * sk_buff is left in use.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <pktmem/mbuf.h>
#include <pktmem/netio.h>
#include <pktmem/pktmem.h>
#include <pktmem/skbuff.h>

enum {
	BATCH = 32,
	WINDOW = 512,           /* datagrams in flight at most */
	MIN_LEN = 64,
	MAX_LEN = 1400,
	TUN_HDR = 8,            /* magic (2), flags (2), length (4) */
	TUN_MAGIC = 0x7e1a,
	IDLE_LIMIT_MS = 5000,   /* give up after this long without progress */
};

#define DEFAULT_COUNT 200000UL

/* What a datagram carries: its sequence number, then a pattern from it. */
static uint32_t dgram_len(uint64_t seq)
{
	return MIN_LEN + (uint32_t)(seq * 2654435761u % (MAX_LEN - MIN_LEN + 1));
}

static unsigned char dgram_byte(uint64_t seq, uint32_t i)
{
	return (unsigned char)(seq * 131 + i * 7 + 1);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct relay {
	int mode_skb;
	uint64_t count;
	int snd_fd, relay_fd, rcv_fd;            /* sender's, relay's, receiver's sockets */
	struct sockaddr_in relay_addr, rcv_addr;
	atomic_uint_least64_t received;          /* the receiver's progress, for the window */
	atomic_int stop;
	/* results */
	uint64_t forwarded, verified, corrupt, duplicates;
	uint64_t start_ms, end_ms;
	unsigned char *seen;                     /* one byte per sequence number */
};

static int udp_socket(struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int big = 8 << 20;
	struct timeval tv = { 0, 100000 }; /* receive calls return now and then to check for the end */
	socklen_t len = sizeof(*addr);

	if (fd < 0)
		return -1;
	/* Root may exceed net.core.rmem_max; others get what the system allows. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	addr->sin_port = 0;
	if (bind(fd, (struct sockaddr *)addr, sizeof(*addr)) != 0 ||
	    getsockname(fd, (struct sockaddr *)addr, &len) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send every packet of @v[0..n), retrying what the socket did not take yet. */
static int send_all_mbufs(int fd, struct m_mmsg *v, int n, const struct sockaddr_in *to)
{
	for (int s = 0; s < n;) {
		int r = m_sendmmsg(fd, v + s, n - s, (const struct sockaddr *)to, sizeof(*to), 0);

		if (r == -EINTR || r == -EAGAIN || r == -ENOBUFS) {
			sched_yield();
			continue;
		}
		if (r < 0) {
			fprintf(stderr, "relay: sendmmsg: %s\n", strerror(-r));
			for (int i = s; i < n; i++)
				m_freem(v[i].mm_m);
			return -1;
		}
		s += r;
	}
	return 0;
}

/* ---------------------------------------------------------------- sender */

static void *sender(void *arg)
{
	struct relay *r = arg;
	struct m_mmsg v[BATCH];
	unsigned char buf[MAX_LEN];

	for (uint64_t seq = 0; seq < r->count && !atomic_load(&r->stop);) {
		int n = 0;

		/* Keep at most WINDOW datagrams between us and the receiver. */
		while (seq - atomic_load(&r->received) >= WINDOW && !atomic_load(&r->stop))
			sched_yield();
		for (; n < BATCH && seq < r->count && seq - atomic_load(&r->received) < WINDOW; n++, seq++) {
			uint32_t len = dgram_len(seq);

			memcpy(buf, &seq, sizeof(seq));
			for (uint32_t i = sizeof(seq); i < len; i++)
				buf[i] = dgram_byte(seq, i);
			memset(&v[n], 0, sizeof(v[n]));
			v[n].mm_m = m_devget((char *)buf, (int)len, 0, NULL, NULL);
			if (!v[n].mm_m) {
				fprintf(stderr, "relay: sender: out of mbufs\n");
				atomic_store(&r->stop, 1);
				break;
			}
		}
		if (send_all_mbufs(r->snd_fd, v, n, &r->relay_addr) != 0)
			atomic_store(&r->stop, 1);
	}
	return NULL;
}

/* ---------------------------------------------------------------- relay */

static void tunnel_header(unsigned char *p, uint32_t len)
{
	uint16_t magic = TUN_MAGIC, flags = 0;

	memcpy(p, &magic, 2);
	memcpy(p + 2, &flags, 2);
	memcpy(p + 4, &len, 4);
}

static void relay_mbufs(struct relay *r)
{
	struct m_mmsg v[BATCH];
	uint64_t idle_since = now_ms();

	while (r->forwarded < r->count && !atomic_load(&r->stop)) {
		int n = m_recvmmsg(r->relay_fd, v, BATCH, MCLBYTES - TUN_HDR, TUN_HDR, MSG_WAITFORONE, M_WAIT);

		if (n == -EAGAIN || n == -EINTR) {
			if (now_ms() - idle_since > IDLE_LIMIT_MS)
				break;
			continue;
		}
		if (n < 0) {
			fprintf(stderr, "relay: recvmmsg: %s\n", strerror(-n));
			break;
		}
		idle_since = now_ms();
		int k = 0;

		for (int i = 0; i < n; i++) {
			struct mbuf *m = v[i].mm_m;
			uint32_t len = (uint32_t)m->m_pkthdr.len;

			M_PREPEND(m, TUN_HDR, M_DONTWAIT); /* in place: m_recvmmsg left TUN_HDR bytes in front */
			if (!m)
				continue;                  /* freed by M_PREPEND: counted as lost at the end */
			tunnel_header(mtod(m, unsigned char *), len);
			v[k] = v[i];
			v[k++].mm_m = m;
		}
		r->forwarded += (uint64_t)n;
		if (send_all_mbufs(r->relay_fd, v, k, &r->rcv_addr) != 0)
			break;
	}
}

static void relay_skbs(struct relay *r)
{
	struct skb_mmsg v[BATCH];
	uint64_t idle_since = now_ms();

	while (r->forwarded < r->count && !atomic_load(&r->stop)) {
		int n = skb_recvmmsg(r->relay_fd, v, BATCH, MAX_LEN, NET_SKB_PAD, MSG_WAITFORONE, GFP_KERNEL);

		if (n == -EAGAIN || n == -EINTR) {
			if (now_ms() - idle_since > IDLE_LIMIT_MS)
				break;
			continue;
		}
		if (n < 0) {
			fprintf(stderr, "relay: recvmmsg: %s\n", strerror(-n));
			break;
		}
		idle_since = now_ms();
		for (int i = 0; i < n; i++) {
			uint32_t len = v[i].sm_skb->len;

			tunnel_header(skb_push(v[i].sm_skb, TUN_HDR), len); /* into the headroom */
		}
		r->forwarded += (uint64_t)n;
		for (int s = 0; s < n;) {
			int sent = skb_sendmmsg(r->relay_fd, v + s, n - s, (const struct sockaddr *)&r->rcv_addr,
						sizeof(r->rcv_addr), 0);

			if (sent == -EINTR || sent == -EAGAIN || sent == -ENOBUFS) {
				sched_yield();
				continue;
			}
			if (sent < 0) {
				fprintf(stderr, "relay: sendmmsg: %s\n", strerror(-sent));
				for (int i = s; i < n; i++)
					kfree_skb(v[i].sm_skb);
				return;
			}
			s += sent;
		}
	}
}

static void *relay_thread(void *arg)
{
	struct relay *r = arg;

	if (r->mode_skb)
		relay_skbs(r);
	else
		relay_mbufs(r);
	return NULL;
}

/* ---------------------------------------------------------------- receiver */

static bool verify(struct relay *r, struct mbuf *m)
{
	unsigned char hdr[TUN_HDR], buf[MAX_LEN];
	uint16_t magic;
	uint32_t len;
	uint64_t seq;

	if (m->m_pkthdr.len < TUN_HDR + (int)sizeof(seq))
		return false;
	m_copydata(m, 0, TUN_HDR, hdr);
	memcpy(&magic, hdr, 2);
	memcpy(&len, hdr + 4, 4);
	m_adj(m, TUN_HDR); /* strip the tunnel header */
	if (magic != TUN_MAGIC || len != (uint32_t)m->m_pkthdr.len || len > MAX_LEN)
		return false;
	m_copydata(m, 0, (int)len, buf);
	memcpy(&seq, buf, sizeof(seq));
	if (seq >= r->count || len != dgram_len(seq))
		return false;
	for (uint32_t i = sizeof(seq); i < len; i++)
		if (buf[i] != dgram_byte(seq, i))
			return false;
	if (r->seen[seq]++)
		r->duplicates++;
	return true;
}

static void *receiver(void *arg)
{
	struct relay *r = arg;
	struct m_mmsg v[BATCH];
	uint64_t got = 0, idle_since = now_ms();

	while (got < r->count) {
		int n = m_recvmmsg(r->rcv_fd, v, BATCH, MCLBYTES, 0, MSG_WAITFORONE, M_WAIT);

		if (n == -EAGAIN || n == -EINTR) {
			if (now_ms() - idle_since > IDLE_LIMIT_MS)
				break; /* something was lost: report it */
			continue;
		}
		if (n < 0) {
			fprintf(stderr, "relay: receiver: recvmmsg: %s\n", strerror(-n));
			break;
		}
		idle_since = now_ms();
		for (int i = 0; i < n; i++) {
			if (verify(r, v[i].mm_m))
				r->verified++;
			else
				r->corrupt++;
			m_freem(v[i].mm_m);
		}
		got += (uint64_t)n;
		atomic_store(&r->received, got);
	}
	r->end_ms = now_ms();
	atomic_store(&r->stop, 1);
	return NULL;
}

/* ---------------------------------------------------------------- main */

static int run(uint64_t count, int mode_skb)
{
	struct relay r;
	pthread_t ts, tr, tv;
	int failed = 0;

	memset(&r, 0, sizeof(r));
	r.count = count;
	r.mode_skb = mode_skb;
	r.seen = calloc(count, 1);
	struct sockaddr_in snd_addr;

	r.snd_fd = udp_socket(&snd_addr);
	r.relay_fd = udp_socket(&r.relay_addr);
	r.rcv_fd = udp_socket(&r.rcv_addr);
	if (!r.seen || r.snd_fd < 0 || r.relay_fd < 0 || r.rcv_fd < 0) {
		perror("relay: setup");
		return 1;
	}
	printf("mode %s: %" PRIu64 " datagrams of %d..%d bytes, 127.0.0.1:%u -> relay :%u -> receiver :%u\n",
	       mode_skb ? "skb (skb_recvmmsg, skb_push, skb_sendmmsg)" : "mbuf (m_recvmmsg, M_PREPEND, m_sendmmsg)",
	       count, MIN_LEN, MAX_LEN, ntohs(snd_addr.sin_port), ntohs(r.relay_addr.sin_port),
	       ntohs(r.rcv_addr.sin_port));

	r.start_ms = now_ms();
	pthread_create(&tv, NULL, receiver, &r);
	pthread_create(&tr, NULL, relay_thread, &r);
	pthread_create(&ts, NULL, sender, &r);
	pthread_join(ts, NULL);
	pthread_join(tv, NULL);
	atomic_store(&r.stop, 1);
	pthread_join(tr, NULL);

	uint64_t lost = 0;

	for (uint64_t s = 0; s < count; s++)
		lost += !r.seen[s];
	double secs = (double)(r.end_ms - r.start_ms) / 1000.0;

	printf("  %" PRIu64 " forwarded, %" PRIu64 " verified byte for byte, %" PRIu64 " corrupt, %" PRIu64
	       " duplicated, %" PRIu64 " lost\n",
	       r.forwarded, r.verified, r.corrupt, r.duplicates, lost);
	printf("  %.3f s: %.0f datagrams/s through the relay\n", secs, secs > 0 ? (double)r.verified / secs : 0.0);
	if (lost || r.corrupt || r.duplicates || r.verified != count) {
		printf("  DATA LOST OR DAMAGED\n");
		failed = 1;
	}
	close(r.snd_fd);
	close(r.relay_fd);
	close(r.rcv_fd);
	free(r.seen);
	return failed;
}

int main(int argc, char **argv)
{
	uint64_t count = DEFAULT_COUNT;
	const char *mode = "both";
	int failed = 0;

	if (argc > 1) {
		char *end;

		errno = 0;
		count = strtoull(argv[1], &end, 0);
		if (errno || *end || count == 0 || argv[1][0] == '-') {
			fprintf(stderr, "usage: %s [COUNT] [mbuf|skb|both]\n", argv[0]);
			return 2;
		}
	}
	if (argc > 2)
		mode = argv[2];
	if (strcmp(mode, "mbuf") && strcmp(mode, "skb") && strcmp(mode, "both")) {
		fprintf(stderr, "usage: %s [COUNT] [mbuf|skb|both]\n", argv[0]);
		return 2;
	}
	printf("pktmem %s UDP tunnel relay on loopback\n\n", pktmem_version_string());
	if (strcmp(mode, "skb"))
		failed |= run(count, 0);
	if (strcmp(mode, "mbuf"))
		failed |= run(count, 1);

	printf("\n--- statistics (netstat -m style) ---\n");
	pktmem_stats_print(stdout);
	printf("-------------------------------------\n");

	struct kmem_cache *caches[] = { pktmem_mbuf_cache(), pktmem_cluster_cache(), pktmem_skbuff_cache() };

	for (unsigned i = 0; i < sizeof(caches) / sizeof(caches[0]); i++) {
		struct pktmem_stats st;

		kmem_cache_stats(caches[i], &st);
		if (st.in_use) {
			printf("%s: %" PRIu64 " still in use\n", st.name, st.in_use);
			failed = 1;
		}
	}
	printf("%s\n", failed ? "FAILED" : "OK: every datagram relayed and verified, nothing left in use");
	return failed;
}
