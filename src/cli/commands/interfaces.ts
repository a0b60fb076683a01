/** The VPN interface: vpnsvc_init, deinit, the getters, settings and update_settings, and `up`. */
import { json, send, UsageError } from '../client.js';
import type { CliCommand } from '../command.js';
import { EXIT } from '../program.js';
import * as view from '../render.js';
import { nameParam, type Obj, type RestSpec, restCommand, settingsBody, settingsOptions } from '../rest.js';
import { withFileForm } from './profiles.js';

const REST: RestSpec[] = [
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
    summary: 'stage MTU/addresses, set session and blocking',
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
];

const up: CliCommand = {
  words: ['up'],
  args: '[name]',
  options: {
    ...settingsOptions,
    replace: { type: 'boolean', description: 'replace the active VPN interface (vpnsvc_init tears it down)' },
    offload: { type: 'boolean', description: 'open the TUN in offload mode: 64 KiB super-packets for a gso-framing stream' },
  },
  summary: 'one step: create the interface, stage --local and --remote (both required) and apply them',
  operations: ['POST /interfaces', 'PATCH /interfaces/{name}', 'POST /interfaces/{name}/apply'],
  async run(ctx, p) {
    const usage = 'usage: vpnsvc up [name] --local IP --remote IP [--mtu N] [--session S] [--replace] [--offload]';
    if (p.positionals.length > 1) throw new UsageError(usage);
    // Everything is checked before the first request: a refused `up` changes nothing.
    const settings = settingsBody(p);
    if (!settings.localIp || !settings.remoteIp) throw new UsageError(`--local and --remote are both needed to bring a VPN up (${usage})`);
    const name = p.positionals[0] ?? 'vpn0';
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/.test(name))
      throw new UsageError(`"${name}" is not an interface name (1-15 of A-Za-z0-9_.-, not starting with - or .)`);
    const ep = ctx.endpoint();
    const active = json(await send(ep, 'GET', '/interfaces')) as Obj[];
    if (active.length > 0 && !p.values.replace) {
      ctx.io.err(
        `vpnsvc: the VPN interface "${active[0]!.name}" is active: "vpnsvc up --replace" replaces it, "vpnsvc down" removes it; nothing was changed`,
      );
      return EXIT.active;
    }
    const create = p.values.offload ? { name, offload: true } : { name };
    let iface = json(await send(ep, 'POST', '/interfaces', { body: create })) as Obj;
    const path = `/interfaces/${encodeURIComponent(String(iface.name))}`;
    iface = json(await send(ep, 'PATCH', path, { body: settings })) as Obj;
    iface = json(await send(ep, 'POST', `${path}/apply`)) as Obj;
    ctx.io.out(ctx.json ? JSON.stringify(iface, null, 2) : view.iface(iface));
  },
};

export const interfaceCommands: CliCommand[] = [
  withFileForm(up),
  ...REST.map(restCommand).map((c) => (c.words.join(' ') === 'apply' ? withFileForm(c) : c)),
];
