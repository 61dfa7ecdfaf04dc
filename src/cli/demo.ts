import type { Command } from 'commander'
import { describeClickhouse } from '../adapters/clickhouse/client.js'
import { generateApiKey, hashApiKey, type ApiKey } from '../api/api-keys.js'
import type { Config } from '../config/schema.js'
import type { PublishResult } from '../generator/publish.js'
import { publishInChild } from '../generator/publish-process.js'
import type { ValueFormat } from '../generator/transaction-generator.js'
import { createPipeline, resolveKafka, type Pipeline } from '../main.js'
import type { Logger } from '../observability/logger.js'
import {
  formatInt,
  formatMs,
  loadCliConfig,
  parseFormat,
  parseInteger,
  parseNumber,
  runCommand,
  withCommonOptions,
  type CommonOptions,
} from './common.js'
import { Progress } from './progress.js'
import { loadFeatures, withFeaturesOption } from './feature-module.js'

export interface DemoOptions {
  readonly rate: number | 'max'
  readonly count: number
  readonly seed: number
  readonly fraudRate: number
  readonly invalidRate: number
  readonly duplicateRate: number
  readonly format: ValueFormat
  readonly signal?: AbortSignal
  readonly progress?: Progress
  /**
   * Event time of the generator's first transaction (its default: 2026-01-05). With the scoring API on, the demo starts
   * its world at the wall clock: a gateway's transaction carries a current event_time, and one far ahead of the
   * generator's would move its partition's watermark past every generated record to come.
   */
  readonly startTimeMs?: number
  /** API keys besides api.keys: the key generated for this demo. */
  readonly apiKeys?: readonly ApiKey[]
  /** Called once the pipeline runs, with the scoring API's URL when it listens. */
  readonly onStarted?: (apiUrl: string | undefined) => void
}

export interface DemoSummary {
  readonly ok: boolean
  readonly generated: number
  readonly generated_by_intent: Record<string, number>
  readonly labels: number
  readonly consumed: number
  readonly valid: number
  readonly invalid: number
  readonly duplicates: number
  readonly scored: number
  readonly late: number
  readonly decisions: { approve: number; review: number; decline: number }
  /** Decided by the fallback rules because inference failed or missed infer.deadlineMs. */
  readonly fallback: number
  /** Alerts sent at once; and those that went into digests, and the digests. */
  readonly alerts: number
  readonly digest_alerts: number
  readonly digests: number
  /** Deciding rows in `scores` (model_role != 'shadow'): one per transaction decided, however many models scored it. */
  readonly clickhouse_rows: number
  readonly committed_offsets: number
  readonly end_offsets: number
  readonly elapsed_s: number
  readonly processing_s: number
  readonly throughput_tx_s: number
  /** Event → decision: from each record's Kafka timestamp (when the generator sent it) to its decision. */
  readonly latency_ms: { p50: number; p99: number; p999: number; max: number }
  /** Poll → decision: from the job receiving the record to its decision. */
  readonly poll_to_decision_ms: { p50: number; p99: number; p999: number; max: number }
  readonly model: string
  readonly clickhouse: string
  readonly metrics_url: string | null
}

/** What was decided: the deciding rows (a shadow model's row only scored). */
export const EXAMPLE_QUERIES = [
  `SELECT decision, count() AS n, round(avg(score), 3) AS avg_score FROM scores WHERE model_role != 'shadow' GROUP BY decision ORDER BY n DESC`,
  `SELECT transaction_id, amount, country, round(score, 3) AS score, reasons FROM scores WHERE model_role != 'shadow' AND decision = 'decline' ORDER BY score DESC LIMIT 10`,
  `SELECT toStartOfHour(event_time) AS hour, count() AS n, countIf(decision != 'approve') AS flagged FROM scores WHERE model_role != 'shadow' GROUP BY hour ORDER BY hour LIMIT 24`,
]

/**
 * The embedded run: the librdkafka mock cluster, the generator, the job and chDB in one process. With a finite
 * count it stops once every record is sunk and committed; otherwise when `signal` aborts (Ctrl-C).
 */
