// A NATS cluster as the operator sees it in Kubernetes: N real nats-server processes on loopback, routed
// to each other, and one Pod object per server in the API server, shaped like the official NATS Helm
// chart's StatefulSet pods (labels, named container ports, the auth Secret mounted at /etc/nats-auth).
// The kubelet stand-in (kubeletStandIn.ts) fills each server's nats-auth/ from the Secret before the
// server starts, keeps it in step afterwards, and writes the Pods' status (Ready follows the server).
//
// No vitest imports: the sandbox script uses this too.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { compile } from '../../src/auth/compile.js';
import { DEFAULT_SHARDS, render } from '../../src/auth/render.js';
import { clusterConfigs, NatsServer, type NatsServerConfig } from '../support/natsServer.js';
import { waitFor } from '../support/processes.js';
import { statusOf } from './kubeAccess.js';
import { DEFAULT_NODE_NAME, KubeletStandIn } from './kubeletStandIn.js';
import { MANAGED_BY } from '../../src/api/metadata.js';

export interface NatsClusterOptions {
  replicas?: number;
  namespace?: string;
  secretName?: string;
  /** The stand-in's delay between a Secret change and its delivery (default 60 s; 0 for fast tests). */
  kubeletDelayMs?: number;
  kubeletJitterMs?: number;
  /** Readiness probe period (default 500 ms). */
  probePeriodMs?: number;
  /** Where the servers' dirs go (default: a new temp dir, removed by stop()). */
  baseDir?: string;
  /** Server configs chosen in advance (see clusterConfigs), when their URLs must be known before the start. */
  configs?: NatsServerConfig[];
  /** Servers run JetStream (see NatsServerConfig.jetstream). */
  jetstream?: boolean;
  /** The Helm release name: pods are `<release>-<i>`, label app.kubernetes.io/instance (default `nats`). */
  release?: string;
}

export interface NatsCluster {
  namespace: string;
  secretName: string;
  podNames: string[];
  /** The running server of each pod (replaced by startServer). */
  servers: NatsServer[];
  configs: NatsServerConfig[];
  /** Client URLs, pod order. */
  urls: string[];
  standIn: KubeletStandIn;
  baseDir: string;
  /** The labels every server Pod carries (those the Helm chart sets). */
  labels: Record<string, string>;
  /** Stops server i; resolves once its Pod is NotReady in the API server. */
  stopServer(i: number): Promise<void>;
  /** Starts server i again (same ports, same dir); resolves once its Pod is Ready. */
  startServer(i: number): Promise<void>;
  /** Replaces keys of the auth Secret (as the operator would). */
  updateSecret(data: Record<string, string>): Promise<void>;
  /** SIGHUP to every running server, waiting for each to report the reload. */
  reloadAll(): Promise<void>;
  stop(): Promise<void>;
}

export const CLIENT_PORT_NAME = 'nats';
export const AUTH_MOUNT_PATH = '/etc/nats-auth';
export const NATS_IMAGE = 'nats:2.15.2-alpine';
/** Shard Secrets the pods mount (the operator's --auth-shards default). */
export const AUTH_SHARDS = DEFAULT_SHARDS;

/** The "nobody allowed yet" config the Secret starts with. */
export const bootstrapAuthConfig = () => render(compile([], []).model).text;

/** Anything with an admin KubeConfig: a ControlPlane or ControlPlaneClient. */
export interface HasKubeConfig {
  kubeConfig: KubeConfig;
}

