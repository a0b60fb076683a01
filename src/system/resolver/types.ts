export type ResolverBackendName = 'resolved' | 'resolvconf' | 'file';

export interface DnsConfig {
  /** Canonical IPv4/IPv6 text, in the order the user added them. */
  servers: readonly string[];
  /** Search domains; a leading "~" marks a routing-only domain (systemd-resolved), e.g. "~.". */
  domains: readonly string[];
}

/**
 * A place where the VPN's DNS settings go. apply() states the whole desired configuration for
 * the VPN interface (no servers means: take everything of ours away); clear() is deinit and
 * shutdown; recover() runs at start and undoes what a killed daemon left behind.
 */
export interface ResolverBackend {
  readonly name: ResolverBackendName;
  apply(iface: string, config: DnsConfig): Promise<void>;
  clear(): Promise<void>;
  recover(): Promise<void>;
  describe(): Record<string, unknown>;
}
