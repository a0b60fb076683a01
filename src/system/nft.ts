/**
 * Runs nft for the kill switch: argument arrays only (no shell), the ruleset as JSON on stdin,
 * the kernel's state read back with `nft -j list`. Also finds the original interface from the
 * main routing table.
 */
import { readFileSync } from 'node:fs';
import { ioError, notSupported } from '../errors/errors.js';
import {
  type BlockBypass,
  type BlockSpec,
  buildBlockBatch,
  buildUnblockBatch,
  type FirewallState,
  NFT_FAMILY,
  NFT_TABLE,
  type NftBatch,
  parseTable,
} from './nft-ruleset.js';
import { ProgramError, ProgramNotFoundError, runProgram } from './process.js';

const NFT_TIMEOUT_MS = 10_000;
export const NFT_PACKAGE = 'nftables';

/** nft ran and said no: an I/O error worded by the caller. */
const refused =
  (message: (e: ProgramError) => string) =>
  (err: unknown): never => {
    throw err instanceof ProgramError ? ioError(message(err)) : err;
  };

export class NftFirewall {
  private found = false;
  /** Split tunnelling's bypassing traffic, let through by every block set from now on. */
  bypass: BlockBypass | undefined;
  /** The last block this process set, for reapply(). */
  private applied: BlockSpec | undefined;

  /** @param nft the nft binary (a name looked up in PATH, or a path) */
  constructor(private readonly nft = 'nft') {}

  /** NOT_SUPPORTED (naming the package) when nft is missing; remembered once found. */
  async requireNft(): Promise<void> {
    if (this.found) return;
    await this.run(['--version']).catch(refused((e) => `nft --version failed: ${e.stderr}`));
    this.found = true;
  }

  /**
   * Rejects with the ProgramError when nft exits non-zero, for the caller to word. The batch goes
   * in as a regular file: nft 1.0.6 reads `-f -` by opening /dev/stdin.
   */
  private async run(args: string[], stdin?: string): Promise<string> {
    try {
      return await runProgram(this.nft, args, { ...(stdin !== undefined && { input: stdin }), stdin: 'file', timeoutMs: NFT_TIMEOUT_MS });
    } catch (err) {
      if (err instanceof ProgramNotFoundError) {
        throw notSupported(`the firewall needs nft, which is not installed: install the Debian package "${NFT_PACKAGE}"`);
      }
      if (err instanceof ProgramError && err.exitCode !== null) throw err;
      throw ioError(`cannot run nft: ${(err as Error).message}`);
    }
  }

  private async apply(batch: NftBatch, what: string): Promise<void> {
    await this.run(['-j', '-f', '-'], JSON.stringify(batch)).catch(
      refused((e) => `nft refused to ${what}: ${e.stderr || `exit ${e.exitCode}`}`),
    );
  }

  /** Sets or replaces the block in one transaction. The spec is checked before nft runs. */
  async block(spec: BlockSpec): Promise<void> {
    await this.apply(buildBlockBatch(this.withBypass(spec)), 'set the block');
    this.applied = spec;
  }

  /** Removes the table; nothing to do when there is none. */
  async unblock(): Promise<void> {
    await this.apply(buildUnblockBatch(), 'lift the block');
    this.applied = undefined;
  }

  /**
   * Sets the last block again with the current bypass, when the kernel still has a block; false
   * when there is none to set again (none set by this process: a block left by an earlier run
   * keeps its rules until the next block).
   */
  async reapply(): Promise<boolean> {
    if (!this.applied || !(await this.read()).blocked) return false;
    await this.apply(buildBlockBatch(this.withBypass(this.applied)), 'set the block again');
    return true;
  }

  private withBypass(spec: BlockSpec): BlockSpec {
    const { bypass: _, ...rest } = spec;
    return this.bypass ? { ...rest, bypass: this.bypass } : rest;
  }

  /** The block as the kernel has it now. */
  async read(): Promise<FirewallState> {
    const tables = await this.run(['-j', 'list', 'tables', NFT_FAMILY]).catch(refused((e) => `nft list tables: ${e.stderr}`));
    const found = (JSON.parse(tables) as { nftables: Array<{ table?: { name: string } }> }).nftables.some(
      (o) => o.table?.name === NFT_TABLE,
    );
    if (!found) return parseTable(null);
    const table = await this.run(['-j', 'list', 'table', NFT_FAMILY, NFT_TABLE]).catch((err: unknown) => {
      // gone between the two calls: unblocked meanwhile
      if (err instanceof ProgramError) return undefined;
      throw err;
    });
    return parseTable(table === undefined ? null : (JSON.parse(table) as { nftables: unknown[] }));
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
  return routes.filter((r) => r.dev !== vpnInterface).sort((a, b) => a.family - b.family || a.metric - b.metric)[0]?.dev;
}
