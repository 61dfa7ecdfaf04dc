import { createHash } from 'node:crypto'
import type { Logger } from 'pino'
import type { Metrics } from '../../observability/metrics.js'
import type { ClickHouseClient } from './client.js'
import { EncodedRow } from './encoded-row.js'

export interface BatchSinkOptions<Row> {
  /** One createClickhouseClient made: it writes the sink's EncodedRow values as they are. */
  readonly client: ClickHouseClient
  readonly table: string
  /** The table's columns in the order rows are sent (JSONCompactEachRow: no key names in every row). */
  readonly columns: readonly string[]
  /** A row's values in `columns` order; by default each column's property of the row. */
  readonly valuesOf?: (row: Row) => unknown[]
  /**
   * What else the dedup token names besides the offsets: the run, and for a store reset under a new Kafka cluster
   * (the embedded demo's offsets restart at 0) a fresh epoch, so a new batch never matches an old one's token.
   */
  readonly tokenScope: string
  readonly maxBatchRows: number
  readonly lingerMs: number
  readonly retryBackoffMs: number
  readonly maxRetryBackoffMs: number
  readonly metrics: Metrics
  readonly log: Logger
}

/** One partition's rows in a batch: a contiguous offset range. */
interface Segment<Row> {
  readonly lane: Lane<Row>
  /** Its rows, encoded when added (see EncodedRow). */
  readonly rows: EncodedRow[]
  readonly acks: (() => void)[]
  readonly firstOffset: number
  lastOffset: number
}

interface Batch<Row> {
  /** Per partition, its range; a partition's ranges in successive batches follow each other. */
  readonly segments: Map<Lane<Row>, Segment<Row>>
  rows: number
  /** Resolves once ClickHouse acknowledged the batch (or every partition in it was dropped). */
  readonly done: Promise<void>
  readonly settle: () => void
}

interface Lane<Row> {
  readonly topic: string
  readonly partition: number
  /** The last batch holding rows of the partition: flush waits for it. */
  last: Promise<void>
  dropped: boolean
}

/** Past this length a token names its ranges by their hash: it travels as a URL parameter. */
const MAX_PLAIN_TOKEN = 512

/**
 * Batches rows of every source partition together and inserts them into ClickHouse, acknowledging each row only after
 * its batch is acknowledged. A batch holds one contiguous offset range per partition; its dedup token names exactly
 * that set, `table:scope:topic:partition:first-last[,…]` in partition order, and a failed insert is retried with the
 * identical rows and token until it succeeds, so a retry after a lost response never duplicates rows.
 *
 * One insert at a time, batches in the order they were cut: each partition's rows reach ClickHouse as a prefix of
 * its offsets (the resume point after a restart relies on it), and an insert's fixed cost (a part, its checksums,
 * the dedup hash, the views it feeds) is paid once per batch whatever the number of partitions. Batches adapt to that
 * cost: while an insert is in flight the open batch keeps growing (up to maxBatchRows), and is cut when the insert
 * returns, so the slower the inserts, the larger the next ones. lingerMs bounds how long a row waits while the
 * inserter is idle.
 *
 * | time | event                         | open batch          | inserting                 |
 * | ---- | ----------------------------- | ------------------- | ------------------------- |
 * | 0    | p0 offsets 0–9 arrive         | p0:0-9              | —                         |
 * | 200  | linger ends                   | —                   | p0:0-9                    |
 * | 210  | p0 10–59, p1 0–39 arrive      | p0:10-59, p1:0-39   | p0:0-9                    |
 * | 260  | insert acknowledged           | —                   | p0:10-59,p1:0-39 (one)    |
 */
export class ClickhouseBatchSink<Row extends Record<string, unknown>> {
  readonly #lanes = new Map<string, Lane<Row>>()
  #open: Batch<Row> | undefined
  #timer: NodeJS.Timeout | undefined
  /** Batches cut and waiting for the inserter, in the order they were cut. */
  #ready: Batch<Row>[] = []
  #inserting = false
  #closed = false

  readonly #valuesOf: (row: Row) => unknown[]

  constructor(readonly options: BatchSinkOptions<Row>) {
    const { columns } = options
    this.#valuesOf = options.valuesOf ?? ((row: Row) => columns.map((column) => row[column]))
  }

