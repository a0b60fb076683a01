/**
 * DNS through a resolv.conf file that vpnsvc manages when neither systemd-resolved nor
 * resolvconf is there. The rules that keep the user's own settings safe:
 *
 * - Before the first change, the original (its bytes, mode and owner; or the symbolic link; or
 *   its absence) is saved in the state directory, durably, before the file is touched.
 * - The VPN's servers go first, in a marked block; the user's content follows unchanged, byte
 *   for byte; search domains go in a marked block at the end, because glibc uses the last
 *   `search` line, and that line keeps the user's own domains after the VPN's.
 * - When the last VPN server goes (and on deinit, shutdown, and the next start after a crash),
 *   the original comes back byte for byte and the backup is deleted, in that order, so a crash
 *   between the two only repeats the restore.
 * - If someone else rewrote the file meanwhile (DHCP client, an admin), their version wins: only
 *   our marked blocks are taken out of it, and it becomes the new original.
 * - Every write is atomic (temp file, fsync, rename, fsync of the directory), and read back:
 *   a write that did not take (the file is not what was written) is an error, not a success.
 */
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import {
  type FsOps,
  type Ownership,
  readIfPresent,
  realFs,
  removeDurably,
  symlinkAtomic,
  syncDir,
  tempPathFor,
  unlinkIfPresent,
  writeFileAtomicWith,
} from '../atomic-file.js';
import { fileLeakProtection } from './resolv-conf.js';
import { DEFAULT_RESOLV_CONF, type DnsConfig, type LeakProtection, type ResolverBackend } from './types.js';

/** It replaces the file by rename, so the directory must be writable (the state directory aside). */
export const FILE_BACKEND_WRITABLE_PATHS: readonly string[] = [dirname(DEFAULT_RESOLV_CONF)];

export const BACKUP_FILE = 'resolv-conf-backup.json';
const MAX_ORIGINAL_BYTES = 1 << 20;

export const HEAD_BEGIN = '# vpnsvc begin: VPN DNS servers first, removed when the VPN goes away\n';
export const BLOCK_END = '# vpnsvc end\n';
export const TAIL_BEGIN = '# vpnsvc search begin\n';
/** Marks a tail after which a newline was added because the user's file did not end with one. */
export const TAIL_BEGIN_EOL_ADDED = '# vpnsvc search begin (newline added)\n';

type Original =
  | { kind: 'file'; content: string; mode: number; uid: number; gid: number }
  | { kind: 'symlink'; target: string }
  | { kind: 'absent' };

interface Backup {
  version: 1;
  path: string;
  original: Original;
  /** sha256 of what vpnsvc may have last written to path (the previous and the current write). */
  written: string[];
}

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

// latin1 maps every byte to one char and back, so string edits keep arbitrary bytes intact.
const toBytes = (text: string): Buffer => Buffer.from(text, 'latin1');

/** Takes vpnsvc's marked blocks out of a resolv.conf text; anything else stays as it is. */
export function stripManaged(text: string): string {
  let out = text;
  if (out.startsWith(HEAD_BEGIN)) {
    const end = out.indexOf(BLOCK_END, HEAD_BEGIN.length);
    if (end >= 0) out = out.slice(end + BLOCK_END.length);
  }
  const tail = /(\n?)(# vpnsvc search begin(?: \(newline added\))?\n)search [^\n]*\n# vpnsvc end\n$/.exec(out);
  if (tail) {
    const added = tail[2] === TAIL_BEGIN_EOL_ADDED && tail[1] === '\n';
    out = out.slice(0, tail.index + (added ? 0 : tail[1]!.length));
  }
  return out;
}

/** The domains of the line glibc would use: the last `search` or `domain` line. */
export function userSearchDomains(text: string): string[] {
  let domains: string[] = [];
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    if (words[0] === 'search' || words[0] === 'domain') domains = words.slice(1);
  }
  return domains;
}