export async function runDemo(config: Config, log: Logger, options: DemoOptions): Promise<DemoSummary> {
  const startedMs = performance.now()
  const kafka = await resolveKafka(config)
  let pipeline: Pipeline | undefined
  try {
    // A new mock cluster's offsets restart at 0: live rows and snapshots of an earlier demo cannot be reconciled
    // with them (the sink's resume point and snapshots are offsets), so an embedded demo starts from empty state.
    pipeline = await createPipeline({
      config,
      kafka,
      log,
      features: await loadFeatures(config),
      resetState: kafka.mock !== undefined,
      ...(options.apiKeys ? { apiKeys: options.apiKeys } : {}),
    })
    options.onStarted?.(pipeline.api?.url)
    const job = pipeline.job
    const { model, latency, eventLatency } = pipeline
    const stopGenerating = new AbortController()
    options.signal?.addEventListener('abort', () => stopGenerating.abort(), { once: true })
    let generatedSoFar = 0
    let publishDone = false
    let published: PublishResult = { transactions: 0, labels: 0, acked: 0, byIntent: {} }
    // The generator runs in a child process: generating in this one would hold the job's event loop, and the demo's
    // figures would be the generator's.
    const publishing = publishInChild({
      bootstrapServers: kafka.bootstrapServers,
      generator: {
        seed: options.seed,
        fraudRate: options.fraudRate,
        invalidRate: options.invalidRate,
        duplicateRate: options.duplicateRate,
        format: options.format,
        ...(options.startTimeMs !== undefined ? { startTimeMs: options.startTimeMs } : {}),
      },
      topics: config.kafka.topics,
      count: options.count,
      rate: options.rate,
      maxLeadRecords: 20_000,
      consumed: () => job.stats.consumed,
      recordTimestamp: 'send-time',
      signal: stopGenerating.signal,
      onProgress: (generated) => (generatedSoFar = generated),
    }).then((result) => {
      published = result
      publishDone = true
    })
    const progress = options.progress
    let lastConsumed = 0
    let lastTickMs = performance.now()
    let rate = 0
    const tick = () => {
      const now = performance.now()
      const stats = job.stats
      rate = ((stats.consumed - lastConsumed) * 1000) / Math.max(1, now - lastTickMs)
      lastConsumed = stats.consumed
      lastTickMs = now
      if (!progress) return
      const partitions = job.partitions()
      const lag = partitions.reduce((sum, p) => sum + Math.max(0, p.high - p.committed), 0)
      const elapsed = ((now - startedMs) / 1000).toFixed(1)
      const d = stats.decisions
      progress.update(
        [
          `fraudstream demo  ${elapsed}s  model ${model.name}@${model.version}  partitions ${partitions.length}${job.ready ? '' : ' (joining…)'}`,
          `  transactions  generated ${formatInt(generatorCount())}  consumed ${formatInt(stats.consumed)}  ${formatInt(rate)} tx/s  lag ${formatInt(lag)}`,
          `  decisions     approve ${formatInt(d.approve)}  review ${formatInt(d.review)}  decline ${formatInt(d.decline)}  alerts ${formatInt(stats.alerts)} (+${formatInt(stats.digestAlerts)} in ${formatInt(stats.digests)} digests)`,
          `  input         dead-lettered ${formatInt(stats.invalid)}  duplicates ${formatInt(stats.duplicates)}  late ${formatInt(stats.late)}`,
          `  latency       event → decision p50 ${formatMs(eventLatency.percentile(50))} ms  p99 ${formatMs(eventLatency.percentile(99))} ms  (poll → decision p99 ${formatMs(latency.percentile(99))} ms)   ClickHouse rows ${formatInt(stats.clickhouseRows)}`,
        ],
        `t=${elapsed}s generated=${generatorCount()} consumed=${stats.consumed} tx_s=${Math.round(rate)} lag=${lag} approve=${d.approve} review=${d.review} decline=${d.decline} dlq=${stats.invalid} duplicates=${stats.duplicates} p50_ms=${formatMs(eventLatency.percentile(50))} p99_ms=${formatMs(eventLatency.percentile(99))} poll_p99_ms=${formatMs(latency.percentile(99))}`,
      )
    }
    const generatorCount = () => generatedSoFar
    const counting = setInterval(tick, 500)
    try {
      await waitUntil(() => publishDone || options.signal?.aborted === true || job.failure !== undefined)
      if (Number.isFinite(options.count) && !options.signal?.aborted && !job.failure) {
        await waitUntil(
          () =>
            job.stats.consumed >= published.transactions ||
            job.failure !== undefined ||
            options.signal?.aborted === true,
        )
      }
      stopGenerating.abort()
      await publishing
    } finally {
      clearInterval(counting)
    }
    const processingEndMs = performance.now()
    tick()
    progress?.done()
    await job.stop()
    const ended = job.finalPartitions ?? job.partitions()
    const rows = await pipeline.clickhouse.query({
      query: `SELECT count() AS n FROM scores WHERE run_id = 'live' AND model_role != 'shadow'`,
      format: 'JSONEachRow',
    })
    const clickhouseRows = Number((await rows.json<{ n: string }>())[0]?.n ?? 0)
    const stats = job.stats
    // Ticks come every 500 ms, too coarse for a short run: the job knows when its first record came.
    const firstMs = job.firstConsumedAtMs
    const processingS = firstMs === undefined ? 0 : (processingEndMs - firstMs) / 1000
    return {
      // Read after the stop: its final commit or the group's last rebalance can fail too.
      ok: job.failure === undefined,
      generated: published.transactions,
      generated_by_intent: published.byIntent,
      labels: published.labels,
      consumed: stats.consumed,
      valid: stats.valid,
      invalid: stats.invalid,
      duplicates: stats.duplicates,
      scored: stats.scored,
      late: stats.late,
      decisions: { ...stats.decisions },
      fallback: stats.fallback,
      alerts: stats.alerts,
      digest_alerts: stats.digestAlerts,
      digests: stats.digests,
      clickhouse_rows: clickhouseRows,
      committed_offsets: ended.reduce((sum, p) => sum + p.committed, 0),
      end_offsets: ended.reduce((sum, p) => sum + p.high, 0),
      elapsed_s: round((performance.now() - startedMs) / 1000, 2),
      processing_s: round(processingS, 2),
      throughput_tx_s: processingS > 0 ? Math.round(stats.consumed / processingS) : 0,
      latency_ms: pipeline.eventLatency.summary(),
      poll_to_decision_ms: pipeline.latency.summary(),
      // The champion at the end: a promotion during the run switches it (scores.model_version says which scored what).
      model: `${pipeline.models.lineup.champion.ref.name}@${pipeline.models.lineup.champion.ref.version}`,
      clickhouse: describeClickhouse(config),
      metrics_url: pipeline.http ? `${pipeline.http.url}/metrics` : null,
    }
  } finally {
    await pipeline?.close()
    await kafka.mock?.close()
  }
}

