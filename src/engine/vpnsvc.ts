/**
 * Vpnsvc: the engine's one facade. One method per function of the seed (`vpn_service.h`),
 * named as the seed names it, plus the extensions (bulk routes, search domains, the packet
 * stream, views). No HTTP: the REST handlers, the tests and any other caller drive the same
 * methods and see the same events.
 *
 * The seed's handle is the interface name. Only one VPN interface is active at a time; methods
 * whose seed function takes a handle but whose REST form acts on "the VPN" (routes, DNS,
 * session) take the name last and fall back to the active interface.
 */
import type { Counters, Dns, FirewallBlock, FirewallState, Interface, InterfaceSettings, Route } from '../contract/api-types.js';
import { DataPlane } from '../dataplane/data-plane.js';
import { type Framing, MAX_PACKET } from '../dataplane/framing.js';
import { MAX_READ_WAIT_MS, type PacketChannel, type PacketSocket, type PacketStream } from '../dataplane/packet-channel.js';
import { EBUSY } from '../errors/errno.js';
import { errnoName, invalidParameter, ioError, noSuchFile, notSupported, permissionDenied } from '../errors/errors.js';
import { readLinkStats } from '../system/link-stats.js';
import * as native from '../system/native.js';
import { networkNamespaceOf, processIdentity } from '../system/process-identity.js';
import type { ResolverBackend } from '../system/resolver/types.js';
import { type TunHandle, tunHandle } from '../system/tun.js';
import { DnsSettings, resolverCall } from './dns.js';
import { EventBus, type EventData } from './events.js';
import type { FeatureSupport } from './features.js';
import { checkIpPacket } from './ip-packet.js';
import { changeRoutes, flushRoutes, listRoutes, type RouteTarget } from './ip-routes.js';
import { KillSwitch } from './kill-switch.js';
import { checkInterfaceName, checkMtu, checkSession, checkUnicastIPv4, DEFAULT_MTU, DEFAULT_SESSION } from './validate.js';

/** Events carry at most this many routes of a bulk call, and say how many there were. */
export const EVENT_ROUTES_MAX = 16;

/** Stem of a name plus the kernel's "%d", so TUNSETIFF picks the first free number atomically. */
function nameTemplate(name: string): string {
  return `${name.replace(/\d+$/, '').slice(0, 13)}%d`;
}

export interface ActiveInterface {
  readonly name: string;
  readonly index: number;
  readonly tun: TunHandle;
  session: string;
  staged: { mtu: number; localIp: string | null; remoteIp: string | null };
}

export interface EngineLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface VpnsvcOptions {
  support: FeatureSupport;
  log: EngineLogger;
  resolver: ResolverBackend;
  firewall?: KillSwitch;
}

/** An attached packet stream, as its transport holds it. */
export interface StreamLease {
  readonly stream: PacketStream;
  /** Ends the stream (the client left); says why in the stream.detached event. Idempotent. */
  detach(why: string): void;
}

function routesEvent(routes: readonly Route[]): EventData<'route.added' | 'route.removed'> {
  return {
    count: routes.length,
    routes: routes.slice(0, EVENT_ROUTES_MAX),
    ...(routes.length > EVENT_ROUTES_MAX && { truncated: true }),
  };
}

/**
 * Who asks for vpnsvc_protect: a unix-socket peer with the uid the kernel vouches for
 * (SO_PEERCRED), or a remote caller (TCP), whom the HTTP layer admits only with a token
 * carrying the `protect` privilege.
 */
export type ProtectCaller = { uid: number } | { remote: true };

/**
 * Refuses what a caller may not protect: the daemon itself (its listener bound to a device
 * would cut the API off while the process stays alive), another user's process (root, or a
 * remote caller holding `protect`, may protect any), a process in another network namespace.
 * Ownership is the rule ptrace uses: the real, effective and saved uid are all the caller's,
 * so a set-user-ID program the caller started is not the caller's.
 */
