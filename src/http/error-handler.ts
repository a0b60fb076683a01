/**
 * The one place where errors become HTTP: every error body is {error, code, message}, with a
 * status openapi.yaml declares. Messages never repeat a query string or a header value.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorBody } from '../contract/api-types.js';
import { type ErrorName, invalidParameter, VpnsvcError } from '../errors/errors.js';
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

/**
 * The router's bound on one path parameter (Fastify answers 414 past it): three times the
 * longest parameter the spec allows (a search domain, 254), as percent-encoding may triple it.
 */
export const MAX_PARAM_LENGTH = 768;

/** PERMISSION_DENIED for a request that brought no (known) credentials: 401, not 403. */
export class Unauthenticated extends VpnsvcError {
  constructor(message: string) {
    super('VPNSVC_ERROR_PERMISSION_DENIED', message);
  }
}

/**
 * A seed error answered with a status of HTTP's own (405, 408, 414, 415): the seed has no name
 * for what went wrong at the HTTP level, so the name says the kind and the status keeps HTTP's
 * meaning. README.md's "Errors" lists the pairs.
 */
export class HttpStatusError extends VpnsvcError {
  constructor(
    kind: ErrorName,
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(kind, message);
  }
}

/** 405: `allow` is what the path has (empty when the target is no path of the spec). */
export const methodNotAllowed = (method: string, path: string, allow: string[]): HttpStatusError =>
  new HttpStatusError(
    'VPNSVC_ERROR_INVALID_PARAMETER',
    405,
    allow.length > 0 ? `${method} is not a method of ${path}: it has ${allow.join(', ')}` : `${method} is not served`,
    { allow: allow.join(', ') },
  );

export const unsupportedMediaType = (message: string): HttpStatusError =>
  new HttpStatusError('VPNSVC_ERROR_INVALID_PARAMETER', 415, message);

export const uriTooLong = (message: string): HttpStatusError => new HttpStatusError('VPNSVC_ERROR_INVALID_PARAMETER', 414, message);

export const requestTimeout = (message: string): HttpStatusError => new HttpStatusError('VPNSVC_ERROR_TIMEOUT', 408, message);

export function statusOf(err: VpnsvcError): number {
  if (err instanceof HttpStatusError) return err.status;
  if (err instanceof Unauthenticated) return 401;
  return HTTP_STATUS[err.kind];
}

function bodyOf(err: VpnsvcError): ErrorBody {
  return { error: err.kind, code: err.code, message: err.message };
}

export function sendError(reply: FastifyReply, err: VpnsvcError): FastifyReply {
  if (err instanceof Unauthenticated) reply.header('www-authenticate', 'Bearer realm="vpnsvc"');
  if (err instanceof HttpStatusError) reply.headers(err.headers);
  return reply.code(statusOf(err)).send(bodyOf(err));
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
  // Fastify's own client errors: malformed JSON, body too large. Their messages name no value
  // of the request, except the media type of FST_ERR_CTP_INVALID_MEDIA_TYPE.
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
    return unsupportedMediaType('the request body has a media type this operation does not take');
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return invalidParameter(err.message);
  }
  request.log.error({ err }, 'unexpected error');
  return new VpnsvcError('VPNSVC_ERROR_IO_ERROR', 'internal error; see the daemon log for details');
}

/**
 * Fastify's frameworkErrors: a path that is not valid percent-encoded UTF-8, or a parameter
 * longer than MAX_PARAM_LENGTH. Fastify's own answers would quote the whole URL, query included.
 */
export function answerFrameworkError(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    sendError(reply, uriTooLong(`a path parameter is longer than ${MAX_PARAM_LENGTH} characters`));
    return;
  }
  if (err.code === 'FST_ERR_BAD_URL') {
    sendError(reply, invalidParameter('the path is not valid percent-encoded UTF-8'));
    return;
  }
  sendError(reply, invalidParameter('the request could not be routed'));
}

/**
 * Writes an error answer straight to a socket no ServerResponse owns (a request Node's parser
 * refused, a CONNECT), then closes it once written: such a connection carries nothing more.
 */
export function writeRawError(socket: Duplex, err: VpnsvcError): void {
  const status = statusOf(err);
  const body = JSON.stringify(bodyOf(err));
  const extra = err instanceof HttpStatusError ? Object.entries(err.headers).map(([k, v]) => `${k}: ${v}\r\n`) : [];
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra.join('')}connection: close\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}

/**
 * Requests Node's HTTP parser rejects, or whose headers or body did not arrive within the
 * server's timeouts, never reach Fastify's handlers; they still get the one error body rather
 * than Fastify's default. As Node itself does, nothing is written once the answer of a request
 * on this connection has begun: that would corrupt it.
 */
export function answerMalformedRequest(err: NodeJS.ErrnoException, socket: Duplex): void {
  const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!socket.writable || err.code === 'ECONNRESET' || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  writeRawError(
    socket,
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? requestTimeout('the request did not arrive in time')
      : invalidParameter(`malformed HTTP request (${err.code ?? 'unparsable'})`),
  );
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const mapped = toVpnsvcError(err, request);
    if (statusOf(mapped) >= 500) request.log.warn({ err: mapped }, mapped.message);
    return sendError(reply, mapped);
  });
}
