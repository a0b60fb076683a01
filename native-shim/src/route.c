/*
 * Routes through rtnetlink, batched: one socket per call and many RTM_NEWROUTE/RTM_DELROUTE
 * messages per sendmsg, so 10,000 routes cost a few dozen syscalls instead of 10,000 round trips
 * (the original issued one SIOCADDRT ioctl per route, IPv4 only).
 *
 * A route is a device route through one interface (RTA_OIF) in the main table, or, for the
 * full tunnel, in the service's own table (a device route, or a throw route that sends the
 * lookup on to the next policy rule: an excluded prefix). Each is tagged with protocol
 * VS_RTPROT so that `ip route show proto 86` lists ours and a delete never matches a route
 * someone else installed for the same prefix (the kernel compares the protocol on delete).
 *
 * A call is all-or-nothing: when one entry fails, the entries this call already changed are
 * changed back (added ones deleted, deleted ones re-added) before it returns.
 */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "shim.h"

/* Not in the kernel's list of RTPROT_* values nor in iproute2's rt_protos. */
#define VS_RTPROT 86

/*
 * IPv6 routes get metric 1. The kernel refuses (EEXIST) a second route for the same prefix with
 * the same metric, whatever the device, and both the kernel's default metric (1024) and those of
 * network managers (100, 600) are what a LAN's ::/0 uses; with 1 the VPN's ::/0 coexists with
 * it and wins, so IPv6 cannot leak around the tunnel. (0 would mean "default", i.e. 1024.)
 * IPv4 keeps metric 0, the lowest there is: 0.0.0.0/1 + 128.0.0.0/1 beat any default route.
 */
#define VS_RT6_METRIC 1

#define VS_ROUTE_ADD 1
#define VS_ROUTE_DEL 2

#define VS_FAMILY_V4 4
#define VS_FAMILY_V6 6

/*
 * Messages per sendmsg. Every message is acknowledged, and the kernel drops acks that do not fit
 * the receive buffer (the sender would then never learn what happened), so the chunk is sized
 * against the buffer: an ack costs one small skb, about 1 KB of receive buffer accounting.
 */
#define CHUNK_MAX 1024
#define ACK_TRUESIZE 1024
#define RCVBUF_WANTED (4 << 20)
#define RECV_TIMEOUT_S 10

/* nlmsghdr + rtmsg + RTA_DST(16) + RTA_OIF + RTA_PRIORITY + RTA_TABLE, all 4-byte aligned. */
#define ROUTE_MSG_MAX (NLMSG_LENGTH(sizeof(struct rtmsg)) + RTA_SPACE(16) + 3 * RTA_SPACE(4))

struct nl {
	int fd;
	uint32_t seq;
	int chunk;
};