function checkProtectTarget(pid: number, caller: ProtectCaller): void {
  const self = `pid ${pid} is the vpnsvc daemon itself: its own sockets are never protected`;
  if (pid === process.pid) throw permissionDenied(self);
  const target = processIdentity(pid);
  if (target.tgid === process.pid) throw permissionDenied(self);
  const owners = target.uids.slice(0, 3);
  if ('uid' in caller && caller.uid !== 0 && !owners.every((uid) => uid === caller.uid)) {
    throw permissionDenied(
      `uid ${caller.uid} may not protect the sockets of pid ${pid} (uid ${owners.join('/')}): only root or the process's owner may`,
    );
  }
  const daemonNetns = networkNamespaceOf('self');
  if (target.netns !== daemonNetns) {
    throw permissionDenied(`pid ${pid} is in another network namespace (${target.netns}) than the daemon (${daemonNetns})`);
  }
}

export class Vpnsvc {
  /** State changes with their reasons, for followers of GET /events, the journal and metrics. */
  readonly events = new EventBus();
  private active: ActiveInterface | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly support: FeatureSupport;
  private readonly log: EngineLogger;
  private readonly resolver: ResolverBackend;
  private readonly dnsSettings: DnsSettings;
  private readonly firewall: KillSwitch;
  private readonly packets = new DataPlane();

  constructor(options: VpnsvcOptions) {
    this.support = options.support;
    this.log = options.log;
    this.resolver = options.resolver;
    this.dnsSettings = new DnsSettings(options.resolver);
    this.firewall = options.firewall ?? new KillSwitch();
  }

  // ---- vpnsvc_init / vpnsvc_deinit ------------------------------------------------------------

