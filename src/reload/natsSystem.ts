// Talks to each NATS server over its own client connection as the operator's system-account user:
// asks it to reload ($SYS.REQ.SERVER.<id>.RELOAD, nats-server 2.10+) and reads which config generation
// it enforces (the generation marker in the system account, via $SYS.REQ.SERVER.<id>.ACCOUNTZ).
import { connect, nkeyAuthenticator, type NatsConnection } from 'nats';
import { GENERATION_MARKER_PREFIX } from '../auth/render.js';

export interface ServerConnection {
  nc: NatsConnection;
  serverId: string;
  serverName: string;
}

interface SysResponse<T> {
  data?: T;
  error?: { code?: number; description?: string };
}

export class NatsSystem {
  private readonly connections = new Map<string, ServerConnection>();

  constructor(
    private readonly seed: string,
    private readonly requestTimeoutMs = 10_000,
  ) {}

  /** A live connection to the server at `url` (one per URL, reopened when it dropped). */
  async server(url: string): Promise<ServerConnection> {
    const cached = this.connections.get(url);
    if (cached && !cached.nc.isClosed()) return cached;
    const nc = await connect({
      servers: url,
      authenticator: nkeyAuthenticator(new TextEncoder().encode(this.seed)),
      reconnect: false,
      ignoreClusterUpdates: true,
      timeout: 3000,
      name: 'nats-rooms-operator',
    });
    const info = nc.info;
    if (!info) throw new Error(`no server info from ${url}`);
    const conn = { nc, serverId: info.server_id, serverName: info.server_name };
    this.connections.set(url, conn);
    return conn;
  }

  /** The generation the server enforces now, or undefined when its config carries no marker. */
  async generation(conn: ServerConnection): Promise<string | undefined> {
    const res = await this.request<{ account_detail?: { mappings?: Record<string, unknown> } }>(conn, 'ACCOUNTZ', { account: '$SYS' });
    if (res.error) throw new Error(`ACCOUNTZ failed on ${conn.serverName}: ${res.error.description}`);
    const marker = Object.keys(res.data?.account_detail?.mappings ?? {}).find((k) => k.startsWith(GENERATION_MARKER_PREFIX));
    return marker?.slice(GENERATION_MARKER_PREFIX.length);
  }

  /** The names of the accounts the server has now. */
  async accounts(conn: ServerConnection): Promise<string[]> {
    const res = await this.request<{ accounts?: string[] }>(conn, 'ACCOUNTZ', {});
    if (res.error) throw new Error(`ACCOUNTZ failed on ${conn.serverName}: ${res.error.description}`);
    return res.data?.accounts ?? [];
  }

  /** Asks the server to re-read its config from disk; resolves with its error, if it refused. */
  async reload(conn: ServerConnection): Promise<string | undefined> {
    const res = await this.request(conn, 'RELOAD', {});
    return res.error ? (res.error.description ?? `error ${res.error.code}`) : undefined;
  }

  async close(): Promise<void> {
    await Promise.all([...this.connections.values()].map((c) => c.nc.close().catch(() => {})));
    this.connections.clear();
  }

  private async request<T>(conn: ServerConnection, endpoint: string, body: unknown): Promise<SysResponse<T>> {
    const msg = await conn.nc.request(`$SYS.REQ.SERVER.${conn.serverId}.${endpoint}`, JSON.stringify(body), { timeout: this.requestTimeoutMs });
    return JSON.parse(new TextDecoder().decode(msg.data)) as SysResponse<T>;
  }
}
