"""Test inputs: example batches for any catalogue model (the registry-wide tests) and synthetic
digits whose label can be read back from the image (tests and benchmarks of training, tuning and
data pipelines).

A family may declare `FamilyHooks.example_batch(model, n, seed)` returning `(x, y)` (y may be None
when the model's own `train_step` needs no targets); otherwise a batch is made from the
functional model's inputs and the recipe's loss.
"""
from __future__ import annotations

import numpy as np

__all__ = ["example_batch", "synthetic_digits", "letter_images", "review_texts", "review_folder"]


def _input_array(spec, n: int, rng: np.random.Generator, seq_len: int):
    shape = (n,) + tuple(seq_len if d is None else d for d in spec.shape[1:])
    dtype = str(spec.dtype)
    if dtype == "string":
        return np.array(["a small example text"] * n, dtype=object).reshape(shape)
    if "int" in dtype:
        return rng.integers(0, 2, size=shape).astype(dtype)  # ids 0/1 are valid for any vocabulary
    return rng.random(shape, dtype=np.float32).astype(dtype)


def _target(loss: str | None, shape, rng: np.random.Generator):
    if loss == "sparse_categorical_crossentropy":
        return rng.integers(0, shape[-1], size=shape[:-1])
    if loss == "binary_crossentropy":
        return rng.integers(0, 2, size=shape).astype("float32")
    return rng.random(shape, dtype=np.float32)


def example_batch(model, config=None, n: int = 4, seed: int = 0, seq_len: int = 12):
    """`(x, y)` of batch size `n` that `model` accepts; `y` matches the loss of `config`'s recipe (a
    `ZooConfig`; no loss: no targets), or comes from its family's `example_batch` hook."""
    from kerazoo.family import hooks

    family_batch = hooks(config.family).example_batch if config is not None else None
    if family_batch is not None:
        return family_batch(model, n, seed)
    loss = config.recipe.get("loss") if config is not None else None
    rng = np.random.default_rng(seed)
    xs = [_input_array(spec, n, rng, seq_len) for spec in model.inputs]
    x = xs[0] if len(xs) == 1 else xs
    if loss is None:
        return x, None
    out = model(x, training=False)  # targets take the real output's shape (time axes included)
    ys = [_target(loss, tuple(o.shape), rng) for o in (out if isinstance(out, (list, tuple)) else [out])]
    return x, ys[0] if len(ys) == 1 else ys


def synthetic_digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`(x, y)`: raw uint8 28x28 'digits' of 10 classes, noise plus a bright bar at a class-specific place,
    so a model (or a test) can read the label back from the image."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    x = rng.integers(0, 60, (n, 28, 28)).astype("uint8")
    for i, k in enumerate(y):
        r, c = divmod(int(k), 5)
        x[i, 4 + 10 * r: 12 + 10 * r, 2 + 5 * c: 6 + 5 * c] = 255
    return x, y


