"""The results of one benchmark: the table printed, bench/results/latest.md and latest.json."""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from bench.timing import Samples

SHOAL, ICEGRID, SUPERVISORD = "Shoal", "IceGrid", "supervisord"
PEERS = (ICEGRID, SUPERVISORD)
REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: str  # "ms" (stored in seconds), "MiB", "%" or "/s"
    shoal: str = SHOAL  # the column whose samples fill the Shoal cell
    peers: bool = True  # False: a Shoal-only figure (the floors)
    #: Fixed text of the IceGrid and supervisord cells of a figure they are not measured for.
    peer_text: tuple[str, str] | None = None
    #: Fixed text of the Shoal cell of a figure Shoal cannot be measured for yet.
    shoal_text: str | None = None


#: The locator figures (Shoal and IceGrid; supervisord has no locator).
LOCATOR_CLIENTS = (1, 4)


def locator_figures() -> list[Figure]:
    found = []
    for clients in LOCATOR_CLIENTS:
        what = f"locator FindAdapterById, {clients} client{'s' if clients > 1 else ''}"
        found += [
            Figure(f"locator_rate_{clients}", f"{what}: lookups/s", "/s"),
            Figure(f"locator_p50_{clients}", f"{what}: p50 latency", "ms"),
            Figure(f"locator_p99_{clients}", f"{what}: p99 latency", "ms"),
        ]
    found += [
        Figure(
            "locator_floor_1",
            "floor: the 1-client lookups against a bare wire-protocol Locator (no registry code)",
            "/s",
            peers=False,
        ),
        Figure("locator_first_call", "first call to an on-demand server, until its reply", "ms"),
    ]
    return found


LOCATOR_KEYS = tuple(figure.key for figure in locator_figures())


#: The scale scenario's server count (full mode, or --scale).
SCALE_SERVERS = 1000


def figures(n: int, idle_window: float, scale: int = SCALE_SERVERS) -> list[Figure]:
    return [
        Figure("deploy_start", f"deploy + start {n}, until all up", "ms"),
        Figure(
            "deploy_start_returned",
            f"deploy + start {n}, until `shoal admin start` returned (+ its start-up grace watch)",
            "ms",
            peer_text=("—", "—"),
        ),
        Figure(
            "deploy_adapters",
            f"deploy + start {n} Python servers of one adapter each, until all Active "
            "(adapters registered)",
            "ms",
        ),
        Figure("crash_pid", "crash (SIGKILL) → new pid seen", "ms"),
        Figure("crash_active", "crash → Active again", "ms"),
        Figure("cli", f"admin CLI server list / status with {n}, whole process", "ms"),
        Figure(
            "state_calls",
            "admin state calls/s, closed loop, one client (Shoal: ServerState, BlockingChannel)",
            "/s",
        ),
        Figure("floor_python", "floor: python -c pass", "ms", peers=False),
        Figure("floor_grpc", 'floor: python -c "import grpc"', "ms", peers=False),
        Figure(
            "floor_asyncio_protobuf",
            'floor: python -c "import asyncio, google.protobuf"',
            "ms",
            peers=False,
        ),
        Figure("floor_shoal_cli", 'floor: python -c "import shoal.cli.main"', "ms", peers=False),
        Figure("stop_servers", f"daemon stop with {n} running, until servers gone", "ms"),
        Figure("stop_all", f"daemon stop with {n} running, until all gone", "ms"),
        Figure("undeploy_servers", f"undeploy {n} (application remove), until servers gone", "ms"),
        Figure("undeploy_all", f"undeploy {n}, until servers gone and command returned", "ms"),
        Figure("rss", f"daemon RSS with {n} (Shoal: master = registry + node)", "MiB"),
        Figure("rss_all", f"daemon + helper processes RSS with {n} (Shoal: + watchdog)", "MiB"),
        Figure("rss_anon", f"daemon private memory (RssAnon) with {n}, no shared libraries", "MiB"),
        Figure("idle_cpu", f"idle daemon CPU over {idle_window:g} s with {n}, % of a core", "%"),
        Figure("scale_deploy", f"scale: deploy + start {scale}, until all up (1 run)", "ms"),
        Figure("scale_restart", f"scale: restart all {scale}, until all have new pids", "ms"),
        Figure(
            "jobs",
            "jobs: script jobs run by processors",
            "ms",
            shoal_text="not measured: processors take no jobs yet",
            peer_text=("n/a (no jobs)", "n/a (no jobs)"),
        ),
        *locator_figures(),
    ]


@dataclass(frozen=True)
class Target:
    """One of the issue's targets: a ratio to a peer, or an absolute bound."""

    text: str
    key: str
    peer: str | None  # None: `bound` is absolute, in the figure's unit
    bound: float
    shoal: str = SHOAL
    higher_is_better: bool = False  # a rate: met when Shoal / peer >= bound


