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
import type {
  ConfigDocument,
  ConfigResult,
  Counters,
  Dns,
  FirewallBlock,
  FirewallState,
  Interface,
  InterfaceSettings,
  Profile,
  ProfileList,
  Route,
} from '../contract/api-types.js';
import { DataPlane } from '../dataplane/data-plane.js';
import { type Framing, MAX_PACKET } from '../dataplane/framing.js';
import { MAX_READ_WAIT_MS, type PacketChannel, type PacketSocket, type PacketStream } from '../dataplane/packet-channel.js';
import { attachClient, type Moved, type StreamClient } from '../dataplane/worker-stream.js';
import { EBUSY } from '../errors/errno.js';
import { errnoName, invalidParameter, ioError, noSuchFile, notSupported, permissionDenied, VpnsvcError } from '../errors/errors.js';
import { readAddresses6, setAddress6 } from '../system/address6.js';
import { type LinkMonitor, monitorLinks } from '../system/link-monitor.js';
import { readLinkStats } from '../system/link-stats.js';
import * as native from '../system/native.js';
import { PolicyRules, VPN_FWMARK, VPN_TABLE } from '../system/policy-rules.js';
import { networkNamespaceOf, processIdentity } from '../system/process-identity.js';
import type { ResolverBackend } from '../system/resolver/types.js';
import { type TunHandle, tunHandle } from '../system/tun.js';
import { address6Text, checkAddress6, parseAddress6 } from './address6.js';
import {
  type BlockState,
  type DnsState,
  desiredState,
  documentOf,
  type HostView,
  type InterfaceState,
  type PlanStep,
  plan,
  publicStep,
  toDocument,
  type VpnState,
} from './config-document.js';
import { DnsSettings, resolverCall } from './dns.js';
import { EventBus, type EventData, withReason } from './events.js';
import { type FdTicket, type FdTicketRequest, TicketBook, type TicketHolder } from './fd-tickets.js';
import type { FeatureSupport } from './features.js';
import { checkIpPacket } from './ip-packet.js';
import { changeRoutes, flushRoutes, listRoutes, type RouteTarget, tableFamilies } from './ip-routes.js';
import { KillSwitch } from './kill-switch.js';
import type { ProfileStore } from './profile-store.js';
import { parseRoute, routeKey } from './route-spec.js';
import { type SplitRequest, type SplitState, SplitTunnel } from './split-tunnel.js';
import { runTransaction, TransactionFailed, type TransactionStep } from './transaction.js';
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
  staged: { mtu: number; localIp: string | null; remoteIp: string | null; localIp6: string | null };
  /** The routes the service keeps through the interface (restored after a link flap), by route key. */
  routes: Map<string, Route>;
  /** The IPv6 address the last apply set (restored with the routes: the kernel drops it at link down). */
  applied6?: string | null;
  /** Link changes, while the interface has routes to keep. */
  monitor?: LinkMonitor;
  /** A duplicate of the fd went to an application (fd channel): teardown must delete the link itself. */
  fdHandedOut?: boolean;
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
  /** The fd channel's socket path, given in tickets; none: fd passing is off. */
  fdChannelPath?: string;
  /** Where named profiles live; without one, the profile methods are NOT_SUPPORTED. */
  profiles?: ProfileStore;
}

export interface ConfigOptions {
  /** Plan only: nothing is touched. */
  dryRun?: boolean;
  /** Revert to the state before unless confirmConfig() comes within this many seconds. */
  confirmWithinS?: number;
  /** The profile the document comes from, for the events. */
  profile?: string;
}

/** What the daemon's start did with the always-on profile. */
export interface AlwaysOnOutcome {
  profile: string;
  lockdown: boolean;
  /** Set when applying failed (with lockdown, the block stayed). */
  error?: string;
}

interface PendingConfirmation {
  timer: NodeJS.Timeout;
  withinS: number;
  deadline: Date;
  /** The state to go back to. */
  previous: VpnState;
}

/** GET /routes/policy: the full tunnel's table, mark and rules, and the kept routes the kernel lacks. */
export interface RoutingPolicy {
  table: number;
  fwmark: number;
  rules: Array<{ family: 4 | 6; priority: number; rule: string }>;
  pending: Route[];
}

/** An attached packet stream, as its transport holds it. */
export interface StreamLease {
  readonly stream: PacketStream;
  /** Ends the stream (the client left); says why in the stream.detached event. Idempotent. */
  detach(why: string): void;
}