function round(n: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(n * f) / f
}

async function waitUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 20))
}

export function formatDemoSummary(s: DemoSummary): string {
  const d = s.decisions
  const lines = [
    '',
    `${s.ok ? 'Done' : 'FAILED'} in ${s.elapsed_s}s: ${formatInt(s.consumed)} transactions consumed at ${formatInt(s.throughput_tx_s)} tx/s`,
    `  event → decision p50 ${formatMs(s.latency_ms.p50)} ms, p99 ${formatMs(s.latency_ms.p99)} ms, p99.9 ${formatMs(s.latency_ms.p999)} ms (poll → decision p99 ${formatMs(s.poll_to_decision_ms.p99)} ms)`,
    `  scored ${formatInt(s.scored)}: approve ${formatInt(d.approve)}, review ${formatInt(d.review)}, decline ${formatInt(d.decline)} (alerts ${formatInt(s.alerts)} at once, ${formatInt(s.digest_alerts)} in ${formatInt(s.digests)} digests)${s.fallback > 0 ? `; ${formatInt(s.fallback)} decided by the fallback rules (inference failed or missed infer.deadlineMs)` : ''}`,
    `  dead-lettered ${formatInt(s.invalid)}, duplicates dropped ${formatInt(s.duplicates)}, late ${formatInt(s.late)}; ClickHouse decisions ${formatInt(s.clickhouse_rows)} (${s.clickhouse})`,
    '',
    'Try:',
    ...EXAMPLE_QUERIES.map((q) => `  npx fraudstream sql "${q}"`),
  ]
  return lines.join('\n')
}

/**
 * The demo's generated key: both scopes, so `curl` can try the admin routes too, and a small bucket (5/s, bursts of
 * 10), so a burst of curls shows the 429; it lives as long as the process.
 */
function demoApiKey(key: string): ApiKey {
  return { id: 'demo', hash: hashApiKey(key), scopes: ['score', 'admin'], ratePerSecond: 5, burst: 10 }
}

