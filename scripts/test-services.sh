#!/usr/bin/env bash
# The headless desktop the end-to-end tests run on, private to one directory:
#   Xvfb (a free display) + trayer (system tray host), a private D-Bus session bus with an unlocked
#   gnome-keyring (Secret Service), PulseAudio with a virtual speaker and microphone, speech-dispatcher.
#
#   scripts/test-services.sh start DIR          start everything; writes DIR/env to `source`
#   scripts/test-services.sh stop DIR           stop exactly the processes recorded in DIR/pids
#   scripts/test-services.sh run DIR -- CMD...  start, run CMD inside that environment, stop; exits with CMD's code
#
# Audio devices (PulseAudio): default sink "speaker" (record it from "speaker.monitor"), default source "mic",
# which hears whatever is played into the sink "micfeed" (`paplay -d micfeed file.wav`).
# Every wait polls for a condition with a timeout; nothing here sleeps a fixed time to "let things settle".
set -euo pipefail

readonly TIMEOUT_S="${SAYSO_SERVICES_TIMEOUT:-20}"
readonly KEYRING_PASSWORD="sayso-test-keyring"  # a throwaway keyring for tests, not a secret

die() { echo "test-services: $*" >&2; exit 1; }

usage() {
    sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# wait_until NAME PID WHAT CMD...: rerun CMD until it succeeds. Fails with a clear message after
# TIMEOUT_S, or at once (with the end of its log) if the service NAME with PID died meanwhile.
wait_until() {
    local name="$1" pid="$2" what="$3"; shift 3
    local deadline=$((SECONDS + TIMEOUT_S))
    until "$@" >/dev/null 2>&1; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "test-services: $name (pid $pid) died while waiting for $what; end of $DIR/logs/$name.log:" >&2
            tail -n 20 "$DIR/logs/$name.log" >&2 || true
            return 1
        fi
        if ((SECONDS >= deadline)); then
            echo "test-services: timed out after ${TIMEOUT_S}s waiting for $what; see $DIR/logs/$name.log" >&2
            return 1
        fi
        sleep 0.05
    done
}

# Each recorded line is "NAME PID STARTTIME": the start time (from /proc) keeps `stop` from ever
# signalling an unrelated process that later reused the PID.
proc_starttime() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null || true; }

recorded_alive() {  # recorded_alive PID STARTTIME: alive and still the process we started (not a zombie)
    [[ -n "$2" && "$(proc_starttime "$1")" == "$2" ]] && [[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]]
}

# spawn NAME CMD...: runs CMD in its own session (so a Ctrl-C in the terminal reaches the test runner,
# whose cleanup then stops us in order), logs to DIR/logs/NAME.log and records its PID in SPAWNED_PID.
spawn() {
    local name="$1"; shift
    setsid "$@" </dev/null >>"$DIR/logs/$name.log" 2>&1 &
    SPAWNED_PID=$!
    local start
    start="$(proc_starttime "$SPAWNED_PID")"
    [[ -n "$start" ]] || die "$name exited right after it was started; see $DIR/logs/$name.log"
    echo "$name $SPAWNED_PID $start" >>"$DIR/pids"
}

python_bin() {
    local repo
    repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    if [[ -x "$repo/.venv/bin/python" ]]; then echo "$repo/.venv/bin/python"; else echo python3; fi
}

start_xvfb() {
    # -displayfd lets the server pick a display number that is really free (it takes the lock atomically,
    # so parallel runs cannot collide; never a fixed :99) and tell us which one it took.
    local display_file="$DIR/display"
    : >"$display_file"
    spawn xvfb Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp -noreset 3>"$display_file"
    wait_until xvfb "$SPAWNED_PID" "Xvfb to report its display number" test -s "$display_file"
    DISPLAY=":$(tr -d '[:space:]' <"$display_file")"
    export DISPLAY
    wait_until xvfb "$SPAWNED_PID" "the X server on $DISPLAY to answer xdpyinfo" xdpyinfo
}

tray_has_owner() {
    # The system tray protocol: the tray host owns the selection _NET_SYSTEM_TRAY_S<screen>.
    "$PYTHON" -c 'import sys
from Xlib import display
d = display.Display()
sys.exit(0 if d.get_selection_owner(d.intern_atom("_NET_SYSTEM_TRAY_S0")) else 1)'
}

