/**
 * The three-namespace network of the full-tunnel tests: a client (this namespace, or one of its
 * own) with its default routes via a "LAN" namespace, and a "remote" namespace behind the LAN.
 * The LAN and the remote both hold the same target addresses on lo, so who answers at a target
 * says which way the traffic went.
 */
import { ip } from './kernel.js';

export interface LanRemoteNet {
  /** The client's namespace; undefined: the one the test runs in. */
  client?: string;
  lan: string;
  remote: string;
  /** Client end of the client–LAN pair, the LAN's end of it, the LAN's end towards the remote, the remote's end. */
  veths: { client: string; lanClient: string; lanRemote: string; remote: string };
  /** N: the client–LAN link is 10.N.0.0/24 and fdN::/64 (client .1, LAN .2); LAN–remote is 10.(N+1).0.0/24. */
  subnet: number;
  target4: string;
  target6: string;
  /** The LAN forwards IPv4 between the client and the remote. */
  lanForwards?: boolean;
}

/** Makes the namespaces, links, addresses and routes. */
export function createLanRemoteNet(net: LanRemoteNet): void {
  const { lan, remote, veths, subnet: n } = net;
  const inClient = (...args: string[]) => (net.client ? ip('-n', net.client, ...args) : ip(...args));
  for (const ns of [...(net.client ? [net.client] : []), lan, remote]) {
    ip('netns', 'add', ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
  inClient('link', 'add', veths.client, 'type', 'veth', 'peer', 'name', veths.lanClient, 'netns', lan);
  ip('-n', lan, 'link', 'add', veths.lanRemote, 'type', 'veth', 'peer', 'name', veths.remote, 'netns', remote);
  inClient('addr', 'add', `10.${n}.0.1/24`, 'dev', veths.client);
  inClient('-6', 'addr', 'add', `fd${n}::1/64`, 'dev', veths.client, 'nodad');
  inClient('link', 'set', veths.client, 'up');
  inClient('route', 'add', 'default', 'via', `10.${n}.0.2`);
  inClient('-6', 'route', 'add', 'default', 'via', `fd${n}::2`);
  ip('-n', lan, 'addr', 'add', `10.${n}.0.2/24`, 'dev', veths.lanClient);
  ip('-n', lan, '-6', 'addr', 'add', `fd${n}::2/64`, 'dev', veths.lanClient, 'nodad');
  ip('-n', lan, 'addr', 'add', `10.${n + 1}.0.1/24`, 'dev', veths.lanRemote);
  ip('-n', lan, 'link', 'set', veths.lanClient, 'up');
  ip('-n', lan, 'link', 'set', veths.lanRemote, 'up');
  ip('-n', remote, 'addr', 'add', `10.${n + 1}.0.2/24`, 'dev', veths.remote);
  ip('-n', remote, 'link', 'set', veths.remote, 'up');
  ip('-n', remote, 'route', 'add', 'default', 'via', `10.${n + 1}.0.1`);
  for (const ns of [lan, remote]) {
    ip('-n', ns, 'addr', 'add', `${net.target4}/32`, 'dev', 'lo');
    ip('-n', ns, '-6', 'addr', 'add', `${net.target6}/128`, 'dev', 'lo');
  }
  if (net.lanForwards) ip('netns', 'exec', lan, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
}

/** Deletes the namespaces it made (they take the veth pairs with them); one never made is skipped. */
export function removeLanRemoteNet(net: LanRemoteNet): void {
  for (const ns of [...(net.client ? [net.client] : []), net.lan, net.remote]) {
    try {
      ip('netns', 'delete', ns);
    } catch {
      // never made
    }
  }
}
