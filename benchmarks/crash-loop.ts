import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { constants, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchmarkArgs } from './args.js'

const USAGE = `Question: does the closed-loop demo end cleanly every time, or does the process sometimes crash (issue 22: the mock
cluster's debug logging through node-rdkafka's event callback segfaulted 3 of ~25 runs, exit 134/139)?

  npm run bench:crash-loop -- [--runs 20] [--count 200000] [--timeout-s 600] [--keep-failed] [--json]

Runs \`node bin/fraudstream.js demo --count <count> --rate max --json --data-dir <fresh temp dir>\` --runs times, one
after the other, and counts the runs that exited 0 with a JSON summary line ({"ok":true,...}) on stdout. Any other
run is listed with its exit code (128+signal for a signal, as a shell reports it: 134 SIGABRT, 139 SIGSEGV) and the
last lines of its stderr. A run still going after --timeout-s is killed (SIGKILL) and counted as "timeout".
--keep-failed keeps a failed run's data directory and its stdout/stderr there. Exits 1 unless every run was clean.`

const values = benchmarkArgs(USAGE, {
  runs: { type: 'string', default: '20' },
  count: { type: 'string', default: '200000' },
  'timeout-s': { type: 'string', default: '600' },
  'keep-failed': { type: 'boolean', default: false },
})
const runs = positiveInt('--runs', values.runs)
const count = positiveInt('--count', values.count)
const timeoutMs = positiveInt('--timeout-s', values['timeout-s']) * 1000
const bin = fileURLToPath(new URL('../bin/fraudstream.js', import.meta.url))

function positiveInt(name: string, text: string): number {
  const n = Number(text)
  if (!Number.isInteger(n) || n <= 0) {
    process.stderr.write(`${name} must be a positive integer, got "${text}"\n`)
    process.exit(2)
  }
  return n
}

interface Run {
  readonly run: number
  /** The exit code, 128 + the signal's number when a signal ended it (as a shell reports it), or null on timeout. */
  readonly exitCode: number | null
  readonly signal: string | null
  readonly timedOut: boolean
  readonly seconds: number
  /** The demo's JSON summary line said ok. */
  readonly summaryOk: boolean
  readonly throughputTxS: number | null
  readonly stderrTail: string
  readonly dataDir: string | null
}

function runDemo(run: number): Promise<Run> {
  const dataDir = mkdtempSync(join(tmpdir(), 'fraudstream-crash-loop-'))
  const startedMs = performance.now()
  const child = spawn(
    process.execPath,
    [bin, 'demo', '--count', String(count), '--rate', 'max', '--json', '--data-dir', dataDir],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    child.kill('SIGKILL')
  }, timeoutMs)
  return new Promise((resolve) => {
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      const seconds = (performance.now() - startedMs) / 1000
      const summary = lastJsonLine(stdout)
      const summaryOk = summary?.['ok'] === true
      const exitCode = timedOut ? null : (code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0))
      const clean = exitCode === 0 && summaryOk
      let kept: string | null = null
      if (!clean && values['keep-failed']) {
        writeFileSync(join(dataDir, 'stdout.log'), stdout)
        writeFileSync(join(dataDir, 'stderr.log'), stderr)
        kept = dataDir
      } else rmSync(dataDir, { recursive: true, force: true })
      const throughput = summary?.['throughput_tx_s']
      resolve({
        run,
        exitCode,
        signal,
        timedOut,
        seconds,
        summaryOk,
        throughputTxS: typeof throughput === 'number' ? throughput : null,
        stderrTail: clean ? '' : stderr.trimEnd().split('\n').slice(-5).join('\n'),
        dataDir: kept,
      })
    })
  })
}

function lastJsonLine(stdout: string): Record<string, unknown> | undefined {
  const line = stdout.trimEnd().split('\n').at(-1)
  if (!line) return undefined
  try {
    const parsed: unknown = JSON.parse(line)
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined
  } catch {
    // Not JSON: the run died before its summary, or printed something else last; counted as not clean.
    return undefined
  }
}

const results: Run[] = []
for (let run = 1; run <= runs; run++) {
  const result = await runDemo(run)
  results.push(result)
  const outcome = result.timedOut
    ? `timeout after ${result.seconds.toFixed(0)} s (killed)`
    : `exit ${result.exitCode}${result.signal ? ` (${result.signal})` : ''}${result.summaryOk ? ', JSON summary ok' : ', no ok JSON summary'}`
  process.stderr.write(
    `run ${run}/${runs}: ${outcome}, ${result.seconds.toFixed(1)} s${result.throughputTxS !== null ? `, ${result.throughputTxS} tx/s` : ''}\n`,
  )
  if (result.stderrTail) process.stderr.write(`${result.stderrTail.replace(/^/gm, '    ')}\n`)
}

const clean = results.filter((r) => r.exitCode === 0 && r.summaryOk)
const failed = results.filter((r) => !(r.exitCode === 0 && r.summaryOk))
const seconds = results.map((r) => r.seconds).sort((a, b) => a - b)
const report = {
  runs,
  count,
  clean: clean.length,
  failed: failed.map((r) => ({
    run: r.run,
    exitCode: r.exitCode,
    signal: r.signal,
    timedOut: r.timedOut,
    summaryOk: r.summaryOk,
    seconds: Number(r.seconds.toFixed(1)),
    dataDir: r.dataDir,
  })),
  seconds: {
    min: Number(seconds[0]!.toFixed(1)),
    median: Number(seconds[Math.floor(seconds.length / 2)]!.toFixed(1)),
    max: Number(seconds.at(-1)!.toFixed(1)),
  },
}
if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`)
else {
  process.stdout.write(`${clean.length} of ${runs} runs exited 0 with a JSON summary line\n`)
  if (failed.length > 0)
    process.stdout.write(
      `others: ${failed.map((r) => `run ${r.run} ${r.timedOut ? 'timeout' : `exit ${r.exitCode}`}${r.signal ? ` ${r.signal}` : ''}${r.exitCode === 0 ? ' without an ok summary' : ''}`).join(', ')}\n`,
    )
  process.stdout.write(
    `run time: min ${report.seconds.min} s, median ${report.seconds.median} s, max ${report.seconds.max} s\n`,
  )
}
process.exitCode = failed.length === 0 ? 0 : 1
