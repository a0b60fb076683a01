/** /interfaces: vpnsvc_init, vpnsvc_deinit, the getters, the staged setters and vpnsvc_update_settings. */
import type { FastifyInstance } from 'fastify';
import type { InterfaceSettings } from '../../contract/api-types.js';
import { type Handlers, nameParam } from '../context.js';

export function interfaceHandlers({ vpnsvc }: FastifyInstance): Handlers {
  return {
    createInterface: async (request, reply) => {
      const { name } = request.body as { name: string };
      return reply.code(201).send(await vpnsvc.init(name));
    },
    listInterfaces: () => vpnsvc.list(),
    getInterface: (request) => vpnsvc.describe(nameParam(request)),
    updateInterface: (request) => vpnsvc.configure(nameParam(request), request.body as InterfaceSettings),
    deleteInterface: async (request, reply) => {
      await vpnsvc.deinit(nameParam(request));
      return reply.code(204).send();
    },
    applyInterfaceSettings: (request) => vpnsvc.updateSettings(nameParam(request)),
  };
}
