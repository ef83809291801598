// The Room and Member custom resources as users write them (group natsrooms.io, version v1alpha1).
// The OpenAPI schema in schema.ts describes the same shapes for the API server.

export const GROUP = 'natsrooms.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export const ACCESS_MODES = ['Publish', 'Subscribe', 'PublishSubscribe', 'Request', 'Respond'] as const;
export type AccessMode = (typeof ACCESS_MODES)[number];

export interface ObjectMeta {
  name: string;
  namespace: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string | Date;
  deletionTimestamp?: string;
  finalizers?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface RoomSpec {
  /** NATS subject of the room; defaults to `rooms.<namespace>.<name>`. */
  subject?: string;
  /** Namespaces whose Members may join this room besides its own. */
  allowedNamespaces?: string[];
  /** What Members of those namespaces may do: Subscribe (read what this namespace publishes; default) or Request (call its responders). */
  guestAccess?: 'Subscribe' | 'Request';
  /** Set when the operator keeps a JetStream stream capturing exactly the room's subject (history, durable consumers). */
  jetstream?: JetStreamSpec;
}

/** The stream of a persisted room, as the Room asks for it (defaults in api/defaults.ts). */
export interface JetStreamSpec {
  /** Defaults to `<namespace>_<name>` (dots become underscores). */
  stream?: string;
  storage?: 'File' | 'Memory';
  replicas?: number;
  retention?: 'Limits' | 'Interest' | 'WorkQueue';
  /** A duration such as `24h` or `90m`; absent: messages do not expire by age. */
  maxAge?: string;
  maxBytes?: number;
  maxMessages?: number;
  discard?: 'Old' | 'New';
  /** What happens to the stream and its messages when the Room is deleted (default Retain). */
  deletionPolicy?: 'Retain' | 'Delete';
}

export interface RoomRef {
  room: string;
  /** Namespace of the room; defaults to the Member's own namespace. */
  namespace?: string;
  access: AccessMode;
  /**
   * Durable pull consumers of the room's stream this member owns (reading access only). The operator
   * creates each as `<member>__<name>`; only this member may pull from, inspect and ack it.
   */
  consumers?: string[];
  /** Durable push consumers delivering the stream to this member's own inbox, at `<inboxPrefix>.<member>__<name>`. */
  pushConsumers?: string[];
}

export interface SubjectList {
  publish?: string[];
  subscribe?: string[];
}

export interface MemberSpec {
  /** Public user nkey (U...). Absent: the operator generates a key pair and writes a credentials Secret. */
  nkey?: string;
  rooms?: RoomRef[];
  /** Overrides the private inbox prefix `_INBOX_<namespace>_<name>`. */
  inboxPrefix?: string;
  /** Subjects denied even when a room grants them. */
  deny?: SubjectList;
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime?: string;
}

/** The stream's state as JetStream last reported it. */
export interface StreamState {
  messages: number;
  bytes: number;
  firstSequence: number;
  lastSequence: number;
  consumers: number;
}

export interface RoomStatus {
  subject?: string;
  stream?: string;
  streamState?: StreamState;
  memberCount?: number;
  observedGeneration?: number;
  conditions?: Condition[];
}

export interface GrantedSubjects {
  publish: string[];
  subscribe: string[];
  allowResponses: boolean;
}

export interface MemberRoomStatus {
  room: string;
  namespace: string;
  access: AccessMode;
  granted: boolean;
  subject?: string;
  reason?: string;
  /** The stream and the names of this member's consumers on it, when the room is persisted. */
  stream?: string;
  consumers?: string[];
  pushConsumers?: { name: string; deliverSubject: string }[];
}

export interface MemberStatus {
  publicKey?: string;
  inboxPrefix?: string;
  credentialsSecret?: string;
  grantedSubjects?: GrantedSubjects;
  rooms?: MemberRoomStatus[];
  observedGeneration?: number;
  conditions?: Condition[];
}

export interface Room {
  apiVersion?: string;
  kind?: 'Room';
  metadata: ObjectMeta;
  spec?: RoomSpec;
  status?: RoomStatus;
}

export interface Member {
  apiVersion?: string;
  kind?: 'Member';
  metadata: ObjectMeta;
  spec?: MemberSpec;
  status?: MemberStatus;
}
