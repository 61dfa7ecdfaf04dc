import { pino, type Logger } from 'pino'
import type { SnapshotStore } from '../core/ports.js'
import type { Topology } from '../core/topology.js'
import { Job, type JobOptions } from '../runtime/job.js'
import { ManualTime } from './manual-time.js'
import { MemorySource } from './memory-source.js'

export interface TopologyTestDriverOptions<Stats> {
  readonly topology: Topology
  /** Partitions of the source topic; every one is assigned to the driven member. */
  readonly partitions: number
  readonly stats: JobOptions<Stats>['stats']
  readonly time?: ManualTime
  readonly snapshots?: SnapshotStore
  readonly commitIntervalMs?: number
  readonly maxInFlight?: number
  readonly log?: Logger
  readonly observe?: Partial<JobOptions<Stats>['observe']>
  /** Assign every partition at once (the default), or leave it to the test: `driver.source.assign([...])`. */
  readonly assign?: boolean
}

/**
 * Runs a built topology in-process (Kafka Streams' TopologyTestDriver): a memory source instead of Kafka, the
 * topology's own memory ports for its sinks, and a manual clock, so a case is deterministic and takes milliseconds.
 * The runtime is the production one: the same group member, runner, acknowledgements and commits.
 *
 * @example
 *   const driver = await TopologyTestDriver.create({ topology, partitions: 2, stats: cardFraudStats })
 *   await driver.pipe([{ partition: 0, key: 'card-1', value: Buffer.from(json), timestampMs }])
 *   await driver.advance(1_000)
 */
export class TopologyTestDriver<Stats> {
  readonly time: ManualTime
  readonly source: MemorySource
  readonly job: Job<Stats>

  private constructor(options: TopologyTestDriverOptions<Stats>) {
    this.time = options.time ?? new ManualTime()
    this.source = new MemorySource(options.topology.source.topic, options.partitions)
    const noop = () => {}
    this.job = new Job({
      topology: options.topology,
      source: this.source,
      autoOffsetReset: 'earliest',
      commitIntervalMs: options.commitIntervalMs ?? 100,
      drainTimeoutMs: 5_000,
      maxInFlight: options.maxInFlight ?? 1_000_000,
      ...(options.snapshots ? { snapshots: options.snapshots } : {}),
      snapshotIntervalMs: 60_000,
      clock: this.time,
      scheduler: this.time,
      log: options.log ?? pino({ level: 'silent' }),
      observe: {
        count: noop,
        durationOf: () => noop,
        deadLetter: noop,
        restored: noop,
        snapshotsSkipped: noop,
        snapshotWritten: noop,
        snapshotFailed: noop,
        ...options.observe,
      },
      stats: options.stats,
    })
  }

  /** Starts the job and assigns it every partition (unless `assign: false`). */
  static async create<Stats>(options: TopologyTestDriverOptions<Stats>): Promise<TopologyTestDriver<Stats>> {
    const driver = new TopologyTestDriver(options)
    await driver.job.start({ onFailure: () => {} })
    if (options.assign ?? true) await driver.source.assign()
    return driver
  }

  get stats(): Stats {
    return this.job.stats
  }

  /** Appends records to their partitions and lets the job poll them; then settles (see `settle`). */
  async pipe(
    records: readonly {
      readonly partition: number
      readonly key: string | null
      readonly value: Buffer | null
      readonly timestampMs: number
    }[],
  ): Promise<void> {
    for (const r of records)
      this.source.append(r.partition, {
        key: r.key === null ? null : Buffer.from(r.key),
        value: r.value,
        timestampMs: r.timestampMs,
      })
    this.source.poll()
    await this.settle()
  }

  /** Moves the manual clock: linger timers, stage timers and periodic commits due meanwhile run. */
  async advance(ms: number): Promise<void> {
    this.time.advance(ms)
    await this.settle()
  }

  /** Lets asynchronous stages settle and timers due now run, until nothing more happens. */
  async settle(): Promise<void> {
    for (let i = 0; i < 5; i++) {
      await new Promise((resolve) => setImmediate(resolve))
      this.time.advance(0)
    }
  }

  /** Drains, commits and leaves, as a graceful stop does. */
  async close(): Promise<void> {
    await this.job.stop()
  }
}
