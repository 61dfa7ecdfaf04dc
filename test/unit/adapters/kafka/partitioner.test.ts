import assert from 'node:assert/strict'
import { test } from 'node:test'
import { murmur2, partitionOf } from '../../../../src/adapters/kafka/partitioner.js'

test("murmur2 equals Kafka's Utils.murmur2 on its own test vectors", () => {
  const vectors: [string, number][] = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ]
  for (const [key, hash] of vectors) assert.equal(murmur2(Buffer.from(key)), hash, key)
})

test('partitionOf puts keys where librdkafka put them in a 4-partition topic (murmur2_random and its default, consistent_random)', () => {
  // Read back from delivery reports of node-rdkafka producers against the mock cluster.
  const placed: [string, number, number][] = [
    ['card-0001', 1, 1],
    ['4532015112830366', 3, 3],
    ['c', 2, 3],
    ['ab', 2, 1],
    ['abc', 3, 2],
    ['kartenzähler', 3, 1],
  ]
  for (const [key, murmur2Partition, crc32Partition] of placed) {
    assert.equal(partitionOf(key, 4, 'murmur2'), murmur2Partition, `murmur2 ${key}`)
    assert.equal(partitionOf(key, 4, 'crc32'), crc32Partition, `crc32 ${key}`)
  }
})

test('partitionOf hashes an ASCII key from its characters exactly as from its UTF-8 bytes, whatever its length', () => {
  const keys = ['', 'x', 'card_cb25b38e64c255f6', 'é', 'card_é', 'a'.repeat(255), 'a'.repeat(256), 'b'.repeat(257)]
  for (let i = 0; i < 500; i++)
    keys.push(Array.from({ length: i % 40 }, (_, j) => String.fromCharCode(32 + ((i * 31 + j * 7) % 95))).join(''))
  for (const key of keys)
    for (const partitions of [1, 4, 7])
      assert.equal(
        partitionOf(key, partitions, 'murmur2'),
        (murmur2(Buffer.from(key, 'utf8')) & 0x7fffffff) % partitions,
        `${JSON.stringify(key)} of ${partitions}`,
      )
})
