/** The host and the daemon: features, health, the spec, metrics, and `status` at a glance. */
import { setTimeout as sleep } from 'node:timers/promises';
import { type Endpoint, json, ServiceError, send, UsageError } from '../client.js';
import type { CliCommand, CliContext } from '../command.js';
import * as view from '../render.js';
import { type RestSpec, restCommand } from '../rest.js';

const REST: RestSpec[] = [
  { words: 'features', op: 'GET /features', summary: 'what this host supports (TUN, CAP_NET_ADMIN, nft, DNS backend)' },
  { words: 'health', op: 'GET /health', summary: 'is the daemon alive' },
  { words: 'spec', op: 'GET /openapi.yaml', summary: 'print the OpenAPI document' },
];

/** Sections that the daemon does not serve (an older build) are left out, not errors. */
async function optional(ep: Endpoint, path: string): Promise<unknown> {
  const res = await send(ep, 'GET', path);
  if (res.status === 404 && !path.startsWith('/interfaces/')) return undefined;
  return json(res);
}

async function statusOnce(ctx: CliContext): Promise<string> {
  const ep = ctx.endpoint();
  const [ifs, routes, dns, firewall] = await Promise.all([
    optional(ep, '/interfaces'),
    optional(ep, '/routes'),
    optional(ep, '/dns'),
    optional(ep, '/firewall'),
  ]);
  if (ctx.json) return JSON.stringify({ interfaces: ifs, routes, dns, firewall }, null, 2);
  const out = [view.interfaces(ifs)];
  const section = (title: string, v: unknown) => {
    if (v !== undefined) out.push(`${title}:\n${view.generic(v, '  ')}`);
  };
  section('routes', routes);
  section('dns', dns);
  section('firewall', firewall);
  return out.join('\n');
}

const status: CliCommand = {
  words: ['status'],
  summary: 'interface, addresses, routes, DNS, firewall and counters at a glance',
  options: { watch: { type: 'string', short: 'w', value: '<seconds>', description: 'refresh every so many seconds (at least 0.1)' } },
  async run(ctx, p) {
    const every = p.values.watch === undefined ? 0 : Number(p.values.watch);
    if (!(every >= 0.1) && p.values.watch !== undefined)
      throw new UsageError(`--watch: "${p.values.watch}" is not a number of seconds (at least 0.1)`);
    do {
      const text = await statusOnce(ctx);
      // On a terminal each refresh replaces the last; in a pipe they follow each other.
      ctx.io.out(every && ctx.io.isTTY ? `\x1b[H\x1b[2J${text}` : text);
      if (every) await sleep(every * 1000, undefined, { signal: ctx.signal }).catch(() => undefined);
    } while (every && !ctx.signal.aborted);
  },
};

const metrics: CliCommand = {
  words: ['metrics'],
  summary: 'the Prometheus metrics text',
  operations: ['GET /metrics'],
  async run(ctx) {
    const res = await send(ctx.endpoint(), 'GET', '/metrics', { accept: 'text/plain' });
    if (res.status >= 400) json(res);
    ctx.io.out(res.body.toString('utf8').trimEnd());
  },
};

/**
 * For readiness checks (the DaemonSet's probe): exit 0 when the daemon answers and the VPN
 * feature is supported on its host, else the exit code of NOT_SUPPORTED with what is missing.
 */
const ready: CliCommand = {
  words: ['ready'],
  summary: 'exit 0 when the daemon answers and supports the VPN feature here (a readiness check)',
  operations: ['GET /features'],
  async run(ctx) {
    const features = json(await send(ctx.endpoint(), 'GET', '/features')) as { supported: boolean; missing: string[] };
    if (ctx.json) ctx.io.out(JSON.stringify({ ready: features.supported, missing: features.missing }));
    if (features.supported) {
      if (!ctx.json) ctx.io.out('ready');
      return;
    }
    throw new ServiceError(501, 'VPNSVC_ERROR_NOT_SUPPORTED', -95, `not ready: ${features.missing.join('; ')}`);
  },
};

export const hostCommands: CliCommand[] = [status, ...REST.map(restCommand), metrics, ready];
