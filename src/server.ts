#!/usr/bin/env node
/**
 * The daemon's entry: reads the environment, loads the native shim, reconciles what a crashed
 * predecessor left, listens (HTTP or HTTPS), and shuts down gracefully within a bound.
 * Everything else is built by buildApp and the engine.
 */
import { chmodSync, existsSync, lstatSync, readFileSync, unlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { installAdminToken } from './admin-token.js';
import { loadConfig, type Config } from './config.js';
import { VpnEngine } from './engine/engine.js';
import { withReason } from './engine/events.js';
import { RuntimeJournal, isLiveDaemon, readJournal, reconcile, staleTunReconciler } from './engine/recovery.js';
import { describeFeatures, featureSupport } from './features.js';
import { buildApp } from './http/app.js';
import { loadSpec } from './http/spec.js';
import { createLogger } from './logging.js';
import { probeHost } from './system/host.js';
import { iproute2Links } from './system/links.js';
import { loadNative } from './system/native.js';
import { TokenStore } from './tokens.js';
import { watchTokens } from './token-watch.js';

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
  let https: { key: Buffer; cert: Buffer } | undefined;
  try {
    if (config.tls) https = { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) };
    if (config.adminTokenFile) {
      const what = installAdminToken(config.stateDir, config.adminTokenFile);
      log.info({ path: config.adminTokenFile, admin: what }, 'admin token from VPNSVC_ADMIN_TOKEN_FILE');
    }
  } catch (err) {
    log.fatal((err as Error).message);
    process.exit(2);
  }

  const probe = await probeHost();
  const engine = new VpnEngine(featureSupport(probe), log);
  engine.events.onListenerError = (err) => log.error({ err }, 'an event listener failed');
  const { store, createdAdminToken } = TokenStore.openStateDir(config.stateDir);
  if (createdAdminToken) log.info({ path: createdAdminToken }, 'first start: generated an admin token (vpnservice + internet)');
  const features = describeFeatures(probe, null);
  if (!features.supported) log.warn({ missing: features.missing }, 'the VPN feature is not supported on this host');

  // Crash recovery: a journal left behind means the predecessor did not stop cleanly.
  const previous = readJournal(config.stateDir);
  if (previous && isLiveDaemon(previous.pid)) {
    log.fatal({ pid: previous.pid, stateDir: config.stateDir }, 'another vpnsvc daemon is running with this state directory');
    process.exit(1);
  }
  await withReason({ source: 'recovery' }, async () => {
    engine.events.emit('daemon.started', { data: { pid: process.pid, crashedPredecessor: previous !== undefined } });
    if (!previous) return;
    const reports = await reconcile(previous, [
      staleTunReconciler(iproute2Links),
      // --- issue 3: routes & dns (reconcilers, e.g. restore a resolv.conf backup) ---
      // --- issue 4: firewall & protect (reconcilers, e.g. report the block kept in force) ---
      // --- issue 5: data plane (reconcilers) ---
    ]);
    for (const r of reports) log.warn({ reconciler: r.reconciler, found: r.found, did: r.did, predecessor: previous.pid }, `recovery: ${r.reconciler}`);
    engine.events.emit('daemon.recovered', { data: { predecessor: { pid: previous.pid, startedAt: previous.startedAt }, reports } });
  });
  const journal = new RuntimeJournal(config.stateDir, engine.events);
  journal.start();
  const unwatchTokens = watchTokens(config.stateDir, store, log, config.adminTokenFile);

  const app = await buildApp({
    context: { engine, features: async () => describeFeatures(probe, null), spec: loadSpec(), startedAt: Date.now() },
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

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    const t0 = Date.now();
    log.info({ signal, boundMs: config.shutdownTimeoutMs }, 'shutting down');
    const force = setTimeout(() => {
      log.error({ elapsedMs: Date.now() - t0 }, 'shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    force.unref();
    void withReason({ source: 'daemon', detail: signal }, async () => {
      engine.events.emit('daemon.stopping', { data: { signal } });
      unwatchTokens();
      // New requests get 503; followers are told and closed; in-flight requests may finish, but
      // only for half the bound: the deinit below must still fit.
      const closed = app.close();
      const late = await Promise.race([closed.then(() => false), sleep(config.shutdownTimeoutMs / 2).then(() => true)]);
      if (late) {
        log.warn('requests still running at half the shutdown bound: closing their connections');
        app.server.closeAllConnections();
      }
      // Deinit: the domains' hooks close streams and restore DNS; the firewall block stays
      // (fail-closed, lifted only by DELETE /firewall).
      await engine.close();
      journal.close();
      log.info({ elapsedMs: Date.now() - t0 }, 'shutdown complete');
    })
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        log.error({ err }, 'error during shutdown');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

void main();
