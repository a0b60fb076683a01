/**
 * Who a process is, as /proc says: its process (thread group) id, its uids and its network
 * namespace. vpnsvc_protect compares its target with the caller and with the daemon by these.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { ioError, noSuchFile, permissionDenied, type VpnsvcError } from '../errors/errors.js';

export interface ProcessIdentity {
  /** The process the pid belongs to: a thread's id names its process's here. */
  tgid: number;
  /** Real, effective, saved set-user-ID and filesystem uid. */
  uids: readonly [number, number, number, number];
  /** The network namespace, as its /proc link reads ("net:[4026531840]": the inode names it). */
  netns: string;
}

function procError(err: unknown, pid: number | 'self'): VpnsvcError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ESRCH') return noSuchFile(`no process ${pid} (ESRCH)`);
  if (code === 'EACCES' || code === 'EPERM') return permissionDenied(`the daemon may not inspect process ${pid} (${code})`);
  return ioError(`cannot read /proc/${pid}: ${code ?? (err as Error).message}`);
}

/** "net:[inode]" of a process's network namespace ('self': the daemon's). */
export function networkNamespaceOf(pid: number | 'self'): string {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch (err) {
    throw procError(err, pid);
  }
}

export function processIdentity(pid: number): ProcessIdentity {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch (err) {
    throw procError(err, pid);
  }
  const tgid = /^Tgid:\s+(\d+)$/m.exec(status);
  const uids = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$/m.exec(status);
  if (!tgid || !uids) throw ioError(`/proc/${pid}/status has no Tgid or Uid line`);
  return {
    tgid: Number(tgid[1]),
    uids: [Number(uids[1]), Number(uids[2]), Number(uids[3]), Number(uids[4])],
    netns: networkNamespaceOf(pid),
  };
}
