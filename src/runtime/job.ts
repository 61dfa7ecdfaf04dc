import type { Logger } from 'pino'
import { ErrorCode, errorCodeOf, FraudstreamError, isRetryable } from '../core/errors.js'
import { pack, unpack } from 'msgpackr'
import type { PartitionedSource, PartitionStart, RecordSink, Scorer, SnapshotStore, SourceRecord, TopicPartition } from '../core/ports.js'
import { Decision, type AlertV1, type DecisionV1 } from '../core/records.js'
import type { Transaction } from '../core/transaction-v1.js'
import type { DecodeResult } from '../stages/decode/decode-transaction.js'
import { WARM_MAX } from '../stages/windows/card-windows.js'
import type { Metrics } from '../observability/metrics.js'
import { createDecider, type Decide, type Thresholds } from '../stages/decide/decide.js'
import { featureContractHash, type FeatureDefinition } from '../stages/features/feature-definition.js'
import { MicroBatcher } from '../stages/infer/micro-batcher.js'
import { deadLetterRecord } from '../stages/sinks/dead-letter.js'
import { toScoreRow, type ScoreRow } from '../stages/sinks/score-row.js'
import { sourceId, transactionFacts } from '../stages/lookups/lookup-facts.js'
import { fillLookups, requirementOf, type LookupPlan } from '../stages/lookups/lookup-plan.js'
import type { LookupTable } from '../stages/lookups/lookup-table.js'
import { AckTracker } from './ack-tracker.js'
import { WatermarkMarkers } from './lookup-markers.js'
import { LatencyRecorder } from './latency-recorder.js'
import { OffsetCommitter } from './offset-committer.js'
import { waitUntil } from './wait-until.js'
import { FactBatches } from './fact-batches.js'
import { positionsOf, readStartOf } from './partition-positions.js'
import { PartitionState, type PartitionSnapshot, type PartitionStateOptions } from './partition-state.js'

/** Rows for ClickHouse, batched per source partition; `onAck` after the row's batch is acknowledged. */
export interface ScoreSink {
  add(topic: string, partition: number, offset: number, row: ScoreRow, onAck: () => void): void
  flush(filter?: TopicPartition): Promise<void>
  drop(topic: string, partition: number): void
}

export interface JobTopics {
  readonly transactions: string
  readonly decisions: string
  readonly alerts: string
  readonly dlq: string
}

/** Lookup features: the tables every instance holds, and where this job's transactions go to feed them. */
export interface JobLookups {
  /** Where facts and watermarks go: a producer batching for throughput, apart from the decisions' one. */
  readonly producer: RecordSink
  readonly plan: LookupPlan
  readonly table: LookupTable
  readonly factsTopic: string
  readonly factsPartitions: number
  readonly maxWaitMs: number
  /** How often each partition's watermark is sent to the aggregators. */
  readonly markerIntervalMs: number
  /** Caught up and without records for this long, a partition is idle: it stops holding the tables back. */
  readonly idleTimeoutMs: number
}

export interface JobOptions {
  readonly source: PartitionedSource
  readonly producer: RecordSink
  readonly scores: ScoreSink
  /** The highest source offset of a partition already in the scores table (−1 if none): replays skip those rows. */
  readonly scoresHighOffset: (tp: TopicPartition) => Promise<number>
  readonly scorer: Scorer
  readonly features: readonly FeatureDefinition[]
  readonly topics: JobTopics
  readonly thresholds: Thresholds
  readonly autoOffsetReset: 'earliest' | 'latest' | 'error'
  readonly maxRecordBytes: number
  /** decode.maxEventTimeAheadMs: see PartitionState.decode. */
  readonly maxEventTimeAheadMs?: number
  readonly dedupeHorizonMs: number
  readonly dedupeMaxEntries: number
  readonly allowedLatenessMs: number
  readonly maxStateBytesPerPartition: number
  readonly inferMaxRecords: number
  readonly inferLingerMs: number
  readonly maxInFlight: number
  readonly commitIntervalMs: number
  readonly drainTimeoutMs: number
  readonly runId: string
  /** Where partition state is snapshotted; without it, recovery replays each partition from its low watermark. */
  readonly snapshots?: SnapshotStore
  readonly snapshotIntervalMs: number
  readonly lookups?: JobLookups
  readonly metrics: Metrics
  readonly log: Logger
}

