/**
 * Checks a response against openapi.yaml: the status is documented for the operation and the
 * body matches the documented schema. Keeps the spec honest about what the daemon really sends.
 */
import assert from 'node:assert/strict';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { SCHEMA_ID_PREFIX, loadSpec } from '../../src/http/spec.js';

const spec = loadSpec();
const ajv = new Ajv.default({ strict: false, allErrors: true });
addFormats.default(ajv);
for (const [name, schema] of Object.entries(spec.componentSchemas)) ajv.addSchema({ ...schema, $id: SCHEMA_ID_PREFIX + name });

type Json = Record<string, any>;

function responseSchema(operationId: string, status: number): Json | undefined | null {
  for (const item of Object.values(spec.document.paths as Json)) {
    for (const op of Object.values(item as Json)) {
      if ((op as Json)?.operationId !== operationId) continue;
      let res = (op as Json).responses?.[String(status)];
      if (!res) return null;
      if (res.$ref) res = (spec.document.components as Json).responses[res.$ref.split('/').pop()];
      const schema = res.content?.['application/json']?.schema;
      return schema ? JSON.parse(JSON.stringify(schema).replaceAll('#/components/schemas/', SCHEMA_ID_PREFIX)) : undefined;
    }
  }
  throw new Error(`no operation ${operationId} in openapi.yaml`);
}

export function assertContract(operationId: string, res: { status: number; body: unknown }): void {
  const schema = responseSchema(operationId, res.status);
  assert.notEqual(schema, null, `${operationId} answered ${res.status}, which openapi.yaml does not document`);
  if (!schema) return;
  const validate = ajv.compile(schema);
  assert.ok(validate(res.body), `${operationId} ${res.status} body does not match openapi.yaml: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(res.body)}`);
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
