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
  /** Set when the room's subject is captured by a JetStream stream its members consume or publish to. */
  jetstream?: { stream?: string };
}

export interface RoomRef {
  room: string;
  /** Namespace of the room; defaults to the Member's own namespace. */
  namespace?: string;
  access: AccessMode;
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

export interface RoomStatus {
  subject?: string;
  stream?: string;
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
