import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { AlertV1 } from '../../../../src/core/records.js'
import { DigestBuffer, type CutDigest } from '../../../../src/stages/sinks/alert-digest.js'

const TP = { topic: 'transactions', partition: 3 }

function alert(
  id: string,
  fields: { merchant?: string; reasons?: string[]; amount?: number; eventTimeMs?: number } = {},
): AlertV1 {
  return {
    transaction_id: id,
    card_id: `card-${id}`,
    event_time: new Date(fields.eventTimeMs ?? Date.UTC(2026, 0, 5)).toISOString(),
    decided_at: new Date().toISOString(),
    score: 0.5,
    decision: 'review',
    reasons: fields.reasons ?? ['velocity_1h'],
    rules: [],
    model: { name: 'm', version: '1' },
    latency_ms: Math.random(),
    severity: 'low',
    amount: fields.amount ?? 10,
    currency: 'EUR',
    merchant_id: fields.merchant ?? 'mer_1',
    terminal_id: 'ter_1',
    country: 'NL',
  }
}

const LIMITS = { intervalMs: 1_000, maxAlerts: 3, maxOffsetSpan: 100 }

test('a digest is cut when it holds maxAlerts alerts, and acknowledges exactly its own alerts', () => {
  const buffer = new DigestBuffer(LIMITS)
  const acked: number[] = []
  const add = (offset: number) =>
    buffer.add(TP, offset, alert(`tx-${offset}`), { degraded: false, nowMs: offset, ack: () => acked.push(offset) })
  assert.equal(add(5), undefined)
  assert.equal(add(9), undefined)
  const cut = add(12)!
  assert.equal(cut.digest.digest_id, 'transactions:3:5-12')
  assert.deepEqual(cut.digest.source, { topic: 'transactions', partition: 3, first_offset: 5, last_offset: 12 })
  assert.equal(cut.digest.alerts, 3)
  assert.equal(add(13), undefined)
  assert.deepEqual(acked, [])
  for (const ack of cut.acks) ack()
  assert.deepEqual(acked, [5, 9, 12])
  assert.equal(buffer.pending, 1)
})

test('a digest is cut intervalMs after its first alert, or once its partition moved maxOffsetSpan past it', () => {
  const buffer = new DigestBuffer(LIMITS)
  const other = { topic: 'transactions', partition: 4 }
  buffer.add(TP, 5, alert('a'), { degraded: false, nowMs: 0, ack: () => {} })
  buffer.add(other, 7, alert('b'), { degraded: false, nowMs: 500, ack: () => {} })
  assert.deepEqual(buffer.due(999), [])
  assert.deepEqual(
    buffer.due(1_000).map((c) => c.digest.digest_id),
    ['transactions:3:5-5'],
  )
  assert.deepEqual(buffer.seen(other, 106), [])
  assert.deepEqual(
    buffer.seen(other, 107).map((c) => c.digest.digest_id),
    ['transactions:4:7-7'],
  )
  assert.equal(buffer.pending, 0)
})

test('the offsets open digests hold back are bounded in total over partitions: the widest is cut first', () => {
  const buffer = new DigestBuffer(LIMITS)
  const p0 = { topic: 't', partition: 0 }
  const p1 = { topic: 't', partition: 1 }
  buffer.add(p0, 5, alert('a'), { degraded: false, nowMs: 0, ack: () => {} })
  buffer.add(p1, 7, alert('b'), { degraded: false, nowMs: 0, ack: () => {} })
  assert.deepEqual(buffer.seen(p0, 60), [])
  assert.deepEqual(
    buffer.seen(p1, 52).map((c) => c.digest.digest_id),
    ['t:0:5-5'],
    '55 + 45 offsets held: p0 (55) goes',
  )
  assert.equal(buffer.pending, 1)
})

test('alerts are grouped by merchant and primary reason, groups sorted, with counts and amounts; no wall-clock field', () => {
  const buffer = new DigestBuffer({ ...LIMITS, maxAlerts: 100 })
  const t0 = Date.UTC(2026, 0, 5)
  const adds = [
    alert('1', { merchant: 'mer_b', reasons: ['night', 'abroad'], amount: 10.1, eventTimeMs: t0 + 5_000 }),
    alert('2', { merchant: 'mer_a', reasons: ['velocity_1h'], amount: 20.2, eventTimeMs: t0 }),
    alert('3', { merchant: 'mer_b', reasons: ['night'], amount: 0.2, eventTimeMs: t0 + 1_000 }),
    alert('4', { merchant: 'mer_b', reasons: ['abroad', 'night'], amount: 1, eventTimeMs: t0 + 2_000 }),
  ]
  adds.forEach((a, i) => buffer.add(TP, 10 + i, a, { degraded: i === 3, nowMs: 0, ack: () => {} }))
  const [cut] = buffer.cutAll()
  const digest = cut!.digest
  assert.deepEqual(
    digest.groups.map((g) => [g.merchant_id, g.reason, g.count, g.amount, g.entries.map((e) => e.transaction_id)]),
    [
      ['mer_a', 'velocity_1h', 1, 20.2, ['2']],
      ['mer_b', 'abroad', 1, 1, ['4']],
      ['mer_b', 'night', 2, 10.3, ['1', '3']],
    ],
  )
  assert.equal(digest.from_event_time, new Date(t0).toISOString())
  assert.equal(digest.to_event_time, new Date(t0 + 5_000).toISOString())
  assert.equal(digest.degraded, 1)
  assert.equal(digest.groups[1]!.entries[0]!.offset, 13)
  const text = JSON.stringify(digest)
  assert.doesNotMatch(text, /decided_at|latency_ms/)
  // The same alerts decided at another time make the same record.
  const again = new DigestBuffer({ ...LIMITS, maxAlerts: 100 })
  adds.forEach((a, i) =>
    again.add(
      TP,
      10 + i,
      { ...a, latency_ms: 99, decided_at: 'later' },
      { degraded: i === 3, nowMs: 7, ack: () => {} },
    ),
  )
  assert.equal(JSON.stringify(again.cutAll()[0]!.digest), text)
})

