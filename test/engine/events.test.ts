/**
 * The event bus, and the events themselves: every one the engine and the daemon emit matches the
 * schema openapi.yaml gives its type, and every type the spec lists is emitted by something.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, test } from 'node:test';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { FRAMING_BATCH } from '../../src/dataplane/framing.js';
import { currentReason, EventBus, withReason } from '../../src/engine/events.js';
import { loadSpec, SCHEMA_ID_PREFIX } from '../../src/http/spec.js';
import { JOURNAL_FILE } from '../../src/recovery/journal.js';
import { build } from '../helpers/app.js';
import { spawnDaemon, waitReady } from '../helpers/daemon.js';
import { PacketSocketStub } from '../helpers/fake-tun.js';
import { wsFollow } from '../helpers/follower.js';
import { ip, kernelTestOptions, link } from '../helpers/kernel.js';
import { privateNft } from '../helpers/private-nft.js';

/** A child process holding a listening socket: its pid and the socket's fd. */
async function socketHolder(): Promise<{ pid: number; fd: number; stop(): void }> {
  const code = "const s = require('node:net').createServer().listen(0, '127.0.0.1', () => console.log(s._handle.fd))";
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
  return { pid: child.pid ?? 0, fd: Number(line), stop: () => child.kill('SIGKILL') };
}

const tick = (bus: EventBus) => bus.emit('firewall.unblocked', { data: {} });

test('seq increases by one; the history is bounded and resumes from any retained seq', () => {
  const bus = new EventBus(4);
  for (let i = 1; i <= 6; i++) bus.emit('session.changed', { interface: 'tun0', data: { session: `s${i}` } });
  assert.equal(bus.headSeq, 6);
  assert.equal(bus.oldestSeq, 3);
  assert.deepEqual(
    bus.after(4).events.map((e) => e.seq),
    [5, 6],
  );
  assert.equal(bus.after(4).lost, false);
  assert.deepEqual(bus.after(2, bus.epoch), { lost: false, events: bus.after(2).events });
  assert.deepEqual(
    bus.after(2).events.map((e) => e.seq),
    [3, 4, 5, 6],
  );
  assert.deepEqual(bus.after(6).events, []);
});

test('a position older than the history, ahead of it, or from another run is lost', () => {
  const bus = new EventBus(4);
  for (let i = 0; i < 6; i++) tick(bus);
  for (const [since, epoch] of [
    [1, undefined],
    [0, undefined],
    [7, undefined],
    [5, 'another-run'],
  ] as const) {
    const r = bus.after(since, epoch);
    assert.equal(r.lost, true, `since ${since} epoch ${epoch}`);
    assert.deepEqual(
      r.events.map((e) => e.seq),
      [3, 4, 5, 6],
    );
  }
});

test('the reason comes from the async context, across awaits; the default is the daemon', async () => {
  const bus = new EventBus();
  assert.deepEqual(currentReason(), { source: 'daemon' });
  await withReason({ source: 'api', token: 'ui', requestId: 'r1' }, async () => {
    await new Promise((r) => setTimeout(r, 1));
    tick(bus);
  });
  assert.deepEqual(bus.after(0).events[0]!.reason, { source: 'api', token: 'ui', requestId: 'r1' });
  assert.deepEqual(bus.emit('firewall.unblocked', { data: {}, reason: { source: 'kernel' } }).reason, { source: 'kernel' });
});

test('a throwing listener neither stops the others nor the emitter', () => {
  const bus = new EventBus();
  const errors: unknown[] = [];
  bus.onListenerError = (e) => errors.push(e);
  const seen: number[] = [];
  bus.subscribe(() => {
    throw new Error('boom');
  });
  const off = bus.subscribe((e) => seen.push(e.seq));
  tick(bus);
  off();
  tick(bus);
  assert.deepEqual(seen, [1]);
  assert.equal(errors.length, 2);
});

// ---- the events against openapi.yaml ------------------------------------------------------------

