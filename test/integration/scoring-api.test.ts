import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { test } from 'node:test'
import { hashApiKey } from '../../src/api/api-keys.js'
import type { ScoreAnswer } from '../../src/api/score-service.js'
import { startApi } from '../../src/api-setup.js'
import { loadConfig } from '../../src/config/load.js'
import type { DecisionV1 } from '../../src/core/records.js'
import { createPipeline } from '../../src/main.js'
import { cardFraudFeatures } from '../../topology/features.js'
import { readTopic, useMockCluster, waitFor } from '../helpers/kafka.js'
import { testConfig, testLogger } from '../helpers/pipeline.js'
import { teardown } from '../helpers/teardown.js'

const cluster = useMockCluster()
const KEY = `test-key-${randomUUID()}`

function transaction(id: string, overrides: Record<string, unknown> = {}) {
  return {
    transaction_id: id,
    card_id: `card-${id}`,
    customer_id: 'cust-1',
    merchant_id: 'm-1',
    terminal_id: 't-1',
    amount: 125.5,
    currency: 'EUR',
    mcc: '5411',
    country: 'FR',
    card_country: 'DE',
    channel: 'ecom',
    event_time: new Date().toISOString(),
    ...overrides,
  }
}

async function score(url: string, tx: object): Promise<ScoreAnswer> {
  const response = await fetch(`${url}/v1/score`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(tx),
  })
  assert.equal(response.status, 200, await response.clone().text())
  return (await response.json()) as ScoreAnswer
}

