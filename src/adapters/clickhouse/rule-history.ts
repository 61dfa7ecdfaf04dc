import type { Transaction } from '../../core/transaction-v1.js'
import type { HistoryRow } from '../../rules/rule-backtest.js'
import type { ClickHouseClient } from './client.js'
import { clickhouseTime } from './drift-queries.js'
import { featureColumn, quoteIdentifier } from './feature-columns.js'
import { queryRows } from './query-rows.js'

const DAY_MS = 24 * 60 * 60 * 1000

/**
 * The deciding `scores` rows of a run in [fromMs, toMs), one UTC day at a time (memory holds a day; days without
 * rows are skipped), each with its
 * features (the `f_<name>` columns, in `featureNames` order) and its latest label of `labelsRunId`, for
 * `fraudstream rules test`. Shadow rows are left out: each transaction counts once.
 */
export async function* ruleHistoryDays(
  client: ClickHouseClient,
  options: {
    runId: string
    labelsRunId: string
    fromMs: number
    toMs: number
    featureNames: readonly string[]
  },
): AsyncGenerator<{ day: string; rows: HistoryRow[] }> {
  const width = options.featureNames.length
  const features = options.featureNames.map((n) => `s.${quoteIdentifier(featureColumn(n))}`).join(', ')
  const query = `
    SELECT s.transaction_id, s.card_id, s.customer_id, s.merchant_id, s.terminal_id, s.amount, s.currency, s.mcc,
           s.country, s.card_country, s.channel, toUnixTimestamp64Milli(s.event_time), s.score, s.model_role,
           s.decision, l.is_fraud${width > 0 ? `, ${features}` : ''}
    FROM scores AS s
    LEFT JOIN (
        SELECT transaction_id, argMax(is_fraud, (reported_at, source_offset)) AS is_fraud
        FROM labels WHERE run_id = {labelsRunId:String} GROUP BY transaction_id
    ) AS l ON l.transaction_id = s.transaction_id
    WHERE s.run_id = {runId:String} AND s.model_role != 'shadow'
      AND s.event_time >= {from:DateTime64(3, 'UTC')} AND s.event_time < {to:DateTime64(3, 'UTC')}
    ORDER BY s.event_time`
  const range = { runId: options.runId, from: clickhouseTime(options.fromMs), to: clickhouseTime(options.toMs) }
  // Only the days that have rows: a range of years costs one query per day with data, not per day of the range.
  const days = await queryRows<[string]>(
    client,
    `SELECT toString(toDate(event_time)) AS day FROM scores
     WHERE run_id = {runId:String} AND model_role != 'shadow'
       AND event_time >= {from:DateTime64(3, 'UTC')} AND event_time < {to:DateTime64(3, 'UTC')}
     GROUP BY day ORDER BY day`,
    range,
    'listing the days of scores history for the rule backtest',
    'JSONCompactEachRow',
  )
  for (const [day] of days) {
    const dayMs = Date.parse(`${day}T00:00:00Z`)
    const from = Math.max(dayMs, options.fromMs)
    const to = Math.min(dayMs + DAY_MS, options.toMs)
    const raw = await queryRows<unknown[]>(
      client,
      query,
      { runId: options.runId, labelsRunId: options.labelsRunId, from: clickhouseTime(from), to: clickhouseTime(to) },
      'reading scores history for the rule backtest',
      'JSONCompactEachRow',
    )
    const rows = new Float32Array(raw.length * width)
    const history = raw.map((r, i): HistoryRow => {
      for (let j = 0; j < width; j++) rows[i * width + j] = Number(r[16 + j])
      const eventTimeMs = Number(r[11])
      const tx = {
        transaction_id: r[0],
        card_id: r[1],
        customer_id: r[2],
        merchant_id: r[3],
        terminal_id: r[4],
        amount: Number(r[5]),
        currency: r[6],
        mcc: r[7],
        country: r[8],
        card_country: r[9],
        channel: r[10],
        event_time: eventTimeMs,
        eventTimeMs,
      } as Transaction
      const role = String(r[13])
      return {
        tx,
        rows,
        at: i * width,
        score: Number(r[12]),
        modelScored: role !== 'fallback' && role !== 'rules',
        decision: String(r[14]),
        fraud: r[15] === true || r[15] === 1,
      }
    })
    yield { day, rows: history }
  }
}
