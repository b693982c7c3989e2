"""Reading the user's own data (kerazoo.data.folders): image folders of any format, size and colour
mode into exactly the model's input, one file at a time the same way, tables with quoted commas and
newlines in any encoding, stratified seeded splits."""
import csv

import numpy as np
import pytest

import kerazoo
from kerazoo.data import folders
from kerazoo.testing import letter_images, review_folder


def test_read_image_reproduces_the_folder_pipeline(tmp_path):
    """Every file, whatever its format, size or colour mode, reads to the same array one at a time as
    image_dataset_from_directory made of it; RGB models get three channels from grayscale files."""
    from PIL import Image

    paths = letter_images(tmp_path / "l", "AB", per_class=6)
    modes = {Image.open(p).mode for p in paths}
    assert {"L", "RGB", "RGBA", "P"} <= modes and {p.suffix for p in paths} == {".png", ".jpg"}
    model = kerazoo.get("lenet5.mnist")
    data = folders.load(tmp_path / "l", like=model)
    assert data.x.shape == (12, 28, 28) and data.x.dtype == np.uint8 and data.class_names == ["a", "b"]
    np.testing.assert_array_equal(folders.read_images([tmp_path / "l" / o for o in data.origins], like=model), data.x)
    rgb = folders.ImageSpec(36, 30, 3)
    colour = folders.load(tmp_path / "l", like=rgb)
    assert colour.x.shape == (12, 36, 30, 3)
    gray = [i for i, o in enumerate(data.origins) if Image.open(tmp_path / "l" / o).mode == "L"]
    assert gray and all(np.array_equal(colour.x[i][..., 0], colour.x[i][..., 2]) for i in gray)
    assert folders.read_image(colour.x[0], like=model).shape == (28, 28)  # an RGB array for a grayscale model
    assert folders.read_image(data.x[0], like=rgb).shape == (36, 30, 3)   # and back
    with pytest.raises(kerazoo.DataError, match=r"floats in \[0, 1\]"):
        folders.read_image(np.full((28, 28), 0.5, dtype="float32"), like=model)
    with pytest.raises(kerazoo.DataError, match="missing.png: cannot read"):
        folders.read_image(tmp_path / "missing.png", like=model)


def test_split_is_stratified_and_seeded(tmp_path):
    review_folder(tmp_path / "r", per_class=10)
    data = folders.load(tmp_path / "r", like="text")
    parts = folders.split(data, validation=0.2, test=0.1, seed=4)
    assert {k: p.counts() for k, p in parts.items()} == {
        "train": {"neg": 7, "pos": 7}, "validation": {"neg": 2, "pos": 2}, "test": {"neg": 1, "pos": 1}}
    assert set(parts["train"].origins).isdisjoint(parts["validation"].origins + parts["test"].origins)
    again = folders.split(data, validation=0.2, test=0.1, seed=4)
    assert again["validation"].origins == parts["validation"].origins
    assert folders.split(data, validation=0.2, seed=5)["validation"].origins != parts["validation"].origins
    with pytest.raises(kerazoo.DataError, match="class 'neg' has 2 example"):
        folders.split(data.take([0, 1, 10, 11]), validation=0.2, test=0.2)


def test_table_keeps_quoted_commas_newlines_and_encodings(tmp_path):
    rows = [("Great, \"really\" great.\nSee it.", "pos"), ("", "neg"), ("Naïve — but fun", "pos"), ("meh", "neg")]
    for encoding, name in (("utf-8", "t.csv"), ("utf-16", "t.tsv")):
        with open(tmp_path / name, "w", newline="", encoding=encoding) as f:
            csv.writer(f, delimiter="," if name.endswith("csv") else "\t").writerows([("label", "text"), *[
                (label, text) for text, label in rows]])
        data = folders.load(tmp_path / name, like="text", encoding=encoding)
        assert list(data.x) == [t for t, _ in rows] and data.class_names == ["neg", "pos"]
        assert data.origins == ["line 2", "line 4", "line 5", "line 6"]
    with pytest.raises(kerazoo.DataError, match="unknown text encoding 'klingon'"):
        folders.load(tmp_path / "t.csv", like="text", encoding="klingon")
