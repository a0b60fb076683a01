/**
 * /firewall and /protect at the HTTP edge, in the test namespace: privileges, refusals that
 * happen before nft runs (the kernel keeps no table), and NOT_SUPPORTED without nft; who may
 * protect, over TCP and over the unix socket. The kill switch's effect on traffic is tested in
 * test/firewall/, protect's in test/e2e/protect.test.ts (with two uids).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';
import { after, describe, test } from 'node:test';
import { build, TOKENS } from '../../helpers/app.js';
import { assertContract } from '../../helpers/contract.js';
import { spawnDaemon, waitReady } from '../../helpers/daemon.js';
import { ip, kernelTestOptions, link } from '../../helpers/kernel.js';

const BLOCK = { allowVpn: [{ address: '0.0.0.0', prefix: 0 }], allowOriginal: [] };

/**
 * The real app with a kill switch that sees no default route, whatever other tests do to the
 * shared test namespace's routes: a block must never be applied in that namespace.
 */
async function buildWithoutDefaultRoute(t: TestContext) {
  const { admin } = await build(t, { defaultRoutes: () => [] });
  return admin;
}

function serviceTableExists(): boolean {
  const out = JSON.parse(execFileSync('nft', ['-j', 'list', 'tables'], { encoding: 'utf8' })) as {
    nftables: Array<{ table?: { name: string } }>;
  };
  return out.nftables.some((o) => o.table?.name === 'vpnsvc');
}

/** A child process holding a listening socket: its pid and the socket's fd. */
async function socketHolder(t: TestContext): Promise<{ pid: number; fd: number }> {
  const code = "const s = require('node:net').createServer().listen(0, '127.0.0.1', () => console.log(s._handle.fd))";
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
  return { pid: child.pid ?? 0, fd: Number(line) };
}

/** POST /protect over the unix socket at `path`, as this process (root in the test namespace). */
function protectOverUnix(path: string, body: object): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = httpRequest(
      {
        socketPath: path,
        method: 'POST',
        path: '/protect',
        headers: { authorization: `Bearer ${TOKENS.admin}`, 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

test('/firewall and /protect need both privileges to change anything', async (t) => {
  const { request } = await build(t);
  const restricted = `Bearer ${TOKENS.vpnservice}`;
  for (const [method, url, body] of [
    ['put', '/firewall', BLOCK],
    ['delete', '/firewall', undefined],
    ['post', '/protect', { pid: 1, fd: 0, interface: 'lo' }],
  ] as const) {
    const res = await request[method](url).set('authorization', restricted).send(body);
    assert.equal(res.status, 403, `${method} ${url}`);
    assert.equal(res.body.error, 'VPNSVC_ERROR_PERMISSION_DENIED');
    assert.equal((await request[method](url).send(body)).status, 401, `${method} ${url} without a token`);
  }
});

describe('/protect: who may call', kernelTestOptions(), () => {
  test('over TCP the admin token lacks the protect privilege: 403', async (t) => {
    const { request } = await build(t);
    const holder = await socketHolder(t);
    const res = await request
      .post('/protect')
      .set('authorization', `Bearer ${TOKENS.admin}`)
      .send({ pid: holder.pid, fd: holder.fd, interface: 'lo' });
    assert.equal(res.status, 403);
    assertContract('protectSocket', res);
    assert.match(res.body.message, /token "admin" lacks the privilege protect \(vpnsvc's own, needed over TCP\)/);
  });

  test("over the unix socket root's peer uid stands in for protect; the daemon's own pid is refused", async (t) => {
    const { app } = await build(t);
    const dir = mkdtempSync(join(tmpdir(), 'vsfwh-sock-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'api.sock');
    await app.listen({ path });
    const holder = await socketHolder(t);
    const ok = await protectOverUnix(path, { pid: holder.pid, fd: holder.fd, interface: 'lo' });
    assert.equal(ok.status, 204, JSON.stringify(ok.body));
    const self = await protectOverUnix(path, { pid: process.pid, fd: 0, interface: 'lo' });
    assert.equal(self.status, 403, JSON.stringify(self.body));
    assert.match(self.body.message, /the vpnsvc daemon itself/);
  });
});

describe('/firewall in the test namespace', kernelTestOptions(), () => {
  after(() => {
    if (link('vsfwh0')) ip('link', 'delete', 'vsfwh0');
  });

  test('GET /firewall reads the kernel: no table, no block', async (t) => {
    const { admin } = await build(t);
    const res = await admin.get('/firewall').expect(200);
    assertContract('getFirewall', res);
    assert.deepEqual(res.body, {
      blocked: false,
      vpnInterface: null,
      originalInterface: null,
      allowVpn: [],
      allowOriginal: [],
      allowLan: false,
    });
  });

  test('PUT /firewall without an active VPN interface is 404, and nothing is applied', async (t) => {
    const { admin } = await build(t);
    const res = await admin.put('/firewall').send(BLOCK);
    assert.equal(res.status, 404);
    assertContract('blockNetworks', res);
    assert.match(res.body.message, /no VPN interface is active/);
    assert.equal(serviceTableExists(), false);
  });

  test('PUT /firewall with no default route and no originalInterface is 400, and nothing is applied', async (t) => {
    const admin = await buildWithoutDefaultRoute(t);
    assert.equal((await admin.post('/interfaces').send({ name: 'vsfwh0' })).status, 201);
    const res = await admin.put('/firewall').send(BLOCK);
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assertContract('blockNetworks', res);
    assert.match(res.body.message, /no default route/);
    assert.equal(serviceTableExists(), false);
  });

  test('without nft: GET /features says so, and the firewall answers 501 naming the package', async () => {
    // PATH without nft: the daemon's own probe and its firewall both find no nft
    const daemon = spawnDaemon({ PATH: '/nonexistent' });
    try {
      await waitReady(daemon);
      const features = await daemon.call('GET', '/features');
      assertContract('getFeatures', features);
      assert.equal(features.body.nft.available, false);
      assert.ok(
        features.body.missing.some((m: string) => /nftables/.test(m)),
        JSON.stringify(features.body.missing),
      );
      assert.equal((await daemon.call('POST', '/interfaces', { name: 'vsfwh0' })).status, 201);
      for (const [method, body] of [
        ['GET', undefined],
        ['PUT', BLOCK],
        ['DELETE', undefined],
      ] as const) {
        const res = await daemon.call(method, '/firewall', body);
        assert.equal(res.status, 501, `${method}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error, 'VPNSVC_ERROR_NOT_SUPPORTED');
        assert.match(res.body.message, /Debian package "nftables"/);
      }
    } finally {
      await daemon.stop();
    }
  });
});

test('a host without what the VPN feature needs (e.g. not root): every /firewall call is 501 naming it', async (t) => {
  const missing = 'CAP_NET_ADMIN: the daemon does not run as root and lacks the capability';
  const { admin } = await build(t, { support: { missing: () => [missing] } });
  for (const res of [await admin.get('/firewall'), await admin.delete('/firewall'), await admin.put('/firewall').send(BLOCK)]) {
    assert.equal(res.status, 501, JSON.stringify(res.body));
    assert.equal(res.body.error, 'VPNSVC_ERROR_NOT_SUPPORTED');
    assert.ok(res.body.message.includes(missing), res.body.message);
  }
});
