import type { Command } from 'commander'
import { describeClickhouse } from '../adapters/clickhouse/client.js'
import { ErrorCode, FraudstreamError } from '../core/errors.js'
import { describeCardFraud } from '../../topology/card-fraud.js'
import { createPipeline, resolveKafka } from '../main.js'
import { loadFeatures, withFeaturesOption } from './feature-module.js'
import { loadCliConfig, runCommand, withCommonOptions, type CommonOptions } from './common.js'

export function registerRun(program: Command): void {
  const command = program
    .command('run')
    .description(
      'run the scoring job as a consumer-group member against Kafka/Redpanda and ClickHouse (scale = partitions × instances)',
    )
    .option('--describe', 'print the topology and exit')
  withCommonOptions(withFeaturesOption(command), { logLevel: 'info' }).action(
    async (opts: CommonOptions & { describe?: boolean; features?: string }) => {
      await runCommand(opts, async () => {
        const { config, log } = loadCliConfig(opts, opts.features ? { 'features.module': opts.features } : {})
        const features = await loadFeatures(config)
        if (opts.describe) {
          const { text, graph } = describeCardFraud(config, features)
          const nodes = graph.topology.nodes.map((n) => ({
            name: n.name,
            kind: n.kind,
            what: n.what,
            ...(n.batch ? { batch: n.batch } : {}),
          }))
          const json = {
            name: graph.topology.name,
            source: graph.topology.source,
            nodes,
            deadLetters: { name: graph.topology.deadLetters.name, what: graph.topology.deadLetters.what },
            beside: graph.topology.sideNodes,
            features: graph.features,
            topics: graph.topics,
          }
          process.stdout.write(opts.json ? `${JSON.stringify(json)}\n` : `${text}\n`)
          return 0
        }
        if (config.api.enabled && config.api.keys.length === 0)
          throw new FraudstreamError(
            ErrorCode.configInvalid,
            'api.enabled needs at least one key in api.keys (or FRAUDSTREAM_API_KEYS); `fraudstream api-key --id <name>` makes one',
            'input',
          )
        const kafka = await resolveKafka(config)
        if (kafka.mock) {
          log.warn(
            { bootstrapServers: kafka.bootstrapServers },
            'no kafka.brokers configured: serving an empty in-process mock cluster; feed it with `fraudstream generate --brokers <address>`',
          )
          if (!opts.json) process.stderr.write(`embedded mock Kafka cluster at ${kafka.bootstrapServers}\n`)
        }
        let failure: Error | undefined
        let stop: () => void = () => undefined
        const stopped = new Promise<void>((resolve) => (stop = resolve))
        process.once('SIGINT', () => stop())
        process.once('SIGTERM', () => stop())
        const pipeline = await createPipeline({
          config,
          kafka,
          log,
          features,
          resetState: kafka.mock !== undefined,
          onFailure: (err) => {
            failure = err
            stop()
          },
        })
        if (!opts.json)
          process.stderr.write(
            `fraudstream run: group ${config.kafka.groupId}, ${describeClickhouse(config)}${pipeline.http ? `, metrics ${pipeline.http.url}/metrics` : ''}${pipeline.api ? `, scoring API ${pipeline.api.url}/v1/score` : ''}\n`,
          )
        await stopped
        await pipeline.close()
        await kafka.mock?.close()
        const stats = pipeline.job.stats
        if (opts.json)
          process.stdout.write(
            `${JSON.stringify({ ok: !failure, ...stats, partitions: pipeline.job.finalPartitions ?? [] })}\n`,
          )
        else
          process.stderr.write(
            `stopped: consumed ${stats.consumed}, scored ${stats.scored}, dead-lettered ${stats.invalid}, duplicates ${stats.duplicates}${failure ? `; FAILED: ${failure.message}` : ''}\n`,
          )
        return failure ? 1 : 0
      })
    },
  )
}
