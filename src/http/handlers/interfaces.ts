/** /interfaces: vpnsvc_init, vpnsvc_deinit, the getters, the staged setters and vpnsvc_update_settings. */
import type { FastifyInstance } from 'fastify';
import type { Handlers } from '../context.js';

type InterfaceOperations =
  | 'createInterface'
  | 'listInterfaces'
  | 'getInterface'
  | 'updateInterface'
  | 'deleteInterface'
  | 'applyInterfaceSettings';

export function interfaceHandlers({ vpnsvc }: FastifyInstance): Pick<Handlers, InterfaceOperations> {
  return {
    createInterface: async (request, reply) => reply.code(201).send(await vpnsvc.init(request.body.name, request.body.offload)),
    listInterfaces: () => vpnsvc.list(),
    getInterface: (request) => vpnsvc.describe(request.params.name),
    updateInterface: (request) => vpnsvc.configure(request.params.name, request.body),
    deleteInterface: async (request, reply) => {
      await vpnsvc.deinit(request.params.name);
      return reply.code(204).send();
    },
    applyInterfaceSettings: (request) => vpnsvc.updateSettings(request.params.name),
  };
}