/** An attached WebSocket client's stream. */
export interface ClientStreamLease {
  /** Where its packets move: a worker thread of its own, or the daemon's main thread (TLS). */
  readonly thread: 'worker' | 'main';
  /** Ends the stream and tells the client why; says why in the stream.detached event. Idempotent. */
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
  private readonly rules = new PolicyRules();
  private readonly split = new SplitTunnel();
  private readonly tickets = new TicketBook();
  private readonly fdChannelPath: string | undefined;
  private readonly profiles: ProfileStore | undefined;
  private pending: PendingConfirmation | undefined;

  constructor(options: VpnsvcOptions) {
    this.profiles = options.profiles;
    this.fdChannelPath = options.fdChannelPath;
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
   * seed says, with getIfaceName). `offload`: the TUN in offload mode (see openapi.yaml,
   * CreateInterface), an extension.
   */
  init(name: string, offload = false): Promise<Interface> {
    return this.exclusive(async () => {
      this.requireFeature();
      checkInterfaceName(name);
      const replaced = this.active?.name;
      if (this.active) {
        this.log.info({ old: this.active.name, new: name }, 'replacing the active VPN interface');
        await this.teardown(this.active);
      }
      let opened = native.tunOpenRaw(name, offload);
      if (opened === -EBUSY) opened = native.tunOpenRaw(nameTemplate(name), offload);
      if (typeof opened === 'number') throw ioError(`cannot create TUN "${name}": ${errnoName(opened)}`);
      const index = native.ifIndex(opened.name);
      if (index === undefined) {
        native.closeFd(opened.fd);
        throw ioError(`TUN "${opened.name}" disappeared right after creation`);
      }
      this.active = {
        name: opened.name,
        index,
        tun: tunHandle(opened.name, opened.fd, opened.offloads),
        session: DEFAULT_SESSION,
        staged: { mtu: DEFAULT_MTU, localIp: null, remoteIp: null, localIp6: null },
        routes: new Map(),
      };
      this.log.info({ iface: opened.name, index, requested: name, offload }, 'VPN interface created');
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
      const pending = this.pending;
      if (pending) {
        // An unconfirmed change (a block pushed over SSH) must not outlive the daemon that would have reverted it.
        clearTimeout(pending.timer);
        this.pending = undefined;
        await this.revertNow(pending, 'the service stopped before the change was confirmed');
      }
      if (this.active) await this.teardown(this.active);
      // A split set with no interface does not outlive the daemon either (teardown took any other).
      else await this.removeSplit().catch((err: Error) => this.log.warn({ error: err.message }, 'removing split tunnelling failed'));
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

  /** The unix-socket peer behind connection `connectionFd` (pid and uid), or undefined (TCP, no fd). */
  peerOf(connectionFd: number | undefined): TicketHolder | undefined {
    const peer = connectionFd === undefined ? undefined : native.peerCredentials(connectionFd);
    return peer ? { pid: peer.pid, uid: peer.uid } : undefined;
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

  /**
   * openStream for a WebSocket client: its packets move in a worker thread when its connection
   * can be handed over (see worker-stream.ts), so the API keeps its latency under a full tunnel.
   * `onEnd` is called once, however the stream ends, with the packets it moved.
   */
  openClientStream(name: string, client: StreamClient, framing: Framing, onEnd: (why: string, moved: Moved) => void): ClientStreamLease {
    const channel = this.channelOf(name);
    const iface = this.handle(name);
    let attached = true;
    const stream = attachClient(channel, client, framing, (why) => finish(why));
    const finish = (why: string): void => {
      if (!attached) return;
      attached = false;
      stream.end(why);
      const packets = { ...stream.moved };
      this.events.emit('stream.detached', {
        interface: iface.name,
        data: { framing, packets },
        reason: { source: 'stream', detail: why },
      });
      onEnd(why, packets);
    };
    this.events.emit('stream.attached', { interface: iface.name, data: { framing } });
    return { thread: stream.thread, detach: finish };
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
      const state = await this.firewall.block(block, iface.name, this.dnsSettings.config().servers);
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

  // ---- split tunnelling by user and by program ------------------------------------------------

  /** Sets (replaces) split tunnelling; read back from the kernel. Its rules go at deinit. */
  setSplitTunnel(request: SplitRequest): Promise<SplitState> {
    return this.exclusive(async () => {
      this.requireFeature();
      const state = await this.split.set(request);
      await this.splitChanged(state);
      return state;
    });
  }

  /** Split tunnelling as the kernel has it (`ip -j rule show`, `nft -j list table inet vpnsvc_split`). */
  async splitTunnel(): Promise<SplitState> {
    this.requireFeature();
    return this.split.read();
  }

  /** Removes split tunnelling; nothing to remove is fine. */
  clearSplitTunnel(): Promise<void> {
    return this.exclusive(async () => {
      this.requireFeature();
      await this.removeSplit();
    });
  }

  private async removeSplit(): Promise<void> {
    if (await this.split.clear()) await this.splitChanged(await this.split.read());
  }

  /** A block in force is set again so that it lets the new split's bypassing traffic through. */
  private async splitChanged(state: SplitState): Promise<void> {
    await this.firewall.setBypass(SplitTunnel.bypass(state));
    this.events.emit('split.changed', { data: { mode: state.mode, uids: state.uids, cgroups: state.cgroups } });
  }

  // ---- vpnsvc_update_settings -----------------------------------------------------------------

  /**
   * vpnsvc_update_settings: local address, peer, MTU, then link up. Refuses before touching the
   * kernel when an address is missing, as the seed does.
   */
  updateSettings(name: string): Promise<Interface> {
    return this.exclusive(async () => {
      const iface = this.handle(name);
      const { localIp, remoteIp, mtu, localIp6 } = iface.staged;
      if (localIp === null || remoteIp === null) {
        const unset = [localIp === null && 'localIp', remoteIp === null && 'remoteIp'].filter(Boolean);
        throw invalidParameter(`cannot apply settings of "${name}": ${unset.join(' and ')} not set`);
      }
      native.setLocalAddress(name, localIp);
      native.setPeerAddress(name, remoteIp);
      native.setMtu(name, mtu);
      native.setLinkUp(name, true);
      setAddress6(iface.index, name, localIp6 === null ? null : parseAddress6(localIp6));
      iface.applied6 = localIp6;
      this.log.info({ iface: name, localIp, remoteIp, mtu, localIp6 }, 'settings applied');
      const applied = this.describe(name);
      this.events.emit('settings.applied', {
        interface: name,
        data: { localIp: applied.localIp, remoteIp: applied.remoteIp, mtu: applied.mtu, localIp6: applied.localIp6 },
      });
      await this.restoreRoutes(iface, 'apply');
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
    return this.exclusive(async () => (await this.changeRoutes(name, [route], true, false))[0] as Route);
  }

  /** Bulk vpnsvc_add_route: every route lands, or none does. Answers how many were added. */
  addRoutes(routes: readonly Route[], name?: string): Promise<number> {
    return this.exclusive(async () => (await this.changeRoutes(name, routes, true, true)).length);
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

  /**
   * The full tunnel's policy routing as the kernel has it: the service's table, the mark of its
   * own sockets, its rules (protocol 86), and the kept routes the kernel lacks (pending until
   * the link is up again).
   */
  async routingPolicy(): Promise<RoutingPolicy> {
    const rules = await this.rules.listAll();
    const iface = this.active;
    let pending: Route[] = [];
    if (iface && native.ifIndex(iface.name) === iface.index) {
      const have = new Set(listRoutes(iface.index).map((r) => routeKey(parseRoute(r.address, r.prefix, r.exclude))));
      pending = [...iface.routes.entries()].filter(([k]) => !have.has(k)).map(([, r]) => r);
    }
    return { table: VPN_TABLE, fwmark: VPN_FWMARK, rules, pending };
  }

  /**
   * SO_MARK on one of the daemon's own sockets (the API's listener, so every connection accepted
   * on it, the packet stream's among them): policy routing sends it to the original network, never
   * into the full tunnel, as wg-quick marks its UDP socket.
   */
  markOwnSocket(fd: number): void {
    native.setSocketMark(fd, VPN_FWMARK);
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

  // ---- the whole VPN as one document ----------------------------------------------------------

  /** The effective configuration in the document's form, read back from the kernel, nft and the resolver. */
  getConfig(): Promise<Required<ConfigDocument>> {
    return this.exclusive(async () => toDocument(await this.readState()));
  }

  /**
   * Makes the host match `doc`: checked, planned against the present state, then applied all or
   * nothing (see config-document.ts for the order). Other changing calls wait meanwhile.
   */
  putConfig(doc: ConfigDocument, options: ConfigOptions = {}): Promise<ConfigResult> {
    return this.exclusive(() => this.transact(doc, options));
  }

  /** Keeps the change that awaits confirmation. NO_SUCH_FILE when none does. */
  confirmConfig(): void {
    const pending = this.pending;
    if (!pending) throw noSuchFile('no change awaits confirmation (none was made with confirmWithinS, or it was confirmed or reverted)');
    clearTimeout(pending.timer);
    this.pending = undefined;
    this.events.emit('config.confirmed', { data: { withinS: pending.withinS } });
  }

  // ---- profiles ---------------------------------------------------------------------------------

  listProfiles(): ProfileList {
    return this.store().list();
  }

  getProfile(name: string): Profile {
    return this.store().get(name);
  }

  /** Saves a profile (checked, written atomically); true when it was created. */
  saveProfile(name: string, profile: Profile): boolean {
    return this.store().save(name, profile);
  }

  deleteProfile(name: string): void {
    this.store().remove(name);
  }

  /** Applies a saved profile's document, as putConfig does. */
  upProfile(name: string, options: Omit<ConfigOptions, 'profile'> = {}): Promise<ConfigResult> {
    const profile = this.store().get(name);
    return this.putConfig(documentOf(profile), { ...options, profile: name });
  }

  /**
   * At the daemon's start, before the API serves: applies the always-on profile, planned against
   * what the kernel still holds (after a crash, the block and whatever recovery left). With
   * lockdown its block goes in first, as a change of its own, so it holds while the tunnel comes
   * up and stays when that fails.
   */
  async startAlwaysOn(): Promise<AlwaysOnOutcome | undefined> {
    const found = this.profiles?.alwaysOn();
    if (!found) return undefined;
    const { name, profile } = found;
    const lockdown = profile.lockdown === true;
    return withReason({ source: 'daemon', detail: `always-on profile "${name}"` }, async () => {
      try {
        const block = profile.firewall;
        if (lockdown && block) {
          const vpnInterface = profile.interface?.name;
          await this.exclusive(() => this.transact({ firewall: block }, { profile: name }, vpnInterface));
        }
        await this.putConfig(documentOf(profile), { profile: name });
        return { profile: name, lockdown };
      } catch (err) {
        return { profile: name, lockdown, error: (err as Error).message };
      }
    });
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
      localIp6: this.kernelAddress6(iface.index),
      up: (native.getFlags(name) & native.IFF_UP) !== 0,
      offload: { enabled: iface.tun.offload, features: offloadNames(iface.tun.offloads) },
      staged: { ...iface.staged },
      counters,
    };
  }

  /** Every VPN interface: the active one, or none. */
  list(): Interface[] {
    this.requireFeature();
    return this.active ? [this.describe(this.active.name)] : [];
  }

  // ---- fd passing: vpnsvc_get_iface_fd and vpnsvc_protect for applications ----------------------

  /**
   * A ticket for the fd channel. `holder` (the REST caller as SO_PEERCRED gave it) is the only
   * process that may redeem it; none for a caller over TCP, whose token carries `protect`.
   */
  issueFdTicket(request: FdTicketRequest, holder: TicketHolder | undefined): FdTicket {
    this.requireFeature();
    if (this.fdChannelPath === undefined) {
      throw notSupported('fd passing is off on this daemon (VPNSVC_FD_CHANNEL=off): set VPNSVC_FD_CHANNEL to a socket path');
    }
    if (request.purpose === 'tun-fd') requirePlainFd(this.handle(request.interface));
    else checkInterfaceName(request.interface);
    const issued = this.tickets.issue({ purpose: request.purpose, interface: request.interface, socketFd: request.fd, holder });
    return { ...issued, channel: this.fdChannelPath, purpose: request.purpose, ...(holder && { pid: holder.pid }) };
  }

  /**
   * Redeems a ticket presented on the channel by `peer`. tun-fd: a duplicate of the TUN fd for
   * the channel to pass (and then close). protect: SO_BINDTODEVICE on the socket the peer passed
   * (the option lives on the socket, so the peer's own fd has it).
   */
  redeemFdTicket(ticket: string, peer: TicketHolder, passedFd: number | undefined): { fd?: number } {
    const entry = this.tickets.redeem(ticket, peer);
    if (entry.purpose === 'tun-fd') {
      const iface = requirePlainFd(this.handle(entry.interface));
      const fd = native.dupFd(iface.tun.fd);
      iface.fdHandedOut = true;
      this.events.emit('interface.fd.passed', { interface: iface.name, data: { pid: peer.pid, uid: peer.uid } });
      return { fd };
    }
    if (passedFd === undefined) throw invalidParameter('protect needs the socket passed with the ticket (SCM_RIGHTS)');
    native.protectPassedSocket(passedFd, entry.interface);
    this.events.emit('socket.protected', {
      interface: entry.interface,
      data: { pid: peer.pid, fd: entry.socketFd ?? passedFd, interface: entry.interface },
    });
    return {};
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
    const localIp6 = settings.localIp6 == null ? settings.localIp6 : checkAddress6(settings.localIp6);
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
    if (localIp6 !== undefined) data.localIp6 = iface.staged.localIp6 = localIp6;
    if (session !== undefined) this.storeSession(iface, session);
    if (Object.keys(data).length > 0) this.events.emit('interface.updated', { interface: iface.name, data });
  }

  /** The device's global IPv6 address as the kernel has it ("addr/prefix"), or null. */
  private kernelAddress6(index: number): string | null {
    const first = readAddresses6(index)[0];
    return first ? address6Text(first) : null;
  }

  private storeSession(iface: ActiveInterface, session: string): string {
    iface.session = checkSession(session);
    this.events.emit('session.changed', { interface: iface.name, data: { session: iface.session } });
    return iface.session;
  }

  private async changeRoutes(name: string | undefined, routes: readonly Route[], add: boolean, bulk: boolean): Promise<Route[]> {
    const iface = this.upTarget(name, 'routes');
    const target: RouteTarget = { index: iface.index, name: iface.name };
    const changed = changeRoutes(target, routes, add, bulk);
    try {
      await this.syncPolicy(iface);
    } catch (err) {
      // All or nothing: routes in the VPN's table without their rules would be dead weight.
      changeRoutes(target, changed, !add, true);
      await this.syncPolicy(iface).catch(() => undefined);
      throw err;
    }
    this.keepRoutes(iface, changed, add);
    if (changed.length > 0) this.events.emit(add ? 'route.added' : 'route.removed', { interface: iface.name, data: routesEvent(changed) });
    return changed;
  }

  /** Records what the service keeps through the interface, and watches the link while there is any. */
  private keepRoutes(iface: ActiveInterface, routes: readonly Route[], add: boolean): void {
    for (const r of routes) {
      const key = routeKey(parseRoute(r.address, r.prefix, r.exclude));
      if (add) iface.routes.set(key, r);
      else iface.routes.delete(key);
    }
    if (iface.routes.size > 0 && !iface.monitor) {
      iface.monitor = monitorLinks(
        (change) => {
          if (change.index !== iface.index || !change.up || change.deleted || this.active !== iface) return;
          void withReason({ source: 'kernel', detail: `${iface.name} is up again` }, () =>
            this.exclusive(() => (this.active === iface ? this.restoreRoutes(iface, 'link-up') : undefined)),
          ).catch((err: Error) => this.log.warn({ iface: iface.name, error: err.message }, 'restoring routes failed'));
        },
        (err) => this.log.warn({ error: err.message }, 'cannot watch links (ip monitor): routes are restored at apply only'),
      );
    }
  }

  /** The full tunnel's rules for each family with routes in the VPN's table, and none for the others. */
  private async syncPolicy(iface: ActiveInterface | undefined): Promise<void> {
    const families = iface && native.ifIndex(iface.name) === iface.index ? tableFamilies(iface.index) : new Set<4 | 6>();
    for (const family of [4, 6] as const) {
      if (families.has(family)) await this.rules.installFullTunnel(family);
      else await this.rules.removeFullTunnel(family);
    }
  }

  /**
   * After the link came back up (the kernel deleted the device's routes and IPv6 address when it
   * went down) or at apply: puts back what the service keeps and the kernel lacks, in one batch,
   * and says so in routes.restored.
   */
  private async restoreRoutes(iface: ActiveInterface, cause: 'link-up' | 'apply'): Promise<void> {
    if ((native.getFlags(iface.name) & native.IFF_UP) === 0) return;
    if (iface.applied6 && readAddresses6(iface.index).length === 0) setAddress6(iface.index, iface.name, parseAddress6(iface.applied6));
    if (iface.routes.size === 0) return;
    const have = new Set(listRoutes(iface.index).map((r) => routeKey(parseRoute(r.address, r.prefix, r.exclude))));
    const missing = [...iface.routes.entries()].filter(([k]) => !have.has(k)).map(([, r]) => r);
    if (missing.length === 0) return;
    changeRoutes({ index: iface.index, name: iface.name }, missing, true, true);
    await this.syncPolicy(iface);
    this.log.info({ iface: iface.name, count: missing.length, cause }, 'routes restored');
    this.events.emit('routes.restored', { interface: iface.name, data: { ...routesEvent(missing), cause } });
  }

  private changeDns(
    name: string | undefined,
    type: 'dns.added' | 'dns.removed' | 'dns.domain.added' | 'dns.domain.removed',
    work: (iface: string) => Promise<{ server: string } | { domain: string }>,
  ): Promise<Dns> {
    return this.exclusive(async () => {
      const iface = this.upTarget(name, 'DNS servers and domains');
      const changed = await resolverCall(this.resolver, () => work(iface.name));
      // the kill switch lets DNS reach only the VPN's servers: a block in force follows them
      await this.firewall.followDns(this.dnsSettings.config().servers);
      const view = this.dns();
      this.events.emit(type, { interface: iface.name, data: { ...changed, servers: view.servers, domains: view.domains } });
      return view;
    });
  }

  // ---- the document's internals ---------------------------------------------------------------

  private store(): ProfileStore {
    if (!this.profiles) throw notSupported('profiles need a state directory');
    return this.profiles;
  }

  private async transact(doc: ConfigDocument, options: ConfigOptions, vpnInterfaceHint?: string): Promise<ConfigResult> {
    const dryRun = options.dryRun === true;
    const pending = this.pending;
    if (pending && !dryRun) {
      throw invalidParameter(
        `a change awaits confirmation until ${pending.deadline.toISOString()}: confirm it (POST /config/confirm) or let it revert first`,
      );
    }
    if (doc.interface) this.requireFeature();
    const current = await this.readState();
    if (doc.firewall) await this.firewall.requireNft();
    const steps = plan(current, desiredState(doc, current, this.hostView(), vpnInterfaceHint));
    const ops = steps.map((s) => s.op);
    const profile = options.profile !== undefined ? { profile: options.profile } : {};
    this.events.emit('config.planned', { data: { dryRun, ops, ...profile } });
    if (dryRun) return { dryRun, applied: false, steps: steps.map(publicStep), config: toDocument(current), confirm: null };
    await this.runPlan(steps, options.profile);
    let confirm: ConfigResult['confirm'] = null;
    const withinS = options.confirmWithinS;
    if (withinS !== undefined && steps.length > 0) {
      confirm = this.awaitConfirmation(current, withinS);
    }
    this.events.emit('config.applied', { data: { ops, ...(confirm && { confirmWithinS: confirm.withinS }), ...profile } });
    return { dryRun, applied: steps.length > 0, steps: steps.map(publicStep), config: toDocument(await this.readState()), confirm };
  }

  /** Runs the steps; on a failure every step done is undone and the step's error is thrown, naming it. */
  private async runPlan(steps: readonly PlanStep[], profile?: string): Promise<void> {
    try {
      await runTransaction([...steps.map((s) => this.transactionStep(s)), ...this.blockFollowsDns(steps)]);
    } catch (err) {
      if (!(err instanceof TransactionFailed)) throw err;
      this.events.emit('config.failed', { data: { step: err.step, error: err.error.message, ...(profile !== undefined && { profile }) } });
      this.events.emit('config.rolledBack', { data: { undone: err.undone, failures: err.failures } });
      this.log.warn({ step: err.step, error: err.error.message, undone: err.undone, failures: err.failures }, 'configuration rolled back');
      const after =
        err.failures.length === 0
          ? 'every step done before it was undone'
          : `undoing the steps before it failed too (${err.failures.join('; ')}): the host may differ from before`;
      const kind = err.error instanceof VpnsvcError ? err.error.kind : 'VPNSVC_ERROR_IO_ERROR';
      throw new VpnsvcError(
        kind,
        `${err.step}: ${err.error.message}; ${after}`,
        err.error instanceof VpnsvcError ? err.error.errno : undefined,
      );
    }
  }

  /** The host's present state: the interface and its routes from the kernel, DNS as the backend took it, the block from nft. */
  private async readState(): Promise<VpnState> {
    const active = this.active;
    let iface: ActiveInterface | undefined = active;
    if (active && native.ifIndex(active.name) !== active.index) {
      this.forget(active, 'the device vanished from the kernel');
      iface = undefined;
    }
    let firewall: BlockState | null = null;
    try {
      const fw = await this.firewall.state();
      if (fw.blocked && fw.vpnInterface !== null && fw.originalInterface !== null) {
        firewall = {
          vpnInterface: fw.vpnInterface,
          originalInterface: fw.originalInterface,
          allowVpn: fw.allowVpn,
          allowOriginal: fw.allowOriginal,
          allowLan: fw.allowLan,
        };
      }
    } catch (err) {
      // A host without nft has no block to report; a document that asks for one is refused later.
      if (!(err instanceof VpnsvcError && err.kind === 'VPNSVC_ERROR_NOT_SUPPORTED')) throw err;
    }
    const { servers, domains } = this.dnsSettings.config();
    return {
      interface: iface
        ? {
            name: iface.name,
            localIp: native.getLocalAddress(iface.name),
            remoteIp: native.getPeerAddress(iface.name),
            localIp6: this.kernelAddress6(iface.index),
            mtu: native.getMtu(iface.name),
            session: iface.session,
            blocking: !iface.tun.isNonBlocking(),
          }
        : null,
      routes: iface ? listRoutes(iface.index) : [],
      dns: { servers: [...servers], domains: [...domains] },
      firewall,
    };
  }

  private hostView(): HostView {
    return {
      deviceExists: (name) => native.ifIndex(name) !== undefined,
      resolveBlock: (block, vpnInterface) => this.firewall.resolve(block, vpnInterface),
    };
  }

  /**
   * A plan that changes the DNS servers ends by setting a block in force again with them (the
   * kill switch lets DNS reach only the VPN's servers). Last, so a plan that lifts the block has
   * nothing to follow; a failure undoes the plan, whose block steps then take the old servers.
   */
  private blockFollowsDns(steps: readonly PlanStep[]): TransactionStep[] {
    if (!steps.some((s) => s.op === 'dns.set' || s.op === 'dns.clear')) return [];
    return [{ op: 'firewall.dns', run: () => this.firewall.followDns(this.dnsSettings.config().servers), undo: () => {} }];
  }

  /** How each step runs and is undone, on the facade's own internals (each emits the events its classic call does). */
  private transactionStep(step: PlanStep): TransactionStep {
    const { op } = step;
    switch (step.op) {
      case 'firewall.block':
        return { op, run: () => this.setBlock(step.block), undo: () => (step.previous ? this.setBlock(step.previous) : this.liftBlock()) };
      case 'firewall.unblock':
        return { op, run: () => this.liftBlock(), undo: () => this.setBlock(step.previous) };
      case 'routes.add':
        return { op, run: () => this.documentRoutes(step.routes, true), undo: () => this.documentRoutes(step.routes, false) };
      case 'routes.clear':
      case 'routes.remove':
        return { op, run: () => this.documentRoutes(step.routes, false), undo: () => this.documentRoutes(step.routes, true) };
      case 'dns.clear':
        return {
          op,
          undoOwnFailure: true,
          run: () => this.documentDns({ servers: [], domains: [] }),
          undo: () => this.documentDns(step.previous),
        };
      case 'dns.set':
        return { op, undoOwnFailure: true, run: () => this.documentDns(step.to), undo: () => this.documentDns(step.from) };
      case 'interface.remove':
        return { op, run: () => this.removeActive(step.previous.name), undo: () => this.createInterface(step.previous) };
      case 'interface.create':
        return { op, run: () => this.createInterface(step.iface), undo: () => this.removeActive(step.iface.name) };
      case 'interface.settings':
        return { op, run: () => this.interfaceSettings(step.to, false), undo: () => this.interfaceSettings(step.from, false) };
    }
  }

  private async setBlock(block: BlockState): Promise<void> {
    const { vpnInterface, ...request } = block;
    const state = await this.firewall.block(request, vpnInterface, this.dnsSettings.config().servers);
    this.events.emit('firewall.blocked', { interface: vpnInterface, data: { ...state } });
  }

  private async liftBlock(): Promise<void> {
    await this.firewall.unblock();
    this.events.emit('firewall.unblocked', { data: {} });
  }

  private requireActive(what: string): ActiveInterface {
    const iface = this.active;
    if (!iface) throw noSuchFile(`no VPN interface is active for ${what}`);
    return iface;
  }

  private async documentRoutes(routes: readonly Route[], add: boolean): Promise<void> {
    const iface = this.requireActive('routes');
    const changed = changeRoutes({ index: iface.index, name: iface.name }, routes, add, true);
    await this.syncPolicy(iface);
    this.keepRoutes(iface, changed, add);
    if (changed.length > 0) this.events.emit(add ? 'route.added' : 'route.removed', { interface: iface.name, data: routesEvent(changed) });
  }

  private async documentDns(dns: DnsState): Promise<void> {
    const iface = this.requireActive('DNS');
    await resolverCall(this.resolver, () => this.dnsSettings.replace(iface.name, dns));
  }

  private async removeActive(name: string): Promise<void> {
    const iface = this.requireActive('removal');
    if (iface.name !== name) throw noSuchFile(`VPN interface "${name}" is not the active one ("${iface.name}")`);
    await this.teardown(iface);
  }

  /** A TUN of exactly this name (the plan checked that no other device holds it), set up as the state says. */
  private async createInterface(state: InterfaceState): Promise<void> {
    this.requireFeature();
    const opened = native.tunOpenRaw(state.name);
    if (typeof opened === 'number') throw ioError(`cannot create TUN "${state.name}": ${errnoName(opened)}`);
    const index = native.ifIndex(opened.name);
    if (index === undefined) {
      native.closeFd(opened.fd);
      throw ioError(`TUN "${opened.name}" disappeared right after creation`);
    }
    const iface: ActiveInterface = {
      name: opened.name,
      index,
      tun: tunHandle(opened.name, opened.fd),
      session: DEFAULT_SESSION,
      staged: { mtu: DEFAULT_MTU, localIp: null, remoteIp: null, localIp6: state.localIp6 },
      routes: new Map(),
    };
    this.active = iface;
    this.log.info({ iface: opened.name, index }, 'VPN interface created');
    this.events.emit('interface.created', { interface: opened.name, data: { index, requested: state.name } });
    try {
      this.interfaceSettings(state, true);
    } catch (err) {
      // The step is all or nothing: a half set-up TUN goes with its failure.
      await this.teardown(iface);
      throw err;
    }
  }

  /** Settings of the active interface; addresses only with `addresses` (they are set once, at creation). */
  private interfaceSettings(state: InterfaceState, addresses: boolean): void {
    const iface = this.requireActive('settings');
    const { name } = iface;
    native.setNonBlocking(iface.tun.fd, !state.blocking);
    native.setMtu(name, state.mtu);
    iface.staged = { mtu: state.mtu, localIp: state.localIp, remoteIp: state.remoteIp, localIp6: state.localIp6 };
    this.events.emit('interface.updated', { interface: name, data: { mtu: state.mtu, blocking: state.blocking } });
    if (iface.session !== state.session) this.storeSession(iface, state.session);
    if (addresses && state.localIp !== null && state.remoteIp !== null) {
      native.setLocalAddress(name, state.localIp);
      native.setPeerAddress(name, state.remoteIp);
      native.setLinkUp(name, true);
      setAddress6(iface.index, name, state.localIp6 === null ? null : parseAddress6(state.localIp6));
      iface.applied6 = state.localIp6;
      this.events.emit('settings.applied', {
        interface: name,
        data: { localIp: state.localIp, remoteIp: state.remoteIp, mtu: state.mtu, localIp6: state.localIp6 },
      });
    }
  }

  /** The revert of an unconfirmed change unless confirmConfig() comes in time; the timer does not depend on any connection. */
  private awaitConfirmation(previous: VpnState, withinS: number): NonNullable<ConfigResult['confirm']> {
    const deadline = new Date(Date.now() + withinS * 1000);
    const timer = setTimeout(() => {
      const pending = this.pending;
      if (pending?.timer !== timer) return;
      this.pending = undefined;
      void this.exclusive(() => this.revertNow(pending, `not confirmed within ${withinS} s`));
    }, withinS * 1000);
    timer.unref();
    this.pending = { timer, withinS, deadline, previous };
    return { deadline: deadline.toISOString(), withinS };
  }

  /** Back to the state before the unconfirmed change, as one more transaction; config.reverted says why (and if it failed). */
  private revertNow(pending: PendingConfirmation, why: string): Promise<void> {
    return withReason({ source: 'daemon', detail: why }, async () => {
      try {
        const current = await this.readState();
        await this.runPlan(plan(current, pending.previous));
        this.events.emit('config.reverted', { data: { withinS: pending.withinS } });
        this.log.info({ why }, 'configuration reverted');
      } catch (err) {
        this.events.emit('config.reverted', { data: { withinS: pending.withinS, error: (err as Error).message } });
        this.log.warn({ why, error: (err as Error).message }, 'configuration revert failed');
      }
    });
  }

  private forget(iface: ActiveInterface, why: string): void {
    this.log.warn({ iface: iface.name }, `dropping VPN interface: ${why}`);
    iface.monitor?.close();
    // The device took its own routes; the excluded prefixes and the rules are not the device's.
    void (async () => {
      flushRoutes(iface.index);
      for (const family of [4, 6] as const) await this.rules.removeFullTunnel(family);
      await this.removeSplit();
    })().catch((err: Error) => this.log.warn({ error: err.message }, 'removing the full tunnel of a vanished interface failed'));
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
    iface.monitor?.close();
    iface.routes.clear();
    await step(() => flushRoutes(iface.index));
    await step(async () => {
      for (const family of [4, 6] as const) await this.rules.removeFullTunnel(family);
    });
    await step(() => this.removeSplit());
    await step(() => resolverCall(this.resolver, () => this.dnsSettings.clear()));
    await step(() => this.firewall.followDns([]));
    await step(() => this.packets.release(iface.tun, 'the interface was removed'));
    // An application's copy of the fd would keep the device alive past our close().
    if (iface.fdHandedOut) await step(() => void native.deleteLink(iface.index));
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

/** The names of TUN_F_* bits, as Interface.offload lists them. */
function offloadNames(bits: number): Interface['offload']['features'] {
  return (Object.entries(native.TUN_OFFLOADS) as [keyof typeof native.TUN_OFFLOADS, number][])
    .filter(([, bit]) => (bits & bit) !== 0)
    .map(([name]) => name);
}

/**
 * An application given the fd of a TUN in offload mode would read a virtio_net_hdr before every
 * packet, which no program written against the seed expects.
 */
function requirePlainFd(iface: ActiveInterface): ActiveInterface {
  if (iface.tun.offload) {
    throw notSupported(
      `"${iface.name}" is in offload mode: its fd carries virtio_net_hdr-prefixed super-packets, so it is not handed out (use the packet stream)`,
    );
  }
  return iface;
}
