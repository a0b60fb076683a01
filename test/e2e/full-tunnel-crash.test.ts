/**
 * A daemon killed (SIGKILL) with a full tunnel up leaves its policy rules and the VPN table's
 * throw routes behind (the TUN's own routes go with the device). The next start removes them;
 * the firewall block, the documented fail-closed state, is all that remains.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { spawnDaemon, waitReady } from '../helpers/daemon.js';
import { ip, ipJson, kernelTestOptions, link } from '../helpers/kernel.js';

const TUN = 'vsftk0';
const LAN = 'vsftkl0';

const ourRules = () =>
  ['-4', '-6'].flatMap((f) => ipJson<Array<{ protocol?: string }>>(f, 'rule', 'show')).filter((r) => r.protocol === '86');
const tableRoutes = () =>
  ['-4', '-6'].flatMap((f) => {
    try {
      return ipJson<unknown[]>(f, 'route', 'show', 'table', '7686', 'proto', '86');
    } catch {
      return []; // no such table
    }
  });

describe('the full tunnel after a crash', kernelTestOptions(), () => {
  test('SIGKILL, then a restart: no rule or route of the service remains, only the block', async (t) => {
    ip('link', 'add', LAN, 'type', 'veth', 'peer', 'name', `${LAN}p`);
    ip('addr', 'add', '10.83.0.1/24', 'dev', LAN);
    ip('link', 'set', LAN, 'up');
    ip('link', 'set', `${LAN}p`, 'up');
    ip('route', 'add', 'default', 'via', '10.83.0.2');
    t.after(() => {
      if (link(LAN)) ip('link', 'delete', LAN);
    });
    const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-ftcrash-'));
    const first = spawnDaemon({}, dir);
    t.after(() => first.stop());
    await waitReady(first);
    const ok = async (method: string, path: string, body?: unknown) => {
      const res = await first.call(method, path, body);
      assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
      return res;
    };
    await ok('POST', '/interfaces', { name: TUN });
    await ok('PATCH', `/interfaces/${TUN}`, { localIp: '10.77.0.1', remoteIp: '10.77.0.2', localIp6: 'fd00:77::1/64' });
    await ok('POST', `/interfaces/${TUN}/apply`);
    await ok('POST', '/routes', [
      { address: '0.0.0.0', prefix: 0 },
      { address: '::', prefix: 0 },
      { address: '192.0.2.0', prefix: 24, exclude: true },
    ]);
    await ok('PUT', '/firewall', { allowVpn: [{ address: '0.0.0.0', prefix: 0 }], allowOriginal: [], originalInterface: LAN });
    assert.equal(ourRules().length, 4);

    first.child.kill('SIGKILL');
    await first.exited;
    assert.equal(ourRules().length, 4, 'negative control: the crash left the rules');
    assert.equal(tableRoutes().length, 1, 'and the throw route (the TUN took its own)');

    const second = spawnDaemon({}, dir);
    t.after(() => second.stop());
    await waitReady(second);
    assert.deepEqual(ourRules(), [], 'the next start removed the rules');
    assert.deepEqual(tableRoutes(), [], "and the VPN table's routes");
    const fw = await second.call('GET', '/firewall');
    assert.equal(fw.body.blocked, true, 'the block stays: fail-closed');
    assert.equal(link(TUN), undefined);
    await second.call('DELETE', '/firewall');
  });
});
