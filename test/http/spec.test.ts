/**
 * loadSpec: openapi.yaml read into operations (path, method, privileges, schemas) with local refs
 * rewritten to ids ajv resolves. A spec that would serve an operation without saying which
 * privileges it needs is refused; small specs are written to a temp directory for that.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadSpec, SCHEMA_ID_PREFIX } from '../../src/http/spec.js';

const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-spec-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let written = 0;
/** A spec file with the given paths; bearer security for every operation unless one says otherwise. */
function specFile(paths: string, components = ''): string {
  const path = join(dir, `spec-${++written}.yaml`);
  writeFileSync(
    path,
    `openapi: 3.0.3
info: { title: t, version: '1' }
security:
  - bearer: []
paths:
${paths}
components:
  securitySchemes:
    bearer: { type: http, scheme: bearer }
  schemas:
    Name: { type: string, maxLength: 15 }
    Thing:
      type: object
      additionalProperties: false
      required: [name]
      properties:
        name: { $ref: '#/components/schemas/Name' }
${components}`,
  );
  return path;
}

const JSON_REFS = (value: unknown): string[] => [...JSON.stringify(value).matchAll(/"\$ref":"([^"]+)"/g)].map((m) => m[1]!);

test("the project's openapi.yaml: every operation with its method, Fastify URL, privileges and schemas", () => {
  const spec = loadSpec();
  const ids = spec.operations.map((o) => o.operationId);
  assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
  const byId = new Map(spec.operations.map((o) => [o.operationId, o]));

  const update = byId.get('updateInterface')!;
  assert.equal(update.method, 'PATCH');
  assert.equal(update.path, '/interfaces/{name}');
  assert.equal(update.url, '/interfaces/:name');
  assert.deepEqual(update.privileges, ['vpnservice']);
  assert.deepEqual(update.bodyTypes, ['application/json']);
  assert.deepEqual(update.schema.params, {
    type: 'object',
    additionalProperties: false,
    properties: { name: { $ref: `${SCHEMA_ID_PREFIX}InterfaceName` } },
    required: ['name'],
  });
  assert.deepEqual(update.schema.body, { $ref: `${SCHEMA_ID_PREFIX}InterfaceSettings` });
  assert.deepEqual(update.schema.response?.['200'], { $ref: `${SCHEMA_ID_PREFIX}Interface` });
  assert.deepEqual(update.schema.response?.['400'], { $ref: `${SCHEMA_ID_PREFIX}Error` }, 'a $ref response is resolved');

  assert.deepEqual(byId.get('createInterface')!.privileges, ['vpnservice', 'internet']);
  assert.deepEqual(byId.get('listInterfaces')!.privileges, [], 'any valid token');
  assert.equal(byId.get('getHealth')!.privileges, undefined, 'security: [] needs no token');
  assert.equal(byId.get('getOpenapi')!.schema.response?.['200'], undefined, 'YAML is not JSON: Fastify sends it as it is');
  assert.deepEqual(byId.get('writePacket')!.bodyTypes, ['application/octet-stream']);
  assert.equal(byId.get('writePacket')!.schema.body, undefined);
  assert.deepEqual(Object.keys(byId.get('readPacket')!.schema.querystring?.properties as object), ['timeoutMs']);

  for (const op of spec.operations) {
    assert.ok(
      Object.values(op.schema).every((v) => v !== undefined),
      `${op.operationId}: an absent part is an absent key`,
    );
    for (const ref of JSON_REFS(op.schema)) assert.ok(ref.startsWith(SCHEMA_ID_PREFIX), `${op.operationId}: ${ref}`);
  }
  for (const ref of JSON_REFS(spec.componentSchemas)) assert.ok(ref.startsWith(SCHEMA_ID_PREFIX), ref);
  for (const ref of JSON_REFS(spec.operations)) {
    assert.ok(Object.hasOwn(spec.componentSchemas, ref.slice(SCHEMA_ID_PREFIX.length)), `${ref} names a component schema`);
  }
  assert.match(spec.text, /^openapi: 3\./);
  assert.equal(loadSpec(), spec, 'read once per path');
});

