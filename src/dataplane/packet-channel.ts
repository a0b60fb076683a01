/**
 * The packets of one TUN: vpnsvc_read / vpnsvc_write one at a time for REST, or a stream to one
 * remote client. No HTTP and no engine here: a TUN is a TunHandle and a stream client is any
 * PacketSocket (a WebSocket fits), so the bridge runs the same code on its own TUN.
 *
 * Reads are readiness-driven: a libuv poll on the fd wakes us, and C drains the fd in batches
 * until nothing is queued (see native-shim/src/packet_io.c). Packets a slow stream client cannot
 * take are dropped and counted, never buffered without bound.
 */
import { setFlagsFromString } from 'node:v8';
import type { Counters } from '../contract/api-types.js';
import { EBUSY, ENODEV } from '../errors/errno.js';
import { errnoError, errnoName, timeout } from '../errors/errors.js';
import type { ReadinessWatch, TunHandle } from '../system/tun.js';
import { FRAMING_BATCH, FRAMING_GSO, type Framing, headerBytes, MAX_PACKET, prefixBytes } from './framing.js';

/** Bytes a stream may have queued towards its client before new packets are dropped. */
export const STREAM_HIGH_WATER_MARK = 2 * 1024 * 1024;
/**
 * The same for the gso framing, whose records are up to 64 KiB: 2 MiB would be 32 of them, and
 * one dropped super-packet is dozens of TCP segments lost at once.
 */
export const GSO_STREAM_HIGH_WATER_MARK = 4 * 1024 * 1024;
/**
 * The same for the packet framing, where every queued packet is a message with its own objects
 * (tiny packets cost several times their size in memory while they wait).
 */
export const PACKET_STREAM_HIGH_WATER_MARK = 1024 * 1024;
/**
 * Packets the kernel may queue for a streaming reader (a TUN's default is 500): about 10 ms at
 * 200 k packets/s, so a GC pause of the event loop does not become kernel drops.
 */
export const STREAM_TUN_QUEUE_LEN = 2000;
/** Longest a REST read may wait. */
export const MAX_READ_WAIT_MS = 60_000;

/**
 * A stream promotes a steady trickle of in-flight buffers to V8's old generation. With the
 * daemon's ~15 MB of live heap, V8's dynamic growing factor can settle near 1.1 and then run a
 * full mark-compact every ~2 MB promoted: measured 30+ per 3 s and ~27% of the daemon's CPU in
 * GC, against ~1% in the bridge running the same code on a 5 MB heap. A fixed 3x growth
 * (old generation limit = 3x the live heap after a GC, here ~45 MB) cuts that to a handful.
 */
const HEAP_GROWING_FLAG = '--heap-growing-percent=200';
let heapTuned = false;
function tuneHeapForStreaming(): void {
  if (heapTuned) return;
  heapTuned = true;
  setFlagsFromString(HEAP_GROWING_FLAG);
}
const SLAB_SIZE = 1024 * 1024;
const PACKETS_PER_READ = 64;
/** Largest batch message the daemon sends (unless one packet is larger). */
const BATCH_MESSAGE_BYTES = 16 * 1024;
/** Batches per wakeup before yielding to the event loop; the poll is level-triggered. */
const READS_PER_WAKEUP = 16;

/** What the data plane needs from a stream transport. A `ws` WebSocket plus its socket fits. */
export interface PacketSocket {
  readonly bufferedAmount: number;
  send(data: Buffer): void;
  /** Gathers the sends of one wakeup into one write to the transport. */
  cork(): void;
  uncork(): void;
}

/** Counters the data plane keeps itself (see Counters in openapi.yaml); they join the kernel's. */
export type PacketCounters = Pick<Counters, 'streamDropped' | 'writeDropped' | 'framesRejected' | 'offloadDropped'>;

export const zeroCounters = (): PacketCounters => ({ streamDropped: 0, writeDropped: 0, framesRejected: 0, offloadDropped: 0 });

/**
 * A stream that moves its packets somewhere else than the channel's thread (a worker thread):
 * the channel only keeps it exclusive, leaves the fd unwatched, and ends it.
 */
