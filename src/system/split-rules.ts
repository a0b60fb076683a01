/**
 * Split tunnelling in the kernel: by user with `ip rule uidrange` (protocol 86, both families),
 * by program with the service's own nftables table `inet vpnsvc_split`.
 *
 *   pref 32590  uidrange A-B lookup main      exclude: these uids skip the full tunnel
 *   pref 32591  uidrange X-Y lookup main      include: the uids NOT listed skip it
 *   table inet vpnsvc_split
 *     chain output       type route hook output priority mangle
 *       exclude: socket cgroupv2 level N "<path>" meta mark set 0x7686 ct mark set 0x7686
 *       include: socket cgroupv2 level N "<path>" return ... then every other unmarked socket is marked
 *     chain postrouting  type nat hook postrouting priority srcnat
 *       ct mark 0x7686 oifname != "lo" masquerade
 *
 * The mark sends a packet past the full tunnel's `not fwmark 0x7686 lookup 7686` rule to the
 * main table; the route chain re-routes it, but its source address was chosen for the VPN, so
 * the nat chain puts the original interface's address on it (conntrack undoes it for replies).
 *
 * The cgroup table is written in nft's text syntax (`nft -f -`, from validated values only):
 * nft 1.0.6's JSON parser has no `socket cgroupv2` key. nft resolves a cgroupv2 path below
 * /sys/fs/cgroup, so a path under another cgroup2 mount is given relative to that directory.
 * Listing back is JSON (`nft -j list table`), and the rules' comments name the request's paths.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { ioError, notSupported } from '../errors/errors.js';
import { type ListedRule, type PolicyRule, PolicyRules, PREF_SPLIT, RULE_PROTOCOL, ruleText, VPN_FWMARK } from './policy-rules.js';
import { ProgramError, ProgramNotFoundError, type RunProgram, runProgram } from './process.js';

export const SPLIT_TABLE = 'vpnsvc_split';
export const PREF_SPLIT_EXCLUDE = PREF_SPLIT;
export const PREF_SPLIT_INCLUDE = PREF_SPLIT + 1;
/** The highest uid a rule can name ((uid_t)-1 is "no uid"). */
export const UID_MAX = 4294967294;
/** Where nft looks up cgroupv2 paths (hard-coded in nft). */
const NFT_CGROUP_BASE = '/sys/fs/cgroup';

export type SplitMode = 'exclude' | 'include';
export type UidRange = [number, number];

/** One cgroup as the route chain matches it. */
export interface SplitCgroup {
  /** From the cgroup2 root, e.g. /system.slice/x.service. */
  path: string;
  /** Its depth below the root (nft's `level`). */
  level: number;
}

const unescapeOctal = (field: string) => field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));

/** The mount point of the cgroup v2 hierarchy (fstype cgroup2) in a mountinfo text; null when there is none. */
export function cgroup2MountIn(mountinfo: string): string | null {
  for (const line of mountinfo.split('\n')) {
    const [before, after] = line.split(' - ');
    if (after?.split(' ')[0] === 'cgroup2') {
      const point = before?.split(' ')[4];
      if (point) return unescapeOctal(point);
    }
  }
  return null;
}

export function cgroup2Mount(mountinfo = '/proc/self/mountinfo'): string | null {
  try {
    return cgroup2MountIn(readFileSync(mountinfo, 'utf8'));
  } catch {
    return null;
  }
}

/** The uids of 0..UID_MAX that `ranges` (sorted, merged) leave out. */
export function uidComplement(ranges: readonly UidRange[]): UidRange[] {
  const out: UidRange[] = [];
  let next = 0;
  for (const [lo, hi] of ranges) {
    if (lo > next) out.push([next, lo - 1]);
    next = Math.max(next, hi + 1);
  }
  if (next <= UID_MAX) out.push([next, UID_MAX]);
  return out;
}

const hex = (n: number): string => `0x${n.toString(16)}`;
const COMMENT_PREFIX = 'vpnsvc:';

