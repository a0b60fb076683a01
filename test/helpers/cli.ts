/** Runs the CLI in-process (src/cli/main.ts run()) and captures what it prints. */
import type { Io } from '../../src/cli/command.js';
import { run } from '../../src/cli/main.js';

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

export async function cli(
  args: string[],
  env: NodeJS.ProcessEnv,
  signal = new AbortController().signal,
  stdin = Buffer.alloc(0),
): Promise<CliResult> {
  let out = '';
  let err = '';
  const io: Io = {
    out: (t) => {
      out += `${t}\n`;
    },
    err: (t) => {
      err += `${t}\n`;
    },
    write: (b) => {
      out += b.toString('latin1');
    },
    stdin: async () => stdin,
    isTTY: false,
  };
  const code = await run(args, io, env, signal);
  return { code, out, err };
}
