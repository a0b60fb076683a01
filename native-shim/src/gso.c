/*
 * Software GSO and checksum completion for TUNs in offload mode (IFF_VNET_HDR).
 *
 * A TUN with offloads hands over TCP and UDP super-packets of up to 64 KiB, each behind a
 * virtio_net_hdr, and may leave checksums partial (VIRTIO_NET_HDR_F_NEEDS_CSUM). Whenever
 * such a packet must go where only plain IP packets are understood (a stream in the packet or
 * batch framing, a REST read, a TUN without offloads), it is cut here into MSS-sized segments
 * with their own, complete checksums, as the kernel's GSO would do in software.
 *
 * The headers of a super-packet are parsed from the packet itself, never from hdr_len (the
 * kernel sets it to its linear length, which may include payload; a remote end may set anything).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <endian.h>
#include <linux/virtio_net.h>

#include "gso.h"

#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_CWR 0x80

/* The one's complement sum of len bytes, not folded; big-endian 16-bit words. */
static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t len)
{
	while (len >= 4) {
		sum += get32(p);
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		sum += get16(p);
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The pseudo-header sum of an IPv4 or IPv6 packet for an L4 length and protocol. */
static uint64_t pseudo_sum(const uint8_t *ip, uint32_t l4len, uint8_t proto)
{
	uint64_t sum = 0;

	if ((ip[0] >> 4) == 4)
		sum = csum_add(sum, ip + 12, 8);
	else
		sum = csum_add(sum, ip + 8, 32);
	return sum + l4len + proto;
}

static void ipv4_header_csum(uint8_t *ip)
{
	uint32_t ihl = (uint32_t)(ip[0] & 0x0f) * 4;

	put16(ip + 10, 0);
	put16(ip + 10, (uint16_t)~csum_fold(csum_add(0, ip, ihl)));
}

void vs_vnet_hdr_get(const uint8_t *raw, struct vs_vnet *h)
{
	struct virtio_net_hdr v;

	memcpy(&v, raw, sizeof v);
	/* The virtio 1.0 layout is little-endian; a TUN uses the host's order, LE on every host we build for. */
	h->flags = v.flags;
	h->gso_type = v.gso_type;
	h->gso_size = le16toh(v.gso_size);
	h->csum_start = le16toh(v.csum_start);
	h->csum_offset = le16toh(v.csum_offset);
}

/*
 * Where the L4 header of packet p starts and which protocol it is, for the packet's own
 * headers. IPv6 extension headers are not walked: offloaded TCP and UDP follow the fixed header
 * directly, and anything else is refused rather than mis-cut.
 */
static int l4_of(const uint8_t *p, uint32_t len, uint32_t *thoff, uint8_t *proto)
{
	if (len < 20)
		return -EINVAL;
	switch (p[0] >> 4) {
	case 4: {
		uint32_t ihl = (uint32_t)(p[0] & 0x0f) * 4;

		if (ihl < 20 || ihl > len || get16(p + 2) != len)
			return -EINVAL;
		/* A fragment cannot be segmented. */
		if (get16(p + 6) & 0x3fff)
			return -EINVAL;
		*thoff = ihl;
		*proto = p[9];
		return 0;
	}
	case 6:
		if (len < 40 || (uint32_t)get16(p + 4) + 40 != len)
			return -EINVAL;
		*thoff = 40;
		*proto = p[6];
		return 0;
	default:
		return -EINVAL;
	}
}

int vs_csum_complete(uint8_t *p, uint32_t len, const struct vs_vnet *h)
{
	uint32_t start = h->csum_start;
	uint32_t field = start + h->csum_offset;

	if (start >= len || field + 2 > len || field < start)
		return -EINVAL;
	/* The field holds the pseudo-header sum (CHECKSUM_PARTIAL); summing over it completes it. */
	put16(p + field, (uint16_t)~csum_fold(csum_add(0, p + start, len - start)));
	return 0;
}

int vs_gso_plan(const uint8_t *p, uint32_t len, const struct vs_vnet *h, struct vs_gso_plan *plan)
{
	uint32_t thoff;
	uint8_t proto;
	uint8_t want;
	uint8_t type = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;

	if (l4_of(p, len, &thoff, &proto) < 0)
		return -EINVAL;
	switch (type) {
	case VIRTIO_NET_HDR_GSO_TCPV4:
	case VIRTIO_NET_HDR_GSO_TCPV6:
		want = IPPROTO_TCP_;
		break;
	case VIRTIO_NET_HDR_GSO_UDP_L4:
		want = IPPROTO_UDP_;
		break;
	default:
		return -EPROTONOSUPPORT;
	}
	if (proto != want)
		return -EINVAL;
	if ((type == VIRTIO_NET_HDR_GSO_TCPV4) != ((p[0] >> 4) == 4) && type != VIRTIO_NET_HDR_GSO_UDP_L4)
		return -EINVAL;
	if (want == IPPROTO_TCP_) {
		uint32_t doff;

		if (thoff + 20 > len)
			return -EINVAL;
		doff = (uint32_t)(p[thoff + 12] >> 4) * 4;
		if (doff < 20 || thoff + doff > len)
			return -EINVAL;
		plan->hdrlen = thoff + doff;
	} else {
		if (thoff + 8 > len)
			return -EINVAL;
		plan->hdrlen = thoff + 8;
	}
	if (h->gso_size == 0)
		return -EINVAL;
	plan->thoff = thoff;
	plan->proto = proto;
	plan->mss = h->gso_size;
	plan->next = plan->hdrlen;
	plan->index = 0;
	return 0;
}

int vs_gso_next(const uint8_t *p, uint32_t len, struct vs_gso_plan *plan, uint8_t *out, uint32_t cap)
{
	uint32_t hl = plan->hdrlen;
	uint32_t th = plan->thoff;
	uint32_t seg;
	uint32_t total;
	int first = plan->index == 0;
	int last;
	uint8_t *l4;

	if (plan->next >= len && !(first && plan->next == len))
		return 0;
	seg = len - plan->next;
	if (seg > plan->mss)
		seg = plan->mss;
	total = hl + seg;
	if (total > cap)
		return -ENOBUFS;
	last = plan->next + seg >= len;
	memcpy(out, p, hl);
	memcpy(out + hl, p + plan->next, seg);
	if ((out[0] >> 4) == 4) {
		put16(out + 2, (uint16_t)total);
		put16(out + 4, (uint16_t)(get16(p + 4) + plan->index));
		ipv4_header_csum(out);
	} else {
		put16(out + 4, (uint16_t)(total - 40));
	}
	l4 = out + th;
	if (plan->proto == IPPROTO_TCP_) {
		put32(l4 + 4, get32(p + th + 4) + (plan->next - hl));
		if (!last)
			l4[13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
		if (!first)
			l4[13] &= (uint8_t)~TCP_CWR;
		put16(l4 + 16, 0);
		put16(l4 + 16, (uint16_t)~csum_fold(pseudo_sum(out, total - th, IPPROTO_TCP_) + csum_add(0, l4, total - th)));
	} else {
		uint16_t c;

		put16(l4 + 4, (uint16_t)(total - th));
		put16(l4 + 6, 0);
		c = (uint16_t)~csum_fold(pseudo_sum(out, total - th, IPPROTO_UDP_) + csum_add(0, l4, total - th));
		put16(l4 + 6, c == 0 ? 0xffff : c);
	}
	plan->next += seg;
	plan->index++;
	return (int)total;
}
