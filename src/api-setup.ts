import { topicsOf } from '../topology/card-fraud.js'
import type { ClickHouseClient } from './adapters/clickhouse/client.js'
import { recordedDecisions } from './adapters/clickhouse/scores-queries.js'
import { baseClientConfig } from './adapters/kafka/client-config.js'
import { KafkaProducerSink } from './adapters/kafka/producer-sink.js'
import { TopicTail } from './adapters/kafka/topic-tail.js'
import type { AdminActions } from './api/admin-routes.js'
import type { ApiKey } from './api/api-keys.js'
import { DecisionCache } from './api/decision-cache.js'
import { DecisionWaiter } from './api/decision-waiter.js'
import { createFallbackAnswer } from './api/fallback-answer.js'
import { ScoreService, type DecisionOfRecord } from './api/score-service.js'
import type { FastifyInstance } from 'fastify'
import { rulesRoutes } from './api/rules-routes.js'
import { startApiServer, type ApiServer } from './api/server.js'
import { RulesAdmin } from './rules/rules-admin.js'
import type { Config } from './config/schema.js'
import type { DecisionV1, ModelRef } from './core/records.js'
import { publishRegistry } from './models/publish-registry.js'
import { promote } from './models/registry.js'
import type { Logger } from './observability/logger.js'
import type { Metrics } from './observability/metrics.js'
import { fallbackRulesOf } from './stages/decide/fallback-rules.js'
import { featureContractHash, type FeatureDefinition } from './stages/features/feature-definition.js'

export interface ScoringApi {
  readonly url: string
  readonly server: ApiServer
  readonly service: ScoreService
  /** Hand every decision of this process's job here (the decide stage's onDecided): the cheap path to a waiting request. */
  onDecided(decision: DecisionV1): void
  close(): Promise<void>
}

export interface StartApiOptions {
  readonly config: Config
  readonly bootstrapServers: string
  readonly instanceId: string
  readonly features: readonly FeatureDefinition[]
  /** The champion now, named by fallback answers. */
  readonly model: () => ModelRef
  /** Where recorded decisions are looked up for retries the cache no longer holds. */
  readonly clickhouse?: ClickHouseClient
  readonly runId: string
  /** The job in this process, for pause/resume; without it the admin routes are not served. */
  readonly job?: { pause(): boolean; resume(): boolean; readonly paused: boolean }
  /** Keys besides api.keys: the demo's generated one. */
  readonly extraKeys?: readonly ApiKey[]
  readonly metrics?: Metrics
  readonly log: Logger
}

/**
 * The scoring API of one instance: its own producer (no linger: a request waits on it), a tail of the decisions topic
 * for cards another instance decides, the decision cache and waiter, and the Fastify server on api.host:api.port.
 */
export async function startApi(options: StartApiOptions): Promise<ScoringApi> {
  const { config, log } = options
  const api = config.api
  const topics = topicsOf(config)
  const apiLog = log.child({ component: 'api' })
  const closers: (() => Promise<void>)[] = []
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) await close()
  }
  try {
    const producer = await KafkaProducerSink.connect({
      config: { ...baseClientConfig(config, options.bootstrapServers, `${options.instanceId}-api`), 'linger.ms': 0 },
      ...(options.metrics ? { metrics: options.metrics } : {}),
      log: apiLog,
    })
    closers.push(() => producer.close())
    let service: ScoreService | undefined
    const waiter = new DecisionWaiter({
      maxPending: api.idempotency.maxEntries,
      settleMs: api.settleMs,
      onExpired: async (ids) => (service ? service.onExpired(ids) : new Map()),
    })
    closers.push(async () => waiter.close())
    const clickhouse = options.clickhouse
    const lookup = clickhouse
      ? (ids: readonly string[]): Promise<ReadonlyMap<string, DecisionOfRecord>> =>
          recordedDecisions(clickhouse, ids, options.runId)
      : undefined
    const featureNames = options.features.map((f) => f.name)
    service = new ScoreService({
      submit: (tx) => {
        const { eventTimeMs: _resolved, ...v1 } = tx
        producer.send(
          { topic: topics.transactions, key: tx.card_id, value: Buffer.from(JSON.stringify(v1)) },
          () => undefined,
        )
      },
      waiter,
      cache: new DecisionCache<DecisionOfRecord>(api.idempotency),
      fallback: createFallbackAnswer(options.features, fallbackRulesOf(config.infer.fallback.rules, featureNames)),
      model: options.model,
      deadlineMs: api.deadlineMs,
      ...(lookup ? { lookup } : {}),
      ...(options.metrics
        ? {
            onAnswer: (source, n) => options.metrics!.apiAnswers.inc({ source }, n),
            onUnsettled: (n) => options.metrics!.apiUnsettled.inc(n),
          }
        : {}),
      log: apiLog,
    })
    const scoreService = service
    const tail = await TopicTail.start({
      clientConfig: baseClientConfig(config, options.bootstrapServers, `${options.instanceId}-api-decisions`),
      topic: topics.decisions,
      partitions: await producer.partitionCount(topics.decisions),
      onValue: (value) => scoreService.onDecisionRecord(value),
      log: apiLog,
    })
    closers.push(() => tail.stop())
    const job = options.job
    const contract = featureContractHash(options.features)
    const admin: AdminActions | undefined = job && {
      async promote(ref) {
        const registry = promote(config.model.dir, ref, contract)
        const topic =
          config.kafka.brokers.length > 0
            ? await publishRegistry(config, registry, options.bootstrapServers)
            : undefined
        apiLog.info({ model: ref, topic }, 'model promoted through the API')
        return { registry, ...(topic ? { topic } : {}) }
      },
      pause: () => job.pause(),
      resume: () => job.resume(),
      get paused() {
        return job.paused
      },
    }
    // The rules and lists routes write to their topics as `fraudstream rules|lists` do.
    const rulesAdmin = admin
      ? await RulesAdmin.connect({ config, bootstrapServers: options.bootstrapServers, featureNames, log: apiLog })
      : undefined
    if (rulesAdmin) closers.push(() => rulesAdmin.close())
    const keys = [...api.keys, ...(options.extraKeys ?? [])]
    if (keys.length === 0)
      apiLog.warn({}, 'api.keys is empty: every request is refused (401); set FRAUDSTREAM_API_KEYS')
    const server = await startApiServer({
      host: api.host,
      port: api.port,
      api,
      keys,
      scorer: scoreService,
      maxEventTimeAheadMs: config.decode.maxEventTimeAheadMs,
      ...(admin ? { admin } : {}),
      ...(rulesAdmin
        ? { adminPlugins: [async (app: FastifyInstance) => void app.register(rulesRoutes, { actions: rulesAdmin })] }
        : {}),
      log: apiLog,
      ...(options.metrics ? { metrics: options.metrics } : {}),
    })
    closers.push(() => server.close())
    apiLog.info({ url: server.url, keys: keys.map((k) => k.id) }, 'scoring API listening')
    return {
      url: server.url,
      server,
      service: scoreService,
      onDecided: (decision) => scoreService.onDecision(decision),
      close: closeAll,
    }
  } catch (err) {
    await closeAll()
    throw err
  }
}
