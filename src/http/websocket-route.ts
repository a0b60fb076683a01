/**
 * An operation of openapi.yaml that upgrades to a WebSocket. Its HTTP handler answers plain
 * requests; `beforeUpgrade` runs as a preValidation hook (after auth), so a refusal is an
 * ordinary error body before any upgrade; `handler` gets the upgraded socket.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { OperationId } from '../contract/api-types.js';
import type { AnyHandler, Handler, OperationReply, OperationRequest } from './context.js';

export interface WebSocketRoute<K extends OperationId> {
  beforeUpgrade(request: OperationRequest<K>, reply: OperationReply<K>): Promise<void>;
  handler(socket: WebSocket, request: OperationRequest<K>): void;
}

/** A WebSocketRoute with its operation forgotten, as app.ts registers it (method parameters are bivariant). */
export interface AnyWebSocketRoute {
  beforeUpgrade(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  handler(socket: WebSocket, request: FastifyRequest): void;
}

export type WebSocketHandler<K extends OperationId> = Handler<K> & { websocket: WebSocketRoute<K> };

export function withWebSocket<K extends OperationId>(http: Handler<K>, websocket: WebSocketRoute<K>): WebSocketHandler<K> {
  return Object.assign(http, { websocket });
}

export function webSocketRouteOf(handler: AnyHandler): AnyWebSocketRoute | undefined {
  return (handler as { websocket?: AnyWebSocketRoute }).websocket;
}
