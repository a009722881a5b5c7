"""A tiny text field in its own process: the "other application" that tests insert into.

Prints JSON lines on stdout: {"ready": <X window id>} once shown, then {"text": ...} on every change.
``--terminal`` gives it a terminal's WM_CLASS and terminal paste keys (Ctrl+Shift+V pastes, Ctrl+V does not).
``--clipboard-formats`` also sets the clipboard to text + image/png (bytes from the given file) and
prints {"clipboard_set": true}.
"""

from __future__ import annotations

import argparse
import json
import sys

from PySide6.QtCore import QMimeData, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QApplication, QLineEdit


def emit(**payload: object) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


class TerminalLikeField(QLineEdit):
    def keyPressEvent(self, event: QKeyEvent) -> None:
        ctrl_shift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
        if event.key() == Qt.Key.Key_V and event.modifiers() == ctrl_shift:
            self.paste()
            return
        if event.matches(QKeySequence.StandardKey.Paste):
            return  # terminals send Ctrl+V to the shell as ^V instead of pasting
        super().keyPressEvent(event)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--terminal", action="store_true")
    parser.add_argument("--clipboard-png", default="")
    parser.add_argument("--clipboard-text", default="")
    args, _ = parser.parse_known_args()
    name = "xterm" if args.terminal else "sayso-test-target"
    app = QApplication([name, "-name", name])
    app.setApplicationName("XTerm" if args.terminal else "SaysoTestTarget")
    field = TerminalLikeField() if args.terminal else QLineEdit()
    field.setWindowTitle(name)
    field.resize(400, 40)
    field.textChanged.connect(lambda text: emit(text=text))
    if args.clipboard_png or args.clipboard_text:
        mime = QMimeData()
        if args.clipboard_text:
            mime.setText(args.clipboard_text)
        if args.clipboard_png:
            with open(args.clipboard_png, "rb") as f:
                mime.setData("image/png", f.read())
        QApplication.clipboard().setMimeData(mime)
        emit(clipboard_set=True)
    field.show()
    field.activateWindow()
    app.processEvents()
    emit(ready=int(field.winId()))
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
