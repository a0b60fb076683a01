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

#include <linux/virtio_net.h>

#include "gso.h"
#include "shim.h"

#define VS_FRAME_HDR 2 /* u16 big-endian packet length, the batched stream framing */
#define VS_GSO_HDR 4   /* u32 big-endian packet length, then a virtio_net_hdr: the gso framing */

/*
 * What a TUN in offload mode keeps between reads: a super-packet being cut into plain packets
 * for a reader that takes only those, so a batch that fills up mid-packet resumes where it
 * stopped. One per TUN fd, allocated by the caller (vs_pending_size bytes).
 */
struct vs_pending {
	uint32_t len; /* bytes in data (virtio_net_hdr + packet), 0 when nothing is pending */
	uint32_t dropped; /* packets the kernel handed over that could not be cut */
	struct vs_gso_plan plan;
	uint8_t data[VS_VNET_HDR + 65536];
};

VS_EXPORT int vs_pending_size(void)
{
	return (int)sizeof(struct vs_pending);
}

/* Packets a TUN in offload mode handed over that could not be cut into plain packets. */
VS_EXPORT int vs_pending_dropped(const struct vs_pending *pend)
{
	return pend == NULL ? -EINVAL : (int)pend->dropped;
}

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

/* Bytes of framing before each packet: none, the batch's u16, or the gso framing's u32 + header. */
static int prefix_of(int hdr)
{
	return hdr == VS_GSO_HDR ? VS_GSO_HDR + VS_VNET_HDR : hdr;
}

/* Writes the framing before a plain packet of plen bytes at rec (no offload fields: all zero). */
static void put_prefix(uint8_t *rec, int hdr, uint32_t plen)
{
	if (hdr == VS_FRAME_HDR) {
		put16(rec, (uint16_t)plen);
	} else if (hdr == VS_GSO_HDR) {
		put32(rec, plen);
		memset(rec + VS_GSO_HDR, 0, VS_VNET_HDR);
	}
}

/*
 * The next plain packet out of a TUN in offload mode, into out (room for pktmax bytes): its
 * length, 0 when nothing is queued, or -errno. Super-packets are cut (pend keeps the rest),
 * partial checksums completed.
 */
