// The OpenAPI v3 schemas and CRDs of Room and Member. crds/*.yaml are generated from this file
// (`npm run generate`), and validate.ts checks objects against the same rules, so what the API server
// admits and what the compiler accepts come from one place.
import { ACCESS_MODES, GROUP, VERSION } from './types.js';
import * as g from './grammar.js';
import { CONDITION_TYPES, READY_REASONS, ROOM_REF_REASONS, VERDICT_REASONS } from './conditions.js';

type Schema = Record<string, unknown>;

/** A CEL rule for the API server together with the same rule in TypeScript for the compiler. */
export interface Rule<T> {
  rule: string;
  message: string;
  check: (value: T) => boolean;
}

export const subjectRules: Rule<string>[] = [
  {
    rule: "!self.startsWith('_INBOX')",
    message: 'a room subject must not be in the inbox space (_INBOX...): inboxes are private to each Member',
    check: (s) => !s.startsWith('_INBOX'),
  },
  {
    rule: "!self.startsWith('$')",
    message: 'a room subject must not start with $: those subjects belong to the NATS system and JetStream APIs',
    check: (s) => !s.startsWith('$'),
  },
];

/** Where validate.ts finds the TypeScript side of a schema node's CEL rules (JSON and YAML skip symbol keys). */
export const CHECKS = Symbol('checks');

const celOf = <T>(rules: Rule<T>[]) => ({
  'x-kubernetes-validations': rules.map(({ rule, message }) => ({ rule, message })),
  [CHECKS]: rules,
});

const str = (description: string, extra: Schema = {}): Schema => ({ type: 'string', description, ...extra });

const subject = (description: string): Schema =>
  str(description, { pattern: g.SUBJECT_PATTERN, maxLength: g.SUBJECT_MAX_LENGTH });

const subjectSet = (description: string): Schema => ({
  type: 'array',
  description,
  maxItems: g.MAX_DENY_SUBJECTS,
  'x-kubernetes-list-type': 'set',
  items: subject('A NATS subject; `*` matches one token, `>` the rest.'),
});

const conditions: Schema = {
  type: 'array',
  description: 'Current state, as standard Kubernetes conditions keyed by type.',
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['type'],
  items: {
    type: 'object',
    required: ['type', 'status', 'reason', 'message'],
    properties: {
      type: str(`Condition type: ${CONDITION_TYPES.join(' or ')}.`),
      status: str('True, False or Unknown.', { enum: ['True', 'False', 'Unknown'] }),
      reason: str(
        `A CamelCase reason a program can match on. Accepted: ${VERDICT_REASONS.join(', ')}. ` +
          `Ready: ${READY_REASONS.join(', ')}, or the Accepted reason when not accepted.`,
      ),
      message: str('What happened, for humans.'),
      observedGeneration: { type: 'integer', format: 'int64', description: 'The generation this condition describes.' },
      lastTransitionTime: str('When the status last changed.', { format: 'date-time' }),
    },
  },
};

const observedGeneration: Schema = {
  type: 'integer',
  format: 'int64',
  description: 'The metadata.generation the operator last acted on.',
};

/** A custom resource: the standard header fields, then its spec and status. */
const resource = (description: string, properties: { spec: Schema; status: Schema }): Schema => ({
  type: 'object',
  description,
  properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, ...properties },
});

