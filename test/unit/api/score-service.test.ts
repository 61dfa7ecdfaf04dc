import assert from 'node:assert/strict'
import { test } from 'node:test'
import { DecisionCache } from '../../../src/api/decision-cache.js'
import { DecisionWaiter, transactionIdOf } from '../../../src/api/decision-waiter.js'
import { createFallbackAnswer } from '../../../src/api/fallback-answer.js'
import { ScoreService, type DecisionOfRecord } from '../../../src/api/score-service.js'
import type { DecisionV1 } from '../../../src/core/records.js'
import type { Transaction } from '../../../src/core/transaction-v1.js'
import { createLogger } from '../../../src/observability/logger.js'
import { DEFAULT_FALLBACK_RULES } from '../../../src/stages/decide/fallback-rules.js'
import { cardFraudFeatures } from '../../../topology/features.js'

const log = createLogger({ level: 'silent' })

function tx(id: string, amount = 10): Transaction {
  return {
    transaction_id: id,
    card_id: `card-${id}`,
    customer_id: 'c',
    merchant_id: 'm',
    terminal_id: 't',
    amount,
    currency: 'EUR',
    mcc: '5411',
    country: 'FR',
    card_country: 'FR',
    channel: 'pos',
    event_time: 0,
    eventTimeMs: 0,
  }
}

function decision(id: string, score: number): DecisionV1 {
  return {
    transaction_id: id,
    card_id: `card-${id}`,
    event_time: new Date(0).toISOString(),
    decided_at: new Date(0).toISOString(),
    score,
    decision: score >= 0.7 ? 'decline' : 'approve',
    reasons: score >= 0.7 ? ['velocity_1h'] : [],
    rules: [],
    model: { name: 'gbdt', version: '1' },
    latency_ms: 2,
  }
}

test('the decision cache keeps the least recently used out past maxEntries and forgets entries past their TTL', () => {
  let nowMs = 0
  const cache = new DecisionCache<string>({ maxEntries: 2, ttlMs: 100 }, () => nowMs)
  cache.set('a', 'A')
  cache.set('b', 'B')
  nowMs = 10
  assert.equal(cache.get('a'), 'A')
  nowMs = 20
  cache.set('c', 'C')
  assert.equal(cache.get('b'), undefined, 'b was the least recently used')
  assert.equal(cache.evicted, 1)
  cache.set('a', 'A2')
  assert.equal(cache.get('a'), 'A', 'the first decision stays')
  nowMs = 100
  assert.equal(cache.get('a'), undefined, 'expired at 0 + 100')
  assert.equal(cache.get('c'), 'C')
  nowMs = 120
  assert.equal(cache.get('c'), undefined)
  assert.equal(cache.evicted, 1, 'expiry is not eviction')
})

test('a Decision v1 record gives its transaction_id without a parse; anything else is left to JSON.parse', () => {
  const d = decision('tx-"odd"', 0.1)
  assert.equal(transactionIdOf(Buffer.from(JSON.stringify(decision('tx-9', 0.1)))), 'tx-9')
  assert.equal(transactionIdOf(Buffer.from(JSON.stringify(d))), undefined, 'an escaped id')
  assert.equal(transactionIdOf(Buffer.from('{"card_id":"x","transaction_id":"tx-9"}')), undefined)
})

function service(options: {
  deadlineMs: number
  waiterMs?: () => number
  lookup?: (ids: readonly string[]) => Promise<Map<string, DecisionOfRecord>>
}) {
  const submitted: string[] = []
  const cache = new DecisionCache<DecisionOfRecord>({ maxEntries: 100, ttlMs: 60_000 })
  let svc!: ScoreService
  const waiter = new DecisionWaiter({
    maxPending: 100,
    settleMs: 60_000,
    onExpired: (ids) => svc.onExpired(ids),
    ...(options.waiterMs ? { nowMs: options.waiterMs } : {}),
  })
  svc = new ScoreService({
    submit: (t) => void submitted.push(t.transaction_id),
    waiter,
    cache,
    fallback: createFallbackAnswer(cardFraudFeatures, DEFAULT_FALLBACK_RULES),
    model: () => ({ name: 'gbdt', version: '1' }),
    deadlineMs: options.deadlineMs,
    ...(options.lookup ? { lookup: options.lookup } : {}),
    log,
  })
  return { svc, waiter, submitted, cache }
}

