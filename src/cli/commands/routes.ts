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
    summary: 'route networks into the tunnel (several: one all-or-nothing batch)',
    body: (p) => (p.positionals.length === 1 ? parseCidr(p.positionals[0]!, true) : cidrs(p)),
    show: () => 'added',
  },
  { words: 'route list', op: 'GET /routes', summary: 'routes through the tunnel' },
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
