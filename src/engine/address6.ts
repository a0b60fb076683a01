/**
 * The TUN's IPv6 address (`localIp6`, "fd00:8::2/64"): checked here, set at apply without DAD
 * (addr6.c) and read back from the kernel. The seed's setters are IPv4 only; this is the dual
 * stack's extension, as Android's VpnService.Builder.addAddress takes either family.
 */
import ipaddr from 'ipaddr.js';
import { invalidParameter } from '../errors/errors.js';

export interface Address6 {
  bytes: Uint8Array;
  prefix: number;
}

const REFUSED = new Set(['unspecified', 'linkLocal', 'multicast', 'loopback', 'ipv4Mapped', 'rfc6145', 'rfc6052']);

/** "addr/prefix" with a unicast, non-link-local IPv6 address and a prefix of 1..128; canonical (RFC 5952) back. */
export function checkAddress6(text: string, what = 'localIp6'): string {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const prefixText = slash < 0 ? '128' : text.slice(slash + 1);
  if (address.includes('%') || !ipaddr.IPv6.isValid(address)) {
    throw invalidParameter(`${what} "${text}" is not an IPv6 address with a prefix (e.g. fd00:8::2/64)`);
  }
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) < 1 || Number(prefixText) > 128) {
    throw invalidParameter(`${what} "${text}": the prefix must be 1..128`);
  }
  const parsed = ipaddr.IPv6.parse(address);
  const range = parsed.range();
  if (REFUSED.has(range)) throw invalidParameter(`${what} ${address} is a ${range} address; a unicast address is needed`);
  return `${parsed.toRFC5952String()}/${Number(prefixText)}`;
}

export function parseAddress6(text: string): Address6 {
  const canonical = checkAddress6(text);
  const [address = '', prefix = '128'] = canonical.split('/');
  return { bytes: Uint8Array.from(ipaddr.IPv6.parse(address).toByteArray()), prefix: Number(prefix) };
}

export function address6Text(a: Address6): string {
  return `${new ipaddr.IPv6(Array.from(a.bytes)).toRFC5952String()}/${a.prefix}`;
}
