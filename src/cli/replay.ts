import type { Command } from 'commander'
import { baseClientConfig } from '../adapters/kafka/client-config.js'
import { writeFileSync } from 'node:fs'
import type { ClickHouseClient } from '../adapters/clickhouse/client.js'
import { ErrorCode, errorMessageOf, FraudstreamError } from '../core/errors.js'
import {
  backtestMarkdown,
  backtestReport,
  formatBacktestReport,
  type BacktestReport,
} from '../replay/backtest-report.js'
import { generateRunId, runReplay, type ReplayProgress, type ReplaySummary } from '../replay/replay.js'
import {
  formatInt,
  loadCliConfig,
  parseInteger,
  parseTimeOption,
  runCommand,
  withCommonOptions,
  type CommonOptions,
} from './common.js'
import { assertReadable, withTopicLayoutOptions, type TopicLayoutOptions } from './feature-input.js'
import { loadFeatures, withFeaturesOption } from './feature-module.js'
import { Progress } from './progress.js'

interface ReplayCliOptions extends CommonOptions, TopicLayoutOptions {
  input?: string
  labels?: string
  from?: number
  to?: number
  models?: string
  runId?: string
  speed?: number
  brokers?: string
  features?: string
  labelCutoff?: number
  maturityDays?: number
  report?: string | false
}

/**
 * `fraudstream replay`: scores a past range of transactions with any models, into `scores` under a run id of its own,
 * with the stream's features, scores and decisions (src/replay/replay.ts), touching no live topic or offset.
 */
export function registerReplay(program: Command): void {
  const command = program
    .command('replay')
    .description(
      'score a time range of the transactions topic (or a file) with any models, as the stream would have, into ClickHouse under a run id; isolated from the live job',
    )
    .option(
      '--from <time>',
      'first event to score (ISO-8601, UTC unless zoned, or epoch ms); earlier records only warm the state',
      parseTimeOption('--from'),
    )
    .option('--to <time>', 'last event to score (default: the end of the topic)', parseTimeOption('--to'))
    .option('--models <name@version,…>', 'the models to score with; the first decides (default: the registry champion)')
    .option('--run-id <id>', 'the run id of the rows (default replay-<yyyymmddhhmmss>-<hex>; `live` is refused)')
    .option('--speed <max|Nx>', 'max (default), or e.g. 10x: event time runs 10 times the wall clock', parseSpeed)
    .option('--input <tx.ndjson[.gz]>', 'replay a file instead of the topic: values, or `kcat -C -J` envelopes')
    .option(
      '--labels <labels.ndjson[.gz]>',
      'with --input: the labels, in topic order (they feed the label-based lookups)',
    )
    .option('--brokers <list>', 'Kafka bootstrap servers to read the topics from (default kafka.brokers)')
    .option(
      '--label-cutoff <time>',
      'backtest report: labels reported after this are not known (default: now)',
      parseTimeOption('--label-cutoff'),
    )
    .option(
      '--maturity-days <days>',
      'backtest report: transactions younger than this before the cutoff are left out of the label-based figures (default analytics.labelMaturityDays)',
      parseInteger('--maturity-days', 0),
    )
    .option(
      '--report <file.md>',
      'also write the backtest report as Markdown there, and as JSON beside it (<file>.json)',
    )
    .option('--no-report', 'no backtest report (it is printed, and saved in backtest_reports, by default)')
  withCommonOptions(withFeaturesOption(withTopicLayoutOptions(command)), { logLevel: 'warn' }).action(
    async (opts: ReplayCliOptions) => {
      await runCommand(opts, async () => {
        const { config, log } = loadCliConfig(opts, opts.features ? { 'features.module': opts.features } : {}, {
          logLevel: 'warn',
        })
        const features = await loadFeatures(config)
        if (opts.labels && !opts.input)
          throw new FraudstreamError(ErrorCode.usage, '--labels goes with --input', 'input')
        if (opts.input) {
          await assertReadable('--input', opts.input)
          if (opts.labels) await assertReadable('--labels', opts.labels)
        }
        const brokers = opts.brokers ?? config.kafka.brokers.join(',')
        if (!opts.input && !brokers)
          throw new FraudstreamError(
            ErrorCode.usage,
            'replay reads the topics of a Kafka cluster: give --brokers (or kafka.brokers), or --input files',
            'input',
          )
        if (!opts.input && opts.from === undefined)
          throw new FraudstreamError(ErrorCode.usage, 'a replay of the topic needs --from', 'input')
        const runId = opts.runId ?? generateRunId()
        const models = opts.models
          ?.split(',')
          .map((m) => m.trim())
          .filter(Boolean)
        const progress = new Progress()
        let stopRequested = false
        const onSigint = () => {
          // A second Ctrl-C is the user insisting: leave at once.
          if (stopRequested) process.exit(130)
          stopRequested = true
          progress.note('stopping: scoring what was read, writing it, then exiting (Ctrl-C again to quit now)')
        }
        process.on('SIGINT', onSigint)
        let summary: ReplaySummary
        let report: BacktestReport | undefined
        try {
          summary = await runReplay({
            config,
            features,
            source: opts.input
              ? {
                  kind: 'files',
                  transactions: opts.input,
                  ...(opts.labels ? { labels: opts.labels } : {}),
                  partitions: opts.partitions,
                  labelPartitions: opts.labelPartitions,
                  partitioner: opts.partitioner,
                }
              : {
                  kind: 'topics',
                  bootstrapServers: brokers,
                  clientConfig: baseClientConfig(config, brokers, `fraudstream-replay-${runId}`),
                },
            ...(models ? { models } : {}),
            runId,
            ...(opts.from !== undefined ? { fromMs: opts.from } : {}),
            ...(opts.to !== undefined ? { toMs: opts.to } : {}),
            speed: opts.speed ?? Infinity,
            log,
            shouldStop: () => stopRequested,
            ...(opts.json ? {} : { onProgress: (p: ReplayProgress) => showProgress(progress, p) }),
            // The comparison of the run's models, from the rows just written (saved in backtest_reports).
            ...(opts.report === false
              ? {}
              : {
                  afterRun: async (client: ClickHouseClient, done: ReplaySummary) => {
                    if (done.stopped || done.scored === 0) return
                    report = await backtestReport(client, {
                      runId,
                      labelCutoffMs: opts.labelCutoff ?? Date.now(),
                      maturityDays: opts.maturityDays ?? config.analytics.labelMaturityDays,
                      models: done.models,
                    })
                  },
                }),
          })
        } finally {
          process.off('SIGINT', onSigint)
        }
        progress.done()
        if (report && typeof opts.report === 'string') writeReport(opts.report, report)
        if (opts.json)
          process.stdout.write(`${JSON.stringify({ ...summary, ...(report ? { backtest: report } : {}) })}\n`)
        else process.stdout.write(`${describe(summary)}\n${report ? `\n${formatBacktestReport(report)}` : ''}`)
        return summary.stopped ? 130 : 0
      })
    },
  )
}

