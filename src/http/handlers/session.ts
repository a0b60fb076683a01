/** /session: vpnsvc_get_session and vpnsvc_set_session on the active interface. */
import type { FastifyInstance } from 'fastify';
import type { Session } from '../../contract/api-types.js';
import type { Handlers } from '../context.js';

export function sessionHandlers({ vpnsvc }: FastifyInstance): Handlers {
  const view = (name: string): Session => ({ name, interface: vpnsvc.activeName() ?? '' });
  return {
    getSession: (): Session => view(vpnsvc.getSession()),
    setSession: async (request): Promise<Session> => view(await vpnsvc.setSession((request.body as { name: string }).name)),
  };
}
