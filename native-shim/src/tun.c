/*
 * TUN device lifecycle and link settings through ioctl.
 * Every function takes fixed arguments and returns >= 0 or -errno, so the TypeScript side
 * can map failures to typed errors carrying the errno name.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shim.h"

#ifndef IFF_TUN_EXCL
#define IFF_TUN_EXCL 0x8000
#endif

/* Copies an interface name into ifr_name with a bound: the original overflowed here. */
static int set_ifname(struct ifreq *ifr, const char *name)
{
	size_t len;

	if (name == NULL)
		return -EINVAL;
	len = strnlen(name, IFNAMSIZ);
	if (len == 0 || len >= IFNAMSIZ)
		return -EINVAL;
	memset(ifr, 0, sizeof(*ifr));
	memcpy(ifr->ifr_name, name, len);
	return 0;
}

static int ctl_socket(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	return s < 0 ? -errno : s;
}

/* ioctl on a throwaway AF_INET socket, the way SIOCSIF* must be issued. */
static int if_ioctl(unsigned long req, struct ifreq *ifr)
{
	int s = ctl_socket();
	int rc;

	if (s < 0)
		return s;
	rc = ioctl(s, req, ifr) < 0 ? -errno : 0;
	close(s);
	return rc;
}

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

/*
 * The offloads of a TUN in offload mode: checksums and TCP segmentation always, UDP
 * segmentation where the kernel has it (6.2+; older ones refuse the whole set with EINVAL).
 * Returns the TUN_F_* bits in force.
 */
static int set_offloads(int fd)
{
	const unsigned tcp = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
	const unsigned all = tcp | TUN_F_USO4 | TUN_F_USO6;

	if (ioctl(fd, TUNSETOFFLOAD, all) == 0)
		return (int)all;
	if (errno != EINVAL)
		return -errno;
	if (ioctl(fd, TUNSETOFFLOAD, tcp) == 0)
		return (int)tcp;
	return -errno;
}

/*
 * Opens /dev/net/tun and attaches a new TUN (IFF_TUN|IFF_NO_PI). IFF_TUN_EXCL makes the kernel
 * refuse (EBUSY) a name that already exists instead of attaching to someone else's persistent
 * device. A name ending in "%d" lets the kernel pick the first free number atomically.
 * The actual name is written to name_out (IFNAMSIZ bytes). Returns the fd.
 *
 * With offload set, the TUN is in offload mode: IFF_VNET_HDR puts a virtio_net_hdr before
 * every packet, and TUNSETOFFLOAD lets the kernel hand over checksum-partial packets and TCP
 * (and, from Linux 6.2, UDP) super-packets of up to 64 KiB. *features receives the TUN_F_* bits
 * in force (0 without offload).
 */
VS_EXPORT int vs_tun_open(const char *name, char *name_out, int name_out_len, int offload, int *features)
{
	struct ifreq ifr;
	int fd, rc;

	if (name_out == NULL || name_out_len < IFNAMSIZ)
		return -EINVAL;
	rc = set_ifname(&ifr, name);
	if (rc < 0)
		return rc;
	if (features == NULL)
		return -EINVAL;
	*features = 0;
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_TUN_EXCL | (offload ? IFF_VNET_HDR : 0);
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (offload) {
		rc = set_offloads(fd);
		if (rc < 0) {
			close(fd);
			return rc;
		}
		*features = rc;
	}
	memset(name_out, 0, (size_t)name_out_len);
	memcpy(name_out, ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ - 1));
	return fd;
}

VS_EXPORT int vs_close(int fd)
{
	return close(fd) < 0 ? -errno : 0;
}

VS_EXPORT int vs_if_index(const char *name)
{
	struct ifreq ifr;
	int rc = set_ifname(&ifr, name);

	if (rc < 0)
		return rc;
	rc = if_ioctl(SIOCGIFINDEX, &ifr);
	return rc < 0 ? rc : ifr.ifr_ifindex;
}

VS_EXPORT int vs_if_get_mtu(const char *name)
{
	struct ifreq ifr;
	int rc = set_ifname(&ifr, name);

	if (rc < 0)
		return rc;
	rc = if_ioctl(SIOCGIFMTU, &ifr);
	return rc < 0 ? rc : ifr.ifr_mtu;
}

VS_EXPORT int vs_if_set_mtu(const char *name, int mtu)
{
	struct ifreq ifr;
	int rc = set_ifname(&ifr, name);

	if (rc < 0)
		return rc;
	ifr.ifr_mtu = mtu;
	return if_ioctl(SIOCSIFMTU, &ifr);
}

static int set_ipv4(const char *name, unsigned long req, const char *addr)
{
	struct ifreq ifr;
	struct sockaddr_in sin;
	int rc = set_ifname(&ifr, name);

	if (rc < 0)
		return rc;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	if (addr == NULL || inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
		return -EINVAL;
	memcpy(&ifr.ifr_addr, &sin, sizeof(sin));
	return if_ioctl(req, &ifr);
}

static int get_ipv4(const char *name, unsigned long req, char *out, int out_len)
{
	struct ifreq ifr;
	struct sockaddr_in sin;
	int rc = set_ifname(&ifr, name);

	if (rc < 0)
		return rc;
	if (out == NULL || out_len < INET_ADDRSTRLEN)
		return -EINVAL;
	rc = if_ioctl(req, &ifr);
	if (rc < 0)
		return rc;
	memcpy(&sin, &ifr.ifr_addr, sizeof(sin));
	if (inet_ntop(AF_INET, &sin.sin_addr, out, (socklen_t)out_len) == NULL)
		return -errno;
	return 0;
}

VS_EXPORT int vs_if_set_addr(const char *name, const char *addr)
{
	return set_ipv4(name, SIOCSIFADDR, addr);
}

VS_EXPORT int vs_if_set_dstaddr(const char *name, const char *addr)
{
	return set_ipv4(name, SIOCSIFDSTADDR, addr);
}

/* -EADDRNOTAVAIL when the interface has no IPv4 address. */
VS_EXPORT int vs_if_get_addr(const char *name, char *out, int out_len)
{
	return get_ipv4(name, SIOCGIFADDR, out, out_len);
}

VS_EXPORT int vs_if_get_dstaddr(const char *name, char *out, int out_len)
{
	return get_ipv4(name, SIOCGIFDSTADDR, out, out_len);
}

VS_EXPORT int vs_if_get_flags(const char *name)
{
	struct ifreq ifr;
	int rc = set_ifname(&ifr, name);

	if (rc < 0)
		return rc;
	rc = if_ioctl(SIOCGIFFLAGS, &ifr);
	return rc < 0 ? rc : (ifr.ifr_flags & 0xffff);
}

VS_EXPORT int vs_if_set_up(const char *name, int up)
{
	struct ifreq ifr;
	int rc = set_ifname(&ifr, name);

	if (rc < 0)
		return rc;
	rc = if_ioctl(SIOCGIFFLAGS, &ifr);
	if (rc < 0)
		return rc;
	if (up)
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	else
		ifr.ifr_flags &= ~IFF_UP;
	return if_ioctl(SIOCSIFFLAGS, &ifr);
}

/* Returns 1 when O_NONBLOCK is set, 0 when not. */
VS_EXPORT int vs_fd_get_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	return (fl & O_NONBLOCK) ? 1 : 0;
}

VS_EXPORT int vs_fd_set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
	return fcntl(fd, F_SETFL, fl) < 0 ? -errno : 0;
}

/* Used by /features: whether the TUN character device can be opened at all. */
VS_EXPORT int vs_tun_available(void)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}
