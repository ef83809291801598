// Defaults derived from an object's namespace and name. Namespaces never contain `_` or `.`, and object
// names never contain `_`, so each mapping below is one-to-one: two objects never share a default.

/** `rooms.<namespace>`: the subject root every namespace owns. */
export const defaultSubjectRoot = (namespace: string) => `rooms.${namespace}`;

/** `rooms.<namespace>.<name>`; dots in the name become subject tokens. */
export const defaultRoomSubject = (namespace: string, name: string) => `${defaultSubjectRoot(namespace)}.${name}`;

/** `_INBOX_<namespace>_<name>` with dots as `_`: one token, so no member's inbox contains another's. */
export const defaultInboxPrefix = (namespace: string, name: string) =>
  `${inboxPrefixNamespacePart(namespace)}${name.replaceAll('.', '_')}`;

/** Every inbox prefix of a namespace, default or override, starts with this. */
export const inboxPrefixNamespacePart = (namespace: string) => `_INBOX_${namespace}_`;

/** `<namespace>_<name>` with dots as `_`: a stream name is one token. */
export const defaultStreamName = (namespace: string, name: string) =>
  `${streamNamespacePart(namespace)}${name.replaceAll('.', '_')}`;

export const streamNamespacePart = (namespace: string) => `${namespace}_`;

/** Name of the Secret holding an operator-generated key pair for a Member. */
export const credentialsSecretName = (memberName: string) => `${memberName}-nats-credentials`;
