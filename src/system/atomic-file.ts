/**
 * Crash-safe file replacement: write a temporary file beside the target, fsync it, rename it over
 * the target, fsync the directory. A reader (or the next start after a crash) sees either the
 * old or the new content, never a truncated or half-written file.
 *
 * The file system is injected so the property test can stop the sequence at any step, which is
 * what a SIGKILL or a power cut does.
 */
import * as nodeFs from 'node:fs';
import { dirname } from 'node:path';

export type FsOps = Pick<
  typeof nodeFs,
  | 'openSync'
  | 'writeSync'
  | 'fsyncSync'
  | 'closeSync'
  | 'renameSync'
  | 'unlinkSync'
  | 'readFileSync'
  | 'lstatSync'
  | 'readlinkSync'
  | 'symlinkSync'
  | 'fchmodSync'
  | 'fchownSync'
  | 'mkdirSync'
>;

export const realFs: FsOps = nodeFs;

export interface Ownership {
  mode: number;
  uid?: number;
  gid?: number;
}

function isErrno(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === code;
}

export function syncDir(fs: FsOps, dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** The temporary name is fixed per target so a crash leaves at most one stale file, reused next time. */
export function tempPathFor(path: string): string {
  return `${path}.vpnsvc-tmp`;
}

export function unlinkIfPresent(fs: FsOps, path: string): boolean {
  try {
    fs.unlinkSync(path);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
}

/** Leaves no temporary file behind a failed replacement (a bind-mounted target refuses rename: EBUSY). */
function withTempCleanup(fs: FsOps, tmp: string, work: () => void): void {
  try {
    work();
  } catch (err) {
    try {
      unlinkIfPresent(fs, tmp);
    } catch {
      // keep the first error
    }
    throw err;
  }
}

/**
 * The whole sequence on an injected fs. `tmp` defaults to the fixed name, which suits files that
 * only the daemon writes (recovery removes a stale one by that name).
 */
export function writeFileAtomicWith(fs: FsOps, path: string, data: Uint8Array, owner: Ownership, tmp = tempPathFor(path)): void {
  unlinkIfPresent(fs, tmp);
  withTempCleanup(fs, tmp, () => {
    const fd = fs.openSync(tmp, 'wx', owner.mode);
    try {
      // A new file already belongs to us; only a different owner needs chown (and root).
      if (owner.uid !== undefined && owner.gid !== undefined && (owner.uid !== process.geteuid?.() || owner.gid !== process.getegid?.())) {
        fs.fchownSync(fd, owner.uid, owner.gid);
      }
      // After fchown, which clears set-id bits; and the umask narrowed the mode given to open.
      fs.fchmodSync(fd, owner.mode);
      let off = 0;
      while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, path);
  });
  syncDir(fs, dirname(path));
}

/**
 * The common case: the real fs, text or bytes. The temporary name carries the pid because some
 * files have writers in several processes (tokens.json: the daemon and `vpnsvc token`).
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, owner: Ownership): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  writeFileAtomicWith(realFs, path, bytes, owner, `${tempPathFor(path)}-${process.pid}`);
}

/** Replaces path with a symbolic link, atomically (symlink beside it, then rename). */
export function symlinkAtomic(fs: FsOps, target: string, path: string): void {
  const tmp = tempPathFor(path);
  unlinkIfPresent(fs, tmp);
  withTempCleanup(fs, tmp, () => {
    fs.symlinkSync(target, tmp);
    fs.renameSync(tmp, path);
  });
  syncDir(fs, dirname(path));
}

export function removeDurably(fs: FsOps, path: string): void {
  if (unlinkIfPresent(fs, path)) syncDir(fs, dirname(path));
}

/** Removes path (if there) and makes the removal durable, on the real fs. */
export function removeFileDurably(path: string): void {
  removeDurably(realFs, path);
}

export function readIfPresent(fs: FsOps, path: string): Buffer | undefined {
  try {
    return fs.readFileSync(path);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}
