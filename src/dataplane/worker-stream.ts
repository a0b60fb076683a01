/**
 * A WebSocket client's packet stream, run in a worker thread of its own so that a saturated
 * tunnel does not hold up the event loop that serves the API and the events. The upgraded
 * connection is handed over: its fd is duplicated, the worker builds its own socket and
 * WebSocket on the copy (src/dataplane/stream-worker.ts), and this thread lets go of its socket
 * without shutting the connection down. The worker reads and writes a duplicate of the TUN fd;
 * its counters live in shared memory that this thread reads as they change.
 *
 * The stream stays in this thread when the connection cannot be handed over: a TLS socket (its
 * state lives in this thread's OpenSSL objects), a socket without an fd (app.inject), bytes
 * still queued for the client or already read into ws, or a negotiated extension. Framings,
 * EBUSY, counters, high-water marks and close codes are the same either way.
 */
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { Worker } from 'node:worker_threads';
import { closeFd, dupFd } from '../system/native.js';
import type { Framing } from './framing.js';
import { highWaterMarkOf, type PacketChannel, type PacketCounters, type RemoteStream } from './packet-channel.js';
import { packetSocketOf, StreamSession, type StreamWebSocket } from './stream-session.js';

/** Longest a release waits for the worker to let go of the TUN before the worker is terminated. */
export const WORKER_STOP_WAIT_MS = 1000;

/** A client of the stream as the transport hands it over. */
export interface StreamClient {
  readonly ws: StreamWebSocket;
  /** The connection under ws (what request.raw.socket is). */
  readonly connection: Socket;
  /** The options ws's server was made with: the worker's WebSocket gets the same limits. */
  readonly options: Readonly<Record<string, unknown>>;
  /** The connection failed (a reset, a protocol error); the stream's end follows. */
  failed(err: Error): void;
}

export interface Moved {
  toClient: number;
  fromClient: number;
}

/** An attached client stream. */
export interface ClientStream {
  /** Where its packets move: 'worker' (a thread of its own) or 'main' (the caller's thread). */
  readonly thread: 'worker' | 'main';
  /** Packets moved so far. */
  readonly moved: Readonly<Moved>;
  /** Ends the stream: the TUN is no longer used when this returns; the client, if still there, is told why. Idempotent. */
  end(why: string): void;
}

/**
 * Attaches `client` as the stream of `channel`, in a worker thread when its connection can be
 * handed over. `onEnd` is called once, however the stream ends (the client left, the TUN failed,
 * the channel closed, end()). EBUSY when the channel has a stream.
 */
export function attachClient(channel: PacketChannel, client: StreamClient, framing: Framing, onEnd: (why: string) => void): ClientStream {
  channel.requireNoStream();
  if (canHandOver(client)) {
    const remote = new WorkerStream(channel, client, framing, onEnd);
    channel.attachRemote(remote, (why) => remote.end(why));
    let handover: Handover | undefined;
    try {
      handover = takeConnection(client.connection);
      remote.launch(handover);
      return remote;
    } catch {
      // No fd left for a copy, or no thread to run it in: the stream runs here.
      handover?.undo();
      channel.detach(remote);
    }
  }
  return inThisThread(channel, client, framing, onEnd);
}

function inThisThread(channel: PacketChannel, client: StreamClient, framing: Framing, onEnd: (why: string) => void): ClientStream {
  let ended = false;
  const stream = channel.attach(packetSocketOf(client.ws, client.connection), framing, (why) => end(why));
  const session = new StreamSession(client.ws, stream, framing, {
    closed: (code) => end(`WebSocket closed with ${code}`),
    failed: (err) => client.failed(err),
  });
  const end = (why: string): void => {
    if (ended) return;
    ended = true;
    channel.detach(stream);
    session.end(why);
    onEnd(why);
  };
  return { thread: 'main', moved: stream.moved, end };
}

// ---- the handover -----------------------------------------------------------------------------

/** What ws and node:net keep about a connection that decides whether it can change threads. */
interface ConnectionState {
  _handle?: { fd?: number; writeQueueSize?: number } | null;
}
interface WebSocketState {
  _socket?: unknown;
  _extensions?: Record<string, unknown>;
  _receiver?: { _bufferedBytes?: number } | null;
}

const fdOf = (connection: Socket): number | undefined => (connection as unknown as ConnectionState)._handle?.fd;

/**
 * Whether the client's connection can move to another thread. Asked right after the upgrade, in
 * the same turn, so nothing the client sent has reached ws yet.
 */
