"""A stand-in for "another application" that Sayso types into, run as its own process:

    python -m tests.support.target_app --title T --kind lineedit|textedit|terminal --out FILE [--initial TEXT]

It shows one window with one focused text field and writes the field's text to FILE (atomically) on every
change, so a test can read what landed. FILE first appears once the window is active and the field has the
keyboard focus: from then on, keys sent to the window reach the field.

--kind terminal imitates a terminal emulator: WM_CLASS "xterm"/"XTerm", and paste works only with
Ctrl+Shift+V (Ctrl+V and Shift+Insert do nothing), as in most terminals.
Start it from tests with tests.support.desktop.start_target_app().
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication, Qt, QTimer
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QApplication, QLineEdit, QMainWindow, QPlainTextEdit, QWidget

KINDS = ("lineedit", "textedit", "terminal")


class TerminalLikeEdit(QPlainTextEdit):
    """Pastes only on Ctrl+Shift+V, like a terminal emulator."""

    def keyPressEvent(self, event: QKeyEvent) -> None:
        modifiers = event.modifiers()
        ctrl_shift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
        if event.key() == Qt.Key.Key_V and (modifiers & ctrl_shift) == ctrl_shift:
            self.paste()
            return
        if event.matches(QKeySequence.StandardKey.Paste):
            event.accept()  # a terminal sends Ctrl+V to the program inside it; no paste happens
            return
        super().keyPressEvent(event)


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--title", required=True)
    parser.add_argument("--kind", choices=KINDS, default="lineedit")
    parser.add_argument("--out", type=Path, required=True, help="file that always holds the field's text")
    parser.add_argument("--initial", default="", help="text the field starts with")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    out: Path = args.out
    if args.kind == "terminal":
        # Qt's xcb plugin builds WM_CLASS from the -name argument (instance) and the application name (class).
        qt_argv = ["xterm", "-name", "xterm"]
        QCoreApplication.setApplicationName("XTerm")
    else:
        qt_argv = ["sayso-target", "-name", "sayso-target"]
        QCoreApplication.setApplicationName("SaysoTarget")
    app = QApplication(qt_argv)

    field: QLineEdit | QPlainTextEdit
    if args.kind == "lineedit":
        field = QLineEdit(args.initial)
        field.textChanged.connect(lambda text: write_atomically(out, text))
    else:
        field = TerminalLikeEdit(args.initial) if args.kind == "terminal" else QPlainTextEdit(args.initial)
        plain = field
        field.textChanged.connect(lambda: write_atomically(out, plain.toPlainText()))

    def current_text() -> str:
        return field.text() if isinstance(field, QLineEdit) else field.toPlainText()

    window = QMainWindow()
    window.setWindowTitle(args.title)
    window.setCentralWidget(field)
    window.resize(640, 240)
    window.show()
    field.setFocus()

    def report_ready_once(_old: QWidget | None, new: QWidget | None) -> None:
        if new is field and not out.exists():
            write_atomically(out, current_text())

    app.focusChanged.connect(report_ready_once)
    if app.focusWidget() is field:
        report_ready_once(None, field)

    # Quit cleanly on SIGTERM (TargetApp.close); the timer lets Python see the signal while Qt's loop runs.
    signal.signal(signal.SIGTERM, lambda *_: app.quit())
    ticker = QTimer()
    ticker.start(100)
    ticker.timeout.connect(lambda: None)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
