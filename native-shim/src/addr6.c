/*
 * The TUN's IPv6 address through rtnetlink (RTM_NEWADDR / RTM_DELADDR / RTM_GETADDR), and the
 * socket mark (SO_MARK) that keeps the daemon's own sockets out of the full tunnel.
 *
 * The address is added with IFA_F_NODAD: a point-to-point TUN has no neighbour to collide with,
 * and duplicate address detection would leave the address "tentative" (unusable as a source)
 * for about a second after every apply. Only global-scope addresses are ours to read or
 * replace; the kernel's own link-local fe80:: address is left alone.
 */
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "shim.h"

#define ADDR_MSG_MAX 256

static int nl_socket(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

static void put_attr(struct nlmsghdr *nh, unsigned short type, const void *data, unsigned short len)
{
	struct rtattr *rta = (struct rtattr *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/* Sends one request and waits for its ack: 0 or -errno. */
static int request_ack(int fd, struct nlmsghdr *nh)
{
	char buf[4096] __attribute__((aligned(4)));

	if (send(fd, nh, nh->nlmsg_len, 0) < 0)
		return -errno;
	for (;;) {
		int len = (int)recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *r;

		if (len < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		for (r = (struct nlmsghdr *)buf; NLMSG_OK(r, len); r = NLMSG_NEXT(r, len)) {
			if (r->nlmsg_seq == nh->nlmsg_seq && r->nlmsg_type == NLMSG_ERROR)
				return ((struct nlmsgerr *)NLMSG_DATA(r))->error;
		}
	}
}

/*
 * Adds (add 1) or deletes (add 0) the IPv6 address addr16/prefix on ifindex. Adding replaces an
 * existing entry of the same address (a new prefix length). Returns 0 or -errno (-EEXIST never:
 * NLM_F_REPLACE; -EADDRNOTAVAIL when deleting an address the device does not have; -EACCES when
 * IPv6 is disabled on the device).
 */
VS_EXPORT int vs_addr6_change(int ifindex, int add, const uint8_t *addr16, int prefix)
{
	char buf[ADDR_MSG_MAX] __attribute__((aligned(4)));
	struct nlmsghdr *nh = (struct nlmsghdr *)buf;
	struct ifaddrmsg *ifa;
	uint32_t flags = IFA_F_NODAD;
	int fd, rc;

	if (ifindex <= 0 || addr16 == NULL || prefix < 1 || prefix > 128)
		return -EINVAL;
	memset(buf, 0, sizeof(buf));
	nh->nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
	nh->nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
	nh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0);
	nh->nlmsg_seq = 1;
	ifa = NLMSG_DATA(nh);
	ifa->ifa_family = AF_INET6;
	ifa->ifa_prefixlen = (uint8_t)prefix;
	ifa->ifa_flags = IFA_F_NODAD;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (uint32_t)ifindex;
	put_attr(nh, IFA_LOCAL, addr16, 16);
	put_attr(nh, IFA_ADDRESS, addr16, 16);
	if (add)
		put_attr(nh, IFA_FLAGS, &flags, sizeof(flags));
	fd = nl_socket();
	if (fd < 0)
		return fd;
	rc = request_ack(fd, nh);
	close(fd);
	return rc;
}

/*
 * The device's global-scope IPv6 addresses into addrs16/prefixes (room for max). Returns how
 * many there are (0: none), or -errno.
 */
VS_EXPORT int vs_addr6_list(int ifindex, uint8_t *addrs16, uint8_t *prefixes, int max)
{
	char buf[16384] __attribute__((aligned(4)));
	struct {
		struct nlmsghdr nh;
		struct ifaddrmsg ifa;
	} req = {
		.nh = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETADDR,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 2 },
		.ifa = { .ifa_family = AF_INET6 },
	};
	int fd, total = 0, rc = 0;

	if (ifindex <= 0 || max < 0 || (max > 0 && (addrs16 == NULL || prefixes == NULL)))
		return -EINVAL;
	fd = nl_socket();
	if (fd < 0)
		return fd;
	if (send(fd, &req, sizeof(req), 0) < 0) {
		rc = -errno;
		goto out;
	}
	for (;;) {
		int len = (int)recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *nh;

		if (len < 0) {
			if (errno == EINTR)
				continue;
			rc = errno == EAGAIN ? -ETIMEDOUT : -errno;
			goto out;
		}
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, len); nh = NLMSG_NEXT(nh, len)) {
			struct ifaddrmsg *ifa = NLMSG_DATA(nh);
			struct rtattr *rta;
			int attrlen;
			const void *local = NULL, *address = NULL;

			if (nh->nlmsg_seq != req.nh.nlmsg_seq)
				continue;
			if (nh->nlmsg_type == NLMSG_DONE) {
				rc = total;
				goto out;
			}
			if (nh->nlmsg_type == NLMSG_ERROR) {
				rc = ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
				goto out;
			}
			if (nh->nlmsg_type != RTM_NEWADDR || ifa->ifa_index != (uint32_t)ifindex ||
			    ifa->ifa_scope != RT_SCOPE_UNIVERSE)
				continue;
			attrlen = (int)IFA_PAYLOAD(nh);
			for (rta = IFA_RTA(ifa); RTA_OK(rta, attrlen); rta = RTA_NEXT(rta, attrlen)) {
				if (rta->rta_type == IFA_LOCAL)
					local = RTA_DATA(rta);
				else if (rta->rta_type == IFA_ADDRESS)
					address = RTA_DATA(rta);
			}
			if (local == NULL)
				local = address;
			if (local == NULL)
				continue;
			if (total < max) {
				memcpy(addrs16 + 16 * (size_t)total, local, 16);
				prefixes[total] = ifa->ifa_prefixlen;
			}
			total++;
		}
	}
out:
	close(fd);
	return rc;
}

/* SO_MARK on socket fd (needs CAP_NET_ADMIN): 0 or -errno. */
VS_EXPORT int vs_sock_set_mark(int fd, uint32_t mark)
{
	if (fd < 0)
		return -EINVAL;
	if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0)
		return -errno;
	return 0;
}

/* The socket's SO_MARK into *mark: 0 or -errno. */
VS_EXPORT int vs_sock_get_mark(int fd, uint32_t *mark)
{
	socklen_t len = sizeof(*mark);

	if (fd < 0 || mark == NULL)
		return -EINVAL;
	if (getsockopt(fd, SOL_SOCKET, SO_MARK, mark, &len) < 0)
		return -errno;
	return 0;
}
