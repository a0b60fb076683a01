import type { FirewallBlock, ProtectSocket } from '../../contract/api-types.js';
import { KillSwitch } from '../../engine/kill-switch.js';
import type { AppContext, Handlers } from '../context.js';

export function firewallHandlers(ctx: AppContext): Handlers {
  // The kill switch keeps no state of its own (the kernel has it), so one per app is enough.
  const killSwitch = ctx.killSwitch ?? new KillSwitch(ctx.engine);
  return {
    getFirewall: () => killSwitch.state(),
    blockNetworks: (request) => killSwitch.block(request.body as FirewallBlock),
    unblockNetworks: async (_request, reply) => {
      await killSwitch.unblock();
      return reply.code(204).send();
    },
    protectSocket: async (request, reply) => {
      const { pid, fd, interface: ifname } = request.body as ProtectSocket;
      killSwitch.protect(pid, fd, ifname);
      return reply.code(204).send();
    },
  };
}
