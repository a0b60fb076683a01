/**
 * What handlers and plugins reach through the Fastify instance. Each decorator is declared by
 * the plugin that provides it (fastify-plugin names); a plugin that needs one lists that name.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Features, OperationId } from '../contract/api-types.js';
import type { Vpnsvc } from '../engine/vpnsvc.js';
import type { Spec } from './spec.js';

/** Read-only facts about the host and this run, for GET /features and GET /health. */
export interface HostFacts {
  features(): Promise<Features>;
  startedAt: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    vpnsvc: Vpnsvc;
    spec: Spec;
    host: HostFacts;
  }
  interface FastifyContextConfig {
    operationId?: string;
  }
}

export type Handler = (request: FastifyRequest, reply: FastifyReply) => unknown;
export type Handlers = Partial<Record<OperationId, Handler>>;

/** The `name` path parameter, already validated by the spec's schema. */
export const nameParam = (request: FastifyRequest): string => (request.params as { name: string }).name;
