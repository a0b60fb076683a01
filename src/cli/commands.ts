/**
 * Every CLI command. REST commands are one table entry each: the words, the operation
 * (METHOD /path as in openapi.yaml), how arguments become path, query and body, and a view.
 */

import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Endpoint, json, ServiceError, send, UsageError } from './client.js';
import type { CliCommand, CliContext, OptionSpec, Parsed } from './command.js';
import { followEvents } from './follow-events.js';
import { PROFILE_COMMANDS, withFileForm } from './profile-commands.js';
import * as view from './render.js';
import { tokenCommands } from './token-commands.js';

type Obj = Record<string, unknown>;

interface RestSpec {
  words: string;
  op: string;
  args?: string;
  summary: string;
  options?: OptionSpec;
  /** Path parameters; `{name}` defaults to the active interface. */
  params?: (p: Parsed, ctx: CliContext) => Record<string, string> | Promise<Record<string, string>>;
  body?: (p: Parsed) => unknown;
  query?: (p: Parsed) => Record<string, string | number | undefined>;
  show?: (result: unknown, p: Parsed) => string;
  /** Minimum / maximum positional count. */
  arity?: [number, number];
  /** With more than one positional: another operation taking them all at once (a batch). */
  bulk?: { op: string; body: (p: Parsed) => unknown };
}

// ---- argument helpers ----------------------------------------------------------------------

export function parseCidr(text: string): { address: string; prefix: number } {
  const m = /^([^/\s]+)(?:\/(\d{1,3}))?$/.exec(text);
  if (!m || !isIP(m[1]!)) throw new UsageError(`"${text}" is not an address/prefix (10.0.0.0/8, fd00::/64)`);
  const prefix = m[2] !== undefined ? Number(m[2]) : isIP(m[1]!) === 4 ? 32 : 128;
  return { address: m[1]!, prefix };
}

function integer(text: string, what: string): number {
  if (!/^\d{1,10}$/.test(text)) throw new UsageError(`${what}: "${text}" is not a number`);
  return Number(text);
}

const list = (v: unknown): string[] =>
  (Array.isArray(v) ? v : v === undefined ? [] : [v])
    .flatMap((x) => String(x).split(','))
    .map((s) => s.trim())
    .filter(Boolean);

async function activeName(ctx: CliContext): Promise<string> {
  const ifs = json(await send(ctx.endpoint(), 'GET', '/interfaces')) as Obj[];
  if (!ifs?.length)
    throw new ServiceError(404, 'VPNSVC_ERROR_NO_SUCH_FILE', -2, 'no VPN interface is active (start one with "vpnsvc up NAME")');
  return String(ifs[0]!.name);
}

/** `[name]` as first positional, else --interface, else the active interface. */
const nameParam = async (p: Parsed, ctx: CliContext) => ({
  name: (p.positionals[0] ?? (p.values.interface as string | undefined)) || (await activeName(ctx)),
});

const settingsOptions: OptionSpec = {
  mtu: { type: 'string' },
  session: { type: 'string' },
  local: { type: 'string' },
  remote: { type: 'string' },
  local6: { type: 'string' },
  blocking: { type: 'boolean' },
  'non-blocking': { type: 'boolean' },
};

/** PATCH body from flags; "none" clears a staged address. */
function settingsBody(p: Parsed): Obj {
  const v = p.values;
  const ip = (x: unknown) => (x === 'none' ? null : x);
  const mtu = v.mtu === undefined ? undefined : Number(v.mtu);
  if (mtu !== undefined && !Number.isInteger(mtu)) throw new UsageError(`--mtu: "${v.mtu}" is not a number`);
  if (v.blocking && v['non-blocking']) throw new UsageError('--blocking and --non-blocking exclude each other');
  const body: Obj = {
    ...(mtu !== undefined && { mtu }),
    ...(v.session !== undefined && { session: v.session }),
    ...(v.local !== undefined && { localIp: ip(v.local) }),
    ...(v.remote !== undefined && { remoteIp: ip(v.remote) }),
    ...(v.local6 !== undefined && { localIp6: ip(v.local6) }),
    ...(v.blocking && { blocking: true }),
    ...(v['non-blocking'] && { blocking: false }),
  };
  return body;
}

