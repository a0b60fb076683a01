/**
 * The whole VPN as one document: its shape checked (for documents that do not come through the
 * HTTP schema, such as profile files), its values checked against the seed's rules and the host,
 * and the plan that takes the host from its present state to the document's, step by step, in an
 * order that never opens a leak. Pure apart from the host look-ups it is handed: the facade reads
 * the state and runs the steps (transaction.ts).
 */
import type { ConfigChange, ConfigDocument, ConfigStep, NetworkPrefix, Profile, Route } from '../contract/api-types.js';
import { invalidParameter, VpnsvcError } from '../errors/errors.js';
import { checkAddress6 } from './address6.js';
import { MAX_DNS_SERVERS, MAX_SEARCH_DOMAINS } from './dns.js';
import { parseDnsServer, parseSearchDomain } from './dns-spec.js';
import { MAX_ROUTES_PER_CALL } from './ip-routes.js';
import { parseRoute, routeAddress, routeKey, routeText } from './route-spec.js';
import { checkInterfaceName, checkMtu, checkSession, checkUnicastIPv4, DEFAULT_MTU, DEFAULT_SESSION } from './validate.js';

/** The interface part with every field filled in (defaults for what a document leaves out). */
export interface InterfaceState {
  name: string;
  localIp: string | null;
  remoteIp: string | null;
  /** IPv6 address with prefix (dual stack), canonical. */
  localIp6: string | null;
  mtu: number;
  session: string;
  blocking: boolean;
}

export interface BlockState {
  vpnInterface: string;
  originalInterface: string;
  allowVpn: NetworkPrefix[];
  allowOriginal: NetworkPrefix[];
  allowLan: boolean;
}

export interface DnsState {
  servers: string[];
  domains: string[];
}

/** Everything a document manages, as the host has it (or is to have it). */
export interface VpnState {
  interface: InterfaceState | null;
  routes: Route[];
  dns: DnsState;
  firewall: BlockState | null;
}

/** A plan step: what the API shows, plus what the facade needs to run and undo it. */
export type PlanStep = ConfigStep &
  (
    | { op: 'firewall.block'; block: BlockState; previous: BlockState | null }
    | { op: 'firewall.unblock'; previous: BlockState }
    | { op: 'routes.clear' | 'routes.add' | 'routes.remove'; routes: Route[] }
    | { op: 'dns.clear'; previous: DnsState }
    | { op: 'dns.set'; from: DnsState; to: DnsState }
    | { op: 'interface.remove'; previous: InterfaceState }
    | { op: 'interface.create'; iface: InterfaceState }
    | { op: 'interface.settings'; from: InterfaceState; to: InterfaceState }
  );

/** What the checks need to know about the host. */
export interface HostView {
  /** Whether a network device of this name exists now. */
  deviceExists(name: string): boolean;
  /** The allow lists canonical and the original interface resolved, as the kill switch would set them. */
  resolveBlock(
    block: { allowVpn: NetworkPrefix[]; allowOriginal: NetworkPrefix[]; originalInterface?: string; allowLan?: boolean },
    vpnInterface: string,
  ): BlockState;
}

// ---- shape ------------------------------------------------------------------------------------

type Obj = Record<string, unknown>;

function object(value: unknown, where: string, allowed: readonly string[]): Obj {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidParameter(`${where} must be an object`);
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw invalidParameter(`${where} has an unknown field "${key}" (allowed: ${allowed.join(', ')})`);
  }
  return value as Obj;
}

function array(value: unknown, where: string, max: number): unknown[] {
  if (!Array.isArray(value)) throw invalidParameter(`${where} must be a list`);
  if (value.length > max) throw invalidParameter(`${where} has ${value.length} entries: at most ${max}`);
  return value;
}

function typed<T>(value: unknown, type: 'string' | 'number' | 'boolean', where: string, nullable = false): T {
  if (nullable && value === null) return value as T;
  if (typeof value !== type) throw invalidParameter(`${where} must be a ${type}${nullable ? ' or null' : ''}`);
  return value as T;
}

