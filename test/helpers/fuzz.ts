/**
 * The fuzzer of the HTTP API, shared by test/e2e/fuzz.test.ts and `npm run fuzz`: requests made
 * from openapi.yaml's operations (their schemas drive fast-check, seeded), valid and bent (wrong
 * types, unknown and missing fields, huge strings, bad percent-encoding, other methods, other
 * media types, no or weak credentials, no Host), sent one at a time to a live daemon over raw
 * HTTP, and every answer judged by openapi.yaml.
 *
 * Safety in a shared network namespace: every value that could reach the kernel is kept where
 * nothing else lives. Addresses and routes stay in 198.18.0.0/15 and fd5a:f022::/32 (prefixes no
 * shorter than those), created interfaces are named fz*, a block never gets an original
 * interface (the daemon under test has no default route to take one from, so it is refused), a
 * protected socket is looked for in a sleeping child only, and packets written to the TUN are
 * either not IP or addressed inside 198.18.0.0/15.
 */
import http, { METHODS } from 'node:http';
import { isIP, isIPv4 } from 'node:net';
import fc from 'fast-check';
import ipaddr from 'ipaddr.js';
import { loadSpec, type Operation, SCHEMA_ID_PREFIX } from '../../src/http/spec.js';
import { TOKENS } from './app.js';
import { type Answer, contractProblems, errorBodyProblems } from './contract.js';

const spec = loadSpec();
type Json = Record<string, any>;

/** Stands for the name of the active interface in generated requests; set when sent. */
export const ACTIVE = 'fz-active';
/** Sent in headers and query values; no answer may contain it. */
const CANARY = 'zq9canary7x';
const SAFE4 = ipaddr.parseCIDR('198.18.0.0/15');
const SAFE6 = ipaddr.parseCIDR('fd5a:f022::/32');
const ANSWER_TIMEOUT_MS = 10_000;

export type Mutation =
  | 'valid'
  | 'wrong-type'
  | 'extra-field'
  | 'missing-field'
  | 'huge-string'
  | 'bad-percent'
  | 'other-method'
  | 'head'
  | 'wrong-content-type'
  | 'malformed-body'
  | 'random-body'
  | 'garbage-param'
  | 'no-auth'
  | 'bad-token'
  | 'weak-token'
  | 'no-host'
  | 'huge-header'
  | 'upgrade';

