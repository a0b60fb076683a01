/**
 * resolvconf (Debian's or openresolv): one record per interface, the way wg-quick does it
 * (`resolvconf -a IFACE -m 0 -x`, content on stdin; `resolvconf -d IFACE -f` to remove).
 * Routing-only domains ("~…") mean nothing to resolvconf and are left out.
 */
import { type FsOps, readIfPresent, realFs } from '../atomic-file.js';
import { type RunProgram, runProgram } from '../process.js';
import type { LinkRecordStore } from './link-record.js';
import type { DnsConfig, ResolverBackend } from './types.js';

export const INTERFACE_ORDER_FILE = '/etc/resolvconf/interface-order';
const RESOLVCONF_PACKAGE = 'resolvconf';

/** wg-quick's rule: the first "name*" pattern of interface-order gives the record prefix "name.". */
export function recordPrefix(interfaceOrder: string | undefined): string {
  for (const line of (interfaceOrder ?? '').split('\n')) {
    const m = /^([A-Za-z0-9-]+)\*$/.exec(line.trim());
    if (m) return `${m[1]}.`;
  }
  return '';
}

export function renderRecord(config: DnsConfig): string {
  const search = config.domains.filter((d) => !d.startsWith('~'));
  return config.servers.map((s) => `nameserver ${s}\n`).join('') + (search.length ? `search ${search.join(' ')}\n` : '');
}

export class ResolvconfBackend implements ResolverBackend {
  readonly name = 'resolvconf' as const;

  constructor(
    private readonly records: LinkRecordStore,
    private readonly run: RunProgram = runProgram,
    private readonly resolvconf = 'resolvconf',
    private readonly fs: FsOps = realFs,
    private readonly interfaceOrderFile = INTERFACE_ORDER_FILE,
  ) {}

  describe(): Record<string, unknown> {
    return { backend: this.name };
  }

  async apply(iface: string, config: DnsConfig): Promise<void> {
    if (config.servers.length === 0) {
      await this.clear();
      return;
    }
    const name = recordPrefix(readIfPresent(this.fs, this.interfaceOrderFile)?.toString('utf8')) + iface;
    this.records.write({ backend: this.name, name });
    await this.run(this.resolvconf, ['-a', name, '-m', '0', '-x'], { input: renderRecord(config), debianPackage: RESOLVCONF_PACKAGE });
  }

  async clear(): Promise<void> {
    const record = this.records.read();
    if (!record) return;
    await this.run(this.resolvconf, ['-d', record.name, '-f'], { debianPackage: RESOLVCONF_PACKAGE });
    this.records.remove();
  }

  async recover(): Promise<void> {
    await this.clear();
  }
}
