import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_HTTP_LIMITS, DEFAULT_LISTEN, httpLimits, loadConfig, parseListen } from '../../src/config/config.js';

test('the default listens on loopback only', () => {
  const config = loadConfig({});
  assert.equal(DEFAULT_LISTEN.startsWith('127.0.0.1:'), true);
  assert.deepEqual(config.listen, { kind: 'tcp', host: '127.0.0.1', port: 8760 });
  assert.equal(config.stateDir, '/var/lib/vpnsvc');
});

test('VPNSVC_LISTEN takes host:port, [v6]:port and unix:/path', () => {
  assert.deepEqual(parseListen('0.0.0.0:9000'), { kind: 'tcp', host: '0.0.0.0', port: 9000 });
  assert.deepEqual(parseListen('[::1]:9000'), { kind: 'tcp', host: '::1', port: 9000 });
  assert.deepEqual(parseListen('localhost:1'), { kind: 'tcp', host: 'localhost', port: 1 });
  assert.deepEqual(parseListen('unix:/run/vpnsvc.sock'), { kind: 'unix', path: '/run/vpnsvc.sock' });
});

test('bad values fail with a message naming the variable', () => {
  for (const bad of ['9000', 'host:', 'host:99999', '[nope]:1', 'unix:relative.sock', '::1:80']) {
    assert.throws(() => parseListen(bad), /VPNSVC_LISTEN/, bad);
  }
  assert.throws(() => loadConfig({ VPNSVC_STATE_DIR: 'relative/dir' }), /invalid configuration.*VPNSVC_STATE_DIR/);
  assert.throws(() => loadConfig({ VPNSVC_LOG_LEVEL: 'loud' }), /invalid configuration.*VPNSVC_LOG_LEVEL/);
});

test('timeouts and connection limits: defaults, ranges, and the ones that must agree', () => {
  assert.deepEqual(loadConfig({}).http, DEFAULT_HTTP_LIMITS);
  assert.deepEqual(httpLimits({ VPNSVC_MAX_CONNECTIONS: '100', VPNSVC_AUTH_TIMEOUT_MS: '2000' }), {
    ...DEFAULT_HTTP_LIMITS,
    maxConnections: 100,
    authTimeoutMs: 2000,
  });
  assert.throws(() => loadConfig({ VPNSVC_AUTH_TIMEOUT_MS: '10' }), /invalid configuration.*VPNSVC_AUTH_TIMEOUT_MS/);
  assert.throws(() => httpLimits({ VPNSVC_MAX_CONNECTIONS: 'many' }), /invalid configuration.*VPNSVC_MAX_CONNECTIONS/);
  assert.throws(
    () => loadConfig({ VPNSVC_HEADERS_TIMEOUT_MS: '20000', VPNSVC_REQUEST_TIMEOUT_MS: '10000' }),
    /VPNSVC_HEADERS_TIMEOUT_MS \(20000\) must not exceed VPNSVC_REQUEST_TIMEOUT_MS/,
  );
  assert.throws(
    () => loadConfig({ VPNSVC_MAX_CONNECTIONS: '64' }),
    /VPNSVC_MAX_UNAUTHENTICATED_CONNECTIONS \(64\) must be below VPNSVC_MAX_CONNECTIONS \(64\)/,
  );
});
