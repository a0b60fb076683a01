/**
 * The vpnsvc engine: one method per seed function, no HTTP. It owns the one active VPN
 * interface and drives the kernel through the system layer.
 */
import type { Counters, Interface, InterfaceSettings } from '../contract/api-types.js';
import { errnoName, invalidParameter, ioError, noSuchFile, notSupported } from '../errors/errors.js';
import * as native from '../system/native.js';
import { readLinkStats } from '../system/link-stats.js';
import { EventBus } from './events.js'; // --- issue 6: operations ---
import {
  DEFAULT_MTU,
  DEFAULT_SESSION,
  checkInterfaceName,
  checkMtu,
  checkSession,
  checkUnicastIPv4,
} from './validate.js';
// --- issue 5: data plane ---
import { packetCounters } from '../dataplane/packet-channel.js';

const EBUSY = -16;

/** Stem of a name plus the kernel's "%d", so TUNSETIFF picks the first free number atomically. */
function nameTemplate(name: string): string {
  return `${name.replace(/\d+$/, '').slice(0, 13)}%d`;
}

export interface ActiveInterface {
  readonly name: string;
  readonly index: number;
  readonly fd: number;
  session: string;
  staged: { mtu: number; localIp: string | null; remoteIp: string | null };
}

/** Work a domain (routes, DNS, streams) must undo when the interface goes away. */
export type DeinitHook = (iface: ActiveInterface) => void | Promise<void>;

export interface EngineLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface FeatureSupport {
  /** What the host lacks for the VPN feature, in words an operator can act on; empty when supported. */
  missing(): string[];
}

export class VpnEngine {
  private active: ActiveInterface | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly deinitHooks: DeinitHook[] = [];
  /** State changes with their reasons, for followers of GET /events; every domain emits here. */
  readonly events = new EventBus();

  constructor(
    private readonly support: FeatureSupport,
    private readonly log: EngineLogger,
  ) {}

  /** Registers cleanup that runs, in registration order, before the interface's fd is closed. */
  onDeinit(hook: DeinitHook): void {
    this.deinitHooks.push(hook);
  }

