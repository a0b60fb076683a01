/** Split tunnelling's request checks, the kill switch's bypass, and the HTTP answers to bad requests. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkCgroupPaths, formatUidRange, parseUidRanges, SplitTunnel } from '../../src/engine/split-tunnel.js';
import { VpnsvcError } from '../../src/errors/errors.js';
import { build, TOKENS } from '../helpers/app.js';
import { kernelTestOptions } from '../helpers/kernel.js';

const refused = (code: string, message: RegExp) => (err: unknown) =>
  err instanceof VpnsvcError && err.kind === code && message.test(err.message);
const invalid = (message: RegExp) => refused('VPNSVC_ERROR_INVALID_PARAMETER', message);

test('uids and ranges are sorted and merged; single uids show as one number', () => {
  assert.deepEqual(parseUidRanges(['65534', '1000-1999', '2000-2005', '10', '1500-1600']), [
    [10, 10],
    [1000, 2005],
    [65534, 65534],
  ]);
  assert.deepEqual(parseUidRanges(['0-4294967294']), [[0, 4294967294]]);
  assert.deepEqual(parseUidRanges([]), []);
  assert.equal(formatUidRange([7, 7]), '7');
  assert.equal(formatUidRange([1000, 1999]), '1000-1999');
});

test('bad uid ranges are INVALID_PARAMETER and name the entry', () => {
  assert.throws(() => parseUidRanges(['1000', '1999-1000']), invalid(/^uids\[1\]: the range "1999-1000" starts above its end/));
  assert.throws(() => parseUidRanges(['abc']), invalid(/^uids\[0\]: "abc" is not a decimal uid/));
  assert.throws(() => parseUidRanges(['-5']), invalid(/uids\[0\]: "" is not a decimal uid/));
  assert.throws(() => parseUidRanges(['1-2-3']), invalid(/is not a uid or a range A-B/));
  assert.throws(() => parseUidRanges(['4294967295']), invalid(/above the highest uid 4294967294/));
  assert.throws(() => parseUidRanges(['1e3']), invalid(/not a decimal uid/));
  assert.throws(() => parseUidRanges(Array.from({ length: 65 }, (_, i) => String(i))), invalid(/at most 64/));
});

test('cgroup paths: absolute, plain components, existing under the mount; 501 without a mount', () => {
  const mount = mkdtempSync(join(tmpdir(), 'vsst-unit-cgroup-'));
  try {
    mkdirSync(join(mount, 'system.slice', 'x.service'), { recursive: true });
    assert.deepEqual(checkCgroupPaths(['/system.slice/x.service/', '/system.slice'], mount), [
      { path: '/system.slice/x.service', level: 2 },
      { path: '/system.slice', level: 1 },
    ]);
    assert.deepEqual(checkCgroupPaths([], null), [], 'no cgroups need no mount');
    assert.throws(() => checkCgroupPaths(['system.slice'], mount), invalid(/cgroups\[0\]: "system.slice" is not an absolute cgroup path/));
    assert.throws(() => checkCgroupPaths(['/system.slice/../etc'], mount), invalid(/no "\." or "\.\."/));
    assert.throws(() => checkCgroupPaths(['/a"b'], mount), invalid(/may only have components/));
    assert.throws(() => checkCgroupPaths(['/a b'], mount), invalid(/may only have components/));
    assert.throws(() => checkCgroupPaths(['/'], mount), invalid(/below the root/));
    assert.throws(() => checkCgroupPaths([`/${'a'.repeat(100)}`], mount), invalid(/at most 100 characters/));
    assert.throws(() => checkCgroupPaths(['/system.slice', '/system.slice/'], mount), invalid(/listed twice/));
    assert.throws(
      () => checkCgroupPaths(['/nope.service'], mount),
      invalid(/cgroups\[0\]: "\/nope.service" does not exist under the cgroup2 mount/),
    );
    assert.throws(
      () => checkCgroupPaths(['/system.slice'], null),
      refused('VPNSVC_ERROR_NOT_SUPPORTED', /needs cgroup v2, and this host has no cgroup2 mount/),
    );
  } finally {
    rmSync(mount, { recursive: true, force: true });
  }
});

test('the kill switch lets through what bypasses the VPN: excluded uids, or the uids not included', () => {
  const state = { cgroup2Mount: null, rules: [] };
  assert.equal(SplitTunnel.bypass({ ...state, mode: null, uids: [], cgroups: [] }), undefined);
  assert.deepEqual(SplitTunnel.bypass({ ...state, mode: 'exclude', uids: ['65534', '1000-1999'], cgroups: [] }), {
    uids: [
      [1000, 1999],
      [65534, 65534],
    ],
    marked: false,
  });
  assert.deepEqual(SplitTunnel.bypass({ ...state, mode: 'include', uids: ['0', '1000-1999'], cgroups: ['/x'] }), {
    uids: [
      [1, 999],
      [2000, 4294967294],
    ],
    marked: true,
  });
  assert.deepEqual(SplitTunnel.bypass({ ...state, mode: 'include', uids: [], cgroups: ['/x'] }), { uids: [], marked: true });
});

test('PUT /split-tunnel refuses bad requests with the VPNSVC error codes, before touching the kernel', kernelTestOptions(), async (t) => {
  const { app, admin } = await build(t);
  const put = (body: unknown) => admin.put('/split-tunnel').send(body as object);
  const bad = await put({ mode: 'exclude', uids: ['1999-1000'] }).expect(400);
  assert.equal(bad.body.error, 'VPNSVC_ERROR_INVALID_PARAMETER');
  assert.equal(bad.body.code, -22);
  assert.match(bad.body.message, /uids\[0\]: the range "1999-1000" starts above its end/);
  assert.equal((await put({ mode: 'split', uids: ['1'] }).expect(400)).body.error, 'VPNSVC_ERROR_INVALID_PARAMETER');
  assert.equal((await put({ uids: ['1'] }).expect(400)).body.error, 'VPNSVC_ERROR_INVALID_PARAMETER');
  assert.match((await put({ mode: 'exclude' }).expect(400)).body.message, /nothing to split/);
  assert.equal((await put({ mode: 'exclude', uids: ['1'], extra: 1 }).expect(400)).body.error, 'VPNSVC_ERROR_INVALID_PARAMETER');
  const cgroup = await put({ mode: 'include', cgroups: ['/vpnsvc.no-such-cgroup'] });
  // 400 where the host has a cgroup2 mount, 501 where it has none (the test runner's fresh /sys)
  assert.ok(cgroup.status === 400 || cgroup.status === 501, JSON.stringify(cgroup.body));
  assert.equal(cgroup.body.error, cgroup.status === 400 ? 'VPNSVC_ERROR_INVALID_PARAMETER' : 'VPNSVC_ERROR_NOT_SUPPORTED');

  const anon = await app.inject({ method: 'PUT', url: '/split-tunnel', payload: { mode: 'exclude', uids: ['1'] } });
  assert.equal(anon.statusCode, 401);
  const internetOnly = await app.inject({
    method: 'DELETE',
    url: '/split-tunnel',
    headers: { authorization: `Bearer ${TOKENS.internet}` },
  });
  assert.equal(internetOnly.statusCode, 403, 'DELETE needs the vpnservice privilege');
  assert.deepEqual((await admin.get('/split-tunnel').expect(200)).body.mode, null, 'nothing was set');
});
