/*
 * Who is at the other end of a unix socket: the kernel's record of the connecting process
 * (SO_PEERCRED, taken at connect()), which the caller cannot forge. vpnsvc_protect checks the
 * caller's uid against the target process with it.
 */
#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>

#include "shim.h"

/*
 * Returns 0 with the peer's pid, uid and gid; 1 when fd is a socket but not AF_UNIX (TCP has no
 * peer credentials: the kernel would report the overflow uid, which must not pass for a user);
 * -errno otherwise (-EBADF, -ENOTSOCK, -EINVAL).
 */
VS_EXPORT int vs_peer_cred(int fd, int *pid, unsigned int *uid, unsigned int *gid)
{
	struct ucred cred;
	socklen_t len;
	int domain;

	if (fd < 0 || pid == NULL || uid == NULL || gid == NULL)
		return -EINVAL;
	len = sizeof(domain);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0)
		return -errno;
	if (domain != AF_UNIX)
		return 1;
	len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	*pid = (int)cred.pid;
	*uid = (unsigned int)cred.uid;
	*gid = (unsigned int)cred.gid;
	return 0;
}
