"""Every measured figure of the README traces to the row of the results file or card it reports.

- **Generated tables.** Each table of measurements is printed by a function of `benchmarks/tables.py`
  (or `benchmarks/formats.py`) from its results file; the README's table must be that table: the
  same header, and every row, found by its key (the first cell, or the artifact and format), equal
  to the generated row, cell by cell. A figure typed by hand, a stale one or two swapped rows fail,
  naming the row and the cell.
- **The artifact table** (`| artifact | data, model | held-out result | ...`): each row's figures
  in bold are its own card's metrics, in a fixed order, at the precision shown; its other figures
  are in its own card; the DCGAN's reference points are `dcgan_references.json`'s; a target said
  to be "met" is met by the card; the formats column names the files the card lists.
- **Prose.** A figure in a paragraph that looks measured (a decimal, a percentage, a ratio `1.99x`,
  thousands separated `416,725`) is in the results file or card the paragraph names (or the last
  one named before it in its section), at the precision shown. `saved_models/ holds N MB` is the
  shipped folder's size.

Every table of the README is either generated (`GENERATED`), the artifact table, or listed in
`NOT_MEASURED` (the catalogue, the argument vocabulary): a new table of figures fails until it has a
generator. To update a figure, re-run its benchmark and paste the table `benchmarks/tables.py` prints.
"""
from __future__ import annotations

import bisect
import importlib.util
import json
import re
import sys
from decimal import Decimal
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RESULTS = ROOT / "benchmarks" / "results"


