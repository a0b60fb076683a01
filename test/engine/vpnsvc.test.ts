/**
 * The engine's facade driven directly, one seed function at a time, on the real kernel inside
 * the test namespace: the daemon's own house (build(t)) without HTTP. Every outcome is read back
 * from the kernel (`ip -j`, /proc), not from the facade's memory; every call's events are checked.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { FRAMING_BATCH } from '../../src/dataplane/framing.js';
import { type VpnEvent, withReason } from '../../src/engine/events.js';
import { featureSupport } from '../../src/engine/features.js';
import { KillSwitch } from '../../src/engine/kill-switch.js';
import { EVENT_ROUTES_MAX, Vpnsvc } from '../../src/engine/vpnsvc.js';
import { type ErrorName, VpnsvcError } from '../../src/errors/errors.js';
import { probeHost } from '../../src/system/host.js';
import { NftFirewall } from '../../src/system/nft.js';
import { createResolverBackend } from '../../src/system/resolver/detect.js';
import { type Built, build, silentLog, USER_RESOLV_CONF } from '../helpers/app.js';
import { PacketSocketStub } from '../helpers/fake-tun.js';
import { addresses, fdFlags, ip, ipJson, kernelTestOptions, link } from '../helpers/kernel.js';
import { ipv4Udp, readIpv4Udp, splitBatch } from '../helpers/packets.js';
import { privateNft } from '../helpers/private-nft.js';

const O_NONBLOCK = 0o4000;
const LOCAL = '10.180.0.1';
const PEER = '10.180.0.2';
const NAMES = ['vsu0', 'vsu1', 'vsu2', 'vsufw0', 'vsutaken'];

interface IpRoute {
  dst: string;
  dev?: string;
  protocol?: string;
}

/** vpnsvc's routes (protocol 86) through `dev`, as `ip -j` shows them. */
function kernelRoutes(dev: string): string[] {
  return [
    ...ipJson<IpRoute[]>('route', 'show', 'dev', dev, 'proto', '86').map((r) => r.dst),
    ...ipJson<IpRoute[]>('-6', 'route', 'show', 'dev', dev, 'proto', '86').map((r) => r.dst),
  ].sort();
}

function isError(kind: ErrorName, message?: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof VpnsvcError, `a VpnsvcError, got ${String(err)}`);
    assert.equal(err.kind, kind);
    if (message) assert.match(err.message, message);
    return true;
  };
}

interface HolderOptions {
  /** the command it runs under (another network namespace) */
  prefix?: string[];
  uid?: number;
  /** a network namespace to move to once the socket is made */
  enter?: string;
}

interface Holder {
  pid: number;
  fd: number;
  /** the socket's SO_BINDTODEVICE as the kernel reports it ('' when unbound) */
  boundTo(): Promise<string>;
  stop(): void;
}

const HOLDER = `
import ctypes, os, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if len(sys.argv) > 1:
    ns = os.open(sys.argv[1], os.O_RDONLY)
    if ctypes.CDLL(None, use_errno=True).setns(ns, 0x40000000) != 0:
        sys.exit('setns failed')
print(os.getpid(), s.fileno(), flush=True)
for line in sys.stdin:
    print(s.getsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, 16).rstrip(b'\\0').decode(), flush=True)
`;

/** Another process holding a UDP socket, answering what the socket is bound to. */
async function socketHolder({ prefix = [], uid, enter }: HolderOptions = {}): Promise<Holder> {
  const argv = [...prefix, 'python3', '-c', HOLDER, ...(enter ? [enter] : [])];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'], ...(uid !== undefined && { uid, gid: uid }) });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const [pid, fd] = String((await lines.next()).value)
    .split(' ')
    .map(Number) as [number, number];
  return {
    pid,
    fd,
    boundTo: async () => {
      child.stdin.write('?\n');
      return String((await lines.next()).value);
    },
    stop: () => child.kill('SIGKILL'),
  };
}

/** What the facade emitted, without the bookkeeping (seq, epoch, time). */
function brief(events: VpnEvent[]): Array<Pick<VpnEvent, 'type' | 'interface' | 'data' | 'reason'>> {
  return events.map(({ type, interface: iface, data, reason }) => ({
    type,
    ...(iface !== undefined && { interface: iface }),
    data,
    reason,
  }));
}

const DAEMON = { source: 'daemon' } as const;

interface House extends Built {
  events: VpnEvent[];
}

async function house(t: TestContext): Promise<House> {
  const built = await build(t);
  const events: VpnEvent[] = [];
  t.after(built.vpnsvc.events.subscribe((e) => events.push(e)));
  return { ...built, events };
}

/** A house with `name` created, addressed and applied (what routes and DNS need); events cleared. */
async function upHouse(t: TestContext, name: string, opts: { ipv6?: boolean } = {}): Promise<House> {
  const h = await house(t);
  await h.vpnsvc.init(name);
  // IPv6 has the kernel send router solicitations into the TUN at random moments.
  const ipv6 = `/proc/sys/net/ipv6/conf/${name}/disable_ipv6`;
  if (opts.ipv6 === false && existsSync(ipv6)) writeFileSync(ipv6, '1');
  h.vpnsvc.setLocalIpAddress(name, LOCAL);
  h.vpnsvc.setRemoteIpAddress(name, PEER);
  await h.vpnsvc.updateSettings(name);
  h.events.length = 0;
  return h;
}

test('without the VPN feature every call is NOT_SUPPORTED, naming the feature and what is missing', async (t) => {
  const { vpnsvc } = await build(t, { support: { missing: () => ['no TUN device in this test'] } });
  const unsupported = isError('VPNSVC_ERROR_NOT_SUPPORTED', /http:\/\/tizen\.org\/feature\/network\.vpn.*no TUN device in this test/);
  await assert.rejects(vpnsvc.init('vsu0'), unsupported);
  await assert.rejects(vpnsvc.deinit('vsu0'), unsupported);
  assert.throws(() => vpnsvc.getIfaceIndex('vsu0'), unsupported);
  assert.throws(() => vpnsvc.list(), unsupported);
});

