"""Data sets and `tf.data` input pipelines for the catalogue's models.

    >>> splits = kerazoo.data.load("mnist", data_dir="~/data")          # tf.data train/val/test
    >>> (x, y), _ = kerazoo.data.load_numpy("mnist")                    # keras.datasets layout

Where the files come from, in order: `data_dir=` (or `--data-dir`), the `KERAZOO_DATA_DIR`
environment variable, then the usual download (`keras.datasets`, the Stanford archive) when the
machine is online. When none works, `DataNotFoundError` says which file to put where.
Images stay raw (uint8, native shape) because kerazoo models rescale and pad inside.

Your own data (folders of images or text files in class subfolders, CSV/TSV tables) is read by
`kerazoo.data.folders`, into exactly what a model's input declares.
"""
from __future__ import annotations

from kerazoo.data import folders
from kerazoo.data.catalog import LOADERS, load, load_numpy, register_loader
from kerazoo.errors import DataError, DataNotFoundError

__all__ = ["DataError", "DataNotFoundError", "LOADERS", "load", "load_numpy", "register_loader", "folders"]
