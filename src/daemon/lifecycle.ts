/**
 * The daemon's life: configuration, what is read before the house is built (TLS files, an admin
 * token from a file), the house itself (compose.ts), crash recovery and the journal, listening,
 * token reloads, and the bounded graceful shutdown on SIGTERM/SIGINT.
 */
import { existsSync, lstatSync, readFileSync, type Stats, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { type Config, loadConfig } from '../config/config.js';
import { type EventData, withReason } from '../engine/events.js';
import type { Vpnsvc } from '../engine/vpnsvc.js';
import {
  firewallReconciler,
  isLiveDaemon,
  policyRoutingReconciler,
  type Reconciler,
  RuntimeJournal,
  readJournal,
  reconcile,
  resolverReconciler,
  routesReconciler,
  staleTunReconciler,
} from '../recovery/journal.js';
import { iproute2Links } from '../system/links.js';
import { loadNative, sdNotify } from '../system/native.js';
import { flushVpnTable, PolicyRules } from '../system/policy-rules.js';
import { BACKUP_FILE } from '../system/resolver/file-backend.js';
import { SplitRules } from '../system/split-rules.js';
import { installAdminToken } from '../tokens/admin-token.js';
import { TokenStore } from '../tokens/token-store.js';
import { watchTokens } from '../tokens/token-watch.js';
import { composeDaemon, type Daemon } from './compose.js';
import { createLogger } from './logging.js';
import { DAEMON_EXIT, listenFailure, probeListen, StartFailure, stateDirFailure } from './start-failure.js';
import { prepareStateDir, UntrustedStateDir } from './state-dir.js';

/** Leaves the unix socket mode 0660 as bind() creates it: owner and group, nobody else. */
const SOCKET_UMASK = 0o117;

/**
 * Runs the daemon until a signal stops it. A start that fails prints one line (cause and fix)
 * and exits with a code of DAEMON_EXIT (start-failure.ts).
 */
export async function runDaemon(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (err) {
    return fail(new StartFailure(DAEMON_EXIT.config, (err as Error).message));
  }
  const log = createLogger(config.logLevel);
  try {
    prepareStateDir(config.stateDir);
  } catch (err) {
    return fail(
      err instanceof UntrustedStateDir ? new StartFailure(DAEMON_EXIT.config, err.message) : stateDirFailure(err, config.stateDir),
    );
  }
  try {
    loadNative();
  } catch (err) {
    return fail(new StartFailure(DAEMON_EXIT.failed, (err as Error).message));
  }
  try {
    await probeListen(config.listen);
  } catch (err) {
    return fail(err as StartFailure);
  }

  const { https } = prepareDaemon(config, log);
  let opened: ReturnType<typeof TokenStore.openStateDir>;
  try {
    opened = TokenStore.openStateDir(config.stateDir);
  } catch (err) {
    return fail(stateDirFailure(err, config.stateDir));
  }
  const { store, createdAdminToken } = opened;
  if (createdAdminToken) log.info({ path: createdAdminToken }, 'first start: generated an admin token (vpnservice + internet)');
  // The file backend's recovery (in composeDaemon) consumes this backup: seen now, reported below.
  const resolverBackup = existsSync(join(config.stateDir, BACKUP_FILE))
    ? `a resolv.conf backup of the crashed run (${BACKUP_FILE})`
    : undefined;
  let daemon: Daemon;
  try {
    daemon = await composeDaemon({ env, stateDir: config.stateDir, tokens: store, log, ...(https && { https }) });
  } catch (err) {
    return fail(new StartFailure(DAEMON_EXIT.config, `cannot start the DNS backend: ${(err as Error).message}`));
  }
  const features = await daemon.app.host.features();
  if (!features.supported) log.warn({ missing: features.missing }, 'the VPN feature is not supported on this host');

  const running = await startDaemon(config, daemon.vpnsvc, store, log, [
    routesReconciler(iproute2Links),
    resolverReconciler(features.dnsBackend ?? 'no', resolverBackup),
    firewallReconciler(() => daemon.vpnsvc.firewallState()),
  ]);
  await startAlwaysOn(daemon.vpnsvc, log);
  const { app } = daemon;
  try {
    if (config.listen.kind === 'unix') await listenUnix(app, config.listen.path, log);
    else await app.listen({ host: config.listen.host, port: config.listen.port });
  } catch (err) {
    running.journal.close();
    const failure = (err as NodeJS.ErrnoException).code
      ? listenFailure(err, config.listen)
      : new StartFailure(DAEMON_EXIT.config, (err as Error).message);
    return fail(failure);
  }
  listenFdChannel(daemon, log);
  notifyReady(
    env,
    log,
    `listening on ${config.listen.kind === 'unix' ? `unix:${config.listen.path}` : `${config.listen.host}:${config.listen.port}`}`,
  );
  handleShutdown(daemon, running, config, log);
}

/** One line on stderr, then the exit code: what a service manager's log and a terminal both show well. */
function fail(failure: StartFailure): never {
  process.stderr.write(`vpnsvc-daemon: ${failure.message}\n`);
  process.exit(failure.exitCode);
}

/**
 * sd_notify READY=1 once the API answers, so `systemctl start` (Type=notify) returns when the
 * daemon can be used. Only under a service manager that asks for it ($NOTIFY_SOCKET).
 */
export function notifyReady(env: NodeJS.ProcessEnv, log: Pick<Logger, 'warn'>, status: string): void {
  const socket = env.NOTIFY_SOCKET;
  if (!socket) return;
  try {
    sdNotify(socket, `READY=1\nMAINPID=${process.pid}\nSTATUS=${status}`);
  } catch (err) {
    log.warn({ socket }, `could not tell the service manager the daemon is ready: ${(err as Error).message}`);
  }
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
    return fail(new StartFailure(DAEMON_EXIT.config, (err as Error).message));
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
    fail(
      new StartFailure(
        DAEMON_EXIT.failed,
        `another vpnsvc daemon is running with this state directory (pid ${previous.pid}, ${config.stateDir}): stop it, or give this one its own VPNSVC_STATE_DIR`,
      ),
    );
  }
  withReason({ source: 'daemon' }, () =>
    bus.emit('daemon.started', { data: { pid: process.pid, crashedPredecessor: previous !== undefined } }),
  );
  await withReason({ source: 'recovery' }, async () => {
    if (!previous) return;
    const rules = new PolicyRules();
    const split = new SplitRules();
    const policy = policyRoutingReconciler({
      flushRules: () => rules.flush(),
      flushTable: () => flushVpnTable(),
      removeSplitTable: () => split.removeTable(),
    });
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
    if (process.env.NOTIFY_SOCKET) {
      try {
        sdNotify(process.env.NOTIFY_SOCKET, 'STOPPING=1');
      } catch {
        // The service manager learns of the stop from the exit anyway.
      }
    }
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
