/**
 * Address/prefix arithmetic for the firewall's allow lists. Pure: no I/O, no kernel.
 * Addresses are parsed with ipaddr.js; canonical text is what nft prints back (RFC 5952 for IPv6).
 */
import ipaddr from 'ipaddr.js';

export type IpFamily = 4 | 6;

export interface IpPrefix {
  address: string;
  prefix: number;
}

export interface CanonicalPrefix extends IpPrefix {
  family: IpFamily;
  /** the network address, host bits cleared */
  bytes: number[];
}

export class PrefixError extends Error {}

function fromBytes(bytes: number[]): string {
  return ipaddr.fromByteArray(bytes).toString();
}

function maskBytes(bytes: number[], prefix: number): number[] {
  return bytes.map((b, i) => b & ((0xff << (8 - Math.max(0, Math.min(8, prefix - i * 8)))) & 0xff));
}

/**
 * One allow-list entry in canonical network form. Host bits are cleared (10.1.2.3/8 is
 * 10.0.0.0/8, which is what the kernel would match anyway). Prefix 0 is legitimate here: "all of
 * IPv4 over the VPN" is the usual full-tunnel kill switch.
 */
export function canonicalPrefix(entry: IpPrefix): CanonicalPrefix {
  const { address, prefix } = entry;
  let family: IpFamily;
  let bytes: number[];
  if (typeof address === 'string' && ipaddr.IPv4.isValidFourPartDecimal(address)) {
    family = 4;
    bytes = ipaddr.IPv4.parse(address).toByteArray();
  } else if (typeof address === 'string' && !address.includes('%') && ipaddr.IPv6.isValid(address)) {
    family = 6;
    bytes = ipaddr.IPv6.parse(address).toByteArray();
  } else {
    throw new PrefixError(`"${String(address)}" is not an IPv4 (dotted quad) or IPv6 address`);
  }
  const max = family === 4 ? 32 : 128;
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) {
    throw new PrefixError(`prefix ${String(prefix)} is out of range for ${address}: use 0-${max}`);
  }
  const masked = maskBytes(bytes, prefix);
  return { family, address: fromBytes(masked), prefix, bytes: masked };
}

function contains(outer: CanonicalPrefix, inner: CanonicalPrefix): boolean {
  if (outer.family !== inner.family || outer.prefix > inner.prefix) return false;
  return maskBytes(inner.bytes, outer.prefix).every((b, i) => b === outer.bytes[i]);
}

/** Drops duplicates and entries inside a wider one: nft's interval sets refuse overlaps. */
export function minimalCover(list: CanonicalPrefix[]): CanonicalPrefix[] {
  const kept: CanonicalPrefix[] = [];
  for (const p of [...list].sort((a, b) => a.prefix - b.prefix)) {
    if (!kept.some((k) => contains(k, p))) kept.push(p);
  }
  return kept;
}

/** An inclusive address range as the fewest prefixes covering exactly it (nft may print ranges). */
export function rangeToPrefixes(first: string, last: string): IpPrefix[] {
  const lo = ipaddr.parse(first).toByteArray();
  const hi = ipaddr.parse(last).toByteArray();
  const width = lo.length * 8;
  const toBig = (b: number[]): bigint => b.reduce((acc, x) => (acc << 8n) | BigInt(x), 0n);
  const fromBig = (v: bigint): number[] => {
    const out = new Array<number>(lo.length).fill(0);
    for (let i = lo.length - 1; i >= 0; i--) {
      out[i] = Number(v & 0xffn);
      v >>= 8n;
    }
    return out;
  };
  const out: IpPrefix[] = [];
  let cur = toBig(lo);
  const end = toBig(hi);
  while (cur <= end) {
    let size = 0;
    while (size < width) {
      const block = 1n << BigInt(size + 1);
      if (cur % block !== 0n || cur + block - 1n > end) break;
      size++;
    }
    out.push({ address: fromBytes(fromBig(cur)), prefix: width - size });
    cur += 1n << BigInt(size);
  }
  return out;
}
