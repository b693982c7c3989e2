"""IMDB reviews: the raw Stanford `aclImdb` archive or tree, Keras' preprocessed `imdb.npz`,
and plain text corpora (for word2vec).

Raw reviews come back as NumPy arrays of Python strings with labels 1 (pos) / 0 (neg); the
text models' `TextVectorization` turns them into token ids inside the model. The archive's
`urls_{pos,neg}.txt` name each review's movie: `load_imdb` returns them as `train_groups`, so a
validation hold-out takes whole movies (`kerazoo.data.load`), as the official test split does
(a random hold-out shares movies, and their names, with training and overstates test accuracy).
"""
from __future__ import annotations

import functools
import re
import tarfile
import zlib
from pathlib import Path

import numpy as np

from kerazoo.data.files import check_labelled, read_npz, unreadable
from kerazoo.data.sources import cache_dir, fetch
from kerazoo.errors import DataError

ACLIMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
_MEMBER = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg|unsup)/[^/]+\.txt$")
_URLS = re.compile(r"(?:^|/)aclImdb/train/urls_(pos|neg)\.txt$")


def _download_aclimdb():
    import keras

    path = keras.utils.get_file("aclImdb_v1.tar.gz", ACLIMDB_URL, cache_dir=str(cache_dir()),
                                cache_subdir="datasets")
    return Path(path)


@functools.cache
def _read_aclimdb(path: Path, with_unsup: bool) -> dict:
    texts: dict[tuple[str, str], list[tuple[str, str]]] = {}
    urls: dict[str, list[str]] = {}  # label -> the movie of review id i, line i
    wanted = ("pos", "neg", "unsup") if with_unsup else ("pos", "neg")
    if path.is_dir():
        root = path if (path / "train").is_dir() else path / "aclImdb"
        for split in ("train", "test"):
            for label in wanted:
                folder = root / split / label
                if folder.is_dir():
                    texts[(split, label)] = [(f.name, _text(f.read_bytes(), f)) for f in folder.glob("*.txt")]
        for label in ("pos", "neg"):
            if (root / "train" / f"urls_{label}.txt").is_file():
                urls[label] = (root / "train" / f"urls_{label}.txt").read_text(encoding="utf-8").split()
    else:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                match, url_match = _MEMBER.search(member.name), _URLS.search(member.name)
                if member.isfile() and match and match.group(2) in wanted:
                    data = _text(tar.extractfile(member).read(), f"{path} ({member.name})")
                    texts.setdefault(match.groups(), []).append((member.name.rsplit("/", 1)[-1], data))
                elif member.isfile() and url_match:
                    urls[url_match.group(1)] = _text(tar.extractfile(member).read(), f"{path} ({member.name})").split()
    missing = [f"{s}/pos" for s in ("train", "test") if not texts.get((s, "pos"))]
    if missing:
        raise DataError(f"{path}: holds no reviews in aclImdb/{', aclImdb/'.join(missing)}; accepted: the Stanford "
                        "archive aclImdb_v1.tar.gz or its tree, aclImdb/{train,test}/{pos,neg}/*.txt (UTF-8 text).")

    def split(name):
        items = [(t, 1) for _, t in sorted(texts.get((name, "pos"), []))] + \
                [(t, 0) for _, t in sorted(texts.get((name, "neg"), []))]
        return np.array([t for t, _ in items], dtype=object), np.array([y for _, y in items], dtype=np.int32)

    out = {"train": split("train"), "test": split("test")}
    for name in ("train", "test"):
        check_labelled(path, name, *out[name], classes=2)
    groups = [urls.get(label, []) for label in ("pos", "neg")]
    names = [[n for n, _ in sorted(texts.get(("train", label), []))] for label in ("pos", "neg")]
    ids = [[int(n.split("_")[0]) for n in part] for part in names]
    if all(part and max(i) < len(g) for part, i, g in zip(names, ids, groups)):  # every review's movie is known
        out["train_groups"] = np.array([g[i] for part, g in zip(ids, groups) for i in part], dtype=object)
    if with_unsup:
        out["unsup"] = np.array([t for _, t in sorted(texts.get(("train", "unsup"), []))], dtype=object)
    return out


def load_imdb(*, data_dir=None, unsup: bool = False) -> dict:
    """Large Movie Review Dataset (Maas et al. 2011) from the raw archive or its extracted tree.

    Accepts `aclImdb_v1.tar.gz` or an `aclImdb/` directory in the data directory; online, the
    archive is downloaded from Stanford. `unsup=True` adds the 50,000 unlabelled reviews.
    """
    found = fetch("imdb", data_dir, ["aclImdb_v1.tar.gz", "aclImdb/aclImdb_v1.tar.gz", "aclImdb"],
                  _download_aclimdb, "the Stanford archive aclImdb_v1.tar.gz (or its extracted aclImdb/ tree)")
    path = Path(found).resolve()
    try:
        return dict(_read_aclimdb(path, unsup))
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise unreadable(path, e, "the tar.gz archive aclImdb_v1.tar.gz") from None


