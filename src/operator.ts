// The operator process: its NATS identity, the controller with its rollout, leader election, and the
// health/metrics endpoint. Used by `nats-rooms-operator run` and, in-process, by the tests and sandbox.
import { createHash } from 'node:crypto';
import type { KubeAccess } from './kube/config.js';
import type { OperatorConfig } from './config.js';
import type { Logger } from './log.js';
import { Controller } from './controller/controller.js';
import { startHealthServer } from './controller/health.js';
import { KubeClient } from './kube/client.js';
import { LeaderElector } from './kube/leaderElection.js';
import { createMetrics } from './metrics.js';
import type { Rollout } from './reload/rollout.js';
import { NatsSystem } from './reload/natsSystem.js';
import { ServerRollout } from './reload/rollout.js';
import { ensureSystemUser } from './reload/systemUser.js';
import { StreamKeeper } from './jetstream/streamKeeper.js';
import { streamAdminOf } from './jetstream/adminUser.js';

export interface RunningOperator {
  controller: Controller;
  healthPort: number;
  isLeader: () => boolean;
  /** Graceful: releases the lease so a standby takes over at once. */
  stop: () => Promise<void>;
  /** Like a killed process: stops everything without releasing the lease (for tests). */
  crash: () => Promise<void>;
}

export interface OperatorHooks {
  /** Called when leadership is lost: the process should exit (a restart is the clean way back). */
  onLostLeadership?: () => void;
  /** Server-side timeout of reflector watches, for tests. */
  reflectorTuning?: { watchTimeoutSeconds?: number; stallTimeoutMs?: number; relistIntervalMs?: number };
}

/** The stream users' public keys, each derived once (an ed25519 key derivation per namespace, on every compile otherwise). */
function streamAdminKeys(seed: string): (namespace: string) => string {
  const keys = new Map<string, string>();
  return (namespace) => {
    let key = keys.get(namespace);
    if (!key) keys.set(namespace, (key = streamAdminOf(seed, namespace).publicKey));
    return key;
  };
}

export async function startOperator(config: OperatorConfig, kubeConfig: KubeAccess, log: Logger, hooks: OperatorHooks = {}): Promise<RunningOperator> {
  const client = new KubeClient(kubeConfig);
  const metrics = createMetrics();
  const systemUser = await ensureSystemUser(client, config.operatorNamespace, config.systemSecretName);
  const system = new NatsSystem(systemUser.seed);
  let rollout: Rollout | undefined;
  if (config.reloadStrategy !== 'none') {
    rollout = new ServerRollout({ strategy: config.reloadStrategy, system, client, config, log, metrics });
  }
  const streams = new StreamKeeper(systemUser.seed, log);
  let elector: LeaderElector | undefined;
  const controller = new Controller({
    client,
    config,
    log,
    metrics,
    holdsLease: () => (elector ? elector.isLeader : true),
    systemUserKey: systemUser.publicKey,
    // Secret like the seed it comes from, and the same for every replica and restart.
    shardSalt: createHash('sha256').update(`shard salt ${systemUser.seed}`).digest('hex'),
    ...(rollout && { rollout }),
    streams,
    streamAdminKey: streamAdminKeys(systemUser.seed),
    ...(hooks.reflectorTuning && { reflectorTuning: hooks.reflectorTuning }),
  });
  controller.start();

  let campaign: Promise<void> | undefined;
  if (config.leaderElection) {
    elector = new LeaderElector(
      client,
      {
        namespace: config.leaseNamespace,
        name: config.leaseName,
        identity: config.identity,
        leaseDurationSeconds: config.leaseDurationSeconds,
        renewDeadlineMs: config.renewDeadlineMs,
        retryPeriodMs: config.retryPeriodMs,
      },
      log,
    );
    campaign = elector.run(
      () => controller.startLeading(),
      () => {
        controller.stopLeading();
        hooks.onLostLeadership?.();
      },
    );
  } else {
    controller.startLeading();
  }

  const health = await startHealthServer(config.healthAddr, {
    healthy: () => !controller.watchesFailing,
    ready: () => controller.synced,
    registry: metrics.registry,
  });
  log.info('operator started', { identity: config.identity, leaderElection: config.leaderElection, reloadStrategy: config.reloadStrategy, healthPort: health.port });

  const shutdown = async () => {
    await controller.stop();
    await campaign;
    await system.close();
    await streams.close();
    await health.close();
  };

  return {
    controller,
    healthPort: health.port,
    isLeader: () => (elector ? elector.isLeader : true),
    stop: async () => {
      await elector?.stop();
      await shutdown();
    },
    crash: async () => {
      elector?.abandon();
      await shutdown();
    },
  };
}
