/**
 * The packet stream's framings, shared by the daemon and the bridge. A framing is negotiated as
 * a WebSocket sub-protocol (Sec-WebSocket-Protocol); none offered means the packet framing.
 */

/** One IP packet per binary message. */
export const FRAMING_PACKET = 'vpnsvc.packet.v1';
/** Several packets per binary message, each as [u16 big-endian length][packet]. */
export const FRAMING_BATCH = 'vpnsvc.batch.v1';
/**
 * Several records per binary message, each [u32 big-endian packet length][virtio_net_hdr, 10
 * bytes][packet]: packets of up to 64 KiB that the far end may still have to segment (GSO) or
 * checksum (see openapi.yaml, openPacketStream).
 */
export const FRAMING_GSO = 'vpnsvc.gso.v1';
export type Framing = typeof FRAMING_PACKET | typeof FRAMING_BATCH | typeof FRAMING_GSO;
/** In order of preference where a client offers several. */
export const FRAMINGS: ReadonlySet<string> = new Set([FRAMING_GSO, FRAMING_BATCH, FRAMING_PACKET]);

/** The length prefix of each packet in the batch framing. */
export const FRAME_HEADER_BYTES = 2;
/** The length prefix of each record in the gso framing. */
export const GSO_LENGTH_BYTES = 4;
/** struct virtio_net_hdr, after each length in the gso framing. */
export const VNET_HEADER_BYTES = 10;
/** The largest IP packet (IPv4 total length / IPv6 payload field); also a TUN read size. */
export const MAX_PACKET = 65535;

/** The length prefix of each packet of a message in `framing` (what the shim calls its header). */
export function headerBytes(framing: Framing): number {
  if (framing === FRAMING_BATCH) return FRAME_HEADER_BYTES;
  return framing === FRAMING_GSO ? GSO_LENGTH_BYTES : 0;
}

/** Every byte before each packet of a message in `framing`. */
export function prefixBytes(framing: Framing): number {
  return framing === FRAMING_GSO ? GSO_LENGTH_BYTES + VNET_HEADER_BYTES : headerBytes(framing);
}

/**
 * The framing for a client's offer: the first one vpnsvc knows in the client's order, as
 * Sec-WebSocket-Protocol intends; false when none is (the default framing).
 */
export function selectFraming(offered: Iterable<string>): Framing | false {
  for (const p of offered) if (FRAMINGS.has(p)) return p as Framing;
  return false;
}

/** The framing a server chose, from its Sec-WebSocket-Protocol answer ('' for none). */
export function framingOf(protocol: string): Framing {
  return FRAMINGS.has(protocol) ? (protocol as Framing) : FRAMING_PACKET;
}