def _text(data: bytes, source) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{source}: is not UTF-8 text ({e}); accepted: the reviews of aclImdb_v1.tar.gz as "
                        "released.") from None


def load_imdb_npz(*, data_dir=None, num_words: int | None = None, maxlen: int | None = None,
                  start_char: int = 1, oov_char: int = 2, index_from: int = 3) -> dict:
    """Keras' preprocessed `imdb.npz` (word ids by frequency), with `keras.datasets.imdb`'s options."""
    def download():
        import keras

        (x, y), (xt, yt) = keras.datasets.imdb.load_data(num_words=num_words, maxlen=maxlen, start_char=start_char,
                                                         oov_char=oov_char, index_from=index_from)
        return {"train": (x, y), "test": (xt, yt)}

    what = ("Keras' imdb.npz: x_train, x_test (object arrays of word-id lists, ids >= 0) and y_train, y_test "
            "(labels 0 or 1)")
    found = fetch("imdb_npz", data_dir, ["imdb.npz", "imdb/imdb.npz"], download, what)
    if not isinstance(found, Path):
        return found
    f = read_npz(found, ("x_train", "y_train", "x_test", "y_test"), what)  # word-id lists: restricted unpickling
    raw = {"train": (f["x_train"], f["y_train"]), "test": (f["x_test"], f["y_test"])}
    for split, (xs, ys) in raw.items():
        check_labelled(found, split, xs, ys, classes=2, accepted=what)
        _check_sequences(found, split, xs, what)

    def convert(xs, ys):  # the same conventions as keras.datasets.imdb.load_data
        seqs = [[start_char] + [w + index_from for w in x] for x in xs]
        if maxlen:
            keep = [i for i, s in enumerate(seqs) if len(s) < maxlen]
            seqs, ys = [seqs[i] for i in keep], ys[keep]
        if num_words:
            seqs = [[w if w < num_words else oov_char for w in s] for s in seqs]
        return np.array(seqs, dtype=object), ys

    return {k: convert(*v) for k, v in raw.items()}


def _check_sequences(source, split: str, xs, what: str) -> None:
    """Every review of an `imdb.npz` is a sequence of non-negative integer word ids."""
    if xs.ndim != 1 and not (xs.ndim == 2 and xs.dtype.kind in "iu"):
        raise DataError(f"{source}: {split} reviews have shape {xs.shape}; accepted: {what}.")
    for i, seq in enumerate(xs):
        ids = np.asarray(seq) if isinstance(seq, (list, tuple, np.ndarray)) else None
        if ids is None or ids.ndim != 1 or (ids.size and (ids.dtype.kind not in "iu" or ids.min() < 0)):
            raise DataError(f"{source}: {split} review {i} is {type(seq).__name__} {str(seq)[:60]}, not a list of "
                            f"word ids; accepted: {what}.")


def load_text_corpus(path, *, limit: int | None = None, text_column: str | None = None,
                     encoding: str = "utf-8") -> list[str]:
    """Documents of a plain-text corpus: a `.txt` file (one document per line), a directory of
    `.txt` files (one document each, e.g. `aclImdb/train/unsup`), or a `.csv` / `.tsv` table whose
    `text_column` holds one document per row (quoted commas and newlines allowed).

    Raises `ValueError` naming the file and line of text that does not decode as `encoding`, a
    table without `text_column` (listing its columns), or a `text_column` given for plain text.
    """
    path = Path(path).expanduser()
    table = path.suffix.lower() in (".csv", ".tsv")
    if text_column is not None and not table:
        raise ValueError(f"text_column={text_column!r} names a column of a .csv or .tsv table; {path} is "
                         f"{'a directory of .txt files' if path.is_dir() else 'plain text, one document per line'}.")
    if path.is_dir():
        files = sorted(path.glob("*.txt"))[:limit]
        if not files:
            raise FileNotFoundError(f"{path} holds no .txt files")
        return [_decoded(f, encoding) for f in files]
    if not path.is_file():
        raise FileNotFoundError(f"text corpus {path} does not exist (a .txt file, one document per line, a "
                                "directory of .txt files, or a .csv/.tsv table with a text column)")
    if table:
        return _table_column(path, text_column, encoding)[:limit]
    docs = [line.strip() for line in _decoded(path, encoding).splitlines() if line.strip()]
    return docs[:limit]


def _decoded(path: Path, encoding: str) -> str:
    data = path.read_bytes()
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ValueError(f"{path}, line {line}: not valid {encoding} text ({e.reason} at byte {e.start}); "
                         "convert the file to UTF-8 or name its encoding.") from None


def _table_column(path: Path, column: str | None, encoding: str) -> list[str]:
    import csv
    import io

    reader = csv.DictReader(io.StringIO(_decoded(path, encoding), newline=""),
                            delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
    columns = reader.fieldnames or []
    if column is None or column not in columns:
        wanted = "has no column named " + repr(column) if column else "is a table: name its text column (text_column=)"
        raise ValueError(f"{path} {wanted}. Its columns: {', '.join(map(repr, columns)) or 'none (empty file)'}.")
    return [row[column].strip() for row in reader if (row.get(column) or "").strip()]
