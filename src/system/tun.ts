/**
 * An open TUN device as the data plane sees it: a handful of packet operations on one fd. The
 * daemon's active interface and the bridge's local TUN are both one of these; a test can give
 * the data plane its own.
 */
import * as native from './native.js';

export type { ReadinessWatch } from './native.js';

export interface TunHandle {
  readonly name: string;
  readonly fd: number;
  /**
   * Offload mode (IFF_VNET_HDR): the gso framing moves super-packets through whole; every other
   * reader and writer sees plain IP packets, cut and checksummed in C.
   */
  readonly offload: boolean;
  /** The TUN_F_* offloads in force (0 for a plain TUN). */
  readonly offloads: number;
  /** Packets the kernel handed over in offload mode that could not be cut into plain ones. */
  offloadDropped(): number;
  /**
   * Reads queued packets without blocking into buf, back to back, each preceded by `header`
   * bytes. Returns how many (0 when none was queued) or -errno.
   */
  readBatch(buf: Buffer, pktMax: number, header: number, lens: Uint32Array): number;
  /**
   * Writes a batch frame (`header` > 0) or `count` packets laid back to back with lengths in
   * `lens`. `stats` accumulates [written, dropped, bytes]. Packets written, or -errno.
   */
  writeBatch(buf: Buffer, header: number, lens: Uint32Array | null, count: number, stats: Float64Array): number;
  /** One packet: bytes written or -errno. */
  write(packet: Buffer): number;
  isNonBlocking(): boolean;
  /** Raises the device's txqueuelen to at least qlen; the length in force. */
  raiseTxQueueLen(qlen: number): number;
  /** Calls onReadable whenever packets are queued (level-triggered, from the event loop). */
  watchReadable(onReadable: () => void): native.ReadinessWatch;
}

/** The handle of TUN `name`, open as `fd` in this process, with the offloads it was opened with. */
export function tunHandle(name: string, fd: number, offloads = 0): TunHandle {
  const offload = offloads !== 0;
  const state = offload ? native.offloadReadState() : null;
  return {
    name,
    fd,
    offload,
    offloads,
    offloadDropped: () => (state ? native.offloadReadDropped(state) : 0),
    readBatch: (buf, pktMax, header, lens) => native.tunReadBatch(fd, buf, pktMax, header, lens, state),
    writeBatch: (buf, header, lens, count, stats) => native.tunWriteBatch(fd, buf, header, lens, count, stats, offload),
    write: (packet) => native.tunWrite(fd, packet, offload),
    isNonBlocking: () => native.isNonBlocking(fd),
    raiseTxQueueLen: (qlen) => native.raiseTxQueueLen(name, qlen),
    watchReadable: (onReadable) => native.watchReadable(fd, onReadable),
  };
}

/** A local point-to-point TUN, addressed and up, for a process of its own (the bridge). */
export interface PointToPointTun extends TunHandle {
  readonly index: number;
  close(): void;
}

export function openPointToPoint(name: string, local: string, peer: string, mtu: number, offload = false): PointToPointTun {
  const opened = native.tunOpen(name, offload);
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    // A non-persistent TUN disappears with its last fd.
    native.closeFd(opened.fd);
  };
  try {
    native.setLocalAddress(opened.name, local);
    native.setPeerAddress(opened.name, peer);
    native.setMtu(opened.name, mtu);
    native.setLinkUp(opened.name, true);
  } catch (err) {
    close();
    throw err;
  }
  return { ...tunHandle(opened.name, opened.fd, opened.offloads), index: native.ifIndex(opened.name) ?? 0, close };
}
