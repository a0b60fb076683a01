/**
 * vpnsvc_block_networks / vpnsvc_unblock_networks / vpnsvc_protect. No HTTP.
 *
 * The block lives in the kernel (nftables table `inet vpnsvc`), not in this object: it survives
 * the daemon (fail-closed), and every read comes back from nft. Deinit does not lift it, as in
 * the seed; unblock does, with or without a VPN interface.
 */
import type { FirewallBlock, FirewallState } from '../contract/api-types.js';
import { invalidParameter, noSuchFile } from '../errors/errors.js';
import * as native from '../system/native.js';
import { NftFirewall, defaultRoutes, originalInterfaceFromRoutes, type DefaultRoute } from '../system/nft.js';
import { checkAllowList, checkFirewallInterface } from '../system/nft-ruleset.js';
import type { VpnEngine } from './engine.js';
import { checkInterfaceName } from './validate.js';

export class KillSwitch {
  constructor(
    private readonly engine: VpnEngine,
    private readonly nft = new NftFirewall(),
    private readonly routes: () => DefaultRoute[] = defaultRoutes,
  ) {}

  /** The block as the kernel has it (also one set by an earlier run of the daemon). */
  state(): Promise<FirewallState> {
    return this.nft.read();
  }

  /**
   * Sets or replaces the block for the active VPN interface. Everything is checked before nft
   * runs, so a refused request leaves the kernel's ruleset as it was.
   */
  block(request: FirewallBlock): Promise<FirewallState> {
    return this.engine.exclusive(async () => {
      // the feature first, as the seed does: a host without nft says so before anything else
      await this.nft.requireNft();
      const active = this.engine.activeInterface();
      if (!active) throw noSuchFile('no VPN interface is active: create one (POST /interfaces) before blocking');
      // the feature check, and the device still being there
      const vpnInterface = this.engine.getIfaceName(active.name);
      checkAllowList(request.allowVpn, 'allowVpn');
      checkAllowList(request.allowOriginal, 'allowOriginal');
      const originalInterface = this.originalInterface(request.originalInterface, vpnInterface);
      await this.nft.block({ vpnInterface, originalInterface, allowVpn: request.allowVpn, allowOriginal: request.allowOriginal });
      return this.nft.read();
    });
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
    return this.engine.exclusive(() => this.nft.unblock());
  }

  /** SO_BINDTODEVICE on another process's socket, so it bypasses the VPN's routes. */
  protect(pid: number, fd: number, ifname: string): void {
    checkInterfaceName(ifname);
    native.protectSocket(pid, fd, ifname);
  }
}
