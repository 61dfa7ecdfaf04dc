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
    const query = target.rawSql!.replace(/\$__timeFilter\(([^)]+)\)/g, '$1 >= now() - INTERVAL 1 DAY')
    assert.doesNotMatch(query, /\$__/, `${title}: every macro filled in`)
    const result = await client.query({ query, format: 'JSONEachRow' })
    assert.ok(Array.isArray(await result.json()), title)
  }
})