export interface JobStats {
  consumed: number
  valid: number
  invalid: number
  duplicates: number
  scored: number
  late: number
  /** Scored after waiting lookups.maxWaitMs for the lookup tables, with the tables as they were. */
  lookupStale: number
  restored: number
  stray: number
  decisions: { approve: number; review: number; decline: number }
  alerts: number
  clickhouseRows: number
}

/** A partition this instance owns. A new Run per assignment: stale callbacks compare `run` identity. */
interface Run {
  readonly tp: TopicPartition
  readonly key: string
  readonly state: PartitionState
  readonly tracker: AckTracker
  /** Offsets below this were processed before (committed): they rebuild state and emit nothing. */
  readonly liveFromOffset: number
  /** Offsets up to this are already in ClickHouse from an earlier owner: no second row. */
  readonly clickhouseHighOffset: number
  lastCommitted: number
  nextOffset: number
  lastSnapshotOffset: number
  /** The snapshot being written, if any: the revocation's final snapshot waits for it instead of being skipped. */
  snapshotting: Promise<void> | undefined
  reportedBudgetEvictions: number
  /** The dedupe store's early evictions already counted (a restored store brings its own total). */
  reportedDedupeEvictedEarly: number
  highWatermark: number
  revoked: boolean
  /** Records waiting, in offset order, for the lookup tables to be complete up to their windows. */
  readonly waiting: Scored[]
  lastRecordAtMs: number
}

interface Scored {
  readonly run: Run
  readonly record: SourceRecord
  readonly tx: Transaction
  /** The poll's feature rows: this record's is at `rowAt` (see #onRecords). */
  readonly rows: Float32Array
  readonly rowAt: number
  readonly late: boolean
  readonly lookupAtMs: number
  readonly polledAtMs: number
  waited?: boolean
}

/**
 * The card-fraud dataflow on one consumer-group member: source → decode → dedupe → windows → features → infer →
 * decide → sinks (decisions, alerts, ClickHouse, DLQ) → commit.
 *
 * Delivery: at-least-once reading with idempotent writes. An offset becomes committable only when every sink has
 * acknowledged every output of it and of all offsets below it (AckTracker). ClickHouse rows are deduplicated by
 * batch token on retry and by a resume point after a restart; decisions and alerts are at-least-once, keyed and
 * carrying transaction_id so consumers can deduplicate.
 *
 * State: on assignment a partition is read from its low watermark; records below the committed offset rebuild the
 * windows and dedupe set with outputs suppressed, so a restarted or rebalanced job computes the features an
 * uninterrupted run computes (as far back as the topic's retention reaches).
 */
export class Job {
  readonly stats: JobStats = { consumed: 0, valid: 0, invalid: 0, duplicates: 0, scored: 0, late: 0, lookupStale: 0, restored: 0, stray: 0, decisions: { approve: 0, review: 0, decline: 0 }, alerts: 0, clickhouseRows: 0 }
  readonly latency = new LatencyRecorder()
  readonly #runs = new Map<string, Run>()
  readonly #batcher: MicroBatcher<Scored>
  readonly #decide: Decide
  readonly #featureNames: readonly string[]
  /** Where the restore replay writes the feature rows it discards. */
  readonly #replayRow: Float32Array
  readonly #featureContract: string
  /** Inference batches finish out of order; results are applied in submission order so each partition's
   * ClickHouse rows arrive in offset order (the resume point relies on it). */
  readonly #completed = new Map<number, () => void>()
  #submitted = 0
  #applied = 0
  #paused = false
  #started = false
  #stopping = false
  #failure: Error | undefined
  #timers: NodeJS.Timeout[] = []
  #firstConsumedAtMs: number | undefined
  readonly #factBatches: FactBatches | undefined
  readonly #markers: WatermarkMarkers | undefined
  /** Watermarks keep flowing while a stop drains: records waiting for the tables may depend on them. */
  #markerTimer: NodeJS.Timeout | undefined
  #onFailure: ((err: Error) => void) | undefined
  #finalPartitions: ReturnType<Job['partitions']> | undefined
  readonly #committer: OffsetCommitter
  #stopped: Promise<void> | undefined