const cidrs = (p: Parsed) => p.positionals.map(parseCidr);

// ---- the table -----------------------------------------------------------------------------

const REST: RestSpec[] = [
  // Interfaces (vpnsvc_init, deinit, getters, settings, update_settings)
  {
    words: 'init',
    op: 'POST /interfaces',
    args: '<name>',
    arity: [1, 1],
    summary: 'create the VPN interface (vpnsvc_init); prints the actual name',
    body: (p) => ({ name: p.positionals[0] }),
    show: (r) => view.iface(r as Obj),
  },
  { words: 'list', op: 'GET /interfaces', summary: 'the active VPN interface, if any', show: view.interfaces },
  {
    words: 'show',
    op: 'GET /interfaces/{name}',
    args: '[name]',
    arity: [0, 1],
    summary: 'one interface as the kernel has it',
    params: nameParam,
    show: (r) => view.iface(r as Obj),
  },
  {
    words: 'set',
    op: 'PATCH /interfaces/{name}',
    args: '[name]',
    arity: [0, 1],
    options: settingsOptions,
    summary:
      'stage MTU/addresses, set session and blocking (--mtu --local --remote --local6 ADDR/PREFIX --session --blocking|--non-blocking)',
    params: nameParam,
    body: settingsBody,
    show: (r) => view.iface(r as Obj),
  },
  {
    words: 'apply',
    op: 'POST /interfaces/{name}/apply',
    args: '[name]',
    arity: [0, 1],
    summary: 'apply staged settings and bring the link up (vpnsvc_update_settings)',
    params: nameParam,
    show: (r) => view.iface(r as Obj),
  },
  {
    words: 'down',
    op: 'DELETE /interfaces/{name}',
    args: '[name]',
    arity: [0, 1],
    summary: 'remove the VPN interface and what the service added for it (vpnsvc_deinit)',
    params: nameParam,
    show: () => 'removed',
  },
  { words: 'session', op: 'GET /session', summary: "the active interface's session name" },
  {
    words: 'session set',
    op: 'PUT /session',
    args: '<session-name>',
    arity: [1, 1],
    summary: 'set the session name',
    body: (p) => ({ name: p.positionals[0] }),
  },
  // Host
  { words: 'features', op: 'GET /features', summary: 'what this host supports (TUN, CAP_NET_ADMIN, nft, DNS backend)' },
  { words: 'health', op: 'GET /health', summary: 'is the daemon alive' },
  { words: 'spec', op: 'GET /openapi.yaml', summary: 'print the OpenAPI document' },
  // Routes
  {
    words: 'route add',
    op: 'POST /routes',
    args: '<address/prefix>...',
    arity: [1, Infinity],
    summary: 'route networks into the tunnel (several: one all-or-nothing batch)',
    body: (p) => (p.positionals.length === 1 ? parseCidr(p.positionals[0]!) : cidrs(p)),
    show: () => 'added',
  },
  { words: 'route list', op: 'GET /routes', summary: 'routes through the tunnel' },
  { words: 'route policy', op: 'GET /routes/policy', summary: "the full tunnel's table, mark and policy rules" },
  {
    words: 'route del',
    op: 'DELETE /routes/{address}/{prefix}',
    args: '<address/prefix>...',
    arity: [1, Infinity],
    summary: 'remove routes (several: one all-or-nothing batch)',
    params: (p) => {
      const c = parseCidr(p.positionals[0]!);
      return { address: c.address, prefix: String(c.prefix) };
    },
    bulk: { op: 'DELETE /routes', body: cidrs },
    show: () => 'removed',
  },
  // DNS
  {
    words: 'dns add',
    op: 'POST /dns',
    args: '<server>',
    arity: [1, 1],
    summary: 'add a DNS server for the tunnel',
    body: (p) => ({ server: p.positionals[0] }),
    show: () => 'added',
  },
  { words: 'dns list', op: 'GET /dns', summary: 'DNS servers, search domains and the resolver backend' },
  {
    words: 'dns del',
    op: 'DELETE /dns/{server}',
    args: '<server>',
    arity: [1, 1],
    summary: 'remove a DNS server',
    params: (p) => ({ server: p.positionals[0]! }),
    show: () => 'removed',
  },
  {
    words: 'dns domain add',
    op: 'POST /dns/domains',
    args: '<domain>',
    arity: [1, 1],
    summary: 'add a search/routing domain (~. for all names)',
    body: (p) => ({ domain: p.positionals[0] }),
    show: () => 'added',
  },
  {
    words: 'dns domain del',
    op: 'DELETE /dns/domains/{domain}',
    args: '<domain>',
    arity: [1, 1],
    summary: 'remove a search/routing domain',
    params: (p) => ({ domain: p.positionals[0]! }),
    show: () => 'removed',
  },
  // Firewall and protect
  {
    words: 'firewall block',
    op: 'PUT /firewall',
    summary: 'kill switch: block all but the listed networks (--allow-vpn, --allow-original, --original-interface)',
    options: {
      'allow-vpn': { type: 'string', multiple: true },
      'allow-original': { type: 'string', multiple: true },
      'original-interface': { type: 'string' },
    },
    body: (p) => ({
      allowVpn: list(p.values['allow-vpn']).map(parseCidr),
      allowOriginal: list(p.values['allow-original']).map(parseCidr),
      ...(p.values['original-interface'] !== undefined && { originalInterface: p.values['original-interface'] }),
    }),
  },
  { words: 'firewall unblock', op: 'DELETE /firewall', summary: 'lift every restriction', show: () => 'unblocked' },
  { words: 'firewall show', op: 'GET /firewall', summary: 'the block as read back from the kernel' },
  {
    words: 'protect',
    op: 'POST /protect',
    args: '<pid> <fd> <interface>',
    arity: [3, 3],
    summary: 'bind socket <fd> of process <pid> to <interface> (e.g. eth0) so it bypasses the tunnel (vpnsvc_protect)',
    body: (p) => ({ pid: integer(p.positionals[0]!, 'pid'), fd: integer(p.positionals[1]!, 'fd'), interface: p.positionals[2] }),
    show: () => 'protected',
  },
];

