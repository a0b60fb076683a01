/**
 * The connection limits and timeouts on a real listening app (composeDaemon, loopback): what a
 * client without a token can hold, what one with a token keeps, and what no timeout may cut.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { composeDaemon } from '../../../src/daemon/compose.js';
import { TOKENS, testTokenStore } from '../../helpers/app.js';
import { sseFollow, wsFollow } from '../../helpers/follower.js';
import { kernelTestOptions } from '../../helpers/kernel.js';
import { selfSignedCert } from '../../helpers/net.js';

async function listening(t: TestContext, env: Record<string, string>, https?: { cert: Buffer; key: Buffer }) {
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-limits-'));
  writeFileSync(join(dir, 'resolv.conf'), 'nameserver 192.168.1.1\n');
  const daemon = await composeDaemon({
    env: { VPNSVC_DNS_BACKEND: 'file', VPNSVC_RESOLV_CONF: join(dir, 'resolv.conf'), ...env },
    stateDir: join(dir, 'state'),
    tokens: testTokenStore(),
    ...(https && { https }),
  });
  const conns: Conn[] = [];
  t.after(async () => {
    // A connection left open would hold app.close() up.
    for (const c of conns) c.socket.destroy();
    await daemon.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await daemon.app.listen({ host: '127.0.0.1', port: 0 });
  const port = (daemon.app.server.address() as AddressInfo).port;
  const opened = async (socket: Socket) => {
    const c = await track(socket);
    conns.push(c);
    return c;
  };
  return {
    app: daemon.app as FastifyInstance,
    port,
    open: () => opened(connect({ host: '127.0.0.1', port })),
    openTls: () => opened(tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false })),
  };
}

/** A raw client connection that records what it got and when the server closed it. */
interface Conn {
  socket: Socket;
  text(): string;
  /** ms after opening at which the server closed it; undefined while open */
  closedAfter(): number | undefined;
  closed: Promise<void>;
  /** Sends `req` and waits (bounded) for one whole response to it. */
  exchange(req: string, ms?: number): Promise<string>;
}

