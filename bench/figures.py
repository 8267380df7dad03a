"""What every benchmark hands to ``python -m bench``: its figures, each with all its runs.

A figure keeps every run rather than a summary, so the table can show the median and the
spread, and the ratio to a baseline measured in the same run of the same benchmark. Each
benchmark module measures in a process of its own and writes its figures as JSON to the file
named by ``--figures``; the table is made from those files. Values are kept in the unit they
are shown in (ms, KiB, events/s), so nothing is converted twice.
"""

import argparse
import json
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Goal:
    """What a figure should be: a bound on pairup's own median, or on its ratio to the
    baseline's median."""

    limit: float
    on_ratio: bool = False
    at_least: bool = False
    """A floor (throughput) rather than a ceiling (times, memory)."""

    def describe(self, unit: str) -> str:
        sign = "≥" if self.at_least else "≤"
        return f"ratio {sign} {self.limit:g}" if self.on_ratio else f"{sign} {self.limit:g} {unit}"

    def met(self, value: float) -> bool:
        return value >= self.limit if self.at_least else value <= self.limit


@dataclass(frozen=True, slots=True)
class Figure:
    """One row of the table: pairup's runs, the baseline's runs (if it has one), the goal."""

    name: str
    unit: str
    pairup: tuple[float, ...]
    baseline: tuple[float, ...] = ()
    baseline_name: str = ""
    goal: Goal | None = None
    decimals: int = 1
    note: str = ""
    """What the runs are, when the figure name does not say (e.g. "3 runs of 10 s")."""

    @property
    def ratio(self) -> float | None:
        if not self.baseline or not statistics.median(self.baseline):
            return None
        return statistics.median(self.pairup) / statistics.median(self.baseline)

    def verdict(self) -> str:
        """``met`` or ``MISSED``; empty for a figure without a goal."""
        if self.goal is None:
            return ""
        value = self.ratio if self.goal.on_ratio else statistics.median(self.pairup)
        if value is None:
            return ""
        return "met" if self.goal.met(value) else "MISSED"

    def shown(self, runs: Sequence[float]) -> str:
        """The median with its unit, and the spread of the runs when there are several."""
        median = f"{statistics.median(runs):,.{self.decimals}f} {self.unit}"
        if len(runs) < 2:
            return median
        low, high = f"{min(runs):,.{self.decimals}f}", f"{max(runs):,.{self.decimals}f}"
        return f"{median} (spread {low}-{high}, {len(runs)} runs)"

    def compact(self, runs: Sequence[float]) -> str:
        """The median with its unit, and the range of the runs, for a table cell."""
        median = f"{statistics.median(runs):,.{self.decimals}f} {self.unit}"
        if len(runs) < 2:
            return median
        return f"{median} ({min(runs):,.{self.decimals}f}-{max(runs):,.{self.decimals}f})"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Figure":
        goal = data.pop("goal")
        return cls(
            **{
                **data,
                "pairup": tuple(data["pairup"]),
                "baseline": tuple(data["baseline"]),
                "goal": None if goal is None else Goal(**goal),
            }
        )


def add_options(parser: argparse.ArgumentParser, quick_help: str) -> None:
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument(
        "--figures",
        type=Path,
        metavar="PATH",
        help="also write the figures as JSON to PATH (python -m bench reads them)",
    )


def counted(count: int, noun: str, plural: str = "") -> str:
    """``1 run``, ``3 runs``: quick mode makes many counts one."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The sample below which ``fraction`` of them lie; with fewer than 100 samples, p99 is
    the slowest."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def verdict_text(figure: Figure, *, quick: bool) -> str:
    """The goal and whether it was met, as the benchmarks' own reports end their lines."""
    if figure.goal is None:
        return ""
    goal = f"goal {figure.goal.describe(figure.unit)}"
    return f"{goal}: quick mode, not judged" if quick else f"{goal}: {figure.verdict()}"


def save(path: Path | None, figures: Sequence[Figure]) -> None:
    if path is not None:
        path.write_text(json.dumps([figure.to_json() for figure in figures]))


def load(path: Path) -> list[Figure]:
    return [Figure.from_json(item) for item in json.loads(path.read_text())]


def table(figures: Sequence[Figure], *, quick: bool) -> str:
    """The figures as a Markdown table, columns padded so it reads as well in a terminal.
    Each cell holds the median of the runs and, in brackets, the lowest and highest."""
    rows = [("figure", "runs", "pairup", "baseline", "ratio", "goal", "")]
    for figure in figures:
        ratio = figure.ratio
        rows.append(
            (
                figure.name + (f" ({figure.note})" if figure.note else ""),
                str(len(figure.pairup)),
                figure.compact(figure.pairup),
                f"{figure.baseline_name}: {figure.compact(figure.baseline)}"
                if figure.baseline
                else "—",
                "—" if ratio is None else f"{ratio:.2f}",
                figure.goal.describe(figure.unit) if figure.goal else "—",
                "not judged" if quick and figure.goal else figure.verdict(),
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
