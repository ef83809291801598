// Runs the operator in-process against a test control plane and NATS cluster, with the config a user
// would give it, scoped to the test's own namespaces so test files sharing a control plane never meet.
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll } from 'vitest';
import { loadConfig, type OperatorConfig } from '../../src/config.js';
import { createLogger, silentLogger } from '../../src/log.js';
import { startOperator, type OperatorHooks, type RunningOperator } from '../../src/operator.js';
import { startNatsCluster, type NatsCluster } from '../platform/natsPods.js';
import { TestKube } from './kube.js';
import { Client } from './natsClient.js';
import { waitFor } from './processes.js';

export { metric } from './metrics.js';

export interface TestOperatorOptions {
  kubeConfig: KubeConfig;
  natsNamespace: string;
  /** The Helm release of the NATS pods (their app.kubernetes.io/instance label). */
  natsRelease: string;
  authSecretName?: string;
  watchNamespaces: string[];
  clientUrls?: string[];
  /** Extra flags, as on the command line. */
  args?: string[];
  identity?: string;
  hooks?: OperatorHooks;
}

export function testOperatorConfig(o: TestOperatorOptions): OperatorConfig {
  return loadConfig(
    [
      `--nats-namespace=${o.natsNamespace}`,
      `--nats-selector=app.kubernetes.io/name=nats,app.kubernetes.io/instance=${o.natsRelease}`,
      `--auth-secret=${o.authSecretName ?? 'nats-rooms-auth'}`,
      `--watch-namespaces=${o.watchNamespaces.join(',')}`,
      `--client-url=${(o.clientUrls ?? ['nats://127.0.0.1:4222']).join(',')}`,
      '--health-addr=127.0.0.1:0',
      `--lease-name=nats-rooms-operator-${o.natsNamespace}`,
      '--debounce-ms=20',
      '--max-delay-ms=500',
      '--server-timeout-ms=20000',
      `--identity=${o.identity ?? 'test-operator'}`,
      ...(o.args ?? []),
    ],
    {},
  );
}

export function startTestOperator(o: TestOperatorOptions): Promise<RunningOperator> {
  const log = process.env.NRO_TEST_LOGS ? createLogger('debug', { operator: o.identity ?? 'test-operator' }, (l) => process.stderr.write(l)) : silentLogger;
  return startOperator(testOperatorConfig(o), o.kubeConfig, log, o.hooks);
}

/**
 * The order of a real cluster: namespaces, then the operator (which writes the auth Secret), then the
 * NATS pods that mount it, so the servers start from a config that knows the operator's system user.
 */
export async function startOperatorThenNats(o: TestOperatorOptions & { kubeletDelayMs: number; jetstream?: boolean }): Promise<{ operator: RunningOperator; nats: NatsCluster }> {
  const kube = new TestKube(o.kubeConfig);
  for (const ns of [...o.watchNamespaces, o.natsNamespace]) await kube.ensureNamespace(ns);
  const operator = await startTestOperator(o);
  const secret = o.authSecretName ?? 'nats-rooms-auth';
  await waitFor('the operator to write the auth Secret', async () => ((await kube.secret(o.natsNamespace, secret)) ? true : undefined));
  const nats = await startNatsCluster({ kubeConfig: o.kubeConfig }, { namespace: o.natsNamespace, release: o.natsRelease, secretName: secret, kubeletDelayMs: o.kubeletDelayMs, replicas: 3, jetstream: o.jetstream ?? false });
  return { operator, nats };
}

/** A test file's operator and NATS cluster, and the clients its tests opened. */
export interface OperatorAndNats {
  operator: RunningOperator;
  nats: NatsCluster;
  clients: Client[];
  /** One connection with this key and inbox prefix to every server (closed after the file's tests). */
  connectEverywhere(seed: string, inboxPrefix: string): Promise<Client[]>;
  /** The annotations of the NATS pods, in pod order. */
  podAnnotations(): Promise<(Record<string, string> | undefined)[]>;
}

/**
 * Starts the operator and then the NATS pods (startOperatorThenNats) before the file's tests, and
 * stops them and closes the clients after. Call it at the top of a test file, before its own hooks.
 */
export function useOperatorAndNats(o: TestOperatorOptions & { kubeletDelayMs: number; jetstream?: boolean }): OperatorAndNats {
  const kube = new TestKube(o.kubeConfig);
  const suite: OperatorAndNats = {
    operator: undefined as unknown as RunningOperator,
    nats: undefined as unknown as NatsCluster,
    clients: [],
    connectEverywhere: async (seed, inboxPrefix) => {
      const cs = await Promise.all(suite.nats.urls.map((url) => Client.connect(url, seed, inboxPrefix, { reconnect: false })));
      suite.clients.push(...cs);
      return cs;
    },
    podAnnotations: () =>
      Promise.all(
        suite.nats.podNames.map(async (name) => (await kube.client.get<{ metadata: { annotations?: Record<string, string> } }>(`/api/v1/namespaces/${o.natsNamespace}/pods/${name}`)).metadata.annotations),
      ),
  };
  beforeAll(async () => {
    ({ operator: suite.operator, nats: suite.nats } = await startOperatorThenNats(o));
  });
  afterAll(async () => {
    for (const c of suite.clients) await c.close().catch(() => {});
    await suite.operator?.stop();
    await suite.nats?.stop();
  });
  return suite;
}
