/**
 * An nft for kill-switch tests that runs in a network namespace of its own. A real block in the
 * shared test namespace would drop the traffic of every other test file running beside it
 * (policy drop on input and output), so the block goes to a private namespace: the same nft, the
 * same JSON, a kernel no other test uses. The "binary" handed to NftFirewall is a two-line
 * script that logs each call and runs `ip netns exec <ns> nft <args>`.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PrivateNft {
  /** The program to give NftFirewall. */
  readonly program: string;
  readonly netns: string;
  /** The calls nft got (their arguments joined by spaces), in order. */
  calls(): string[];
  /** Tables in the private namespace, as `nft -j list tables` shows them. */
  tables(): string[];
  /** `nft -j list table inet vpnsvc` in the private namespace, or undefined when there is none. */
  serviceTable(): Array<Record<string, unknown>> | undefined;
  destroy(): void;
}

export function privateNft(tag: string): PrivateNft {
  const netns = `vsu-${tag}-${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-nft-wrap-'));
  const log = join(dir, 'calls.log');
  const program = join(dir, 'nft');
  execFileSync('ip', ['netns', 'add', netns]);
  // sh rather than node: a node start costs ~100 ms, and a block is three nft calls. The
  // arguments go on as "$@", never read by the shell; the paths are ours (mkdtemp, the pid).
  writeFileSync(program, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec ip netns exec '${netns}' nft "$@"\n`);
  chmodSync(program, 0o755);
  const nft = (...args: string[]): string =>
    execFileSync('ip', ['netns', 'exec', netns, 'nft', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return {
    program,
    netns,
    calls: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []),
    tables: () =>
      (JSON.parse(nft('-j', 'list', 'tables')) as { nftables: Array<{ table?: { family: string; name: string } }> }).nftables
        .filter((o) => o.table)
        .map((o) => `${o.table?.family} ${o.table?.name}`),
    serviceTable: () => {
      try {
        return (JSON.parse(nft('-j', 'list', 'table', 'inet', 'vpnsvc')) as { nftables: Array<Record<string, unknown>> }).nftables;
      } catch {
        return undefined;
      }
    },
    destroy: () => {
      // The namespace takes its ruleset with it, whatever a failed test left there.
      execFileSync('ip', ['netns', 'delete', netns], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
