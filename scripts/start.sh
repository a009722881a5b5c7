#!/usr/bin/env bash
# Starts Sayso: installs what it needs (scripts/setup.sh), then runs the app with any arguments given.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$repo/scripts/setup.sh"
if [[ -z "${DISPLAY:-}" && -z "${WAYLAND_DISPLAY:-}" && "${QT_QPA_PLATFORM:-}" != offscreen* ]]; then
    echo "start: no display: DISPLAY and WAYLAND_DISPLAY are unset, so Sayso has nowhere to show its window" >&2
    echo "start: run it inside a desktop session (or: scripts/test-services.sh run DIR -- scripts/start.sh)" >&2
    exit 1
fi
exec "$repo/.venv/bin/sayso" "$@"
