import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { loadConfig } from '../../src/config/load.js'
import type { Config } from '../../src/config/schema.js'
import { createLogger, type Logger } from '../../src/observability/logger.js'

/**
 * A test config: unique group and data dir, HTTP on a free port, fast group timings, and no inference deadline:
 * integration tests check what a job computes on a machine shared with other work, where a worker thread can wait
 * past 50 ms for a core; the deadline and its fallback have tests of their own (test/topology/model-lineup.test.ts).
 */
export function testConfig(overrides: Record<string, unknown> = {}): {
  config: Config
  dataDir: string
  cleanup: () => void
} {
  const dataDir = mkdtempSync(join(tmpdir(), 'fraudstream-test-'))
  const config = loadConfig({
    overrides: {
      environment: 'test',
      dataDir,
      'kafka.groupId': `test-group-${Math.random().toString(36).slice(2)}`,
      'kafka.sessionTimeoutMs': 6_000,
      'kafka.heartbeatIntervalMs': 500,
      'http.port': 0,
      'infer.deadlineMs': 0,
      ...overrides,
    },
  })
  return { config, dataDir, cleanup: () => rmSync(dataDir, { recursive: true, force: true }) }
}

/** A logger whose lines tests can read; warn and above also go to stderr for debugging failures. */
export function testLogger(level = 'info'): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = []
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString().split('\n')) {
        if (!text) continue
        const line = JSON.parse(text) as Record<string, unknown>
        lines.push(line)
        if (typeof line.level === 'number' && line.level >= 40) process.stderr.write(`${text}\n`)
      }
      done()
    },
  })
  return { log: createLogger({ level, destination }), lines }
}
