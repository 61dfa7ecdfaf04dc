import assert from 'node:assert/strict'
import { test } from 'node:test'
import { hashApiKey, type ApiKey } from '../../../src/api/api-keys.js'
import type { ScoreAnswer } from '../../../src/api/score-service.js'
import { rulesRoutes, type RulesActions } from '../../../src/api/rules-routes.js'
import { createApiServer, type ApiServerOptions } from '../../../src/api/server.js'
import { ErrorCode, FraudstreamError } from '../../../src/core/errors.js'
import type { Transaction } from '../../../src/core/transaction-v1.js'
import { createLogger } from '../../../src/observability/logger.js'

const SCORER_KEY = 'key-of-the-gateway'
const ADMIN_KEY = 'key-of-the-operator'
const keys: ApiKey[] = [
  { id: 'gateway', hash: hashApiKey(SCORER_KEY), scopes: ['score'], ratePerSecond: 2, burst: 3 },
  { id: 'operator', hash: hashApiKey(ADMIN_KEY), scopes: ['admin'], ratePerSecond: 100, burst: 100 },
]

const TX = {
  transaction_id: 'tx-1',
  card_id: 'card-1',
  customer_id: 'cust-1',
  merchant_id: 'm-1',
  terminal_id: 't-1',
  amount: 10,
  currency: 'EUR',
  mcc: '5411',
  country: 'FR',
  card_country: 'FR',
  channel: 'pos',
  event_time: '2026-01-05T12:00:00Z',
}

const answerOf = (tx: Transaction): ScoreAnswer => ({
  transaction_id: tx.transaction_id,
  decision: 'approve',
  score: 0.1,
  reasons: [],
  rules: [],
  model: { name: 'm', version: '1' },
  latency_ms: 1,
  fallback: false,
  replayed: false,
})

async function server(overrides: Partial<ApiServerOptions> = {}) {
  let nowMs = 0
  const scored: Transaction[][] = []
  const paused = { value: false }
  const app = await createApiServer({
    api: { maxBatch: 3, maxConcurrent: 4, bodyLimitBytes: 64 * 1024 },
    keys,
    scorer: {
      async score(txs) {
        scored.push([...txs])
        return txs.map(answerOf)
      },
    },
    maxEventTimeAheadMs: 86_400_000,
    admin: {
      promote: async (ref) => ({ registry: { champion: ref } }),
      pause: () => !paused.value && (paused.value = true),
      resume: () => paused.value && !(paused.value = false),
      get paused() {
        return paused.value
      },
    },
    log: createLogger({ level: 'silent' }),
    nowMs: () => nowMs,
    ...overrides,
  })
  return { app, scored, advance: (ms: number) => (nowMs += ms) }
}

const post = (url: string, payload: unknown, key?: string) => ({
  method: 'POST' as const,
  url,
  payload: payload as object,
  headers: key === undefined ? {} : { authorization: `Bearer ${key}` },
})

test('a key is checked by its sha256: none or an unknown one is 401, one without the scope 403, and nothing is scored', async () => {
  const { app, scored } = await server()
  const missing = await app.inject(post('/v1/score', TX))
  assert.equal(missing.statusCode, 401)
  assert.equal(missing.headers['www-authenticate'], 'Bearer')
  assert.equal(missing.json().error, 'unauthorized')
  assert.equal((await app.inject(post('/v1/score', TX, 'not-a-key'))).statusCode, 401)
  // The hash itself is not a key: config holds hashes so that reading it does not grant access.
  assert.equal((await app.inject(post('/v1/score', TX, hashApiKey(SCORER_KEY)))).statusCode, 401)
  const wrongScope = await app.inject(post('/v1/score', TX, ADMIN_KEY))
  assert.equal(wrongScope.statusCode, 403)
  assert.match(wrongScope.json().message, /operator lacks the score scope/)
  assert.equal((await app.inject(post('/v1/admin/pause', {}, SCORER_KEY))).statusCode, 403)
  assert.deepEqual(scored, [])
  const ok = await app.inject(post('/v1/score', TX, SCORER_KEY))
  assert.equal(ok.statusCode, 200)
  assert.deepEqual(ok.json(), answerOf({ ...TX, eventTimeMs: 0 } as Transaction))
  assert.equal(scored.length, 1)
  await app.close()
})