export interface FuzzRequest {
  operationId: string;
  mutation: Mutation;
  method: string;
  /** Path and query, as sent (ACTIVE replaced at send time). */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

// ---------------------------------------------------------------------------------------------
// Values: arbitraries from the spec's schemas, with the kernel-reaching ones kept safe.

function clearHostBits(address: string, prefix: number): string {
  const parsed = ipaddr.parse(address);
  const bytes = parsed.toByteArray();
  for (let bit = prefix; bit < bytes.length * 8; bit++) bytes[bit >> 3]! &= ~(0x80 >> (bit & 7));
  const net = ipaddr.fromByteArray(bytes);
  return net.kind() === 'ipv6' ? (net as ipaddr.IPv6).toRFC5952String() : net.toString();
}

const safeHost4 = fc
  .tuple(fc.integer({ min: 18, max: 19 }), fc.nat(255), fc.integer({ min: 1, max: 254 }))
  .map(([b, c, d]) => `198.${b}.${c}.${d}`);
const safeHost6 = fc
  .array(fc.nat(0xffff), { minLength: 6, maxLength: 6 })
  .map((groups) => `fd5a:f022:${groups.map((g) => g.toString(16)).join(':')}`);
/** A route the engine accepts (or refuses only as a duplicate), inside the fuzz ranges. */
const safeRoute = fc.oneof(
  fc.tuple(safeHost4, fc.integer({ min: 15, max: 32 })).map(([a, prefix]) => ({ address: clearHostBits(a, prefix), prefix })),
  fc.tuple(safeHost6, fc.integer({ min: 32, max: 128 })).map(([a, prefix]) => ({ address: clearHostBits(a, prefix), prefix })),
  // Host bits set: refused with a suggestion.
  fc.tuple(safeHost4, fc.integer({ min: 15, max: 24 })).map(([address, prefix]) => ({ address, prefix })),
);
const anyIp = fc.oneof(fc.ipV4(), fc.ipV6(), safeHost4, safeHost6);
/** Few enough values that adds and removes meet: duplicates, removals of what is there. */
const ROUTE_POOL = fc.constantFrom(
  ...[16, 20, 24, 28, 32].flatMap((prefix) => [
    { address: clearHostBits('198.18.77.9', prefix), prefix },
    { address: clearHostBits('198.19.3.200', prefix), prefix },
  ]),
  { address: 'fd5a:f022:1::', prefix: 48 },
  { address: 'fd5a:f022:1:2::', prefix: 64 },
);
const SERVER_POOL = fc.constantFrom('198.18.0.53', '198.19.1.53', 'fd5a:f022::53', '9.9.9.9', '2001:db8::53');
const DOMAIN_POOL = fc.constantFrom('corp.example', '~corp.example', '~.', 'fz.test');

/** Semantic values for schemas whose random strings the engine would (rightly) refuse every time. */
const HINTS: Record<string, fc.Arbitrary<unknown>> = {
  InterfaceName: fc.oneof({ weight: 4, arbitrary: fc.constant(ACTIVE) }, { weight: 1, arbitrary: fc.stringMatching(/^fz[a-z0-9]{0,4}$/) }),
  Route: fc.oneof(ROUTE_POOL, safeRoute),
  RouteAddress: fc.oneof(
    ROUTE_POOL.map((r) => r.address),
    safeRoute.map((r) => r.address),
    fc.string({ maxLength: 46 }),
  ),
  RoutePrefix: fc.oneof(fc.constantFrom(16, 20, 24, 28, 32, 48, 64), fc.integer({ min: 15, max: 128 }), fc.integer({ min: -5, max: 200 })),
  DnsServerAddress: fc.oneof(SERVER_POOL, anyIp, fc.string({ maxLength: 46 })),
  SearchDomain: fc.oneof(DOMAIN_POOL, fc.stringMatching(/^~?[A-Za-z0-9_.-]{1,40}$/), fc.string({ maxLength: 60 })),
};
const PROPERTY_HINTS: Record<string, fc.Arbitrary<unknown>> = {
  localIp: fc.oneof(safeHost4, fc.constant(null), fc.string({ maxLength: 16 })),
  remoteIp: fc.oneof(safeHost4, fc.constant(null), fc.string({ maxLength: 16 })),
  timeoutMs: fc.integer({ min: 0, max: 80 }),
  fd: fc.oneof(fc.integer({ min: 0, max: 8 }), fc.integer({ min: -1, max: 2 ** 31 })),
  mtu: fc.oneof(fc.integer({ min: 68, max: 9000 }), fc.integer({ min: -10, max: 70_000 })),
};

/** Any text: Unicode graphemes, or ASCII with control characters (fc's "binary" unit is 30x slower). */
function anyString(minLength: number, maxLength: number): fc.Arbitrary<string> {
  return fc.oneof(fc.string({ minLength, maxLength, unit: 'grapheme' }), fc.string({ minLength, maxLength, unit: 'binary-ascii' }));
}

/** A fast-check arbitrary for the subset of JSON Schema openapi.yaml uses. */
function arbitraryOf(schema: Json | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (!schema || depth > 8) return fc.jsonValue({ maxDepth: 2 });
  if (typeof schema.$ref === 'string') {
    const name = schema.$ref.slice(SCHEMA_ID_PREFIX.length);
    return HINTS[name] ?? arbitraryOf(spec.componentSchemas[name], depth + 1);
  }
  let arb = baseArbitrary(schema, depth);
  if (schema.nullable) arb = fc.option(arb, { nil: null });
  return arb;
}

function baseArbitrary(schema: Json, depth: number): fc.Arbitrary<unknown> {
  if (schema.oneOf) return fc.oneof(...(schema.oneOf as Json[]).map((s) => arbitraryOf(s, depth + 1)));
  if (schema.enum) return fc.constantFrom(...(schema.enum as unknown[]));
  switch (schema.type) {
    case 'object': {
      const properties = (schema.properties ?? {}) as Record<string, Json>;
      const record = fc.record(
        Object.fromEntries(Object.entries(properties).map(([k, s]) => [k, PROPERTY_HINTS[k] ?? arbitraryOf(s, depth + 1)])),
        { requiredKeys: (schema.required ?? []) as string[] },
      );
      return schema.minProperties ? record.filter((o) => Object.keys(o).length >= schema.minProperties) : record;
    }
    case 'array':
      return fc.array(arbitraryOf(schema.items, depth + 1), {
        minLength: schema.minItems ?? 0,
        maxLength: Math.min(schema.maxItems ?? 6, 6),
      });
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -(2 ** 31), max: schema.maximum ?? 2 ** 31 - 1 });
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true });
    case 'boolean':
      return fc.boolean();
    case 'string': {
      const minLength = schema.minLength ?? 0;
      const maxLength = Math.min(schema.maxLength ?? 64, 300);
      if (schema.format === 'ipv4') return fc.ipV4();
      if (schema.format === 'ipv6') return fc.ipV6();
      if (schema.pattern) {
        return fc
          .stringMatching(new RegExp(schema.pattern), { size: 'xsmall' })
          .filter((s) => s.length >= minLength && s.length <= maxLength);
      }
      return anyString(minLength, Math.min(maxLength, 64));
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** Values of another type than a schema wants, and structures that trip parsers. */
const wrongValue = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 20 }),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
  fc.constant('constructor'),
  fc.constant('__proto__'),
);

