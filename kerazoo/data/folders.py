"""Your own data: folders of images or text files in class subfolders, and CSV/TSV tables of text
and labels, read into exactly what a model's input declares.

    >>> data = folders.load("letters/", like=model)        # images: resized, colour-converted, uint8
    >>> parts = folders.split(data, validation=0.2, seed=1337)   # stratified, seeded
    >>> x = folders.read_image("new.jpg", like=model)       # one file, preprocessed as in training
    >>> model.predict(x[None])

Layouts (class names come from the folder names, or the table's label column):

    letters/a/001.png  letters/b/x.jpg ...     images (.bmp .gif .jpeg .jpg .png, any size and colour mode)
    reviews/pos/1.txt  reviews/neg/2.txt ...   text files (.txt), in one encoding you name
    reviews.csv (.tsv)                         a header row naming a text and a label column

Image folders are read by `keras.utils.image_dataset_from_directory` (decoded with the model's
channel count, so RGB becomes grayscale or back; resized to its input size, bilinear, aspect
ratio not kept) and cast to uint8 for models that rescale raw pixels inside; text folders by
`keras.utils.text_dataset_from_directory`, then decoded in the named encoding. Everything is held
in memory (uint8 pixels, Python strings). A problem is a `DataError` naming the file (and line).

What a folder may reach, decided here (and in the README's "Your own data"):

- **Its own files only.** A symbolic link (a file, or a class folder) is followed when its target lies
  inside the data folder, and refused when it points outside it (or at nothing): the data you train
  on, and whose held-out file names the card lists, is the folder you named, never another file of the
  machine. Copy such a file in instead.
- **Images up to `MAX_IMAGE_PIXELS` (50 megapixels).** Each image's size is read from its header
  (Pillow, nothing decoded) before any is decoded: a 20000x20000 PNG of 300 KB would otherwise be
  decoded whole (1.2 GB, then a 4.8 GB float copy) to be shrunk to 28x28.
- **Names in UTF-8.** Keras passes file names to TensorFlow as text; a file or class folder whose name
  is not UTF-8 is refused, named with its bytes escaped (rename it).
"""
from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from kerazoo.errors import DataError

__all__ = ["IMAGE_FORMATS", "TEXT_FORMATS", "TABLE_FORMATS", "MAX_IMAGE_PIXELS", "ImageSpec", "UserData", "image_spec", "load",
           "load_images", "load_texts", "load_table", "split", "read_image", "read_images", "read_text"]

IMAGE_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")  # what keras.utils.image_dataset_from_directory reads
TEXT_FORMATS = (".txt",)                                    # what keras.utils.text_dataset_from_directory reads
TABLE_FORMATS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
MAX_IMAGE_PIXELS = 50_000_000  # a 50-megapixel photo (8,660 x 5,773); larger images are refused before decoding


@dataclasses.dataclass(frozen=True)
class ImageSpec:
    """The images a model takes: size, channels, whether the channel axis is there, pixel type."""

    height: int
    width: int
    channels: int                  # 1 (grayscale) or 3 (RGB)
    channel_axis: bool = True      # False for (H, W) inputs such as lenet5.mnist's
    dtype: str = "uint8"           # uint8 when the model rescales raw pixels itself, else float32 0-255
    interpolation: str = "bilinear"

    @property
    def color_mode(self) -> str:
        return "grayscale" if self.channels == 1 else "rgb"

    @property
    def shape(self) -> tuple:
        return (self.height, self.width) + ((self.channels,) if self.channel_axis else ())

    def describe(self) -> dict:
        """The exact preprocessing, as recorded in a fine-tuned artifact's card."""
        cast = ("rounded to the nearest integer (half to even) and clipped to 0-255, as uint8"
                if self.dtype == "uint8" else "float32 0-255, not rounded")
        return {"reader": "keras.utils.image_dataset_from_directory", "formats": list(IMAGE_FORMATS),
                "decode": f"tf.io.decode_image(channels={self.channels}, expand_animations=False): "
                          f"{self.color_mode} (colour converted by the decoder, alpha dropped, first GIF frame)",
                "resize": f"tf.image.resize to {self.height}x{self.width}, {self.interpolation}, "
                          "aspect ratio not kept", "cast": cast, "shape": list(self.shape), "dtype": self.dtype,
                "one_file": "kerazoo.data.folders.read_image(path, like=model)"}


