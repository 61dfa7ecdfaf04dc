import type { Config } from '../src/config/schema.js'
import { ErrorCode, FraudstreamError } from '../src/core/errors.js'
import type { RecordSink, Scorer, ScoreSink, TopicPartition } from '../src/core/ports.js'
import type { DecisionV1 } from '../src/core/records.js'
import { describeTopology, topology, type Topology } from '../src/core/topology.js'
import { decideStage, type Decided } from '../src/stages/decide/decide-stage.js'
import { fallbackRulesOf } from '../src/stages/decide/fallback-rules.js'
import { preRulesStage, type RulesSource } from '../src/stages/decide/pre-rules-stage.js'
import { RulesState } from '../src/rules/rules-state.js'
import { decodeStage } from '../src/stages/decode/decode-stage.js'
import { dedupeStage, type DedupeStage } from '../src/stages/dedupe/dedupe-stage.js'
import { featureContractHash, type FeatureDefinition } from '../src/stages/features/feature-definition.js'
import type { FirstTier } from '../src/stages/infer/first-tier.js'
import { scoreStage, type FallbackReason } from '../src/stages/infer/score-stage.js'
import { lookupPlanOf, type LookupPlan } from '../src/stages/lookups/lookup-plan.js'
import { lookupsStage } from '../src/stages/lookups/lookups-stage.js'
import { LookupTable } from '../src/stages/lookups/lookup-table.js'
import { deadLetterPort } from '../src/stages/sinks/dead-letter.js'
import { scoresSink } from '../src/stages/sinks/scores-sink.js'
import { AlertOutcome, alertsSink } from '../src/stages/sinks/alerts-sink.js'
import { topicSink } from '../src/stages/sinks/topic-sinks.js'
import { cardWindowsStage, type CardWindowsStage } from '../src/stages/windows/card-windows-stage.js'

export interface CardFraudTopics {
  readonly transactions: string
  readonly decisions: string
  readonly alerts: string
  readonly alertsDigest: string
  readonly dlq: string
  readonly labels: string
  readonly lookupFacts: string
  readonly lookupTables: string
  readonly state: string
  readonly models: string
  readonly rules: string
  readonly lists: string
}

/** Every topic of the topology, internal ones named after the group (one application, one set of internal topics). */
export function topicsOf(config: Pick<Config, 'kafka'>): CardFraudTopics {
  const { topics, groupId } = config.kafka
  return {
    ...topics,
    lookupFacts: topics.lookupFacts ?? `${groupId}.lookup-facts`,
    lookupTables: topics.lookupTables ?? `${groupId}.lookup-tables`,
    state: topics.state ?? `${groupId}.state`,
    models: topics.models ?? `${groupId}.models`,
    rules: topics.rules ?? `${groupId}.rules`,
    lists: topics.lists ?? `${groupId}.lists`,
  }
}

/** The I/O edges of the graph: the same graph runs on Kafka and ClickHouse, or on the test driver's memory ports. */
export interface CardFraudIO {
  /** Decisions, alerts and dead letters: acknowledged from delivery reports. */
  readonly producer: RecordSink
  readonly scores: ScoreSink
  /** The highest source offset of a partition already in `scores` (−1 if none). */
  readonly scoresHighOffset: (tp: TopicPartition) => Promise<number>
  readonly scorer: Scorer
  /** Tiered scoring (infer.tiers, firstTierOf): the cheap model that settles clear cases before the scorer. */
  readonly firstTier?: FirstTier
  /**
   * The rules and lists in force, read per batch (src/rules/rules-state.ts, fed by the rules and lists topics);
   * none when absent.
   */
  readonly rules?: RulesSource
  /** The lookup tables this instance holds, when some feature reads one (see lookupPlanOf). */
  readonly lookups?: {
    /** Facts and watermarks: a producer batching for throughput, apart from the decisions' one. */
    readonly producer: RecordSink
    readonly table: LookupTable
    readonly factsPartitions: number
    readonly onTables?: (keys: number, completeMs: number) => void
    /** How long a transaction that had to wait for the tables waited (fraudstream_lookup_wait_seconds). */
    readonly onWaited?: (waitedMs: number) => void
  }
}

export interface CardFraudOptions {
  readonly config: Config
  /** The feature set: topology/features.ts by default, or a user's module (`--features`). */
  readonly features: readonly FeatureDefinition[]
  readonly thresholds: { readonly review: number; readonly decline: number }
  readonly runId: string
  readonly onDecided?: (decision: DecisionV1, eventToDecisionMs: number | undefined) => void
  readonly onInferenceBatch?: (records: number, ms: number) => void
  readonly onFallback?: (reason: FallbackReason, records: number, err: Error) => void
}

export interface CardFraudGraph {
  readonly topology: Topology
  readonly topics: CardFraudTopics
  readonly features: readonly FeatureDefinition[]
  readonly lookupPlan: LookupPlan
  /** Stages whose partition state the job reports as metrics. */
  readonly dedupe: DedupeStage
  readonly windows: CardWindowsStage
}

