import type { Logger } from 'pino'
import type { Clock } from '../core/clock.js'
import { ErrorCode, errorCodeOf, FraudstreamError, isRetryable } from '../core/errors.js'
import type { PartitionedSource, PartitionStart, SourceRecord, TopicPartition } from '../core/ports.js'
import type { Cancel, Scheduler } from '../core/scheduler.js'
import { partitionKey } from '../core/stage.js'
import type { AckTracker } from './ack-tracker.js'
import { ConsumptionGate } from './consumption-gate.js'
import { OffsetCommitter } from './offset-committer.js'
import { positionsOf, type PartitionPosition } from './partition-positions.js'
import { waitUntil } from './wait-until.js'

/** A partition this member owns. A new one per assignment: stale callbacks compare identity or `revoked`. */
export interface MemberPartition {
  readonly tp: TopicPartition
  readonly tracker: AckTracker
  /** Offsets below this were processed before (committed): they rebuild state and emit nothing. */
  readonly liveFromOffset: number
  lastCommitted: number
  /** The next offset to read; records below it are strays (the source may still deliver some after a rebalance). */
  nextOffset: number
  highWatermark: number
  /** Clock.nowMs of the last record, or of the assignment before the first. */
  lastRecordAtMs: number
  revoked: boolean
}

/**
 * What runs on the member's partitions: the topology runner for the scoring job, the lookup task for the second
 * keyed stage. The member owns the consumer-group lifecycle around it.
 */
export interface MemberTask<P extends MemberPartition> {
  /** A newly assigned partition: its state restored, `nextOffset` where reading starts. Throwing fails the member. */
  assign(position: PartitionPosition): Promise<P>
  /** Records of owned partitions, strays filtered out, each with its partition, in offset order per partition. */
  process(records: readonly SourceRecord[], partitions: readonly P[]): void
  /** Sends what is buffered for these partitions (all, without): a revocation or a stop is draining. */
  flush(partitions?: readonly P[]): void
  /** A drained partition whose offsets are committed: a last snapshot, if the task keeps state. */
  snapshot?(partition: P): Promise<void>
  /** The partition is gone (revoked or lost): drop its state. */
  release(partition: P, info: { readonly lost: boolean; readonly drained: boolean }): void
  /** Work the trackers do not see yet (e.g. records buffered before registration); 0 when there is none. */
  readonly pending?: number
}

export interface GroupMemberOptions<P extends MemberPartition> {
  readonly name: string
  readonly source: PartitionedSource
  readonly task: MemberTask<P>
  readonly commitIntervalMs: number
  /** Draining a revoked partition, or everything on stop, and the last commit share this bound. */
  readonly drainTimeoutMs: number
  /** Records awaiting sinks before the member pauses its partitions; it resumes below half of it. */
  readonly maxInFlight: number
  readonly clock: Clock
  readonly scheduler: Scheduler
  readonly log: Logger
  readonly hooks?: {
    readonly onCommitResult?: (ok: boolean) => void
    /** A confirmed commit's round trip, and the offsets it moved on. */
    readonly onCommitTimed?: (ms: number, records: number) => void
    readonly onAssignmentChange?: (owned: number) => void
    readonly onPaused?: (paused: boolean, inFlight: number) => void
    readonly onStray?: () => void
    /** Every second, after the partition's high watermark was refreshed: for lag and state metrics. */
    readonly onRefresh?: (partition: P) => void
    /** A partition about to be released (its state still there): last reports, then its series removed. */
    readonly onRevoked?: (partition: P) => void
  }
}

/**
 * One consumer-group member: assign → restore, revoke → drain → commit → snapshot → release, periodic commits,
 * backpressure, stop → drain → commit before leaving → leave. The scoring job and the lookup task both run on it.
 *
 * Failure policy (one for every task):
 * | what fails                                   | what happens                                                    |
 * | a consume, a periodic commit (retryable)     | warn; the next poll or tick tries again                         |
 * | a periodic commit (not retryable), a stage   | the member fails: no further commits, `onFailure` once; a restart |
 * | an assignment (restore, store unreadable)    | the member fails: its partitions would stay unassigned silently |
 * | the last commit before leaving               | `stop()` rejects with it, after leaving the group all the same   |
 * A commit refused because the group is rebalancing is not a failure: the committer waits and sends it again.
 */
export class GroupMember<P extends MemberPartition> {
  readonly #partitions = new Map<string, P>()
  readonly #committer: OffsetCommitter
  #timers: Cancel[] = []
  /** Backpressure and the operator's pause (pauseConsumption). */
  readonly #gate: ConsumptionGate
  #started = false
  #stopping = false
  #everAssigned = false
  #failure: Error | undefined
  #onFailure: ((err: Error) => void) | undefined
  #finalPartitions: ReturnType<GroupMember<P>['describePartitions']> | undefined
  #stopped: Promise<void> | undefined

