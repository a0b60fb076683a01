/** /session: vpnsvc_get_session and vpnsvc_set_session on the active interface. */
import type { FastifyInstance } from 'fastify';
import type { Session } from '../../contract/api-types.js';
import type { Handlers } from '../context.js';

export function sessionHandlers({ vpnsvc }: FastifyInstance): Pick<Handlers, 'getSession' | 'setSession'> {
  const view = (name: string): Session => ({ name, interface: vpnsvc.activeName() ?? '' });
  return {
    getSession: () => view(vpnsvc.getSession()),
    setSession: async (request) => view(await vpnsvc.setSession(request.body.name)),
  };
}
