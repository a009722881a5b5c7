"""Render the SVG icons in resources/icons to the PNG sizes desktops and installers need.

Run after changing an SVG: ``.venv/bin/python tools/render_icons.py``. The PNGs are committed (they are small).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"


def render(svg: Path, size: int, out: Path) -> None:
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    QSvgRenderer(str(svg)).render(painter)
    painter.end()
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(str(out))


def main() -> int:
    QGuiApplication([*sys.argv[:1], "-platform", "offscreen"])
    for size in SIZES:
        render(ICONS / "sayso.svg", size, ICONS / "png" / f"sayso-{size}.png")
    for svg in sorted(ICONS.glob("sayso-*.svg")):
        render(svg, 64, ICONS / "png" / f"{svg.stem}-64.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
