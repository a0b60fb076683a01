/*
 * The fd channel: a unix socket (SOCK_SEQPACKET) on which an application's library redeems a
 * ticket and gets the TUN fd, or hands over a socket to be protected, as SCM_RIGHTS. Every call
 * is non-blocking: the daemon drives the channel from its event loop (readiness through libuv's
 * poll) and never waits in here. Who is at the other end comes from SO_PEERCRED (peer_cred.c).
 *
 * Also the two kernel operations fd passing needs: a duplicate of the TUN fd to hand out, and
 * deleting a TUN link by index, because a TUN whose fd an application still holds outlives the
 * daemon's close() and must be removed when its VPN is deactivated.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "shim.h"

/* A peer that sends more fds than asked for gets them closed, never kept. */
#define FDS_MAX 4

/*
 * A listening SOCK_SEQPACKET socket at path, non-blocking, created by bind() with mode `mode`
 * (under a umask set for the bind alone). The caller removes what stood at the path first.
 * Returns the fd or -errno (-ENAMETOOLONG for a path sun_path cannot hold).
 */
VS_EXPORT int vs_fdch_listen(const char *path, int mode, int backlog)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;
	mode_t old;
	int fd, rc;

	if (path == NULL || mode < 0 || mode > 0777 || backlog < 1)
		return -EINVAL;
	len = strlen(path);
	if (len == 0 || len >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, len);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	old = umask((mode_t)(~mode & 0777));
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || listen(fd, backlog) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/* One pending connection, non-blocking and close-on-exec: its fd, or -EAGAIN when none waits. */
VS_EXPORT int vs_fdch_accept(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/*
 * One message into buf, and the first fd passed with it into *passed_fd (-1 when none; any
 * further fd is closed). Returns the message's length, 0 at end of stream, -EAGAIN when nothing
 * is queued, -EMSGSIZE when the message or its control data did not fit (what came is closed).
 */
VS_EXPORT int vs_fdch_recv(int fd, uint8_t *buf, int cap, int *passed_fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * FDS_MAX)];
	} control;
	struct iovec iov = { .iov_base = buf, .iov_len = (size_t)cap };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
	struct cmsghdr *c;
	ssize_t n;

	if (buf == NULL || cap <= 0 || passed_fd == NULL)
		return -EINVAL;
	*passed_fd = -1;
	n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return -errno;
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		size_t count, i;
		int fds[FDS_MAX];

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		if (count > FDS_MAX)
			count = FDS_MAX;
		memcpy(fds, CMSG_DATA(c), count * sizeof(int));
		for (i = 0; i < count; i++) {
			if (*passed_fd < 0)
				*passed_fd = fds[i];
			else
				close(fds[i]);
		}
	}
	if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		if (*passed_fd >= 0)
			close(*passed_fd);
		*passed_fd = -1;
		return -EMSGSIZE;
	}
	return (int)n;
}

/*
 * One message, with pass_fd attached as SCM_RIGHTS when it is >= 0. Never blocks and never
 * raises SIGPIPE. Returns the bytes sent or -errno (-EAGAIN: the peer's queue is full).
 */
VS_EXPORT int vs_fdch_send(int fd, const uint8_t *buf, int len, int pass_fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = (size_t)len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (buf == NULL || len <= 0)
		return -EINVAL;
	if (pass_fd >= 0) {
		struct cmsghdr *c;

		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
	}
	n = sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	return n < 0 ? -errno : (int)n;
}

/* A close-on-exec duplicate of fd (the same open file: flags such as O_NONBLOCK are shared). */
VS_EXPORT int vs_dup(int fd)
{
	int d = fcntl(fd, F_DUPFD_CLOEXEC, 3);

	return d < 0 ? -errno : d;
}

/*
 * SO_BINDTODEVICE on a socket this process holds (one passed over the channel). The option lives
 * on the socket, shared with the sender's fd. Returns 0 or -ENOTSOCK, -EXDEV (another network
 * namespace), -ENODEV (no such interface), -EINVAL.
 */
VS_EXPORT int vs_protect_fd(int sock, const char *ifname)
{
	struct stat st;
	size_t len;
	int rc;

	if (sock < 0 || ifname == NULL)
		return -EINVAL;
	len = strnlen(ifname, IFNAMSIZ);
	if (len == 0 || len >= IFNAMSIZ)
		return -EINVAL;
	if (fstat(sock, &st) < 0)
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return -ENOTSOCK;
	rc = vs_same_netns(sock);
	if (rc < 0)
		return rc;
	if (setsockopt(sock, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)(len + 1)) < 0)
		return -errno;
	return 0;
}

/* RTM_DELLINK for ifindex, waiting (10 s at most) for the kernel's ack. 0, -ENODEV or -errno. */
VS_EXPORT int vs_link_delete(int ifindex)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req;
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = 10 };
	union {
		struct nlmsghdr align;
		char buf[1024];
	} ack;
	ssize_t n;
	int fd, rc;

	if (ifindex <= 0)
		return -EINVAL;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
	req.nh.nlmsg_type = RTM_DELLINK;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	req.nh.nlmsg_seq = 1;
	req.ifi.ifi_family = AF_UNSPEC;
	req.ifi.ifi_index = ifindex;
	if (sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	n = recv(fd, ack.buf, sizeof(ack.buf), 0);
	if (n < 0)
		rc = -errno;
	else if ((size_t)n < NLMSG_LENGTH(sizeof(struct nlmsgerr)) || ack.align.nlmsg_type != NLMSG_ERROR)
		rc = -EPROTO;
	else
		rc = ((struct nlmsgerr *)NLMSG_DATA(&ack.align))->error;
	close(fd);
	return rc;
}
