/**
 * Checks a response against openapi.yaml: the status is documented for the operation and the
 * body matches the documented schema. Keeps the spec honest about what the daemon really sends.
 * The body here is the serialized one; build(t)'s app also checks it as the handler returned it.
 */
import assert from 'node:assert/strict';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { loadSpec, SCHEMA_ID_PREFIX } from '../../src/http/spec.js';

const spec = loadSpec();
const ajv = new Ajv.default({ strict: false, allErrors: true });
addFormats.default(ajv);
for (const [name, schema] of Object.entries(spec.componentSchemas)) ajv.addSchema({ ...schema, $id: SCHEMA_ID_PREFIX + name });

type Json = Record<string, any>;

function responseSchema(operationId: string, status: number): Json | undefined | null {
  const operation = spec.operations.find((o) => o.operationId === operationId);
  if (!operation) throw new Error(`no operation ${operationId} in openapi.yaml`);
  const documented = (spec.document.paths as Json)[operation.path][operation.method.toLowerCase()].responses as Json;
  if (!documented[String(status)]) return null;
  return operation.schema.response?.[String(status)];
}

export function assertContract(operationId: string, res: { status: number; body: unknown }): void {
  const schema = responseSchema(operationId, res.status);
  assert.notEqual(schema, null, `${operationId} answered ${res.status}, which openapi.yaml does not document`);
  if (!schema) return;
  const validate = ajv.compile(schema);
  assert.ok(
    validate(res.body),
    `${operationId} ${res.status} body does not match openapi.yaml: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(res.body)}`,
  );
}

/** The one error body: exactly {error, code, message}, with the given status and seed name. */
export function assertError(res: { status: number; body: any }, status: number, error: string, message?: RegExp): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.error, error);
  assert.equal(typeof res.body.code, 'number');
  assert.equal(typeof res.body.message, 'string');
  assert.deepEqual(Object.keys(res.body).sort(), ['code', 'error', 'message']);
  if (message) assert.match(res.body.message, message);
}
