/** What the console shows, read with REST and kept fresh by the event follower. */
import { api, call, type Schemas } from './api';

export interface DaemonState {
  interfaces: Schemas['Interface'][];
  routes: Schemas['Route'][];
  dns: Schemas['Dns'] | undefined;
  firewall: Schemas['FirewallState'] | undefined;
  features: Schemas['Features'] | undefined;
  health: Schemas['Health'] | undefined;
  /** A read that failed, by resource (a 404 of routes without an interface is no failure). */
  errors: Partial<Record<'interfaces' | 'routes' | 'dns' | 'firewall' | 'features' | 'health', string>>;
}

export const EMPTY_STATE: DaemonState = {
  interfaces: [],
  routes: [],
  dns: undefined,
  firewall: undefined,
  features: undefined,
  health: undefined,
  errors: {},
};

export async function readState(): Promise<DaemonState> {
  const [interfaces, routes, dns, firewall, features, health] = await Promise.allSettled([
    call(api.GET('/interfaces')),
    call(api.GET('/routes')),
    call(api.GET('/dns')),
    call(api.GET('/firewall')),
    call(api.GET('/features')),
    call(api.GET('/health')),
  ]);
  const errors: DaemonState['errors'] = {};
  const value = <T>(key: keyof DaemonState['errors'], r: PromiseSettledResult<T>, fallback: T): T => {
    if (r.status === 'fulfilled') return r.value;
    const err = r.reason as Error & { status?: number };
    if (!(key === 'routes' && err.status === 404)) errors[key] = err.message;
    return fallback;
  };
  return {
    interfaces: value('interfaces', interfaces, []),
    routes: value('routes', routes, []),
    dns: value('dns', dns, undefined),
    firewall: value('firewall', firewall, undefined),
    features: value('features', features, undefined),
    health: value('health', health, undefined),
    errors,
  };
}

/** One throughput sample: rates between two counters messages. */
export interface Rate {
  /** Seconds since the epoch. */
  t: number;
  rxBps: number;
  txBps: number;
  rxPps: number;
  txPps: number;
}

/** Five minutes at one sample a second. */
export const RATE_HISTORY = 300;

export function rateBetween(prev: { t: number; c: Schemas['Counters'] }, cur: { t: number; c: Schemas['Counters'] }): Rate | undefined {
  const dt = cur.t - prev.t;
  if (dt <= 0) return undefined;
  // A counter that went back (a new interface of the same name) starts a new series at zero.
  const d = (a: number, b: number) => Math.max(0, b - a) / dt;
  return {
    t: cur.t,
    rxBps: d(prev.c.rxBytes, cur.c.rxBytes) * 8,
    txBps: d(prev.c.txBytes, cur.c.txBytes) * 8,
    rxPps: d(prev.c.rxPackets, cur.c.rxPackets),
    txPps: d(prev.c.txPackets, cur.c.txPackets),
  };
}

export function formatRate(bitsPerSecond: number): string {
  const units = ['b/s', 'kb/s', 'Mb/s', 'Gb/s'];
  let v = bitsPerSecond;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v < 10 && i > 0 ? 1 : 0)} ${units[i]}`;
}
