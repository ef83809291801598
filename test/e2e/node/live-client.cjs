// A long-running NATS client for the live-change step of run.sh, run with the operator image's Node
// and its nats package (`node /live/live-client.cjs`). Two connections, each a Member signed in with
// the key from its credentials Secret (mounted at /creds/<member>):
//   listener  subscribes to rooms.live.feed at start, and to rooms.live.feed2 once /tmp/cmd/sub2 exists
//   talker    publishes to both subjects every 200 ms
// It prints one line per event: CONNECTED <client id>, GOT <subject>, STATUS <type> <data>, SUB2.
'use strict';
const fs = require('node:fs');
const { connect, nkeyAuthenticator } = require('/app/node_modules/nats');

const read = (m, k) => fs.readFileSync(`/creds/${m}/${k}`, 'utf8').trim();
const open = (m) =>
  connect({
    servers: read(m, 'nats-url'),
    authenticator: nkeyAuthenticator(new TextEncoder().encode(read(m, 'nkey.seed'))),
    inboxPrefix: read(m, 'inbox-prefix'),
    name: m,
    maxReconnectAttempts: -1,
  });
const out = (s) => process.stdout.write(`${new Date().toISOString()} ${s}\n`);

(async () => {
  const listener = await open('listener');
  const talker = await open('talker');
  out(`CONNECTED ${listener.info.client_id} ${listener.info.server_name}`);
  (async () => {
    for await (const s of listener.status()) out(`STATUS ${s.type} ${typeof s.data === 'string' ? s.data : JSON.stringify(s.data)}`);
  })();
  const pump = async (sub) => {
    try {
      for await (const m of sub) out(`GOT ${m.subject} ${new TextDecoder().decode(m.data)}`);
      out(`SUBEND ${sub.getSubject()}`);
    } catch (e) {
      out(`SUBERR ${sub.getSubject()} ${e.message}`);
    }
  };
  pump(listener.subscribe('rooms.live.feed'));
  let n = 0;
  let sub2 = false;
  setInterval(() => {
    n++;
    talker.publish('rooms.live.feed', `m${n}`);
    talker.publish('rooms.live.feed2', `m${n}`);
    if (!sub2 && fs.existsSync('/tmp/cmd/sub2')) {
      sub2 = true;
      out(`SUB2 on client ${listener.info.client_id}`);
      pump(listener.subscribe('rooms.live.feed2'));
    }
  }, 200);
})().catch((e) => {
  out(`FATAL ${e.message}`);
  process.exit(1);
});
