import type { RecordSink, SnapshotStore, TopicPartition } from '../../core/ports.js'
import { snapshotsToDelete } from '../../core/snapshot-retention.js'
import { readPartition } from './read-partition.js'

const OFFSET_DIGITS = 20

export interface KafkaSnapshotStoreOptions {
  readonly sink: RecordSink
  readonly clientConfig: Record<string, string | number | boolean>
  /** Compacted. A source partition's snapshots go to partition (source partition mod its partition count). */
  readonly topic: string
  readonly partitions: number
  /** Snapshots kept per source partition (older ones get tombstones). */
  readonly keep?: number
  /** Below the broker's message.max.bytes (1 MB by default): a snapshot is split into records of this size. */
  readonly chunkBytes?: number
}

/**
 * Snapshots in a compacted topic, for deployments where an instance has no disk of its own (the Kafka deployment
 * of DESIGN.md §4). Record key `<topic>/<partition>/<offset>/<chunk>/<chunks>`; a snapshot is usable only with all
 * its chunks, so a crash mid-write leaves an incomplete one that loading skips. The newest `keep` per partition
 * stay, and the newest at or below the committed offset (snapshotsToDelete); older ones are deleted with tombstones
 * once a newer one is acknowledged.
 */
export class KafkaSnapshotStore implements SnapshotStore {
  /** Record keys of the snapshots known per source partition, by offset: what to tombstone later. */
  readonly #known = new Map<string, Map<number, string[]>>()
  /** Keys of torn snapshots found while loading: deleted with the next save. */
  readonly #torn = new Map<string, string[]>()

  constructor(readonly options: KafkaSnapshotStoreOptions) {}

  #prefix(tp: TopicPartition): string {
    return `${tp.topic}/${tp.partition}/`
  }

  #statePartition(tp: TopicPartition): number {
    return tp.partition % this.options.partitions
  }

  async save(tp: TopicPartition, offset: number, bytes: Uint8Array, committedOffset: number): Promise<void> {
    const chunkBytes = this.options.chunkBytes ?? 512 * 1024
    const chunks = Math.max(1, Math.ceil(bytes.length / chunkBytes))
    const partition = this.#statePartition(tp)
    const keys: string[] = []
    await new Promise<void>((resolve) => {
      let outstanding = chunks
      for (let i = 0; i < chunks; i++) {
        const key = `${this.#prefix(tp)}${String(offset).padStart(OFFSET_DIGITS, '0')}/${i}/${chunks}`
        keys.push(key)
        const value = Buffer.from(
          bytes.buffer,
          bytes.byteOffset + i * chunkBytes,
          Math.min(chunkBytes, bytes.length - i * chunkBytes),
        )
        this.options.sink.send({ topic: this.options.topic, partition, key, value }, () => {
          if (--outstanding === 0) resolve()
        })
      }
    })
    const known = this.#knownOf(tp)
    known.set(offset, keys)
    const obsolete = this.#torn.get(`${tp.topic}:${tp.partition}`) ?? []
    this.#torn.delete(`${tp.topic}:${tp.partition}`)
    for (const old of snapshotsToDelete([...known.keys()], this.options.keep ?? 3, committedOffset)) {
      obsolete.push(...known.get(old)!)
      known.delete(old)
    }
    for (const key of obsolete)
      this.options.sink.send({ topic: this.options.topic, partition, key, value: null }, () => {})
  }

  async loadLatest(tp: TopicPartition, maxOffset: number): Promise<{ offset: number; bytes: Uint8Array } | undefined> {
    const prefix = this.#prefix(tp)
    const records = await readPartition(this.options.clientConfig, this.options.topic, this.#statePartition(tp))
    const chunksByKey = new Map<string, Buffer | null>()
    for (const record of records) {
      const key = record.key?.toString()
      if (key?.startsWith(prefix)) chunksByKey.set(key, record.value)
    }
    const snapshots = new Map<number, { chunks: number; parts: Map<number, Buffer>; keys: string[] }>()
    for (const [key, value] of chunksByKey) {
      const [offsetText, indexText, countText] = key.slice(prefix.length).split('/')
      const offset = Number(offsetText)
      let snapshot = snapshots.get(offset)
      if (!snapshot) snapshots.set(offset, (snapshot = { chunks: Number(countText), parts: new Map(), keys: [] }))
      snapshot.keys.push(key)
      if (value) snapshot.parts.set(Number(indexText), value)
    }
    const known = this.#knownOf(tp)
    const torn: string[] = []
    for (const [offset, snapshot] of snapshots) {
      if (snapshot.parts.size === snapshot.chunks) known.set(offset, snapshot.keys)
      else if (snapshot.parts.size > 0) torn.push(...snapshot.keys)
    }
    this.#torn.set(`${tp.topic}:${tp.partition}`, torn)
    const usable = [...snapshots]
      .filter(([offset, s]) => offset <= maxOffset && s.parts.size === s.chunks)
      .sort((a, b) => b[0] - a[0])[0]
    if (!usable) return undefined
    const [offset, snapshot] = usable
    return { offset, bytes: Buffer.concat(Array.from({ length: snapshot.chunks }, (_, i) => snapshot.parts.get(i)!)) }
  }

  /** The snapshots live in the cluster whose log they cover: a new cluster has none, so nothing to forget. */
  async clear(): Promise<void> {}

  #knownOf(tp: TopicPartition): Map<number, string[]> {
    const id = `${tp.topic}:${tp.partition}`
    let known = this.#known.get(id)
    if (!known) this.#known.set(id, (known = new Map()))
    return known
  }
}
