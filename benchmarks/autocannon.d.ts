// The part of autocannon's API bench:api uses (the package ships no types).
declare module 'autocannon' {
  interface Request {
    method?: string
    path?: string
    headers?: Record<string, string>
    body?: string
    setupRequest?: (request: Request) => Request
    onResponse?: (status: number, body: string) => void
  }
  interface Percentiles {
    p50: number
    p99: number
    max: number
    average: number
  }
  interface Result {
    requests: Percentiles & { total: number }
    latency: Percentiles
    non2xx: number
    errors: number
    timeouts: number
  }
  function autocannon(options: {
    url: string
    connections?: number
    overallRate?: number
    duration?: number
    requests?: Request[]
  }): Promise<Result>
  export default autocannon
}