test('dropping a partition forgets its open digest and keeps the others', () => {
  const buffer = new DigestBuffer(LIMITS)
  buffer.add(TP, 1, alert('a'), { degraded: false, nowMs: 0, ack: () => {} })
  buffer.add({ topic: 'transactions', partition: 0 }, 1, alert('b'), { degraded: false, nowMs: 0, ack: () => {} })
  buffer.drop(TP)
  assert.deepEqual(
    buffer.cutAll().map((c) => c.digest.digest_id),
    ['transactions:0:1-1'],
  )
})

test('any mix of adds, intervals, spans and flushes puts every alert in exactly one digest, ranges disjoint and increasing', () => {
  const op = fc.oneof(
    fc.record({
      kind: fc.constant('add' as const),
      partition: fc.integer({ min: 0, max: 2 }),
      gap: fc.integer({ min: 1, max: 60 }),
    }),
    fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 700 }) }),
    fc.record({
      kind: fc.constant('seen' as const),
      partition: fc.integer({ min: 0, max: 2 }),
      gap: fc.integer({ min: 1, max: 120 }),
    }),
    fc.record({ kind: fc.constant('flush' as const), partition: fc.option(fc.integer({ min: 0, max: 2 })) }),
  )
  fc.assert(
    fc.property(fc.array(op, { maxLength: 200 }), fc.integer({ min: 1, max: 6 }), (ops, maxAlerts) => {
      const buffer = new DigestBuffer({ intervalMs: 1_000, maxAlerts, maxOffsetSpan: 100 })
      const next = [0, 0, 0]
      let nowMs = 0
      const added: string[] = []
      const acked: string[] = []
      const cuts: CutDigest[] = []
      // Offsets the open digests hold back: each partition's last offset past its open digest's first alert.
      const firstOpen = new Map<number, number>()
      const held = () => [...firstOpen].reduce((n, [p, first]) => n + next[p]! - first, 0)
      const take = (c: CutDigest | CutDigest[] | undefined) => {
        for (const cut of c === undefined ? [] : Array.isArray(c) ? c : [c]) {
          firstOpen.delete(cut.digest.source.partition)
          cuts.push(cut)
          for (const ack of cut.acks) ack()
        }
      }
      for (const o of ops) {
        if (o.kind === 'add') {
          const tp = { topic: 't', partition: o.partition }
          const offset = (next[o.partition]! += o.gap)
          const id = `${o.partition}:${offset}`
          added.push(id)
          if (!firstOpen.has(o.partition)) firstOpen.set(o.partition, offset)
          take(buffer.add(tp, offset, alert(id), { degraded: false, nowMs, ack: () => acked.push(id) }))
        } else if (o.kind === 'tick') take(buffer.due((nowMs += o.ms)))
        else if (o.kind === 'seen') {
          take(buffer.seen({ topic: 't', partition: o.partition }, (next[o.partition]! += o.gap)))
          assert.ok(held() < 100, 'offsets held back stay under maxOffsetSpan')
        } else take(buffer.cutAll(o.partition === null ? undefined : { topic: 't', partition: o.partition }))
      }
      take(buffer.cutAll())
      const inDigests = cuts.flatMap((c) => c.digest.groups.flatMap((g) => g.entries.map((e) => e.transaction_id)))
      assert.deepEqual([...inDigests].sort(), [...added].sort())
      assert.deepEqual([...acked].sort(), [...added].sort())
      assert.equal(buffer.pending, 0)
      for (const c of cuts) {
        assert.ok(c.digest.alerts <= maxAlerts)
        assert.equal(c.digest.alerts, c.acks.length)
      }
      for (let p = 0; p < 3; p++) {
        const ranges = cuts.filter((c) => c.digest.source.partition === p).map((c) => c.digest.source)
        for (let i = 1; i < ranges.length; i++) assert.ok(ranges[i]!.first_offset > ranges[i - 1]!.last_offset)
      }
      assert.equal(new Set(cuts.map((c) => c.digest.digest_id)).size, cuts.length)
    }),
    { numRuns: 300 },
  )
})