// ---------------------------------------------------------------------------------------------
// Requests.

const OTHER_METHODS = ['GET', 'PUT', 'POST', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'PURGE', 'PROPFIND', 'LINK', 'SEARCH', 'CONNECT'];
const CONTENT_TYPES = [
  'text/plain',
  'application/xml',
  'application/octet-stream',
  'application/json',
  'multipart/form-data; boundary=x',
  `application/x-${CANARY}`,
  '',
];
const BAD_PERCENT = ['%', '%zz', '%E0%A4%A', '%C0%AF', '%FF', '%u0041', '%%', '%2'];

const MUTATIONS: Array<{ weight: number; arbitrary: fc.Arbitrary<Mutation> }> = (
  [
    ['valid', 30],
    ['wrong-type', 8],
    ['extra-field', 6],
    ['missing-field', 5],
    ['huge-string', 3],
    ['bad-percent', 6],
    ['other-method', 8],
    ['head', 3],
    ['wrong-content-type', 6],
    ['malformed-body', 4],
    ['random-body', 4],
    ['garbage-param', 5],
    ['no-auth', 2],
    ['bad-token', 2],
    ['weak-token', 3],
    ['no-host', 2],
    ['huge-header', 1],
    ['upgrade', 3],
  ] as const
).map(([m, weight]) => ({ weight, arbitrary: fc.constant(m as Mutation) }));

interface Parts {
  params: Record<string, unknown>;
  query: Record<string, unknown>;
  body: unknown;
}

/** A valid IPv4/UDP packet between two fuzz addresses (not local: the kernel drops it). */
const ipPacket = fc.tuple(fc.nat(255), fc.nat(255), fc.uint8Array({ maxLength: 64 })).map(([c, d, payload]) => {
  const total = 28 + payload.length;
  const p = Buffer.alloc(total);
  p.writeUInt8(0x45, 0);
  p.writeUInt16BE(total, 2);
  p.writeUInt8(64, 8);
  p.writeUInt8(17, 9);
  Buffer.from([198, 18, 0, 2]).copy(p, 12);
  Buffer.from([198, 19, c, d]).copy(p, 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += p.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  p.writeUInt16BE(~sum & 0xffff, 10);
  p.writeUInt16BE(40000, 20);
  p.writeUInt16BE(9, 22);
  p.writeUInt16BE(8 + payload.length, 24);
  Buffer.from(payload).copy(p, 28);
  return p;
});
/** Bytes that are not an IP packet (their version nibble is neither 4 nor 6). */
const notIp = fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => {
  const out = Buffer.from(b);
  if (out[0]! >> 4 === 4 || out[0]! >> 4 === 6) out[0] = 0x10 | (out[0]! & 0x0f);
  return out;
});

function partsOf(op: Operation): fc.Arbitrary<Parts> {
  let params = arbitraryOf(op.schema.params) as fc.Arbitrary<Record<string, unknown>>;
  // The address and prefix of a route removed by path come as a pair, as they were added.
  if (op.operationId === 'removeRoute') params = fc.oneof(ROUTE_POOL, params);
  const query = op.schema.querystring ? (arbitraryOf(op.schema.querystring) as fc.Arbitrary<Record<string, unknown>>) : fc.constant({});
  const body = op.bodyTypes.includes('application/octet-stream')
    ? fc.oneof(ipPacket, notIp, fc.constant(Buffer.alloc(0)))
    : op.schema.body
      ? arbitraryOf(op.schema.body)
      : fc.constant(undefined);
  return fc.record({ params: op.schema.params ? params : fc.constant({}), query, body });
}

interface Extras {
  mutation: Mutation;
  pick: number;
  wrong: unknown;
  huge: number;
  method: string;
  contentType: string;
  badPercent: string;
  garbage: string;
  sse: boolean;
  jsonValue: unknown;
  upgrade: Record<string, string>;
}

