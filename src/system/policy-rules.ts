/**
 * The policy rules of the full tunnel, as wg-quick sets them, through iproute2's `ip rule`
 * (argument arrays, never a shell; the shim's netlink covers routes, where batching matters,
 * while a handful of rules per family is what `ip rule` does well):
 *
 *   pref 32600  from all lookup main suppress_prefixlength 0   the main table, minus its default
 *   pref 32601  not from all fwmark 0x7686 lookup 7686         the VPN's table, for unmarked packets
 *
 * So a more specific route of the main table (the LAN, the VPN's own plain routes) still wins,
 * every other unmarked packet takes the VPN's default, and a packet with the service's mark
 * (the daemon's own sockets) falls through to the main table's default route: the original
 * network. Every rule carries protocol 86, the protocol of the service's routes, so a listing or
 * a flush after a crash finds exactly the service's rules and nobody else's.
 */
import { type RunProgram, runProgram } from './process.js';

/** The routing table of the VPN's default routes and excluded prefixes. */
export const VPN_TABLE = 7686;
/** The mark of the daemon's own sockets (SO_MARK): they skip the VPN's table. */
export const VPN_FWMARK = 0x7686;
/** rtnetlink protocol of the service's rules (as of its routes). */
export const RULE_PROTOCOL = 86;
export const PREF_SUPPRESS_MAIN = 32600;
export const PREF_VPN_TABLE = 32601;
/** Split tunnelling's rules come before the full tunnel's. */
export const PREF_SPLIT = 32590;

export type RuleFamily = 4 | 6;

/** One rule as `ip -j rule show` prints it (the fields the service uses). */
export interface ListedRule {
  priority: number;
  table?: string;
  not?: null;
  fwmark?: string;
  suppress_prefixlen?: number;
  uid_start?: number;
  uid_end?: number;
  protocol?: string;
}

/** A rule of the service, as GET /routes/policy shows it. */
export interface PolicyRule {
  family: RuleFamily;
  priority: number;
  rule: string;
}

export function ruleText(r: ListedRule): string {
  const parts: string[] = [];
  if (r.uid_start !== undefined) parts.push(`uidrange ${r.uid_start}-${r.uid_end ?? r.uid_start}`);
  if (r.fwmark !== undefined) parts.push(`${r.not === null ? 'not ' : ''}fwmark ${r.fwmark}`);
  parts.push(`lookup ${r.table ?? '?'}`);
  if (r.suppress_prefixlen !== undefined) parts.push(`suppress_prefixlength ${r.suppress_prefixlen}`);
  return parts.join(' ');
}

export class PolicyRules {
  constructor(private readonly run: RunProgram = runProgram) {}

  /** The service's rules of one family (protocol 86), as the kernel has them. */
  async list(family: RuleFamily): Promise<ListedRule[]> {
    const out = await this.run('ip', ['-j', `-${family}`, 'rule', 'show']);
    const rules = JSON.parse(out.trim() === '' ? '[]' : out) as ListedRule[];
    return rules.filter((r) => r.protocol === String(RULE_PROTOCOL));
  }

  async listAll(): Promise<PolicyRule[]> {
    const out: PolicyRule[] = [];
    for (const family of [4, 6] as const) {
      for (const r of await this.list(family)) out.push({ family, priority: r.priority, rule: ruleText(r) });
    }
    return out;
  }

  /** The full tunnel's two rules for `family`; a no-op when they are there. */
  async installFullTunnel(family: RuleFamily): Promise<boolean> {
    const have = await this.list(family);
    const f = `-${family}`;
    let added = false;
    if (!have.some((r) => r.priority === PREF_SUPPRESS_MAIN)) {
      await this.run('ip', [f, 'rule', 'add', 'pref', String(PREF_SUPPRESS_MAIN), 'table', 'main', 'suppress_prefixlength', '0', ...proto]);
      added = true;
    }
    if (!have.some((r) => r.priority === PREF_VPN_TABLE)) {
      await this.run('ip', [
        f,
        'rule',
        'add',
        'pref',
        String(PREF_VPN_TABLE),
        'not',
        'fwmark',
        hex(VPN_FWMARK),
        'table',
        String(VPN_TABLE),
        ...proto,
      ]);
      added = true;
    }
    return added;
  }

  /** Removes the full tunnel's rules of `family` (not split tunnelling's). */
  async removeFullTunnel(family: RuleFamily): Promise<void> {
    for (const r of await this.list(family)) {
      if (r.priority === PREF_SUPPRESS_MAIN || r.priority === PREF_VPN_TABLE) {
        await this.run('ip', [`-${family}`, 'rule', 'del', 'pref', String(r.priority), ...proto]);
      }
    }
  }

  /** Replaces split tunnelling's uid rules of both families: `lookup` is "main" (bypass) or the VPN table (only these). */
  async replaceUidRules(ranges: ReadonlyArray<[number, number]>, lookup: 'main' | 'vpn'): Promise<void> {
    await this.removeUidRules();
    const table = lookup === 'main' ? 'main' : String(VPN_TABLE);
    for (const family of [4, 6] as const) {
      for (const [lo, hi] of ranges) {
        await this.run('ip', [
          `-${family}`,
          'rule',
          'add',
          'pref',
          String(PREF_SPLIT),
          'uidrange',
          `${lo}-${hi}`,
          'table',
          table,
          ...proto,
        ]);
      }
    }
  }

  async removeUidRules(): Promise<void> {
    for (const family of [4, 6] as const) {
      for (const r of await this.list(family)) {
        if (r.priority === PREF_SPLIT) await this.run('ip', [`-${family}`, 'rule', 'del', 'pref', String(PREF_SPLIT), ...proto]);
      }
    }
  }

  /** Every rule of the service, both families: deinit, and the start after a crash. Returns how many went. */
  async flush(): Promise<number> {
    let n = 0;
    for (const family of [4, 6] as const) {
      n += (await this.list(family)).length;
      await this.run('ip', [`-${family}`, 'rule', 'flush', ...proto]);
    }
    return n;
  }
}

const proto = ['protocol', String(RULE_PROTOCOL)];
const hex = (n: number): string => `0x${n.toString(16)}`;

/** The service's routes (protocol 86) in its own table, both families, removed; how many there were. */
export async function flushVpnTable(run: RunProgram = runProgram): Promise<number> {
  let n = 0;
  for (const family of [4, 6] as const) {
    let listed: unknown[] = [];
    try {
      listed = JSON.parse(
        (await run('ip', ['-j', `-${family}`, 'route', 'show', 'table', String(VPN_TABLE), 'proto', String(RULE_PROTOCOL)])) || '[]',
      ) as unknown[];
    } catch {
      continue; // no such table: nothing of ours in it
    }
    if (listed.length === 0) continue;
    n += listed.length;
    await run('ip', [`-${family}`, 'route', 'flush', 'table', String(VPN_TABLE), 'proto', String(RULE_PROTOCOL)]);
  }
  return n;
}
