import type { Logger } from 'pino'
import type { Metrics } from '../../observability/metrics.js'
import type { ClickHouseClient } from './client.js'

export interface BatchSinkOptions<Row> {
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

interface Batch<Row> {
  readonly lane: Lane<Row>
  readonly rows: Row[]
  readonly acks: (() => void)[]
  firstOffset: number
  lastOffset: number
  /** Resolves once ClickHouse acknowledged the batch (or its lane was dropped). */
  readonly done: Promise<void>
  readonly settle: () => void
}

interface Lane<Row> {
  readonly topic: string
  readonly partition: number
  open: Batch<Row> | undefined
  timer: NodeJS.Timeout | undefined
  /** The lane's last batch handed to the inserter: flush waits for it. */
  last: Promise<void>
  dropped: boolean
}

/**
 * Batches rows per source partition and inserts them into ClickHouse, acknowledging each row only after its
 * batch is acknowledged. A batch is one contiguous offset range of one partition; its dedup token is
 * `table:scope:topic:partition:first-last`, and a failed insert is retried with the identical rows and token until it
 * succeeds or the partition is dropped, so a retry after a lost response never duplicates rows.
 *
 * One insert at a time, batches in the order they were cut: each partition's rows reach ClickHouse as a prefix of
 * its offsets (the resume point after a restart relies on it), and an insert's fixed cost (a part, its checksums,
 * the dedup hash) is paid once per batch. Batches adapt to that cost: while an insert is in flight, every lane's open
 * batch keeps growing (up to maxBatchRows), and is cut when the insert returns, so the slower the inserts, the larger
 * the next ones. lingerMs bounds how long a row waits while the inserter is idle.
 */
export class ClickhouseBatchSink<Row extends Record<string, unknown>> {
  readonly #lanes = new Map<string, Lane<Row>>()
  /** Batches cut and waiting for the inserter, in the order they were cut. */
  #ready: Batch<Row>[] = []
  #inserting = false
  #closed = false

  constructor(readonly options: BatchSinkOptions<Row>) {}

  /** Rows of one partition must be added in offset order; an offset's rows never straddle two batches. */
  add(topic: string, partition: number, offset: number, rows: readonly Row[], onAck: () => void): void {
    const lane = this.#lane(topic, partition)
    let batch = lane.open
    if (!batch) {
      let settle = () => {}
      const done = new Promise<void>((resolve) => (settle = resolve))
      batch = { lane, rows: [], acks: [], firstOffset: offset, lastOffset: offset, done, settle }
      lane.open = batch
      // While an insert is in flight the batch grows instead: it is cut when the insert returns.
      if (!this.#inserting) lane.timer = setTimeout(() => this.#cut(lane), this.options.lingerMs)
    }
    for (const row of rows) batch.rows.push(row)
    batch.acks.push(onAck)
    batch.lastOffset = offset
    if (batch.rows.length >= this.options.maxBatchRows) this.#cut(lane)
  }

  /** Sends every open batch now and resolves when all of them (and earlier ones) are acknowledged. */
  async flush(filter?: { topic: string; partition: number }): Promise<void> {
    const waits: Promise<void>[] = []
    for (const lane of this.#lanes.values()) {
      if (filter && (lane.topic !== filter.topic || lane.partition !== filter.partition)) continue
      this.#cut(lane)
      waits.push(lane.last)
    }
    await Promise.all(waits)
  }

  /** Stops retrying and forgets a partition's unsent rows: its new owner will process them again. */
  drop(topic: string, partition: number): void {
    const key = `${topic}:${partition}`
    const lane = this.#lanes.get(key)
    if (!lane) return
    lane.dropped = true
    clearTimeout(lane.timer)
    lane.open?.settle()
    lane.open = undefined
    this.#ready = this.#ready.filter((batch) => {
      if (batch.lane !== lane) return true
      batch.settle()
      return false
    })
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
      lane = { topic, partition, open: undefined, timer: undefined, last: Promise.resolve(), dropped: false }
      this.#lanes.set(key, lane)
    }
    return lane
  }

  #cut(lane: Lane<Row>): void {
    const batch = lane.open
    clearTimeout(lane.timer)
    lane.timer = undefined
    if (!batch) return
    lane.open = undefined
    lane.last = batch.done
    this.#ready.push(batch)
    void this.#insertNext()
  }

  /** Inserts ready batches one at a time; after each, the batches that grew meanwhile are cut and follow. */
  async #insertNext(): Promise<void> {
    if (this.#inserting) return
    this.#inserting = true
    try {
      for (let batch = this.#ready.shift(); batch; batch = this.#ready.shift()) {
        await this.#insertUntilAcked(batch)
        batch.settle()
        if (this.#ready.length === 0) for (const lane of this.#lanes.values()) if (lane.open) this.#cut(lane)
      }
    } finally {
      this.#inserting = false
    }
  }

  async #insertUntilAcked(batch: Batch<Row>): Promise<void> {
    const { client, table, columns, metrics, log } = this.options
    const { lane } = batch
    const token = `${table}:${this.options.tokenScope}:${lane.topic}:${lane.partition}:${batch.firstOffset}-${batch.lastOffset}`
    const valuesOf = this.options.valuesOf ?? ((row: Row) => columns.map((column) => row[column]))
    const values = batch.rows.map(valuesOf)
    let backoffMs = this.options.retryBackoffMs
    for (let attempt = 1; !lane.dropped && !this.#closed; attempt++) {
      try {
        await client.insert({
          table,
          values,
          columns: columns as [string, ...string[]],
          format: 'JSONCompactEachRow',
          clickhouse_settings: { insert_deduplicate: 1, insert_deduplication_token: token, async_insert: 0 },
        })
        metrics.clickhouseInserts.inc({ table, result: 'ok' })
        metrics.clickhouseRows.inc({ table }, batch.rows.length)
        for (const ack of batch.acks) ack()
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
