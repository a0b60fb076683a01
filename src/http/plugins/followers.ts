/** The live followers of GET /events, counted for metrics and ended when the app closes. */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { WebSocket } from 'ws';

export class Followers {
  readonly sockets = new Set<WebSocket>();
  readonly streams = new Set<ServerResponse>();

  get count(): number {
    return this.sockets.size + this.streams.size;
  }

  /**
   * When the app closes without a daemon.stopping event first (which ends followers itself):
   * SSE streams end so the server can close; @fastify/websocket closes the sockets.
   */
  closeAll(): void {
    for (const r of this.streams) r.end();
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    followers: Followers;
  }
}

async function followersPlugin(app: FastifyInstance): Promise<void> {
  const followers = new Followers();
  app.decorate('followers', followers);
  app.addHook('preClose', async () => followers.closeAll());
}

export default fp(followersPlugin, { name: 'followers', fastify: '5.x' });
