/**
 * The IP routes behind vpnsvc_add_route / vpnsvc_remove_route, singly and in bulk, IPv4 and
 * IPv6. The kernel is the one record of which routes exist: nothing is cached here, so a listing
 * or a duplicate check can never disagree with what `ip route` shows.
 */

import type { Route } from '../contract/api-types.js';
import { EEXIST, ENETDOWN, ESRCH } from '../errors/errno.js';
import { errnoError, errnoName, invalidParameter, noSuchFile, VpnsvcError } from '../errors/errors.js';
import * as native from '../system/native.js';
import { packRoutes, parseRoute, type RouteSpec, routeAddress, routeKey, routeText, unpackRoutes } from './route-spec.js';

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
  return change(target, routes, add, bulk).map((spec) => ({ address: routeAddress(spec), prefix: spec.prefix }));
}

/** vpnsvc's routes through the interface, read from the kernel. */
export function listRoutes(index: number): Route[] {
  return unpackRoutes(native.listRoutes(index));
}

/** At deinit: deletes what is left of ours on the interface (best effort; the device goes next). */
export function flushRoutes(index: number): void {
  const ours = native.listRoutes(index);
  if (ours.families.length > 0) native.applyRoutes(index, false, ours);
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
      spec = parseRoute(r.address, r.prefix);
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

  const { rc, failedIndex } = native.applyRoutes(index, add, packRoutes(specs));
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
    const ours = unpackRoutes(native.listRoutes(ifindex)).some((r) => r.address === address && r.prefix === spec.prefix);
    return errnoError(
      rc,
      ours
        ? `${where} is already a route of "${name}"${unchanged}`
        : `${where}: the main table already has a route for this prefix that vpnsvc did not add${unchanged}`,
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
