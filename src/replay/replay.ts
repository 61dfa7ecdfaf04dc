import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Logger } from 'pino'
import type { ClickHouseClient } from '../adapters/clickhouse/client.js'
import { partitionOf, type Partitioner } from '../adapters/kafka/partitioner.js'
import { OnnxScorer } from '../adapters/onnx/onnx-scorer.js'
import { readRegistry } from '../adapters/onnx/model-package.js'
import { openClickhouse, scoresBatchSink } from '../clickhouse-setup.js'
import type { Config } from '../config/schema.js'
import { ErrorCode, FraudstreamError } from '../core/errors.js'
import { lineupOf } from '../models/lineup.js'
import { createMetrics } from '../observability/metrics.js'
import { computeFeatureFile, type FeatureFileCounts } from '../offline/feature-file.js'
import { featureContractHash, type FeatureDefinition } from '../stages/features/feature-definition.js'
import { ReplayScorer } from './replay-scorer.js'
import type { OffsetLookup, PartitionRange } from './topic-range.js'
import { inputOf } from './replay-input.js'
import { writeReplayLabels } from './replay-labels.js'

/** Where a replay reads: files, or a time range of the topics. */
export type ReplaySource =
  | {
      readonly kind: 'files'
      readonly transactions: string
      readonly labels?: string
      readonly partitions: number
      readonly labelPartitions: number
      readonly partitioner: Partitioner
    }
  | {
      readonly kind: 'topics'
      readonly bootstrapServers: string
      readonly clientConfig: Record<string, string | number | boolean>
    }

export interface ReplayOptions {
  readonly config: Config
  readonly features: readonly FeatureDefinition[]
  readonly source: ReplaySource
  /** name@version of each model; the first decides. Default: the registry's champion. */
  readonly models?: readonly string[]
  readonly runId: string
  /** Transactions before it only warm the state (required for topics; for files, by Kafka timestamp or event time). */
  readonly fromMs?: number
  /** Transactions after it are not read (topics) or not scored (files). */
  readonly toMs?: number
  /** Event-time ms replayed per wall ms; Infinity: as fast as possible. */
  readonly speed: number
  readonly log: Logger
  readonly onProgress?: (progress: ReplayProgress) => void
  /** Polled between records: true stops the replay cleanly (what was scored is written). */
  readonly shouldStop?: () => boolean
  /**
   * Called once the rows are in ClickHouse, before it is closed: where the backtest report (issue 20 item 4,
   * src/replay/backtest-report.ts) prints and saves its comparison of the run's models.
   */
  readonly afterRun?: (client: ClickHouseClient, summary: ReplaySummary) => Promise<void>
}

export interface ReplayProgress {
  readonly phase: 'reading' | 'lookups' | 'scoring'
  /** Records read (reading), lines through the lookup pass (lookups) or through scoring, warm-up included (scoring). */
  readonly done: number
  /** What `done` goes up to, when known. */
  readonly total: number | undefined
  readonly perSecond: number
  readonly etaS: number | undefined
}

export interface ReplaySummary {
  readonly ok: true
  readonly run_id: string
  /** name@version, the deciding model first. */
  readonly models: readonly string[]
  /** Transactions scored (each with a row per model). */
  readonly scored: number
  readonly rows: number
  /** Labels written to `labels` under the run id (file replays; a topic replay's labels are the live ones). */
  readonly labels: number
  /** Transactions read before --from: state only. */
  readonly warm_up: number
  readonly first_event_time: string | null
  readonly last_event_time: string | null
  readonly from: string | null
  readonly to: string | null
  readonly counts: FeatureFileCounts
  /** How each partition's offset for a time was found (topics only). */
  readonly offset_lookups: readonly OffsetLookup[]
  readonly partitions: readonly PartitionRange[]
  readonly stopped: boolean
  readonly elapsed_s: number
  readonly tx_per_s: number
}

/** A replay's id names its rows; `live` is the stream's. */
export function checkRunId(runId: string): void {
  if (runId === 'live')
    throw new FraudstreamError(
      ErrorCode.usage,
      '--run-id live names the stream’s own rows: give a replay its own id',
      'input',
    )
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/.test(runId))
    throw new FraudstreamError(
      ErrorCode.usage,
      `--run-id must be 1–64 letters, digits, '.', '_', ':' or '-', got "${runId}"`,
      'input',
    )
}

