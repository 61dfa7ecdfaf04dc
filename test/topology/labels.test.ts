import assert from 'node:assert/strict'
import { test } from 'node:test'
import { loadConfig } from '../../src/config/load.js'
import type { LabelSink, TopicPartition } from '../../src/core/ports.js'
import type { DeadLetter } from '../../src/core/records.js'
import type { LabelRow } from '../../src/stages/sinks/label-row.js'
import { MemoryRecordSink, MemoryScoreSink } from '../../src/testing/memory-sinks.js'
import { TopologyTestDriver } from '../../src/testing/topology-test-driver.js'
import { describeLabels, labels, labelsStats, type LabelsStats } from '../../topology/labels.js'

const config = loadConfig({ overrides: { environment: 'test' } })
const REPORTED_MS = Date.parse('2025-03-01T10:00:00Z')

/** A Label v1 record keyed by its transaction, as the labels topic carries it. */
function labelRecord(
  id: string,
  fields: { partition?: number; isFraud?: boolean; source?: string; reportedAtMs?: number; extra?: object } = {},
) {
  const reportedAtMs = fields.reportedAtMs ?? REPORTED_MS
  const value = {
    transaction_id: id,
    is_fraud: fields.isFraud ?? true,
    source: fields.source ?? 'chargeback',
    reported_at: new Date(reportedAtMs).toISOString(),
    ...fields.extra,
  }
  return {
    partition: fields.partition ?? 0,
    key: id,
    value: Buffer.from(JSON.stringify(value)),
    timestampMs: reportedAtMs + 5_000,
  }
}

/** Label rows held until the test acknowledges them, as ClickHouse acknowledges a batch. */
class ManualLabelSink implements LabelSink {
  readonly rows: { offset: number; row: Record<string, unknown>; ack: () => void }[] = []
  add(
    _topic: string,
    _partition: number,
    offset: number,
    rows: readonly Record<string, unknown>[],
    onAck: () => void,
  ): void {
    assert.equal(rows.length, 1, 'a label writes one row')
    this.rows.push({ offset, row: rows[0]!, ack: onAck })
  }
  async flush(): Promise<void> {}
  drop(): void {}
  release(): void {
    for (const r of this.rows.splice(0)) r.ack()
  }
}

async function labelsDriver(sink: LabelSink, highOffset: (tp: TopicPartition) => Promise<number>) {
  const producer = new MemoryRecordSink()
  const driver = await TopologyTestDriver.create<LabelsStats>({
    topology: labels({ producer, labels: sink, labelsHighOffset: highOffset }, { config, runId: 'live' }),
    partitions: 2,
    stats: labelsStats,
  })
  return { driver, producer }
}

test('the labels topology description is stable, so graph changes show up in review', () => {
  assert.equal(
    describeLabels(config),
    `topology labels
 1. labels        source  consumer group fraudstream.labels-sink, key = transaction_id (topic labels)
 2. decode-label  map     JSON or msgpack → Label v1 (zod); failures → dead letters with a reason
 3. labels-table  sink    one row per label into ClickHouse \`labels\`, batched across partitions, one dedup token a batch
 4. dead-letters  dlq     failed records with their reason and stage (topic transactions.dlq)
 5. commit        commit  per partition, up to the highest offset every sink acknowledged`,
  )
})

