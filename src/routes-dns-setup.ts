/**
 * Wires issue 3 (routes and DNS) to the engine at start: picks the resolver backend from the
 * environment, undoes what a killed predecessor left in the resolver, and registers the
 * cleanup that runs at deinit.
 */
import { VpnDns } from './engine/dns.js';
import type { VpnEngine } from './engine/engine.js';
import { VpnRoutes } from './engine/ip-routes.js';
import { createResolverBackend } from './system/resolver/detect.js';

export interface RoutesAndDns {
  routes: VpnRoutes;
  dns: VpnDns;
}

/**
 * VPNSVC_DNS_BACKEND (resolved | resolvconf | file) forces a backend; VPNSVC_RESOLV_CONF names
 * the file the file backend manages (default /etc/resolv.conf). A bad value throws with the
 * variable's name, for the daemon to stop on.
 */
export async function startRoutesAndDns(
  engine: VpnEngine,
  opts: { env: NodeJS.ProcessEnv; stateDir: string },
): Promise<RoutesAndDns> {
  const resolvConf = opts.env.VPNSVC_RESOLV_CONF;
  if (resolvConf !== undefined && resolvConf !== '' && !resolvConf.startsWith('/')) {
    throw new Error(`VPNSVC_RESOLV_CONF must be an absolute path, not "${resolvConf}"`);
  }
  const backend = createResolverBackend({ env: opts.env, stateDir: opts.stateDir });
  return { routes: new VpnRoutes(engine), dns: await VpnDns.start(engine, backend) };
}
