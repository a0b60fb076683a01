/** The seed's feature http://tizen.org/feature/network.vpn, as this host supports it. */
import type { Features } from '../contract/api-types.js';
import type { HostProbe } from '../system/host.js';
import { cgroup2Mount } from '../system/split-rules.js';

export const VPN_FEATURE = 'http://tizen.org/feature/network.vpn';

export interface FeatureSupport {
  /** What the host lacks for the VPN feature, in words an operator can act on; empty when supported. */
  missing(): string[];
}

export function missingForVpn(probe: HostProbe): string[] {
  const missing: string[] = [];
  if (!probe.tunDevice) {
    missing.push(
      `the TUN device /dev/net/tun cannot be opened (${probe.tunDeviceError ?? 'unknown'}): load the "tun" kernel module or give the container /dev/net/tun`,
    );
  }
  if (!probe.netAdmin) missing.push('the daemon lacks CAP_NET_ADMIN: run it as root or grant AmbientCapabilities=CAP_NET_ADMIN');
  return missing;
}

export function featureSupport(probe: HostProbe): FeatureSupport {
  return { missing: () => missingForVpn(probe) };
}

/**
 * `dnsProblem`: why the resolver backend cannot work here (e.g. a container's resolv.conf), listed with the rest.
 * `cgroup2`: where cgroup v2 is mounted (null: nowhere), for split tunnelling by program.
 */
export function describeFeatures(
  probe: HostProbe,
  dnsBackend: string | null,
  dnsProblem?: string,
  cgroup2: string | null = cgroup2Mount(),
): Features {
  const missing = missingForVpn(probe);
  if (!probe.nft.available) missing.push('nft is not installed (Debian package "nftables"): the firewall (block/unblock) is unavailable');
  if (dnsProblem) missing.push(dnsProblem);
  const splitByCgroup = describeSplitByCgroup(cgroup2);
  if (splitByCgroup.reason) missing.push(splitByCgroup.reason);
  return {
    feature: VPN_FEATURE,
    supported: missingForVpn(probe).length === 0,
    tunDevice: probe.tunDevice,
    netAdmin: probe.netAdmin,
    nft: probe.nft,
    dnsBackend,
    missing,
    splitByCgroup,
  };
}

/** Split tunnelling by program matches cgroup v2 paths: without a cgroup2 mount, only split by user works. */
export function describeSplitByCgroup(mount: string | null): NonNullable<Features['splitByCgroup']> {
  if (mount !== null) return { status: 'SUPPORTED', cgroup2Mount: mount };
  return {
    status: 'NOT_SUPPORTED',
    cgroup2Mount: null,
    reason:
      'no cgroup2 mount in /proc/self/mountinfo: split tunnelling by program (cgroups) is unavailable; mount cgroup2 (e.g. on /sys/fs/cgroup/unified)',
  };
}
