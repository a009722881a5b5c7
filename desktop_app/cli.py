"""The ``sayso`` command line: starts the GUI, controls the running instance, and runs the standalone
commands (config, key, doctor, …). Exit codes: 0 ok, 1 failed, 2 bad usage or value, 3 Sayso not running."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from desktop_app import APP_NAME, __version__

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_NOT_RUNNING = 0, 1, 2, 3

# `sayso read --ACTION`: transport controls for desktop shortcuts (Wayland has no global hotkeys) and scripts.
READ_CONTROLS = {
    "pause": "pause the reading, or resume it when paused",
    "resume": "resume a paused reading (or continue after an error from where it stopped)",
    "stop": "stop reading",
    "next": "skip to the next sentence",
    "previous": "go back to the previous sentence",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sayso", description=f"{APP_NAME}: speak instead of typing, listen instead of reading.")
    parser.add_argument("--version", action="version", version=f"{APP_NAME} {__version__}")
    parser.add_argument("--profile", metavar="DIR",
                        help="keep settings, history, audio and logs in DIR (or set SAYSO_PROFILE)")
    parser.add_argument("--minimized", action="store_true", help="start in the tray without showing the window")
    parser.add_argument("--self-test", action="store_true", help="check backends, devices and keyring; exit 0/1")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    dictate = sub.add_parser("dictate", help="control dictation in the running Sayso")
    dictate.add_argument("action", choices=("start", "stop", "toggle", "cancel"))

    read = sub.add_parser(
        "read", help="read text aloud in the running Sayso, or control the reading",
        description="Read the selection (default), the clipboard or TEXT (- = standard input) aloud; or, with "
                    "one of the control options, pause/resume, stop or skip the reading in progress.")
    source = read.add_mutually_exclusive_group()
    source.add_argument("--selection", action="store_true", help="read the selected text (default)")
    source.add_argument("--clipboard", action="store_true", help="read the clipboard")
    for action, help_text in READ_CONTROLS.items():
        source.add_argument(f"--{action}", dest="control", action="store_const", const=action, help=help_text)
    read.add_argument("text", nargs="*", help="text to read")

    sub.add_parser("stop", help="stop reading or recording in the running Sayso")
    sub.add_parser("quit", help="quit the running Sayso")
    sub.add_parser("show", help="show the window of the running Sayso")
    sub.add_parser("status", help="print the state of the running Sayso")

    config = sub.add_parser("config", help="read or change settings")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    get = config_sub.add_parser("get", help="print a setting")
    get.add_argument("key")
    set_ = config_sub.add_parser("set", help="change a setting")
    set_.add_argument("key")
    set_.add_argument("value")
    config_sub.add_parser("list", help="print every setting with its value")
    config_sub.add_parser("path", help="print where the settings file is")

    key = sub.add_parser("key", help="manage the API key in the system keyring")
    key_sub = key.add_subparsers(dest="key_command", metavar="ACTION", required=True)
    key_sub.add_parser("set", help="store the key read from standard input (never from the command line)")
    key_sub.add_parser("status", help="say where the key comes from (masked)")
    key_sub.add_parser("clear", help="remove the stored key")

    sub.add_parser("doctor", help="report display, tray, audio, keyring, hotkeys and API settings")

    transcribe = sub.add_parser("transcribe", help="transcribe an audio file (text streamed to stdout)")
    transcribe.add_argument("file")
    transcribe.add_argument("--model", help="model id (default: dictation.model)")
    transcribe.add_argument("--format", choices=("text", "json", "srt", "vtt"), default="text")
    transcribe.add_argument("--language", help="spoken language (ISO-639-1)")
    transcribe.add_argument("--transport", choices=("rest", "realtime"), help="default: dictation.transport")
    transcribe.add_argument("--engine", choices=("openai", "local", "auto"), help="default: dictation.engine")
    transcribe.add_argument("--fast", action="store_true", help="realtime transport: stream faster than real time")

    history = sub.add_parser("history", help="list or retry past dictations")
    history_sub = history.add_subparsers(dest="history_command", metavar="ACTION", required=True)
    history_list = history_sub.add_parser("list", help="list entries, newest first")
    history_list.add_argument("--json", action="store_true", help="machine-readable output")
    history_list.add_argument("--limit", type=int, default=50)
    history_list.add_argument("--search", default="")
    retry = history_sub.add_parser("retry", help="transcribe a kept recording again")
    retry.add_argument("id", type=int)
    retry.add_argument("--model", help="use another model for this retry")

    speak = sub.add_parser("speak", help="speak text (or - for stdin) aloud or into an audio file")
    speak.add_argument("text", nargs="+", help="text to speak, or - to read standard input")
    speak.add_argument("--out", metavar="FILE", help="write .wav, .flac, .ogg or .mp3 instead of playing")
    speak.add_argument("--voice")
    speak.add_argument("--model")
    speak.add_argument("--speed", type=float)
    speak.add_argument("--engine", choices=("auto", "speech", "realtime", "system"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.profile:
        os.environ["SAYSO_PROFILE"] = os.path.abspath(args.profile)
    if args.self_test:
        from desktop_app.diagnostics import self_test

        return self_test(args.profile)
    handlers = {
        None: _gui, "dictate": _dictate, "read": _read, "stop": _simple, "quit": _simple, "show": _simple,
        "status": _status, "config": _config, "key": _key, "doctor": _doctor,
        "transcribe": _feature("desktop_app.app.dictation", "cli_transcribe"),
        "history": _feature("desktop_app.app.dictation", "cli_history"),
        "speak": _feature("desktop_app.app.read_aloud", "cli_speak"),
    }
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        return 130


def _feature(module: str, function: str) -> Any:
    """Standalone feature commands live with their feature's wiring; imported only when used."""

    def run(args: argparse.Namespace) -> int:
        import importlib

        return int(getattr(importlib.import_module(module), function)(args))

    return run


