"""The History page: every dictation with its status; search, copy, re-insert, retry, play, delete."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)


@dataclass(frozen=True)
class HistoryRow:
    entry_id: int
    created: str
    status: str
    model: str
    text: str
    has_audio: bool


class HistoryPage(QWidget):
    search_changed = Signal(str)
    copy_requested = Signal(int)
    reinsert_requested = Signal(int)
    retry_requested = Signal(int, str)  # id, model ("" = same model)
    play_requested = Signal(int)
    delete_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("historyPage")
        layout = QVBoxLayout(self)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search your dictations")
        self.search.setAccessibleName("Search history")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.search_changed)
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("historyTable")
        self.table.setAccessibleName("Dictation history")
        self.table.setHorizontalHeaderLabels(["When", "Status", "Model", "Text"])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        buttons = QHBoxLayout()
        self.retry_model = QLineEdit()
        self.retry_model.setPlaceholderText("model for retry (optional)")
        self.retry_model.setAccessibleName("Model for retry")
        self.copy_button = QPushButton("&Copy")
        self.reinsert_button = QPushButton("Re-&insert")
        self.retry_button = QPushButton("&Retry")
        self.play_button = QPushButton("&Play")
        self.delete_button = QPushButton("&Delete")
        for button, signal in ((self.copy_button, self.copy_requested),
                               (self.reinsert_button, self.reinsert_requested),
                               (self.play_button, self.play_requested),
                               (self.delete_button, self.delete_requested)):
            button.setAccessibleName(button.text().replace("&", ""))
            button.clicked.connect(lambda _checked=False, s=signal: self._emit_for_selected(s))
            buttons.addWidget(button)
        self.retry_button.setAccessibleName("Retry transcription")
        self.retry_button.clicked.connect(self._retry)
        buttons.insertWidget(2, self.retry_button)
        buttons.addWidget(self.retry_model)
        self.notice = QLabel("")
        self.notice.setObjectName("historyNotice")
        self.notice.setWordWrap(True)
        layout.addWidget(self.search)
        layout.addWidget(self.notice)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self._rows: list[HistoryRow] = []
        self._update_buttons()

    def set_rows(self, rows: list[HistoryRow]) -> None:
        selected = self.selected_id()
        self._rows = rows
        self.table.setRowCount(len(rows))
        for index, row in enumerate(rows):
            for column, value in enumerate((row.created, row.status, row.model, row.text.replace("\n", " "))):
                item = QTableWidgetItem(value)
                item.setData(Qt.ItemDataRole.UserRole, row.entry_id)
                self.table.setItem(index, column, item)
            if row.entry_id == selected:
                self.table.selectRow(index)
        self._update_buttons()

    def set_notice(self, text: str) -> None:
        self.notice.setText(text)

    def selected_id(self) -> int | None:
        items = self.table.selectedItems()
        if not items:
            return None
        return int(items[0].data(Qt.ItemDataRole.UserRole))

    def _selected_row(self) -> HistoryRow | None:
        selected = self.selected_id()
        return next((row for row in self._rows if row.entry_id == selected), None)

    def _emit_for_selected(self, signal: Signal) -> None:
        selected = self.selected_id()
        if selected is not None:
            signal.emit(selected)  # type: ignore[attr-defined]

    def _retry(self) -> None:
        selected = self.selected_id()
        if selected is not None:
            self.retry_requested.emit(selected, self.retry_model.text().strip())

    def _update_buttons(self) -> None:
        row = self._selected_row()
        has = row is not None
        self.copy_button.setEnabled(has and bool(row and row.text))
        self.reinsert_button.setEnabled(has and bool(row and row.text))
        self.retry_button.setEnabled(has and bool(row and row.has_audio))
        self.play_button.setEnabled(has and bool(row and row.has_audio))
        self.delete_button.setEnabled(has)
