import { pack, unpack } from 'msgpackr'
import { partitionOf } from '../../src/adapters/kafka/partitioner.js'
import { loadConfig } from '../../src/config/load.js'
import type { Scorer } from '../../src/core/ports.js'
import type { AlertDigestV1 } from '../../src/core/alert-digest-v1.js'
import type { AlertV1, DeadLetter, DecisionV1 } from '../../src/core/records.js'
import type { GeneratedRecord } from '../../src/generator/transaction-generator.js'
import type { FeatureDefinition } from '../../src/stages/features/feature-definition.js'
import type { FirstTier } from '../../src/stages/infer/first-tier.js'
import { LookupAggregator } from '../../src/stages/lookups/lookup-aggregator.js'
import { sourceId, type LookupFact } from '../../src/stages/lookups/lookup-facts.js'
import { LookupTable } from '../../src/stages/lookups/lookup-table.js'
import { applyTableRecords, encodeTableEntry, PROGRESS_KEY } from '../../src/stages/lookups/table-records.js'
import type { RulesSource } from '../../src/stages/decide/pre-rules-stage.js'
import { MemoryRecordSink, MemoryScoreSink, MemorySnapshotStore } from '../../src/testing/memory-sinks.js'
import { TopologyTestDriver } from '../../src/testing/topology-test-driver.js'
import { cardFraud, cardFraudStats, type CardFraudStats } from '../../topology/card-fraud.js'
import { cardFraudFeatures } from '../../topology/features.js'

/** A model as a plain function of the feature row: what the memory scorer runs, and what tests run again. */
export type ScoreFn = (row: Float32Array) => number

/** A smooth function of every feature, so two different rows almost never score alike. */
export const mixingModel: ScoreFn = (row) => {
  let z = -2
  for (let i = 0; i < row.length; i++) z += Math.tanh(row[i]! / (1 + i)) * (((i * 7) % 5) - 2) * 0.3
  return 1 / (1 + Math.exp(-z))
}

/** A champion-only scorer running `fn` on the main thread. */
export function functionScorer(
  featureNames: readonly string[],
  fn: ScoreFn,
  thresholds: { review: number; decline: number },
): Scorer {
  const width = featureNames.length
  const model = { name: 'function', version: '1' }
  return {
    model,
    featureNames,
    score: async (rows, count) => ({
      models: [
        {
          model,
          role: 'champion',
          thresholds,
          scores: Float32Array.from({ length: count }, (_, i) => fn(rows.subarray(i * width, (i + 1) * width))),
        },
      ],
    }),
    close: async () => {},
  }
}

/**
 * The card-fraud topology on the test driver: decisions, alerts and dead letters in one memory sink, scores in
 * another, and the lookup aggregation done in memory from the facts and watermarks the job sends (what the lookup
 * task and the tables topic do in a deployment), so lookup features are real.
 */