  constructor(readonly options: JobOptions) {
    this.#featureNames = options.features.map((f) => f.name)
    this.#replayRow = new Float32Array(this.#featureNames.length)
    this.#featureContract = featureContractHash(options.features)
    this.#decide = createDecider(options.thresholds, this.#featureNames)
    this.#factBatches = options.lookups && new FactBatches(options.lookups.factsTopic, options.lookups.factsPartitions)
    this.#markers = options.lookups && new WatermarkMarkers(options.lookups.producer, options.lookups.factsTopic, options.lookups.factsPartitions)
    this.#committer = new OffsetCommitter(options.source, (tp) => this.#runs.get(`${tp.topic}:${tp.partition}`), (ok) => options.metrics.commits.inc({ result: ok ? 'ok' : 'error' }))
    this.#batcher = new MicroBatcher<Scored>({
      maxRecords: options.inferMaxRecords,
      lingerMs: options.inferLingerMs,
      onBatch: (items) => this.#score(items),
      schedule: (fn, delayMs) => {
        const timer = setTimeout(fn, delayMs)
        return { cancel: () => clearTimeout(timer) }
      },
    })
  }

  /** Ready = started, every owned partition past its restore, and no failure. */
  get ready(): boolean {
    if (!this.#started || this.#failure || this.#stopping) return false
    for (const run of this.#runs.values()) if (run.nextOffset < run.liveFromOffset) return false
    return true
  }

  /** performance.now() when the first live record was consumed: where throughput measurements start. */
  get firstConsumedAtMs(): number | undefined {
    return this.#firstConsumedAtMs
  }

  get failure(): Error | undefined {
    return this.#failure
  }

  get inFlight(): number {
    let total = 0
    for (const run of this.#runs.values()) total += run.tracker.inFlight
    return total
  }

  /** The partitions as they were after the graceful stop's final commit (leaving the group revokes them all). */
  get finalPartitions(): ReturnType<Job['partitions']> | undefined {
    return this.#finalPartitions
  }

  /**
   * Owned partitions, for progress and lag: the offset committed last, the offset below which every sink has
   * acknowledged every record, and the log end.
   */
  partitions(): { topic: string; partition: number; committed: number; acknowledged: number; high: number; restoring: boolean }[] {
    return [...this.#runs.values()].map((r) => ({ ...r.tp, committed: r.lastCommitted, acknowledged: r.tracker.committable, high: r.highWatermark, restoring: r.nextOffset < r.liveFromOffset }))
  }

  /** `onFailure` runs once if the job hits an internal error; the job has stopped committing by then. */
  async start(options: { onFailure?: (err: Error) => void } = {}): Promise<void> {
    this.#onFailure = options.onFailure
    await this.options.source.start({
      onAssign: (partitions) => this.#assign(partitions),
      onRevoke: (partitions, info) => this.#revoke(partitions, info),
      onRecords: (records) => this.#onRecords(records),
      onCommitted: (result) => this.#committer.onCommitted(result),
      onError: (err) => this.#onSourceError(err),
    })
    this.#timers.push(setInterval(() => this.#commit({ sync: false }).catch((err: unknown) => this.#fail(err)), this.options.commitIntervalMs))
    this.#timers.push(setInterval(() => this.#applyBackpressure(), 25))
    this.#timers.push(setInterval(() => void this.#refreshLag(), 1_000))
    const lookups = this.options.lookups
    if (lookups) {
      lookups.table.onProgress(() => this.#releaseWaiting())
      this.#markerTimer = setInterval(() => {
        this.#sendMarkers(lookups)
        this.#releaseWaiting()
      }, lookups.markerIntervalMs)
    }
    if (this.options.snapshots) {
      this.#timers.push(setInterval(() => {
        for (const run of this.#runs.values()) void this.#snapshot(run)
      }, this.options.snapshotIntervalMs))
    }
    this.#started = true
  }

  async #assign(partitions: readonly TopicPartition[]): Promise<PartitionStart[]> {
    const { source, log, metrics } = this.options
    this.#committer.rebalanceEnded()
    if (partitions.length === 0) return []
    const starts: PartitionStart[] = []
    for (const { tp, low, high, committed: committedOffset } of await positionsOf(source, partitions)) {
      if (committedOffset === undefined && this.options.autoOffsetReset === 'error') {
        throw new FraudstreamError(ErrorCode.kafka, `no committed offset for ${tp.topic}[${tp.partition}] and autoOffsetReset=error`, 'external')
      }
      const liveFromOffset = committedOffset ?? (this.options.autoOffsetReset === 'latest' ? high : low)
      const clickhouseHighOffset = await this.options.scoresHighOffset(tp)
      const { state, snapshot } = await this.#restore(tp, liveFromOffset)
      const nextOffset = readStartOf({ low, snapshotOffset: snapshot?.offset })
      if (nextOffset > (snapshot?.offset ?? liveFromOffset)) {
        // Retention deleted records the state or the outputs needed: nothing brings them back; said loudly.
        log.warn({ topic: tp.topic, partition: tp.partition, low, committed: committedOffset ?? null, snapshotOffset: snapshot?.offset ?? null }, 'the log starts after the snapshot or the committed offset: the records before it are gone, and the state and outputs miss them')
      }
      const run: Run = {
        tp,
        key: `${tp.topic}:${tp.partition}`,
        state,
        tracker: new AckTracker(liveFromOffset),
        liveFromOffset,
        clickhouseHighOffset,
        lastCommitted: liveFromOffset,
        nextOffset,
        lastSnapshotOffset: snapshot?.offset ?? -1,
        snapshotting: undefined,
        reportedBudgetEvictions: 0,
        reportedDedupeEvictedEarly: state.dedupe.evictedEarly,
        highWatermark: high,
        revoked: false,
        waiting: [],
        lastRecordAtMs: performance.now(),
      }
      this.#runs.set(run.key, run)
      this.#markers?.forget(sourceId('tx', tp.partition))
      starts.push({ ...tp, offset: run.nextOffset })
      log.info({ topic: tp.topic, partition: tp.partition, low, high, committed: committedOffset ?? null, liveFromOffset, snapshotOffset: snapshot?.offset ?? null, restoreRecords: Math.max(0, liveFromOffset - nextOffset), clickhouseHighOffset }, 'partition assigned')
    }
    metrics.assignedPartitions.set(this.#runs.size)
    return starts
  }

  async #revoke(partitions: readonly TopicPartition[], info: { lost: boolean }): Promise<void> {
    this.#committer.rebalanceEnded()
    const runs = partitions.map((tp) => this.#runs.get(`${tp.topic}:${tp.partition}`)).filter((r): r is Run => r !== undefined)
    this.#batcher.flush()
    // Cut the open ClickHouse batches now; their acks are awaited through the tracker, within the drain timeout
    // (awaiting the flush itself would wait forever on a ClickHouse outage).
    for (const run of runs) void this.options.scores.flush(run.tp)
    const drained = await waitUntil(() => runs.every((r) => r.tracker.inFlight === 0), this.options.drainTimeoutMs, () => this.#failure !== undefined)
    if (!info.lost && !this.#failure) {
      await this.#commit({ sync: true, only: runs })
      // A drained partition's state covers exactly its committed offset: the next owner restores it without replay.
      // A periodic snapshot still being written is of an older offset: this one follows it.
      if (drained) {
        await Promise.all(
          runs.map(async (run) => {
            await run.snapshotting
            await this.#snapshot(run)
          }),
        )
      }
    }
    for (const run of runs) {
      run.revoked = true
      this.#runs.delete(run.key)
      this.options.scores.drop(run.tp.topic, run.tp.partition)
      // Its last evictions reported, then its series removed: the next owner exports its own.
      this.#reportState(run)
      for (const gauge of [this.options.metrics.windowStateBytes, this.options.metrics.windowStateAllocatedBytes, this.options.metrics.watermarkLag, this.options.metrics.consumerLag, this.options.metrics.snapshotBytes, this.options.metrics.dedupeIds]) gauge.remove({ partition: String(run.tp.partition) })
      this.options.log.info({ topic: run.tp.topic, partition: run.tp.partition, committed: run.lastCommitted, drained, lost: info.lost }, 'partition revoked')
    }
    this.options.metrics.assignedPartitions.set(this.#runs.size)
  }

  /** Warms the card state of the valid transactions among the records [from, to), per partition (PartitionState.warm). */
  #warm(runs: readonly (Run | undefined)[], decoded: readonly (DecodeResult | undefined)[], from: number, to: number): void {
    const byRun = new Map<Run, Transaction[]>()
    for (let i = from; i < to; i++) {
      const result = decoded[i]
      if (result?.kind !== 'ok') continue
      const run = runs[i]!
      const txs = byRun.get(run)
      if (txs) txs.push(result.tx)
      else byRun.set(run, [result.tx])
    }
    for (const [run, txs] of byRun) run.state.warm(txs)
  }

  #onRecords(records: readonly SourceRecord[]): void {
    if (this.#failure) return
    const { metrics, producer, topics } = this.options
    const polledAtMs = performance.now()
    // Runs (no callback changes them during this loop) and decoded records up front, so each stretch of WARM_MAX
    // records can have its cards' state loaded before it is processed.
    const runs = records.map((record) => this.#runs.get(`${record.topic}:${record.partition}`))
    const decoded = records.map((record, i) => runs[i]?.state.decode(record.value, record.timestampMs))
    // The poll's feature rows side by side, record i's at i × width: one array, not a view per record (see
    // PartitionState.observe).
    const width = this.#featureNames.length
    const rows = new Float32Array(records.length * width)
    for (let i = 0; i < records.length; i++) {
      if (i % WARM_MAX === 0) this.#warm(runs, decoded, i, Math.min(records.length, i + WARM_MAX))
      const record = records[i]!
      const run = runs[i]
      // A record of a partition this member no longer owns (or owns anew, at another offset) must not be processed:
      // storing its offset or output would let the next owner skip or double it.
      if (!run || record.offset < run.nextOffset) {
        this.stats.stray++
        metrics.strayRecords.inc()
        continue
      }
      run.nextOffset = record.offset + 1
      run.lastRecordAtMs = polledAtMs
      const input = decoded[i]!
      if (record.offset < run.liveFromOffset) {
        run.state.processDecoded(input, this.#replayRow, 0)
        this.stats.restored++
        metrics.restored.inc()
        continue
      }
      if (this.stats.consumed++ === 0) this.#firstConsumedAtMs = polledAtMs
      const processed = run.state.processDecoded(input, rows, i * width)
      if (processed.kind === 'invalid') {
        this.stats.invalid++
        metrics.transactions.inc({ outcome: 'invalid' })
        metrics.deadLetters.inc({ stage: 'decode', reason: processed.reason })
        run.tracker.register(record.offset, 1)
        producer.send(deadLetterRecord(topics.dlq, record, processed, 'decode'), () => run.tracker.ack(record.offset))
        continue
      }
      this.stats.valid++
      if (processed.kind === 'duplicate') {
        this.stats.duplicates++
        metrics.transactions.inc({ outcome: 'duplicate' })
        run.tracker.register(record.offset, 0)
        continue
      }
      if (processed.late) {
        this.stats.late++
        metrics.transactions.inc({ outcome: 'late' })
      }
      const item: Scored = { run, record, tx: processed.tx, rows, rowAt: i * width, late: processed.late, lookupAtMs: processed.lookupAtMs, polledAtMs }
      const lookups = this.options.lookups
      // An on-time transaction feeds the lookup tables; a late one entered no window and enters no table either.
      const facts = lookups && !processed.late ? transactionFacts(lookups.plan, processed.tx, sourceId('tx', record.partition), record.offset) : []
      // One placeholder ack until the record is scored; scoring then adds the acks of the sinks it writes to.
      run.tracker.register(record.offset, 1 + facts.length)
      for (const fact of facts) this.#factBatches!.add(fact, () => run.tracker.ack(record.offset))
      // A late one waits too: its lookups are read at the watermark (PartitionState.observe).
      if (!lookups) this.#batcher.add(item)
      else run.waiting.push(item)
    }
    if (this.options.lookups) this.#factBatches!.send(this.options.lookups.producer)
    this.#releaseWaiting()
    this.#applyBackpressure()
  }

  /**
   * Moves records whose lookups the tables now cover (or that waited lookups.maxWaitMs) to inference, in offset
   * order per partition, so each partition's ClickHouse rows keep arriving in offset order.
   */
  #releaseWaiting(): void {
    const lookups = this.options.lookups
    if (!lookups) return
    const nowMs = performance.now()
    for (const run of this.#runs.values()) {
      while (run.waiting.length > 0) {
        const item = run.waiting[0]!
        const complete = lookups.table.covers(requirementOf(lookups.plan, item.lookupAtMs))
        if (!complete && nowMs - item.polledAtMs < lookups.maxWaitMs) {
          item.waited = true
          break
        }
        run.waiting.shift()
        if (!complete) {
          this.stats.lookupStale++
          this.options.log.warn({ partition: run.tp.partition, offset: item.record.offset, completeness: lookups.table.completeness }, 'lookup tables incomplete after lookups.maxWaitMs; scoring with the tables as they are')
        }
        if (item.waited || !complete) this.options.metrics.lookupWaits.inc({ result: complete ? 'complete' : 'stale' })
        fillLookups(lookups.plan, item.rows, item.tx, item.lookupAtMs, (key) => lookups.table.get(key), item.rowAt)
        this.#batcher.add(item)
      }
    }
  }

  /**
   * Each live partition's watermark to every aggregator: no later on-time transaction of it is older, and none
   * waiting is either (the aggregators keep what waiting records will read). Idle: caught up, nothing waiting and
   * no record for lookups.idleTimeoutMs (a shorter test would take a partition whose records are still on their
   * way for an idle one, and let the tables be called complete without them).
   */
  #sendMarkers(lookups: JobLookups): void {
    const nowMs = performance.now()
    for (const run of this.#runs.values()) {
      if (run.nextOffset < run.liveFromOffset) continue
      let watermarkMs = run.state.windows.watermarkMs
      for (const item of run.waiting) watermarkMs = Math.min(watermarkMs, item.lookupAtMs)
      const idle = run.waiting.length === 0 && run.nextOffset >= run.highWatermark && nowMs - run.lastRecordAtMs >= lookups.idleTimeoutMs
      this.#markers!.send({ kind: 'marker', source: sourceId('tx', run.tp.partition), watermarkMs, idle, throughOffset: run.nextOffset - 1 })
    }
    const completeness = lookups.table.completeness.txMs
    this.options.metrics.lookupTableKeys.set(lookups.table.size)
    if (Number.isFinite(completeness)) this.options.metrics.lookupCompletenessLag.set((Date.now() - completeness) / 1000)
  }

  #score(items: Scored[]): void {
    const { scorer, metrics } = this.options
    const width = this.#featureNames.length
    const rows = new Float32Array(items.length * width)
    // A loop, not set(subarray): the view would cost more than copying the row.
    items.forEach((item, i) => {
      for (let j = 0; j < width; j++) rows[i * width + j] = item.rows[item.rowAt + j]!
    })
    const sequence = this.#submitted++
    const startedMs = performance.now()
    metrics.inferenceBatch.observe({ model: scorer.model.name }, items.length)
    scorer.score(rows, items.length).then(
      (scores) => {
        metrics.inferenceDuration.observeMs(scorer.model.name, performance.now() - startedMs)
        this.#completed.set(sequence, () => this.#deliver(items, scores))
        while (this.#completed.has(this.#applied)) {
          const apply = this.#completed.get(this.#applied)!
          this.#completed.delete(this.#applied++)
          apply()
        }
      },
      (err: unknown) => this.#fail(err),
    )
  }

  #deliver(items: readonly Scored[], scores: Float32Array): void {
    const { producer, scores: scoreSink, topics, scorer, metrics } = this.options
    for (const [i, item] of items.entries()) {
      const { run, record, tx } = item
      if (run.revoked || this.#runs.get(run.key) !== run) continue
      const score = scores[i]!
      const outcome = this.#decide(score, item.rows, item.rowAt)
      const decidedAtMs = Date.now()
      const latencyMs = performance.now() - item.polledAtMs
      const decision: DecisionV1 = {
        transaction_id: tx.transaction_id,
        card_id: tx.card_id,
        event_time: new Date(tx.eventTimeMs).toISOString(),
        decided_at: new Date(decidedAtMs).toISOString(),
        score,
        decision: outcome.decision,
        reasons: outcome.reasons,
        rules: outcome.rules,
        model: scorer.model,
        latency_ms: Math.round(latencyMs * 1000) / 1000,
      }
      const alert = outcome.decision === Decision.decline
      const toClickhouse = record.offset > run.clickhouseHighOffset
      run.tracker.expect(record.offset, 1 + (alert ? 1 : 0) + (toClickhouse ? 1 : 0))
      const ack = () => run.tracker.ack(record.offset)
      producer.send({ topic: topics.decisions, key: tx.card_id, value: Buffer.from(JSON.stringify(decision)) }, ack)
      if (alert) {
        const alertRecord: AlertV1 = { ...decision, severity: 'high', amount: tx.amount, currency: tx.currency, merchant_id: tx.merchant_id, terminal_id: tx.terminal_id, country: tx.country }
        producer.send({ topic: topics.alerts, key: tx.card_id, value: Buffer.from(JSON.stringify(alertRecord)) }, ack)
        this.stats.alerts++
        metrics.alerts.inc()
      }
      if (toClickhouse) {
        const row = toScoreRow({ tx, decision, featureNames: this.#featureNames, row: item.rows, rowAt: item.rowAt, featureContract: this.#featureContract, late: item.late, source: record, runId: this.options.runId })
        scoreSink.add(record.topic, record.partition, record.offset, row, () => {
          this.stats.clickhouseRows++
          ack()
        })
      }
      ack() // the placeholder taken at registration
      this.stats.scored++
      this.stats.decisions[outcome.decision]++
      metrics.transactions.inc({ outcome: 'scored' })
      metrics.decisions.inc({ decision: outcome.decision })
      metrics.decisionLatency.observeMs(latencyMs)
      this.latency.record(latencyMs)
    }
  }

  async #commit(options: { sync: boolean; only?: readonly Run[] }): Promise<void> {
    if (this.#failure) return
    await this.#committer.commit(options.only ?? this.#runs.values(), options)
  }

  /** Pauses every owned partition while too many records wait for sinks; resumes below half the bound. */
  #applyBackpressure(): void {
    const inFlight = this.inFlight
    this.options.metrics.inFlight.set(inFlight)
    const owned = [...this.#runs.values()].map((r) => r.tp)
    if (!this.#paused && inFlight > this.options.maxInFlight) {
      this.options.source.pause(owned)
      this.#paused = true
      this.options.metrics.paused.set(1)
      this.options.log.debug({ inFlight }, 'source paused for backpressure')
    } else if (this.#paused && inFlight <= this.options.maxInFlight / 2) {
      this.options.source.resume(owned)
      this.#paused = false
      this.options.metrics.paused.set(0)
    }
  }

  async #refreshLag(): Promise<void> {
    for (const run of this.#runs.values()) {
      this.#reportState(run)
      try {
        const { high } = await this.options.source.watermarks(run.tp)
        // Revoked meanwhile: its series are gone and stay gone.
        if (run.revoked) continue
        run.highWatermark = high
        this.options.metrics.consumerLag.set({ partition: String(run.tp.partition) }, Math.max(0, high - run.tracker.committable))
      } catch (err) {
        this.options.log.debug({ err: (err as Error).message, partition: run.tp.partition }, 'watermark query failed; lag not refreshed')
      }
    }
  }

  /** A partition's state sizes, watermark lag, and budget and dedupe evictions since the last report, to the metrics and the log. */
  #reportState(run: Run): void {
    const partition = String(run.tp.partition)
    this.options.metrics.windowStateBytes.set({ partition }, run.state.estimatedBytes)
    this.options.metrics.windowStateAllocatedBytes.set({ partition }, run.state.windows.allocatedBytes)
    const watermarkMs = run.state.windows.watermarkMs
    if (Number.isFinite(watermarkMs)) this.options.metrics.watermarkLag.set({ partition }, (Date.now() - watermarkMs) / 1000)
    const evicted = run.state.budgetEvictions - run.reportedBudgetEvictions
    if (evicted > 0) {
      run.reportedBudgetEvictions = run.state.budgetEvictions
      this.options.metrics.budgetEvictions.inc({ partition }, evicted)
      this.options.log.warn({ partition: run.tp.partition, evicted, maxStateBytes: this.options.maxStateBytesPerPartition }, 'window state over budget: oldest cards dropped, their next features start from empty')
    }
    this.options.metrics.dedupeIds.set({ partition }, run.state.dedupe.size)
    const forgotten = run.state.dedupe.evictedEarly - run.reportedDedupeEvictedEarly
    if (forgotten > 0) {
      run.reportedDedupeEvictedEarly = run.state.dedupe.evictedEarly
      this.options.metrics.dedupeEvictedEarly.inc({ partition }, forgotten)
      this.options.log.warn({ partition: run.tp.partition, forgotten, maxEntries: this.options.dedupeMaxEntries, horizonMs: this.options.dedupeHorizonMs }, 'dedupe store full: ids forgotten before their horizon, their duplicates would pass')
    }
  }

  get #stateOptions(): PartitionStateOptions {
    return {
      features: this.options.features,
      maxRecordBytes: this.options.maxRecordBytes,
      dedupeHorizonMs: this.options.dedupeHorizonMs,
      dedupeMaxEntries: this.options.dedupeMaxEntries,
      allowedLatenessMs: this.options.allowedLatenessMs,
      maxStateBytes: this.options.maxStateBytesPerPartition,
      maxEventTimeAheadMs: this.options.maxEventTimeAheadMs,
    }
  }

  /**
   * The partition's state from the newest usable snapshot at or below the committed offset, or empty. A snapshot of
   * other settings, or one that cannot be read or loaded, is passed over for the one before it: replaying further
   * costs time, a partition left unassigned costs every record. Errors of the store itself are not caught: the job
   * fails, and a restart tries again.
   */
  async #restore(tp: TopicPartition, committedOffset: number): Promise<{ state: PartitionState; snapshot: PartitionSnapshot | undefined }> {
    const store = this.options.snapshots
    for (let maxOffset = committedOffset; store; ) {
      const found = await store.loadLatest(tp, maxOffset)
      if (!found) break
      try {
        const snapshot = unpack(found.bytes) as PartitionSnapshot
        if (snapshot.version === 3 && snapshot.offset === found.offset && snapshot.fingerprint === PartitionState.fingerprint(this.#stateOptions)) {
          return { state: new PartitionState(this.#stateOptions, snapshot), snapshot }
        }
        this.options.log.warn({ partition: tp.partition, offset: found.offset }, 'snapshot made with other feature definitions or settings; trying an older one')
      } catch (err) {
        this.options.log.warn({ err: (err as Error).message, partition: tp.partition, offset: found.offset }, 'unusable snapshot; trying an older one')
      }
      this.options.metrics.snapshotsSkipped.inc()
      maxOffset = found.offset - 1
    }
    return { state: new PartitionState(this.#stateOptions), snapshot: undefined }
  }

  /**
   * A failed consume is retried by the next poll; a rebalance the job could not handle (assignment failed) leaves its
   * partitions unassigned, which only a restart mends: the job fails.
   */
  #onSourceError(err: Error): void {
    if (isRetryable(err)) this.options.log.warn({ err: err.message, code: errorCodeOf(err) }, 'source error')
    else this.#fail(err)
  }

  /**
   * Snapshots a partition's state as of `nextOffset` (every record below it processed). It only becomes usable once
   * the committed offset reaches that offset; the store keeps older ones for the meantime.
   */
  async #snapshot(run: Run): Promise<void> {
    const store = this.options.snapshots
    if (!store || run.snapshotting || run.nextOffset <= run.lastSnapshotOffset) return
    const writing = this.#writeSnapshot(run, store)
    run.snapshotting = writing
    await writing
    if (run.snapshotting === writing) run.snapshotting = undefined
  }

  async #writeSnapshot(run: Run, store: SnapshotStore): Promise<void> {
    const offset = run.nextOffset
    try {
      const startedMs = performance.now()
      const bytes = pack(run.state.toSnapshot(offset))
      await store.save(run.tp, offset, bytes, run.lastCommitted)
      run.lastSnapshotOffset = offset
      this.options.metrics.snapshotBytes.set({ partition: String(run.tp.partition) }, bytes.length)
      this.options.log.debug({ partition: run.tp.partition, offset, bytes: bytes.length, ms: performance.now() - startedMs }, 'state snapshot written')
    } catch (err) {
      this.options.metrics.snapshotFailures.inc()
      this.options.log.warn({ err: (err as Error).message, partition: run.tp.partition, offset }, 'state snapshot failed; recovery will replay further back')
    }
  }

  #fail(err: unknown): void {
    if (this.#failure) return
    this.#failure = err instanceof Error ? err : new Error(String(err))
    this.options.log.fatal({ err: this.#failure, code: errorCodeOf(err) }, 'job failed; no further offsets will be committed')
    for (const timer of this.#timers) clearInterval(timer)
    clearInterval(this.#markerTimer)
    this.#onFailure?.(this.#failure)
  }

  /** Resolves when every record consumed so far is acknowledged by every sink (the sinks are flushed on the way). */
  async drain(timeoutMs = this.options.drainTimeoutMs): Promise<boolean> {
    this.#batcher.flush()
    void this.options.scores.flush()
    return waitUntil(() => this.inFlight === 0 && this.#batcher.pending === 0, timeoutMs, () => this.#failure !== undefined)
  }

  /**
   * Graceful stop: stop polling, finish in-flight records, commit synchronously, leave the group. After a failure,
   * nothing more is committed: the next owner restarts from the last commit.
   */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop()
    return this.#stopped
  }

  async #stop(): Promise<void> {
    this.#stopping = true
    for (const timer of this.#timers) clearInterval(timer)
    const { source } = this.options
    await source.stopPolling()
    try {
      if (!this.#failure) {
        // Draining and the last commit share the shutdown timeout.
        const deadline = performance.now() + this.options.drainTimeoutMs
        const drained = await this.drain()
        clearInterval(this.#markerTimer)
        const committed = await this.#committer.commitBeforeLeaving(() => this.#runs.values(), deadline - performance.now())
        await this.#refreshLag()
        this.#finalPartitions = this.partitions()
        if (committed) this.options.log.info({ drained, partitions: this.#finalPartitions }, 'drained and committed')
        else this.options.log.warn({ drained, partitions: this.#finalPartitions }, 'drained, but the last commit was refused: the next owners process again the records since the one before')
      }
    } finally {
      clearInterval(this.#markerTimer)
      // Whatever failed above, the member leaves the group: its polls go on until then, and its partitions with it.
      await source.stop()
    }
  }
}
