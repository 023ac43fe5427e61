#!/usr/bin/env bash
# Stop what tests/integration/slurm/start.sh started (and nothing else), by PID file.
set -uo pipefail
STATE=${1:-/tmp/wfsspipe-slurm}
[ -f "$STATE/started" ] || exit 0
tac "$STATE/started" | while read -r pidfile; do
    case "$pidfile" in
        link:*) link=${pidfile#link:}; [ -L "$link" ] && rm -f "$link"; continue ;;
    esac
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
done
: > "$STATE/started"
