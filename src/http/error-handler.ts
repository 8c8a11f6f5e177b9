// The last error handler of the HTTP app. Whatever reaches it is either the client's fault
// (a body that does not parse or is too large once inflated, a malformed percent-escape in a
// path parameter) -> 4xx with one warn line, or a bug -> 500 with the error logged. Either way
// the logged path goes through logPath (a per-run token URL keeps only the token's hint), and a
// client error is logged without the error object: no stack trace, no body excerpt.
import type { ErrorRequestHandler, Request } from 'express';
import { clientError, errorBody } from '../errors.js';
import { logPath, type Logger } from '../log.js';

/** JSON clients get the registry's JSON body; installers, firmware and curl get one text line. */
const wantsJson = (req: Request) => req.path.startsWith('/api/') || req.is('application/json') === 'application/json' || /json/.test(req.get('accept') ?? '');

export function httpErrorHandler(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const fe = clientError(err);
    const path = logPath(req.path);
    if (fe) {
      log.warn({ ip: req.ip, method: req.method, path, status: fe.status, code: fe.code, type: (err as { type?: string }).type }, 'request refused');
    } else {
      log.error({ err, ip: req.ip, method: req.method, path }, 'unhandled HTTP error');
    }
    if (res.headersSent) return void res.destroy();
    const status = fe?.status ?? 500;
    const code = fe?.code ?? 'FB_INTERNAL';
    // the request body may be half-read (413 stops reading): close rather than parse the rest
    if (fe && (fe.status === 413 || fe.status === 415)) res.set('Connection', 'close');
    if (wantsJson(req)) res.status(status).json(errorBody(code, fe?.message, fe?.details));
    else res.status(status).type('text/plain').send(`${fe?.message ?? 'internal error'}\n`);
  };
}
