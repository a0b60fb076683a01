/*
 * sd_notify(3) without libsystemd: one datagram to the AF_UNIX socket systemd names in
 * $NOTIFY_SOCKET. Node has no unix datagram sockets, hence this. A leading '@' is an abstract
 * socket (its first byte becomes NUL), as systemd documents.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "shim.h"

VS_EXPORT int vs_sd_notify(const char *path, const char *message) {
    struct sockaddr_un addr;
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(addr.sun_path)) return -EINVAL;
    if (path[0] != '/' && path[0] != '@') return -EAFNOSUPPORT;
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, path, len);
    if (path[0] == '@') addr.sun_path[0] = '\0';
    socklen_t addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (path[0] == '@' ? 0 : 1));
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    ssize_t n = sendto(fd, message, strlen(message), MSG_NOSIGNAL, (struct sockaddr *)&addr, addrlen);
    int err = n < 0 ? errno : 0;
    close(fd);
    return n < 0 ? -err : (int)n;
}
