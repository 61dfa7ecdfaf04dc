import type { OutgoingRecord, RecordSink, ScoreSink, SnapshotStore, TopicPartition } from '../core/ports.js'
import { partitionKey } from '../core/stage.js'

/** A topic sink that keeps every record; acknowledges at once, or when `release()` is called with `manualAcks`. */
export class MemoryRecordSink implements RecordSink {
  readonly records: OutgoingRecord[] = []
  readonly #unacked: (() => void)[] = []

  constructor(
    readonly options: { readonly manualAcks?: boolean; readonly onSend?: (record: OutgoingRecord) => void } = {},
  ) {}

  send(record: OutgoingRecord, onAck: () => void): void {
    this.records.push(record)
    this.options.onSend?.(record)
    if (this.options.manualAcks) this.#unacked.push(onAck)
    else onAck()
  }

  /** Acknowledges every record sent so far (with manualAcks). */
  release(): void {
    for (const ack of this.#unacked.splice(0)) ack()
  }

  /** The records sent to `topic`, values parsed as JSON. */
  valuesOf<T>(topic: string): T[] {
    return this.records.filter((r) => r.topic === topic).map((r) => JSON.parse(r.value!.toString()) as T)
  }

  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

/** Score rows in memory, acknowledged at once; `drop` forgets nothing already acknowledged, as ClickHouse would. */
export class MemoryScoreSink implements ScoreSink {
  readonly rows: { topic: string; partition: number; offset: number; row: Record<string, unknown> }[] = []

  add(
    topic: string,
    partition: number,
    offset: number,
    rows: readonly Record<string, unknown>[],
    onAck: () => void,
  ): void {
    for (const row of rows) this.rows.push({ topic, partition, offset, row })
    onAck()
  }

  async flush(): Promise<void> {}

  drop(): void {}

  /** The highest offset of a partition with a row, as the scores table answers after a restart. */
  async highOffset(tp: TopicPartition): Promise<number> {
    return this.rows
      .filter((r) => r.topic === tp.topic && r.partition === tp.partition)
      .reduce((max, r) => Math.max(max, r.offset), -1)
  }
}

/** Snapshots in memory, newest kept per offset. */
export class MemorySnapshotStore implements SnapshotStore {
  readonly #snapshots = new Map<string, Map<number, Uint8Array>>()

  async save(tp: TopicPartition, offset: number, bytes: Uint8Array): Promise<void> {
    let byOffset = this.#snapshots.get(partitionKey(tp))
    if (!byOffset) this.#snapshots.set(partitionKey(tp), (byOffset = new Map()))
    byOffset.set(offset, bytes)
  }

  async loadLatest(tp: TopicPartition, maxOffset: number): Promise<{ offset: number; bytes: Uint8Array } | undefined> {
    const offsets = [...(this.#snapshots.get(partitionKey(tp))?.keys() ?? [])]
      .filter((o) => o <= maxOffset)
      .sort((a, b) => b - a)
    return offsets[0] === undefined
      ? undefined
      : { offset: offsets[0], bytes: this.#snapshots.get(partitionKey(tp))!.get(offsets[0])! }
  }

  async clear(): Promise<void> {
    this.#snapshots.clear()
  }
}
