import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * Where an embedded job's mock cluster listens, for commands run from another terminal (`fraudstream rules put`):
 * the mock brokers live inside the job's process on loopback ports chosen at start, so the job writes them under its
 * data dir, with its pid, and removes the file when the cluster closes.
 */
const FILE = 'embedded-kafka.json'

interface Advertised {
  readonly bootstrapServers: string
  readonly pid: number
  readonly startedAt: string
}

/** Writes the file; returns what removes it (only if it is still this process's). */
export function advertiseEmbeddedKafka(dataDir: string, bootstrapServers: string): () => void {
  mkdirSync(dataDir, { recursive: true })
  const path = join(dataDir, FILE)
  const advertised: Advertised = { bootstrapServers, pid: process.pid, startedAt: new Date().toISOString() }
  // Written by rename, so a command never reads half a file.
  writeFileSync(`${path}.tmp`, JSON.stringify(advertised))
  renameSync(`${path}.tmp`, path)
  return () => {
    if (readAdvertised(dataDir)?.pid === process.pid) rmSync(path, { force: true })
  }
}

/** The bootstrap servers of an embedded job running with this data dir, or undefined if none runs. */
export function findEmbeddedKafka(dataDir: string): string | undefined {
  const advertised = readAdvertised(dataDir)
  if (!advertised) return undefined
  try {
    process.kill(advertised.pid, 0)
  } catch (err) {
    // ESRCH: the job is gone (killed without removing its file); EPERM: alive under another user, still usable.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return undefined
  }
  return advertised.bootstrapServers
}

function readAdvertised(dataDir: string): Advertised | undefined {
  let text: string
  try {
    text = readFileSync(join(dataDir, FILE), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  const value = JSON.parse(text) as Partial<Advertised>
  return typeof value.bootstrapServers === 'string' && typeof value.pid === 'number' ? (value as Advertised) : undefined
}
