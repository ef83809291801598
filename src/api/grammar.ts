// The grammar of every string that can reach the NATS config. The CRD schema (schema.ts) and the
// TypeScript checks (validate.ts, the compiler) both use these constants, so they cannot drift.
// Patterns are written in the common subset of RE2 (the API server) and ECMAScript.

/** A subject token: letters, digits, `_`, `-`, `$`. No quotes, spaces, braces or other config syntax. */
const TOKEN = '[A-Za-z0-9_$-]+';
const TOKEN_OR_STAR = `(?:${TOKEN}|\\*)`;

/** A NATS subject: dot-separated tokens, `*` as a whole token, `>` only as the last token. */
export const SUBJECT_PATTERN = `^(?:${TOKEN_OR_STAR}(?:\\.${TOKEN_OR_STAR})*(?:\\.>)?|>)$`;
export const SUBJECT_MAX_LENGTH = 255;

/** A public user nkey: `U` followed by 55 base32 characters (the checksum is verified by the compiler). */
export const USER_NKEY_PATTERN = '^U[A-Z2-7]{55}$';

/** A private inbox prefix: one token that starts with `_INBOX_` (never the shared `_INBOX`). */
export const INBOX_PREFIX_PATTERN = '^_INBOX_[A-Za-z0-9_-]+$';
export const INBOX_PREFIX_MAX_LENGTH = 128;

/** A JetStream stream name: one token without wildcards. */
export const STREAM_NAME_PATTERN = '^[A-Za-z0-9_-]+$';
export const STREAM_NAME_MAX_LENGTH = 128;

/** A duration in Kubernetes' style: `90s`, `24h`, `1h30m` (units ms, s, m, h). */
export const DURATION_PATTERN = '^([0-9]{1,9}(ms|s|m|h))+$';
export const DURATION_MAX_LENGTH = 32;

/** A member's name for one of its consumers: a DNS label, short enough to fit the consumer name with the member's. */
export const CONSUMER_NAME_MAX_LENGTH = 32;
export const MAX_CONSUMERS_PER_REF = 8;
/** nats-server's limit on stream and consumer names. */
export const JETSTREAM_NAME_MAX_LENGTH = 255;
export const MAX_STREAM_REPLICAS = 5;

/** Kubernetes names. */
export const DNS_LABEL_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
export const DNS_LABEL_MAX_LENGTH = 63;
export const DNS_SUBDOMAIN_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
export const DNS_SUBDOMAIN_MAX_LENGTH = 253;

/** Bounds that keep one object from making the config (and CEL evaluation) unbounded. */
export const MAX_ROOMS_PER_MEMBER = 256;
export const MAX_DENY_SUBJECTS = 64;
export const MAX_ALLOWED_NAMESPACES = 64;

const subjectRe = new RegExp(SUBJECT_PATTERN);
const labelRe = new RegExp(DNS_LABEL_PATTERN);
const subdomainRe = new RegExp(DNS_SUBDOMAIN_PATTERN);

export const isSubject = (s: unknown): s is string =>
  typeof s === 'string' && s.length <= SUBJECT_MAX_LENGTH && subjectRe.test(s);
export const isDnsLabel = (s: unknown): s is string =>
  typeof s === 'string' && s.length <= DNS_LABEL_MAX_LENGTH && labelRe.test(s);
export const isDnsSubdomain = (s: unknown): s is string =>
  typeof s === 'string' && s.length <= DNS_SUBDOMAIN_MAX_LENGTH && subdomainRe.test(s);
