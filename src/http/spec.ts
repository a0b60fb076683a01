/**
 * openapi.yaml is the one source of every HTTP shape: this module reads it and derives, per
 * operation, the Fastify route (path, method, privileges), the schemas ajv compiles for
 * validation and the response schemas fast-json-stringify compiles for serialization.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { projectRoot } from '../config/project-root.js';
import type { OperationId } from '../contract/api-types.js';
import type { Privilege } from '../tokens/token-store.js';

export const SCHEMA_ID_PREFIX = 'https://vpnsvc.invalid/schemas/';
const METHODS = ['get', 'put', 'post', 'patch', 'delete'] as const;
type Method = (typeof METHODS)[number];

type Json = Record<string, unknown>;

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema: Json;
  $ref?: string;
}

/** One OpenAPI operation (a path and a method), as Fastify registers it. */
export interface Operation {
  operationId: OperationId;
  method: Uppercase<Method>;
  /** Fastify form: /interfaces/:name */
  url: string;
  /** The OpenAPI form: /interfaces/{name} */
  path: string;
  /** Undefined when the operation needs no token at all. */
  privileges: Privilege[] | undefined;
  /**
   * `response` holds the application/json schema of each status code that has one; other
   * content (a packet, text, YAML, an event stream, an upgrade) is left to Fastify as sent.
   */
  schema: { body?: Json; params?: Json; querystring?: Json; response?: Record<string, Json> };
  /** Content types the request body may have, from the spec. */
  bodyTypes: string[];
}

export interface Spec {
  text: string;
  document: Json;
  componentSchemas: Record<string, Json>;
  operations: Operation[];
}

/** Local refs (#/components/schemas/X) become absolute ids ajv resolves among the added schemas. */
function rewriteRefs<T>(value: T): T {
  if (Array.isArray(value)) return value.map(rewriteRefs) as T;
  if (value && typeof value === 'object') {
    const out: Json = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] =
        k === '$ref' && typeof v === 'string' && v.startsWith('#/components/schemas/')
          ? SCHEMA_ID_PREFIX + v.slice('#/components/schemas/'.length)
          : rewriteRefs(v);
    }
    return out as T;
  }
  return value;
}

function resolveParameter(doc: Json, p: Parameter): Parameter {
  if (!p.$ref) return p;
  const name = p.$ref.replace('#/components/parameters/', '');
  const found = ((doc.components as Json).parameters as Record<string, Parameter>)[name];
  if (!found) throw new Error(`openapi.yaml: unknown parameter ${p.$ref}`);
  return found;
}

function resolveResponse(doc: Json, r: Json): Json {
  const ref = r.$ref as string | undefined;
  if (!ref) return r;
  const found = ((doc.components as Json).responses as Record<string, Json>)[ref.replace('#/components/responses/', '')];
  if (!found) throw new Error(`openapi.yaml: unknown response ${ref}`);
  return found;
}

function responseSchemas(doc: Json, responses: Record<string, Json>): Record<string, Json> | undefined {
  const out: Record<string, Json> = {};
  for (const [status, r] of Object.entries(responses)) {
    const schema = ((resolveResponse(doc, r).content ?? {}) as Record<string, Json>)['application/json']?.schema as Json | undefined;
    if (schema) out[status] = rewriteRefs(schema);
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function objectSchema(params: Parameter[]): Json | undefined {
  if (params.length === 0) return undefined;
  return {
    type: 'object',
    additionalProperties: false,
    properties: Object.fromEntries(params.map((p) => [p.name, rewriteRefs(p.schema)])),
    required: params.filter((p) => p.required).map((p) => p.name),
  };
}

/** The fields that have a value: an absent schema part is a missing key, not an undefined one. */
function definedOnly<T extends object>(obj: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}

/** Specs read so far, by path: the file is the contract of this install and does not change under a running daemon. */
const loaded = new Map<string, Spec>();

export function loadSpec(path = join(projectRoot(), 'openapi.yaml')): Spec {
  let spec = loaded.get(path);
  if (!spec) {
    spec = readSpec(path);
    loaded.set(path, spec);
  }
  return spec;
}

function readSpec(path: string): Spec {
  const text = readFileSync(path, 'utf8');
  const document = parse(text) as Json;
  const components = document.components as Json;
  const componentSchemas = rewriteRefs(components.schemas as Record<string, Json>);
  const globalSecurity = document.security as unknown[] | undefined;
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(document.paths as Record<string, Json>)) {
    const shared = ((item.parameters as Parameter[] | undefined) ?? []).map((p) => resolveParameter(document, p));
    for (const method of METHODS) {
      const op = item[method] as Json | undefined;
      if (!op) continue;
      const params = [...shared, ...((op.parameters as Parameter[] | undefined) ?? []).map((p) => resolveParameter(document, p))];
      const security = (op.security as unknown[] | undefined) ?? globalSecurity ?? [];
      const content = ((op.requestBody as Json | undefined)?.content ?? {}) as Record<string, Json>;
      const jsonBody = content['application/json']?.schema as Json | undefined;
      const privileges = op['x-vpnsvc-privileges'] as Privilege[] | undefined;
      if (security.length > 0 && privileges === undefined) {
        throw new Error(`openapi.yaml: ${method.toUpperCase()} ${path} needs a token but lists no x-vpnsvc-privileges`);
      }
      operations.push({
        operationId: op.operationId as OperationId,
        method: method.toUpperCase() as Uppercase<Method>,
        path,
        url: path.replace(/\{([^}]+)\}/g, ':$1'),
        privileges: security.length > 0 ? privileges : undefined,
        bodyTypes: Object.keys(content),
        schema: definedOnly({
          body: jsonBody ? rewriteRefs(jsonBody) : undefined,
          params: objectSchema(params.filter((p) => p.in === 'path')),
          querystring: objectSchema(params.filter((p) => p.in === 'query')),
          response: responseSchemas(document, (op.responses ?? {}) as Record<string, Json>),
        }),
      });
    }
  }
  return { text, document, componentSchemas, operations };
}
