/**
 * GET /events: every interface change is an event with its reason; a follower that reconnects
 * catches up; WebSocket, SSE and JSON forms; counters; slow followers are cut off.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { FOLLOWER_CLOSE_GRACE_MS } from '../../../src/http/handlers/events.js';
import { type Built, build, TOKENS, USER_RESOLV_CONF } from '../../helpers/app.js';
import { assertContract, assertError } from '../../helpers/contract.js';
import { sseEvents, sseFollow, wsFollow } from '../../helpers/follower.js';
import { ip, kernelTestOptions, link } from '../../helpers/kernel.js';

/** build(t)'s environment (the file DNS backend on a scratch resolv.conf) plus follower settings. */
function followerEnv(t: TestContext, settings: Record<string, string>): NodeJS.ProcessEnv {
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-events-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'resolv.conf'), USER_RESOLV_CONF);
  return { VPNSVC_DNS_BACKEND: 'file', VPNSVC_RESOLV_CONF: join(dir, 'resolv.conf'), ...settings };
}

async function listening(t: TestContext, settings?: Record<string, string>) {
  const built = await build(t, settings ? { env: followerEnv(t, settings) } : {});
  await built.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = built.app.server.address() as { port: number };
  return { ...built, port, base: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}` };
}

const auth = { authorization: `Bearer ${TOKENS.admin}` };

describe('events of the interface lifecycle', kernelTestOptions(), () => {
  after(() => {
    for (const name of ['vsev0', 'vsev1']) if (link(name)) ip('link', 'delete', name);
  });

  test('each change is an event with its reason: the token id and the request id', async (t) => {
    const { admin, ws } = await listening(t);
    const f = await wsFollow(`${ws}/events`, TOKENS.admin);
    t.after(() => f.close());
    await admin.post('/interfaces').set('x-request-id', 'cli-42').send({ name: 'vsev0' }).expect(201);
    await admin.patch('/interfaces/vsev0').send({ localIp: '10.71.0.1', remoteIp: '10.71.0.2', mtu: 1400 }).expect(200);
    await admin.post('/interfaces/vsev0/apply').expect(200);
    await admin.put('/session').send({ name: 'office' }).expect(200);
    await admin.post('/interfaces').send({ name: 'vsev1' }).expect(201);
    await admin.delete('/interfaces/vsev1').expect(204);
    const msgs = await f.until((m) => m.filter((e) => e.type === 'interface.removed').length === 2);
    assert.deepEqual(
      msgs.map((e) => `${e.type} ${e.interface ?? ''}`.trim()),
      [
        'hello',
        'interface.created vsev0',
        'interface.updated vsev0',
        'settings.applied vsev0',
        'session.changed vsev0',
        'interface.removed vsev0',
        'interface.replaced vsev1',
        'interface.removed vsev1',
      ],
    );
    const created = msgs[1]!;
    assert.deepEqual(created.reason, { source: 'api', token: 'admin', requestId: 'cli-42' });
    assert.equal(typeof created.data?.index, 'number', 'the kernel index is in the event');
    assert.deepEqual(msgs[3]!.data, { localIp: '10.71.0.1', remoteIp: '10.71.0.2', mtu: 1400, localIp6: null });
    assert.equal(msgs[6]!.data?.replaced, 'vsev0');
    const seqs = msgs.slice(1).map((e) => e.seq);
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => seqs[0]! + i),
      'consecutive sequence numbers',
    );
    for (const e of msgs.slice(1)) assert.equal(typeof e.reason?.requestId, 'string');
  });

  test('a follower that reconnects with its last seq gets what it missed, in order', async (t) => {
    const { admin, ws } = await listening(t);
    const first = await wsFollow(`${ws}/events`, TOKENS.admin);
    await admin.post('/interfaces').send({ name: 'vsev0' }).expect(201);
    const [, created] = await first.until((m) => m.length >= 2);
    first.close();
    await first.closed;
    // Missed while away:
    await admin.patch('/interfaces/vsev0').send({ localIp: '10.71.0.1', remoteIp: '10.71.0.2' }).expect(200);
    await admin.post('/interfaces/vsev0/apply').expect(200);
    await admin.delete('/interfaces/vsev0').expect(204);

    const again = await wsFollow(`${ws}/events?since=${created!.seq}&epoch=${created!.epoch}`, TOKENS.admin);
    t.after(() => again.close());
    const msgs = await again.until((m) => m.length >= 4);
    assert.deepEqual(
      msgs.map((e) => e.type),
      ['hello', 'interface.updated', 'settings.applied', 'interface.removed'],
    );
    assert.deepEqual(
      msgs.slice(1).map((e) => e.seq),
      [created!.seq + 1, created!.seq + 2, created!.seq + 3],
    );

    // A position from another daemon run: told so, then the whole retained history.
    const other = await wsFollow(`${ws}/events?since=3&epoch=00000000-0000-0000-0000-000000000000`, TOKENS.admin);
    t.after(() => other.close());
    const lost = await other.until((m) => m.length >= 6);
    assert.equal(lost[1]!.type, 'events.lost');
    assert.deepEqual(
      lost.slice(2).map((e) => e.type),
      ['interface.created', 'interface.updated', 'settings.applied', 'interface.removed'],
    );
  });
});

describe('events forms and limits', () => {
  test('SSE: ids are epoch:seq, Last-Event-ID resumes; JSON: the backlog per the contract', async (t) => {
    const { app, vpnsvc, base, request } = await listening(t);
    // Straight onto the bus: the transport is under test here, not the engine.
    for (let i = 0; i < 5; i++) vpnsvc.events.emit('session.changed', { interface: 'vsev9', data: { session: `tick ${i}` } });
    const epoch = vpnsvc.events.epoch;

    const sse = await sseFollow(`${base}/events`, { ...auth, 'last-event-id': `${epoch}:3` });
    t.after(() => sse.close());
    assert.equal(sse.status, 200);
    assert.equal(sse.headers['content-type'], 'text/event-stream; charset=utf-8');
    let text = await sse.until((s) => s.includes(`id: ${epoch}:5\n`));
    assert.deepEqual(
      sseEvents(text).map((e) => e.seq),
      [5, 4, 5],
    );
    assert.match(text, /^event: hello\n/);
    assert.match(text, new RegExp(`id: ${epoch}:4\\nevent: session.changed\\ndata: `));
    vpnsvc.events.emit('firewall.unblocked', { data: {} });
    text = await sse.until((s) => s.includes('firewall.unblocked'));
    assert.match(text, new RegExp(`id: ${epoch}:6\\nevent: firewall.unblocked`));
    sse.close();

    const backlog = await request.get('/events?since=2&types=session,firewall').set(auth);
    assert.equal(backlog.status, 200);
    assertContract('followEvents', backlog);
    assert.equal(backlog.body.lost, false);
    assert.deepEqual(
      backlog.body.events.map((e: { seq: number }) => e.seq),
      [3, 4, 5, 6],
    );
    const none = await request.get('/events?types=interface').set(auth);
    assert.deepEqual(none.body.events, []);
    void app;
  });

  test('bad query values get 400; no token gets 401', async (t) => {
    const { request } = await listening(t);
    for (const q of ['since=-1', 'since=abc', 'countersMs=99999999', 'unknown=1']) {
      const res = await request.get(`/events?${q}`).set(auth);
      assert.equal(res.status, 400, q);
      assert.equal(res.body.error, 'VPNSVC_ERROR_INVALID_PARAMETER');
    }
    assert.equal((await request.get('/events')).status, 401);
  });

  test('counters every countersMs, with each interface', async (t) => {
    const { ws } = await listening(t);
    const f = await wsFollow(`${ws}/events?countersMs=200`, TOKENS.admin);
    t.after(() => f.close());
    const t0 = Date.now();
    const msgs = await f.until((m) => m.filter((e) => e.type === 'counters').length >= 3, 3000);
    assert.ok(Date.now() - t0 >= 400, 'not faster than asked');
    const c = msgs.find((e) => e.type === 'counters')!;
    assert.ok(Array.isArray(c.data?.interfaces));
    assert.equal(c.seq, msgs[0]!.seq, 'counters carry the last event seq');
  });

  test('a follower that stops reading is cut off with 1013; the daemon does not buffer without bound', async (t) => {
    const { vpnsvc, ws, request } = await listening(t);
    const baseline = vpnsvc.events.subscriberCount;
    const f = await wsFollow(`${ws}/events`, TOKENS.admin);
    // Stop reading: the kernel buffers fill, then the daemon's send buffer.
    (f.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const payload = 'x'.repeat(4000);
    const rss0 = process.memoryUsage().rss;
    let sent = 0;
    // Cut off = unsubscribed: nothing more is queued for it (its close handshake waits for it).
    const cutOff = () => vpnsvc.events.subscriberCount === baseline;
    for (; sent < 50_000 && !cutOff(); sent++) {
      // Any type will do; this one can carry 4 KB.
      vpnsvc.events.emit('interface.removed', { interface: 'vsev9', data: { index: 0, cleanupFailures: [payload] } });
      if (sent % 200 === 0) await new Promise((r) => setImmediate(r));
    }
    const grewMiB = (process.memoryUsage().rss - rss0) / 2 ** 20;
    (f.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    const closed = await f.closed;
    assert.equal(closed.code, 1013);
    t.diagnostic(
      `cut off after ${sent} events of 4 KB (${((sent * 4) / 1024).toFixed(1)} MiB offered); rss grew ${grewMiB.toFixed(1)} MiB`,
    );
    assert.ok(sent < 50_000, 'the follower was cut off');
    const metrics = await request.get('/metrics').set(auth);
    assert.match(metrics.text, /vpnsvc_event_followers_dropped_total\{transport="websocket"\} 1/);
  });

  test('daemon.stopping ends followers: WebSocket close 1001, SSE after that last event', async (t) => {
    const { app, vpnsvc, base, ws } = await listening(t);
    const f = await wsFollow(`${ws}/events`, TOKENS.admin);
    const sse = await sseFollow(`${base}/events`, auth);
    await sse.until((s) => s.includes('hello'));
    vpnsvc.events.emit('daemon.stopping', { data: { signal: 'SIGTERM' } });
    assert.equal((await f.closed).code, 1001);
    await sse.ended;
    assert.match(await sse.until(() => true), /event: daemon.stopping/);
    await app.close();
  });
});

/** A raw client that sends its request and never reads: its socket stays paused. */
function stalledFollower(port: number, kind: 'sse' | 'websocket'): Promise<Socket> {
  const headers =
    kind === 'sse'
      ? 'Accept: text/event-stream\r\n'
      : `Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n`;
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => {
      socket.pause();
      socket.write(`GET /events HTTP/1.1\r\nHost: vpnsvc\r\nAuthorization: Bearer ${TOKENS.admin}\r\n${headers}\r\n`);
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

async function until(what: string, pred: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    assert.ok(Date.now() < deadline, `timed out waiting until ${what}`);
    await sleep(20);
  }
}

/** 4 KB events straight onto the bus until `done`; returns how many it took. */
async function flood(vpnsvc: Built['vpnsvc'], done: () => boolean): Promise<number> {
  const payload = 'x'.repeat(4000);
  let sent = 0;
  for (; sent < 50_000 && !done(); sent++) {
    vpnsvc.events.emit('interface.removed', { interface: 'vsev9', data: { index: 0, cleanupFailures: [payload] } });
    if (sent % 200 === 0) await new Promise((r) => setImmediate(r));
  }
  return sent;
}

/** A WebSocket upgrade the daemon refuses: its status and error body. */
function refusedUpgrade(url: string, token: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
    ws.once('open', () => reject(new Error('the upgrade was accepted')));
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    ws.once('error', () => undefined);
  });
}

describe('followers end cleanly whatever the client does', () => {
  const KEEPALIVE_MS = 50;

  test('an SSE follower that stops reading is dropped, its connection destroyed, and the daemon outlives the keepalive ticks after', async (t) => {
    const { app, vpnsvc, port, admin } = await listening(t, { VPNSVC_SSE_KEEPALIVE_MS: String(KEEPALIVE_MS) });
    const baseline = vpnsvc.events.subscriberCount;
    const client = await stalledFollower(port, 'sse');
    t.after(() => client.destroy());
    await until('the follower is admitted', () => app.followers.streams.size === 1);
    const sent = await flood(vpnsvc, () => vpnsvc.events.subscriberCount === baseline);
    assert.ok(sent < 50_000, 'the follower was cut off');
    // Destroyed, not only ended: the daemon lets go while the client still reads nothing.
    await until('the stream is gone', () => app.followers.count === 0 && app.followers.streams.size === 0);
    // Keepalive ticks after the drop: a write to the ended stream would take this process down.
    await sleep(KEEPALIVE_MS * 6);
    const metrics = await admin.get('/metrics');
    assert.match(metrics.text, /vpnsvc_event_followers_dropped_total\{transport="sse"\} 1\n/);
    assert.match(metrics.text, /vpnsvc_event_followers 0\n/);
    const closed = new Promise((r) => client.once('close', r));
    client.on('data', () => undefined);
    client.resume();
    await closed;
  });

  test('a WebSocket follower that never reads its close frame loses its connection after the grace', async (t) => {
    const { app, vpnsvc, port } = await listening(t);
    const baseline = vpnsvc.events.subscriberCount;
    const client = await stalledFollower(port, 'websocket');
    t.after(() => client.destroy());
    await until('the follower is admitted', () => app.followers.sockets.size === 1);
    await flood(vpnsvc, () => vpnsvc.events.subscriberCount === baseline);
    assert.equal(app.followers.count, 1, 'told to go (1013), it keeps its place for the grace');
    await until(
      'the socket is destroyed',
      () => app.followers.count === 0 && app.followers.sockets.size === 0,
      FOLLOWER_CLOSE_GRACE_MS * 3,
    );
  });

  test('a keepalive keeps a quiet SSE stream moving', async (t) => {
    const { base } = await listening(t, { VPNSVC_SSE_KEEPALIVE_MS: String(KEEPALIVE_MS) });
    const sse = await sseFollow(`${base}/events`, auth);
    t.after(() => sse.close());
    const text = await sse.until((s) => s.split(': keepalive\n\n').length > 3);
    assert.match(text, /^event: hello\n/);
  });

  test('caps per token and in total: 507 with the error body before any stream or upgrade; a place given back is taken again', async (t) => {
    const { app, base, ws, request } = await listening(t, { VPNSVC_MAX_FOLLOWERS: '3', VPNSVC_MAX_FOLLOWERS_PER_TOKEN: '2' });
    const first = await wsFollow(`${ws}/events`, TOKENS.admin);
    const second = await sseFollow(`${base}/events`, auth);
    t.after(() => second.close());

    // A stream would never end: the timeout turns a missing cap into a failure, not a hang.
    const sse = await request.get('/events').set(auth).set('accept', 'text/event-stream').timeout(3000);
    assertError(sse, 507, 'VPNSVC_ERROR_OUT_OF_MEMORY', /token "admin" has 2 event followers.*VPNSVC_MAX_FOLLOWERS_PER_TOKEN/);
    assertContract('followEvents', sse);
    const upgrade = await refusedUpgrade(`${ws}/events`, TOKENS.admin);
    assertError(upgrade, 507, 'VPNSVC_ERROR_OUT_OF_MEMORY', /VPNSVC_MAX_FOLLOWERS_PER_TOKEN/);
    assert.equal((await request.get('/events').set(auth)).status, 200, 'the JSON backlog is always served');

    const other = await wsFollow(`${ws}/events`, TOKENS.vpnservice);
    t.after(() => other.close());
    const total = await request
      .get('/events')
      .set('authorization', `Bearer ${TOKENS.internet}`)
      .set('accept', 'text/event-stream')
      .timeout(3000);
    assertError(total, 507, 'VPNSVC_ERROR_OUT_OF_MEMORY', /3 event followers are connected.*VPNSVC_MAX_FOLLOWERS\)/);
    assert.equal(app.followers.count, 3);

    first.close();
    await first.closed;
    await until('the place is given back', () => app.followers.count === 2);
    const again = await wsFollow(`${ws}/events`, TOKENS.internet);
    t.after(() => again.close());
    assert.equal((await again.until((m) => m.length >= 1))[0]!.type, 'hello');
  });

  test('HEAD in stream mode answers the headers and ends', async (t) => {
    const { app, request } = await listening(t);
    const res = await request.head('/events').set(auth).set('accept', 'text/event-stream').timeout(3000);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.equal(app.followers.count, 0);
  });
});

describe('events of the other domains', kernelTestOptions(), () => {
  after(() => {
    if (link('vsev2')) ip('link', 'delete', 'vsev2');
  });

  test('routes and DNS are events from the engine, with the values as the engine holds them', async (t) => {
    const { admin, ws } = await listening(t);
    await admin.post('/interfaces').send({ name: 'vsev2' }).expect(201);
    await admin.patch('/interfaces/vsev2').send({ localIp: '10.74.0.1', remoteIp: '10.74.0.2' }).expect(200);
    await admin.post('/interfaces/vsev2/apply').expect(200);
    const f = await wsFollow(`${ws}/events?types=route,dns,socket`, TOKENS.admin);
    t.after(() => f.close());
    await admin.post('/routes').set('x-request-id', 'route-1').send({ address: 'FD00:0:0:7::', prefix: 64 }).expect(201);
    const bulk = Array.from({ length: 20 }, (_, i) => ({ address: `10.${100 + i}.0.0`, prefix: 16 }));
    await admin.post('/routes').send(bulk).expect(201);
    await admin.delete('/routes/fd00:0:0:7::/64').expect(204);
    await admin.post('/dns').send({ server: 'FD00:0::53' }).expect(201);
    await admin.delete('/dns/fd00::53').expect(204);
    await admin.post('/routes').send({ address: '10.200.0.0', prefix: 16 }).expect(201);
    await admin.post('/routes').send({ address: '10.200.0.0', prefix: 16 }).expect(400);
    const msgs = await f.until((m) => m.filter((e) => e.type === 'route.added').length === 3);
    const events = msgs.filter((e) => e.type !== 'hello');
    assert.deepEqual(
      events.map((e) => e.type),
      ['route.added', 'route.added', 'route.removed', 'dns.added', 'dns.removed', 'route.added'],
    );
    assert.deepEqual(events[0]!.data, { count: 1, routes: [{ address: 'fd00:0:0:7::', prefix: 64 }] }, 'canonical, not as sent');
    assert.deepEqual(events[0]!.reason, { source: 'api', token: 'admin', requestId: 'route-1' });
    assert.equal(events[0]!.interface, 'vsev2');
    assert.equal(events[1]!.data?.count, 20);
    assert.equal((events[1]!.data as { routes: unknown[] }).routes.length, 16, 'a batch is summarized');
    assert.equal(events[1]!.data?.truncated, true);
    assert.deepEqual(events[3]!.data, { server: 'fd00::53', servers: ['fd00::53'], domains: [] });
    assert.deepEqual(events[4]!.data, { server: 'fd00::53', servers: [], domains: [] });
  });
});
