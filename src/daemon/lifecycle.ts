/**
 * The daemon's operational life around the engine: what is read before the app is built (TLS
 * files, an admin token from a file), crash recovery and the journal at start, token reloads,
 * and the bounded graceful shutdown on SIGTERM/SIGINT. server.ts calls these in order.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { installAdminToken } from '../tokens/admin-token.js';
import type { Config } from '../config/config.js';
import type { VpnEngine } from '../engine/engine.js';
import { withReason } from '../engine/events.js';
import { RuntimeJournal, isLiveDaemon, readJournal, reconcile, staleTunReconciler, type Reconciler } from '../recovery/journal.js';
import { iproute2Links } from '../system/links.js';
import { watchTokens } from '../tokens/token-watch.js';
import type { TokenStore } from '../tokens/token-store.js';

/** Before the token store opens: TLS material and an admin token given from outside. Exits 2 on a bad file. */
export function prepareDaemon(config: Config, log: Logger): { https?: { cert: Buffer; key: Buffer } } {
  try {
    const https = config.tls ? { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) } : undefined;
    if (config.adminTokenFile) {
      const what = installAdminToken(config.stateDir, config.adminTokenFile);
      log.info({ path: config.adminTokenFile, admin: what }, 'admin token from VPNSVC_ADMIN_TOKEN_FILE');
    }
    return https ? { https } : {};
  } catch (err) {
    log.fatal((err as Error).message);
    process.exit(2);
  }
}

export interface RunningDaemon {
  journal: RuntimeJournal;
  unwatchTokens: () => void;
}

/**
 * Crash recovery, then the journal: a journal left behind means the predecessor did not stop
 * cleanly, and the reconcilers look at what it left. Exits 1 when another live daemon holds
 * the state directory.
 */
export async function startDaemon(config: Config, engine: VpnEngine, store: TokenStore, log: Logger, reconcilers: Reconciler[] = []): Promise<RunningDaemon> {
  engine.events.onListenerError = (err) => log.error({ err }, 'an event listener failed');
  const previous = readJournal(config.stateDir);
  if (previous && isLiveDaemon(previous.pid)) {
    log.fatal({ pid: previous.pid, stateDir: config.stateDir }, 'another vpnsvc daemon is running with this state directory');
    process.exit(1);
  }
  await withReason({ source: 'recovery' }, async () => {
    engine.events.emit('daemon.started', { data: { pid: process.pid, crashedPredecessor: previous !== undefined } });
    if (!previous) return;
    const reports = await reconcile(previous, [staleTunReconciler(iproute2Links), ...reconcilers]);
    for (const r of reports) {
      log.warn({ reconciler: r.reconciler, found: r.found, did: r.did, predecessor: previous.pid }, `recovery: ${r.reconciler}`);
    }
    engine.events.emit('daemon.recovered', { data: { predecessor: { pid: previous.pid, startedAt: previous.startedAt }, reports } });
  });
  const journal = new RuntimeJournal(config.stateDir, engine.events);
  journal.start();
  return { journal, unwatchTokens: watchTokens(config.stateDir, store, log, config.adminTokenFile) };
}

/**
 * SIGTERM/SIGINT: followers are told (daemon.stopping), new requests get 503, requests in flight
 * get half the bound, then the interface is de-initialized (the domains' hooks close streams and
 * restore DNS; the firewall block stays, fail-closed). Past the bound the daemon exits 1 anyway.
 */
export function handleShutdown(app: FastifyInstance, engine: VpnEngine, running: RunningDaemon, config: Config, log: Logger): void {
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
      running.unwatchTokens();
      const late = await Promise.race([app.close().then(() => false), sleep(config.shutdownTimeoutMs / 2).then(() => true)]);
      if (late) {
        log.warn('requests still running at half the shutdown bound: closing their connections');
        app.server.closeAllConnections();
      }
      await engine.close();
      running.journal.close();
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
