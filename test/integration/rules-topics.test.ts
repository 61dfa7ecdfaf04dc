import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { KafkaProducerSink } from '../../src/adapters/kafka/producer-sink.js'
import type { DecisionV1 } from '../../src/core/records.js'
import { createPipeline } from '../../src/main.js'
import { RulesAdmin } from '../../src/rules/rules-admin.js'
import { cardFraudFeatures } from '../../topology/features.js'
import { transactionRecord } from '../helpers/card-fraud-driver.js'
import { readTopic, testTopics, useMockCluster, waitFor } from '../helpers/kafka.js'
import { testConfig, testLogger } from '../helpers/pipeline.js'
import { teardown } from '../helpers/teardown.js'

const cluster = useMockCluster()
const FEATURES = cardFraudFeatures.map((f) => f.name)

test('a rule put reaches two running instances within a second and decides; deleted, it is gone from both; list entries too', async (t) => {
  const id = Math.random().toString(36).slice(2)
  const topics = testTopics(id)
  const { config, dataDir, cleanup } = testConfig({ 'kafka.topics': topics })
  teardown(t, cleanup)
  const { log, lines } = testLogger()
  const kafka = { bootstrapServers: cluster.bootstrapServers }
  const members = await Promise.all(
    ['a', 'b'].map((name) =>
      createPipeline({ config: { ...config, dataDir: join(dataDir, name) }, kafka, log, instanceId: name }),
    ),
  )
  for (const m of members) teardown(t, () => m.close())
  const admin = await RulesAdmin.connect({ config, bootstrapServers: cluster.bootstrapServers, featureNames: FEATURES })
  teardown(t, () => admin.close())
  const empty = members[0]!.rules.version
  assert.deepEqual(
    members.map((m) => [m.rules.engine.size, m.rules.version]),
    [
      [0, empty],
      [0, empty],
    ],
  )

  const startedMs = performance.now()
  await admin.putRule({
    id: 'huge-amount',
    priority: 1,
    when: { field: 'amount', op: '>=', value: 5_000 },
    then: { decision: 'decline', reason: 'huge_amount' },
  })
  await waitFor(() => members.every((m) => m.rules.engine.size === 1), {
    timeoutMs: 1_000,
    what: 'both instances to apply the rule within a second',
  })
  const appliedMs = performance.now() - startedMs
  const version = members[0]!.rules.version
  assert.notEqual(version, empty)
  assert.equal(members[1]!.rules.version, version, 'both instances hold the same version')
  assert.equal((await admin.snapshot()).version, version, 'the version is the topics’ content, wherever it is read')
  assert.ok(lines.some((l) => l.msg === 'rules applied: the next batches are decided with this version'))

  // Decisions made now carry the rule and the version, whichever instance owns the card.
  const producer = await KafkaProducerSink.connect({ config: { 'bootstrap.servers': cluster.bootstrapServers }, log })
  teardown(t, () => producer.close())
  const t0 = Date.UTC(2026, 0, 5)
  const sent = Array.from({ length: 8 }, (_, i) =>
    transactionRecord(`tx-${id}-${i}`, {
      card: `card_${i}`,
      amount: i % 2 === 0 ? 9_000 : 12,
      eventTimeMs: t0 + i * 1_000,
    }),
  )
  for (const r of sent) producer.send({ topic: topics.transactions, key: r.key, value: r.value }, () => {})
  await producer.flush()
  await waitFor(() => members.reduce((n, m) => n + m.job.stats.scored, 0) >= sent.length, {
    timeoutMs: 30_000,
    what: 'the transactions to be decided',
  })
  let decisions: DecisionV1[] = []
  await waitFor(
    async () =>
      (decisions = (await readTopic(cluster.bootstrapServers, topics.decisions)).map(
        (r) => JSON.parse(r.value.toString()) as DecisionV1,
      )).length >= sent.length,
    { timeoutMs: 10_000, what: 'the decisions to be published' },
  )
  assert.equal(decisions.length, sent.length)
  for (const d of decisions) {
    const big = Number(d.transaction_id.split('-').at(-1)) % 2 === 0
    assert.equal(d.rules_version, version)
    assert.equal(d.rules.includes('rule:huge-amount'), big, d.transaction_id)
    if (big) assert.deepEqual([d.decision, d.reasons.includes('huge_amount')], ['decline', true], d.transaction_id)
  }

  await admin.deleteRule('huge-amount')
  await waitFor(() => members.every((m) => m.rules.engine.size === 0), {
    timeoutMs: 1_000,
    what: 'both instances to drop the deleted rule within a second',
  })
  assert.deepEqual(
    members.map((m) => m.rules.version),
    [empty, empty],
    'the content is as before the put: so is its version',
  )
  assert.deepEqual(await admin.listRules(), [])

  // List entries travel the same way.
  await admin.addEntry({ list: 'block', kind: 'card', value: 'card_1', reason: 'test' })
  await waitFor(() => members.every((m) => m.rules.engine.lists.has('block', 'card', 'card_1', Date.now())), {
    timeoutMs: 1_000,
    what: 'both instances to hold the list entry within a second',
  })
  assert.deepEqual(await admin.removeEntry('card', 'card_1'), ['block:card:card_1'])
  await waitFor(() => members.every((m) => m.rules.engine.lists.size === 0 && m.rules.version === empty), {
    timeoutMs: 1_000,
    what: 'both instances to drop the list entry within a second',
  })
  t.diagnostic(`rule applied by both instances ${appliedMs.toFixed(0)} ms after the put was acknowledged and sent`)
})
