import type { Command } from 'commander'
import { findEmbeddedKafka } from '../adapters/kafka/embedded-endpoint.js'
import type { Config } from '../config/schema.js'
import { ErrorCode, FraudstreamError } from '../core/errors.js'
import { RulesAdmin } from '../rules/rules-admin.js'
import { loadCliConfig, withCommonOptions, type CommonOptions } from './common.js'
import { loadFeatures, withFeaturesOption } from './feature-module.js'

/** The options `rules` and `lists` subcommands share. */
export interface AdminCliOptions extends CommonOptions {
  readonly brokers?: string
  readonly features?: string
}

export function withAdminOptions(command: Command): Command {
  return withFeaturesOption(withCommonOptions(command, { logLevel: 'warn' })).option(
    '--brokers <host:port,...>',
    'Kafka brokers holding the rules and lists topics (default: kafka.brokers, else the embedded job running with this --data-dir)',
  )
}

/**
 * The brokers a command writes rules and lists to: --brokers, kafka.brokers, or the mock cluster of an embedded job
 * (`npm start`, `fraudstream run`) that runs with the same data dir; FS_ERR_USAGE when none is known.
 */
export function adminBrokers(config: Config, brokers: string | undefined): string {
  if (brokers) return brokers
  if (config.kafka.brokers.length > 0) return config.kafka.brokers.join(',')
  const embedded = findEmbeddedKafka(config.dataDir)
  if (embedded) return embedded
  throw new FraudstreamError(
    ErrorCode.usage,
    `no Kafka to write to: kafka.brokers is not set and no embedded job runs with data dir ${config.dataDir}; start one (npm start) or pass --brokers`,
    'input',
  )
}

/** Connects the admin for a command and closes it after `body`. */
export async function withAdmin<T>(
  opts: AdminCliOptions,
  body: (admin: RulesAdmin, config: Config) => Promise<T>,
): Promise<T> {
  const { config, log } = loadCliConfig(opts, opts.features ? { 'features.module': opts.features } : {}, {
    logLevel: 'warn',
  })
  const featureNames = (await loadFeatures(config)).map((f) => f.name)
  const admin = await RulesAdmin.connect({
    config,
    bootstrapServers: adminBrokers(config, opts.brokers),
    featureNames,
    log,
  })
  try {
    return await body(admin, config)
  } finally {
    await admin.close()
  }
}
