/*
 * vpnsvc_protect: binds another process's socket to an interface (SO_BINDTODEVICE), so its
 * traffic leaves by that interface and bypasses the VPN's routes.
 *
 * Two steps, so the daemon can check who the process is in between: vs_pidfd_open pins the
 * process (a pid reused after the check names another process, and pidfd_getfd on the pinned
 * one then fails with ESRCH instead of reaching the newcomer); vs_protect_pidfd takes a duplicate
 * of the socket with pidfd_getfd (Linux >= 5.6; the daemon needs ptrace rights over the target,
 * which root has), checks that the socket lives in the daemon's own network namespace, sets the
 * option on it (the option lives on the shared struct sock, so the owner's fd has it too) and
 * closes the duplicate. Raw syscalls: glibc 2.36 has no wrapper for pidfd_getfd.
 */
#include <errno.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

/* A pidfd for pid (close it with vs_close), or -ESRCH (no such process), -EINVAL. */
VS_EXPORT int vs_pidfd_open(int pid)
{
	int pidfd;

	if (pid <= 0)
		return -EINVAL;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	return pidfd < 0 ? -errno : pidfd;
}

/* 0 when the socket's network namespace is the calling process's own, else -EXDEV or -errno. */
int vs_same_netns(int sock)
{
	struct stat mine, its;
	int ns, rc = 0;

	if (stat("/proc/self/ns/net", &mine) < 0)
		return -errno;
	ns = ioctl(sock, SIOCGSKNS);
	if (ns < 0)
		return -errno;
	if (fstat(ns, &its) < 0)
		rc = -errno;
	else if (its.st_dev != mine.st_dev || its.st_ino != mine.st_ino)
		rc = -EXDEV;
	close(ns);
	return rc;
}

/*
 * Returns 0, or -ESRCH (the process is gone), -EBADF (no such fd), -ENOTSOCK (not a socket),
 * -EPERM (no ptrace rights over the process), -EXDEV (the socket belongs to another network
 * namespace), -ENODEV (no such interface), -EINVAL (bad arguments, name too long).
 */
VS_EXPORT int vs_protect_pidfd(int pidfd, int fd, const char *ifname)
{
	size_t len;
	int sock, rc;
	struct stat st;

	if (pidfd < 0 || fd < 0 || ifname == NULL)
		return -EINVAL;
	len = strnlen(ifname, IFNAMSIZ);
	if (len == 0 || len >= IFNAMSIZ)
		return -EINVAL;

	sock = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (sock < 0)
		return -errno;

	if (fstat(sock, &st) < 0)
		rc = -errno;
	else if (!S_ISSOCK(st.st_mode))
		rc = -ENOTSOCK;
	else if ((rc = vs_same_netns(sock)) == 0 &&
		 setsockopt(sock, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)(len + 1)) < 0)
		rc = -errno;
	close(sock);
	return rc;
}