  /**
   * vpnsvc_init: creates the TUN. Only one VPN at a time, so an active interface is
   * de-initialized first. A name held by someone else yields another one (read it back, as the
   * seed says, with getIfaceName).
   */
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
      if (opened === -EBUSY) opened = native.tunOpenRaw(nameTemplate(name));
      if (typeof opened === 'number') throw ioError(`cannot create TUN "${name}": ${errnoName(opened)}`);
      const index = native.ifIndex(opened.name);
      if (index === undefined) {
        native.closeFd(opened.fd);
        throw ioError(`TUN "${opened.name}" disappeared right after creation`);
      }
      this.active = {
        name: opened.name,
        index,
        tun: tunHandle(opened.name, opened.fd),
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

  /** vpnsvc_deinit: undoes what the service added for the interface (not the block), then closes the fd. */
  deinit(name: string): Promise<void> {
    return this.exclusive(async () => {
      this.requireFeature();
      checkInterfaceName(name);
      const iface = this.active;
      if (!iface || iface.name !== name) throw noSuchFile(`no VPN interface "${name}"`);
      await this.teardown(iface);
    });
  }

  /** De-initializes whatever is active; the daemon's shutdown. */
  close(): Promise<void> {
    return this.exclusive(async () => {
      if (this.active) await this.teardown(this.active);
      this.packets.close('the service is stopping');
    });
  }

  // ---- vpnsvc_protect ---------------------------------------------------------------------------

  /**
   * vpnsvc_protect: SO_BINDTODEVICE on socket `fd` of process `pid`, so it bypasses the VPN's
   * routes. Only for a caller entitled to the process (see checkProtectTarget); the socket must
   * live in the daemon's network namespace, and the daemon's own sockets are never taken.
   */
  protect(pid: number, fd: number, ifname: string, caller: ProtectCaller): void {
    checkInterfaceName(ifname);
    native.protectSocket(pid, fd, ifname, () => checkProtectTarget(pid, caller));
    this.events.emit('socket.protected', { interface: ifname, data: { pid, fd, interface: ifname } });
  }

  /**
   * Who is behind connection `connectionFd` (the daemon's end of an accepted socket): the uid the
   * kernel recorded for a unix-socket peer, else (TCP, or no fd) a remote caller.
   */
  callerOf(connectionFd: number | undefined): ProtectCaller {
    const peer = connectionFd === undefined ? undefined : native.peerCredentials(connectionFd);
    return peer ? { uid: peer.uid } : { remote: true };
  }

  // ---- vpnsvc_read / vpnsvc_write -------------------------------------------------------------

  /**
   * vpnsvc_read: the next packet, waiting up to timeoutMs. Without a timeout the seed's blocking
   * flag decides: blocking waits up to MAX_READ_WAIT_MS, non-blocking only takes one already
   * queued. `signal` abandons the wait (the caller went away).
   */
  async read(name: string, timeoutMs?: number, signal?: AbortSignal): Promise<Buffer> {
    const channel = this.channelOf(name);
    const wait = timeoutMs ?? (channel.tun.isNonBlocking() ? 0 : MAX_READ_WAIT_MS);
    return channel.read(wait, signal);
  }

  /** vpnsvc_write: one IP packet into the TUN; the bytes written. */
  write(name: string, packet: Buffer): number {
    if (packet.length === 0 || packet.length > MAX_PACKET) {
      throw invalidParameter(`a packet is 1-${MAX_PACKET} bytes, got ${packet.length}`);
    }
    const channel = this.channelOf(name);
    checkIpPacket(packet);
    return channel.write(packet);
  }

  /** EBUSY (before a transport upgrades) when another client holds the interface's stream. */
  requireStreamFree(name: string): void {
    this.channelOf(name).requireNoStream();
  }

  /**
   * The extension of read/write: every packet of the interface to one client and every message
   * of the client into the TUN, until the client detaches or the interface goes (then `onEnd`).
   */
  openStream(name: string, socket: PacketSocket, framing: Framing, onEnd: (why: string) => void): StreamLease {
    const channel = this.channelOf(name);
    const iface = this.handle(name);
    let attached = true;
    const stream = channel.attach(socket, framing, (why) => {
      finish(why);
      onEnd(why);
    });
    const finish = (why: string): void => {
      if (!attached) return;
      attached = false;
      channel.detach(stream);
      this.events.emit('stream.detached', {
        interface: iface.name,
        data: { framing, packets: { ...stream.moved } },
        reason: { source: 'stream', detail: why },
      });
    };
    this.events.emit('stream.attached', { interface: iface.name, data: { framing } });
    return { stream, detach: finish };
  }

  // ---- vpnsvc_block_networks / vpnsvc_unblock_networks ----------------------------------------

  /**
   * vpnsvc_block_networks: only the allowed networks reach the VPN and the original interface;
   * everything else is dropped, IPv4 and IPv6. Calling it again replaces the lists.
   */
  blockNetworks(block: FirewallBlock, name?: string): Promise<FirewallState> {
    return this.exclusive(async () => {
      // The feature first, as the seed does: a host without nft says so before anything else.
      await this.firewall.requireNft();
      const iface = this.target(name, 'blocking');
      const state = await this.firewall.block(block, iface.name);
      this.events.emit('firewall.blocked', { interface: iface.name, data: { ...state } });
      return state;
    });
  }

  /** vpnsvc_unblock_networks: lifts every restriction, with or without a VPN; nothing to lift is fine. */
  unblockNetworks(): Promise<void> {
    return this.exclusive(async () => {
      await this.firewall.requireNft();
      this.requireFeature();
      await this.firewall.unblock();
      this.events.emit('firewall.unblocked', { data: {} });
    });
  }

  /**
   * The block as the kernel has it (also one set by an earlier run of the daemon). Like every
   * call, NOT_SUPPORTED with what is missing (nft, CAP_NET_ADMIN) rather than nft's own failure.
   */
  async firewallState(): Promise<FirewallState> {
    await this.firewall.requireNft();
    this.requireFeature();
    return this.firewall.state();
  }

  // ---- vpnsvc_update_settings -----------------------------------------------------------------

  /**
   * vpnsvc_update_settings: local address, peer, MTU, then link up. Refuses before touching the
   * kernel when an address is missing, as the seed does.
   */
  updateSettings(name: string): Promise<Interface> {
    return this.exclusive(() => {
      const iface = this.handle(name);
      const { localIp, remoteIp, mtu } = iface.staged;
      if (localIp === null || remoteIp === null) {
        const unset = [localIp === null && 'localIp', remoteIp === null && 'remoteIp'].filter(Boolean);
        throw invalidParameter(`cannot apply settings of "${name}": ${unset.join(' and ')} not set`);
      }
      native.setLocalAddress(name, localIp);
      native.setPeerAddress(name, remoteIp);
      native.setMtu(name, mtu);
      native.setLinkUp(name, true);
      this.log.info({ iface: name, localIp, remoteIp, mtu }, 'settings applied');
      const applied = this.describe(name);
      this.events.emit('settings.applied', {
        interface: name,
        data: { localIp: applied.localIp, remoteIp: applied.remoteIp, mtu: applied.mtu },
      });
      return applied;
    });
  }

  // ---- getters ----------------------------------------------------------------------------------

  /** vpnsvc_get_iface_fd */
  getIfaceFd(name: string): number {
    return this.handle(name).tun.fd;
  }

  /** vpnsvc_get_iface_index */
  getIfaceIndex(name: string): number {
    return this.handle(name).index;
  }

  /** vpnsvc_get_iface_name: the name the kernel gave (another than asked when it was taken). */
  getIfaceName(name: string): string {
    return this.handle(name).name;
  }

  /** vpnsvc_get_session */
  getSession(name?: string): string {
    return this.target(name, 'a session').session;
  }

  // ---- setters ----------------------------------------------------------------------------------

  /** vpnsvc_set_mtu: staged until update_settings. */
  setMtu(name: string, mtu: number): void {
    this.stage(this.handle(name), { mtu });
  }

  /** vpnsvc_set_blocking: toggles O_NONBLOCK on the fd at once. */
  setBlocking(name: string, blocking: boolean): void {
    this.stage(this.handle(name), { blocking });
  }

  /** vpnsvc_set_session: longer names are refused, never truncated as the original did. */
  setSession(session: string, name?: string): Promise<string> {
    return this.exclusive(() => this.storeSession(this.target(name, 'a session'), session));
  }

  /** vpnsvc_set_local_ip_address: staged until update_settings; null clears it. */
  setLocalIpAddress(name: string, address: string | null): void {
    this.stage(this.handle(name), { localIp: address });
  }

  /** vpnsvc_set_remote_ip_address: staged until update_settings; null clears it. */
  setRemoteIpAddress(name: string, address: string | null): void {
    this.stage(this.handle(name), { remoteIp: address });
  }

  /**
   * Several setters at once (set_blocking, set_mtu, set_session, set_local/remote_ip_address),
   * all or nothing: every value is checked before any is stored.
   */
  configure(name: string, settings: InterfaceSettings): Promise<Interface> {
    return this.exclusive(() => {
      this.stage(this.handle(name), settings);
      return this.describe(name);
    });
  }

  // ---- vpnsvc_add_route / vpnsvc_remove_route -------------------------------------------------

  /** vpnsvc_add_route: answers the route in canonical form. */
  addRoute(route: Route, name?: string): Promise<Route> {
    return this.exclusive(() => this.changeRoutes(name, [route], true, false)[0] as Route);
  }

  /** Bulk vpnsvc_add_route: every route lands, or none does. Answers how many were added. */
  addRoutes(routes: readonly Route[], name?: string): Promise<number> {
    return this.exclusive(() => this.changeRoutes(name, routes, true, true).length);
  }

  /** vpnsvc_remove_route */
  async removeRoute(route: Route, name?: string): Promise<void> {
    await this.exclusive(() => this.changeRoutes(name, [route], false, false));
  }

  /** Bulk vpnsvc_remove_route: every route goes, or none does. */
  async removeRoutes(routes: readonly Route[], name?: string): Promise<void> {
    await this.exclusive(() => this.changeRoutes(name, routes, false, true));
  }

  /** vpnsvc's routes through the interface, read from the kernel. */
  listRoutes(name?: string): Route[] {
    return listRoutes(this.target(name, 'routes').index);
  }

  // ---- vpnsvc_add_dns_server / vpnsvc_remove_dns_server ---------------------------------------

  /** vpnsvc_add_dns_server */
  addDnsServer(server: string, name?: string): Promise<Dns> {
    return this.changeDns(name, 'dns.added', async (iface) => ({ server: await this.dnsSettings.addServer(iface, server) }));
  }

  /** vpnsvc_remove_dns_server */
  removeDnsServer(server: string, name?: string): Promise<Dns> {
    return this.changeDns(name, 'dns.removed', async (iface) => ({ server: await this.dnsSettings.removeServer(iface, server) }));
  }

  /** A search domain ("~corp.example" routes only), the extension beside the DNS servers. */
  addSearchDomain(domain: string, name?: string): Promise<Dns> {
    return this.changeDns(name, 'dns.domain.added', async (iface) => ({ domain: await this.dnsSettings.addDomain(iface, domain) }));
  }

  removeSearchDomain(domain: string, name?: string): Promise<Dns> {
    return this.changeDns(name, 'dns.domain.removed', async (iface) => ({ domain: await this.dnsSettings.removeDomain(iface, domain) }));
  }

  /** The VPN's DNS settings and where they go. */
  dns(): Dns {
    const { servers, domains } = this.dnsSettings.config();
    const described = this.resolver.describe();
    return {
      backend: this.resolver.name,
      leakProtection: this.resolver.leakProtection({ servers, domains }),
      resolvConf: typeof described.path === 'string' ? described.path : null,
      interface: this.active?.name ?? null,
      servers: [...servers],
      domains: [...domains],
    };
  }

  // ---- views ------------------------------------------------------------------------------------

  /** The name of the active interface, or undefined when there is none. */
  activeName(): string | undefined {
    return this.active?.name;
  }

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
      ...this.packets.counters(iface.tun),
    };
    return {
      name: iface.name,
      index: iface.index,
      fd: iface.tun.fd,
      mtu: native.getMtu(name),
      blocking: !iface.tun.isNonBlocking(),
      session: iface.session,
      localIp: native.getLocalAddress(name),
      remoteIp: native.getPeerAddress(name),
      up: (native.getFlags(name) & native.IFF_UP) !== 0,
      staged: { ...iface.staged },
      counters,
    };
  }

  /** Every VPN interface: the active one, or none. */
  list(): Interface[] {
    this.requireFeature();
    return this.active ? [this.describe(this.active.name)] : [];
  }

  // ---- internals --------------------------------------------------------------------------------

  /**
   * Runs state-changing work one call at a time: init and deinit await cleanup, and nothing else
   * may observe the interface half-built or half-removed.
   */
  private exclusive<T>(work: () => T | Promise<T>): Promise<T> {
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

  /** `name`, or the active interface when none is named; NO_SUCH_FILE says what `what` needs. */
  private target(name: string | undefined, what: string): ActiveInterface {
    if (name !== undefined) return this.handle(name);
    const active = this.active;
    if (!active) {
      this.requireFeature();
      throw noSuchFile(`no VPN interface is active: create one (vpnsvc_init, POST /interfaces) before ${what}`);
    }
    return this.handle(active.name);
  }

  /**
   * The target, which must be up. The seed sets routes and DNS servers after the interface is
   * enabled (vpnsvc_update_settings); vpnsvc refuses them before that rather than deferring
   * them, so a caller learns at once (the kernel would refuse a route through a down link).
   */
  private upTarget(name: string | undefined, what: string): ActiveInterface {
    const iface = this.target(name, what);
    if ((native.getFlags(iface.name) & native.IFF_UP) === 0) {
      throw invalidParameter(
        `${what} need "${iface.name}" up: apply its settings first (POST /interfaces/${iface.name}/apply, vpnsvc_update_settings)`,
      );
    }
    return iface;
  }

  private channelOf(name: string): PacketChannel {
    return this.packets.channelFor(this.handle(name).tun);
  }

  /** Checks every value, then stores them; one interface.updated for what changed besides the session. */
  private stage(iface: ActiveInterface, settings: InterfaceSettings): void {
    const { mtu, session, localIp, remoteIp, blocking } = settings;
    if (mtu !== undefined) checkMtu(mtu);
    if (session !== undefined) checkSession(session);
    if (localIp != null) checkUnicastIPv4(localIp, 'local address');
    if (remoteIp != null) checkUnicastIPv4(remoteIp, 'remote address');
    const data: EventData<'interface.updated'> = {};
    if (blocking !== undefined) {
      native.setNonBlocking(iface.tun.fd, !blocking);
      data.blocking = blocking;
    }
    if (mtu !== undefined) data.mtu = iface.staged.mtu = mtu;
    if (localIp !== undefined) data.localIp = iface.staged.localIp = localIp;
    if (remoteIp !== undefined) data.remoteIp = iface.staged.remoteIp = remoteIp;
    if (session !== undefined) this.storeSession(iface, session);
    if (Object.keys(data).length > 0) this.events.emit('interface.updated', { interface: iface.name, data });
  }

  private storeSession(iface: ActiveInterface, session: string): string {
    iface.session = checkSession(session);
    this.events.emit('session.changed', { interface: iface.name, data: { session: iface.session } });
    return iface.session;
  }

  private changeRoutes(name: string | undefined, routes: readonly Route[], add: boolean, bulk: boolean): Route[] {
    const iface = this.upTarget(name, 'routes');
    const target: RouteTarget = { index: iface.index, name: iface.name };
    const changed = changeRoutes(target, routes, add, bulk);
    if (changed.length > 0) this.events.emit(add ? 'route.added' : 'route.removed', { interface: iface.name, data: routesEvent(changed) });
    return changed;
  }

  private changeDns(
    name: string | undefined,
    type: 'dns.added' | 'dns.removed' | 'dns.domain.added' | 'dns.domain.removed',
    work: (iface: string) => Promise<{ server: string } | { domain: string }>,
  ): Promise<Dns> {
    return this.exclusive(async () => {
      const iface = this.upTarget(name, 'DNS servers and domains');
      const changed = await resolverCall(this.resolver, () => work(iface.name));
      const view = this.dns();
      this.events.emit(type, { interface: iface.name, data: { ...changed, servers: view.servers, domains: view.domains } });
      return view;
    });
  }

  private forget(iface: ActiveInterface, why: string): void {
    this.log.warn({ iface: iface.name }, `dropping VPN interface: ${why}`);
    this.packets.release(iface.tun, why);
    try {
      native.closeFd(iface.tun.fd);
    } catch {
      // Already gone with the device: nothing left to release.
    }
    if (this.active === iface) this.active = undefined;
    this.events.emit('interface.removed', {
      interface: iface.name,
      data: { index: iface.index },
      reason: { source: 'kernel', detail: why },
    });
  }

  /** Routes, DNS and the packet stream of the interface are undone, then its fd is closed. */
  private async teardown(iface: ActiveInterface): Promise<void> {
    const failures: string[] = [];
    const step = async (work: () => void | Promise<void>): Promise<void> => {
      try {
        await work();
      } catch (err) {
        failures.push((err as Error).message);
      }
    };
    // The device takes its routes with it when its fd closes; deleting ours first also covers a
    // device someone else keeps open.
    await step(() => flushRoutes(iface.index));
    await step(() => resolverCall(this.resolver, () => this.dnsSettings.clear()));
    await step(() => this.packets.release(iface.tun, 'the interface was removed'));
    // Closing the last fd of a non-persistent TUN deletes the device in the kernel.
    native.closeFd(iface.tun.fd);
    this.active = undefined;
    this.log.info({ iface: iface.name }, 'VPN interface removed');
    this.events.emit('interface.removed', {
      interface: iface.name,
      data: { index: iface.index, ...(failures.length > 0 && { cleanupFailures: failures }) },
    });
    if (failures.length > 0) this.log.warn({ iface: iface.name, failures }, 'cleanup at deinit was incomplete');
  }
}
