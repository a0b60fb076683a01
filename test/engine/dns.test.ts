/**
 * The per-link backends behind the facade's DNS methods, on a real TUN in the test namespace, with fake
 * resolvectl / resolvconf programs that log their arguments: DNS lands on the VPN interface,
 * and deinit takes it away.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, describe, test } from 'node:test';
import { build } from '../helpers/app.js';
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

async function upVpnsvc(t: TestContext, iface: string, env: NodeJS.ProcessEnv) {
  const { vpnsvc } = await build(t, { env });
  await vpnsvc.init(iface);
  await vpnsvc.configure(iface, { localIp: '10.96.0.1', remoteIp: '10.96.0.2' });
  await vpnsvc.updateSettings(iface);
  return vpnsvc;
}

describe('per-link DNS backends on the engine', kernelTestOptions(), () => {
  test('resolved: resolvectl dns/domain on the VPN link, revert at deinit', async (t) => {
    const fake = fakePrograms(t);
    const vpnsvc = await upVpnsvc(t, 'vsdnsr0', { VPNSVC_DNS_BACKEND: 'resolved', PATH: fake.dir });
    await vpnsvc.addDnsServer('10.96.0.53');
    const view = await vpnsvc.addSearchDomain('~.', 'vsdnsr0');
    assert.equal(view.backend, 'resolved');
    assert.equal(view.resolvConf, null);
    await vpnsvc.deinit('vsdnsr0');
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
    const vpnsvc = await upVpnsvc(t, 'vsdnsc0', { VPNSVC_DNS_BACKEND: 'resolvconf', PATH: fake.dir });
    await vpnsvc.addDnsServer('fd00::53');
    await vpnsvc.deinit('vsdnsc0');
    const calls = fake.calls();
    assert.match(calls[0] ?? '', /^resolvconf -a (tun\.)?vsdnsc0 -m 0 -x <nameserver fd00::53\|>$/);
    assert.match(calls[1] ?? '', /^resolvconf -d (tun\.)?vsdnsc0 -f <>$/);
    assert.equal(calls.length, 2);
  });

  test('a forced backend whose program is missing stops the start with a clear message', async (t) => {
    await assert.rejects(build(t, { env: { VPNSVC_DNS_BACKEND: 'resolved', PATH: '/nonexistent' } }), /needs resolvectl, which is not in PATH/);
  });
});