/**
 * The card-fraud dataflow: the graph the runtime executes, node by node, in this order. Names appear in logs,
 * metric labels and dead letters.
 */
export function cardFraud(io: CardFraudIO, options: CardFraudOptions): CardFraudGraph {
  const { config, features } = options
  const topics = topicsOf(config)
  const featureNames = features.map((f) => f.name)
  const lookupPlan = lookupPlanOf(features, config.windows.allowedLatenessMs)
  const dedupe = dedupeStage('dedupe', {
    horizonMs: config.dedupe.horizonMs,
    maxEntries: config.dedupe.maxEntriesPerPartition,
  })
  const windows = cardWindowsStage('card-windows', {
    features,
    allowedLatenessMs: config.windows.allowedLatenessMs,
    maxStateBytes: config.windows.maxStateBytesPerPartition,
  })

  let graph = topology('card-fraud')
    .source('transactions', topics.transactions, 'consumer group, key = card_id, per-partition order')
    .map(
      'decode',
      decodeStage('decode', config.decode),
      'JSON or msgpack → Transaction v1 (zod); failures → dead letters with a reason',
    )
    .filter('dedupe', dedupe, 'transaction_id seen within the dedupe horizon → dropped, counted')
    .window(
      'card-windows',
      windows,
      `card-keyed event-time windows in partition-local memory → the row of ${features.length} features${lookupPlan.columns.length > 0 ? ' (lookup columns still empty)' : ''}`,
    )
  if (lookupPlan.columns.length > 0) {
    const lookups = io.lookups
    if (!lookups)
      throw new FraudstreamError(
        ErrorCode.internal,
        `the features read lookup tables (${lookupPlan.columns.length} columns): CardFraudIO.lookups is required`,
        'internal',
      )
    graph = graph.lookup(
      'lookups',
      lookupsStage('lookups', {
        producer: lookups.producer,
        plan: lookupPlan,
        table: lookups.table,
        factsTopic: topics.lookupFacts,
        factsPartitions: lookups.factsPartitions,
        sourceTopics: { tx: topics.transactions, labels: topics.labels },
        maxWaitMs: config.lookups.maxWaitMs,
        markerIntervalMs: config.lookups.flushIntervalMs,
        watermarkOf: (tp) => windows.featuresOf(tp)?.windows.watermarkMs ?? -Infinity,
        ...(lookups.onTables ? { onTables: lookups.onTables } : {}),
        ...(lookups.onWaited ? { onWaited: lookups.onWaited } : {}),
      }),
      'facts to the lookup aggregators; waits until the terminal/merchant tables cover the window, then fills them',
    )
    graph = graph.beside(
      'lookup-agg',
      'task',
      `labels and lookup facts → terminal/merchant aggregates → compacted ${topics.lookupTables} (consumer group ${config.kafka.groupId}.lookups)`,
    )
  }
  const built = graph
    .map(
      'pre-rules',
      preRulesStage('pre-rules', { rules: io.rules ?? new RulesState({ featureNames }) }),
      `allow/block/watch lists and pre-model rules (topics ${topics.lists}, ${topics.rules}); a forced decision skips inference`,
    )
    .infer(
      'score',
      scoreStage('score', {
        scorer: io.scorer,
        deadlineMs: config.infer.deadlineMs,
        // One batch running and one queued per worker: the deadline sees a batch's own inference, not a backlog.
        concurrency: 2 * config.infer.threads,
        thresholds: config.thresholds,
        ...(io.firstTier ? { firstTier: io.firstTier } : {}),
        ...(options.onInferenceBatch ? { onBatch: options.onInferenceBatch } : {}),
        ...(options.onFallback ? { onFallback: options.onFallback } : {}),
      }),
      `${io.firstTier ? `tier 1: ${io.firstTier.model.name}@${io.firstTier.model.version} on this thread settles scores below ${io.firstTier.approveBelow}${Number.isFinite(io.firstTier.declineFrom) ? ` or from ${io.firstTier.declineFrom}` : ''}; tier 2: ` : ''}champion, challenger and shadow models on Piscina worker threads; failures and missed deadlines → fallback; settled ones pass by`,
      { maxRecords: config.infer.maxRecords, lingerMs: config.infer.lingerMs },
    )
    .map(
      'decide',
      decideStage('decide', {
        thresholds: options.thresholds,
        featureNames,
        fallbackRules: fallbackRulesOf(config.infer.fallback.rules, featureNames),
        alerts: { criticalScore: config.alerts.criticalScore },
        ...(options.onDecided ? { onDecided: options.onDecided } : {}),
      }),
      "the deciding model's thresholds, then the post-model rules → approve | review | decline with reasons, rules and top features; declines and reviews raise alerts",
    )
    .sink(
      'decisions',
      topicSink<Decided>('decisions', {
        producer: io.producer,
        topic: topics.decisions,
        recordOf: ({ decision }) => ({ key: decision.card_id, value: decision }),
      }),
      `Decision v1, key = card_id (topic ${topics.decisions})`,
    )
    .sink(
      'alerts',
      alertsSink<Decided>('alerts', {
        producer: io.producer,
        topic: topics.alerts,
        digestTopic: topics.alertsDigest,
        digest: {
          ...config.alerts.digest,
          maxOffsetSpan: config.alerts.digest.maxOffsetSpan ?? Math.max(1, Math.floor(config.runtime.maxInFlight / 4)),
        },
        maxImmediatePerSecond: config.alerts.maxImmediatePerSecond,
        alertOf: ({ alert }) => alert,
      }),
      `declines at once (topic ${topics.alerts}${config.alerts.maxImmediatePerSecond > 0 ? `; past ${config.alerts.maxImmediatePerSecond}/s only those scoring ≥ ${config.alerts.criticalScore}` : ''}), reviews and the rest in per-partition digests (topic ${topics.alertsDigest})`,
    )
    .sink(
      'scores',
      scoresSink('scores', {
        sink: io.scores,
        highOffsetOf: io.scoresHighOffset,
        featureNames,
        featureContract: featureContractHash(features),
        runId: options.runId,
      }),
      'every score with its features into ClickHouse, batched across partitions, one dedup token a batch',
    )
    .deadLetters(deadLetterPort('dead-letters', { producer: io.producer, topic: topics.dlq }))
  return { topology: built, topics, features, lookupPlan, dedupe, windows }
}