function track(socket: Socket): Promise<Conn> {
  const t0 = Date.now();
  let text = '';
  let closedAt: number | undefined;
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (text += d));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) =>
    socket.once('close', () => {
      closedAt = Date.now();
      resolve();
    }),
  );
  const conn: Conn = {
    socket,
    text: () => text,
    closedAfter: () => (closedAt === undefined ? undefined : closedAt - t0),
    closed,
    exchange: async (req, ms = 3000) => {
      const from = text.length;
      socket.write(req);
      const deadline = Date.now() + ms;
      for (;;) {
        const got = text.slice(from);
        const end = got.indexOf('\r\n\r\n');
        const length = /^HTTP\/1\.1 (204|304) /.test(got) ? '0' : /content-length: (\d+)/i.exec(got)?.[1];
        if (end >= 0 && length !== undefined && got.length >= end + 4 + Number(length)) return got;
        if (Date.now() > deadline || closedAt !== undefined) throw new Error(`no whole response; got ${JSON.stringify(got)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(conn));
    socket.once('secureConnect', () => resolve(conn));
    socket.once('error', reject);
  });
}

const get = (path: string, token?: string) =>
  `GET ${path} HTTP/1.1\r\nHost: localhost\r\n${token ? `Authorization: Bearer ${token}\r\n` : ''}\r\n`;

/** A request with the admin token and, when given, a JSON body. */
function call(method: string, path: string, body?: unknown): string {
  const text = body === undefined ? '' : JSON.stringify(body);
  const type = body === undefined ? '' : 'Content-Type: application/json\r\n';
  return `${method} ${path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${TOKENS.admin}\r\n${type}Content-Length: ${text.length}\r\n\r\n${text}`;
}

async function until(pred: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('connection limits', () => {
  test('a slow body after a 401 is not waited for: the connection is closed', async (t) => {
    const { open } = await listening(t, {});
    const c = await open();
    c.socket.write('POST /interfaces HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{');
    const drip = setInterval(() => c.socket.writable && c.socket.write(' '), 100);
    try {
      await until(() => c.closedAfter() !== undefined, 3000, 'the daemon closes the connection');
    } finally {
      clearInterval(drip);
    }
    assert.match(c.text(), /^HTTP\/1\.1 401 /);
    assert.match(c.text(), /connection: close/i);
    t.diagnostic(`401 and closed ${c.closedAfter()} ms after the request began`);
  });

  test('without a token: at most M connections, the oldest closed first; an authenticated one stays', async (t) => {
    const { app, open } = await listening(t, { VPNSVC_MAX_UNAUTHENTICATED_CONNECTIONS: '4', VPNSVC_AUTH_TIMEOUT_MS: '60000' });
    const authed = await open();
    assert.match(await authed.exchange(get('/interfaces', TOKENS.admin)), /^HTTP\/1\.1 200 /);
    const first: Conn[] = [];
    for (let i = 0; i < 4; i++) first.push(await open());
    await until(() => app.connectionLimits.unauthenticatedCount === 4, 2000, 'four unauthenticated connections');
    const later: Conn[] = [];
    for (let i = 0; i < 3; i++) {
      later.push(await open());
      // One at a time, so "oldest" is well defined.
      await until(() => first[i]?.closedAfter() !== undefined, 2000, `connection ${i + 1} closed by connection ${i + 5}`);
    }
    await sleep(100);
    assert.equal(first[3]?.closedAfter(), undefined, 'the newest of the first four stays');
    assert.ok(
      later.every((c) => c.closedAfter() === undefined),
      'the newer ones stay',
    );
    assert.equal(authed.closedAfter(), undefined);
    assert.match(await authed.exchange(get('/interfaces', TOKENS.admin)), /^HTTP\/1\.1 200 /, 'the authenticated connection still works');
    assert.equal(app.connectionLimits.closed.overCap, 3);
  });

  test('a connection that presents no valid token within the auth timeout is closed; a valid token, even one lacking a privilege, keeps it', async (t) => {
    const { app, open, port } = await listening(t, { VPNSVC_AUTH_TIMEOUT_MS: '300', VPNSVC_KEEP_ALIVE_TIMEOUT_MS: '60000' });
    const ws = await wsFollow(`ws://127.0.0.1:${port}/events`, TOKENS.admin);
    let wsClosed = false;
    void ws.closed.then(() => (wsClosed = true));
    const idle = await open();
    const publicOnly = await open();
    assert.match(await publicOnly.exchange(get('/health')), /^HTTP\/1\.1 200 /);
    const wrong = await open();
    const refused = await wrong.exchange(get('/interfaces', 'not-a-token'));
    assert.match(refused, /^HTTP\/1\.1 401 /);
    const lacking = await open();
    // The vpnservice-only token lacks internet, which reading packets needs: 403, yet a valid token.
    assert.match(await lacking.exchange(get('/interfaces/vsnone0/packet?timeoutMs=0', TOKENS.vpnservice)), /^HTTP\/1\.1 403 /);
    const admin = await open();
    assert.match(await admin.exchange(get('/interfaces', TOKENS.admin)), /^HTTP\/1\.1 200 /);

    await until(() => [idle, publicOnly, wrong].every((c) => c.closedAfter() !== undefined), 3000, 'the three without a token closed');
    await sleep(400);
    assert.equal(lacking.closedAfter(), undefined, 'a valid token lacking a privilege keeps its connection');
    assert.equal(admin.closedAfter(), undefined);
    assert.equal(wsClosed, false, 'a WebSocket opened with a token stays');
    ws.close();
    assert.match(await admin.exchange(get('/interfaces', TOKENS.admin)), /^HTTP\/1\.1 200 /);
    assert.ok(app.connectionLimits.closed.authTimeout >= 2, JSON.stringify(app.connectionLimits.closed));
    t.diagnostic(`closed after: idle ${idle.closedAfter()} ms, /health only ${publicOnly.closedAfter()} ms, 401 ${wrong.closedAfter()} ms`);
  });

  test('at most VPNSVC_MAX_CONNECTIONS in all: one more is refused at once', async (t) => {
    const { app, open } = await listening(t, { VPNSVC_MAX_CONNECTIONS: '6', VPNSVC_MAX_UNAUTHENTICATED_CONNECTIONS: '2' });
    const held: Conn[] = [];
    for (let i = 0; i < 6; i++) {
      const c = await open();
      assert.match(await c.exchange(get('/interfaces', TOKENS.admin)), /^HTTP\/1\.1 200 /);
      held.push(c);
    }
    const extra = await open();
    await until(() => extra.closedAfter() !== undefined, 2000, 'the seventh connection refused');
    assert.equal(extra.text(), '');
    assert.ok(held.every((c) => c.closedAfter() === undefined));
    assert.equal(app.connectionLimits.closed.overMaxConnections, 1);
  });

  test('TLS: the limits follow the TLS socket over its TCP one', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-limits-tls-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const { cert, key } = selfSignedCert(dir);
    const https = { cert: readFileSync(cert), key: readFileSync(key) };
    const { openTls: tls } = await listening(t, { VPNSVC_AUTH_TIMEOUT_MS: '300', VPNSVC_KEEP_ALIVE_TIMEOUT_MS: '60000' }, https);
    const authed = await tls();
    assert.match(await authed.exchange(get('/interfaces', TOKENS.admin)), /^HTTP\/1\.1 200 /);
    const idle = await tls();
    await until(() => idle.closedAfter() !== undefined, 3000, 'the TLS connection without a token closed');
    await sleep(300);
    assert.equal(authed.closedAfter(), undefined);
    assert.match(await authed.exchange(get('/interfaces', TOKENS.admin)), /^HTTP\/1\.1 200 /);
  });
});