start_trayer() {
    spawn trayer trayer --edge top --align right --widthtype request --height 32 --SetDockType true \
        --transparent false
    wait_until trayer "$SPAWNED_PID" "trayer to own _NET_SYSTEM_TRAY_S0 on $DISPLAY" tray_has_owner
}

dbus_answers() {
    dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.GetId
}

start_dbus() {
    # A private bus from our own config: no service activation, so nothing (at-spi, a second keyring)
    # gets started behind our back and outlives the tests.
    # Not $XDG_RUNTIME_DIR/bus: libdbus falls back to that path when DBUS_SESSION_BUS_ADDRESS is unset.
    local socket="$XDG_RUNTIME_DIR/session-bus"
    cat >"$DIR/dbus-session.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
    spawn dbus dbus-daemon --config-file="$DIR/dbus-session.conf" --nofork --nopidfile
    export DBUS_SESSION_BUS_ADDRESS="unix:path=$socket"
    wait_until dbus "$SPAWNED_PID" "the D-Bus session bus at $socket" dbus_answers
}

secrets_have_owner() {
    dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets | grep -q 'boolean true'
}

start_keyring() {
    # XDG_DATA_HOME is fresh per run: an old login keyring with another password would stay locked.
    # --unlock reads the new login keyring's password from stdin.
    printf '%s' "$KEYRING_PASSWORD" >"$DIR/keyring-password"
    setsid gnome-keyring-daemon --foreground --unlock --components=secrets \
        <"$DIR/keyring-password" >>"$DIR/logs/gnome-keyring.log" 2>&1 &
    SPAWNED_PID=$!
    echo "gnome-keyring $SPAWNED_PID $(proc_starttime "$SPAWNED_PID")" >>"$DIR/pids"
    wait_until gnome-keyring "$SPAWNED_PID" "gnome-keyring to own org.freedesktop.secrets" secrets_have_owner
}

pulse_has_mic() {
    pactl list short sources | grep -q $'\tmic\t'
}

start_pulseaudio() {
    cat >"$DIR/pulse.pa" <<'EOF'
load-module module-native-protocol-unix auth-anonymous=1
load-module module-null-sink sink_name=speaker sink_properties=device.description=VirtualSpeaker
load-module module-null-sink sink_name=micfeed sink_properties=device.description=MicFeed
load-module module-remap-source master=micfeed.monitor source_name=mic source_properties=device.description=VirtualMic
set-default-sink speaker
set-default-source mic
EOF
    # Clients must never autospawn a second daemon when ours is gone: they should fail loudly instead.
    printf 'autospawn = no\n' >"$DIR/pulse-client.conf"
    export PULSE_CLIENTCONFIG="$DIR/pulse-client.conf"
    # -n: no default.pa, whose module-suspend-on-idle would drop the silent parts of recordings.
    # Off the session bus: a PulseAudio there owns org.PulseAudio1, and any other PulseAudio a test starts
    # on the same bus would then fail with "D-Bus name org.PulseAudio1 already taken".
    spawn pulseaudio env -u DBUS_SESSION_BUS_ADDRESS pulseaudio --daemonize=no --exit-idle-time=-1 --disallow-exit -n -F "$DIR/pulse.pa" \
        --use-pid-file=no --log-target=stderr
    wait_until pulseaudio "$SPAWNED_PID" "PulseAudio to answer pactl info" pactl info
    wait_until pulseaudio "$SPAWNED_PID" "PulseAudio to list the source 'mic'" pulse_has_mic
}

start_speech_dispatcher() {
    local socket="$XDG_RUNTIME_DIR/speech-dispatcher/speechd.sock"
    mkdir -p "$(dirname "$socket")" "$DIR/logs/speech-dispatcher"
    # Its output module (espeak-ng) plays through PulseAudio, i.e. into our virtual speaker.
    spawn speech-dispatcher speech-dispatcher --run-single --timeout 0 --communication-method unix_socket \
        --socket-path "$socket" --log-dir "$DIR/logs/speech-dispatcher" \
        --pid-file "$XDG_RUNTIME_DIR/speech-dispatcher/pid"
    export SPEECHD_ADDRESS="unix_socket:$socket"
    wait_until speech-dispatcher "$SPAWNED_PID" "speech-dispatcher to listen on $socket" test -S "$socket"
}

