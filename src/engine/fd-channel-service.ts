/**
 * What the fd channel says (README, "The C library and the fd channel"): the one message a
 * process sends is its ticket, with its socket attached for protect; the one answer is
 * `{"ok":true}` (with the TUN fd attached for tun-fd) or the Error body REST would give.
 */
import type { ErrorBody } from '../contract/api-types.js';
import { ioError, VpnsvcError } from '../errors/errors.js';
import type { ChannelHandler } from '../system/fd-channel.js';
import type { EngineLogger, Vpnsvc } from './vpnsvc.js';

const TICKET = /^[A-Za-z0-9_-]{1,128}$/;

function errorBody(err: VpnsvcError): ErrorBody {
  return { error: err.kind, code: err.code, message: err.message };
}

export function fdChannelHandler(vpnsvc: Vpnsvc, log: EngineLogger): ChannelHandler {
  return async ({ peer, message, fd }) => {
    try {
      const ticket = message.toString('latin1').trim();
      if (!TICKET.test(ticket)) throw new VpnsvcError('VPNSVC_ERROR_INVALID_PARAMETER', 'the message is not a ticket');
      const out = vpnsvc.redeemFdTicket(ticket, { pid: peer.pid, uid: peer.uid }, fd);
      return { body: Buffer.from(JSON.stringify({ ok: true })), ...(out.fd !== undefined && { fd: out.fd }) };
    } catch (err) {
      const known = err instanceof VpnsvcError ? err : ioError((err as Error).message);
      log.warn({ pid: peer.pid, uid: peer.uid, error: known.kind }, `fd channel: ${known.message}`);
      return { body: Buffer.from(JSON.stringify(errorBody(known))) };
    }
  };
}