/** The report as Markdown at `path` and as JSON beside it, as `fraudstream backtest --out` writes them. */
function writeReport(path: string, report: BacktestReport): void {
  try {
    writeFileSync(path, backtestMarkdown(report))
    writeFileSync(`${path.replace(/\.md$/i, '')}.json`, `${JSON.stringify(report, null, 2)}\n`)
  } catch (err) {
    throw new FraudstreamError(
      ErrorCode.usage,
      `--report ${path} cannot be written: ${errorMessageOf(err)}`,
      'input',
      false,
      {
        cause: err,
      },
    )
  }
}

/** `--speed max` or `--speed 10x` (a factor, the x optional) → event-time ms per wall ms. */
export function parseSpeed(value: string): number {
  if (value === 'max') return Infinity
  const factor = Number(value.replace(/x$/i, ''))
  if (!Number.isFinite(factor) || factor <= 0)
    throw new FraudstreamError(ErrorCode.usage, `--speed must be max or a factor such as 10x, got "${value}"`, 'input')
  return factor
}

function showProgress(progress: Progress, p: ReplayProgress): void {
  const total = p.total !== undefined ? ` of ${formatInt(p.total)}` : ''
  const eta = p.etaS !== undefined ? `, ETA ${formatDuration(p.etaS)}` : ''
  const what =
    p.phase === 'scoring' ? 'transactions' : p.phase === 'reading' ? 'records read' : 'transactions through the lookups'
  const line = `  ${p.phase}: ${formatInt(p.done)}${total} ${what}, ${formatInt(p.perSecond)} tx/s${eta}`
  progress.update([line], line)
}

function formatDuration(s: number): string {
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : s >= 60
      ? `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, '0')}s`
      : `${Math.ceil(s)}s`
}

/** The summary a person reads in five seconds: what ran, over what, how many rows, how fast, and how to look. */
function describe(s: ReplaySummary): string {
  const range = s.first_event_time ? `${s.first_event_time} → ${s.last_event_time}` : 'no transaction in range'
  return [
    s.stopped
      ? `replay ${s.run_id} STOPPED by Ctrl-C after ${formatInt(s.scored)} transactions (up to ${s.last_event_time ?? '—'}): the rows written stay under this run id`
      : `replay ${s.run_id} done`,
    `  models     ${s.models.join(', ')} (${s.models[0]} decides)`,
    `  scored     ${formatInt(s.scored)} transactions → ${formatInt(s.rows)} rows in scores; ${formatInt(s.warm_up)} earlier ones warmed the state${s.labels > 0 ? `; ${formatInt(s.labels)} labels in labels` : ''}`,
    `  events     ${range}`,
    `  speed      ${formatInt(s.tx_per_s)} tx/s, ${s.elapsed_s}s in all`,
    `  look       fraudstream sql "SELECT model_name, decision, count() FROM scores WHERE run_id = '${s.run_id}' GROUP BY ALL"`,
  ].join('\n')
}
