/** `vpnsvc events`: follows the SSE stream, and after a drop resumes from the last seq seen. */
import { setTimeout as sleep } from 'node:timers/promises';
import { ConnectError, json, send, stream } from './client.js';
import type { CliContext } from './command.js';
import * as view from './render.js';

export interface FollowOptions {
  since?: number;
  types?: string;
  countersMs: number;
  follow: boolean;
}

const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5000;

/** Splits an SSE byte stream into messages; returns the unfinished tail. */
export function parseSse(buffer: string, onMessage: (data: string) => void): string {
  for (let at = buffer.indexOf('\n\n'); at >= 0; at = buffer.indexOf('\n\n')) {
    const block = buffer.slice(0, at);
    buffer = buffer.slice(at + 2);
    const data = block
      .split('\n')
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, ''))
      .join('\n');
    if (data) onMessage(data);
  }
  return buffer;
}

export async function followEvents(ctx: CliContext, opts: FollowOptions): Promise<number> {
  const ep = ctx.endpoint();
  let since = opts.since;
  let epoch: string | undefined;
  const print = (e: Record<string, unknown>) => ctx.io.out(ctx.json ? JSON.stringify(e) : view.event(e));

  if (!opts.follow) {
    const r = json(await send(ep, 'GET', '/events', { query: { since: since ?? 0, types: opts.types } })) as {
      events: Record<string, unknown>[];
    };
    for (const e of r.events) print(e);
    return 0;
  }

  let delay = RETRY_MIN_MS;
  while (!ctx.signal.aborted) {
    let buffer = '';
    let gotAny = false;
    try {
      await stream(ep, '/events', {
        signal: ctx.signal,
        query: { since, epoch, types: opts.types, countersMs: opts.countersMs },
        onChunk: (text) => {
          buffer = parseSse(buffer + text, (data) => {
            const e = JSON.parse(data) as Record<string, unknown>;
            gotAny = true;
            if (e.type === 'hello' && since !== undefined && epoch !== undefined) {
              // A reconnect: only a loss notice is worth showing.
            } else {
              print(e);
            }
            if (typeof e.epoch === 'string') epoch = e.epoch;
            if (typeof e.seq === 'number') since = e.seq;
          });
        },
      });
    } catch (err) {
      if (!(err instanceof ConnectError)) throw err;
      if (!gotAny && since === undefined) throw err;
      ctx.io.err(`-- ${err.message}`);
    }
    if (ctx.signal.aborted) break;
    if (gotAny) delay = RETRY_MIN_MS;
    ctx.io.err(`-- disconnected; resuming after seq ${since ?? 0} in ${delay} ms`);
    await sleep(delay, undefined, { signal: ctx.signal }).catch(() => undefined);
    delay = Math.min(RETRY_MAX_MS, delay * 2);
  }
  return 0;
}
