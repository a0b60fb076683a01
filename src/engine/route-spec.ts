/**
 * What a route is and which routes vpnsvc accepts. Pure: no kernel, no HTTP.
 *
 * Defined outcomes (each one VPNSVC_ERROR_INVALID_PARAMETER, 400, nothing sent to the kernel):
 * - address: IPv4 dotted decimal (four parts, no leading zeros) or IPv6 without a zone index;
 * - prefix: an integer, 0..32 for IPv4 and 0..128 for IPv6 (the original took any int);
 * - host bits set (10.1.2.3/8): refused with the network it probably meant (10.0.0.0/8), as
 *   `ip route` does for IPv4 (the kernel would silently mask IPv6 instead);
 * - multicast (224.0.0.0/4, ff00::/8), loopback (127.0.0.0/8, ::1), limited broadcast
 *   (255.255.255.255) and IPv4-mapped IPv6 (::ffff:0:0/96): nothing a TUN can carry as unicast;
 * - the unspecified address only as a network start: 0.0.0.0/0, 0.0.0.0/1 and ::/0 are fine
 *   (full tunnel, OpenVPN's def1 halves), 0.0.0.0/32 and ::/128 are not.
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { invalidParameter } from '../errors/errors.js';
import type { PackedRoutes, TypedRoutes } from '../system/native.js';

/** rtnetlink route types (linux/rtnetlink.h): a device route, a throw route. */
const RTN_UNICAST = 1;
const RTN_THROW = 9;

export type RouteFamily = 4 | 6;

export interface RouteSpec {
  prefix: number;
  family: RouteFamily;
  /** The address in network order, 4 or 16 bytes. */
  bytes: Uint8Array;
  /** Kept on the original network (Android's excludeRoute): a throw route in the VPN's table. */
  exclude?: boolean;
}

const REFUSED_RANGES: ReadonlyArray<[string, number, string]> = [
  ['224.0.0.0', 4, 'a multicast address'],
  ['127.0.0.0', 8, 'a loopback address'],
  ['255.255.255.255', 32, 'the limited broadcast address'],
  ['ff00::', 8, 'a multicast address'],
  ['::1', 128, 'the loopback address'],
  ['::ffff:0:0', 96, 'an IPv4-mapped IPv6 address (use the IPv4 form)'],
];

const refused = REFUSED_RANGES.map(([a, prefix, why]) => ({
  bytes: Uint8Array.from(ipaddr.parse(a).toByteArray()),
  prefix,
  why,
}));

/** Whether the first `prefix` bits of a and b agree (a and b of the same length). */
function samePrefix(a: Uint8Array, b: Uint8Array, prefix: number): boolean {
  const whole = prefix >> 3;
  for (let i = 0; i < whole; i++) if (a[i] !== b[i]) return false;
  const rest = prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((a[whole]! ^ b[whole]!) & mask) === 0;
}

