#!/bin/sh
# Creates the JetStream streams and the trigger consumer from their JSON
# definitions (deploy/nats/), replicas 3. Runs in natsio/nats-box with
# NATS_URL, NATS_USER and NATS_PASSWORD set. A stream that exists already
# is left alone: `nats stream edit` is an operator's deliberate act (the
# AUDIT stream refuses to relax deny_delete/deny_purge anyway).
set -eu
: "${NATS_URL:?}"
DEFS="${RUNBOOK_NATS_DEFS:-/defs}"

until nats account info >/dev/null 2>&1; do echo "waiting for JetStream at $NATS_URL"; sleep 2; done

for f in "$DEFS"/streams/*.json; do
  name=$(basename "$f" .json)
  if nats stream info "$name" >/dev/null 2>&1; then
    echo "stream $name exists"
  else
    nats stream add "$name" --config "$f"
  fi
done

for f in "$DEFS"/consumers/*/*.json; do
  stream=$(basename "$(dirname "$f")")
  name=$(basename "$f" .json)
  if nats consumer info "$stream" "$name" >/dev/null 2>&1; then
    echo "consumer $stream/$name exists"
  else
    nats consumer add "$stream" "$name" --config "$f"
  fi
done
echo "JetStream streams and consumers ready"
