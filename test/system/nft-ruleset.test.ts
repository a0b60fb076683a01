/** The nft JSON builder and parser, without a kernel. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VpnsvcError } from '../../src/errors/errors.js';
import { buildBlockBatch, buildUnblockBatch, MAX_ALLOW_ENTRIES, parseTable } from '../../src/system/nft-ruleset.js';

const SPEC = {
  vpnInterface: 'tun0',
  originalInterface: 'eth0',
  allowVpn: [{ address: '0.0.0.0', prefix: 0 }],
  allowOriginal: [
    { address: '192.0.2.7', prefix: 24 },
    { address: '2001:DB8::1', prefix: 64 },
  ],
};

function refused(fn: () => unknown, message: RegExp): void {
  assert.throws(
    fn,
    (err: unknown) => err instanceof VpnsvcError && err.kind === 'VPNSVC_ERROR_INVALID_PARAMETER' && message.test(err.message),
  );
}

test('bad entries and names are refused before any JSON is built', () => {
  refused(() => buildBlockBatch({ ...SPEC, allowVpn: [{ address: '10.0.0.0', prefix: 33 }] }), /allowVpn\[0\]: prefix 33/);
  refused(() => buildBlockBatch({ ...SPEC, allowVpn: [{ address: '::', prefix: 129 }] }), /prefix 129/);
  refused(() => buildBlockBatch({ ...SPEC, allowOriginal: [{ address: 'fe80::1%eth0', prefix: 64 }] }), /not an IPv4/);
  refused(() => buildBlockBatch({ ...SPEC, allowOriginal: [{ address: '010.1.1.1', prefix: 8 }] }), /not an IPv4/);
  const many = Array.from({ length: MAX_ALLOW_ENTRIES + 1 }, (_, i) => ({ address: `10.0.${i}.0`, prefix: 24 }));
  refused(() => buildBlockBatch({ ...SPEC, allowOriginal: many }), /256 entries: at most 255/);
  for (const name of ['eth0"; flush ruleset', 'eth*', 'eth0 ', '-eth', '', 'a'.repeat(16), '$(reboot)']) {
    refused(() => buildBlockBatch({ ...SPEC, originalInterface: name }), /not a valid interface name/);
  }
});

test('one batch: the table is kept, rules and sets are flushed and refilled; names are JSON values', () => {
  const batch = buildBlockBatch(SPEC).nftables;
  const verbs = batch.map((c) => Object.keys(c)[0]);
  assert.equal(verbs.filter((v) => v === 'delete').length, 0, 'no delete: replacing the table is not atomic for packets');
  assert.equal(verbs.filter((v) => v === 'flush').length, 6, 'four sets and two chains');
  const text = JSON.stringify(batch);
  assert.ok(text.includes('"right":"eth0"') && text.includes('"right":"tun0"'));
  const elements = batch
    .filter((c) => 'add' in c && 'element' in (c.add as object))
    .map((c) => (c.add as { element: { name: string; elem: unknown[] } }).element);
  assert.deepEqual(
    elements.map((e) => [e.name, e.elem]),
    [
      ['vpn_v4', [{ prefix: { addr: '0.0.0.0', len: 0 } }]],
      ['orig_v4', [{ prefix: { addr: '192.0.2.0', len: 24 } }]],
      ['orig_v6', [{ prefix: { addr: '2001:db8::', len: 64 } }]],
    ],
  );
  assert.deepEqual(buildUnblockBatch().nftables.slice(1), [
    { add: { table: { family: 'inet', name: 'vpnsvc' } } },
    { delete: { table: { family: 'inet', name: 'vpnsvc' } } },
  ]);
});

test('the kernel listing parses back: prefixes, single addresses, ranges, interface names', () => {
  const listing = {
    nftables: [
      { metainfo: { json_schema_version: 1 } },
      { table: { family: 'inet', name: 'vpnsvc', handle: 1 } },
      {
        set: {
          family: 'inet',
          table: 'vpnsvc',
          name: 'vpn_v4',
          type: 'ipv4_addr',
          elem: [{ prefix: { addr: '10.0.0.0', len: 8 } }, '192.0.2.1'],
        },
      },
      {
        set: { family: 'inet', table: 'vpnsvc', name: 'orig_v6', type: 'ipv6_addr', elem: [{ range: ['2001:db8::', '2001:db8::1:ffff'] }] },
      },
      { set: { family: 'inet', table: 'vpnsvc', name: 'orig_v4', type: 'ipv4_addr' } },
      {
        rule: {
          family: 'inet',
          table: 'vpnsvc',
          chain: 'output',
          handle: 5,
          comment: 'vpnsvc:allow-vpn',
          expr: [{ match: { op: '==', left: { meta: { key: 'oifname' } }, right: 'tun0' } }, { accept: null }],
        },
      },
      {
        rule: {
          family: 'inet',
          table: 'vpnsvc',
          chain: 'output',
          handle: 7,
          comment: 'vpnsvc:allow-original',
          expr: [{ match: { op: '==', left: { meta: { key: 'oifname' } }, right: 'eth0' } }, { accept: null }],
        },
      },
    ],
  };
  assert.deepEqual(parseTable(listing), {
    blocked: true,
    vpnInterface: 'tun0',
    originalInterface: 'eth0',
    allowVpn: [
      { address: '10.0.0.0', prefix: 8 },
      { address: '192.0.2.1', prefix: 32 },
    ],
    allowOriginal: [{ address: '2001:db8::', prefix: 111 }],
  });
  assert.equal(parseTable(null).blocked, false);
});
