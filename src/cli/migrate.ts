import type { Command } from 'commander'
import { createClickhouseClient, describeClickhouse } from '../adapters/clickhouse/client.js'
import { syncFeatureColumns } from '../adapters/clickhouse/feature-columns.js'
import { migrate } from '../adapters/clickhouse/migrate.js'
import { loadCliConfig, runCommand, withCommonOptions, type CommonOptions } from './common.js'
import { loadFeatures, withFeaturesOption } from './feature-module.js'

interface MigrateOptions extends CommonOptions {
  readonly features?: string
}

export function registerMigrate(program: Command): void {
  const command = program
    .command('migrate')
    .description(
      'apply clickhouse/migrations/*.sql to the configured ClickHouse, then add a scores column for every feature of the configured set (idempotent; the job does both at start)',
    )
  withFeaturesOption(withCommonOptions(command, { logLevel: 'warn' })).action(async (opts: MigrateOptions) => {
    await runCommand(opts, async () => {
      const { config } = loadCliConfig(opts, opts.features ? { 'features.module': opts.features } : {}, {
        logLevel: 'warn',
      })
      const features = await loadFeatures(config)
      const client = await createClickhouseClient(config)
      try {
        const result = await migrate(client)
        const featureColumns = await syncFeatureColumns(
          client,
          features.map((f) => f.name),
        )
        if (opts.json) process.stdout.write(`${JSON.stringify({ ok: true, ...result, featureColumns })}\n`)
        else
          process.stdout.write(
            `${describeClickhouse(config)}: applied ${result.applied.length} (${result.applied.join(', ') || 'none'}), already applied ${result.alreadyApplied.length}; feature columns added ${featureColumns.length}\n`,
          )
      } finally {
        await client.close()
      }
    })
  })
}
