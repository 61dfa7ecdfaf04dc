import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { FileSnapshotStore } from '../../../../src/adapters/state/file-snapshot-store.js'

test('loads the newest snapshot at or below the committed offset and keeps only the newest few', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-snap-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const store = new FileSnapshotStore({ dir, groupId: 'g', keep: 3 })
  const tp = { topic: 'transactions', partition: 2 }
  assert.equal(await store.loadLatest(tp, 100), undefined)
  for (const offset of [10, 20, 30, 40]) await store.save(tp, offset, Buffer.from(String(offset)))
  assert.deepEqual(await store.loadLatest(tp, 35), { offset: 30, bytes: Buffer.from('30') })
  assert.equal((await store.loadLatest(tp, 1_000))?.offset, 40)
  assert.equal(await store.loadLatest(tp, 15), undefined, 'offset 10 was pruned')
  assert.equal(await store.loadLatest({ ...tp, partition: 1 }, 1_000), undefined)
  assert.deepEqual(readdirSync(join(dir, 'g', 'transactions', '2')).filter((f) => f.endsWith('.tmp')), [])
  await store.clear()
  assert.equal(await store.loadLatest(tp, 1_000), undefined)
})
