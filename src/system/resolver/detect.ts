/**
 * Picks the resolver backend at start: VPNSVC_DNS_BACKEND when set, else systemd-resolved when
 * resolvectl exists and resolved is running, else resolvconf when installed, else the file
 * backend on VPNSVC_RESOLV_CONF (default /etc/resolv.conf; the resolvconf backend checks its
 * effect there).
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { join } from 'node:path';
import { FILE_BACKEND_WRITABLE_PATHS, FileBackend } from './file-backend.js';
import { LinkRecordStore } from './link-record.js';
import { RESOLVCONF_WRITABLE_PATHS, ResolvconfBackend } from './resolvconf-backend.js';
import { ResolvedBackend } from './resolved-backend.js';
import { DEFAULT_RESOLV_CONF, type ResolverBackend, type ResolverBackendName } from './types.js';

export { DEFAULT_RESOLV_CONF };
/** resolved's varlink socket exists while it runs (systemd >= 246). */
export const RESOLVED_SOCKET = '/run/systemd/resolve/io.systemd.Resolve';

const BACKENDS: readonly ResolverBackendName[] = ['resolved', 'resolvconf', 'file'];

/**
 * What each backend writes besides the state directory, at the default paths: a sandbox (the
 * systemd unit) must leave these writable. resolved is reached over D-Bus and writes nothing.
 */
export const BACKEND_WRITABLE_PATHS: Readonly<Record<ResolverBackendName, readonly string[]>> = {
  resolved: [],
  resolvconf: RESOLVCONF_WRITABLE_PATHS,
  file: FILE_BACKEND_WRITABLE_PATHS,
};

export function findProgram(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(':')) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface DetectOptions {
  env: NodeJS.ProcessEnv;
  stateDir: string;
  resolvedSocket?: string;
}

export function chooseBackendName(opts: DetectOptions): ResolverBackendName {
  const forced = opts.env.VPNSVC_DNS_BACKEND;
  if (forced !== undefined && forced !== '') {
    if (!(BACKENDS as readonly string[]).includes(forced)) {
      throw new Error(`VPNSVC_DNS_BACKEND must be one of ${BACKENDS.join(', ')}, not "${forced}"`);
    }
    return forced as ResolverBackendName;
  }
  if (findProgram('resolvectl', opts.env.PATH) && existsSync(opts.resolvedSocket ?? RESOLVED_SOCKET)) return 'resolved';
  if (findProgram('resolvconf', opts.env.PATH)) return 'resolvconf';
  return 'file';
}

/** The program a per-link backend runs, as an absolute path found once at start. */
function requireProgram(name: string, backend: ResolverBackendName, env: NodeJS.ProcessEnv): string {
  const found = findProgram(name, env.PATH);
  if (!found) throw new Error(`the DNS backend "${backend}" needs ${name}, which is not in PATH (VPNSVC_DNS_BACKEND picks another)`);
  return found;
}

export function createResolverBackend(opts: DetectOptions): ResolverBackend {
  const name = chooseBackendName(opts);
  const records = new LinkRecordStore(opts.stateDir);
  const resolvConf = opts.env.VPNSVC_RESOLV_CONF || DEFAULT_RESOLV_CONF;
  switch (name) {
    case 'resolved':
      return new ResolvedBackend(records, undefined, requireProgram('resolvectl', name, opts.env));
    case 'resolvconf':
      return new ResolvconfBackend(records, undefined, requireProgram('resolvconf', name, opts.env), undefined, undefined, resolvConf);
    case 'file':
      return new FileBackend(resolvConf, opts.stateDir);
  }
}