static int next_plain(int fd, struct vs_pending *pend, uint8_t *out, int pktmax)
{
	for (;;) {
		if (pend->len == 0) {
			struct vs_vnet h;
			ssize_t r = read_nowait(fd, pend->data, sizeof pend->data);
			uint8_t *p = pend->data + VS_VNET_HDR;
			uint32_t plen;

			if (r == -EAGAIN || r == 0)
				return 0;
			if (r < 0)
				return (int)r;
			if (r < VS_VNET_HDR) {
				pend->dropped++;
				continue;
			}
			plen = (uint32_t)r - VS_VNET_HDR;
			vs_vnet_hdr_get(pend->data, &h);
			if (h.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
				if (((h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && vs_csum_complete(p, plen, &h) < 0) ||
				    plen > (uint32_t)pktmax) {
					pend->dropped++;
					continue;
				}
				memcpy(out, p, plen);
				return (int)plen;
			}
			if (vs_gso_plan(p, plen, &h, &pend->plan) < 0) {
				pend->dropped++;
				continue;
			}
			pend->len = (uint32_t)r;
		}
		{
			int seg = vs_gso_next(pend->data + VS_VNET_HDR, pend->len - VS_VNET_HDR, &pend->plan, out, (uint32_t)pktmax);

			if (seg > 0) {
				if (pend->plan.next >= pend->len - VS_VNET_HDR)
					pend->len = 0;
				return seg;
			}
			if (seg < 0)
				pend->dropped++;
			pend->len = 0;
		}
	}
}

/*
 * Reads packets until none is queued, maxpkts are read, or too little room is left in buf for
 * one more. Packets are stored back to back from buf[0], each preceded by its framing: `hdr` 0
 * for none, 2 for the batch framing's u16 big-endian length, 4 for the gso framing's u32
 * big-endian length followed by a virtio_net_hdr. lens[i] receives the bytes after the length
 * (the packet, plus the virtio_net_hdr in the gso framing).
 *
 * pend is NULL for a plain TUN. For a TUN in offload mode it is that TUN's vs_pending: the gso
 * framing passes super-packets through whole; the others get them cut into plain packets.
 * Returns the number of packets (0 when none was queued), or -errno when the first read failed.
 */
VS_EXPORT int vs_tun_read_batch(int fd, uint8_t *buf, int cap, int pktmax, int hdr, uint32_t *lens, int maxpkts,
				struct vs_pending *pend)
{
	int n = 0;
	int off = 0;
	int pre = prefix_of(hdr);

	if (buf == NULL || lens == NULL || cap < 0 || pktmax <= 0 || maxpkts <= 0)
		return -EINVAL;
	if (hdr != 0 && hdr != VS_FRAME_HDR && hdr != VS_GSO_HDR)
		return -EINVAL;
	if (pktmax > 0xffff)
		pktmax = 0xffff;
	while (n < maxpkts && cap - off >= pktmax + pre) {
		uint8_t *rec = buf + off;
		ssize_t r;
		uint32_t plen;

		if (pend != NULL && hdr == VS_GSO_HDR && pend->len == 0) {
			/* Offload to offload: the super-packet and its header go through as they are. */
			r = read_nowait(fd, rec + VS_GSO_HDR, (size_t)pktmax + VS_VNET_HDR);
			if (r >= 0 && r < VS_VNET_HDR) {
				if (r == 0)
					break;
				pend->dropped++;
				continue;
			}
			if (r > 0) {
				plen = (uint32_t)r - VS_VNET_HDR;
				put32(rec, plen);
			}
		} else if (pend != NULL) {
			r = next_plain(fd, pend, rec + pre, pktmax);
			if (r == 0)
				break;
			if (r > 0) {
				plen = (uint32_t)r;
				put_prefix(rec, hdr, plen);
			}
		} else {
			r = read_nowait(fd, rec + pre, (size_t)pktmax);
			if (r == 0)
				break;
			if (r > 0) {
				plen = (uint32_t)r;
				put_prefix(rec, hdr, plen);
			}
		}
		if (r < 0) {
			if (r == -EAGAIN || n > 0)
				break;
			return (int)r;
		}
		lens[n++] = plen + (uint32_t)(pre - hdr);
		off += pre + (int)plen;
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

static const uint8_t zero_vnet[VS_VNET_HDR];

/* One packet into the TUN, behind a virtio_net_hdr (vnet != NULL) when the TUN is in offload mode. */
static ssize_t write_one(int fd, const uint8_t *vnet, const uint8_t *p, uint32_t plen)
{
	ssize_t r;

	if (vnet == NULL) {
		do
			r = write(fd, p, plen);
		while (r < 0 && errno == EINTR);
		return r < 0 ? -errno : r;
	}
	struct iovec iov[2] = {
		{ .iov_base = (void *)vnet, .iov_len = VS_VNET_HDR },
		{ .iov_base = (void *)p, .iov_len = plen },
	};
	do
		r = writev(fd, iov, 2);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r - VS_VNET_HDR;
}

/* Where plain packets are built from a remote end's super-packets (per thread: a worker may write too). */
static __thread uint8_t scratch[65536 + VS_VNET_HDR];

/*
 * One record of the gso framing (header raw, packet p) into a TUN. An offload TUN takes it
 * whole, minus any claim that the checksum was verified: that is for the kernel to find out,
 * not for a remote end to assert. A plain TUN gets it cut and its checksums completed here.
 * Adds the packets written to *written and returns the packets dropped.
 */
static int write_record(int fd, int vnet, const uint8_t *raw, const uint8_t *p, uint32_t plen, int *written, double *bytes)
{
	struct vs_vnet h;
	ssize_t r;

	vs_vnet_hdr_get(raw, &h);
	if (vnet) {
		uint8_t hdr[VS_VNET_HDR];

		if (h.gso_type != VIRTIO_NET_HDR_GSO_NONE && !(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
			return 1;
		memcpy(hdr, raw, VS_VNET_HDR);
		hdr[0] &= (uint8_t)~VIRTIO_NET_HDR_F_DATA_VALID;
		if (!is_ip_packet(p, plen))
			return 1;
		r = write_one(fd, hdr, p, plen);
		if (r < 0)
			return 1;
		(*written)++;
		*bytes += (double)r;
		return 0;
	}
	if (h.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		if (!is_ip_packet(p, plen))
			return 1;
		if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
			memcpy(scratch, p, plen);
			if (vs_csum_complete(scratch, plen, &h) < 0)
				return 1;
			p = scratch;
		}
		r = write_one(fd, NULL, p, plen);
		if (r < 0)
			return 1;
		(*written)++;
		*bytes += (double)r;
		return 0;
	}
	{
		struct vs_gso_plan plan;
		int dropped = 0;
		int seg;

		if (vs_gso_plan(p, plen, &h, &plan) < 0)
			return 1;
		while ((seg = vs_gso_next(p, plen, &plan, scratch, sizeof scratch)) > 0) {
			r = write_one(fd, NULL, scratch, (uint32_t)seg);
			if (r < 0) {
				dropped++;
				continue;
			}
			(*written)++;
			*bytes += (double)r;
		}
		return seg < 0 ? dropped + 1 : dropped;
	}
}

/*
 * Writes packets, one write() each. With hdr=2 buf holds the batched framing
 * ([u16 BE length][packet]...) over len bytes; with hdr=4 the gso framing ([u32 BE length]
 * [virtio_net_hdr][packet]...); with hdr=0 buf holds n packets back to back whose lengths are
 * in lens. vnet says the TUN is in offload mode (IFF_VNET_HDR). Packets that are not IPv4/IPv6,
 * or that the kernel refuses, are skipped. stats (3 doubles) accumulates: [0] packets written,
 * [1] packets dropped, [2] bytes written. Returns the packets written by this call, or -EBADMSG
 * when the framing is truncated (the packets before the damage are written).
 */
VS_EXPORT int vs_tun_write_batch(int fd, const uint8_t *buf, int len, int hdr, const uint32_t *lens, int n, double *stats,
				 int vnet)
{
	int off = 0;
	int i = 0;
	int written = 0;
	int damaged = 0;

	if (buf == NULL || stats == NULL || len < 0 || (hdr != 0 && hdr != VS_FRAME_HDR && hdr != VS_GSO_HDR) ||
	    (hdr == 0 && lens == NULL))
		return -EINVAL;
	for (;;) {
		uint32_t plen;
		const uint8_t *p;
		const uint8_t *raw = NULL;
		ssize_t r;

		if (hdr == VS_FRAME_HDR) {
			if (off == len)
				break;
			if (len - off < VS_FRAME_HDR) {
				damaged = 1;
				break;
			}
			plen = get16(buf + off);
			off += VS_FRAME_HDR;
		} else if (hdr == VS_GSO_HDR) {
			if (off == len)
				break;
			if (len - off < VS_GSO_HDR + VS_VNET_HDR) {
				damaged = 1;
				break;
			}
			plen = get32(buf + off);
			raw = buf + off + VS_GSO_HDR;
			off += VS_GSO_HDR + VS_VNET_HDR;
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
		if (raw != NULL) {
			stats[1] += write_record(fd, vnet, raw, p, plen, &written, &stats[2]);
			continue;
		}
		if (!is_ip_packet(p, plen)) {
			stats[1] += 1;
			continue;
		}
		r = write_one(fd, vnet ? zero_vnet : NULL, p, plen);
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
VS_EXPORT int vs_tun_write(int fd, const uint8_t *buf, int len, int vnet)
{
	if (buf == NULL || len <= 0)
		return -EINVAL;
	return (int)write_one(fd, vnet ? zero_vnet : NULL, buf, (uint32_t)len);
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
