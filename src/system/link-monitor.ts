/**
 * Link state changes as the kernel announces them (rtnetlink's link group), through iproute2's
 * `ip -o monitor link`: one line per change, so a down and up in quick succession is two events,
 * not a state a poll could miss. Argument arrays, never a shell; the child ends with close().
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface LinkChange {
  index: number;
  name: string;
  up: boolean;
  deleted: boolean;
}

export interface LinkMonitor {
  close(): void;
}

/** "5: vse0: <POINTOPOINT,UP,LOWER_UP> mtu 1500 ..." (or "Deleted 5: ...") to a change. */
export function parseLinkLine(line: string): LinkChange | undefined {
  const m = /^(Deleted )?(\d+): ([^:@\s]+)(?:@\S+)?: <([^>]*)>/.exec(line.trim());
  if (!m) return undefined;
  const flags = (m[4] ?? '').split(',');
  return { index: Number(m[2]), name: m[3] ?? '', up: flags.includes('UP'), deleted: m[1] !== undefined };
}

export function monitorLinks(onChange: (change: LinkChange) => void, onError: (err: Error) => void): LinkMonitor {
  let child: ChildProcess | undefined = spawn('ip', ['-o', 'monitor', 'link'], { stdio: ['ignore', 'pipe', 'ignore'] });
  child.on('error', (err) => onError(err));
  child.unref();
  const stdout = child.stdout;
  if (stdout) {
    (stdout as unknown as { unref?: () => void }).unref?.();
    createInterface({ input: stdout }).on('line', (line) => {
      const change = parseLinkLine(line);
      if (change) onChange(change);
    });
  }
  return {
    close() {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      child = undefined;
    },
  };
}
