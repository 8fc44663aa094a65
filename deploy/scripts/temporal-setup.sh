#!/bin/sh
# Creates the runbook engine's Temporal namespace and the search attributes
# its incidents carry, so the Web UI and `temporal workflow list --query`
# can filter incidents by runbook, bot, exchange, severity and trigger.
# Safe to repeat. Runs in temporalio/admin-tools (the temporal CLI).
set -eu
: "${TEMPORAL_ADDRESS:?}"
NAMESPACE="${RUNBOOK_NAMESPACE:-runbook}"
RETENTION="${RUNBOOK_RETENTION:-30d}"

until temporal operator cluster health --address "$TEMPORAL_ADDRESS"; do
  echo "waiting for Temporal at $TEMPORAL_ADDRESS"; sleep 3
done

temporal operator namespace describe --address "$TEMPORAL_ADDRESS" -n "$NAMESPACE" >/dev/null 2>&1 ||
  temporal operator namespace create --address "$TEMPORAL_ADDRESS" -n "$NAMESPACE" --retention "$RETENTION"

# Keyword: exact-match filters (RunbookName = "contain-key-breach").
for sa in RunbookName BotID Exchange Severity IncidentTrigger; do
  if temporal operator search-attribute list --address "$TEMPORAL_ADDRESS" -n "$NAMESPACE" | grep -qw "$sa"; then
    echo "search attribute $sa exists"
  else
    temporal operator search-attribute create --address "$TEMPORAL_ADDRESS" -n "$NAMESPACE" --name "$sa" --type Keyword
  fi
done
echo "namespace $NAMESPACE ready"