export function renderResolvConf(user: string, config: DnsConfig): string {
  const head = HEAD_BEGIN + config.servers.map((s) => `nameserver ${s}\n`).join('') + BLOCK_END;
  const search = config.domains.filter((d) => !d.startsWith('~'));
  if (search.length === 0) return head + user;
  const merged = [...new Set([...search, ...userSearchDomains(user)])];
  const eolAdded = user !== '' && !user.endsWith('\n');
  return `${head + user + (eolAdded ? `\n${TAIL_BEGIN_EOL_ADDED}` : TAIL_BEGIN)}search ${merged.join(' ')}\n${BLOCK_END}`;
}

function serializeBackup(backup: Backup): Buffer {
  const original =
    backup.original.kind === 'file'
      ? { ...backup.original, content: toBytes(backup.original.content).toString('base64') }
      : backup.original;
  return Buffer.from(JSON.stringify({ ...backup, original }));
}

export class FileBackend implements ResolverBackend {
  readonly name = 'file' as const;
  private readonly backupPath: string;

  constructor(
    readonly path: string,
    private readonly stateDir: string,
    private readonly fs: FsOps = realFs,
  ) {
    this.backupPath = join(stateDir, BACKUP_FILE);
  }

  describe(): Record<string, unknown> {
    return { backend: this.name, path: this.path };
  }

  /** The user's own nameserver lines stay after the VPN's, so only a file without any is exclusive. */
  leakProtection(config: DnsConfig): LeakProtection {
    if (config.servers.length === 0) return 'none';
    let text: string | undefined;
    try {
      text = readIfPresent(this.fs, this.path)?.toString('latin1');
    } catch {
      // unreadable: claim nothing
    }
    return fileLeakProtection(text, config.servers);
  }

  async apply(_iface: string, config: DnsConfig): Promise<void> {
    if (config.servers.length === 0) {
      this.restore();
      return;
    }
    const backup = this.readBackup() ?? { version: 1, path: this.path, original: this.snapshot(), written: [] };
    if (backup.written.length > 0 && !this.isOurs(backup)) backup.original = this.snapshot();
    const user = backup.original.kind === 'file' ? backup.original.content : this.linkedContent(backup.original);
    const content = toBytes(renderResolvConf(user, config));
    const hash = sha256(content);
    // The backup (with the hash about to be written) is durable before the file changes.
    backup.written = [...backup.written.slice(-1), hash].filter((h, i, all) => all.indexOf(h) === i);
    this.fs.mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
    writeFileAtomicWith(this.fs, this.backupPath, serializeBackup(backup), { mode: 0o600 });
    writeFileAtomicWith(this.fs, backup.path, content, this.ownership(backup.original));
    this.expectFile(backup.path, content);
  }

  async clear(): Promise<void> {
    this.restore();
  }

  async recover(): Promise<void> {
    this.restore();
    // A kill while the first backup was written leaves its temporary file (and the resolver
    // file untouched: it is written only once the backup is durable).
    unlinkIfPresent(this.fs, tempPathFor(this.backupPath));
  }

  /** Puts the original back (or, after a foreign rewrite, only takes our blocks out), then drops the backup. */
  private restore(): void {
    const backup = this.readBackup();
    if (!backup) return;
    if (this.isOurs(backup)) {
      const o = backup.original;
      if (o.kind === 'file') {
        writeFileAtomicWith(this.fs, backup.path, toBytes(o.content), this.ownership(o));
        this.expectFile(backup.path, toBytes(o.content));
      } else if (o.kind === 'symlink') {
        symlinkAtomic(this.fs, o.target, backup.path);
        this.expectSymlink(backup.path, o.target);
      } else {
        removeDurably(this.fs, backup.path);
        this.expectAbsent(backup.path);
      }
    } else {
      const current = readIfPresent(this.fs, backup.path);
      if (current) {
        const stripped = toBytes(stripManaged(current.toString('latin1')));
        if (!stripped.equals(current)) {
          writeFileAtomicWith(this.fs, backup.path, stripped, this.currentOwnership(backup.path));
          this.expectFile(backup.path, stripped);
        }
      }
    }
    unlinkIfPresent(this.fs, tempPathFor(backup.path));
    removeDurably(this.fs, this.backupPath);
    unlinkIfPresent(this.fs, tempPathFor(this.backupPath));
    syncDir(this.fs, this.stateDir);
  }

