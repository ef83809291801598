// The operator's own NATS identity: a user of the system account, whose seed lives in a Secret in the
// operator's namespace. Created once and then reused, so restarts and replicas share one key.
import { createUser, fromSeed } from 'nkeys.js';
import { isConflict, type KubeClient } from '../kube/client.js';
import { paths } from '../kube/paths.js';
import type { Secret } from '../kube/types.js';
import { MANAGED_BY, SYSTEM_SEED_KEY } from '../api/metadata.js';

export interface SystemUser {
  seed: string;
  publicKey: string;
}


export async function ensureSystemUser(client: KubeClient, namespace: string, name: string): Promise<SystemUser> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const existing = await client.getOptional<Secret>(`${paths.secrets(namespace)}/${name}`);
    const stored = existing?.data?.[SYSTEM_SEED_KEY];
    if (stored) {
      const seed = Buffer.from(stored, 'base64').toString('utf8');
      return { seed, publicKey: fromSeed(new TextEncoder().encode(seed)).getPublicKey() };
    }
    if (existing) throw new Error(`the Secret ${namespace}/${name} exists but has no ${SYSTEM_SEED_KEY}; delete it and the operator creates a new one`);
    const kp = createUser();
    const seed = new TextDecoder().decode(kp.getSeed());
    try {
      await client.request('POST', paths.secrets(namespace), {
        body: {
          apiVersion: 'v1',
          kind: 'Secret',
          type: 'Opaque',
          metadata: { name, namespace, labels: { ...MANAGED_BY } },
          data: { [SYSTEM_SEED_KEY]: Buffer.from(seed).toString('base64') },
        },
      });
      return { seed, publicKey: kp.getPublicKey() };
    } catch (e) {
      // Another replica created it first: read theirs.
      if (!isConflict(e)) throw e;
    }
  }
  throw new Error(`could not create or read the Secret ${namespace}/${name}`);
}
