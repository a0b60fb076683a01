/**
 * Runs nft for the kill switch: argument arrays only (no shell), the ruleset as JSON on stdin,
 * the kernel's state read back with `nft -j list`. Also finds the original interface from the
 * main routing table.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ioError, notSupported } from '../errors/errors.js';
import { buildBlockBatch, buildUnblockBatch, parseTable, NFT_FAMILY, NFT_TABLE, type BlockSpec, type FirewallState, type NftBatch } from './nft-ruleset.js';

const NFT_TIMEOUT_MS = 10_000;
export const NFT_PACKAGE = 'nftables';

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * nft 1.0.6 reads `-f -` by opening /dev/stdin, which fails (ENXIO) on the socketpair node gives
 * a child as stdin. A private, already unlinked regular file as stdin works with every nft.
 */
function stdinFromText(text: string): number {
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-nft-'));
  try {
    const path = join(dir, 'batch.json');
    writeFileSync(path, text, { mode: 0o600 });
    return openSync(path, 'r');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export class NftFirewall {
  private found = false;

  /** @param nft the nft binary (a name looked up in PATH, or a path) */
  constructor(private readonly nft = 'nft') {}

  /** NOT_SUPPORTED (naming the package) when nft is missing; remembered once found. */
  async requireNft(): Promise<void> {
    if (this.found) return;
    const r = await this.run(['--version']);
    if (r.code !== 0) throw ioError(`nft --version failed: ${r.stderr.trim()}`);
    this.found = true;
  }

  private run(args: string[], stdin?: string): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      const input = stdin === undefined ? 'ignore' : stdinFromText(stdin);
      const child = spawn(this.nft, args, { stdio: [input, 'pipe', 'pipe'], timeout: NFT_TIMEOUT_MS });
      if (typeof input === 'number') closeSync(input);
      let stdout = '';
      let stderr = '';
      child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') {
          reject(notSupported(`the firewall needs nft, which is not installed: install the Debian package "${NFT_PACKAGE}"`));
        } else reject(ioError(`cannot run nft: ${err.message}`));
      });
      child.on('close', (code, signal) => resolve({ code: code ?? (signal ? -1 : 0), stdout, stderr }));
    });
  }

  private async apply(batch: NftBatch, what: string): Promise<void> {
    const r = await this.run(['-j', '-f', '-'], JSON.stringify(batch));
    if (r.code !== 0) throw ioError(`nft refused to ${what}: ${r.stderr.trim() || `exit ${r.code}`}`);
  }

  /** Sets or replaces the block in one transaction. The spec is checked before nft runs. */
  async block(spec: BlockSpec): Promise<void> {
    await this.apply(buildBlockBatch(spec), 'set the block');
  }

  /** Removes the table; nothing to do when there is none. */
  async unblock(): Promise<void> {
    await this.apply(buildUnblockBatch(), 'lift the block');
  }

  /** The block as the kernel has it now. */
  async read(): Promise<FirewallState> {
    const tables = await this.run(['-j', 'list', 'tables', NFT_FAMILY]);
    if (tables.code !== 0) throw ioError(`nft list tables: ${tables.stderr.trim()}`);
    const found = (JSON.parse(tables.stdout) as { nftables: Array<{ table?: { name: string } }> }).nftables.some(
      (o) => o.table?.name === NFT_TABLE,
    );
    if (!found) return parseTable(null);
    const table = await this.run(['-j', 'list', 'table', NFT_FAMILY, NFT_TABLE]);
    // gone between the two calls: unblocked meanwhile
    if (table.code !== 0) return parseTable(null);
    return parseTable(JSON.parse(table.stdout) as { nftables: unknown[] });
  }
}

export interface DefaultRoute {
  family: 4 | 6;
  dev: string;
  metric: number;
}

/** Default routes of the main table, from /proc (this process's network namespace). */
export function defaultRoutes(): DefaultRoute[] {
  const routes: DefaultRoute[] = [];
  try {
    // Iface Destination Gateway Flags RefCnt Use Metric Mask ...
    for (const line of readFileSync('/proc/net/route', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length >= 8 && f[1] === '00000000' && f[7] === '00000000') routes.push({ family: 4, dev: f[0]!, metric: Number(f[6]) });
    }
  } catch {
    // no IPv4
  }
  try {
    // dest plen src splen nexthop metric(hex) refcnt use flags dev
    for (const line of readFileSync('/proc/net/ipv6_route', 'utf8').split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f.length >= 10 && /^0{32}$/.test(f[0]!) && f[1] === '00' && f[9] !== 'lo') {
        routes.push({ family: 6, dev: f[9]!, metric: parseInt(f[5]!, 16) });
      }
    }
  } catch {
    // no IPv6
  }
  return routes;
}

/** The interface of the best default route that is not the VPN's own (IPv4 first, then IPv6). */
export function originalInterfaceFromRoutes(vpnInterface: string, routes = defaultRoutes()): string | undefined {
  return routes
    .filter((r) => r.dev !== vpnInterface)
    .sort((a, b) => a.family - b.family || a.metric - b.metric)[0]?.dev;
}
