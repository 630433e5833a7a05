/**
 * Logging: pino JSON lines on stdout (journald picks them up), one event per line with stable
 * keys: `link`, `state`, `prev`, `reason`, `op`, `err`. The level comes from the config, and
 * `WANBRAID_LOG_LEVEL` overrides it (for debugging a unit without editing its config).
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import { LOG_LEVELS } from './config/schema.js';

export type { Logger };
export type LogLevel = (typeof LOG_LEVELS)[number];

export function effectiveLevel(configured: LogLevel, env: NodeJS.ProcessEnv = process.env): LogLevel {
  const e = env.WANBRAID_LOG_LEVEL;
  return e && (LOG_LEVELS as readonly string[]).includes(e) ? (e as LogLevel) : configured;
}

export function createLogger(level: LogLevel, dest?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { svc: 'wanbraid' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: pino.stdSerializers.err },
    },
    dest ?? pino.destination({ fd: 1, sync: false }),
  );
}

/** A logger that drops everything, for pure code under test. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