export function registerDemo(program: Command): void {
  const command = program
    .command('demo')
    .description(
      'embedded run: mock Kafka cluster, transaction generator, the job and chDB in one process (what `npm start` runs)',
    )
    .option('--rate <tx/s|max>', 'transactions per second, or "max" for as fast as the job keeps up', '1000')
    .option(
      '--count <n>',
      'generate n transactions, wait until every output is sunk, then exit',
      parseInteger('--count', 1),
    )
    .option('--seed <n>', 'generator seed', parseInteger('--seed', 0), 42)
    .option('--fraud-rate <p>', 'share of fraudulent transactions', parseNumber('--fraud-rate', 0, 0.5), 0.01)
    .option(
      '--invalid-rate <p>',
      'share of invalid records (to the dead-letter topic)',
      parseNumber('--invalid-rate', 0, 1),
      0,
    )
    .option('--duplicate-rate <p>', 'share of re-sent duplicate records', parseNumber('--duplicate-rate', 0, 1), 0)
    .option('--format <json|msgpack|mixed>', 'value encoding', 'json')
    .option(
      '--port <n>',
      'HTTP port for /metrics, /health, /ready (0 = any free port)',
      parseInteger('--port', 0, 65535),
    )
    .option(
      '--api-port <n>',
      'port of the scoring API, POST /v1/score (default api.port, 8080)',
      parseInteger('--api-port', 0, 65535),
    )
  withCommonOptions(withFeaturesOption(command), { logLevel: 'warn' }).action(
    async (
      opts: CommonOptions & {
        rate: string
        count?: number
        seed: number
        fraudRate: number
        invalidRate: number
        duplicateRate: number
        format: string
        port?: number
        apiPort?: number
        features?: string
      },
    ) => {
      await runCommand(opts, async () => {
        const { config, log } = loadCliConfig(
          opts,
          {
            ...(opts.port !== undefined ? { 'http.port': opts.port } : {}),
            ...(opts.apiPort !== undefined ? { 'api.port': opts.apiPort } : {}),
            ...(opts.features ? { 'features.module': opts.features } : {}),
          },
          // An open-ended demo serves the scoring API unless api.enabled says otherwise (file or FRAUDSTREAM_API_ENABLED);
          // a scripted one (--count) does not, so runs side by side do not contend for its port.
          { logLevel: 'warn', config: { 'api.enabled': opts.count === undefined } },
        )
        const demoKey = config.api.enabled && config.api.keys.length === 0 ? generateApiKey() : undefined
        const rate = opts.rate === 'max' ? 'max' : parseNumber('--rate', 1)(opts.rate)
        const format = parseFormat(opts.format)
        const controller = new AbortController()
        const progress = opts.json ? undefined : new Progress()
        let interrupts = 0
        const onSignal = () => {
          if (++interrupts > 1) process.exit(130)
          const message = 'stopping: draining in-flight records and committing (Ctrl-C again to force)…'
          if (progress) progress.note(message)
          else process.stderr.write(`${message}\n`)
          controller.abort()
        }
        process.on('SIGINT', onSignal)
        process.on('SIGTERM', onSignal)
        if (!opts.json)
          process.stderr.write(
            `fraudstream demo: embedded Kafka (librdkafka mock) + ${describeClickhouse(config)}; ${opts.count ? `${opts.count} transactions` : 'Ctrl-C to stop'}\n`,
          )
        const summary = await runDemo(config, log, {
          rate,
          count: opts.count ?? Infinity,
          seed: opts.seed,
          fraudRate: opts.fraudRate,
          invalidRate: opts.invalidRate,
          duplicateRate: opts.duplicateRate,
          format,
          signal: controller.signal,
          ...(progress ? { progress } : {}),
          ...(demoKey ? { apiKeys: [demoApiKey(demoKey)] } : {}),
          ...(config.api.enabled ? { startTimeMs: Date.now() } : {}),
          onStarted: (apiUrl) => {
            if (!apiUrl) return
            const text = demoKey
              ? `scoring API at ${apiUrl}; this run's key (scopes score, admin; 5 requests/s, bursts of 10; shown once, never stored): ${demoKey}\n  curl -H 'Authorization: Bearer ${demoKey}' -H 'content-type: application/json' -d @examples/api/tx.json ${apiUrl}/v1/score`
              : `scoring API at ${apiUrl} (keys from api.keys)`
            if (progress) progress.note(text)
            else process.stderr.write(`${text}\n`)
          },
        })
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
        if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`)
        else process.stdout.write(`${formatDemoSummary(summary)}\n`)
        return summary.ok ? 0 : 1
      })
    },
  )
}