export const roomSchema: Schema = resource(
  'A Room is a NATS subject (a chat room, a service endpoint, a topic) that Members join with an access mode.',
  {
    spec: {
      type: 'object',
      description: 'What the room is and who may join it.',
      properties: {
        subject: {
          ...subject(
            'The NATS subject of the room. Defaults to rooms.<namespace>.<name> (dots in the name stay dots). ' +
              "It must lie within the namespace's subject root (rooms.<namespace> unless the cluster admin widened it). " +
              'Wildcards are allowed: `*` matches one token, `>` (last token only) the rest.',
          ),
          ...celOf(subjectRules),
        },
        allowedNamespaces: {
          type: 'array',
          description: "Other namespaces whose Members may join this room. The room's own namespace is always allowed.",
          maxItems: g.MAX_ALLOWED_NAMESPACES,
          'x-kubernetes-list-type': 'set',
          items: str('A namespace name.', { pattern: g.DNS_LABEL_PATTERN, maxLength: g.DNS_LABEL_MAX_LENGTH }),
        },
        guestAccess: str(
          "What Members of allowedNamespaces may do, each in its own namespace's NATS account: Subscribe (default) receives what this " +
            "namespace's Members publish to the room; Request sends requests to this namespace's responders and receives each reply on the " +
            "requester's private inbox. Publishing to the room and answering its requests are for this namespace's Members only.",
          { enum: ['Subscribe', 'Request'] },
        ),
        jetstream: {
          type: 'object',
          description:
            "Makes the room persisted: the operator keeps a JetStream stream in the namespace's account that captures exactly the room's " +
            'subject, and gives its members what their access needs: publishers their acks, readers history (direct get) and the ' +
            'durable consumers they list in their room reference (spec.rooms[].consumers), each readable by its owner only.',
          properties: {
            stream: str(
              'The stream name. Defaults to <namespace>_<name> (dots become underscores); it must start with <namespace>_.',
              { pattern: g.STREAM_NAME_PATTERN, maxLength: g.STREAM_NAME_MAX_LENGTH },
            ),
            storage: str('File (default) or Memory. Cannot be changed once the stream exists.', { enum: ['File', 'Memory'] }),
            replicas: {
              type: 'integer',
              description: `How many servers keep a copy: 1 (default) to ${g.MAX_STREAM_REPLICAS}, at most the number of servers. Cannot be changed once the stream exists.`,
              minimum: 1,
              maximum: g.MAX_STREAM_REPLICAS,
            },
            retention: str(
              'Limits (default): keep messages until a limit below removes them. Interest: until every consumer acked them. ' +
                'WorkQueue: until one consumer acked them. Cannot be changed once the stream exists.',
              { enum: ['Limits', 'Interest', 'WorkQueue'] },
            ),
            maxAge: str('Messages older than this are removed, e.g. 24h or 90m. Absent: no age limit.', {
              pattern: g.DURATION_PATTERN,
              maxLength: g.DURATION_MAX_LENGTH,
            }),
            maxBytes: { type: 'integer', format: 'int64', description: 'The most bytes the stream keeps. Absent: no limit but the account\'s.', minimum: 1 },
            maxMessages: { type: 'integer', format: 'int64', description: 'The most messages the stream keeps. Absent: no limit.', minimum: 1 },
            discard: str('At a limit, Old (default) removes the oldest messages; New refuses new ones.', { enum: ['Old', 'New'] }),
            deletionPolicy: str(
              'When the Room is deleted: Retain (default) keeps the stream and its messages; Delete deletes them first ' +
                '(the operator holds the Room with a finalizer until the stream is gone).',
              { enum: ['Retain', 'Delete'] },
            ),
          },
        },
      },
    },
    status: {
      type: 'object',
      description: 'What the operator made of the room.',
      properties: {
        subject: str('The subject in force.'),
        stream: str('The JetStream stream of the room, when spec.jetstream is set.'),
        streamState: {
          type: 'object',
          description: 'The stream as JetStream last reported it.',
          properties: {
            messages: { type: 'integer', format: 'int64' },
            bytes: { type: 'integer', format: 'int64' },
            firstSequence: { type: 'integer', format: 'int64' },
            lastSequence: { type: 'integer', format: 'int64' },
            consumers: { type: 'integer', format: 'int64' },
          },
        },
        memberCount: { type: 'integer', description: 'How many accepted Members are granted this room.' },
        observedGeneration,
        conditions,
      },
    },
  },
);

const roomRef: Schema = {
  type: 'object',
  required: ['room', 'access'],
  properties: {
    room: str('The name of the Room.', { pattern: g.DNS_SUBDOMAIN_PATTERN, maxLength: g.DNS_SUBDOMAIN_MAX_LENGTH }),
    namespace: str("The Room's namespace, when it is not the Member's own. That Room must list this Member's namespace in allowedNamespaces.", {
      pattern: g.DNS_LABEL_PATTERN,
      maxLength: g.DNS_LABEL_MAX_LENGTH,
    }),
    access: str(
      'Publish: publish to the subject. Subscribe: subscribe to it. PublishSubscribe: both. ' +
        'Request: publish requests and receive replies on the private inbox. ' +
        "Respond: subscribe to the subject and answer requests (allow_responses; in the room's own namespace only).",
      { enum: [...ACCESS_MODES] },
    ),
    consumers: {
      type: 'array',
      description:
        "Durable pull consumers of the room's stream for this member alone (the room must set spec.jetstream and be in this " +
        'namespace; access Subscribe or PublishSubscribe). The operator creates each as <member>__<name> (dots in the member name ' +
        'become underscores); this member may pull from it, read its info and ack its messages, no other member may.',
      maxItems: g.MAX_CONSUMERS_PER_REF,
      'x-kubernetes-list-type': 'set',
      items: str('A consumer name: a DNS label.', { pattern: g.DNS_LABEL_PATTERN, maxLength: g.CONSUMER_NAME_MAX_LENGTH }),
    },
    pushConsumers: {
      type: 'array',
      description:
        "Durable push consumers of the room's stream that deliver it, in order from its first message, to this member's own " +
        'private inbox, at <inboxPrefix>.<member>__<name> (same rules as consumers; a name may not be in both lists). The member ' +
        'subscribes there (nats.js: bind to the consumer) and acks; no other member can receive, redirect or ack them.',
      maxItems: g.MAX_CONSUMERS_PER_REF,
      'x-kubernetes-list-type': 'set',
      items: str('A consumer name: a DNS label.', { pattern: g.DNS_LABEL_PATTERN, maxLength: g.CONSUMER_NAME_MAX_LENGTH }),
    },
  },
  ...celOf<{ access: string; consumers?: string[]; pushConsumers?: string[] }>([
    {
      rule: "(!has(self.consumers) && !has(self.pushConsumers)) || self.access == 'Subscribe' || self.access == 'PublishSubscribe'",
      message: 'consumers read the stream: they need access Subscribe or PublishSubscribe',
      check: (ref) => (ref.consumers === undefined && ref.pushConsumers === undefined) || ref.access === 'Subscribe' || ref.access === 'PublishSubscribe',
    },
    {
      rule: '!has(self.consumers) || !has(self.pushConsumers) || self.pushConsumers.all(n, !(n in self.consumers))',
      message: 'a consumer name may be in consumers or in pushConsumers, not in both',
      check: (ref) => ref.consumers === undefined || ref.pushConsumers === undefined || ref.pushConsumers.every((n) => !ref.consumers!.includes(n)),
    },
  ]),
};

