"""Every benchmark, then one table: pairup's figures against baselines measured in the same run.

These machines are shared and noisy, so a figure is only worth its baseline measured beside
it: each row holds pairup's median and spread, the baseline's, their ratio and the goal.
Each benchmark runs in a fresh process of its own (``python -m bench.NAME``), so none
inherits another's heap, threads or warm caches; its own report is shown as it runs, and its
figures come back as JSON.

    python -m bench                  # every benchmark, a few minutes
    python -m bench --write          # the same, and the run goes into docs/benchmarks.md
    python -m bench --quick          # seconds: checks every benchmark still works; judges nothing
    python -m bench --only relay tui # some of them
"""

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.figures import Figure, load, table

BENCHMARKS = (
    "relay",
    "fleet",
    "flood",
    "memory",
    "startup",
    "tui",
    "commit",
    "fold",
    "signing",
    "sealing",
    "rotation",
    "handover",
    "history",
    "watch",
)
"""In the order of the table: the relay and its limits under a flood, then start-up and screen,
git, the core and its signatures, the pair, the browser's watch page."""
TIMEOUT = {False: 20 * 60.0, True: 120.0}
"""Seconds one benchmark may take, in full and in quick mode."""
ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
BEGIN = "<!-- begin: the latest run, written by `python -m bench --write`; edits here are lost -->"
END = "<!-- end of the latest run -->"


def run_benchmark(name: str, *, quick: bool, scratch: Path) -> tuple[list[Figure], str]:
    """Run one benchmark in a process of its own, echoing its report as it comes; its
    figures and its report. Raises ``RuntimeError`` if it fails."""
    figures = scratch / f"{name}.json"
    command = [sys.executable, "-m", f"bench.{name}", "--figures", str(figures)]
    if quick:
        command.append("--quick")
    print(f"== bench.{name}", flush=True)
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    watchdog = threading.Timer(TIMEOUT[quick], process.kill)
    watchdog.start()
    lines = []
    try:
        for line in process.stdout:
            print(line, end="", flush=True)
            lines.append(line)
        process.wait()
    finally:
        watchdog.cancel()
    if process.returncode != 0:
        raise RuntimeError(f"bench.{name} failed (exit status {process.returncode})")
    return load(figures), "".join(lines)


def machine() -> str:
    """What the figures were measured on: they mean little without it."""
    model = ""
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores ({model or platform.processor() or 'unknown CPU'}), "
        f"{memory:.1f} GiB of memory, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()} ({platform.python_implementation()})"
    )


def revision() -> str:
    """The commit measured, marked when the working tree had changes."""
    described = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return described.stdout.strip() or "unknown"


def write_docs(section: str) -> None:
    """Put ``section`` between the markers of docs/benchmarks.md, keeping the notes around it."""
    text = DOCS.read_text() if DOCS.exists() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    before, found, rest = text.partition(BEGIN)
    _, ended, after = rest.partition(END)
    if not found or not ended:
        raise SystemExit(f"bench: {DOCS} has lost its markers; put back {BEGIN!r} and {END!r}")
    DOCS.write_text(f"{before}{BEGIN}\n{section}\n{END}{after}")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="each benchmark in its quick mode: seconds, only checks they work; judges nothing",
    )
    parser.add_argument(
        "--only", nargs="+", choices=BENCHMARKS, metavar="NAME", help=", ".join(BENCHMARKS)
    )
    parser.add_argument(
        "--write", action="store_true", help=f"write the run into {DOCS.relative_to(ROOT)}"
    )
    args = parser.parse_args()
    if args.write and (args.quick or args.only):
        parser.error("--write keeps a full run of every benchmark: drop --quick and --only")
    names = args.only or BENCHMARKS
    started = time.monotonic()
    figures: list[Figure] = []
    reports: list[str] = []
    failed: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        for name in names:
            try:
                found, report = run_benchmark(name, quick=args.quick, scratch=Path(scratch))
            except RuntimeError as error:
                print(f"bench: {error}", file=sys.stderr)
                failed.append(name)
                continue
            figures.extend(found)
            reports.append(f"$ python -m bench.{name}\n{report}")
    took = time.monotonic() - started
    heading = (
        "quick mode: the figures are not judged"
        if args.quick
        else "median of each figure's runs, with their spread"
    )
    print(f"\n== pairup against its baselines ({heading}; {took:.0f} s in all)")
    print(table(figures, quick=args.quick))
    if failed:
        raise SystemExit(f"bench: failed: {', '.join(failed)}")
    if args.write:
        when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        command = "python -m bench " + " ".join(sys.argv[1:])
        write_docs(
            f"Run on {when} at commit `{revision()}` with `{command.strip()}` "
            f"({took / 60:.0f} min in all).\n\n"
            f"Machine: {machine()}.\n\n"
            f"{table(figures, quick=False)}\n\n"
            "<details><summary>Each benchmark's own report</summary>\n\n"
            f"```text\n{chr(10).join(reports).rstrip()}\n```\n\n</details>"
        )
        print(f"written into {DOCS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
