/**
 * The worker thread of one client stream (see worker-stream.ts): a socket and a WebSocket on the
 * connection handed over, the same PacketStream and StreamSession the daemon's thread would run,
 * on a duplicate of the TUN fd. The TUN is let go (its watch and its fd closed, the shared state
 * set to `released`) before anything else when the stream ends, so the daemon can close its own
 * fd right after; the thread ends once the WebSocket has closed.
 */
import { Socket } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { WebSocket } from 'ws';
import { errnoName } from '../errors/errors.js';
import { closeFd } from '../system/native.js';
import { type ReadinessWatch, tunHandle } from '../system/tun.js';
import { PacketStream } from './packet-channel.js';
import { packetSocketOf, StreamSession, type StreamWebSocket } from './stream-session.js';
import { CONTROL, COUNTER_SLOTS, type FromWorker, type StreamWorkerData, sharedCounters, type ToWorker, TUN } from './worker-stream.js';

/** ws's server side, as WebSocketServer.completeUpgrade builds it (not in ws's typings). */
interface ServerWebSocket extends StreamWebSocket {
  setSocket(socket: Socket, head: Buffer, options: Record<string, number | boolean>): void;
}
type ServerWebSocketConstructor = new (address: null, protocols: undefined, options: Record<string, number | boolean>) => ServerWebSocket;

const port = parentPort;
if (!port) throw new Error('stream-worker.ts runs as a worker thread of the daemon');
const data = workerData as StreamWorkerData;
const control = new Int32Array(data.control);
const shared = new Float64Array(data.counters);
const tell = (message: FromWorker): void => port.postMessage(message);

/** The stream's counters, in the memory the daemon's thread reads. */
const counters = sharedCounters(shared);

// Claimed before the socket exists: should this thread die in between, the fd is left open
// rather than closed twice.
Atomics.store(control, CONTROL.socket, 1);
let socket: Socket;
try {
  socket = new Socket({ fd: data.socketFd, readable: true, writable: true });
} catch (err) {
  closeFd(data.socketFd);
  throw err;
}
const ws = new (WebSocket as unknown as ServerWebSocketConstructor)(null, undefined, data.websocket);
ws.setSocket(socket, Buffer.from(data.head), data.websocket);

const tun = tunHandle(data.tun.name, data.tun.fd, data.tun.offloads);
const stream = new PacketStream(tun, packetSocketOf(ws, socket), data.framing, counters, data.highWaterMark);
let watch: ReadinessWatch | undefined;
let ended = false;

/** Closes the watch and the TUN duplicate, then tells the daemon's thread, which may be waiting. */
function releaseTun(): void {
  if (Atomics.load(control, CONTROL.tun) !== TUN.running) return;
  watch?.close();
  watch = undefined;
  Atomics.store(control, CONTROL.tun, TUN.closing);
  try {
    closeFd(data.tun.fd);
  } catch {
    // EBADF cannot happen to a duplicate only this thread closes; nothing else to undo.
  }
  Atomics.store(control, CONTROL.tun, TUN.released);
  Atomics.notify(control, CONTROL.tun);
}

/** The stream ends here: the TUN first, then the client; `report` when the daemon's thread does not know yet. */
function end(why: string, report: boolean): void {
  if (ended) return;
  ended = true;
  releaseTun();
  session.end(why);
  if (report) tell({ type: 'ended', why });
}

const session = new StreamSession(
  ws,
  {
    receive: (buf) => {
      // The daemon's thread may have taken the TUN back before this thread started.
      if (Atomics.load(control, CONTROL.tun) !== TUN.running) return;
      stream.receive(buf);
      shared[COUNTER_SLOTS.fromClient] = stream.moved.fromClient;
    },
    reject: () => stream.reject(),
  },
  data.framing,
  {
    closed: (code) => {
      end(`WebSocket closed with ${code}`, true);
      // Nothing is left for this thread to do: it ends once its socket has closed.
      port.close();
    },
    failed: (err) => tell({ type: 'failed', err }),
  },
);

port.on('message', (m: ToWorker) => end(m.why, false));

if (Atomics.compareExchange(control, CONTROL.tun, TUN.starting, TUN.running) === TUN.starting) {
  watch = tun.watchReadable(() => {
    const rc = stream.pump();
    shared[COUNTER_SLOTS.toClient] = stream.moved.toClient;
    if (tun.offload) counters.offloadDropped = tun.offloadDropped();
    // A TUN that fails to read (EBADFD: deleted behind the daemon's back) stays "readable"
    // forever: end the stream rather than spin.
    if (rc < 0) end(`reading the TUN failed: ${errnoName(rc)}`, true);
  });
}
