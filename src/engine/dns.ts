/**
 * vpnsvc_add_dns_server / vpnsvc_remove_dns_server, plus search domains as an extension.
 * DnsSettings holds what the user asked for and hands the whole configuration to the resolver
 * backend after every change, keeping the change only when the backend took it. VpnDns ties it
 * to the engine: the active interface, one call at a time, cleanup at deinit.
 */
import type { Dns } from '../contract/api-types.js';
import { VpnsvcError, invalidParameter, ioError, noSuchFile } from '../errors/errors.js';
import type { DnsConfig, ResolverBackend } from '../system/resolver/types.js';
import { parseDnsServer, parseSearchDomain } from './dns-spec.js';
import type { VpnEngine } from './engine.js';
import { upInterfaceIndex } from './link-up.js';

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

  async removeServer(iface: string, server: string): Promise<void> {
    const s = parseDnsServer(server);
    if (!this.servers.includes(s)) throw noSuchFile(`DNS server ${s} is not added`);
    await this.commit(iface, this.servers.filter((x) => x !== s), this.domains);
  }

  async addDomain(iface: string, domain: string): Promise<string> {
    const d = parseSearchDomain(domain);
    if (this.domains.includes(d)) throw invalidParameter(`search domain ${d} is already added`);
    if (this.domains.length >= MAX_SEARCH_DOMAINS) throw invalidParameter(`at most ${MAX_SEARCH_DOMAINS} search domains`);
    await this.commit(iface, this.servers, [...this.domains, d]);
    return d;
  }

  async removeDomain(iface: string, domain: string): Promise<void> {
    const d = parseSearchDomain(domain);
    if (!this.domains.includes(d)) throw noSuchFile(`search domain ${d} is not added`);
    await this.commit(iface, this.servers, this.domains.filter((x) => x !== d));
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
async function backendCall<T>(backend: ResolverBackend, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof VpnsvcError) throw err;
    throw ioError(`DNS backend "${backend.name}": ${(err as Error).message}`);
  }
}

export class VpnDns {
  private readonly settings: DnsSettings;

  private constructor(
    private readonly engine: VpnEngine,
    readonly backend: ResolverBackend,
  ) {
    this.settings = new DnsSettings(backend);
    engine.onDeinit(() => this.clear());
  }

  /** Undoes what a killed daemon left in the resolver, then serves. */
  static async start(engine: VpnEngine, backend: ResolverBackend): Promise<VpnDns> {
    await backend.recover();
    return new VpnDns(engine, backend);
  }

  view(): Dns {
    const { servers, domains } = this.settings.config();
    const described = this.backend.describe();
    return {
      backend: this.backend.name,
      resolvConf: typeof described.path === 'string' ? described.path : null,
      interface: this.engine.activeInterface()?.name ?? null,
      servers: [...servers],
      domains: [...domains],
    };
  }

  /** vpnsvc_add_dns_server. */
  addDnsServer(name: string, server: string): Promise<Dns> {
    return this.change(name, () => this.settings.addServer(name, server));
  }

  /** vpnsvc_remove_dns_server. */
  removeDnsServer(name: string, server: string): Promise<Dns> {
    return this.change(name, () => this.settings.removeServer(name, server));
  }

  addSearchDomain(name: string, domain: string): Promise<Dns> {
    return this.change(name, () => this.settings.addDomain(name, domain));
  }

  removeSearchDomain(name: string, domain: string): Promise<Dns> {
    return this.change(name, () => this.settings.removeDomain(name, domain));
  }

  private change(name: string, work: () => Promise<unknown>): Promise<Dns> {
    return this.engine.exclusive(async () => {
      upInterfaceIndex(this.engine, name, 'DNS servers and domains');
      await backendCall(this.backend, work);
      return this.view();
    });
  }

  /** Runs inside the engine's deinit (already exclusive). */
  private async clear(): Promise<void> {
    await backendCall(this.backend, () => this.settings.clear());
  }
}
