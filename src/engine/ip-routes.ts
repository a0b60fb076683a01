/**
 * The IP routes behind vpnsvc_add_route / vpnsvc_remove_route, singly and in bulk, IPv4 and
 * IPv6. The kernel is the one record of which routes exist: nothing is cached here, so a listing
 * or a duplicate check can never disagree with what `ip route` shows.
 *
 * A plain route is a device route in the main table, as the seed's. A default route (prefix 0:
 * the full tunnel) and an excluded prefix (a throw route) go to the VPN's own table, which the
 * policy rules (policy-rules.ts) consult for every packet without the service's mark.
 */

import type { Route } from '../contract/api-types.js';
import { EEXIST, ENETDOWN, ESRCH } from '../errors/errno.js';
import { errnoError, errnoName, invalidParameter, noSuchFile, VpnsvcError } from '../errors/errors.js';
import * as native from '../system/native.js';
import { VPN_TABLE } from '../system/policy-rules.js';
import { packTypedRoutes, parseRoute, type RouteSpec, routeAddress, routeKey, routeText, unpackRoutes } from './route-spec.js';

/** The interface routes go through: its kernel index and name (for messages). */
export interface RouteTarget {
  index: number;
  name: string;
}

/** One request's worth; the HTTP schema says the same (and 1 MiB of JSON holds about 20,000). */
export const MAX_ROUTES_PER_CALL = 20_000;

/**
 * Checks every route, then changes all of them in one netlink batch that the shim undoes on
 * failure. Returns the routes in canonical form.
 */
export function changeRoutes(target: RouteTarget, routes: readonly Route[], add: boolean, bulk: boolean): Route[] {
  return change(target, routes, add, bulk).map(routeOf);
}

function routeOf(spec: RouteSpec): Route {
  return { address: routeAddress(spec), prefix: spec.prefix, ...(spec.exclude === true && { exclude: true }) };
}

/** The VPN table's routes of ours: the interface's default routes and every excluded prefix. */
function tableRoutes(index: number): Route[] {
  const listed = native.listTableRoutes(index, VPN_TABLE);
  return unpackRoutes(listed).map((r, i) => (listed.types[i] === native.RTN_THROW ? { ...r, exclude: true } : r));
}

/** vpnsvc's routes through the interface, read from the kernel: the main table's, then the VPN table's. */
export function listRoutes(index: number): Route[] {
  return [...unpackRoutes(native.listRoutes(index)), ...tableRoutes(index)];
}

/** Which families have routes in the VPN's table (they need the policy rules). */
export function tableFamilies(index: number): Set<4 | 6> {
  return new Set([...native.listTableRoutes(index, VPN_TABLE).families].map((f) => (f === 4 ? 4 : 6)));
}

/** At deinit: deletes what is left of ours on the interface (best effort; the device goes next). */
export function flushRoutes(index: number): void {
  const ours = native.listRoutes(index);
  if (ours.families.length > 0) native.applyRoutes(index, false, ours);
  const table = tableRoutes(index).map((r) => parseRoute(r.address, r.prefix, r.exclude));
  if (table.length > 0) native.applyTypedRoutes(index, false, packTypedRoutes(table, VPN_TABLE));
}

function change({ index, name }: RouteTarget, routes: readonly Route[], add: boolean, bulk: boolean): RouteSpec[] {
  const label = (i: number) => (bulk ? `routes[${i}] ` : '');
  if (routes.length > MAX_ROUTES_PER_CALL) {
    throw invalidParameter(`at most ${MAX_ROUTES_PER_CALL} routes per call, got ${routes.length}`);
  }
  const specs: RouteSpec[] = [];
  const seen = new Map<string, number>();
  routes.forEach((r, i) => {
    let spec: RouteSpec;
    try {
      spec = parseRoute(r.address, r.prefix, r.exclude);
    } catch (err) {
      throw err instanceof VpnsvcError && bulk ? invalidParameter(`${label(i)}${err.message}`) : err;
    }
    const key = routeKey(spec);
    const first = seen.get(key);
    if (first !== undefined) throw invalidParameter(`${label(i)}${routeText(spec)} repeats routes[${first}]`);
    seen.set(key, i);
    specs.push(spec);
  });
  if (specs.length === 0) return [];
  if (!add) {
    // A removal names the prefix; whether it is an excluded one is the kernel's to say.
    const excluded = new Set(
      tableRoutes(index)
        .filter((r) => r.exclude)
        .map((r) => routeKey(parseRoute(r.address, r.prefix))),
    );
    specs.forEach((spec, i) => {
      if (spec.exclude !== true && excluded.has(routeKey(spec))) specs[i] = { ...spec, exclude: true };
    });
  }

  const { rc, failedIndex } = native.applyTypedRoutes(index, add, packTypedRoutes(specs, VPN_TABLE));
  if (rc < 0) throw batchError(rc, failedIndex, specs, index, name, add, label);
  return specs;
}

function batchError(
  rc: number,
  at: number,
  specs: RouteSpec[],
  ifindex: number,
  name: string,
  add: boolean,
  label: (i: number) => string,
): Error {
  const spec = specs[at];
  const where = spec ? `${label(at)}${routeText(spec)}` : `${specs.length} routes`;
  const unchanged = specs.length > 1 ? '; no route of this call was changed' : '';
  const errno = -rc;
  if (add && errno === EEXIST && spec) {
    const address = routeAddress(spec);
    const ours = listRoutes(ifindex).some((r) => r.address === address && r.prefix === spec.prefix);
    return errnoError(
      rc,
      ours
        ? `${where} is already a route of "${name}"${unchanged}`
        : `${where}: the ${spec.prefix === 0 || spec.exclude ? "VPN's table" : 'main table'} already has a route for this prefix that vpnsvc did not add${unchanged}`,
      'VPNSVC_ERROR_INVALID_PARAMETER',
    );
  }
  if (!add && errno === ESRCH) {
    return noSuchFile(`${where} is not a route of "${name}"${unchanged}: ${errnoName(rc)}`);
  }
  if (errno === ENETDOWN) {
    return errnoError(rc, `${where}: "${name}" is down${unchanged}`, 'VPNSVC_ERROR_INVALID_PARAMETER');
  }
  return errnoError(rc, `${add ? 'add' : 'remove'} ${where} on "${name}"${unchanged}`, 'VPNSVC_ERROR_IO_ERROR');
}
