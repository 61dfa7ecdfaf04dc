import type { CommitOffset, PartitionedSource, SourceHandlers, SourceRecord, TopicPartition } from '../core/ports.js'
import { partitionKey } from '../core/stage.js'

/**
 * A partitioned log in memory that behaves as a consumer group of one member: `assign` runs the member's
 * assignment, `poll` hands over what is readable (respecting pause), commits are kept per partition.
 */
export class MemorySource implements PartitionedSource {
  readonly #logs: SourceRecord[][]
  readonly #committed = new Map<string, number>()
  readonly #positions = new Map<string, number>()
  readonly #paused = new Set<string>()
  #handlers: SourceHandlers | undefined
  #delivering = true

  constructor(
    readonly topic: string,
    readonly partitionCount: number,
  ) {
    this.#logs = Array.from({ length: partitionCount }, () => [])
  }

  /** Appends a record to a partition's log; resolves its offset. */
  append(partition: number, record: { key: Buffer | null; value: Buffer | null; timestampMs: number }): number {
    const log = this.#logs[partition]
    if (!log) throw new RangeError(`partition ${partition} of ${this.topic}: the source has ${this.partitionCount}`)
    log.push({ topic: this.topic, partition, offset: log.length, ...record })
    return log.length - 1
  }

  async start(handlers: SourceHandlers): Promise<void> {
    this.#handlers = handlers
  }

  /** The group assigns these partitions (all, without) to the member. */
  async assign(partitions: readonly number[] = this.#logs.map((_, p) => p)): Promise<void> {
    const tps = partitions.map((partition) => ({ topic: this.topic, partition }))
    for (const start of await this.#handlers!.onAssign(tps)) this.#positions.set(partitionKey(start), start.offset)
  }

  /** The group takes these partitions away; `lost` as after a session timeout. */
  async revoke(partitions: readonly number[], options: { lost?: boolean } = {}): Promise<void> {
    const tps = partitions.map((partition) => ({ topic: this.topic, partition }))
    await this.#handlers!.onRevoke(tps, { lost: options.lost ?? false })
    for (const tp of tps) this.#positions.delete(partitionKey(tp))
  }

  /** Hands every readable record of the assigned, unpaused partitions to the member, `maxRecords` a batch. */
  poll(maxRecords = 500): number {
    if (!this.#delivering) return 0
    let delivered = 0
    for (;;) {
      const batch: SourceRecord[] = []
      for (const [key, position] of this.#positions) {
        if (this.#paused.has(key)) continue
        const log = this.#logs[Number(key.slice(key.lastIndexOf(':') + 1))]!
        const end = Math.min(log.length, position + maxRecords - batch.length)
        for (let offset = position; offset < end; offset++) batch.push(log[offset]!)
        this.#positions.set(key, end)
      }
      if (batch.length === 0) return delivered
      delivered += batch.length
      this.#handlers!.onRecords(batch)
    }
  }

  pause(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.#paused.add(partitionKey(tp))
  }

  resume(partitions: readonly TopicPartition[]): void {
    for (const tp of partitions) this.#paused.delete(partitionKey(tp))
  }

  async commit(offsets: readonly CommitOffset[], options: { sync: boolean }): Promise<boolean> {
    for (const o of offsets) this.#committed.set(partitionKey(o), o.offset)
    if (!options.sync) queueMicrotask(() => this.#handlers?.onCommitted({ offsets }))
    return true
  }

  async committed(partitions: readonly TopicPartition[]): Promise<(number | undefined)[]> {
    return partitions.map((tp) => this.#committed.get(partitionKey(tp)))
  }

  committedOffset(partition: number): number | undefined {
    return this.#committed.get(partitionKey({ topic: this.topic, partition }))
  }

  async watermarks(tp: TopicPartition): Promise<{ low: number; high: number }> {
    return { low: 0, high: this.#logs[tp.partition]!.length }
  }

  async stopPolling(): Promise<void> {
    this.#delivering = false
  }

  /** Leaves the group: a final revoke of everything still assigned. */
  async stop(): Promise<void> {
    const owned = [...this.#positions.keys()].map((key) => Number(key.slice(key.lastIndexOf(':') + 1)))
    if (owned.length > 0 && this.#handlers) await this.revoke(owned)
  }
}
