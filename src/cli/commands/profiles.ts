/**
 * The CLI's configuration-document and profile commands: `apply -f FILE [--dry-run]
 * [--confirm-within N]` (also `up -f FILE`), `config show|confirm`, `profile
 * up|list|show|save|rm NAME`. The work is in functions that take already-parsed options, a
 * client and an output; the CliCommand objects at the end only adapt them to the program.
 * Files are YAML or JSON (JSON is YAML); they go to the daemon as JSON.
 */
import { readFile } from 'node:fs/promises';
import { parse, stringify } from 'yaml';
import { type Endpoint, json, send, UsageError } from '../client.js';
import type { CliCommand, CliContext, OptionSpec, Parsed } from '../command.js';

type Obj = Record<string, unknown>;

/** One JSON request to the daemon; an error answer throws ServiceError. */
export interface ConfigClient {
  request(method: string, path: string, opts?: { body?: unknown; query?: Record<string, string | number | undefined> }): Promise<unknown>;
}

export function endpointClient(ep: Endpoint): ConfigClient {
  return { request: async (method, path, opts = {}) => json(await send(ep, method, path, opts)) };
}

export interface Output {
  out(text: string): void;
  /** Print what the service answered, as JSON, instead of the readable form. */
  json: boolean;
}

export interface ApplyOptions {
  dryRun?: boolean;
  /** Seconds: revert unless `vpnsvc config confirm` comes in time. */
  confirmWithinS?: number;
}

interface Change {
  what: string;
  from: string | null;
  to: string | null;
}
interface Step {
  op: string;
  summary: string;
  changes: Change[];
}
interface Result {
  dryRun: boolean;
  applied: boolean;
  steps: Step[];
  confirm: { deadline: string; withinS: number } | null;
}

/** The plan as a diff: one block per step, `+` added, `-` removed, `~` changed. */
export function renderPlan(result: Result): string {
  if (result.steps.length === 0) return 'no changes: the host already matches the document';
  const lines: string[] = [];
  for (const step of result.steps) {
    lines.push(`${step.op}: ${step.summary}`);
    for (const c of step.changes) {
      if (c.from === null) lines.push(`  + ${c.what}${c.to !== null && !c.what.endsWith(c.to) ? ` ${c.to}` : ''}`);
      else if (c.to === null) lines.push(`  - ${c.what}${!c.what.endsWith(c.from) ? ` ${c.from}` : ''}`);
      else lines.push(`  ~ ${c.what}: ${c.from} -> ${c.to}`);
    }
  }
  if (result.dryRun) lines.push('', 'dry run: nothing was changed');
  else if (result.confirm) {
    lines.push('', `applied; reverts at ${result.confirm.deadline} unless confirmed: vpnsvc config confirm`);
  } else lines.push('', 'applied');
  return lines.join('\n');
}

function show(out: Output, result: unknown, readable: (r: never) => string): void {
  out.out(out.json ? JSON.stringify(result, null, 2) : readable(result as never));
}

const applyQuery = (o: ApplyOptions) => ({
  ...(o.dryRun && { dryRun: 'true' }),
  ...(o.confirmWithinS !== undefined && { confirmWithinS: o.confirmWithinS }),
});

