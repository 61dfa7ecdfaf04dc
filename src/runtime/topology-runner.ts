import type { Logger } from 'pino'
import type { Clock } from '../core/clock.js'
import { ErrorCode, FraudstreamError } from '../core/errors.js'
import type { SnapshotStore, SourceRecord, TopicPartition } from '../core/ports.js'
import type { DeadLetterReason } from '../core/records.js'
import type { Cancel, Scheduler } from '../core/scheduler.js'
import {
  partitionKey,
  type DeadLetterFailure,
  type Item,
  type PartitionProgress,
  type StageContext,
  type StageMetrics,
} from '../core/stage.js'
import type { Topology, TopologyNode } from '../core/topology.js'
import { AckTracker } from './ack-tracker.js'
import type { MemberPartition, MemberTask } from './group-member.js'
import type { PartitionPosition } from './partition-positions.js'
import { readStartOf } from './partition-positions.js'
import { PartitionSnapshots } from './partition-snapshots.js'

/** A partition the runner owns: the member's bookkeeping plus its snapshot progress. */
export interface TopologyPartition extends MemberPartition {
  readonly key: string
  readonly snapshotOffset: number | undefined
  readonly restoring: boolean
  lastSnapshotOffset: number
  /** The snapshot being written, if any: the revocation's final snapshot waits for it instead of being skipped. */
  snapshotting: Promise<void> | undefined
}

/** A record in the graph. `emits` counts what the current node emitted from it, to settle its acknowledgements. */
class FlowItem<T> implements Item<T> {
  emits = 0
  /** The context of the call the item was handed to; an emit from another call (a buffering stage) is deferred. */
  call: object | undefined = undefined
  constructor(
    readonly origin: SourceRecord,
    readonly value: T,
    readonly receivedAtMs: number,
    readonly replay: boolean,
    readonly partition: TopologyPartition,
  ) {}
}

/** Counts per node and outcome, for summaries (`fraudstream_stage_records_total` has the same numbers). */
export type StageCounts = Map<string, Map<string, number>>

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
  readonly observe: {
    readonly count: (stage: string, outcome: string, n: number) => void
    readonly duration: (stage: string, ms: number) => void
    readonly deadLetter: (stage: string, reason: DeadLetterReason) => void
    readonly restored: (n: number) => void
    readonly snapshotsSkipped: () => void
    readonly snapshotWritten: (tp: TopicPartition, bytes: number) => void
    readonly snapshotFailed: () => void
  }
  readonly onFailure: (err: unknown) => void
}

interface NodeRuntime {
  readonly index: number
  readonly node: TopologyNode
  readonly metrics: StageMetrics
  readonly log: Logger
  /** Items collected for a batched node, and the linger timer of the first. */
  collected: FlowItem<unknown>[]
  linger: Cancel | undefined
  /** Asynchronous batches: results are applied in submission order. */
  submitted: number
  applied: number
  readonly completed: Map<number, () => void>
  waking: boolean
}

/**
 * Runs a built topology on the partitions of one group member. Records enter the first node as a poll's batch; each
 * node's outputs go to the next one, synchronously, through a micro-batcher (nodes with a batch policy), or once an
 * asynchronous stage settles, in submission order. Every live source offset holds one acknowledgement per item
 * derived from it still in the graph, plus one per sink send in flight (AckTracker): it becomes committable when
 * the last item left the graph and every sink acknowledged.
 *
 * State: the nodes up to the last one with `snapshot` keep partition-local state. On assignment the runner restores
 * them from the newest usable snapshot and replays the records up to the committed offset through those nodes only.
 */
export class TopologyRunner implements MemberTask<TopologyPartition> {
  readonly counts: StageCounts = new Map()
  readonly #nodes: NodeRuntime[]
  readonly #partitions = new Map<string, TopologyPartition>()
  /** Replayed items stop after this node: it is the last one that keeps state. */
  readonly #lastStateful: number
  readonly #snapshots: PartitionSnapshots | undefined
  #timers: Cancel[] = []
  #consumed = 0
  #restored = 0
  #firstConsumedAtMs: number | undefined
  #failed = false

