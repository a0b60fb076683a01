/**
 * The daemon's logger writes JSON lines, and no credential reaches one: query values other than
 * the harmless ones are redacted, and the redact paths censor what a later change might log.
 * The lines go to a destination in memory, from the logger alone and from the real app.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { DestinationStream } from 'pino';
import { composeDaemon } from '../../src/daemon/compose.js';
import { createLogger, REDACT_PATHS, redactUrl } from '../../src/daemon/logging.js';
import { TOKENS, testTokenStore, USER_RESOLV_CONF } from '../helpers/app.js';

type Line = Record<string, any>;

function memoryDestination(): DestinationStream & { text(): string; lines(): Line[] } {
  const chunks: string[] = [];
  return {
    write: (chunk: string) => {
      chunks.push(chunk);
    },
    text: () => chunks.join(''),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Line),
  };
}

test('redactUrl keeps the path and the harmless query values, and redacts every other value', () => {
  assert.equal(redactUrl('/interfaces/vst0'), '/interfaces/vst0');
  assert.equal(redactUrl('/events?token=s3cret&since=3'), '/events?token=[redacted]&since=3');
  assert.equal(
    redactUrl('/events?types=interface.created,dns.added&countersMs=1000&epoch=e-1'),
    '/events?types=interface.created%2Cdns.added&countersMs=1000&epoch=e-1',
  );
  assert.equal(redactUrl('/interfaces/vst0/packet?timeoutMs=50'), '/interfaces/vst0/packet?timeoutMs=50');
  assert.equal(
    redactUrl('/x?access_token=a&access_token=b&Token=c'),
    '/x?access_token=[redacted]&access_token=[redacted]&Token=[redacted]',
  );
  assert.equal(redactUrl('/x?a%20b=1&since'), '/x?a%20b=[redacted]&since=');
  assert.equal(redactUrl('/x?'), '/x?');
});

test('JSON lines named vpnsvc at the level asked for; every redact path is censored', () => {
  const dest = memoryDestination();
  const log = createLogger('info', dest);
  log.debug({ token: 'never-at-info' }, 'below the level');
  log.info({ token: 'secret-1' }, 'top-level token');
  log.info({ peer: { token: 'secret-2' } }, 'nested token');
  log.info({ headers: { authorization: 'Bearer secret-3' } }, 'headers');
  log.info({ authorization: 'Bearer secret-4' }, 'bare authorization');
  log.info({ req: { method: 'GET', url: '/events?token=secret-5', headers: { authorization: 'Bearer secret-6' } } }, 'a request');
  const lines = dest.lines();
  assert.deepEqual(
    lines.map((l) => l.msg),
    ['top-level token', 'nested token', 'headers', 'bare authorization', 'a request'],
  );
  assert.ok(lines.every((l) => l.name === 'vpnsvc' && l.level === 30 && typeof l.time === 'number'));
  assert.doesNotMatch(dest.text(), /secret-|never-at-info/);
  assert.equal(lines[0]!.token, '[redacted]');
  assert.equal(lines[1]!.peer.token, '[redacted]');
  assert.equal(lines[2]!.headers.authorization, '[redacted]');
  assert.equal(lines[3]!.authorization, '[redacted]');
  assert.deepEqual(lines[4]!.req, { method: 'GET', url: '/events?token=[redacted]' }, 'the request serializer logs no headers');
  assert.ok(REDACT_PATHS.includes('req.headers.authorization'));
});

test("the real app's request lines carry the request id and never a token, right or wrong", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-logging-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const resolvConf = join(dir, 'resolv.conf');
  writeFileSync(resolvConf, USER_RESOLV_CONF);
  const dest = memoryDestination();
  const daemon = await composeDaemon({
    env: { VPNSVC_DNS_BACKEND: 'file', VPNSVC_RESOLV_CONF: resolvConf },
    stateDir: join(dir, 'state'),
    tokens: testTokenStore(),
    log: createLogger('info', dest),
    probe: { tunDevice: true, tunDeviceError: undefined, netAdmin: true, nft: { available: true } },
  });
  t.after(() => daemon.close());
  const wrong = `WrongToken_${'q'.repeat(32)}`;
  const get = (url: string, headers: Record<string, string>) => daemon.app.inject({ method: 'GET', url, headers });

  assert.equal((await get('/interfaces', { authorization: `Bearer ${TOKENS.admin}`, 'x-request-id': 'trace-vst' })).statusCode, 200);
  assert.equal((await get('/interfaces', { authorization: `Bearer ${wrong}` })).statusCode, 401);
  assert.equal((await get(`/events?token=${TOKENS.admin}&since=0`, { 'sec-websocket-protocol': wrong })).statusCode, 401);
  assert.equal((await get('/interfaces', { authorization: TOKENS.admin, cookie: `token=${wrong}` })).statusCode, 401);

  for (const secret of [TOKENS.admin, wrong]) assert.ok(!dest.text().includes(secret), 'a token reached the log');
  const lines = dest.lines();
  const traced = lines.filter((l) => l.reqId === 'trace-vst');
  assert.deepEqual(
    traced.map((l) => l.msg),
    ['incoming request', 'request completed'],
  );
  assert.deepEqual(traced[0]!.req.url, '/interfaces');
  assert.equal(traced[1]!.res.statusCode, 200);
  assert.ok(lines.some((l) => l.req?.url === '/events?token=[redacted]&since=0'));
});
