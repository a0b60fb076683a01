/** Packets: one read (vpnsvc_read), one write (vpnsvc_write), and the bridge to a local TUN. */
import { json, readLocalFile, send, UsageError } from '../client.js';
import type { CliCommand } from '../command.js';
import * as view from '../render.js';
import { interfaceOption, nameParam } from '../rest.js';

const read: CliCommand = {
  words: ['read'],
  args: '[name]',
  summary: 'read one packet (vpnsvc_read): raw bytes to a pipe, hex on a terminal',
  operations: ['GET /interfaces/{name}/packet'],
  options: { timeout: { type: 'string', short: 't', value: '<ms>', description: 'wait at most this long' }, ...interfaceOption },
  async run(ctx, p) {
    const { name } = await nameParam(p, ctx);
    const res = await send(ctx.endpoint(), 'GET', `/interfaces/${encodeURIComponent(name)}/packet`, {
      accept: 'application/octet-stream',
      query: { timeoutMs: p.values.timeout as string | undefined },
    });
    if (res.status >= 400) json(res);
    if (ctx.json) ctx.io.out(JSON.stringify({ length: res.body.length, base64: res.body.toString('base64') }));
    else if (ctx.io.isTTY)
      ctx.io.out(
        res.body
          .toString('hex')
          .replace(/(.{32})/g, '$1\n')
          .trimEnd(),
      );
    else ctx.io.write(res.body);
  },
};

const write: CliCommand = {
  words: ['write'],
  args: '[name] <file|->',
  summary: 'write one IP packet from a file or stdin (vpnsvc_write)',
  operations: ['POST /interfaces/{name}/packets'],
  options: interfaceOption,
  async run(ctx, p) {
    const [a, b] = p.positionals;
    const file = b ?? a;
    if (!file || p.positionals.length > 2) throw new UsageError('usage: vpnsvc write [name] <file|->');
    const bytes = file === '-' ? await ctx.io.stdin() : readLocalFile(file, 'the packet file');
    const { name } = await nameParam({ ...p, positionals: b ? [a!] : [] }, ctx);
    const result = json(await send(ctx.endpoint(), 'POST', `/interfaces/${encodeURIComponent(name)}/packets`, { bytes }));
    ctx.io.out(ctx.json ? JSON.stringify(result) : view.generic(result));
  },
};

/**
 * `vpnsvc bridge` is a program of its own (src/bridge/bridge.ts), loaded on use so the rest of
 * the CLI never loads the native shim. It parses its own arguments.
 */
const bridge: CliCommand = {
  words: ['bridge'],
  args: '...',
  summary: "connect a local TUN to the daemon's packet stream (vpnsvc bridge --help)",
  operations: ['GET /interfaces/{name}/stream'],
  passthrough: true,
  async run(_ctx, p) {
    const { bridgeMain } = await import('../../bridge/bridge.js');
    return bridgeMain(p.positionals);
  },
};

export const packetCommands: CliCommand[] = [read, write, bridge];
