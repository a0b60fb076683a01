/*
 * Drives libcapi-vpnsvc for test/clients/c-api.test.ts: one command per line on stdin, one JSON
 * line per command on stdout, so the test can check the kernel between calls. Whatever can only
 * be seen from inside the application (the fd is a TUN of ours, a packet read from it, the
 * option on a protected socket) is read back here, in the application's own process.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <vpn_service.h>
#include <vpn_service_ext.h>

#define SLOTS 4

static vpnsvc_h slots[SLOTS];

static const char *arg(char **save)
{
	const char *t = strtok_r(NULL, " \t\n", save);

	return t && strcmp(t, "-") == 0 ? NULL : t;
}

static vpnsvc_h slot(char **save)
{
	const char *t = strtok_r(NULL, " \t\n", save);

	if (!t || strcmp(t, "n") == 0)
		return NULL;
	return slots[atoi(t) % SLOTS];
}

static int slot_index(char **save)
{
	const char *t = strtok_r(NULL, " \t\n", save);

	return t ? atoi(t) % SLOTS : 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint16_t checksum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;

	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)(p[0] << 8 | p[1]);
	if (len)
		sum += (uint32_t)(p[0] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* An IPv4/UDP packet src -> dst:dport carrying text (UDP checksum 0: none, legal for IPv4). */
static size_t udp_packet(uint8_t *buf, const char *src, const char *dst, int dport, const char *text)
{
	struct iphdr *ip = (struct iphdr *)buf;
	struct udphdr *udp = (struct udphdr *)(buf + sizeof(*ip));
	size_t n = strlen(text), total = sizeof(*ip) + sizeof(*udp) + n;

	memset(buf, 0, sizeof(*ip) + sizeof(*udp));
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->tot_len = htons((uint16_t)total);
	inet_pton(AF_INET, src, &ip->saddr);
	inet_pton(AF_INET, dst, &ip->daddr);
	ip->check = checksum(ip, sizeof(*ip));
	udp->source = htons(40000);
	udp->dest = htons((uint16_t)dport);
	udp->len = htons((uint16_t)(sizeof(*udp) + n));
	memcpy(buf + sizeof(*ip) + sizeof(*udp), text, n);
	return total;
}

static void cmd_fd(vpnsvc_h h)
{
	struct ifreq ifr;
	int fd = -1, rc = vpnsvc_get_iface_fd(h, &fd);

	memset(&ifr, 0, sizeof(ifr));
	if (rc == 0 && ioctl(fd, TUNGETIFF, &ifr) == 0)
		printf("{\"rc\":%d,\"fd\":%d,\"tun\":\"%s\",\"tunFlag\":%s,\"noPi\":%s}\n", rc, fd, ifr.ifr_name,
		       (ifr.ifr_flags & IFF_TUN) ? "true" : "false", (ifr.ifr_flags & IFF_NO_PI) ? "true" : "false");
	else
		printf("{\"rc\":%d,\"fd\":%d,\"tunErrno\":%d}\n", rc, fd, errno);
}

static void cmd_read(vpnsvc_h h, int timeout)
{
	long long t0 = now_ms();
	int rc = vpnsvc_read(h, timeout), fd = -1;
	long long elapsed = now_ms() - t0;
	uint8_t buf[65536];
	char dst[INET_ADDRSTRLEN] = "";
	ssize_t n = -1;

	if (rc == 0 && vpnsvc_get_iface_fd(h, &fd) == 0)
		n = read(fd, buf, sizeof(buf));
	if (n >= (ssize_t)(sizeof(struct iphdr) + sizeof(struct udphdr)) && (buf[0] >> 4) == 4) {
		struct iphdr *ip = (struct iphdr *)buf;
		struct udphdr *udp = (struct udphdr *)(buf + ip->ihl * 4);

		inet_ntop(AF_INET, &ip->daddr, dst, sizeof(dst));
		printf("{\"rc\":%d,\"elapsedMs\":%lld,\"len\":%zd,\"proto\":%d,\"dst\":\"%s\",\"dport\":%d,\"payload\":\"%.*s\"}\n", rc,
		       elapsed, n, ip->protocol, dst, ip->protocol == IPPROTO_UDP ? ntohs(udp->dest) : 0,
		       ip->protocol == IPPROTO_UDP ? (int)(n - ip->ihl * 4 - (ssize_t)sizeof(*udp)) : 0,
		       ip->protocol == IPPROTO_UDP ? (const char *)(udp + 1) : "");
	} else {
		printf("{\"rc\":%d,\"elapsedMs\":%lld,\"len\":%zd}\n", rc, elapsed, n);
	}
}