/** The text batch that replaces the table's rules (empty lists: the caller removes the table instead). */
export function buildSplitBatch(mode: SplitMode, cgroups: readonly SplitCgroup[], mount: string): string {
  const t = `inet ${SPLIT_TABLE}`;
  const lines = [
    `add table ${t}`,
    `add chain ${t} output { type route hook output priority mangle; policy accept; }`,
    `add chain ${t} postrouting { type nat hook postrouting priority srcnat; policy accept; }`,
    `flush chain ${t} output`,
    `flush chain ${t} postrouting`,
  ];
  const mark = `meta mark set ${hex(VPN_FWMARK)} ct mark set ${hex(VPN_FWMARK)}`;
  for (const c of cgroups) {
    const nftPath = relative(NFT_CGROUP_BASE, `${mount}${c.path}`);
    // The paths are checked by the engine; the mount point comes from mountinfo and may hold anything.
    if (!/^[A-Za-z0-9._@:+/ -]+$/.test(nftPath)) {
      throw notSupported(`the cgroup2 mount point ${JSON.stringify(mount)} has characters nft cannot be given in a quoted path`);
    }
    const action = mode === 'exclude' ? mark : 'return';
    lines.push(`add rule ${t} output socket cgroupv2 level ${c.level} "${nftPath}" ${action} comment "${COMMENT_PREFIX}${mode}:${c.path}"`);
  }
  // The daemon's own sockets carry the mark already and choose their source address by it.
  if (mode === 'include') lines.push(`add rule ${t} output meta mark != ${hex(VPN_FWMARK)} ${mark} comment "${COMMENT_PREFIX}include"`);
  lines.push(`add rule ${t} postrouting ct mark ${hex(VPN_FWMARK)} oifname != "lo" masquerade`);
  return `${lines.join('\n')}\n`;
}

interface ListedNft {
  nftables?: Array<{ rule?: { chain: string; comment?: string } }>;
}

/** The mode and cgroup paths in a listing of the table (from the rules' comments). */
export function parseSplitTable(listing: ListedNft | null): { mode: SplitMode | null; cgroups: string[] } {
  let mode: SplitMode | null = null;
  const cgroups: string[] = [];
  for (const item of listing?.nftables ?? []) {
    const c = item.rule?.chain === 'output' ? item.rule.comment : undefined;
    if (!c?.startsWith(COMMENT_PREFIX)) continue;
    const [m, ...rest] = c.slice(COMMENT_PREFIX.length).split(':');
    if (m !== 'exclude' && m !== 'include') continue;
    mode = m;
    if (rest.length > 0) cgroups.push(rest.join(':'));
  }
  return { mode, cgroups };
}

export class SplitRules {
  private readonly policy: PolicyRules;

  constructor(
    private readonly run: RunProgram = runProgram,
    private readonly nft = 'nft',
  ) {
    this.policy = new PolicyRules(run);
  }

  // ---- by user ---------------------------------------------------------------------------------

  private async listSplit(family: 4 | 6): Promise<ListedRule[]> {
    return (await this.policy.list(family)).filter((r) => r.priority === PREF_SPLIT_EXCLUDE || r.priority === PREF_SPLIT_INCLUDE);
  }

  /**
   * Replaces the uid rules of both families (`ranges` sorted and merged). The new rules go in
   * before the old ones go out, so a uid that stays listed never loses its rule in between.
   */
  async setUids(mode: SplitMode, ranges: readonly UidRange[]): Promise<void> {
    const pref = mode === 'exclude' ? PREF_SPLIT_EXCLUDE : PREF_SPLIT_INCLUDE;
    const rules = ranges.length === 0 ? [] : mode === 'exclude' ? ranges : uidComplement(ranges);
    const key = (p: number, lo: number, hi: number) => `${p} ${lo}-${hi}`;
    for (const family of [4, 6] as const) {
      const have = new Map(
        (await this.listSplit(family)).map((r) => [key(r.priority, r.uid_start ?? 0, r.uid_end ?? r.uid_start ?? 0), r]),
      );
      const want = new Set(rules.map(([lo, hi]) => key(pref, lo, hi)));
      for (const [lo, hi] of rules) {
        if (!have.has(key(pref, lo, hi))) await this.uidRule(family, 'add', pref, lo, hi);
      }
      for (const [k, r] of have) {
        if (!want.has(k)) await this.uidRule(family, 'del', r.priority, r.uid_start ?? 0, r.uid_end ?? r.uid_start ?? 0);
      }
    }
  }

