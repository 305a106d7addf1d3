/** Structured JSON logs (pino): one line per request, plus audit lines from auth/ and gc/. */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'nitro-registry' },
      // Never let credentials reach a log line, whatever a caller passes in.
      redact: { paths: ['authorization', 'password', 'token', 'req.headers.authorization', '*.password', '*.token'], censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