function restCommand(s: RestSpec): CliCommand {
  const singlePath = s.op.split(' ')[1]!;
  return {
    words: s.words.split(' '),
    ...(s.args && { args: s.args }),
    summary: s.summary,
    options: { ...s.options, ...(singlePath.includes('{name}') && { interface: { type: 'string', short: 'i' } }) },
    operations: [s.op, ...(s.bulk ? [s.bulk.op] : [])],
    async run(ctx, p) {
      const [min, max] = s.arity ?? [0, 0];
      if (p.positionals.length < min || p.positionals.length > max) {
        throw new UsageError(`usage: vpnsvc ${s.words}${s.args ? ` ${s.args}` : ''}`);
      }
      const bulk = s.bulk && p.positionals.length > 1 ? s.bulk : undefined;
      const [method, path] = (bulk ? bulk.op : s.op).split(' ') as [string, string];
      // Arguments are checked before anything is sent (the active-interface look-up included).
      const body = bulk ? bulk.body(p) : s.body?.(p);
      const params = s.params && !bulk ? await s.params(p, ctx) : {};
      const url = path.replace(/\{(\w+)\}/g, (_, k: string) => encodeURIComponent(params[k] ?? ''));
      const res = await send(ctx.endpoint(), method, url, { ...(body !== undefined && { body }), ...(s.query && { query: s.query(p) }) });
      const isJson = (res.headers['content-type'] ?? '').includes('json');
      if (res.status < 400 && res.body.length === 0) {
        // 204: nothing to show but the outcome.
        if (!ctx.json && s.show) ctx.io.out(s.show(undefined, p));
        return;
      }
      if (!isJson && res.status < 400) {
        ctx.io.out(res.body.toString('utf8').trimEnd());
        return;
      }
      const result = json(res);
      if (ctx.json) {
        ctx.io.out(JSON.stringify(result, null, 2));
        return;
      }
      ctx.io.out(s.show ? s.show(result, p) : view.generic(result));
    },
  };
}

