/** Browser sessions over HTTP: the cookie, its Origin check, logout, limits, CORS and the console's headers. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import supertest from 'supertest';
import { composeDaemon } from '../../../src/daemon/compose.js';
import { build, TOKENS, testTokenStore, USER_RESOLV_CONF } from '../../helpers/app.js';
import { selfSignedCert } from '../../helpers/net.js';

function envFor(t: TestContext, extra: Record<string, string> = {}): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-browser-auth-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'resolv.conf'), USER_RESOLV_CONF);
  return { VPNSVC_DNS_BACKEND: 'file', VPNSVC_RESOLV_CONF: join(dir, 'resolv.conf'), ...extra };
}

function cookieOf(res: supertest.Response): string {
  const set = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  const session = set.find((c) => c.startsWith('vpnsvc_session='));
  assert.ok(session, `a session cookie in ${JSON.stringify(set)}`);
  return session.split(';')[0]!;
}

async function login(request: supertest.Agent, token: string = TOKENS.admin): Promise<string> {
  const res = await request.post('/auth/login').send({ token }).expect(200);
  return cookieOf(res);
}

test('login gives an HttpOnly SameSite=Strict cookie that authenticates REST; a wrong token is a 401', async (t) => {
  const { app } = await build(t);
  const request = supertest(app.server) as unknown as supertest.Agent;
  const res = await request.post('/auth/login').send({ token: TOKENS.admin }).expect(200);
  const raw = ([] as string[]).concat(res.headers['set-cookie'] ?? []).join('\n');
  assert.match(raw, /HttpOnly/);
  assert.match(raw, /SameSite=Strict/);
  assert.match(raw, /Path=\//);
  assert.match(raw, /Max-Age=43200/);
  assert.doesNotMatch(raw, /Secure/, 'plain HTTP: no Secure');
  assert.doesNotMatch(raw, new RegExp(TOKENS.admin), 'the cookie is not the token');
  assert.equal(res.body.tokenId, 'admin');
  assert.equal(res.body.via, 'cookie');
  const cookie = cookieOf(res);

  const me = await request.get('/auth/me').set('cookie', cookie).expect(200);
  assert.deepEqual(me.body.privileges, ['vpnservice', 'internet']);
  assert.equal(me.body.via, 'cookie');
  assert.ok(Date.parse(me.body.idleExpiresAt) <= Date.parse(me.body.expiresAt));
  await request.get('/interfaces').set('cookie', cookie).expect(200);
  const bearer = await request.get('/auth/me').set('authorization', `Bearer ${TOKENS.vpnservice}`).expect(200);
  assert.deepEqual(bearer.body, { tokenId: 'vpnservice', privileges: ['vpnservice'], via: 'bearer' });

  const wrong = await request.post('/auth/login').send({ token: 'not-a-token' }).expect(401);
  assert.equal(wrong.body.error, 'VPNSVC_ERROR_PERMISSION_DENIED');
  assert.match(wrong.body.message, /not known/);
  assert.equal(wrong.headers['set-cookie'], undefined);
  const none = await request.get('/interfaces').expect(401);
  assert.match(none.body.message, /sign in at \/ui\//);
});

test('a cookie request from another origin, or a state-changing one without Origin, is a 403 with the error body', async (t) => {
  const { app } = await build(t);
  const request = supertest(app.server) as unknown as supertest.Agent;
  const cookie = await login(request);
  const host = '127.0.0.1:8760';
  const own = `http://${host}`;
  // Same origin: the request reaches the engine (no interface: 404), past authentication.
  await request.put('/session').set('host', host).set('origin', own).set('cookie', cookie).send({ name: 's' }).expect(404);
  for (const [method, path, origin] of [
    ['put', '/session', undefined],
    ['put', '/session', 'http://127.0.0.1:9999'],
    ['put', '/session', 'null'],
    ['get', '/interfaces', 'http://evil.example'],
    ['get', '/events', 'http://127.0.0.1:9999'],
    ['post', '/auth/logout', 'http://evil.example'],
  ] as const) {
    let req = request[method](path).set('host', host).set('cookie', cookie);
    if (origin) req = req.set('origin', origin);
    if (method === 'put') req = req.send({ name: 's' });
    const res = await req.expect(403);
    assert.equal(res.body.error, 'VPNSVC_ERROR_PERMISSION_DENIED', `${method} ${path} from ${origin}`);
    assert.equal(res.body.code, -13);
    assert.match(res.body.message, /own origin/);
  }
  // A GET without Origin (a same-origin navigation or EventSource) is fine; and the session survived the attempts.
  await request.get('/interfaces').set('host', host).set('cookie', cookie).expect(200);
  // The Bearer header is unaffected by Origin: a page cannot set it cross-origin without CORS.
  await request.get('/interfaces').set('origin', 'http://evil.example').set('authorization', `Bearer ${TOKENS.admin}`).expect(200);
  const foreignLogin = await request
    .post('/auth/login')
    .set('host', host)
    .set('origin', 'http://evil.example')
    .send({ token: TOKENS.admin });
  assert.equal(foreignLogin.status, 403, 'no login from a foreign page either');
});

test('logout ends the session and clears the cookie; a read-only token is refused what it lacks', async (t) => {
  const { app } = await build(t);
  const request = supertest(app.server) as unknown as supertest.Agent;
  const cookie = await login(request);
  const other = await login(request);
  const out = await request.post('/auth/logout').set('cookie', cookie).expect(204);
  assert.match(([] as string[]).concat(out.headers['set-cookie'] ?? []).join(''), /vpnsvc_session=;.*Expires=Thu, 01 Jan 1970/);
  const after = await request.get('/interfaces').set('cookie', cookie).expect(401);
  assert.match(after.body.message, /session has ended/);
  await request.get('/interfaces').set('cookie', other).expect(200);
  await request.post('/auth/logout').expect(204);

  const reader = await login(request, TOKENS.internet);
  const denied = await request
    .post('/interfaces')
    .set('cookie', reader)
    .set('origin', 'http://127.0.0.1')
    .set('host', '127.0.0.1')
    .send({ name: 'vpnro0' });
  assert.equal(denied.status, 403);
  assert.match(denied.body.message, /lacks the privilege http:\/\/tizen.org\/privilege\/vpnservice/);
});

test('sessions are bounded: past VPNSVC_MAX_SESSIONS the least recently used ends', async (t) => {
  const { app } = await build(t, { env: envFor(t, { VPNSVC_MAX_SESSIONS: '2' }) });
  const request = supertest(app.server) as unknown as supertest.Agent;
  const a = await login(request);
  const b = await login(request);
  await request.get('/auth/me').set('cookie', a).expect(200);
  await login(request);
  await request.get('/auth/me').set('cookie', b).expect(401);
  await request.get('/auth/me').set('cookie', a).expect(200);
  assert.equal(app.browserAuth.sessions.size, 2);
});

test('CORS is off by default; an allowed origin gets preflights and may use the cookie', async (t) => {
  const closed = await build(t);
  const off = await supertest(closed.app.server)
    .options('/interfaces')
    .set('origin', 'http://ui.example:8080')
    .set('access-control-request-method', 'POST');
  assert.equal(off.status, 405);
  assert.equal(off.headers['access-control-allow-origin'], undefined);

  const { app } = await build(t, { env: envFor(t, { VPNSVC_CORS_ORIGINS: 'http://ui.example:8080, https://console.example' }) });
  const request = supertest(app.server) as unknown as supertest.Agent;
  const pre = await request
    .options('/interfaces')
    .set('origin', 'http://ui.example:8080')
    .set('access-control-request-method', 'POST')
    .set('access-control-request-headers', 'content-type');
  assert.equal(pre.status, 204);
  assert.equal(pre.headers['access-control-allow-origin'], 'http://ui.example:8080');
  assert.equal(pre.headers['access-control-allow-credentials'], 'true');
  assert.match(pre.headers['access-control-allow-methods'] ?? '', /POST/);
  const foreign = await request.options('/interfaces').set('origin', 'http://evil.example').set('access-control-request-method', 'POST');
  assert.equal(foreign.headers['access-control-allow-origin'], undefined, 'no CORS for an origin not listed');

  const cookie = await login(request);
  const res = await request.put('/session').set('origin', 'https://console.example').set('cookie', cookie).send({ name: 's' });
  assert.equal(res.status, 404, 'an allowed origin passes the cookie check (no interface: 404)');
  assert.equal(res.headers['access-control-allow-origin'], 'https://console.example');
  await request.put('/session').set('origin', 'http://evil.example').set('cookie', cookie).send({ name: 's' }).expect(403);
});

test('the console and /docs carry a strict CSP and no-referrer; / leads to /ui/', async (t) => {
  const { app } = await build(t);
  const request = supertest(app.server);
  const root = await request.get('/').expect(302);
  assert.equal(root.headers.location, '/ui/');
  for (const path of ['/ui/', '/docs', '/docs/static/swagger-initializer.js']) {
    const res = await request.get(path);
    assert.equal(res.status, 200, path);
    const csp = res.headers['content-security-policy'] ?? '';
    assert.match(csp, /frame-ancestors 'none'/, path);
    assert.match(csp, /script-src 'self';/, path);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/, `${path}: no inline script, no remote origin`);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['referrer-policy'], 'no-referrer');
  }
  const html = (await request.get('/ui/')).text;
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script in the console');
  assert.doesNotMatch(html, /https?:\/\//, 'no remote origin in the console');
  const spec = await request.get('/docs/json').expect(200);
  assert.deepEqual(
    spec.body.servers.map((s: { url: string }) => s.url),
    ['/'],
    '/docs tries requests wherever it was loaded from',
  );
});

test('under TLS the cookie is Secure', async (t) => {
  const env = envFor(t);
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-browser-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pem = selfSignedCert(dir);
  const daemon = await composeDaemon({
    env,
    stateDir: join(dir, 'state'),
    tokens: testTokenStore(),
    https: { cert: readFileSync(pem.cert), key: readFileSync(pem.key) },
  });
  t.after(() => daemon.close());
  const res = await daemon.app.inject({ method: 'POST', url: '/auth/login', payload: { token: TOKENS.admin } });
  assert.equal(res.statusCode, 200);
  assert.match(String(res.headers['set-cookie']), /; Secure/);
});
