#!/usr/bin/env bash
# Runs every check of the project on a headless desktop of its own:
#   setup (Debian packages + .venv with test extras), then ruff, mypy, lint-imports and pytest.
# Arguments go to pytest (e.g. scripts/test.sh -k keyring -x). Every stage runs even after a failure;
# the exit code is the first failing stage's. The desktop services are always stopped on exit.
# Set SAYSO_TEST_ARTIFACTS to choose where pytest's junit XML and the service logs go (default test-artifacts/).
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

stage() { printf '\n===== %s =====\n' "$*"; }

stage "setup"
bash scripts/setup.sh --test || exit $?

artifacts="${SAYSO_TEST_ARTIFACTS:-$repo/test-artifacts}"
mkdir -p "$artifacts"
export SAYSO_TEST_ARTIFACTS="$artifacts"
# A short path under /tmp: the services' unix sockets must stay under 108 bytes.
services_dir="$(mktemp -d "${TMPDIR:-/tmp}/sayso-desktop.XXXXXX")"

stop_services() {
    stage "stopping the desktop services"
    bash "$repo/scripts/test-services.sh" stop "$services_dir"
    # Keep the services' logs with the test results, then drop the runtime directory.
    rm -rf "$artifacts/service-logs"
    cp -r "$services_dir/logs" "$artifacts/service-logs" 2>/dev/null || true
    rm -rf "$services_dir"
}
trap stop_services EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stage "starting the desktop services (Xvfb, trayer, D-Bus, gnome-keyring, PulseAudio, speech-dispatcher)"
bash scripts/test-services.sh start "$services_dir" || exit $?

first_failure=0
run_stage() {  # run_stage NAME CMD...: runs CMD, remembers the first non-zero exit code
    stage "$1"; shift
    "$@"
    local status=$?
    if ((status != 0)); then
        echo "----- failed with exit code $status"
        ((first_failure == 0)) && first_failure=$status
    fi
    return 0
}

run_stage "ruff" .venv/bin/ruff check .
run_stage "mypy" .venv/bin/mypy
run_stage "import-linter" .venv/bin/lint-imports
run_stage "pytest" bash -c 'source "$0/env" && exec .venv/bin/pytest --junitxml="$1/junit.xml" "${@:2}"' \
    "$services_dir" "$artifacts" "$@"

stage "summary"
if ((first_failure == 0)); then echo "all stages passed"; else echo "FAILED (first failing exit code: $first_failure)"; fi
exit "$first_failure"
