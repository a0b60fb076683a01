/** The seed's feature http://tizen.org/feature/network.vpn, as this host supports it. */
import type { Features } from '../contract/api-types.js';
import type { HostProbe } from '../system/host.js';

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

/** `dnsProblem`: why the resolver backend cannot work here (e.g. a container's resolv.conf), listed with the rest. */
export function describeFeatures(probe: HostProbe, dnsBackend: string | null, dnsProblem?: string): Features {
  const missing = missingForVpn(probe);
  if (!probe.nft.available) missing.push('nft is not installed (Debian package "nftables"): the firewall (block/unblock) is unavailable');
  if (dnsProblem) missing.push(dnsProblem);
  return {
    feature: VPN_FEATURE,
    supported: missingForVpn(probe).length === 0,
    tunDevice: probe.tunDevice,
    netAdmin: probe.netAdmin,
    nft: probe.nft,
    dnsBackend,
    missing,
  };
}
