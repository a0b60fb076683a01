/**
 * What handlers and plugins reach through the Fastify instance, and the handler types derived
 * from openapi.yaml's operations. Each decorator is declared by the plugin that provides it
 * (fastify-plugin names); a plugin that needs one lists that name.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Features, OperationId } from '../contract/api-types.js';
import type { Vpnsvc } from '../engine/vpnsvc.js';
import type { operations } from '../generated/api.js';
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

type Responses<K extends OperationId> = operations[K]['responses'];
type Success<C> = C extends number ? (`${C}` extends `2${string}` ? C : never) : never;
type SuccessCode<K extends OperationId> = Success<keyof Responses<K>>;

/** A response's body: the JSON content's type, a raw string or Buffer for other content, none without content. */
type ContentOf<R> = R extends { content: infer C } ? (C extends { 'application/json': infer J } ? J : string | Buffer) : undefined;

/**
 * Fastify's RouteGeneric of one operation. Ajv validates params, query and body with the same
 * schemas before a handler runs, so these types hold at run time. A body that is not JSON (one
 * IP packet) is whatever its content-type parser made of it.
 */
export interface RouteOf<K extends OperationId> {
  Params: NonNullable<operations[K]['parameters']['path']>;
  Querystring: NonNullable<operations[K]['parameters']['query']>;
  Body: operations[K]['requestBody'] extends { content: { 'application/json': infer B } } | undefined ? B : unknown;
  /** Keyed by status code, so `reply.code(201).send(x)` checks x against the 201 response. */
  Reply: { [C in SuccessCode<K>]: ContentOf<Responses<K>[C]> };
}

export type OperationRequest<K extends OperationId> = FastifyRequest<RouteOf<K>>;
export type OperationReply<K extends OperationId> = FastifyReply<RouteOf<K>>;
// biome-ignore lint/suspicious/noConfusingVoidType: a handler that sent its reply itself returns nothing
type Returned<K extends OperationId> = RouteOf<K>['Reply'][keyof RouteOf<K>['Reply']] | OperationReply<K> | void;

/** Answers by returning a 2xx body of the spec, or through `reply` (status, content type). */
export type Handler<K extends OperationId> = (request: OperationRequest<K>, reply: OperationReply<K>) => Returned<K> | Promise<Returned<K>>;

/** One handler per operation of openapi.yaml: a missing or extra operation does not compile. */
export type Handlers = { [K in OperationId]: Handler<K> };

/**
 * A handler with its operation forgotten, for app.ts, which pairs handlers with operations by
 * operationId at run time. Method syntax makes the parameters bivariant, so any Handler<K> fits.
 */
export type AnyHandler = { bivariant(request: FastifyRequest, reply: FastifyReply): unknown }['bivariant'];
