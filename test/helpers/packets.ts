/** Hand-made IPv4/UDP packets for the data-plane tests, and a reader for what the TUN gives. */

function checksum(buf: Buffer): number {
  let sum = 0;
  for (let i = 0; i < buf.length; i += 2) sum += (buf[i] as number) * 256 + (buf[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

const quad = (ip: string): number[] => ip.split('.').map(Number);

/** An IPv4 packet carrying a UDP datagram (UDP checksum 0: "none", allowed over IPv4). */
export function ipv4Udp(src: string, dst: string, sport: number, dport: number, payload: Buffer): Buffer {
  const total = 20 + 8 + payload.length;
  const pkt = Buffer.alloc(total);
  pkt[0] = 0x45;
  pkt.writeUInt16BE(total, 2);
  pkt[8] = 64; // TTL
  pkt[9] = 17; // UDP
  Buffer.from(quad(src)).copy(pkt, 12);
  Buffer.from(quad(dst)).copy(pkt, 16);
  pkt.writeUInt16BE(checksum(pkt.subarray(0, 20)), 10);
  pkt.writeUInt16BE(sport, 20);
  pkt.writeUInt16BE(dport, 22);
  pkt.writeUInt16BE(8 + payload.length, 24);
  payload.copy(pkt, 28);
  return pkt;
}

export interface UdpView {
  src: string;
  dst: string;
  dport: number;
  payload: Buffer;
}

/** The UDP datagram inside an IPv4 packet, or undefined for anything else. */
export function readIpv4Udp(pkt: Buffer): UdpView | undefined {
  if (pkt.length < 28 || (pkt[0] as number) >> 4 !== 4 || pkt[9] !== 17) return undefined;
  const ihl = ((pkt[0] as number) & 0x0f) * 4;
  const ip = (o: number) => [...pkt.subarray(o, o + 4)].join('.');
  return { src: ip(12), dst: ip(16), dport: pkt.readUInt16BE(ihl + 2), payload: pkt.subarray(ihl + 8, pkt.readUInt16BE(2)) };
}

/** Splits a message of the batched framing ([u16 BE length][packet]...). */
export function splitBatch(message: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < message.length) {
    const len = message.readUInt16BE(at);
    out.push(message.subarray(at + 2, at + 2 + len));
    at += 2 + len;
  }
  return out;
}

export function batch(packets: Buffer[]): Buffer {
  return Buffer.concat(packets.flatMap((p) => [Buffer.from([p.length >> 8, p.length & 0xff]), p]));
}

/** The one's complement sum of buf, folded, not inverted. */
function sum16(buf: Buffer, initial = 0): number {
  let sum = initial;
  for (let i = 0; i < buf.length; i += 2) sum += (buf[i] as number) * 256 + (buf[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** The IPv4 pseudo-header's sum for a UDP datagram of `udpLength` bytes. */
function udpPseudoSum(pkt: Buffer, udpLength: number): number {
  return sum16(pkt.subarray(12, 20), 17 + udpLength);
}

/** ipv4Udp with a real UDP checksum, so that a damaged byte is something the kernel can catch. */
export function ipv4UdpChecksummed(src: string, dst: string, sport: number, dport: number, payload: Buffer): Buffer {
  const pkt = ipv4Udp(src, dst, sport, dport, payload);
  const c = ~sum16(pkt.subarray(20), udpPseudoSum(pkt, pkt.length - 20)) & 0xffff;
  pkt.writeUInt16BE(c === 0 ? 0xffff : c, 26);
  return pkt;
}

/** Whether an IPv4/UDP packet's header and UDP checksums hold (a UDP checksum of 0 does not count). */
export function ipv4UdpChecksumsValid(pkt: Buffer): boolean {
  const ihl = ((pkt[0] as number) & 0x0f) * 4;
  const udpLength = pkt.readUInt16BE(2) - ihl;
  if (sum16(pkt.subarray(0, ihl)) !== 0xffff || pkt.readUInt16BE(ihl + 6) === 0) return false;
  return sum16(pkt.subarray(ihl, ihl + udpLength), udpPseudoSum(pkt, udpLength)) === 0xffff;
}

/** A virtio_net_hdr as the gso framing carries it (fields little-endian). */
export interface VnetHeader {
  flags?: number;
  gsoType?: number;
  hdrLen?: number;
  gsoSize?: number;
  csumStart?: number;
  csumOffset?: number;
}
export const VNET_F_NEEDS_CSUM = 1;
export const VNET_F_DATA_VALID = 2;
export const VNET_GSO_UDP_L4 = 5;

/** One record of the gso framing: [u32 BE length][virtio_net_hdr][packet]. */
export function gsoRecord(packet: Buffer, h: VnetHeader = {}): Buffer {
  const head = Buffer.alloc(14);
  head.writeUInt32BE(packet.length, 0);
  head[4] = h.flags ?? 0;
  head[5] = h.gsoType ?? 0;
  head.writeUInt16LE(h.hdrLen ?? 0, 6);
  head.writeUInt16LE(h.gsoSize ?? 0, 8);
  head.writeUInt16LE(h.csumStart ?? 0, 10);
  head.writeUInt16LE(h.csumOffset ?? 0, 12);
  return Buffer.concat([head, packet]);
}

/** Splits a message of the gso framing into its records. */
export function splitGso(message: Buffer): { header: Buffer; packet: Buffer }[] {
  const out: { header: Buffer; packet: Buffer }[] = [];
  let at = 0;
  while (at < message.length) {
    const len = message.readUInt32BE(at);
    out.push({ header: message.subarray(at + 4, at + 14), packet: message.subarray(at + 14, at + 14 + len) });
    at += 14 + len;
  }
  return out;
}

/**
 * A UDP super-packet as Linux's UDP segmentation offload leaves it: one IPv4 packet whose
 * payload is to be cut every `segment` bytes, its UDP checksum field holding only the
 * pseudo-header sum (CHECKSUM_PARTIAL), and the virtio_net_hdr that says so.
 */
export function udpSuperPacket(src: string, dst: string, sport: number, dport: number, payload: Buffer, segment: number) {
  const pkt = ipv4Udp(src, dst, sport, dport, payload);
  pkt.writeUInt16BE(udpPseudoSum(pkt, pkt.length - 20), 26);
  return {
    packet: pkt,
    header: { flags: VNET_F_NEEDS_CSUM, gsoType: VNET_GSO_UDP_L4, hdrLen: 28, gsoSize: segment, csumStart: 20, csumOffset: 6 },
  };
}