  constructor(readonly options: GroupMemberOptions<P>) {
    this.#committer = new OffsetCommitter(
      options.source,
      (tp) => this.#partitions.get(partitionKey(tp)),
      options.hooks?.onCommitResult,
      options.hooks?.onCommitTimed,
    )
    this.#gate = new ConsumptionGate({
      name: options.name,
      source: options.source,
      owned: () => this.#partitions,
      inFlight: () => this.inFlight,
      maxInFlight: options.maxInFlight,
      onPaused: options.hooks?.onPaused,
      log: options.log,
    })
  }

  get failure(): Error | undefined {
    return this.#failure
  }

  /** Ready = started, partitions assigned, every one past its restore, no failure and not stopping. */
  get ready(): boolean {
    if (!this.#started || this.#failure || this.#stopping || this.#partitions.size === 0) return false
    for (const p of this.#partitions.values()) if (p.nextOffset < p.liveFromOffset) return false
    return true
  }

  /** Whether this member was ever assigned a partition (a group with more members than partitions leaves some idle). */
  get everAssigned(): boolean {
    return this.#everAssigned
  }

  get inFlight(): number {
    let total = this.options.task.pending ?? 0
    for (const p of this.#partitions.values()) total += p.tracker.inFlight
    return total
  }

  partitions(): Iterable<P> {
    return this.#partitions.values()
  }

  /** Owned partitions for progress and lag: committed, acknowledged by every sink, log end, restoring. */
  describePartitions(): {
    topic: string
    partition: number
    committed: number
    acknowledged: number
    high: number
    restoring: boolean
  }[] {
    return [...this.#partitions.values()].map((p) => ({
      ...p.tp,
      committed: p.lastCommitted,
      acknowledged: p.tracker.committable,
      high: p.highWatermark,
      restoring: p.nextOffset < p.liveFromOffset,
    }))
  }

  /** The partitions as they were after the graceful stop's final commit (leaving the group revokes them all). */
  get finalPartitions(): ReturnType<GroupMember<P>['describePartitions']> | undefined {
    return this.#finalPartitions
  }

  /** `onFailure` runs once if the member fails; it has stopped committing by then. */
  async start(options: { onFailure?: (err: Error) => void } = {}): Promise<void> {
    this.#onFailure = options.onFailure
    const { source, scheduler, commitIntervalMs } = this.options
    await source.start({
      onAssign: (partitions) => this.#assign(partitions),
      onRevoke: (partitions, info) => this.#revoke(partitions, info),
      onRecords: (records) => this.#onRecords(records),
      onCommitted: (result) => this.#committer.onCommitted(result),
      onError: (err) => this.#onSourceError(err),
    })
    this.#timers.push(scheduler.every(commitIntervalMs, () => void this.#periodicCommit()))
    this.#timers.push(scheduler.every(25, () => this.applyBackpressure()))
    this.#timers.push(scheduler.every(1_000, () => void this.#refresh()))
    this.#started = true
  }

  async #assign(tps: readonly TopicPartition[]): Promise<PartitionStart[]> {
    this.#committer.rebalanceEnded()
    if (tps.length === 0) return []
    const starts: PartitionStart[] = []
    for (const position of await positionsOf(this.options.source, tps)) {
      const partition = await this.options.task.assign(position)
      this.#partitions.set(partitionKey(partition.tp), partition)
      this.#everAssigned = true
      starts.push({ ...partition.tp, offset: partition.nextOffset })
    }
    this.options.hooks?.onAssignmentChange?.(this.#partitions.size)
    return starts
  }

  async #revoke(tps: readonly TopicPartition[], info: { lost: boolean }): Promise<void> {
    this.#committer.rebalanceEnded()
    const revoked = tps.map((tp) => this.#partitions.get(partitionKey(tp))).filter((p): p is P => p !== undefined)
    // Cut what is buffered now; acks are awaited through the trackers, within the drain timeout (awaiting a sink's
    // flush itself would wait forever on an outage).
    this.options.task.flush(revoked)
    const drained = await waitUntil(
      () => revoked.every((p) => p.tracker.inFlight === 0),
      this.options.drainTimeoutMs,
      () => this.#failure !== undefined,
    )
    if (!info.lost && !this.#failure) {
      await this.#committer.commit(revoked, { sync: true })
      // A drained partition's state covers exactly its committed offset: the next owner restores it without replay.
      const snapshot = this.options.task.snapshot?.bind(this.options.task)
      if (drained && snapshot) await Promise.all(revoked.map((p) => snapshot(p)))
    }
    for (const p of revoked) {
      this.options.hooks?.onRevoked?.(p)
      p.revoked = true
      this.#partitions.delete(partitionKey(p.tp))
      this.#gate.forget(partitionKey(p.tp))
      this.options.task.release(p, { lost: info.lost, drained })
      this.options.log.info(
        { topic: p.tp.topic, partition: p.tp.partition, committed: p.lastCommitted, drained, lost: info.lost },
        'partition revoked',
      )
    }
    this.options.hooks?.onAssignmentChange?.(this.#partitions.size)
  }

  #onRecords(records: readonly SourceRecord[]): void {
    if (this.#failure) return
    const nowMs = this.options.clock.nowMs()
    const kept: SourceRecord[] = []
    const owners: P[] = []
    for (const record of records) {
      const p = this.#partitions.get(partitionKey(record))
      // A record of a partition this member no longer owns (or owns anew, at another offset) must not be processed:
      // storing its offset or output would let the next owner skip or double it.
      if (!p || record.offset < p.nextOffset) {
        this.options.hooks?.onStray?.()
        continue
      }
      p.nextOffset = record.offset + 1
      p.lastRecordAtMs = nowMs
      kept.push(record)
      owners.push(p)
    }
    try {
      this.options.task.process(kept, owners)
    } catch (err) {
      this.fail(err)
      return
    }
    this.applyBackpressure()
  }

  async #periodicCommit(): Promise<void> {
    if (this.#failure) return
    try {
      await this.#committer.commit(this.#partitions.values(), { sync: false })
    } catch (err) {
      if (isRetryable(err))
        this.options.log.warn({ err, member: this.options.name }, 'periodic commit failed; retried next tick')
      else this.fail(err)
    }
  }

  /** Pauses every owned partition while too many records wait for sinks; resumes below half the bound. */
  applyBackpressure(): void {
    this.#gate.apply()
  }

  get consumptionPaused(): boolean {
    return this.#gate.held
  }

  /**
   * Stops fetching from every owned partition until `resumeConsumption`, whatever the in-flight count (an operator's
   * pause: `POST /v1/admin/pause`). Records already fetched are still processed and committed; the group membership
   * and its heartbeats go on. Returns false when already paused.
   */
  pauseConsumption(): boolean {
    return this.#gate.hold()
  }

  /** Resumes what pauseConsumption paused; backpressure then applies as before. Returns false when not paused. */
  resumeConsumption(): boolean {
    return this.#gate.release()
  }

  async #refresh(): Promise<void> {
    for (const p of this.#partitions.values()) {
      try {
        const { high } = await this.options.source.watermarks(p.tp)
        if (!p.revoked) p.highWatermark = high
      } catch (err) {
        this.options.log.debug({ err, partition: p.tp.partition }, 'watermark query failed; lag not refreshed')
      }
      // Revoked meanwhile: its series are gone and stay gone.
      if (!p.revoked) this.options.hooks?.onRefresh?.(p)
    }
  }

  /**
   * A failed consume is retried by the next poll; a rebalance the member could not handle (assignment failed)
   * leaves its partitions unassigned, which only a restart mends: the member fails.
   */
  #onSourceError(err: Error): void {
    if (isRetryable(err))
      this.options.log.warn({ err, code: errorCodeOf(err), member: this.options.name }, 'source error')
    else this.fail(err)
  }

  fail(err: unknown): void {
    if (this.#failure) return
    this.#failure =
      err instanceof Error
        ? err
        : new FraudstreamError(ErrorCode.internal, `member ${this.options.name} failed: ${String(err)}`, 'internal')
    this.options.log.fatal(
      { err: this.#failure, code: errorCodeOf(err), member: this.options.name },
      'member failed; no further offsets will be committed',
    )
    for (const timer of this.#timers) timer.cancel()
    this.#onFailure?.(this.#failure)
  }

  /** Resolves when every record consumed so far is acknowledged by every sink (buffers are flushed on the way). */
  async drain(timeoutMs = this.options.drainTimeoutMs): Promise<boolean> {
    this.options.task.flush()
    return waitUntil(
      () => this.inFlight === 0,
      timeoutMs,
      () => this.#failure !== undefined,
    )
  }

  /**
   * Graceful stop: stop polling, finish in-flight records, commit synchronously, leave the group. After a failure,
   * nothing more is committed: the next owner restarts from the last commit.
   */
  stop(options: { beforeCommit?: () => void } = {}): Promise<void> {
    this.#stopped ??= this.#stop(options)
    return this.#stopped
  }

  async #stop(options: { beforeCommit?: () => void }): Promise<void> {
    this.#stopping = true
    for (const timer of this.#timers) timer.cancel()
    const { source } = this.options
    await source.stopPolling()
    try {
      if (!this.#failure) {
        const deadline = this.options.clock.nowMs() + this.options.drainTimeoutMs
        const drained = await this.drain()
        options.beforeCommit?.()
        const committed = await this.#committer.commitBeforeLeaving(
          () => this.#partitions.values(),
          deadline - this.options.clock.nowMs(),
        )
        await this.#refresh()
        this.#finalPartitions = this.describePartitions()
        if (committed)
          this.options.log.info(
            { drained, partitions: this.#finalPartitions, member: this.options.name },
            'drained and committed',
          )
        else
          this.options.log.warn(
            { drained, partitions: this.#finalPartitions, member: this.options.name },
            'drained, but the last commit was refused: the next owners process again the records since the one before',
          )
      }
    } finally {
      // Whatever failed above, the member leaves the group: its polls go on until then, and its partitions with it.
      await source.stop()
    }
  }
}
