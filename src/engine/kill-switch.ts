/**
 * The firewall behind vpnsvc_block_networks / vpnsvc_unblock_networks.
 *
 * The block lives in the kernel (nftables table `inet vpnsvc`), not in this object: it survives
 * the daemon (fail-closed), and every read comes back from nft. Deinit does not lift it, as in
 * the seed; unblock does, with or without a VPN interface.
 */
import { networkInterfaces } from 'node:os';
import type { FirewallBlock, FirewallState } from '../contract/api-types.js';
import { invalidParameter, VpnsvcError } from '../errors/errors.js';
import type { IpPrefix } from '../system/ip-prefix.js';
import * as native from '../system/native.js';
import { type DefaultRoute, defaultRoutes, NftFirewall, originalInterfaceFromRoutes } from '../system/nft.js';
import { checkAllowList, checkFirewallInterface } from '../system/nft-ruleset.js';

/**
 * The prefixes on an interface as the kernel has them now (getifaddrs, in this process's network
 * namespace): the networks its addresses are on. Link-local ones are left to fe80::/10.
 */
export function connectedPrefixes(ifname: string): IpPrefix[] {
  return (networkInterfaces()[ifname] ?? []).flatMap((a) => {
    const prefix = Number(a.cidr?.split('/')[1]);
    if (!Number.isInteger(prefix) || a.address.toLowerCase().startsWith('fe80:')) return [];
    return [{ address: a.address, prefix }];
  });
}

export class KillSwitch {
  constructor(
    private readonly nft = new NftFirewall(),
    private readonly routes: () => DefaultRoute[] = defaultRoutes,
    private readonly lanOf: (ifname: string) => IpPrefix[] = connectedPrefixes,
  ) {}

  /** The block as the kernel has it (also one set by an earlier run of the daemon). */
  state(): Promise<FirewallState> {
    return this.nft.read();
  }

  /** NOT_SUPPORTED (naming the package) when nft is missing: the seed checks the feature first. */
  requireNft(): Promise<void> {
    return this.nft.requireNft();
  }

  /** Split tunnelling's bypassing traffic, let through from now on: a block in force is set again with it. */
  setBypass(bypass: NftFirewall['bypass']): Promise<boolean> {
    this.nft.bypass = bypass;
    return this.nft.reapply();
  }

  /**
   * Sets or replaces the block for VPN interface `vpnInterface`. Everything is checked before
   * nft runs, so a refused request leaves the kernel's ruleset as it was. `dnsServers` (the VPN's)
   * are the only destinations DNS may reach while blocked; with none, all DNS off the host is dropped.
   */
  async block(request: FirewallBlock, vpnInterface: string, dnsServers: readonly string[] = []): Promise<FirewallState> {
    checkAllowList(request.allowVpn, 'allowVpn');
    checkAllowList(request.allowOriginal, 'allowOriginal');
    const originalInterface = this.originalInterface(request.originalInterface, vpnInterface);
    const allowLan = request.allowLan === true;
    await this.nft.block({
      vpnInterface,
      originalInterface,
      allowVpn: request.allowVpn,
      allowOriginal: request.allowOriginal,
      allowLan,
      lanPrefixes: allowLan ? this.lanOf(originalInterface) : [],
      dnsServers: [...dnsServers],
    });
    return this.nft.read();
  }

  /**
   * The VPN's DNS servers changed: a block in force is set again, as the kernel has it, with the
   * new servers (and the LAN read again). No block, or no nft, is nothing to do.
   */
  async followDns(dnsServers: readonly string[]): Promise<void> {
    let state: FirewallState;
    try {
      state = await this.nft.read();
    } catch (err) {
      if (err instanceof VpnsvcError && err.kind === 'VPNSVC_ERROR_NOT_SUPPORTED') return;
      throw err;
    }
    const { blocked, vpnInterface, originalInterface, allowVpn, allowOriginal, allowLan } = state;
    if (!blocked || vpnInterface === null || originalInterface === null) return;
    await this.nft.block({
      vpnInterface,
      originalInterface,
      allowVpn,
      allowOriginal,
      allowLan,
      lanPrefixes: allowLan ? this.lanOf(originalInterface) : [],
      dnsServers: [...dnsServers],
    });
  }

  /**
   * The block as it would be set, without setting it: allow lists canonical (host bits cleared,
   * overlaps folded, as nft reads them back) and the original interface resolved.
   */
  resolve(
    request: FirewallBlock,
    vpnInterface: string,
  ): FirewallBlock & { vpnInterface: string; originalInterface: string; allowLan: boolean } {
    const plain = (list: ReturnType<typeof checkAllowList>) => list.map(({ address, prefix }) => ({ address, prefix }));
    return {
      vpnInterface,
      allowVpn: plain(checkAllowList(request.allowVpn, 'allowVpn')),
      allowOriginal: plain(checkAllowList(request.allowOriginal, 'allowOriginal')),
      originalInterface: this.originalInterface(request.originalInterface, vpnInterface),
      allowLan: request.allowLan === true,
    };
  }

  private originalInterface(given: string | undefined, vpnInterface: string): string {
    if (given === undefined) {
      const found = originalInterfaceFromRoutes(vpnInterface, this.routes());
      if (!found) {
        throw invalidParameter('no default route outside the VPN interface to take the original interface from: give originalInterface');
      }
      return found;
    }
    checkFirewallInterface(given, 'original interface');
    if (given === vpnInterface) throw invalidParameter(`original interface "${given}" is the VPN interface`);
    if (native.ifIndex(given) === undefined) throw invalidParameter(`original interface "${given}" does not exist`);
    return given;
  }

  /** Lifts every restriction; nothing to lift is not an error. */
  unblock(): Promise<void> {
    return this.nft.unblock();
  }
}
