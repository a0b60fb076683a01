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