type Json = Record<string, any>;

const schemas = loadSpec().componentSchemas as Record<string, Json>;
// Strict, as the daemon's request validation is: the event schemas must compile there too.
const ajv = new Ajv.default({ strict: true, allErrors: true, keywords: ['example'] });
addFormats.default(ajv);
for (const [name, schema] of Object.entries(schemas)) ajv.addSchema({ ...schema, $id: SCHEMA_ID_PREFIX + name });
const component = (name: string): ValidateFunction => ajv.getSchema(SCHEMA_ID_PREFIX + name)!;

/** Each type the spec lists, with the schema it selects: Event's branches, then the other stream messages. */
const schemaOfType = new Map<string, ValidateFunction>();
for (const branch of schemas.Event!.oneOf as Json[]) {
  for (const type of branch.properties.type.enum as string[]) schemaOfType.set(type, ajv.compile(branch));
}
const EVENT_TYPES = [...schemaOfType.keys()];
const MESSAGE_TYPES: string[] = [];
for (const { $ref } of schemas.EventStreamMessage!.oneOf as Json[]) {
  const name = ($ref as string).slice(SCHEMA_ID_PREFIX.length);
  if (name === 'Event') continue;
  for (const type of schemas[name]!.properties.type.enum as string[]) {
    schemaOfType.set(type, component(name));
    MESSAGE_TYPES.push(type);
  }
}

/** Valid against the schema its type selects (a readable error) and against the whole message schema. */
function assertValid(message: Json, whole: 'Event' | 'EventStreamMessage'): void {
  const own = schemaOfType.get(message.type);
  assert.ok(own, `"${message.type}" is not a type openapi.yaml lists`);
  assert.ok(own(message), `${message.type} does not match its schema: ${ajv.errorsText(own.errors)}\n${JSON.stringify(message)}`);
  const all = component(whole);
  assert.ok(all(message), `${message.type} is not a valid ${whole}: ${ajv.errorsText(all.errors)}\n${JSON.stringify(message)}`);
}

test('the spec lists the types the code relies on, and each selects a data schema', () => {
  for (const type of ['interface.created', 'interface.removed', 'daemon.stopping', 'route.added', 'dns.domain.removed']) {
    assert.ok(EVENT_TYPES.includes(type), type);
  }
  assert.deepEqual(MESSAGE_TYPES, ['hello', 'events.lost', 'counters']);
  assert.equal(new Set(EVENT_TYPES).size, EVENT_TYPES.length);
  const valid = component('Event');
  const base = { seq: 1, epoch: 'e', time: new Date().toISOString(), reason: { source: 'daemon' } };
  assert.ok(valid({ ...base, type: 'daemon.stopping', data: { signal: 'SIGTERM' } }), ajv.errorsText(valid.errors));
  assert.ok(!valid({ ...base, type: 'daemon.stopping', data: { signal: 'SIGTERM', extra: 1 } }), 'unknown data fields are refused');
  assert.ok(!valid({ ...base, type: 'daemon.stopping', data: { index: 1 } }), "another type's data is refused");
  assert.ok(!valid({ ...base, type: 'session.changed', data: { session: 'x' } }), 'interface events name their interface');
  assert.ok(!valid({ ...base, type: 'test.tick', data: {} }), 'types are closed');
});

const VPN = ['vsevt0', 'vsevt1'] as const;
const ORIGINAL = 'vsevo0';

