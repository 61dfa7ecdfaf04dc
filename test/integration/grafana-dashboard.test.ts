import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { createClickhouseClient } from '../../src/adapters/clickhouse/client.js'
import { syncFeatureColumns } from '../../src/adapters/clickhouse/feature-columns.js'
import { migrate } from '../../src/adapters/clickhouse/migrate.js'
import { createMetrics } from '../../src/observability/metrics.js'
import { cardFraudFeatures } from '../../topology/features.js'
import { testConfig } from '../helpers/pipeline.js'
import { teardown } from '../helpers/teardown.js'

const deploy = (path: string) => fileURLToPath(new URL(`../../deploy/${path}`, import.meta.url))

interface Target {
  readonly refId: string
  readonly datasource: { readonly uid: string }
  readonly expr?: string
  readonly rawSql?: string
}
interface Panel {
  readonly id: number
  readonly title: string
  readonly datasource: { readonly type: string; readonly uid: string }
  readonly targets: readonly Target[]
  readonly gridPos: { readonly x: number; readonly y: number; readonly w: number; readonly h: number }
}

const dashboard = JSON.parse(readFileSync(deploy('grafana/dashboards/fraudstream.json'), 'utf8')) as {
  uid: string
  panels: Panel[]
}
const datasources = (
  parse(readFileSync(deploy('grafana/provisioning/datasources/datasources.yml'), 'utf8')) as {
    datasources: { uid: string; type: string }[]
  }
).datasources

test('the dashboard is valid: unique panel ids, on the 24-column grid, each on a provisioned data source', () => {
  assert.equal(dashboard.uid, 'fraudstream')
  assert.ok(dashboard.panels.length >= 7)
  assert.equal(new Set(dashboard.panels.map((p) => p.id)).size, dashboard.panels.length, 'unique ids')
  for (const panel of dashboard.panels) {
    assert.ok(panel.gridPos.x + panel.gridPos.w <= 24 && panel.gridPos.w > 0 && panel.gridPos.h > 0, panel.title)
    const source = datasources.find((d) => d.uid === panel.datasource.uid)
    assert.ok(source, `${panel.title}: data source ${panel.datasource.uid} is provisioned`)
    assert.equal(source.type, panel.datasource.type, panel.title)
    assert.ok(panel.targets.length > 0, `${panel.title} has a query`)
    for (const t of panel.targets) assert.equal(t.datasource.uid, panel.datasource.uid, panel.title)
  }
  const titles = dashboard.panels.map((p) => p.title.toLowerCase()).join(' | ')
  for (const topic of ['throughput', 'event → decision', 'decision mix', 'dead letters', 'lag', 'drift', 'precision'])
    assert.ok(titles.includes(topic), `a panel on ${topic}`)
})

test('every Prometheus query names metrics the job exports', () => {
  const exported = new Set(
    createMetrics()
      .registry.getMetricsAsArray()
      .map((m) => m.name),
  )
  const prometheusTargets = dashboard.panels.flatMap((p) => p.targets).filter((t) => t.expr !== undefined)
  assert.ok(prometheusTargets.length > 0)
  for (const { expr } of prometheusTargets) {
    const names = [...expr!.matchAll(/\bfraudstream_\w+/g)].map(([name]) => name.replace(/_(bucket|sum|count)$/, ''))
    assert.ok(names.length > 0, expr)
    for (const name of names) assert.ok(exported.has(name), `${name} (in ${expr}) is exported`)
  }
})

/** A panel's SQL as Grafana sends it for the last day. */
const filled = (rawSql: string) => rawSql.replace(/\$__timeFilter\(([^)]+)\)/g, '$1 >= now() - INTERVAL 1 DAY')

test('every ClickHouse query runs on the migrated schema, Grafana macros filled in', async (t) => {
  const { config, cleanup } = testConfig()
  teardown(t, cleanup)
  const client = await createClickhouseClient(config)
  t.after(() => client.close())
  await migrate(client)
  await syncFeatureColumns(
    client,
    cardFraudFeatures.map((f) => f.name),
  )
  const sqlTargets = dashboard.panels.flatMap((p) => p.targets.map((target) => ({ title: p.title, target })))
  const queries = sqlTargets.filter(({ target }) => target.rawSql !== undefined)
  assert.ok(queries.length >= 3)
  for (const { title, target } of queries) {
    const query = filled(target.rawSql!)
    assert.doesNotMatch(query, /\$__/, `${title}: every macro filled in`)
    const result = await client.query({ query, format: 'JSONEachRow' })
    assert.ok(Array.isArray(await result.json()), title)
  }
})

test('the ClickHouse panels show what was decided: a shadow model scoring the same transactions changes none', async (t) => {
  const { config, cleanup } = testConfig()
  teardown(t, cleanup)
  const client = await createClickhouseClient(config)
  t.after(() => client.close())
  await migrate(client)
  const nowMs = Date.now()
  const decided = ['approve', 'review', 'decline', 'review'].map((decision, i) => ({
    transaction_id: `tx-${i}`,
    card_id: `card-${i}`,
    event_time: nowMs - 60_000 * (i + 1),
    decided_at: nowMs - 60_000 * (i + 1) + 5,
    source_timestamp: nowMs - 60_000 * (i + 1) + 1,
    score: [0.1, 0.5, 0.9, 0.45][i],
    decision,
    model_name: 'champion',
    model_version: '1',
    model_role: 'champion',
    run_id: 'live',
  }))
  await client.insert({ table: 'scores', values: decided, format: 'JSONEachRow' })
  await client.insert({
    table: 'labels',
    values: ['tx-0', 'tx-2'].map((id, offset) => ({
      transaction_id: id,
      is_fraud: true,
      source: 'chargeback',
      reported_at: nowMs,
      known_at: nowMs,
      source_offset: offset,
      run_id: 'live',
    })),
    format: 'JSONEachRow',
  })
  const panels = dashboard.panels.filter((p) => p.targets.some((target) => target.rawSql?.includes('FROM scores')))
  assert.ok(panels.length >= 3)
  const read = async () => {
    const results: unknown[] = []
    for (const panel of panels)
      for (const target of panel.targets)
        if (target.rawSql !== undefined)
          results.push(await (await client.query({ query: filled(target.rawSql), format: 'JSONEachRow' })).json())
    return results
  }
  const before = await read()
  // The decision mix panel: the four decisions, once each.
  const mix = before[panels.findIndex((p) => p.title.toLowerCase().includes('decision mix'))] as Record<
    string,
    unknown
  >[]
  assert.deepEqual(
    [
      mix.reduce((n, r) => n + Number(r.approved), 0),
      mix.reduce((n, r) => n + Number(r.reviewed), 0),
      mix.reduce((n, r) => n + Number(r.declined), 0),
    ],
    [1, 2, 1],
  )
  // A shadow declining every transaction: none of it was decided.
  await client.insert({
    table: 'scores',
    values: decided.map((r) => ({
      ...r,
      model_name: 'shadow',
      model_role: 'shadow',
      score: 0.99,
      decision: 'decline',
    })),
    format: 'JSONEachRow',
  })
  assert.deepEqual(await read(), before)
})
