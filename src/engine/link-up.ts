import { invalidParameter } from '../errors/errors.js';
import * as native from '../system/native.js';
import type { VpnEngine } from './engine.js';

/**
 * The index of the active interface `name`, which must be up. The seed says routes and DNS
 * servers are set after the interface is enabled (vpnsvc_update_settings); vpnsvc refuses them
 * before that rather than deferring them, so a caller learns at once, and the kernel would
 * refuse a route through a down link anyway (ENETDOWN).
 */
export function upInterfaceIndex(engine: VpnEngine, name: string, what: string): number {
  const index = engine.getIfaceIndex(name);
  if ((native.getFlags(name) & native.IFF_UP) === 0) {
    throw invalidParameter(
      `${what} need "${name}" up: apply its settings first (POST /interfaces/${name}/apply, vpnsvc_update_settings)`,
    );
  }
  return index;
}
