// Real nats-server processes on loopback, laid out like the pods the operator serves: the main config
// in <dir>/nats-config/nats.conf includes ../nats-auth/auth.conf, the directory a Secret is mounted at.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { binary } from './binaries.js';
import { freePorts, startProcess, waitFor, type Started } from './processes.js';

export interface NatsServerConfig {
  name: string;
  dir: string;
  clientPort: number;
  monitorPort: number;
  clusterPort?: number;
  routePorts?: number[];
  /** Runs JetStream (store under <dir>/jetstream; clustered with the routes, so R3 streams work). */
  jetstream?: boolean;
}

export class NatsServer {
  readonly url: string;
  readonly monitorUrl: string;
  readonly authDir: string;
  readonly configFile: string;

  private constructor(
    readonly config: NatsServerConfig,
    private readonly process: Started,
  ) {
    this.url = `nats://127.0.0.1:${config.clientPort}`;
    this.monitorUrl = `http://127.0.0.1:${config.monitorPort}`;
    this.authDir = authDirOf(config.dir);
    this.configFile = configFileOf(config.dir);
  }

  /** Starts a server whose auth file must already be in place (see writeMainConfig and authDirOf). */
  static async start(config: NatsServerConfig): Promise<NatsServer> {
    writeMainConfig(config);
    const proc = startProcess(binary('nats-server'), ['-c', configFileOf(config.dir)]);
    const server = new NatsServer(config, proc);
    await waitFor(`nats-server ${config.name} to be healthy\n${proc.output()}`, async () => {
      if (proc.child.exitCode !== null) throw new Error(`nats-server ${config.name} exited: ${proc.output()}`);
      const res = await fetch(`${server.monitorUrl}/healthz`);
      return res.ok ? true : undefined;
    });
    return server;
  }

  get pid(): number {
    return this.process.child.pid!;
  }

  get running(): boolean {
    return this.process.child.exitCode === null && this.process.child.signalCode === null;
  }

  output(): string {
    return this.process.output();
  }

  async varz(): Promise<Record<string, unknown>> {
    const res = await fetch(`${this.monitorUrl}/varz`);
    return (await res.json()) as Record<string, unknown>;
  }

  /** SIGHUP, as `nats-server --signal reload` does; resolves once the server reports a new load time. */
  async reloadBySignal(): Promise<void> {
    const before = (await this.varz()).config_load_time;
    process.kill(this.pid, 'SIGHUP');
    await waitFor(`nats-server ${this.config.name} to reload`, async () => ((await this.varz()).config_load_time !== before ? true : undefined), 10_000, 10);
  }

  stop(): Promise<void> {
    return this.process.stop();
  }
}

export const authDirOf = (dir: string) => join(dir, 'nats-auth');
export const configFileOf = (dir: string) => join(dir, 'nats-config', 'nats.conf');

export function writeMainConfig(config: NatsServerConfig): void {
  mkdirSync(join(config.dir, 'nats-config'), { recursive: true });
  mkdirSync(authDirOf(config.dir), { recursive: true });
  const lines = [
    `server_name: "${config.name}"`,
    `listen: "127.0.0.1:${config.clientPort}"`,
    `http: "127.0.0.1:${config.monitorPort}"`,
  ];
  if (config.clusterPort !== undefined) {
    const routes = (config.routePorts ?? []).map((p) => `"nats-route://127.0.0.1:${p}"`).join(', ');
    lines.push(`cluster: { name: "rooms", listen: "127.0.0.1:${config.clusterPort}", routes: [${routes}] }`);
  }
  if (config.jetstream) lines.push(`jetstream: { store_dir: "${join(config.dir, 'jetstream')}", max_memory_store: 256MB, max_file_store: 2GB }`);
  lines.push('include "../nats-auth/auth.conf"');
  writeFileSync(configFileOf(config.dir), `${lines.join('\n')}\n`);
}

/** Writes the auth file directly (for tests without the kubelet stand-in). */
export function writeAuthFile(dir: string, text: string): void {
  mkdirSync(authDirOf(dir), { recursive: true });
  writeFileSync(join(authDirOf(dir), 'auth.conf'), text);
}

/** Configs for `count` servers that route to each other on loopback. */
export async function clusterConfigs(baseDir: string, count: number, opts: { jetstream?: boolean } = {}): Promise<NatsServerConfig[]> {
  const free = await freePorts(count * 3);
  const ports = Array.from({ length: count }, (_, i) => ({ client: free[3 * i]!, monitor: free[3 * i + 1]!, cluster: free[3 * i + 2]! }));
  return ports.map((p, i) => ({
    name: `nats-${i}`,
    dir: join(baseDir, `nats-${i}`),
    clientPort: p.client,
    monitorPort: p.monitor,
    ...(opts.jetstream && { jetstream: true }),
    ...(count > 1 && { clusterPort: p.cluster, routePorts: ports.filter((_, j) => j !== i).map((q) => q.cluster) }),
  }));
}
