// Key pairs for Members without spec.nkey: the operator generates one, keeps the seed in the Secret
// <member>-nats-credentials in the Member's namespace (owned by the Member, so it goes with it), and
// reads the public key back from there, so the key survives operator restarts. Seeds never reach a log.
import { createUser, fromSeed } from 'nkeys.js';
import { credentialsSecretName, defaultInboxPrefix } from '../api/defaults.js';
import { API_VERSION, type Member } from '../api/types.js';
import { CREDENTIAL_KEYS, MANAGED_BY, MEMBER_LABEL } from '../api/metadata.js';
import { CONTENT_TYPE, ignoreNotFound, isConflict, type KubeClient } from '../kube/client.js';
import type { Secret } from '../kube/types.js';
import { paths } from '../kube/paths.js';
import type { KubeObject } from '../kube/types.js';



const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined) => (s === undefined ? undefined : Buffer.from(s, 'base64').toString('utf8'));

/** Deriving a public key from a seed costs milliseconds: remember it per Secret version. */
const derived = new Map<string, string | undefined>();

/** The public key a credentials Secret holds, or undefined if it holds no valid user seed. */
export function publicKeyOf(secret: Secret): string | undefined {
  const cacheKey = `${secret.metadata.uid}/${secret.metadata.resourceVersion}`;
  if (derived.has(cacheKey)) return derived.get(cacheKey);
  let key: string | undefined;
  try {
    const seed = unb64(secret.data?.[CREDENTIAL_KEYS.seed]);
    key = seed ? fromSeed(new TextEncoder().encode(seed)).getPublicKey() : undefined;
    if (key && !key.startsWith('U')) key = undefined;
  } catch {
    key = undefined;
  }
  if (derived.size > 100_000) derived.clear();
  derived.set(cacheKey, key);
  return key;
}

export interface CredentialsPlan {
  /** Public keys of Members whose Secret is in place, by namespace/name. */
  keys: Map<string, string>;
  /** Members that need a Secret created. */
  create: Member[];
  /** Secrets whose non-secret fields (inbox prefix, servers) are out of date. */
  update: { member: Member; secret: Secret }[];
  /** Secrets whose Member is gone. */
  orphans: Secret[];
}

/** Decides, from the caches alone, what credentials work a reconcile has to do. Pure. */
export function planCredentials(members: readonly Member[], secrets: readonly Secret[], servers: string): CredentialsPlan {
  const byKey = new Map(secrets.map((s) => [`${s.metadata.namespace}/${s.metadata.labels?.[MEMBER_LABEL]}`, s]));
  const plan: CredentialsPlan = { keys: new Map(), create: [], update: [], orphans: [] };
  const wanted = new Set<string>();
  for (const member of members) {
    if (member.spec?.nkey !== undefined) continue;
    const key = `${member.metadata.namespace}/${member.metadata.name}`;
    wanted.add(key);
    const secret = byKey.get(key);
    const publicKey = secret && secret.metadata.name === credentialsSecretName(member.metadata.name) ? publicKeyOf(secret) : undefined;
    if (!secret || !publicKey) {
      plan.create.push(member);
      continue;
    }
    plan.keys.set(key, publicKey);
    const inbox = member.spec?.inboxPrefix ?? defaultInboxPrefix(member.metadata.namespace, member.metadata.name);
    if (unb64(secret.data?.[CREDENTIAL_KEYS.inboxPrefix]) !== inbox || unb64(secret.data?.[CREDENTIAL_KEYS.servers]) !== servers) {
      plan.update.push({ member, secret });
    }
  }
  for (const [key, secret] of byKey) if (!wanted.has(key)) plan.orphans.push(secret);
  return plan;
}

/** The Secret for a new key pair. */
export function credentialsSecret(member: Member, servers: string): Secret {
  const kp = createUser();
  const seed = new TextDecoder().decode(kp.getSeed());
  const { namespace, name, uid } = member.metadata;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: credentialsSecretName(name),
      namespace,
      labels: { ...MANAGED_BY, [MEMBER_LABEL]: name },
      ownerReferences: uid ? [{ apiVersion: API_VERSION, kind: 'Member', name, uid, controller: true, blockOwnerDeletion: false }] : [],
    },
    data: {
      [CREDENTIAL_KEYS.seed]: b64(seed),
      [CREDENTIAL_KEYS.publicKey]: b64(kp.getPublicKey()),
      [CREDENTIAL_KEYS.inboxPrefix]: b64(member.spec?.inboxPrefix ?? defaultInboxPrefix(namespace, name)),
      [CREDENTIAL_KEYS.servers]: b64(servers),
    },
  };
}

export interface CredentialsOutcome {
  keys: Map<string, string>;
  problems: Map<string, string>;
  changed: number;
}

/** Carries out a plan: creates, updates and deletes Secrets. Keys of new Secrets count at once. */
export async function applyCredentials(client: KubeClient, plan: CredentialsPlan, servers: string): Promise<CredentialsOutcome> {
  const outcome: CredentialsOutcome = { keys: new Map(plan.keys), problems: new Map(), changed: 0 };
  await forEachLimited(plan.create, 8, async (member) => {
    const key = `${member.metadata.namespace}/${member.metadata.name}`;
    const secret = credentialsSecret(member, servers);
    try {
      await client.request('POST', paths.secrets(member.metadata.namespace), { body: secret });
      outcome.keys.set(key, unb64(secret.data![CREDENTIAL_KEYS.publicKey])!);
      outcome.changed++;
    } catch (e) {
      if (isConflict(e)) {
        outcome.problems.set(key, `the Secret ${secret.metadata.name} already exists and is not one the operator manages; delete or rename it, or set spec.nkey`);
      } else {
        outcome.problems.set(key, `could not create the Secret ${secret.metadata.name}: ${(e as Error).message}`);
      }
    }
  });
  await forEachLimited(plan.update, 8, async ({ member, secret }) => {
    const inbox = member.spec?.inboxPrefix ?? defaultInboxPrefix(member.metadata.namespace, member.metadata.name);
    await client.request('PATCH', `${paths.secrets(secret.metadata.namespace)}/${secret.metadata.name}`, {
      body: { data: { [CREDENTIAL_KEYS.inboxPrefix]: b64(inbox), [CREDENTIAL_KEYS.servers]: b64(servers) } },
      contentType: CONTENT_TYPE.mergePatch,
    });
    outcome.changed++;
  });
  await forEachLimited(plan.orphans, 8, async (secret) => {
    await ignoreNotFound(client.request('DELETE', `${paths.secrets(secret.metadata.namespace)}/${secret.metadata.name}`));
    outcome.changed++;
  });
  return outcome;
}

export async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(workers);
}
