/**
 * The daemon process with the file backend on a temp resolv.conf: after SIGKILL the next start
 * restores the user's file byte for byte; SIGTERM restores it on the way out.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { type Daemon, spawnDaemon, waitReady } from '../helpers/daemon.js';
import { kernelTestOptions, link } from '../helpers/kernel.js';

// No trailing newline and a non-UTF-8 byte: restored means byte for byte.
const USER = Buffer.from('# mine\nnameserver 192.168.1.1\nsearch home.lan\xff', 'latin1');

async function upWithDns(daemon: Daemon, iface: string): Promise<void> {
  await waitReady(daemon);
  assert.equal((await daemon.call('POST', '/interfaces', { name: iface })).status, 201);
  assert.equal((await daemon.call('PATCH', `/interfaces/${iface}`, { localIp: '10.97.0.1', remoteIp: '10.97.0.2' })).status, 200);
  assert.equal((await daemon.call('POST', `/interfaces/${iface}/apply`)).status, 200);
  const added = await daemon.call('POST', '/dns', { server: '10.97.0.53' });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  assert.equal((await daemon.call('POST', '/dns/domains', { domain: 'corp.example' })).status, 201);
}

describe('the daemon and the resolver file', kernelTestOptions(), () => {
  test('SIGKILL leaves the VPN servers in the file; the next start restores it byte for byte', async (t) => {
    const files = mkdtempSync(join(tmpdir(), 'vpnsvc-dns-kill-'));
    const resolvConf = join(files, 'resolv.conf');
    writeFileSync(resolvConf, USER);
    const env = { VPNSVC_DNS_BACKEND: 'file', VPNSVC_RESOLV_CONF: resolvConf };
    const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-daemon-'));
    const first = spawnDaemon(env, dir);
    t.after(() => rmSync(files, { recursive: true, force: true }));
    try {
      await upWithDns(first, 'vsdnsk0');
      assert.match(readFileSync(resolvConf, 'latin1'), /^# vpnsvc begin.*\nnameserver 10\.97\.0\.53\n/);
    } finally {
      first.child.kill('SIGKILL');
      await first.exited;
    }
    assert.equal(link('vsdnsk0'), undefined, 'the TUN died with the daemon');
    assert.notDeepEqual(readFileSync(resolvConf), USER, 'a killed daemon could not clean up');

    const second = spawnDaemon(env, dir);
    t.after(() => second.stop());
    await waitReady(second);
    assert.deepEqual(readFileSync(resolvConf), USER, 'restored at start');
    assert.deepEqual((await second.call('GET', '/dns')).body.servers, []);
  });

  test('SIGTERM restores the file before the daemon exits', async (t) => {
    const files = mkdtempSync(join(tmpdir(), 'vpnsvc-dns-term-'));
    const resolvConf = join(files, 'resolv.conf');
    writeFileSync(resolvConf, USER);
    const daemon = spawnDaemon({ VPNSVC_DNS_BACKEND: 'file', VPNSVC_RESOLV_CONF: resolvConf });
    t.after(async () => {
      await daemon.stop();
      rmSync(files, { recursive: true, force: true });
    });
    await upWithDns(daemon, 'vsdnst0');
    daemon.child.kill('SIGTERM');
    assert.equal(await daemon.exited, 0);
    assert.deepEqual(readFileSync(resolvConf), USER);
  });

  test('a bad VPNSVC_DNS_BACKEND stops the daemon with a message naming the variable', async (t) => {
    const daemon = spawnDaemon({ VPNSVC_DNS_BACKEND: 'bogus' });
    t.after(() => daemon.stop());
    assert.equal(await daemon.exited, 2);
    assert.match(daemon.output(), /VPNSVC_DNS_BACKEND must be one of resolved, resolvconf, file/);
  });
});
