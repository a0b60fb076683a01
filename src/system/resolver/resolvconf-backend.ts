/**
 * resolvconf (Debian's or openresolv): one record per interface, the way wg-quick does it
 * (`resolvconf -a IFACE -m 0 -x`, content on stdin; `resolvconf -d IFACE -f` to remove).
 * Routing-only domains ("~…") mean nothing to resolvconf and are left out.
 *
 * resolvconf exits 0 when it cannot write resolv.conf (openresolv under a read-only /etc), so
 * every change is read back: `resolvconf -l` must list the record as written (both print each
 * record under "# resolv.conf from NAME"), and the resolv.conf glibc reads must then use the
 * VPN's first server, unless it names only a local resolver that resolvconf feeds.
 */
import { type FsOps, readIfPresent, realFs } from '../atomic-file.js';
import { ProgramError, type RunProgram, runProgram } from '../process.js';
import type { LinkRecordStore } from './link-record.js';
import { fileLeakProtection, GLIBC_MAX_NAMESERVERS, isLoopback, nameservers, sameAddress, sameAddresses } from './resolv-conf.js';
import { DEFAULT_RESOLV_CONF, type DnsConfig, type LeakProtection, type ResolverBackend } from './types.js';

export const INTERFACE_ORDER_FILE = '/etc/resolvconf/interface-order';
const RESOLVCONF_PACKAGE = 'resolvconf';

/**
 * Where resolvconf writes when vpnsvc runs it: both keep their records and locks in
 * /run/resolvconf (older Debian releases reach it as /etc/resolvconf/run); openresolv rewrites
 * resolv.conf itself, in place. The systemd unit's ReadWritePaths must cover these.
 */
export const RESOLVCONF_WRITABLE_PATHS: readonly string[] = ['/run/resolvconf', '/etc/resolvconf/run', DEFAULT_RESOLV_CONF];

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

/** `resolvconf -l` as a map from record name to its lines. */
export function parseRecordList(listing: string): Map<string, string> {
  const records = new Map<string, string>();
  let current: string | undefined;
  for (const line of listing.replace(/\n$/, '').split('\n')) {
    const header = /^# resolv\.conf from (\S+)\s*$/.exec(line);
    if (header) {
      current = header[1]!;
      records.set(current, '');
    } else if (current !== undefined) {
      records.set(current, `${records.get(current)}${line}\n`);
    }
  }
  return records;
}

const list = (items: readonly string[]): string => (items.length > 0 ? items.join(' ') : 'none');

export class ResolvconfBackend implements ResolverBackend {
  readonly name = 'resolvconf' as const;

  constructor(
    private readonly records: LinkRecordStore,
    private readonly run: RunProgram = runProgram,
    private readonly resolvconf = 'resolvconf',
    private readonly fs: FsOps = realFs,
    private readonly interfaceOrderFile = INTERFACE_ORDER_FILE,
    /** The file glibc reads, where the effect of resolvconf is checked. */
    private readonly resolvConf = DEFAULT_RESOLV_CONF,
  ) {}

  describe(): Record<string, unknown> {
    return { backend: this.name };
  }

  /** openresolv's -x leaves the VPN's servers alone in resolv.conf; Debian's merges the LAN's after them. */
  leakProtection(config: DnsConfig): LeakProtection {
    if (config.servers.length === 0) return 'none';
    try {
      return fileLeakProtection(readIfPresent(this.fs, this.resolvConf)?.toString('utf8'), config.servers);
    } catch {
      return 'fallback';
    }
  }

  async apply(iface: string, config: DnsConfig): Promise<void> {
    if (config.servers.length === 0) {
      await this.clear();
      return;
    }
    const name = recordPrefix(readIfPresent(this.fs, this.interfaceOrderFile)?.toString('utf8')) + iface;
    this.records.write({ backend: this.name, name });
    await this.run(this.resolvconf, ['-a', name, '-m', '0', '-x'], { input: renderRecord(config), debianPackage: RESOLVCONF_PACKAGE });

    const record = (await this.listRecords()).get(name);
    if (record === undefined) throw new Error(`resolvconf -a ${name} exited 0, but resolvconf -l lists no record ${name}`);
    const held = nameservers(record);
    if (!sameAddresses(held, config.servers)) {
      throw new Error(`resolvconf's record ${name} lists the nameservers ${list(held)}, not ${list(config.servers)}`);
    }
    const used = this.readResolvConf().slice(0, GLIBC_MAX_NAMESERVERS);
    const first = config.servers[0]!;
    const localResolver = used.length > 0 && used.every(isLoopback);
    if (!localResolver && !used.some((n) => sameAddress(n, first))) {
      throw new Error(
        `resolvconf took record ${name}, but ${this.resolvConf} still uses the nameservers ${list(used)}, not the VPN's ${first}`,
      );
    }
  }

  async clear(): Promise<void> {
    await this.remove(true);
  }

  /** At start the record goes, but a resolv.conf that still names the VPN's servers does not stop the daemon. */
  async recover(): Promise<void> {
    await this.remove(false);
  }

  private async remove(checkResolvConf: boolean): Promise<void> {
    const record = this.records.read();
    if (!record) return;
    const ours = nameservers((await this.listRecords()).get(record.name) ?? '');
    await this.run(this.resolvconf, ['-d', record.name, '-f'], { debianPackage: RESOLVCONF_PACKAGE });
    const left = await this.listRecords();
    if (left.has(record.name)) throw new Error(`resolvconf -d ${record.name} exited 0, but resolvconf -l still lists the record`);
    this.records.remove();
    if (!checkResolvConf) return;
    // A server another record lists too may stay.
    const others = [...left.values()].flatMap(nameservers);
    const stale = this.readResolvConf().filter((n) => ours.some((s) => sameAddress(n, s)) && !others.some((o) => sameAddress(n, o)));
    if (stale.length > 0)
      throw new Error(`resolvconf dropped record ${record.name}, but ${this.resolvConf} still lists the VPN's ${list(stale)}`);
  }

  private async listRecords(): Promise<Map<string, string>> {
    try {
      return parseRecordList(await this.run(this.resolvconf, ['-l'], { debianPackage: RESOLVCONF_PACKAGE }));
    } catch (err) {
      // openresolv's -l exits 1, silently, when there is no record at all.
      if (err instanceof ProgramError && err.exitCode === 1 && err.stderr === '') return new Map();
      throw err;
    }
  }

  /** The nameservers of the resolv.conf glibc reads (through its symbolic link, if it is one). */
  private readResolvConf(): string[] {
    const text = readIfPresent(this.fs, this.resolvConf);
    if (text === undefined) throw new Error(`${this.resolvConf} does not exist`);
    return nameservers(text.toString('utf8'));
  }
}
