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


# === What a folder may reach (issue 25): links inside it only, images up to 50 megapixels, UTF-8 names ===

def _huge_png(path, width=20000, height=20000) -> int:
    """A real PNG of width x height black grayscale pixels, a few hundred KB (as a scanner can write one)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    packer, row, body = zlib.compressobj(9), b"\0" * (width + 1), []
    body += [packer.compress(row) for _ in range(height)]
    body.append(packer.flush())
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", b"".join(body)) + chunk(b"IEND", b""))
    path.write_bytes(data)
    return len(data)


def test_a_link_out_of_the_folder_is_refused_and_one_inside_is_followed(tmp_path):
    """A symlink in an image folder pointing at an image outside it was trained on."""
    paths = letter_images(tmp_path / "letters", "AB", per_class=4)
    outside = tmp_path / "secret.png"
    outside.write_bytes(paths[0].read_bytes())
    model = kerazoo.get("lenet5.mnist")
    (tmp_path / "letters" / "a" / "link.png").symlink_to(outside)
    with pytest.raises(kerazoo.DataError, match=r"letters/a/link.png is a link to .*secret.png, outside .*letters; a "
                                                r"data folder may only reach its own files"):
        folders.load(tmp_path / "letters", like=model)
    (tmp_path / "letters" / "a" / "link.png").unlink()
    (tmp_path / "letters" / "a" / "link.png").symlink_to(paths[1])  # inside the folder: followed
    assert folders.load(tmp_path / "letters", like=model).counts() == {"a": 5, "b": 4}
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "letters" / "c").symlink_to(tmp_path / "elsewhere", target_is_directory=True)  # a class folder
    (tmp_path / "elsewhere" / "x.png").write_bytes(paths[0].read_bytes())
    with pytest.raises(kerazoo.DataError, match=r"letters/c is a link to .*elsewhere, outside"):
        folders.load(tmp_path / "letters", like=model)
    (tmp_path / "letters" / "c").unlink()
    (tmp_path / "letters" / "b" / "gone.png").symlink_to(tmp_path / "nothing.png")
    with pytest.raises(kerazoo.DataError, match=r"gone.png is a link to .*nothing.png, which does not exist"):
        folders.load(tmp_path / "letters", like=model)


def test_a_text_folder_may_not_reach_out_either(tmp_path):
    review_folder(tmp_path / "r", per_class=4)
    (tmp_path / "passwords.txt").write_text("not a review")
    next((tmp_path / "r").iterdir()).joinpath("x.txt").symlink_to(tmp_path / "passwords.txt")
    with pytest.raises(kerazoo.DataError, match=r"x.txt is a link to .*passwords.txt, outside"):
        folders.load(tmp_path / "r", like="text")


def test_a_huge_image_is_refused_before_it_is_decoded(tmp_path):
    """A 20000x20000 PNG (a few hundred KB) was decoded whole: 400 million pixels for a 28x28 input."""
    import time
    import tracemalloc

    letter_images(tmp_path / "letters", "AB", per_class=3)
    assert _huge_png(tmp_path / "letters" / "a" / "scan.png") < 1_000_000
    model = kerazoo.get("lenet5.mnist")
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(kerazoo.DataError, match=r"a/scan.png: 20000x20000 pixels \(400 megapixels\); accepted: images "
                                                r"of up to 50 megapixels"):
        folders.load(tmp_path / "letters", like=model)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert time.perf_counter() - start < 30 and peak < 50_000_000, (time.perf_counter() - start, peak)
    with pytest.raises(kerazoo.DataError, match=r"scan.png: 20000x20000 pixels"):
        folders.read_image(tmp_path / "letters" / "a" / "scan.png", like=model)
    with pytest.raises(kerazoo.DataError, match=r"image bytes: 20000x20000 pixels"):
        folders.read_image((tmp_path / "letters" / "a" / "scan.png").read_bytes(), like=model)
    _huge_png(tmp_path / "letters" / "a" / "scan.png", 8000, 6000)  # 48 megapixels: read
    assert folders.load(tmp_path / "letters", like=model).counts() == {"a": 4, "b": 3}


@pytest.mark.parametrize("where", ["file", "class folder"])
def test_a_name_that_is_not_utf8_is_named(tmp_path, where, capsys):
    """A non-UTF-8 file or class-folder name gave "Error converting unicode string while converting Python
    sequence to Tensor." (a raw ValueError from the API)."""
    import os

    from kerazoo import cli

    paths = letter_images(tmp_path / "letters", "AB", per_class=4)
    root = os.fsencode(tmp_path / "letters")
    if where == "file":
        os.rename(os.fsencode(paths[0]), root + b"/a/caf\xe9.png")
        shown = r"letters/a/caf\xe9.png"
    else:
        os.rename(root + b"/b", root + b"/\xff\xfe")
        shown = r"letters/\xff\xfe"
    with pytest.raises(kerazoo.DataError) as caught:
        folders.load(tmp_path / "letters", like=kerazoo.get("lenet5.mnist"))
    assert shown in str(caught.value) and "is not UTF-8" in str(caught.value) and "rename it" in str(caught.value)
    assert cli.main(["finetune", "lenet5.mnist", "--data", str(tmp_path / "letters"), "--output",
                     str(tmp_path / "run")]) == 2
    assert shown in capsys.readouterr().err


def test_a_name_with_a_newline_is_named_on_one_line(tmp_path):
    """Found by tests/test_fuzz.py: a class folder named "\\n" put a line break into the error message."""
    (tmp_path / "imgs" / "\n").mkdir(parents=True)
    (tmp_path / "imgs" / "b").mkdir()
    with pytest.raises(kerazoo.DataError) as caught:
        folders.load(tmp_path / "imgs", like=folders.ImageSpec(28, 28, 1, channel_axis=False))
    message = str(caught.value)
    assert "\n" not in message and "imgs/\\n" in message and "no images" in message, message
