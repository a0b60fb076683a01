/**
 * The WebSocket side of a daemon's packet stream, the same in whichever thread holds the
 * connection: binary messages go to the TUN, anything else closes the stream with the code
 * RFC 6455 gives it, a client that answers no ping is dropped. The data plane does not load
 * `ws`: a ws WebSocket is a StreamWebSocket.
 */
import type { Socket } from 'node:net';
import { FRAMING_PACKET, type Framing, MAX_PACKET } from './framing.js';
import type { PacketSocket, PacketStream } from './packet-channel.js';

/** A client that answers no ping for this long is dropped, which frees the interface's stream. */
export const STREAM_KEEPALIVE_MS = 30_000;

/** The stream ended on the daemon's side (the interface went, the TUN failed). */
export const CLOSE_GOING_AWAY = 1001;
const CLOSE_UNSUPPORTED_DATA = 1003;
const CLOSE_MESSAGE_TOO_BIG = 1009;
/** A close reason is at most 123 bytes; ws throws on a longer one. */
export const CLOSE_REASON_CHARS = 120;
const OPEN = 1;

/** What a stream needs of a WebSocket; a `ws` WebSocket fits. */
export interface StreamWebSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: Buffer): void;
  ping(): void;
  close(code: number, reason: string): void;
  terminate(): void;
  on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): unknown;
  on(event: 'pong', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'close', listener: (code: number) => void): unknown;
}

export interface SessionHooks {
  /** The WebSocket closed (the client left, its connection failed, or after end()), with its code. */
  closed(code: number): void;
  /** The connection failed (a reset, a protocol error); `closed` follows. */
  failed(err: Error): void;
}

/** Adapts a WebSocket and the connection under it to what a PacketStream sends to. */
export function packetSocketOf(ws: StreamWebSocket, connection: Socket): PacketSocket {
  return {
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    send: (data) => ws.send(data),
    cork: () => connection.cork(),
    uncork: () => connection.uncork(),
  };
}

/** One client's WebSocket feeding one PacketStream, until either side ends it. */
export class StreamSession {
  private ended = false;

  constructor(
    private readonly ws: StreamWebSocket,
    stream: Pick<PacketStream, 'receive' | 'reject'>,
    framing: Framing,
    hooks: SessionHooks,
  ) {
    const maxMessage = framing === FRAMING_PACKET ? MAX_PACKET : Infinity; // ws enforces maxPayload
    ws.on('message', (data, isBinary) => {
      // After end() the TUN may be closed: what the client still sends goes nowhere.
      if (this.ended) return;
      if (!isBinary) {
        stream.reject();
        ws.close(CLOSE_UNSUPPORTED_DATA, 'binary messages only');
        return;
      }
      if (data.length > maxMessage) {
        stream.reject();
        ws.close(CLOSE_MESSAGE_TOO_BIG, `one packet per message, at most ${MAX_PACKET} bytes`);
        return;
      }
      stream.receive(data);
    });
    let alive = true;
    ws.on('pong', () => (alive = true));
    const keepalive = setInterval(() => {
      if (!alive) {
        ws.terminate();
        return;
      }
      alive = false;
      if (ws.readyState === OPEN) ws.ping();
    }, STREAM_KEEPALIVE_MS);
    keepalive.unref();
    ws.on('error', (err) => hooks.failed(err));
    ws.on('close', (code) => {
      this.ended = true;
      clearInterval(keepalive);
      hooks.closed(code);
    });
  }

  /** The daemon ends the stream: nothing more reaches the TUN, and the client is told why. */
  end(why: string): void {
    if (this.ended) return;
    this.ended = true;
    if (this.ws.readyState === OPEN) this.ws.close(CLOSE_GOING_AWAY, why.slice(0, CLOSE_REASON_CHARS));
  }
}
