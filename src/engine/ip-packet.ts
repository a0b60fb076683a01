/**
 * What vpnsvc_write accepts: one whole IPv4 or IPv6 packet. The kernel refuses bytes whose
 * version nibble is neither 4 nor 6 (EINVAL), but takes any bytes that start with one, e.g.
 * "hello" (0x68: "version 6"); those are refused here, before the TUN, with what is wrong.
 */
import { invalidParameter } from '../errors/errors.js';

const IPV4_MIN_HEADER = 20;
const IPV6_HEADER = 40;

/** Throws INVALID_PARAMETER when a packet claiming IPv4 or IPv6 does not match its own header. */
export function checkIpPacket(packet: Buffer): void {
  const version = packet[0]! >> 4;
  if (version === 4) {
    const ihl = (packet[0]! & 0x0f) * 4;
    if (packet.length < IPV4_MIN_HEADER || ihl < IPV4_MIN_HEADER || ihl > packet.length) {
      throw invalidParameter(`not an IPv4 packet: ${packet.length} bytes, header length ${ihl} (an IPv4 header is 20-60 bytes)`);
    }
    const total = packet.readUInt16BE(2);
    if (total !== packet.length) {
      throw invalidParameter(`the IPv4 header says ${total} bytes (total length) but the body is ${packet.length} bytes`);
    }
  } else if (version === 6) {
    if (packet.length < IPV6_HEADER) throw invalidParameter(`not an IPv6 packet: ${packet.length} bytes, shorter than its 40-byte header`);
    const payload = packet.readUInt16BE(4);
    if (payload + IPV6_HEADER !== packet.length) {
      throw invalidParameter(
        `the IPv6 header says ${payload + IPV6_HEADER} bytes (40 + payload length ${payload}) but the body is ${packet.length} bytes`,
      );
    }
  }
  // Any other version: the kernel's EINVAL says it (and counts it as a dropped write).
}
