/* Software GSO and checksum completion for TUNs with IFF_VNET_HDR (gso.c). */
#ifndef VPNSVC_GSO_H
#define VPNSVC_GSO_H

#include <stdint.h>
#include <linux/virtio_net.h>

/* UDP segmentation offload (kernel 6.2); older headers lack the name. */
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

/* sizeof(struct virtio_net_hdr): what a TUN with IFF_VNET_HDR puts before every packet. */
#define VS_VNET_HDR 10

/* Big-endian fields of packets and of the stream's framings. */
static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint32_t get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* A virtio_net_hdr in host order. */
struct vs_vnet {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
};

/* How a super-packet is being cut: its headers' extent, the MSS, and where the next segment starts. */
struct vs_gso_plan {
	uint32_t hdrlen;
	uint32_t thoff;
	uint32_t mss;
	uint32_t next;
	uint32_t index;
	uint8_t proto;
};

void vs_vnet_hdr_get(const uint8_t *raw, struct vs_vnet *h);
/* Completes a partial (NEEDS_CSUM) checksum in place. */
int vs_csum_complete(uint8_t *p, uint32_t len, const struct vs_vnet *h);
/* Prepares to cut packet p (TCPv4/v6 or UDP GSO): 0, -EINVAL for a malformed one, -EPROTONOSUPPORT. */
int vs_gso_plan(const uint8_t *p, uint32_t len, const struct vs_vnet *h, struct vs_gso_plan *plan);
/* The next segment into out with complete checksums: its length, 0 after the last, -ENOBUFS. */
int vs_gso_next(const uint8_t *p, uint32_t len, struct vs_gso_plan *plan, uint8_t *out, uint32_t cap);

#endif