/** A document or profile file, YAML or JSON. */
export async function readDocumentFile(file: string): Promise<Obj> {
  let value: unknown;
  try {
    value = parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new UsageError(`${file}: not a document (a mapping of interface, routes, dns, firewall)`);
  return value as Obj;
}

/** `apply -f FILE` and `up -f FILE`: a profile file's flags are the profile's, not the document's. */
export async function applyFile(client: ConfigClient, out: Output, file: string, options: ApplyOptions): Promise<void> {
  const { alwaysOn: _a, lockdown: _l, ...document } = await readDocumentFile(file);
  show(out, await client.request('PUT', '/config', { body: document, query: applyQuery(options) }), renderPlan);
}

export async function configShow(client: ConfigClient, out: Output): Promise<void> {
  show(out, await client.request('GET', '/config'), (doc: Obj) => stringify(doc).trimEnd());
}

export async function configConfirm(client: ConfigClient, out: Output): Promise<void> {
  await client.request('POST', '/config/confirm');
  if (!out.json) out.out('confirmed: the change stays');
}

export async function profileUp(client: ConfigClient, out: Output, name: string, options: ApplyOptions): Promise<void> {
  show(out, await client.request('POST', `/profiles/${encodeURIComponent(name)}/up`, { query: applyQuery(options) }), renderPlan);
}

export async function profileList(client: ConfigClient, out: Output): Promise<void> {
  show(out, await client.request('GET', '/profiles'), (list: Array<{ name: string; alwaysOn: boolean; lockdown: boolean }>) =>
    list.length === 0
      ? '(no profiles)'
      : list.map((p) => `${p.name}${p.alwaysOn ? '  always-on' : ''}${p.lockdown ? ' lockdown' : ''}`).join('\n'),
  );
}

export async function profileShow(client: ConfigClient, out: Output, name: string): Promise<void> {
  show(out, await client.request('GET', `/profiles/${encodeURIComponent(name)}`), (p: Obj) => stringify(p).trimEnd());
}

export async function profileSave(
  client: ConfigClient,
  out: Output,
  name: string,
  file: string,
  flags: { alwaysOn?: boolean; lockdown?: boolean } = {},
): Promise<void> {
  const profile = { ...(await readDocumentFile(file)), ...flags };
  const saved = await client.request('PUT', `/profiles/${encodeURIComponent(name)}`, { body: profile });
  show(out, saved, () => `saved profile ${name}`);
}

export async function profileRemove(client: ConfigClient, out: Output, name: string): Promise<void> {
  await client.request('DELETE', `/profiles/${encodeURIComponent(name)}`);
  if (!out.json) out.out(`removed profile ${name}`);
}

// ---- the commands ----------------------------------------------------------

const applyOptions: OptionSpec = {
  'dry-run': { type: 'boolean', description: 'show the plan; change nothing' },
  'confirm-within': {
    type: 'string',
    value: '<seconds>',
    description: 'revert unless "vpnsvc config confirm" comes within so many seconds',
  },
};
const fileOption: OptionSpec = { file: { type: 'string', short: 'f', value: '<file>', description: 'a YAML or JSON document' } };

function parsedApply(p: Parsed): ApplyOptions {
  const within = p.values['confirm-within'];
  if (within !== undefined && !/^\d{1,4}$/.test(String(within)))
    throw new UsageError(`--confirm-within: "${within}" is not a number of seconds`);
  return { ...(p.values['dry-run'] === true && { dryRun: true }), ...(within !== undefined && { confirmWithinS: Number(within) }) };
}

const io = (ctx: CliContext): Output => ({ out: (t) => ctx.io.out(t), json: ctx.json });
const client = (ctx: CliContext) => endpointClient(ctx.endpoint());

function one(p: Parsed, usage: string): string {
  if (p.positionals.length !== 1) throw new UsageError(`usage: vpnsvc ${usage}`);
  return p.positionals[0]!;
}

/** `command` plus a file form: with -f FILE it applies the document (PUT /config) instead. */
export function withFileForm(command: CliCommand): CliCommand {
  return {
    ...command,
    summary: `${command.summary}; with -f FILE: make the host match a YAML/JSON document (--dry-run shows the plan, --confirm-within N)`,
    options: { ...command.options, ...fileOption, ...applyOptions },
    operations: [...(command.operations ?? []), 'PUT /config'],
    async run(ctx, p) {
      const file = p.values.file;
      if (typeof file !== 'string') return command.run(ctx, p);
      if (p.positionals.length > 0)
        throw new UsageError(`usage: vpnsvc ${command.words.join(' ')} -f FILE [--dry-run] [--confirm-within N]`);
      await applyFile(client(ctx), io(ctx), file, parsedApply(p));
    },
  };
}

export const profileCommands: CliCommand[] = [
  {
    words: ['config', 'show'],
    summary: 'the whole VPN as one document (YAML), read back from the kernel',
    operations: ['GET /config'],
    run: (ctx) => configShow(client(ctx), io(ctx)),
  },
  {
    words: ['config', 'confirm'],
    summary: 'keep a change applied with --confirm-within (cancels its revert)',
    operations: ['POST /config/confirm'],
    run: (ctx) => configConfirm(client(ctx), io(ctx)),
  },
  {
    words: ['profile', 'list'],
    summary: 'the saved profiles',
    operations: ['GET /profiles'],
    run: (ctx) => profileList(client(ctx), io(ctx)),
  },
  {
    words: ['profile', 'show'],
    args: '<name>',
    summary: 'one saved profile (YAML)',
    operations: ['GET /profiles/{name}'],
    run: (ctx, p) => profileShow(client(ctx), io(ctx), one(p, 'profile show <name>')),
  },
  {
    words: ['profile', 'save'],
    args: '<name> -f FILE',
    summary: 'save a YAML/JSON document as a profile (--always-on, --lockdown)',
    options: {
      ...fileOption,
      'always-on': { type: 'boolean', description: 'apply this profile whenever the daemon starts' },
      lockdown: { type: 'boolean', description: 'with --always-on: block traffic outside the VPN until it is up' },
    },
    operations: ['PUT /profiles/{name}'],
    run: (ctx, p) => {
      const name = one(p, 'profile save <name> -f FILE');
      if (typeof p.values.file !== 'string') throw new UsageError('usage: vpnsvc profile save <name> -f FILE');
      const flags = {
        ...(p.values['always-on'] === true && { alwaysOn: true }),
        ...(p.values.lockdown === true && { lockdown: true }),
      };
      return profileSave(client(ctx), io(ctx), name, p.values.file, flags);
    },
  },
  {
    words: ['profile', 'rm'],
    args: '<name>',
    summary: 'remove a saved profile (what it applied stays)',
    operations: ['DELETE /profiles/{name}'],
    run: (ctx, p) => profileRemove(client(ctx), io(ctx), one(p, 'profile rm <name>')),
  },
  {
    words: ['profile', 'up'],
    args: '<name>',
    summary: 'apply a saved profile (--dry-run shows the plan, --confirm-within N)',
    options: applyOptions,
    operations: ['POST /profiles/{name}/up'],
    run: (ctx, p) => profileUp(client(ctx), io(ctx), one(p, 'profile up <name>'), parsedApply(p)),
  },
];
