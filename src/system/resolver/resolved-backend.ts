/**
 * systemd-resolved: per-link DNS on the VPN interface through resolvectl, so nothing global is
 * edited and resolved forgets it all when the link goes away. Routing domains ("~." for a full
 * tunnel, "~corp.example" for split DNS) are passed as they are. Every change is read back with
 * `resolvectl dns IFACE` and `resolvectl domain IFACE`.
 */

import { type RunOptions, type RunProgram, runProgram } from '../process.js';
import type { LinkRecordStore } from './link-record.js';
import { addressKey, sameAddresses } from './resolv-conf.js';
import type { DnsConfig, LeakProtection, ResolverBackend } from './types.js';

/** Debian 12 and later ship resolvectl with resolved itself. */
const RESOLVECTL: RunOptions = { debianPackage: 'systemd-resolved' };

/**
 * The values resolvectl prints for one link: "Link 7 (tun0): a b", wrapped onto indented lines
 * when long. undefined when the output is not that.
 */
export function parseLinkValues(output: string): string[] | undefined {
  const m = /^Link \d+ \([^)]*\):(.*)$/s.exec(output.trim());
  return m ? m[1]!.split(/\s+/).filter((v) => v !== '') : undefined;
}

/** The address of a server as resolvectl prints it: "1.2.3.4", "1.2.3.4:53", "[fd00::1]:53", "a%3", "a#name". */
export function serverAddress(printed: string): string {
  const noName = printed.split('#')[0]!;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(noName);
  const bare = bracketed ? bracketed[1]! : /^[\d.]+:\d+$/.test(noName) ? noName.slice(0, noName.lastIndexOf(':')) : noName;
  return bare.split('%')[0]!;
}

const canonicalDomain = (d: string): string => (d === '~.' ? d : d.toLowerCase().replace(/\.$/, ''));
const list = (items: readonly string[]): string => (items.length > 0 ? items.join(' ') : 'none');

export class ResolvedBackend implements ResolverBackend {
  readonly name = 'resolved' as const;

  constructor(
    private readonly records: LinkRecordStore,
    private readonly run: RunProgram = runProgram,
    private readonly resolvectl = 'resolvectl',
  ) {}

  describe(): Record<string, unknown> {
    return { backend: this.name };
  }

  /** Without `~.` resolved asks every link with a default route, the LAN's included. */
  leakProtection(config: DnsConfig): LeakProtection {
    return config.servers.length > 0 && config.domains.includes('~.') ? 'routing-domain' : 'none';
  }

  async apply(iface: string, config: DnsConfig): Promise<void> {
    if (config.servers.length === 0) {
      await this.revert(iface);
      return;
    }
    this.records.write({ backend: this.name, name: iface });
    await this.run(this.resolvectl, ['dns', iface, ...config.servers], RESOLVECTL);
    // An empty string clears the list; resolvectl wants it as one argument.
    await this.run(this.resolvectl, ['domain', iface, ...(config.domains.length ? config.domains : [''])], RESOLVECTL);
    await this.expect(iface, config);
  }

  async clear(): Promise<void> {
    const record = this.records.read();
    if (record) await this.revert(record.name);
  }

  async recover(): Promise<void> {
    const record = this.records.read();
    if (!record) return;
    // The link may be gone with the crashed daemon; then resolved has forgotten it already.
    await this.revert(record.name).catch(() => this.records.remove());
  }

  private async revert(iface: string): Promise<void> {
    if (!this.records.read()) return;
    await this.run(this.resolvectl, ['revert', iface], RESOLVECTL);
    await this.expect(iface, { servers: [], domains: [] });
    this.records.remove();
  }

  /** What resolved has for the link now must be config. */
  private async expect(iface: string, config: DnsConfig): Promise<void> {
    const servers = await this.query('dns', iface);
    if (!sameAddresses(servers.map(serverAddress), config.servers) || servers.some((s) => addressKey(serverAddress(s)) === undefined)) {
      throw new Error(`resolvectl dns ${iface} reports the servers ${list(servers)}, not ${list(config.servers)}`);
    }
    const domains = await this.query('domain', iface);
    const want = new Set(config.domains.map(canonicalDomain));
    const have = new Set(domains.map(canonicalDomain));
    if (want.size !== have.size || [...want].some((d) => !have.has(d))) {
      throw new Error(`resolvectl domain ${iface} reports the domains ${list(domains)}, not ${list(config.domains)}`);
    }
  }

  private async query(what: 'dns' | 'domain', iface: string): Promise<string[]> {
    const output = await this.run(this.resolvectl, [what, iface], RESOLVECTL);
    const values = parseLinkValues(output);
    if (!values)
      throw new Error(
        `resolvectl ${what} ${iface} printed ${JSON.stringify(output.trim().slice(0, 200))}, not the link's ${what === 'dns' ? 'servers' : 'domains'}`,
      );
    return values;
  }
}