describe('the facade on the kernel', kernelTestOptions(), () => {
  after(() => {
    for (const l of ipJson<Array<{ ifname: string }>>('link')) {
      if (NAMES.includes(l.ifname) || /^vsutaken\d+$/.test(l.ifname)) ip('link', 'delete', l.ifname);
    }
  });

  describe('vpnsvc_init', () => {
    test('creates the TUN the kernel shows; the getters answer from it; interface.created says so', async (t) => {
      const { vpnsvc, events } = await house(t);
      const iface = await withReason({ source: 'api', requestId: 'req-1' }, () => vpnsvc.init('vsu0'));
      const kernel = link('vsu0');
      assert.ok(kernel, 'ip link shows vsu0');
      assert.equal(kernel.link_type, 'none', 'a TUN has no link-layer type');
      assert.ok(!kernel.flags.includes('UP'), 'down until update_settings');
      assert.equal(vpnsvc.getIfaceIndex('vsu0'), kernel.ifindex);
      assert.equal(iface.index, kernel.ifindex);
      assert.equal(vpnsvc.getIfaceName('vsu0'), 'vsu0');
      const fd = vpnsvc.getIfaceFd('vsu0');
      assert.equal(iface.fd, fd);
      assert.equal(readlinkSync(`/proc/self/fd/${fd}`), '/dev/net/tun', 'the fd is the TUN, open in this process');
      assert.equal(fdFlags(fd) & O_NONBLOCK, 0, 'blocking by default, as in the seed');
      assert.deepEqual(brief(events), [
        {
          type: 'interface.created',
          interface: 'vsu0',
          data: { index: kernel.ifindex, requested: 'vsu0' },
          reason: { source: 'api', requestId: 'req-1' },
        },
      ]);
      assert.throws(
        () => vpnsvc.getIfaceIndex('vsu1'),
        isError('VPNSVC_ERROR_NO_SUCH_FILE', /no VPN interface "vsu1" \(the active one is "vsu0"\)/),
      );
    });

    test('a name someone else holds yields another name, read back with getIfaceName', async (t) => {
      const { vpnsvc, events } = await house(t);
      ip('tuntap', 'add', 'dev', 'vsutaken', 'mode', 'tun');
      t.after(() => {
        if (link('vsutaken')) ip('link', 'delete', 'vsutaken');
      });
      const other = link('vsutaken')?.ifindex;
      const { name } = await vpnsvc.init('vsutaken');
      assert.match(name, /^vsutaken\d+$/);
      assert.equal(vpnsvc.getIfaceName(name), name);
      assert.equal(link(name)?.ifindex, vpnsvc.getIfaceIndex(name), 'the actual name is in the kernel');
      assert.equal(link('vsutaken')?.ifindex, other, 'the other interface is untouched');
      assert.throws(() => vpnsvc.getIfaceName('vsutaken'), isError('VPNSVC_ERROR_NO_SUCH_FILE'));
      assert.deepEqual(brief(events), [
        { type: 'interface.created', interface: name, data: { index: vpnsvc.getIfaceIndex(name), requested: 'vsutaken' }, reason: DAEMON },
      ]);
      await vpnsvc.deinit(name);
      assert.equal(link('vsutaken')?.ifindex, other, 'deinit leaves the other interface alone');
    });

    test('a second init replaces the first: the old device is gone from the kernel', async (t) => {
      const { vpnsvc, events } = await house(t);
      const first = await vpnsvc.init('vsu1');
      const second = await vpnsvc.init('vsu2');
      assert.equal(link('vsu1'), undefined);
      assert.equal(link('vsu2')?.ifindex, second.index);
      assert.equal(vpnsvc.activeName(), 'vsu2');
      assert.throws(() => vpnsvc.getIfaceFd('vsu1'), isError('VPNSVC_ERROR_NO_SUCH_FILE'));
      const again = await vpnsvc.init('vsu2');
      assert.notEqual(again.index, second.index, 'the same name again is a new device');
      assert.equal(link('vsu2')?.ifindex, again.index);
      assert.deepEqual(brief(events), [
        { type: 'interface.created', interface: 'vsu1', data: { index: first.index, requested: 'vsu1' }, reason: DAEMON },
        { type: 'interface.removed', interface: 'vsu1', data: { index: first.index }, reason: DAEMON },
        {
          type: 'interface.replaced',
          interface: 'vsu2',
          data: { index: second.index, requested: 'vsu2', replaced: 'vsu1' },
          reason: DAEMON,
        },
        { type: 'interface.removed', interface: 'vsu2', data: { index: second.index }, reason: DAEMON },
        {
          type: 'interface.replaced',
          interface: 'vsu2',
          data: { index: again.index, requested: 'vsu2', replaced: 'vsu2' },
          reason: DAEMON,
        },
      ]);
    });

    test('an invalid name is INVALID_PARAMETER and the active interface stays', async (t) => {
      const { vpnsvc, events } = await house(t);
      const active = await vpnsvc.init('vsu0');
      events.length = 0;
      for (const bad of ['', '-vsu0', '.vsu', 'vsu 0', 'vsu/0', 'vsu%d', 'x'.repeat(16)]) {
        await assert.rejects(
          vpnsvc.init(bad),
          isError('VPNSVC_ERROR_INVALID_PARAMETER', /^interface name ".*" is invalid/),
          JSON.stringify(bad),
        );
      }
      assert.equal(link('vsu0')?.ifindex, active.index, 'refused before anything was torn down');
      assert.equal(vpnsvc.activeName(), 'vsu0');
      assert.equal(events.length, 0);
    });
  });

  describe('vpnsvc_deinit', () => {
    test('undoes routes and DNS, closes the device; a second deinit is NO_SUCH_FILE', async (t) => {
      const { vpnsvc, events, resolvConf } = await upHouse(t, 'vsu0');
      await vpnsvc.addRoutes([
        { address: '10.180.16.0', prefix: 24 },
        { address: 'fd00:180:0:16::', prefix: 64 },
      ]);
      await vpnsvc.addDnsServer('10.180.0.53');
      assert.deepEqual(kernelRoutes('vsu0'), ['10.180.16.0/24', 'fd00:180:0:16::/64']);
      assert.notEqual(readFileSync(resolvConf, 'utf8'), USER_RESOLV_CONF);
      const index = vpnsvc.getIfaceIndex('vsu0');
      events.length = 0;

      await vpnsvc.deinit('vsu0');
      assert.equal(link('vsu0'), undefined);
      assert.deepEqual(ipJson('route', 'show', '10.180.16.0/24'), []);
      assert.deepEqual(ipJson('-6', 'route', 'show', 'fd00:180:0:16::/64'), []);
      assert.equal(readFileSync(resolvConf, 'utf8'), USER_RESOLV_CONF, 'the user file, byte for byte');
      assert.deepEqual(
        brief(events),
        [{ type: 'interface.removed', interface: 'vsu0', data: { index }, reason: DAEMON }],
        'no cleanup failures',
      );
      assert.equal(vpnsvc.activeName(), undefined);
      assert.deepEqual(vpnsvc.dns().servers, []);

      await assert.rejects(vpnsvc.deinit('vsu0'), isError('VPNSVC_ERROR_NO_SUCH_FILE', /no VPN interface "vsu0"/));
      await assert.rejects(vpnsvc.deinit('vsu 0'), isError('VPNSVC_ERROR_INVALID_PARAMETER', /is invalid/));
      assert.throws(() => vpnsvc.getSession(), isError('VPNSVC_ERROR_NO_SUCH_FILE', /no VPN interface is active/));
    });

    test('does not lift the block, as in the seed; unblock does (nft on a private namespace)', async (t) => {
      // Not build(t): its kill switch runs nft in the shared test namespace, where a block would
      // cut off the tests running beside this one.
      const nft = privateNft('vsvc');
      const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-facade-'));
      const resolvConf = join(dir, 'resolv.conf');
      writeFileSync(resolvConf, USER_RESOLV_CONF);
      const vpnsvc = new Vpnsvc({
        support: featureSupport(await probeHost()),
        log: silentLog,
        resolver: createResolverBackend({
          env: { VPNSVC_DNS_BACKEND: 'file', VPNSVC_RESOLV_CONF: resolvConf },
          stateDir: join(dir, 'state'),
        }),
        firewall: new KillSwitch(new NftFirewall(nft.program), () => []),
      });
      t.after(async () => {
        await vpnsvc.unblockNetworks().catch(() => undefined);
        await vpnsvc.close();
        nft.destroy();
        rmSync(dir, { recursive: true, force: true });
      });
      const events: VpnEvent[] = [];
      t.after(vpnsvc.events.subscribe((e) => events.push(e)));

      const { index } = await vpnsvc.init('vsufw0');
      const block = { allowVpn: [{ address: '10.180.200.0', prefix: 24 }], allowOriginal: [], originalInterface: 'lo' };
      const state = await vpnsvc.blockNetworks(block);
      assert.deepEqual(state, {
        blocked: true,
        vpnInterface: 'vsufw0',
        originalInterface: 'lo',
        allowVpn: block.allowVpn,
        allowOriginal: [],
      });
      await vpnsvc.deinit('vsufw0');
      assert.equal(link('vsufw0'), undefined);
      assert.deepEqual(nft.tables(), ['inet vpnsvc'], 'the block outlives the interface');
      assert.equal((await vpnsvc.firewallState()).vpnInterface, 'vsufw0');

      await vpnsvc.unblockNetworks();
      assert.deepEqual(nft.tables(), []);
      assert.deepEqual(
        brief(events).map((e) => [e.type, e.interface, e.data]),
        [
          ['interface.created', 'vsufw0', { index, requested: 'vsufw0' }],
          ['firewall.blocked', 'vsufw0', state],
          ['interface.removed', 'vsufw0', { index }],
          ['firewall.unblocked', undefined, {}],
        ],
      );
    });
  });

  test('set_mtu is staged until update_settings, which sets addresses, MTU and link up', async (t) => {
    const { vpnsvc, events } = await house(t);
    await vpnsvc.init('vsu0');
    events.length = 0;
    vpnsvc.setMtu('vsu0', 1380);
    assert.throws(() => vpnsvc.setMtu('vsu0', 67), isError('VPNSVC_ERROR_INVALID_PARAMETER', /MTU 67 is out of range/));
    assert.throws(() => vpnsvc.setMtu('vsu0', 65536), isError('VPNSVC_ERROR_INVALID_PARAMETER', /MTU 65536 is out of range/));
    vpnsvc.setLocalIpAddress('vsu0', LOCAL);
    vpnsvc.setRemoteIpAddress('vsu0', PEER);
    assert.equal(link('vsu0')?.mtu, 1500, 'the kernel still has the old MTU');
    assert.deepEqual(addresses('vsu0'), []);
    assert.deepEqual(vpnsvc.describe('vsu0').staged, { mtu: 1380, localIp: LOCAL, remoteIp: PEER, localIp6: null });

    const applied = await vpnsvc.updateSettings('vsu0');
    const kernel = link('vsu0');
    assert.equal(kernel?.mtu, 1380);
    assert.ok(kernel?.flags.includes('UP'));
    const [addr] = addresses('vsu0');
    assert.equal(addr?.local, LOCAL);
    assert.equal(addr?.address, PEER, 'the point-to-point peer');
    assert.equal(applied.mtu, 1380);
    assert.equal(applied.up, true);
    assert.deepEqual(
      brief(events),
      [
        { type: 'interface.updated', interface: 'vsu0', data: { mtu: 1380 }, reason: DAEMON },
        { type: 'interface.updated', interface: 'vsu0', data: { localIp: LOCAL }, reason: DAEMON },
        { type: 'interface.updated', interface: 'vsu0', data: { remoteIp: PEER }, reason: DAEMON },
        {
          type: 'settings.applied',
          interface: 'vsu0',
          data: { localIp: LOCAL, remoteIp: PEER, mtu: 1380, localIp6: null },
          reason: DAEMON,
        },
      ],
      'each stored setting is an event, a refused one is not',
    );
  });

  test('update_settings refuses before touching the kernel when an address is missing; multicast is refused when set', async (t) => {
    const { vpnsvc, events } = await house(t);
    await vpnsvc.init('vsu0');
    events.length = 0;
    await assert.rejects(vpnsvc.updateSettings('vsu0'), isError('VPNSVC_ERROR_INVALID_PARAMETER', /"vsu0": localIp and remoteIp not set/));
    vpnsvc.setLocalIpAddress('vsu0', LOCAL);
    await assert.rejects(vpnsvc.updateSettings('vsu0'), isError('VPNSVC_ERROR_INVALID_PARAMETER', /: remoteIp not set/));
    assert.throws(
      () => vpnsvc.setRemoteIpAddress('vsu0', '224.0.0.1'),
      isError('VPNSVC_ERROR_INVALID_PARAMETER', /remote address 224\.0\.0\.1 is a multicast address/),
    );
    assert.throws(() => vpnsvc.setLocalIpAddress('vsu0', '255.255.255.255'), isError('VPNSVC_ERROR_INVALID_PARAMETER', /broadcast/));
    assert.throws(
      () => vpnsvc.setLocalIpAddress('vsu0', '10.180.0'),
      isError('VPNSVC_ERROR_INVALID_PARAMETER', /not an IPv4 address in dotted-quad form/),
    );
    assert.throws(() => vpnsvc.setLocalIpAddress('vsu0', 'fd00:180::1'), isError('VPNSVC_ERROR_INVALID_PARAMETER'));
    assert.deepEqual(
      vpnsvc.describe('vsu0').staged,
      { mtu: 1500, localIp: LOCAL, remoteIp: null, localIp6: null },
      'refused values are not staged',
    );
    await assert.rejects(vpnsvc.updateSettings('vsu0'), /remoteIp not set/);
    vpnsvc.setLocalIpAddress('vsu0', null);
    assert.equal(vpnsvc.describe('vsu0').staged.localIp, null, 'null clears');
    assert.deepEqual(addresses('vsu0'), [], 'the kernel was never touched');
    assert.ok(!link('vsu0')?.flags.includes('UP'));
    assert.deepEqual(
      brief(events).map((e) => e.data),
      [{ localIp: LOCAL }, { localIp: null }],
      'only what was stored',
    );
  });

  test('set_blocking toggles O_NONBLOCK on the fd at once', async (t) => {
    const { vpnsvc } = await house(t);
    const { fd } = await vpnsvc.init('vsu0');
    vpnsvc.setBlocking('vsu0', false);
    assert.notEqual(fdFlags(fd) & O_NONBLOCK, 0);
    assert.equal(vpnsvc.describe('vsu0').blocking, false);
    vpnsvc.setBlocking('vsu0', true);
    assert.equal(fdFlags(fd) & O_NONBLOCK, 0);
    assert.equal(vpnsvc.describe('vsu0').blocking, true);
  });

  test('set_session takes up to 31 characters and refuses longer ones, never truncating', async (t) => {
    const { vpnsvc, events } = await house(t);
    assert.throws(() => vpnsvc.getSession(), isError('VPNSVC_ERROR_NO_SUCH_FILE', /no VPN interface is active/));
    await assert.rejects(vpnsvc.setSession('office'), isError('VPNSVC_ERROR_NO_SUCH_FILE'));
    await vpnsvc.init('vsu0');
    events.length = 0;
    assert.equal(vpnsvc.getSession('vsu0'), 'VPN_Session');
    const longest = 's'.repeat(31);
    assert.equal(await vpnsvc.setSession(longest), longest);
    assert.equal(vpnsvc.getSession(), longest);
    const wide = 'é'.repeat(31);
    assert.equal(await vpnsvc.setSession(wide, 'vsu0'), wide, 'characters, not bytes');
    await assert.rejects(vpnsvc.setSession('s'.repeat(32)), isError('VPNSVC_ERROR_INVALID_PARAMETER', /1-31 characters, got 32/));
    await assert.rejects(vpnsvc.setSession(''), isError('VPNSVC_ERROR_INVALID_PARAMETER', /got 0/));
    await assert.rejects(vpnsvc.setSession('a\nb'), isError('VPNSVC_ERROR_INVALID_PARAMETER', /control characters/));
    assert.equal(vpnsvc.getSession('vsu0'), wide, 'a refused name leaves the session as it was');
    assert.deepEqual(brief(events), [
      { type: 'session.changed', interface: 'vsu0', data: { session: longest }, reason: DAEMON },
      { type: 'session.changed', interface: 'vsu0', data: { session: wide }, reason: DAEMON },
    ]);
  });

  describe('configure', () => {
    test('all or nothing: one bad value and nothing is stored, not even blocking', async (t) => {
      const { vpnsvc, events } = await house(t);
      const { fd } = await vpnsvc.init('vsu0');
      events.length = 0;
      const bad = [
        [{ blocking: false, session: 'kept', localIp: LOCAL, mtu: 20 }, /MTU 20/],
        [{ blocking: false, mtu: 1400, session: 'x'.repeat(32) }, /1-31 characters/],
        [{ blocking: false, mtu: 1400, localIp: LOCAL, remoteIp: '224.0.0.9' }, /multicast/],
        [{ blocking: false, session: 'kept', localIp: '10.180.0.256' }, /dotted-quad/],
      ] as const;
      for (const [settings, message] of bad) {
        await assert.rejects(vpnsvc.configure('vsu0', settings), isError('VPNSVC_ERROR_INVALID_PARAMETER', message));
      }
      assert.equal(fdFlags(fd) & O_NONBLOCK, 0, 'the fd is still blocking');
      assert.equal(vpnsvc.getSession('vsu0'), 'VPN_Session');
      assert.deepEqual(vpnsvc.describe('vsu0').staged, { mtu: 1500, localIp: null, remoteIp: null, localIp6: null });
      assert.equal(events.length, 0);
    });

    test('stores every value and reports them, staged values staying out of the kernel', async (t) => {
      const { vpnsvc, events } = await house(t);
      const { fd } = await vpnsvc.init('vsu0');
      events.length = 0;
      const iface = await vpnsvc.configure('vsu0', { blocking: false, mtu: 1400, session: 'office', localIp: LOCAL, remoteIp: PEER });
      assert.notEqual(fdFlags(fd) & O_NONBLOCK, 0);
      assert.equal(iface.blocking, false);
      assert.equal(iface.session, 'office');
      assert.deepEqual(iface.staged, { mtu: 1400, localIp: LOCAL, remoteIp: PEER, localIp6: null });
      assert.equal(link('vsu0')?.mtu, 1500);
      assert.deepEqual(addresses('vsu0'), []);
      assert.deepEqual(brief(events), [
        { type: 'session.changed', interface: 'vsu0', data: { session: 'office' }, reason: DAEMON },
        {
          type: 'interface.updated',
          interface: 'vsu0',
          data: { blocking: false, mtu: 1400, localIp: LOCAL, remoteIp: PEER },
          reason: DAEMON,
        },
      ]);
      events.length = 0;
      await vpnsvc.configure('vsu0', { localIp: null });
      assert.equal(vpnsvc.describe('vsu0').staged.localIp, null);
      assert.deepEqual(brief(events), [{ type: 'interface.updated', interface: 'vsu0', data: { localIp: null }, reason: DAEMON }]);
    });

    test('an empty address is refused before anything is stored', async (t) => {
      const { vpnsvc } = await house(t);
      const { fd } = await vpnsvc.init('vsu0');
      await assert.rejects(
        vpnsvc.configure('vsu0', { blocking: false, mtu: 1400, localIp: '' }),
        isError('VPNSVC_ERROR_INVALID_PARAMETER'),
      );
      assert.equal(fdFlags(fd) & O_NONBLOCK, 0, 'the fd is still blocking');
      assert.equal(vpnsvc.describe('vsu0').staged.mtu, 1500);
    });
  });

  describe('vpnsvc_add_route / vpnsvc_remove_route', () => {
    test('routes need the interface up; then they land in the kernel in canonical form, and go', async (t) => {
      const { vpnsvc, events } = await house(t);
      await vpnsvc.init('vsu0');
      await assert.rejects(
        vpnsvc.addRoute({ address: '10.180.16.0', prefix: 24 }),
        isError('VPNSVC_ERROR_INVALID_PARAMETER', /need "vsu0" up: apply its settings first/),
      );
      assert.deepEqual(kernelRoutes('vsu0'), []);
      vpnsvc.setLocalIpAddress('vsu0', LOCAL);
      vpnsvc.setRemoteIpAddress('vsu0', PEER);
      await vpnsvc.updateSettings('vsu0');
      events.length = 0;

      assert.deepEqual(await vpnsvc.addRoute({ address: 'FD00:180:0:7::', prefix: 64 }), { address: 'fd00:180:0:7::', prefix: 64 });
      assert.deepEqual(await vpnsvc.addRoute({ address: '10.180.16.0', prefix: 24 }, 'vsu0'), { address: '10.180.16.0', prefix: 24 });
      const [r6] = ipJson<IpRoute[]>('-6', 'route', 'show', 'fd00:180:0:7::/64');
      assert.equal(r6?.dev, 'vsu0');
      assert.equal(r6?.protocol, '86', "vpnsvc's own protocol number");
      assert.deepEqual(kernelRoutes('vsu0'), ['10.180.16.0/24', 'fd00:180:0:7::/64']);
      assert.deepEqual(vpnsvc.listRoutes(), [
        { address: '10.180.16.0', prefix: 24 },
        { address: 'fd00:180:0:7::', prefix: 64 },
      ]);
      await assert.rejects(
        vpnsvc.addRoute({ address: '10.180.16.0', prefix: 24 }),
        isError('VPNSVC_ERROR_INVALID_PARAMETER', /10\.180\.16\.0\/24 is already a route of "vsu0"/),
      );
      await assert.rejects(
        vpnsvc.addRoute({ address: '10.180.17.1', prefix: 24 }),
        isError('VPNSVC_ERROR_INVALID_PARAMETER', /did you mean 10\.180\.17\.0\/24\?/),
      );

      await vpnsvc.removeRoute({ address: 'fd00:180:0:7:0::', prefix: 64 });
      assert.deepEqual(kernelRoutes('vsu0'), ['10.180.16.0/24']);
      await assert.rejects(
        vpnsvc.removeRoute({ address: 'fd00:180:0:7::', prefix: 64 }),
        isError('VPNSVC_ERROR_NO_SUCH_FILE', /fd00:180:0:7::\/64 is not a route of "vsu0"/),
      );
      assert.deepEqual(brief(events), [
        { type: 'route.added', interface: 'vsu0', data: { count: 1, routes: [{ address: 'fd00:180:0:7::', prefix: 64 }] }, reason: DAEMON },
        { type: 'route.added', interface: 'vsu0', data: { count: 1, routes: [{ address: '10.180.16.0', prefix: 24 }] }, reason: DAEMON },
        {
          type: 'route.removed',
          interface: 'vsu0',
          data: { count: 1, routes: [{ address: 'fd00:180:0:7::', prefix: 64 }] },
          reason: DAEMON,
        },
      ]);
    });

    test('bulk: all or nothing, a bulk with one bad route changes nothing in ip route', async (t) => {
      const { vpnsvc, events } = await upHouse(t, 'vsu0');
      await vpnsvc.addRoute({ address: '10.180.17.0', prefix: 24 });
      events.length = 0;
      const before = kernelRoutes('vsu0');
      assert.deepEqual(before, ['10.180.17.0/24']);

      const fresh = [
        { address: '10.180.18.0', prefix: 24 },
        { address: 'fd00:180:0:18::', prefix: 64 },
      ];
      await assert.rejects(
        vpnsvc.addRoutes([...fresh, { address: '10.180.20.1', prefix: 24 }]),
        isError('VPNSVC_ERROR_INVALID_PARAMETER', /^routes\[2\] .*did you mean 10\.180\.20\.0\/24\?/),
      );
      await assert.rejects(
        vpnsvc.addRoutes([...fresh, { address: '10.180.18.0', prefix: 24 }]),
        isError('VPNSVC_ERROR_INVALID_PARAMETER', /routes\[2\] 10\.180\.18\.0\/24 repeats routes\[0\]/),
      );
      // Refused by the kernel half-way: the routes before it are rolled back.
      await assert.rejects(
        vpnsvc.addRoutes([...fresh, { address: '10.180.17.0', prefix: 24 }, { address: '10.180.19.0', prefix: 24 }]),
        isError(
          'VPNSVC_ERROR_INVALID_PARAMETER',
          /routes\[2\] 10\.180\.17\.0\/24 is already a route of "vsu0"; no route of this call was changed/,
        ),
      );
      assert.deepEqual(kernelRoutes('vsu0'), before);
      await assert.rejects(
        vpnsvc.removeRoutes([
          { address: '10.180.17.0', prefix: 24 },
          { address: '10.180.21.0', prefix: 24 },
        ]),
        isError('VPNSVC_ERROR_NO_SUCH_FILE', /routes\[1\] 10\.180\.21\.0\/24 is not a route/),
      );
      assert.deepEqual(kernelRoutes('vsu0'), before, 'the present one was not removed either');
      assert.equal(events.length, 0, 'no event for a refused call');

      const many = Array.from({ length: 20 }, (_, i) => ({ address: `10.180.${32 + i}.0`, prefix: 24 }));
      assert.equal(await vpnsvc.addRoutes(many), 20);
      assert.equal(kernelRoutes('vsu0').length, 21);
      await vpnsvc.removeRoutes(many);
      assert.deepEqual(kernelRoutes('vsu0'), before);
      assert.deepEqual(
        events.map((e) => [e.type, e.data]),
        [
          ['route.added', { count: 20, routes: many.slice(0, EVENT_ROUTES_MAX), truncated: true }],
          ['route.removed', { count: 20, routes: many.slice(0, EVENT_ROUTES_MAX), truncated: true }],
        ],
      );
    });
  });

  describe('vpnsvc_add_dns_server / vpnsvc_remove_dns_server', () => {
    test('the resolv.conf file changes, and is restored byte for byte when the last server goes', async (t) => {
      const { vpnsvc, events, resolvConf } = await house(t);
      await vpnsvc.init('vsu0');
      await assert.rejects(vpnsvc.addDnsServer('10.180.0.53'), isError('VPNSVC_ERROR_INVALID_PARAMETER', /need "vsu0" up/));
      assert.equal(readFileSync(resolvConf, 'utf8'), USER_RESOLV_CONF, 'untouched before apply');
      vpnsvc.setLocalIpAddress('vsu0', LOCAL);
      vpnsvc.setRemoteIpAddress('vsu0', PEER);
      await vpnsvc.updateSettings('vsu0');
      events.length = 0;

      const view = await vpnsvc.addDnsServer('FD00:180::0053');
      assert.deepEqual(view, {
        backend: 'file',
        leakProtection: 'fallback',
        resolvConf,
        interface: 'vsu0',
        servers: ['fd00:180::53'],
        domains: [],
      });
      await vpnsvc.addDnsServer('10.180.0.53', 'vsu0');
      const written = readFileSync(resolvConf, 'utf8');
      assert.match(
        written,
        /^# vpnsvc begin[^\n]*\nnameserver fd00:180::53\nnameserver 10\.180\.0\.53\n/,
        'the VPN servers first, in order',
      );
      assert.ok(written.includes(USER_RESOLV_CONF), "the user's lines follow");
      await assert.rejects(vpnsvc.addDnsServer('fd00:180:0::53'), isError('VPNSVC_ERROR_INVALID_PARAMETER', /already added/));
      await assert.rejects(vpnsvc.removeDnsServer('10.180.0.54'), isError('VPNSVC_ERROR_NO_SUCH_FILE', /is not added/));
      await assert.rejects(
        vpnsvc.addDnsServer('10.180.0.53\nnameserver 1.1.1.1'),
        isError('VPNSVC_ERROR_INVALID_PARAMETER', /not an IPv4 or IPv6 address/),
      );
      assert.equal(readFileSync(resolvConf, 'utf8'), written, 'refused calls leave the file as it was');

      await vpnsvc.removeDnsServer('fd00:180::53');
      await vpnsvc.removeDnsServer('10.180.0.53');
      assert.equal(readFileSync(resolvConf, 'utf8'), USER_RESOLV_CONF);
      assert.deepEqual(
        events.map((e) => [e.type, e.interface, e.data]),
        [
          ['dns.added', 'vsu0', { server: 'fd00:180::53', servers: ['fd00:180::53'], domains: [] }],
          ['dns.added', 'vsu0', { server: '10.180.0.53', servers: ['fd00:180::53', '10.180.0.53'], domains: [] }],
          ['dns.removed', 'vsu0', { server: 'fd00:180::53', servers: ['10.180.0.53'], domains: [] }],
          ['dns.removed', 'vsu0', { server: '10.180.0.53', servers: [], domains: [] }],
        ],
      );
    });
  });

  test('a device deleted behind the engine is NO_SUCH_FILE, its handle closed, reported as removed by the kernel', async (t) => {
    const { vpnsvc, events } = await house(t);
    const { index, fd } = await vpnsvc.init('vsu0');
    events.length = 0;
    ip('link', 'delete', 'vsu0');
    assert.throws(
      () => vpnsvc.getIfaceIndex('vsu0'),
      isError('VPNSVC_ERROR_NO_SUCH_FILE', /VPN interface "vsu0" was removed outside vpnsvc; its handle is closed/),
    );
    assert.deepEqual(brief(events), [
      {
        type: 'interface.removed',
        interface: 'vsu0',
        data: { index },
        reason: { source: 'kernel', detail: 'the device vanished from the kernel' },
      },
    ]);
    assert.equal(vpnsvc.activeName(), undefined);
    assert.throws(() => vpnsvc.getIfaceFd('vsu0'), isError('VPNSVC_ERROR_NO_SUCH_FILE', /none is active/));
    let target: string | undefined;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      target = undefined;
    }
    assert.notEqual(target, '/dev/net/tun', 'the fd is closed');
    assert.equal(events.length, 1, 'reported once');
  });

  describe('vpnsvc_protect', () => {
    const other = `vsu-prot-${process.pid}`;
    const holders: Holder[] = [];
    before(() => ip('netns', 'add', other));
    after(() => {
      for (const h of holders) h.stop();
      ip('netns', 'delete', other);
    });
    const hold = async (opts: HolderOptions = {}): Promise<Holder> => {
      const h = await socketHolder(opts);
      holders.push(h);
      return h;
    };
    const ROOT = { uid: 0 } as const;
    const NOBODY = { uid: 65534 } as const;

    test('refuses a bad interface name before touching any socket', async (t) => {
      const { vpnsvc } = await house(t);
      const h = await hold();
      assert.throws(
        () => vpnsvc.protect(h.pid, h.fd, '-lo', ROOT),
        isError('VPNSVC_ERROR_INVALID_PARAMETER', /interface name "-lo" is invalid/),
      );
      assert.equal(await h.boundTo(), '');
    });

    test('root and a remote caller (a token with protect) may protect any process; the kernel has the binding', async (t) => {
      const { vpnsvc, events } = await house(t);
      for (const caller of [ROOT, { remote: true } as const]) {
        const h = await hold({ uid: 65534 });
        vpnsvc.protect(h.pid, h.fd, 'lo', caller);
        assert.equal(await h.boundTo(), 'lo', JSON.stringify(caller));
      }
      assert.deepEqual(
        events.map((e) => e.type),
        ['socket.protected', 'socket.protected'],
      );
    });

    test('another user may protect only its own processes', async (t) => {
      const { vpnsvc, events } = await house(t);
      const roots = await hold();
      assert.throws(
        () => vpnsvc.protect(roots.pid, roots.fd, 'lo', NOBODY),
        isError('VPNSVC_ERROR_PERMISSION_DENIED', new RegExp(`uid 65534 may not protect the sockets of pid ${roots.pid} \\(uid 0/0/0\\)`)),
      );
      assert.equal(await roots.boundTo(), '', 'root’s socket is left as it was');
      const own = await hold({ uid: 65534 });
      vpnsvc.protect(own.pid, own.fd, 'lo', NOBODY);
      assert.equal(await own.boundTo(), 'lo');
      assert.equal(events.length, 1, 'one protect, one event');
    });

    test('the daemon’s own pid is refused, whoever asks', async (t) => {
      const { vpnsvc } = await house(t);
      const listener = createServer();
      await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
      t.after(() => listener.close());
      const fd = (listener as unknown as { _handle: { fd: number } })._handle.fd;
      for (const caller of [ROOT, { remote: true } as const]) {
        assert.throws(
          () => vpnsvc.protect(process.pid, fd, 'lo', caller),
          isError('VPNSVC_ERROR_PERMISSION_DENIED', /the vpnsvc daemon itself/),
        );
      }
    });

    test('a process in another network namespace is refused, and so is a socket made in one', async (t) => {
      const { vpnsvc } = await house(t);
      const elsewhere = await hold({ prefix: ['ip', 'netns', 'exec', other] });
      assert.throws(
        () => vpnsvc.protect(elsewhere.pid, elsewhere.fd, 'lo', ROOT),
        isError('VPNSVC_ERROR_PERMISSION_DENIED', /is in another network namespace \(net:\[\d+\]\) than the daemon/),
      );
      assert.equal(await elsewhere.boundTo(), '');
      // made in the other namespace, held by a process that then came back to the daemon's
      const carried = await hold({ prefix: ['ip', 'netns', 'exec', other], enter: `/proc/${process.pid}/ns/net` });
      assert.throws(
        () => vpnsvc.protect(carried.pid, carried.fd, 'lo', ROOT),
        isError('VPNSVC_ERROR_PERMISSION_DENIED', /the socket belongs to another network namespace than the daemon's \(EXDEV\)/),
      );
      assert.equal(await carried.boundTo(), '');
    });

    test('callerOf: a unix-socket peer is its uid (this test runs as root); TCP or no fd is remote', async (t) => {
      const { vpnsvc } = await house(t);
      const dir = mkdtempSync(join(tmpdir(), 'vsu-peer-'));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      const fdOf = (s: unknown) => (s as { _handle: { fd: number } })._handle.fd;
      for (const listen of [{ path: join(dir, 'peer.sock') }, { host: '127.0.0.1', port: 0 }]) {
        const server = createServer();
        const accepted = new Promise<Socket>((r) => server.once('connection', r));
        await new Promise<void>((r) => server.listen(listen, r));
        const addr = server.address();
        const client = typeof addr === 'string' ? connect(addr) : connect((addr as AddressInfo).port, '127.0.0.1');
        const conn = await accepted;
        const caller = vpnsvc.callerOf(fdOf(conn));
        assert.deepEqual(caller, 'path' in listen ? { uid: 0 } : { remote: true });
        client.destroy();
        conn.destroy();
        await new Promise((r) => server.close(r));
      }
      assert.deepEqual(vpnsvc.callerOf(undefined), { remote: true });
    });
  });

  describe('vpnsvc_read / vpnsvc_write', () => {
    test('a written UDP/IPv4 packet reaches a socket on the local address; a routed one is read back', async (t) => {
      const { vpnsvc, events } = await upHouse(t, 'vsu0', { ipv6: false });
      const rx = createSocket('udp4');
      const received: Buffer[] = [];
      rx.on('message', (m) => received.push(m));
      await new Promise<void>((r) => rx.bind(0, LOCAL, () => r()));
      t.after(() => rx.close());
      const payload = Buffer.from('written by vpnsvc_write');
      const packet = ipv4Udp(PEER, LOCAL, 5000, (rx.address() as AddressInfo).port, payload);
      assert.equal(vpnsvc.write('vsu0', packet), packet.length);
      for (let i = 0; i < 100 && received.length === 0; i++) await sleep(10);
      assert.deepEqual(received, [payload]);

      const tx = createSocket('udp4');
      t.after(() => tx.close());
      const out = Buffer.from('read me through vpnsvc_read');
      await new Promise<void>((r, j) => tx.send(out, 4242, PEER, (e) => (e ? j(e) : r())));
      let udp: ReturnType<typeof readIpv4Udp>;
      for (let i = 0; i < 5 && udp?.dport !== 4242; i++) udp = readIpv4Udp(await vpnsvc.read('vsu0', 2000));
      assert.equal(udp?.src, LOCAL);
      assert.equal(udp?.dst, PEER);
      assert.deepEqual(udp?.payload, out);
      assert.equal(events.length, 0, 'packets are not events');
    });

    test('reads time out with VPNSVC_ERROR_TIMEOUT; non-blocking does not wait; bad packets are refused', async (t) => {
      const { vpnsvc } = await upHouse(t, 'vsu0', { ipv6: false });
      const started = Date.now();
      await assert.rejects(vpnsvc.read('vsu0', 50), isError('VPNSVC_ERROR_TIMEOUT', /no packet on "vsu0" within 50 ms/));
      assert.ok(Date.now() - started >= 45, 'it waited');
      vpnsvc.setBlocking('vsu0', false);
      const quick = Date.now();
      await assert.rejects(vpnsvc.read('vsu0'), isError('VPNSVC_ERROR_TIMEOUT', /no packet queued/));
      assert.ok(Date.now() - quick < 150, 'without a timeout a non-blocking interface answers at once');

      assert.throws(() => vpnsvc.write('vsu0', Buffer.alloc(0)), isError('VPNSVC_ERROR_INVALID_PARAMETER', /1-65535 bytes, got 0/));
      assert.throws(() => vpnsvc.write('vsu0', Buffer.from('this is not an IP packet at all')), isError('VPNSVC_ERROR_IO_ERROR', /EINVAL/));
      assert.equal(vpnsvc.describe('vsu0').counters.writeDropped, 1);
    });

    test('the stream takes every packet of the TUN; a second client and REST reads get EBUSY meanwhile', async (t) => {
      const { vpnsvc, events } = await upHouse(t, 'vsu0', { ipv6: false });
      const socket = new PacketSocketStub();
      const ends: string[] = [];
      const lease = vpnsvc.openStream('vsu0', socket, FRAMING_BATCH, (why) => ends.push(why));
      assert.throws(() => vpnsvc.requireStreamFree('vsu0'), isError('VPNSVC_ERROR_IO_ERROR', /EBUSY/));
      await assert.rejects(vpnsvc.read('vsu0', 0), isError('VPNSVC_ERROR_IO_ERROR', /a stream is attached/));

      const tx = createSocket('udp4');
      t.after(() => tx.close());
      await new Promise<void>((r, j) => tx.send(Buffer.from('to the stream'), 4343, PEER, (e) => (e ? j(e) : r())));
      const got = () =>
        socket.sent
          .flatMap(splitBatch)
          .map(readIpv4Udp)
          .find((u) => u?.dport === 4343);
      for (let i = 0; i < 200 && !got(); i++) await sleep(10);
      assert.equal(got()?.payload.toString(), 'to the stream');

      lease.detach('the client left');
      lease.detach('again');
      assert.doesNotThrow(() => vpnsvc.requireStreamFree('vsu0'));
      assert.equal(ends.length, 0, 'onEnd is for ends the client did not ask for');
      const moved = lease.stream.moved.toClient;
      assert.deepEqual(brief(events), [
        { type: 'stream.attached', interface: 'vsu0', data: { framing: FRAMING_BATCH }, reason: DAEMON },
        {
          type: 'stream.detached',
          interface: 'vsu0',
          data: { framing: FRAMING_BATCH, packets: { toClient: moved, fromClient: 0 } },
          reason: { source: 'stream', detail: 'the client left' },
        },
      ]);

      const second = vpnsvc.openStream('vsu0', new PacketSocketStub(), FRAMING_BATCH, (why) => ends.push(why));
      await vpnsvc.deinit('vsu0');
      assert.deepEqual(ends, ['the interface was removed'], 'deinit ends the stream');
      assert.equal(events.at(-2)?.type, 'stream.detached');
      assert.equal(second.stream.moved.fromClient, 0);
    });
  });
});
