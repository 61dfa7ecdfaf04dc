import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { FileSnapshotStore } from '../../../../src/adapters/state/file-snapshot-store.js'
import { snapshotsToDelete } from '../../../../src/core/snapshot-retention.js'

test('loads the newest snapshot at or below the committed offset and keeps only the newest few', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-snap-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const store = new FileSnapshotStore({ dir, groupId: 'g', keep: 3 })
  const tp = { topic: 'transactions', partition: 2 }
  assert.equal(await store.loadLatest(tp, 100), undefined)
  for (const offset of [10, 20, 30, 40]) await store.save(tp, offset, Buffer.from(String(offset)), offset)
  assert.deepEqual(await store.loadLatest(tp, 35), { offset: 30, bytes: Buffer.from('30') })
  assert.equal((await store.loadLatest(tp, 1_000))?.offset, 40)
  assert.equal(await store.loadLatest(tp, 15), undefined, 'offset 10 was pruned')
  assert.equal(await store.loadLatest({ ...tp, partition: 1 }, 1_000), undefined)
  assert.deepEqual(
    readdirSync(join(dir, 'g', 'transactions', '2')).filter((f) => f.endsWith('.tmp')),
    [],
  )
  await store.clear()
  assert.equal(await store.loadLatest(tp, 1_000), undefined)
})

test('the newest snapshot at or below the committed offset survives however many newer ones are saved (commits stopped by a sink outage)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fs-snap-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const store = new FileSnapshotStore({ dir, groupId: 'g', keep: 3 })
  const tp = { topic: 'transactions', partition: 0 }
  await store.save(tp, 1_000, Buffer.from('a'), 1_000)
  // The job runs ahead of its commits, which are stuck at 1,000.
  for (const offset of [1_500, 2_000, 2_500, 3_000]) await store.save(tp, offset, Buffer.from(String(offset)), 1_000)
  assert.equal((await store.loadLatest(tp, 1_000))?.offset, 1_000, 'a restart now can still restore')
  assert.equal(
    await store.loadLatest(tp, 1_999).then((found) => found?.offset),
    1_000,
    '1,500 was pruned: it was neither among the newest three nor the usable one',
  )
  // Commits resume: once a newer snapshot is usable, the old one goes.
  await store.save(tp, 3_500, Buffer.from('3500'), 2_600)
  assert.equal((await store.loadLatest(tp, 2_600))?.offset, 2_500)
  assert.equal(await store.loadLatest(tp, 1_000), undefined)
})

test('snapshotsToDelete keeps the newest few and the newest at or below the committed offset, in any input order', () => {
  assert.deepEqual(snapshotsToDelete([40, 10, 30, 20], 3, 100), [10])
  assert.deepEqual(snapshotsToDelete([40, 10, 30, 20], 3, 15), [])
  assert.deepEqual(snapshotsToDelete([10, 20, 30, 40, 50], 3, 25), [10])
  assert.deepEqual(snapshotsToDelete([10, 20, 30, 40, 50], 3, 5), [10, 20])
  assert.deepEqual(snapshotsToDelete([10, 20], 3, 0), [])
})
