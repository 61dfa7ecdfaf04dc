import type { Command } from 'commander'
import { generateApiKey, hashApiKey } from '../api/api-keys.js'
import { ErrorCode, FraudstreamError } from '../core/errors.js'
import { parseInteger, parseNumber, runCommand, withCommonOptions, type CommonOptions } from './common.js'

const SCOPES = ['score', 'admin'] as const

/**
 * `fraudstream api-key`: a new random key for the scoring API and the api.keys entry that admits it. The key is printed
 * once and kept nowhere; config holds only its sha256.
 */
export function registerApiKey(program: Command): void {
  const command = program
    .command('api-key')
    .description(
      'make a scoring-API key: prints the key once and the api.keys entry (its sha256) for config or FRAUDSTREAM_API_KEYS',
    )
    .requiredOption('--id <id>', 'the key id: in logs, metrics and rate limits (e.g. gateway-eu)')
    .option('--scopes <list>', 'comma-separated: score, admin', 'score')
    .option('--rate <n>', 'token bucket: requests per second', parseNumber('--rate', 0.001), 1_000)
    .option('--burst <n>', 'token bucket: requests at once', parseInteger('--burst', 1), 2_000)
  withCommonOptions(command, { logLevel: 'warn' }).action(
    async (opts: CommonOptions & { id: string; scopes: string; rate: number; burst: number }) => {
      await runCommand(opts, async () => {
        const scopes = opts.scopes.split(',').map((s) => s.trim())
        const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s))
        if (unknown.length > 0 || scopes.length === 0)
          throw new FraudstreamError(
            ErrorCode.usage,
            `--scopes takes ${SCOPES.join(', ')}; got ${unknown.join(', ') || 'none'}`,
            'input',
          )
        const key = generateApiKey()
        const entry = { id: opts.id, hash: hashApiKey(key), scopes, ratePerSecond: opts.rate, burst: opts.burst }
        if (opts.json) process.stdout.write(`${JSON.stringify({ ok: true, key, entry })}\n`)
        else
          process.stdout.write(
            `key (shown once; give it to the caller, store it nowhere else): ${key}\n` +
              `api.keys entry (safe to commit: a hash):\n  ${JSON.stringify(entry)}\n` +
              `or: export FRAUDSTREAM_API_KEYS='${JSON.stringify([entry])}'\n`,
          )
      })
    },
  )
}
