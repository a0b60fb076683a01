/**
 * systemd-resolved: per-link DNS on the VPN interface through resolvectl, so nothing global is
 * edited and resolved forgets it all when the link goes away. Routing domains ("~." for a full
 * tunnel, "~corp.example" for split DNS) are passed as they are.
 */

import { type RunOptions, type RunProgram, runProgram } from '../process.js';
import type { LinkRecordStore } from './link-record.js';
import type { DnsConfig, ResolverBackend } from './types.js';

/** Debian 12 and later ship resolvectl with resolved itself. */
const RESOLVECTL: RunOptions = { debianPackage: 'systemd-resolved' };

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

  async apply(iface: string, config: DnsConfig): Promise<void> {
    if (config.servers.length === 0) {
      await this.revert(iface);
      return;
    }
    this.records.write({ backend: this.name, name: iface });
    await this.run(this.resolvectl, ['dns', iface, ...config.servers], RESOLVECTL);
    // An empty string clears the list; resolvectl wants it as one argument.
    await this.run(this.resolvectl, ['domain', iface, ...(config.domains.length ? config.domains : [''])], RESOLVECTL);
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
    this.records.remove();
  }
}
