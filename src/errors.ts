// One registry of error codes for the JSON API: every error body is
// { "error": { "code": "FB_...", "message": "..." } } with the status fixed per code.
export const ERRORS = {
  FB_NOT_FOUND: { status: 404, message: 'not found' },
  FB_BAD_REQUEST: { status: 400, message: 'bad request' },
  FB_NO_MATCH: { status: 404, message: 'no host matches that selection' },
  FB_PAYLOAD_TOO_LARGE: { status: 413, message: 'request body too large' },
  FB_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'send the request body as application/json (UTF-8, identity/gzip/deflate)' },
  FB_BAD_URL: { status: 400, message: 'malformed percent-escape in the URL' },
  FB_TOO_MANY_CONNECTIONS: { status: 503, message: 'too many connections from your address, try again later' },
  FB_BUSY: { status: 503, message: 'server busy, try again' },
  FB_BAD_MAC: { status: 400, message: 'missing or malformed mac parameter' },
  FB_UNKNOWN_HOST: { status: 404, message: 'unknown host' },
  FB_TOKEN_INVALID: { status: 404, message: 'not found' }, // same body as any 404: reveals nothing
  FB_RANGE_NOT_SATISFIABLE: { status: 416, message: 'range not satisfiable' },
  FB_UNAUTHENTICATED: { status: 401, message: 'authentication required' },
  FB_FORBIDDEN: { status: 403, message: 'forbidden' },
  FB_CSRF: { status: 403, message: 'missing or wrong CSRF token' },
  // the admin side is HTTPS-only when web.https is on; plain HTTP stays for boot traffic
  FB_HTTPS_REQUIRED: { status: 403, message: 'this endpoint is served over HTTPS only' },
  FB_RATE_LIMITED: { status: 429, message: 'too many attempts, try again later' },
  FB_CONFLICT: { status: 409, message: 'conflict' },
  FB_INTERNAL: { status: 500, message: 'internal error' },
  FB_UPSTREAM: { status: 502, message: 'upstream error' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export class FleetbootError extends Error {
  readonly status: number;
  constructor(readonly code: ErrorCode, message?: string, readonly details?: unknown) {
    super(message ?? ERRORS[code].message);
    this.status = ERRORS[code].status;
  }
}

export function errorBody(code: ErrorCode, message?: string, details?: unknown) {
  return { error: { code, message: message ?? ERRORS[code].message, ...(details === undefined ? {} : { details }) } };
}

// body-parser's error types -> our codes. These are the client's fault, never a 500.
const BODY_ERRORS: Record<string, ErrorCode> = {
  'entity.too.large': 'FB_PAYLOAD_TOO_LARGE',
  'parameters.too.many': 'FB_PAYLOAD_TOO_LARGE',
  'charset.unsupported': 'FB_UNSUPPORTED_MEDIA_TYPE',
  'encoding.unsupported': 'FB_UNSUPPORTED_MEDIA_TYPE',
  'entity.parse.failed': 'FB_BAD_REQUEST',
  'entity.verify.failed': 'FB_BAD_REQUEST',
  'request.aborted': 'FB_BAD_REQUEST',
  'request.size.invalid': 'FB_BAD_REQUEST',
  'stream.encoding.set': 'FB_BAD_REQUEST',
};

/**
 * What a thrown error means for the client, when it is the client's fault: our own errors,
 * body-parser errors (bad JSON, too large after inflating, unknown charset) and the router's
 * URIError for a malformed percent-escape in a path parameter (status 400). null: a bug (500).
 * The message never echoes the body or the URL: either may carry a token.
 */
export function clientError(err: unknown): FleetbootError | null {
  if (err instanceof FleetbootError) return err;
  const e = err as { type?: unknown; status?: unknown; statusCode?: unknown; limit?: unknown } | null;
  if (!e || typeof e !== 'object') return null;
  const bodyCode = typeof e.type === 'string' ? BODY_ERRORS[e.type] : undefined;
  if (bodyCode === 'FB_BAD_REQUEST') return new FleetbootError(bodyCode, 'the request body could not be parsed');
  if (bodyCode) return new FleetbootError(bodyCode, undefined, e.type === 'entity.too.large' && typeof e.limit === 'number' ? { limitBytes: e.limit } : undefined);
  const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : 0;
  if (err instanceof URIError || (status === 400 && /decode/i.test(String((err as Error).message)))) return new FleetbootError('FB_BAD_URL');
  if (status === 413) return new FleetbootError('FB_PAYLOAD_TOO_LARGE');
  if (status === 415) return new FleetbootError('FB_UNSUPPORTED_MEDIA_TYPE');
  if (status >= 400 && status < 500) return new FleetbootError('FB_BAD_REQUEST');
  return null;
}

// errno codes that mean "not now" (this process or the system is out of descriptors, memory or
// buffers), as opposed to "no such file": the client should retry, never be told it is missing
const RESOURCE_CODES = new Set(['EMFILE', 'ENFILE', 'ENOMEM', 'EAGAIN', 'ENOBUFS', 'EWOULDBLOCK']);

export function isResourceError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && RESOURCE_CODES.has(code);
}
