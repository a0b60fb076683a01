/**
 * composeDaemon, the one composition root: the environment picks the resolver backend (a bad
 * value stops the start and names the variable), what a killed predecessor left in the resolver
 * is undone before the facade serves, and close() de-initializes what the daemon added.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, type TestContext, test } from 'node:test';
import { type ComposeOptions, composeDaemon, resolverFromEnv } from '../../src/daemon/compose.js';
import type { HostProbe } from '../../src/system/host.js';
import { BACKUP_FILE, FileBackend } from '../../src/system/resolver/file-backend.js';
import { TOKENS, testTokenStore, USER_RESOLV_CONF } from '../helpers/app.js';
import { ip, kernelTestOptions, link } from '../helpers/kernel.js';

/** A host that has everything: the probe is given, so these tests do not depend on the machine. */
const PROBE: HostProbe = {
  tunDevice: true,
  tunDeviceError: undefined,
  netAdmin: true,
  nft: { available: true, version: 'nftables v0-test' },
};
const auth = { authorization: `Bearer ${TOKENS.admin}` };

interface Scratch {
  resolvConf: string;
  stateDir: string;
  options(extra?: Partial<ComposeOptions>): ComposeOptions;
}

function scratch(t: TestContext): Scratch {
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-compose-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const resolvConf = join(dir, 'resolv.conf');
  const stateDir = join(dir, 'state');
  writeFileSync(resolvConf, USER_RESOLV_CONF);
  return {
    resolvConf,
    stateDir,
    options: (extra = {}) => ({
      env: { VPNSVC_DNS_BACKEND: 'file', VPNSVC_RESOLV_CONF: resolvConf },
      stateDir,
      tokens: testTokenStore(),
      probe: PROBE,
      ...extra,
    }),
  };
}

test('a bad VPNSVC_DNS_BACKEND or VPNSVC_RESOLV_CONF stops the composition and names the variable', async (t) => {
  const s = scratch(t);
  await assert.rejects(composeDaemon(s.options({ env: { VPNSVC_DNS_BACKEND: 'bind9' } })), {
    message: 'VPNSVC_DNS_BACKEND must be one of resolved, resolvconf, file, not "bind9"',
  });
  await assert.rejects(composeDaemon(s.options({ env: { VPNSVC_DNS_BACKEND: 'file', VPNSVC_RESOLV_CONF: 'etc/resolv.conf' } })), {
    message: 'VPNSVC_RESOLV_CONF must be an absolute path, not "etc/resolv.conf"',
  });
  assert.throws(
    () => resolverFromEnv({ VPNSVC_DNS_BACKEND: 'resolved', PATH: '/nonexistent' }, s.stateDir),
    /needs resolvectl, which is not in PATH \(VPNSVC_DNS_BACKEND picks another\)/,
  );
  assert.equal(readFileSync(s.resolvConf, 'utf8'), USER_RESOLV_CONF);
  assert.ok(!existsSync(s.stateDir), 'a refused start writes nothing');
});

test('the file backend goes where VPNSVC_RESOLV_CONF says; empty means the default', (t) => {
  const s = scratch(t);
  assert.deepEqual(resolverFromEnv({ VPNSVC_DNS_BACKEND: 'file', VPNSVC_RESOLV_CONF: s.resolvConf }, s.stateDir).describe(), {
    backend: 'file',
    path: s.resolvConf,
  });
  assert.deepEqual(resolverFromEnv({ VPNSVC_DNS_BACKEND: 'file', VPNSVC_RESOLV_CONF: '' }, s.stateDir).describe(), {
    backend: 'file',
    path: '/etc/resolv.conf',
  });
});

test('what a killed predecessor left in resolv.conf is undone before the facade serves', async (t) => {
  const s = scratch(t);
  // A daemon that applied DNS and was killed: its block is in the file and its backup on disk.
  await new FileBackend(s.resolvConf, s.stateDir).apply('vst0', { servers: ['10.181.0.53'], domains: ['corp.test'] });
  assert.match(readFileSync(s.resolvConf, 'utf8'), /nameserver 10\.181\.0\.53/);
  assert.ok(existsSync(join(s.stateDir, BACKUP_FILE)));

  const daemon = await composeDaemon(s.options());
  t.after(() => daemon.close());
  assert.equal(readFileSync(s.resolvConf, 'utf8'), USER_RESOLV_CONF, 'restored before composeDaemon returned');
  assert.ok(!existsSync(join(s.stateDir, BACKUP_FILE)));

  assert.equal(daemon.resolver.name, 'file');
  assert.equal(daemon.probe, PROBE);
  const features = await daemon.app.inject({ method: 'GET', url: '/features', headers: auth });
  assert.equal(features.statusCode, 200);
  assert.equal(features.json().dnsBackend, 'file');
  assert.deepEqual(features.json().nft, PROBE.nft, 'the features are the given probe');
});

test('the support option overrides the probe: the engine answers NOT_SUPPORTED with what is missing', async (t) => {
  const s = scratch(t);
  const daemon = await composeDaemon(s.options({ support: { missing: () => ['no TUN device in this test'] } }));
  t.after(() => daemon.close());
  const res = await daemon.app.inject({ method: 'POST', url: '/interfaces', headers: auth, payload: { name: 'vst0' } });
  assert.equal(res.statusCode, 501);
  assert.equal(res.json().error, 'VPNSVC_ERROR_NOT_SUPPORTED');
  assert.match(res.json().message, /no TUN device in this test/);
});

describe('close() on the kernel', kernelTestOptions(), () => {
  after(() => {
    if (link('vst0')) ip('link', 'delete', 'vst0');
  });

  test('close() closes the app, then de-initializes: the TUN and the VPN DNS servers are gone', async (t) => {
    const s = scratch(t);
    const options = s.options();
    delete options.probe; // the real host's probe: this one opens a real TUN
    const daemon = await composeDaemon(options);
    let closed = false;
    t.after(() => (closed ? undefined : daemon.close()));
    const call = (method: 'POST' | 'PATCH', url: string, payload?: object) =>
      daemon.app.inject({ method, url, headers: auth, ...(payload && { payload }) });
    assert.equal((await call('POST', '/interfaces', { name: 'vst0' })).statusCode, 201);
    assert.equal((await call('PATCH', '/interfaces/vst0', { localIp: '10.181.0.1', remoteIp: '10.181.0.2' })).statusCode, 200);
    assert.equal((await call('POST', '/interfaces/vst0/apply')).statusCode, 200);
    assert.equal((await call('POST', '/dns', { server: '10.181.0.53' })).statusCode, 201);
    assert.ok(link('vst0')?.flags.includes('UP'));
    assert.match(readFileSync(s.resolvConf, 'utf8'), /nameserver 10\.181\.0\.53/);

    await daemon.close();
    closed = true;
    assert.equal(link('vst0'), undefined, 'the TUN is gone from the kernel');
    assert.equal(readFileSync(s.resolvConf, 'utf8'), USER_RESOLV_CONF);
    assert.ok(!existsSync(join(s.stateDir, BACKUP_FILE)));
    await assert.rejects(daemon.app.inject({ method: 'GET', url: '/health' }), 'the app is closed');
  });
});