test('a retry while the first request waits joins its wait; after the decision, retries are answered from the cache; the transaction is produced once', async () => {
  const { svc, waiter, submitted } = service({ deadlineMs: 5_000 })
  const startedAtMs = performance.now()
  const first = svc.score([tx('a')], startedAtMs)
  const retry = svc.score([tx('a')], startedAtMs)
  assert.deepEqual(submitted, ['a'])
  svc.onDecisionRecord(Buffer.from(JSON.stringify(decision('other', 0.9))))
  assert.equal(waiter.size, 1, 'a decision nobody waits for is ignored')
  svc.onDecision(decision('a', 0.91))
  const [a1] = await first
  const [a2] = await retry
  assert.deepEqual([a1!.decision, a1!.score, a1!.fallback, a1!.replayed], ['decline', 0.91, false, false])
  assert.deepEqual([a2!.decision, a2!.score, a2!.replayed], ['decline', 0.91, true])
  const [a3] = await svc.score([tx('a')], performance.now())
  assert.deepEqual([a3!.decision, a3!.reasons, a3!.replayed], ['decline', ['velocity_1h'], true])
  assert.deepEqual(submitted, ['a'], 'produced once')
  waiter.close()
})

test('past the deadline the fallback rules answer on the transaction alone; the late decision then answers retries', async () => {
  const { svc, waiter, submitted } = service({ deadlineMs: 20 })
  const [zero, plain] = await svc.score([tx('z', 0), tx('p', 12.5)], performance.now())
  assert.equal(zero!.fallback, true)
  assert.equal(zero!.score, null)
  assert.deepEqual([zero!.decision, zero!.rules], ['review', ['fallback:deadline', 'fallback:is_zero_amount>=1']])
  assert.deepEqual([plain!.decision, plain!.rules], ['approve', ['fallback:deadline']])
  // libuv's timer clock counts whole milliseconds from the loop's last turn: a 20 ms timer may fire up to a
  // millisecond and a bit early by performance.now(). Not at once is what this checks.
  assert.ok(plain!.latency_ms >= 18, `answered at the deadline (${plain!.latency_ms} ms)`)
  svc.onDecisionRecord(Buffer.from(JSON.stringify(decision('p', 0.2))))
  const [retry] = await svc.score([tx('p', 12.5)], performance.now())
  assert.deepEqual([retry!.fallback, retry!.score, retry!.replayed], [false, 0.2, true])
  assert.deepEqual(submitted, ['z', 'p'])
  waiter.close()
})

test('a wait that expires without a decision is settled from the recorded decisions, and retries meanwhile are not produced again', async () => {
  let answerLookup!: (found: Map<string, DecisionOfRecord>) => void
  const asked: string[][] = []
  let waiterMs = 0
  const { svc, waiter, submitted } = service({
    deadlineMs: 5,
    waiterMs: () => waiterMs,
    lookup: (ids) => {
      asked.push([...ids])
      return new Promise((resolve) => (answerLookup = resolve))
    },
  })
  const [first] = await svc.score([tx('old')], performance.now())
  assert.equal(first!.fallback, true, 'the stream dropped the record as a duplicate: nothing decides it')
  waiterMs = 60_000
  const sweeping = waiter.sweep()
  assert.deepEqual(asked, [['old']])
  const [meanwhile] = await svc.score([tx('old')], performance.now())
  assert.deepEqual([meanwhile!.fallback, meanwhile!.replayed], [true, true], 'joined the wait being settled')
  answerLookup(
    new Map([
      [
        'old',
        { decision: 'review', score: 0.5, reasons: ['abroad'], rules: [], model: { name: 'gbdt', version: '1' } },
      ],
    ]),
  )
  await sweeping
  const [settled] = await svc.score([tx('old')], performance.now())
  assert.deepEqual(
    [settled!.fallback, settled!.decision, settled!.score, settled!.replayed],
    [false, 'review', 0.5, true],
  )
  assert.deepEqual(submitted, ['old'], 'produced once, whatever the retries')
  waiter.close()
})
