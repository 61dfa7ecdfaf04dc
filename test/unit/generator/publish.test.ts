import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { OutgoingRecord, RecordSink } from '../../../src/core/ports.js'
import { publishGenerated } from '../../../src/generator/publish.js'
import { TransactionGenerator } from '../../../src/generator/transaction-generator.js'

const topics = { transactions: 'tx', labels: 'tx.labels' }

/** Keeps what was sent and when; acknowledges at once. */
function recordingSink(): RecordSink & { sent: { record: OutgoingRecord; sentMs: number }[] } {
  const sent: { record: OutgoingRecord; sentMs: number }[] = []
  return {
    sent,
    send: (record, onAck) => {
      sent.push({ record, sentMs: Date.now() })
      onAck()
    },
    flush: async () => undefined,
    close: async () => undefined,
  }
}

test('scheduled timestamps follow the rate from the start, however late the records go out', async () => {
  const sink = recordingSink()
  // The consumer lets 100 records out, then stalls for 300 ms: an open-loop schedule keeps counting meanwhile.
  const generator = new TransactionGenerator({ seed: 5, invalidRate: 0, duplicateRate: 0 })
  let consumed = 0
  const startedMs = Date.now()
  setTimeout(() => (consumed = 1_000), 300)
  const result = await publishGenerated({
    generator,
    sink,
    topics,
    count: 400,
    rate: 1_000,
    maxLead: { records: 100, consumed: () => consumed },
    recordTimestamp: 'scheduled',
  })
  const transactions = sink.sent.filter((s) => s.record.topic === topics.transactions)
  assert.equal(transactions.length, 400)
  const first = transactions[0]!.record.timestampMs!
  assert.ok(
    first >= startedMs && first <= startedMs + 20,
    `the first record is due at the start (${first - startedMs} ms)`,
  )
  transactions.forEach(({ record }, n) => assert.equal(record.timestampMs, Math.floor(first + n), `record ${n}`))
  // Record 100 was due at 100 ms and waited for the stall to end at 300 ms: its timestamp still says 100 ms.
  const stalled = transactions[100]!
  assert.ok(
    stalled.sentMs - stalled.record.timestampMs! >= 150,
    `sent ${stalled.sentMs - stalled.record.timestampMs!} ms late`,
  )
  assert.ok(result.maxBehindScheduleMs! >= 150, `behind schedule ${result.maxBehindScheduleMs} ms`)
  // Every record goes out no earlier than it is due.
  for (const { record, sentMs } of transactions) assert.ok(sentMs >= record.timestampMs!)
})

test('send-time timestamps are the time of sending; scheduled at rate max falls back to it', async () => {
  for (const [recordTimestamp, rate] of [
    ['send-time', 1_000],
    ['scheduled', 'max'],
  ] as const) {
    const sink = recordingSink()
    const generator = new TransactionGenerator({ seed: 5, invalidRate: 0, duplicateRate: 0 })
    let consumed = 0
    setTimeout(() => (consumed = 1_000), 200)
    const result = await publishGenerated({
      generator,
      sink,
      topics,
      count: 200,
      rate,
      maxLead: { records: 50, consumed: () => consumed },
      recordTimestamp,
    })
    // Read while the record is sent, just before the sink reads the clock itself: the same millisecond, or the one
    // before when the clock ticks between the two reads (an equality failed that way one run in a few).
    for (const { record, sentMs } of sink.sent)
      assert.ok(record.timestampMs! <= sentMs && sentMs - record.timestampMs! <= 1, recordTimestamp)
    if (rate === 'max') assert.equal(result.maxBehindScheduleMs, undefined)
    // The stall shows in the timestamps: the records after it carry the time they went out.
    const last = sink.sent.filter((s) => s.record.topic === topics.transactions).at(-1)!
    assert.ok(last.record.timestampMs! - sink.sent[0]!.record.timestampMs! >= 180, recordTimestamp)
  }
})
