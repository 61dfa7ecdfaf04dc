import { pino, type DestinationStream, type Logger } from 'pino'

export type { Logger }

export function createLogger(options: { level: string; destination?: DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'fraudstream' },
      redact: { paths: ['card_id', '*.card_id', 'password', '*.password'], censor: '[redacted]' },
    },
    options.destination ?? pino.destination(2),
  )
}