export interface RemoteStream {
  /** Its part of the channel's counters, live. */
  readonly counters: Readonly<PacketCounters>;
  /** Stops its use of the TUN before returning (the fd may be closed right after) and tells its client why. */
  stop(why: string): void;
}

/**
 * One attached stream: TUN → client on readiness, client → TUN on each message. Owned by the
 * PacketChannel; closed when the client goes or the interface is removed.
 */
export class PacketStream {
  private slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
  private slabUsed = 0;
  private readonly lens = new Uint32Array(PACKETS_PER_READ);
  private readonly one = new Uint32Array(1);
  private readonly writeStats = new Float64Array(3);
  private readonly header: number;
  /** The most one record takes in the slab: the largest packet and everything before it. */
  private readonly recordMax: number;
  /** Packets moved, for logs and the benchmark. */
  readonly moved = { toClient: 0, fromClient: 0 };

  constructor(
    private readonly tun: TunHandle,
    private readonly socket: PacketSocket,
    readonly framing: Framing,
    private readonly counters: PacketCounters,
    private readonly highWaterMark: number,
  ) {
    this.header = headerBytes(framing);
    this.recordMax = MAX_PACKET + prefixBytes(framing);
  }

  /** Drains the TUN into the client. Called on readiness. Returns 0, or the -errno of a failed read. */
  pump(): number {
    const socket = this.socket;
    const lens = this.lens;
    socket.cork();
    try {
      for (let round = 0; round < READS_PER_WAKEUP; round++) {
        const full = socket.bufferedAmount > this.highWaterMark;
        if (SLAB_SIZE - this.slabUsed < this.recordMax) {
          // Sent packets still reference the old slab until the transport has written them.
          this.slab = Buffer.allocUnsafeSlow(SLAB_SIZE);
          this.slabUsed = 0;
        }
        const start = this.slabUsed;
        const room = this.slab.subarray(start);
        const n = this.tun.readBatch(room, MAX_PACKET, this.header, lens);
        if (n <= 0) return n;
        let bytes = 0;
        for (let i = 0; i < n; i++) bytes += lens[i] as number;
        const used = bytes + n * this.header;
        if (full) {
          // Over the high-water mark: the slab space is reused, the packets are gone.
          this.counters.streamDropped += n;
        } else {
          this.slabUsed = start + used;
          this.moved.toClient += n;
          if (this.header > 0) {
            // Messages that fit in one socket read reach the peer's parser without being
            // reassembled into a fresh buffer (garbage that drives full GCs at Gbit/s).
            let from = 0;
            let at = 0;
            for (let i = 0; i < n; i++) {
              const next = at + this.header + (lens[i] as number);
              if (next - from > BATCH_MESSAGE_BYTES && at > from) {
                socket.send(room.subarray(from, at));
                from = at;
              }
              at = next;
            }
            socket.send(room.subarray(from, at));
          } else {
            let at = 0;
            for (let i = 0; i < n; i++) {
              const end = at + (lens[i] as number);
              socket.send(room.subarray(at, end));
              at = end;
            }
          }
        }
        // Fewer than asked and not for lack of room: the fd is drained.
        if (n < PACKETS_PER_READ && room.length - used >= this.recordMax) return 0;
      }
      return 0;
    } finally {
      socket.uncork();
    }
  }

  /** A binary message from the client: one packet, or a batch or gso frame. */
  receive(data: Buffer): void {
    const stats = this.writeStats;
    const before = stats[1] as number;
    let rc: number;
    if (this.header > 0) {
      rc = this.tun.writeBatch(data, this.header, null, 0, stats);
    } else {
      this.one[0] = data.length;
      rc = this.tun.writeBatch(data, 0, this.one, 1, stats);
    }
    this.counters.writeDropped += (stats[1] as number) - before;
    stats[1] = before;
    if (rc < 0) this.counters.framesRejected++;
    else this.moved.fromClient += rc;
  }

  /** A frame the framing does not allow (text). */
  reject(): void {
    this.counters.framesRejected++;
  }
}

