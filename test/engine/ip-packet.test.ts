/** vpnsvc_write's packet check: a packet that claims IPv4 or IPv6 must match its own header. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkIpPacket } from '../../src/engine/ip-packet.js';
import { VpnsvcError } from '../../src/errors/errors.js';
import { ipv4Udp } from '../helpers/packets.js';

const refused = (packet: Buffer, message: RegExp) =>
  assert.throws(
    () => checkIpPacket(packet),
    (err: unknown) => err instanceof VpnsvcError && err.kind === 'VPNSVC_ERROR_INVALID_PARAMETER' && message.test(err.message),
  );

function ipv6(payload: number, declared = payload): Buffer {
  const p = Buffer.alloc(40 + payload);
  p[0] = 0x60;
  p.writeUInt16BE(declared, 4);
  p[6] = 17;
  p[7] = 64;
  return p;
}

test('whole IPv4 and IPv6 packets pass', () => {
  checkIpPacket(ipv4Udp('10.9.0.2', '10.9.0.1', 4000, 5000, Buffer.from('payload')));
  checkIpPacket(ipv6(8));
  checkIpPacket(ipv6(0));
});

test('bytes that only start like IP are refused with what is wrong', () => {
  refused(Buffer.from('hello'), /not an IPv6 packet: 5 bytes, shorter than its 40-byte header/);
  refused(Buffer.from([0x45, 0, 0, 20]), /not an IPv4 packet: 4 bytes/);
  const v4 = ipv4Udp('10.9.0.2', '10.9.0.1', 4000, 5000, Buffer.from('payload'));
  refused(Buffer.concat([v4, Buffer.from('trailing')]), /the IPv4 header says \d+ bytes \(total length\) but the body is \d+ bytes/);
  refused(v4.subarray(0, v4.length - 1), /the IPv4 header says/);
  const badIhl = Buffer.from(v4);
  badIhl[0] = 0x44;
  refused(badIhl, /header length 16/);
  refused(ipv6(8, 9), /the IPv6 header says 49 bytes \(40 \+ payload length 9\) but the body is 48 bytes/);
});

test('other versions are left to the kernel, which says EINVAL', () => {
  checkIpPacket(Buffer.from('this is not an IP packet at all'));
});
