#!/usr/bin/env bash
# Starts Sayso: installs what it needs (scripts/setup.sh), then runs the app with any arguments given
# (no arguments: the desktop app; `scripts/start.sh --help` lists the command-line commands).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$repo/scripts/setup.sh"

# Commands such as `key`, `config` or `--help` work without a screen; the window and tray need one.
needs_display=1
for arg in "$@"; do
    case "$arg" in
        -h | --help | --version | [!-]*) needs_display=0 ;;
    esac
done
if ((needs_display)) && [[ -z "${DISPLAY:-}" && -z "${WAYLAND_DISPLAY:-}" ]] \
    && [[ "${QT_QPA_PLATFORM:-}" != offscreen* ]]; then
    echo "start: no display: DISPLAY and WAYLAND_DISPLAY are unset, so Sayso has nowhere to show its window." >&2
    echo "start: run it in a desktop session, or on a virtual one:" \
        "scripts/test-services.sh run \"\$(mktemp -d)\" -- scripts/start.sh" >&2
    exit 1
fi
exec "$repo/.venv/bin/sayso" "$@"
