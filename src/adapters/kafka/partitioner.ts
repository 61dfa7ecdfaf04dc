import { crc32 } from 'node:zlib'

/**
 * How a producer picks a keyed record's partition. `murmur2`: the Java client's default (Kafka Streams, most
 * producers; librdkafka's `murmur2_random` for keyed records), and what fraudstream's own producers use. `crc32`:
 * librdkafka's default (`consistent_random`), which other librdkafka-based producers use unless told otherwise.
 */
export const Partitioner = ['murmur2', 'crc32'] as const
export type Partitioner = (typeof Partitioner)[number]

/** An ASCII key's bytes are its character codes: written here, they need no Buffer of their own per record. */
const asciiKey = new Uint8Array(256)

/** The partition of a record keyed `key` (UTF-8) in a topic of `partitions` partitions. */
export function partitionOf(key: string, partitions: number, partitioner: Partitioner): number {
  if (partitioner === 'murmur2' && key.length <= asciiKey.length) {
    let ascii = true
    for (let i = 0; i < key.length && ascii; i++) ascii = (asciiKey[i] = key.charCodeAt(i)) < 0x80
    if (ascii) return (murmur2(asciiKey, key.length) & 0x7fffffff) % partitions
  }
  const bytes = Buffer.from(key, 'utf8')
  return partitioner === 'crc32' ? crc32(bytes) % partitions : (murmur2(bytes) & 0x7fffffff) % partitions
}

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2) of the first `length` bytes, as a signed 32-bit integer. */
export function murmur2(data: Uint8Array, length = data.length): number {
  const m = 0x5bd1e995
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