@dataclasses.dataclass
class UserData:
    """Examples read from a user's folder or table, with where each came from."""

    kind: str                  # "image-folder", "text-folder" or "table"
    source: Path
    x: np.ndarray              # uint8 images (N, ...) or an object array of str
    y: np.ndarray              # int64 class ids into class_names
    class_names: list
    origins: list              # per example: a path relative to `source`, or "line N" of a table
    preprocessing: dict

    def take(self, index) -> "UserData":
        index = np.asarray(index, dtype=int)
        return dataclasses.replace(self, x=self.x[index], y=self.y[index], origins=[self.origins[i] for i in index])

    def counts(self) -> dict:
        return {name: int(np.sum(self.y == i)) for i, name in enumerate(self.class_names)}

    def describe(self) -> str:
        what = {"image-folder": "images", "text-folder": "text files", "table": "rows"}[self.kind]
        counts = ", ".join(f"{name} {n}" for name, n in self.counts().items())
        return f"{len(self.y)} {what} in {len(self.class_names)} classes ({counts})"


def image_spec(like) -> ImageSpec:
    """The `ImageSpec` of a Keras image model (or an `ImageSpec`, returned as is)."""
    if isinstance(like, ImageSpec):
        return like
    import keras

    spec = like.inputs[0]
    shape = tuple(spec.shape[1:])
    if str(spec.dtype) == "string" or len(shape) not in (2, 3) or None in shape[:2]:
        raise DataError(f"model {like.name!r} takes {str(spec.dtype)} inputs of shape {list(shape)}, not images of a "
                        "fixed size (H, W) or (H, W, C)")
    channels = shape[2] if len(shape) == 3 else 1
    if channels not in (1, 3):
        raise DataError(f"model {like.name!r} takes {channels}-channel images; image folders give 1 (grayscale) or 3 "
                        "(RGB) channels")
    rescales = any(isinstance(layer, keras.layers.Rescaling) for layer in like.layers)
    return ImageSpec(int(shape[0]), int(shape[1]), int(channels), len(shape) == 3, "uint8" if rescales else "float32")


def _takes_text(like) -> bool:
    return like == "text" or (not isinstance(like, ImageSpec) and str(like.inputs[0].dtype) == "string")


