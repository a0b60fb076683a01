/**
 * The engine's event bus. The facade (vpnsvc.ts) and the daemon's lifecycle report state changes
 * here; the HTTP layer streams them to followers and replays a bounded history to one that
 * resumes. Types and data come from openapi.yaml (Event): emit takes only a type the spec lists,
 * with the data schema that type selects.
 *
 * The reason of an event is taken from the async context: the HTTP layer runs each request's
 * handler inside `withReason({source: 'api', token, requestId})`, the daemon runs shutdown inside
 * `withReason({source: 'daemon'})`, and so on. A domain emits without knowing who called it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { EventData, EventOf, EventReason, EventType, VpnEvent } from '../contract/api-types.js';

export type { EventData, EventOf, EventReason, EventType, VpnEvent };

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

/** `interface` is required for the types whose branch of Event requires it. */
export type EmitFields<T extends EventType> = (undefined extends EventOf<T>['interface']
  ? { interface?: string }
  : { interface: string }) & {
  data: EventData<T>;
  /** Overrides the reason from the async context. */
  reason?: EventReason;
};

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

  emit<T extends EventType>(type: T, fields: EmitFields<T>): EventOf<T> {
    const { interface: iface } = fields as { interface?: string };
    const event = {
      seq: ++this.seq,
      epoch: this.epoch,
      time: new Date().toISOString(),
      type,
      ...(iface !== undefined && { interface: iface }),
      reason: fields.reason ?? currentReason(),
      data: fields.data,
    } as VpnEvent as EventOf<T>;
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
