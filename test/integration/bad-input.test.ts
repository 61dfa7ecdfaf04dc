import assert from 'node:assert/strict'
import { test } from 'node:test'
import { pack } from 'msgpackr'
import { KafkaProducerSink } from '../../src/adapters/kafka/producer-sink.js'
import type { DeadLetter, DecisionV1 } from '../../src/core/records.js'
import { createPipeline } from '../../src/main.js'
import { readTopic, waitFor, useMockCluster } from '../helpers/kafka.js'
import { testConfig, testLogger } from '../helpers/pipeline.js'
import { teardown } from '../helpers/teardown.js'

const cluster = useMockCluster()

const valid = (id: string) => ({
  transaction_id: id,
  card_id: 'card_bad_input_1',
  customer_id: 'cus_1',
  merchant_id: 'mer_1',
  terminal_id: 'ter_1',
  amount: 42.5,
  currency: 'EUR',
  mcc: '5411',
  country: 'FR',
  card_country: 'FR',
  channel: 'pos',
  event_time: '2026-03-01T10:00:00Z',
})

test('bad input lands in the DLQ with a distinct reason each, and the job keeps scoring what follows', async (t) => {
  const topics = {
    transactions: `tx-${Math.random().toString(36).slice(2)}`,
    decisions: 'decisions-bad',
    alerts: 'alerts-bad',
    dlq: 'dlq-bad',
    labels: 'labels-bad',
  }
  const { config, cleanup } = testConfig({ 'kafka.topics': topics })
  teardown(t, cleanup)
  const { log } = testLogger()
  const pipeline = await createPipeline({ config, kafka: { bootstrapServers: cluster.bootstrapServers }, log })
  teardown(t, () => pipeline.close())
  const producer = await KafkaProducerSink.connect({
    config: { 'bootstrap.servers': cluster.bootstrapServers, 'message.max.bytes': 4_000_000 },
    log,
  })
  teardown(t, () => producer.close())

  const cases: { name: string; value: Buffer; reason: string }[] = [
    { name: 'non-JSON bytes', value: Buffer.from([0xff, 0xfe, 0x00, 0x41]), reason: 'malformed' },
    { name: 'truncated JSON', value: Buffer.from('{"transaction_id": "t1", "amount": 1'), reason: 'malformed' },
    {
      name: 'wrong type',
      value: Buffer.from(JSON.stringify({ ...valid('t2'), amount: '42.50' })),
      reason: 'wrong_type',
    },
    {
      name: 'missing field',
      value: Buffer.from(JSON.stringify({ ...valid('t3'), terminal_id: undefined })),
      reason: 'missing_field',
    },
    {
      name: 'unknown enum',
      value: Buffer.from(JSON.stringify({ ...valid('t4'), channel: 'carrier-pigeon' })),
      reason: 'unknown_enum',
    },
    {
      name: 'PAN-looking card id',
      value: Buffer.from(JSON.stringify({ ...valid('t5'), card_id: '4111 1111 1111 1111' })),
      reason: 'pan_in_card_id',
    },
    {
      name: '1 MB value',
      value: Buffer.from(JSON.stringify({ ...valid('t6'), note: 'x'.repeat(1_048_576) })),
      reason: 'too_large',
    },
    { name: 'empty message', value: Buffer.alloc(0), reason: 'empty' },
    {
      name: 'negative amount',
      value: Buffer.from(JSON.stringify({ ...valid('t7'), amount: -1 })),
      reason: 'invalid_value',
    },
    // Years ahead of the record's timestamp (now): let in, it would make every later transaction of the partition late.
    {
      name: 'far-future event time',
      value: Buffer.from(JSON.stringify({ ...valid('t8'), event_time: '2999-01-01T00:00:00Z' })),
      reason: 'event_time_ahead',
    },
  ]
  const good = [
    Buffer.from(JSON.stringify(valid('ok-json'))),
    pack({ ...valid('ok-msgpack'), event_time: Date.parse('2026-03-01T10:01:00Z') }),
    Buffer.from(
      JSON.stringify({ ...valid('ok-extra-fields'), event_time: '2026-03-01T10:02:00Z', loyalty_tier: 'gold' }),
    ),
  ]
  let acked = 0
  // One key, so one partition and a known order: every bad record sits before the good ones.
  for (const c of cases)
    producer.send({ topic: topics.transactions, key: 'card_bad_input_1', value: c.value }, () => acked++)
  for (const value of good) producer.send({ topic: topics.transactions, key: 'card_bad_input_1', value }, () => acked++)
  await producer.flush()
  assert.equal(acked, cases.length + good.length)

  await waitFor(() => pipeline.job.stats.consumed >= cases.length + good.length, {
    timeoutMs: 60_000,
    what: 'the job to consume the test records',
  })
  await pipeline.job.stop()
  assert.equal(pipeline.job.failure, undefined, 'bad input never fails the job')

  const dead = (await readTopic(cluster.bootstrapServers, topics.dlq)).map(
    (r) => JSON.parse(r.value.toString()) as DeadLetter,
  )
  assert.deepEqual(
    dead.map((d) => d.reason),
    cases.map((c) => c.reason),
  )
  for (const [i, letter] of dead.entries()) {
    const c = cases[i]!
    assert.equal(letter.stage, 'decode', c.name)
    assert.equal(letter.topic, topics.transactions)
    assert.equal(letter.raw_size_bytes, c.value.length, `${c.name}: size of the original value`)
    assert.match(letter.error.code, /^FS_ERR_DECODE_/)
  }
  const tooLarge = dead.find((d) => d.reason === 'too_large')!
  assert.equal(tooLarge.raw_truncated, true, 'a huge value is truncated in the DLQ')
  const pan = dead.find((d) => d.reason === 'pan_in_card_id')!
  assert.ok(
    !Buffer.from(pan.raw, 'base64').toString().replace(/\s/g, '').includes('4111111111111111'),
    'the PAN is masked in the DLQ copy',
  )
  assert.ok(!pan.error.message.includes('4111'), 'the error message does not echo the PAN')

  const decisions = (await readTopic(cluster.bootstrapServers, topics.decisions)).map(
    (r) => JSON.parse(r.value.toString()) as DecisionV1,
  )
  assert.deepEqual(
    decisions.map((d) => d.transaction_id),
    ['ok-json', 'ok-msgpack', 'ok-extra-fields'],
    'valid JSON and msgpack after the bad records are scored, in order',
  )
})