  /** Rows of one partition must be added in offset order; an offset's rows never straddle two batches. */
  add(topic: string, partition: number, offset: number, rows: readonly Row[], onAck: () => void): void {
    const lane = this.#lane(topic, partition)
    let batch = this.#open
    if (!batch) {
      let settle = () => {}
      const done = new Promise<void>((resolve) => (settle = resolve))
      batch = { segments: new Map(), rows: 0, done, settle }
      this.#open = batch
      // While an insert is in flight the batch grows instead: it is cut when the insert returns.
      if (!this.#inserting) this.#timer = setTimeout(() => this.#cut(), this.options.lingerMs)
    }
    let segment = batch.segments.get(lane)
    if (!segment) {
      segment = { lane, rows: [], acks: [], firstOffset: offset, lastOffset: offset }
      batch.segments.set(lane, segment)
      lane.last = batch.done
    }
    for (const row of rows) segment.rows.push(new EncodedRow(JSON.stringify(this.#valuesOf(row))))
    segment.acks.push(onAck)
    segment.lastOffset = offset
    batch.rows += rows.length
    if (batch.rows >= this.options.maxBatchRows) this.#cut()
  }

  /** Sends the open batch now and resolves when the partition's batches (or all) are acknowledged. */
  async flush(filter?: { topic: string; partition: number }): Promise<void> {
    this.#cut()
    const waits: Promise<void>[] = []
    for (const lane of this.#lanes.values()) {
      if (filter && (lane.topic !== filter.topic || lane.partition !== filter.partition)) continue
      waits.push(lane.last)
    }
    await Promise.all(waits)
  }

  /**
   * Forgets a partition's rows not yet sent: its new owner will process them again. A batch already sent keeps
   * being retried as it is (other rows under the same token would be dropped as duplicates), unless it holds no
   * other partition's rows.
   */
  drop(topic: string, partition: number): void {
    const key = `${topic}:${partition}`
    const lane = this.#lanes.get(key)
    if (!lane) return
    lane.dropped = true
    const unsent = this.#open ? [...this.#ready, this.#open] : [...this.#ready]
    for (const batch of unsent) {
      const segment = batch.segments.get(lane)
      if (!segment) continue
      batch.segments.delete(lane)
      batch.rows -= segment.rows.length
    }
    this.#ready = this.#ready.filter((batch) => {
      if (batch.segments.size > 0) return true
      batch.settle()
      return false
    })
    if (this.#open && this.#open.segments.size === 0) {
      clearTimeout(this.#timer)
      this.#open.settle()
      this.#open = undefined
    }
    this.#lanes.delete(key)
  }

  async close(): Promise<void> {
    await this.flush()
    this.#closed = true
  }

  #lane(topic: string, partition: number): Lane<Row> {
    const key = `${topic}:${partition}`
    let lane = this.#lanes.get(key)
    if (!lane) {
      lane = { topic, partition, last: Promise.resolve(), dropped: false }
      this.#lanes.set(key, lane)
    }
    return lane
  }

  #cut(): void {
    const batch = this.#open
    clearTimeout(this.#timer)
    this.#timer = undefined
    if (!batch) return
    this.#open = undefined
    this.#ready.push(batch)
    void this.#insertNext()
  }

  /** Inserts ready batches one at a time; after each, the batch that grew meanwhile is cut and follows. */
  async #insertNext(): Promise<void> {
    if (this.#inserting) return
    this.#inserting = true
    try {
      for (let batch = this.#ready.shift(); batch; batch = this.#ready.shift()) {
        await this.#insertUntilAcked(batch)
        batch.settle()
        if (this.#ready.length === 0 && this.#open) this.#cut()
      }
    } finally {
      this.#inserting = false
    }
  }

  /** The batch's token: its partitions' ranges in partition order, so the same set always reads the same. */
  #tokenOf(segments: readonly Segment<Row>[]): string {
    const ranges = segments
      .map((s) => ({ s, key: `${s.lane.topic}:${s.lane.partition}:${s.firstOffset}-${s.lastOffset}` }))
      .sort((a, b) =>
        a.s.lane.topic === b.s.lane.topic
          ? a.s.lane.partition - b.s.lane.partition
          : a.s.lane.topic < b.s.lane.topic
            ? -1
            : 1,
      )
      .map((r) => r.key)
      .join(',')
    const named = ranges.length <= MAX_PLAIN_TOKEN ? ranges : `sha256:${createHash('sha256').update(ranges).digest('hex')}`
    return `${this.options.table}:${this.options.tokenScope}:${named}`
  }

  async #insertUntilAcked(batch: Batch<Row>): Promise<void> {
    const { client, table, columns, metrics, log } = this.options
    const segments = [...batch.segments.values()]
    const token = this.#tokenOf(segments)
    const values: EncodedRow[] = []
    for (const segment of segments) for (const row of segment.rows) values.push(row)
    let backoffMs = this.options.retryBackoffMs
    for (let attempt = 1; !this.#closed && segments.some((s) => !s.lane.dropped); attempt++) {
      try {
        await client.insert({
          table,
          values,
          columns: columns as [string, ...string[]],
          format: 'JSONCompactEachRow',
          clickhouse_settings: { insert_deduplicate: 1, insert_deduplication_token: token, async_insert: 0 },
        })
        metrics.clickhouseInserts.inc({ table, result: 'ok' })
        metrics.clickhouseRows.inc({ table }, values.length)
        for (const segment of segments) if (!segment.lane.dropped) for (const ack of segment.acks) ack()
        return
      } catch (err) {
        metrics.clickhouseInserts.inc({ table, result: 'error' })
        log.warn({ err, table, token, attempt, backoffMs }, 'clickhouse insert failed; retrying the identical batch')
        await new Promise((resolve) => setTimeout(resolve, backoffMs))
        backoffMs = Math.min(backoffMs * 2, this.options.maxRetryBackoffMs)
      }
    }
  }
}
