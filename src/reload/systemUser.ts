// The operator's own NATS identity: a user of the system account, whose seed lives in a Secret in the
// operator's namespace. Created once and then reused, so restarts and replicas share one key.
import { createUser, fromSeed } from 'nkeys.js';
import { KubeError, paths, type KubeClient } from '../controller/kube.js';
import type { SecretObject } from '../controller/credentials.js';

export interface SystemUser {
  seed: string;
  publicKey: string;
}

const SEED_KEY = 'nkey.seed';

export async function ensureSystemUser(client: KubeClient, namespace: string, name: string): Promise<SystemUser> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const existing = await client.getOptional<SecretObject>(`${paths.secrets(namespace)}/${name}`);
    const stored = existing?.data?.[SEED_KEY];
    if (stored) {
      const seed = Buffer.from(stored, 'base64').toString('utf8');
      return { seed, publicKey: fromSeed(new TextEncoder().encode(seed)).getPublicKey() };
    }
    if (existing) throw new Error(`the Secret ${namespace}/${name} exists but has no ${SEED_KEY}; delete it and the operator creates a new one`);
    const kp = createUser();
    const seed = new TextDecoder().decode(kp.getSeed());
    try {
      await client.request('POST', paths.secrets(namespace), {
        body: {
          apiVersion: 'v1',
          kind: 'Secret',
          type: 'Opaque',
          metadata: { name, namespace, labels: { 'app.kubernetes.io/managed-by': 'nats-rooms-operator' } },
          data: { [SEED_KEY]: Buffer.from(seed).toString('base64') },
        },
      });
      return { seed, publicKey: kp.getPublicKey() };
    } catch (e) {
      // Another replica created it first: read theirs.
      if (!(e instanceof KubeError && e.status === 409)) throw e;
    }
  }
  throw new Error(`could not create or read the Secret ${namespace}/${name}`);
}
