#!/bin/sh
# The seed-000 story with real NATS clients (the nats CLI of nats-box), run inside the cluster by
# story-job.yaml. Each Member signs in with the key the operator generated for it, read from its
# credentials Secret (mounted at $CREDS/<member>, default /creds: nkey.seed, inbox-prefix, nats-url).
#
#   story.sh initial   greeter answers; joe and pam get replies on their private inboxes; pam can
#                      subscribe neither to _INBOX.> nor to joe's inbox; the shared _INBOX. is closed
#   story.sh changed   after pam's access to greet became Subscribe: pam can no longer ask, joe still can
set -u
PHASE=${1:?usage: story.sh initial|changed}
CREDS=${CREDS:-/creds}
FAILED=0

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILED=1; }

# nats CLI arguments that sign in as a member, with its private inbox prefix.
as() {
  echo "--server=$(cat "$CREDS/$1/nats-url") --nkey=$CREDS/$1/nkey.seed --inbox-prefix=$(cat "$CREDS/$1/inbox-prefix")"
}
# The same without the inbox prefix: requests then use the shared _INBOX. space.
as_without_prefix() {
  echo "--server=$(cat "$CREDS/$1/nats-url") --nkey=$CREDS/$1/nkey.seed"
}

echo "--- phase $PHASE"
for m in greeter joe pam; do
  echo "$m: inbox prefix $(cat "$CREDS/$m/inbox-prefix"), server $(cat "$CREDS/$m/nats-url")"
done

# greeter serves rooms.demo.greet (Respond: subscribe + allow_responses) for the whole story.
# shellcheck disable=SC2046
nats $(as greeter) reply rooms.demo.greet 'hello from greeter' >/tmp/greeter.log 2>&1 &
GREETER=$!
trap 'kill $GREETER 2>/dev/null' EXIT

# request <member> [extra args]: prints the output of one request (replies or errors).
request() {
  who=$1
  shift
  # shellcheck disable=SC2046
  timeout 15 nats $(as "$who") request rooms.demo.greet "hi, I am $who" --timeout=3s "$@" 2>&1
}

# Wait until greeter's subscription is live everywhere (joe's request gets an answer).
ok=0
for _ in $(seq 1 30); do
  if request joe | grep -q 'hello from greeter'; then ok=1; break; fi
  sleep 1
done
[ $ok = 1 ] || { echo "greeter never answered:"; cat /tmp/greeter.log; request joe; exit 1; }

# denied <what> <command...>: the command must report a permissions violation. The nats CLI reports
# the server's asynchronous -ERR only with --trace (natscli 0.4), so denied commands carry it.
denied() {
  what=$1
  shift
  out=$("$@" 2>&1)
  if echo "$out" | grep -qi 'permissions violation'; then pass "$what"; else fail "$what (got: $out)"; fi
}

case "$PHASE" in
  initial)
    out=$(request joe)
    if echo "$out" | grep -q 'hello from greeter'; then pass 'joe gets greeter reply'; else fail "joe gets greeter reply (got: $out)"; fi
    out=$(request pam)
    if echo "$out" | grep -q 'hello from greeter'; then pass 'pam gets greeter reply'; else fail "pam gets greeter reply (got: $out)"; fi

    # shellcheck disable=SC2046
    denied 'pam cannot subscribe to _INBOX.>' timeout 5 nats --trace $(as pam) sub '_INBOX.>'
    joe_inbox=$(cat "$CREDS/joe/inbox-prefix")
    # shellcheck disable=SC2046
    denied "pam cannot subscribe to joe's inbox ($joe_inbox.>)" timeout 5 nats --trace $(as pam) sub "$joe_inbox.>"
    # shellcheck disable=SC2046
    denied 'joe cannot use the shared _INBOX. (no --inbox-prefix)' timeout 10 nats --trace $(as_without_prefix joe) request rooms.demo.greet hi --timeout=3s
    ;;
  changed)
    # shellcheck disable=SC2046
    denied 'pam (now Subscribe only) can no longer send requests' timeout 10 nats --trace $(as pam) request rooms.demo.greet 'hi, I am pam' --timeout=3s
    out=$(request joe)
    if echo "$out" | grep -q 'hello from greeter'; then pass 'joe still gets greeter reply'; else fail "joe still gets greeter reply (got: $out)"; fi
    ;;
  *)
    echo "unknown phase $PHASE"
    exit 2
    ;;
esac

if [ $FAILED = 0 ]; then echo "STORY $PHASE: PASSED"; else echo "STORY $PHASE: FAILED"; fi
exit $FAILED