const extras = fc.record({
  mutation: fc.oneof(...MUTATIONS),
  pick: fc.nat(),
  wrong: wrongValue,
  huge: fc.integer({ min: 800, max: 200_000 }),
  method: fc.constantFrom(...OTHER_METHODS),
  contentType: fc.constantFrom(...CONTENT_TYPES),
  badPercent: fc.constantFrom(...BAD_PERCENT),
  garbage: anyString(0, 40),
  sse: fc.boolean(),
  jsonValue: fc.jsonValue({ maxDepth: 3 }),
  upgrade: fc.constantFrom(
    { upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    {
      upgrade: 'websocket',
      'sec-websocket-version': '13',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'sec-websocket-protocol': 'vpnsvc.batch.v1',
    },
    {
      upgrade: 'websocket',
      'sec-websocket-version': '13',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'sec-websocket-protocol': 'x y,,',
    },
    { upgrade: 'websocket', 'sec-websocket-version': '7', 'sec-websocket-key': 'short' },
    { upgrade: 'h2c', 'http2-settings': 'AAMAAABkAARAAAAAAAIAAAAA' },
  ),
});

/** A value as it goes into a path or query: strings as they are, anything else as JSON. */
function textOf(v: unknown): string {
  return typeof v === 'string' ? v : (JSON.stringify(v) ?? 'undefined');
}

function keyOf(o: Record<string, unknown>, pick: number): string | undefined {
  const keys = Object.keys(o);
  return keys.length === 0 ? undefined : keys[pick % keys.length];
}

/** The request for an operation, its generated parts and how it is bent. */
function makeRequest(op: Operation, parts: Parts, x: Extras): FuzzRequest {
  // Copies: fast-check hands the same value out again (constantFrom does), so bending it in place
  // would change later requests and break the replay of a seed.
  const params = structuredClone(parts.params);
  const query = structuredClone(parts.query);
  let body = Buffer.isBuffer(parts.body) ? Buffer.from(parts.body) : structuredClone(parts.body);
  const headers: Record<string, string> = { host: '127.0.0.1', authorization: `Bearer ${TOKENS.admin}`, 'x-fuzz-canary': CANARY };
  let method: string = op.method;
  let contentType: string | undefined = op.bodyTypes[0];
  let raw: Buffer | undefined;
  let badPercent = '';
  const json = contentType === 'application/json';
  const bodyObject = json && body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;

  switch (x.mutation) {
    case 'wrong-type': {
      const target = bodyObject ?? (Object.keys(query).length > 0 ? query : params);
      const key = keyOf(target, x.pick);
      if (key) target[key] = x.wrong;
      else if (json) body = x.wrong;
      break;
    }
    case 'extra-field':
      if (bodyObject && x.pick % 2 === 0) bodyObject[`extra${x.pick % 7}`] = x.wrong;
      else query.fz_unknown = CANARY;
      break;
    case 'missing-field': {
      const key = keyOf(bodyObject ?? query, x.pick);
      if (key) delete (bodyObject ?? query)[key];
      else body = undefined;
      break;
    }
    case 'huge-string': {
      const target = bodyObject ?? (Object.keys(params).length > 0 ? params : query);
      const key = keyOf(target, x.pick) ?? 'huge';
      // Path parameters past the router's bound, query values, body fields within the body limit.
      target[key] = 'x'.repeat(target === params ? Math.min(x.huge, 4000) : target === query ? Math.min(x.huge, 6000) : x.huge);
      break;
    }
    case 'bad-percent':
      badPercent = x.badPercent;
      break;
    case 'other-method':
      method = x.method === op.method ? 'PURGE' : x.method;
      break;
    case 'head':
      method = 'HEAD';
      break;
    case 'wrong-content-type':
      contentType = x.contentType === contentType ? 'text/plain' : x.contentType;
      if (body === undefined) body = {};
      break;
    case 'malformed-body':
      // Truncated JSON, or JSON that would poison a prototype (Fastify's parser refuses both).
      raw = Buffer.from(
        [
          JSON.stringify(body ?? { a: 1 }).slice(0, -1 - (x.pick % 3)) || '{',
          '{"__proto__":{"admin":true}}',
          '{"constructor":{"prototype":{"admin":true}}}',
          '\ufeff{}',
        ][x.pick % 4]!,
      );
      contentType = 'application/json';
      break;
    case 'random-body':
      body = x.jsonValue;
      if (!json) contentType = 'application/json';
      break;
    case 'garbage-param': {
      const key = keyOf(params, x.pick);
      if (key) params[key] = x.garbage;
      else query[`fz${x.pick % 5}`] = x.garbage;
      break;
    }
    case 'no-auth':
      delete headers.authorization;
      break;
    case 'bad-token':
      headers.authorization = x.pick % 2 ? `Bearer ${CANARY}` : `Basic ${CANARY}`;
      break;
    case 'weak-token':
      headers.authorization = `Bearer ${x.pick % 2 ? TOKENS.vpnservice : TOKENS.internet}`;
      break;
    case 'no-host':
      delete headers.host;
      break;
    case 'huge-header':
      headers['x-fuzz-big'] = 'h'.repeat(17_000 + (x.pick % 4000));
      break;
    case 'upgrade':
      Object.assign(headers, x.upgrade);
      break;
    default:
      break;
  }
  if (op.operationId === 'followEvents' && x.sse) headers.accept = 'text/event-stream';

  const path = op.path.replace(/\{(\w+)\}/g, (_, p: string) => {
    const value = encodeURIComponent(textOf(params[p]));
    return badPercent && keyOf(params, x.pick) === p ? `${value.slice(0, x.pick % (value.length + 1))}${badPercent}` : value;
  });
  const q = Object.entries(query)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(textOf(v))}`);
  if (badPercent && Object.keys(params).length === 0) q.push(`fz=${badPercent}`);
  if (raw === undefined && body !== undefined) raw = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body) ?? 'null');
  if (raw !== undefined && contentType) headers['content-type'] = contentType;
  const request: FuzzRequest = {
    operationId: op.operationId,
    mutation: x.mutation,
    method,
    path: q.length > 0 ? `${path}?${q.join('&')}` : path,
    headers,
  };
  if (raw !== undefined) request.body = raw;
  return keepSafe(request);
}

function unsafeRoute(r: unknown): boolean {
  if (!r || typeof r !== 'object') return false;
  const { address, prefix } = r as { address?: unknown; prefix?: unknown };
  if (typeof address !== 'string' || isIP(address) === 0) return false;
  const parsed = ipaddr.parse(address);
  const [range, bits] = parsed.kind() === 'ipv4' ? SAFE4 : SAFE6;
  return parsed.kind() !== range.kind() || !parsed.match(range, bits) || typeof prefix !== 'number' || prefix < bits;
}

/**
 * A configuration document (or profile) held to the same rules as the single calls: its block
 * has no original interface (so it is refused), its interface a fz name and safe addresses, its
 * routes safe ones.
 */
function safeDocument(doc: any): any {
  const out = { ...doc };
  if (out.firewall && typeof out.firewall === 'object') {
    out.firewall = { ...out.firewall };
    delete out.firewall.originalInterface;
  }
  if (out.interface && typeof out.interface === 'object') {
    const i = { ...out.interface };
    if (typeof i.name === 'string' && !i.name.startsWith('fz')) i.name = `fz${i.name.slice(0, 13)}`;
    for (const key of ['localIp', 'remoteIp']) {
      if (typeof i[key] === 'string' && isIPv4(i[key]) && !ipaddr.parse(i[key]).match(SAFE4)) i[key] = '198.18.0.9';
    }
    out.interface = i;
  }
  if (Array.isArray(out.routes))
    out.routes = out.routes.map((r: unknown) => (unsafeRoute(r) ? { address: '198.18.128.0', prefix: 17 } : r));
  return out;
}

/** The safety rules of this module's doc comment, applied after every mutation. */
function keepSafe(request: FuzzRequest): FuzzRequest {
  const mediaJson = request.headers['content-type']?.startsWith('application/json');
  let body: any;
  if (request.body && mediaJson) {
    try {
      body = JSON.parse(request.body.toString());
    } catch {
      body = undefined;
    }
  }
  const rewrite = (value: unknown) => {
    request.body = Buffer.from(JSON.stringify(value));
  };
  switch (request.operationId) {
    case 'createInterface':
      if (body && typeof body.name === 'string' && !body.name.startsWith('fz')) rewrite({ ...body, name: `fz${body.name.slice(0, 13)}` });
      break;
    case 'updateInterface':
      for (const key of ['localIp', 'remoteIp']) {
        if (body && typeof body[key] === 'string' && isIPv4(body[key]) && !ipaddr.parse(body[key]).match(SAFE4)) body[key] = '198.18.0.9';
      }
      if (body) rewrite(body);
      break;
    case 'addRoutes':
    case 'removeRoutes':
      if (Array.isArray(body)) rewrite(body.map((r) => (unsafeRoute(r) ? { address: '198.18.128.0', prefix: 17 } : r)));
      else if (unsafeRoute(body)) rewrite({ address: '198.18.128.0', prefix: 17 });
      break;
    case 'removeRoute': {
      const m = /^\/routes\/([^/?]*)\/([^/?]*)/.exec(request.path);
      const address = m ? decodeURIComponentOr(m[1]!) : '';
      if (m && unsafeRoute({ address, prefix: Number(decodeURIComponentOr(m[2]!)) })) request.path = '/routes/198.18.128.0/17';
      break;
    }
    case 'putConfig':
    case 'saveProfile':
      if (body && typeof body === 'object') rewrite(safeDocument(body));
      break;
    case 'blockNetworks':
      if (body && typeof body === 'object' && 'originalInterface' in body) {
        delete body.originalInterface;
        rewrite(body);
      }
      break;
    case 'protectSocket':
      if (body && typeof body === 'object' && Number.isInteger(body.pid)) rewrite({ ...body, pid: SLEEPER_PID_PLACEHOLDER });
      break;
    case 'readPacket':
      // Never the 60 s default wait of a blocking interface.
      if (!/[?&]timeoutMs=/.test(request.path)) request.path += `${request.path.includes('?') ? '&' : '?'}timeoutMs=20`;
      // ajv coerces query strings as JavaScript does ("1e4", "0x400"): any long wait becomes 20 ms.
      request.path = request.path.replace(/([?&]timeoutMs=)([^&]*)/, (all, key: string, value: string) =>
        Number(decodeURIComponentOr(value)) > 100 ? `${key}20` : all,
      );
      break;
    case 'writePacket':
      if (request.body && request.body.length > 0 && !mediaJson) {
        const version = request.body[0]! >> 4;
        const ours = request.body.length >= 20 && request.body[16] === 198 && (request.body[17] === 18 || request.body[17] === 19);
        if ((version === 4 && !ours) || version === 6) request.body[0] = 0x15;
      }
      break;
    default:
      break;
  }
  return request;
}

function decodeURIComponentOr(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Replaced by the sleeping child's pid when sent: the only process whose fds protect may look at. */
const SLEEPER_PID_PLACEHOLDER = 2_000_000_001;

/** One operation after another, each as likely (built once: arbitraries compile their patterns). */
export const requestArbitrary: fc.Arbitrary<FuzzRequest> = fc.oneof(
  ...spec.operations.map((op) => fc.tuple(partsOf(op), extras).map(([parts, x]) => makeRequest(op, parts, x))),
);

// ---------------------------------------------------------------------------------------------
// Sending.

export interface Sent {
  answer?: Answer;
  /** The answer was an event stream, closed by the fuzzer once its headers came. */
  streamed: boolean;
  error?: string;
  ms: number;
}

export function send(port: number, request: FuzzRequest, active: string, sleeperPid: number): Promise<Sent> {
  const started = performance.now();
  const path = request.path.replaceAll(ACTIVE, encodeURIComponent(active));
  let body = request.body;
  if (body && request.operationId === 'protectSocket')
    body = Buffer.from(body.toString().replace(String(SLEEPER_PID_PLACEHOLDER), String(sleeperPid)));
  if (body?.includes(ACTIVE)) body = Buffer.from(body.toString().replaceAll(ACTIVE, active));
  const headers: Record<string, string> = { ...request.headers, connection: request.headers.upgrade ? 'Upgrade' : 'close' };
  if (body) headers['content-length'] = String(body.length);
  return new Promise<Sent>((resolve) => {
    let settled = false;
    const finish = (s: Omit<Sent, 'ms'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...s, ms: performance.now() - started });
    };
    const req = http.request({ host: '127.0.0.1', port, method: request.method, path, headers, setHost: false, agent: false });
    const timer = setTimeout(() => {
      finish({ streamed: false, error: `no answer within ${ANSWER_TIMEOUT_MS} ms` });
      req.destroy();
    }, ANSWER_TIMEOUT_MS);
    const collect = (res: http.IncomingMessage, source: NodeJS.ReadableStream, head?: Buffer) => {
      const answer = (text: string): Answer => ({ status: res.statusCode ?? 0, headers: res.headers, text });
      if (String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
        finish({ answer: answer(''), streamed: true });
        req.destroy();
        return;
      }
      const chunks: Buffer[] = head && head.length > 0 ? [head] : [];
      source.on('data', (c: Buffer) => chunks.push(c));
      source.on('end', () => finish({ answer: answer(Buffer.concat(chunks).toString('utf8')), streamed: false }));
      // A reset after the answer began (the daemon closes a connection it refused) is no failure.
      source.on('error', () => finish({ answer: answer(Buffer.concat(chunks).toString('utf8')), streamed: false }));
      source.on('close', () => finish({ answer: answer(Buffer.concat(chunks).toString('utf8')), streamed: false }));
    };
    req.on('response', (res) => collect(res, res));
    // A WebSocket that opened: its 101 is the answer; the fuzzer closes it at once.
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      finish({ answer: { status: res.statusCode ?? 0, headers: res.headers, text: '' }, streamed: true });
    });
    // Node's client hands the answer to CONNECT over as a tunnel whatever its status.
    req.on('connect', (res, socket, head) => collect(res, socket, head));
    req.on('error', (e: NodeJS.ErrnoException) => finish({ streamed: false, error: `${e.code ?? ''} ${e.message}` }));
    req.end(body);
  });
}

// ---------------------------------------------------------------------------------------------
// Judging.

const templates = [...new Set(spec.operations.map((o) => o.path))].map((path) => ({
  path,
  params: (path.match(/\{/g) ?? []).length,
  regex: new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{\w+\}/g, '[^/]*')}$`),
  methods: spec.operations.filter((o) => o.path === path).map((o) => o.method as string),
}));

