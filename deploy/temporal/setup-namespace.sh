#!/bin/sh
# After the server is healthy: the namespace and btcbot's search attributes, before any worker
# starts (compose makes the workers wait for this step to complete). Idempotent.
# The attributes must match SEARCH_ATTRIBUTES in src/shared.ts (a unit test compares them).
set -eu
: "${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS is required}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
RETENTION="${TEMPORAL_RETENTION:-720h}"

attempt=1
until temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; do
  if [ "$attempt" -ge 60 ]; then echo "Temporal at $TEMPORAL_ADDRESS is not healthy after 60 attempts" >&2; exit 1; fi
  attempt=$((attempt + 1))
  sleep 2
done

if temporal operator namespace describe -n "$NAMESPACE" --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; then
  echo "namespace $NAMESPACE exists"
else
  temporal operator namespace create -n "$NAMESPACE" --retention "$RETENTION" --address "$TEMPORAL_ADDRESS"
  echo "namespace $NAMESPACE created (retention $RETENTION)"
fi

# A new namespace takes a moment to reach every frontend cache.
attempt=1
until existing="$(temporal operator search-attribute list -n "$NAMESPACE" --address "$TEMPORAL_ADDRESS" 2>&1)"; do
  if [ "$attempt" -ge 30 ]; then echo "cannot list search attributes of $NAMESPACE: $existing" >&2; exit 1; fi
  attempt=$((attempt + 1))
  sleep 2
done
register() {
  if printf '%s\n' "$existing" | grep -qw "$1"; then
    echo "search attribute $1 exists"
  else
    temporal operator search-attribute create -n "$NAMESPACE" --address "$TEMPORAL_ADDRESS" --name "$1" --type "$2"
    echo "search attribute $1 registered ($2)"
  fi
}
register BtcbotMode Keyword
register BtcbotOutcome Keyword
register BtcbotSymbols KeywordList
