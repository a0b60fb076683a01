/**
 * Request validation compiled by ajv from openapi.yaml's component schemas. Bodies are checked
 * as sent: no type coercion and no stripping of unknown fields (an unknown field is a 400).
 * Path and query parameters arrive as strings, so only they are coerced.
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';
import { SCHEMA_ID_PREFIX } from './spec.js';

function makeAjv(coerceTypes: boolean, schemas: Record<string, object>, formats: addFormats.FormatName[] = ['ipv4', 'ipv6']): Ajv.default {
  const ajv = new Ajv.default({
    coerceTypes,
    removeAdditional: false,
    useDefaults: false,
    allErrors: false,
    strict: true,
    // OpenAPI 3.0 keywords that are annotations, not assertions, for ajv.
    keywords: ['example'],
  });
  addFormats.default(ajv, formats);
  for (const [name, schema] of Object.entries(schemas)) ajv.addSchema({ ...schema, $id: SCHEMA_ID_PREFIX + name });
  return ajv;
}

interface Compilers {
  bodies: Ajv.default;
  strings: Ajv.default;
}

/** Per set of component schemas: every app built over the same spec reuses the compiled checks. */
const compilers = new WeakMap<Record<string, object>, Compilers>();

export function validatorCompiler(schemas: Record<string, object>): FastifySchemaCompiler<object> {
  let c = compilers.get(schemas);
  if (!c) {
    c = { bodies: makeAjv(false, schemas), strings: makeAjv(true, schemas) };
    compilers.set(schemas, c);
  }
  const { bodies, strings } = c;
  return ({ schema, httpPart }) => {
    // ajv caches a compiled schema by its object, so the same route schema compiles once.
    const fn: ValidateFunction = (httpPart === 'body' ? bodies : strings).compile(schema);
    return (data: unknown) => (fn(data) ? { value: data } : { error: new ValidationFailure(fn.errors ?? []) });
  };
}

/**
 * Compiles checks of response bodies as handlers return them, before fast-json-stringify, which
 * would silently drop a field the schema lacks and coerce a wrong type. For tests.
 */
const responseChecks = new WeakMap<Record<string, object>, Ajv.default>();

export function responseCheckCompiler(schemas: Record<string, object>): (schema: object) => ValidateFunction {
  let ajv = responseChecks.get(schemas);
  if (!ajv) {
    ajv = makeAjv(false, schemas, ['ipv4', 'ipv6', 'date-time']);
    responseChecks.set(schemas, ajv);
  }
  const checker = ajv;
  return (schema) => checker.compile(schema);
}

export class ValidationFailure extends Error {
  constructor(readonly errors: ErrorObject[]) {
    super('request validation failed');
  }
}

/**
 * The error worth reporting. With oneOf (a route or an array of routes), ajv reports the failure
 * of every branch; the useful one got deepest into the data, and is not merely the branch's
 * type mismatch ("body must be object" for an array with one bad entry).
 */
export function mostSpecificError(errors: readonly ErrorObject[]): ErrorObject | undefined {
  const rank = (e: ErrorObject) => e.instancePath.split('/').length * 4 - (e.keyword === 'oneOf' ? 2 : e.keyword === 'type' ? 1 : 0);
  let best: ErrorObject | undefined;
  for (const e of errors) if (best === undefined || rank(e) > rank(best)) best = e;
  return best;
}

/** One readable sentence from ajv's first error: where, and what was expected. */
export function describeValidationError(part: string, e: ErrorObject): string {
  const where = `${part}${e.instancePath.replace(/\//g, '.').replace(/^\./, '.')}`;
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return `${where} has an unknown field "${String(params.additionalProperty)}"`;
    case 'required':
      return `${where} is missing the field "${String(params.missingProperty)}"`;
    case 'minProperties':
      return `${where} must set at least one field`;
    case 'format':
      return `${where} must be ${params.format === 'ipv4' ? 'an IPv4 address in dotted-quad form' : `a valid ${String(params.format)}`}`;
    case 'pattern':
      return `${where} has characters that are not allowed (must match ${String(params.pattern)})`;
    default:
      return `${where} ${e.message ?? 'is invalid'}`;
  }
}