/** What the job did, from the nodes' counts: the figures of a run's summary. */
export interface CardFraudStats {
  consumed: number
  valid: number
  invalid: number
  duplicates: number
  scored: number
  late: number
  /** Scored after waiting lookups.maxWaitMs for the lookup tables, with the tables as they were. */
  lookupStale: number
  /** Transactions that waited for the lookup tables before they were complete enough (stale ones not included). */
  lookupWaited: number
  restored: number
  stray: number
  decisions: { approve: number; review: number; decline: number }
  /** Decided by the fallback rules: inference failed or missed infer.deadlineMs. */
  fallback: number
  /** Alerts sent at once. */
  alerts: number
  /** Alerts that went into digests, and the digests sent. */
  digestAlerts: number
  digests: number
  clickhouseRows: number
}

export function cardFraudStats(
  runner: { consumed: number; restored: number; count(stage: string, outcome: string): number },
  stray: number,
): CardFraudStats {
  const decisions = {
    approve: runner.count('decide', 'approve'),
    review: runner.count('decide', 'review'),
    decline: runner.count('decide', 'decline'),
  }
  const invalid = runner.count('decode', 'dead_letter')
  return {
    consumed: runner.consumed,
    valid: runner.consumed - invalid,
    invalid,
    duplicates: runner.count('dedupe', 'duplicate'),
    scored: decisions.approve + decisions.review + decisions.decline,
    late: runner.count('card-windows', 'late'),
    lookupStale: runner.count('lookups', 'stale'),
    lookupWaited: runner.count('lookups', 'waited'),
    restored: runner.restored,
    stray,
    decisions,
    fallback: runner.count('score', 'fallback_error') + runner.count('score', 'fallback_deadline'),
    alerts: runner.count('alerts', AlertOutcome.immediateCritical) + runner.count('alerts', AlertOutcome.immediateHigh),
    digestAlerts: runner.count('alerts', AlertOutcome.digestHigh) + runner.count('alerts', AlertOutcome.digestLow),
    digests: runner.count('alerts', AlertOutcome.digests),
    clickhouseRows: runner.count('scores', 'rows'),
  }
}

/** `fraudstream_transactions_total{outcome}` from the nodes' counts: the outcomes a transaction record can have. */
export function transactionOutcomeOf(stage: string, outcome: string): string | undefined {
  if (stage === 'decode' && outcome === 'dead_letter') return 'invalid'
  if (stage === 'dedupe' && outcome === 'duplicate') return 'duplicate'
  if (stage === 'card-windows' && outcome === 'late') return 'late'
  if (stage === 'decide') return 'scored'
  return undefined
}

/** The graph a configuration runs, as `run --describe` prints it: built with ports that refuse to be used. */
export function describeCardFraud(
  config: Config,
  features: readonly FeatureDefinition[],
): { text: string; graph: CardFraudGraph } {
  const unused = (): never => {
    throw new TypeError('a topology built for describe() does not run')
  }
  const producer: RecordSink = { send: unused, flush: unused, close: unused }
  const scorer: Scorer = {
    model: { name: 'model', version: 'describe' },
    featureNames: features.map((f) => f.name),
    score: unused,
    close: unused,
  }
  const graph = cardFraud(
    {
      producer,
      scores: { add: unused, flush: unused, drop: unused },
      scoresHighOffset: unused,
      scorer,
      lookups: { producer, table: new LookupTable(1), factsPartitions: 1 },
    },
    { config, features, thresholds: config.thresholds, runId: 'describe' },
  )
  return { text: describeTopology(graph.topology, ` (${features.length} features)`), graph }
}
