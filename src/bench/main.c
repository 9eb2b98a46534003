/* main.c — peertrack-bench: options, the generator processes, the target's
 * /proc figures, the table and --json.
 *
 * The parent forks --workers generators (more if one process's file limit
 * cannot hold its share of the connections), waits until every one has its
 * connections settled, then says "go" to all at once, samples the target's
 * CPU time over the same measured window the workers use, collects their
 * results (histograms merge exactly) and reads the target's RSS while every
 * peer is still connected.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

static const int close_code_of[8] = { 1000, 1001, 1008, 1011, 1013, 4000, 4029, 0 };

int bench_close_slot(int code)
{
	for (int i = 0; i < 7; i++)
		if (close_code_of[i] == code)
			return i;
	return 7;
}

void bench_result_merge(bench_result *a, const bench_result *b)
{
	a->attempted += b->attempted;
	a->connected += b->connected;
	a->failed += b->failed;
	a->http503 += b->http503;
	a->hs_dropped += b->hs_dropped;
	a->retries += b->retries;
	a->refused += b->refused;
	for (int i = 0; i < 8; i++)
		a->close_codes[i] += b->close_codes[i];
	a->src_mismatch += b->src_mismatch;
	a->open_end += b->open_end;
	if (b->setup_us > a->setup_us)
		a->setup_us = b->setup_us;
	a->sent += b->sent;
	a->received += b->received;
	a->errors += b->errors;
	if (b->window_us > a->window_us)
		a->window_us = b->window_us;
	a->cpu_user_s += b->cpu_user_s;
	a->cpu_sys_s += b->cpu_sys_s;
	a->cpu_setup_s += b->cpu_setup_s;
	bench_hist_merge(&a->lat, &b->lat);
	bench_hist_merge(&a->connect_lat, &b->connect_lat);
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: peertrack-bench --mode MODE [options]\n"
	        "modes:\n"
	        "  idle     N peers, each announcing --hashes, then only heartbeats: target RSS per peer\n"
	        "  relay    pairs relay messages to each other: messages/s and latency\n"
	        "  tracker  announce/withdraw/lookup mix over a Zipf-popular hash population\n"
	        "  lookup   --holders peers hold one hash, --peers peers look it up in a loop\n"
	        "  scale    in-process lookup cost against the holder count (no network)\n"
	        "options:\n"
	        "  --proto peertrack|peerjs|echo|wt  message adapter (default peertrack; wt: the\n"
	        "                          WebTorrent tracker protocol on /announce, idle and relay)\n"
	        "  --target HOST:PORT      loopback target (default 127.0.0.1:8000); repeat it for\n"
	        "                          the nodes of one tracker: connections are dealt over them\n"
	        "  --split                 relay over several targets: each pair's two peers on two\n"
	        "                          nodes (default: both on one, pairs dealt over the nodes)\n"
	        "  --target-pid PID        read the target's RSS and CPU time from /proc; repeat it\n"
	        "                          to add up CPU time (nodes, redis-server; RSS: the first)\n"
	        "  --peers N               connections (default 100; relay: 2 per pair)\n"
	        "  --workers N             generator processes (default 1; raised if the file\n"
	        "                          limit cannot hold a worker's share)\n"
	        "  --rate R                connections started per second (default 2000)\n"
	        "  --max-pending N         handshakes in flight per worker (default 256)\n"
	        "  --retry N               reconnect up to N times after a 503, a close in the\n"
	        "                          handshake or a 1013 before the welcome, as clients\n"
	        "                          do: after 1-2x --retry-ms (default\n"
	        "                          1000), doubling up to 30 s (default 0: count them out)\n"
	        "  --warmup S --duration S seconds (default 1 and 5)\n"
	        "  --inflight K            relay: messages in flight per pair (default 1)\n"
	        "  --msg-rate R            relay: open loop, R messages/s in all (default: closed loop)\n"
	        "  --size B                relay: payload bytes (default 500)\n"
	        "  --hashes K              idle/tracker: hashes announced per peer (default 10)\n"
	        "  --population P --zipf S tracker: distinct hashes and popularity skew (10000, 1.0)\n"
	        "  --mix L,A               tracker: %% lookups, %% announces, rest withdraws (80,10)\n"
	        "  --holders H             lookup: holders of the hot hash (default 10)\n"
	        "  --lookup-max K          tracker/lookup: peers asked for per lookup (default 20)\n"
	        "  --scale-list N,N,...    scale: holder counts (default 10,100,1000,10000,100000)\n"
	        "  --per-addr N            connections per source address (default 32)\n"
	        "  --src-base A.B.C.D      first source address (default 127.16.0.1)\n"
	        "  --origin O|none         Origin header (default http://bench.localhost)\n"
	        "  --path P                request path (default: the adapter's)\n"
	        "  --heartbeat-ms MS       app heartbeat (default: the server's hint, else 10000)\n"
	        "  --label TEXT --json\n");
}

static int parse_opts(int argc, char **argv, bench_opts *o)
{
	static const struct option lo[] = {
		{ "mode", 1, 0, 'm' }, { "proto", 1, 0, 'P' }, { "target", 1, 0, 't' },
		{ "target-pid", 1, 0, 'T' }, { "peers", 1, 0, 'n' }, { "workers", 1, 0, 'w' },
		{ "rate", 1, 0, 'r' }, { "max-pending", 1, 0, 'M' }, { "warmup", 1, 0, 'W' },
		{ "duration", 1, 0, 'd' }, { "inflight", 1, 0, 'i' }, { "msg-rate", 1, 0, 'R' },
		{ "size", 1, 0, 's' }, { "hashes", 1, 0, 'k' }, { "population", 1, 0, 'p' },
		{ "zipf", 1, 0, 'z' }, { "mix", 1, 0, 'x' }, { "holders", 1, 0, 'H' },
		{ "per-addr", 1, 0, 'a' }, { "src-base", 1, 0, 'b' }, { "origin", 1, 0, 'o' },
		{ "path", 1, 0, 'q' }, { "heartbeat-ms", 1, 0, 'B' }, { "label", 1, 0, 'l' },
		{ "json", 0, 0, 'j' }, { "scale-list", 1, 0, 'S' }, { "help", 0, 0, 'h' },
		{ "lookup-max", 1, 0, 'L' }, { "retry", 1, 0, 'y' }, { "retry-ms", 1, 0, 'Y' },
		{ "split", 0, 0, 'X' },
		{ 0, 0, 0, 0 }
	};
	struct in_addr a;
	int c;

	memset(o, 0, sizeof(*o));
	o->origin = "http://bench.localhost";
	o->peers = 100;
	o->workers = 1;
	o->rate = 2000;
	o->max_pending = 256;
	o->retry_ms = 1000;
	o->warmup_s = 1;
	o->duration_s = 5;
	o->inflight = 1;
	o->size = 500;
	o->hashes = 10;
	o->population = 10000;
	o->lookup_max = 20;
	o->zipf = 1.0;
	o->pct_lookup = 80;
	o->pct_announce = 10;
	o->holders = 10;
	o->per_addr = 32;
	o->src_base = 0x7f100001; /* 127.16.0.1 */
	o->label = "";
	o->scale_list = "10,100,1000,10000,100000";
	o->mode = (enum bench_mode)-1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'm':
			o->mode = !strcmp(optarg, "idle") ? MODE_IDLE : !strcmp(optarg, "relay") ? MODE_RELAY
			        : !strcmp(optarg, "tracker") ? MODE_TRACKER : !strcmp(optarg, "lookup") ? MODE_LOOKUP
			        : !strcmp(optarg, "scale") ? MODE_SCALE : (enum bench_mode)-1;
			break;
		case 'P':
			if (!strcmp(optarg, "peertrack")) o->proto = PROTO_PEERTRACK;
			else if (!strcmp(optarg, "peerjs")) o->proto = PROTO_PEERJS;
			else if (!strcmp(optarg, "echo")) o->proto = PROTO_ECHO;
			else if (!strcmp(optarg, "wt")) o->proto = PROTO_WT;
			else return -1;
			break;
		case 't': {
			const char *colon = strrchr(optarg, ':');
			bench_target *t = &o->target[o->ntargets];

			if (o->ntargets == BENCH_MAX_TARGETS || !colon || (size_t)(colon - optarg) >= sizeof(t->host))
				return -1;
			memcpy(t->host, optarg, (size_t)(colon - optarg));
			t->host[colon - optarg] = 0;
			t->port = atoi(colon + 1);
			o->ntargets++;
			break;
		}
		case 'T':
			if (o->ntarget_pids == BENCH_MAX_TARGETS)
				return -1;
			o->target_pid[o->ntarget_pids++] = atoi(optarg);
			break;
		case 'X': o->split = true; break;
		case 'n': o->peers = atoi(optarg); break;
		case 'w': o->workers = atoi(optarg); break;
		case 'r': o->rate = atof(optarg); break;
		case 'M': o->max_pending = atoi(optarg); break;
		case 'y': o->retry = atoi(optarg); break;
		case 'Y': o->retry_ms = atoi(optarg); break;
		case 'W': o->warmup_s = atof(optarg); break;
		case 'd': o->duration_s = atof(optarg); break;
		case 'i': o->inflight = atoi(optarg); break;
		case 'R': o->msg_rate = atof(optarg); break;
		case 's': o->size = atoi(optarg); break;
		case 'k': o->hashes = atoi(optarg); break;
		case 'p': o->population = atoi(optarg); break;
		case 'z': o->zipf = atof(optarg); break;
		case 'x':
			if (sscanf(optarg, "%d,%d", &o->pct_lookup, &o->pct_announce) != 2)
				return -1;
			break;
		case 'H': o->holders = atoi(optarg); break;
		case 'L': o->lookup_max = atoi(optarg); break;
		case 'a': o->per_addr = atoi(optarg); break;
		case 'b':
			if (inet_pton(AF_INET, optarg, &a) != 1)
				return -1;
			o->src_base = ntohl(a.s_addr);
			break;
		case 'o': o->origin = strcmp(optarg, "none") ? optarg : NULL; break;
		case 'q': o->path = optarg; break;
		case 'B': o->heartbeat_ms = atoi(optarg); break;
		case 'l': o->label = optarg; break;
		case 'j': o->json = true; break;
		case 'S': o->scale_list = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
	}
	if ((int)o->mode < 0 || optind != argc)
		return -1;
	if (!o->ntargets) {
		strcpy(o->target[0].host, "127.0.0.1");
		o->target[0].port = 8000;
		o->ntargets = 1;
	}
	if (o->peers < 1 || o->workers < 1 || o->rate <= 0 || o->max_pending < 1 ||
	    o->retry < 0 || o->retry > 255 || o->retry_ms < 1 ||
	    o->warmup_s < 0 || o->duration_s <= 0 || o->inflight < 1 || o->size < 0 ||
	    o->size > 1 << 20 || o->hashes < 0 || o->population < 1 || o->per_addr < 1 ||
	    o->holders < 0 || o->lookup_max < 1)
		return -1;
	/* Loopback only: every target and every source address. */
	for (int i = 0; i < o->ntargets; i++) {
		if (o->target[i].port <= 0 || o->target[i].port > 65535)
			return -1;
		if (inet_pton(AF_INET, o->target[i].host, &a) != 1 || (ntohl(a.s_addr) >> 24) != 127) {
			fprintf(stderr, "peertrack-bench: a target must be a 127.0.0.0/8 address\n");
			return -1;
		}
	}
	if (o->split && (o->mode != MODE_RELAY || o->ntargets < 2)) {
		fprintf(stderr, "peertrack-bench: --split is for relay over two targets or more\n");
		return -1;
	}
	if ((o->src_base >> 24) != 127 ||
	    ((o->src_base + (uint32_t)(o->peers + o->holders) / (uint32_t)o->per_addr / 254 * 256 + 256) >> 24) != 127) {
		fprintf(stderr, "peertrack-bench: source addresses would leave 127.0.0.0/8\n");
		return -1;
	}
	if (o->proto != PROTO_PEERTRACK && (o->mode == MODE_TRACKER || o->mode == MODE_LOOKUP)) {
		fprintf(stderr, "peertrack-bench: tracker and lookup modes need --proto peertrack\n");
		return -1;
	}
	return 0;
}

