/** The one place where errors become HTTP: every error body is {error, code, message}. */
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorBody } from '../contract/api-types.js';
import { type ErrorName, invalidParameter, noSuchFile, VpnsvcError } from '../errors/errors.js';
import { describeValidationError, mostSpecificError, ValidationFailure } from './validation.js';

export const HTTP_STATUS: Record<ErrorName, number> = {
  VPNSVC_ERROR_INVALID_PARAMETER: 400,
  VPNSVC_ERROR_PERMISSION_DENIED: 403,
  VPNSVC_ERROR_NO_SUCH_FILE: 404,
  VPNSVC_ERROR_IO_ERROR: 500,
  VPNSVC_ERROR_TIMEOUT: 504,
  VPNSVC_ERROR_IPC_FAILED: 503,
  VPNSVC_ERROR_NOT_SUPPORTED: 501,
  VPNSVC_ERROR_OUT_OF_MEMORY: 507,
};

/** PERMISSION_DENIED for a request that brought no (known) credentials: 401, not 403. */
export class Unauthenticated extends VpnsvcError {
  constructor(message: string) {
    super('VPNSVC_ERROR_PERMISSION_DENIED', message);
  }
}

export function sendError(reply: FastifyReply, err: VpnsvcError): FastifyReply {
  const body: ErrorBody = { error: err.kind, code: err.code, message: err.message };
  if (err instanceof Unauthenticated) {
    return reply.code(401).header('www-authenticate', 'Bearer realm="vpnsvc"').send(body);
  }
  return reply.code(HTTP_STATUS[err.kind]).send(body);
}

function toVpnsvcError(err: FastifyError, request: FastifyRequest): VpnsvcError {
  if (err instanceof VpnsvcError) return err;
  const cause = err.validation ? undefined : (err as { cause?: unknown }).cause;
  if (cause instanceof VpnsvcError) return cause;
  if (err instanceof ValidationFailure || err.validation) {
    const errors = err instanceof ValidationFailure ? err.errors : (err.validation ?? []);
    const first = mostSpecificError(errors);
    const part = err.validationContext ?? 'request';
    return invalidParameter(first ? describeValidationError(part, first as never) : 'request validation failed');
  }
  // Fastify's own client errors: malformed JSON, wrong content type, body too large.
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return invalidParameter(err.message);
  }
  request.log.error({ err }, 'unexpected error');
  return new VpnsvcError('VPNSVC_ERROR_IO_ERROR', 'internal error; see the daemon log for details');
}

/**
 * Requests Node's HTTP parser rejects never reach Fastify's handlers; they still get the one
 * error body rather than Fastify's default.
 */
export function answerMalformedRequest(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const e = invalidParameter(`malformed HTTP request (${err.code ?? err.message})`);
  const body = JSON.stringify({ error: e.kind, code: e.code, message: e.message } satisfies ErrorBody);
  socket.end(
    `HTTP/1.1 400 Bad Request\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const mapped = toVpnsvcError(err, request);
    if (HTTP_STATUS[mapped.kind] >= 500) request.log.warn({ err: mapped }, mapped.message);
    return sendError(reply, mapped);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, noSuchFile(`no such resource: ${request.method} ${request.url.split('?')[0]}`)),
  );
}
