import type { Session } from '../../contract/api-types.js';
import { noSuchFile } from '../../errors/errors.js';
import type { VpnEngine } from '../../engine/engine.js';
import type { AppContext, Handlers } from '../context.js';

function activeName(engine: VpnEngine): string {
  const iface = engine.activeInterface();
  if (!iface) throw noSuchFile('no VPN interface is active: create one with POST /interfaces');
  return iface.name;
}

export function sessionHandlers({ engine }: AppContext): Handlers {
  return {
    getSession: (): Session => {
      const name = activeName(engine);
      return { name: engine.getSession(name), interface: name };
    },
    setSession: async (request): Promise<Session> => {
      const name = activeName(engine);
      await engine.exclusive(() => engine.setSession(name, (request.body as { name: string }).name));
      return { name: engine.getSession(name), interface: name };
    },
  };
}