/* -- the target's /proc ----------------------------------------------------- */

static long proc_rss_kb(int pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

/* utime + stime in seconds, or -1. */
static double proc_cpu_s(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	ssize_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (!(f = fopen(path, "r")))
		return -1;
	n = (ssize_t)fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	/* Fields after the command name, which may hold spaces: state is 3,
	 * utime 14 and stime 15. */
	if (!(p = strrchr(buf, ')')) ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* The CPU time of every --target-pid, each into each[] and added up, or
 * -1 if one is gone. */
static double targets_cpu_s(const bench_opts *o, double *each)
{
	double sum = 0;

	for (int i = 0; i < o->ntarget_pids; i++) {
		if ((each[i] = proc_cpu_s(o->target_pid[i])) < 0)
			return -1;
		sum += each[i];
	}
	return sum;
}

static double loadavg1(void)
{
	double l = -1;
	FILE *f = fopen("/proc/loadavg", "r");

	if (f) {
		if (fscanf(f, "%lf", &l) != 1)
			l = -1;
		fclose(f);
	}
	return l;
}

static double mono_s(void)
{
	return (double)bench_now_us() / 1e6;
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* -- workers ---------------------------------------------------------------- */

typedef struct child {
	pid_t pid;
	int ctl, res;
	bench_result r;
} child;

/* Reads a tag and a result from a worker, waiting at most timeout_s. */
static int read_result(child *k, char want, double timeout_s)
{
	double end = mono_s() + timeout_s;
	char *p = (char *)&k->r;
	size_t left = sizeof(k->r);
	char tag = 0;
	bool have_tag = false;

	while (left) {
		struct pollfd pf = { .fd = k->res, .events = POLLIN };
		double rem = end - mono_s();
		ssize_t n;

		if (rem <= 0 || poll(&pf, 1, (int)(rem * 1000) + 1) <= 0)
			return -1;
		if (!have_tag) {
			if (read(k->res, &tag, 1) != 1 || tag != want)
				return -1;
			have_tag = true;
			continue;
		}
		n = read(k->res, p, left);
		if (n <= 0)
			return -1;
		p += n;
		left -= (size_t)n;
	}
	return 0;
}

static void tell(child *ks, int n, char what)
{
	for (int i = 0; i < n; i++)
		if (ks[i].ctl >= 0 && write(ks[i].ctl, &what, 1) != 1) {
			close(ks[i].ctl);
			ks[i].ctl = -1;
		}
}

static int spawn(const bench_opts *o, child *k, int index, int nworkers, uint32_t first, uint32_t n)
{
	int ctl[2], res[2];

	if (pipe2(ctl, O_CLOEXEC) || pipe2(res, O_CLOEXEC))
		return -1;
	fflush(NULL);
	k->pid = fork();
	if (k->pid < 0)
		return -1;
	if (k->pid == 0) {
		bench_worker w;
		int rc, fl;

		memset(&w, 0, sizeof(w));
		close(ctl[1]);
		close(res[0]);
		fl = fcntl(ctl[0], F_GETFL);
		fcntl(ctl[0], F_SETFL, fl | O_NONBLOCK);
		w.o = o;
		w.index = index;
		w.nworkers = nworkers;
		w.ctl_in = ctl[0];
		w.res_out = res[1];
		w.first = first;
		w.n = n;
		rc = bench_worker_run(&w);
		_exit(rc ? 1 : 0);
	}
	close(ctl[0]);
	close(res[1]);
	k->ctl = ctl[1];
	k->res = res[0];
	return 0;
}

/* -- output ----------------------------------------------------------------- */

typedef struct summary {
	bench_result r;
	int workers;
	uint32_t conns;
	long rss_before_kb, rss_settled_kb, rss_end_kb;
	double target_cpu_s, target_window_s, load_before, load_after;
	double target_cpu_each_s[BENCH_MAX_TARGETS]; /* per --target-pid, same order */
} summary;

static const char *mode_name(enum bench_mode m)
{
	static const char *const n[] = { "idle", "relay", "tracker", "lookup", "scale" };

	return n[m];
}

static const char *proto_name(enum bench_proto p)
{
	static const char *const n[] = { "peertrack", "peerjs", "echo", "wt" };

	return n[p];
}

static void print_table(const bench_opts *o, const summary *s)
{
	const bench_result *r = &s->r;
	double win = (double)r->window_us / 1e6, setup = (double)r->setup_us / 1e6;
	double gen = r->cpu_user_s + r->cpu_sys_s;

	printf("%-22s %s %s%s%s\n", "run", mode_name(o->mode), proto_name(o->proto),
	       *o->label ? " " : "", o->label);
	printf("%-22s %u over %d worker(s), %llu connected, %llu failed, %llu refused, "
	       "%llu open at the end\n",
	       "connections", s->conns, s->workers, (unsigned long long)r->connected,
	       (unsigned long long)r->failed, (unsigned long long)r->refused,
	       (unsigned long long)r->open_end);
	if (r->http503 || r->hs_dropped || r->retries)
		printf("%-22s %llu answered 503, %llu closed in the handshake, %llu reconnects "
		       "(--retry %d)\n", "pacing", (unsigned long long)r->http503,
		       (unsigned long long)r->hs_dropped, (unsigned long long)r->retries, o->retry);
	if (r->src_mismatch)
		printf("%-22s %llu sockets not bound to the chosen source address\n", "WARNING",
		       (unsigned long long)r->src_mismatch);
	printf("%-22s %.2f s (%.0f/s), ready p50 %llu us p99 %llu us\n", "setup", setup,
	       setup > 0 ? (double)r->connected / setup : 0,
	       (unsigned long long)bench_hist_quantile(&r->connect_lat, 0.5),
	       (unsigned long long)bench_hist_quantile(&r->connect_lat, 0.99));
	if (r->close_codes[4] || r->close_codes[6] || r->close_codes[2])
		printf("%-22s 1008:%llu 1013:%llu 4029:%llu other:%llu\n", "server closes",
		       (unsigned long long)r->close_codes[2], (unsigned long long)r->close_codes[4],
		       (unsigned long long)r->close_codes[6],
		       (unsigned long long)(r->close_codes[0] + r->close_codes[1] + r->close_codes[3] +
		                            r->close_codes[5] + r->close_codes[7]));
	if (o->mode != MODE_IDLE) {
		printf("%-22s %.0f %s/s over %.2f s (%llu sent, %llu errors)\n", "throughput",
		       win > 0 ? (double)r->received / win : 0, o->mode == MODE_RELAY ? "msg" : "req",
		       win, (unsigned long long)r->sent, (unsigned long long)r->errors);
		printf("%-22s p50 %llu  p90 %llu  p99 %llu  p99.9 %llu  max %llu  mean %.0f\n",
		       "latency (us)", (unsigned long long)bench_hist_quantile(&r->lat, 0.5),
		       (unsigned long long)bench_hist_quantile(&r->lat, 0.9),
		       (unsigned long long)bench_hist_quantile(&r->lat, 0.99),
		       (unsigned long long)bench_hist_quantile(&r->lat, 0.999),
		       (unsigned long long)r->lat.max,
		       r->lat.count ? (double)r->lat.sum / (double)r->lat.count : 0);
	}
	printf("%-22s generator %.2f cores (%.2f s)", "cpu over window", win > 0 ? gen / win : 0, gen);
	if (s->target_cpu_s >= 0 && o->ntarget_pids)
		printf(", target%s %.2f cores (%.2f s)", o->ntarget_pids > 1 ? "s" : "",
		       s->target_window_s > 0 ? s->target_cpu_s / s->target_window_s : 0, s->target_cpu_s);
	printf("\n");
	if (o->mode == MODE_RELAY && s->target_cpu_s >= 0 && o->ntarget_pids && r->received)
		printf("%-22s %.2f us per relayed message\n", "target cpu",
		       s->target_cpu_s * 1e6 / (double)r->received);
	if (o->target_pid[0] && s->rss_end_kb >= 0) {
		printf("%-22s before %ld KiB, settled %ld KiB, end %ld KiB", "target rss",
		       s->rss_before_kb, s->rss_settled_kb, s->rss_end_kb);
		if (r->connected)
			printf(" -> %.0f bytes/peer",
			       (double)(s->rss_end_kb - s->rss_before_kb) * 1024.0 / (double)r->connected);
		printf("\n");
	}
	printf("%-22s %.2f before, %.2f after\n", "load average (1 min)", s->load_before,
	       s->load_after);
}

static void print_json(const bench_opts *o, const summary *s)
{
	const bench_result *r = &s->r;
	double win = (double)r->window_us / 1e6, setup = (double)r->setup_us / 1e6;
	double gen = r->cpu_user_s + r->cpu_sys_s;
	const bench_hist *h = &r->lat;

	printf("{\"mode\":\"%s\",\"proto\":\"%s\",\"label\":\"%s\",\"target\":\"%s:%d\","
	       "\"targets\":%d,\"split\":%s,"
	       "\"peers\":%u,\"workers\":%d,\"inflight\":%d,\"msg_rate\":%.0f,\"size\":%d,"
	       "\"hashes\":%d,\"holders\":%d,\"lookup_max\":%d,\"population\":%d,\"zipf\":%.2f,",
	       mode_name(o->mode), proto_name(o->proto), o->label, o->target[0].host, o->target[0].port,
	       o->ntargets, o->split ? "true" : "false", s->conns,
	       s->workers, o->inflight, o->msg_rate, o->size, o->hashes, o->holders, o->lookup_max,
	       o->population, o->zipf);
	printf("\"http503\":%llu,\"hs_dropped\":%llu,\"retries\":%llu,",
	       (unsigned long long)r->http503, (unsigned long long)r->hs_dropped,
	       (unsigned long long)r->retries);
	printf("\"connected\":%llu,\"failed\":%llu,\"refused\":%llu,\"open_end\":%llu,"
	       "\"src_mismatch\":%llu,"
	       "\"close_codes\":{\"1000\":%llu,\"1001\":%llu,\"1008\":%llu,\"1011\":%llu,"
	       "\"1013\":%llu,\"4000\":%llu,\"4029\":%llu,\"other\":%llu},",
	       (unsigned long long)r->connected, (unsigned long long)r->failed,
	       (unsigned long long)r->refused, (unsigned long long)r->open_end,
	       (unsigned long long)r->src_mismatch, (unsigned long long)r->close_codes[0],
	       (unsigned long long)r->close_codes[1],
	       (unsigned long long)r->close_codes[2], (unsigned long long)r->close_codes[3],
	       (unsigned long long)r->close_codes[4], (unsigned long long)r->close_codes[5],
	       (unsigned long long)r->close_codes[6], (unsigned long long)r->close_codes[7]);
	printf("\"setup_s\":%.3f,\"connect_rate\":%.1f,\"ready_p50_us\":%llu,\"ready_p99_us\":%llu,",
	       setup, setup > 0 ? (double)r->connected / setup : 0,
	       (unsigned long long)bench_hist_quantile(&r->connect_lat, 0.5),
	       (unsigned long long)bench_hist_quantile(&r->connect_lat, 0.99));
	printf("\"window_s\":%.3f,\"sent\":%llu,\"received\":%llu,\"errors\":%llu,\"rate\":%.1f,",
	       win, (unsigned long long)r->sent, (unsigned long long)r->received,
	       (unsigned long long)r->errors, win > 0 ? (double)r->received / win : 0);
	printf("\"latency_us\":{\"count\":%llu,\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,\"p999\":%llu,"
	       "\"max\":%llu,\"mean\":%.1f},",
	       (unsigned long long)h->count, (unsigned long long)bench_hist_quantile(h, 0.5),
	       (unsigned long long)bench_hist_quantile(h, 0.9),
	       (unsigned long long)bench_hist_quantile(h, 0.99),
	       (unsigned long long)bench_hist_quantile(h, 0.999), (unsigned long long)h->max,
	       h->count ? (double)h->sum / (double)h->count : 0);
	printf("\"gen_cpu_s\":%.3f,\"gen_cores\":%.3f,\"gen_setup_cpu_s\":%.3f,", gen,
	       win > 0 ? gen / win : 0, r->cpu_setup_s);
	printf("\"target_pid\":%d,\"target_pids\":%d,\"target_cpu_s\":%.3f,\"target_cores\":%.3f,"
	       "\"target_cpu_us_per_msg\":%.3f,",
	       o->target_pid[0], o->ntarget_pids, s->target_cpu_s,
	       s->target_window_s > 0 ? s->target_cpu_s / s->target_window_s : 0,
	       r->received && s->target_cpu_s >= 0 ? s->target_cpu_s * 1e6 / (double)r->received : 0);
	printf("\"target_cpu_each_s\":[");
	for (int i = 0; i < o->ntarget_pids; i++)
		printf("%s%.3f", i ? "," : "", s->target_cpu_s >= 0 ? s->target_cpu_each_s[i] : -1.0);
	printf("],");
	printf("\"rss_before_kb\":%ld,\"rss_settled_kb\":%ld,\"rss_end_kb\":%ld,\"rss_per_peer_bytes\":%.1f,",
	       s->rss_before_kb, s->rss_settled_kb, s->rss_end_kb,
	       r->connected && s->rss_end_kb >= 0
	               ? (double)(s->rss_end_kb - s->rss_before_kb) * 1024.0 / (double)r->connected
	               : 0);
	printf("\"load_before\":%.2f,\"load_after\":%.2f}\n", s->load_before, s->load_after);
}

/* -- main ------------------------------------------------------------------- */

static uint32_t total_conns(const bench_opts *o)
{
	uint32_t n = (uint32_t)o->peers;

	if (o->mode == MODE_RELAY)
		n = (n + 1) & ~1u;
	if (o->mode == MODE_LOOKUP)
		n += (uint32_t)o->holders;
	return n;
}

int main(int argc, char **argv)
{
	bench_opts o;
	struct rlimit rl;
	summary s;
	child *ks;
	uint32_t total, first = 0;
	int nw, rc = 1;
	double cpu0 = -1, cpu1 = -1, t0 = 0, t1 = 0, each0[BENCH_MAX_TARGETS];

	if (parse_opts(argc, argv, &o)) {
		usage(stderr);
		return 2;
	}
	if (o.mode == MODE_SCALE)
		return bench_scale_run(&o, stdout) ? 1 : 0;
	signal(SIGPIPE, SIG_IGN);
	/* Every connection is a file: take all the process may have. */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	total = total_conns(&o);
	nw = o.workers;
	while ((rlim_t)(total / (uint32_t)nw + 64) > rl.rlim_cur && nw < 64)
		nw++;
	if (o.mode == MODE_RELAY && (uint32_t)nw > total / 2)
		nw = (int)(total / 2) ? (int)(total / 2) : 1;
	if ((uint32_t)nw > total)
		nw = (int)total;

	memset(&s, 0, sizeof(s));
	bench_hist_init(&s.r.lat);
	bench_hist_init(&s.r.connect_lat);
	s.workers = nw;
	s.conns = total;
	s.rss_before_kb = s.rss_settled_kb = s.rss_end_kb = -1;
	s.target_cpu_s = -1;
	s.load_before = loadavg1();
	if (o.target_pid[0])
		s.rss_before_kb = proc_rss_kb(o.target_pid[0]);
	if (!(ks = calloc((size_t)nw, sizeof(*ks))))
		return 1;
	for (int i = 0; i < nw; i++) {
		uint32_t n;

		if (o.mode == MODE_RELAY) {
			uint32_t pairs = total / 2;

			n = 2 * (pairs / (uint32_t)nw + ((uint32_t)i < pairs % (uint32_t)nw));
		} else {
			n = total / (uint32_t)nw + ((uint32_t)i < total % (uint32_t)nw);
		}
		/* Lookup holders are the lowest global indexes: keep them contiguous. */
		ks[i].ctl = ks[i].res = -1;
		if (spawn(&o, &ks[i], i, nw, first, n)) {
			fprintf(stderr, "peertrack-bench: cannot start worker %d: %s\n", i, strerror(errno));
			nw = i;
			goto out;
		}
		first += n;
	}
	/* Setup: every worker settles its connections (bounded by its own
	 * deadline, total/rate + 60 s). */
	for (int i = 0; i < nw; i++) {
		if (read_result(&ks[i], 'R', (double)total / o.rate + 90)) {
			fprintf(stderr, "peertrack-bench: worker %d failed during setup\n", i);
			goto out;
		}
	}
	if (o.target_pid[0])
		s.rss_settled_kb = proc_rss_kb(o.target_pid[0]);
	tell(ks, nw, 'G');
	sleep_s(o.warmup_s);
	if (o.ntarget_pids) {
		t0 = mono_s();
		cpu0 = targets_cpu_s(&o, each0);
	}
	sleep_s(o.duration_s);
	if (o.ntarget_pids) {
		cpu1 = targets_cpu_s(&o, s.target_cpu_each_s);
		t1 = mono_s();
	}
	for (int i = 0; i < nw; i++) {
		if (read_result(&ks[i], 'F', 30)) {
			fprintf(stderr, "peertrack-bench: worker %d failed during the run\n", i);
			goto out;
		}
		bench_result_merge(&s.r, &ks[i].r);
	}
	if (o.ntarget_pids) {
		s.rss_end_kb = proc_rss_kb(o.target_pid[0]);
		if (cpu0 >= 0 && cpu1 >= 0) {
			s.target_cpu_s = cpu1 - cpu0;
			for (int i = 0; i < o.ntarget_pids; i++)
				s.target_cpu_each_s[i] -= each0[i];
			s.target_window_s = t1 - t0;
		}
	}
	s.load_after = loadavg1();
	if (o.json)
		print_json(&o, &s);
	else
		print_table(&o, &s);
	/* Nothing connected is a failed run, whatever was printed. */
	rc = s.r.connected ? 0 : 3;
out:
	tell(ks, nw, 'X');
	for (int i = 0; i < nw; i++) {
		int st;

		if (ks[i].ctl >= 0)
			close(ks[i].ctl);
		if (ks[i].res >= 0)
			close(ks[i].res);
		/* Closing the control pipe ends a worker that missed the 'X'. */
		if (ks[i].pid > 0 && waitpid(ks[i].pid, &st, 0) == ks[i].pid && rc != 1 &&
		    !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
			fprintf(stderr, "peertrack-bench: worker %d exited abnormally\n", i);
	}
	free(ks);
	return rc;
}