/** `replay-<yyyymmddhhmmss>-<4 hex>`: sortable, and two replays started in the same second still differ. */
export function generateRunId(nowMs: number = Date.now()): string {
  const stamp = new Date(nowMs).toISOString().replace(/[-:T]/g, '').slice(0, 14)
  return `replay-${stamp}-${Math.floor(Math.random() * 0x10000)
    .toString(16)
    .padStart(4, '0')}`
}

/** Thrown inside the feature pass to end it when the user stops the replay. */
class Stopped extends Error {}

/**
 * `fraudstream replay`: the stream's scoring of a range of transactions, offline and isolated. Features come from the
 * offline path `fraudstream features` uses (computeFeatureFile: the stream's PartitionState per partition, lookups
 * from complete tables), scores and decisions from the stream's own score and decide stages (ReplayScorer), rows
 * from its row builder into `scores` under `runId`. From topics, each partition is read from the offset of
 * (from − the state's horizon) to the offset of `to`, by a consumer that joins no group and commits nothing, and
 * copied to a temporary `kcat -C -J` dump first; nothing is produced to any topic.
 */
export async function runReplay(options: ReplayOptions): Promise<ReplaySummary> {
  const { config, features, log, runId } = options
  checkRunId(runId)
  const started = performance.now()
  const featureNames = features.map((f) => f.name)
  const contract = { hash: featureContractHash(features), names: featureNames }
  const refs = options.models && options.models.length > 0 ? options.models : [readRegistry(config.model.dir).champion]
  const twice = refs.find((ref, i) => refs.indexOf(ref) !== i)
  if (twice) throw new FraudstreamError(ErrorCode.usage, `--models names ${twice} twice`, 'input')
  // The first model decides, as the champion does; every other one is scored beside it, as a shadow is.
  const lineup = lineupOf(
    { champion: refs[0]!, shadows: refs.slice(1) },
    { modelsDir: config.model.dir, contract, thresholds: config.thresholds },
  )
  const closers: (() => Promise<void>)[] = []
  const scratch = await mkdtemp(join(tmpdir(), 'fraudstream-replay-'))
  closers.push(() => rm(scratch, { recursive: true, force: true }))
  try {
    const client = await openClickhouse(config, featureNames, closers)
    await refuseUsedRunId(client, runId)
    const scorer = new OnnxScorer(lineup, { threads: config.infer.threads, explainTopK: config.infer.explainTopK })
    closers.push(() => scorer.close())
    await scorer.ready
    const sink = scoresBatchSink({
      client,
      config,
      featureNames,
      tokenScope: runId,
      metrics: createMetrics(),
      log: log.child({ component: 'replay-sink' }),
    })
    closers.push(() => sink.close())
    const replay = new ReplayScorer({
      scorer,
      sink,
      config,
      featureNames,
      featureContract: contract.hash,
      runId,
      batchRows: Math.max(config.infer.maxRecords, 2048),
      concurrency: 2 * config.infer.threads,
      maxUnacked: 4 * config.clickhouse.maxBatchRows,
    })
    const progress = rateMeter(options.onProgress)
    const input = await inputOf(options, scratch, progress.report)
    let warmUp = 0
    let rowsSeen = 0
    let firstMs = Infinity
    let lastMs = -Infinity
    const pace = pacer(options.speed)
    let stopped = false
    let counts: FeatureFileCounts
    let linesRead = 0
    const onLines = (phase: 'lookups' | 'features', lines: number) => {
      if (phase === 'lookups') {
        linesRead = lines
        progress.report('lookups', lines, input.totalLines)
      }
    }
    try {
      ;({ counts } = await computeFeatureFile(
        {
          transactionsPath: input.transactions,
          ...(input.labels ? { labelsPath: input.labels } : {}),
          features,
          config,
          partitions: input.partitions,
          labelPartitions: input.labelPartitions,
          partitioner: input.partitioner,
          onProgress: onLines,
        },
        async ({ tx, row, late, source }) => {
          if (options.shouldStop?.()) throw new Stopped()
          if (++rowsSeen % 1_000 === 0)
            progress.report('scoring', source.line, input.totalLines ?? (linesRead || undefined))
          const partition = source.partition ?? partitionOf(tx.card_id, input.partitions, input.partitioner)
          const offset = source.offset ?? source.line
          const timestampMs = source.timestampMs ?? tx.eventTimeMs
          if (!input.scores(partition, offset, timestampMs)) {
            warmUp++
            return
          }
          if (Number.isFinite(options.speed)) {
            const waitMs = pace(tx.eventTimeMs)
            if (waitMs > 1) {
              await replay.sendPending()
              await new Promise((resolve) => setTimeout(resolve, waitMs))
            }
          }
          firstMs = Math.min(firstMs, tx.eventTimeMs)
          lastMs = Math.max(lastMs, tx.eventTimeMs)
          await replay.add({
            tx,
            row,
            late,
            origin: { topic: input.topic, partition, offset, timestampMs },
          })
        },
      ))
    } catch (err) {
      if (!(err instanceof Stopped)) throw err
      stopped = true
      counts = emptyCounts()
    }
    await replay.drain()
    await sink.flush()
    const { source } = options
    const labelsWritten =
      source.kind === 'files' && source.labels && !stopped
        ? await writeReplayLabels({
            client,
            config,
            path: source.labels,
            labelPartitions: source.labelPartitions,
            partitioner: source.partitioner,
            runId,
            log,
          })
        : 0
    const elapsedS = (performance.now() - started) / 1000
    const iso = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : null)
    const summary: ReplaySummary = {
      ok: true,
      run_id: runId,
      models: refs,
      scored: replay.written,
      rows: replay.written * refs.length,
      labels: labelsWritten,
      warm_up: warmUp,
      first_event_time: iso(firstMs),
      last_event_time: iso(lastMs),
      from: iso(options.fromMs ?? NaN),
      to: iso(options.toMs ?? NaN),
      counts,
      offset_lookups: input.lookups,
      partitions: input.ranges,
      stopped,
      elapsed_s: Math.round(elapsedS * 1000) / 1000,
      tx_per_s: Math.round(replay.written / Math.max(elapsedS, 1e-3)),
    }
    if (options.afterRun) await options.afterRun(client, summary)
    return summary
  } finally {
    for (const close of closers.splice(0).reverse()) await close()
  }
}