test('a small spec: shared and referenced parameters, query parameters, a response by $ref', () => {
  const path = specFile(
    `  /things/{name}:
    parameters:
      - $ref: '#/components/parameters/ThingName'
    get:
      operationId: getThing
      x-vpnsvc-privileges: []
      parameters:
        - { name: verbose, in: query, schema: { type: boolean } }
        - { name: x-trace, in: header, schema: { type: string } }
      responses:
        '200': { $ref: '#/components/responses/OneThing' }
        '204': { description: nothing }
    put:
      operationId: putThing
      x-vpnsvc-privileges: [vpnservice]
      requestBody:
        content:
          application/json: { schema: { $ref: '#/components/schemas/Thing' } }
      responses:
        '200': { $ref: '#/components/responses/OneThing' }
  /open:
    get:
      operationId: open
      security: []
      responses:
        '200': { description: ok, content: { text/plain: { schema: { type: string } } } }`,
    `  parameters:
    ThingName: { name: name, in: path, required: true, schema: { $ref: '#/components/schemas/Name' } }
  responses:
    OneThing:
      description: one
      content:
        application/json: { schema: { $ref: '#/components/schemas/Thing' } }`,
  );
  const spec = loadSpec(path);
  assert.deepEqual(
    spec.operations.map((o) => `${o.method} ${o.url} ${o.operationId} ${JSON.stringify(o.privileges)}`),
    ['GET /things/:name getThing []', 'PUT /things/:name putThing ["vpnservice"]', 'GET /open open undefined'],
  );
  const [get, put, open] = spec.operations;
  const thing = { $ref: `${SCHEMA_ID_PREFIX}Thing` };
  assert.deepEqual(get!.schema, {
    params: {
      type: 'object',
      additionalProperties: false,
      properties: { name: { $ref: `${SCHEMA_ID_PREFIX}Name` } },
      required: ['name'],
    },
    querystring: { type: 'object', additionalProperties: false, properties: { verbose: { type: 'boolean' } }, required: [] },
    response: { 200: thing },
  });
  assert.deepEqual(put!.schema.body, thing);
  assert.deepEqual(put!.bodyTypes, ['application/json']);
  assert.deepEqual(open!.schema, {}, 'no JSON anywhere: nothing for ajv or fast-json-stringify');
  assert.deepEqual(spec.componentSchemas.Thing?.properties, { name: { $ref: `${SCHEMA_ID_PREFIX}Name` } });
});

test('an operation that needs a token but lists no x-vpnsvc-privileges is refused', () => {
  const path = specFile(`  /things:
    post:
      operationId: addThing
      responses:
        '204': { description: added }`);
  assert.throws(() => loadSpec(path), { message: 'openapi.yaml: POST /things needs a token but lists no x-vpnsvc-privileges' });
  const own = specFile(`  /things:
    delete:
      operationId: clearThings
      security: [{ bearer: [] }]
      responses:
        '204': { description: cleared }`);
  assert.throws(() => loadSpec(own), /DELETE \/things needs a token but lists no x-vpnsvc-privileges/, 'also with its own security');
});

test('an unknown parameter or response $ref is named', () => {
  const param = specFile(
    `  /things/{name}:
    get:
      operationId: getThing
      x-vpnsvc-privileges: []
      parameters: [{ $ref: '#/components/parameters/Nope' }]
      responses:
        '204': { description: none }`,
    `  parameters: {}`,
  );
  assert.throws(() => loadSpec(param), { message: 'openapi.yaml: unknown parameter #/components/parameters/Nope' });
  const response = specFile(
    `  /things:
    get:
      operationId: listThings
      x-vpnsvc-privileges: []
      responses:
        '200': { $ref: '#/components/responses/Nope' }`,
    `  responses: {}`,
  );
  assert.throws(() => loadSpec(response), { message: 'openapi.yaml: unknown response #/components/responses/Nope' });
});
