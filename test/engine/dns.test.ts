/**
 * The per-link backends behind the facade's DNS methods, on a real TUN in the test namespace, with fake
 * resolvectl / resolvconf programs that log their arguments and keep state: DNS lands on the VPN
 * interface, deinit takes it away, and a change that did not take is IO_ERROR. Then DnsSettings itself, with an in-memory backend beside the real
 * file backend.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { DnsSettings, MAX_DNS_SERVERS, MAX_SEARCH_DOMAINS, resolverCall } from '../../src/engine/dns.js';
import { type ErrorName, VpnsvcError } from '../../src/errors/errors.js';
import { FileBackend } from '../../src/system/resolver/file-backend.js';
import type { DnsConfig, LeakProtection, ResolverBackend, ResolverBackendName } from '../../src/system/resolver/types.js';
import { build, USER_RESOLV_CONF } from '../helpers/app.js';
import { fakeResolvers } from '../helpers/fake-resolvers.js';
import { kernelTestOptions } from '../helpers/kernel.js';

async function upVpnsvc(t: TestContext, iface: string, env: NodeJS.ProcessEnv) {
  const { vpnsvc } = await build(t, { env });
  await vpnsvc.init(iface);
  await vpnsvc.configure(iface, { localIp: '10.96.0.1', remoteIp: '10.96.0.2' });
  await vpnsvc.updateSettings(iface);
  return vpnsvc;
}

describe('per-link DNS backends on the engine', kernelTestOptions(), () => {
  test('resolved: resolvectl dns/domain on the VPN link, revert at deinit', async (t) => {
    const fake = fakeResolvers(t);
    const vpnsvc = await upVpnsvc(t, 'vsdnsr0', { VPNSVC_DNS_BACKEND: 'resolved', PATH: fake.dir });
    assert.equal((await vpnsvc.addDnsServer('10.96.0.53')).leakProtection, 'none');
    const view = await vpnsvc.addSearchDomain('~.', 'vsdnsr0');
    assert.equal(view.backend, 'resolved');
    assert.equal(view.resolvConf, null);
    assert.equal(view.leakProtection, 'routing-domain');
    await vpnsvc.deinit('vsdnsr0');
    assert.deepEqual(fake.changes(), [
      'resolvectl dns vsdnsr0 10.96.0.53 <>',
      'resolvectl domain vsdnsr0  <>',
      'resolvectl dns vsdnsr0 10.96.0.53 <>',
      'resolvectl domain vsdnsr0 ~. <>',
      'resolvectl revert vsdnsr0 <>',
    ]);
  });

  test('resolvconf: a record for the interface, deleted at deinit', async (t) => {
    const fake = fakeResolvers(t);
    const vpnsvc = await upVpnsvc(t, 'vsdnsc0', { VPNSVC_DNS_BACKEND: 'resolvconf', PATH: fake.dir, VPNSVC_RESOLV_CONF: fake.resolvConf });
    assert.equal((await vpnsvc.addDnsServer('fd00::53')).leakProtection, 'exclusive');
    assert.match(readFileSync(fake.resolvConf, 'utf8'), /^nameserver fd00::53$/m);
    await vpnsvc.deinit('vsdnsc0');
    const calls = fake.changes();
    assert.match(calls[0] ?? '', /^resolvconf -a (tun\.)?vsdnsc0 -m 0 -x <nameserver fd00::53\|>$/);
    assert.match(calls[1] ?? '', /^resolvconf -d (tun\.)?vsdnsc0 -f <>$/);
    assert.equal(calls.length, 2);
  });

  test('resolvconf that exits 0 but leaves resolv.conf as it was (a read-only /etc): IO_ERROR, nothing kept', async (t) => {
    const fake = fakeResolvers(t, { effect: 'record' });
    const vpnsvc = await upVpnsvc(t, 'vsdnsc1', { VPNSVC_DNS_BACKEND: 'resolvconf', PATH: fake.dir, VPNSVC_RESOLV_CONF: fake.resolvConf });
    const before = readFileSync(fake.resolvConf, 'utf8');
    await assert.rejects(
      vpnsvc.addDnsServer('10.96.0.53'),
      isError(
        'VPNSVC_ERROR_IO_ERROR',
        /^DNS backend "resolvconf": resolvconf took record (tun\.)?vsdnsc1, but .* still uses the nameservers 192\.168\.1\.1, not the VPN's 10\.96\.0\.53$/,
      ),
    );
    assert.deepEqual(vpnsvc.dns().servers, [], 'GET /dns does not claim the server');
    assert.equal(readFileSync(fake.resolvConf, 'utf8'), before);
  });

  test('resolvectl that exits 0 without effect: IO_ERROR, nothing kept', async (t) => {
    const fake = fakeResolvers(t, { effect: 'nothing' });
    const vpnsvc = await upVpnsvc(t, 'vsdnsr1', { VPNSVC_DNS_BACKEND: 'resolved', PATH: fake.dir });
    await assert.rejects(
      vpnsvc.addDnsServer('10.96.0.53'),
      isError('VPNSVC_ERROR_IO_ERROR', /^DNS backend "resolved": resolvectl dns vsdnsr1 reports the servers none, not 10\.96\.0\.53$/),
    );
    assert.deepEqual(vpnsvc.dns().servers, []);
  });

  test('a forced backend whose program is missing stops the start with a clear message', async (t) => {
    await assert.rejects(
      build(t, { env: { VPNSVC_DNS_BACKEND: 'resolved', PATH: '/nonexistent' } }),
      /needs resolvectl, which is not in PATH/,
    );
  });
});

/** A resolver backend in memory: records every configuration it is given; can be told to fail. */
class MemoryBackend implements ResolverBackend {
  readonly applied: Array<{ iface: string; config: DnsConfig }> = [];
  cleared = 0;
  /** The next apply or clear throws this. */
  failure: Error | undefined;

