import { crc32 } from 'node:zlib'

/**
 * How a producer picks a keyed record's partition. `murmur2`: the Java client's default (Kafka Streams, most
 * producers; librdkafka's `murmur2_random` for keyed records), and what fraudstream's own producers use. `crc32`:
 * librdkafka's default (`consistent_random`), which other librdkafka-based producers use unless told otherwise.
 */
export const Partitioner = ['murmur2', 'crc32'] as const
export type Partitioner = (typeof Partitioner)[number]

/** The partition of a record keyed `key` (UTF-8) in a topic of `partitions` partitions. */
export function partitionOf(key: string, partitions: number, partitioner: Partitioner): number {
  const bytes = Buffer.from(key, 'utf8')
  return partitioner === 'crc32' ? crc32(bytes) % partitions : (murmur2(bytes) & 0x7fffffff) % partitions
}

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), as a signed 32-bit integer. */
export function murmur2(data: Uint8Array): number {
  const m = 0x5bd1e995
  const length = data.length
  let h = 0x9747b28c ^ length
  const whole = length & ~3
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)
    k = Math.imul(k, m)
    k ^= k >>> 24
    k = Math.imul(k, m)
    h = Math.imul(h, m) ^ k
  }
  switch (length & 3) {
    case 3:
      h ^= data[whole + 2]! << 16
    // falls through
    case 2:
      h ^= data[whole + 1]! << 8
    // falls through
    case 1:
      h ^= data[whole]!
      h = Math.imul(h, m)
  }
  h ^= h >>> 13
  h = Math.imul(h, m)
  h ^= h >>> 15
  return h | 0
}
