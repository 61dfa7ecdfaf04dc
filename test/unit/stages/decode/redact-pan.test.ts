import assert from 'node:assert/strict'
import { test } from 'node:test'
import { redactPans } from '../../../../src/stages/decode/redact-pan.js'

const redact = (s: string) => Buffer.from(redactPans(Buffer.from(s))).toString()

test('Luhn-valid digit runs are masked but for the last four, with or without separators', () => {
  assert.equal(redact('{"card_id":"4111111111111111"}'), '{"card_id":"************1111"}')
  assert.equal(redact('pan 4111 1111 1111 1111 end'), 'pan **** **** **** 1111 end')
  assert.equal(redact('5500-0000-0000-0004'), '****-****-****-0004')
})

test('other numbers are left alone', () => {
  assert.equal(redact('4111111111111112'), '4111111111111112')
  assert.equal(redact('amount 12345, time 1767225600000'), 'amount 12345, time 1767225600000')
  assert.equal(redact('41111111111111111111111'), '41111111111111111111111')
})

test('the input buffer is not modified', () => {
  const input = Buffer.from('4111111111111111')
  redactPans(input)
  assert.equal(input.toString(), '4111111111111111')
})