TARGETS = [
    Target("deploy+start ≤ 0.75x supervisord", "deploy_start", SUPERVISORD, 0.75),
    Target("crash → new pid, first crash ≤ 1.0x supervisord", "crash_pid", SUPERVISORD, 1.0),
    Target("stop ≤ 1.5x IceGrid (until all gone)", "stop_all", ICEGRID, 1.5),
    Target("undeploy ≤ 1.5x IceGrid (until servers gone)", "undeploy_servers", ICEGRID, 1.5),
    Target(
        "admin state calls/s ≥ 1.0x supervisord",
        "state_calls",
        SUPERVISORD,
        1.0,
        higher_is_better=True,
    ),
    Target("CLI ≤ 0.6x supervisorctl", "cli", SUPERVISORD, 0.6),
    Target("memory with N ≤ 1.2x supervisord (master RSS)", "rss", SUPERVISORD, 1.2),
    Target("idle node < 1% of a core", "idle_cpu", None, 1.0),
    Target(
        "locator lookups/s, 1 client ≥ 0.5x IceGrid",
        "locator_rate_1",
        ICEGRID,
        0.5,
        higher_is_better=True,
    ),
]


@dataclass
class Results:
    n: int
    repeats: int
    idle_window: float
    mode: str
    scale: int = SCALE_SERVERS
    samples: dict[tuple[str, str], Samples] = field(default_factory=lambda: defaultdict(Samples))
    #: (figure key, column) -> why it was not measured: printed in the cell instead of a value.
    not_measured: dict[tuple[str, str], str] = field(default_factory=dict)
    #: (figure key, column) -> a qualifier printed after the value (e.g. a different N); the
    #: cell is then not compared (no ratio).
    cell_notes: dict[tuple[str, str], str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, key: str, column: str, *values: float) -> None:
        for value in values:
            self.samples[key, column].add(value)

    def get(self, key: str, column: str) -> Samples | None:
        found = self.samples.get((key, column))
        return found if found else None

    def ratio(self, key: str, shoal: str, peer: str) -> float | None:
        if (key, shoal) in self.cell_notes or (key, peer) in self.cell_notes:
            return None  # not like for like
        mine, theirs = self.get(key, shoal), self.get(key, peer)
        if mine is None or theirs is None or theirs.median == 0:
            return None
        return mine.median / theirs.median


def _scaled(value: float, unit: str) -> float:
    return value * 1000 if unit == "ms" else value


def _number(value: float, unit: str) -> str:
    value = _scaled(value, unit)
    if unit == "%":
        return f"{value:.3f}"
    if unit == "/s":
        return f"{value:.0f}"
    return f"{value:.1f}" if abs(value) < 100 else f"{value:.0f}"


def cell(results: Results, figure: Figure, column: str) -> str:
    if column in results.skipped:
        return f"skipped: {results.skipped[column]}"
    samples = results.get(figure.key, column)
    if samples is None:
        return results.not_measured.get((figure.key, column), "—")
    text = f"{_number(samples.median, figure.unit)} {figure.unit}"
    if len(samples.values) > 1:
        text += f" ({_number(samples.low, figure.unit)}–{_number(samples.high, figure.unit)})"
    if (figure.key, column) in results.cell_notes:
        text += f" [{results.cell_notes[figure.key, column]}]"
    return text


def _ratio_cell(results: Results, figure: Figure, peer: str) -> str:
    if not figure.peers or figure.peer_text is not None:
        return ""
    if peer in results.skipped:
        return "skipped"
    ratio = results.ratio(figure.key, figure.shoal, peer)
    return "—" if ratio is None else f"{ratio:.2f}x"


def table_rows(results: Results) -> list[list[str]]:
    header = ["figure", "Shoal", "IceGrid", "supervisord", "Shoal/supervisord", "Shoal/IceGrid"]
    rows = [header]
    for figure in figures(results.n, results.idle_window, results.scale):
        peer_cells = [cell(results, figure, p) if figure.peers else "" for p in PEERS]
        if figure.peer_text is not None:
            peer_cells = list(figure.peer_text)
        shoal_cell = figure.shoal_text or cell(results, figure, figure.shoal)
        rows.append(
            [
                figure.label,
                shoal_cell,
                *peer_cells,
                _ratio_cell(results, figure, SUPERVISORD),
                _ratio_cell(results, figure, ICEGRID),
            ]
        )
    return rows


