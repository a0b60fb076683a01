import { execFile } from 'node:child_process';

/** Runs a program with an argument array (never a shell), optionally feeding stdin; rejects on failure. */
export type RunCommand = (file: string, args: readonly string[], input?: string) => Promise<void>;

export const COMMAND_TIMEOUT_MS = 5000;

export const runCommand: RunCommand = (file, args, input) =>
  new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: COMMAND_TIMEOUT_MS, env: process.env }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve();
    });
    child.stdin?.end(input ?? '');
  });
