import type { Logger } from 'pino'
import type { Clock } from '../core/clock.js'
import { ErrorCode, FraudstreamError } from '../core/errors.js'
import type { SourceRecord } from '../core/ports.js'
import type { DeadLetterReason } from '../core/records.js'
import type { Cancel, Scheduler } from '../core/scheduler.js'
import type { DeadLetterFailure, Item, PartitionProgress, StageContext, StageMetrics } from '../core/stage.js'
import type { Topology, TopologyNode } from '../core/topology.js'
import type { AckTracker } from './ack-tracker.js'

/** What an item needs of its partition: where its acknowledgements go, and whether the partition is still owned. */
export interface FlowPartition extends PartitionProgress {
  readonly tracker: AckTracker
  readonly revoked: boolean
}

/** A record in the graph. `emits` counts what the current node emitted from it, to settle its acknowledgements. */
export class FlowItem<T> implements Item<T> {
  emits = 0
  /** The context of the call the item was handed to; an emit from another call (a buffering stage) is deferred. */
  call: object | undefined = undefined
  constructor(
    readonly origin: SourceRecord,
    readonly value: T,
    readonly receivedAtMs: number,
    readonly replay: boolean,
    readonly partition: FlowPartition,
    /** When the record entered the node that holds it (its stage time ends when it reaches the next). */
    public enteredAtMs = receivedAtMs,
  ) {}
}

export interface NodeRuntime {
  readonly index: number
  readonly node: TopologyNode
  readonly metrics: StageMetrics
  /** Records `records` records that spent `ms` each in this node. */
  readonly timed: (ms: number, records: number) => void
  /** A batched node's records' wait for their batch to be cut. */
  readonly batchTimed: (ms: number, records: number) => void
  /** The recorder of a phase of this node's records (`<node>:<phase>`), made at its first use. */
  readonly phaseTimed: (phase: string) => (ms: number, records: number) => void
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

export interface GraphFlowOptions {
  readonly topology: Topology
  readonly clock: Clock
  readonly scheduler: Scheduler
  readonly log: Logger
  readonly observe: {
    readonly count: (stage: string, outcome: string, n: number) => void
    /** Per-record durations of a stage: called once per stage name, the recorder kept. */
    readonly durationOf: (stage: string) => (ms: number, records: number) => void
    readonly deadLetter: (stage: string, reason: DeadLetterReason) => void
  }
  /** The partitions owned now, as stages see them (`StageContext.partitions`). */
  readonly partitions: () => Iterable<PartitionProgress>
  readonly onFailure: (err: unknown) => void
}

/**
 * How items move through a topology's chain of nodes. Each node's outputs go to the next one, synchronously, through
 * a micro-batcher (nodes with a batch policy), or once an asynchronous stage settles, in submission order. Every live
 * source offset holds one acknowledgement per item derived from it still in the graph, plus one per sink send in
 * flight (AckTracker): it becomes committable when the last item left the graph and every sink acknowledged.
 * Replayed items stop after the last node that keeps state.
 */
export class GraphFlow {
  readonly counts: Map<string, Map<string, number>> = new Map()
  readonly nodes: readonly NodeRuntime[]
  /** Replayed items stop after this node: it is the last one that keeps state. */
  readonly lastStateful: number
  #failed = false
  #closed = false
  readonly #queueTimer: (ms: number, records: number) => void