export async function startNatsCluster(controlPlane: HasKubeConfig, opts: NatsClusterOptions = {}): Promise<NatsCluster> {
  const replicas = opts.replicas ?? 3;
  const namespace = opts.namespace ?? 'nats';
  const secretName = opts.secretName ?? 'nats-rooms-auth';
  const release = opts.release ?? 'nats';
  const kc = controlPlane.kubeConfig;
  const core = kc.makeApiClient(CoreV1Api);
  const ownDir = opts.baseDir === undefined;
  const baseDir = opts.baseDir ?? mkdtempSync(join(tmpdir(), 'nro-nats-'));
  if (ownDir) writeFileSync(join(baseDir, 'owner'), String(process.pid)); // see sweepStaleDirs in controlPlane.ts
  const removeDir = () => {
    if (ownDir) rmSync(baseDir, { recursive: true, force: true });
  };
  process.once('exit', removeDir);

  const labels = {
    'app.kubernetes.io/name': 'nats',
    'app.kubernetes.io/instance': release,
    'app.kubernetes.io/component': 'nats',
  };
  const podNames = Array.from({ length: replicas }, (_, i) => `${release}-${i}`);
  const servers: NatsServer[] = [];
  let standIn: KubeletStandIn | undefined;
  let stopped = false;

  let watchdog: NodeJS.Timeout | undefined;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    clearInterval(watchdog);
    await standIn?.stop();
    await Promise.all(servers.map((s) => s?.stop()));
    // No kubelet will confirm a graceful deletion of a bound pod: delete at once (best effort).
    await Promise.all(podNames.map((name) => core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 }).catch(() => {})));
    removeDir();
    process.removeListener('exit', removeDir);
  };

  try {
    await createIfAbsent(() => core.createNamespace({ body: { metadata: { name: namespace } } }));
    // What the service-account controller would have made (the ServiceAccount admission plugin needs it).
    await createIfAbsent(() => core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'default' } } }));
    await createIfAbsent(() =>
      core.createNamespacedSecret({
        namespace,
        body: {
          metadata: { name: secretName, labels: { ...MANAGED_BY } },
          type: 'Opaque',
          data: { 'auth.conf': Buffer.from(bootstrapAuthConfig()).toString('base64') },
        },
      }),
    );

    const configs = opts.configs ?? (await clusterConfigs(baseDir, replicas, { jetstream: opts.jetstream ?? false }));
    standIn = await KubeletStandIn.start({
      kubeConfig: kc,
      namespace,
      delayMs: opts.kubeletDelayMs ?? 60_000,
      jitterMs: opts.kubeletJitterMs ?? 0,
      probePeriodMs: opts.probePeriodMs ?? 500,
    });
    const si = standIn;

    await Promise.all(
      configs.map(async (config, i) => {
        const name = podNames[i]!;
        await core.createNamespacedPod({ namespace, body: podManifest(name, i, config, labels, secretName) });
        si.addPod(name, config.dir);
        await si.mountPod(name); // volumes before the container, as kubelet does
        servers[i] = await NatsServer.start(config);
        await si.containerRunning(name);
      }),
    );
    if (replicas > 1) await waitForRoutes(servers);
    // A server that dies on its own (not through stopServer) shows as an exited container, as kubelet would report it.
    watchdog = setInterval(() => {
      servers.forEach((server, i) => {
        if (!server.running && si.isRunning(podNames[i]!)) void si.containerExited(podNames[i]!, 1).catch(() => {});
      });
    }, opts.probePeriodMs ?? 500);
    watchdog.unref();

    return {
      namespace,
      secretName,
      podNames,
      servers,
      configs,
      urls: servers.map((s) => s.url),
      standIn: si,
      baseDir,
      labels,
      async stopServer(i) {
        await servers[i]!.stop();
        await si.containerExited(podNames[i]!, 0);
      },
      async startServer(i) {
        if (servers[i]!.running) throw new Error(`${podNames[i]} is running`);
        servers[i] = await NatsServer.start(configs[i]!);
        await si.containerRunning(podNames[i]!);
      },
      async updateSecret(data) {
        await waitFor(`secret ${namespace}/${secretName} to be updated`, async () => {
          const secret = await core.readNamespacedSecret({ name: secretName, namespace });
          const encoded = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
          try {
            await core.replaceNamespacedSecret({ name: secretName, namespace, body: { ...secret, data: { ...secret.data, ...encoded } } });
            return true;
          } catch (e) {
            if (statusOf(e) === 409) return undefined; // conflict: read again
            throw e;
          }
        }, 10_000, 20);
      },
      async reloadAll() {
        await Promise.all(servers.filter((s) => s.running).map((s) => s.reloadBySignal()));
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

function podManifest(name: string, index: number, config: NatsServerConfig, labels: Record<string, string>, secretName: string): V1Pod {
  return {
    metadata: {
      name,
      labels: { ...labels, 'statefulset.kubernetes.io/pod-name': name, 'apps.kubernetes.io/pod-index': String(index) },
    },
    spec: {
      // Bound already: there is no scheduler, and the kubelet stand-in serves this node.
      nodeName: DEFAULT_NODE_NAME,
      hostname: name,
      containers: [
        {
          name: 'nats',
          image: NATS_IMAGE,
          args: ['--config', '/etc/nats-config/nats.conf'],
          ports: [
            { name: CLIENT_PORT_NAME, containerPort: config.clientPort, protocol: 'TCP' },
            ...(config.clusterPort !== undefined ? [{ name: 'cluster', containerPort: config.clusterPort, protocol: 'TCP' }] : []),
            { name: 'monitor', containerPort: config.monitorPort, protocol: 'TCP' },
          ],
          readinessProbe: { httpGet: { path: '/healthz?js-enabled-only=true', port: 'monitor' }, periodSeconds: 10 },
          volumeMounts: [{ name: 'auth', mountPath: AUTH_MOUNT_PATH }],
        },
      ],
      // The main auth Secret and its optional shards (see src/auth/render.ts), in one directory that
      // kubelet updates in one atomic swap.
      volumes: [
        {
          name: 'auth',
          projected: {
            sources: [
              { secret: { name: secretName } },
              ...Array.from({ length: AUTH_SHARDS }, (_, i) => ({ secret: { name: `${secretName}-${i + 1}`, optional: true } })),
            ],
          },
        },
      ],
    },
  };
}

/** Resolves once every server has a route to every other (interest then propagates across the cluster). */
async function waitForRoutes(servers: NatsServer[]): Promise<void> {
  const others = servers.length - 1;
  await Promise.all(
    servers.map((s) =>
      waitFor(`${s.config.name} to route to ${others} servers`, async () => {
        const res = await fetch(`${s.monitorUrl}/routez`);
        const routez = (await res.json()) as { routes?: { remote_id?: string; remote_name?: string }[] };
        const remotes = new Set((routez.routes ?? []).map((r) => r.remote_name || r.remote_id));
        return remotes.size >= others ? true : undefined;
      }, 30_000, 25),
    ),
  );
}

async function createIfAbsent(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (e) {
    if (statusOf(e) !== 409) throw e;
  }
}
