"""Shipped pretrained artifacts: `saved_models/<arch>.<tag>/` with a `card.json`.

Finding artifacts reads only the cards (no TensorFlow import), so listing stays instant.
"""
from __future__ import annotations

import functools
import importlib.resources
import json
from pathlib import Path

__all__ = ["artifacts_dir", "available", "split_name"]


def artifacts_dir() -> Path:
    """The directory of shipped artifacts (inside the installed package)."""
    return Path(str(importlib.resources.files("kerazoo.saved_models")))


def split_name(name: str) -> tuple[str, str | None]:
    """`"lenet5.mnist"` -> `("lenet5", "mnist")`; `"lenet5"` -> `("lenet5", None)`."""
    arch, _, tag = name.partition(".")
    return arch, (tag or None)


@functools.cache
def _all_cards() -> dict[str, dict]:
    cards = {}
    for card in sorted(artifacts_dir().glob("*.*/card.json")):
        cards[card.parent.name] = json.loads(card.read_text(encoding="utf-8"))
    return cards


def available(arch: str) -> dict[str, dict]:
    """`{tag: card}` for every shipped artifact of model `arch`."""
    out = {}
    for full, card in _all_cards().items():
        a, tag = split_name(full)
        if a == arch:
            out[tag] = card
    return out
