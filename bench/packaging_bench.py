"""Packaging benchmark: size of the unpacked PyInstaller bundle (target < 200 MB) and cold start of the frozen
app to "tray ready" (target < 2 s).

    .venv/bin/python bench/packaging_bench.py [--bundle DIR] [--runs N]

Without --bundle the bundle is built first into a temp dir (fresh, like CI). Run it on a desktop session
(DISPLAY, a tray host, PulseAudio), e.g. inside `scripts/test-services.sh run DIR -- …`. Each run starts the
frozen app with a fresh profile and reports: the app's own "Ready in N ms" (process start → event loop with
window and tray) and the wall time until `sayso status` answers with the tray up. As root, the page cache is
dropped before each run so the start is really cold (reported when that is not possible).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SIZE_TARGET_MB = 200.0
START_TARGET_S = 2.0


def build_bundle(work: Path) -> Path:
    started = time.perf_counter()
    subprocess.run([str(REPO / ".venv/bin/pyinstaller"), "--noconfirm", "--clean", "--log-level", "WARN",
                    "--distpath", str(work / "dist"), "--workpath", str(work / "build"),
                    str(REPO / "packaging/pyinstaller/sayso.spec")], check=True,
                   env={**os.environ, "SAYSO_BUILD": str(work / "build")})
    print(f"build: {time.perf_counter() - started:.1f} s")
    return work / "dist" / "sayso"


def size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6


def drop_caches() -> bool:
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def one_start(exe: Path, profile: Path) -> tuple[float, float | None]:
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "xcb"),
           "XDG_CONFIG_HOME": str(profile / "xdg-config")}
    profile.mkdir(parents=True)
    output = profile / "app-output.log"
    started = time.perf_counter()
    with output.open("wb") as sink:
        process = subprocess.Popen([str(exe), "--profile", str(profile), "--minimized"], env=env,
                                   stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = started + 60
        while time.perf_counter() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the app exited with {process.returncode}:\n{output.read_text()}")
            result = subprocess.run([str(exe), "--profile", str(profile), "status"], env=env,
                                    capture_output=True, text=True, check=False)
            if result.returncode == 0 and json.loads(result.stdout).get("tray"):
                break
        else:
            raise RuntimeError("no tray within 60 s")
        wall = time.perf_counter() - started
        log = (profile / "logs" / "sayso.log").read_text(encoding="utf-8", errors="replace")
        match = re.search(r"Ready in (\d+) ms", log)
        subprocess.run([str(exe), "--profile", str(profile), "quit"], env=env, capture_output=True, check=False)
        process.wait(30)
        return wall, (int(match.group(1)) / 1000 if match else None)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, help="an existing one-folder bundle (dist/sayso)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sayso-pkg-bench-") as tmp:
        bundle = args.bundle or build_bundle(Path(tmp))
        exe = bundle / "sayso"
        size = size_mb(bundle)
        print(f"bundle size unpacked: {size:.1f} MB (target < {SIZE_TARGET_MB:.0f} MB) "
              f"{'OK' if size < SIZE_TARGET_MB else 'OVER'}")
        walls, readies, cold = [], [], True
        for run in range(args.runs):
            cold = drop_caches() and cold
            wall, ready = one_start(exe, Path(tmp) / f"profile-{run}")
            walls.append(wall)
            if ready is not None:
                readies.append(ready)
            shown = f"{ready:.2f} s" if ready is not None else "n/a"
            print(f"run {run + 1}: tray ready (status answers) {wall:.2f} s; app log 'Ready in' {shown}")
        cache = "dropped before each run" if cold else "NOT dropped: warm starts"
        print(f"start to tray ready: median {statistics.median(walls):.2f} s, max {max(walls):.2f} s "
              f"(target < {START_TARGET_S:.0f} s; page cache {cache})")
        if readies:
            print(f"app-reported Ready: median {statistics.median(readies):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
