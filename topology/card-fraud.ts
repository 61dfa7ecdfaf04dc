import type { Config } from '../src/config/schema.js'
import type { FeatureDefinition } from '../src/stages/features/feature-definition.js'
import { cardFraudFeatures } from './features.js'

/** The stages of the card-fraud dataflow in order; names appear in logs, metric labels and dead letters. */
export const CARD_FRAUD_STAGES = [
  { name: 'transactions', kind: 'source', what: 'consumer group on the transactions topic, key = card_id' },
  { name: 'decode', kind: 'map', what: 'JSON or msgpack → Transaction v1 (zod); failures → transactions.dlq with a reason' },
  { name: 'dedupe', kind: 'filter', what: 'transaction_id seen within the dedupe horizon → dropped and counted' },
  { name: 'card-windows', kind: 'window', what: 'card-keyed event-time windows in partition-local memory' },
  { name: 'lookup-facts', kind: 'sink', what: 'on-time transactions repartitioned by terminal and merchant (internal topic)' },
  { name: 'labels', kind: 'source', what: 'labels → the terminal and merchant they concern, into the same internal topic' },
  { name: 'lookup-agg', kind: 'window', what: 'second keyed stage: bucketed terminal/merchant aggregates → compacted tables topic' },
  { name: 'lookups', kind: 'table', what: 'every instance holds the tables; a transaction waits until they cover its window' },
  { name: 'features', kind: 'map', what: 'one float32 row in the model feature-contract order' },
  { name: 'score', kind: 'infer', what: 'micro-batches to ONNX sessions on Piscina worker threads' },
  { name: 'decide', kind: 'map', what: 'thresholds → approve | review | decline with reason codes' },
  { name: 'decisions', kind: 'sink', what: 'Decision v1 to the decisions topic, key = card_id' },
  { name: 'alerts', kind: 'sink', what: 'declines to the alerts topic' },
  { name: 'scores', kind: 'sink', what: 'every score with its features into ClickHouse, batched per partition' },
  { name: 'commit', kind: 'commit', what: 'offsets committed up to the highest offset every sink acknowledged' },
] as const

export interface CardFraudTopics {
  readonly transactions: string
  readonly decisions: string
  readonly alerts: string
  readonly dlq: string
  readonly labels: string
  readonly lookupFacts: string
  readonly lookupTables: string
  readonly state: string
}

/** Every topic of the topology, internal ones named after the group (one application, one set of internal topics). */
export function topicsOf(config: Pick<Config, 'kafka'>): CardFraudTopics {
  const { topics, groupId } = config.kafka
  return { ...topics, lookupFacts: topics.lookupFacts ?? `${groupId}.lookup-facts`, lookupTables: topics.lookupTables ?? `${groupId}.lookup-tables`, state: topics.state ?? `${groupId}.state` }
}

export interface CardFraudTopology {
  readonly name: 'card-fraud'
  readonly features: readonly FeatureDefinition[]
  readonly topics: CardFraudTopics
  readonly stages: typeof CARD_FRAUD_STAGES
}

/** The card-fraud graph for a configuration: its topics, stages and feature definitions. */
export function cardFraudTopology(config: Pick<Config, 'kafka'>): CardFraudTopology {
  return { name: 'card-fraud', features: cardFraudFeatures, topics: topicsOf(config), stages: CARD_FRAUD_STAGES }
}

/** A stable text picture of the graph, for `fraudstream run --describe`, the README and a snapshot test. */
export function describeTopology(topology: CardFraudTopology): string {
  const lines = topology.stages.map((s, i) => `${String(i + 1).padStart(2)}. ${s.name.padEnd(13)} ${s.kind.padEnd(7)} ${s.what}`)
  return [`topology ${topology.name} (${topology.features.length} features)`, ...lines].join('\n')
}
