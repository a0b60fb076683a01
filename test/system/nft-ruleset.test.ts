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
  assert.equal(verbs.filter((v) => v === 'flush').length, 11, 'eight sets and three chains');
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
    allowLan: false,
  });
  assert.equal(parseTable(null).blocked, false);
});

type Rule = { chain: string; expr: Array<Record<string, unknown>>; comment?: string };
const rulesOf = (batch: ReturnType<typeof buildBlockBatch>, chain: string): Rule[] =>
  batch.nftables.flatMap((c) => {
    const r = (c as { add?: { rule?: Rule } }).add?.rule;
    return r && r.chain === chain ? [r] : [];
  });
const setElems = (batch: ReturnType<typeof buildBlockBatch>, name: string): unknown[] =>
  batch.nftables.flatMap((c) => {
    const e = (c as { add?: { element?: { name: string; elem: unknown[] } } }).add?.element;
    return e && e.name === name ? e.elem : [];
  });
const prefixes = (list: string[]) => list.map((t) => ({ prefix: { addr: t.split('/')[0], len: Number(t.split('/')[1]) } }));

test('forward: a base chain with policy drop; replies, then the same allow lists on the way out', () => {
  const batch = buildBlockBatch(SPEC);
  const chain = batch.nftables.find((c) => (c as { add?: { chain?: { name: string } } }).add?.chain?.name === 'forward');
  assert.deepEqual(chain, {
    add: { chain: { family: 'inet', table: 'vpnsvc', name: 'forward', type: 'filter', hook: 'forward', prio: 0, policy: 'drop' } },
  });
  const rules = rulesOf(batch, 'forward');
  assert.deepEqual(
    rules.map((r) => r.comment ?? JSON.stringify(r.expr.slice(0, 2))),
    [
      'vpnsvc:dns-only-vpn',
      'vpnsvc:dns-only-vpn',
      JSON.stringify([
        { match: { op: '==', left: { ct: { key: 'direction' } }, right: 'reply' } },
        { match: { op: 'in', left: { ct: { key: 'state' } }, right: ['established', 'related'] } },
      ]),
      'vpnsvc:allow-vpn',
      'vpnsvc:allow-vpn',
      'vpnsvc:allow-original',
      'vpnsvc:allow-original',
    ],
  );
  const text = JSON.stringify(rules.slice(3));
  assert.ok(!text.includes('iifname') && !text.includes('saddr'), 'forwarded traffic is judged by where it goes');
  for (const [i, ifname, set] of [
    [3, 'tun0', '@vpn_v4'],
    [4, 'tun0', '@vpn_v6'],
    [5, 'eth0', '@orig_v4'],
    [6, 'eth0', '@orig_v6'],
  ] as const) {
    const t = JSON.stringify(rules[i]?.expr);
    assert.ok(t.includes(`"right":"${ifname}"`) && t.includes(`"right":"${set}"`), t);
  }
  assert.deepEqual(rules.at(-1)?.expr.at(-1), { accept: null });
});

test('allowLan: the interface prefixes plus link-local and multicast, allowed in input, output and forward', () => {
  const lanPrefixes = [
    { address: '10.99.0.1', prefix: 24 },
    { address: 'fd99::1', prefix: 64 },
    { address: '169.254.3.4', prefix: 16 },
  ];
  const off = buildBlockBatch({ ...SPEC, lanPrefixes });
  assert.deepEqual(setElems(off, 'lan_v4'), [], 'without allowLan the LAN sets stay empty');
  for (const chain of ['input', 'output', 'forward']) {
    assert.equal(rulesOf(off, chain).filter((r) => r.comment === 'vpnsvc:allow-lan').length, 0);
  }
  const on = buildBlockBatch({ ...SPEC, allowLan: true, lanPrefixes });
  assert.deepEqual(setElems(on, 'lan_v4'), prefixes(['224.0.0.0/4', '169.254.0.0/16', '10.99.0.0/24']));
  assert.deepEqual(setElems(on, 'lan_v6'), prefixes(['ff00::/8', 'fe80::/10', 'fd99::/64']));
  for (const chain of ['input', 'output', 'forward']) {
    const lan = rulesOf(on, chain).filter((r) => r.comment === 'vpnsvc:allow-lan');
    assert.equal(lan.length, 2, chain);
    const t = JSON.stringify(lan);
    assert.ok(t.includes('"right":"eth0"') && t.includes('@lan_v4') && t.includes('@lan_v6'), t);
    assert.ok(t.includes(chain === 'input' ? 'saddr' : 'daddr'), `${chain}: ${t}`);
  }
  refused(() => buildBlockBatch({ ...SPEC, allowLan: true, lanPrefixes: [{ address: 'x', prefix: 8 }] }), /LAN prefix 0/);
});

test('DNS: the drop comes first (after loopback) in output and forward, and lets through only the VPN servers', () => {
  const batch = buildBlockBatch({ ...SPEC, allowLan: true, dnsServers: ['10.8.0.1', 'FD00::53', '10.8.0.2'] });
  assert.deepEqual(setElems(batch, 'dns_v4'), [{ prefix: { addr: '10.8.0.1', len: 32 } }, { prefix: { addr: '10.8.0.2', len: 32 } }]);
  assert.deepEqual(setElems(batch, 'dns_v6'), [{ prefix: { addr: 'fd00::53', len: 128 } }]);
  const output = rulesOf(batch, 'output');
  assert.equal(
    JSON.stringify(output[0]?.expr),
    JSON.stringify([{ match: { op: '==', left: { meta: { key: 'oifname' } }, right: 'lo' } }, { accept: null }]),
  );
  for (const rules of [output.slice(1), rulesOf(batch, 'forward')]) {
    const [v4, v6] = rules;
    for (const [r, proto, set] of [
      [v4, 'ip', '@dns_v4'],
      [v6, 'ip6', '@dns_v6'],
    ] as const) {
      assert.equal(r?.comment, 'vpnsvc:dns-only-vpn');
      assert.deepEqual(r?.expr, [
        { match: { op: '==', left: { meta: { key: 'l4proto' } }, right: { set: ['tcp', 'udp'] } } },
        { match: { op: '==', left: { payload: { protocol: 'th', field: 'dport' } }, right: 53 } },
        { match: { op: '!=', left: { payload: { protocol: proto, field: 'daddr' } }, right: set } },
        { drop: null },
      ]);
    }
    assert.ok(
      rules.slice(2).every((r) => r.comment !== 'vpnsvc:dns-only-vpn'),
      'every allow comes after the DNS drop',
    );
  }
  assert.equal(rulesOf(batch, 'input').filter((r) => r.comment === 'vpnsvc:dns-only-vpn').length, 0, 'answers come back as replies');
  assert.deepEqual(setElems(buildBlockBatch(SPEC), 'dns_v4'), [], 'no VPN DNS servers: all DNS is dropped');
  refused(() => buildBlockBatch({ ...SPEC, dnsServers: ['10.8.0.1; drop'] }), /DNS server/);
});

test('allowLan reads back from the rules in the kernel listing', () => {
  const listing = {
    nftables: [
      { table: { family: 'inet', name: 'vpnsvc', handle: 1 } },
      {
        rule: {
          family: 'inet',
          table: 'vpnsvc',
          chain: 'output',
          comment: 'vpnsvc:allow-lan',
          expr: [{ match: { op: '==', left: { meta: { key: 'oifname' } }, right: 'eth0' } }, { accept: null }],
        },
      },
    ],
  };
  assert.equal(parseTable(listing).allowLan, true);
  assert.equal(parseTable({ nftables: listing.nftables.slice(0, 1) }).allowLan, false);
});