/** A run id names one replay: rows of an earlier one under it would mix two runs in every comparison. */
async function refuseUsedRunId(client: ClickHouseClient, runId: string): Promise<void> {
  const rows = await (
    await client.query({
      query: 'SELECT count() AS n FROM scores WHERE run_id = {runId:String}',
      query_params: { runId },
      format: 'JSONEachRow',
    })
  ).json<{ n: string | number }>()
  const n = Number(rows[0]?.n ?? 0)
  if (n > 0)
    throw new FraudstreamError(
      ErrorCode.usage,
      `run id ${runId} already has ${n} rows in scores: give another --run-id (or leave it out to generate one)`,
      'input',
    )
}

/** Milliseconds to wait before scoring a transaction at `eventMs`, so event time runs `speed` times the wall clock. */
function pacer(speed: number): (eventMs: number) => number {
  let startEventMs: number | undefined
  let startWallMs = 0
  return (eventMs) => {
    if (startEventMs === undefined) {
      startEventMs = eventMs
      startWallMs = performance.now()
      return 0
    }
    return startWallMs + (eventMs - startEventMs) / speed - performance.now()
  }
}

/** Progress with a rate (per second, over the phase so far) and an ETA when the total is known. */
function rateMeter(onProgress: ReplayOptions['onProgress']) {
  let phase: ReplayProgress['phase'] | undefined
  let phaseStart = 0
  let phaseStartDone = 0
  return {
    report(p: ReplayProgress['phase'], done: number, total: number | undefined) {
      if (!onProgress) return
      if (p !== phase) {
        phase = p
        phaseStart = performance.now()
        phaseStartDone = done
      }
      const seconds = (performance.now() - phaseStart) / 1000
      const perSecond = seconds > 0 ? (done - phaseStartDone) / seconds : 0
      const etaS = total !== undefined && perSecond > 0 ? Math.max(0, (total - done) / perSecond) : undefined
      onProgress({ phase: p, done, total, perSecond, etaS })
    },
  }
}

function emptyCounts(): FeatureFileCounts {
  return {
    lines: 0,
    rows: 0,
    invalid: 0,
    duplicates: 0,
    late: 0,
    budget_evictions: 0,
    late_labels: 0,
    unattributed_labels: 0,
    invalid_labels: 0,
  }
}
