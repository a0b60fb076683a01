/**
 * Tickets for the fd channel: a caller proves over REST (its token) that it may have the TUN
 * fd or have a socket protected, and gets a short-lived single-use secret it redeems on the
 * channel, where the kernel says who it is. A ticket asked for over the unix socket is bound to
 * that caller's pid and uid, so a ticket that leaks is worth nothing to another process.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FdTicket, FdTicketRequest } from '../contract/api-types.js';
import { permissionDenied } from '../errors/errors.js';

export type { FdTicket, FdTicketRequest };
export type FdPurpose = FdTicketRequest['purpose'];

/** How long a ticket stays redeemable: a library redeems it at once. */
export const TICKET_TTL_MS = 10_000;
/** Outstanding tickets kept at most; the oldest is dropped first. */
export const TICKETS_MAX = 256;

/** The process a ticket belongs to, as SO_PEERCRED reported it. */
export interface TicketHolder {
  pid: number;
  uid: number;
}

export interface IssuedTicket {
  purpose: FdPurpose;
  interface: string;
  /** For protect: the socket's number in the caller, for the event. */
  socketFd: number | undefined;
  holder: TicketHolder | undefined;
  expiresAt: number;
}

export class TicketBook {
  private readonly tickets = new Map<string, IssuedTicket>();

  constructor(
    private readonly ttlMs = TICKET_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  issue(entry: Omit<IssuedTicket, 'expiresAt'>): { ticket: string; expiresInMs: number } {
    this.sweep();
    while (this.tickets.size >= TICKETS_MAX) {
      const oldest = this.tickets.keys().next().value;
      if (oldest === undefined) break;
      this.tickets.delete(oldest);
    }
    const ticket = randomBytes(32).toString('base64url');
    this.tickets.set(ticket, { ...entry, expiresAt: this.now() + this.ttlMs });
    return { ticket, expiresInMs: this.ttlMs };
  }

  /**
   * The ticket's entry, taken out of the book (a ticket presented once is spent, whoever
   * presented it). PERMISSION_DENIED for an unknown, expired or someone else's ticket.
   */
  redeem(presented: string, peer: TicketHolder): IssuedTicket {
    this.sweep();
    const key = this.find(presented);
    const entry = key === undefined ? undefined : this.tickets.get(key);
    if (key === undefined || !entry) throw permissionDenied('unknown or expired fd ticket: ask for one with POST /tickets');
    this.tickets.delete(key);
    const { holder } = entry;
    if (holder && (holder.pid !== peer.pid || holder.uid !== peer.uid)) {
      throw permissionDenied(
        `the fd ticket belongs to pid ${holder.pid} (uid ${holder.uid}), not to pid ${peer.pid} (uid ${peer.uid}): it is spent`,
      );
    }
    return entry;
  }

  get size(): number {
    return this.tickets.size;
  }

  /** Compared in constant time, as tokens are. */
  private find(presented: string): string | undefined {
    const given = Buffer.from(presented, 'utf8');
    for (const key of this.tickets.keys()) {
      const k = Buffer.from(key, 'utf8');
      if (k.length === given.length && timingSafeEqual(k, given)) return key;
    }
    return undefined;
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, entry] of this.tickets) if (entry.expiresAt <= now) this.tickets.delete(key);
  }
}
