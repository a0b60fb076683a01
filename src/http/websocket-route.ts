/**
 * An operation of openapi.yaml that upgrades to a WebSocket. Its HTTP handler answers plain
 * requests; `beforeUpgrade` runs as a preValidation hook (after auth), so a refusal is an
 * ordinary error body before any upgrade; `handler` gets the upgraded socket.
 */
import type { FastifyRequest, preValidationAsyncHookHandler } from 'fastify';
import type { WebSocket } from 'ws';
import type { Handler } from './context.js';

export interface WebSocketRoute {
  beforeUpgrade: preValidationAsyncHookHandler;
  handler(socket: WebSocket, request: FastifyRequest): void;
}

export type WebSocketHandler = Handler & { websocket: WebSocketRoute };

export function withWebSocket(http: Handler, websocket: WebSocketRoute): WebSocketHandler {
  return Object.assign(http, { websocket });
}

export function webSocketRouteOf(handler: Handler): WebSocketRoute | undefined {
  return (handler as Partial<WebSocketHandler>).websocket;
}
