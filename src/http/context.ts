import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Features, OperationId } from '../contract/api-types.js';
import type { VpnEngine } from '../engine/engine.js';
import type { Spec } from './spec.js';

/** What route handlers reach: the engine and read-only facts about the host. */
export interface AppContext {
  engine: VpnEngine;
  features(): Promise<Features>;
  spec: Spec;
  startedAt: number;
  // --- issue 3: routes & dns ---
  routes: import('../engine/ip-routes.js').VpnRoutes;
  dns: import('../engine/dns.js').VpnDns;
  // --- issue 4: firewall & protect ---
  /** The kill switch and protect; built from the engine when not given (tests give their own). */
  killSwitch?: import('../engine/kill-switch.js').KillSwitch;
  // --- issue 5: data plane ---
  // --- issue 6: operations ---
}

export type Handler = (request: FastifyRequest, reply: FastifyReply) => unknown;
export type Handlers = Partial<Record<OperationId, Handler>>;

/** The `name` path parameter, already validated by the spec's schema. */
export const nameParam = (request: FastifyRequest): string => (request.params as { name: string }).name;
