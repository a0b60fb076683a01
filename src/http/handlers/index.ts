import type { AppContext, Handlers } from '../context.js';
import { hostHandlers } from './host.js';
import { interfaceHandlers } from './interfaces.js';
import { sessionHandlers } from './session.js';
// --- issue 3: routes & dns ---
import { routesDnsHandlers } from './ip-routes.js';
// --- issue 4: firewall & protect ---
import { firewallHandlers } from './firewall.js';
// --- issue 5: data plane ---
import { packetHandlers } from './packets.js';
// --- issue 6: operations ---
import { operationsHandlers } from './events.js';

/** Every operation of openapi.yaml, by operationId. */
export function allHandlers(ctx: AppContext): Handlers {
  return {
    ...hostHandlers(ctx),
    ...interfaceHandlers(ctx),
    ...sessionHandlers(ctx),
    // --- issue 3: routes & dns ---
    ...routesDnsHandlers(ctx),
    // --- issue 4: firewall & protect ---
    ...firewallHandlers(ctx),
    // --- issue 5: data plane ---
    ...packetHandlers(ctx),
    // --- issue 6: operations ---
    ...operationsHandlers(ctx),
  };
}
