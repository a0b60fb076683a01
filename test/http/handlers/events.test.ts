/**
 * GET /events: every interface change is an event with its reason; a follower that reconnects
 * catches up; WebSocket, SSE and JSON forms; counters; slow followers are cut off.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { TOKENS, build } from '../../helpers/app.js';
import { assertContract } from '../../helpers/contract.js';
import { sseEvents, sseFollow, wsFollow } from '../../helpers/follower.js';
import { ip, kernelTestOptions, link } from '../../helpers/kernel.js';

async function listening(t: Parameters<typeof build>[0]) {
  const built = await build(t);
  await built.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = built.app.server.address() as { port: number };
  return { ...built, base: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}` };
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
    assert.deepEqual(msgs.map((e) => `${e.type} ${e.interface ?? ''}`.trim()), [
      'hello',
      'interface.created vsev0',
      'interface.updated vsev0',
      'settings.applied vsev0',
      'session.changed vsev0',
      'interface.removed vsev0',
      'interface.replaced vsev1',
      'interface.removed vsev1',
    ]);
    const created = msgs[1]!;
    assert.deepEqual(created.reason, { source: 'api', token: 'admin', requestId: 'cli-42' });
    assert.equal(typeof created.data?.index, 'number', 'the kernel index is in the event');
    assert.deepEqual(msgs[3]!.data, { localIp: '10.71.0.1', remoteIp: '10.71.0.2', mtu: 1400 });
    assert.equal(msgs[6]!.data?.replaced, 'vsev0');
    const seqs = msgs.slice(1).map((e) => e.seq);
    assert.deepEqual(seqs, seqs.map((_, i) => seqs[0]! + i), 'consecutive sequence numbers');
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
    assert.deepEqual(msgs.map((e) => e.type), ['hello', 'interface.updated', 'settings.applied', 'interface.removed']);
    assert.deepEqual(msgs.slice(1).map((e) => e.seq), [created!.seq + 1, created!.seq + 2, created!.seq + 3]);

    // A position from another daemon run: told so, then the whole retained history.
    const other = await wsFollow(`${ws}/events?since=3&epoch=00000000-0000-0000-0000-000000000000`, TOKENS.admin);
    t.after(() => other.close());
    const lost = await other.until((m) => m.length >= 6);
    assert.equal(lost[1]!.type, 'events.lost');
    assert.deepEqual(lost.slice(2).map((e) => e.type), ['interface.created', 'interface.updated', 'settings.applied', 'interface.removed']);
  });
});

describe('events forms and limits', () => {
  test('SSE: ids are epoch:seq, Last-Event-ID resumes; JSON: the backlog per the contract', async (t) => {
    const { app, engine, base, request } = await listening(t);
    for (let i = 0; i < 5; i++) engine.events.emit('test.tick', { data: { i } });
    const epoch = engine.events.epoch;

    const sse = await sseFollow(`${base}/events`, { ...auth, 'last-event-id': `${epoch}:3` });
    t.after(() => sse.close());
    assert.equal(sse.status, 200);
    assert.equal(sse.headers['content-type'], 'text/event-stream; charset=utf-8');
    let text = await sse.until((s) => s.includes(`id: ${epoch}:5\n`));
    assert.deepEqual(sseEvents(text).map((e) => e.seq), [5, 4, 5]);
    assert.match(text, new RegExp(`^event: hello\\n`));
    assert.match(text, new RegExp(`id: ${epoch}:4\\nevent: test.tick\\ndata: `));
    engine.events.emit('test.live');
    text = await sse.until((s) => s.includes('test.live'));
    assert.match(text, new RegExp(`id: ${epoch}:6\\nevent: test.live`));
    sse.close();

    const backlog = await request.get('/events?since=2&types=test').set(auth);
    assert.equal(backlog.status, 200);
    assertContract('followEvents', backlog);
    assert.equal(backlog.body.lost, false);
    assert.deepEqual(backlog.body.events.map((e: { seq: number }) => e.seq), [3, 4, 5, 6]);
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
    const { engine, ws, request } = await listening(t);
    const baseline = engine.events.subscriberCount;
    const f = await wsFollow(`${ws}/events`, TOKENS.admin);
    // Stop reading: the kernel buffers fill, then the daemon's send buffer.
    (f.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const payload = 'x'.repeat(4000);
    const rss0 = process.memoryUsage().rss;
    let sent = 0;
    // Cut off = unsubscribed: nothing more is queued for it (its close handshake waits for it).
    const cutOff = () => engine.events.subscriberCount === baseline;
    for (; sent < 50_000 && !cutOff(); sent++) {
      engine.events.emit('test.flood', { data: { payload } });
      if (sent % 200 === 0) await new Promise((r) => setImmediate(r));
    }
    const grewMiB = (process.memoryUsage().rss - rss0) / 2 ** 20;
    (f.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    const closed = await f.closed;
    assert.equal(closed.code, 1013);
    t.diagnostic(`cut off after ${sent} events of 4 KB (${((sent * 4) / 1024).toFixed(1)} MiB offered); rss grew ${grewMiB.toFixed(1)} MiB`);
    assert.ok(sent < 50_000, 'the follower was cut off');
    const metrics = await request.get('/metrics').set(auth);
    assert.match(metrics.text, /vpnsvc_event_followers_dropped_total\{transport="websocket"\} 1/);
  });

  test('daemon.stopping ends followers: WebSocket close 1001, SSE after that last event', async (t) => {
    const { app, engine, base, ws } = await listening(t);
    const f = await wsFollow(`${ws}/events`, TOKENS.admin);
    const sse = await sseFollow(`${base}/events`, auth);
    await sse.until((s) => s.includes('hello'));
    engine.events.emit('daemon.stopping', { data: { signal: 'SIGTERM' } });
    assert.equal((await f.closed).code, 1001);
    await sse.ended;
    assert.match(await sse.until(() => true), /event: daemon.stopping/);
    await app.close();
  });
});

describe('events for other domains\' operations', () => {
  test('a successful call of an operation that emits nothing itself becomes its event; one that emits is left alone', async (t) => {
    const { default: Fastify } = await import('fastify');
    const { VpnEngine } = await import('../../../src/engine/engine.js');
    const { operationsPlugin, requestIdOptions } = await import('../../../src/http/plugins/request-context.js');
    const engine = new VpnEngine({ missing: () => [] }, { info: () => undefined, warn: () => undefined });
    const app = Fastify({ ...requestIdOptions });
    t.after(() => app.close());
    await app.register(operationsPlugin, { context: { engine } as never });
    app.post('/routes', { config: { operationId: 'addRoutes' } }, async (_req, reply) => reply.code(201).send({ added: 20 }));
    app.put('/firewall', { config: { operationId: 'blockNetworks' } }, async () => {
      engine.events.emit('firewall.blocked', { data: { native: true } });
      return {};
    });
    app.delete('/dns/:server', { config: { operationId: 'removeDnsServer' } }, async (_req, reply) => reply.code(404).send({}));
    const routes = Array.from({ length: 20 }, (_, i) => ({ address: `10.${i}.0.0`, prefix: 16 }));
    await app.inject({ method: 'POST', url: '/routes', payload: routes, headers: { 'x-request-id': 'bulk-1' } });
    await app.inject({ method: 'PUT', url: '/firewall', payload: {} });
    await app.inject({ method: 'DELETE', url: '/dns/10.0.0.53' });
    const events = engine.events.after(0).events;
    assert.deepEqual(events.map((e) => e.type), ['route.added', 'firewall.blocked']);
    assert.deepEqual(events[0]!.reason, { source: 'api', requestId: 'bulk-1' });
    assert.equal(events[0]!.data?.count, 20);
    assert.equal((events[0]!.data?.items as unknown[]).length, 16, 'a batch is summarized');
    assert.deepEqual(events[1]!.data, { native: true }, 'the domain\'s own event, not a copy');
  });
});

test('packet streams attached and detached are events, unless the data plane emits its own', async (t) => {
  const { default: Fastify } = await import('fastify');
  const { default: fastifyWebsocket } = await import('@fastify/websocket');
  const { VpnEngine } = await import('../../../src/engine/engine.js');
  const { operationsPlugin, requestIdOptions } = await import('../../../src/http/plugins/request-context.js');
  const { default: WebSocket } = await import('ws');
  const engine = new VpnEngine({ missing: () => [] }, { info: () => undefined, warn: () => undefined });
  const app = Fastify({ ...requestIdOptions });
  t.after(() => app.close());
  await app.register(fastifyWebsocket);
  await app.register(operationsPlugin, { context: { engine } as never });
  app.route({
    method: 'GET',
    url: '/interfaces/:name/stream',
    handler: (_req, reply) => reply.code(426).send(),
    wsHandler: (socket, req) => {
      // vsown0 stands for a data plane that reports its own attach.
      if ((req.params as { name: string }).name === 'vsown0') engine.events.emit('stream.attached', { interface: 'vsown0', data: { own: true } });
      socket.on('message', (m) => socket.send(m));
    },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  for (const name of ['vsstream0', 'vsown0']) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/interfaces/${name}/stream`, { headers: { 'x-request-id': `attach-${name}` } });
    await new Promise((r) => ws.once('open', r));
    ws.close(1000);
    await new Promise((r) => ws.once('close', r));
  }
  // At shutdown a packet stream is closed with 1001 "going away".
  const mark = engine.events.headSeq;
  const last = new WebSocket(`ws://127.0.0.1:${port}/interfaces/vslast0/stream`);
  await new Promise((r) => last.once('open', r));
  const closed = new Promise<number>((r) => last.once('close', (code) => r(code)));
  await new Promise((r) => setTimeout(r, 20));
  engine.events.emit('daemon.stopping');
  assert.equal(await closed, 1001);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(
    engine.events.after(mark).events.filter((e) => e.interface !== 'vsown0').map((e) => `${e.type} ${e.interface ?? ''}`),
    ['stream.attached vslast0', 'daemon.stopping ', 'stream.detached vslast0'],
  );
  const events = engine.events.after(0).events.slice(0, 4).map((e) => ({ type: e.type, interface: e.interface, data: e.data, reason: e.reason }));
  assert.deepEqual(events, [
    { type: 'stream.attached', interface: 'vsstream0', data: { protocol: null }, reason: { source: 'api', requestId: 'attach-vsstream0' } },
    { type: 'stream.detached', interface: 'vsstream0', data: { code: 1000 }, reason: { source: 'stream', detail: 'WebSocket closed with 1000' } },
    { type: 'stream.attached', interface: 'vsown0', data: { own: true }, reason: { source: 'api', requestId: 'attach-vsown0' } },
    { type: 'stream.detached', interface: 'vsown0', data: { code: 1000 }, reason: { source: 'stream', detail: 'WebSocket closed with 1000' } },
  ]);
});
