"""The README's measured figures come from committed results: every number in the body of a table of its
`## Performance` section (and the serving table of the Deployment section) appears, once formatting
is normalised, in the results file that the prose before the table names: the last
`benchmarks/results/NAME.json` (or `NAME.json`, or `saved_models/ARTIFACT/card.json`) mentioned above
the table, a file a script in `benchmarks/` wrote (or a shipped artifact's card). The machine's
description in those files (load averages, platform, versions) is not a source of table figures.

Normalising: thousands separators go ("8,410" is 8410), a trailing "x" goes, "60k" is 60,000 to the
nearest thousand, "84.1 %" may also be the fraction 0.841, and a figure matches a recorded value that
rounds to it at the precision shown ("0.9880" matches 0.988, "390" matches 389.7). Numbers glued to a
name ("LeNet-5", "WordSim-353", "int8", "p99") are names, not figures.

A figure typed by hand, or edited after its run, fails here; regenerate the results file with its
script and copy the figure from it instead.
"""
from __future__ import annotations

import bisect
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

FIGURE = re.compile(r"(?<![\w.\-])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(k\b|x\b|\s?%)?(?![\w.])")
IN_TEXT = re.compile(r"(?<![\w.\-])\d+(?:\.\d+)?(?![\w.])")  # numbers inside recorded strings ("batch 128")


def figures(cell: str) -> list[tuple[str, Decimal, Decimal, str]]:
    """The figures of a table cell: `(as written, value, half a unit of its last digit, suffix)`."""
    out = []
    for m in FIGURE.finditer(cell):
        whole, decimals, suffix = m.group(1).replace(",", ""), m.group(2) or "", (m.group(3) or "").strip()
        value = Decimal(whole + decimals)
        half = Decimal("0.5") / Decimal(10) ** max(len(decimals) - 1, 0)  # half a unit of the last digit shown
        if suffix == "k":
            value, half = value * 1000, half * 1000
        out.append((m.group(0), value, half, suffix))
    return out


SOURCE = re.compile(r"saved_models/[\w.]+/card\.json|\b\w+\.json\b")
NOT_FIGURES = re.compile(r"load|machine|platform|version|sha256|files|uptime")  # keys that describe the run


def tables(lines: list[tuple[int, str]]) -> list[tuple[str | None, list[tuple[int, str]]]]:
    """Every Markdown table in `lines`: `(the results file named last before it, [(line number, cell)])`
    for the cells of its body rows (header and separator rows left out)."""
    found, source, current = [], None, None
    for number, line in lines:
        if line.startswith("|"):
            if current is None:  # the header row names the columns (settings such as "batch 64"): not checked
                current = []
                found.append((source, current))
            elif not re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", line.strip()):
                current += [(number, cell.strip()) for cell in line.strip().strip("|").split("|")]
            continue
        current = None
        names = SOURCE.findall(line)
        source = names[-1] if names else source
    return found


def checked_tables() -> list[list[tuple[str | None, list[tuple[int, str]]]]]:
    """The README's checked tables, per region: every table of the Performance section, and any other
    table whose header starts `| serving ` (the Deployment section's copy of the serving figures), its
    source read from the start of its section."""
    lines = list(enumerate(README.read_text().splitlines(), start=1))
    heads = [i for i, (_, line) in enumerate(lines) if line.startswith("## ")] + [len(lines)]
    start = next(i for i, (_, line) in enumerate(lines) if line.strip() == "## Performance")
    end = next(h for h in heads if h > start)
    regions = [tables(lines[start:end])]
    for i, (_, line) in enumerate(lines):
        if line.startswith("| serving ") and not start <= i < end:
            j = i
            while j < len(lines) and lines[j][1].startswith("|"):
                j += 1
            regions.append(tables(lines[max(h for h in heads if h <= i):j])[-1:])  # the serving table only
    return regions


def source_path(name: str) -> Path:
    return ROOT / name if name.startswith("saved_models/") else ROOT / "benchmarks" / "results" / Path(name).name


def recorded_values(path: Path) -> list[float]:
    """Every number in one results file or card (keys and strings included), sorted."""
    values = []

    def walk(node):
        if isinstance(node, bool) or node is None:
            return
        if isinstance(node, (int, float)):
            values.append(float(node))
        elif isinstance(node, str):
            values.extend(float(v) for v in IN_TEXT.findall(node))
        elif isinstance(node, dict):
            for key, item in node.items():
                if not NOT_FIGURES.search(str(key)):
                    walk(key)
                    walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(path.read_text()))
    return sorted(values)


def is_recorded(value: Decimal, half: Decimal, suffix: str, values: list[float]) -> bool:
    """Whether some recorded value rounds to `value` at the precision shown (a percentage may be a fraction)."""
    readings = [(value, half)] + ([(value / 100, half / 100)] if suffix == "%" else [])
    for target, tolerance in readings:
        slack = float(tolerance) * 1e-6  # float representation only
        low, high = float(target - tolerance) - slack, float(target + tolerance) + slack
        i = bisect.bisect_left(values, low)
        if i < len(values) and values[i] <= high:
            return True
    return False


def test_figures_parse_as_written():
    """The normaliser reads what the tables write (so the main test cannot pass by reading nothing)."""
    got = figures("8,410 | **0.49x** | 84.1 % | 60k x 4 epochs | LeNet-5 | int8 | 0.9880")
    assert [(w, str(v), str(h), s) for w, v, h, s in got] == [
        ("8,410", "8410", "0.5", ""), ("0.49x", "0.49", "0.005", "x"), ("84.1 %", "84.1", "0.05", "%"),
        ("60k", "60000", "500.0", "k"), ("4", "4", "0.5", ""), ("0.9880", "0.9880", "0.00005", "")]


def test_figures_half_unit_precision():
    values = sorted([8410.1, 0.988, 0.8443, 389.7])
    assert is_recorded(*figures("8,410")[0][1:], values)
    assert is_recorded(*figures("0.9880")[0][1:], values)
    assert is_recorded(*figures("84.4 %")[0][1:], values)
    assert is_recorded(*figures("390")[0][1:], values)
    assert not is_recorded(*figures("8,420")[0][1:], values)
    assert not is_recorded(*figures("0.9870")[0][1:], values)
    assert not is_recorded(*figures("84.5 %")[0][1:], values)


def test_readme_figures_come_from_results_files():
    checked = [table for region in checked_tables() for table in region]
    assert len(checked) >= 6, f"only {len(checked)} tables found in the Performance section: is the parser broken?"
    missing, count = [], 0
    for source, cells in checked:
        first = cells[0][0]
        assert source, f"README.md:{first}: no results file (NAME.json) is named before this table"
        path = source_path(source)
        assert path.is_file(), f"README.md:{first}: the table's results file {source} does not exist ({path})"
        values = recorded_values(path)
        for line, cell in cells:
            for written, value, half, suffix in figures(cell):
                count += 1
                if not is_recorded(value, half, suffix, values):
                    missing.append(f"README.md:{line}: {written!r} (cell {cell!r}) is not in {source}")
    assert count > 100, f"only {count} figures found in the Performance tables: is the parser broken?"
    if missing:
        pytest.fail("README figures that their table's results file does not hold (copy them from the file "
                    "a benchmark script wrote, or name the right file before the table):\n" + "\n".join(missing))
