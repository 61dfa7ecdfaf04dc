import type { Logger } from 'pino'
import type { Clock } from '../core/clock.js'
import { ErrorCode, FraudstreamError } from '../core/errors.js'
import type { SnapshotStore, SourceRecord, TopicPartition } from '../core/ports.js'
import type { Cancel, Scheduler } from '../core/scheduler.js'
import { partitionKey } from '../core/stage.js'
import type { Topology } from '../core/topology.js'
import { AckTracker } from './ack-tracker.js'
import type { MemberPartition, MemberTask } from './group-member.js'
import type { PartitionPosition } from './partition-positions.js'
import { readStartOf } from './partition-positions.js'
import { PartitionSnapshots } from './partition-snapshots.js'
import { FlowItem, GraphFlow, type GraphFlowOptions } from './graph-flow.js'
import { LogEnds } from './log-ends.js'

/** A partition the runner owns: the member's bookkeeping plus its snapshot progress. */
export interface TopologyPartition extends MemberPartition {
  readonly key: string
  readonly snapshotOffset: number | undefined
  readonly restoring: boolean
  lastSnapshotOffset: number
  /** The snapshot being written, if any: the revocation's final snapshot waits for it instead of being skipped. */
  snapshotting: Promise<void> | undefined
}

export interface TopologyRunnerOptions {
  readonly topology: Topology
  readonly clock: Clock
  readonly scheduler: Scheduler
  readonly autoOffsetReset: 'earliest' | 'latest' | 'error'
  /** Where partition state is snapshotted; without it, recovery replays each partition from its low watermark. */
  readonly snapshots?: SnapshotStore
  readonly snapshotIntervalMs: number
  readonly log: Logger
  /** Per-stage counters and durations: `stage` is always the node's name. */
  readonly observe: GraphFlowOptions['observe'] & {
    readonly restored: (n: number) => void
    readonly snapshotsSkipped: () => void
    readonly snapshotWritten: (tp: TopicPartition, bytes: number) => void
    readonly snapshotFailed: () => void
  }
  readonly onFailure: (err: unknown) => void
  /** Log ends on demand (PartitionedSource.watermarks, any topic), for stages' `logEnds`. */
  readonly watermarks: (tp: TopicPartition) => Promise<{ low: number; high: number }>
}

/**
 * Runs a built topology on the partitions of one group member: restores a newly assigned partition's state, turns
 * each poll into items for the graph (GraphFlow moves them and their acknowledgements), flushes buffered work when a
 * revocation or a stop drains, snapshots and releases.
 *
 * State: the nodes up to the last one with `snapshot` keep partition-local state. On assignment the runner restores
 * them from the newest usable snapshot and replays the records up to the committed offset through those nodes only.
 */
export class TopologyRunner implements MemberTask<TopologyPartition> {
  readonly #flow: GraphFlow
  readonly #partitions = new Map<string, TopologyPartition>()
  readonly #snapshots: PartitionSnapshots | undefined
  #timers: Cancel[] = []
  #consumed = 0
  #restored = 0
  #firstConsumedAtMs: number | undefined
  /** Per topic, created when a stage first asks. */
  readonly #logEnds = new Map<string, LogEnds>()

  constructor(readonly options: TopologyRunnerOptions) {
    const { topology, log } = options
    this.#flow = new GraphFlow({ ...options, partitions: () => this.#partitions.values() })
    const stateful = topology.nodes.filter((n) => n.stage.snapshot || n.stage.fingerprint)
    this.#snapshots =
      options.snapshots &&
      new PartitionSnapshots({
        store: options.snapshots,
        topology: topology.name,
        stages: stateful.map((n) => n.stage),
        log,
      })
  }

  get consumed(): number {
    return this.#consumed
  }

  get restored(): number {
    return this.#restored
  }

  /** Clock.nowMs when the first live record was consumed: where throughput measurements start. */
  get firstConsumedAtMs(): number | undefined {
    return this.#firstConsumedAtMs
  }

