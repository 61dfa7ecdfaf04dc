import type { Command } from 'commander'
import { loadConfig, scrubSecretsFromEnv } from '../config/load.js'
import type { Config } from '../config/schema.js'
import { ErrorCode, errorCodeOf, FraudstreamError } from '../core/errors.js'
import type { ValueFormat } from '../generator/transaction-generator.js'
import { createLogger, type Logger } from '../observability/logger.js'

export interface CommonOptions {
  readonly config?: string
  readonly dataDir?: string
  readonly logLevel?: string
  readonly json?: boolean
}

/** --config, --data-dir, --log-level and --json, shared by every command. */
export function withCommonOptions(command: Command, defaults: { logLevel: string }): Command {
  return command
    .option('-c, --config <file>', 'config file (JSON or YAML); FRAUDSTREAM_* env vars override it')
    .option('--data-dir <dir>', 'where embedded ClickHouse (chDB) and local state live (default ./data)')
    .option('--log-level <level>', `pino log level on stderr (default ${defaults.logLevel})`)
    .option('--json', 'print one JSON summary on stdout instead of human output')
}

export function loadCliConfig(
  options: CommonOptions,
  overrides: Record<string, unknown> = {},
  defaults: { logLevel: string; config?: Record<string, unknown> } = { logLevel: 'info' },
): { config: Config; log: Logger } {
  const config = loadConfig({
    ...(options.config ? { file: options.config } : {}),
    ...(defaults.config ? { defaults: defaults.config } : {}),
    env: process.env,
    overrides: {
      ...(options.dataDir ? { dataDir: options.dataDir } : {}),
      'log.level': options.logLevel ?? process.env.FRAUDSTREAM_LOG_LEVEL ?? defaults.logLevel,
      ...overrides,
    },
  })
  scrubSecretsFromEnv(process.env)
  return { config, log: createLogger({ level: config.log.level }) }
}

/**
 * Runs a command body; prints a typed error with its code and exits non-zero: 1, or `failureExitCode` for a command
 * whose own exit codes already mean something (drift: 1 is a warning).
 */
export async function runCommand(
  options: CommonOptions,
  body: () => Promise<number | void>,
  { failureExitCode = 1 }: { failureExitCode?: number } = {},
): Promise<void> {
  try {
    const code = await body()
    process.exitCode = code ?? 0
  } catch (err) {
    const code = errorCodeOf(err) ?? 'FS_ERR_INTERNAL'
    const message = err instanceof Error ? err.message : String(err)
    if (options.json) process.stdout.write(`${JSON.stringify({ ok: false, error: { code, message } })}\n`)
    else process.stderr.write(`fraudstream: ${message} [${code}]\n`)
    if (!(err instanceof FraudstreamError) && err instanceof Error && process.env.FRAUDSTREAM_DEBUG)
      process.stderr.write(`${err.stack}\n`)
    process.exitCode = failureExitCode
  }
}

export const formatInt = (n: number) => Math.round(n).toLocaleString('en-US')
export const formatMs = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2))

/** Parses a number option, naming the option when it is not one. */
export function parseNumber(name: string, min: number, max = Infinity) {
  return (value: string): number => {
    const n = Number(value)
    if (!Number.isFinite(n) || n < min || n > max)
      throw new FraudstreamError(
        ErrorCode.usage,
        `${name} must be a number in [${min}, ${max}], got "${value}"`,
        'input',
      )
    return n
  }
}

/** parseNumber for counts: whole numbers only. */
export function parseInteger(name: string, min: number, max = Infinity) {
  const parse = parseNumber(name, min, max)
  return (value: string): number => {
    const n = parse(value)
    if (!Number.isInteger(n))
      throw new FraudstreamError(ErrorCode.usage, `${name} must be a whole number, got "${value}"`, 'input')
    return n
  }
}

/** A time given as ISO-8601 (UTC unless it names a zone) or epoch ms; undefined if it is neither. */
export function parseTimeMs(text: string): number | undefined {
  const t = text.trim()
  if (/^\d{10,}$/.test(t)) return Number(t)
  // Date.parse reads a date-time without a zone as local time: these times are UTC, as ClickHouse stores them.
  const zoned = /^\d{4}-\d{2}-\d{2}T.*(Z|[+-]\d{2}:?\d{2})$/i.test(t) || /^\d{4}-\d{2}-\d{2}$/.test(t)
  const ms = Date.parse(zoned ? t : `${t.replace(' ', 'T')}Z`)
  return Number.isFinite(ms) ? ms : undefined
}

/** parseTimeMs for an option, naming it when the value is not a time. */
export function parseTimeOption(name: string) {
  return (value: string): number => {
    const ms = parseTimeMs(value)
    if (ms === undefined)
      throw new FraudstreamError(
        ErrorCode.usage,
        `${name} must be an ISO-8601 time (UTC unless a zone is given) or epoch ms, e.g. 2026-01-05 or 2026-01-05T12:00, got "${value}"`,
        'input',
      )
    return ms
  }
}

/** Parses --format, naming the allowed values when it is not one. */
export function parseFormat(value: string): ValueFormat {
  if (value === 'json' || value === 'msgpack' || value === 'mixed') return value
  throw new FraudstreamError(ErrorCode.usage, `--format must be json, msgpack or mixed, got "${value}"`, 'input')
}

/** A fixed-width text table, for `sql` and summaries. */
export function renderTable(columns: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const cells = rows.map((row) =>
    row.map((v) => (v === null || v === undefined ? 'NULL' : typeof v === 'object' ? JSON.stringify(v) : String(v))),
  )
  const widths = columns.map((c, i) => Math.min(60, Math.max(c.length, ...cells.map((r) => r[i]!.length))))
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => (v.length > widths[i]! ? `${v.slice(0, widths[i]! - 1)}…` : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [line(columns), widths.map((w) => '─'.repeat(w)).join('  '), ...cells.map(line)].join('\n')
}