/* A socket of `kind`, protected, then the option read back from our own fd. */
static void cmd_protect(vpnsvc_h h, const char *kind, const char *iface)
{
	char bound[IFNAMSIZ] = "";
	socklen_t len = sizeof(bound);
	int fd, rc;

	if (strcmp(kind, "unix") == 0)
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
	else if (strcmp(kind, "udp") == 0)
		fd = socket(AF_INET, SOCK_DGRAM, 0);
	else if (strcmp(kind, "file") == 0)
		fd = open("/dev/null", O_RDONLY);
	else
		fd = 1000; /* not open */
	rc = vpnsvc_protect(h, fd, iface);
	if (fd != 1000 && getsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, bound, &len) != 0)
		bound[0] = '\0';
	printf("{\"rc\":%d,\"bound\":\"%s\"}\n", rc, bound);
	if (fd != 1000)
		close(fd);
}

/* "a/p,a/p" into parallel arrays (at most 8); "-" is none. */
static size_t parse_list(const char *s, char *addrs[], int prefixes[], char store[][48])
{
	size_t n = 0;

	while (s && *s && n < 8) {
		const char *end = strchr(s, ','), *slash = strchr(s, '/');
		size_t len = end ? (size_t)(end - s) : strlen(s);

		if (!slash || slash > s + len || (size_t)(slash - s) >= 48)
			break;
		memcpy(store[n], s, (size_t)(slash - s));
		store[n][slash - s] = '\0';
		addrs[n] = store[n];
		prefixes[n] = atoi(slash + 1);
		n++;
		s = end ? end + 1 : NULL;
	}
	return n;
}

/* Every function with a NULL handle (and otherwise valid arguments). */
static void cmd_null(void)
{
	char *s = NULL;
	int i = 0;
	char *addrs[1] = { "10.0.0.0" };
	int prefixes[1] = { 8 };

	printf("{\"init\":%d,", vpnsvc_init("vsnull0", NULL));
	printf("\"deinit\":%d,", vpnsvc_deinit(NULL));
	printf("\"protect\":%d,", vpnsvc_protect(NULL, 0, "lo"));
	printf("\"read\":%d,", vpnsvc_read(NULL, 0));
	printf("\"write\":%d,", vpnsvc_write(NULL, "x", 1));
	printf("\"block_networks\":%d,", vpnsvc_block_networks(NULL, addrs, prefixes, 1, addrs, prefixes, 1));
	printf("\"unblock_networks\":%d,", vpnsvc_unblock_networks(NULL));
	printf("\"update_settings\":%d,", vpnsvc_update_settings(NULL));
	printf("\"get_iface_fd\":%d,", vpnsvc_get_iface_fd(NULL, &i));
	printf("\"get_iface_index\":%d,", vpnsvc_get_iface_index(NULL, &i));
	printf("\"get_iface_name\":%d,", vpnsvc_get_iface_name(NULL, &s));
	printf("\"set_mtu\":%d,", vpnsvc_set_mtu(NULL, 1400));
	printf("\"set_blocking\":%d,", vpnsvc_set_blocking(NULL, true));
	printf("\"set_session\":%d,", vpnsvc_set_session(NULL, "s"));
	printf("\"get_session\":%d,", vpnsvc_get_session(NULL, &s));
	printf("\"set_local_ip_address\":%d,", vpnsvc_set_local_ip_address(NULL, "10.0.0.1"));
	printf("\"set_remote_ip_address\":%d,", vpnsvc_set_remote_ip_address(NULL, "10.0.0.2"));
	printf("\"add_route\":%d,", vpnsvc_add_route(NULL, "10.0.0.0", 8));
	printf("\"remove_route\":%d,", vpnsvc_remove_route(NULL, "10.0.0.0", 8));
	printf("\"add_dns_server\":%d,", vpnsvc_add_dns_server(NULL, "10.0.0.53"));
	printf("\"remove_dns_server\":%d,", vpnsvc_remove_dns_server(NULL, "10.0.0.53"));
	printf("\"set_local_ip6_address\":%d}\n", vpnsvc_set_local_ip6_address(NULL, "fd00::1/64"));
}

