import assert from 'node:assert/strict'
import { test } from 'node:test'
import { pino } from 'pino'
import { ErrorCode, FraudstreamError } from '../../../src/core/errors.js'
import type { CommitOffset, PartitionedSource, SourceHandlers } from '../../../src/core/ports.js'
import { createMetrics } from '../../../src/observability/metrics.js'
import { AckTracker } from '../../../src/runtime/ack-tracker.js'
import { LookupTask } from '../../../src/stages/lookups/lookup-task.js'
import { OffsetCommitter, type CommitTarget } from '../../../src/runtime/offset-committer.js'
import { lookupPlanOf } from '../../../src/stages/lookups/lookup-plan.js'
import { LookupTable } from '../../../src/stages/lookups/lookup-table.js'
import { cardFraudFeatures } from '../../../topology/features.js'

/** A source whose synchronous commits answer from `answers` in turn (true: accepted, false: refused, an Error: thrown). */
function scriptedSource(answers: (boolean | Error)[]): {
  source: PartitionedSource
  commits: CommitOffset[][]
  calls: string[]
  handlers: () => SourceHandlers
} {
  const commits: CommitOffset[][] = []
  const calls: string[] = []
  let handlers: SourceHandlers | undefined
  const source: PartitionedSource = {
    start: async (h) => void (handlers = h),
    pause: () => {},
    resume: () => {},
    commit: async (offsets, { sync }) => {
      if (!sync) return true
      commits.push([...offsets])
      const answer = answers.shift() ?? true
      if (answer instanceof Error) throw answer
      return answer
    },
    committed: async (partitions) => partitions.map(() => undefined),
    watermarks: async () => ({ low: 0, high: 1 }),
    stopPolling: async () => void calls.push('stopPolling'),
    stop: async () => void calls.push('stop'),
  }
  return { source, commits, calls, handlers: () => handlers! }
}

function target(acknowledgedThrough: number): CommitTarget {
  const tracker = new AckTracker(0)
  for (let offset = 0; offset <= acknowledgedThrough; offset++) {
    tracker.register(offset, 1)
    tracker.ack(offset)
  }
  return { tp: { topic: 'tx', partition: 0 }, tracker, lastCommitted: -1 }
}

test('a last commit refused mid-rebalance is sent again after the next rebalance callback, and only then', async () => {
  const { source, commits } = scriptedSource([false, true])
  const committer = new OffsetCommitter(source, () => undefined)
  const targets = [target(9)]
  const leaving = committer.commitBeforeLeaving(() => targets, 5_000)
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.equal(commits.length, 1, 'not resent before the member took part in the rebalance')
  committer.rebalanceEnded()
  assert.equal(await leaving, true)
  assert.deepEqual(
    commits.map((c) => c.map((o) => o.offset)),
    [[10], [10]],
  )
})

test('a last commit refused with no rebalance callback to follow gives up at the deadline', async () => {
  const { source, commits } = scriptedSource([false, true])
  const committer = new OffsetCommitter(source, () => undefined)
  const started = performance.now()
  assert.equal(await committer.commitBeforeLeaving(() => [target(3)], 100), false)
  assert.ok(performance.now() - started < 2_000)
  assert.equal(commits.length, 1)
})

test('a lookup task whose last commit throws still leaves the group, and reports the error', async () => {
  const { source, calls, handlers } = scriptedSource([
    new FraudstreamError(ErrorCode.kafkaCommit, 'commit failed: Local: Timed out', 'external', true),
  ])
  const producer = {
    send: (_record: unknown, onAck: () => void) => setImmediate(onAck),
    flush: async () => {},
    close: async () => {},
  }
  const task = new LookupTask({
    source,
    producer,
    table: new LookupTable(1),
    tableReader: { position: () => 0, highWatermark: async () => 0 },
    plan: lookupPlanOf(cardFraudFeatures, 60_000),
    topics: { labels: 'labels', facts: 'facts', tables: 'tables' },
    factsPartitions: 1,
    expectedSources: [],
    allowedLatenessMs: 60_000,
    maxRecordBytes: 65_536,
    flushIntervalMs: 50,
    publishIntervalMs: 1_000,
    commitIntervalMs: 100_000,
    drainTimeoutMs: 500,
    attribution: { resolve: async () => new Map() },
    attributionIntervalMs: 50,
    attributionTimeoutMs: 10_000,
    metrics: createMetrics(),
    log: pino({ level: 'silent' }),
  } as ConstructorParameters<typeof LookupTask>[0])
  await task.start()
  await handlers().onAssign([{ topic: 'labels', partition: 0 }])
  const label = { transaction_id: 'tx1', is_fraud: true, source: 'chargeback', reported_at: new Date().toISOString() }
  handlers().onRecords([
    {
      topic: 'labels',
      partition: 0,
      offset: 0,
      key: null,
      value: Buffer.from(JSON.stringify(label)),
      timestampMs: Date.now(),
    },
  ])
  await assert.rejects(task.stop(), /Timed out/)
  assert.deepEqual(calls, ['stopPolling', 'stop'])
})
