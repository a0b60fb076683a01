import type { FastifyInstance } from 'fastify';
import type { Handlers } from '../context.js';
import { authHandlers } from './auth.js';
import { configHandlers } from './config.js';
import { dnsHandlers } from './dns.js';
import { eventHandlers } from './events.js';
import { firewallHandlers } from './firewall.js';
import { hostHandlers } from './host.js';
import { interfaceHandlers } from './interfaces.js';
import { ipRouteHandlers } from './ip-routes.js';
import { packetHandlers } from './packets.js';
import { profileHandlers } from './profiles.js';
import { sessionHandlers } from './session.js';
import { splitTunnelHandlers } from './split-tunnel.js';
import { ticketHandlers } from './tickets.js';

/** Every operation of openapi.yaml, by operationId: one without a handler does not compile. */
export function allHandlers(app: FastifyInstance): Handlers {
  return {
    ...hostHandlers(app),
    ...interfaceHandlers(app),
    ...sessionHandlers(app),
    ...ipRouteHandlers(app),
    ...dnsHandlers(app),
    ...firewallHandlers(app),
    ...packetHandlers(app),
    ...configHandlers(app),
    ...profileHandlers(app),
    ...eventHandlers(app),
    ...ticketHandlers(app),
    ...authHandlers(app),
    ...splitTunnelHandlers(app),
  };
}