function prefixList(value: unknown, where: string): NetworkPrefix[] {
  return array(value, where, 255).map((e, i) => {
    const o = object(e, `${where}[${i}]`, ['address', 'prefix']);
    return {
      address: typed<string>(o.address, 'string', `${where}[${i}].address`),
      prefix: typed<number>(o.prefix, 'number', `${where}[${i}].prefix`),
    };
  });
}

const DOCUMENT_PARTS = ['interface', 'routes', 'dns', 'firewall'] as const;

function documentParts(o: Obj, where: string): ConfigDocument {
  const doc: ConfigDocument = {};
  if (o.interface !== undefined) {
    if (o.interface === null) doc.interface = null;
    else {
      const i = object(o.interface, `${where}interface`, ['name', 'localIp', 'remoteIp', 'localIp6', 'mtu', 'session', 'blocking']);
      doc.interface = {
        name: typed<string>(i.name, 'string', `${where}interface.name`),
        ...(i.localIp !== undefined && { localIp: typed<string | null>(i.localIp, 'string', `${where}interface.localIp`, true) }),
        ...(i.remoteIp !== undefined && { remoteIp: typed<string | null>(i.remoteIp, 'string', `${where}interface.remoteIp`, true) }),
        ...(i.localIp6 !== undefined && { localIp6: typed<string | null>(i.localIp6, 'string', `${where}interface.localIp6`, true) }),
        ...(i.mtu !== undefined && { mtu: typed<number>(i.mtu, 'number', `${where}interface.mtu`) }),
        ...(i.session !== undefined && { session: typed<string>(i.session, 'string', `${where}interface.session`) }),
        ...(i.blocking !== undefined && { blocking: typed<boolean>(i.blocking, 'boolean', `${where}interface.blocking`) }),
      };
    }
  }
  if (o.routes !== undefined) {
    doc.routes = array(o.routes, `${where}routes`, MAX_ROUTES_PER_CALL).map((r, i) => {
      const route = object(r, `${where}routes[${i}]`, ['address', 'prefix', 'exclude']);
      return {
        address: typed<string>(route.address, 'string', `${where}routes[${i}].address`),
        prefix: typed<number>(route.prefix, 'number', `${where}routes[${i}].prefix`),
        ...(route.exclude !== undefined && { exclude: typed<boolean>(route.exclude, 'boolean', `${where}routes[${i}].exclude`) }),
      };
    });
  }
  if (o.dns !== undefined) {
    const d = object(o.dns, `${where}dns`, ['servers', 'domains']);
    doc.dns = {
      ...(d.servers !== undefined && {
        servers: array(d.servers, `${where}dns.servers`, MAX_DNS_SERVERS).map((s, i) =>
          typed<string>(s, 'string', `${where}dns.servers[${i}]`),
        ),
      }),
      ...(d.domains !== undefined && {
        domains: array(d.domains, `${where}dns.domains`, MAX_SEARCH_DOMAINS).map((s, i) =>
          typed<string>(s, 'string', `${where}dns.domains[${i}]`),
        ),
      }),
    };
  }
  if (o.firewall !== undefined) {
    if (o.firewall === null) doc.firewall = null;
    else {
      const f = object(o.firewall, `${where}firewall`, ['allowVpn', 'allowOriginal', 'originalInterface', 'allowLan']);
      doc.firewall = {
        allowVpn: prefixList(f.allowVpn, `${where}firewall.allowVpn`),
        allowOriginal: prefixList(f.allowOriginal, `${where}firewall.allowOriginal`),
        ...(f.originalInterface !== undefined && {
          originalInterface: typed<string>(f.originalInterface, 'string', `${where}firewall.originalInterface`),
        }),
        ...(f.allowLan !== undefined && { allowLan: typed<boolean>(f.allowLan, 'boolean', `${where}firewall.allowLan`) }),
      };
    }
  }
  return doc;
}

/** A document from outside the HTTP schema (a file): its shape, unknown fields refused. */
export function parseDocument(value: unknown, where = ''): ConfigDocument {
  return documentParts(object(value, where || 'the document', DOCUMENT_PARTS), where);
}

