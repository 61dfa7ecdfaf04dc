#!/usr/bin/env -S UV_THREADPOOL_SIZE=16 node
// UV_THREADPOOL_SIZE: each Kafka consumer's consume() holds a libuv pool thread while it waits for records, and a job
// runs several (its source, the labels sink, the lookup aggregators, the table readers): with libuv's default of 4,
// every other pool task (a log-end query, a commit, a file read) queues behind them. libuv reads it before any
// JavaScript runs, so it is set here and in package.json's scripts (see src/runtime/threadpool.ts).

// The CLI runs the TypeScript sources through tsx, so a fresh clone needs no build step.
import { register } from 'tsx/esm/api'

register()
await import('../src/cli/main.ts')
