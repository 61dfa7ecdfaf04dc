import { ErrorCode, FraudstreamError } from '../../core/errors.js'
import type { TransactionAttributes, TransactionAttribution } from '../../core/ports.js'
import type { ClickHouseClient } from './client.js'

/** Ids per query: a long backlog of labels becomes several queries, each with a bounded parameter. */
const IDS_PER_QUERY = 2_000

/**
 * Labels' transactions from the `scores` table of a run (`live`): every transaction the job decided is there, a
 * fraction of a second after its decision (the sink's linger). The columns read (DDL, clickhouse/migrations):
 *
 *   transaction_id String, terminal_id String, merchant_id String, customer_id String,
 *   event_time DateTime64(3, 'UTC'), run_id LowCardinality(String),
 *   INDEX transaction_id_bloom transaction_id TYPE bloom_filter(0.01) GRANULARITY 1
 *
 * The bloom filter skips the granules without the ids. A transaction scored by several models (shadows) or twice
 * (a duplicate after the dedupe horizon) has one row per score, all of the same transaction: any one will do.
 * `scores` keeps no device_id: a device lookup feature counts a label only if the label names the device.
 */
export function scoresAttribution(client: ClickHouseClient, runId: string): TransactionAttribution {
  return {
    async resolve(transactionIds) {
      const found = new Map<string, TransactionAttributes>()
      for (let from = 0; from < transactionIds.length; from += IDS_PER_QUERY) {
        const ids = transactionIds.slice(from, from + IDS_PER_QUERY)
        let rows: { transaction_id: string; terminal_id: string; merchant_id: string; customer_id: string; t: string }[]
        try {
          const result = await client.query({
            query: `SELECT transaction_id, terminal_id, merchant_id, customer_id, toString(toUnixTimestamp64Milli(event_time)) AS t
                    FROM scores
                    WHERE run_id = {runId:String} AND transaction_id IN {ids:Array(String)}
                    LIMIT 1 BY transaction_id`,
            query_params: { runId, ids },
            format: 'JSONEachRow',
          })
          rows = await result.json()
        } catch (err) {
          throw new FraudstreamError(
            ErrorCode.sinkClickhouse,
            `looking up ${ids.length} labelled transactions in scores failed: check ClickHouse; the labels wait and the lookup is retried`,
            'external',
            true,
            { cause: err },
          )
        }
        for (const row of rows)
          found.set(row.transaction_id, {
            terminal_id: row.terminal_id,
            merchant_id: row.merchant_id,
            customer_id: row.customer_id,
            transactionTimeMs: Number(row.t),
          })
      }
      return found
    },
  }
}
