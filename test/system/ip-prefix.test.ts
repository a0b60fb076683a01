/** Address/prefix arithmetic of the firewall's allow lists: canonical form, folding, ranges. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalPrefix, minimalCover, PrefixError, rangeToPrefixes } from '../../src/system/ip-prefix.js';

const cidr = (c: string) => {
  const [address, prefix] = c.split('/');
  return canonicalPrefix({ address: address!, prefix: Number(prefix) });
};

test('host bits are cleared, IPv6 is written as nft prints it, contained entries fold', () => {
  assert.deepEqual(canonicalPrefix({ address: '10.1.2.3', prefix: 8 }), {
    family: 4,
    address: '10.0.0.0',
    prefix: 8,
    bytes: [10, 0, 0, 0],
  });
  assert.equal(canonicalPrefix({ address: '2001:DB8:0:0:1::1', prefix: 64 }).address, '2001:db8::');
  assert.equal(canonicalPrefix({ address: '::ffff:10.0.0.1', prefix: 128 }).address, '::ffff:a00:1');
  const folded = minimalCover(
    ['10.0.0.0/8', '10.1.0.0/16', '10.0.0.0/8', '11.0.0.0/8'].map((c) => {
      const [address, prefix] = c.split('/');
      return canonicalPrefix({ address: address!, prefix: Number(prefix) });
    }),
  );
  assert.deepEqual(
    folded.map((p) => `${p.address}/${p.prefix}`),
    ['10.0.0.0/8', '11.0.0.0/8'],
  );
  assert.deepEqual(rangeToPrefixes('10.0.0.0', '10.0.2.255'), [
    { address: '10.0.0.0', prefix: 23 },
    { address: '10.0.2.0', prefix: 24 },
  ]);
});

test('prefix 0 is the whole family; a host prefix keeps every bit', () => {
  assert.deepEqual(cidr('10.181.7.9/0'), { family: 4, address: '0.0.0.0', prefix: 0, bytes: [0, 0, 0, 0] });
  assert.equal(cidr('fd00:181::1/0').address, '::');
  assert.equal(cidr('10.181.7.9/32').address, '10.181.7.9');
  assert.equal(cidr('fd00:181::1/128').address, 'fd00:181::1');
  assert.equal(cidr('fd00:181:ffff::/33').address, 'fd00:181:8000::', 'a prefix that splits a byte');
  assert.equal(cidr('10.181.255.255/17').address, '10.181.128.0');
});

test('what is not an address or a prefix of its family is a PrefixError that says which', () => {
  const refused = (entry: { address: unknown; prefix: unknown }, message: RegExp) =>
    assert.throws(
      () => canonicalPrefix(entry as never),
      (err: unknown) => err instanceof PrefixError && message.test(err.message),
    );
  refused({ address: '10.181.0.0', prefix: 33 }, /prefix 33 is out of range for 10\.181\.0\.0: use 0-32/);
  refused({ address: 'fd00:181::', prefix: 129 }, /use 0-128/);
  refused({ address: '10.181.0.0', prefix: -1 }, /out of range/);
  refused({ address: '10.181.0.0', prefix: 8.5 }, /out of range/);
  refused({ address: '10.181.0.0', prefix: '8' }, /out of range/);
  for (const address of ['10.181.0', '010.181.0.1', '10.181.0.256', 'fe80::1%vst0', 'vpn.example', '', 7]) {
    refused({ address, prefix: 8 }, /is not an IPv4 \(dotted quad\) or IPv6 address/);
  }
});

test('folding keeps the widest of overlapping entries, per family, and keeps disjoint ones', () => {
  const folded = minimalCover(['fd00:181:1::/48', '10.181.1.0/24', 'fd00:181::/32', '10.181.0.0/16', '10.182.0.0/16'].map(cidr));
  assert.deepEqual(folded.map((p) => `${p.address}/${p.prefix}`).sort(), ['10.181.0.0/16', '10.182.0.0/16', 'fd00:181::/32']);
  assert.deepEqual(
    minimalCover(['0.0.0.0/0', '::/0', '10.181.0.0/16'].map(cidr)).map((p) => `${p.address}/${p.prefix}`),
    ['0.0.0.0/0', '::/0'],
    'an IPv4 /0 covers no IPv6',
  );
  assert.deepEqual(minimalCover([]), []);
});

test('a range is the fewest prefixes covering exactly it, in IPv4 and IPv6', () => {
  assert.deepEqual(rangeToPrefixes('10.181.0.7', '10.181.0.7'), [{ address: '10.181.0.7', prefix: 32 }]);
  assert.deepEqual(rangeToPrefixes('0.0.0.0', '255.255.255.255'), [{ address: '0.0.0.0', prefix: 0 }]);
  assert.deepEqual(rangeToPrefixes('10.181.0.1', '10.181.0.6'), [
    { address: '10.181.0.1', prefix: 32 },
    { address: '10.181.0.2', prefix: 31 },
    { address: '10.181.0.4', prefix: 31 },
    { address: '10.181.0.6', prefix: 32 },
  ]);
  assert.deepEqual(rangeToPrefixes('fd00:181::', 'fd00:181::1:ffff'), [{ address: 'fd00:181::', prefix: 111 }]);
  assert.deepEqual(rangeToPrefixes('fd00:181::1:0', 'fd00:181::2:ffff'), [
    { address: 'fd00:181::1:0', prefix: 112 },
    { address: 'fd00:181::2:0', prefix: 112 },
  ]);
});