function canHandOver({ ws, connection }: StreamClient): boolean {
  const state = ws as unknown as WebSocketState;
  const fd = fdOf(connection);
  if (connection instanceof TLSSocket || typeof fd !== 'number' || fd < 0 || connection.destroyed) return false;
  if (state._socket !== connection || Object.keys(state._extensions ?? {}).length > 0) return false;
  // What ws or the kernel has not taken yet would be lost with this thread's socket.
  const queued = (connection as unknown as ConnectionState)._handle?.writeQueueSize ?? 1;
  return (state._receiver?._bufferedBytes ?? 1) === 0 && connection.writableLength === 0 && queued === 0;
}

/** A connection being given away: a duplicate of its fd and the bytes already read from it. */
interface Handover {
  fd: number;
  head: Buffer;
  /** Lets go of this thread's socket; the connection lives on in the duplicate. */
  release(): void;
  /** The connection stays here after all, as it was. */
  undo(): void;
}

function takeConnection(connection: Socket): Handover {
  const fd = dupFd(fdOf(connection) as number);
  // Bytes the client sent right after its upgrade sit in the socket's buffer: they go along.
  // ws must not see them here (read() emits 'data').
  const readers = connection.listeners('data') as Array<(chunk: Buffer) => void>;
  connection.removeAllListeners('data');
  const head = connection.readableLength > 0 ? (connection.read() as Buffer) : Buffer.alloc(0);
  return {
    fd,
    head,
    // destroy() closes this thread's fd without shutdown(): the duplicate keeps the connection
    // open, and no close frame is written. ws sees its socket close and forgets the client.
    release: () => connection.destroy(),
    undo: () => {
      closeFd(fd);
      if (head.length > 0) connection.unshift(head);
      for (const reader of readers) connection.on('data', reader);
    },
  };
}

// ---- the worker ---------------------------------------------------------------------------------

/** Slots of the shared Float64Array: the stream's counters and its moved packets. */
export const COUNTER_SLOTS = {
  streamDropped: 0,
  writeDropped: 1,
  framesRejected: 2,
  toClient: 3,
  fromClient: 4,
  offloadDropped: 5,
} as const;
const COUNTER_COUNT = 6;
const COUNTER_NAMES = ['streamDropped', 'writeDropped', 'framesRejected', 'offloadDropped'] as const;

/** The stream's counters as a view of the shared memory: either thread reads them, the worker writes them. */
export function sharedCounters(shared: Float64Array): PacketCounters {
  const counters = {} as PacketCounters;
  for (const name of COUNTER_NAMES) {
    Object.defineProperty(counters, name, {
      enumerable: true,
      get: () => shared[COUNTER_SLOTS[name]] as number,
      set: (n: number) => {
        shared[COUNTER_SLOTS[name]] = n;
      },
    });
  }
  return counters;
}

/** Slots of the shared Int32Array: who holds the TUN duplicate, and whether the worker took the socket. */
export const CONTROL = { tun: 0, socket: 1 } as const;
/** States of CONTROL.tun. */
export const TUN = {
  /** The worker has not started using the TUN. */
  starting: 0,
  /** The worker reads and writes it. */
  running: 1,
  /** The worker is closing its duplicate (set before the close, so no one closes it twice). */
  closing: 2,
  /** The worker closed its duplicate and uses the TUN no more. */
  released: 3,
  /** This thread took it back before the worker started, and closed it. */
  taken: 4,
} as const;

export interface StreamWorkerData {
  tun: { name: string; fd: number; offloads: number };
  socketFd: number;
  head: Uint8Array;
  framing: Framing;
  highWaterMark: number;
  websocket: Record<string, number | boolean>;
  counters: SharedArrayBuffer;
  control: SharedArrayBuffer;
}

export type ToWorker = { type: 'stop'; why: string };
export type FromWorker = { type: 'ended'; why: string } | { type: 'failed'; err: Error };

/** ws's server options that shape a connection (limits, pongs), passed to the worker's WebSocket. */
const WEBSOCKET_OPTIONS = [
  'maxPayload',
  'skipUTF8Validation',
  'allowSynchronousEvents',
  'autoPong',
  'closeTimeout',
  'maxBufferedChunks',
  'maxFragments',
] as const;

function websocketOptions(options: Readonly<Record<string, unknown>>): Record<string, number | boolean> {
  const out: Record<string, number | boolean> = {};
  for (const key of WEBSOCKET_OPTIONS) {
    const value = options[key];
    if (typeof value === 'number' || typeof value === 'boolean') out[key] = value;
  }
  return out;
}