interface Waiter {
  resolve(packet: Buffer): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The data plane of one interface: REST reads and writes, and at most one stream. A single
 * readiness watch on the fd serves whichever is active.
 */
export class PacketChannel {
  private watch: ReadinessWatch | undefined;
  private stream: PacketStream | undefined;
  private remote: RemoteStream | undefined;
  private onStreamEnd: ((why: string) => void) | undefined;
  private readonly waiters: Waiter[] = [];
  private readonly readLens = new Uint32Array(1);
  /** The counters of REST writes, of streams pumped here, and of remote streams that ended. */
  private readonly own: PacketCounters = zeroCounters();
  closed = false;

  constructor(readonly tun: TunHandle) {}

  get hasStream(): boolean {
    return this.stream !== undefined || this.remote !== undefined;
  }

  /**
   * The channel's counters, a remote stream's included. offloadDropped is kept by the TUN's own
   * read state: this thread's, plus what remote streams counted on theirs.
   */
  get counters(): PacketCounters {
    const remote = this.remote?.counters;
    if (!remote) return { ...this.own, offloadDropped: this.own.offloadDropped + this.tun.offloadDropped() };
    return {
      streamDropped: this.own.streamDropped + remote.streamDropped,
      writeDropped: this.own.writeDropped + remote.writeDropped,
      framesRejected: this.own.framesRejected + remote.framesRejected,
      offloadDropped: this.own.offloadDropped + this.tun.offloadDropped() + remote.offloadDropped,
    };
  }

