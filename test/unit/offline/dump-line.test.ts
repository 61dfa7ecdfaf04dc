import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { gzipSync } from 'node:zlib'
import { pack } from 'msgpackr'
import { parseDumpLine, readLines } from '../../../src/offline/dump-line.js'

/** A record as `kcat -C -J` prints it: the payload's bytes as they are inside the JSON string. */
function kcatLine(fields: Record<string, unknown>, payload: Buffer | null): Buffer {
  return Buffer.from(
    JSON.stringify({
      topic: 'tx',
      ...fields,
      broker: 1,
      key: 'c1',
      payload: payload === null ? null : payload.toString('latin1'),
    }),
    'latin1',
  )
}

test('a kcat -C -J envelope gives the value byte for byte, its partition and timestamp; a bare value or a broken envelope is passed on whole', () => {
  const json = Buffer.from('{"transaction_id":"t1","merchant_name":"Café"}')
  assert.deepEqual(
    parseDumpLine(kcatLine({ partition: 3, offset: 7, tstype: 'create', ts: 1_700_000_000_000 }, json)),
    { value: json, partition: 3, offset: 7, timestampMs: 1_700_000_000_000 },
  )
  // msgpack: bytes of 0x80 and above, a newline and a quote inside the value.
  const binary = Buffer.concat([
    pack({ transaction_id: 't2', amount: 12.5 }),
    Buffer.from([0x0a, 0x22, 0x5c, 0x00, 0xff]),
  ])
  assert.deepEqual(parseDumpLine(kcatLine({ partition: 1, offset: 2, tstype: 'logappend', ts: 5 }, binary)), {
    value: binary,
    partition: 1,
    offset: 2,
    timestampMs: 5,
  })
  assert.deepEqual(
    parseDumpLine(kcatLine({ partition: 0, offset: 1 }, json)),
    { value: json, partition: 0, offset: 1 },
    'kcat leaves ts out when there is none',
  )
  assert.deepEqual(
    parseDumpLine(kcatLine({ partition: 2, offset: 3, tstype: 'create', ts: 9 }, null)),
    { value: Buffer.alloc(0), partition: 2, offset: 3, timestampMs: 9 },
    'a tombstone',
  )
  assert.deepEqual(parseDumpLine(json), { value: json })
  for (const broken of [
    '{"topic":"tx","partition":',
    '{"topic":"tx","partition":-1,"payload":"x"}',
    '{"topic":"tx","partition":0,"payload":{}}',
  ]) {
    assert.deepEqual(parseDumpLine(Buffer.from(broken)), { value: Buffer.from(broken) }, broken)
  }
})

test('readLines gives each line as its bytes, across chunk boundaries, without a trailing carriage return', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dump-lines-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const lines = Array.from({ length: 5_000 }, (_, i) =>
    Buffer.concat([Buffer.from(`line ${i} `), Buffer.from([0xc3, 0x28, 0xff, 0x80 + (i % 100)])]),
  )
  const path = join(dir, 'dump.ndjson')
  writeFileSync(path, Buffer.concat(lines.flatMap((line, i) => [line, Buffer.from(i % 3 === 0 ? '\r\n' : '\n')])))
  const read: Buffer[] = []
  for await (const line of readLines(path)) read.push(line)
  assert.deepEqual(read, lines)
  writeFileSync(path, 'a\n\nb')
  const last: string[] = []
  for await (const line of readLines(path)) last.push(line.toString())
  assert.deepEqual(last, ['a', '', 'b'], 'empty lines kept, the last without a newline read')
})

test('readLines gunzips a .gz file as it reads it, and names a corrupt one as a usage error', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dump-lines-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  // Enough lines that the compressed stream arrives in several chunks, with binary bytes in each line.
  const lines = Array.from({ length: 20_000 }, (_, i) =>
    Buffer.concat([Buffer.from(`{"n":${i}} `), Buffer.from([0xff, 0x80 + (i % 100)])]),
  )
  const plain = Buffer.concat(lines.flatMap((line) => [line, Buffer.from('\n')]))
  const path = join(dir, 'dump.ndjson.gz')
  writeFileSync(path, gzipSync(plain))
  const read: Buffer[] = []
  for await (const line of readLines(path)) read.push(line)
  assert.deepEqual(read, lines)
  // The same bytes without the suffix are read as they are: the extension decides, not the content.
  const raw = join(dir, 'dump.ndjson')
  writeFileSync(raw, gzipSync(Buffer.from('a\n')))
  const undecoded: Buffer[] = []
  for await (const line of readLines(raw)) undecoded.push(line)
  assert.notEqual(undecoded[0]?.toString(), 'a')
  const truncated = join(dir, 'cut.ndjson.gz')
  writeFileSync(truncated, gzipSync(plain).subarray(0, 1_000))
  await assert.rejects(
    async () => {
      for await (const _ of readLines(truncated)) void _
    },
    (err: { code?: string; message?: string }) =>
      err.code === 'FS_ERR_USAGE' && /cut\.ndjson\.gz is not a readable gzip file/.test(err.message ?? ''),
  )
})
