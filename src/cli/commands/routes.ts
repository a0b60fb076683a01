/** Routes into the tunnel (vpnsvc_add_route, vpnsvc_remove_route, and their batches). */
import type { CliCommand, Parsed } from '../command.js';
import { parseCidr, type RestSpec, restCommand } from '../rest.js';

/** A route names its prefix: "10.1.0.0" alone is refused rather than read as one host. */
const cidrs = (p: Parsed) => p.positionals.map((t) => parseCidr(t, true));

const REST: RestSpec[] = [
  {
    words: 'route add',
    op: 'POST /routes',
    args: '<address/prefix>...',
    arity: [1, Infinity],
    summary: 'route networks into the tunnel (several: one all-or-nothing batch); --exclude keeps them off it',
    options: {
      exclude: {
        type: 'boolean',
        description: 'keep these prefixes on the original network, also under a full tunnel (0.0.0.0/0)',
      },
    },
    body: (p) => {
      const routes = cidrs(p).map((r) => (p.values.exclude === true ? { ...r, exclude: true } : r));
      return routes.length === 1 ? routes[0] : routes;
    },
    show: () => 'added',
  },
  { words: 'route list', op: 'GET /routes', summary: 'routes through the tunnel' },
  { words: 'route policy', op: 'GET /routes/policy', summary: "the full tunnel's table, mark and policy rules" },
  {
    words: 'route del',
    op: 'DELETE /routes/{address}/{prefix}',
    args: '<address/prefix>...',
    arity: [1, Infinity],
    summary: 'remove routes (several: one all-or-nothing batch)',
    params: (p) => {
      const c = parseCidr(p.positionals[0]!, true);
      return { address: c.address, prefix: String(c.prefix) };
    },
    bulk: { op: 'DELETE /routes', body: cidrs },
    show: () => 'removed',
  },
];

export const routeCommands: CliCommand[] = REST.map(restCommand);