  constructor(readonly name: ResolverBackendName = 'resolvconf') {}

  async apply(iface: string, config: DnsConfig): Promise<void> {
    this.fail();
    this.applied.push({ iface, config: { servers: [...config.servers], domains: [...config.domains] } });
  }

  async clear(): Promise<void> {
    this.fail();
    this.cleared++;
  }

  async recover(): Promise<void> {}

  describe(): Record<string, unknown> {
    return { backend: this.name };
  }

  leakProtection(config: DnsConfig): LeakProtection {
    return config.servers.length > 0 ? 'fallback' : 'none';
  }

  get last(): DnsConfig | undefined {
    return this.applied.at(-1)?.config;
  }

  private fail(): void {
    const failure = this.failure;
    this.failure = undefined;
    if (failure) throw failure;
  }
}

function isError(kind: ErrorName, message: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof VpnsvcError, `a VpnsvcError, got ${String(err)}`);
    assert.equal(err.kind, kind);
    assert.match(err.message, message);
    return true;
  };
}

const IFACE = 'vsudns0';

describe('DnsSettings', () => {
  test('values come back canonical, and the backend gets the whole configuration each time', async () => {
    const backend = new MemoryBackend();
    const dns = new DnsSettings(backend);
    assert.equal(await dns.addServer(IFACE, 'FD00:180:0:0::0053'), 'fd00:180::53');
    assert.equal(await dns.addServer(IFACE, '10.180.0.53'), '10.180.0.53');
    assert.equal(await dns.addDomain(IFACE, 'Corp.Example.'), 'corp.example');
    assert.equal(await dns.addDomain(IFACE, '~VPN.Example'), '~vpn.example');
    assert.equal(await dns.addDomain(IFACE, '~.'), '~.');
    assert.deepEqual(
      backend.applied.map((a) => a.iface),
      Array(5).fill(IFACE),
    );
    const expected = { servers: ['fd00:180::53', '10.180.0.53'], domains: ['corp.example', '~vpn.example', '~.'] };
    assert.deepEqual(backend.last, expected);
    const config = dns.config();
    assert.deepEqual(config, expected);
    (config.servers as string[]).push('10.180.0.54');
    assert.deepEqual(dns.config(), expected, 'config() is a copy');

    assert.equal(await dns.removeServer(IFACE, 'fd00:180::0:53'), 'fd00:180::53', 'removed by any spelling');
    assert.equal(await dns.removeDomain(IFACE, 'CORP.example'), 'corp.example');
    assert.deepEqual(backend.last, { servers: ['10.180.0.53'], domains: ['~vpn.example', '~.'] });
  });

  test('duplicates (in any spelling), absent entries and bad values are refused before the backend runs', async () => {
    const backend = new MemoryBackend();
    const dns = new DnsSettings(backend);
    await dns.addServer(IFACE, 'fd00:180::53');
    await dns.addDomain(IFACE, 'corp.example');
    const calls = backend.applied.length;
    await assert.rejects(
      dns.addServer(IFACE, 'FD00:180:0::53'),
      isError('VPNSVC_ERROR_INVALID_PARAMETER', /DNS server fd00:180::53 is already added/),
    );
    await assert.rejects(
      dns.addDomain(IFACE, 'CORP.EXAMPLE.'),
      isError('VPNSVC_ERROR_INVALID_PARAMETER', /search domain corp\.example is already added/),
    );
    await assert.rejects(
      dns.removeServer(IFACE, '10.180.0.54'),
      isError('VPNSVC_ERROR_NO_SUCH_FILE', /DNS server 10\.180\.0\.54 is not added/),
    );
    await assert.rejects(
      dns.removeDomain(IFACE, 'other.example'),
      isError('VPNSVC_ERROR_NO_SUCH_FILE', /search domain other\.example is not added/),
    );
    for (const bad of ['10.180.0.1 ; reboot', 'fe80::1%eth0', '224.0.0.251', '0.0.0.0', '::', '255.255.255.255', 'dns.example']) {
      await assert.rejects(dns.addServer(IFACE, bad), isError('VPNSVC_ERROR_INVALID_PARAMETER', /address/), bad);
    }
    for (const bad of ['', 'two words.example', '-x.example', 'a..b', '~', `${'x'.repeat(64)}.example`]) {
      await assert.rejects(dns.addDomain(IFACE, bad), isError('VPNSVC_ERROR_INVALID_PARAMETER', /not a domain name/), bad);
    }
    assert.equal(backend.applied.length, calls, 'the backend saw none of them');
    assert.deepEqual(dns.config(), { servers: ['fd00:180::53'], domains: ['corp.example'] });
  });

  test(`at most ${MAX_DNS_SERVERS} servers and ${MAX_SEARCH_DOMAINS} domains`, async () => {
    const backend = new MemoryBackend();
    const dns = new DnsSettings(backend);
    for (let i = 1; i <= MAX_DNS_SERVERS; i++) await dns.addServer(IFACE, `10.180.0.${i}`);
    for (let i = 1; i <= MAX_SEARCH_DOMAINS; i++) await dns.addDomain(IFACE, `d${i}.example`);
    const calls = backend.applied.length;
    await assert.rejects(
      dns.addServer(IFACE, '10.180.0.200'),
      isError('VPNSVC_ERROR_INVALID_PARAMETER', new RegExp(`at most ${MAX_DNS_SERVERS} DNS servers`)),
    );
    await assert.rejects(
      dns.addDomain(IFACE, 'one-more.example'),
      isError('VPNSVC_ERROR_INVALID_PARAMETER', new RegExp(`at most ${MAX_SEARCH_DOMAINS} search domains`)),
    );
    assert.equal(backend.applied.length, calls);
    assert.equal(dns.config().servers.length, MAX_DNS_SERVERS);
    await dns.removeServer(IFACE, '10.180.0.1');
    assert.equal(await dns.addServer(IFACE, '10.180.0.200'), '10.180.0.200', 'room again after a removal');
  });

  test('a backend that fails leaves the settings as they were; resolverCall makes it IO_ERROR naming the backend', async () => {
    const backend = new MemoryBackend('resolvconf');
    const dns = new DnsSettings(backend);
    await dns.addServer(IFACE, '10.180.0.53');
    const before = dns.config();
    for (const change of [
      () => dns.addServer(IFACE, '10.180.0.54'),
      () => dns.removeServer(IFACE, '10.180.0.53'),
      () => dns.addDomain(IFACE, 'corp.example'),
    ]) {
      backend.failure = new Error('resolvconf exited with 1');
      await assert.rejects(change(), /resolvconf exited with 1/);
      assert.deepEqual(dns.config(), before);
    }
    backend.failure = new Error('resolvconf exited with 1');
    await assert.rejects(
      resolverCall(backend, () => dns.addServer(IFACE, '10.180.0.54')),
      isError('VPNSVC_ERROR_IO_ERROR', /^DNS backend "resolvconf": resolvconf exited with 1$/),
    );
    await assert.rejects(
      resolverCall(backend, () => dns.addServer(IFACE, '10.180.0.53')),
      isError('VPNSVC_ERROR_INVALID_PARAMETER', /already added/),
      "the caller's own mistake stays what it is",
    );
    assert.equal(await resolverCall(backend, () => dns.addServer(IFACE, '10.180.0.54')), '10.180.0.54', 'and the next change works');
  });

  test('clear() forgets everything, even when the backend fails', async () => {
    const backend = new MemoryBackend();
    const dns = new DnsSettings(backend);
    await dns.addServer(IFACE, '10.180.0.53');
    await dns.addDomain(IFACE, 'corp.example');
    backend.failure = new Error('gone');
    await assert.rejects(dns.clear(), /gone/);
    assert.deepEqual(dns.config(), { servers: [], domains: [] });
    await dns.clear();
    assert.equal(backend.cleared, 1);
  });

  test('the same rules on the real file backend: the file changes, and comes back byte for byte', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-dnssettings-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'resolv.conf');
    writeFileSync(path, USER_RESOLV_CONF);
    const dns = new DnsSettings(new FileBackend(path, join(dir, 'state')));
    assert.equal(await dns.addServer(IFACE, 'FD00:180::53'), 'fd00:180::53');
    await dns.addDomain(IFACE, 'Corp.Example');
    const written = readFileSync(path, 'utf8');
    assert.match(written, /^# vpnsvc begin[^\n]*\nnameserver fd00:180::53\n/, 'the VPN server first, canonical');
    assert.ok(written.includes(USER_RESOLV_CONF), "the user's lines follow unchanged");
    assert.match(written, /search corp\.example/);
    await assert.rejects(dns.addServer(IFACE, 'fd00:180:0::53'), /already added/);
    assert.equal(readFileSync(path, 'utf8'), written, 'a refused change does not touch the file');
    await dns.removeServer(IFACE, 'fd00:180::53');
    assert.equal(readFileSync(path, 'utf8'), USER_RESOLV_CONF);
  });

  test('a real backend that cannot write leaves the settings as they were', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-dnssettings-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const dns = new DnsSettings(new FileBackend(join(dir, 'missing-dir', 'resolv.conf'), join(dir, 'state')));
    await assert.rejects(
      resolverCall(dns.backend, () => dns.addServer(IFACE, '10.180.0.53')),
      isError('VPNSVC_ERROR_IO_ERROR', /^DNS backend "file": /),
    );
    assert.deepEqual(dns.config(), { servers: [], domains: [] });
  });
});