const FROM_SOURCE = import.meta.url.endsWith('.ts');
const ENTRY = new URL(FROM_SOURCE ? './stream-worker.ts' : './stream-worker.js', import.meta.url);

function spawnWorker(workerData: StreamWorkerData): Worker {
  if (!FROM_SOURCE) return new Worker(ENTRY, { workerData });
  // Run from source (tsx): a worker thread does not inherit tsx's loader, so it registers it first.
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(ENTRY.href)}); });`;
  return new Worker(boot, { eval: true, workerData });
}

class WorkerStream implements ClientStream, RemoteStream {
  readonly thread = 'worker';
  private readonly shared = new Float64Array(new SharedArrayBuffer(COUNTER_COUNT * Float64Array.BYTES_PER_ELEMENT));
  private readonly control = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
  readonly counters: Readonly<PacketCounters>;
  private worker: Worker | undefined;
  private tunFd = -1;
  private socketFd = -1;
  private stopped = false;
  private ended = false;
  private exited = false;
  private crash: string | undefined;

  constructor(
    private readonly channel: PacketChannel,
    private readonly client: StreamClient,
    private readonly framing: Framing,
    private readonly onEnd: (why: string) => void,
  ) {
    this.counters = sharedCounters(this.shared);
  }

  get moved(): Moved {
    return { toClient: this.shared[COUNTER_SLOTS.toClient] as number, fromClient: this.shared[COUNTER_SLOTS.fromClient] as number };
  }

  /** Starts the worker on the handed-over connection; throws (and has closed its own copies) when it cannot. */
  launch(handover: Handover): void {
    const tun = this.channel.tun;
    this.tunFd = dupFd(tun.fd);
    try {
      this.worker = spawnWorker({
        tun: { name: tun.name, fd: this.tunFd, offloads: tun.offloads },
        socketFd: handover.fd,
        head: handover.head,
        framing: this.framing,
        highWaterMark: highWaterMarkOf(this.framing),
        websocket: websocketOptions(this.client.options),
        counters: this.shared.buffer as SharedArrayBuffer,
        control: this.control.buffer as SharedArrayBuffer,
      });
    } catch (err) {
      closeFd(this.tunFd);
      throw err;
    }
    this.socketFd = handover.fd;
    handover.release();
    const worker = this.worker;
    // The daemon's exit is not held up by a stream; release() is what ends it cleanly.
    worker.unref();
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'failed') this.client.failed(m.err);
      else this.end(m.why);
    });
    worker.on('error', (err) => {
      this.crash = err.message;
      this.client.failed(err);
    });
    worker.on('exit', (code) => {
      this.exited = true;
      this.reclaim();
      this.end(this.crash ? `the stream's worker thread failed: ${this.crash}` : `the stream's worker thread stopped (exit code ${code})`);
    });
  }

  end(why: string): void {
    if (this.ended) return;
    this.ended = true;
    this.stop(why);
    this.channel.detach(this);
    this.onEnd(why);
  }

  stop(why: string): void {
    if (this.stopped) return;
    this.stopped = true;
    const worker = this.worker;
    if (!worker || this.exited) return;
    worker.postMessage({ type: 'stop', why } satisfies ToWorker);
    const control = this.control;
    if (Atomics.compareExchange(control, CONTROL.tun, TUN.starting, TUN.taken) === TUN.starting) {
      closeFd(this.tunFd);
      return;
    }
    // The worker lets go of the TUN between two of its callbacks, a few milliseconds at most.
    const deadline = Date.now() + WORKER_STOP_WAIT_MS;
    for (;;) {
      const state = Atomics.load(control, CONTROL.tun);
      const left = deadline - Date.now();
      if (state === TUN.released || left <= 0) break;
      Atomics.wait(control, CONTROL.tun, state, left);
    }
    // A worker that does not answer is stopped; its TUN duplicate is closed once it has exited.
    if (Atomics.load(control, CONTROL.tun) !== TUN.released) void worker.terminate();
  }

  /** The worker is gone: the copies it did not close are closed here. */
  private reclaim(): void {
    const control = this.control;
    const tun = Atomics.load(control, CONTROL.tun);
    // A worker stopped while `closing` may or may not have closed the fd: it stays open, rather
    // than risk closing a number already reused.
    if (tun === TUN.starting || tun === TUN.running) {
      Atomics.store(control, CONTROL.tun, TUN.taken);
      closeFd(this.tunFd);
    }
    if (Atomics.load(control, CONTROL.socket) === 0) {
      Atomics.store(control, CONTROL.socket, 1);
      closeFd(this.socketFd);
    }
  }
}