/** A profile from a file: a document plus the alwaysOn and lockdown flags. */
export function parseProfile(value: unknown, where = ''): Profile {
  const o = object(value, where || 'the profile', [...DOCUMENT_PARTS, 'alwaysOn', 'lockdown']);
  return {
    ...(o.alwaysOn !== undefined && { alwaysOn: typed<boolean>(o.alwaysOn, 'boolean', `${where}alwaysOn`) }),
    ...(o.lockdown !== undefined && { lockdown: typed<boolean>(o.lockdown, 'boolean', `${where}lockdown`) }),
    ...documentParts(o, where),
  };
}

/** The document part of a profile. */
export function documentOf(profile: Profile): ConfigDocument {
  const { alwaysOn: _a, lockdown: _l, ...doc } = profile;
  return doc;
}

// ---- values -----------------------------------------------------------------------------------

/** Runs a check, prefixing its INVALID_PARAMETER message with the part of the document it is about. */
function at<T>(where: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof VpnsvcError && err.kind === 'VPNSVC_ERROR_INVALID_PARAMETER') throw invalidParameter(`${where}: ${err.message}`);
    throw err;
  }
}

function checkRoutes(routes: readonly Route[]): Route[] {
  const seen = new Map<string, number>();
  return routes.map((r, i) => {
    const spec = at(`routes[${i}]`, () => parseRoute(r.address, r.prefix, r.exclude));
    const first = seen.get(routeKey(spec));
    if (first !== undefined) throw invalidParameter(`routes[${i}]: ${routeText(spec)} repeats routes[${first}]`);
    seen.set(routeKey(spec), i);
    return { address: routeAddress(spec), prefix: spec.prefix, ...(spec.exclude === true && { exclude: true }) };
  });
}

function checkDns(dns: { servers?: string[]; domains?: string[] }): DnsState {
  const unique = (list: readonly string[], what: string, parse: (s: string) => string): string[] => {
    const out: string[] = [];
    list.forEach((s, i) => {
      const canonical = at(`dns.${what}[${i}]`, () => parse(s));
      const first = out.indexOf(canonical);
      if (first >= 0) throw invalidParameter(`dns.${what}[${i}]: ${canonical} repeats dns.${what}[${first}]`);
      out.push(canonical);
    });
    return out;
  };
  return {
    servers: unique(dns.servers ?? [], 'servers', parseDnsServer),
    domains: unique(dns.domains ?? [], 'domains', parseSearchDomain),
  };
}

function checkInterface(i: NonNullable<ConfigDocument['interface']>): InterfaceState {
  const name = at('interface.name', () => checkInterfaceName(i.name));
  const localIp = i.localIp ?? null;
  const remoteIp = i.remoteIp ?? null;
  if ((localIp === null) !== (remoteIp === null)) {
    throw invalidParameter('interface: give both localIp and remoteIp (the link comes up with both) or neither');
  }
  if (localIp !== null) at('interface.localIp', () => checkUnicastIPv4(localIp, 'local address'));
  if (remoteIp !== null) at('interface.remoteIp', () => checkUnicastIPv4(remoteIp, 'remote address'));
  const given6 = i.localIp6 ?? null;
  if (given6 !== null && localIp === null) throw invalidParameter('interface.localIp6: needs the link up: give localIp and remoteIp too');
  const localIp6 = given6 === null ? null : at('interface.localIp6', () => checkAddress6(given6));
  return {
    name,
    localIp,
    remoteIp,
    localIp6,
    mtu: i.mtu === undefined ? DEFAULT_MTU : at('interface.mtu', () => checkMtu(i.mtu as number)),
    session: i.session === undefined ? DEFAULT_SESSION : at('interface.session', () => checkSession(i.session as string)),
    blocking: i.blocking ?? true,
  };
}

/** Is the interface up (addressed), which routes and DNS need? */
const isUp = (i: InterfaceState | null): boolean => i !== null && i.localIp !== null && i.remoteIp !== null;

