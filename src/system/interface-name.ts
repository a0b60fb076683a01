/**
 * The one rule for interface names vpnsvc accepts. Linux takes almost any byte in a name; these
 * can never mean anything to nft (`*` is a wildcard there), to a shell, or to resolvectl,
 * resolvconf and ip (not starting with - or .: never an option, never . or ..).
 */
import { invalidParameter } from '../errors/errors.js';

/** IFNAMSIZ less the terminating NUL. */
export const IFNAME_MAX = 15;
export const IFNAME_PATTERN = new RegExp(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,${IFNAME_MAX - 1}}$`);
/** The rule in words, for the messages that refuse a name. */
export const IFNAME_RULE = `1-${IFNAME_MAX} characters of A-Z a-z 0-9 _ . -`;

export function isInterfaceName(name: unknown): name is string {
  return typeof name === 'string' && IFNAME_PATTERN.test(name);
}

export function checkInterfaceName(name: string): string {
  if (!isInterfaceName(name)) {
    throw invalidParameter(`interface name "${name}" is invalid: use ${IFNAME_RULE}, not starting with - or .`);
  }
  return name;
}