test("past a key's burst the token bucket answers 429 with Retry-After until tokens return at its rate; other keys are not charged", async () => {
  const { app, advance } = await server()
  const codes: number[] = []
  for (let i = 0; i < 5; i++) codes.push((await app.inject(post('/v1/score', TX, SCORER_KEY))).statusCode)
  assert.deepEqual(codes, [200, 200, 200, 429, 429], 'burst 3')
  const limited = await app.inject(post('/v1/score', TX, SCORER_KEY))
  assert.equal(limited.statusCode, 429)
  assert.equal(limited.headers['retry-after'], '1', 'rate 2/s: the next token in 500 ms, rounded up to a second')
  assert.equal(limited.json().error, 'rate_limited')
  assert.equal((await app.inject(post('/v1/admin/pause', {}, ADMIN_KEY))).statusCode, 200, 'a bucket per key')
  advance(500)
  assert.equal((await app.inject(post('/v1/score', TX, SCORER_KEY))).statusCode, 200, 'one token back after 500 ms')
  assert.equal((await app.inject(post('/v1/score', TX, SCORER_KEY))).statusCode, 429)
  await app.close()
})

test('a request that would take the transactions in flight past api.maxConcurrent is answered 503 at once, not queued', async () => {
  const release: (() => void)[] = []
  let holding = true
  const { app } = await server({
    scorer: {
      score: (txs) =>
        holding
          ? new Promise((resolve) => release.push(() => resolve(txs.map(answerOf))))
          : Promise.resolve(txs.map(answerOf)),
    },
    keys: [{ ...keys[0]!, burst: 100, ratePerSecond: 100 }],
  })
  const batch = (n: number, from: number) => ({
    transactions: Array.from({ length: n }, (_, i) => ({ ...TX, transaction_id: `tx-${from + i}` })),
  })
  const held = app.inject(post('/v1/score/batch', batch(3, 0), SCORER_KEY))
  while (release.length === 0) await new Promise((resolve) => setImmediate(resolve))
  const refused = await app.inject(post('/v1/score/batch', batch(2, 10), SCORER_KEY))
  assert.equal(refused.statusCode, 503, '3 in flight + 2 > 4')
  assert.equal(refused.headers['retry-after'], '1')
  assert.equal(refused.json().error, 'overloaded')
  const fits = app.inject(post('/v1/score', TX, SCORER_KEY))
  while (release.length < 2) await new Promise((resolve) => setImmediate(resolve))
  holding = false
  for (const r of release) r()
  assert.equal((await held).statusCode, 200)
  assert.equal((await held).json().results.length, 3)
  assert.equal((await fits).statusCode, 200, '3 + 1 fits')
  assert.equal(
    (await app.inject(post('/v1/score/batch', batch(3, 20), SCORER_KEY))).statusCode,
    200,
    'released: room again',
  )
  await app.close()
})

test('invalid transactions are 400 with every issue and its path, batches too, and nothing of the request is scored', async () => {
  const { app, scored } = await server({ keys: [{ ...keys[0]!, burst: 100, ratePerSecond: 100 }] })
  const one = await app.inject(post('/v1/score', { ...TX, amount: -1, mcc: '54', channel: 'fax' }, SCORER_KEY))
  assert.equal(one.statusCode, 400)
  assert.equal(one.json().error, 'invalid_transaction')
  assert.deepEqual(
    one
      .json()
      .issues.map((i: { path: string }) => i.path)
      .sort(),
    ['amount', 'channel', 'mcc'],
  )
  const pan = await app.inject(post('/v1/score', { ...TX, card_id: '4111111111111111' }, SCORER_KEY))
  assert.deepEqual(
    pan.json().issues.map((i: { path: string }) => i.path),
    ['card_id'],
  )
  const { transaction_id: _dropped, ...noId } = TX
  const batch = await app.inject(
    post('/v1/score/batch', { transactions: [TX, noId, { ...TX, transaction_id: 'b', country: 'XX' }] }, SCORER_KEY),
  )
  assert.equal(batch.statusCode, 400)
  assert.deepEqual(
    batch.json().issues.map((i: { path: string }) => i.path),
    ['transactions.1.transaction_id', 'transactions.2.country'],
  )
  const ahead = await app.inject(
    post('/v1/score', { ...TX, event_time: new Date(Date.now() + 2 * 86_400_000).toISOString() }, SCORER_KEY),
  )
  assert.deepEqual(
    ahead.json().issues.map((i: { path: string }) => i.path),
    ['event_time'],
    'the stream would dead-letter it: refused here rather than awaited forever',
  )
  const tooMany = await app.inject(post('/v1/score/batch', { transactions: [TX, TX, TX, TX] }, SCORER_KEY))
  assert.equal(tooMany.statusCode, 400)
  assert.equal(tooMany.json().issues[0].path, 'transactions')
  assert.equal((await app.inject(post('/v1/score/batch', { transactions: [] }, SCORER_KEY))).statusCode, 400)
  assert.deepEqual(scored, [])
  await app.close()
})

