/**
 * The console's one follower of GET /events over a WebSocket (the cookie authenticates it):
 * events, and counters every second for the throughput chart. After a disconnect it reconnects
 * with the last seq and epoch it saw, so nothing in between is lost; an `events.lost` says when
 * the daemon no longer has them (or restarted), and the state is re-read.
 */
import { type Schemas, webSocketUrl } from './api';

export type StreamMessage = Schemas['EventStreamMessage'];
export type VpnEvent = Schemas['Event'];
export type CountersMessage = Schemas['CountersMessage'];
export type LinkState = 'connecting' | 'live' | 'reconnecting' | 'stopped';

export interface LiveHandlers {
  event(e: VpnEvent): void;
  counters(m: CountersMessage): void;
  /** The daemon could not replay what was missed (or restarted): re-read everything. */
  lost(): void;
  state(s: LinkState): void;
}

export const COUNTERS_MS = 1000;
const MAX_BACKOFF_MS = 5000;

export class LiveEvents {
  private socket: WebSocket | undefined;
  private seq: number | undefined;
  private epoch: string | undefined;
  private backoff = 500;
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly on: LiveHandlers) {
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.socket?.close(1000, 'signed out');
    this.on.state('stopped');
  }

  private connect(): void {
    // The first connection asks for the whole retained history (since 0): the log starts filled.
    const query = new URLSearchParams({ countersMs: String(COUNTERS_MS), since: String(this.seq ?? 0) });
    if (this.epoch) query.set('epoch', this.epoch);
    this.on.state(this.seq === undefined ? 'connecting' : 'reconnecting');
    const socket = new WebSocket(webSocketUrl(`/events?${query}`));
    this.socket = socket;
    socket.onmessage = (m) => this.message(JSON.parse(String(m.data)) as StreamMessage);
    socket.onclose = () => {
      if (this.socket !== socket || this.stopped) return;
      this.on.state('reconnecting');
      this.timer = setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
    };
  }

  private message(m: StreamMessage): void {
    switch (m.type) {
      case 'hello':
        this.backoff = 500;
        this.on.state('live');
        if (this.epoch !== undefined && m.epoch !== this.epoch) this.on.lost();
        this.epoch = m.epoch;
        this.seq ??= m.seq;
        return;
      case 'events.lost':
        this.on.lost();
        return;
      case 'counters':
        this.on.counters(m as CountersMessage);
        return;
      default: {
        const e = m as VpnEvent;
        this.seq = e.seq;
        this.epoch = e.epoch;
        this.on.event(e);
      }
    }
  }
}