  /**
   * vpnsvc_read: the next packet, waiting up to timeoutMs (0: only one already queued), as the
   * seed's select() did. Refused while a stream owns the interface's packets.
   */
  read(timeoutMs: number, signal?: AbortSignal): Promise<Buffer> {
    if (this.hasStream) return Promise.reject(busy(this.tun.name, 'a stream is attached; it receives every packet'));
    let now: Buffer | undefined;
    try {
      now = this.readOne();
    } catch (err) {
      return Promise.reject(err as Error);
    }
    if (now) return Promise.resolve(now);
    if (timeoutMs <= 0) return Promise.reject(readTimeout(this.tun.name, 0));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, timer: undefined };
      waiter.timer = setTimeout(() => {
        this.removeWaiter(waiter);
        reject(readTimeout(this.tun.name, timeoutMs));
      }, timeoutMs);
      // A reader that went away must not take a packet with it.
      signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(waiter.timer);
          this.removeWaiter(waiter);
          reject(new Error('read abandoned by its caller'));
        },
        { once: true },
      );
      this.waiters.push(waiter);
      this.updateWatch();
    });
  }

  /** vpnsvc_write: one packet into the TUN. Returns the bytes written. */
  write(packet: Buffer): number {
    const rc = this.tun.write(packet);
    if (rc < 0) {
      this.own.writeDropped++;
      throw errnoError(rc, `write a packet to "${this.tun.name}"`, 'VPNSVC_ERROR_IO_ERROR');
    }
    return rc;
  }

  /** EBUSY when a stream is attached, so a second client can be refused before it upgrades. */
  requireNoStream(): void {
    if (this.hasStream) throw busy(this.tun.name, 'another client holds its stream (one stream per interface)');
  }

  /**
   * Attaches the one stream. A second one gets EBUSY: the first keeps the interface until it
   * leaves (a dead one is reaped by the transport's keepalive).
   */
  attach(socket: PacketSocket, framing: Framing, onEnd: (why: string) => void, highWaterMark = highWaterMarkOf(framing)): PacketStream {
    this.prepareStream(onEnd);
    const stream = new PacketStream(this.tun, socket, framing, this.own, highWaterMark);
    this.stream = stream;
    this.updateWatch();
    return stream;
  }

  /** Attaches the one stream as one that reads and writes the TUN itself (see RemoteStream); EBUSY as attach. */
  attachRemote(remote: RemoteStream, onEnd: (why: string) => void): void {
    this.prepareStream(onEnd);
    this.remote = remote;
    this.updateWatch();
  }

  private prepareStream(onEnd: (why: string) => void): void {
    this.requireNoStream();
    tuneHeapForStreaming();
    this.tun.raiseTxQueueLen(STREAM_TUN_QUEUE_LEN);
    this.onStreamEnd = onEnd;
    // Packets that were waiting for REST readers now belong to the stream.
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(busy(this.tun.name, 'a stream was attached while this read waited'));
    }
  }

  /** The stream left on its own (its client went); a remote one has stopped using the TUN. */
  detach(stream: PacketStream | RemoteStream): void {
    if (this.stream !== stream && this.remote !== stream) return;
    this.dropStream();
    this.updateWatch();
  }

  private endStream(why: string): void {
    const end = this.onStreamEnd;
    this.remote?.stop(why);
    this.dropStream();
    this.updateWatch();
    end?.(why);
  }

  private dropStream(): void {
    const remote = this.remote?.counters;
    if (remote) {
      // Final: a remote stream counts nothing once it has stopped.
      this.own.streamDropped += remote.streamDropped;
      this.own.writeDropped += remote.writeDropped;
      this.own.framesRejected += remote.framesRejected;
      this.own.offloadDropped += remote.offloadDropped;
    }
    this.stream = undefined;
    this.remote = undefined;
    this.onStreamEnd = undefined;
  }

  /** The interface is going away: end the stream and the waiting reads, stop watching the fd. */
  close(why: string): void {
    this.closed = true;
    this.endStream(why);
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(errnoError(-ENODEV, `read from "${this.tun.name}": ${why}`));
    }
    this.updateWatch();
  }

  private readOne(): Buffer | undefined {
    const buf = Buffer.allocUnsafe(MAX_PACKET);
    const n = this.tun.readBatch(buf, MAX_PACKET, 0, this.readLens);
    if (n === 0) return undefined;
    if (n < 0) throw errnoError(n, `read from "${this.tun.name}"`, 'VPNSVC_ERROR_IO_ERROR');
    // A copy of the right size, so the 64 KiB scratch is not kept alive by a small packet.
    return Buffer.from(buf.subarray(0, this.readLens[0]));
  }

  private onReadable(): void {
    if (this.stream) {
      const rc = this.stream.pump();
      // A TUN that fails to read (EBADFD: deleted behind our back) stays "readable" forever:
      // end the stream rather than spin.
      if (rc < 0) this.endStream(`reading the TUN failed: ${errnoName(rc)}`);
      return;
    }
    while (this.waiters.length > 0) {
      let packet: Buffer | undefined;
      try {
        packet = this.readOne();
      } catch (err) {
        const w = this.waiters.shift() as Waiter;
        clearTimeout(w.timer);
        w.reject(err as Error);
        continue;
      }
      if (!packet) break;
      const w = this.waiters.shift() as Waiter;
      clearTimeout(w.timer);
      w.resolve(packet);
    }
    this.updateWatch();
  }

  private removeWaiter(waiter: Waiter): void {
    const i = this.waiters.indexOf(waiter);
    if (i >= 0) this.waiters.splice(i, 1);
    this.updateWatch();
  }

  /** The fd is watched only while someone wants its packets, so idle packets stay in the kernel. */
  private updateWatch(): void {
    const wanted = !this.closed && (this.stream !== undefined || this.waiters.length > 0);
    if (wanted && !this.watch) {
      this.watch = this.tun.watchReadable(() => this.onReadable());
    } else if (!wanted && this.watch) {
      this.watch.close();
      this.watch = undefined;
    }
  }
}

/** The named high-water mark of a stream in `framing`. */
export function highWaterMarkOf(framing: Framing): number {
  if (framing === FRAMING_GSO) return GSO_STREAM_HIGH_WATER_MARK;
  return framing === FRAMING_BATCH ? STREAM_HIGH_WATER_MARK : PACKET_STREAM_HIGH_WATER_MARK;
}

function busy(name: string, why: string) {
  return errnoError(-EBUSY, `"${name}" is busy: ${why}`, 'VPNSVC_ERROR_IO_ERROR');
}

function readTimeout(name: string, ms: number) {
  return timeout(ms === 0 ? `no packet queued on "${name}"` : `no packet on "${name}" within ${ms} ms`);
}
