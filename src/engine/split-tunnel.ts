/**
 * Split tunnelling by user (uid ranges) and by program (cgroup v2 paths): the request checked,
 * then set in the kernel through src/system/split-rules.ts, and read back from it. Nothing is
 * kept here: GET reads `ip -j rule show` and `nft -j list table inet vpnsvc_split`.
 */
import { statSync } from 'node:fs';
import { invalidParameter, notSupported } from '../errors/errors.js';
import {
  cgroup2Mount,
  type SplitCgroup,
  type SplitMode,
  SplitRules,
  UID_MAX,
  type UidRange,
  uidComplement,
} from '../system/split-rules.js';

export const MAX_SPLIT_ENTRIES = 64;
const CGROUP_PATH_MAX = 100;
const CGROUP_COMPONENT = /^[A-Za-z0-9._@:+-]+$/;

export interface SplitRequest {
  mode: SplitMode;
  uids?: string[];
  cgroups?: string[];
}

export interface SplitState {
  mode: SplitMode | null;
  uids: string[];
  cgroups: string[];
  cgroup2Mount: string | null;
  rules: Array<{ family: 4 | 6; priority: number; rule: string }>;
}

/** What the kill switch lets through on behalf of split tunnelling. */
export interface SplitBypass {
  /** uid ranges that skip the VPN (exclude: the listed; include: the others). */
  uids: UidRange[];
  /** Whether packets the split table marks (ct mark 0x7686) skip it. */
  marked: boolean;
}

function parseUid(text: string, what: string): number {
  if (!/^[0-9]{1,10}$/.test(text)) throw invalidParameter(`${what}: "${text}" is not a decimal uid`);
  const n = Number(text);
  if (n > UID_MAX) throw invalidParameter(`${what}: ${n} is above the highest uid ${UID_MAX}`);
  return n;
}

/** `["65534", "1000-1999"]` to sorted, merged inclusive ranges; 400 names the bad entry. */
export function parseUidRanges(list: readonly string[]): UidRange[] {
  if (list.length > MAX_SPLIT_ENTRIES) throw invalidParameter(`uids has ${list.length} entries: at most ${MAX_SPLIT_ENTRIES} are allowed`);
  const ranges = list.map((entry, i): UidRange => {
    const what = `uids[${i}]`;
    if (typeof entry !== 'string') throw invalidParameter(`${what} must be a string such as "1000" or "1000-1999"`);
    const parts = entry.split('-');
    if (parts.length > 2) throw invalidParameter(`${what}: "${entry}" is not a uid or a range A-B`);
    const lo = parseUid(parts[0] ?? '', what);
    const hi = parts.length === 2 ? parseUid(parts[1] ?? '', what) : lo;
    if (lo > hi) throw invalidParameter(`${what}: the range "${entry}" starts above its end`);
    return [lo, hi];
  });
  ranges.sort((a, b) => a[0] - b[0]);
  const merged: UidRange[] = [];
  for (const r of ranges) {
    const last = merged.at(-1);
    if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  return merged;
}

export const formatUidRange = ([lo, hi]: UidRange): string => (lo === hi ? String(lo) : `${lo}-${hi}`);

/**
 * Checks cgroup paths (from the cgroup2 root) and that each is a directory under `mount`.
 * 501 when cgroups are asked for and the host has no cgroup2 mount.
 */
export function checkCgroupPaths(list: readonly string[], mount: string | null): SplitCgroup[] {
  if (list.length === 0) return [];
  if (list.length > MAX_SPLIT_ENTRIES) {
    throw invalidParameter(`cgroups has ${list.length} entries: at most ${MAX_SPLIT_ENTRIES} are allowed`);
  }
  const seen = new Set<string>();
  const checked = list.map((path, i): SplitCgroup => {
    const what = `cgroups[${i}]`;
    if (typeof path !== 'string' || !path.startsWith('/'))
      throw invalidParameter(`${what}: "${String(path)}" is not an absolute cgroup path`);
    const clean = path.length > 1 ? path.replace(/\/+$/, '') : path;
    const parts = clean.split('/').slice(1);
    if (clean === '/' || clean.length > CGROUP_PATH_MAX) {
      throw invalidParameter(`${what}: "${path}" must name a cgroup below the root, at most ${CGROUP_PATH_MAX} characters`);
    }
    if (!parts.every((p) => CGROUP_COMPONENT.test(p) && p !== '.' && p !== '..')) {
      throw invalidParameter(`${what}: "${path}" may only have components of A-Z a-z 0-9 . _ - @ : + (no "." or "..")`);
    }
    if (seen.has(clean)) throw invalidParameter(`${what}: "${clean}" is listed twice`);
    seen.add(clean);
    return { path: clean, level: parts.length };
  });
  if (mount === null) {
    throw notSupported('split tunnelling by program needs cgroup v2, and this host has no cgroup2 mount (/proc/self/mountinfo)');
  }
  checked.forEach((c, i) => {
    let dir = false;
    try {
      dir = statSync(`${mount}${c.path}`).isDirectory();
    } catch {
      // missing: said below
    }
    if (!dir) throw invalidParameter(`cgroups[${i}]: "${c.path}" does not exist under the cgroup2 mount ${mount}`);
  });
  return checked;
}

export class SplitTunnel {
  constructor(
    private readonly rules = new SplitRules(),
    private readonly mount: () => string | null = () => cgroup2Mount(),
  ) {}

  cgroup2Mount(): string | null {
    return this.mount();
  }

  /** Everything is checked before the kernel is touched; then the old split is replaced. */
  async set(request: SplitRequest): Promise<SplitState> {
    const mode = request.mode;
    if (mode !== 'exclude' && mode !== 'include') throw invalidParameter(`mode must be "exclude" or "include", not "${String(mode)}"`);
    const ranges = parseUidRanges(request.uids ?? []);
    const mount = this.mount();
    const cgroups = checkCgroupPaths(request.cgroups ?? [], mount);
    if (ranges.length === 0 && cgroups.length === 0) {
      throw invalidParameter('nothing to split: give uids or cgroups (DELETE /split-tunnel removes split tunnelling)');
    }
    if (cgroups.length > 0 && mount !== null) await this.rules.setCgroups(mode, cgroups, mount);
    else await this.rules.removeTable();
    await this.rules.setUids(mode, ranges);
    return this.read();
  }

  async read(): Promise<SplitState> {
    const byUid = await this.rules.readUids();
    const byProgram = await this.rules.readCgroups();
    return {
      mode: byUid.mode ?? byProgram.mode,
      uids: byUid.ranges.map(formatUidRange),
      cgroups: byProgram.cgroups,
      cgroup2Mount: this.mount(),
      rules: byUid.rules,
    };
  }

  /** Removes every rule and the table; returns whether anything was there. */
  async clear(): Promise<boolean> {
    const before = await this.read();
    await this.rules.removeUids();
    await this.rules.removeTable();
    return before.mode !== null;
  }

  /** What the kill switch must let through for `state`; undefined when nothing is split. */
  static bypass(state: SplitState): SplitBypass | undefined {
    if (state.mode === null) return undefined;
    const listed = parseUidRanges(state.uids);
    // include: only the listed use the VPN, so the others bypass it
    const uids = state.mode === 'exclude' || listed.length === 0 ? listed : uidComplement(listed);
    return { uids, marked: state.cgroups.length > 0 };
  }
}
