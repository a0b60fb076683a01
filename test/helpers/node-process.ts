/** A node program started in a network namespace (or here), awaited until it says it is ready, and stopped. */
import { type ChildProcess, spawn } from 'node:child_process';
import { projectRoot } from '../../src/config/project-root.js';

export interface Started {
  child: ChildProcess;
  output: () => string;
}

/**
 * Runs `node ARGS` in namespace `ns` (undefined: this one) and resolves when its stdout or
 * stderr matches `ready`; rejects when it exits first or is not ready within 20 s. `stdin`
 * 'pipe' lets the test write to it.
 */
export function startNode(
  ns: string | undefined,
  args: string[],
  ready: RegExp,
  env: Record<string, string> = {},
  stdin: 'pipe' | 'ignore' = 'ignore',
): Promise<Started> {
  const argv = ns ? ['ip', 'netns', 'exec', ns, process.execPath, ...args] : [process.execPath, ...args];
  const child = spawn(argv[0]!, argv.slice(1), { cwd: projectRoot(), env: { ...process.env, ...env }, stdio: [stdin, 'pipe', 'pipe'] });
  let out = '';
  return new Promise<Started>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready in 20 s:\n${out}`)), 20_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve({ child, output: () => out });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before ready:\n${out}`));
    });
  });
}

/** SIGTERM, then SIGKILL after 5 s; resolves when the process has exited. */
export function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const force = setTimeout(() => child.kill('SIGKILL'), 5000);
  return exited.finally(() => clearTimeout(force));
}
