/**
 * Reading a resolv.conf back the way a stub resolver does: the nameserver lines in order,
 * addresses compared by value, since resolvconf rewrites their spelling (Debian's collapses
 * IPv6 zeros its own way).
 */
import ipaddr from 'ipaddr.js';

/** glibc's MAXNS: it never asks the nameservers listed after the third. */
export const GLIBC_MAX_NAMESERVERS = 3;

export function nameservers(text: string): string[] {
  const found: string[] = [];
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words[0] === 'nameserver' && words[1]) found.push(words[1]);
  }
  return found;
}

/** One spelling per address, or undefined for what is not an address. */
export function addressKey(text: string): string | undefined {
  return ipaddr.isValid(text) ? ipaddr.parse(text).toNormalizedString() : undefined;
}

export function sameAddress(a: string, b: string): boolean {
  const key = addressKey(a);
  return key !== undefined && key === addressKey(b);
}

/** Whether both lists hold the same addresses, in any order and spelling. */
export function sameAddresses(a: readonly string[], b: readonly string[]): boolean {
  const keys = (list: readonly string[]) => [...new Set(list.map((x) => addressKey(x) ?? x))].sort();
  return keys(a).join(' ') === keys(b).join(' ');
}

export function isLoopback(text: string): boolean {
  return ipaddr.isValid(text) && ipaddr.parse(text).range() === 'loopback';
}

/** exclusive when the file lists no nameserver but the VPN's, else fallback. */
export function fileLeakProtection(text: string | undefined, servers: readonly string[]): 'exclusive' | 'fallback' {
  const listed = nameservers(text ?? '');
  return listed.length > 0 && listed.every((n) => servers.some((s) => sameAddress(n, s))) ? 'exclusive' : 'fallback';
}
