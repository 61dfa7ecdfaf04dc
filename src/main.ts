import { randomUUID } from 'node:crypto'
import {
  cardFraud,
  cardFraudStats,
  topicsOf,
  type CardFraudGraph,
  type CardFraudIO,
  type CardFraudStats,
} from '../topology/card-fraud.js'
import { cardFraudFeatures } from '../topology/features.js'
import { cardFraudObserver } from './card-fraud-observer.js'
import { firstTierOf } from './models/first-tier-of.js'
import type { DecisionV1, ModelRef } from './core/records.js'
import { LatencyRecorder } from './runtime/latency-recorder.js'
import type { FeatureDefinition } from './stages/features/feature-definition.js'
import type { ClickHouseClient } from './adapters/clickhouse/client.js'
import { startDriftMonitor } from './adapters/clickhouse/drift-monitor.js'
import { scoresHighOffset } from './adapters/clickhouse/scores-queries.js'
import { startHttpServer, type HttpServer } from './adapters/http/server.js'
import { baseClientConfig } from './adapters/kafka/client-config.js'
import { KafkaSource } from './adapters/kafka/kafka-source.js'
import { startMockCluster, type MockCluster } from './adapters/kafka/mock-cluster.js'
import { advertiseEmbeddedKafka } from './adapters/kafka/embedded-endpoint.js'
import { serveRules } from './rules/serve-rules.js'
import type { RulesState } from './rules/rules-state.js'
import { KafkaProducerSink } from './adapters/kafka/producer-sink.js'
import { serveModels, type ServedModels } from './models/serve-models.js'
import type { Config } from './config/schema.js'
import type { Logger } from './observability/logger.js'
import { createMetrics, type Metrics } from './observability/metrics.js'
import { featureContractHash } from './stages/features/feature-definition.js'
import { Job } from './runtime/job.js'
import { lookupPlanOf } from './stages/lookups/lookup-plan.js'
import { FileSnapshotStore } from './adapters/state/file-snapshot-store.js'
import { KafkaSnapshotStore } from './adapters/kafka/kafka-snapshot-store.js'
import { join } from 'node:path'
import { startLabelsJob } from './labels-job.js'
import { startLookups } from './lookups-setup.js'
import { warnIfThreadPoolSmall } from './runtime/threadpool.js'
import { openClickhouse, resetRunRows, scoresBatchSink } from './clickhouse-setup.js'
import type { LabelsStats } from '../topology/labels.js'
import { startApi, type ScoringApi } from './api-setup.js'
import type { ApiKey } from './api/api-keys.js'

export interface KafkaEndpoint {
  readonly bootstrapServers: string
  /** Set when this process hosts the librdkafka mock cluster (embedded mode); closing it loses all its data. */
  readonly mock?: MockCluster
}

/** Configured brokers, or a fresh mock cluster in this process when none are configured. */
export async function resolveKafka(config: Config): Promise<KafkaEndpoint> {
  if (config.kafka.brokers.length > 0) return { bootstrapServers: config.kafka.brokers.join(',') }
  const mock = await startMockCluster()
  await mock.ensureTopics(Object.values(topicsOf(config)))
  // Commands in another terminal (`fraudstream rules put`) find the in-process brokers through the data dir.
  const unadvertise = advertiseEmbeddedKafka(config.dataDir, mock.bootstrapServers)
  return {
    bootstrapServers: mock.bootstrapServers,
    mock: {
      ...mock,
      close: async () => {
        unadvertise()
        await mock.close()
      },
    },
  }
}

export interface Pipeline extends AsyncDisposable {
  readonly job: Job<CardFraudStats>
  /** The labels sub-topology: the labels topic into the ClickHouse `labels` table (topology/labels.ts). */
  readonly labelsJob: Job<LabelsStats>
  readonly graph: CardFraudGraph
  /** The champion the job started with. */
  readonly model: ModelRef
  /** The models batches are scored with now, and how promotions reach them. */
  readonly models: ServedModels
  /** The rules and lists in force, as read from the rules and lists topics (`rules.engine.version`). */
  readonly rules: RulesState
  /** Poll → decision latency of every decision (the Prometheus histogram has coarser buckets). */
  readonly latency: LatencyRecorder
  /** Event → decision: from each record's Kafka timestamp to its decision, the latency a payment waits for. */
  readonly eventLatency: LatencyRecorder
  readonly metrics: Metrics
  readonly clickhouse: ClickHouseClient
  readonly http?: HttpServer
  /** The scoring API (`POST /v1/score`), when api.enabled. */
  readonly api?: ScoringApi
  /** Graceful: drain, commit, leave the group, close sinks. Idempotent. */
  close(): Promise<void>
}

