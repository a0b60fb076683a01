export type ResolverBackendName = 'resolved' | 'resolvconf' | 'file';

/** The resolv.conf glibc reads: the file backend manages it, the resolvconf backend checks it. */
export const DEFAULT_RESOLV_CONF = '/etc/resolv.conf';

export interface DnsConfig {
  /** Canonical IPv4/IPv6 text, in the order the user added them. */
  servers: readonly string[];
  /** Search domains; a leading "~" marks a routing-only domain (systemd-resolved), e.g. "~.". */
  domains: readonly string[];
}

/**
 * How far the VPN's DNS servers keep queries from the LAN's:
 * - exclusive: the resolver lists no server but the VPN's;
 * - routing-domain: systemd-resolved with `~.` on the VPN link sends every query there;
 * - fallback: the VPN's servers come first, the LAN's stay listed after them and get the
 *   queries the VPN's do not answer;
 * - none: the LAN's servers get queries too (no VPN server yet, or resolved without `~.`).
 */
export type LeakProtection = 'exclusive' | 'routing-domain' | 'fallback' | 'none';

/**
 * A place where the VPN's DNS settings go. apply() states the whole desired configuration for
 * the VPN interface (no servers means: take everything of ours away) and reads the resolver
 * back, throwing when the change did not take; clear() is deinit and shutdown; recover() runs
 * at start and undoes what a killed daemon left behind.
 */
export interface ResolverBackend {
  readonly name: ResolverBackendName;
  apply(iface: string, config: DnsConfig): Promise<void>;
  clear(): Promise<void>;
  recover(): Promise<void>;
  describe(): Record<string, unknown>;
  /** What the resolver does with queries while config is applied. */
  leakProtection(config: DnsConfig): LeakProtection;
}