/**
 * The checks a profile gets when it is saved: everything that does not depend on the host. A
 * profile with lockdown must say which block holds while its tunnel is not up.
 */
export function checkProfile(profile: Profile): void {
  const doc = documentOf(profile);
  const iface = doc.interface ? checkInterface(doc.interface) : doc.interface;
  if (doc.routes) checkRoutes(doc.routes);
  if (doc.dns) checkDns(doc.dns);
  if (profile.lockdown) {
    if (!profile.alwaysOn) throw invalidParameter('lockdown: only an alwaysOn profile can have lockdown');
    if (!doc.firewall) throw invalidParameter('lockdown: needs a firewall part, the block that holds until the tunnel is up');
    if (!iface) throw invalidParameter('lockdown: needs an interface part, the tunnel the block lets through');
  }
}

/**
 * The state a document asks for, every value checked (against the host too) before anything is
 * touched; a part the document leaves out is taken from `current` (not managed). The block's
 * VPN interface is the document's interface, else `vpnInterfaceHint`, else the present block's.
 */
export function desiredState(doc: ConfigDocument, current: VpnState, host: HostView, vpnInterfaceHint?: string): VpnState {
  let iface = current.interface;
  if (doc.interface !== undefined) {
    iface = doc.interface === null ? null : checkInterface(doc.interface);
    if (iface && iface.name !== current.interface?.name && host.deviceExists(iface.name)) {
      throw invalidParameter(`interface.name: "${iface.name}" is taken by another device on this host (not vpnsvc's)`);
    }
  }
  const replaced = iface?.name !== current.interface?.name || addressesChange(current.interface, iface);
  // Routes and DNS belong to the interface: a new one starts without them unless the document gives them.
  const routes = doc.routes ? checkRoutes(doc.routes) : replaced ? [] : current.routes;
  const dns = doc.dns ? checkDns(doc.dns) : replaced ? { servers: [], domains: [] } : current.dns;
  if ((routes.length > 0 || dns.servers.length > 0 || dns.domains.length > 0) && !isUp(iface)) {
    const part = routes.length > 0 ? 'routes' : 'dns';
    throw invalidParameter(
      iface
        ? `${part}: need interface "${iface.name}" up: give interface.localIp and interface.remoteIp`
        : `${part}: need a VPN interface: give the interface part`,
    );
  }
  let firewall = current.firewall;
  if (doc.firewall !== undefined) {
    if (doc.firewall === null) firewall = null;
    else {
      const vpnInterface = iface?.name ?? vpnInterfaceHint ?? current.firewall?.vpnInterface;
      if (vpnInterface === undefined) throw invalidParameter('firewall: needs the VPN interface it lets through: give the interface part');
      const block = doc.firewall;
      firewall = at('firewall', () => host.resolveBlock(block, vpnInterface));
    }
  }
  return { interface: iface, routes, dns, firewall };
}

// ---- the plan ---------------------------------------------------------------------------------

/** A change of addresses (or of whether there are any) re-creates the interface: the kernel keeps no history of them to undo. */
function addressesChange(from: InterfaceState | null, to: InterfaceState | null): boolean {
  return from !== null && to !== null && (from.localIp !== to.localIp || from.remoteIp !== to.remoteIp || from.localIp6 !== to.localIp6);
}

const prefixText = (p: NetworkPrefix) => `${p.address}/${p.prefix}`;
const sortedTexts = (list: readonly NetworkPrefix[]) => list.map(prefixText).sort();
const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

function sameBlock(a: BlockState | null, b: BlockState | null): boolean {
  if (a === null || b === null) return a === b;
  return (
    a.vpnInterface === b.vpnInterface &&
    a.originalInterface === b.originalInterface &&
    a.allowLan === b.allowLan &&
    sameList(sortedTexts(a.allowVpn), sortedTexts(b.allowVpn)) &&
    sameList(sortedTexts(a.allowOriginal), sortedTexts(b.allowOriginal))
  );
}