write_env() {
    # Only what a test or the app needs to find these services; sourced by scripts/test.sh.
    {
        echo "# written by scripts/test-services.sh start $DIR"
        for var in DISPLAY DBUS_SESSION_BUS_ADDRESS XDG_RUNTIME_DIR XDG_DATA_HOME XDG_CONFIG_HOME XDG_STATE_HOME \
            PULSE_RUNTIME_PATH PULSE_SERVER PULSE_CLIENTCONFIG SPEECHD_ADDRESS SAYSO_DESKTOP_DIR; do
            printf 'export %s=%q\n' "$var" "${!var}"
        done
        # Qt and GTK would pick Wayland over our X server, and look for an accessibility bus we do not run.
        echo "unset WAYLAND_DISPLAY"
        echo "export NO_AT_BRIDGE=1"
    } >"$DIR/env.tmp"
    mv "$DIR/env.tmp" "$DIR/env"
}

cmd_start() {
    if [[ -f "$DIR/pids" ]]; then
        local name pid start
        while read -r name pid start; do
            if recorded_alive "$pid" "$start"; then
                die "services are already running in $DIR ($name, pid $pid); run: $0 stop $DIR"
            fi
        done <"$DIR/pids"
    fi
    rm -rf "$DIR/pids" "$DIR/env" "$DIR/runtime" "$DIR/data" "$DIR/config" "$DIR/state" "$DIR/logs"
    mkdir -p "$DIR/logs" "$DIR/data" "$DIR/config" "$DIR/state"
    mkdir -m 700 -p "$DIR/runtime"
    : >"$DIR/pids"

    export SAYSO_DESKTOP_DIR="$DIR"
    export XDG_RUNTIME_DIR="$DIR/runtime"
    export XDG_DATA_HOME="$DIR/data"
    export XDG_CONFIG_HOME="$DIR/config"
    export XDG_STATE_HOME="$DIR/state"
    export PULSE_RUNTIME_PATH="$XDG_RUNTIME_DIR/pulse"
    export PULSE_SERVER="unix:$PULSE_RUNTIME_PATH/native"
    unset WAYLAND_DISPLAY DBUS_SESSION_BUS_ADDRESS SPEECHD_ADDRESS
    # Unix socket paths are limited to 107 bytes.
    ((${#PULSE_SERVER} < 100)) || die "DIR is too deep for unix sockets ($PULSE_SERVER); use a shorter path"
    PYTHON="$(python_bin)"

    # Any failure below exits (set -e, or die): stop what already started, so nothing is left behind.
    trap 'echo "test-services: start failed; stopping what had started" >&2; cmd_stop' EXIT
    start_xvfb
    start_trayer
    start_dbus
    start_keyring
    start_pulseaudio
    start_speech_dispatcher
    trap - EXIT
    write_env
    echo "test-services: up in $DIR (DISPLAY=$DISPLAY); source $DIR/env"
}

cmd_stop() {
    [[ -f "$DIR/pids" ]] || { echo "test-services: nothing recorded in $DIR/pids" >&2; return 0; }
    local lines=() line name pid start
    mapfile -t lines <"$DIR/pids"
    # Reverse start order: clients of the bus/X server go before the bus/X server.
    for ((i = ${#lines[@]} - 1; i >= 0; i--)); do
        read -r name pid start <<<"${lines[i]}"
        recorded_alive "$pid" "$start" && kill -TERM "$pid" 2>/dev/null || true
    done
    for line in "${lines[@]}"; do
        read -r name pid start <<<"$line"
        local deadline=$((SECONDS + 5))
        while recorded_alive "$pid" "$start"; do
            if ((SECONDS >= deadline)); then
                echo "test-services: $name (pid $pid) ignored SIGTERM; sending SIGKILL" >&2
                kill -KILL "$pid" 2>/dev/null || true
                break
            fi
            sleep 0.05
        done
    done
    rm -f "$DIR/pids" "$DIR/env"
}

cmd_run() {
    [[ "${1:-}" == "--" ]] || usage
    shift
    (($#)) || usage
    cmd_start
    local status=0
    trap 'cmd_stop' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    # shellcheck disable=SC1091
    source "$DIR/env"
    "$@" || status=$?
    exit "$status"
}

(($# >= 2)) || usage
COMMAND="$1"
if [[ "$COMMAND" != stop ]]; then
    mkdir -p "$2"
fi
[[ -d "$2" ]] || die "no such directory: $2"
DIR="$(cd "$2" && pwd)"
shift 2
case "$COMMAND" in
    start) (($# == 0)) || usage; cmd_start ;;
    stop) (($# == 0)) || usage; cmd_stop ;;
    run) cmd_run "$@" ;;
    *) usage ;;
esac
