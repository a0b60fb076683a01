import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chooseBackendName, createResolverBackend } from '../../../src/system/resolver/detect.js';
import { LinkRecordStore } from '../../../src/system/resolver/link-record.js';
import { ResolvconfBackend, recordPrefix } from '../../../src/system/resolver/resolvconf-backend.js';
import { ResolvedBackend } from '../../../src/system/resolver/resolved-backend.js';

/** A directory of fake programs that append "name argv... <stdin>" lines to a log. */
function fakeBin(names: string[]) {
  const dir = fs.mkdtempSync(join(tmpdir(), 'vpnsvc-fakebin-'));
  const log = join(dir, 'calls.log');
  for (const n of names) {
    fs.writeFileSync(join(dir, n), `#!/bin/sh\nin=$(cat | tr '\\n' '|')\necho "${n} $* <$in>" >> "${log}"\n`, { mode: 0o755 });
  }
  return {
    dir,
    calls: () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : []),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

test('detection: forced, resolved, resolvconf, file', () => {
  const bin = fakeBin(['resolvectl', 'resolvconf']);
  const sock = join(bin.dir, 'io.systemd.Resolve');
  try {
    const stateDir = bin.dir;
    assert.equal(chooseBackendName({ env: { PATH: '/nonexistent' }, stateDir }), 'file');
    assert.equal(chooseBackendName({ env: { PATH: bin.dir }, stateDir, resolvedSocket: sock }), 'resolvconf');
    fs.writeFileSync(sock, '');
    assert.equal(chooseBackendName({ env: { PATH: bin.dir }, stateDir, resolvedSocket: sock }), 'resolved');
    assert.equal(chooseBackendName({ env: { PATH: bin.dir, VPNSVC_DNS_BACKEND: 'file' }, stateDir, resolvedSocket: sock }), 'file');
    assert.throws(() => chooseBackendName({ env: { VPNSVC_DNS_BACKEND: 'nope' }, stateDir }), /VPNSVC_DNS_BACKEND/);
    const fb = createResolverBackend({ env: { VPNSVC_DNS_BACKEND: 'file', VPNSVC_RESOLV_CONF: '/tmp/x.conf' }, stateDir });
    assert.deepEqual(fb.describe(), { backend: 'file', path: '/tmp/x.conf' });
  } finally {
    bin.cleanup();
  }
});

test('resolved backend: per-link dns and domains, revert on clear and after a crash', async () => {
  const bin = fakeBin(['resolvectl']);
  try {
    const records = new LinkRecordStore(join(bin.dir, 'state'));
    const b = new ResolvedBackend(records, undefined, join(bin.dir, 'resolvectl'));
    await b.apply('vt0', { servers: ['10.0.0.1', 'fd00::53'], domains: ['~.', 'corp.example'] });
    await b.apply('vt0', { servers: ['10.0.0.1'], domains: [] });
    // a new daemon after a crash
    await new ResolvedBackend(new LinkRecordStore(join(bin.dir, 'state')), undefined, join(bin.dir, 'resolvectl')).recover();
    await b.clear(); // nothing left to do
    assert.deepEqual(bin.calls(), [
      'resolvectl dns vt0 10.0.0.1 fd00::53 <>',
      'resolvectl domain vt0 ~. corp.example <>',
      'resolvectl dns vt0 10.0.0.1 <>',
      'resolvectl domain vt0  <>',
      'resolvectl revert vt0 <>',
    ]);
  } finally {
    bin.cleanup();
  }
});

test('resolvconf backend: wg-quick style record, removed on clear', async () => {
  const bin = fakeBin(['resolvconf']);
  try {
    const order = join(bin.dir, 'interface-order');
    fs.writeFileSync(order, 'lo.inet*\ntun*\nwg*\n*\n');
    assert.equal(recordPrefix(fs.readFileSync(order, 'utf8')), 'tun.');
    const b = new ResolvconfBackend(new LinkRecordStore(join(bin.dir, 'state')), undefined, join(bin.dir, 'resolvconf'), undefined, order);
    await b.apply('vt0', { servers: ['10.0.0.1'], domains: ['corp.example', '~.'] });
    await b.apply('vt0', { servers: [], domains: ['corp.example'] });
    await b.clear();
    assert.deepEqual(bin.calls(), [
      'resolvconf -a tun.vt0 -m 0 -x <nameserver 10.0.0.1|search corp.example|>',
      'resolvconf -d tun.vt0 -f <>',
    ]);
  } finally {
    bin.cleanup();
  }
});
