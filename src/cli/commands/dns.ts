/** DNS servers and search/routing domains of the tunnel. */
import type { CliCommand } from '../command.js';
import { type RestSpec, restCommand } from '../rest.js';

const REST: RestSpec[] = [
  {
    words: 'dns add',
    op: 'POST /dns',
    args: '<server>',
    arity: [1, 1],
    summary: 'add a DNS server for the tunnel',
    body: (p) => ({ server: p.positionals[0] }),
    show: () => 'added',
  },
  { words: 'dns list', op: 'GET /dns', summary: 'DNS servers, search domains and the resolver backend' },
  {
    words: 'dns del',
    op: 'DELETE /dns/{server}',
    args: '<server>',
    arity: [1, 1],
    summary: 'remove a DNS server',
    params: (p) => ({ server: p.positionals[0]! }),
    show: () => 'removed',
  },
  {
    words: 'dns domain add',
    op: 'POST /dns/domains',
    args: '<domain>',
    arity: [1, 1],
    summary: 'add a search/routing domain (~. for all names)',
    body: (p) => ({ domain: p.positionals[0] }),
    show: () => 'added',
  },
  {
    words: 'dns domain del',
    op: 'DELETE /dns/domains/{domain}',
    args: '<domain>',
    arity: [1, 1],
    summary: 'remove a search/routing domain',
    params: (p) => ({ domain: p.positionals[0]! }),
    show: () => 'removed',
  },
];

export const dnsCommands: CliCommand[] = REST.map(restCommand);
