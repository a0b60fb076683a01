/**
 * The CLI's client: where it finds the daemon (flags, then the environment, then the defaults),
 * which token it sends (a fixed order, ending with the daemon's own admin.token), and requests
 * over a unix socket to a server of the test.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  ConnectError,
  DEFAULT_URL,
  json,
  requestUrl,
  resolveEndpoint,
  ServiceError,
  send,
  UsageError,
  where,
} from '../../src/cli/client.js';

const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-client-'));
after(() => rmSync(dir, { recursive: true, force: true }));
/** A state directory without an admin.token, so nothing of the host's /var/lib/vpnsvc is read. */
const emptyState = join(dir, 'empty-state');
mkdirSync(emptyState);

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

test('the daemon is found by --url, then VPNSVC_URL, then VPNSVC_LISTEN, then the default', () => {
  const base = (flags: { url?: string }, env: NodeJS.ProcessEnv) => {
    const ep = resolveEndpoint(flags, { VPNSVC_STATE_DIR: emptyState, ...env });
    return ep.socketPath ? `socket ${ep.socketPath} ${ep.base.href}` : ep.base.href;
  };
  assert.equal(DEFAULT_URL, 'http://127.0.0.1:8760');
  assert.equal(base({}, {}), 'http://127.0.0.1:8760/');
  assert.equal(base({}, { VPNSVC_LISTEN: '0.0.0.0:9000' }), 'http://0.0.0.0:9000/');
  assert.equal(base({}, { VPNSVC_LISTEN: '[::1]:9000' }), 'http://[::1]:9000/');
  assert.equal(base({}, { VPNSVC_LISTEN: '127.0.0.1:9443', VPNSVC_TLS_CERT: '/etc/vpnsvc/cert.pem' }), 'https://127.0.0.1:9443/');
  assert.equal(base({}, { VPNSVC_LISTEN: 'unix:/run/vpnsvc.sock' }), 'socket /run/vpnsvc.sock http://localhost/');
  assert.equal(base({}, { VPNSVC_URL: 'https://vpn.test:1', VPNSVC_LISTEN: '0.0.0.0:9000' }), 'https://vpn.test:1/');
  assert.equal(base({ url: 'unix:/tmp/x.sock' }, { VPNSVC_URL: 'https://vpn.test:1' }), 'socket /tmp/x.sock http://localhost/');
  assert.equal(base({ url: 'http://10.181.0.1:8760' }, { VPNSVC_URL: 'https://vpn.test:1' }), 'http://10.181.0.1:8760/');
});

test('a URL that is not one, or not http(s), is a usage error', () => {
  assert.throws(() => resolveEndpoint({ url: 'localhost:8760' }, { VPNSVC_STATE_DIR: emptyState }), UsageError);
  assert.throws(
    () => resolveEndpoint({ url: 'not a url' }, { VPNSVC_STATE_DIR: emptyState }),
    (err: unknown) => err instanceof UsageError && err.message === 'not a URL: "not a url" (expected http(s)://host:port or unix:/path)',
  );
  assert.throws(
    () => resolveEndpoint({}, { VPNSVC_URL: 'ftp://vpn.test', VPNSVC_STATE_DIR: emptyState }),
    (err: unknown) => {
      return err instanceof UsageError && err.message === 'unsupported URL scheme in "ftp://vpn.test"';
    },
  );
});

test('the token: --token, --token-file, VPNSVC_TOKEN, VPNSVC_TOKEN_FILE, VPNSVC_ADMIN_TOKEN_FILE, then admin.token', () => {
  const stateDir = join(dir, 'state');
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(join(stateDir, 'admin.token'), 'from-admin-token\n');
  const flags = { token: 'from-flag', tokenFile: file('flag-token', ' from-flag-file\n') };
  const env: NodeJS.ProcessEnv = {
    VPNSVC_TOKEN: 'from-env',
    VPNSVC_TOKEN_FILE: file('env-token', 'from-env-file\n'),
    VPNSVC_ADMIN_TOKEN_FILE: file('secret', 'from-secret\n'),
    VPNSVC_STATE_DIR: stateDir,
  };
  const pick = (f: typeof flags | Partial<typeof flags>, e: NodeJS.ProcessEnv) => {
    const ep = resolveEndpoint(f, e);
    return [ep.token, ep.tokenSource];
  };
  assert.deepEqual(pick(flags, env), ['from-flag', '--token']);
  assert.deepEqual(pick({ tokenFile: flags.tokenFile }, env), ['from-flag-file', '--token-file']);
  assert.deepEqual(pick({}, env), ['from-env', 'VPNSVC_TOKEN']);
  const { VPNSVC_TOKEN: _1, ...noToken } = env;
  assert.deepEqual(pick({}, noToken), ['from-env-file', 'VPNSVC_TOKEN_FILE']);
  const { VPNSVC_TOKEN_FILE: _2, ...noTokenFile } = noToken;
  assert.deepEqual(pick({}, noTokenFile), ['from-secret', 'VPNSVC_ADMIN_TOKEN_FILE']);
  const { VPNSVC_ADMIN_TOKEN_FILE: _3, ...onlyState } = noTokenFile;
  assert.deepEqual(pick({}, onlyState), ['from-admin-token', join(stateDir, 'admin.token')]);
  assert.deepEqual(pick({}, { VPNSVC_STATE_DIR: emptyState }), [undefined, 'none'], 'no token: the daemon will say 401');
  assert.deepEqual(pick({ tokenFile: file('empty-token', '\n') }, onlyState), ['from-admin-token', join(stateDir, 'admin.token')]);
});

