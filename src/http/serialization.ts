/**
 * Response serialization compiled by fast-json-stringify from openapi.yaml's response schemas.
 * Compiled serializers are kept per schema object: every app built over the same spec (the
 * daemon builds one; the tests build hundreds) compiles each schema once.
 */
import fastJson from 'fast-json-stringify';
import type { FastifySerializerCompiler } from 'fastify/types/schema.js';
import { SCHEMA_ID_PREFIX } from './spec.js';

type Serializer = (data: unknown) => string;

const compiled = new WeakMap<object, Serializer>();
const externals = new WeakMap<Record<string, object>, Record<string, object>>();

export function serializerCompiler(schemas: Record<string, object>): FastifySerializerCompiler<object> {
  let external = externals.get(schemas);
  if (!external) {
    // The response schemas' $refs resolve among the component schemas, by their ids.
    external = Object.fromEntries(
      Object.entries(schemas).map(([name, s]) => [SCHEMA_ID_PREFIX + name, { ...s, $id: SCHEMA_ID_PREFIX + name }]),
    );
    externals.set(schemas, external);
  }
  const refs = external;
  return ({ schema }) => {
    let serialize = compiled.get(schema);
    if (!serialize) {
      serialize = fastJson(schema as Parameters<typeof fastJson>[0], { schema: refs as never }) as Serializer;
      compiled.set(schema, serialize);
    }
    return serialize;
  };
}
