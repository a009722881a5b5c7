#!/usr/bin/env bash
# Installs what Sayso needs on Debian 12 and creates/updates the project's virtualenv in .venv.
#
#   scripts/setup.sh          runtime packages + `pip install -e '.[local]'`
#   scripts/setup.sh --test   also the headless-desktop test packages + `pip install -e '.[local,test]'`
#
# The `local` extra (faster-whisper) is always installed: without a key, offline dictation is what a fresh
# machine runs on, and the welcome text promises it.
#
# Safe to rerun: apt runs only when a package is missing (checked with dpkg-query) and pip only when
# pyproject.toml changed since the last install (a hash stamp inside .venv).
set -euo pipefail

sayso_setup() {
    local repo with_test=0
    repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    case "${1:-}" in
        --test) with_test=1 ;;
        "") ;;
        *) echo "usage: scripts/setup.sh [--test]" >&2; return 2 ;;
    esac

    # Qt's xcb platform plugin, audio I/O, typing/clipboard into other apps, the system voice.
    local runtime_packages=(
        libegl1 libgl1 libfontconfig1 libglib2.0-0 libdbus-1-3 libx11-xcb1 libxkbcommon0 libxkbcommon-x11-0
        libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0
        libxcb-shape0 libxcb-shm0 libxcb-sync1 libxcb-xfixes0 libxcb-xkb1
        libportaudio2 libsndfile1 xdotool xsel
        speech-dispatcher speech-dispatcher-espeak-ng
    )
    # A virtual display with a tray host, a virtual speaker/microphone, a private Secret Service,
    # and the tools the end-to-end tests drive them with. Never dbus-x11: it autolaunches stray buses.
    local test_packages=(
        xvfb xauth x11-utils trayer xclip
        pulseaudio pulseaudio-utils libasound2-plugins
        dbus-daemon dbus-bin gnome-keyring libsecret-tools
        espeak-ng sox imagemagick
        desktop-file-utils appstream binutils libglib2.0-bin
    )
    local wanted=("${runtime_packages[@]}")
    if [[ $with_test == 1 ]]; then
        wanted+=("${test_packages[@]}")
    fi
    if ! command -v python3 >/dev/null || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
        wanted+=(python3 python3-venv)
    fi

    local missing=() pkg
    for pkg in "${wanted[@]}"; do
        if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" != installed ]]; then
            missing+=("$pkg")
        fi
    done
    if ((${#missing[@]})); then
        if [[ $(id -u) != 0 ]]; then
            echo "setup: these Debian packages are missing: ${missing[*]}" >&2
            echo "setup: install them as root (sudo apt-get install --no-install-recommends ${missing[*]})" \
                "or run this script as root." >&2
            return 1
        fi
        echo "setup: installing ${#missing[@]} Debian package(s): ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
        if [[ "$(dpkg-query -W -f='${db:Status-Status}' dbus-x11 2>/dev/null)" == installed ]]; then
            echo "setup: warning: dbus-x11 is installed; it can autolaunch stray D-Bus sessions in tests" >&2
        fi
    fi

    local venv="$repo/.venv" stamp want_stamp spec
    stamp="$venv/.sayso-install-stamp"
    # The stamp names the pyproject.toml it was installed from and the extras that came with it (an older
    # stamp without "local" was a plain `pip install -e .`: it installs again, now with faster-whisper).
    want_stamp="$(sha256sum "$repo/pyproject.toml" | cut -d' ' -f1) local"
    if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
        echo "setup: creating the virtualenv $venv"
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/python" -m pip install -q --upgrade pip
    fi
    if [[ $with_test == 1 ]]; then
        spec=".[local,test]"
        want_stamp+=" test"
    else
        spec=".[local]"
    fi
    local have_stamp=""
    [[ -f "$stamp" ]] && have_stamp="$(cat "$stamp")"
    # An install with test extras also satisfies a runtime-only request for the same pyproject.toml.
    if [[ "$have_stamp" != "$want_stamp" && "$have_stamp" != "$want_stamp test" ]]; then
        echo "setup: pip install -e '$spec' into $venv"
        (cd "$repo" && "$venv/bin/python" -m pip install -q --disable-pip-version-check -e "$spec")
        printf '%s\n' "$want_stamp" >"$stamp"
    fi
}

sayso_setup "$@"
