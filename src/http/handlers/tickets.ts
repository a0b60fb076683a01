/** POST /tickets: a ticket for the fd channel, bound to the caller the kernel names. */
import type { FastifyInstance } from 'fastify';
import { connectionFd } from '../auth.js';
import type { Handlers } from '../context.js';

export function ticketHandlers({ vpnsvc }: FastifyInstance): Pick<Handlers, 'createFdTicket'> {
  return {
    createFdTicket: async (request, reply) => {
      const holder = vpnsvc.peerOf(connectionFd(request));
      return reply.code(201).send(vpnsvc.issueFdTicket(request.body, holder));
    },
  };
}