static int nl_open(struct nl *nl)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = RECV_TIMEOUT_S };
	int one = 1, size = RCVBUF_WANTED, got = 0;
	socklen_t len = sizeof(got);

	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nl->fd < 0)
		return -errno;
	/* Acks without a copy of the request: 36 bytes each instead of 92. */
	setsockopt(nl->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	/* FORCE needs CAP_NET_ADMIN (which adding routes needs anyway); else rmem_max caps it. */
	if (setsockopt(nl->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(nl->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	setsockopt(nl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(nl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int rc = -errno;
		close(nl->fd);
		return rc;
	}
	if (getsockopt(nl->fd, SOL_SOCKET, SO_RCVBUF, &got, &len) < 0 || got <= 0)
		got = 212992;
	/* The kernel reports twice the usable size; keep half of that as headroom. */
	nl->chunk = got / 2 / ACK_TRUESIZE;
	if (nl->chunk > CHUNK_MAX)
		nl->chunk = CHUNK_MAX;
	if (nl->chunk < 1)
		nl->chunk = 1;
	nl->seq = 1;
	return 0;
}

static void add_attr(struct nlmsghdr *nh, unsigned short type, const void *data, unsigned short len)
{
	struct rtattr *rta = (struct rtattr *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

static int addr_len(uint8_t family)
{
	return family == VS_FAMILY_V4 ? 4 : family == VS_FAMILY_V6 ? 16 : -1;
}

/*
 * Writes one route message at buf; returns its length. table 0 is the main table; type is
 * RTN_UNICAST (a device route through ifindex) or RTN_THROW (no device: a lookup that hits it
 * goes on with the next policy rule).
 */
static size_t build_route_msg(char *buf, int op, uint32_t seq, int ifindex, uint8_t family,
			      const uint8_t *addr16, uint8_t prefix, uint32_t table, uint8_t type)
{
	struct nlmsghdr *nh = (struct nlmsghdr *)buf;
	struct rtmsg *rt;
	uint32_t oif = (uint32_t)ifindex;

	if (table == 0)
		table = RT_TABLE_MAIN;

	memset(buf, 0, ROUTE_MSG_MAX);
	nh->nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
	nh->nlmsg_seq = seq;
	if (op == VS_ROUTE_ADD) {
		nh->nlmsg_type = RTM_NEWROUTE;
		nh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
	} else {
		nh->nlmsg_type = RTM_DELROUTE;
		nh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	}
	rt = NLMSG_DATA(nh);
	rt->rtm_family = family == VS_FAMILY_V4 ? AF_INET : AF_INET6;
	rt->rtm_dst_len = prefix;
	rt->rtm_table = table < 256 ? (uint8_t)table : RT_TABLE_UNSPEC;
	rt->rtm_protocol = VS_RTPROT;
	rt->rtm_type = type;
	/* A device route without gateway is link scope for IPv4; IPv6 ignores the scope. */
	if (op == VS_ROUTE_ADD)
		rt->rtm_scope = family == VS_FAMILY_V4 && type == RTN_UNICAST ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
	else
		rt->rtm_scope = RT_SCOPE_NOWHERE;
	add_attr(nh, RTA_DST, addr16, (unsigned short)addr_len(family));
	if (table >= 256)
		add_attr(nh, RTA_TABLE, &table, sizeof(table));
	if (type == RTN_UNICAST)
		add_attr(nh, RTA_OIF, &oif, sizeof(oif));
	if (family == VS_FAMILY_V6) {
		uint32_t metric = VS_RT6_METRIC;

		add_attr(nh, RTA_PRIORITY, &metric, sizeof(metric));
	}
	return nh->nlmsg_len;
}

/* result[] of an entry before its ack: sent without an answer yet, or never sent. */
#define RESULT_PENDING 1
#define RESULT_NOT_SENT 2

/*
 * Reads acks until every message of the chunk [first_seq, first_seq + n) has one, writing 0 or
 * -errno per entry into result. Returns 0, or -errno when the socket itself fails (then some
 * results stay unknown, RESULT_PENDING).
 */
static int collect_acks(struct nl *nl, uint32_t first_seq, int n, int *result)
{
	char buf[32768] __attribute__((aligned(4)));
	int pending = n;

	while (pending > 0) {
		int len = (int)recv(nl->fd, buf, sizeof(buf), 0);
		struct nlmsghdr *nh;

		if (len < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, len); nh = NLMSG_NEXT(nh, len)) {
			struct nlmsgerr *err;
			uint32_t k = nh->nlmsg_seq - first_seq;

			if (nh->nlmsg_type != NLMSG_ERROR || k >= (uint32_t)n)
				continue;
			err = NLMSG_DATA(nh);
			if (result[k] == RESULT_PENDING) {
				result[k] = err->error;
				pending--;
			}
		}
	}
	return 0;
}

/*
 * Sends entries idx[0..n) in chunks and fills result[] (indexed like idx) with 0 or -errno.
 * With stop_early, no further chunk is sent after a chunk containing a failure. Entries keep
 * RESULT_NOT_SENT when never sent, RESULT_PENDING when the socket failed before their ack.
 * Returns 0 or the -errno of a socket failure.
 */
static int run_batch(struct nl *nl, int op, int ifindex, const uint8_t *families,
		     const uint8_t *addrs16, const uint8_t *prefixes, const uint32_t *tables,
		     const uint8_t *types, const int *idx, int n, int *result, int stop_early)
{
	char *buf = malloc((size_t)nl->chunk * ROUTE_MSG_MAX);
	int done = 0, rc = 0;

	if (buf == NULL)
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		result[i] = RESULT_NOT_SENT;
	while (done < n) {
		int m = n - done < nl->chunk ? n - done : nl->chunk;
		uint32_t first_seq = nl->seq;
		size_t off = 0;
		int failed = 0;
		struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
		struct iovec iov;
		struct msghdr msg = { .msg_name = &kernel, .msg_namelen = sizeof(kernel),
				      .msg_iov = &iov, .msg_iovlen = 1 };

		for (int j = 0; j < m; j++) {
			int e = idx[done + j];

			result[done + j] = RESULT_PENDING;
			off += build_route_msg(buf + off, op, nl->seq++, ifindex, families[e],
					       addrs16 + 16 * (size_t)e, prefixes[e],
					       tables ? tables[e] : 0, types ? types[e] : RTN_UNICAST);
		}
		iov.iov_base = buf;
		iov.iov_len = off;
		/* rtnetlink handles the whole skb inside this call, so every ack is queued when it returns. */
		while (sendmsg(nl->fd, &msg, 0) < 0) {
			if (errno != EINTR) {
				rc = -errno;
				goto out;
			}
		}
		rc = collect_acks(nl, first_seq, m, result + done);
		if (rc < 0)
			goto out;
		for (int j = 0; j < m; j++)
			failed |= result[done + j] < 0;
		done += m;
		if (failed && stop_early)
			break;
	}
out:
	free(buf);
	return rc;
}

static int valid_entry(uint8_t family, const uint8_t *addr, uint8_t prefix)
{
	int len = addr_len(family);

	if (len < 0 || prefix > len * 8)
		return 0;
	/* Host bits must be zero: the kernel refuses them for IPv4 and silently masks for IPv6. */
	for (int bit = prefix; bit < len * 8; bit++)
		if (addr[bit / 8] & (0x80 >> (bit % 8)))
			return 0;
	return 1;
}

/*
 * Adds (op 1) or deletes (op 2) count routes through ifindex. Entry i is families[i] (4 or 6),
 * addrs16[16*i..] (IPv4 in the first 4 bytes) and prefixes[i]. Returns 0, or -errno of the
 * lowest failing entry with its index in *failed_index (-1 when the failure was not one entry's,
 * e.g. the socket). On failure nothing this call changed stays changed.
 */
VS_EXPORT int vs_routes_apply_in(int ifindex, int op, const uint8_t *families,
				 const uint8_t *addrs16, const uint8_t *prefixes,
				 const uint32_t *tables, const uint8_t *types, int count,
				 int *failed_index)
{
	struct nl nl;
	int *idx = NULL, *result = NULL, *undo_result = NULL;
	int rc, first_fail = -1, n_undo = 0;

	if (failed_index)
		*failed_index = -1;
	if (ifindex <= 0 || (op != VS_ROUTE_ADD && op != VS_ROUTE_DEL) || count < 0 ||
	    (count > 0 && (families == NULL || addrs16 == NULL || prefixes == NULL)))
		return -EINVAL;
	for (int i = 0; i < count; i++) {
		if (!valid_entry(families[i], addrs16 + 16 * (size_t)i, prefixes[i]) ||
		    (types && types[i] != RTN_UNICAST && types[i] != RTN_THROW)) {
			if (failed_index)
				*failed_index = i;
			return -EINVAL;
		}
	}
	if (count == 0)
		return 0;

	idx = malloc(sizeof(int) * (size_t)count);
	result = malloc(sizeof(int) * (size_t)count);
	undo_result = malloc(sizeof(int) * (size_t)count);
	if (idx == NULL || result == NULL || undo_result == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < count; i++)
		idx[i] = i;
	rc = nl_open(&nl);
	if (rc < 0)
		goto out;

	rc = run_batch(&nl, op, ifindex, families, addrs16, prefixes, tables, types, idx, count,
		       result, 1);
	for (int i = 0; i < count; i++) {
		if (result[i] < 0 && first_fail < 0)
			first_fail = i;
	}
	if (rc == 0 && first_fail < 0)
		goto close;

	/* Undo: whatever succeeded, and whatever was sent but is unknown after a socket failure. */
	for (int i = 0; i < count; i++) {
		if (result[i] == 0 || (rc < 0 && result[i] == RESULT_PENDING))
			idx[n_undo++] = i;
	}
	if (n_undo > 0)
		run_batch(&nl, op == VS_ROUTE_ADD ? VS_ROUTE_DEL : VS_ROUTE_ADD, ifindex, families,
			  addrs16, prefixes, tables, types, idx, n_undo, undo_result, 0);
	if (rc == 0) {
		rc = result[first_fail];
		if (failed_index)
			*failed_index = first_fail;
	}
close:
	close(nl.fd);
out:
	free(idx);
	free(result);
	free(undo_result);
	return rc;
}

/* The seed's form: device routes through ifindex in the main table. */
VS_EXPORT int vs_routes_apply(int ifindex, int op, const uint8_t *families, const uint8_t *addrs16,
			      const uint8_t *prefixes, int count, int *failed_index)
{
	return vs_routes_apply_in(ifindex, op, families, addrs16, prefixes, NULL, NULL, count,
				  failed_index);
}

/*
 * Lists our routes (protocol VS_RTPROT) of table `table` (0: main), IPv4 then IPv6, into the
 * caller's arrays (room for max entries): device routes through ifindex and, outside the main
 * table, throw routes (types[] says which). Returns how many there are, which may exceed max:
 * then only max were written and the caller retries with more room.
 */
VS_EXPORT int vs_routes_list_in(int ifindex, uint32_t want_table, uint8_t *families,
				uint8_t *addrs16, uint8_t *prefixes, uint8_t *types, int max)
{
	static const uint8_t dump_families[] = { AF_INET, AF_INET6 };
	char buf[32768] __attribute__((aligned(4)));
	struct nl nl;
	int rc, total = 0;

	if (ifindex <= 0 || max < 0 || (max > 0 && (families == NULL || addrs16 == NULL || prefixes == NULL)))
		return -EINVAL;
	if (want_table == 0)
		want_table = RT_TABLE_MAIN;
	rc = nl_open(&nl);
	if (rc < 0)
		return rc;
	for (size_t f = 0; f < sizeof(dump_families); f++) {
		struct {
			struct nlmsghdr nh;
			struct rtmsg rt;
		} req = {
			.nh = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETROUTE,
				.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = nl.seq++ },
			.rt = { .rtm_family = dump_families[f] },
		};
		int finished = 0;

		if (send(nl.fd, &req, sizeof(req), 0) < 0) {
			rc = -errno;
			goto out;
		}
		while (!finished) {
			int len = (int)recv(nl.fd, buf, sizeof(buf), 0);
			struct nlmsghdr *nh;

			if (len < 0) {
				if (errno == EINTR)
					continue;
				rc = errno == EAGAIN ? -ETIMEDOUT : -errno;
				goto out;
			}
			for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, len); nh = NLMSG_NEXT(nh, len)) {
				struct rtmsg *rt = NLMSG_DATA(nh);
				struct rtattr *rta;
				int attrlen;
				uint32_t table, oif = 0;
				const void *dst = NULL;

				if (nh->nlmsg_seq != req.nh.nlmsg_seq)
					continue;
				if (nh->nlmsg_type == NLMSG_DONE) {
					finished = 1;
					break;
				}
				if (nh->nlmsg_type == NLMSG_ERROR) {
					rc = ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
					goto out;
				}
				if (nh->nlmsg_type != RTM_NEWROUTE || rt->rtm_protocol != VS_RTPROT)
					continue;
				table = rt->rtm_table;
				attrlen = (int)RTM_PAYLOAD(nh);
				for (rta = RTM_RTA(rt); RTA_OK(rta, attrlen); rta = RTA_NEXT(rta, attrlen)) {
					if (rta->rta_type == RTA_TABLE)
						memcpy(&table, RTA_DATA(rta), 4);
					else if (rta->rta_type == RTA_OIF)
						memcpy(&oif, RTA_DATA(rta), 4);
					else if (rta->rta_type == RTA_DST)
						dst = RTA_DATA(rta);
				}
				if (table != want_table)
					continue;
				if (!(rt->rtm_type == RTN_UNICAST && oif == (uint32_t)ifindex) &&
				    !(rt->rtm_type == RTN_THROW && want_table != RT_TABLE_MAIN))
					continue;
				if (total < max) {
					int alen = rt->rtm_family == AF_INET ? 4 : 16;

					families[total] = rt->rtm_family == AF_INET ? VS_FAMILY_V4 : VS_FAMILY_V6;
					memset(addrs16 + 16 * (size_t)total, 0, 16);
					if (dst)
						memcpy(addrs16 + 16 * (size_t)total, dst, (size_t)alen);
					prefixes[total] = rt->rtm_dst_len;
					if (types)
						types[total] = rt->rtm_type;
				}
				total++;
			}
		}
	}
	rc = total;
out:
	close(nl.fd);
	return rc;
}

VS_EXPORT int vs_routes_list(int ifindex, uint8_t *families, uint8_t *addrs16, uint8_t *prefixes,
			     int max)
{
	return vs_routes_list_in(ifindex, 0, families, addrs16, prefixes, NULL, max);
}