  /** What a node did with its records so far, by outcome (`fraudstream_stage_records_total` has the same numbers). */
  get counts(): ReadonlyMap<string, ReadonlyMap<string, number>> {
    return this.#flow.counts
  }

  count(stage: string, outcome: string): number {
    return this.#flow.counts.get(stage)?.get(outcome) ?? 0
  }

  partitions(): Iterable<TopologyPartition> {
    return this.#partitions.values()
  }

  /** Opens every stage, then starts stage timers and periodic snapshots. */
  async open(): Promise<void> {
    for (const rt of this.#flow.nodes) {
      await rt.node.stage.open?.({
        clock: this.options.clock,
        log: rt.log,
        metrics: rt.metrics,
        wake: () => this.#flow.wake(rt),
        logEnds: {
          get: (topic, partition) => this.#logEnds.get(topic)?.get(partition),
          refresh: (topic, partitions, sinceMs) =>
            this.#logEndsOf(topic).request(partitions, sinceMs, () => this.#flow.wake(rt)),
        },
      })
      const interval = rt.node.stage.timerIntervalMs
      if (rt.node.stage.onTimer && interval !== undefined)
        this.#timers.push(this.options.scheduler.every(interval, () => this.#flow.timer(rt)))
    }
    if (this.#snapshots)
      this.#timers.push(this.options.scheduler.every(this.options.snapshotIntervalMs, () => this.#snapshotAll()))
  }

  #logEndsOf(topic: string): LogEnds {
    let ends = this.#logEnds.get(topic)
    if (!ends) {
      const { watermarks, clock, log } = this.options
      this.#logEnds.set(topic, (ends = new LogEnds({ topic, watermarks, clock, log })))
    }
    return ends
  }

