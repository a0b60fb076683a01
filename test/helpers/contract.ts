/**
 * Checks a response against openapi.yaml: the status is documented for the operation and the
 * body matches the documented schema. Keeps the spec honest about what the daemon really sends.
 * The body here is the serialized one; build(t)'s app also checks it as the handler returned it.
 */
import assert from 'node:assert/strict';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { ERROR_CODES } from '../../src/errors/errors.js';
import { loadSpec, SCHEMA_ID_PREFIX } from '../../src/http/spec.js';

const spec = loadSpec();
const ajv = new Ajv.default({ strict: false, allErrors: true });
addFormats.default(ajv);
for (const [name, schema] of Object.entries(spec.componentSchemas)) ajv.addSchema({ ...schema, $id: SCHEMA_ID_PREFIX + name });

type Json = Record<string, any>;

function operationOf(operationId: string) {
  const operation = spec.operations.find((o) => o.operationId === operationId);
  if (!operation) throw new Error(`no operation ${operationId} in openapi.yaml`);
  return operation;
}

/** The documented response of the operation for this status (a $ref resolved), or undefined. */
function documentedResponse(operationId: string, status: number): Json | undefined {
  const operation = operationOf(operationId);
  const documented = (spec.document.paths as Json)[operation.path][operation.method.toLowerCase()].responses as Json;
  const r = documented[String(status)] as Json | undefined;
  if (!r?.$ref) return r;
  return (spec.document.components as Json).responses[String(r.$ref).replace('#/components/responses/', '')];
}

const validators = new Map<string, ReturnType<typeof ajv.compile>>();
function validatorFor(operationId: string, status: number) {
  const key = `${operationId} ${status}`;
  let v = validators.get(key);
  if (!v) {
    const schema = operationOf(operationId).schema.response?.[String(status)];
    if (!schema) return undefined;
    v = ajv.compile(schema);
    validators.set(key, v);
  }
  return v;
}

export function assertContract(operationId: string, res: { status: number; body: unknown; headers?: Record<string, unknown> }): void {
  const documented = documentedResponse(operationId, res.status);
  assert.ok(documented, `${operationId} answered ${res.status}, which openapi.yaml does not document`);
  for (const name of Object.keys(documented.headers ?? {})) {
    if (res.headers) assert.notEqual(res.headers[name.toLowerCase()], undefined, `${operationId} ${res.status} lacks the header ${name}`);
  }
  const validate = validatorFor(operationId, res.status);
  if (!validate) return;
  assert.ok(
    validate(res.body),
    `${operationId} ${res.status} body does not match openapi.yaml: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(res.body)}`,
  );
}

/** A raw answer as a client sees it: headers lower-cased, the body as received. */
export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** The status each seed name is answered with (HTTP's own statuses keep the name of their kind). */
const STATUS_NAMES: Record<number, string> = {
  400: 'VPNSVC_ERROR_INVALID_PARAMETER',
  401: 'VPNSVC_ERROR_PERMISSION_DENIED',
  403: 'VPNSVC_ERROR_PERMISSION_DENIED',
  404: 'VPNSVC_ERROR_NO_SUCH_FILE',
  405: 'VPNSVC_ERROR_INVALID_PARAMETER',
  408: 'VPNSVC_ERROR_TIMEOUT',
  414: 'VPNSVC_ERROR_INVALID_PARAMETER',
  415: 'VPNSVC_ERROR_INVALID_PARAMETER',
  500: 'VPNSVC_ERROR_IO_ERROR',
  501: 'VPNSVC_ERROR_NOT_SUPPORTED',
  503: 'VPNSVC_ERROR_IPC_FAILED',
  504: 'VPNSVC_ERROR_TIMEOUT',
  507: 'VPNSVC_ERROR_OUT_OF_MEMORY',
};

/** What is wrong with an error answer that belongs to no operation: empty when it is the one body. */
export function errorBodyProblems(res: Answer): string[] {
  let body: any;
  try {
    body = JSON.parse(res.text);
  } catch {
    return [`${res.status}: the body is not JSON: ${JSON.stringify(res.text.slice(0, 200))}`];
  }
  const problems: string[] = [];
  const keys = body && typeof body === 'object' ? Object.keys(body).sort().join(',') : '';
  if (keys !== 'code,error,message') problems.push(`${res.status}: not the error body: ${res.text.slice(0, 200)}`);
  else {
    if (STATUS_NAMES[res.status] !== body.error) problems.push(`${res.status} carries ${body.error}, not ${STATUS_NAMES[res.status]}`);
    if (ERROR_CODES[body.error as keyof typeof ERROR_CODES] !== body.code)
      problems.push(`${res.status}: ${body.error} with code ${body.code}`);
  }
  return problems;
}

/**
 * What is wrong with an answer of an operation, by openapi.yaml: the status is documented, the
 * content type is one the status lists (no body when it lists none), the documented headers are
 * there, a JSON body matches its schema, and an error body carries the name of its status.
 * `head`: the answer to HEAD, which has the GET's status and headers but no body.
 */
export function contractProblems(operationId: string, res: Answer, { head = false } = {}): string[] {
  const documented = documentedResponse(operationId, res.status);
  if (!documented) return [`${operationId} answered ${res.status}, which openapi.yaml does not document`];
  const problems: string[] = [];
  for (const name of Object.keys(documented.headers ?? {})) {
    if (res.headers[name.toLowerCase()] === undefined) problems.push(`${operationId} ${res.status} lacks the header ${name}`);
  }
  const types = Object.keys(documented.content ?? {});
  const media = String(res.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim();
  if (head) {
    if (res.text !== '') problems.push(`HEAD of ${operationId} answered a body`);
    return problems;
  }
  if (types.length === 0) {
    if (res.text !== '') problems.push(`${operationId} ${res.status} documents no body but has one: ${res.text.slice(0, 200)}`);
    return problems;
  }
  if (!types.includes(media)) {
    problems.push(`${operationId} ${res.status} answered ${media || 'no content type'}, not ${types.join(' or ')}`);
    return problems;
  }
  if (media !== 'application/json') return problems;
  let body: unknown;
  try {
    body = JSON.parse(res.text);
  } catch {
    return [...problems, `${operationId} ${res.status}: the body is not JSON: ${JSON.stringify(res.text.slice(0, 200))}`];
  }
  const validate = validatorFor(operationId, res.status);
  if (validate && !validate(body)) {
    problems.push(
      `${operationId} ${res.status} body does not match openapi.yaml: ${ajv.errorsText(validate.errors)}: ${res.text.slice(0, 300)}`,
    );
  }
  if (res.status >= 400) problems.push(...errorBodyProblems(res));
  return problems;
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
