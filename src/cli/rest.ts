/**
 * REST commands as table entries: the words, the operation (METHOD /path as in openapi.yaml),
 * how arguments become path, query and body, and a view. Shared argument helpers live here too.
 */
import { isIP } from 'node:net';
import { json, ServiceError, send, UsageError } from './client.js';
import type { CliCommand, CliContext, OptionSpec, Parsed } from './command.js';
import * as view from './render.js';

export type Obj = Record<string, unknown>;

export interface RestSpec {
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

/** address/prefix; a bare address is one host (/32, /128) unless `requirePrefix`. */
export function parseCidr(text: string, requirePrefix = false): { address: string; prefix: number } {
  const m = /^([^/\s]+)(?:\/(\d{1,3}))?$/.exec(text);
  if (!m || !isIP(m[1]!)) throw new UsageError(`"${text}" is not an address/prefix (10.0.0.0/8, fd00::/64)`);
  const family = isIP(m[1]!);
  if (m[2] === undefined && requirePrefix) {
    throw new UsageError(
      `"${text}" has no prefix: write ${text}/${family === 4 ? 32 : 128} for one host, or the network's prefix (10.1.0.0/16)`,
    );
  }
  const prefix = m[2] !== undefined ? Number(m[2]) : family === 4 ? 32 : 128;
  if (prefix > (family === 4 ? 32 : 128)) throw new UsageError(`"${text}": the prefix is at most ${family === 4 ? 32 : 128}`);
  return { address: m[1]!, prefix };
}

export function integer(text: string, what: string): number {
  if (!/^\d{1,10}$/.test(text)) throw new UsageError(`${what}: "${text}" is not a number`);
  return Number(text);
}

export const list = (v: unknown): string[] =>
  (Array.isArray(v) ? v : v === undefined ? [] : [v])
    .flatMap((x) => String(x).split(','))
    .map((s) => s.trim())
    .filter(Boolean);

export async function activeName(ctx: CliContext): Promise<string> {
  const ifs = json(await send(ctx.endpoint(), 'GET', '/interfaces')) as Obj[];
  if (!ifs?.length)
    throw new ServiceError(404, 'VPNSVC_ERROR_NO_SUCH_FILE', -2, 'no VPN interface is active (start one with "vpnsvc up NAME")');
  return String(ifs[0]!.name);
}

/** `[name]` as first positional, else --interface, else the active interface. */
export const nameParam = async (p: Parsed, ctx: CliContext) => ({
  name: (p.positionals[0] ?? (p.values.interface as string | undefined)) || (await activeName(ctx)),
});

export const interfaceOption: OptionSpec = {
  interface: { type: 'string', short: 'i', value: '<name>', description: 'the VPN interface (default: the active one)' },
};

export const settingsOptions: OptionSpec = {
  mtu: { type: 'string', value: '<bytes>', description: 'MTU, 68..65535' },
  session: { type: 'string', value: '<name>', description: 'session name' },
  local: { type: 'string', value: '<ip>', description: 'local IPv4 address ("none" clears it)' },
  remote: { type: 'string', value: '<ip>', description: 'peer IPv4 address ("none" clears it)' },
  local6: { type: 'string', value: '<ip6/prefix>', description: 'local IPv6 address with its prefix, fd00:8::2/64 ("none" clears it)' },
  blocking: { type: 'boolean', description: 'blocking packet reads' },
  'non-blocking': { type: 'boolean', description: 'non-blocking packet reads' },
};

/** PATCH body from flags; "none" clears a staged address. Every value is checked here, before anything is sent. */
export function settingsBody(p: Parsed): Obj {
  const v = p.values;
  const ip = (x: unknown, flag: string) => {
    if (x === 'none') return null;
    if (isIP(String(x)) !== 4) throw new UsageError(`--${flag}: "${x}" is not an IPv4 address (or "none")`);
    return x;
  };
  const ip6 = (x: unknown) => {
    if (x === 'none') return null;
    const m = /^([^/]+)\/(\d{1,3})$/.exec(String(x));
    if (!m || isIP(m[1]!) !== 6 || Number(m[2]) > 128)
      throw new UsageError(`--local6: "${x}" is not an IPv6 address with its prefix, fd00:8::2/64 (or "none")`);
    return x;
  };
  const mtu = v.mtu === undefined ? undefined : Number(v.mtu);
  if (mtu !== undefined && (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535))
    throw new UsageError(`--mtu: "${v.mtu}" is not a number from 68 to 65535`);
  if (v.blocking && v['non-blocking']) throw new UsageError('--blocking and --non-blocking exclude each other');
  const body: Obj = {
    ...(mtu !== undefined && { mtu }),
    ...(v.session !== undefined && { session: v.session }),
    ...(v.local !== undefined && { localIp: ip(v.local, 'local') }),
    ...(v.remote !== undefined && { remoteIp: ip(v.remote, 'remote') }),
    ...(v.local6 !== undefined && { localIp6: ip6(v.local6) }),
    ...(v.blocking && { blocking: true }),
    ...(v['non-blocking'] && { blocking: false }),
  };
  return body;
}

export function restCommand(s: RestSpec): CliCommand {
  const singlePath = s.op.split(' ')[1]!;
  return {
    words: s.words.split(' '),
    ...(s.args && { args: s.args }),
    summary: s.summary,
    options: { ...s.options, ...(singlePath.includes('{name}') && interfaceOption) },
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