  async close(): Promise<void> {
    for (const timer of this.#timers) timer.cancel()
    this.#timers = []
    for (const ends of this.#logEnds.values()) ends.close()
    this.#flow.close()
    for (const rt of [...this.#flow.nodes].reverse()) await rt.node.stage.close?.()
  }

  async assign(position: PartitionPosition): Promise<TopologyPartition> {
    const { tp, low, high, committed } = position
    if (committed === undefined && this.options.autoOffsetReset === 'error') {
      throw new FraudstreamError(
        ErrorCode.kafkaNoOffset,
        `no committed offset for ${tp.topic}[${tp.partition}] and autoOffsetReset=error`,
        'external',
      )
    }
    const liveFromOffset = committed ?? (this.options.autoOffsetReset === 'latest' ? high : low)
    const restored = await this.#restore(tp, liveFromOffset)
    // Without state to rebuild, nothing below the committed offset needs reading again.
    const nextOffset = this.#flow.lastStateful < 0 ? liveFromOffset : readStartOf({ low, snapshotOffset: restored })
    if (nextOffset > (restored ?? liveFromOffset)) {
      // Retention deleted records the state or the outputs needed: nothing brings them back; said loudly.
      this.options.log.warn(
        {
          topic: tp.topic,
          partition: tp.partition,
          low,
          committed: committed ?? null,
          snapshotOffset: restored ?? null,
        },
        'log starts after the snapshot or the committed offset: state and outputs miss the records before it',
      )
    }
    const partition: TopologyPartition = {
      tp,
      key: partitionKey(tp),
      tracker: new AckTracker(liveFromOffset),
      liveFromOffset,
      lastCommitted: liveFromOffset,
      nextOffset,
      highWatermark: high,
      lastRecordAtMs: this.options.clock.nowMs(),
      revoked: false,
      snapshotOffset: restored,
      lastSnapshotOffset: restored ?? -1,
      snapshotting: undefined,
      get restoring() {
        return this.nextOffset < this.liveFromOffset
      },
    }
    this.#partitions.set(partition.key, partition)
    this.options.log.info(
      {
        topic: tp.topic,
        partition: tp.partition,
        low,
        high,
        committed: committed ?? null,
        liveFromOffset,
        snapshotOffset: restored ?? null,
        restoreRecords: Math.max(0, liveFromOffset - nextOffset),
      },
      'partition assigned',
    )
    return partition
  }

  /**
   * Every stage's partition state from the newest usable snapshot at or below the committed offset, or empty; a
   * stage without a part (a sink) restores too, from nothing. Resolves the snapshot's offset, if one was used.
   */
  async #restore(tp: TopicPartition, committedOffset: number): Promise<number | undefined> {
    const stages = this.#flow.nodes.map((rt) => rt.node.stage)
    const found = this.#snapshots
      ? await this.#snapshots.restore(tp, committedOffset, this.options.observe.snapshotsSkipped)
      : undefined
    for (const stage of stages) if (!found?.parts.has(stage.name)) await stage.restore?.(tp, undefined)
    return found?.offset
  }

  process(records: readonly SourceRecord[], partitions: readonly TopologyPartition[]): void {
    if (this.#flow.failed || records.length === 0) return
    const nowMs = this.options.clock.nowMs()
    const items: FlowItem<unknown>[] = new Array(records.length)
    let replayed = 0
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!
      const partition = partitions[i]!
      const replay = record.offset < partition.liveFromOffset
      if (replay) replayed++
      else {
        if (this.#consumed++ === 0) this.#firstConsumedAtMs = nowMs
        // One acknowledgement for the item itself; sinks add theirs while it travels.
        partition.tracker.register(record.offset, 1)
      }
      items[i] = new FlowItem(record, record, nowMs, replay, partition)
    }
    if (replayed > 0) {
      this.#restored += replayed
      this.options.observe.restored(replayed)
    }
    this.#flow.enter(items)
  }

  flush(partitions?: readonly TopologyPartition[]): void {
    for (const rt of this.#flow.nodes) {
      if (rt.collected.length > 0) this.#flow.cut(rt)
      if (!rt.node.stage.flush) continue
      if (partitions) for (const p of partitions) rt.node.stage.flush(p.tp)
      else rt.node.stage.flush()
    }
  }

  async snapshot(partition: TopologyPartition): Promise<void> {
    await partition.snapshotting
    await this.#snapshot(partition)
  }

  release(partition: TopologyPartition): void {
    partition.revoked = true
    this.#partitions.delete(partition.key)
    for (const rt of this.#flow.nodes) rt.node.stage.release?.(partition.tp)
  }

  /** One partition a turn of the event loop: each is encoded at once, and all of them together held it for tens of ms. */
  #snapshotAll(): void {
    const partitions = [...this.#partitions.values()]
    const next = (i: number): void => {
      const partition = partitions[i]
      if (!partition) return
      if (!partition.revoked) void this.#snapshot(partition)
      setImmediate(() => next(i + 1))
    }
    next(0)
  }

  /**
   * Snapshots a partition's state as of `nextOffset` (every record below it processed). It only becomes usable once
   * the committed offset reaches that offset; the store keeps older ones for the meantime.
   */
  async #snapshot(partition: TopologyPartition): Promise<void> {
    const snapshots = this.#snapshots
    if (!snapshots || partition.snapshotting || partition.nextOffset <= partition.lastSnapshotOffset) return
    const offset = partition.nextOffset
    const writing = snapshots.save(partition.tp, offset, partition.lastCommitted).then(
      (bytes) => {
        partition.lastSnapshotOffset = offset
        this.options.observe.snapshotWritten(partition.tp, bytes)
      },
      (err: unknown) => {
        this.options.observe.snapshotFailed()
        this.options.log.warn(
          { err, partition: partition.tp.partition, offset },
          'state snapshot failed; recovery will replay further back',
        )
      },
    )
    partition.snapshotting = writing
    await writing
    if (partition.snapshotting === writing) partition.snapshotting = undefined
  }
}
