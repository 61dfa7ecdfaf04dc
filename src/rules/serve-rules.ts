import { baseClientConfig } from '../adapters/kafka/client-config.js'
import { KafkaTableReader, RARELY_CHANGING_FETCH_WAIT_MS } from '../adapters/kafka/table-reader.js'
import type { Config } from '../config/schema.js'
import { ErrorCode, errorMessageOf, FraudstreamError } from '../core/errors.js'
import { readToEnd } from '../models/model-reload.js'
import type { Logger } from '../observability/logger.js'
import type { Metrics } from '../observability/metrics.js'
import { topicsOf } from '../../topology/card-fraud.js'
import { RulesState } from './rules-state.js'

export interface ServeRulesOptions {
  readonly config: Config
  readonly bootstrapServers: string
  readonly instanceId: string
  readonly featureNames: readonly string[]
  /**
   * The topic's partition count, asked with a producer: that also creates it on a broker that auto-creates topics
   * (the mock cluster does; a reader's metadata request does not), and throws FS_ERR_KAFKA_TOPIC_MISSING otherwise.
   */
  readonly partitionCount: (topic: string) => Promise<number>
  readonly metrics: Metrics
  readonly log: Logger
  readonly closers: (() => Promise<void>)[]
}

/**
 * This instance's copy of the rules and lists: both compacted topics read from the beginning and followed (the
 * KafkaTableReader the lookup tables and the model registry use), to their end before the job scores its first
 * batch, so every instance starts with the rules the others run. A change reaches the next batch of every instance
 * as soon as its reader polls it (tens of milliseconds).
 */
export async function serveRules(options: ServeRulesOptions): Promise<RulesState> {
  const { config, metrics, closers } = options
  const log = options.log.child({ component: 'rules' })
  const topics = topicsOf(config)
  const state = new RulesState({
    featureNames: options.featureNames,
    onRefused: (topic, key, err) => {
      metrics.rulesChanges.inc({ topic, result: 'refused' })
      log.error({ err, topic, key }, `rule or list record refused; the previous value stays: ${errorMessageOf(err)}`)
    },
    onApplied: (topic, records, engine) => {
      metrics.rulesChanges.inc({ topic, result: 'ok' }, records)
      metrics.rulesActive.set({ kind: 'rules' }, engine.size)
      metrics.rulesActive.set({ kind: 'list_entries' }, engine.lists.size)
      log.info(
        { topic, records, version: engine.version, rules: engine.size, listEntries: engine.lists.size },
        'rules applied: the next batches are decided with this version',
      )
    },
  })
  for (const [name, topic] of [
    ['rules', topics.rules],
    ['lists', topics.lists],
  ] as const) {
    const reader = new KafkaTableReader({
      clientConfig: baseClientConfig(config, options.bootstrapServers, `${options.instanceId}-${name}`),
      topic,
      log,
      fetchWaitMaxMs: RARELY_CHANGING_FETCH_WAIT_MS,
    })
    try {
      await options.partitionCount(topic)
      await reader.start((records) =>
        name === 'rules' ? state.applyRuleRecords(records) : state.applyListRecords(records),
      )
    } catch (err) {
      await reader.stop()
      if (!(err instanceof FraudstreamError && err.code === ErrorCode.kafkaTopicMissing)) throw err
      log.warn(
        { topic },
        `${name} topic ${topic} does not exist: this instance runs without runtime ${name}; create it (compacted) and restart`,
      )
      continue
    }
    closers.push(() => reader.stop())
    if (!(await readToEnd(reader, 10_000)))
      log.warn({ topic }, `${name} topic not read to its end in 10 s; starting with what was read`)
  }
  metrics.rulesActive.set({ kind: 'rules' }, state.engine.size)
  metrics.rulesActive.set({ kind: 'list_entries' }, state.engine.lists.size)
  return state
}