function blockChanges(from: BlockState | null, to: BlockState | null): ConfigChange[] {
  const out: ConfigChange[] = [];
  const field = (what: string, f: string | null, t: string | null) => {
    if (f !== t) out.push({ what: `firewall ${what}`, from: f, to: t });
  };
  field('vpnInterface', from?.vpnInterface ?? null, to?.vpnInterface ?? null);
  field('originalInterface', from?.originalInterface ?? null, to?.originalInterface ?? null);
  field('allowLan', from ? String(from.allowLan) : null, to ? String(to.allowLan) : null);
  for (const list of ['allowVpn', 'allowOriginal'] as const) {
    const f = from ? sortedTexts(from[list]) : [];
    const t = to ? sortedTexts(to[list]) : [];
    for (const x of f) if (!t.includes(x)) out.push({ what: `firewall ${list}`, from: x, to: null });
    for (const x of t) if (!f.includes(x)) out.push({ what: `firewall ${list}`, from: null, to: x });
  }
  return out;
}

const INTERFACE_FIELDS = ['localIp', 'remoteIp', 'localIp6', 'mtu', 'session', 'blocking'] as const;

function interfaceChanges(from: InterfaceState | null, to: InterfaceState | null): ConfigChange[] {
  const name = (to ?? from)?.name ?? '';
  const text = (i: InterfaceState | null, f: (typeof INTERFACE_FIELDS)[number]) => (i === null || i[f] === null ? null : String(i[f]));
  return INTERFACE_FIELDS.filter((f) => text(from, f) !== text(to, f)).map((f) => ({
    what: `interface ${name} ${f}`,
    from: text(from, f),
    to: text(to, f),
  }));
}

const routeLabel = (r: Route) => `${r.address}/${r.prefix}${r.exclude === true ? ' excluded' : ''}`;

function dnsChanges(from: DnsState, to: DnsState): ConfigChange[] {
  const out: ConfigChange[] = [];
  for (const what of ['servers', 'domains'] as const) {
    if (sameList(from[what], to[what])) continue;
    out.push({
      what: `dns ${what}`,
      from: from[what].length ? from[what].join(', ') : null,
      to: to[what].length ? to[what].join(', ') : null,
    });
  }
  return out;
}

const sameDns = (a: DnsState, b: DnsState) => sameList(a.servers, b.servers) && sameList(a.domains, b.domains);

/**
 * The steps from `current` to `desired`, in the order they run. A new or changed block goes in
 * first and a lifted one comes out last, so traffic is never less restricted than both the old
 * and the new state allow; the old interface's routes and DNS leave before it does; routes are
 * added before the ones that go are removed, so traffic that stays in the tunnel never falls
 * back to the original interface.
 */