def _script(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _results(name):
    return json.loads((RESULTS / name).read_text())


# === The README's tables ===

def readme_tables() -> list[tuple[int, list[str], list[tuple[int, list[str]]]]]:
    """`(line of the header, header cells, [(line, cells) of each body row])` of every Markdown table."""
    tables, current = [], None
    for number, line in enumerate(README.read_text().splitlines(), start=1):
        if not line.startswith("|"):
            current = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if current is None:
            current = (number, cells, [])
            tables.append(current)
        elif not re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", line.strip()):
            current[2].append((number, cells))
    return tables


def _parse(markdown: str) -> tuple[list[str], list[list[str]]]:
    lines = [ln for ln in markdown.splitlines() if ln.startswith("|")]
    rows = [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in lines]
    return rows[0], rows[2:]


def _generated() -> dict[str, str]:
    """A header (its cells) -> the Markdown table its generator prints from the results files."""
    tables, formats = _script("tables"), _script("formats")
    speed = _results("speed.json")
    lenet, imdb = speed["training"]
    serving_full, serving_short = tables.serving_tables(_results("serving.json"))
    w2v_speed, w2v_equal = tables.word2vec_tables(_results("word2vec_gensim.json"))
    out = [tables.training_table(lenet, f"LeNet-5, MNIST {lenet['train_samples'] // 1000}k x {lenet['epochs']} "
                                        "epochs", 128),
           tables.training_table(imdb, f"IMDB LSTM, {imdb['train_samples'] // 1000}k reviews x {imdb['epochs']} "
                                       "epochs", 64),
           tables.scaling_table(speed["scaling"]), tables.import_table(speed),
           tables.tuning_table(_results("tuning_workers.json")), w2v_speed, w2v_equal,
           formats.table(_results("formats.json")), tables.mirrors_table(_results("mirrors.json")),
           tables.time_to_accuracy_table(_results("time_to_accuracy.json")),
           tables.ablation_table(_results("time_to_accuracy_ablation.json"))]
    backends = _results("backends.json")
    out += [tables.backends_speed_table(backends), tables.backends_kernels_table(backends),
            tables.backends_parity_table(backends)]
    return {tuple(_parse(t)[0]): t for t in [*out, serving_full, serving_short]}


ARTIFACT_TABLE = "artifact"  # `| artifact | data, model | held-out result | reference / target | formats |`
NOT_MEASURED = {"model": "the catalogue (parameter counts: tests/test_models.py counts them)",
                "argument": "the builder argument vocabulary"}


KEY_COLUMNS = ("format", "`fast` with one card setting put back")  # with the first: one row per artifact and format,
                                                                    # per family and ablation


def _key(header: list[str], cells: list[str]) -> tuple[str, ...]:
    """A row's key: its first cell, and the cell of a `KEY_COLUMNS` column where the table has one."""
    return (cells[0], *(cells[header.index(column)] for column in KEY_COLUMNS if column in header))


def test_every_readme_table_is_generated_or_checked_here():
    tables = readme_tables()
    assert len(tables) >= 12, f"only {len(tables)} tables found: is the parser broken?"
    generated = _generated()
    for line, header, _ in tables:
        known = tuple(header) in generated or header[0] in NOT_MEASURED or header[:2] == [ARTIFACT_TABLE, "data, model"]
        similar = [list(h) for h in generated if h[0] == header[0]]
        assert known, (f"README.md:{line}: the table headed {header} has no generator in benchmarks/tables.py "
                       f"(nor is it listed as not measured): its figures would be unchecked. Generated headers "
                       f"starting the same: {similar}")


def test_generated_tables_equal_the_readme_row_by_row():
    generated, checked = _generated(), 0
    problems = []
    for line, header, rows in readme_tables():
        if tuple(header) not in generated:
            continue
        expected = {_key(header, cells): cells for cells in _parse(generated[tuple(header)])[1]}
        seen = set()
        for number, cells in rows:
            key = _key(header, cells)
            seen.add(key)
            if key not in expected:
                problems.append(f"README.md:{number}: row {key} is not in the generated table (keys {list(expected)})")
                continue
            for column, (got, want) in enumerate(zip(cells, expected[key])):
                if got != want:
                    problems.append(f"README.md:{number}: row {key}, column {header[column]!r}: {got!r}, "
                                    f"the results file gives {want!r}")
            checked += 1
        problems += [f"README.md:{line}: table {header[0]!r} lacks the generated row {key}"
                     for key in expected if key not in seen]
    assert checked >= 60, f"only {checked} rows compared: is the parser broken?"
    assert not problems, "\n".join(problems)


# === The artifact table ===

def _pct(decimals):
    return lambda v: f"{100 * v:.{decimals}f} %"


def _fixed(decimals):
    return lambda v: f"{v:.{decimals}f}"


# each row's bold figures, in order: (card metric, how the README writes it)
HEADLINES = {
    "lenet5.mnist": [("test_error", _pct(2)), ("test_perturbed_accuracy", _pct(2))],
    "dbn.mnist": [("test_error", _pct(2)), ("test_perturbed_accuracy", _pct(2))],
    "autoencoder.mnist": [("test_loss", _fixed(4))],
    "dcgan.mnist": [("test_lenet_fid", _fixed(2)), ("test_lenet_score", _fixed(2))],
    "word2vec.imdb": [("test_probe_accuracy", _pct(1))],
    "imdb_lstm.imdb": [("test_accuracy", _pct(2))],
    "imdb_gru.imdb": [("test_accuracy", _pct(2))],
    "imdb_rnn.imdb": [("test_accuracy", _pct(1))],
    "seq2seq_attention.dates": [("test_exact_match_unseen", _pct(2)), ("test_exact_match_seen", _pct(2)),
                                ("test_flag_precision", _fixed(3)), ("test_flag_recall", _fixed(3))],
}
FORMAT_NAMES = {"saved_model": "SavedModel", "litert": "LiteRT", "litert_int8": "LiteRT int8", "onnx": "ONNX"}
FIGURE = re.compile(r"(?<![\w.\-/])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(k\b|x\b|\s?%)?(?!\w|\.\d)")


def figures(text: str) -> list[tuple[str, Decimal, Decimal, str]]:
    """The figures of a text: `(as written, value, half a unit of its last digit, suffix)`."""
    out = []
    for m in FIGURE.finditer(text):
        whole, decimals, suffix = m.group(1).replace(",", ""), m.group(2) or "", (m.group(3) or "").strip()
        value = Decimal(whole + decimals)
        half = Decimal("0.5") / Decimal(10) ** max(len(decimals) - 1, 0)
        if suffix == "k":
            value, half = value * 1000, half * 1000
        out.append((m.group(0), value, half, suffix))
    return out


NOT_FIGURES = re.compile(r"load|machine|platform|version|sha256|files|uptime")  # what describes the run
IN_TEXT = re.compile(r"(?<![\w.\-])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(?![\w.])")


def recorded_values(node, *, machine: bool = False) -> list[float]:
    """Every number in a results file or card (keys and strings included), sorted; with `machine`,
    its description of the machine too (load averages: the prose cites them, the tables do not)."""
    values = []

    def walk(item):
        if isinstance(item, bool) or item is None:
            return
        if isinstance(item, (int, float)):
            values.append(float(item))
        elif isinstance(item, str):
            values.extend(float(v.replace(",", "")) for v in IN_TEXT.findall(item))
        elif isinstance(item, dict):
            for key, value in item.items():
                if not NOT_FIGURES.search(str(key)) or (machine and key not in ("files", "sha256")):
                    walk(key)
                    walk(value)
        elif isinstance(item, list):
            for value in item:
                walk(value)

    walk(node)
    return sorted(values)


def is_recorded(value: Decimal, half: Decimal, suffix: str, values: list[float]) -> bool:
    """Whether a recorded value rounds to `value` at the precision shown (a percentage may be a fraction)."""
    for target, tolerance in [(value, half)] + ([(value / 100, half / 100)] if suffix == "%" else []):
        slack = float(tolerance) * 1e-6
        low, high = float(target - tolerance) - slack, float(target + tolerance) + slack
        i = bisect.bisect_left(values, low)
        if i < len(values) and values[i] <= high:
            return True
    return False


def _card(name):
    return json.loads((ROOT / "saved_models" / name / "card.json").read_text())


def _artifact_rows():
    (table,) = [t for t in readme_tables() if t[1][:2] == [ARTIFACT_TABLE, "data, model"]]
    return table[1], table[2]


def test_the_artifact_table_has_one_row_per_shipped_artifact():
    _, rows = _artifact_rows()
    shipped = sorted(p.name for p in (ROOT / "saved_models").iterdir() if (p / "card.json").is_file())
    assert sorted(cells[0].strip("`") for _, cells in rows) == shipped == sorted(HEADLINES)


def test_artifact_rows_state_their_own_cards_metrics():
    header, rows = _artifact_rows()
    problems = []
    for line, cells in rows:
        name = cells[0].strip("`")
        card = _card(name)
        result = cells[header.index("held-out result")]
        bold = re.findall(r"\*\*([^*]+)\*\*", result)
        expected = [write(card["metrics"][key]) for key, write in HEADLINES[name]]
        if bold != expected:
            problems.append(f"README.md:{line}: {name}: bold figures {bold}, its card gives {expected}")
        values = recorded_values(card)
        for column in ("data, model", "held-out result"):
            for written, value, half, suffix in figures(re.sub(r"\*\*[^*]+\*\*", "", cells[header.index(column)])):
                if MEASURED.search(written) and not is_recorded(value, half, suffix, values):
                    problems.append(f"README.md:{line}: {name}, {column}: {written!r} is not in its card")
        shipped = [FORMAT_NAMES[f] for f, entry in card["formats"].items() if "unsupported" not in entry]
        said = cells[header.index("formats")]
        listed = re.split(r"[,;(]", said)[0:len(shipped)]
        if [s.strip() for s in listed] != shipped:
            problems.append(f"README.md:{line}: {name}: formats {said!r}, its card ships {shipped}")
    assert not problems, "\n".join(problems)


def test_targets_said_to_be_met_are_met_by_the_cards():
    targets = _script("retrain_artifacts").TARGETS
    header, rows = _artifact_rows()
    met = 0
    for line, cells in rows:
        name, reference = cells[0].strip("`"), cells[header.index("reference / target")]
        if "met" not in reference.split():
            continue
        metric, target, better, _ = targets[name]
        value = _card(name)["metrics"][metric]
        assert (value <= target if better == "lower" else value >= target), (line, name, metric, value, target)
        met += 1
    assert met >= 6


def test_dcgan_reference_points_come_from_their_results_file():
    header, rows = _artifact_rows()
    (cells,) = [c for _, c in rows if c[0] == "`dcgan.mnist`"]
    reference = cells[header.index("reference / target")]
    assert "dcgan_references.json" in reference
    values = recorded_values(_results("dcgan_references.json"))
    shown = [f for f in figures(reference.replace("dcgan_references.json", "")) if f[1] != 10000]
    assert len(shown) == 4, shown
    for written, value, half, suffix in shown:
        assert is_recorded(value, half, suffix, values), written


# === Prose ===

SOURCE = re.compile(r"saved_models/[\w.]+/card\.json|\b\w+(?:\.\w+)*\.json\b|`([a-z0-9_]+\.[a-z0-9_]+)` card|"
                    r"benchmarks/(\w+)\.py")
MEASURED = re.compile(r"\d\.\d|\d\s?%|\d\.?\d*x$")  # decimals, percentages, ratios (not counts, not settings)
RATE = re.compile(r"(\d{1,3}(?:,\d{3})+) (?:words|samples|trials)/s")  # rates are measured too: 416,725 words/s


def _sources(text: str) -> list[str]:
    """The results files and cards a paragraph names: `NAME.json` of benchmarks/results/, a card by its
    path, or "the `ARTIFACT` card"."""
    named = []
    for m in SOURCE.finditer(text):
        name = m.group(1) or (f"{m.group(2)}.json" if m.group(2) else m.group(0))
        if (RESULTS / name).is_file() or name.startswith("saved_models/") or m.group(1):
            named.append(name)
    return named


def _source_values(name: str) -> list[float]:
    """Every number of a results file or card, its description of the machine included (prose cites loads)."""
    if name.endswith("card.json") or not name.endswith(".json"):
        artifact = name.split("/")[1] if name.startswith("saved_models/") else name
        node = _card(artifact)
    else:
        node = _results(name)
    return recorded_values(node, machine=True)


def prose_paragraphs():
    """`(line, section, text)` of the README's paragraphs outside code blocks and tables."""
    out, section, block, in_code, start = [], None, [], False, 0
    for number, line in enumerate(README.read_text().splitlines() + [""], start=1):
        if line.startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        if line.startswith("#") or not line.strip() or line.startswith("|") or line.startswith("<!--"):
            if block:
                out.append((start, section, " ".join(block)))
                block = []
            if line.startswith("## "):
                section = line[3:].strip()
            continue
        if not block:
            start = number
        block.append(line)
    return out


PROSE_SECTIONS = ("Performance", "Pretrained weights, training, transfer", "Deployment: SavedModel, LiteRT, ONNX",
                  "Hyperparameter search")


def test_measured_figures_in_the_prose_come_from_the_file_each_paragraph_names():
    problems, count, earlier = [], 0, {}
    for line, section, text in prose_paragraphs():
        if section not in PROSE_SECTIONS:
            continue
        named = _sources(text)
        files = list(dict.fromkeys(named + earlier.get(section, [])))  # its own, then those named before it
        earlier[section] = files
        rates = {m.group(1) for m in RATE.finditer(text)}
        text = re.sub(r"`saved_models/` holds [\d.]+ MB", "", text)  # test_saved_models_size_is_measured
        for written, value, half, suffix in figures(text):
            if not (MEASURED.search(written) or written in rates):
                continue  # a setting or a count (4 epochs, 2 cores, batch 64, 25,000 reviews), not a measurement
            count += 1
            if not files:
                problems.append(f"README.md:{line}: {written!r}: no results file or card is named before it")
            elif not any(is_recorded(value, half, suffix, _source_values(f)) for f in files):
                problems.append(f"README.md:{line}: {written!r} is in none of {files}")
    assert count > 60, f"only {count} prose figures found: is the parser broken?"
    assert not problems, "\n".join(problems)


def test_saved_models_size_is_measured():
    said = re.search(r"`saved_models/` holds ([\d.]+) MB", README.read_text())
    assert said, "README: `saved_models/` holds N MB (measured)"
    size = sum(p.stat().st_size for p in (ROOT / "saved_models").rglob("*") if p.is_file()
               and "__pycache__" not in p.parts) / 1e6
    (written, value, half, _), = figures(said.group(1))
    assert abs(Decimal(str(size)) - value) <= half, (written, size)


# === The checks themselves ===

def test_figures_parse_as_written():
    got = figures("8,410 | **0.49x** | 84.1 % | 60k x 4 epochs | LeNet-5 | int8 | 0.9880")
    assert [(w, str(v), str(h), s) for w, v, h, s in got] == [
        ("8,410", "8410", "0.5", ""), ("0.49x", "0.49", "0.005", "x"), ("84.1 %", "84.1", "0.05", "%"),
        ("60k", "60000", "500.0", "k"), ("4", "4", "0.5", ""), ("0.9880", "0.9880", "0.00005", "")]


def test_figures_half_unit_precision():
    values = sorted([8410.1, 0.988, 0.8443, 389.7])
    assert is_recorded(*figures("8,410")[0][1:], values)
    assert is_recorded(*figures("84.4 %")[0][1:], values)
    assert not is_recorded(*figures("8,420")[0][1:], values)
    assert not is_recorded(*figures("84.5 %")[0][1:], values)


def test_swapped_rows_and_a_changed_figure_are_caught(monkeypatch, tmp_path):
    """The row check itself: a README whose two IMDB rows have each other's figures (keys kept), or with
    one figure changed, fails naming the row."""
    text = README.read_text()
    a, b = ([ln for ln in text.splitlines() if ln.startswith(f"| `{name}` |") and "| saved_model |" in ln][0]
            for name in ("imdb_lstm.imdb", "imdb_rnn.imdb"))
    key_a, rest_a = a.split("|", 2)[1:]
    key_b, rest_b = b.split("|", 2)[1:]
    swapped = text.replace(a, "@@").replace(b, f"|{key_b}|{rest_a}").replace("@@", f"|{key_a}|{rest_b}")
    for mutated in (swapped, text.replace("| 0.8538 |", "| 0.8583 |", 1)):
        assert mutated != text
        (tmp_path / "README.md").write_text(mutated)
        monkeypatch.setattr(sys.modules[__name__], "README", tmp_path / "README.md")
        with pytest.raises(AssertionError, match=r"row \("):
            test_generated_tables_equal_the_readme_row_by_row()
