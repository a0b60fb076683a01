/**
 * The request-context plugin on a small app of its own (the real plugins and engine facade,
 * routes of the test): a caller's X-Request-Id is kept when sane and replaced when not, the id
 * is echoed, events a handler emits carry the token and the request id, and daemon.stopping
 * closes every WebSocket with 1001.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import WebSocket from 'ws';
import { Vpnsvc } from '../../../src/engine/vpnsvc.js';
import requestContextPlugin, { REQUEST_ID_HEADER, requestIdOptions } from '../../../src/http/plugins/request-context.js';
import vpnsvcPlugin from '../../../src/http/plugins/vpnsvc.js';
import { loadSpec } from '../../../src/http/spec.js';
import { FileBackend } from '../../../src/system/resolver/file-backend.js';
import { silentLog, TOKENS, testTokenStore } from '../../helpers/app.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('request context', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-request-context-'));
  // Never applied: the facade needs a resolver, these tests change no DNS.
  const vpnsvc = new Vpnsvc({ support: { missing: () => [] }, log: silentLog, resolver: new FileBackend(join(dir, 'resolv.conf'), dir) });
  let app: FastifyInstance;
  let subscribersBefore: number;

  before(async () => {
    subscribersBefore = vpnsvc.events.subscriberCount;
    app = Fastify({ ...requestIdOptions, logger: false });
    await app.register(fastifyWebsocket);
    await app.register(vpnsvcPlugin, { vpnsvc, spec: loadSpec(), host: { features: async () => assert.fail('unused'), startedAt: 0 } });
    await app.register(requestContextPlugin);
    app.get('/id', async (request) => ({ id: request.id }));
    const emitLater = async () => {
      // The reason must survive an await: it lives in the async context, not in a variable.
      await sleep(1);
      return vpnsvc.events.emit('session.changed', { interface: 'vst9', data: { session: 'office' } }).reason;
    };
    // The token as auth.ts would set it; the reason reads request.token.
    const tokens = testTokenStore();
    const authenticate = async (request: FastifyRequest) => {
      const entry = tokens.verify(String(request.headers.authorization).replace(/^Bearer /, ''));
      if (entry) request.token = entry;
    };
    app.post('/emit', { onRequest: authenticate }, emitLater);
    app.post('/emit-open', emitLater);
    app.get('/ws', { websocket: true }, () => undefined);
    await app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const idOf = async (given?: string) => {
    const res = await app.inject({ method: 'GET', url: '/id', headers: given === undefined ? {} : { [REQUEST_ID_HEADER]: given } });
    assert.equal(res.headers[REQUEST_ID_HEADER], res.json().id, 'the id in force is echoed');
    return res.json().id as string;
  };

  test('a sane X-Request-Id is kept; a missing or insane one is replaced by a UUID; either is echoed', async () => {
    for (const sane of ['cli-42', 'a.b:c_D-9', 'x'.repeat(64)]) assert.equal(await idOf(sane), sane);
    for (const insane of [undefined, '', 'x'.repeat(65), 'has space', 'semi;colon', '%0d%0a', '{"json":1}']) {
      const id = await idOf(insane);
      assert.match(id, UUID, `${JSON.stringify(insane)} replaced`);
    }
    assert.notEqual(await idOf(), await idOf(), 'a fresh id per request');
    const unknown = await app.inject({ method: 'GET', url: '/nowhere', headers: { [REQUEST_ID_HEADER]: 'lost-1' } });
    assert.equal(unknown.statusCode, 404);
    assert.equal(unknown.headers[REQUEST_ID_HEADER], 'lost-1', 'echoed on errors too');
  });

  test('events emitted in a handler carry the reason: the API, the token and the request id', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/emit',
      headers: { authorization: `Bearer ${TOKENS.vpnservice}`, [REQUEST_ID_HEADER]: 'rc-1' },
    });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { source: 'api', token: 'vpnservice', requestId: 'rc-1' });
    const open = await app.inject({ method: 'POST', url: '/emit-open', headers: { [REQUEST_ID_HEADER]: 'rc-2' } });
    assert.deepEqual(open.json(), { source: 'api', requestId: 'rc-2' }, 'no token, no token id');
    const [first, second] = await Promise.all([
      app.inject({ method: 'POST', url: '/emit', headers: { authorization: `Bearer ${TOKENS.admin}`, [REQUEST_ID_HEADER]: 'rc-3' } }),
      app.inject({ method: 'POST', url: '/emit', headers: { authorization: `Bearer ${TOKENS.vpnservice}`, [REQUEST_ID_HEADER]: 'rc-4' } }),
    ]);
    assert.deepEqual(first.json(), { source: 'api', token: 'admin', requestId: 'rc-3' }, 'concurrent requests keep their own');
    assert.deepEqual(second.json(), { source: 'api', token: 'vpnservice', requestId: 'rc-4' });
    const outside = vpnsvc.events.emit('session.changed', { interface: 'vst9', data: { session: 'x' } });
    assert.deepEqual(outside.reason, { source: 'daemon' });
  });

  test('daemon.stopping closes every WebSocket with 1001; other events leave them open', async () => {
    const { port } = app.server.address() as { port: number };
    const open = () =>
      new Promise<WebSocket>((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
        ws.once('open', () => resolve(ws));
        ws.once('error', reject);
      });
    const sockets = await Promise.all([open(), open()]);
    const closed = sockets.map((ws) => new Promise<[number, string]>((r) => ws.once('close', (code, why) => r([code, String(why)]))));
    vpnsvc.events.emit('session.changed', { interface: 'vst9', data: { session: 'y' } });
    await sleep(20);
    assert.ok(sockets.every((ws) => ws.readyState === WebSocket.OPEN));
    vpnsvc.events.emit('daemon.stopping', { data: { signal: 'SIGTERM' } });
    assert.deepEqual(await Promise.all(closed), [
      [1001, 'vpnsvc is shutting down'],
      [1001, 'vpnsvc is shutting down'],
    ]);
  });

  test('the plugin subscribes once and unsubscribes when the app closes', async () => {
    assert.equal(vpnsvc.events.subscriberCount, subscribersBefore + 1);
    const other = Fastify({ ...requestIdOptions, logger: false });
    await other.register(fastifyWebsocket);
    await other.register(vpnsvcPlugin, { vpnsvc, spec: loadSpec(), host: app.host });
    await other.register(requestContextPlugin);
    await other.ready();
    assert.equal(vpnsvc.events.subscriberCount, subscribersBefore + 2);
    await other.close();
    assert.equal(vpnsvc.events.subscriberCount, subscribersBefore + 1);
  });
});
