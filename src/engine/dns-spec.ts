/**
 * Which DNS servers and search domains vpnsvc accepts. Everything here ends up in a resolver
 * file or on a command line, so only an address or a plain domain name gets through: no
 * spaces, newlines, options or zone indexes.
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { invalidParameter } from '../errors/errors.js';

/** Canonical text of a DNS server address, or INVALID_PARAMETER. */
export function parseDnsServer(server: unknown): string {
  if (typeof server !== 'string' || server.includes('%') || isIP(server) === 0) {
    throw invalidParameter(`"${String(server)}" is not an IPv4 or IPv6 address`);
  }
  const parsed = ipaddr.parse(server);
  const range = parsed.range();
  if (range === 'unspecified' || range === 'multicast' || range === 'broadcast') {
    throw invalidParameter(`${server} is ${range === 'unspecified' ? 'the unspecified' : `a ${range}`} address, not a DNS server`);
  }
  return parsed.kind() === 'ipv6' ? (parsed as ipaddr.IPv6).toRFC5952String() : parsed.toString();
}

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

/**
 * Canonical search domain: lower case, no trailing dot. A leading "~" makes it a routing-only
 * domain (systemd-resolved); "~." routes every query to the VPN's servers.
 */
export function parseSearchDomain(domain: unknown): string {
  if (typeof domain !== 'string') throw invalidParameter('a search domain must be a string');
  if (domain === '~.') return domain;
  const routing = domain.startsWith('~');
  let name = (routing ? domain.slice(1) : domain).toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (name.length === 0 || name.length > 253 || !name.split('.').every((l) => LABEL.test(l))) {
    throw invalidParameter(`"${domain}" is not a domain name`);
  }
  return routing ? `~${name}` : name;
}