  constructor(readonly options: GraphFlowOptions) {
    const { topology, log } = options
    this.#queueTimer = options.observe.durationOf('queue')
    this.nodes = topology.nodes.map((node, index) => {
      const phases = new Map<string, (ms: number, records: number) => void>()
      const phaseTimer = (phase: string) => {
        let timer = phases.get(phase)
        if (!timer) phases.set(phase, (timer = options.observe.durationOf(`${node.name}:${phase}`)))
        return timer
      }
      return {
        index,
        node,
        metrics: { count: (outcome, n = 1) => this.#count(node.name, outcome, n) },
        timed: options.observe.durationOf(node.name),
        batchTimed: node.batch ? phaseTimer('batch') : () => {},
        phaseTimed: phaseTimer,
        log: log.child({ stage: node.name }),
        collected: [],
        linger: undefined,
        submitted: 0,
        applied: 0,
        completed: new Map(),
        waking: false,
      }
    })
    this.lastStateful = topology.nodes.reduce((last, node, i) => (node.stage.snapshot ? i : last), -1)
  }

  get failed(): boolean {
    return this.#failed
  }

  /** After the job stopped: a timer or a wake-up that still comes (a table making progress) does nothing. */
  close(): void {
    this.#closed = true
    for (const rt of this.nodes) rt.linger?.cancel()
  }

  /** Items of a poll into the first node. */
  enter(items: FlowItem<unknown>[]): void {
    if (this.#failed) return
    // Queue: from the record's Kafka timestamp (CreateTime, or the broker's append time) to the poll that took it.
    const wallMs = this.options.clock.wallMs()
    for (const item of items)
      if (!item.replay && item.origin.timestampMs > 0) this.#queueTimer(wallMs - item.origin.timestampMs, 1)
    this.#push(0, items)
  }

  /** Runs what a batched node has collected now (a revocation or a stop is draining). */
  cut(rt: NodeRuntime): void {
    rt.linger?.cancel()
    rt.linger = undefined
    if (rt.collected.length === 0) return
    const batch = rt.collected
    rt.collected = []
    this.#timeRuns(rt.batchTimed, batch, this.options.clock.nowMs())
    this.#run(rt, batch)
  }

  /** A node's `onTimer`, now: its emits go on to the next node. */
  timer(rt: NodeRuntime): void {
    rt.waking = false
    if (this.#failed || this.#closed) return
    const out: FlowItem<unknown>[] = []
    try {
      rt.node.stage.onTimer!(this.#context(rt, out))
    } catch (err) {
      this.#fail(rt, err)
      return
    }
    this.#push(rt.index + 1, out)
  }

  wake(rt: NodeRuntime): void {
    if (rt.waking || !rt.node.stage.onTimer) return
    rt.waking = true
    this.options.scheduler.after(0, () => this.timer(rt))
  }

  /** Items to node `index` (past the last node: they leave the graph, and their own acknowledgement with them). */
  #push(index: number, items: FlowItem<unknown>[]): void {
    if (items.length === 0) return
    const nowMs = this.options.clock.nowMs()
    if (index > 0) this.#timeRuns(this.nodes[index - 1]!.timed, items, nowMs)
    const rt = this.nodes[index]
    if (!rt) {
      for (const item of items)
        if (!item.replay && !item.partition.revoked) item.partition.tracker.ack(item.origin.offset)
      return
    }
    for (const item of items) item.enteredAtMs = nowMs
    if (!rt.node.batch) {
      this.#run(rt, items)
      return
    }
    for (const item of items) {
      rt.collected.push(item)
      if (rt.collected.length >= rt.node.batch.maxRecords) this.cut(rt)
    }
    if (rt.node.batch.lingerMs === 0) this.cut(rt)
    else if (rt.collected.length > 0 && !rt.linger)
      rt.linger = this.options.scheduler.after(rt.node.batch.lingerMs, () => this.cut(rt))
  }

  #run(rt: NodeRuntime, input: FlowItem<unknown>[]): void {
    if (this.#failed) return
    // Items of a partition revoked meanwhile go no further: their outputs would double the next owner's.
    const items = input.some((item) => item.partition.revoked) ? input.filter((item) => !item.partition.revoked) : input
    if (items.length === 0) return
    const out: FlowItem<unknown>[] = []
    const ctx = this.#context(rt, out)
    for (const item of items) item.call = ctx
    let result: void | Promise<void>
    try {
      result = rt.node.stage.process(items, ctx)
    } catch (err) {
      this.#fail(rt, err)
      return
    }
    if (!result) {
      this.#settle(items)
      this.#push(rt.index + 1, out)
      return
    }
    const sequence = rt.submitted++
    result.then(
      () => {
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

  /** The time each live item spent since it entered its node, up to now: runs that entered together are one observation. */
  #timeRuns(timed: NodeRuntime['timed'], items: readonly FlowItem<unknown>[], nowMs: number): void {
    let enteredAtMs = NaN
    let records = 0
    for (const item of items) {
      if (item.replay) continue
      if (item.enteredAtMs !== enteredAtMs) {
        if (records > 0) timed(nowMs - enteredAtMs, records)
        enteredAtMs = item.enteredAtMs
        records = 0
      }
      records++
    }
    if (records > 0) timed(nowMs - enteredAtMs, records)
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
    const replayEnds = rt.index >= this.lastStateful
    const ctx: StageContext<unknown> = {
      emit: (from, value) => {
        const item = from as FlowItem<unknown>
        if ((item.replay && replayEnds) || item.partition.revoked) return
        // An item handed to an earlier call (it waited in the stage, held) gets a new acknowledgement for its output;
        // one of this call has its own passed on when the call settles.
        if (item.call === ctx) item.emits++
        else if (!item.replay) item.partition.tracker.expect(item.origin.offset, 1)
        out.push(new FlowItem(item.origin, value, item.receivedAtMs, item.replay, item.partition, item.enteredAtMs))
      },
      deadLetter: (from, reason, failure) => this.#deadLetter(rt, from as FlowItem<unknown>, reason, failure),
      hold: (from, phase) =>
        this.#hold(from as FlowItem<unknown>, phase === undefined ? undefined : rt.phaseTimed(phase)),
      clock: this.options.clock,
      log: rt.log,
      metrics: rt.metrics,
      partitions: this.options.partitions,
    }
    return ctx
  }

  #hold(item: FlowItem<unknown>, timed?: NodeRuntime['timed']): () => void {
    if (item.replay || item.partition.revoked) return () => {}
    // The release keeps the partition and the offset, not the item: a sink's ack can come hundreds of milliseconds
    // later, and the record with everything computed for it would live (and be copied by the collector) until then.
    const { partition } = item
    const offset = item.origin.offset
    partition.tracker.expect(offset, 1)
    const heldAtMs = timed ? this.options.clock.nowMs() : 0
    return () => {
      timed?.(this.options.clock.nowMs() - heldAtMs, 1)
      if (!partition.revoked) partition.tracker.ack(offset)
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
