/*
 * Packet I/O on a TUN fd, batched so that one FFI call moves many packets.
 *
 * Reads use preadv2(RWF_NOWAIT): each read is non-blocking whatever O_NONBLOCK says, so the
 * seed's blocking flag (vpnsvc_set_blocking) stays the caller's while the daemon's own I/O is
 * readiness-driven. TUN writes never block (the kernel drops when its backlog is full).
 */
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "shim.h"

#define VS_FRAME_HDR 2 /* u16 big-endian packet length, the batched stream framing */

/* One non-blocking read; -EAGAIN when nothing is queued. */
static ssize_t read_nowait(int fd, uint8_t *buf, size_t len)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	ssize_t r;

	for (;;) {
		r = preadv2(fd, &iov, 1, -1, RWF_NOWAIT);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno != EOPNOTSUPP)
			return -errno;
		/* Old kernels without IOCB_NOWAIT on tun: ask poll first. */
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int n = poll(&p, 1, 0);
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EAGAIN;
		r = read(fd, buf, len);
		return r < 0 ? -errno : r;
	}
}

/*
 * Reads packets until none is queued, maxpkts are read, or fewer than pktmax (+ header) bytes
 * are left in buf. Packets are stored back to back from buf[0], each preceded by `hdr` bytes:
 * 0 for none, 2 for the u16 big-endian length of the batched framing. lens[i] receives each
 * packet's length. Returns the number of packets (0 when none was queued), or -errno when
 * the first read failed.
 */
VS_EXPORT int vs_tun_read_batch(int fd, uint8_t *buf, int cap, int pktmax, int hdr, uint32_t *lens, int maxpkts)
{
	int n = 0;
	int off = 0;

	if (buf == NULL || lens == NULL || cap < 0 || pktmax <= 0 || maxpkts <= 0)
		return -EINVAL;
	if (hdr != 0 && hdr != VS_FRAME_HDR)
		return -EINVAL;
	if (hdr == VS_FRAME_HDR && pktmax > 0xffff)
		pktmax = 0xffff;
	while (n < maxpkts && cap - off >= pktmax + hdr) {
		ssize_t r = read_nowait(fd, buf + off + hdr, (size_t)pktmax);

		if (r < 0) {
			if (r == -EAGAIN || n > 0)
				break;
			return (int)r;
		}
		if (r == 0)
			break;
		if (hdr == VS_FRAME_HDR) {
			buf[off] = (uint8_t)(r >> 8);
			buf[off + 1] = (uint8_t)r;
		}
		lens[n++] = (uint32_t)r;
		off += hdr + (int)r;
	}
	return n;
}

/* What the kernel would accept as an IP packet on a TUN without packet information. */
static int is_ip_packet(const uint8_t *p, uint32_t len)
{
	if (len < 20)
		return 0;
	switch (p[0] >> 4) {
	case 4:
		return 1;
	case 6:
		return len >= 40;
	default:
		return 0;
	}
}

/*
 * Writes packets, one write() each. With hdr=2 buf holds the batched framing
 * ([u16 BE length][packet]...) over len bytes; with hdr=0 buf holds n packets back to back
 * whose lengths are in lens. Packets that are not IPv4/IPv6, or that the kernel refuses, are
 * skipped. stats (3 doubles) accumulates: [0] packets written, [1] packets dropped,
 * [2] bytes written. Returns the packets written by this call, or -EBADMSG when the framing
 * is truncated (the packets before the damage are written).
 */
VS_EXPORT int vs_tun_write_batch(int fd, const uint8_t *buf, int len, int hdr, const uint32_t *lens, int n, double *stats)
{
	int off = 0;
	int i = 0;
	int written = 0;
	int damaged = 0;

	if (buf == NULL || stats == NULL || len < 0 || (hdr != 0 && hdr != VS_FRAME_HDR) || (hdr == 0 && lens == NULL))
		return -EINVAL;
	for (;;) {
		uint32_t plen;
		const uint8_t *p;
		ssize_t r;

		if (hdr == VS_FRAME_HDR) {
			if (off == len)
				break;
			if (len - off < VS_FRAME_HDR) {
				damaged = 1;
				break;
			}
			plen = ((uint32_t)buf[off] << 8) | buf[off + 1];
			off += VS_FRAME_HDR;
		} else {
			if (i >= n)
				break;
			plen = lens[i++];
		}
		if (plen > (uint32_t)(len - off)) {
			damaged = 1;
			break;
		}
		p = buf + off;
		off += (int)plen;
		if (!is_ip_packet(p, plen)) {
			stats[1] += 1;
			continue;
		}
		do
			r = write(fd, p, plen);
		while (r < 0 && errno == EINTR);
		if (r < 0) {
			stats[1] += 1;
			continue;
		}
		written++;
		stats[2] += (double)r;
	}
	stats[0] += written;
	return damaged ? -EBADMSG : written;
}

/* One packet, for REST writes: the bytes written, or -errno from the kernel. */
VS_EXPORT int vs_tun_write(int fd, const uint8_t *buf, int len)
{
	ssize_t r;

	if (buf == NULL || len <= 0)
		return -EINVAL;
	do
		r = write(fd, buf, (size_t)len);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : (int)r;
}

/*
 * Raises the kernel's queue of packets waiting for the reader (txqueuelen, 500 for a TUN) to
 * at least qlen, so a pause of the reader (a GC) does not turn into drops. Never lowers it.
 * Returns the queue length now in force.
 */
VS_EXPORT int vs_if_raise_txqlen(const char *name, int qlen)
{
	struct ifreq ifr;
	size_t len;
	int s;
	int rc = 0;

	if (name == NULL || qlen <= 0)
		return -EINVAL;
	len = strnlen(name, IFNAMSIZ);
	if (len == 0 || len >= IFNAMSIZ)
		return -EINVAL;
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, name, len);
	if (ioctl(s, SIOCGIFTXQLEN, &ifr) < 0) {
		rc = -errno;
	} else if (ifr.ifr_qlen < qlen) {
		ifr.ifr_qlen = qlen;
		if (ioctl(s, SIOCSIFTXQLEN, &ifr) < 0)
			rc = -errno;
	}
	close(s);
	return rc < 0 ? rc : ifr.ifr_qlen;
}