/**
 * What the router makes of a method and path, from the spec alone: an operation, a 405 or
 * nothing. A parameter may be empty (find-my-way matches `/dns/` as `/dns/{server}`), and a
 * static segment wins over a parameter.
 */
export function routeOf(method: string, rawPath: string): { operationId?: string; allow?: string[] } {
  const path = rawPath.split('?')[0]!;
  const matching = templates.filter((t) => t.regex.test(path)).sort((a, b) => a.params - b.params);
  if (matching.length === 0) return {};
  const wanted = method === 'HEAD' ? 'GET' : method;
  const hit = matching.find((t) => t.methods.includes(wanted));
  if (hit) return { operationId: spec.operations.find((o) => o.path === hit.path && o.method === wanted)!.operationId };
  const allow = new Set(matching.flatMap((t) => t.methods));
  if (allow.has('GET')) allow.add('HEAD');
  return { allow: [...allow].sort(), operationId: spec.operations.find((o) => o.path === matching[0]!.path)!.operationId };
}

/** A 5xx that openapi.yaml documents as an outcome of the kernel or the host, not of a bug. */
function documentedFiveHundred(operationId: string | undefined, answer: Answer, head: boolean): boolean {
  // HEAD has no body to read an errno from: its status is the GET's, which the contract check judged.
  if (head) return answer.status === 501 || answer.status === 500 || (answer.status === 504 && operationId === 'readPacket');
  let message = '';
  try {
    message = String(JSON.parse(answer.text).message ?? '');
  } catch {
    return false;
  }
  if (answer.status === 500) return /\bE[A-Z0-9]{2,}\b/.test(message) && !/internal error|does not match openapi/.test(message);
  if (answer.status === 501) return true;
  return answer.status === 504 && operationId === 'readPacket';
}

