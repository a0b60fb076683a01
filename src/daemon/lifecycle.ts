/**
 * The daemon's life: configuration, what is read before the house is built (TLS files, an admin
 * token from a file), the house itself (compose.ts), crash recovery and the journal, listening,
 * token reloads, and the bounded graceful shutdown on SIGTERM/SIGINT.
 */
import { lstatSync, readFileSync, type Stats, unlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { type Config, loadConfig } from '../config/config.js';
import { type EventData, withReason } from '../engine/events.js';
import type { Vpnsvc } from '../engine/vpnsvc.js';
import {
  isLiveDaemon,
  policyRoutingReconciler,
  type Reconciler,
  RuntimeJournal,
  readJournal,
  reconcile,
  staleTunReconciler,
} from '../recovery/journal.js';
import { iproute2Links } from '../system/links.js';
import { loadNative } from '../system/native.js';
import { flushVpnTable, PolicyRules } from '../system/policy-rules.js';
import { installAdminToken } from '../tokens/admin-token.js';
import { TokenStore } from '../tokens/token-store.js';
import { watchTokens } from '../tokens/token-watch.js';
import { composeDaemon, type Daemon } from './compose.js';
import { createLogger } from './logging.js';
import { prepareStateDir, UntrustedStateDir } from './state-dir.js';

/** Leaves the unix socket mode 0660 as bind() creates it: owner and group, nobody else. */
const SOCKET_UMASK = 0o117;

/**
 * Runs the daemon until a signal stops it. Exits 2 on bad configuration or a state directory
 * others could write, 1 when the native shim is missing or another daemon holds the state
 * directory.
 */
export async function runDaemon(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    process.stderr.write(`vpnsvc: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const log = createLogger(config.logLevel);
  try {
    prepareStateDir(config.stateDir);
  } catch (err) {
    log.fatal(err instanceof UntrustedStateDir ? { problems: err.problems } : {}, (err as Error).message);
    process.exit(2);
  }
  try {
    loadNative();
  } catch (err) {
    log.fatal((err as Error).message);
    process.exit(1);
  }

  const { https } = prepareDaemon(config, log);
  const { store, createdAdminToken } = TokenStore.openStateDir(config.stateDir);
  if (createdAdminToken) log.info({ path: createdAdminToken }, 'first start: generated an admin token (vpnservice + internet)');
  let daemon: Daemon;
  try {
    daemon = await composeDaemon({ env, stateDir: config.stateDir, tokens: store, log, ...(https && { https }) });
  } catch (err) {
    log.fatal(`cannot start the DNS backend: ${(err as Error).message}`);
    process.exit(2);
  }
  const features = await daemon.app.host.features();
  if (!features.supported) log.warn({ missing: features.missing }, 'the VPN feature is not supported on this host');

  const running = await startDaemon(config, daemon.vpnsvc, store, log);
  await startAlwaysOn(daemon.vpnsvc, log);
  const { app } = daemon;
  if (config.listen.kind === 'unix') {
    try {
      await listenUnix(app, config.listen.path, log);
    } catch (err) {
      log.fatal((err as Error).message);
      process.exit(2);
    }
  } else {
    await app.listen({ host: config.listen.host, port: config.listen.port });
  }
  listenFdChannel(daemon, log);
  handleShutdown(daemon, running, config, log);
}

/**
 * The socket is made with its final mode by bind() itself, under a umask set for the bind alone:
 * it never appears with a wider one, and nothing is chmod-ed by path (a path can be swapped for
 * a symbolic link between two calls). What a predecessor left there, a socket or a link, is
 * removed first (unlink never follows a link); anything else stops the start.
 */
export async function listenUnix(app: FastifyInstance, path: string, log: Pick<Logger, 'warn'>): Promise<void> {
  let st: Stats | undefined;
  try {
    st = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (st && !st.isSocket() && !st.isSymbolicLink()) {
    throw new Error(`VPNSVC_LISTEN: ${path} exists and is not a socket: move it away or listen elsewhere`);
  }
  if (st?.isSymbolicLink()) log.warn({ path }, 'a symbolic link stood at the socket path: removed, its target left alone');
  if (st) unlinkSync(path);
  // Plugins load first, so the umask covers the bind and little else.
  await app.ready();
  const umask = process.umask(SOCKET_UMASK);
  try {
    await app.listen({ path });
  } finally {
    process.umask(umask);
  }
}

/** The fd channel beside the API; exits 2 when its path cannot be used. */
function listenFdChannel({ fdChannel }: Daemon, log: Logger): void {
  if (!fdChannel) return;
  try {
    fdChannel.listen();
    log.info({ path: fdChannel.path }, 'fd channel listening');
  } catch (err) {
    log.fatal((err as Error).message);
    process.exit(2);
  }
}

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
export async function startDaemon(
  config: Config,
  vpnsvc: Vpnsvc,
  store: TokenStore,
  log: Logger,
  reconcilers: Reconciler[] = [],
): Promise<RunningDaemon> {
  const bus = vpnsvc.events;
  bus.onListenerError = (err) => log.error({ err }, 'an event listener failed');
  const previous = readJournal(config.stateDir);
  if (previous && isLiveDaemon(previous.pid)) {
    log.fatal({ pid: previous.pid, stateDir: config.stateDir }, 'another vpnsvc daemon is running with this state directory');
    process.exit(1);
  }
  await withReason({ source: 'recovery' }, async () => {
    bus.emit('daemon.started', { data: { pid: process.pid, crashedPredecessor: previous !== undefined } });
    if (!previous) return;
    const rules = new PolicyRules();
    const policy = policyRoutingReconciler({ flushRules: () => rules.flush(), flushTable: () => flushVpnTable() });
    const reports = await reconcile(previous, [staleTunReconciler(iproute2Links), policy, ...reconcilers]);
    for (const r of reports) {
      log.warn({ reconciler: r.reconciler, found: r.found, did: r.did, predecessor: previous.pid }, `recovery: ${r.reconciler}`);
    }
    bus.emit('daemon.recovered', { data: { predecessor: { pid: previous.pid, startedAt: previous.startedAt }, reports } });
  });
  const journal = new RuntimeJournal(config.stateDir, bus);
  journal.start();
  return { journal, unwatchTokens: watchTokens(config.stateDir, store, log, config.adminTokenFile) };
}

/**
 * The always-on profile, after recovery (so its plan sees what the kernel still holds) and
 * before the API listens. A failure does not stop the daemon: with lockdown the block stays.
 */
export async function startAlwaysOn(vpnsvc: Vpnsvc, log: Pick<Logger, 'info' | 'error'>): Promise<void> {
  const outcome = await vpnsvc.startAlwaysOn();
  if (!outcome) return;
  if (outcome.error === undefined) log.info({ profile: outcome.profile, lockdown: outcome.lockdown }, 'always-on profile applied');
  else {
    const held = outcome.lockdown ? ': the lockdown block stays in place' : '';
    log.error({ profile: outcome.profile, lockdown: outcome.lockdown, error: outcome.error }, `always-on profile failed${held}`);
  }
}

/**
 * SIGTERM/SIGINT: followers are told (daemon.stopping), new requests get 503, requests in flight
 * get half the bound, then the interface is de-initialized (the domains' hooks close streams and
 * restore DNS; the firewall block stays, fail-closed). Past the bound the daemon exits 1 anyway.
 */
export function handleShutdown({ app, vpnsvc, fdChannel }: Daemon, running: RunningDaemon, config: Config, log: Logger): void {
  let stopping = false;
  const stop = (signal: EventData<'daemon.stopping'>['signal']): void => {
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
      vpnsvc.events.emit('daemon.stopping', { data: { signal } });
      running.unwatchTokens();
      const late = await Promise.race([app.close().then(() => false), sleep(config.shutdownTimeoutMs / 2).then(() => true)]);
      if (late) {
        log.warn('requests still running at half the shutdown bound: closing their connections');
        app.server.closeAllConnections();
      }
      fdChannel?.close();
      await vpnsvc.close();
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
