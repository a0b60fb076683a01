/** The daemon as users start it: configuration, first start, a real session, SIGTERM. */
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { spawnDaemon, waitReady } from './helpers/daemon.js';
import { kernelTestOptions, link } from './helpers/kernel.js';

test('a bad VPNSVC_LISTEN stops the daemon at start with a clear message', async (t) => {
  const daemon = spawnDaemon({ VPNSVC_LISTEN: '0.0.0.0' });
  t.after(() => daemon.stop());
  assert.equal(await daemon.exited, 2);
  assert.match(daemon.output(), /VPNSVC_LISTEN: "0\.0\.0\.0" is not host:port/);
});

test('a missing native shim stops the daemon with how to build it', async (t) => {
  const daemon = spawnDaemon({ VPNSVC_NATIVE_LIB: '/nonexistent/libvpnsvc.so' });
  t.after(() => daemon.stop());
  assert.equal(await daemon.exited, 1);
  assert.match(daemon.output(), /native shim not found at \/nonexistent\/libvpnsvc\.so: build it with `npm install`/);
});

describe('the running daemon', kernelTestOptions(), () => {
  test('first start makes an admin token; the token drives a session; SIGTERM deinits and exits 0', async (t) => {
    const daemon = spawnDaemon();
    t.after(() => daemon.stop());
    await waitReady(daemon);
    const tokenPath = join(daemon.dir, 'state', 'admin.token');
    assert.equal(statSync(tokenPath).mode & 0o777, 0o600);
    assert.match(daemon.output(), new RegExp(`"path":"${tokenPath}".*generated an admin token`));
    assert.doesNotMatch(daemon.output(), new RegExp(daemon.token()), 'the token itself is never logged');

    const created = await daemon.call('POST', '/interfaces', { name: 'vssrv0' });
    assert.equal(created.status, 201);
    assert.ok(link('vssrv0'));
    assert.equal((await daemon.call('PATCH', '/interfaces/vssrv0', { localIp: '10.67.0.1', remoteIp: '10.67.0.2' })).status, 200);
    assert.equal((await daemon.call('POST', '/interfaces/vssrv0/apply')).status, 200);
    assert.equal((await daemon.call('GET', '/features')).body.supported, true);

    daemon.child.kill('SIGTERM');
    assert.equal(await daemon.exited, 0);
    assert.equal(link('vssrv0'), undefined, 'the TUN is gone after shutdown');
  });

  test('SIGKILL leaves no stale TUN behind: the device dies with its fd', async (t) => {
    const daemon = spawnDaemon();
    t.after(() => daemon.stop());
    await waitReady(daemon);
    assert.equal((await daemon.call('POST', '/interfaces', { name: 'vssrv1' })).status, 201);
    daemon.child.kill('SIGKILL');
    await daemon.exited;
    assert.equal(link('vssrv1'), undefined);
  });
});
