"""Start → tray ready, and the cost of idling in the tray.

Run on the headless desktop (scripts/test-services.sh run DIR -- .venv/bin/python bench/startup_bench.py).
Targets (issue 2): start → tray ready < 1.5 s; idle 60 s in the tray: < 0.3 % CPU, < 150 MB RSS.
Also prints where the idle CPU goes (per thread, /proc/PID/task/*/stat) and what the RSS is made of
(/proc/PID/smaps_rollup), so a regression can be attributed without another tool.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from desktop_app.qt.ipc import IpcClientError, send_command, socket_name  # noqa: E402
from desktop_app.storage.profile import resolve_profile  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _thread_ticks(pid: int) -> dict[str, tuple[str, int]]:
    """tid → (thread name, user+system clock ticks)."""
    ticks: dict[str, tuple[str, int]] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        ticks[task.name] = (name, int(fields[11]) + int(fields[12]))
    return ticks


def _busy_threads(before: dict[str, tuple[str, int]], after: dict[str, tuple[str, int]],
                  seconds: float) -> list[tuple[str, float]]:
    """Threads that used CPU between two snapshots, as (name/tid, % of one core), busiest first."""
    rows = []
    for tid, (name, ticks) in after.items():
        used = (ticks - before.get(tid, (name, 0))[1]) / CLOCK_TICKS / seconds * 100
        if used > 0:
            rows.append((f"{name}/{tid}", used))
    return sorted(rows, key=lambda row: -row[1])


def _smaps_rollup_mb(pid: int) -> dict[str, float]:
    rollup: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, _, value = line.partition(":")
        if value.strip().endswith("kB"):
            rollup[key] = int(value.split()[0]) / 1024
    return rollup


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_and_wait(profile: Path) -> tuple[subprocess.Popen[bytes], float]:
    name = socket_name(resolve_profile(profile).key)
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "desktop_app", "--profile", str(profile), "--minimized"],
                               cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        if process.poll() is not None:
            raise SystemExit(f"Sayso exited with {process.returncode}")
        try:
            reply = send_command(name, "status", timeout_ms=2000)
            if reply.data and reply.data.get("tray"):
                return process, time.perf_counter() - started
        except IpcClientError:
            pass
        time.sleep(0.005)  # polling the socket is the measurement itself


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle-s", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sayso-bench-") as tmp:
        profile = Path(tmp) / "profile"
        times = []
        for _ in range(args.runs):
            process, elapsed = start_and_wait(profile)
            times.append(elapsed)
            send_command(socket_name(resolve_profile(profile).key), "quit")
            process.wait(30)
        process, _ = start_and_wait(profile)
        time.sleep(2.0)  # let start-up work settle before measuring idle
        threads_before = _thread_ticks(process.pid)
        cpu_before, wall_before = _cpu_seconds(process.pid), time.perf_counter()
        peak_rss = 0.0
        end = wall_before + args.idle_s
        while time.perf_counter() < end:
            peak_rss = max(peak_rss, _rss_mb(process.pid))
            time.sleep(1.0)
        idle_wall = time.perf_counter() - wall_before
        cpu = (_cpu_seconds(process.pid) - cpu_before) / idle_wall * 100
        busy = _busy_threads(threads_before, _thread_ticks(process.pid), idle_wall)
        thread_count = len(os.listdir(f"/proc/{process.pid}/task"))
        rollup = _smaps_rollup_mb(process.pid)
        send_command(socket_name(resolve_profile(profile).key), "quit")
        process.wait(30)
    print("| measure | result | target |")
    print("|---|---|---|")
    print(f"| start → tray ready (median of {args.runs}) | {statistics.median(times) * 1000:.0f} ms "
          f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}) | < 1500 ms |")
    print(f"| idle CPU over {args.idle_s:.0f} s in the tray | {cpu:.2f} % | < 0.3 % |")
    print(f"| idle peak RSS | {peak_rss:.0f} MB | < 150 MB |")
    print()
    print(f"Idle CPU by thread ({thread_count} threads): "
          + (", ".join(f"{name} {used:.2f} %" for name, used in busy) or "none used any"))
    print("RSS at the end: " + ", ".join(f"{key} {rollup.get(key, 0.0):.0f} MB" for key in
                                          ("Rss", "Anonymous", "Private_Clean", "Shared_Clean")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
