/**
 * The fd channel's server: a unix SOCK_SEQPACKET socket on which a process redeems a ticket
 * (one message) and gets one answer, with an fd attached when it asked for one. Driven from the
 * event loop: readiness from libuv's poll, then non-blocking accept/recvmsg/sendmsg in the shim.
 * One request per connection; a connection that says nothing within the timeout is closed, and
 * at most `maxConnections` are open at once (the oldest goes first).
 *
 * What a request means, and whether the peer may make it, is the handler's business; this
 * module only moves bytes and fds and tells the handler who the kernel says the peer is.
 */
import { lstatSync, type Stats, unlinkSync } from 'node:fs';
import * as native from './native.js';

/** Bytes of one request; a ticket and a little framing fit many times over. */
export const CHANNEL_MESSAGE_MAX = 1024;

export interface ChannelRequest {
  /** The peer as the kernel recorded it at connect() (SO_PEERCRED). */
  peer: native.PeerCredentials;
  message: Buffer;
  /** The fd the peer passed with the message; closed by the channel once the handler is done. */
  fd: number | undefined;
}

export interface ChannelReply {
  body: Buffer;
  /** Passed to the peer with the answer, then closed here. */
  fd?: number;
}

export type ChannelHandler = (request: ChannelRequest) => Promise<ChannelReply>;

export interface FdChannelOptions {
  /** File mode of the socket; the ticket, not the mode, decides who gets an fd. */
  mode?: number;
  maxConnections?: number;
  timeoutMs?: number;
  onError?: (err: unknown) => void;
}

interface Connection {
  fd: number;
  watch: native.ReadinessWatch | undefined;
  timer: NodeJS.Timeout;
  closed: boolean;
}

export class FdChannel {
  private listenFd: number | undefined;
  private listenWatch: native.ReadinessWatch | undefined;
  private readonly connections = new Set<Connection>();
  private readonly mode: number;
  private readonly maxConnections: number;
  private readonly timeoutMs: number;
  private readonly onError: (err: unknown) => void;

  constructor(
    readonly path: string,
    private readonly handler: ChannelHandler,
    options: FdChannelOptions = {},
  ) {
    this.mode = options.mode ?? 0o666;
    this.maxConnections = options.maxConnections ?? 64;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.onError = options.onError ?? (() => undefined);
  }

  /**
   * Binds the socket. What a predecessor left at the path, a socket or a symbolic link, is
   * removed first (never followed); anything else is refused.
   */
  listen(): void {
    let st: Stats | undefined;
    try {
      st = lstatSync(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (st && !st.isSocket() && !st.isSymbolicLink()) {
      throw new Error(`VPNSVC_FD_CHANNEL: ${this.path} exists and is not a socket: move it away or put the channel elsewhere`);
    }
    if (st) unlinkSync(this.path);
    const fd = native.fdChannelListen(this.path, this.mode, 64);
    this.listenFd = fd;
    this.listenWatch = native.watchReadable(fd, () => this.acceptAll());
  }

  /** Stops listening, closes every connection and removes the socket. Idempotent. */
  close(): void {
    for (const c of this.connections) this.drop(c);
    this.listenWatch?.close();
    this.listenWatch = undefined;
    if (this.listenFd !== undefined) {
      native.closeFd(this.listenFd);
      this.listenFd = undefined;
      try {
        unlinkSync(this.path);
      } catch {
        // already removed
      }
    }
  }

  get openConnections(): number {
    return this.connections.size;
  }

  private acceptAll(): void {
    if (this.listenFd === undefined) return;
    // bounded: a burst is taken over several turns of the loop
    for (let i = 0; i < 16; i++) {
      let fd: number | undefined;
      try {
        fd = native.fdChannelAccept(this.listenFd);
      } catch (err) {
        this.onError(err);
        return;
      }
      if (fd === undefined) return;
      if (this.connections.size >= this.maxConnections) {
        const oldest = this.connections.values().next().value;
        if (oldest) this.drop(oldest);
      }
      this.track(fd);
    }
  }

  private track(fd: number): void {
    const conn: Connection = { fd, watch: undefined, closed: false, timer: setTimeout(() => this.drop(conn), this.timeoutMs) };
    conn.timer.unref();
    this.connections.add(conn);
    conn.watch = native.watchReadable(fd, () => this.receive(conn));
  }

  private receive(conn: Connection): void {
    if (conn.closed) return;
    let got: native.ChannelMessage;
    try {
      got = native.fdChannelReceive(conn.fd, CHANNEL_MESSAGE_MAX);
    } catch (err) {
      this.onError(err);
      this.drop(conn);
      return;
    }
    if (got.kind === 'again') return;
    if (got.kind === 'end') {
      this.drop(conn);
      return;
    }
    // one request per connection: no more reads
    conn.watch?.close();
    conn.watch = undefined;
    const passed = got.fd;
    let peer: native.PeerCredentials | undefined;
    try {
      peer = native.peerCredentials(conn.fd);
    } catch (err) {
      this.onError(err);
    }
    if (!peer) {
      if (passed !== undefined) native.closeFd(passed);
      this.drop(conn);
      return;
    }
    this.handler({ peer, message: got.bytes, fd: passed })
      .then((reply) => this.answer(conn, reply))
      .catch((err: unknown) => this.onError(err))
      .finally(() => {
        if (passed !== undefined) native.closeFd(passed);
        this.drop(conn);
      });
  }

  private answer(conn: Connection, reply: ChannelReply): void {
    try {
      if (!conn.closed) native.fdChannelSend(conn.fd, reply.body, reply.fd);
    } finally {
      if (reply.fd !== undefined) native.closeFd(reply.fd);
    }
  }

  private drop(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    clearTimeout(conn.timer);
    conn.watch?.close();
    conn.watch = undefined;
    this.connections.delete(conn);
    native.closeFd(conn.fd);
  }
}
