import type { Config } from '../../config/schema.js'

/** Properties every fraudstream client shares: brokers plus the user's security settings. */
export function baseClientConfig(
  config: Config,
  bootstrapServers: string,
  clientId: string,
): Record<string, string | number | boolean> {
  return {
    'bootstrap.servers': bootstrapServers,
    'client.id': clientId,
    'socket.keepalive.enable': true,
    ...config.kafka.clientProperties,
  }
}
