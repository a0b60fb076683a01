/**
 * The packet stream's framings, shared by the daemon and the bridge. A framing is negotiated as
 * a WebSocket sub-protocol (Sec-WebSocket-Protocol); none offered means the packet framing.
 */

/** One IP packet per binary message. */
export const FRAMING_PACKET = 'vpnsvc.packet.v1';
/** Several packets per binary message, each as [u16 big-endian length][packet]. */
export const FRAMING_BATCH = 'vpnsvc.batch.v1';
export type Framing = typeof FRAMING_PACKET | typeof FRAMING_BATCH;
export const FRAMINGS: ReadonlySet<string> = new Set([FRAMING_PACKET, FRAMING_BATCH]);

/** The length prefix of each packet in the batch framing. */
export const FRAME_HEADER_BYTES = 2;
/** The largest IP packet (IPv4 total length / IPv6 payload field); also a TUN read size. */
export const MAX_PACKET = 65535;

/** Bytes before each packet of a message in `framing`. */
export function headerBytes(framing: Framing): number {
  return framing === FRAMING_BATCH ? FRAME_HEADER_BYTES : 0;
}

/** The first framing among `offered` that vpnsvc knows; false when none is (the default framing). */
export function selectFraming(offered: Iterable<string>): Framing | false {
  for (const p of offered) if (FRAMINGS.has(p)) return p as Framing;
  return false;
}
