/** A pino logger that keeps its JSON lines in memory, for asserting what was logged. Test helper. */
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../../src/log.js';

export interface CapturedLog {
  logger: Logger;
  lines: Record<string, unknown>[];
  find(pred: (l: Record<string, unknown>) => boolean): Record<string, unknown> | undefined;
}

export function captureLogger(level: 'debug' | 'info' = 'debug'): CapturedLog {
  const lines: Record<string, unknown>[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const logger = createLogger(level, dest);
  return { logger, lines, find: (p) => lines.find(p) };
}
