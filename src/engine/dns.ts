/**
 * The DNS settings behind vpnsvc_add_dns_server / vpnsvc_remove_dns_server, plus search domains
 * as an extension. DnsSettings holds what the user asked for and hands the whole configuration
 * to the resolver backend after every change, keeping the change only when the backend took it
 * (the backend reads the resolver back, so a change that did not take is a failure too).
 */
import { invalidParameter, ioError, noSuchFile, VpnsvcError } from '../errors/errors.js';
import type { DnsConfig, ResolverBackend } from '../system/resolver/types.js';
import { parseDnsServer, parseSearchDomain } from './dns-spec.js';

/** Enough for any real VPN; glibc itself uses only the first three nameservers. */
export const MAX_DNS_SERVERS = 16;
export const MAX_SEARCH_DOMAINS = 32;

export class DnsSettings {
  private servers: string[] = [];
  private domains: string[] = [];

  constructor(readonly backend: ResolverBackend) {}

  config(): DnsConfig {
    return { servers: [...this.servers], domains: [...this.domains] };
  }

  async addServer(iface: string, server: string): Promise<string> {
    const s = parseDnsServer(server);
    if (this.servers.includes(s)) throw invalidParameter(`DNS server ${s} is already added`);
    if (this.servers.length >= MAX_DNS_SERVERS) throw invalidParameter(`at most ${MAX_DNS_SERVERS} DNS servers`);
    await this.commit(iface, [...this.servers, s], this.domains);
    return s;
  }

  async removeServer(iface: string, server: string): Promise<string> {
    const s = parseDnsServer(server);
    if (!this.servers.includes(s)) throw noSuchFile(`DNS server ${s} is not added`);
    await this.commit(
      iface,
      this.servers.filter((x) => x !== s),
      this.domains,
    );
    return s;
  }

  async addDomain(iface: string, domain: string): Promise<string> {
    const d = parseSearchDomain(domain);
    if (this.domains.includes(d)) throw invalidParameter(`search domain ${d} is already added`);
    if (this.domains.length >= MAX_SEARCH_DOMAINS) throw invalidParameter(`at most ${MAX_SEARCH_DOMAINS} search domains`);
    await this.commit(iface, this.servers, [...this.domains, d]);
    return d;
  }

  async removeDomain(iface: string, domain: string): Promise<string> {
    const d = parseSearchDomain(domain);
    if (!this.domains.includes(d)) throw noSuchFile(`search domain ${d} is not added`);
    await this.commit(
      iface,
      this.servers,
      this.domains.filter((x) => x !== d),
    );
    return d;
  }

  /** The whole configuration at once (each entry checked first); nothing changes when the backend refuses. */
  async replace(iface: string, config: DnsConfig): Promise<void> {
    const servers = config.servers.map(parseDnsServer);
    const domains = config.domains.map(parseSearchDomain);
    if (servers.length > MAX_DNS_SERVERS) throw invalidParameter(`at most ${MAX_DNS_SERVERS} DNS servers`);
    if (domains.length > MAX_SEARCH_DOMAINS) throw invalidParameter(`at most ${MAX_SEARCH_DOMAINS} search domains`);
    await this.commit(iface, servers, domains);
  }

  /** Deinit and shutdown: everything of ours leaves the resolver. Memory is cleared even if the backend fails. */
  async clear(): Promise<void> {
    this.servers = [];
    this.domains = [];
    await this.backend.clear();
  }

  private async commit(iface: string, servers: string[], domains: string[]): Promise<void> {
    await this.backend.apply(iface, { servers, domains });
    this.servers = servers;
    this.domains = domains;
  }
}

/** A backend failure is the host's problem, not the caller's: IO_ERROR naming the backend. */
export async function resolverCall<T>(backend: ResolverBackend, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof VpnsvcError) throw err;
    throw ioError(`DNS backend "${backend.name}": ${(err as Error).message}`);
  }
}