test('a CA file from --ca or VPNSVC_CA is read for TLS', () => {
  const ca = file('ca.pem', '-----BEGIN CERTIFICATE-----\n');
  assert.equal(String(resolveEndpoint({ ca }, { VPNSVC_STATE_DIR: emptyState }).ca), '-----BEGIN CERTIFICATE-----\n');
  assert.equal(String(resolveEndpoint({}, { VPNSVC_CA: ca, VPNSVC_STATE_DIR: emptyState }).ca), '-----BEGIN CERTIFICATE-----\n');
  assert.equal(resolveEndpoint({}, { VPNSVC_STATE_DIR: emptyState }).ca, undefined);
});

test('request URLs keep a base path and drop undefined query values', () => {
  const ep = resolveEndpoint({ url: 'http://vpn.test:1/api' }, { VPNSVC_STATE_DIR: emptyState });
  assert.equal(
    requestUrl(ep, '/interfaces/vst9', { timeoutMs: 50, since: undefined }).href,
    'http://vpn.test:1/api/interfaces/vst9?timeoutMs=50',
  );
  assert.equal(where(ep), 'http://vpn.test:1');
});

test('send over a unix socket: method, path, bearer token and JSON body arrive; error bodies become ServiceError', async (t) => {
  const socket = join(dir, 'daemon.sock');
  const seen: Array<{ method: string | undefined; url: string | undefined; headers: IncomingHttpHeaders; body: string }> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      if (req.url === '/missing') {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'VPNSVC_ERROR_NO_SUCH_FILE', code: -2, message: 'no VPN interface "vst9"' }));
        return;
      }
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ name: 'vst9' }));
    });
  });
  await new Promise<void>((r) => server.listen(socket, r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const ep = resolveEndpoint({ url: `unix:${socket}`, token: 'sekret' }, { VPNSVC_STATE_DIR: emptyState });
  assert.equal(where(ep), `unix:${socket}`);

  const created = await send(ep, 'POST', '/interfaces', { body: { name: 'vst9' }, query: { wait: 1, skip: undefined } });
  assert.equal(created.status, 201);
  assert.deepEqual(json(created), { name: 'vst9' });
  const [req] = seen;
  assert.equal(req?.method, 'POST');
  assert.equal(req?.url, '/interfaces?wait=1');
  assert.equal(req?.headers.authorization, 'Bearer sekret');
  assert.equal(req?.headers['content-type'], 'application/json');
  assert.equal(req?.body, '{"name":"vst9"}');

  const missing = await send(ep, 'GET', '/missing');
  assert.throws(
    () => json(missing),
    (err: unknown) =>
      err instanceof ServiceError &&
      err.status === 404 &&
      err.errorName === 'VPNSVC_ERROR_NO_SUCH_FILE' &&
      err.code === -2 &&
      err.message === 'no VPN interface "vst9"',
  );
  const packet = Buffer.from([0x45, 0, 0, 20]);
  await send(ep, 'POST', '/interfaces/vst9/packets', { bytes: packet });
  assert.equal(seen.at(-1)?.headers['content-type'], 'application/octet-stream');
  assert.equal(seen.at(-1)?.body, packet.toString());
});

test('a daemon that is not there is a ConnectError that says where', async () => {
  const ep = resolveEndpoint({ url: `unix:${join(dir, 'nobody.sock')}` }, { VPNSVC_STATE_DIR: emptyState });
  await assert.rejects(
    send(ep, 'GET', '/health'),
    (err: unknown) => err instanceof ConnectError && err.message === `cannot reach vpnsvc at unix:${join(dir, 'nobody.sock')}: ENOENT`,
  );
});
