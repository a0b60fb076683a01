/**
 * A facade for configuration-document tests on the real kernel of the test namespace: the
 * resolvconf backend over the fake resolvconf (whose effect can be set to "nothing", so a change
 * does not take and the backend's read-back refuses it), and nft on a private namespace through
 * a wrapper that can be told to refuse every change (-f), as a broken nft would. `kernel()`
 * reads the host back without the facade: links, addresses and routes from `ip -j`, resolv.conf
 * from the file, the block from nft.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { VpnEvent } from '../../src/engine/events.js';
import { featureSupport } from '../../src/engine/features.js';
import { KillSwitch } from '../../src/engine/kill-switch.js';
import { ProfileStore } from '../../src/engine/profile-store.js';
import { Vpnsvc } from '../../src/engine/vpnsvc.js';
import { probeHost } from '../../src/system/host.js';
import { NftFirewall } from '../../src/system/nft.js';
import { LinkRecordStore } from '../../src/system/resolver/link-record.js';
import { ResolvconfBackend } from '../../src/system/resolver/resolvconf-backend.js';
import { silentLog } from './app.js';
import { type FakeResolvers, fakeResolvers } from './fake-resolvers.js';
import { addresses, ipJson } from './kernel.js';
import { type PrivateNft, privateNft } from './private-nft.js';

/** Interface names these tests use; other test files in the namespace use others. */
export const PREFIX = 'vcf';

export interface KernelView {
  links: Array<{ name: string; mtu: number; up: boolean; addresses: string[]; routes: string[] }>;
  nameservers: string[];
  firewall: unknown;
}

export interface ConfigHouse {
  vpnsvc: Vpnsvc;
  nft: PrivateNft;
  resolvers: FakeResolvers;
  stateDir: string;
  events: VpnEvent[];
  /** nft refuses every change (not the reads) while on. */
  failNft(on: boolean): void;
  kernel(): Promise<KernelView>;
}

interface IpRoute {
  dst: string;
}

function kernelRoutes(dev: string): string[] {
  const show = (family: string[]) => ipJson<IpRoute[]>(...family, 'route', 'show', 'dev', dev, 'proto', '86').map((r) => r.dst);
  return [...show([]), ...show(['-6'])].sort();
}

export async function configHouse(t: TestContext, tag: string): Promise<ConfigHouse> {
  const nft = privateNft(tag);
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-config-'));
  const flag = join(dir, 'nft-refuses');
  const program = join(dir, 'nft');
  // Reads (list) always work: only a change is refused, as a kernel without room would.
  writeFileSync(
    program,
    `#!/bin/sh\nif [ -e '${flag}' ] && [ "$2" = -f ]; then echo 'injected: nft refuses the change' >&2; exit 1; fi\nexec '${nft.program}' "$@"\n`,
  );
  chmodSync(program, 0o755);
  // Registered before the fake resolvers' own clean-up, so the facade closes while they still exist.
  let close = async (): Promise<void> => undefined;
  t.after(() => close());
  const resolvers = fakeResolvers(t);
  const order = join(resolvers.dir, 'interface-order');
  writeFileSync(order, '*\n');
  const resolver = new ResolvconfBackend(
    new LinkRecordStore(join(dir, 'state')),
    undefined,
    join(resolvers.dir, 'resolvconf'),
    undefined,
    order,
    resolvers.resolvConf,
  );
  const stateDir = join(dir, 'state');
  const vpnsvc = new Vpnsvc({
    support: featureSupport(await probeHost()),
    log: silentLog,
    resolver,
    firewall: new KillSwitch(new NftFirewall(program), () => []),
    profiles: new ProfileStore(join(stateDir, 'profiles')),
  });
  const events: VpnEvent[] = [];
  const unsubscribe = vpnsvc.events.subscribe((e) => events.push(e));
  close = async () => {
    unsubscribe();
    if (existsSync(flag)) unlinkSync(flag);
    resolvers.setEffect('full');
    try {
      await vpnsvc.close();
    } finally {
      nft.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const reader = new NftFirewall(nft.program);
  return {
    vpnsvc,
    nft,
    resolvers,
    stateDir,
    events,
    failNft: (on) => (on ? writeFileSync(flag, '') : existsSync(flag) && unlinkSync(flag)),
    kernel: async () => ({
      links: ipJson<Array<{ ifname: string; mtu: number; flags: string[] }>>('link')
        .filter((l) => l.ifname.startsWith(PREFIX))
        .map((l) => ({
          name: l.ifname,
          mtu: l.mtu,
          up: l.flags.includes('UP'),
          addresses: addresses(l.ifname)
            .filter((a) => a.family === 'inet')
            .map((a) => `${a.local}${a.address ? ` peer ${a.address}` : ''}`),
          routes: kernelRoutes(l.ifname),
        })),
      nameservers: readFileSync(resolvers.resolvConf, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('nameserver')),
      firewall: await reader.read(),
    }),
  };
}
