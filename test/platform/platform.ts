// The whole test platform in one call: a control plane (etcd + kube-apiserver with the CRDs) and a NATS
// cluster whose Pods a kubelet stand-in keeps in step with the auth Secret. The sandbox script and
// tests that want a private control plane use this; most test files share the control plane started
// by globalSetup.ts and call startNatsCluster themselves.
//
// No vitest imports.
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from './controlPlane.js';
import { startNatsCluster, type NatsCluster, type NatsClusterOptions } from './natsPods.js';

export interface PlatformOptions extends Omit<NatsClusterOptions, 'replicas'> {
  /** NATS servers (default 3). */
  natsReplicas?: number;
  /** Delay between a Secret change and its delivery to each pod (default 60 s, like kubelet). */
  kubeletDelayMs?: number;
  controlPlane?: ControlPlaneOptions;
}

export interface Platform {
  controlPlane: ControlPlane;
  nats: NatsCluster;
  /** Milliseconds to start each part. */
  timings: { controlPlane: number; nats: number };
  stop(): Promise<void>;
}

export async function startPlatform(opts: PlatformOptions = {}): Promise<Platform> {
  const { natsReplicas, controlPlane: cpOptions, ...natsOptions } = opts;
  const t0 = Date.now();
  const controlPlane = await startControlPlane(cpOptions);
  const t1 = Date.now();
  let nats: NatsCluster;
  try {
    nats = await startNatsCluster(controlPlane, { ...natsOptions, replicas: natsReplicas ?? 3 });
  } catch (e) {
    await controlPlane.stop();
    throw e;
  }
  const t2 = Date.now();
  let stopped: Promise<void> | undefined;
  return {
    controlPlane,
    nats,
    timings: { controlPlane: t1 - t0, nats: t2 - t1 },
    stop: () =>
      (stopped ??= (async () => {
        await nats.stop().catch(() => {});
        await controlPlane.stop();
      })()),
  };
}