test('each valid label becomes one labels row with its source position; an invalid one goes to the dead-letter topic with its reason', async (t) => {
  const sink = new MemoryScoreSink()
  const { driver, producer } = await labelsDriver(sink, (tp) => sink.highOffset(tp))
  t.after(() => driver.close())
  await driver.pipe([
    labelRecord('tx-1', {
      extra: {
        card_id: 'card_1',
        terminal_id: 'ter_1',
        merchant_id: 'mer_1',
        transaction_time: '2025-02-20T08:00:00.250Z',
      },
    }),
    labelRecord('tx-2', { partition: 1, isFraud: false, source: 'analyst' }),
    { partition: 0, key: 'tx-3', value: Buffer.from('{"transaction_id":"tx-3","is_fraud":"yes"}'), timestampMs: 1 },
    labelRecord('tx-4', { source: 'police' }),
  ])
  await driver.advance(1_000)

  const rows = sink.rows.map((r) => r.row as LabelRow)
  assert.deepEqual(rows[0], {
    transaction_id: 'tx-1',
    card_id: 'card_1',
    is_fraud: true,
    source: 'chargeback',
    reported_at: '2025-03-01 10:00:00.000',
    transaction_time: '2025-02-20 08:00:00.250',
    terminal_id: 'ter_1',
    merchant_id: 'mer_1',
    known_at: '2025-03-01 10:00:05.000',
    source_topic: 'labels',
    source_partition: 0,
    source_offset: 0,
    run_id: 'live',
  })
  assert.deepEqual(
    rows.map((r) => [r.transaction_id, r.source_partition, r.source_offset, r.card_id, r.transaction_time]),
    [
      ['tx-1', 0, 0, 'card_1', '2025-02-20 08:00:00.250'],
      ['tx-2', 1, 0, '', null],
    ],
    'an analyst label carries the id alone: absent strings are empty, an absent time is NULL',
  )
  const dead = producer.valuesOf<DeadLetter>(config.kafka.topics.dlq)
  assert.deepEqual(
    dead.map((d) => [d.stage, d.reason, d.topic, d.partition, d.offset]),
    [
      ['decode-label', 'wrong_type', 'labels', 0, 1],
      ['decode-label', 'unknown_enum', 'labels', 0, 2],
    ],
  )
  assert.match(dead[0]!.error.message, /is_fraud: .*source: .*reported_at: /, 'the message names every bad field')
  assert.deepEqual(driver.stats, { consumed: 4, invalid: 2, rows: 2, skipped: 0, stray: 0 })
  assert.equal(driver.source.committedOffset(0), 3)
  assert.equal(driver.source.committedOffset(1), 1)
})

test('a label offset is committed only after ClickHouse acknowledged its row', async (t) => {
  const sink = new ManualLabelSink()
  const { driver } = await labelsDriver(sink, async () => -1)
  t.after(() => driver.close())
  await driver.pipe([labelRecord('tx-1'), labelRecord('tx-2')])
  await driver.advance(1_000)
  assert.equal(sink.rows.length, 2)
  assert.equal(driver.source.committedOffset(0), undefined, 'nothing committed while the rows are unacknowledged')
  sink.release()
  await driver.advance(1_000)
  assert.equal(driver.source.committedOffset(0), 2)
})

test('after a restart that re-reads the topic, labels already in the table get no second row', async (t) => {
  const sink = new MemoryScoreSink()
  const records = [labelRecord('tx-1'), labelRecord('tx-2'), labelRecord('tx-3', { partition: 1 })]
  const first = await labelsDriver(sink, (tp) => sink.highOffset(tp))
  await first.driver.pipe(records)
  await first.driver.close()
  assert.equal(sink.rows.length, 3)

  // The new member reads the same log from offset 0, as after a crash before the commit.
  const second = await labelsDriver(sink, (tp) => sink.highOffset(tp))
  t.after(() => second.driver.close())
  await second.driver.pipe([...records, labelRecord('tx-4'), labelRecord('tx-1', { isFraud: false })])
  await second.driver.advance(1_000)
  assert.deepEqual(
    sink.rows.map((r) => `${r.partition}:${r.offset}:${(r.row as LabelRow).transaction_id}`),
    ['0:0:tx-1', '0:1:tx-2', '1:0:tx-3', '0:2:tx-4', '0:3:tx-1'],
    'one row per label record: a second label of a transaction is a new row, a re-read one is not',
  )
  assert.equal(second.driver.stats.skipped, 3)
})
