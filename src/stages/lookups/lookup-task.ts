import { pack, unpack } from 'msgpackr'
import type { Logger } from 'pino'
import { ErrorCode, FraudstreamError } from '../../core/errors.js'
import type { PartitionedSource, RecordSink, SourceRecord, TransactionAttribution } from '../../core/ports.js'
import { partitionKey } from '../../core/stage.js'
import type { Metrics } from '../../observability/metrics.js'
import { AckTracker } from '../../runtime/ack-tracker.js'
import { GroupMember, type MemberPartition, type MemberTask } from '../../runtime/group-member.js'
import type { PartitionPosition } from '../../runtime/partition-positions.js'
import { SlicedSink } from '../../runtime/sliced-sink.js'
import { systemClock, systemScheduler } from '../../runtime/system-time.js'
import { waitUntil } from '../../runtime/wait-until.js'
import { decodeLabel } from '../decode/decode-transaction.js'
import { FactBatches } from './fact-batches.js'
import { LabelAttributor } from './label-attributor.js'
import { LabelRouter } from './label-router.js'
import { LookupAggregator } from './lookup-aggregator.js'
import { sourceId, type KeyedFact, type LookupFact } from './lookup-facts.js'
import { WatermarkMarkers } from './lookup-markers.js'
import type { LookupPlan } from './lookup-plan.js'
import type { LookupTable } from './lookup-table.js'
import { PendingLabels } from './pending-labels.js'
import { encodeTableEntry, PROGRESS_KEY } from './table-records.js'

/** Evicting scans every key of a partition: often enough to bound memory, rarely enough to cost nothing. */
const EVICT_EVERY_FLUSHES = 50
/** Keys an eviction pass visits per flush: a pass over a busy partition's keys is spread over many flushes. */
const EVICT_KEYS_PER_FLUSH = 1_000

export interface LookupTaskOptions {
  /** A consumer group of its own over the labels and lookup-facts topics. */
  readonly source: PartitionedSource
  readonly producer: RecordSink
  readonly table: LookupTable
  /** How far the table has read each partition of the tables topic, to restore an aggregator from it. */
  readonly tableReader: { position(partition: number): number; highWatermark(partition: number): Promise<number> }
  readonly plan: LookupPlan
  readonly topics: { readonly labels: string; readonly facts: string; readonly tables: string }
  readonly factsPartitions: number
  /** Every source partition whose watermark the tables wait for: `tx/<p>` and `labels/<p>`. */
  readonly expectedSources: readonly string[]
  readonly allowedLatenessMs: number
  readonly maxRecordBytes: number
  readonly flushIntervalMs: number
  /** How long changed buckets the tables will not be asked for soon may be held back before they are published. */
  readonly publishIntervalMs: number
  readonly commitIntervalMs: number
  readonly drainTimeoutMs: number
  /** Finds the transactions of labels that carry the transaction id alone (the `scores` table). */
  readonly attribution: TransactionAttribution
  /** How often the labels waiting for their transaction are looked up, in one batched query. */
  readonly attributionIntervalMs: number
  /** How long a label waits for its transaction to be found; then it is counted and logged as unattributed. */
  readonly attributionTimeoutMs: number
  readonly metrics: Metrics
  readonly log: Logger
  /** Runs when the task cannot go on (an assignment it could not take): the process should stop and restart. */
  readonly onFailure?: (err: Error) => void
}

interface LabelRun extends MemberPartition {
  readonly kind: 'labels'
  readonly router: LabelRouter
  /** Labels waiting for their transaction's attributes: they hold the marker and the commit back (PendingLabels). */
  readonly pending: PendingLabels
  /** Being revoked or stopped: its waiting labels are given up to the next owner, and none is looked up any more. */
  draining: boolean
}

interface AggregatorRun extends MemberPartition {
  readonly kind: 'aggregator'
  readonly aggregator: LookupAggregator
  /** Offsets applied since the last publish: acknowledged once the publish is. */
  unpublished: number[]
  flushes: number
  /** When everything the aggregator changed was last published (performance.now()). */
  publishedAllAtMs: number
}

type Run = LabelRun | AggregatorRun

/**
 * The second keyed stage of the topology. It routes labels to the lookup keys they concern (repartition
 * through the lookup-facts topic, where the scoring stage sends its transactions too), and aggregates the facts of
 * its lookup-facts partitions. Changed keys and the partition's progress go to the compacted tables topic, which is
 * its changelog: a new owner restores from it and skips the facts it already holds (by source offset), so the
 * aggregates are exact across crashes and rebalances. Offsets are committed once the published state covers them.
 */