def gui_main() -> int:
    return main([])


def _err(message: str) -> None:
    print(message, file=sys.stderr)


def _profile(args: argparse.Namespace) -> Any:
    from desktop_app.storage.profile import resolve_profile

    return resolve_profile(args.profile)


# ----- GUI and the running instance -----------------------------------------------------------------
def _gui(args: argparse.Namespace) -> int:
    from desktop_app.app import GuiOptions, run_gui

    return run_gui(GuiOptions(profile_dir=args.profile, minimized=args.minimized, verbose=args.verbose))


def _remote(args: argparse.Namespace, command: str, payload: dict[str, Any] | None = None) -> tuple[int, Any]:
    from desktop_app.qt.ipc import IpcClientError, send_command, socket_name

    name = socket_name(_profile(args).key)
    try:
        reply = send_command(name, command, payload)
    except IpcClientError as exc:
        if str(exc) == "not running":
            _err(f"{APP_NAME} is not running. Start it with `sayso` (or `sayso --minimized`), then try again.")
            return EXIT_NOT_RUNNING, None
        _err(str(exc))
        return EXIT_FAIL, None
    if reply.message:
        print(reply.message, file=sys.stdout if reply.ok else sys.stderr)
    return (EXIT_OK if reply.ok else EXIT_FAIL), reply.data


def _dictate(args: argparse.Namespace) -> int:
    return _remote(args, "dictate", {"action": args.action})[0]


def _read(args: argparse.Namespace) -> int:
    if args.control:
        if args.text:
            _err(f"`sayso read --{args.control}` takes no text.")
            return EXIT_USAGE
        return _remote(args, "read", {"action": args.control})[0]
    text = " ".join(args.text)
    if text == "-":
        text = sys.stdin.read()
    source = "clipboard" if args.clipboard else "text" if text else "selection"
    return _remote(args, "read", {"source": source, "text": text})[0]


def _simple(args: argparse.Namespace) -> int:
    return _remote(args, args.command)[0]


def _status(args: argparse.Namespace) -> int:
    from desktop_app.qt.ipc import IpcClientError, send_command, socket_name

    try:
        reply = send_command(socket_name(_profile(args).key), "status")
    except IpcClientError:
        _err(f"{APP_NAME} is not running.")
        return EXIT_NOT_RUNNING
    print(json.dumps(reply.data, indent=2))
    return EXIT_OK


# ----- settings -----------------------------------------------------------------------------------------
def _config(args: argparse.Namespace) -> int:
    from desktop_app.core.errors import SettingsError
    from desktop_app.core.settings import all_keys, describe
    from desktop_app.storage.settings_store import SettingsStore

    profile = _profile(args)
    store = SettingsStore(profile.settings_file)
    settings = store.load()
    if args.config_command == "path":
        print(profile.settings_file)
        return EXIT_OK
    if args.config_command == "list":
        for key in all_keys():
            print(f"{key} = {_show(settings.get(key))}")
        return EXIT_OK
    try:
        spec = describe(args.key)
        if args.config_command == "get":
            print(_show(settings.get(spec.key)))
            return EXIT_OK
        settings.set(spec.key, args.value)
        store.save(settings)
    except SettingsError as exc:
        _err(exc.user_message)
        return EXIT_USAGE
    print(f"{spec.key} = {_show(settings.get(spec.key))}")
    _notify_running_instance(args)
    return EXIT_OK


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _notify_running_instance(args: argparse.Namespace) -> None:
    """A running Sayso re-reads its settings so `config set` takes effect at once."""
    from desktop_app.qt.ipc import IpcClientError, send_command, socket_name

    try:
        send_command(socket_name(_profile(args).key), "reload-settings", timeout_ms=2000)
    except IpcClientError:
        pass


# ----- API key ------------------------------------------------------------------------------------------
def _key(args: argparse.Namespace) -> int:
    from desktop_app.app import build_credentials
    from desktop_app.core.errors import SecretStoreUnavailable
    from desktop_app.storage.settings_store import SettingsStore

    profile = _profile(args)
    settings = SettingsStore(profile.settings_file).load()
    credentials = build_credentials(profile)
    try:
        if args.key_command == "status":
            status = credentials.status(settings)
            print(status.message, file=sys.stdout if status.source != "unavailable" else sys.stderr)
            return EXIT_OK if status.source in ("env", "keyring") else EXIT_FAIL
        if args.key_command == "set":
            if sys.stdin.isatty():
                import getpass

                key = getpass.getpass("Paste your API key (input hidden): ")
            else:
                key = sys.stdin.readline()
            try:
                account = credentials.set_key(settings, key)
            except ValueError as exc:
                _err(str(exc))
                return EXIT_USAGE
            print(f"The API key for {account} is stored in the system keyring.")
            if os.environ.get("OPENAI_API_KEY"):
                print("Note: OPENAI_API_KEY is set in this environment and takes precedence while it is set.")
            return EXIT_OK
        removed = credentials.clear_key(settings)
        print("The stored API key was removed." if removed else "No API key was stored.")
        return EXIT_OK
    except SecretStoreUnavailable as exc:
        _err(exc.full_message())
        return EXIT_FAIL


def _doctor(args: argparse.Namespace) -> int:
    from desktop_app.diagnostics import doctor

    return doctor(args.profile)


if __name__ == "__main__":
    sys.exit(main())
