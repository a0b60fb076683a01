import type { InterfaceSettings } from '../../contract/api-types.js';
import { type AppContext, type Handlers, nameParam } from '../context.js';

export function interfaceHandlers({ engine }: AppContext): Handlers {
  return {
    createInterface: async (request, reply) => {
      const { name } = request.body as { name: string };
      return reply.code(201).send(await engine.init(name));
    },
    listInterfaces: () => engine.list(),
    getInterface: (request) => engine.describe(nameParam(request)),
    updateInterface: (request) => engine.configure(nameParam(request), request.body as InterfaceSettings),
    deleteInterface: async (request, reply) => {
      await engine.deinit(nameParam(request));
      return reply.code(204).send();
    },
    applyInterfaceSettings: (request) => engine.updateSettings(nameParam(request)),
  };
}
