// One registry of error codes for the JSON API: every error body is
// { "error": { "code": "FB_...", "message": "..." } } with the status fixed per code.
export const ERRORS = {
  FB_NOT_FOUND: { status: 404, message: 'not found' },
  FB_BAD_REQUEST: { status: 400, message: 'bad request' },
  FB_NO_MATCH: { status: 404, message: 'no host matches that selection' },
  FB_PAYLOAD_TOO_LARGE: { status: 413, message: 'request body too large' },
  FB_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'send the request body as application/json (UTF-8, identity/gzip/deflate)' },
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
