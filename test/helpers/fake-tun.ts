/**
 * A TunHandle without a kernel, for the data plane's unit tests: an in-memory queue of packets
 * the "kernel" has for the reader, and a record of what was written into the device. readBatch
 * and writeBatch lay out and parse bytes exactly as native-shim/src/packet_io.c does (the
 * batched framing is [u16 big-endian length][packet]...), so the data plane cannot tell the
 * difference. Beside it, PacketSocketStub stands in for a stream client.
 */
import { constants } from 'node:os';
import type { PacketSocket } from '../../src/dataplane/packet-channel.js';
import type { ReadinessWatch, TunHandle } from '../../src/system/tun.js';

const { EBADMSG, EINVAL } = constants.errno;
/** The shim's header size for the batched framing. */
const FRAME_HDR = 2;

/** What the shim (and the kernel behind it) accepts as an IP packet on a TUN without packet info. */
function isIpPacket(p: Buffer): boolean {
  if (p.length < 20) return false;
  const version = (p[0] as number) >> 4;
  return version === 4 || (version === 6 && p.length >= 40);
}

export class FakeTun implements TunHandle {
  readonly fd = -1;
  /** A plain TUN: offload mode needs the kernel's virtio_net_hdr, so its tests use real TUNs. */
  readonly offload = false;
  readonly offloads = 0;
  /** Packets queued for the reader, oldest first. */
  readonly queue: Buffer[] = [];
  /** Packets the data plane wrote into the device, in order. */
  readonly written: Buffer[] = [];
  /** A -errno every readBatch returns instead of reading (EBADFD: the device was deleted). */
  readError: number | undefined;
  nonBlocking = false;
  txQueueLen = 500;
  /** readBatch calls, to tell "nothing was read" from "nothing was queued". */
  reads = 0;
  private readonly watchers = new Set<() => void>();
  private scheduled = false;

  constructor(readonly name = 'faketun0') {}

  offloadDropped(): number {
    return 0;
  }

  /** Readiness watches open now: the data plane watches only while someone wants packets. */
  get watching(): number {
    return this.watchers.size;
  }

  /** The "kernel" routes packets into the TUN: queued, and watchers are woken. */
  push(...packets: Buffer[]): void {
    this.queue.push(...packets.map((p) => Buffer.from(p)));
    this.schedule();
  }

  readBatch(buf: Buffer, pktMax: number, header: number, lens: Uint32Array): number {
    this.reads++;
    if (pktMax <= 0 || lens.length === 0 || (header !== 0 && header !== FRAME_HDR)) return -EINVAL;
    if (this.readError !== undefined) return this.readError;
    const max = header === FRAME_HDR ? Math.min(pktMax, 0xffff) : pktMax;
    let n = 0;
    let off = 0;
    while (n < lens.length && buf.length - off >= max + header && this.queue.length > 0) {
      const packet = this.queue.shift() as Buffer;
      // A read into a shorter buffer gets the packet's head, as read(2) on a TUN does.
      const len = packet.copy(buf, off + header, 0, Math.min(packet.length, max));
      if (header === FRAME_HDR) buf.writeUInt16BE(len, off);
      lens[n++] = len;
      off += header + len;
    }
    return n;
  }

  writeBatch(buf: Buffer, header: number, lens: Uint32Array | null, count: number, stats: Float64Array): number {
    if ((header !== 0 && header !== FRAME_HDR) || (header === 0 && lens === null)) return -EINVAL;
    let off = 0;
    let i = 0;
    let written = 0;
    let damaged = false;
    for (;;) {
      let plen: number;
      if (header === FRAME_HDR) {
        if (off === buf.length) break;
        if (buf.length - off < FRAME_HDR) {
          damaged = true;
          break;
        }
        plen = buf.readUInt16BE(off);
        off += FRAME_HDR;
      } else {
        if (i >= count) break;
        plen = (lens as Uint32Array)[i++] as number;
      }
      if (plen > buf.length - off) {
        damaged = true;
        break;
      }
      const packet = buf.subarray(off, off + plen);
      off += plen;
      if (!isIpPacket(packet)) {
        stats[1] = (stats[1] as number) + 1;
        continue;
      }
      this.written.push(Buffer.from(packet));
      written++;
      stats[2] = (stats[2] as number) + plen;
    }
    stats[0] = (stats[0] as number) + written;
    return damaged ? -EBADMSG : written;
  }

  write(packet: Buffer): number {
    if (packet.length === 0 || !isIpPacket(packet)) return -EINVAL;
    this.written.push(Buffer.from(packet));
    return packet.length;
  }

  isNonBlocking(): boolean {
    return this.nonBlocking;
  }

  raiseTxQueueLen(qlen: number): number {
    this.txQueueLen = Math.max(this.txQueueLen, qlen);
    return this.txQueueLen;
  }

  /** Level-triggered like the libuv poll: called again on each turn while packets are queued. */
  watchReadable(onReadable: () => void): ReadinessWatch {
    const watcher = () => onReadable();
    this.watchers.add(watcher);
    this.schedule();
    return { close: () => void this.watchers.delete(watcher) };
  }

  private readable(): boolean {
    return this.readError !== undefined || this.queue.length > 0;
  }

  private schedule(): void {
    if (this.scheduled || this.watchers.size === 0 || !this.readable()) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      for (const watcher of [...this.watchers]) {
        if (this.watchers.has(watcher) && this.readable()) watcher();
      }
      this.schedule();
    });
  }
}

/** A stream client: records what the data plane sends; bufferedAmount is the test's to set. */
export class PacketSocketStub implements PacketSocket {
  bufferedAmount = 0;
  /** Copies of the messages sent, in order (the data plane reuses its buffers). */
  readonly sent: Buffer[] = [];
  corked = 0;
  corks = 0;

  send(data: Buffer): void {
    this.sent.push(Buffer.from(data));
  }

  cork(): void {
    this.corked++;
    this.corks++;
  }

  uncork(): void {
    this.corked--;
  }
}
