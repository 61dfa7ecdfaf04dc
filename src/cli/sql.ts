import type { Command } from 'commander'
import { createClickhouseClient } from '../adapters/clickhouse/client.js'
import { errorMessageOf, ErrorCode, FraudstreamError } from '../core/errors.js'
import { loadCliConfig, renderTable, runCommand, withCommonOptions, type CommonOptions } from './common.js'

const RETURNS_ROWS = /^\s*(select|with|show|describe|desc|explain|exists)\b/i

export function registerSql(program: Command): void {
  const command = program
    .command('sql')
    .description('run SQL on the configured ClickHouse (embedded chDB under --data-dir, or the server at clickhouse.url)')
    .argument('<query>', 'the SQL to run, e.g. "SELECT decision, count() FROM scores GROUP BY decision"')
  withCommonOptions(command, { logLevel: 'warn' }).action(async (query: string, opts: CommonOptions) => {
    await runCommand(opts, async () => {
      const { config } = loadCliConfig(opts, {}, { logLevel: 'warn' })
      const client = await createClickhouseClient(config)
      try {
        if (!RETURNS_ROWS.test(query)) {
          await client.command({ query })
          process.stdout.write(opts.json ? `${JSON.stringify({ ok: true })}\n` : 'ok\n')
          return
        }
        let result: { meta?: { name: string; type: string }[]; data: Record<string, unknown>[]; rows?: number }
        try {
          result = await (await client.query({ query, format: 'JSON' })).json<Record<string, unknown>>()
        } catch (err) {
          throw new FraudstreamError(ErrorCode.sinkClickhouse, `query failed: ${errorMessageOf(err)}`, 'input', false, { cause: err })
        }
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ columns: result.meta ?? [], rows: result.data })}\n`)
          return
        }
        const columns = (result.meta ?? []).map((m) => m.name)
        const count = result.rows ?? result.data.length
        process.stdout.write(`${renderTable(columns, result.data.map((row) => columns.map((c) => row[c])))}\n(${count} row${count === 1 ? '' : 's'})\n`)
      } finally {
        await client.close()
      }
    })
  })
}