test('/openapi.json is an OpenAPI 3.1 document served without a key, listing the score and admin routes with bearer auth', async () => {
  const { app } = await server()
  const response = await app.inject({ url: '/openapi.json' })
  assert.equal(response.statusCode, 200)
  const doc = response.json()
  assert.equal(doc.openapi, '3.1.0')
  assert.deepEqual(Object.keys(doc.paths).sort(), [
    '/v1/admin/models/promote',
    '/v1/admin/pause',
    '/v1/admin/resume',
    '/v1/admin/status',
    '/v1/score',
    '/v1/score/batch',
  ])
  assert.equal(doc.components.securitySchemes.bearer.scheme, 'bearer')
  const body = doc.paths['/v1/score'].post.requestBody.content['application/json'].schema
  assert.deepEqual(body.properties.channel.enum, ['pos', 'ecom', 'atm', 'moto'])
  await app.close()
})

test('admin routes pause and resume the job, promote a model, and admin plugins added later inherit the scope check', async () => {
  const { app } = await server({
    adminPlugins: [
      async (scope) => {
        scope.get('/rules', async () => ({ rules: [] }))
      },
    ],
  })
  assert.deepEqual((await app.inject(post('/v1/admin/pause', {}, ADMIN_KEY))).json(), { paused: true })
  assert.deepEqual(
    (await app.inject({ url: '/v1/admin/status', headers: { authorization: `Bearer ${ADMIN_KEY}` } })).json(),
    { paused: true },
  )
  assert.deepEqual((await app.inject(post('/v1/admin/resume', {}, ADMIN_KEY))).json(), { paused: false })
  const promoted = await app.inject(post('/v1/admin/models/promote', { model: 'card-fraud-gbdt@2' }, ADMIN_KEY))
  assert.equal(promoted.statusCode, 200)
  assert.equal(promoted.json().registry.champion, 'card-fraud-gbdt@2')
  assert.equal((await app.inject(post('/v1/admin/models/promote', { model: 'nope' }, ADMIN_KEY))).statusCode, 400)
  assert.equal(
    (await app.inject({ url: '/v1/admin/rules', headers: { authorization: `Bearer ${SCORER_KEY}` } })).statusCode,
    403,
  )
  assert.equal(
    (await app.inject({ url: '/v1/admin/rules', headers: { authorization: `Bearer ${ADMIN_KEY}` } })).statusCode,
    200,
  )
  await app.close()
})

test('rules and lists routes sit behind the admin scope, write through the actions, and answer a bad rule with 400 and a missing one with 404', async () => {
  const rules = new Map<string, unknown>()
  const entries: unknown[] = []
  const actions: RulesActions = {
    listRules: async () => [...rules.values()],
    putRule: async (raw) => {
      const rule = raw as { id?: unknown }
      if (typeof rule.id !== 'string') throw new FraudstreamError(ErrorCode.ruleInvalid, 'id: Required', 'input')
      rules.set(rule.id, rule)
      return rule
    },
    deleteRule: async (id) => {
      if (!rules.delete(id)) throw new FraudstreamError(ErrorCode.usage, `there is no rule ${id}`, 'input')
    },
    listEntries: async () => entries,
    addEntry: async (raw) => (entries.push(raw), raw),
    removeEntry: async (kind, value, list) => [`${list ?? 'block'}:${kind}:${value}`],
  }
  const { app } = await server({
    adminPlugins: [async (scope) => void scope.register(rulesRoutes, { actions })],
  })
  const rule = { id: 'big', priority: 1, when: { field: 'amount', op: '>', value: 1 }, then: { decision: 'review' } }
  const put = (payload: unknown, key: string) => ({ ...post('/v1/admin/rules', payload, key), method: 'PUT' as const })
  assert.equal((await app.inject(put(rule, SCORER_KEY))).statusCode, 403, 'the score scope cannot change rules')
  assert.deepEqual(rules.size, 0)
  const ok = await app.inject(put(rule, ADMIN_KEY))
  assert.equal(ok.statusCode, 200)
  assert.deepEqual(ok.json(), { rule })
  const bad = await app.inject(put({ priority: 1 }, ADMIN_KEY))
  assert.equal(bad.statusCode, 400)
  assert.deepEqual(bad.json(), { error: 'FS_ERR_RULE_INVALID', message: 'id: Required' })
  const listed = await app.inject({ ...post('/v1/admin/rules', undefined, ADMIN_KEY), method: 'GET' })
  assert.deepEqual(listed.json(), { rules: [rule] })
  const del = (id: string) => ({ ...post(`/v1/admin/rules/${id}`, undefined, ADMIN_KEY), method: 'DELETE' as const })
  assert.deepEqual((await app.inject(del('big'))).json(), { deleted: 'big' })
  assert.equal((await app.inject(del('big'))).statusCode, 404)
  const entry = { list: 'block', kind: 'card', value: 'card-9' }
  assert.deepEqual((await app.inject(post('/v1/admin/lists', entry, ADMIN_KEY))).json(), { entry })
  const removed = await app.inject({
    ...post('/v1/admin/lists/card/card-9?list=block', undefined, ADMIN_KEY),
    method: 'DELETE',
  })
  assert.deepEqual(removed.json(), { removed: ['block:card:card-9'] })
})
