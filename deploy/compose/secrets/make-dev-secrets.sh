#!/bin/sh
# Creates the compose secret files once (mode 0600). Existing files are kept.
set -eu
cd "$(dirname "$0")"
umask 077
[ -f event-keys ] || printf 'prod-1=%s\n' "$(head -c 32 /dev/urandom | base64)" > event-keys
[ -f secrets-master-key ] || head -c 32 /dev/urandom | base64 > secrets-master-key
# Temporal payload encryption and audit-record HMACs: every engine process
# refuses to start without them.
[ -f payload-keys ] || printf 'prod-1=%s\n' "$(head -c 32 /dev/urandom | base64)" > payload-keys
[ -f audit-keys ] || printf 'prod-1=%s\n' "$(head -c 32 /dev/urandom | base64)" > audit-keys
# The engine's ed25519 key (engine_key_file): it signs the incidents that
# events and fleets start.
[ -f engine-key ] || ssh-keygen -q -t ed25519 -N '' -C runbook-engine -f engine-key
# The containers run as uid 65532 and read the files through bind mounts:
# hand them to that uid rather than making them world-readable.
if [ "$(id -u)" = 0 ]; then
  chown 65532:65532 event-keys secrets-master-key payload-keys audit-keys engine-key
else
  echo "now run: sudo chown 65532:65532 $(pwd)/event-keys $(pwd)/secrets-master-key $(pwd)/payload-keys $(pwd)/audit-keys $(pwd)/engine-key"
fi
echo "secrets in $(pwd): event-keys, secrets-master-key, payload-keys, audit-keys, engine-key"
