// JetStream API subjects a persisted room grants, scoped to one stream and to one member's consumers.
//
// Members never create, update or delete consumers themselves: nats-server does not check a consumer's
// deliver subject against its creator's permissions, so whoever may send CONSUMER.CREATE can have the
// stream delivered to any subject of the account (another room, another member's inbox): the create
// subject names the stream, the consumer and its filter, never where it delivers. The operator
// creates each member's durable pull consumers (as `<member>__<name>`, see consumerName()) and the
// member gets exactly those (pull: next, info, acks; push, into its own inbox: info, acks, flow
// control). History without a consumer is direct get, for readers.

/** The consumer the operator creates for a member's `consumers` entry: one token, unique per stream. */
export function consumerName(memberName: string, name: string): string {
  // Member names are DNS subdomains (no `_`), so `.`→`_` is one-to-one and `__` only ever separates.
  return `${memberName.replaceAll('.', '_')}__${name}`;
}

/** What a reader of the room needs from its stream: its info, and history by direct or message get. */
export function readSubjects(stream: string): string[] {
  return [
    '$JS.API.INFO',
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.API.STREAM.MSG.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}.>`,
  ];
}

/**
 * A member's own consumer: pull from it, read its info, ack what it delivered. Acks use nats-server's
 * default (v1) reply subjects; the v2 form (behind a server feature flag) puts the account's hash first.
 */
export function ownConsumerSubjects(stream: string, consumer: string): string[] {
  return [
    `$JS.API.CONSUMER.INFO.${stream}.${consumer}`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer}`,
    `$JS.ACK.${stream}.${consumer}.>`,
  ];
}

/**
 * A member's own push consumer: it delivers into the member's inbox (which only the member may read),
 * so the member needs its info (clients look up the deliver subject), acks and flow-control replies.
 */
export function ownPushConsumerSubjects(stream: string, consumer: string): string[] {
  return [`$JS.API.CONSUMER.INFO.${stream}.${consumer}`, `$JS.ACK.${stream}.${consumer}.>`, `$JS.FC.${stream}.${consumer}.>`];
}

/** Where a member's push consumer delivers: a subject of the member's own inbox. */
export const pushDeliverSubject = (inboxPrefix: string, consumer: string) => `${inboxPrefix}.${consumer}`;

/** What a producer needs besides the room subject: stream info (its acks arrive on its private inbox). */
export function produceSubjects(stream: string): string[] {
  return ['$JS.API.INFO', `$JS.API.STREAM.INFO.${stream}`];
}

/** Where the operator's stream user in each account receives the API's replies. */
export const STREAM_ADMIN_INBOX = 'natsrooms.operator.inbox';

/**
 * The operator's own user in a namespace's account: it manages exactly the streams of that namespace's
 * persisted rooms and the consumers on them (all of which only it can create), nothing else.
 */
export function streamAdminPublish(streams: readonly string[]): string[] {
  const out: string[] = ['$JS.API.INFO'];
  for (const s of streams) {
    for (const op of ['CREATE', 'UPDATE', 'INFO', 'DELETE']) out.push(`$JS.API.STREAM.${op}.${s}`);
    out.push(`$JS.API.CONSUMER.CREATE.${s}.*`, `$JS.API.CONSUMER.INFO.${s}.*`, `$JS.API.CONSUMER.DELETE.${s}.*`, `$JS.API.CONSUMER.LIST.${s}`);
  }
  return out;
}
