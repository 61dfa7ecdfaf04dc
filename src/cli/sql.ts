import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { createClickhouseClient } from '../adapters/clickhouse/client.js'
import { errorMessageOf, ErrorCode, FraudstreamError } from '../core/errors.js'
import { loadCliConfig, renderTable, runCommand, withCommonOptions, type CommonOptions } from './common.js'

interface SqlOptions extends CommonOptions {
  readonly file?: string
  readonly param?: Readonly<Record<string, string>>
}

/** Statements answered with rows; the rest run as commands. Leading comments are skipped first: query files open with one. */
const RETURNS_ROWS = /^(select|with|show|describe|desc|explain|exists)\b/i
const LEADING_COMMENTS = /^(\s+|--[^\n]*(\n|$)|\/\*[\s\S]*?\*\/)*/
/** ClickHouse's identifier rule, which query parameter names follow. */
const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
/**
 * String literals and comments, blanked before looking for `{name:Type}`: ClickHouse substitutes neither inside a
 * literal nor inside a comment, so a placeholder there needs no --param.
 */
const LITERALS_AND_COMMENTS = /'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*"|`[^`]*`|--[^\n]*|\/\*[\s\S]*?\*\//g
const PLACEHOLDER = /\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*[^{}]+\}/g
/**
 * A parameter's default, declared in a query file's opening comment as `-- {name:Type} = value  what it means`: the
 * value is one word or a '…' literal ('' for empty). `sql --file` binds it when no --param names it, so every file
 * of the query pack answers as it is and documents what it can be asked.
 */
const PARAM_DEFAULT = /^--\s*\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*[^{}]+\}\s*=\s*('(?:[^'\\]|\\.|'')*'|\S+)/

export function registerSql(program: Command): void {
  const command = program
    .command('sql')
    .description(
      'run SQL on the configured ClickHouse (embedded chDB under --data-dir, or the server at clickhouse.url)',
    )
    .argument(
      '[query]',
      `the SQL to run, e.g. "SELECT decision, count() FROM scores WHERE model_role != 'shadow' GROUP BY decision"; or give --file`,
    )
    .option(
      '-f, --file <path>',
      "read the SQL from a file, e.g. clickhouse/queries/reason-codes.sql; its header's `-- {name:Type} = value` lines give defaults",
    )
    .option(
      '-p, --param <name=value>',
      'a value for {name:Type} in the SQL, bound as a ClickHouse query parameter (repeatable)',
      collectParam,
    )
  withCommonOptions(command, { logLevel: 'warn' })
    .addHelpText(
      'after',
      `
Give the SQL either as the argument or with --file, not both. Values are bound by ClickHouse, never pasted into the
SQL, and parsed as the placeholder's type:
  fraudstream sql --file clickhouse/queries/reason-codes.sql
  fraudstream sql --file clickhouse/queries/alert-volume.sql --param days=7
  fraudstream sql "SELECT count() FROM scores WHERE model_role != 'shadow' AND decision = {decision:String} AND score >= {min:Float32}" \\
    --param decision=decline --param min=0.9 --json`,
    )
    .action(async (queryArgument: string | undefined, opts: SqlOptions) => {
      await runCommand(opts, async () => {
        const query = sqlOf(queryArgument, opts.file)
        const params = { ...(opts.file !== undefined ? paramDefaultsOf(query) : {}), ...opts.param }
        checkParams(query, params, opts.param ?? {})
        const { config } = loadCliConfig(opts, {}, { logLevel: 'warn' })
        const client = await createClickhouseClient(config)
        try {
          if (!RETURNS_ROWS.test(query.replace(LEADING_COMMENTS, ''))) {
            try {
              await client.command({ query, query_params: params })
            } catch (err) {
              throw new FraudstreamError(
                ErrorCode.sinkClickhouse,
                `statement failed: ${errorMessageOf(err)}`,
                'input',
                false,
                { cause: err },
              )
            }
            process.stdout.write(opts.json ? `${JSON.stringify({ ok: true })}\n` : 'ok\n')
            return
          }
          let result: { meta?: { name: string; type: string }[]; data: Record<string, unknown>[]; rows?: number }
          try {
            result = await (
              await client.query({ query, query_params: params, format: 'JSON' })
            ).json<Record<string, unknown>>()
          } catch (err) {
            throw new FraudstreamError(
              ErrorCode.sinkClickhouse,
              `query failed: ${errorMessageOf(err)}`,
              'input',
              false,
              { cause: err },
            )
          }
          if (opts.json) {
            process.stdout.write(`${JSON.stringify({ columns: result.meta ?? [], rows: result.data })}\n`)
            return
          }
          const columns = (result.meta ?? []).map((m) => m.name)
          const count = result.rows ?? result.data.length
          process.stdout.write(
            `${renderTable(
              columns,
              result.data.map((row) => columns.map((c) => row[c])),
            )}\n(${count} row${count === 1 ? '' : 's'})\n`,
          )
        } finally {
          await client.close()
        }
      })
    })
}