export async function cardFraudDriver(
  options: {
    overrides?: Record<string, unknown>
    features?: readonly FeatureDefinition[]
    model?: ScoreFn
    /** Instead of `model`: a scorer of the test's own (a lineup, one that fails or stalls). */
    scorer?: (featureNames: readonly string[]) => Scorer
    partitions?: number
    /** Snapshot partition state in memory, so a reassigned partition restores instead of replaying. */
    snapshots?: boolean
    /** The sink for decisions, alerts, digests and dead letters (one with manual acks, say). */
    producer?: MemoryRecordSink
    /** Tiered scoring: the first tier before the scorer. */
    firstTier?: FirstTier
    /** The rules and lists in force (a RulesState the test feeds records to); none by default. */
    rules?: RulesSource
  } = {},
) {
  const config = loadConfig({ overrides: { environment: 'test', ...options.overrides } })
  const features = options.features ?? cardFraudFeatures
  const partitions = options.partitions ?? 2
  const model = options.model ?? mixingModel
  const featureNames = features.map((f) => f.name)
  const producer = options.producer ?? new MemoryRecordSink()
  const scores = new MemoryScoreSink()
  const factsPartitions = 2
  const table = new LookupTable(factsPartitions)
  const expectedSources = Array.from({ length: partitions }, (_, p) => sourceId('tx', p))
  let aggregators: LookupAggregator[] = []
  let tableOffset = 0
  const lookupsProducer = new MemoryRecordSink({
    onSend: (record) => {
      const value = unpack(record.value!) as LookupFact | LookupFact[]
      const aggregator = aggregators[record.partition!]!
      for (const fact of Array.isArray(value) ? value : [value]) aggregator.apply(fact)
      const published = aggregator.takeChanges().map((entry) => ({
        topic: 'tables',
        partition: record.partition!,
        offset: tableOffset++,
        timestampMs: 0,
        ...encodedKey(encodeTableEntry(entry)),
      }))
      published.push({
        topic: 'tables',
        partition: record.partition!,
        offset: tableOffset++,
        timestampMs: 0,
        key: Buffer.from(PROGRESS_KEY),
        value: pack(aggregator.progress),
      })
      applyTableRecords(table, published)
    },
  })
  const graph = cardFraud(
    {
      producer,
      scores,
      scoresHighOffset: (tp) => scores.highOffset(tp),
      scorer: options.scorer?.(featureNames) ?? functionScorer(featureNames, model, config.thresholds),
      lookups: { producer: lookupsProducer, table, factsPartitions },
      ...(options.firstTier ? { firstTier: options.firstTier } : {}),
      ...(options.rules ? { rules: options.rules } : {}),
    },
    { config, features, thresholds: config.thresholds, runId: 'live' },
  )
  aggregators = Array.from({ length: factsPartitions }, () => new LookupAggregator(graph.lookupPlan, expectedSources))
  const driver = await TopologyTestDriver.create<CardFraudStats>({
    topology: graph.topology,
    partitions,
    stats: cardFraudStats,
    ...(options.snapshots ? { snapshots: new MemorySnapshotStore() } : {}),
  })
  const topics = graph.topics

  /** Generated records to the partition Kafka's default partitioner gives their key, timestamped with their event time. */
  const pipe = (records: readonly GeneratedRecord[]) =>
    driver.pipe(
      records.map((r) => ({
        partition: r.key === null ? 0 : partitionOf(r.key, partitions, 'murmur2'),
        key: r.key,
        value: r.value,
        timestampMs: r.eventTimeMs,
      })),
    )

  return {
    driver,
    graph,
    config,
    model,
    pipe,
    producer,
    /** Facts and watermark markers the job sent to the lookup aggregators. */
    lookupsProducer,
    scores,
    decisions: () => producer.valuesOf<DecisionV1>(topics.decisions),
    alerts: () => producer.valuesOf<AlertV1>(topics.alerts),
    digests: () => producer.valuesOf<AlertDigestV1>(topics.alertsDigest),
    deadLetters: () => producer.valuesOf<DeadLetter>(topics.dlq),
  }
}

function encodedKey(encoded: { key: string; value: Buffer | null }): { key: Buffer; value: Buffer | null } {
  return { key: Buffer.from(encoded.key), value: encoded.value }
}

/** A hand-made Transaction v1 record (one terminal for all, merchant mer_1 unless given), keyed by its card. */
export function transactionRecord(
  id: string,
  fields: { card?: string; merchant?: string; amount?: number; eventTimeMs: number; partition?: number },
): { partition: number; key: string; value: Buffer; timestampMs: number } {
  const card = fields.card ?? 'card_0000000000000001'
  const value = {
    transaction_id: id,
    card_id: card,
    customer_id: 'cus_1',
    merchant_id: fields.merchant ?? 'mer_1',
    terminal_id: 'ter_1',
    amount: fields.amount ?? 10,
    currency: 'EUR',
    mcc: '5411',
    country: 'NL',
    card_country: 'NL',
    channel: 'pos',
    event_time: new Date(fields.eventTimeMs).toISOString(),
  }
  return {
    partition: fields.partition ?? 0,
    key: card,
    value: Buffer.from(JSON.stringify(value)),
    timestampMs: fields.eventTimeMs,
  }
}

/** The smallest feature set the topology tests use: the amount and the card's transactions in the last hour. */
export const SIMPLE_FEATURES: readonly FeatureDefinition[] = [
  { kind: 'derived', name: 'amount', field: 'amount', description: 'the amount' },
  {
    kind: 'window',
    name: 'card_count_1h',
    key: 'card',
    aggregation: 'count',
    spanMs: 3_600_000,
    description: 'card transactions in the last hour',
  },
]
