/**
 * Input rules of the seed functions. The HTTP schemas in openapi.yaml say the same thing to
 * clients; the engine checks again because it is an API of its own (CLI, tests, other callers).
 */
import ipaddr from 'ipaddr.js';
import { invalidParameter } from '../errors/errors.js';

export { checkInterfaceName, IFNAME_MAX, IFNAME_PATTERN } from '../system/interface-name.js';

export const MTU_MIN = 68;
export const MTU_MAX = 65535;
export const DEFAULT_MTU = 1500;
export const SESSION_MAX = 31;
export const DEFAULT_SESSION = 'VPN_Session';
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

export function checkMtu(mtu: number): number {
  if (!Number.isInteger(mtu) || mtu < MTU_MIN || mtu > MTU_MAX) {
    throw invalidParameter(`MTU ${mtu} is out of range: use an integer from ${MTU_MIN} to ${MTU_MAX}`);
  }
  return mtu;
}

export function checkSession(session: string): string {
  const length = [...session].length;
  if (length === 0 || length > SESSION_MAX) {
    throw invalidParameter(`session name must be 1-${SESSION_MAX} characters, got ${length}`);
  }
  if (CONTROL_CHARS.test(session)) throw invalidParameter('session name must not contain control characters');
  return session;
}

/**
 * A unicast IPv4 address in dotted-quad form. The original let the kernel refuse multicast with
 * an I/O error at apply time; refusing it here names the real problem before anything is staged.
 */
export function checkUnicastIPv4(address: string, what: string): string {
  if (!ipaddr.IPv4.isValidFourPartDecimal(address)) {
    throw invalidParameter(`${what} "${address}" is not an IPv4 address in dotted-quad form`);
  }
  const range = ipaddr.IPv4.parse(address).range();
  if (range === 'multicast' || range === 'broadcast' || range === 'unspecified') {
    throw invalidParameter(`${what} ${address} is a ${range} address; a unicast address is needed`);
  }
  return address;
}