// ---- compound and streaming commands -------------------------------------------------------

const up: CliCommand = {
  words: ['up'],
  args: '[name]',
  options: settingsOptions,
  summary: 'one step: create the interface, stage settings and apply them (with --local and --remote)',
  operations: ['POST /interfaces', 'PATCH /interfaces/{name}', 'POST /interfaces/{name}/apply'],
  async run(ctx, p) {
    if (p.positionals.length > 1) throw new UsageError('usage: vpnsvc up [name] [--local IP --remote IP] [--mtu N] [--session S]');
    const ep = ctx.endpoint();
    let iface = json(await send(ep, 'POST', '/interfaces', { body: { name: p.positionals[0] ?? 'vpn0' } })) as Obj;
    const name = encodeURIComponent(String(iface.name));
    const settings = settingsBody(p);
    if (Object.keys(settings).length) iface = json(await send(ep, 'PATCH', `/interfaces/${name}`, { body: settings })) as Obj;
    const staged = (iface.staged ?? {}) as Obj;
    if ((staged.localIp ?? iface.localIp) && (staged.remoteIp ?? iface.remoteIp)) {
      iface = json(await send(ep, 'POST', `/interfaces/${name}/apply`)) as Obj;
    }
    ctx.io.out(ctx.json ? JSON.stringify(iface, null, 2) : view.iface(iface));
  },
};

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
  summary: 'interface, addresses, routes, DNS, firewall and counters at a glance; --watch SECONDS refreshes',
  options: { watch: { type: 'string', short: 'w' } },
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

const events: CliCommand = {
  words: ['events'],
  summary: 'follow live events (reconnects and resumes); --since N, --types a,b, --counters MS, --no-follow',
  operations: ['GET /events'],
  options: { since: { type: 'string' }, types: { type: 'string' }, counters: { type: 'string' }, 'no-follow': { type: 'boolean' } },
  run: (ctx, p) =>
    followEvents(ctx, {
      ...(p.values.since !== undefined && { since: Number(p.values.since) }),
      ...(p.values.types !== undefined && { types: String(p.values.types) }),
      countersMs: p.values.counters === undefined ? 0 : Number(p.values.counters),
      follow: !p.values['no-follow'],
    }),
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

const read: CliCommand = {
  words: ['read'],
  args: '[name]',
  summary: 'read one packet (vpnsvc_read): raw bytes to a pipe, hex on a terminal; --timeout MS',
  operations: ['GET /interfaces/{name}/packet'],
  options: { timeout: { type: 'string', short: 't' }, interface: { type: 'string', short: 'i' } },
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
  options: { interface: { type: 'string', short: 'i' } },
  async run(ctx, p) {
    const [a, b] = p.positionals;
    const file = b ?? a;
    if (!file || p.positionals.length > 2) throw new UsageError('usage: vpnsvc write [name] <file|->');
    const { name } = await nameParam({ ...p, positionals: b ? [a!] : [] }, ctx);
    const bytes = file === '-' ? await ctx.io.stdin() : await readFile(file);
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
    const { bridgeMain } = await import('../bridge/bridge.js');
    return bridgeMain(p.positionals);
  },
};

export const COMMANDS: CliCommand[] = [
  withFileForm(up),
  status,
  ...REST.map(restCommand).map((c) => (c.words.join(' ') === 'apply' ? withFileForm(c) : c)),
  events,
  metrics,
  read,
  write,
  bridge,
  ...tokenCommands,
  ...PROFILE_COMMANDS,
];

/** The longest run of words that names a command. */
export function findCommand(argv: string[]): { command: CliCommand; rest: string[] } | undefined {
  let best: CliCommand | undefined;
  for (const c of COMMANDS) {
    if (c.words.every((w, i) => argv[i] === w) && (!best || c.words.length > best.words.length)) best = c;
  }
  return best && { command: best, rest: argv.slice(best.words.length) };
}