export interface Verdict {
  /** The operation the answer was judged by, or what stood for it. */
  label: string;
  problems: string[];
  fiveHundred?: 'documented' | 'undocumented';
}

export function judge(request: FuzzRequest, sent: Sent): Verdict {
  const route = request.method === 'CONNECT' ? {} : routeOf(request.method, request.path);
  const label =
    request.method === 'CONNECT' ? '(CONNECT)' : route.allow ? `${route.operationId} (405)` : (route.operationId ?? '(no such path)');
  if (!sent.answer) return { label, problems: [`no answer: ${sent.error}`] };
  const answer = sent.answer;
  const problems: string[] = [];
  const seen = `${JSON.stringify(answer.headers)}\n${answer.text}`;
  if (seen.includes(CANARY)) problems.push('the answer repeats a header or query value');
  if (request.method === 'CONNECT') {
    if (answer.status !== 405) problems.push(`CONNECT answered ${answer.status}`);
    problems.push(...errorBodyProblems(answer));
  } else if (!METHODS.includes(request.method) || answer.status === 400 || answer.status === 408) {
    // Refused before routing (parser, Host, percent-encoding) or by the route: 400 is declared everywhere.
    if (route.operationId) problems.push(...contractProblems(route.operationId, answer, { head: request.method === 'HEAD' }));
    else if (answer.status >= 400) problems.push(...errorBodyProblems(answer));
  } else if (route.allow) {
    if (answer.status !== 405) problems.push(`${request.method} on ${label} answered ${answer.status}, not 405`);
    else if (answer.headers.allow !== route.allow.join(', '))
      problems.push(`Allow is "${answer.headers.allow}", not "${route.allow.join(', ')}"`);
    problems.push(...contractProblems(route.operationId!, answer, { head: request.method === 'HEAD' }));
  } else if (route.operationId) {
    problems.push(...contractProblems(route.operationId, answer, { head: request.method === 'HEAD' }));
    if (answer.status === 401 && !answer.headers['www-authenticate']) problems.push('401 without WWW-Authenticate');
  } else {
    if (![404, 414].includes(answer.status)) problems.push(`a path the spec lacks answered ${answer.status}`);
    if (request.method !== 'HEAD') problems.push(...errorBodyProblems(answer));
  }
  const verdict: Verdict = { label, problems };
  if (answer.status >= 500)
    verdict.fiveHundred = documentedFiveHundred(route.operationId, answer, request.method === 'HEAD') ? 'documented' : 'undocumented';
  if (verdict.fiveHundred === 'undocumented') problems.push(`an undocumented ${answer.status}: ${answer.text.slice(0, 200)}`);
  return verdict;
}