  private async uidRule(family: 4 | 6, op: 'add' | 'del', pref: number, lo: number, hi: number): Promise<void> {
    const lookup = op === 'add' ? ['table', 'main'] : [];
    await this.run('ip', [
      `-${family}`,
      'rule',
      op,
      'pref',
      String(pref),
      'uidrange',
      `${lo}-${hi}`,
      ...lookup,
      'protocol',
      String(RULE_PROTOCOL),
    ]);
  }

  async removeUids(): Promise<void> {
    await this.setUids('exclude', []);
  }

  /** The uid rules as the kernel has them (IPv4's decide the lists; IPv6's are their twins). */
  async readUids(): Promise<{ mode: SplitMode | null; ranges: UidRange[]; rules: PolicyRule[] }> {
    const rules: PolicyRule[] = [];
    let v4: ListedRule[] = [];
    for (const family of [4, 6] as const) {
      const listed = await this.listSplit(family);
      if (family === 4) v4 = listed;
      for (const r of listed) rules.push({ family, priority: r.priority, rule: ruleText(r) });
    }
    const ranges = (pref: number): UidRange[] =>
      v4
        .filter((r) => r.priority === pref && r.uid_start !== undefined)
        .map((r): UidRange => [r.uid_start ?? 0, r.uid_end ?? r.uid_start ?? 0])
        .sort((a, b) => a[0] - b[0]);
    const excluded = ranges(PREF_SPLIT_EXCLUDE);
    if (excluded.length > 0) return { mode: 'exclude', ranges: excluded, rules };
    const others = ranges(PREF_SPLIT_INCLUDE);
    if (others.length > 0) return { mode: 'include', ranges: uidComplement(others), rules };
    return { mode: null, ranges: [], rules };
  }

  // ---- by program ------------------------------------------------------------------------------

  private async nftRun(args: string[], input?: string): Promise<string> {
    try {
      return await runProgram(this.nft, args, { ...(input !== undefined && { input }), stdin: 'file', timeoutMs: 10_000 });
    } catch (err) {
      if (err instanceof ProgramNotFoundError) {
        throw notSupported('split tunnelling by program needs nft, which is not installed: install the Debian package "nftables"');
      }
      if (err instanceof ProgramError) throw ioError(`nft refused the split tunnel's table: ${err.stderr || `exit ${err.exitCode}`}`);
      throw err;
    }
  }

  async setCgroups(mode: SplitMode, cgroups: readonly SplitCgroup[], mount: string): Promise<void> {
    if (cgroups.length === 0) {
      await this.removeTable();
      return;
    }
    await this.nftRun(['-f', '-'], buildSplitBatch(mode, cgroups, mount));
  }

  async readCgroups(): Promise<{ mode: SplitMode | null; cgroups: string[] }> {
    let listing: string;
    try {
      listing = await runProgram(this.nft, ['-j', 'list', 'table', 'inet', SPLIT_TABLE], { timeoutMs: 10_000 });
    } catch (err) {
      // no table (nft says ENOENT) or no nft: nothing split by program
      if (err instanceof ProgramError || err instanceof ProgramNotFoundError) return { mode: null, cgroups: [] };
      throw err;
    }
    return parseSplitTable(JSON.parse(listing) as ListedNft);
  }

  /** Removes the table; returns whether there was one. */
  async removeTable(): Promise<boolean> {
    const had = (await this.readCgroups()).mode !== null;
    try {
      await this.nftRun(['-f', '-'], `add table inet ${SPLIT_TABLE}\ndelete table inet ${SPLIT_TABLE}\n`);
    } catch (err) {
      // without nft (or a table) there is nothing to remove
      if (!had) return false;
      throw err;
    }
    return had;
  }
}