def target_lines(results: Results) -> list[tuple[str, str]]:
    lines = []
    unit = {f.key: f.unit for f in figures(results.n, results.idle_window, results.scale)}
    for target in TARGETS:
        mine = results.get(target.key, target.shoal)
        if target.peer is None:
            if mine is None:
                lines.append((target.text, "not measured"))
                continue
            verdict = "met" if mine.median < target.bound else "MISSED"
            lines.append((target.text, f"{verdict}: {_number(mine.median, unit[target.key])} %"))
            continue
        if target.peer in results.skipped:
            lines.append((target.text, f"not measured ({target.peer} skipped)"))
            continue
        ratio = results.ratio(target.key, target.shoal, target.peer)
        if ratio is None:
            lines.append((target.text, "not measured"))
            continue
        met = ratio >= target.bound if target.higher_is_better else ratio <= target.bound
        lines.append((target.text, f"{'met' if met else 'MISSED'}: {ratio:.2f}x"))
    return lines


def missed_targets(results: Results) -> list[str]:
    """The targets measured and missed (run.py --strict fails on them)."""
    return [text for text, verdict in target_lines(results) if verdict.startswith("MISSED")]


def markdown_table(rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    out += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(out)


def text_table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def machine() -> dict[str, object]:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": f"{platform.python_version()} ({sys.executable})",
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "shoal_commit": _git_state(),
    }


def _git_state() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = [line for line in git("status", "--porcelain", "--", "src").splitlines() if line]
    return f"{commit} + {len(changed)} uncommitted file(s) under src/" if changed else commit


def render_markdown(results: Results, info: dict[str, object]) -> str:
    lines = [
        f"# Benchmark results ({results.mode})",
        "",
        f"N = {results.n} servers (`sleep 1000`), {results.repeats} runs each; median "
        "(min–max). Ratios are of medians. Produced by `make bench` (docs/performance.md).",
        "",
        "| machine | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in info.items()),
        *(f"| {k} | {v} |" for k, v in results.versions.items()),
        "",
        markdown_table(table_rows(results)),
        "",
        "## Targets (issue: benchmarks side by side)",
        "",
        *(f"- {text}: **{verdict}**" for text, verdict in target_lines(results)),
    ]
    if results.skipped:
        lines += ["", "## Skipped", ""]
        lines += [f"- {peer}: {why}" for peer, why in results.skipped.items()]
    if results.errors:
        lines += ["", "## Errors", ""] + [f"- {e}" for e in results.errors]
    lines += ["", "## How each peer was driven", ""] + [f"- {note}" for note in results.notes]
    return "\n".join(lines) + "\n"


def as_json(results: Results, info: dict[str, object]) -> dict[str, object]:
    columns = (SHOAL, ICEGRID, SUPERVISORD)
    out_figures = []
    for figure in figures(results.n, results.idle_window, results.scale):
        values = {}
        for column in columns:
            samples = results.get(figure.key, column)
            if samples is not None:
                values[column] = {
                    "median": samples.median,
                    "min": samples.low,
                    "max": samples.high,
                    "samples": samples.values,
                }
        out_figures.append(
            {
                "key": figure.key,
                "label": figure.label,
                "unit": "s" if figure.unit == "ms" else figure.unit,
                "shoal_column": figure.shoal,
                "values": values,
                "ratio_shoal_supervisord": results.ratio(figure.key, figure.shoal, SUPERVISORD),
                "ratio_shoal_icegrid": results.ratio(figure.key, figure.shoal, ICEGRID),
                **_unmeasured_json(results, figure),
            }
        )
    return {
        "mode": results.mode,
        "n": results.n,
        "repeats": results.repeats,
        "idle_window_s": results.idle_window,
        "scale_servers": results.scale,
        "machine": info,
        "versions": results.versions,
        "figures": out_figures,
        "targets": dict(target_lines(results)),
        "skipped": results.skipped,
        "errors": results.errors,
        "notes": results.notes,
    }


def _unmeasured_json(results: Results, figure: Figure) -> dict[str, dict[str, str]]:
    """The cells of a figure that hold a reason or a qualifier instead of a bare value."""
    reasons = {c: why for (k, c), why in results.not_measured.items() if k == figure.key}
    if figure.shoal_text is not None:
        reasons[figure.shoal] = figure.shoal_text
    notes = {c: note for (k, c), note in results.cell_notes.items() if k == figure.key}
    out = {}
    if reasons:
        out["not_measured"] = reasons
    if notes:
        out["cell_notes"] = notes
    return out


def write(results: Results, info: dict[str, object], out_dir: Path) -> str:
    """Write latest.md/json (and a copy named after the mode); return the text table."""
    out_dir.mkdir(parents=True, exist_ok=True)
    markdown = render_markdown(results, info)
    payload = json.dumps(as_json(results, info), indent=2, ensure_ascii=False) + "\n"
    for stem in ("latest", results.mode):
        (out_dir / f"{stem}.md").write_text(markdown)
        (out_dir / f"{stem}.json").write_text(payload)
    table = text_table(table_rows(results))
    targets = "\n".join(f"  {text}: {verdict}" for text, verdict in target_lines(results))
    return f"{table}\n\nTargets:\n{targets}\n"