// ---------------------------------------------------------------------------------------------
// Running.

export interface FuzzOptions {
  port: number;
  requests: number;
  seed: number;
  sleeperPid: number;
  /** Makes sure a VPN interface is up (the fuzz may remove or replace it) and answers its name. */
  restore: () => Promise<string>;
  /** Requests between two restores. */
  restoreEvery?: number;
  /** Gets every request and its answer, e.g. to write a trace of a replayed run. */
  trace?: (index: number, request: FuzzRequest, sent: Sent) => void;
}

export interface Violation {
  index: number;
  request: FuzzRequest;
  status: number | undefined;
  problems: string[];
}

export interface FuzzSummary {
  seed: number;
  requests: number;
  durationMs: number;
  /** label → status → count */
  table: Map<string, Map<number | string, number>>;
  violations: Violation[];
  fiveHundreds: { documented: number; undocumented: number };
  slowestMs: number;
}

/** Chunks of requests come from consecutive seeds, so a long run holds one chunk at a time. */
const CHUNK = 250;

export async function runFuzz(o: FuzzOptions): Promise<FuzzSummary> {
  const started = performance.now();
  const summary: FuzzSummary = {
    seed: o.seed,
    requests: 0,
    durationMs: 0,
    table: new Map(),
    violations: [],
    fiveHundreds: { documented: 0, undocumented: 0 },
    slowestMs: 0,
  };
  let active = await o.restore();
  for (let first = 0; first < o.requests; first += CHUNK) {
    const batch = fc.sample(requestArbitrary, { seed: o.seed + first / CHUNK, numRuns: Math.min(CHUNK, o.requests - first) });
    for (const [i, request] of batch.entries()) {
      const index = first + i;
      if (index > 0 && index % (o.restoreEvery ?? 25) === 0) active = await o.restore();
      const sent = await send(o.port, request, active, o.sleeperPid);
      const verdict = judge(request, sent);
      o.trace?.(index, request, sent);
      // Requests made ahead of time name the active interface as ACTIVE; a new one takes its place.
      if (request.operationId === 'createInterface' && sent.answer?.status === 201) active = JSON.parse(sent.answer.text).name;
      summary.requests++;
      summary.slowestMs = Math.max(summary.slowestMs, sent.ms);
      const row = summary.table.get(verdict.label) ?? new Map<number | string, number>();
      const status = sent.answer?.status ?? 'none';
      row.set(status, (row.get(status) ?? 0) + 1);
      summary.table.set(verdict.label, row);
      if (verdict.fiveHundred) summary.fiveHundreds[verdict.fiveHundred]++;
      if (verdict.problems.length > 0) summary.violations.push({ index, request, status: sent.answer?.status, problems: verdict.problems });
    }
  }
  summary.durationMs = performance.now() - started;
  return summary;
}

