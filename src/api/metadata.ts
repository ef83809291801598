// Every label, annotation, field manager and Secret key the operator reads or writes, in one place:
// the chart, the tests and other tools match on these names, so none may be spelled twice.
import { GROUP } from './types.js';

/** Who the operator's objects say manages them; credentials Secrets are found by it. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const OPERATOR_NAME = 'nats-rooms-operator';
export const MANAGED_BY = { [MANAGED_BY_LABEL]: OPERATOR_NAME } as const;

/** On a credentials Secret: the Member it belongs to. */
export const MEMBER_LABEL = `${GROUP}/member`;
/** Selects the credentials Secrets the operator manages (for its watch). */
export const CREDENTIALS_SELECTOR = `${MANAGED_BY_LABEL}=${OPERATOR_NAME},${MEMBER_LABEL}`;

/**
 * The generation (sha256 of the main file) on the auth Secret, and on each NATS pod: a pod annotation
 * change makes kubelet sync the pod's volumes at once instead of at its next periodic sync.
 */
export const CONFIG_HASH_ANNOTATION = `${GROUP}/config-hash`;
/** When a pod was poked again because its server still read the old files (kubelet's cache was late). */
export const POKED_AT_ANNOTATION = `${GROUP}/poked-at`;

/** The field manager of every server-side apply and status patch of the operator. */
export const FIELD_MANAGER = OPERATOR_NAME;

/** Keys of a Member's credentials Secret, as apps mount them. */
export const CREDENTIAL_KEYS = { seed: 'nkey.seed', publicKey: 'nkey.pub', inboxPrefix: 'inbox-prefix', servers: 'nats-url' } as const;

/** Key of the seed in the Secret of the operator's own NATS system user. */
export const SYSTEM_SEED_KEY = 'nkey.seed';

/** On a persisted Room whose stream goes with it (deletionPolicy Delete): the operator deletes the stream first. */
export const STREAM_FINALIZER = `${GROUP}/stream`;
