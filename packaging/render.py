"""Renders the installer templates with the app's version, read from its one source (desktop_app/__init__.py).

    python3 packaging/render.py [OUT_DIR]      (default: build/packaging) prints the version

Every `*.in` file under packaging/ becomes OUT_DIR/<same relative path without .in>, with @VERSION@,
@VERSION_TUPLE@ (Windows: 0, 1, 0, 0), @DATE@ (release date: SOURCE_DATE_EPOCH or today) and @APP_ID@
replaced. Stdlib only, so the Windows and macOS runners can run it before anything is installed.
"""

from __future__ import annotations

import ast
import datetime
import os
import re
import sys
from pathlib import Path

PACKAGING = Path(__file__).resolve().parent
REPO = PACKAGING.parent
VERSION_FILE = REPO / "desktop_app" / "__init__.py"
APP_ID = "io.github.sayso.Sayso"
_PLACEHOLDER = re.compile(r"@([A-Z_]+)@")


def read_version(path: Path = VERSION_FILE) -> str:
    """The literal assigned to __version__, without importing the package (whose imports need the venv)."""
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__version__" for t in node.targets):
            value = ast.literal_eval(node.value)
            if isinstance(value, str) and re.fullmatch(r"\d+\.\d+\.\d+([.-]?[0-9A-Za-z.]+)?", value):
                return value
            raise ValueError(f"__version__ in {path} is not a version: {value!r}")
    raise ValueError(f"no __version__ in {path}")


def version_tuple(version: str) -> str:
    """"1.2.3rc1" → "1, 2, 3, 0": the four numbers a Windows version resource wants."""
    numbers = [int(part) for part in re.findall(r"\d+", version)[:3]]
    return ", ".join(str(n) for n in [*numbers, 0, 0, 0, 0][:4])


def release_date() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if epoch else datetime.datetime.now(
        datetime.timezone.utc)
    return moment.date().isoformat()


def values(version: str | None = None) -> dict[str, str]:
    version = version or read_version()
    return {"VERSION": version, "VERSION_TUPLE": version_tuple(version), "DATE": release_date(), "APP_ID": APP_ID}


def render(text: str, mapping: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(1) not in mapping:
            raise KeyError(f"unknown placeholder @{match.group(1)}@")
        return mapping[match.group(1)]

    return _PLACEHOLDER.sub(replace, text)


def templates() -> list[Path]:
    return sorted(path for path in PACKAGING.rglob("*.in") if path.is_file())


def render_all(out_dir: Path, version: str | None = None) -> Path:
    mapping = values(version)
    for template in templates():
        target = out_dir / template.relative_to(PACKAGING).with_suffix("")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render(template.read_text(encoding="utf-8"), mapping), encoding="utf-8")
    return out_dir


def main(argv: list[str]) -> int:
    out_dir = Path(argv[0]) if argv else REPO / "build" / "packaging"
    render_all(out_dir.resolve())
    print(read_version())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