describe('the engine', kernelTestOptions(), () => {
  after(() => {
    for (const name of [ORIGINAL, ...VPN]) if (link(name)) ip('link', 'delete', name);
  });

  test('every event of a whole session through the facade matches its schema', async (t) => {
    // The block goes to a namespace of its own: in the shared test namespace it would drop the
    // traffic of the test files running beside this one. The facade runs the nft it finds in PATH.
    const nft = privateNft('ev');
    const path = process.env.PATH ?? '';
    const realNft = path
      .split(':')
      .map((d) => join(d, 'nft'))
      .find((f) => existsSync(f));
    assert.ok(realNft, 'nft is installed');
    const bin = mkdtempSync(join(tmpdir(), 'vpnsvc-ev-bin-'));
    writeFileSync(join(bin, 'nft'), `#!/bin/sh\nexec ip netns exec '${nft.netns}' '${realNft}' "$@"\n`, { mode: 0o755 });
    process.env.PATH = `${bin}:${path}`;
    let unblock = async (): Promise<void> => undefined;
    t.after(async () => {
      await unblock();
      process.env.PATH = path;
      nft.destroy();
      rmSync(bin, { recursive: true, force: true });
    });
    ip('link', 'add', ORIGINAL, 'type', 'veth', 'peer', 'name', 'vsevo1');
    const { vpnsvc } = await build(t, { defaultRoutes: () => [] });
    unblock = () => vpnsvc.unblockNetworks().catch(() => undefined);

    const [name, next] = VPN;
    await vpnsvc.init(name);
    await vpnsvc.configure(name, { localIp: '10.162.0.1', remoteIp: '10.162.0.2', mtu: 1400, blocking: true, session: 'first' });
    await vpnsvc.updateSettings(name);
    await vpnsvc.setSession('office');
    await vpnsvc.addRoute({ address: 'FD00:162:0:1::', prefix: 64 });
    const bulk = Array.from({ length: 20 }, (_, i) => ({ address: `10.163.${i}.0`, prefix: 24 }));
    assert.equal(await vpnsvc.addRoutes(bulk), 20);
    // The link went down behind the service's back (taking the IPv4 routes): the next apply restores them.
    ip('link', 'set', name, 'down');
    await vpnsvc.updateSettings(name);
    await vpnsvc.removeRoute({ address: 'fd00:162:0:1::', prefix: 64 });
    await vpnsvc.removeRoutes(bulk);
    await vpnsvc.addDnsServer('10.162.0.53');
    await vpnsvc.addSearchDomain('corp.example');
    await vpnsvc.removeSearchDomain('corp.example');
    await vpnsvc.removeDnsServer('10.162.0.53');
    await vpnsvc.blockNetworks({
      allowVpn: [{ address: '10.162.0.0', prefix: 16 }],
      allowOriginal: [{ address: '10.164.0.0', prefix: 24 }],
      originalInterface: ORIGINAL,
    });
    await vpnsvc.unblockNetworks();
    // A socket of another process (the daemon's own are never protected), protected by root.
    const holder = await socketHolder();
    try {
      vpnsvc.protect(holder.pid, holder.fd, ORIGINAL, { uid: 0 });
    } finally {
      holder.stop();
    }
    // The TUN fd handed out over the fd channel (redeemed here directly, as the channel does).
    const me = { pid: process.pid, uid: 0 };
    const ticket = vpnsvc.issueFdTicket({ purpose: 'tun-fd', interface: name }, me);
    const passed = vpnsvc.redeemFdTicket(ticket.ticket, me, undefined).fd;
    assert.ok(passed !== undefined);
    closeSync(passed);
    const lease = vpnsvc.openStream(name, new PacketSocketStub(), FRAMING_BATCH, () => undefined);
    lease.detach('the test is done with it');
    await vpnsvc.init(next);
    await vpnsvc.deinit(next);
    const classic = vpnsvc.events.headSeq;

    // The whole VPN as one document: planned and applied, confirmed; one a route the kernel
    // refuses rolls back; one not confirmed in time reverts.
    ip('link', 'set', ORIGINAL, 'up');
    ip('route', 'add', '10.166.0.0/24', 'dev', ORIGINAL);
    const doc = { interface: { name, localIp: '10.162.0.1', remoteIp: '10.162.0.2' }, routes: [{ address: '10.165.0.0', prefix: 24 }] };
    await vpnsvc.putConfig(doc, { confirmWithinS: 60 });
    vpnsvc.confirmConfig();
    await assert.rejects(vpnsvc.putConfig({ ...doc, routes: [{ address: '10.166.0.0', prefix: 24 }] }));
    await vpnsvc.putConfig({ interface: null }, { confirmWithinS: 1 });
    for (let i = 0; i < 60 && !vpnsvc.events.after(0).events.some((e) => e.type === 'config.reverted'); i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await vpnsvc.putConfig({ interface: null });
    // Split tunnelling by user, set and removed.
    await vpnsvc.setSplitTunnel({ mode: 'exclude', uids: ['65534'] });
    await vpnsvc.clearSplitTunnel();

    const { events } = vpnsvc.events.after(0);
    for (const e of events) assertValid(e, 'Event');
    assert.deepEqual(
      events.filter((e) => e.seq <= classic).map((e) => e.type),
      [
        'interface.created',
        'session.changed',
        'interface.updated',
        'settings.applied',
        'session.changed',
        'route.added',
        'route.added',
        'settings.applied',
        'routes.restored',
        'route.removed',
        'route.removed',
        'dns.added',
        'dns.domain.added',
        'dns.domain.removed',
        'dns.removed',
        'firewall.blocked',
        'firewall.unblocked',
        'socket.protected',
        'interface.fd.passed',
        'stream.attached',
        'stream.detached',
        'interface.removed',
        'interface.replaced',
        'interface.removed',
      ],
    );
    const seen = new Set<string>(events.map((e) => e.type));
    assert.deepEqual(
      EVENT_TYPES.filter((type) => !type.startsWith('daemon.') && !seen.has(type)),
      [],
      'every type the spec lists',
    );
    // The values are the engine's, canonical, not as the caller wrote them.
    assert.deepEqual(events[5]!.data, { count: 1, routes: [{ address: 'fd00:162:0:1::', prefix: 64 }] });
    assert.deepEqual(events[6]!.data, { count: 20, routes: bulk.slice(0, 16), truncated: true });
    assert.equal(events[22]!.interface, next);
  });
});

test('every daemon event, and every message a follower gets, matches its schema', async (t) => {
  // A journal left behind by a run that is gone: the daemon recovers, then reports it.
  const gone = spawnSync('true').pid;
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-events-'));
  mkdirSync(join(dir, 'state'), { mode: 0o700 });
  const journal = {
    pid: gone,
    startedAt: new Date().toISOString(),
    epoch: 'a-run-that-crashed',
    interfaces: [{ name: 'vsevgone0', index: 999_999 }],
  };
  writeFileSync(join(dir, 'state', JOURNAL_FILE), JSON.stringify(journal), { mode: 0o600 });
  const daemon = spawnDaemon({}, dir);
  t.after(() => daemon.stop());
  await waitReady(daemon);

  const backlog = await daemon.call('GET', '/events?since=0');
  assert.equal(backlog.status, 200);
  for (const e of backlog.body.events) assertValid(e, 'Event');
  assert.deepEqual(
    backlog.body.events.map((e: Json) => e.type),
    ['daemon.started', 'daemon.recovered'],
  );
  assert.equal(backlog.body.events[1].data.predecessor.pid, gone);

  const f = await wsFollow(
    `ws+unix://${daemon.socket}:/events?since=0&epoch=00000000-0000-0000-0000-000000000000&countersMs=200`,
    daemon.token(),
  );
  await f.until((m) => m.some((e) => e.type === 'counters'));
  daemon.child.kill('SIGTERM');
  assert.equal(await daemon.exited, 0);
  await f.closed;
  for (const m of f.messages) assertValid(m, 'EventStreamMessage');
  const seen = new Set(f.messages.map((m) => m.type));
  const missing = [...EVENT_TYPES.filter((type) => type.startsWith('daemon.')), ...MESSAGE_TYPES].filter((type) => !seen.has(type));
  assert.deepEqual(missing, [], 'every daemon type and every message the spec lists');
});
