/**
 * The engine's event bus. Every domain reports its state changes here (`engine.events.emit`);
 * the HTTP layer streams them to followers and replays a bounded history to one that resumes.
 *
 * The reason of an event is taken from the async context: the HTTP layer runs each request's
 * handler inside `withReason({source: 'api', token, requestId})`, the daemon runs shutdown inside
 * `withReason({source: 'daemon'})`, and so on. A domain emits without knowing who called it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { EventReason, VpnEvent } from '../contract/api-types.js';

export type { EventReason, VpnEvent };

/** Events kept for followers that reconnect. */
export const EVENT_HISTORY_SIZE = 1024;

const reasons = new AsyncLocalStorage<EventReason>();

/** Runs `work` with `reason` as the cause of every event emitted inside it, across awaits. */
export function withReason<T>(reason: EventReason, work: () => T): T {
  return reasons.run(reason, work);
}

export function currentReason(): EventReason {
  return reasons.getStore() ?? { source: 'daemon' };
}

export interface EmitFields {
  interface?: string;
  data?: Record<string, unknown>;
  /** Overrides the reason from the async context. */
  reason?: EventReason;
}

export type Resume =
  | { lost: false; events: VpnEvent[] }
  /** The position is gone (older than the history, or another run's): here is all there is. */
  | { lost: true; events: VpnEvent[] };

export class EventBus {
  /** Identifies this daemon run; sequence numbers restart with it. */
  readonly epoch = randomUUID();
  private seq = 0;
  /** A ring: `history[(start + i) % size]`, oldest first. */
  private readonly history: VpnEvent[] = [];
  private start = 0;
  private readonly emitter = new EventEmitter();

  /** Where a failing listener's error goes (the daemon logs it); the change itself stands. */
  onListenerError: (err: unknown) => void = () => undefined;

  constructor(private readonly historySize = EVENT_HISTORY_SIZE) {
    this.emitter.setMaxListeners(0);
  }

  get headSeq(): number {
    return this.seq;
  }

  /** Listeners subscribed now (followers, the journal, metrics). */
  get subscriberCount(): number {
    return this.emitter.listenerCount('event');
  }

  /** The oldest seq still retained (headSeq + 1 when none is). */
  get oldestSeq(): number {
    return this.seq - this.history.length + 1;
  }

  emit(type: string, fields: EmitFields = {}): VpnEvent {
    const event: VpnEvent = {
      seq: ++this.seq,
      epoch: this.epoch,
      time: new Date().toISOString(),
      type,
      ...(fields.interface !== undefined && { interface: fields.interface }),
      reason: fields.reason ?? currentReason(),
      ...(fields.data !== undefined && { data: fields.data }),
    };
    if (this.history.length < this.historySize) this.history.push(event);
    else {
      this.history[this.start] = event;
      this.start = (this.start + 1) % this.historySize;
    }
    this.emitter.emit('event', event);
    return event;
  }

  private retained(): VpnEvent[] {
    return [...this.history.slice(this.start), ...this.history.slice(0, this.start)];
  }

  /** The events after `since` of run `epoch` (this run when undefined). */
  after(since: number, epoch?: string): Resume {
    if ((epoch !== undefined && epoch !== this.epoch) || since > this.seq || since + 1 < this.oldestSeq) {
      return { lost: true, events: this.retained() };
    }
    return { lost: false, events: this.retained().slice(since + 1 - this.oldestSeq) };
  }

  /** Calls `listener` with each new event, synchronously; returns the unsubscribe function. */
  subscribe(listener: (event: VpnEvent) => void): () => void {
    // A listener that throws must neither undo the change nor starve the other listeners.
    const guarded = (event: VpnEvent) => {
      try {
        listener(event);
      } catch (err) {
        this.onListenerError(err);
      }
    };
    this.emitter.on('event', guarded);
    return () => this.emitter.off('event', guarded);
  }
}
