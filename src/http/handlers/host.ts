/** GET /features, /health and /openapi.yaml: facts about the host and the contract. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { projectRoot } from '../../config/project-root.js';
import type { Handlers } from '../context.js';

const VERSION = (JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;

export function hostHandlers({ host, spec }: FastifyInstance): Pick<Handlers, 'getFeatures' | 'getHealth' | 'getOpenapi'> {
  return {
    getFeatures: () => host.features(),
    getHealth: () => ({ status: 'ok', uptimeSeconds: (Date.now() - host.startedAt) / 1000, version: VERSION }),
    getOpenapi: (_request, reply) => reply.type('application/yaml; charset=utf-8').code(200).send(spec.text),
  };
}
