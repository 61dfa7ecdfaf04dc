import type { Command } from 'commander'
import { createClickhouseClient, describeClickhouse } from '../adapters/clickhouse/client.js'
import { migrate } from '../adapters/clickhouse/migrate.js'
import { loadCliConfig, runCommand, withCommonOptions, type CommonOptions } from './common.js'

export function registerMigrate(program: Command): void {
  const command = program
    .command('migrate')
    .description('apply clickhouse/migrations/*.sql to the configured ClickHouse (idempotent)')
  withCommonOptions(command, { logLevel: 'warn' }).action(async (opts: CommonOptions) => {
    await runCommand(opts, async () => {
      const { config } = loadCliConfig(opts, {}, { logLevel: 'warn' })
      const client = await createClickhouseClient(config)
      try {
        const result = await migrate(client)
        if (opts.json) process.stdout.write(`${JSON.stringify({ ok: true, ...result })}\n`)
        else
          process.stdout.write(
            `${describeClickhouse(config)}: applied ${result.applied.length} (${result.applied.join(', ') || 'none'}), already applied ${result.alreadyApplied.length}\n`,
          )
      } finally {
        await client.close()
      }
    })
  })
}
