import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { OutgoingRecord, RecordSink } from '../../src/core/ports.js'
import { TransactionGenerator, type GeneratedRecord } from '../../src/generator/transaction-generator.js'
import { MemoryRecordSink } from '../../src/testing/memory-sinks.js'
import {
  SIMPLE_FEATURES,
  cardFraudDriver,
  transactionRecord as tx,
  type ScoreFn,
} from '../helpers/card-fraud-driver.js'

const FEATURES = SIMPLE_FEATURES

/** Thresholds 0.4 / 0.7 by default: 400 reviews, 700 declines, 950 is critical with criticalScore 0.95. */
const amountModel: ScoreFn = (row) => row[0]! / 1_000
/** Spreads generated amounts over [0, 1): a good share of reviews and declines. */
const spreadModel: ScoreFn = (row) => (row[0]! * 7.31) % 1

function transactions(seed: number, count: number): GeneratedRecord[] {
  const generator = new TransactionGenerator({ seed })
  const records: GeneratedRecord[] = []
  while (records.length < count) {
    const record = generator.next()
    if (record.topic === 'transactions') records.push(record)
  }
  return records
}

test('every review is in exactly one digest and every decline alerts at once, offsets committed to the end', async () => {
  const { driver, pipe, decisions, alerts, digests } = await cardFraudDriver({
    features: FEATURES,
    model: spreadModel,
    partitions: 3,
    overrides: {
      'alerts.maxImmediatePerSecond': 0,
      'alerts.digest.intervalMs': 1_000,
      'alerts.digest.maxAlerts': 40,
    },
  })
  const records = transactions(5, 2_000)
  // In slices, time moving between them: digests are cut by size, by interval, and by the final flush.
  for (let i = 0; i < records.length; i += 250) {
    await pipe(records.slice(i, i + 250))
    await driver.advance(400)
  }
  await driver.close()

  const decided = decisions()
  assert.equal(decided.length, 2_000)
  const reviews = decided.filter((d) => d.decision === 'review').map((d) => d.transaction_id)
  const declines = decided.filter((d) => d.decision === 'decline').map((d) => d.transaction_id)
  assert.ok(reviews.length > 300 && declines.length > 300, `${reviews.length} reviews, ${declines.length} declines`)

  const sent = digests()
  const entries = sent.flatMap((d) => d.groups.flatMap((g) => g.entries))
  assert.deepEqual(entries.map((e) => e.transaction_id).sort(), [...reviews].sort(), 'each review once, nothing else')
  assert.ok(entries.every((e) => e.severity === 'low' && !e.degraded))
  assert.deepEqual(
    alerts()
      .map((a) => a.transaction_id)
      .sort(),
    [...declines].sort(),
  )
  assert.equal(new Set(sent.map((d) => d.digest_id)).size, sent.length)
  assert.ok(sent.length > 3 * 3, `${sent.length} digests`)
  assert.ok(sent.some((d) => d.alerts === 40) && sent.some((d) => d.alerts < 40), 'cut by size and by time')
  for (const d of sent) {
    assert.equal(
      d.alerts,
      d.groups.reduce((n, g) => n + g.count, 0),
    )
    const offsets = d.groups.flatMap((g) => g.entries.map((e) => e.offset))
    assert.equal(Math.min(...offsets), d.source.first_offset)
    assert.equal(Math.max(...offsets), d.source.last_offset)
  }
  assert.equal(driver.stats.digestAlerts, reviews.length)
  assert.equal(driver.stats.digests, sent.length)
  assert.equal(driver.stats.alerts, declines.length)
  let committed = 0
  for (let p = 0; p < 3; p++) committed += driver.source.committedOffset(p) ?? 0
  assert.equal(committed, 2_000)
})

/** Acknowledges every record at once, except digests, which wait for `release()`. */
class HeldDigests implements RecordSink {
  readonly inner = new MemoryRecordSink()
  readonly #held: (() => void)[] = []
  get records(): OutgoingRecord[] {
    return this.inner.records
  }
  send(record: OutgoingRecord, onAck: () => void): void {
    this.inner.send(record, () => {})
    if (record.topic === 'alerts.digest') this.#held.push(onAck)
    else onAck()
  }
  release(): void {
    for (const ack of this.#held.splice(0)) ack()
  }
  valuesOf<T>(topic: string): T[] {
    return this.inner.valuesOf<T>(topic)
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

test("a review's offset is not committed before the digest holding it is acknowledged", async () => {
  const producer = new HeldDigests()
  const { driver } = await cardFraudDriver({
    features: FEATURES,
    model: amountModel,
    producer: producer as unknown as MemoryRecordSink,
    overrides: { 'alerts.digest.intervalMs': 60_000 },
  })
  const t0 = Date.UTC(2026, 0, 5)
  await driver.pipe([
    tx('tx-0', { amount: 10, eventTimeMs: t0 }),
    tx('tx-1', { amount: 500, eventTimeMs: t0 + 1 }),
    tx('tx-2', { amount: 10, eventTimeMs: t0 + 2 }),
    tx('tx-3', { amount: 10, eventTimeMs: t0 + 3 }),
  ])
  await driver.advance(1_000)
  assert.equal(driver.source.committedOffset(0), 1, 'held at the review while its digest is open')
  assert.equal(producer.valuesOf('alerts.digest').length, 0)
  await driver.advance(60_000)
  assert.equal(producer.valuesOf('alerts.digest').length, 1, 'cut by its interval')
  assert.equal(driver.source.committedOffset(0), 1, 'held until the digest is acknowledged')
  producer.release()
  await driver.advance(200)
  assert.equal(driver.source.committedOffset(0), 4)
  await driver.close()
})

test('past maxImmediatePerSecond, high alerts degrade into the digest while critical ones still go at once', async () => {
  const { driver, alerts, digests } = await cardFraudDriver({
    features: FEATURES,
    model: amountModel,
    overrides: { 'alerts.maxImmediatePerSecond': 2, 'alerts.criticalScore': 0.95 },
  })
  const t0 = Date.UTC(2026, 0, 5)
  const amounts = [800, 800, 800, 990, 800, 800, 800, 990, 500]
  await driver.pipe(amounts.map((amount, i) => tx(`tx-${i}`, { amount, eventTimeMs: t0 + i })))
  // A second later the bucket has refilled: a high alert goes at once again.
  await driver.advance(1_000)
  await driver.pipe([tx('tx-9', { amount: 800, eventTimeMs: t0 + 1_000 })])
  await driver.close()

  assert.deepEqual(
    alerts().map((a) => `${a.transaction_id}:${a.severity}`),
    ['tx-0:high', 'tx-1:high', 'tx-3:critical', 'tx-7:critical', 'tx-9:high'],
  )
  const entries = digests().flatMap((d) => d.groups.flatMap((g) => g.entries))
  assert.deepEqual(entries.map((e) => `${e.transaction_id}:${e.severity}:${e.degraded}`).sort(), [
    'tx-2:high:true',
    'tx-4:high:true',
    'tx-5:high:true',
    'tx-6:high:true',
    'tx-8:low:false',
  ])
  assert.equal(driver.stats.alerts, 5)
  assert.equal(driver.stats.digestAlerts, 5)
})
