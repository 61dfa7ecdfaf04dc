import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decodeTransaction } from '../../../src/stages/decode/decode-transaction.js'
import { TransactionGenerator, type GeneratedRecord } from '../../../src/generator/transaction-generator.js'

const take = (g: TransactionGenerator, n: number) => Array.from({ length: n }, () => g.next())

test('the same seed gives the same records, another seed other records', () => {
  const a = take(new TransactionGenerator({ seed: 9, invalidRate: 0.01, duplicateRate: 0.01 }), 2_000)
  const b = take(new TransactionGenerator({ seed: 9, invalidRate: 0.01, duplicateRate: 0.01 }), 2_000)
  const c = take(new TransactionGenerator({ seed: 10, invalidRate: 0.01, duplicateRate: 0.01 }), 2_000)
  assert.deepEqual(
    a.map((r) => r.value.toString('base64')),
    b.map((r) => r.value.toString('base64')),
  )
  assert.notDeepEqual(
    a.map((r) => r.value.toString('base64')),
    c.map((r) => r.value.toString('base64')),
  )
})

test('valid records pass the Transaction v1 schema, invalid ones fail it, duplicates repeat an earlier record', () => {
  const records = take(
    new TransactionGenerator({ seed: 3, invalidRate: 0.02, duplicateRate: 0.02, format: 'mixed' }),
    20_000,
  )
  const seen = new Set<string>()
  for (const r of records.filter((x) => x.topic === 'transactions')) {
    const decoded = decodeTransaction(r.value, { maxRecordBytes: 65_536 })
    if (r.intent.kind === 'invalid') assert.equal(decoded.kind, 'invalid', r.intent.invalid)
    else {
      assert.equal(decoded.kind, 'ok')
      const id = decoded.kind === 'ok' ? decoded.tx.transaction_id : ''
      assert.equal(seen.has(id), r.intent.kind === 'duplicate')
      seen.add(id)
    }
  }
})

test('fraud is 0.5–2 % at the default rate, in all three patterns, with labels days later', () => {
  const g = new TransactionGenerator({ seed: 4 })
  const records = take(g, 150_000)
  const valid = records.filter((r): r is GeneratedRecord & { intent: { kind: 'valid' } } => r.intent.kind === 'valid')
  const fraud = valid.filter((r) => r.intent.kind === 'valid' && r.intent.isFraud)
  const rate = fraud.length / valid.length
  assert.ok(rate > 0.005 && rate < 0.02, `fraud rate ${rate}`)
  const patterns = new Set(fraud.map((r) => (r.intent.kind === 'valid' ? r.intent.pattern : undefined)))
  assert.deepEqual([...patterns].sort(), ['card_testing', 'compromised_card', 'compromised_terminal'])
  const labels = [...records.filter((r) => r.topic === 'labels'), ...g.drainLabels()].map(
    (r) => JSON.parse(r.value.toString()) as { transaction_id: string; is_fraud: boolean; reported_at: string },
  )
  const eventTime = new Map(valid.map((r) => [r.intent.transactionId, r.eventTimeMs]))
  const fraudLabels = labels.filter((l) => l.is_fraud)
  assert.equal(fraudLabels.length, fraud.length, 'every fraud gets a label')
  for (const l of fraudLabels) {
    const delayDays = (Date.parse(l.reported_at) - eventTime.get(l.transaction_id)!) / 86_400_000
    assert.ok(delayDays >= 0.5 && delayDays <= 30, `label delay ${delayDays} days`)
  }
})

test('compromised cards burst at night and abroad with large amounts', () => {
  const records = take(new TransactionGenerator({ seed: 8, fraudRate: 0.02 }), 100_000)
  const txs = records
    .filter((r) => r.intent.kind === 'valid')
    .map((r) => ({
      intent: r.intent,
      tx: JSON.parse(r.value.toString()) as {
        country: string
        card_country: string
        event_time: string
        amount: number
      },
    }))
  const cc = txs.filter((x) => x.intent.kind === 'valid' && x.intent.pattern === 'compromised_card')
  const night =
    cc.filter((x) => {
      const h = new Date(x.tx.event_time).getUTCHours()
      return h >= 22 || h < 6
    }).length / cc.length
  const abroad = cc.filter((x) => x.tx.country !== x.tx.card_country).length / cc.length
  const legit = txs.filter((x) => x.intent.kind === 'valid' && !x.intent.isFraud)
  const mean = (xs: { tx: { amount: number } }[]) => xs.reduce((s, x) => s + x.tx.amount, 0) / xs.length
  assert.ok(night > 0.55, `night share ${night}`)
  assert.ok(abroad > 0.45, `abroad share ${abroad}`)
  assert.ok(mean(cc) > 3 * mean(legit), 'amounts far above normal')
})