/* Bad arguments with a valid handle: each should be INVALID_PARAMETER. */
static void cmd_bad(vpnsvc_h h)
{
	char *addrs[1] = { "10.0.0.0" };
	int prefixes[1] = { 8 };
	char *many[256];
	int manyp[256];
	char long_session[40];
	size_t i;

	for (i = 0; i < 256; i++) {
		many[i] = "10.0.0.0";
		manyp[i] = 8;
	}
	memset(long_session, 'a', sizeof(long_session) - 1);
	long_session[sizeof(long_session) - 1] = '\0';
	printf("{\"init_null_name\":%d,", vpnsvc_init(NULL, (vpnsvc_h[]){ NULL }));
	printf("\"init_long_name\":%d,", vpnsvc_init("a-name-of-16-chr", (vpnsvc_h[]){ NULL }));
	printf("\"protect_neg_fd\":%d,", vpnsvc_protect(h, -1, "lo"));
	printf("\"protect_null_iface\":%d,", vpnsvc_protect(h, 0, NULL));
	printf("\"read_neg_timeout\":%d,", vpnsvc_read(h, -1));
	printf("\"write_null\":%d,", vpnsvc_write(h, NULL, 10));
	printf("\"write_zero\":%d,", vpnsvc_write(h, "x", 0));
	printf("\"block_null_list\":%d,", vpnsvc_block_networks(h, NULL, prefixes, 1, addrs, prefixes, 1));
	printf("\"block_256\":%d,", vpnsvc_block_networks(h, many, manyp, 256, addrs, prefixes, 1));
	printf("\"get_iface_fd_null\":%d,", vpnsvc_get_iface_fd(h, NULL));
	printf("\"get_iface_index_null\":%d,", vpnsvc_get_iface_index(h, NULL));
	printf("\"get_iface_name_null\":%d,", vpnsvc_get_iface_name(h, NULL));
	printf("\"get_session_null\":%d,", vpnsvc_get_session(h, NULL));
	printf("\"set_mtu_67\":%d,", vpnsvc_set_mtu(h, 67));
	printf("\"set_session_null\":%d,", vpnsvc_set_session(h, NULL));
	printf("\"set_session_long\":%d,", vpnsvc_set_session(h, long_session));
	printf("\"set_local_not_ipv4\":%d,", vpnsvc_set_local_ip_address(h, "fd00::1"));
	printf("\"set_remote_null\":%d,", vpnsvc_set_remote_ip_address(h, NULL));
	printf("\"add_route_prefix_33\":%d,", vpnsvc_add_route(h, "10.0.0.0", 33));
	printf("\"add_route_not_ipv4\":%d,", vpnsvc_add_route(h, "10.0.0", 8));
	printf("\"remove_route_null\":%d,", vpnsvc_remove_route(h, NULL, 8));
	printf("\"add_dns_null\":%d,", vpnsvc_add_dns_server(h, NULL));
	printf("\"remove_dns_not_ipv4\":%d}\n", vpnsvc_remove_dns_server(h, "dns.example"));
}

