/**
 * The state directory says who may do what (tokens.json, admin.token) and what a crashed run
 * left (the journal, the resolver's backups): whoever can write there can make themselves admin.
 * So at start it, everything in it and every directory above it must belong to root (or the
 * daemon's own user) and be writable by no group and no other user; a sticky directory above it
 * (/tmp) is fine, as others cannot move what is not theirs there. Otherwise the daemon refuses
 * to start, saying what is wrong and how to fix it.
 */
import { lstatSync, mkdirSync, readdirSync, realpathSync, type Stats, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { JOURNAL_FILE } from '../recovery/journal.js';
import { ADMIN_TOKEN_FILE, TOKENS_FILE } from '../tokens/token-store.js';

/** What the daemon reads as the truth: a symbolic link would let it be put anywhere. */
const TRUSTED_FILES = new Set([TOKENS_FILE, ADMIN_TOKEN_FILE, JOURNAL_FILE]);

const GROUP_OTHER_WRITE = 0o022;
const STICKY = 0o1000;
/** The daemon writes nothing deeper; anything past this is reported, not walked. */
const MAX_DEPTH = 4;

export interface StateDirProblem {
  path: string;
  /** What is wrong, e.g. "is writable by group and others (mode 0777)". */
  what: string;
  /** A command that fixes it. */
  fix: string;
}

export class UntrustedStateDir extends Error {
  constructor(
    readonly stateDir: string,
    readonly problems: StateDirProblem[],
  ) {
    super(
      `refusing to start: the state directory ${stateDir} is not safe (whoever can write there can make themselves admin): ${problems
        .map((p) => `${p.path} ${p.what}; fix: ${p.fix}`)
        .join('; ')}`,
    );
  }
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

function writers(mode: number): string {
  const g = (mode & 0o020) !== 0;
  const o = (mode & 0o002) !== 0;
  return g && o ? 'group and others' : g ? 'its group' : 'others';
}

/** The checks one entry must pass; `above` for the directories above the state directory. */
function checkEntry(path: string, st: Stats, euid: number, above: boolean): StateDirProblem[] {
  const problems: StateDirProblem[] = [];
  const owner = euid === 0 ? 'root' : String(euid);
  if (st.uid !== 0 && st.uid !== euid) {
    problems.push({
      path,
      what: `is owned by uid ${st.uid}, not ${owner}`,
      fix: above ? `chown ${owner} ${path}, or set VPNSVC_STATE_DIR to a directory only ${owner} can change` : `chown ${owner} ${path}`,
    });
  }
  if (!st.isSymbolicLink() && (st.mode & GROUP_OTHER_WRITE) !== 0 && !(above && (st.mode & STICKY) !== 0)) {
    problems.push({ path, what: `is writable by ${writers(st.mode)} (mode ${octal(st.mode)})`, fix: `chmod go-w ${path}` });
  }
  return problems;
}

/** Every directory above `dir`, as written and as resolved (a link's own directory counts too). */
function directoriesAbove(dir: string): string[] {
  const seen = new Set<string>();
  for (const start of [dir, realpathSync(dir)]) {
    for (let d = dirname(start); ; d = dirname(d)) {
      seen.add(realpathSync(d));
      if (d === dirname(d)) break;
    }
  }
  return [...seen].sort();
}

function pathProblems(dir: string, euid: number): StateDirProblem[] {
  const problems: StateDirProblem[] = [];
  // A link on the way, as written, can be pointed elsewhere later by whoever owns it.
  for (let p = dir; p !== dirname(p); p = dirname(p)) {
    const st = lstatSync(p);
    if (st.isSymbolicLink()) problems.push(...checkEntry(p, st, euid, true));
  }
  for (const d of directoriesAbove(dir)) problems.push(...checkEntry(d, statSync(d), euid, true));
  return problems;
}

function checkContents(dir: string, euid: number, depth: number): StateDirProblem[] {
  const problems: StateDirProblem[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    const st = lstatSync(path);
    problems.push(...checkEntry(path, st, euid, false));
    if (st.isSymbolicLink() && depth === 0 && TRUSTED_FILES.has(name)) {
      problems.push({
        path,
        what: 'is a symbolic link, not a file of its own',
        fix: `rm ${path} (the daemon writes it anew; for tokens.json, restore a copy)`,
      });
    } else if (st.isDirectory()) {
      if (depth + 1 >= MAX_DEPTH) problems.push({ path, what: 'is nested deeper than vpnsvc ever writes', fix: `rm -r ${path}` });
      else problems.push(...checkContents(path, euid, depth + 1));
    }
  }
  return problems;
}

/** The problems found, none when the directory can be trusted. `stateDir` must exist. */
export function checkStateDir(dir: string, euid: number = process.geteuid?.() ?? 0): StateDirProblem[] {
  const stateDir = resolve(dir);
  const st = statSync(stateDir);
  if (!st.isDirectory()) {
    return [{ path: stateDir, what: 'is not a directory', fix: `remove it, or set VPNSVC_STATE_DIR to a directory` }];
  }
  const real = realpathSync(stateDir);
  const problems = pathProblems(stateDir, euid);
  problems.push(...checkEntry(real, st, euid, false));
  problems.push(...checkContents(real, euid, 0));
  return problems;
}

/** Makes the state directory (mode 0700) when missing, then checks it; throws UntrustedStateDir. */
export function prepareStateDir(stateDir: string, euid: number = process.geteuid?.() ?? 0): void {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const problems = checkStateDir(stateDir, euid);
  if (problems.length > 0) throw new UntrustedStateDir(stateDir, problems);
}