export function plan(current: VpnState, desired: VpnState): PlanStep[] {
  const steps: PlanStep[] = [];
  if (desired.firewall && !sameBlock(current.firewall, desired.firewall)) {
    steps.push({
      op: 'firewall.block',
      part: 'firewall',
      action: current.firewall ? 'change' : 'add',
      summary: `${current.firewall ? 'replace the block' : 'block'} all but the allowed networks (VPN interface ${desired.firewall.vpnInterface}, original ${desired.firewall.originalInterface})`,
      changes: blockChanges(current.firewall, desired.firewall),
      block: desired.firewall,
      previous: current.firewall,
    });
  }
  const from = current.interface;
  const to = desired.interface;
  const replace = from !== null && (to === null || to.name !== from.name || addressesChange(from, to));
  let routesNow = current.routes;
  let dnsNow = current.dns;
  if (replace && from) {
    if (routesNow.length > 0) {
      steps.push({
        op: 'routes.clear',
        part: 'routes',
        action: 'remove',
        summary: `remove the ${routesNow.length} routes through ${from.name}`,
        changes: routesNow.map((r) => ({ what: `route ${routeLabel(r)}`, from: routeLabel(r), to: null })),
        routes: routesNow,
      });
    }
    if (dnsNow.servers.length > 0 || dnsNow.domains.length > 0) {
      steps.push({
        op: 'dns.clear',
        part: 'dns',
        action: 'remove',
        summary: `take the DNS settings of ${from.name} out of the resolver`,
        changes: dnsChanges(dnsNow, { servers: [], domains: [] }),
        previous: dnsNow,
      });
    }
    steps.push({
      op: 'interface.remove',
      part: 'interface',
      action: 'remove',
      summary: `remove the VPN interface ${from.name}`,
      changes: [{ what: `interface ${from.name}`, from: from.name, to: null }, ...interfaceChanges(from, null)],
      previous: from,
    });
    routesNow = [];
    dnsNow = { servers: [], domains: [] };
  }
  if (to && (from === null || replace)) {
    steps.push({
      op: 'interface.create',
      part: 'interface',
      action: 'add',
      summary: `create the VPN interface ${to.name}${isUp(to) ? ' and bring it up' : ''}`,
      changes: [{ what: `interface ${to.name}`, from: null, to: to.name }, ...interfaceChanges(null, to)],
      iface: to,
    });
  } else if (to && from) {
    const changes = interfaceChanges(from, to);
    if (changes.length > 0) {
      steps.push({
        op: 'interface.settings',
        part: 'interface',
        action: 'change',
        summary: `change the settings of ${to.name}`,
        changes,
        from,
        to,
      });
    }
  }
  const keys = (routes: readonly Route[]) => new Set(routes.map(routeLabel));
  const nowKeys = keys(routesNow);
  const wantKeys = keys(desired.routes);
  const add = desired.routes.filter((r) => !nowKeys.has(routeLabel(r)));
  const remove = routesNow.filter((r) => !wantKeys.has(routeLabel(r)));
  const through = to?.name ?? '';
  if (add.length > 0) {
    steps.push({
      op: 'routes.add',
      part: 'routes',
      action: 'add',
      summary: `add ${add.length} route${add.length === 1 ? '' : 's'} through ${through}`,
      changes: add.map((r) => ({ what: `route ${routeLabel(r)}`, from: null, to: routeLabel(r) })),
      routes: add,
    });
  }
  if (remove.length > 0) {
    steps.push({
      op: 'routes.remove',
      part: 'routes',
      action: 'remove',
      summary: `remove ${remove.length} route${remove.length === 1 ? '' : 's'} through ${through}`,
      changes: remove.map((r) => ({ what: `route ${routeLabel(r)}`, from: routeLabel(r), to: null })),
      routes: remove,
    });
  }
  if (to && !sameDns(dnsNow, desired.dns)) {
    const empty = desired.dns.servers.length === 0 && desired.dns.domains.length === 0;
    steps.push({
      op: 'dns.set',
      part: 'dns',
      action: empty ? 'remove' : dnsNow.servers.length === 0 && dnsNow.domains.length === 0 ? 'add' : 'change',
      summary: `set the DNS servers and domains of ${to.name}`,
      changes: dnsChanges(dnsNow, desired.dns),
      from: dnsNow,
      to: desired.dns,
    });
  }
  if (!desired.firewall && current.firewall) {
    steps.push({
      op: 'firewall.unblock',
      part: 'firewall',
      action: 'remove',
      summary: 'lift the block',
      changes: blockChanges(current.firewall, null),
      previous: current.firewall,
    });
  }
  return steps;
}

/** The API's form of a step (what it runs with stays inside the engine). */
export function publicStep(step: PlanStep): ConfigStep {
  return { op: step.op, part: step.part, action: step.action, summary: step.summary, changes: step.changes };
}

/** The state in the document's form, every part present. */
export function toDocument(state: VpnState): Required<ConfigDocument> {
  return {
    interface: state.interface ? { ...state.interface } : null,
    routes: state.routes.map((r) => ({ ...r })),
    dns: { servers: [...state.dns.servers], domains: [...state.dns.domains] },
    firewall: state.firewall
      ? {
          allowVpn: state.firewall.allowVpn.map((p) => ({ ...p })),
          allowOriginal: state.firewall.allowOriginal.map((p) => ({ ...p })),
          originalInterface: state.firewall.originalInterface,
          allowLan: state.firewall.allowLan,
        }
      : null,
  };
}
