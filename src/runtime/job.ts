import type { Logger } from 'pino'
import type { Clock } from '../core/clock.js'
import type { PartitionedSource, SnapshotStore } from '../core/ports.js'
import type { Scheduler } from '../core/scheduler.js'
import type { Topology } from '../core/topology.js'
import { GroupMember, type GroupMemberOptions } from './group-member.js'
import { systemClock, systemScheduler } from './system-time.js'
import { TopologyRunner, type TopologyPartition, type TopologyRunnerOptions } from './topology-runner.js'

export interface JobOptions<Stats> {
  readonly topology: Topology
  readonly source: PartitionedSource
  readonly autoOffsetReset: 'earliest' | 'latest' | 'error'
  readonly commitIntervalMs: number
  readonly drainTimeoutMs: number
  readonly maxInFlight: number
  readonly snapshots?: SnapshotStore
  readonly snapshotIntervalMs: number
  readonly clock?: Clock
  readonly scheduler?: Scheduler
  readonly log: Logger
  readonly observe: TopologyRunnerOptions['observe']
  readonly hooks?: GroupMemberOptions<TopologyPartition>['hooks']
  /** The run's figures, from the nodes' counts and the records dropped as strays. */
  readonly stats: (runner: TopologyRunner, stray: number) => Stats
}

/**
 * A topology on one consumer-group member: the runner executes the graph, the member owns the group lifecycle.
 *
 * Delivery: at-least-once reading with idempotent writes. An offset becomes committable only when every sink has
 * acknowledged every output of it and of all offsets below it (AckTracker).
 */
export class Job<Stats> {
  readonly runner: TopologyRunner
  readonly member: GroupMember<TopologyPartition>
  #stray = 0

  constructor(readonly options: JobOptions<Stats>) {
    const clock = options.clock ?? systemClock
    const scheduler = options.scheduler ?? systemScheduler
    this.runner = new TopologyRunner({
      topology: options.topology,
      clock,
      scheduler,
      autoOffsetReset: options.autoOffsetReset,
      ...(options.snapshots ? { snapshots: options.snapshots } : {}),
      snapshotIntervalMs: options.snapshotIntervalMs,
      log: options.log,
      observe: options.observe,
      onFailure: (err) => this.member.fail(err),
      watermarks: (tp) => options.source.watermarks(tp),
    })
    this.member = new GroupMember({
      name: options.topology.name,
      source: options.source,
      task: this.runner,
      commitIntervalMs: options.commitIntervalMs,
      drainTimeoutMs: options.drainTimeoutMs,
      maxInFlight: options.maxInFlight,
      clock,
      scheduler,
      log: options.log,
      hooks: {
        onCommitTimed: options.observe.durationOf('commit'),
        ...options.hooks,
        onStray: () => {
          this.#stray++
          options.hooks?.onStray?.()
        },
      },
    })
  }

  get stats(): Stats {
    return this.options.stats(this.runner, this.#stray)
  }

  get ready(): boolean {
    return this.member.ready
  }

  get failure(): Error | undefined {
    return this.member.failure
  }

  get inFlight(): number {
    return this.member.inFlight
  }

  /** Clock.nowMs when the first live record was consumed: where throughput measurements start. */
  get firstConsumedAtMs(): number | undefined {
    return this.runner.firstConsumedAtMs
  }

  get finalPartitions(): ReturnType<GroupMember<TopologyPartition>['describePartitions']> | undefined {
    return this.member.finalPartitions
  }

  partitions(): ReturnType<GroupMember<TopologyPartition>['describePartitions']> {
    return this.member.describePartitions()
  }

  /** Opens every stage, then joins the group. `onFailure` runs once if the job fails; it has stopped committing by then. */
  async start(options: { onFailure?: (err: Error) => void } = {}): Promise<void> {
    await this.runner.open()
    await this.member.start(options)
  }

  /** An operator's pause: stops fetching until `resume` (GroupMember.pauseConsumption). False if already paused. */
  pause(): boolean {
    return this.member.pauseConsumption()
  }

  resume(): boolean {
    return this.member.resumeConsumption()
  }

  get paused(): boolean {
    return this.member.consumptionPaused
  }

  drain(timeoutMs?: number): Promise<boolean> {
    return this.member.drain(timeoutMs)
  }

  /** Graceful: drain, commit, leave the group, then close the stages. After a failure nothing more is committed. */
  async stop(): Promise<void> {
    try {
      await this.member.stop()
    } finally {
      await this.runner.close()
    }
  }
}