describe('timeouts', () => {
  const short = {
    VPNSVC_HEADERS_TIMEOUT_MS: '200',
    VPNSVC_REQUEST_TIMEOUT_MS: '300',
    VPNSVC_KEEP_ALIVE_TIMEOUT_MS: '200',
    VPNSVC_CONNECTION_TIMEOUT_MS: '300',
    VPNSVC_AUTH_TIMEOUT_MS: '60000',
    // No keepalive comments during the test: the stream stays silent.
    VPNSVC_SSE_KEEPALIVE_MS: '600000',
  };

  test('headers, body and keep-alive are bounded, each by its own timeout', async (t) => {
    const { open } = await listening(t, { ...short, VPNSVC_CONNECTION_TIMEOUT_MS: '60000' });
    const headers = await open();
    headers.socket.write('GET /interfaces HTTP/1.1\r\nHost: localhost\r\n');
    const body = await open();
    body.socket.write(
      `POST /interfaces HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${TOKENS.admin}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`,
    );
    const idle = await open();
    assert.match(await idle.exchange(get('/interfaces', TOKENS.admin)), /^HTTP\/1\.1 200 /);
    await until(() => [headers, body, idle].every((c) => c.closedAfter() !== undefined), 3000, 'all three closed');
    t.diagnostic(
      `closed after: headers ${headers.closedAfter()} ms, body ${body.closedAfter()} ms, idle keep-alive ${idle.closedAfter()} ms`,
    );
  });

  test('the event stream (SSE and WebSocket) outlives every timeout', async (t) => {
    const { port } = await listening(t, short);
    const auth = { authorization: `Bearer ${TOKENS.admin}` };
    const sse = await sseFollow(`http://127.0.0.1:${port}/events`, auth);
    await sse.until((s) => s.includes('hello'));
    const ws = await wsFollow(`ws://127.0.0.1:${port}/events`, TOKENS.admin);
    await ws.until((m) => m[0]?.type === 'hello');
    let sseEnded = false;
    void sse.ended.then(() => (sseEnded = true));
    let wsClosed = false;
    void ws.closed.then(() => (wsClosed = true));
    await sleep(1500);
    assert.equal(sseEnded, false, 'the SSE stream is still open');
    assert.equal(wsClosed, false, 'the WebSocket is still open');
    sse.close();
    ws.close();
  });

  test('a packet read waiting longer than the idle timeout is answered', kernelTestOptions(), async (t) => {
    const { open } = await listening(t, short);
    const c = await open();
    assert.match(await c.exchange(call('POST', '/interfaces', { name: 'vslimit0' })), /^HTTP\/1\.1 201 /);
    assert.match(
      await c.exchange(call('PATCH', '/interfaces/vslimit0', { localIp: '10.77.0.1', remoteIp: '10.77.0.2' })),
      /^HTTP\/1\.1 200 /,
    );
    assert.match(await c.exchange(call('POST', '/interfaces/vslimit0/apply')), /^HTTP\/1\.1 200 /);
    // The kernel's own packets on a new link (router solicitations) may come first: read past them.
    let answer = '';
    let waited = 0;
    for (let i = 0; i < 8 && !/^HTTP\/1\.1 504 /.test(answer); i++) {
      const t0 = Date.now();
      answer = await c.exchange(get('/interfaces/vslimit0/packet?timeoutMs=1200', TOKENS.admin), 5000);
      waited = Date.now() - t0;
    }
    assert.match(answer, /^HTTP\/1\.1 504 /, 'the read timed out on its own terms');
    assert.ok(waited >= 1100, `answered after ${waited} ms`);
    assert.match(await c.exchange(call('DELETE', '/interfaces/vslimit0')), /^HTTP\/1\.1 204 /);
  });
});