  /**
   * Runs state-changing work one call at a time: init and deinit await cleanup hooks, and
   * nothing else may observe the interface half-built or half-removed.
   */
  exclusive<T>(work: () => T | Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The seed checks the feature before every call; so does the engine. */
  private requireFeature(): void {
    const missing = this.support.missing();
    if (missing.length > 0) {
      throw notSupported(`the VPN feature (http://tizen.org/feature/network.vpn) is not supported here: ${missing.join('; ')}`);
    }
  }

  /** The active interface called `name`, or NO_SUCH_FILE. Notices a device deleted behind our back. */
  private handle(name: string): ActiveInterface {
    this.requireFeature();
    checkInterfaceName(name);
    const iface = this.active;
    if (!iface || iface.name !== name) {
      throw noSuchFile(
        iface ? `no VPN interface "${name}" (the active one is "${iface.name}")` : `no VPN interface "${name}" (none is active)`,
      );
    }
    if (native.ifIndex(name) !== iface.index) {
      this.forget(iface, 'the device vanished from the kernel');
      throw noSuchFile(`VPN interface "${name}" was removed outside vpnsvc; its handle is closed`);
    }
    return iface;
  }

  private forget(iface: ActiveInterface, why: string): void {
    this.log.warn({ iface: iface.name }, `dropping VPN interface: ${why}`);
    try {
      native.closeFd(iface.fd);
    } catch {
      // Already gone with the device: nothing left to release.
    }
    if (this.active === iface) this.active = undefined;
    this.events.emit('interface.removed', { interface: iface.name, data: { index: iface.index }, reason: { source: 'kernel', detail: why } });
  }

  activeInterface(): ActiveInterface | undefined {
    return this.active;
  }

  // ---- vpnsvc_init / vpnsvc_deinit -------------------------------------------------------

  /** vpnsvc_init: only one VPN at a time, so an active interface is de-initialized first. */
  init(name: string): Promise<Interface> {
    return this.exclusive(async () => {
      this.requireFeature();
      checkInterfaceName(name);
      const replaced = this.active?.name;
      if (this.active) {
        this.log.info({ old: this.active.name, new: name }, 'replacing the active VPN interface');
        await this.teardown(this.active);
      }
      let opened = native.tunOpenRaw(name);
      if (opened === EBUSY) {
        // Someone else's interface holds the name: let the kernel pick a free one (the seed
        // tells callers to read the actual name back).
        opened = native.tunOpenRaw(nameTemplate(name));
      }
      if (typeof opened === 'number') {
        throw ioError(`cannot create TUN "${name}": ${errnoName(opened)}`);
      }
      const index = native.ifIndex(opened.name);
      if (index === undefined) {
        native.closeFd(opened.fd);
        throw ioError(`TUN "${opened.name}" disappeared right after creation`);
      }
      this.active = {
        name: opened.name,
        index,
        fd: opened.fd,
        session: DEFAULT_SESSION,
        staged: { mtu: DEFAULT_MTU, localIp: null, remoteIp: null },
      };
      this.log.info({ iface: opened.name, index, requested: name }, 'VPN interface created');
      this.events.emit(replaced ? 'interface.replaced' : 'interface.created', {
        interface: opened.name,
        data: { index, requested: name, ...(replaced !== undefined && { replaced }) },
      });
      return this.describe(opened.name);
    });
  }

  /** vpnsvc_deinit: undoes what the service added for the interface, then closes the fd. */
  deinit(name: string): Promise<void> {
    return this.exclusive(async () => {
      this.requireFeature();
      checkInterfaceName(name);
      const iface = this.active;
      if (!iface || iface.name !== name) throw noSuchFile(`no VPN interface "${name}"`);
      await this.teardown(iface);
    });
  }

  private async teardown(iface: ActiveInterface): Promise<void> {
    const failures: string[] = [];
    for (const hook of this.deinitHooks) {
      try {
        await hook(iface);
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
    // Closing the last fd of a non-persistent TUN deletes the device in the kernel.
    native.closeFd(iface.fd);
    this.active = undefined;
    this.log.info({ iface: iface.name }, 'VPN interface removed');
    this.events.emit('interface.removed', { interface: iface.name, data: { index: iface.index, ...(failures.length > 0 && { cleanupFailures: failures }) } });
    if (failures.length > 0) {
      this.log.warn({ iface: iface.name, failures }, 'cleanup at deinit was incomplete');
    }
  }

  /** Deinit whatever is active; used at shutdown. */
  close(): Promise<void> {
    return this.exclusive(async () => {
      if (this.active) await this.teardown(this.active);
    });
  }

  // ---- getters ----------------------------------------------------------------------------

  getIfaceFd(name: string): number {
    return this.handle(name).fd;
  }

  getIfaceIndex(name: string): number {
    return this.handle(name).index;
  }

  getIfaceName(name: string): string {
    return this.handle(name).name;
  }

  getSession(name: string): string {
    return this.handle(name).session;
  }

  // ---- settings ---------------------------------------------------------------------------

  /** vpnsvc_set_mtu: staged until update_settings. */
  setMtu(name: string, mtu: number): void {
    const iface = this.handle(name);
    iface.staged.mtu = checkMtu(mtu);
  }

  /** vpnsvc_set_blocking: toggles O_NONBLOCK on the fd at once. */
  setBlocking(name: string, blocking: boolean): void {
    native.setNonBlocking(this.handle(name).fd, !blocking);
  }

  /** vpnsvc_set_session: longer names are refused, never truncated as the original did. */
  setSession(name: string, session: string): void {
    const iface = this.handle(name);
    iface.session = checkSession(session);
    this.events.emit('session.changed', { interface: name, data: { session: iface.session } });
  }

  /** vpnsvc_set_local_ip_address: staged; null clears it. */
  setLocalIpAddress(name: string, address: string | null): void {
    const iface = this.handle(name);
    iface.staged.localIp = address === null ? null : checkUnicastIPv4(address, 'local address');
  }

  /** vpnsvc_set_remote_ip_address: staged; null clears it. */
  setRemoteIpAddress(name: string, address: string | null): void {
    const iface = this.handle(name);
    iface.staged.remoteIp = address === null ? null : checkUnicastIPv4(address, 'remote address');
  }

  /**
   * Several setters at once, all or nothing: every value is checked before any is stored, so a
   * bad MTU does not leave a half-applied session change behind.
   */
  configure(name: string, settings: InterfaceSettings): Promise<Interface> {
    return this.exclusive(() => {
      this.handle(name);
      if (settings.mtu !== undefined) checkMtu(settings.mtu);
      if (settings.session !== undefined) checkSession(settings.session);
      if (settings.localIp) checkUnicastIPv4(settings.localIp, 'local address');
      if (settings.remoteIp) checkUnicastIPv4(settings.remoteIp, 'remote address');
      if (settings.blocking !== undefined) this.setBlocking(name, settings.blocking);
      if (settings.mtu !== undefined) this.setMtu(name, settings.mtu);
      if (settings.session !== undefined) this.setSession(name, settings.session);
      if (settings.localIp !== undefined) this.setLocalIpAddress(name, settings.localIp);
      if (settings.remoteIp !== undefined) this.setRemoteIpAddress(name, settings.remoteIp);
      const { session: _session, ...others } = settings;
      if (Object.keys(others).length > 0) this.events.emit('interface.updated', { interface: name, data: others });
      return this.describe(name);
    });
  }

  /**
   * vpnsvc_update_settings: local address, peer, MTU, then link up. Refuses before touching the
   * kernel when an address is missing, as the seed does.
   */
  updateSettings(name: string): Promise<Interface> {
    return this.exclusive(() => {
      const iface = this.handle(name);
      const { localIp, remoteIp, mtu } = iface.staged;
      const unset = [localIp === null && 'localIp', remoteIp === null && 'remoteIp'].filter(Boolean);
      if (unset.length > 0) {
        throw invalidParameter(`cannot apply settings of "${name}": ${unset.join(' and ')} not set`);
      }
      native.setLocalAddress(name, localIp as string);
      native.setPeerAddress(name, remoteIp as string);
      native.setMtu(name, mtu);
      native.setLinkUp(name, true);
      this.log.info({ iface: name, localIp, remoteIp, mtu }, 'settings applied');
      this.events.emit('settings.applied', { interface: name, data: { localIp, remoteIp, mtu } });
      return this.describe(name);
    });
  }

  // ---- views ------------------------------------------------------------------------------

  /** The interface as the kernel has it now (addresses, MTU, flags and counters read back). */
  describe(name: string): Interface {
    const iface = this.handle(name);
    const stats = readLinkStats(name);
    const counters: Counters = {
      rxPackets: stats?.rxPackets ?? 0,
      rxBytes: stats?.rxBytes ?? 0,
      txPackets: stats?.txPackets ?? 0,
      txBytes: stats?.txBytes ?? 0,
      rxDropped: stats?.rxDropped ?? 0,
      txDropped: stats?.txDropped ?? 0,
      // --- issue 5: data plane ---
      ...packetCounters(iface),
    };
    return {
      name: iface.name,
      index: iface.index,
      fd: iface.fd,
      mtu: native.getMtu(name),
      blocking: !native.isNonBlocking(iface.fd),
      session: iface.session,
      localIp: native.getLocalAddress(name),
      remoteIp: native.getPeerAddress(name),
      up: (native.getFlags(name) & native.IFF_UP) !== 0,
      staged: { ...iface.staged },
      counters,
    };
  }

  list(): Interface[] {
    this.requireFeature();
    return this.active ? [this.describe(this.active.name)] : [];
  }
}
