/** The kill switch (vpnsvc_block_networks, unblock) and protect. */
import type { CliCommand } from '../command.js';
import { integer, list, parseCidr, type RestSpec, restCommand } from '../rest.js';

const REST: RestSpec[] = [
  {
    words: 'firewall block',
    op: 'PUT /firewall',
    summary: 'kill switch: block all but the listed networks',
    options: {
      'allow-vpn': {
        type: 'string',
        multiple: true,
        value: '<cidr,...>',
        description: 'networks allowed through the VPN (a bare address is one host); repeatable',
      },
      'allow-original': {
        type: 'string',
        multiple: true,
        value: '<cidr,...>',
        description: 'networks allowed outside the VPN, e.g. the VPN server; repeatable',
      },
      'original-interface': { type: 'string', value: '<ifname>', description: 'the interface outside the VPN (e.g. eth0)' },
    },
    body: (p) => ({
      allowVpn: list(p.values['allow-vpn']).map((t) => parseCidr(t)),
      allowOriginal: list(p.values['allow-original']).map((t) => parseCidr(t)),
      ...(p.values['original-interface'] !== undefined && { originalInterface: p.values['original-interface'] }),
    }),
  },
  { words: 'firewall unblock', op: 'DELETE /firewall', summary: 'lift every restriction', show: () => 'unblocked' },
  { words: 'firewall show', op: 'GET /firewall', summary: 'the block as read back from the kernel' },
  {
    words: 'protect',
    op: 'POST /protect',
    args: '<pid> <fd> <interface>',
    arity: [3, 3],
    summary: 'bind socket <fd> of process <pid> to <interface> (e.g. eth0) so it bypasses the tunnel (vpnsvc_protect)',
    body: (p) => ({ pid: integer(p.positionals[0]!, 'pid'), fd: integer(p.positionals[1]!, 'fd'), interface: p.positionals[2] }),
    show: () => 'protected',
  },
];

export const firewallCommands: CliCommand[] = REST.map(restCommand);