  constructor(readonly options: TopologyRunnerOptions) {
    const { topology, log } = options
    this.#nodes = topology.nodes.map((node, index) => ({
      index,
      node,
      metrics: { count: (outcome, n = 1) => this.#count(node.name, outcome, n) },
      log: log.child({ stage: node.name }),
      collected: [],
      linger: undefined,
      submitted: 0,
      applied: 0,
      completed: new Map(),
      waking: false,
    }))
    this.#lastStateful = topology.nodes.reduce((last, node, i) => (node.stage.snapshot ? i : last), -1)
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

  count(stage: string, outcome: string): number {
    return this.counts.get(stage)?.get(outcome) ?? 0
  }

  partitions(): Iterable<TopologyPartition> {
    return this.#partitions.values()
  }

  /** Opens every stage, then starts stage timers and periodic snapshots. */
  async open(): Promise<void> {
    for (const rt of this.#nodes) {
      await rt.node.stage.open?.({
        clock: this.options.clock,
        log: rt.log,
        metrics: rt.metrics,
        wake: () => this.#wake(rt),
      })
      const interval = rt.node.stage.timerIntervalMs
      if (rt.node.stage.onTimer && interval !== undefined)
        this.#timers.push(this.options.scheduler.every(interval, () => this.#timer(rt)))
    }
    if (this.#snapshots)
      this.#timers.push(this.options.scheduler.every(this.options.snapshotIntervalMs, () => this.#snapshotAll()))
  }

  async close(): Promise<void> {
    for (const timer of this.#timers) timer.cancel()
    this.#timers = []
    for (const rt of this.#nodes) rt.linger?.cancel()
    for (const rt of [...this.#nodes].reverse()) await rt.node.stage.close?.()
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
    const nextOffset = this.#lastStateful < 0 ? liveFromOffset : readStartOf({ low, snapshotOffset: restored })
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
    const stages = this.#nodes.map((rt) => rt.node.stage)
    const found = this.#snapshots
      ? await this.#snapshots.restore(tp, committedOffset, this.options.observe.snapshotsSkipped)
      : undefined
    for (const stage of stages) if (!found?.parts.has(stage.name)) await stage.restore?.(tp, undefined)
    return found?.offset
  }

  process(records: readonly SourceRecord[], partitions: readonly TopologyPartition[]): void {
    if (this.#failed || records.length === 0) return
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
    this.#push(0, items)
  }

  flush(partitions?: readonly TopologyPartition[]): void {
    for (const rt of this.#nodes) {
      if (rt.collected.length > 0) this.#cut(rt)
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
    for (const rt of this.#nodes) rt.node.stage.release?.(partition.tp)
  }

  /** Items to node `index` (past the last node: they leave the graph, and their own acknowledgement with them). */
  #push(index: number, items: FlowItem<unknown>[]): void {
    if (items.length === 0) return
    const rt = this.#nodes[index]
    if (!rt) {
      for (const item of items) if (!item.replay) item.partition.tracker.ack(item.origin.offset)
      return
    }
    if (!rt.node.batch) {
      this.#run(rt, items)
      return
    }
    for (const item of items) {
      rt.collected.push(item)
      if (rt.collected.length >= rt.node.batch.maxRecords) this.#cut(rt)
    }
    if (rt.collected.length > 0 && !rt.linger)
      rt.linger = this.options.scheduler.after(rt.node.batch.lingerMs, () => this.#cut(rt))
  }

  #cut(rt: NodeRuntime): void {
    rt.linger?.cancel()
    rt.linger = undefined
    if (rt.collected.length === 0) return
    const batch = rt.collected
    rt.collected = []
    this.#run(rt, batch)
  }

  #run(rt: NodeRuntime, input: FlowItem<unknown>[]): void {
    if (this.#failed) return
    // Items of a partition revoked meanwhile go no further: their outputs would double the next owner's.
    const items = input.some((item) => item.partition.revoked) ? input.filter((item) => !item.partition.revoked) : input
    if (items.length === 0) return
    const out: FlowItem<unknown>[] = []
    const ctx = this.#context(rt, out)
    for (const item of items) item.call = ctx
    const startedMs = this.options.clock.nowMs()
    let result: void | Promise<void>
    try {
      result = rt.node.stage.process(items, ctx)
    } catch (err) {
      this.#fail(rt, err)
      return
    }
    if (!result) {
      this.options.observe.duration(rt.node.name, this.options.clock.nowMs() - startedMs)
      this.#settle(items)
      this.#push(rt.index + 1, out)
      return
    }
    const sequence = rt.submitted++
    result.then(
      () => {
        this.options.observe.duration(rt.node.name, this.options.clock.nowMs() - startedMs)
        rt.completed.set(sequence, () => {
          this.#settle(items)
          this.#push(rt.index + 1, out)
        })
        while (rt.completed.has(rt.applied)) {
          const apply = rt.completed.get(rt.applied)!
          rt.completed.delete(rt.applied++)
          apply()
        }
      },
      (err: unknown) => this.#fail(rt, err),
    )
  }

  /** Each input item's own acknowledgement passes to what it became: released if nothing, multiplied if several. */
  #settle(items: readonly FlowItem<unknown>[]): void {
    for (const item of items) {
      const { emits } = item
      item.emits = 0
      item.call = undefined
      if (item.replay || emits === 1 || item.partition.revoked) continue
      if (emits === 0) item.partition.tracker.ack(item.origin.offset)
      else item.partition.tracker.expect(item.origin.offset, emits - 1)
    }
  }

  #context(rt: NodeRuntime, out: FlowItem<unknown>[]): StageContext<unknown> {
    const replayEnds = rt.index >= this.#lastStateful
    const ctx: StageContext<unknown> = {
      emit: (from, value) => {
        const item = from as FlowItem<unknown>
        if ((item.replay && replayEnds) || item.partition.revoked) return
        // An item handed to an earlier call (it waited in the stage, held) gets a new acknowledgement for its output;
        // one of this call has its own passed on when the call settles.
        if (item.call === ctx) item.emits++
        else if (!item.replay) item.partition.tracker.expect(item.origin.offset, 1)
        out.push(new FlowItem(item.origin, value, item.receivedAtMs, item.replay, item.partition))
      },
      deadLetter: (from, reason, failure) => this.#deadLetter(rt, from as FlowItem<unknown>, reason, failure),
      hold: (from) => this.#hold(from as FlowItem<unknown>),
      clock: this.options.clock,
      log: rt.log,
      metrics: rt.metrics,
      partitions: () => this.#partitions.values(),
    }
    return ctx
  }

  #hold(item: FlowItem<unknown>): () => void {
    if (item.replay || item.partition.revoked) return () => {}
    const { tracker } = item.partition
    const offset = item.origin.offset
    tracker.expect(offset, 1)
    return () => {
      if (!item.partition.revoked) tracker.ack(offset)
    }
  }

  #deadLetter(rt: NodeRuntime, item: FlowItem<unknown>, reason: DeadLetterReason, failure: DeadLetterFailure): void {
    if (item.replay) return
    this.#count(rt.node.name, 'dead_letter', 1)
    this.options.observe.deadLetter(rt.node.name, reason)
    this.options.topology.deadLetters.send(
      { origin: item.origin, stage: rt.node.name, reason, failure },
      this.#hold(item),
    )
  }

  #count(stage: string, outcome: string, n: number): void {
    let byOutcome = this.counts.get(stage)
    if (!byOutcome) this.counts.set(stage, (byOutcome = new Map()))
    byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + n)
    this.options.observe.count(stage, outcome, n)
  }

  #timer(rt: NodeRuntime): void {
    rt.waking = false
    if (this.#failed) return
    const out: FlowItem<unknown>[] = []
    try {
      rt.node.stage.onTimer!(this.#context(rt, out))
    } catch (err) {
      this.#fail(rt, err)
      return
    }
    this.#push(rt.index + 1, out)
  }

  #wake(rt: NodeRuntime): void {
    if (rt.waking || !rt.node.stage.onTimer) return
    rt.waking = true
    this.options.scheduler.after(0, () => this.#timer(rt))
  }

  #snapshotAll(): void {
    for (const partition of this.#partitions.values()) void this.#snapshot(partition)
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

  #fail(rt: NodeRuntime, err: unknown): void {
    if (this.#failed) return
    this.#failed = true
    const wrapped =
      err instanceof Error && 'code' in err
        ? err
        : new FraudstreamError(
            ErrorCode.internal,
            `stage ${rt.node.name} failed: ${err instanceof Error ? err.message : String(err)}`,
            'internal',
            false,
            { cause: err },
          )
    ;(wrapped as { stage?: string }).stage ??= rt.node.name
    this.options.onFailure(wrapped)
  }
}
