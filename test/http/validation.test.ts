/**
 * The request validators compiled from openapi.yaml's schemas: a body is checked as sent (an
 * unknown field is an error, never stripped; a string is never coerced to a number), while path
 * and query parameters, which arrive as strings, are coerced. The error worth reporting is the
 * deepest one, worded for a person.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ErrorObject } from 'ajv';
import type { FastifySchema } from 'fastify';
import { loadSpec, type Operation } from '../../src/http/spec.js';
import {
  describeValidationError,
  mostSpecificError,
  responseCheckCompiler,
  ValidationFailure,
  validatorCompiler,
} from '../../src/http/validation.js';

const spec = loadSpec();
const compile = validatorCompiler(spec.componentSchemas);
type Part = 'body' | 'querystring' | 'params';

/** The validator Fastify would use for one part of one operation. */
function validator(operationId: string, part: Part): (data: unknown) => { value?: unknown; error?: Error } {
  const op = spec.operations.find((o) => o.operationId === operationId) as Operation;
  const schema = op.schema[part] as FastifySchema;
  assert.ok(schema, `${operationId} has a ${part} schema`);
  return compile({ schema, method: op.method, url: op.url, httpPart: part }) as (data: unknown) => { value?: unknown; error?: Error };
}

/** The sentence the error handler would answer with. */
function refusal(operationId: string, part: Part, data: unknown): string {
  const { error } = validator(operationId, part)(data);
  assert.ok(error instanceof ValidationFailure, `${operationId} ${part} ${JSON.stringify(data)} is refused`);
  const e = mostSpecificError(error.errors);
  assert.ok(e);
  return describeValidationError(part, e);
}

test('a body with an unknown field is refused, and the field is still there: nothing is stripped', () => {
  const body = { mtu: 1400, persist: true };
  assert.equal(refusal('updateInterface', 'body', body), 'body has an unknown field "persist"');
  assert.deepEqual(body, { mtu: 1400, persist: true });
  const ok = { mtu: 1400 };
  assert.equal(validator('updateInterface', 'body')(ok).value, ok, 'a valid body passes as it is');
});

test('bodies are not coerced: "1400" is not an MTU, "true" is not a boolean', () => {
  const body = { mtu: '1400' };
  assert.equal(refusal('updateInterface', 'body', body), 'body.mtu must be integer');
  assert.equal(body.mtu, '1400');
  assert.equal(refusal('updateInterface', 'body', { blocking: 'true' }), 'body.blocking must be boolean');
  assert.equal(refusal('addRoutes', 'body', { address: '10.181.0.0', prefix: '16' }), 'body.prefix must be integer');
});

test('query strings and path parameters are coerced in place, and still refuse unknown names', () => {
  const query = { timeoutMs: '250' };
  assert.deepEqual(validator('readPacket', 'querystring')(query).value, { timeoutMs: 250 });
  assert.equal(query.timeoutMs as unknown, 250, 'Fastify hands the coerced object to the handler');
  assert.deepEqual(validator('followEvents', 'querystring')({ since: '5', countersMs: '1000', types: 'dns.added' }).value, {
    since: 5,
    countersMs: 1000,
    types: 'dns.added',
  });
  assert.deepEqual(validator('removeRoute', 'params')({ address: '10.181.0.0', prefix: '16' }).value, {
    address: '10.181.0.0',
    prefix: 16,
  });
  assert.equal(refusal('readPacket', 'querystring', { timeoutMs: 'soon' }), 'querystring.timeoutMs must be integer');
  assert.equal(refusal('readPacket', 'querystring', { timeoutMs: '60001' }), 'querystring.timeoutMs must be <= 60000');
  assert.equal(
    refusal('readPacket', 'querystring', { timeoutMs: '1', access_token: 'x' }),
    'querystring has an unknown field "access_token"',
  );
});

test('the deepest error wins over the branches of oneOf, and each keyword reads as a sentence', () => {
  const routes = [
    { address: '10.181.0.0', prefix: 16 },
    { address: '10.181.1.0', prefix: 'x' },
  ];
  assert.equal(refusal('addRoutes', 'body', routes), 'body.1.prefix must be integer', 'not "body must be object"');
  assert.equal(refusal('createInterface', 'body', {}), 'body is missing the field "name"');
  assert.equal(refusal('updateInterface', 'body', {}), 'body must set at least one field');
  assert.equal(refusal('updateInterface', 'body', { localIp: '10.0.0' }), 'body.localIp must be an IPv4 address in dotted-quad form');
  assert.match(refusal('updateInterface', 'body', { session: 'a\nb' }), /^body\.session has characters that are not allowed \(must match /);
  assert.equal(refusal('updateInterface', 'body', { mtu: 67 }), 'body.mtu must be >= 68');
  const ipv6: ErrorObject = { instancePath: '/server', schemaPath: '#', keyword: 'format', params: { format: 'ipv6' } };
  assert.equal(describeValidationError('body', ipv6), 'body.server must be a valid ipv6');
  assert.equal(mostSpecificError([]), undefined);
});

test('strict schemas: a typo in a keyword fails the compile, OpenAPI annotations do not', () => {
  assert.doesNotThrow(() => compile({ schema: { type: 'string', example: 'tun0' }, method: 'POST', url: '/x', httpPart: 'body' }));
  assert.throws(
    () => compile({ schema: { type: 'string', maxLenght: 3 }, method: 'POST', url: '/x', httpPart: 'body' }),
    /strict mode: unknown keyword: "maxLenght"/,
  );
});

test('response checks know date-time and the component schemas', () => {
  const check = responseCheckCompiler(spec.componentSchemas);
  const at = check({ type: 'object', required: ['at'], properties: { at: { type: 'string', format: 'date-time' } } });
  assert.equal(at({ at: '2024-01-02T03:04:05Z' }), true);
  assert.equal(at({ at: 'yesterday' }), false);
  const route = check({ $ref: 'https://vpnsvc.invalid/schemas/Route' });
  assert.equal(route({ address: '10.181.0.0', prefix: 16 }), true);
  assert.equal(route({ address: '10.181.0.0', prefix: 16, extra: 1 }), false);
});