  /** The read-back after a write: what the resolver will read must be what was written. */
  private expectFile(path: string, content: Buffer): void {
    const found = this.fs.lstatSync(path, { throwIfNoEntry: false });
    if (!found) throw new Error(`${path} is missing after it was written`);
    if (!found.isFile()) throw new Error(`${path} is not the regular file that was written`);
    const back = this.fs.readFileSync(path);
    if (!back.equals(content)) {
      throw new Error(
        `${path} does not hold what was written: read back ${back.length} bytes (sha256 ${sha256(back).slice(0, 12)}), wrote ${content.length} (sha256 ${sha256(content).slice(0, 12)})`,
      );
    }
  }

  private expectSymlink(path: string, target: string): void {
    const found = this.fs.lstatSync(path, { throwIfNoEntry: false });
    const back = found?.isSymbolicLink() ? this.fs.readlinkSync(path, 'utf8') : undefined;
    if (back !== target) throw new Error(`${path} is not the symbolic link to ${target} that was restored`);
  }

  private expectAbsent(path: string): void {
    if (this.fs.lstatSync(path, { throwIfNoEntry: false })) throw new Error(`${path} is still there after it was removed`);
  }

  /** Whether path still holds something vpnsvc wrote (else someone rewrote it since). */
  private isOurs(backup: Backup): boolean {
    const current = readIfPresent(this.fs, backup.path);
    if (current === undefined) return false;
    let isLink = false;
    try {
      isLink = this.fs.lstatSync(backup.path).isSymbolicLink();
    } catch {
      return false;
    }
    return !isLink && backup.written.includes(sha256(current));
  }

  private snapshot(): Original {
    let st: ReturnType<FsOps['lstatSync']>;
    try {
      st = this.fs.lstatSync(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'absent' };
      throw err;
    }
    if (st.isSymbolicLink()) return { kind: 'symlink', target: this.fs.readlinkSync(this.path, 'utf8') };
    if (!st.isFile()) throw new Error(`${this.path} is neither a file nor a symbolic link`);
    if (st.size > MAX_ORIGINAL_BYTES) throw new Error(`${this.path} is larger than ${MAX_ORIGINAL_BYTES} bytes`);
    const content = stripManaged(this.fs.readFileSync(this.path).toString('latin1'));
    return { kind: 'file', content, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  }

  /** What a symbolic link pointed at is the user's configuration while we replace the link. */
  private linkedContent(original: Original): string {
    if (original.kind !== 'symlink') return '';
    const target = original.target.startsWith('/') ? original.target : join(this.path, '..', original.target);
    return stripManaged(readIfPresent(this.fs, target)?.toString('latin1') ?? '');
  }

  private ownership(original: Original): Ownership {
    return original.kind === 'file' ? { mode: original.mode, uid: original.uid, gid: original.gid } : { mode: 0o644 };
  }

  private currentOwnership(path: string): Ownership {
    const st = this.fs.lstatSync(path);
    return { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  }

  private readBackup(): Backup | undefined {
    const raw = readIfPresent(this.fs, this.backupPath);
    if (!raw) return undefined;
    const backup = JSON.parse(raw.toString('utf8')) as Backup;
    if (backup.version !== 1) throw new Error(`${this.backupPath}: unknown backup version`);
    if (backup.original.kind === 'file') {
      backup.original.content = Buffer.from(backup.original.content, 'base64').toString('latin1');
    }
    return backup;
  }
}
