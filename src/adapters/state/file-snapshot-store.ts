import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { SnapshotStore, TopicPartition } from '../../core/ports.js'
import { snapshotsToDelete } from '../../core/snapshot-retention.js'

const OFFSET_DIGITS = 20

/**
 * Snapshots as files: `<dir>/<group>/<topic>/<partition>/<offset>.snap`, written to a temporary name and renamed,
 * so a crash mid-write never leaves a torn snapshot behind. Keeps the newest `keep` per partition, and the newest at or
 * below the committed offset (snapshotsToDelete).
 */
export class FileSnapshotStore implements SnapshotStore {
  constructor(readonly options: { dir: string; groupId: string; keep?: number }) {}

  #partitionDir(tp: TopicPartition): string {
    return join(
      this.options.dir,
      encodeURIComponent(this.options.groupId),
      encodeURIComponent(tp.topic),
      String(tp.partition),
    )
  }

  async save(tp: TopicPartition, offset: number, bytes: Uint8Array, committedOffset: number): Promise<void> {
    const dir = this.#partitionDir(tp)
    await mkdir(dir, { recursive: true })
    const name = `${String(offset).padStart(OFFSET_DIGITS, '0')}.snap`
    const temporary = join(dir, `.${name}.${process.pid}.tmp`)
    await writeFile(temporary, bytes)
    await rename(temporary, join(dir, name))
    for (const old of snapshotsToDelete(await this.#offsets(dir), this.options.keep ?? 3, committedOffset)) {
      await rm(join(dir, `${String(old).padStart(OFFSET_DIGITS, '0')}.snap`), { force: true })
    }
  }

  async loadLatest(tp: TopicPartition, maxOffset: number): Promise<{ offset: number; bytes: Uint8Array } | undefined> {
    const dir = this.#partitionDir(tp)
    const usable = (await this.#offsets(dir)).filter((o) => o <= maxOffset)
    const offset = usable[usable.length - 1]
    if (offset === undefined) return undefined
    return { offset, bytes: await readFile(join(dir, `${String(offset).padStart(OFFSET_DIGITS, '0')}.snap`)) }
  }

  async clear(): Promise<void> {
    await rm(join(this.options.dir, encodeURIComponent(this.options.groupId)), { recursive: true, force: true })
  }

  async #offsets(dir: string): Promise<number[]> {
    let names: string[]
    try {
      names = await readdir(dir)
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return []
      throw err
    }
    return names
      .filter((n) => /^\d+\.snap$/.test(n))
      .map((n) => Number(n.slice(0, -5)))
      .sort((a, b) => a - b)
  }
}
