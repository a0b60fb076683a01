/**
 * The live followers of GET /events: admitted under the caps (in total and per token) before the
 * upgrade or the SSE headers, counted for metrics, ended when the app closes.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { WebSocket } from 'ws';
import { DEFAULT_FOLLOWER_LIMITS, type FollowerLimits } from '../../config/config.js';
import { VpnsvcError } from '../../errors/errors.js';

/** A follower's place, held from its admission until its connection closes. */
export interface FollowerSlot {
  readonly token: string;
  /** Set once the stream is open: ends it when the app closes. */
  end: (() => void) | undefined;
  /** Gives the place back; idempotent. */
  release(): void;
}

/** The seed has no "too many" error: a cap protects the daemon's memory, so OUT_OF_MEMORY (507). */
const full = (message: string): VpnsvcError => new VpnsvcError('VPNSVC_ERROR_OUT_OF_MEMORY', message);

export class Followers {
  /** The open streams, by transport (a slot admitted before its upgrade is in neither yet). */
  readonly sockets = new Set<WebSocket>();
  readonly streams = new Set<ServerResponse>();
  private readonly slots = new Set<FollowerSlot>();
  private readonly perToken = new Map<string, number>();

  constructor(readonly limits: FollowerLimits = DEFAULT_FOLLOWER_LIMITS) {}

  get count(): number {
    return this.slots.size;
  }

  /** Throws OUT_OF_MEMORY when the daemon or the token already has as many followers as allowed. */
  admit(token: string): FollowerSlot {
    const { max, maxPerToken } = this.limits;
    if (this.slots.size >= max) {
      throw full(`${max} event followers are connected, the daemon's limit (VPNSVC_MAX_FOLLOWERS): retry later`);
    }
    const held = this.perToken.get(token) ?? 0;
    if (held >= maxPerToken) {
      throw full(
        `token "${token}" has ${held} event followers, its limit (VPNSVC_MAX_FOLLOWERS_PER_TOKEN): close one, or use ?types= on one follower`,
      );
    }
    this.perToken.set(token, held + 1);
    let released = false;
    const slot: FollowerSlot = {
      token,
      end: undefined,
      release: () => {
        if (released) return;
        released = true;
        this.slots.delete(slot);
        const left = (this.perToken.get(token) ?? 1) - 1;
        if (left > 0) this.perToken.set(token, left);
        else this.perToken.delete(token);
      },
    };
    this.slots.add(slot);
    return slot;
  }

  /** When the app closes without a daemon.stopping event first (which ends followers itself). */
  closeAll(): void {
    for (const slot of [...this.slots]) slot.end?.();
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    followers: Followers;
  }
}

export interface FollowersOptions {
  limits?: FollowerLimits;
}

async function followersPlugin(app: FastifyInstance, options: FollowersOptions): Promise<void> {
  const followers = new Followers(options.limits);
  app.decorate('followers', followers);
  app.addHook('preClose', async () => followers.closeAll());
}

export default fp(followersPlugin, { name: 'followers', fastify: '5.x' });