def load(path, *, like, encoding: str = "utf-8", text_column: str = "text", label_column: str = "label") -> UserData:
    """A folder of images or text files in class subfolders, or a CSV/TSV table, read for model `like`.

    Args:
      path: the folder (one subfolder per class) or the `.csv` / `.tsv` file.
      like: the model the data is for (its input decides: images of its size and channels, or
        text), an `ImageSpec`, or `"text"`.
      encoding: of text files and tables (any Python codec: utf-8, cp1252, latin-1, utf-16, ...).
      text_column, label_column: the table's column names (its header row).
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"{path} does not exist; give a folder with one subfolder per class, or a .csv/.tsv table")
    text = _takes_text(like)
    if path.is_file():
        if path.suffix.lower() not in TABLE_FORMATS:
            raise DataError(f"{path} is a file but not a table (.csv, .tsv); give a folder with one subfolder per "
                            "class or a table with a header row")
        if not text:
            raise DataError(f"{path} is a table of text, but the model takes images: give a folder of images in class "
                            "subfolders (PATH/CLASS/IMAGE)")
        return load_table(path, text_column=text_column, label_column=label_column, encoding=encoding)
    return load_texts(path, encoding=encoding) if text else load_images(path, image_spec(like))


def _class_folders(root: Path, formats: Sequence[str], what: str) -> dict[str, int]:
    """`{class name: file count}` as the Keras readers will index `root` (non-hidden subfolders, walked
    recursively, files by extension); a `DataError` if a classifier cannot be trained on it."""
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not names:
        raise DataError(f"{root} has no class subfolders: put each class's {what} in a folder named after the class "
                        f"({root / 'CLASS_A' / 'file'}, {root / 'CLASS_B' / 'file'}, ...)")
    counts, others = {}, {}
    for name in names:
        files = [f for _, _, fs in os.walk(root / name) for f in fs]
        counts[name] = sum(f.lower().endswith(tuple(formats)) for f in files)
        others[name] = sorted({Path(f).suffix.lower() or f for f in files if not f.lower().endswith(tuple(formats))})
    _check_reach(root, names, formats)
    empty = [n for n, c in counts.items() if not c]
    if empty:
        found = "; ".join(f"{root / n} has {', '.join(others[n])}" for n in empty if others[n])
        raise DataError(f"{', '.join(str(root / n) for n in empty)}: no {what} ({' '.join(formats)}) in "
                        f"{'this class folder' if len(empty) == 1 else 'these class folders'}"
                        + (f" ({found})" if found else "") + "; every class needs examples")
    if len(names) < 2:
        raise DataError(f"{root} has one class folder ({names[0]!r}); a classifier needs two or more classes, one "
                        "subfolder each")
    return counts


def _check_reach(root: Path, names: Sequence[str], formats: Sequence[str]) -> None:
    """A `DataError` for a name that is not UTF-8, or a link (class folder or file) pointing outside `root`."""
    inside = root.resolve()
    for name in names:
        for path in [root / name, *map(Path, _listing(root, [name], formats))]:
            text = str(path)
            if _SURROGATES.search(text):
                shown = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
                raise DataError(f"{shown}: the name is not UTF-8 (the bytes shown as \\x..); accepted: file and "
                                "folder names in UTF-8, rename it")
            if path.is_symlink():
                target = Path(os.path.realpath(path))
                if not target.exists():
                    raise DataError(f"{path} is a link to {os.readlink(path)}, which does not exist; fix or remove it")
                if not target.is_relative_to(inside):
                    raise DataError(f"{path} is a link to {target}, outside {root}; a data folder may only reach its "
                                    "own files: copy the file in, or remove the link")


_SURROGATES = re.compile("[\udc80-\udcff]")  # how Python shows the bytes of a file name that are not UTF-8


def _check_pixels(source, where: str) -> None:
    """A `DataError` if the image in `source` (a path or a file object) has more than `MAX_IMAGE_PIXELS`, read
    from its header (Pillow decodes nothing here); an image Pillow cannot open is left to the decoder."""
    from PIL import Image

    limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # Pillow's own bomb check would hide the size
    try:
        with Image.open(source) as image:
            width, height = image.size
    except Exception:  # noqa: BLE001 - not an image Pillow reads: TensorFlow's decoder says what is wrong
        return
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    if width * height > MAX_IMAGE_PIXELS:
        raise DataError(f"{where}: {width}x{height} pixels ({width * height / 1e6:,.0f} megapixels); accepted: images "
                        f"of up to {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels, which are decoded whole before they are "
                        "resized: shrink it first")


def _listing(root: Path, class_names: Sequence[str], formats: Sequence[str]) -> list[str]:
    """The files of the class folders in the order `keras.utils.*_dataset_from_directory(shuffle=False)` reads them."""
    files = []
    for name in class_names:
        for folder, _, names in sorted(os.walk(root / name), key=lambda entry: entry[0]):
            files += [os.path.join(folder, f) for f in sorted(names) if f.lower().endswith(tuple(formats))]
    return files


def load_images(path, spec: ImageSpec) -> UserData:
    """A folder of images in class subfolders, read by `keras.utils.image_dataset_from_directory` as
    `spec` declares (see `ImageSpec.describe`)."""
    import keras
    import tensorflow as tf

    root = Path(path).expanduser()
    for f in _listing(root, list(_class_folders(root, IMAGE_FORMATS, "images")), IMAGE_FORMATS):
        _check_pixels(f, f)  # before anything is decoded
    ds = keras.utils.image_dataset_from_directory(
        str(root), labels="inferred", label_mode="int", color_mode=spec.color_mode, batch_size=None,
        image_size=(spec.height, spec.width), shuffle=False, interpolation=spec.interpolation, verbose=False)
    files = list(ds.file_paths)
    xs, ys = [], []
    try:
        for x, y in ds.batch(256).as_numpy_iterator():
            xs.append(x)
            ys.append(y)
    except tf.errors.OpError:
        for f in files:  # find the file (the pipeline's error names none)
            _decode_image(Path(f).read_bytes(), spec, f)
        raise
    x = _cast(np.concatenate(xs), spec)
    return UserData("image-folder", root, x, np.concatenate(ys).astype("int64"), list(ds.class_names),
                    [Path(f).relative_to(root).as_posix() for f in files], spec.describe())


def load_texts(path, *, encoding: str = "utf-8") -> UserData:
    """A folder of `.txt` files in class subfolders, listed and read by
    `keras.utils.text_dataset_from_directory`, each decoded from `encoding`."""
    import keras

    _check_encoding(encoding)
    root = Path(path).expanduser()
    _class_folders(root, TEXT_FORMATS, "text files")
    ds = keras.utils.text_dataset_from_directory(str(root), labels="inferred", label_mode="int", batch_size=None,
                                                 shuffle=False, verbose=False)
    files = _listing(root, ds.class_names, TEXT_FORMATS)  # the same order (Keras gives texts, not their paths)
    texts, ys = [], []
    for (raw, y), f in zip(ds.as_numpy_iterator(), files, strict=True):
        texts.append(_decode(raw, encoding, f))
        ys.append(y)
    return UserData("text-folder", root, np.array(texts, dtype=object), np.asarray(ys, dtype="int64"),
                    list(ds.class_names), [Path(f).relative_to(root).as_posix() for f in files],
                    _text_preprocessing("keras.utils.text_dataset_from_directory (.txt files)", encoding))


def load_table(path, *, text_column: str = "text", label_column: str = "label", encoding: str = "utf-8") -> UserData:
    """A CSV (`,`) or TSV (tab) table with a header row: texts from `text_column`, classes from
    `label_column` (quoted fields may hold delimiters and newlines; an empty text is kept, an empty
    label is an error naming the line)."""
    _check_encoding(encoding)
    path = Path(path).expanduser()
    delimiter = TABLE_FORMATS.get(path.suffix.lower())
    if delimiter is None:
        raise DataError(f"{path}: tables are .csv (comma-separated) or .tsv (tab-separated) files")
    reader = csv.DictReader(io.StringIO(_decode(path.read_bytes(), encoding, str(path)), newline=""),
                            delimiter=delimiter)
    columns = reader.fieldnames or []
    missing = [c for c in (text_column, label_column) if c not in columns]
    if missing:
        raise DataError(f"{path}: no column {' or '.join(map(repr, missing))} in the header row (columns: "
                        f"{', '.join(map(repr, columns)) or 'none, the file is empty'}); name them with --text-column "
                        "and --label-column (text_column=, label_column=)")
    texts, labels, origins = [], [], []
    line = 2
    try:
        for row in reader:
            if None in row:
                what = "tabs" if delimiter == "\t" else "commas"
                raise DataError(f"{path} line {line}: {len(columns) + len(row[None])} fields, the header has "
                                f"{len(columns)}; quote fields that contain {what}")
            label, text = row.get(label_column), row.get(text_column)
            if label is None or not label.strip():
                raise DataError(f"{path} line {line}: no label in column {label_column!r}")
            if text is None:
                raise DataError(f"{path} line {line}: no {text_column!r} field (the row is shorter than the header)")
            texts.append(text)
            labels.append(label.strip())
            origins.append(f"line {line}")
            line = reader.line_num + 1
    except csv.Error as e:
        raise DataError(f"{path} line {reader.line_num}: {e}") from None
    if not labels:
        raise DataError(f"{path} has a header row but no rows of data")
    names = sorted(set(labels), key=lambda s: (0, int(s), s) if s.lstrip("-").isdigit() else (1, 0, s))
    if len(names) < 2:
        raise DataError(f"{path}: every row has label {names[0]!r} in column {label_column!r}; a classifier needs two "
                        "or more classes")
    index = {name: i for i, name in enumerate(names)}
    return UserData("table", path, np.array(texts, dtype=object), np.array([index[v] for v in labels], dtype="int64"),
                    names, origins, {**_text_preprocessing("csv (Python), delimiter " + repr(delimiter), encoding),
                                     "text_column": text_column, "label_column": label_column})


def _text_preprocessing(reader: str, encoding: str) -> dict:
    return {"reader": reader, "encoding": encoding, "decode": "strict; a leading byte-order mark removed",
            "one_file": f"kerazoo.data.folders.read_text(path, encoding={encoding!r})",
            "then": "the model's own vectorizer (raw strings in)"}


# === Splits ===

def split(data: UserData, *, validation: float = 0.2, test: float = 0.0, seed: int = 1337) -> dict:
    """`{"train", "validation", "test"}` parts of `data` (None where the fraction is 0), stratified:
    each class contributes round(fraction x its count) examples, at least one, drawn by `seed`."""
    for what, fraction in (("validation", validation), ("test", test)):
        if not 0 <= fraction < 1:
            raise DataError(f"{what} fraction must be in [0, 1); received {fraction!r}")
    if validation + test >= 1:
        raise DataError(f"validation ({validation}) and test ({test}) fractions leave nothing to train on")
    rng = np.random.default_rng(seed)
    parts = {"train": [], "validation": [], "test": []}
    for c, name in enumerate(data.class_names):
        members = rng.permutation(np.flatnonzero(data.y == c))
        n_test = max(1, round(len(members) * test)) if test else 0
        n_val = max(1, round(len(members) * validation)) if validation else 0
        if len(members) - n_test - n_val < 1:
            where = data.source / name if data.kind != "table" else data.source
            raise DataError(f"{where}: class {name!r} has {len(members)} example(s), too few to hold out "
                            f"{'validation and test examples' if test and validation else 'an example'} and train on "
                            "the rest; add examples or lower the held-out fractions")
        parts["test"] += list(members[:n_test])
        parts["validation"] += list(members[n_test:n_test + n_val])
        parts["train"] += list(members[n_test + n_val:])
    return {k: data.take(sorted(v)) if v else None for k, v in parts.items()}


def align(data: UserData, class_names: Sequence[str]) -> UserData:
    """`data` relabelled to the class ids of `class_names` (e.g. a validation folder given separately);
    a class the training data lacks is an error."""
    unknown = [n for n in data.class_names if n not in class_names]
    if unknown:
        raise DataError(f"{data.source}: class {', '.join(map(repr, unknown))} is not in the training data (classes: "
                        f"{', '.join(class_names)})")
    ids = np.array([list(class_names).index(n) for n in data.class_names], dtype="int64")
    return dataclasses.replace(data, y=ids[data.y], class_names=list(class_names))


# === One file at a time (predicting) ===

def read_image(image, *, like) -> np.ndarray:
    """One image preprocessed exactly as fine-tuning read the folder, ready for `model.predict(x[None])`.

    Args:
      image: a path (any format and colour mode the folder could hold), the file's bytes, or an
        array (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) of pixels 0-255 (uint8, or integers or
        floats in that range); arrays are colour-converted with `tf.image.rgb_to_grayscale` /
        `grayscale_to_rgb` (a file is converted by its decoder, as in training).
      like: the model (or its `ImageSpec`).

    Example:
      >>> model = kerazoo.get("lenet5.myletters")
      >>> model.predict(folders.read_images(["a.png", "b.jpg"], like=model)).argmax(-1)
    """
    spec = image_spec(like)
    if isinstance(image, (str, os.PathLike)):
        path = Path(image).expanduser()
        try:
            raw = path.read_bytes()
        except OSError as e:
            raise DataError(f"{path}: cannot read the image ({e.strerror or e})") from None
        _check_pixels(io.BytesIO(raw), str(path))
        return _cast(_decode_image(raw, spec, str(path)), spec)
    if isinstance(image, bytes):
        _check_pixels(io.BytesIO(image), "image bytes")
        return _cast(_decode_image(image, spec, "image bytes"), spec)
    return _cast(_convert_array(np.asarray(image), spec), spec)


def read_images(images: Sequence, *, like) -> np.ndarray:
    """A batch of `read_image` results (paths, bytes or arrays, mixed sizes and colour modes)."""
    spec = image_spec(like)
    return np.stack([read_image(image, like=spec) for image in images]) if len(images) else \
        np.zeros((0, *spec.shape), dtype=spec.dtype)


def read_text(path, *, encoding: str = "utf-8") -> str:
    """A text file decoded as fine-tuning decodes a text folder (strict `encoding`, leading BOM removed)."""
    _check_encoding(encoding)
    path = Path(path).expanduser()
    return _decode(path.read_bytes(), encoding, str(path))


def _decode_image(raw: bytes, spec: ImageSpec, where: str):
    """What `image_dataset_from_directory` does to one file: decode, resize (float32 0-255)."""
    import tensorflow as tf

    try:
        image = tf.io.decode_image(raw, channels=spec.channels, expand_animations=False)
    except tf.errors.OpError as e:  # "{{function_node ...}} Invalid PNG. ... [Op:DecodeImage] name: "
        reason = re.sub(r"\{\{.*?\}\}", "", e.message).split("[Op:")[0].strip(" .") or "not a readable image"
        raise DataError(f"{where}: unreadable image ({reason}); fix or remove the file") from None
    return tf.image.resize(image, (spec.height, spec.width), method=spec.interpolation).numpy()


def _convert_array(array: np.ndarray, spec: ImageSpec):
    import tensorflow as tf

    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[-1] not in (1, 3, 4):
        raise DataError(f"an image array is (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); received shape "
                        f"{list(array.shape)}. For several images use read_images")
    if array.dtype.kind == "f" and array.size and float(np.nanmax(array)) <= 1.0 and np.any(array % 1):
        raise DataError("image array holds floats in [0, 1]; pixels are 0-255 here (multiply by 255)")
    if array.dtype.kind not in "uif" or (array.size and (np.nanmin(array) < 0 or np.nanmax(array) > 255)):
        raise DataError(f"image array: pixels are numbers 0-255; received dtype {array.dtype}"
                        + (f", values {np.nanmin(array)}..{np.nanmax(array)}" if array.dtype.kind in "uif" else ""))
    image = tf.convert_to_tensor(array[..., :3].astype("float32"))
    if image.shape[-1] == 3 and spec.channels == 1:
        image = tf.image.rgb_to_grayscale(image)
    elif image.shape[-1] == 1 and spec.channels == 3:
        image = tf.image.grayscale_to_rgb(image)
    return tf.image.resize(image, (spec.height, spec.width), method=spec.interpolation).numpy()


def _cast(images: np.ndarray, spec: ImageSpec) -> np.ndarray:
    """float32 (..., H, W, C) 0-255 -> the spec's dtype and shape."""
    if not spec.channel_axis:
        images = images[..., 0]
    if spec.dtype == "uint8":
        return np.clip(np.round(images), 0, 255).astype("uint8")
    return images.astype("float32")


# === Text decoding ===

def _check_encoding(encoding: str) -> None:
    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise DataError(f"unknown text encoding {encoding!r}; e.g. utf-8, cp1252, latin-1, utf-16") from None


def _decode(raw: bytes, encoding: str, where: str) -> str:
    """`raw` decoded strictly; a `DataError` naming `where`, the line and the byte that does not decode."""
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise DataError(f"{where} line {line}: byte 0x{raw[e.start]:02x} (column {column}) is not valid {encoding}; "
                        "name the files' encoding with --encoding (encoding=), e.g. cp1252, latin-1, utf-16") from None
    return text.removeprefix("\ufeff")
