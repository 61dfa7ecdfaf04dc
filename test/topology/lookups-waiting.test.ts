import assert from 'node:assert/strict'
import { test } from 'node:test'
import { cardFraudDriver, transactionRecord } from '../helpers/card-fraud-driver.js'

const DAY_MS = 86_400_000

/** A transaction of a partition's own card, all at one terminal. */
const tx = (id: string, partition: number, eventTimeMs: number) =>
  transactionRecord(id, { card: `card_000000000000000${partition + 1}`, partition, eventTimeMs })

test('a live transaction on a quiet topic after a fresh start is released without waiting for the lookup tables', async () => {
  const { driver, scores } = await cardFraudDriver({ partitions: 2 })
  // The first markers of the two empty partitions (caught up: idle) reach the aggregators: the tables have progress.
  await driver.advance(100)
  const t0 = Date.UTC(2026, 0, 12, 12)
  // kcat's case: one transaction on partition 0; partition 1 stays empty.
  await driver.pipe([tx('live', 0, t0)])
  const lookups = driver.job.runner.counts.get('lookups')
  assert.equal(lookups?.get('waited') ?? 0, 0, 'released in the instant it arrived (one log-end query, no time)')
  await driver.advance(10)
  assert.deepEqual(
    scores.rows.map(({ row }) => row.transaction_id),
    ['live'],
    'decided after the inference linger alone',
  )
  assert.equal(driver.stats.lookupStale, 0)
  assert.equal(driver.stats.lookupWaited, 0)
  await driver.close()
})

test('a transaction whose window really is incomplete still waits: another owned partition has older records not read yet', async () => {
  const { driver, scores } = await cardFraudDriver({ partitions: 2 })
  await driver.advance(100)
  const t0 = Date.UTC(2026, 0, 12, 12)
  const p1 = { topic: driver.source.topic, partition: 1 }
  // A backfill on partition 1, appended but not read yet (its fetch lags): two days old, inside the live one's window.
  driver.source.pause([p1])
  for (const old of [tx('old-1', 1, t0 - 2 * DAY_MS), tx('old-2', 1, t0 - 2 * DAY_MS + 1_000)])
    driver.source.append(1, { key: Buffer.from(old.key), value: old.value, timestampMs: old.timestampMs })
  await driver.pipe([tx('live', 0, t0)])
  await driver.advance(1_000)
  assert.equal(scores.rows.length, 0, 'partition 1 was idle, but its log end shows records it has not read')

  driver.source.resume([p1])
  driver.source.poll()
  await driver.advance(300)
  const countOf = new Map(
    scores.rows.map(({ row }) => [row.transaction_id, (row.features as Record<string, number>).terminal_tx_count_7d]),
  )
  assert.equal(countOf.get('live'), 2, 'the backfill is in the live transaction’s terminal window')
  assert.equal(driver.stats.lookupStale, 0)
  assert.equal(driver.stats.lookupWaited, 1, 'the live one waited; the backfill did not')
  await driver.close()
})