int main(void)
{
	char line[4096];

	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin)) {
		char *save = NULL;
		const char *cmd = strtok_r(line, " \t\n", &save);

		if (!cmd)
			continue;
		if (strcmp(cmd, "quit") == 0)
			break;
		if (strcmp(cmd, "init") == 0) {
			int i = slot_index(&save);
			const char *name = arg(&save);
			vpnsvc_h h = (vpnsvc_h)0x1;
			int rc = vpnsvc_init(name, &h);

			if (rc == 0)
				slots[i] = h;
			printf("{\"rc\":%d,\"untouched\":%s}\n", rc, rc != 0 && h == (vpnsvc_h)0x1 ? "true" : "false");
		} else if (strcmp(cmd, "deinit") == 0) {
			int i = slot_index(&save);

			printf("{\"rc\":%d}\n", vpnsvc_deinit(slots[i]));
			slots[i] = NULL;
		} else if (strcmp(cmd, "fd") == 0) {
			cmd_fd(slot(&save));
		} else if (strcmp(cmd, "index") == 0) {
			int v = -1, rc = vpnsvc_get_iface_index(slot(&save), &v);

			printf("{\"rc\":%d,\"value\":%d}\n", rc, v);
		} else if (strcmp(cmd, "name") == 0 || strcmp(cmd, "session") == 0) {
			char *v = NULL;
			vpnsvc_h h = slot(&save);
			int rc = cmd[0] == 'n' ? vpnsvc_get_iface_name(h, &v) : vpnsvc_get_session(h, &v);

			printf("{\"rc\":%d,\"value\":\"%s\"}\n", rc, v ? v : "");
			free(v);
		} else if (strcmp(cmd, "setsession") == 0) {
			vpnsvc_h h = slot(&save);

			printf("{\"rc\":%d}\n", vpnsvc_set_session(h, arg(&save)));
		} else if (strcmp(cmd, "mtu") == 0) {
			vpnsvc_h h = slot(&save);
			const char *v = arg(&save);

			printf("{\"rc\":%d}\n", vpnsvc_set_mtu(h, v ? atoi(v) : 0));
		} else if (strcmp(cmd, "blocking") == 0) {
			vpnsvc_h h = slot(&save);
			const char *v = arg(&save);
			int rc = vpnsvc_set_blocking(h, v && atoi(v) != 0), fd = -1;

			vpnsvc_get_iface_fd(h, &fd);
			printf("{\"rc\":%d,\"nonblock\":%s}\n", rc, fd >= 0 && (fcntl(fd, F_GETFL) & O_NONBLOCK) ? "true" : "false");
		} else if (strcmp(cmd, "local") == 0 || strcmp(cmd, "remote") == 0) {
			vpnsvc_h h = slot(&save);
			const char *ip = arg(&save);

			printf("{\"rc\":%d}\n", cmd[0] == 'l' ? vpnsvc_set_local_ip_address(h, ip) : vpnsvc_set_remote_ip_address(h, ip));
		} else if (strcmp(cmd, "local6") == 0) {
			vpnsvc_h h = slot(&save);
			const char *ip = arg(&save);

			printf("{\"rc\":%d}\n", vpnsvc_set_local_ip6_address(h, ip && strcmp(ip, "none") == 0 ? NULL : ip));
		} else if (strcmp(cmd, "update") == 0) {
			printf("{\"rc\":%d}\n", vpnsvc_update_settings(slot(&save)));
		} else if (strcmp(cmd, "read") == 0) {
			vpnsvc_h h = slot(&save);
			const char *v = arg(&save);

			cmd_read(h, v ? atoi(v) : 0);
		} else if (strcmp(cmd, "writeudp") == 0) {
			vpnsvc_h h = slot(&save);
			const char *src = arg(&save), *dst = arg(&save), *port = arg(&save), *text = arg(&save);
			uint8_t buf[2048];
			size_t n;

			if (!src || !dst || !port || !text || strlen(text) > 1024) {
				printf("{\"rc\":\"usage\"}\n");
				continue;
			}
			n = udp_packet(buf, src, dst, atoi(port), text);
			printf("{\"rc\":%d,\"size\":%zu}\n", vpnsvc_write(h, (const char *)buf, n), n);
		} else if (strcmp(cmd, "protect") == 0) {
			vpnsvc_h h = slot(&save);
			const char *kind = arg(&save), *iface = arg(&save);

			cmd_protect(h, kind ? kind : "udp", iface);
		} else if (strcmp(cmd, "route") == 0 || strcmp(cmd, "dns") == 0) {
			vpnsvc_h h = slot(&save);
			const char *op = arg(&save), *addr = arg(&save), *prefix = cmd[0] == 'r' ? arg(&save) : NULL;
			int add = op && strcmp(op, "add") == 0, rc;

			if (cmd[0] == 'r')
				rc = add ? vpnsvc_add_route(h, addr, prefix ? atoi(prefix) : 0)
					 : vpnsvc_remove_route(h, addr, prefix ? atoi(prefix) : 0);
			else
				rc = add ? vpnsvc_add_dns_server(h, addr) : vpnsvc_remove_dns_server(h, addr);
			printf("{\"rc\":%d}\n", rc);
		} else if (strcmp(cmd, "block") == 0) {
			vpnsvc_h h = slot(&save);
			const char *vpn = arg(&save), *orig = arg(&save);
			char vs[8][48], os[8][48];
			char *va[8], *oa[8];
			int vp[8], op[8];
			size_t nv = parse_list(vpn, va, vp, vs), no = parse_list(orig, oa, op, os);

			printf("{\"rc\":%d}\n", vpnsvc_block_networks(h, va, vp, nv, oa, op, no));
		} else if (strcmp(cmd, "unblock") == 0) {
			printf("{\"rc\":%d}\n", vpnsvc_unblock_networks(slot(&save)));
		} else if (strcmp(cmd, "null") == 0) {
			cmd_null();
		} else if (strcmp(cmd, "bad") == 0) {
			cmd_bad(slot(&save));
		} else {
			printf("{\"rc\":\"unknown command %s\"}\n", cmd);
		}
	}
	for (int i = 0; i < SLOTS; i++)
		if (slots[i])
			vpnsvc_deinit(slots[i]);
	return 0;
}
