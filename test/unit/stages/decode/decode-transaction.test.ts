import assert from 'node:assert/strict'
import { test } from 'node:test'
import { pack } from 'msgpackr'
import { decodeTransaction } from '../../../../src/stages/decode/decode-transaction.js'

const base = {
  transaction_id: 'tx1',
  card_id: 'card_a',
  customer_id: 'c1',
  merchant_id: 'm1',
  terminal_id: 't1',
  amount: 10,
  currency: 'EUR',
  mcc: '5411',
  country: 'FR',
  card_country: 'DE',
  channel: 'ecom',
  entry_mode: 'token',
  event_time: '2026-01-01T12:00:00+01:00',
}
const json = (v: unknown) => Buffer.from(JSON.stringify(v))
const options = { maxRecordBytes: 4096 }
const reasonOf = (bytes: Uint8Array | null) => {
  const r = decodeTransaction(bytes, options)
  return r.kind === 'invalid' ? r.reason : 'ok'
}

test('a valid JSON transaction decodes with event time resolved to epoch ms', () => {
  const r = decodeTransaction(json(base), options)
  assert.equal(r.kind, 'ok')
  assert.equal(r.kind === 'ok' && r.tx.eventTimeMs, Date.parse('2026-01-01T11:00:00Z'))
})

test('msgpack and epoch-ms event times decode to the same transaction', () => {
  const r = decodeTransaction(pack({ ...base, event_time: Date.parse('2026-01-01T11:00:00Z') }), options)
  assert.equal(r.kind === 'ok' && r.tx.eventTimeMs, Date.parse('2026-01-01T11:00:00Z'))
})

test('unknown fields are ignored and __proto__ keys cannot pollute prototypes', () => {
  const r = decodeTransaction(
    Buffer.from(`{"__proto__":{"polluted":1},"extra":"x",${JSON.stringify(base).slice(1)}`),
    options,
  )
  assert.equal(r.kind, 'ok')
  assert.equal(({} as Record<string, unknown>).polluted, undefined)
  assert.equal(r.kind === 'ok' && 'extra' in r.tx, false)
})

test('each kind of bad input has its own reason', () => {
  assert.equal(reasonOf(null), 'empty')
  assert.equal(reasonOf(Buffer.alloc(0)), 'empty')
  assert.equal(reasonOf(Buffer.alloc(5000, 0x7b)), 'too_large')
  assert.equal(reasonOf(Buffer.from('not json')), 'malformed')
  assert.equal(reasonOf(Buffer.from('{"a":')), 'malformed')
  assert.equal(reasonOf(Buffer.from('[1,2]')), 'malformed')
  assert.equal(reasonOf(json({ ...base, amount: '10' })), 'wrong_type')
  assert.equal(reasonOf(json({ ...base, terminal_id: undefined })), 'missing_field')
  assert.equal(reasonOf(json({ ...base, channel: 'fax' })), 'unknown_enum')
  assert.equal(reasonOf(json({ ...base, entry_mode: 'telepathy' })), 'unknown_enum')
  assert.equal(reasonOf(json({ ...base, card_id: '4111111111111111' })), 'pan_in_card_id')
  assert.equal(reasonOf(json({ ...base, card_id: '4111-1111-1111-1111' })), 'pan_in_card_id')
  assert.equal(reasonOf(json({ ...base, currency: 'XYZ' })), 'invalid_value')
  assert.equal(reasonOf(json({ ...base, country: 'ZZ' })), 'invalid_value')
  assert.equal(reasonOf(json({ ...base, mcc: '54111' })), 'invalid_value')
  assert.equal(reasonOf(json({ ...base, amount: 1e10 })), 'invalid_value')
  assert.equal(reasonOf(json({ ...base, event_time: '2026-01-01T12:00:00' })), 'invalid_value')
})

test('a PAN outranks other issues and is never echoed in the message', () => {
  const r = decodeTransaction(json({ ...base, amount: 'x', card_id: '4111111111111111' }), options)
  assert.equal(r.kind === 'invalid' && r.reason, 'pan_in_card_id')
  assert.ok(r.kind === 'invalid' && !r.message.includes('4111'))
})

test('a 16-digit card id that fails Luhn is a token, not a PAN', () => {
  assert.equal(reasonOf(json({ ...base, card_id: '4111111111111112' })), 'ok')
})

test('amount 0 is valid (card verification)', () => {
  assert.equal(reasonOf(json({ ...base, amount: 0 })), 'ok')
})
