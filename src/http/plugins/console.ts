/**
 * The management console: the single-page app Vite builds into dist/ui (npm run build), served
 * as static files at /ui/, with / sending a browser there. Its security headers come from
 * browser-auth.ts. Without a build, /ui/ says how to make one.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { projectRoot } from '../../config/project-root.js';
import { noSuchFile } from '../../errors/errors.js';

export const CONSOLE_PREFIX = '/ui/';

export interface ConsoleOptions {
  /** The built console (default: dist/ui under the project root). */
  root?: string;
}

async function consolePlugin(app: FastifyInstance, { root = join(projectRoot(), 'dist', 'ui') }: ConsoleOptions): Promise<void> {
  app.get('/', (_request, reply) => reply.redirect(CONSOLE_PREFIX, 302));
  if (!existsSync(join(root, 'index.html'))) {
    const missing = () => {
      throw noSuchFile(`the console is not built: run "npm run build" (looked in ${root})`);
    };
    app.get('/ui', missing);
    app.get('/ui/*', missing);
    return;
  }
  await app.register(fastifyStatic, {
    root,
    prefix: CONSOLE_PREFIX,
    redirect: true,
    wildcard: true,
    index: 'index.html',
    // Vite names assets by content hash; index.html must be re-read to find new ones.
    setHeaders: (res, path) => {
      res.header('cache-control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
}

export default fp(consolePlugin, { name: 'console', fastify: '5.x' });
