/**
 * The composition root: the one place the daemon is assembled, system backends first, then the
 * engine's facade, then the HTTP app over it. The daemon's start and the tests' build(t) both
 * come through composeDaemon; tests change only its options.
 */
import { join } from 'node:path';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { browserSettings, fdChannelPath, followerLimits, httpLimits } from '../config/config.js';
import { fdChannelHandler } from '../engine/fd-channel-service.js';
import { describeFeatures, type FeatureSupport, featureSupport } from '../engine/features.js';
import { KillSwitch } from '../engine/kill-switch.js';
import { ProfileStore } from '../engine/profile-store.js';
import { type EngineLogger, Vpnsvc } from '../engine/vpnsvc.js';
import { buildApp } from '../http/app.js';
import { loadSpec } from '../http/spec.js';
import { FdChannel } from '../system/fd-channel.js';
import { type HostProbe, probeHost } from '../system/host.js';
import { isMountPoint } from '../system/mounts.js';
import { type DefaultRoute, defaultRoutes, NftFirewall } from '../system/nft.js';
import { createResolverBackend, DEFAULT_RESOLV_CONF } from '../system/resolver/detect.js';
import type { ResolverBackend } from '../system/resolver/types.js';
import type { TokenStore } from '../tokens/token-store.js';

export interface ComposeOptions {
  /** VPNSVC_DNS_BACKEND and VPNSVC_RESOLV_CONF pick and place the resolver backend. */
  env: NodeJS.ProcessEnv;
  stateDir: string;
  tokens: TokenStore;
  log?: EngineLogger & FastifyBaseLogger;
  https?: { cert: Buffer; key: Buffer };
  /** What the host offers; probed when not given. */
  probe?: HostProbe;
  /** Overrides the probe's verdict on the VPN feature (a test of a host without it). */
  support?: FeatureSupport;
  /** Where the kill switch finds the original interface (default: the main table's default routes). */
  defaultRoutes?: () => DefaultRoute[];
  /** Tests: every JSON response is checked against openapi.yaml before serialization (see buildApp). */
  checkResponses?: boolean;
}

export interface Daemon {
  vpnsvc: Vpnsvc;
  app: FastifyInstance;
  resolver: ResolverBackend;
  probe: HostProbe;
  /** The fd channel (not yet listening: the lifecycle starts it); undefined when it is off. */
  fdChannel: FdChannel | undefined;
  /** Closes the app and the fd channel, then de-initializes the active interface (routes, DNS, stream undone). */
  close(): Promise<void>;
}

const QUIET: EngineLogger = { info: () => undefined, warn: () => undefined };

/** A bad VPNSVC_DNS_BACKEND or VPNSVC_RESOLV_CONF throws with the variable's name. */
export function resolverFromEnv(env: NodeJS.ProcessEnv, stateDir: string): ResolverBackend {
  const resolvConf = env.VPNSVC_RESOLV_CONF;
  if (resolvConf !== undefined && resolvConf !== '' && !resolvConf.startsWith('/')) {
    throw new Error(`VPNSVC_RESOLV_CONF must be an absolute path, not "${resolvConf}"`);
  }
  return createResolverBackend({ env, stateDir });
}

/**
 * The file backend replaces resolv.conf by rename; a resolv.conf that is a mount point (a
 * container's, which the runtime bind-mounts) cannot be replaced, so DNS is unsupported there.
 */
function dnsProblem(resolver: ResolverBackend, env: NodeJS.ProcessEnv): string | undefined {
  const path = env.VPNSVC_RESOLV_CONF || DEFAULT_RESOLV_CONF;
  if (resolver.name !== 'file' || !isMountPoint(path)) return undefined;
  return `DNS is unsupported here: ${path} is a bind mount (as in a container), which the file backend cannot replace (EBUSY); run the daemon on the host (systemd) for DNS through the tunnel`;
}

export async function composeDaemon(options: ComposeOptions): Promise<Daemon> {
  const probe = options.probe ?? (await probeHost());
  const resolver = resolverFromEnv(options.env, options.stateDir);
  const channelPath = fdChannelPath(options.env);
  // What a killed predecessor left in the resolver goes before anything new is written.
  await resolver.recover();
  const vpnsvc = new Vpnsvc({
    support: options.support ?? featureSupport(probe),
    log: options.log ?? QUIET,
    resolver,
    firewall: new KillSwitch(new NftFirewall(), options.defaultRoutes ?? defaultRoutes),
    profiles: new ProfileStore(join(options.stateDir, 'profiles')),
    ...(channelPath !== undefined && { fdChannelPath: channelPath }),
  });
  const log = options.log ?? QUIET;
  const fdChannel =
    channelPath === undefined
      ? undefined
      : new FdChannel(channelPath, fdChannelHandler(vpnsvc, log), { onError: (err) => log.warn({ err }, 'fd channel error') });
  const app = await buildApp({
    vpnsvc,
    spec: loadSpec(),
    host: { features: async () => describeFeatures(probe, resolver.name, dnsProblem(resolver, options.env)), startedAt: Date.now() },
    tokens: options.tokens,
    ...(options.log && { loggerInstance: options.log }),
    ...(options.https && { https: options.https }),
    ...(options.checkResponses && { checkResponses: true }),
    followers: followerLimits(options.env),
    httpLimits: httpLimits(options.env),
    browser: browserSettings(options.env),
  });
  return {
    vpnsvc,
    app,
    resolver,
    probe,
    fdChannel,
    close: async () => {
      await app.close();
      fdChannel?.close();
      await vpnsvc.close();
    },
  };
}