/** The SQL from exactly one of the argument and --file. */
function sqlOf(queryArgument: string | undefined, file: string | undefined): string {
  if (queryArgument !== undefined && file !== undefined) {
    throw new FraudstreamError(
      ErrorCode.usage,
      'give the SQL either as the query argument or with --file, not both',
      'input',
    )
  }
  if (file !== undefined) {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (err) {
      throw new FraudstreamError(
        ErrorCode.usage,
        `--file ${file} cannot be read: ${errorMessageOf(err)}`,
        'input',
        false,
        { cause: err },
      )
    }
    if (text.replace(LITERALS_AND_COMMENTS, ' ').trim() === '')
      throw new FraudstreamError(ErrorCode.usage, `--file ${file} holds no SQL`, 'input')
    return text
  }
  if (queryArgument === undefined || queryArgument.trim() === '') {
    throw new FraudstreamError(ErrorCode.usage, 'give the SQL to run: a query argument, or --file <path>', 'input')
  }
  return queryArgument
}

/** The `-- {name:Type} = value` defaults of the comment lines a query file opens with. */
export function paramDefaultsOf(query: string): Record<string, string> {
  const defaults: Record<string, string> = {}
  const header = LEADING_COMMENTS.exec(query)?.[0] ?? ''
  for (const line of header.split('\n')) {
    const match = PARAM_DEFAULT.exec(line.trim())
    if (!match) continue
    const value = match[2]!
    defaults[match[1]!] = value.startsWith("'") ? value.slice(1, -1).replace(/''/g, "'").replace(/\\(.)/g, '$1') : value
  }
  return defaults
}

/** Parses one --param name=value (the value may hold `=`), refusing a malformed or repeated one. */
function collectParam(text: string, params: Readonly<Record<string, string>> = {}): Record<string, string> {
  const at = text.indexOf('=')
  const name = at < 0 ? text : text.slice(0, at)
  if (at < 0 || !PARAM_NAME.test(name)) {
    throw new FraudstreamError(
      ErrorCode.usage,
      `--param must be name=value with a name of letters, digits and _ (as in {name:Type}), got "${text}"`,
      'input',
    )
  }
  if (Object.hasOwn(params, name))
    throw new FraudstreamError(ErrorCode.usage, `--param ${name} is given twice`, 'input')
  return { ...params, [name]: text.slice(at + 1) }
}

/**
 * Every {name:Type} in the SQL needs a --param, and every --param must be used: a misspelt name would otherwise
 * surface as ClickHouse's "Substitution is not set", or not at all.
 */
function checkParams(
  query: string,
  params: Readonly<Record<string, string>>,
  given: Readonly<Record<string, string>>,
): void {
  const used = new Set(Array.from(query.replace(LITERALS_AND_COMMENTS, ' ').matchAll(PLACEHOLDER), (m) => m[1]!))
  const missing = [...used].filter((name) => !Object.hasOwn(params, name))
  if (missing.length > 0) {
    throw new FraudstreamError(
      ErrorCode.usage,
      `the SQL needs ${missing.map((name) => `--param ${name}=…`).join(', ')} for its {name:Type} placeholders`,
      'input',
    )
  }
  const unused = Object.keys(given).filter((name) => !used.has(name))
  if (unused.length > 0) {
    const takes = used.size > 0 ? `it takes ${[...used].join(', ')}` : 'it has no {name:Type} placeholders'
    throw new FraudstreamError(
      ErrorCode.usage,
      `${unused.map((name) => `--param ${name}`).join(', ')} not used by the SQL (${takes})`,
      'input',
    )
  }
}
