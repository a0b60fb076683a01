/**
 * The architecture as rules, checked by `npm test` (npm run lint:deps): the layers
 * HTTP → engine → system, the data plane beside the engine, the bridge and the CLI as programs
 * of their own, one FFI module, and no import cycle.
 */
module.exports = {
  forbidden: [
    { name: 'no-cycles', severity: 'error', comment: 'The import graph has no cycle.', from: {}, to: { circular: true } },
    {
      name: 'system-is-the-bottom',
      severity: 'error',
      comment: 'The system layer knows nothing above it.',
      from: { path: '^src/system/' },
      to: { path: '^src/(engine|dataplane|http|daemon|cli|bridge|recovery|tokens)/' },
    },
    {
      name: 'engine-knows-no-http',
      severity: 'error',
      comment: 'The engine and the data plane have no HTTP in them and do not know who calls them.',
      from: { path: '^src/(engine|dataplane)/' },
      to: { path: '^src/(http|daemon|cli|bridge)/|^node_modules/(fastify|@fastify)/' },
    },
    {
      name: 'one-websocket-in-the-data-plane',
      severity: 'error',
      comment:
        'The engine and the data plane see a WebSocket as a StreamWebSocket; only the stream worker builds one, on the connection handed to its thread.',
      from: { path: '^src/(engine|dataplane)/', pathNot: '^src/dataplane/stream-worker\\.ts$' },
      to: { path: '^node_modules/ws/' },
    },
    {
      name: 'dataplane-knows-no-engine',
      severity: 'error',
      comment: 'The data plane is a wing of its own behind a TunHandle: the bridge runs it without the engine.',
      from: { path: '^src/dataplane/' },
      to: { path: '^src/engine/' },
    },
    {
      name: 'http-never-reaches-the-system',
      severity: 'error',
      comment: 'HTTP drives the engine facade, never the system layer.',
      from: { path: '^src/http/' },
      to: { path: '^src/system/' },
    },
    {
      name: 'http-builds-no-engine',
      severity: 'error',
      comment: 'No engine object is built under src/http: it gets the facade from the composition root (types only, plus the event reason and the framing names).',
      from: { path: '^src/http/' },
      to: { path: '^src/(engine|dataplane)/', pathNot: '^src/(engine/events|dataplane/framing)\\.ts$', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'koffi-in-one-module',
      severity: 'error',
      comment: 'Only the native shim module loads the FFI.',
      from: { pathNot: '^src/system/native\\.ts$' },
      to: { path: '^node_modules/koffi/' },
    },
    {
      name: 'bridge-without-engine',
      severity: 'error',
      comment: 'The bridge is a program of its own: the data plane and the system layer, not the engine or the daemon.',
      from: { path: '^src/bridge/' },
      to: { path: '^src/(engine|http|daemon|recovery|tokens)/' },
    },
    {
      name: 'cli-is-a-client',
      severity: 'error',
      comment: 'The CLI speaks HTTP to the daemon; only the bridge (loaded on use) and the token files are local.',
      from: { path: '^src/cli/' },
      to: { path: '^src/(engine|http|daemon|system|dataplane|recovery)/' },
    },
    {
      name: 'one-composition-root',
      severity: 'error',
      comment: 'Only the daemon wires the house; nothing below imports it.',
      from: { path: '^src/', pathNot: '^src/(daemon/|server\\.ts$)' },
      to: { path: '^src/daemon/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'], exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