test('a transaction scored through the API gets the decision the stream records, once in decisions and scores, retried on either instance', async (t) => {
  const suffix = randomUUID().slice(0, 8)
  const topics = {
    transactions: `tx-api-${suffix}`,
    decisions: `decisions-api-${suffix}`,
    alerts: `alerts-api-${suffix}`,
    dlq: `dlq-api-${suffix}`,
    labels: `labels-api-${suffix}`,
  }
  const keys = [{ id: 'gateway', hash: hashApiKey(KEY), scopes: ['score'], ratePerSecond: 1_000, burst: 1_000 }]
  const { config, cleanup } = testConfig({
    'kafka.topics': topics,
    'api.enabled': true,
    'api.port': 0,
    'api.keys': keys,
    // The machine running tests is shared: the stream's decision gets time enough that the fallback never answers here.
    'api.deadlineMs': 10_000,
  })
  teardown(t, cleanup)
  const { log } = testLogger('warn')
  const kafka = { bootstrapServers: cluster.bootstrapServers }
  const pipeline = await createPipeline({ config, kafka, log })
  teardown(t, () => pipeline.close())
  const api = pipeline.api!
  assert.ok(api, 'api.enabled starts the API')

  const first = transaction(`tx-${suffix}-1`)
  const answer = await score(api.url, first)
  assert.equal(answer.transaction_id, first.transaction_id)
  assert.equal(answer.fallback, false)
  assert.equal(answer.replayed, false)
  assert.equal(typeof answer.score, 'number')

  const retried = await score(api.url, first)
  assert.deepEqual(
    { ...retried, latency_ms: 0 },
    { ...answer, latency_ms: 0, replayed: true },
    'a retry returns the first decision',
  )

  // A second instance serving the API alone: the job above owns every partition, so decisions reach it through the
  // decisions topic. Its cache is empty: a retry there produces the transaction again, which the stream's dedupe drops.
  const apiOnlyConfig = loadConfig({
    overrides: {
      ...Object.fromEntries(
        Object.entries({ environment: 'test', dataDir: config.dataDir, 'kafka.groupId': config.kafka.groupId }),
      ),
      'kafka.topics': topics,
      'api.enabled': true,
      'api.port': 0,
      'api.keys': keys,
      // A wait settles from `scores` well inside the deadline: a retry whose copy the stream drops gets its decision of record.
      'api.deadlineMs': 10_000,
      'api.settleMs': 500,
    },
  })
  const other = await startApi({
    config: apiOnlyConfig,
    bootstrapServers: cluster.bootstrapServers,
    instanceId: 'api-only',
    features: cardFraudFeatures,
    model: () => pipeline.model,
    clickhouse: pipeline.clickhouse,
    runId: 'live',
    log,
  })
  teardown(t, () => other.close())

  const lookedUp: string[] = []
  const onExpired = other.service.onExpired.bind(other.service)
  other.service.onExpired = (ids) => {
    lookedUp.push(...ids)
    return onExpired(ids)
  }
  const second = transaction(`tx-${suffix}-2`, { amount: 0, channel: 'pos', country: 'DE' })
  const viaTail = await score(other.url, second)
  assert.equal(viaTail.fallback, false, 'the job in the other process decided it; the decision came through the topic')
  const decisions = async () =>
    (await readTopic(cluster.bootstrapServers, topics.decisions)).map(
      (r) => JSON.parse(r.value.toString()) as DecisionV1,
    )
  const recorded = new Map((await decisions()).map((d) => [d.transaction_id, d]))
  for (const [tx, got] of [
    [first, answer],
    [second, viaTail],
  ] as const) {
    const d = recorded.get(tx.transaction_id)!
    assert.deepEqual(
      { decision: got.decision, score: got.score, reasons: got.reasons, rules: got.rules, model: got.model },
      { decision: d.decision, score: d.score, reasons: d.reasons, rules: d.rules, model: d.model },
      `the API answered ${tx.transaction_id} with the stream's decision`,
    )
  }

  // The retry of the first transaction on the other instance: produced again and dropped by the stream's dedupe, so
  // no decision comes; once the wait settles (api.settleMs) its decision of record is read from `scores`.
  await waitFor(
    async () => {
      const rows = await (
        await pipeline.clickhouse.query({
          query: `SELECT count() AS n FROM scores WHERE source_topic = {topic:String}`,
          query_params: { topic: topics.transactions },
          format: 'JSONEachRow',
        })
      ).json<{ n: string }>()
      return Number(rows[0]?.n) >= 2
    },
    { timeoutMs: 30_000, what: 'both score rows' },
  )
  assert.ok(!lookedUp.includes(second.transaction_id), 'the decision of the second came from the decisions topic')
  const elsewhere = await score(other.url, first)
  assert.ok(elsewhere.latency_ms >= 500, `answered once the wait settled (${elsewhere.latency_ms} ms)`)
  assert.deepEqual(
    { ...elsewhere, latency_ms: 0 },
    { ...answer, latency_ms: 0, score: elsewhere.score },
    'the decision of record, from scores',
  )
  assert.ok(Math.abs(elsewhere.score! - answer.score!) < 1e-6, 'scores stores the score as Float32')
  assert.deepEqual(lookedUp, [first.transaction_id])
  const again = await score(other.url, first)
  assert.deepEqual([again.replayed, again.decision], [true, answer.decision], 'then cached there too')

  await waitFor(() => pipeline.job.stats.duplicates >= 1, {
    timeoutMs: 30_000,
    what: 'the stream to drop the re-produced record',
  })
  const transactions = await readTopic(cluster.bootstrapServers, topics.transactions)
  assert.equal(
    transactions.filter((r) => r.key === first.card_id).length,
    2,
    'the retry elsewhere reached transactions again',
  )
  const finalDecisions = await decisions()
  assert.equal(finalDecisions.filter((d) => d.transaction_id === first.transaction_id).length, 1, 'decided once')
  const rows = await (
    await pipeline.clickhouse.query({
      query: `SELECT transaction_id, count() AS n FROM scores WHERE source_topic = {topic:String} GROUP BY transaction_id ORDER BY transaction_id`,
      query_params: { topic: topics.transactions },
      format: 'JSONEachRow',
    })
  ).json<{ transaction_id: string; n: string }>()
  assert.deepEqual(
    rows.map((r) => [r.transaction_id, Number(r.n)]),
    [
      [first.transaction_id, 1],
      [second.transaction_id, 1],
    ],
    'one score row each, however often a transaction was requested',
  )
})