def letter_images(root, letters: str = "ABC", per_class: int = 12, seed: int = 0) -> list:
    """Writes `root/<letter>/<i>.<png|jpg>`: letters drawn in DejaVu Sans (matplotlib's font) at
    random sizes, offsets and angles, light on dark like MNIST, in several file formats, sizes and
    colour modes (PNG L/RGB/RGBA/P, JPEG L/RGB; 20x20 to 64x48). Returns the paths written.

    A small real-format image folder for tests and the demo (`kerazoo finetune --data`)."""
    from pathlib import Path

    import matplotlib
    from PIL import Image, ImageDraw, ImageFont

    font_path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    rng = np.random.default_rng(seed)
    sizes = [(28, 28), (20, 20), (40, 40), (64, 48), (32, 32)]
    kinds = [("png", "L"), ("jpg", "RGB"), ("png", "RGB"), ("png", "RGBA"), ("jpg", "L"), ("png", "P")]
    written = []
    for letter in letters:
        folder = Path(root) / letter.lower()
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            canvas = Image.new("L", (96, 96), 0)
            font = ImageFont.truetype(str(font_path), int(rng.integers(44, 64)))
            draw = ImageDraw.Draw(canvas)
            left, top, right, bottom = draw.textbbox((0, 0), letter, font=font)
            x = (96 - (right - left)) / 2 - left + rng.integers(-6, 7)
            y = (96 - (bottom - top)) / 2 - top + rng.integers(-6, 7)
            draw.text((x, y), letter, fill=int(rng.integers(200, 256)), font=font,
                      stroke_width=int(rng.integers(0, 3)), stroke_fill=255)
            canvas = canvas.rotate(float(rng.uniform(-15, 15)), resample=Image.BILINEAR)
            size = sizes[(i + ord(letter)) % len(sizes)]
            ext, mode = kinds[(i + 2 * ord(letter)) % len(kinds)]
            image = canvas.resize(size, Image.BILINEAR)
            if mode == "RGB":  # a tinted letter on a dark blue ground
                grey = np.asarray(image, dtype=np.float32) / 255
                tinted = np.stack([40 + 215 * grey, 30 + 200 * grey, 90 + 120 * grey], -1)
                image = Image.fromarray(tinted.astype(np.uint8))
            elif mode == "RGBA":
                image = image.convert("RGBA")
            elif mode == "P":
                image = image.convert("P")
            path = folder / f"{i:03d}.{ext}"
            image.save(path, quality=90) if ext == "jpg" else image.save(path)
            written.append(path)
    return written


_REVIEW_WORDS = {  # 40 each, all in the IMDB models' vocabularies: a held-out review often has words no training one has
    "pos": ("wonderful brilliant superb moving beautiful excellent delightful masterful touching hilarious stunning "
            "charming gripping joyous marvelous magnificent outstanding splendid fantastic terrific amazing lovely "
            "powerful haunting riveting captivating heartwarming inspiring breathtaking sublime exquisite enchanting "
            "mesmerizing exhilarating flawless remarkable compelling beautifully perfect gorgeous").split(),
    "neg": ("awful boring terrible dull mess pointless dreadful stupid painful waste lifeless unwatchable tedious "
            "horrible horrendous atrocious laughable lame pathetic dire abysmal dismal insipid incoherent clumsy "
            "forgettable tiresome annoying embarrassing bland predictable mediocre shallow poorly worst disappointing "
            "ridiculous amateurish sloppy garbage").split(),
}
_REVIEW_FRAMES = ["The café scene was {0}, and the ending too.", "Honestly — {0}. The cast, the score, everything.",
                  "My naïve friend said it was {0}; I agree, the score too.",
                  "“{0}”, wrote the critic about the director's last film.",
                  "Two hours, {0} from start to finish.\nThe dialogue? The same."]


def review_texts(label: str, n: int, seed: int = 0) -> list:
    """`n` short film reviews of sentiment `label` ("pos" or "neg"), one sentiment word each (of 40 per
    class, so a held-out review's word is often in no training review: a model must know the word),
    with commas, quotes, newlines and non-ASCII characters (é, ï, “ ”, —), for tests of text fine-tuning."""
    rng = np.random.default_rng([seed, 0 if label == "pos" else 1])
    words = _REVIEW_WORDS[label]
    return [_REVIEW_FRAMES[int(rng.integers(len(_REVIEW_FRAMES)))].format(words[int(rng.integers(len(words)))])
            for _ in range(n)]


def review_folder(root, per_class: int = 12, encoding: str = "utf-8", seed: int = 0) -> list:
    """Writes `root/pos/<i>.txt` and `root/neg/<i>.txt` (see `review_texts`) in `encoding`; returns the paths."""
    from pathlib import Path

    written = []
    for label in ("pos", "neg"):
        folder = Path(root) / label
        folder.mkdir(parents=True, exist_ok=True)
        for i, text in enumerate(review_texts(label, per_class, seed)):
            path = folder / f"{i:03d}.txt"
            path.write_bytes(text.encode(encoding))
            written.append(path)
    return written