export class LookupTask implements MemberTask<Run> {
  readonly #member: GroupMember<Run>
  readonly #factBatches: FactBatches
  /** The tables topic's records, sent a slice per turn of the event loop (a due publish is thousands of them). */
  readonly #tables: SlicedSink
  /** The progress published last per aggregator partition, to publish only changes. */
  readonly #lastProgress = new Map<string, string>()
  readonly #markers: WatermarkMarkers
  #flushTimer: { cancel(): void } | undefined
  #attributionTimer: { cancel(): void } | undefined
  readonly #attributor: LabelAttributor<LabelRun>
  /** Changed buckets starting this far below the aggregators' completeness or later may be held back. */
  readonly #holdMs: number

  constructor(readonly options: LookupTaskOptions) {
    this.#holdMs = Math.min(...options.plan.columns.map(({ feature }) => feature.delayMs)) / 2
    this.#factBatches = new FactBatches(options.topics.facts, options.factsPartitions)
    this.#tables = new SlicedSink(options.producer, { onError: (err) => this.#member.fail(err) })
    this.#markers = new WatermarkMarkers(options.producer, options.topics.facts, options.factsPartitions)
    this.#attributor = new LabelAttributor({
      attribution: options.attribution,
      timeoutMs: options.attributionTimeoutMs,
      metrics: options.metrics,
      log: options.log,
      send: (run, offset, facts) => this.#sendFacts(run, offset, facts, { registered: true }),
      flush: () => this.#factBatches.send(options.producer),
    })
    this.#member = new GroupMember({
      name: 'lookup-agg',
      source: options.source,
      task: this,
      commitIntervalMs: options.commitIntervalMs,
      drainTimeoutMs: options.drainTimeoutMs,
      // Facts wait for their publish, which the flush timer bounds: no backpressure of its own.
      maxInFlight: Number.POSITIVE_INFINITY,
      clock: systemClock,
      scheduler: systemScheduler,
      log: options.log,
      hooks: { onCommitResult: (ok) => options.metrics.commits.inc({ result: ok ? 'ok' : 'error' }) },
    })
  }

  get #runs(): Iterable<Run> {
    return this.#member.partitions()
  }

  async start(): Promise<void> {
    await this.#member.start(this.options.onFailure ? { onFailure: this.options.onFailure } : {})
    this.#flushTimer = systemScheduler.every(this.options.flushIntervalMs, () => this.#publish(false))
    this.#attributionTimer = systemScheduler.every(this.options.attributionIntervalMs, () => {
      const labels = [...this.#runs].filter((r): r is LabelRun => r.kind === 'labels')
      // Only a broken invariant throws from a round (a failed lookup is retried): the task stops committing.
      this.#attributor.round(labels).catch((err: unknown) => this.#member.fail(err))
    })
  }

  async assign({ tp, low, high, committed }: PartitionPosition): Promise<Run> {
    const { topics, table, log } = this.options
    const offset = committed ?? low
    const base = {
      tp,
      lastRecordAtMs: performance.now(),
      highWatermark: high,
      revoked: false,
    }
    if (tp.topic === topics.labels) {
      const router = new LabelRouter(
        this.options.plan,
        sourceId('labels', tp.partition),
        this.options.allowedLatenessMs,
      )
      this.#markers.forget(router.source)
      // Continue exactly after the predecessor's oldest published marker, with its watermark: every label after it
      // is judged late or not as the predecessor judged it, and every one before it is applied in every table
      // partition already. Without a marker (a first start), from the committed offset.
      const resume = this.#labelResumePoint(router.source)
      if (resume) router.resumeFrom(resume.watermarkMs)
      const start = resume ? Math.max(low, resume.throughOffset + 1) : offset
      return {
        ...base,
        tracker: new AckTracker(start),
        liveFromOffset: start,
        lastCommitted: committed ?? -1,
        kind: 'labels',
        router,
        pending: new PendingLabels(),
        draining: false,
        nextOffset: start,
      }
    }
    await this.#waitForTable(tp.partition)
    const aggregator = new LookupAggregator(this.options.plan, this.options.expectedSources)
    aggregator.restore(table.entriesOf(tp.partition), table.progressOf(tp.partition))
    log.info(
      { partition: tp.partition, keys: aggregator.keys.size, committed: committed ?? null },
      'lookup aggregator assigned',
    )
    return {
      ...base,
      tracker: new AckTracker(offset),
      liveFromOffset: offset,
      lastCommitted: offset,
      nextOffset: offset,
      kind: 'aggregator',
      aggregator,
      unpublished: [],
      flushes: 0,
      // Partitions assigned together would publish everything together: their due times are spread over the interval.
      publishedAllAtMs:
        performance.now() -
        ((tp.partition % this.options.factsPartitions) / this.options.factsPartitions) * this.options.publishIntervalMs,
    }
  }

  /**
   * The oldest marker of a labels partition over the tables' partitions: each partition holds every fact of the
   * labels up to its own marker's offset, so up to the oldest one every partition has them.
   */
  #labelResumePoint(source: string): { watermarkMs: number; throughOffset: number } | undefined {
    let oldest: { watermarkMs: number; throughOffset: number } | undefined
    for (let p = 0; p < this.options.table.partitions; p++) {
      const marker = this.options.table.progressOf(p)?.markers.find(([id]) => id === source)
      if (!marker) return undefined
      if (!oldest || marker[3] < oldest.throughOffset) oldest = { watermarkMs: marker[1], throughOffset: marker[3] }
    }
    return oldest
  }

  /**
   * Until the table has read everything the tables topic held for the partition when it was assigned. An aggregator
   * restored from part of it would resume at the committed facts offset without the counts of the part not read, and
   * publish buckets that overwrite its predecessor's: the assignment fails instead (and with it the task).
   */
  async #waitForTable(partition: number): Promise<void> {
    const high = await this.options.tableReader.highWatermark(partition)
    if (await waitUntil(() => this.options.tableReader.position(partition) >= high, this.options.drainTimeoutMs)) return
    throw new FraudstreamError(
      ErrorCode.kafkaConsume,
      `lookup table partition ${partition} not read up to offset ${high} within ${this.options.drainTimeoutMs} ms (at ${this.options.tableReader.position(partition)}): an aggregator restored from part of it would lose counts`,
      'external',
      true,
    )
  }

  release(run: Run): void {
    this.#lastProgress.delete(partitionKey(run.tp))
    if (run.kind === 'labels' && run.pending.size > 0)
      this.options.log.info(
        { partition: run.tp.partition, labels: run.pending.size, from_offset: run.pending.firstOffset },
        'labels waiting for their transaction left to the next owner of the partition',
      )
  }

  process(records: readonly SourceRecord[], runs: readonly Run[]): void {
    for (let i = 0; i < records.length; i++) {
      const run = runs[i]!
      if (run.kind === 'labels') this.#routeLabel(run, records[i]!)
      else this.#aggregate(run, records[i]!)
    }
    this.#factBatches.send(this.options.producer)
  }

  #routeLabel(run: LabelRun, record: SourceRecord): void {
    const { metrics } = this.options
    const decoded = decodeLabel(record.value, { maxRecordBytes: this.options.maxRecordBytes })
    if (decoded.kind === 'invalid') {
      // The labels job (topology/labels.ts) reads the same records and dead-letters this one: a second dead letter
      // from here would make one bad record two in the dead-letter topic.
      metrics.lookupLabels.inc({ outcome: 'invalid' })
      run.tracker.register(record.offset, 0)
      return
    }
    const routed = run.router.route(decoded.label, record.offset)
    if (routed.kind === 'late') {
      metrics.lookupLabels.inc({ outcome: 'late' })
      this.options.log.warn(
        { partition: record.partition, offset: record.offset, reported_at: decoded.label.reported_at },
        'label reported before the labels watermark: it enters no lookup table',
      )
      run.tracker.register(record.offset, 0)
      return
    }
    if (routed.kind === 'attribute') {
      run.pending.add(record.offset, decoded.label, performance.now())
      // One ack owed: the attribution's; its facts add theirs once it is found (#sendFacts). A draining partition
      // looks up nothing more: the label is its next owner's.
      if (run.draining) run.tracker.abandonFrom(record.offset)
      else run.tracker.register(record.offset, 1)
      return
    }
    metrics.lookupLabels.inc({ outcome: 'routed' })
    this.#sendFacts(run, record.offset, routed.facts, { registered: false })
  }

  /**
   * Sends a label's facts; its offset is acknowledged once all of them are (at once when there are none).
   * `registered`: a label that waited for its transaction, its offset registered with the attribution's ack.
   */
  #sendFacts(
    run: LabelRun,
    offset: number,
    facts: readonly KeyedFact[],
    { registered }: { registered: boolean },
  ): void {
    if (registered) run.tracker.expect(offset, facts.length)
    else run.tracker.register(offset, facts.length)
    for (const fact of facts) this.#factBatches.add(fact, () => run.tracker.ack(offset))
    // The attribution's own ack, owed since the label started waiting.
    if (registered) run.tracker.ack(offset)
  }

  #aggregate(run: AggregatorRun, record: SourceRecord): void {
    let facts: LookupFact[]
    try {
      // A record holds one poll's facts for this partition (FactBatches), or one watermark marker.
      const value = unpack(record.value!) as LookupFact | LookupFact[]
      facts = Array.isArray(value) ? value : [value]
    } catch (err) {
      // Only fraudstream writes this topic: an unreadable record is a bug or a foreign writer, and skipping it is safer than stopping every lookup.
      this.options.log.error(
        { err, partition: record.partition, offset: record.offset },
        'unreadable lookup fact skipped',
      )
      this.options.metrics.lookupFacts.inc({ outcome: 'unreadable' })
      run.tracker.register(record.offset, 0)
      return
    }
    for (const fact of facts) this.options.metrics.lookupFacts.inc({ outcome: run.aggregator.apply(fact) })
    run.tracker.register(record.offset, 1)
    run.unpublished.push(record.offset)
  }

  /**
   * A revocation or a stop is draining (`partitions`, or all): publishes everything the aggregators changed, and
   * gives up the labels still waiting for their transaction, which could wait longer than a drain may. Their
   * partition's committed offset and marker stay before the oldest of them, so the next owner reads them again.
   */
  flush(partitions?: readonly Run[]): void {
    this.#publish(true)
    for (const run of partitions ?? this.#runs) {
      if (run.kind !== 'labels' || run.draining) continue
      run.draining = true
      const first = run.pending.firstOffset
      if (first !== undefined) run.tracker.abandonFrom(first)
    }
  }

  /**
   * Publishes each aggregator's changed keys, then its progress (the table relies on that order), and sends label
   * watermarks; every flushIntervalMs. Changed buckets younger than half the shortest lookup delay (the open hour's,
   * in live traffic) are held back up to publishIntervalMs (see LookupAggregator.takeChanges): a busy terminal's
   * bucket goes out once per interval instead of once per flush, and no transaction reads it within a day. The facts
   * behind held buckets are acknowledged (and so committed) once everything is published.
   */
  #publish(all: boolean): void {
    const { topics } = this.options
    const nowMs = performance.now()
    for (const run of this.#runs) {
      if (run.kind === 'labels') {
        // Idle as soon as it is read to its end: a reader trusts the claim only when a log end asked after its
        // transaction arrived confirms it (aggregatorCovers), as for a transactions partition.
        // Labels waiting for their transaction hold it back: see PendingLabels for why and a worked example.
        this.#markers.send({
          kind: 'marker',
          source: run.router.source,
          ...run.pending.marker(run.router.watermarkMs, run.nextOffset, run.nextOffset >= run.highWatermark),
        })
        continue
      }
      const { aggregator } = run
      const due = all || nowMs - run.publishedAllAtMs >= this.options.publishIntervalMs
      const appliedBelowMs = aggregator.appliedBelowMs
      // Before every source has spoken (or when all are idle) nothing is read soon or late: publish as it comes.
      const holdFromMs = due || !Number.isFinite(appliedBelowMs) ? Infinity : appliedBelowMs - this.#holdMs
      if (++run.flushes % EVICT_EVERY_FLUSHES === 0 || aggregator.evicting) aggregator.evict(EVICT_KEYS_PER_FLUSH)
      const changes = aggregator.takeChanges(holdFromMs)
      const progress = aggregator.progress
      const progressText = JSON.stringify(progress)
      const offsets = holdFromMs === Infinity ? run.unpublished : []
      if (changes.length === 0 && offsets.length === 0 && this.#lastProgress.get(partitionKey(run.tp)) === progressText)
        continue
      this.#lastProgress.set(partitionKey(run.tp), progressText)
      if (holdFromMs === Infinity) {
        run.unpublished = []
        run.publishedAllAtMs = nowMs
      }
      let outstanding = changes.length + 1
      const published = () => {
        if (--outstanding === 0) for (const offset of offsets) run.tracker.ack(offset)
      }
      const partition = run.tp.partition
      // Encoded when sent, a turn or more later: a bucket may have taken more facts by then, which is what a later
      // publish would send anyway (its facts' offsets go with it), and the progress sent after it claims none of them.
      for (const entry of changes)
        this.#tables.send(() => ({ topic: topics.tables, partition, ...encodeTableEntry(entry) }), published)
      this.#tables.send({ topic: topics.tables, partition, key: PROGRESS_KEY, value: pack(progress) }, published)
    }
  }

  /** Drains, commits before leaving and leaves the group; rejects with the last commit's error, after leaving. */
  async stop(): Promise<void> {
    try {
      await this.#member.stop()
    } finally {
      this.#flushTimer?.cancel()
      this.#attributionTimer?.cancel()
    }
  }
}