export interface PipelineOptions {
  readonly config: Config
  readonly kafka: KafkaEndpoint
  readonly log: Logger
  readonly metrics?: Metrics
  /** The feature set; topology/features.ts by default (see loadFeatures for `--features`). */
  readonly features?: readonly FeatureDefinition[]
  /** Instance name for client ids and logs; defaults to a random one. */
  readonly instanceId?: string
  readonly onFailure?: (err: Error) => void
  /**
   * Forget live scores, labels and state snapshots before starting: for a fresh embedded cluster, whose offsets restart at 0
   * and can never be reconciled with rows and snapshots of an earlier one.
   */
  readonly resetState?: boolean
  /** API keys besides api.keys (the demo's generated one). */
  readonly apiKeys?: readonly ApiKey[]
}

/**
 * The composition root: config → adapters (Kafka, ClickHouse, ONNX, HTTP) → the card-fraud topology → a job. Nothing
 * below this function knows whether it runs embedded (mock cluster + chDB) or against Kafka and a ClickHouse server.
 *
 * @example
 *   await using pipeline = await createPipeline({ config, kafka: await resolveKafka(config), log })
 */
export async function createPipeline(options: PipelineOptions): Promise<Pipeline> {
  const { config, log } = options
  const instanceId = options.instanceId ?? `fraudstream-${randomUUID().slice(0, 8)}`
  const metrics = options.metrics ?? createMetrics()
  const features = options.features ?? cardFraudFeatures
  const topics = topicsOf(config)
  const closers: (() => Promise<void>)[] = []
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) await close()
  }
  try {
    // The job's source, the labels sink, the models, rules and lists topics, with lookups their aggregators and table
    // reader, with the API its decisions tail.
    const lookupColumns = lookupPlanOf(features, config.windows.allowedLatenessMs).columns.length
    warnIfThreadPoolSmall(5 + (lookupColumns > 0 ? 2 : 0) + (config.api.enabled ? 1 : 0), log)
    const featureNames = features.map((f) => f.name)
    const models = await serveModels({
      config,
      contract: { hash: featureContractHash(features), names: featureNames },
      modelsTopic: {
        topic: topics.models,
        clientConfig: baseClientConfig(config, options.kafka.bootstrapServers, `${instanceId}-models`),
      },
      metrics,
      log,
      closers,
    })
    const { scorer } = models
    const firstTier = firstTierOf(config, { hash: featureContractHash(features), names: featureNames })
    const champion = models.lineup.champion
    const clickhouse = await openClickhouse(config, featureNames, closers)
    const producer = await KafkaProducerSink.connect({
      config: baseClientConfig(config, options.kafka.bootstrapServers, `${instanceId}-producer`),
      metrics,
      log: log.child({ component: 'producer' }),
    })
    closers.push(() => producer.close())
    const rules = await serveRules({
      config,
      bootstrapServers: options.kafka.bootstrapServers,
      instanceId,
      featureNames,
      partitionCount: (topic) => producer.partitionCount(topic),
      metrics,
      log,
      closers,
    })
    // Files need a disk per instance (embedded); the Kafka deployment keeps snapshots next to the log they cover.
    const stateStore =
      config.runtime.stateStore === 'auto'
        ? config.kafka.brokers.length > 0
          ? 'kafka'
          : 'files'
        : config.runtime.stateStore
    const snapshots =
      stateStore === 'kafka'
        ? new KafkaSnapshotStore({
            sink: producer,
            clientConfig: baseClientConfig(config, options.kafka.bootstrapServers, `${instanceId}-state`),
            topic: topics.state,
            partitions: await producer.partitionCount(topics.state),
          })
        : new FileSnapshotStore({ dir: join(config.dataDir, 'state'), groupId: config.kafka.groupId })
    const runId = 'live'
    let tokenScope = runId
    if (options.resetState) {
      tokenScope = await resetRunRows(clickhouse, runId)
      await snapshots.clear()
    }
    const scores = scoresBatchSink({
      client: clickhouse,
      config,
      featureNames,
      tokenScope,
      metrics,
      log: log.child({ component: 'clickhouse' }),
    })
    closers.push(() => scores.close())
    const source = new KafkaSource({
      clientConfig: baseClientConfig(config, options.kafka.bootstrapServers, `${instanceId}-consumer`),
      groupId: config.kafka.groupId,
      topics: [topics.transactions],
      autoOffsetReset: config.kafka.autoOffsetReset,
      sessionTimeoutMs: config.kafka.sessionTimeoutMs,
      heartbeatIntervalMs: config.kafka.heartbeatIntervalMs,
      consumeBatchSize: config.kafka.consumeBatchSize,
      log: log.child({ component: 'source' }),
    })
    const plan = lookupPlanOf(features, config.windows.allowedLatenessMs)
    const lookups = await startLookups({
      config,
      plan,
      bootstrapServers: options.kafka.bootstrapServers,
      instanceId,
      metrics,
      log,
      closers,
      onFailure: options.onFailure,
      clickhouse,
      runId,
    })
    const fallbackLog = log.child({ component: 'score' })
    const latency = new LatencyRecorder()
    const eventLatency = new LatencyRecorder()
    // Set once the API listens, after the job started: decisions made before then have no request waiting.
    let apiDecided: ((decision: DecisionV1) => void) | undefined
    const graph = cardFraud(
      {
        producer,
        scores: scores as CardFraudIO['scores'],
        scoresHighOffset: (tp) => scoresHighOffset(clickhouse, tp, runId),
        scorer,
        ...(firstTier ? { firstTier } : {}),
        rules,
        ...(lookups ? { lookups } : {}),
      },
      {
        config,
        features,
        thresholds: champion.thresholds,
        runId,
        onDecided: (decision, eventToDecisionMs) => {
          apiDecided?.(decision)
          latency.record(decision.latency_ms)
          metrics.decisionLatency.observeMs(decision.latency_ms)
          if (eventToDecisionMs !== undefined) {
            eventLatency.record(eventToDecisionMs)
            metrics.eventToDecision.observeMs(eventToDecisionMs)
          }
        },
        onInferenceBatch: (records, ms) => {
          metrics.inferenceBatch.observe({ model: scorer.model.name }, records)
          metrics.inferenceDuration.observeMs(scorer.model.name, ms)
        },
        onFallback: (reason, records, err) => {
          metrics.inferenceFallbacks.inc({ reason }, records)
          fallbackLog.warn({ err, reason, records }, 'inference failed: the fallback rules decided the batch')
        },
      },
    )
    const jobLog = log.child({ component: 'job' })
    const job = new Job({
      topology: graph.topology,
      source,
      autoOffsetReset: config.kafka.autoOffsetReset,
      commitIntervalMs: config.runtime.commitIntervalMs,
      drainTimeoutMs: config.runtime.shutdownTimeoutMs,
      maxInFlight: config.runtime.maxInFlight,
      snapshots,
      snapshotIntervalMs: config.runtime.snapshotIntervalMs,
      log: jobLog,
      ...cardFraudObserver(graph, metrics, jobLog, {
        maxStateBytes: config.windows.maxStateBytesPerPartition,
        dedupeMaxEntries: config.dedupe.maxEntriesPerPartition,
        dedupeHorizonMs: config.dedupe.horizonMs,
      }),
      stats: cardFraudStats,
    })
    closers.push(() => job.stop())
    await job.start(options.onFailure ? { onFailure: options.onFailure } : {})
    if (config.analytics.drift.intervalMs > 0) {
      const drift = startDriftMonitor({ client: clickhouse, config, model: champion.ref.name, runId, metrics, log })
      closers.push(() => drift.stop())
    }
    log.info(
      {
        instanceId,
        model: `${champion.ref.name}@${champion.ref.version}`,
        featureContract: champion.pkg.manifest.feature_contract.hash,
        groupId: config.kafka.groupId,
      },
      'job started',
    )
    const labelsJob = await startLabelsJob({
      config,
      bootstrapServers: options.kafka.bootstrapServers,
      instanceId,
      clickhouse,
      producer,
      runId,
      tokenScope,
      metrics,
      log,
      closers,
      onFailure: options.onFailure,
    })

    let http: HttpServer | undefined
    if (config.http.enabled) {
      http = await startHttpServer({
        host: config.http.host,
        port: config.http.port,
        endpoints: {
          registry: metrics.registry,
          healthy: () => job.failure === undefined && labelsJob.failure === undefined,
          ready: () => job.ready,
          details: () => ({
            instance: instanceId,
            partitions: job.partitions(),
            failure: job.failure?.message ?? labelsJob.failure?.message ?? null,
          }),
        },
      })
      const server = http
      closers.push(() => server.close())
    }
    let api: ScoringApi | undefined
    if (config.api.enabled) {
      api = await startApi({
        config,
        bootstrapServers: options.kafka.bootstrapServers,
        instanceId,
        features,
        model: () => scorer.model,
        clickhouse,
        runId,
        job,
        ...(options.apiKeys ? { extraKeys: options.apiKeys } : {}),
        metrics,
        log,
      })
      const started = api
      // Closed before the job: requests in flight get their answers (or the fallback) while the job still decides.
      closers.push(() => started.close())
      apiDecided = (decision) => started.onDecided(decision)
    }
    let closed: Promise<void> | undefined
    const close = () => (closed ??= closeAll())
    return {
      job,
      labelsJob,
      graph,
      model: champion.ref,
      models,
      rules,
      latency,
      eventLatency,
      metrics,
      clickhouse,
      ...(http ? { http } : {}),
      ...(api ? { api } : {}),
      close,
      [Symbol.asyncDispose]: close,
    }
  } catch (err) {
    await closeAll()
    throw err
  }
}
