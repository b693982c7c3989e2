"""`kerazoo predict NAME PATH...` / `kerazoo.predict`: a model's answers on the user's files.

Inputs are files, folders (walked recursively, sorted), a column of a CSV/TSV table, or `-` for lines
of text on standard input. Each is read as the model takes it (images by
`kerazoo.data.folders.read_image`, exactly as fine-tuning read the training folder; text files
decoded strictly in `encoding`), in batches, with a progress bar on stderr for long inputs. A file
that cannot be read (not an image, not valid text, missing) is listed with the reason and skipped,
never a traceback; the rest are answered.

What an answer is depends on the task (each has an answer per input):

- image and text classification: the `top` classes with their probabilities (class names from the
  artifact's card);
- translation (`seq2seq_attention.dates`): the decoded text, whether it is valid, its confidence;
- word embedding (`word2vec.imdb`): the `top` nearest words with their cosine similarity, and the vector;
- reconstruction (autoencoders): the mean squared error of the reconstruction (pixels scaled to 0-1).

    >>> answers = kerazoo.predict("lenet5.myletters", ["new/", "scan.jpg"], top=2)
    >>> answers.rows[0]
    {'input': 'new/x.png', 'answers': [('c', 0.93), ('a', 0.04)]}
    >>> answers.write("answers.csv")       # or .json
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from kerazoo.data import folders
from kerazoo.errors import DataError, KerazooError

__all__ = ["predict", "Predictions", "ANSWERED_TASKS"]

ANSWERED_TASKS = {"image-classification": "probability", "text-classification": "probability",
                  "translation": "confidence", "word-embedding": "similarity", "reconstruction": "error"}
PROGRESS_AFTER = 2  # batches: longer inputs get a progress bar


@dataclasses.dataclass
class Predictions:
    """The answers of `kerazoo.predict`: one row per input that was read, and the inputs skipped."""

    model: str
    task: str
    score: str                                  # what the numbers are: probability, similarity, confidence, error
    rows: list = dataclasses.field(default_factory=list)     # {"input", "answers": [(label, score)], ...}
    skipped: list = dataclasses.field(default_factory=list)  # (input, why)

    def table(self) -> str:
        """The answers as an aligned text table (what `kerazoo predict` prints)."""
        top = max((len(r["answers"]) for r in self.rows), default=1)
        header = ["input"] + [f"{'answer' if top == 1 else f'#{i + 1}'} ({self.score})" for i in range(top)]
        lines = [header] + [[_short(r["input"])] + [f"{label or '<' + str(r.get('flag')) + '>'} ({_number(score)})"
                                                    for label, score in r["answers"]] for r in self.rows]
        widths = [max(len(line[i]) for line in lines if i < len(line)) for i in range(len(header))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines)

    def records(self) -> list[dict]:
        """One flat dict per input: input, label, score (the best answer), then label_2, score_2, ..."""
        out = []
        for row in self.rows:
            record = {"input": row["input"]}
            for i, (label, score) in enumerate(row["answers"]):
                suffix = "" if i == 0 else f"_{i + 1}"
                record[f"label{suffix}"], record[f"{self.score}{suffix}"] = label, score
            record.update({k: v for k, v in row.items() if k not in ("input", "answers", "vector")})
            out.append(record)
        return out

    def write(self, path) -> Path:
        """Writes the answers as CSV (`.csv`, `.tsv`: one row per input, as `records`) or JSON (`.json`:
        every answer, the skipped inputs and why)."""
        path = Path(path).expanduser()
        suffix = path.suffix.lower()
        if suffix == ".json":
            rows = [{**r, "answers": [{"label": label, self.score: s} for label, s in r["answers"]]} for r in self.rows]
            path.write_text(json.dumps({"model": self.model, "task": self.task, "answers": rows,
                                        "skipped": [{"input": i, "why": w} for i, w in self.skipped]}, indent=1,
                                       default=_plain))
        elif suffix in (".csv", ".tsv"):
            records = self.records()
            columns = list(dict.fromkeys(k for r in records for k in r)) or ["input"]
            with open(path, "w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, columns, delimiter="," if suffix == ".csv" else "\t")
                writer.writeheader()
                writer.writerows(records)
        else:
            raise DataError(f"--output {path}: answers are written as .csv, .tsv or .json; received {suffix or 'no'} "
                            "suffix")
        return path


def _short(text: str, width: int = 60) -> str:
    """A text input on one line, cut at `width` characters (paths are shown whole)."""
    text = str(text)
    if not any(c.isspace() for c in text):
        return text
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 3] + "..."


def _number(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _plain(value):
    return value.tolist() if isinstance(value, np.ndarray) else float(value) if isinstance(value, np.generic) \
        else str(value)


# === Inputs ===

@dataclasses.dataclass
class _Item:
    origin: str         # what the user sees: a path, "stdin line 3", "table.csv line 4"
    value: Any = None   # a path (images), a string (texts)


def _is_table(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in folders.TABLE_FORMATS


def gather(paths: Sequence, *, kind: str, column: str | None = None, encoding: str = "utf-8",
           stdin=None) -> tuple[list[_Item], list]:
    """`(items to answer, skipped (origin, why))` from files, folders, tables and `-`.

    Args:
      kind: "image" (items are paths), "document" (a text file is one input) or "lines" (every line of
        a text file is one input: words, dates).
    """
    items, skipped = [], []
    wanted = folders.IMAGE_FORMATS if kind == "image" else folders.TEXT_FORMATS
    for given in paths:
        if str(given) == "-":
            text = (stdin or sys.stdin).read()
            items += [_Item(line, line) for line in text.splitlines() if line.strip()]  # shown as they are
            continue
        path = Path(given).expanduser()
        if path.is_dir():
            for folder, dirs, files in sorted(os.walk(path)):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(f for f in files if not f.startswith(".")):
                    file = Path(folder) / name
                    if file.suffix.lower() in wanted:
                        items += _file_items(file, kind, encoding, skipped)
                    else:
                        skipped.append((str(file), f"not {'an image' if kind == 'image' else 'a text file'} "
                                                   f"({' '.join(wanted)})"))
        elif _is_table(path):
            items += _table_items(path, kind, column, encoding)
        elif path.is_file():
            items += _file_items(path, kind, encoding, skipped)
        else:
            skipped.append((str(path), "no such file or folder"))
    return items, skipped


def _file_items(path: Path, kind: str, encoding: str, skipped: list) -> list[_Item]:
    if kind == "image":
        return [_Item(str(path), path)]
    try:
        text = folders.read_text(path, encoding=encoding)
    except (DataError, OSError) as e:
        skipped.append((str(path), str(e).removeprefix(f"{path} ").removeprefix(f"{path}: ")))
        return []
    if kind == "document":
        return [_Item(str(path), text)]
    return [_Item(line, line) for line in text.splitlines() if line.strip()]


def _table_items(path: Path, kind: str, column: str | None, encoding: str) -> list[_Item]:
    """A table's column: texts, or (image models) image paths relative to the table's folder."""
    raw = folders.read_text(path, encoding=encoding)
    reader = csv.DictReader(io.StringIO(raw, newline=""), delimiter=folders.TABLE_FORMATS[path.suffix.lower()])
    columns = reader.fieldnames or []
    default = "path" if kind == "image" else "text"
    chosen = column or (default if default in columns or len(columns) != 1 else columns[0])
    if chosen not in columns:
        raise DataError(f"{path}: no column {chosen!r} in the header row (columns: "
                        f"{', '.join(map(repr, columns)) or 'none, the file is empty'}); name it with --column")
    items, line = [], 2
    try:
        for row in reader:
            value = row.get(chosen)
            if value is not None:
                origin = f"{path} line {line}"
                items.append(_Item(origin, path.parent / value.strip() if kind == "image" else value))
            line = reader.line_num + 1
    except csv.Error as e:
        raise DataError(f"{path} line {reader.line_num}: {e}") from None
    return items


# === Answers per task ===

def _task_of(model, name: str | None) -> str:
    if name is not None:
        from kerazoo.registry import load_config

        return load_config(name.split(".")[0]).task
    if hasattr(model, "translate"):
        return "translation"
    if hasattr(model, "word_vectors"):
        return "word-embedding"
    from kerazoo.preprocessing import is_image_model, is_text_model

    if is_text_model(model):
        return "text-classification"
    if is_image_model(model):
        return "reconstruction" if tuple(model.output_shape[1:]) == tuple(model.inputs[0].shape[1:]) \
            else "image-classification"
    raise DataError(f"model {model.name!r}: no answer per input is defined for it (kerazoo.predict answers "
                    f"{', '.join(ANSWERED_TASKS)} models)")


def _answer(model, task: str, batch: list, top: int) -> list[dict]:
    """The rows of one batch of read inputs."""
    if task in ("image-classification", "text-classification"):
        x = np.stack(batch) if task == "image-classification" else np.array(batch, dtype=object)
        from kerazoo.preprocessing import top_k

        outputs = model.predict(x, verbose=0, batch_size=len(batch))
        return [{"answers": answers} for answers in top_k(outputs, getattr(model, "class_names", None), top)]
    if task == "reconstruction":
        x = np.stack(batch)
        out = np.asarray(model.predict(x, verbose=0, batch_size=len(batch)), dtype="float64")
        error = np.mean((out.reshape(len(x), -1) - x.reshape(len(x), -1) / 255.0) ** 2, axis=1)
        return [{"answers": [("mse", float(e))]} for e in error]
    if task == "translation":
        return [{"answers": [(t.text, float(t.confidence))], "valid": bool(t.valid), "flag": t.flag}
                for t in model.translate(list(batch))]
    raise AssertionError(task)  # pragma: no cover


class _Progress:
    """`predicting: 640/1000 inputs [======>    ] 12 s` on stderr (redrawn on a terminal, else every 10 %)."""

    def __init__(self, total: int, enabled: bool, stream=None):
        self.total, self.enabled, self.stream = total, enabled and total > 0, stream or sys.stderr
        self.started, self.shown = time.time(), -1

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        tty = getattr(self.stream, "isatty", lambda: False)()
        tenth = done * 10 // self.total
        if not tty and tenth == self.shown:
            return
        self.shown = tenth
        bar = "=" * (done * 30 // self.total)
        line = f"predicting: {done}/{self.total} inputs [{bar:<30}] {time.time() - self.started:.0f} s"
        self.stream.write(("\r" + line) if tty else line + "\n")
        if tty and done == self.total:
            self.stream.write("\n")
        self.stream.flush()


def predict(model, inputs: str | os.PathLike | Sequence, *, top: int = 5, column: str | None = None,
            encoding: str = "utf-8", batch_size: int = 64, progress: bool | None = None, weights=None,
            stdin=None) -> Predictions:
    """Answers of a model on files, folders, a table's column or lines of text (`-`: standard input).

    Args:
      model: an artifact name (`"lenet5.myletters"`), a model name with `weights=` (a tag, a `.keras`
        file or an artifact folder), or a model from `kerazoo.get`.
      inputs: a path or a list of them: image or text files, folders of them, `.csv`/`.tsv` tables
        (`column`: texts, or image paths relative to the table), `-` for standard input's lines.
        A text file is one input for classifiers, one input per line for dates and words.
      top: answers per input (classes, nearest words).
      column: the table column to read (default: `text`, `path` for image models, or the only column).
      encoding: of text files, tables and standard input's bytes.
      batch_size: inputs read and run at a time.
      progress: a progress bar on stderr (default: when there is more than `PROGRESS_AFTER` batches).

    Returns:
      `Predictions`: `rows` (one per input read: `input`, `answers` [(label, score)]), `skipped`
      [(input, why)], and `table()`, `records()`, `write(path)`.
    """
    from kerazoo.loading import get

    if not isinstance(top, int) or isinstance(top, bool) or top < 1:
        raise DataError(f"top must be a positive integer; received {top!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise DataError(f"batch_size must be a positive integer; received {batch_size!r}")
    name = model if isinstance(model, str) else None
    if name is not None:
        task = _task_of(None, name)
        if task not in ANSWERED_TASKS:
            raise DataError(f"{name} is a model for {task}: it has no answer per input (kerazoo predict answers "
                            f"{', '.join(ANSWERED_TASKS)} models)")
        model = get(name, weights=weights)
    else:
        task = _task_of(model, None)
    kind = "image" if task in ("image-classification", "reconstruction") else \
        "document" if task == "text-classification" else "lines"
    inputs = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    items, skipped = gather(inputs, kind=kind, column=column, encoding=encoding, stdin=stdin)
    result = Predictions(name or model.name, task, ANSWERED_TASKS[task], skipped=skipped)
    bar = _Progress(len(items), progress if progress is not None else len(items) > PROGRESS_AFTER * batch_size)
    vectors = model.word_vectors() if task == "word-embedding" else None
    for start in range(0, len(items), batch_size):
        chunk = items[start:start + batch_size]
        if vectors is not None:
            result.rows += _words(vectors, chunk, top, result.skipped)
        else:
            read, values = _read(model, kind, chunk, result.skipped)
            if read:
                rows = _answer(model, task, values, top)
                result.rows += [{"input": item.origin, **row} for item, row in zip(read, rows)]
        bar.update(min(start + batch_size, len(items)))
    return result


def _read(model, kind: str, chunk: list[_Item], skipped: list) -> tuple[list[_Item], list]:
    if kind != "image":
        return chunk, [item.value for item in chunk]
    read, values = [], []
    for item in chunk:
        try:
            values.append(folders.read_image(item.value, like=model))
        except (KerazooError, OSError) as e:  # one unreadable file is listed, the rest answered
            skipped.append((item.origin, str(e).removeprefix(f"{item.value}: ")))
            continue
        read.append(item)
    return read, values


def _words(vectors, chunk: list[_Item], top: int, skipped: list) -> list[dict]:
    rows = []
    for item in chunk:
        word = item.value.strip()
        try:
            rows.append({"input": item.origin, "answers": vectors.most_similar(word, top), "vector": vectors[word]})
        except KeyError as e:  # UnknownWordError: named, with the closest words
            skipped.append((item.origin, str(e.args[0]) if e.args else str(e)))
    return rows
