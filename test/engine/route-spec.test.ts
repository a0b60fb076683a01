/** Which routes vpnsvc accepts, without a kernel: the defined outcomes and the address parser. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { parseRoute, routeAddress, routeKey, routeText } from '../../src/engine/route-spec.js';
import { VpnsvcError } from '../../src/errors/errors.js';

function refusal(address: unknown, prefix: unknown): string {
  try {
    parseRoute(address, prefix);
  } catch (err) {
    assert.ok(err instanceof VpnsvcError);
    assert.equal(err.kind, 'VPNSVC_ERROR_INVALID_PARAMETER');
    return err.message;
  }
  assert.fail(`${String(address)}/${String(prefix)} was accepted`);
}

test('accepted routes come back in canonical form', () => {
  const ok: Array<[string, number, string]> = [
    ['10.0.0.0', 8, '10.0.0.0/8'],
    ['0.0.0.0', 0, '0.0.0.0/0'],
    ['0.0.0.0', 1, '0.0.0.0/1'],
    ['128.0.0.0', 1, '128.0.0.0/1'],
    ['192.168.1.7', 32, '192.168.1.7/32'],
    ['169.254.0.0', 16, '169.254.0.0/16'],
    ['::', 0, '::/0'],
    ['FD00:0:0:1::', 64, 'fd00:0:0:1::/64'],
    ['2001:DB8:0:0:0:0:0:1', 128, '2001:db8::1/128'],
    ['fe80::', 10, 'fe80::/10'],
    ['::1.2.3.4', 128, '::102:304/128'],
  ];
  for (const [address, prefix, text] of ok) assert.equal(routeText(parseRoute(address, prefix)), text);
  assert.equal(routeKey(parseRoute('fd00::', 64)), routeKey(parseRoute('FD00:0::', 64)), 'one key for every spelling');
});

test('refused routes name the problem', () => {
  assert.match(refusal('10.1.2.3', 8), /host bits set: did you mean 10\.0\.0\.0\/8\?/);
  assert.match(refusal('fd00::1', 64), /did you mean fd00::\/64\?/);
  assert.match(refusal('10.0.0.0', 33), /out of range for IPv4 \(0\.\.32\)/);
  assert.match(refusal('fd00::', 129), /out of range for IPv6 \(0\.\.128\)/);
  assert.match(refusal('10.0.0.0', 8.5), /out of range/);
  assert.match(refusal('10.0.0.0', '8'), /out of range/);
  assert.match(refusal('224.0.0.0', 4), /multicast/);
  assert.match(refusal('239.255.0.0', 16), /multicast/);
  assert.match(refusal('ff00::', 8), /multicast/);
  assert.match(refusal('127.0.0.0', 8), /loopback/);
  assert.match(refusal('::1', 128), /loopback/);
  assert.match(refusal('255.255.255.255', 32), /broadcast/);
  assert.match(refusal('0.0.0.0', 32), /unspecified/);
  assert.match(refusal('::', 128), /unspecified/);
  assert.match(refusal('::ffff:0.0.0.0', 96), /IPv4-mapped/);
  for (const bad of ['10.0.0', '010.0.0.0', '10.0.0.0 ', '1e1.0.0.0', 'fe80::%1', 'fd00:::', 'host', '', 7]) {
    assert.match(refusal(bad, 8), /not an IPv4 or IPv6 address/);
  }
});

test('the IPv6 parser agrees with ipaddr.js on every spelling of random addresses', () => {
  const spellings = (a: ipaddr.IPv6) => {
    const b = a.toByteArray();
    return [
      a.toRFC5952String(),
      a.toNormalizedString(),
      a.parts.map((p) => p.toString(16).padStart(4, '0')).join(':'),
      a.toRFC5952String().toUpperCase(),
      // the last 32 bits in dotted decimal, as RFC 4291 allows
      `${a.parts
        .slice(0, 6)
        .map((p) => p.toString(16))
        .join(':')}:${b.slice(12).join('.')}`,
    ];
  };
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
      const addr = new ipaddr.IPv6(Array.from(bytes));
      const range = addr.range();
      if (['multicast', 'loopback', 'unspecified', 'ipv4Mapped'].includes(range)) return;
      for (const text of spellings(addr)) {
        const spec = parseRoute(text, 128);
        assert.deepEqual(Array.from(spec.bytes), Array.from(bytes), text);
        assert.equal(routeAddress(spec), addr.toRFC5952String());
      }
    }),
    { numRuns: 2000 },
  );
});
