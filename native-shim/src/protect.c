/*
 * vpnsvc_protect: binds another process's socket to an interface (SO_BINDTODEVICE), so its
 * traffic leaves by that interface and bypasses the VPN's routes.
 *
 * The daemon takes a duplicate of the socket with pidfd_open + pidfd_getfd (Linux >= 5.6; the
 * caller needs ptrace rights over the target, which root has), sets the option on it (the option
 * lives on the shared struct sock, so the owner's fd has it too) and closes the duplicate.
 * Raw syscalls: glibc 2.36 has no wrapper for pidfd_getfd.
 */
#include <errno.h>
#include <net/if.h>
#include <string.h>
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

/*
 * Returns 0, or -ESRCH (no such process), -EBADF (no such fd), -ENOTSOCK (not a socket),
 * -EPERM (no ptrace rights over pid), -ENODEV (no such interface in the socket's namespace),
 * -EINVAL (bad arguments, name too long).
 */
VS_EXPORT int vs_protect(int pid, int fd, const char *ifname)
{
	size_t len;
	int pidfd, sock, err, rc = 0;
	struct stat st;

	if (pid <= 0 || fd < 0 || ifname == NULL)
		return -EINVAL;
	len = strnlen(ifname, IFNAMSIZ);
	if (len == 0 || len >= IFNAMSIZ)
		return -EINVAL;

	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return -errno;
	sock = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	err = errno;
	close(pidfd);
	if (sock < 0)
		return -err;

	if (fstat(sock, &st) < 0)
		rc = -errno;
	else if (!S_ISSOCK(st.st_mode))
		rc = -ENOTSOCK;
	/* the name is resolved in the socket's own network namespace */
	else if (setsockopt(sock, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)(len + 1)) < 0)
		rc = -errno;
	close(sock);
	return rc;
}
