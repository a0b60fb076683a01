/** Split tunnelling in the kernel: the cgroup2 mount, uid rules, the split table's text, the kill switch's bypass rules. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { NftFirewall } from '../../src/system/nft.js';
import { buildBlockBatch, COMMENT_SPLIT, splitBypassRules } from '../../src/system/nft-ruleset.js';
import { runProgram } from '../../src/system/process.js';
import {
  buildSplitBatch,
  cgroup2MountIn,
  PREF_SPLIT_EXCLUDE,
  PREF_SPLIT_INCLUDE,
  parseSplitTable,
  SplitRules,
  UID_MAX,
  uidComplement,
} from '../../src/system/split-rules.js';
import { kernelTestOptions } from '../helpers/kernel.js';
import { privateNft } from '../helpers/private-nft.js';

const MOUNTINFO = [
  '31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
  '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw',
].join('\n');

test('the cgroup2 mount comes from mountinfo (its fstype), wherever it is', () => {
  assert.equal(cgroup2MountIn(MOUNTINFO), '/sys/fs/cgroup/unified');
  assert.equal(cgroup2MountIn('52 48 0:38 / /tmp/cg\\0402 rw,relatime - cgroup2 cgroup2 rw'), '/tmp/cg 2', 'octal escapes undone');
  assert.equal(cgroup2MountIn(MOUNTINFO.split('\n').slice(0, 2).join('\n')), null, 'cgroup v1 only: none');
});

test('the uids a list leaves out', () => {
  assert.deepEqual(uidComplement([[0, 0]]), [[1, UID_MAX]]);
  assert.deepEqual(
    uidComplement([
      [10, 20],
      [30, 30],
    ]),
    [
      [0, 9],
      [21, 29],
      [31, UID_MAX],
    ],
  );
  assert.deepEqual(uidComplement([[0, UID_MAX]]), []);
  assert.deepEqual(uidComplement([]), [[0, UID_MAX]]);
});

test('the split table: marks (exclude) or spares (include) the cgroups, paths relative to where nft looks, masquerade', () => {
  const exclude = buildSplitBatch('exclude', [{ path: '/vpnsvc.bypass', level: 1 }], '/sys/fs/cgroup/unified');
  assert.match(
    exclude,
    /add rule inet vpnsvc_split output socket cgroupv2 level 1 "unified\/vpnsvc.bypass" meta mark set 0x7686 ct mark set 0x7686 comment "vpnsvc:exclude:\/vpnsvc.bypass"/,
  );
  assert.match(exclude, /type route hook output priority mangle/);
  assert.match(exclude, /add rule inet vpnsvc_split postrouting ct mark 0x7686 oifname != "lo" masquerade/);
  assert.doesNotMatch(exclude, /meta mark != /);
  const include = buildSplitBatch('include', [{ path: '/a/b.service', level: 2 }], '/tmp/cg2');
  assert.match(
    include,
    /socket cgroupv2 level 2 "\.\.\/\.\.\/\.\.\/tmp\/cg2\/a\/b.service" return comment "vpnsvc:include:\/a\/b.service"/,
  );
  assert.match(include, /output meta mark != 0x7686 meta mark set 0x7686 ct mark set 0x7686 comment "vpnsvc:include"/);
  assert.ok(include.indexOf(' return ') < include.indexOf('meta mark != '), 'the listed cgroups return before everything else is marked');
});

test('the split table read back from its rules comments', () => {
  const listing = {
    nftables: [
      { rule: { chain: 'output', comment: 'vpnsvc:include:/a/b:c.scope' } },
      { rule: { chain: 'output', comment: 'vpnsvc:include' } },
      { rule: { chain: 'postrouting' } },
      { rule: { chain: 'output', comment: 'someone else' } },
    ],
  };
  assert.deepEqual(parseSplitTable(listing), { mode: 'include', cgroups: ['/a/b:c.scope'] });
  assert.deepEqual(parseSplitTable(null), { mode: null, cgroups: [] });
});

test('the kill switch allows the bypassing uids and the marked connections, in its output chain only', () => {
  assert.deepEqual(splitBypassRules(undefined), []);
  const spec = { vpnInterface: 'tun0', originalInterface: 'eth0', allowVpn: [], allowOriginal: [] };
  const plain = buildBlockBatch(spec).nftables;
  const batch = buildBlockBatch({
    ...spec,
    bypass: {
      uids: [
        [7, 7],
        [1000, 1999],
      ],
      marked: true,
    },
  }).nftables;
  const added = batch.filter((c) => JSON.stringify(c).includes(COMMENT_SPLIT)) as Array<{
    add: { rule: { chain: string; expr: unknown[] } };
  }>;
  assert.equal(batch.length, plain.length + 3);
  assert.deepEqual(
    added.map((c) => [c.add.rule.chain, c.add.rule.expr[0]]),
    [
      ['output', { match: { op: '==', left: { meta: { key: 'skuid' } }, right: 7 } }],
      ['output', { match: { op: '==', left: { meta: { key: 'skuid' } }, right: { range: [1000, 1999] } } }],
      ['output', { match: { op: '==', left: { ct: { key: 'mark' } }, right: 0x7686 } }],
    ],
  );
});

test('nft takes the block with its bypass rules; uid rules set, read back and removed in the kernel', kernelTestOptions(), async (t) => {
  const nft = privateNft('split');
  t.after(() => nft.destroy());
  const block = buildBlockBatch({
    vpnInterface: 'tun0',
    originalInterface: 'lo',
    allowVpn: [],
    allowOriginal: [],
    bypass: { uids: [[1000, 1999]], marked: true },
  });
  await runProgram(nft.program, ['-j', '-f', '-'], { input: JSON.stringify(block), stdin: 'file' });
  const listed = execFileSync(nft.program, ['list', 'chain', 'inet', 'vpnsvc', 'output'], { encoding: 'utf8' });
  assert.match(listed, /meta skuid 1000-1999 accept comment "vpnsvc:split-bypass"/);
  assert.match(listed, /ct mark 0x00007686 accept comment "vpnsvc:split-bypass"/);

  const rules = new SplitRules(
    (file, args, options) => runProgram('ip', ['netns', 'exec', nft.netns, file, ...args], options),
    nft.program,
  );
  await rules.setUids('exclude', [
    [1000, 1999],
    [65534, 65534],
  ]);
  let back = await rules.readUids();
  assert.equal(back.mode, 'exclude');
  assert.deepEqual(back.ranges, [
    [1000, 1999],
    [65534, 65534],
  ]);
  assert.deepEqual(
    back.rules.map((r) => `${r.family} ${r.priority} ${r.rule}`),
    [
      `4 ${PREF_SPLIT_EXCLUDE} uidrange 1000-1999 lookup main`,
      `4 ${PREF_SPLIT_EXCLUDE} uidrange 65534-65534 lookup main`,
      `6 ${PREF_SPLIT_EXCLUDE} uidrange 1000-1999 lookup main`,
      `6 ${PREF_SPLIT_EXCLUDE} uidrange 65534-65534 lookup main`,
    ],
  );
  await rules.setUids('exclude', [
    [7, 7],
    [65534, 65534],
  ]);
  assert.deepEqual((await rules.readUids()).ranges, [
    [7, 7],
    [65534, 65534],
  ]);
  assert.equal((await rules.readUids()).rules.length, 4, 'the kept uid has one rule per family, not two');
  await rules.setUids('include', [[0, 0]]);
  back = await rules.readUids();
  assert.equal(back.mode, 'include');
  assert.deepEqual(back.ranges, [[0, 0]], 'the list, though the kernel holds its complement');
  assert.deepEqual(
    back.rules.map((r) => `${r.family} ${r.priority} ${r.rule}`),
    [`4 ${PREF_SPLIT_INCLUDE} uidrange 1-${UID_MAX} lookup main`, `6 ${PREF_SPLIT_INCLUDE} uidrange 1-${UID_MAX} lookup main`],
  );
  assert.deepEqual(await rules.readCgroups(), { mode: null, cgroups: [] }, 'no table: nothing split by program');
  assert.equal(await rules.removeTable(), false);
  await rules.removeUids();
  assert.deepEqual((await rules.readUids()).rules, []);
});

test('a block this process set is set again with a new bypass; none to set again without one', kernelTestOptions(), async (t) => {
  const nft = privateNft('split-reapply');
  t.after(() => nft.destroy());
  const firewall = new NftFirewall(nft.program);
  assert.equal(await firewall.reapply(), false, 'no block set: nothing to set again, nft not even asked');
  assert.deepEqual(nft.calls(), []);
  await firewall.block({ vpnInterface: 'tun0', originalInterface: 'lo', allowVpn: [], allowOriginal: [] });
  const output = () => execFileSync(nft.program, ['list', 'chain', 'inet', 'vpnsvc', 'output'], { encoding: 'utf8' });
  assert.doesNotMatch(output(), /split-bypass/);
  firewall.bypass = { uids: [[65534, 65534]], marked: false };
  assert.equal(await firewall.reapply(), true);
  assert.match(output(), /meta skuid 65534 accept comment "vpnsvc:split-bypass"/);
  firewall.bypass = undefined;
  assert.equal(await firewall.reapply(), true);
  assert.doesNotMatch(output(), /split-bypass/, 'the bypass goes with the split');
  await firewall.unblock();
  assert.equal(await firewall.reapply(), false, 'unblocked: nothing to set again');
});
