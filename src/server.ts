#!/usr/bin/env node
/**
 * The daemon's entry: reads the environment, loads the native shim, reconciles what a crashed
 * predecessor left, listens (HTTP or HTTPS), and shuts down gracefully within a bound
 * (src/daemon-ops.ts). Everything else is built by buildApp and the engine.
 */
import { chmodSync, existsSync, lstatSync, unlinkSync } from 'node:fs';
import { loadConfig, type Config } from './config/config.js';
import { VpnEngine } from './engine/engine.js';
import { describeFeatures, featureSupport } from './engine/features.js';
import { buildApp } from './http/app.js';
import { loadSpec } from './http/spec.js';
import { startRoutesAndDns, type RoutesAndDns } from './routes-dns-setup.js';
import { probeHost } from './system/host.js';
import { loadNative } from './system/native.js';
import { TokenStore } from './tokens/token-store.js';
// --- issue 6: operations ---
import { handleShutdown, prepareDaemon, startDaemon } from './daemon/lifecycle.js';
import { createLogger } from './daemon/logging.js';

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    process.stderr.write(`vpnsvc: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const log = createLogger(config.logLevel);
  try {
    loadNative();
  } catch (err) {
    log.fatal((err as Error).message);
    process.exit(1);
  }

  const { https } = prepareDaemon(config, log);
  const probe = await probeHost();
  const engine = new VpnEngine(featureSupport(probe), log);
  const { store, createdAdminToken } = TokenStore.openStateDir(config.stateDir);
  if (createdAdminToken) log.info({ path: createdAdminToken }, 'first start: generated an admin token (vpnservice + internet)');
  let routesAndDns: RoutesAndDns;
  try {
    routesAndDns = await startRoutesAndDns(engine, { env: process.env, stateDir: config.stateDir });
  } catch (err) {
    log.fatal(`cannot start the DNS backend: ${(err as Error).message}`);
    process.exit(2);
  }
  const dnsBackend = routesAndDns.dns.backend.name;
  const features = describeFeatures(probe, dnsBackend);
  if (!features.supported) log.warn({ missing: features.missing }, 'the VPN feature is not supported on this host');

  const running = await startDaemon(config, engine, store, log, [
    // --- issue 3/4/5: reconcilers for what a crashed daemon left (see src/engine/recovery.ts) ---
  ]);

  const app = await buildApp({
    context: {
      engine,
      features: async () => describeFeatures(probe, dnsBackend),
      spec: loadSpec(),
      startedAt: Date.now(),
      ...routesAndDns,
    },
    tokens: store,
    loggerInstance: log,
    ...(https && { https }),
  });

  if (config.listen.kind === 'unix') {
    const path = config.listen.path;
    // A socket file left by a crashed predecessor would make listen fail with EADDRINUSE.
    if (existsSync(path) && lstatSync(path).isSocket()) unlinkSync(path);
    await app.listen({ path });
    chmodSync(path, 0o660);
  } else {
    await app.listen({ host: config.listen.host, port: config.listen.port });
  }

  handleShutdown(app, engine, running, config, log);
}

void main();