function maskHostBits(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  for (let bit = prefix; bit < out.length * 8; bit++) out[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return out;
}

function toText(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join('.');
  return new ipaddr.IPv6(Array.from(bytes)).toRFC5952String();
}

function groupsOf(text: string): number[] {
  if (text === '') return [];
  const groups: number[] = [];
  for (const part of text.split(':')) {
    if (part.includes('.')) {
      const [a = 0, b = 0, c = 0, d = 0] = part.split('.').map(Number);
      groups.push((a << 8) | b, (c << 8) | d);
    } else {
      groups.push(parseInt(part, 16));
    }
  }
  return groups;
}

/**
 * The address in network order. isIP has already accepted the text (strict dotted decimal, or
 * IPv6 without zone), so this only converts; it is several times faster than a general parser,
 * which counts for a bulk of 10,000 routes.
 */
function addressBytes(address: string, family: RouteFamily): Uint8Array {
  if (family === 4) return Uint8Array.from(address.split('.'), Number);
  const gap = address.indexOf('::');
  const head = groupsOf(gap < 0 ? address : address.slice(0, gap));
  const tail = gap < 0 ? [] : groupsOf(address.slice(gap + 2));
  const groups = gap < 0 ? head : [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** Canonical text of a route: dotted decimal, or RFC 5952 for IPv6, then /prefix. */
export function routeText(route: RouteSpec): string {
  return `${toText(route.bytes)}/${route.prefix}`;
}

/** The canonical address alone. */
export function routeAddress(route: RouteSpec): string {
  return toText(route.bytes);
}

/** Identity of a route, cheap to compute for a bulk: the same for every spelling of an address. */
export function routeKey(route: RouteSpec): string {
  return `${Buffer.from(route.bytes.buffer, route.bytes.byteOffset, route.bytes.length).toString('hex')}/${route.prefix}`;
}

/** Parses and checks one route; throws INVALID_PARAMETER with a message a user can act on. */
export function parseRoute(address: unknown, prefix: unknown, exclude?: unknown): RouteSpec {
  const spec = parsePlainRoute(address, prefix);
  if (exclude === undefined || exclude === false) return spec;
  if (exclude !== true) throw invalidParameter(`exclude must be true or false, got ${String(exclude)}`);
  if (spec.prefix === 0) {
    throw invalidParameter(`${routeText(spec)} cannot be excluded: excluding everything is having no default route through the VPN`);
  }
  return { ...spec, exclude: true };
}

function parsePlainRoute(address: unknown, prefix: unknown): RouteSpec {
  if (typeof address !== 'string' || address.includes('%')) {
    throw invalidParameter(`"${String(address)}" is not an IPv4 or IPv6 address`);
  }
  const family = isIP(address);
  if (family !== 4 && family !== 6) {
    throw invalidParameter(`"${address}" is not an IPv4 or IPv6 address`);
  }
  const maxPrefix = family === 4 ? 32 : 128;
  if (typeof prefix !== 'number' || !Number.isInteger(prefix) || prefix < 0 || prefix > maxPrefix) {
    throw invalidParameter(`prefix ${String(prefix)} is out of range for IPv${family} (0..${maxPrefix})`);
  }
  const bytes = addressBytes(address, family);
  const network = maskHostBits(bytes, prefix);
  if (network.some((b, i) => b !== bytes[i])) {
    throw invalidParameter(`${address}/${prefix} has host bits set: did you mean ${toText(network)}/${prefix}?`);
  }
  if (prefix === maxPrefix && bytes.every((b) => b === 0)) {
    throw invalidParameter(`${address}/${prefix} is the unspecified address`);
  }
  for (const r of refused) {
    if (r.bytes.length === bytes.length && prefix >= r.prefix && samePrefix(bytes, r.bytes, r.prefix)) {
      throw invalidParameter(`${address}/${prefix} is ${r.why}`);
    }
  }
  return { prefix, family, bytes };
}

/** Packs routes into the shim's fixed-size arrays: family, 16 bytes of address, prefix. */
export function packRoutes(routes: readonly RouteSpec[]): PackedRoutes {
  const families = new Uint8Array(routes.length);
  const addrs16 = new Uint8Array(routes.length * 16);
  const prefixes = new Uint8Array(routes.length);
  routes.forEach((r, i) => {
    families[i] = r.family;
    addrs16.set(r.bytes, i * 16);
    prefixes[i] = r.prefix;
  });
  return { families, addrs16, prefixes };
}

export function unpackRoutes({ families, addrs16, prefixes }: PackedRoutes): Array<{ address: string; prefix: number }> {
  const out: Array<{ address: string; prefix: number }> = [];
  for (let i = 0; i < families.length; i++) {
    const len = families[i] === 4 ? 4 : 16;
    out.push({ address: toText(addrs16.subarray(i * 16, i * 16 + len)), prefix: prefixes[i]! });
  }
  return out;
}

/** Where a route lives: the full tunnel's defaults and the excluded prefixes in the VPN's table, the rest in main. */
export function inVpnTable(route: RouteSpec): boolean {
  return route.exclude === true || route.prefix === 0;
}

/** Packs routes with a table and a type each (main and unicast, or the VPN's table and unicast or throw). */
export function packTypedRoutes(routes: readonly RouteSpec[], vpnTable: number): TypedRoutes {
  const packed = packRoutes(routes);
  const tables = new Uint32Array(routes.length);
  const types = new Uint8Array(routes.length);
  routes.forEach((r, i) => {
    tables[i] = inVpnTable(r) ? vpnTable : 0;
    types[i] = r.exclude === true ? RTN_THROW : RTN_UNICAST;
  });
  return { ...packed, tables, types };
}