export const memberSchema: Schema = resource(
  'A Member is a NATS identity (an nkey user) that joins Rooms with an access mode and gets a private inbox.',
  {
    spec: {
      type: 'object',
      description: 'Who the member is and which rooms it joins.',
      properties: {
        nkey: str(
          'The public user nkey (U...) the client signs in with. Leave it out and the operator generates a key pair and ' +
            'writes the seed to the Secret <name>-nats-credentials in this namespace.',
          { pattern: g.USER_NKEY_PATTERN },
        ),
        rooms: {
          type: 'array',
          description: 'The rooms this member joins and how. A room listed more than once grants the union of the access modes.',
          maxItems: g.MAX_ROOMS_PER_MEMBER,
          items: roomRef,
        },
        inboxPrefix: str(
          'The private inbox prefix. Defaults to _INBOX_<namespace>_<name> (dots in the name become underscores). ' +
            'An override must start with _INBOX_<namespace>_. The client must connect with it (nats.js: inboxPrefix).',
          { pattern: g.INBOX_PREFIX_PATTERN, maxLength: g.INBOX_PREFIX_MAX_LENGTH },
        ),
        deny: {
          type: 'object',
          description: 'Subjects this member may never use, even where a room grants them.',
          properties: {
            publish: subjectSet('Subjects the member may not publish to.'),
            subscribe: subjectSet('Subjects the member may not subscribe to.'),
          },
        },
      },
    },
    status: {
      type: 'object',
      description: 'What the operator made of the member.',
      properties: {
        publicKey: str('The public nkey in the NATS config.'),
        inboxPrefix: str('The inbox prefix the client must connect with.'),
        credentialsSecret: str('The Secret holding the generated seed, when the operator generated the key.'),
        grantedSubjects: {
          type: 'object',
          description: 'The permissions in the NATS config.',
          properties: {
            publish: { type: 'array', items: { type: 'string' } },
            subscribe: { type: 'array', items: { type: 'string' } },
            allowResponses: { type: 'boolean' },
          },
        },
        rooms: {
          type: 'array',
          description: 'Each room reference and whether it was granted.',
          items: {
            type: 'object',
            properties: {
              room: { type: 'string' },
              namespace: { type: 'string' },
              access: { type: 'string' },
              granted: { type: 'boolean' },
              subject: { type: 'string' },
              reason: str(`Why it was or was not granted: ${ROOM_REF_REASONS.join(', ')}.`),
              stream: str("The room's stream, when the room is persisted."),
              consumers: { type: 'array', items: { type: 'string' }, description: 'The names of this member\'s pull consumers on the stream.' },
              pushConsumers: {
                type: 'array',
                description: "This member's push consumers on the stream, and where each delivers (in the member's inbox).",
                items: { type: 'object', properties: { name: { type: 'string' }, deliverSubject: { type: 'string' } } },
              },
            },
          },
        },
        observedGeneration,
        conditions,
      },
    },
  },
);

interface CrdNames {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
}

function crd(names: CrdNames, schema: Schema, columns: Schema[]): Schema {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${names.plural}.${GROUP}` },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: { ...names, listKind: `${names.kind}List`, categories: ['nats-rooms'] },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: columns,
          schema: { openAPIV3Schema: schema },
        },
      ],
    },
  };
}

const condColumn = (type: string): Schema => ({
  name: type,
  type: 'string',
  jsonPath: `.status.conditions[?(@.type=="${type}")].status`,
});
const ageColumn: Schema = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

export const roomCrd = crd(
  { kind: 'Room', plural: 'rooms', singular: 'room', shortNames: ['nroom'] },
  roomSchema,
  [
    { name: 'Subject', type: 'string', jsonPath: '.status.subject' },
    { name: 'Members', type: 'integer', jsonPath: '.status.memberCount' },
    condColumn('Ready'),
    ageColumn,
  ],
);

export const memberCrd = crd(
  { kind: 'Member', plural: 'members', singular: 'member', shortNames: ['nmember'] },
  memberSchema,
  [
    { name: 'Public Key', type: 'string', jsonPath: '.status.publicKey', priority: 1 },
    { name: 'Inbox', type: 'string', jsonPath: '.status.inboxPrefix' },
    condColumn('Accepted'),
    condColumn('Ready'),
    { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Accepted")].reason', priority: 1 },
    ageColumn,
  ],
);