/** The summary as a table: requests by operation and status, then the totals. */
export function formatSummary(s: FuzzSummary): string {
  const statuses = [...new Set([...s.table.values()].flatMap((row) => [...row.keys()]))].sort((a, b) => String(a).localeCompare(String(b)));
  const labels = [...s.table.keys()].sort();
  const width = Math.max(...labels.map((l) => l.length), 9);
  const cell = (v: unknown) => String(v).padStart(5);
  const lines = [`${'operation'.padEnd(width)} ${statuses.map(cell).join(' ')}   total`];
  for (const label of labels) {
    const row = s.table.get(label)!;
    const total = [...row.values()].reduce((a, b) => a + b, 0);
    lines.push(`${label.padEnd(width)} ${statuses.map((st) => cell(row.get(st) ?? '.')).join(' ')} ${String(total).padStart(7)}`);
  }
  const seconds = s.durationMs / 1000;
  lines.push(
    '',
    `seed ${s.seed}: ${s.requests} requests in ${seconds.toFixed(1)} s (${Math.round(s.requests / seconds)}/s, slowest ${Math.round(s.slowestMs)} ms)`,
    `5xx: ${s.fiveHundreds.documented} documented kernel outcomes, ${s.fiveHundreds.undocumented} undocumented`,
    `violations: ${s.violations.length}`,
  );
  for (const v of s.violations.slice(0, 10)) {
    lines.push(
      `  #${v.index} ${v.request.method} ${v.request.path.slice(0, 120)} (${v.request.operationId}, ${v.request.mutation}) → ${v.status}: ${v.problems.join('; ')}`,
    );
  }
  return lines.join('\n');
}
