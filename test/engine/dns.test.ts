/**
 * The per-link backends wired to the engine, on a real TUN in the test namespace, with fake
 * resolvectl / resolvconf programs that log their arguments: DNS lands on the VPN interface,
 * and deinit takes it away.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, describe, test } from 'node:test';
import { VpnEngine } from '../../src/engine/engine.js';
import { featureSupport } from '../../src/engine/features.js';
import { startRoutesAndDns } from '../../src/routes-dns-setup.js';
import { probeHost } from '../../src/system/host.js';
import { silentLog } from '../helpers/app.js';
import { kernelTestOptions } from '../helpers/kernel.js';

function fakePrograms(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-fakebin-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, 'calls.log');
  for (const name of ['resolvectl', 'resolvconf']) {
    writeFileSync(join(dir, name), `#!/bin/sh\nin=$(cat | tr '\\n' '|')\necho "${name} $* <$in>" >> "${log}"\n`);
    chmodSync(join(dir, name), 0o755);
  }
  return { dir, calls: () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : []) };
}

async function upEngine(t: TestContext, iface: string) {
  const engine = new VpnEngine(featureSupport(await probeHost()), silentLog);
  t.after(() => engine.close());
  await engine.init(iface);
  await engine.configure(iface, { localIp: '10.96.0.1', remoteIp: '10.96.0.2' });
  await engine.updateSettings(iface);
  return engine;
}

describe('per-link DNS backends on the engine', kernelTestOptions(), () => {
  test('resolved: resolvectl dns/domain on the VPN link, revert at deinit', async (t) => {
    const fake = fakePrograms(t);
    const engine = await upEngine(t, 'vsdnsr0');
    const stateDir = join(fake.dir, 'state');
    const { dns } = await startRoutesAndDns(engine, { env: { VPNSVC_DNS_BACKEND: 'resolved', PATH: fake.dir }, stateDir });
    await dns.addDnsServer('vsdnsr0', '10.96.0.53');
    const view = await dns.addSearchDomain('vsdnsr0', '~.');
    assert.equal(view.backend, 'resolved');
    assert.equal(view.resolvConf, null);
    await engine.deinit('vsdnsr0');
    assert.deepEqual(fake.calls(), [
      'resolvectl dns vsdnsr0 10.96.0.53 <>',
      'resolvectl domain vsdnsr0  <>',
      'resolvectl dns vsdnsr0 10.96.0.53 <>',
      'resolvectl domain vsdnsr0 ~. <>',
      'resolvectl revert vsdnsr0 <>',
    ]);
  });

  test('resolvconf: a record for the interface, deleted at deinit', async (t) => {
    const fake = fakePrograms(t);
    const engine = await upEngine(t, 'vsdnsc0');
    const { dns } = await startRoutesAndDns(engine, {
      env: { VPNSVC_DNS_BACKEND: 'resolvconf', PATH: fake.dir },
      stateDir: join(fake.dir, 'state'),
    });
    await dns.addDnsServer('vsdnsc0', 'fd00::53');
    await engine.deinit('vsdnsc0');
    const calls = fake.calls();
    assert.match(calls[0] ?? '', /^resolvconf -a (tun\.)?vsdnsc0 -m 0 -x <nameserver fd00::53\|>$/);
    assert.match(calls[1] ?? '', /^resolvconf -d (tun\.)?vsdnsc0 -f <>$/);
    assert.equal(calls.length, 2);
  });

  test('a forced backend whose program is missing stops the start with a clear message', async () => {
    const engine = new VpnEngine(featureSupport(await probeHost()), silentLog);
    await assert.rejects(
      startRoutesAndDns(engine, { env: { VPNSVC_DNS_BACKEND: 'resolved', PATH: '/nonexistent' }, stateDir: '/nonexistent' }),
      /needs resolvectl, which is not in PATH/,
    );
  });
});
