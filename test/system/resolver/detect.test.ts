import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chooseBackendName, createResolverBackend } from '../../../src/system/resolver/detect.js';

test('detection: forced, resolved, resolvconf, file', () => {
  const dir = fs.mkdtempSync(join(tmpdir(), 'vpnsvc-fakebin-'));
  for (const name of ['resolvectl', 'resolvconf']) fs.writeFileSync(join(dir, name), '#!/bin/sh\n', { mode: 0o755 });
  const sock = join(dir, 'io.systemd.Resolve');
  try {
    const stateDir = dir;
    assert.equal(chooseBackendName({ env: { PATH: '/nonexistent' }, stateDir }), 'file');
    assert.equal(chooseBackendName({ env: { PATH: dir }, stateDir, resolvedSocket: sock }), 'resolvconf');
    fs.writeFileSync(sock, '');
    assert.equal(chooseBackendName({ env: { PATH: dir }, stateDir, resolvedSocket: sock }), 'resolved');
    assert.equal(chooseBackendName({ env: { PATH: dir, VPNSVC_DNS_BACKEND: 'file' }, stateDir, resolvedSocket: sock }), 'file');
    assert.throws(() => chooseBackendName({ env: { VPNSVC_DNS_BACKEND: 'nope' }, stateDir }), /VPNSVC_DNS_BACKEND/);
    const fb = createResolverBackend({ env: { VPNSVC_DNS_BACKEND: 'file', VPNSVC_RESOLV_CONF: '/tmp/x.conf' }, stateDir });
    assert.deepEqual(fb.describe(), { backend: 'file', path: '/tmp/x.conf' });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
