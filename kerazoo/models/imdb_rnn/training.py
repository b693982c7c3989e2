"""What trains the IMDB classifiers beyond kerazoo's text pipelines: an embedding started from word vectors."""
from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np

from kerazoo.errors import ConfigError, WeightsError
from kerazoo.family import FamilyHooks
from kerazoo.models.imdb_rnn.tf_export import export_core

__all__ = ["uses", "recipe_pretrain", "HOOKS"]


def uses(recipe) -> dict:
    """The word vectors a recipe's `pretrain: {embeddings: ...}` names: an artifact (`word2vec.imdb`) or a
    word2vec `.keras` file."""
    source = (recipe.pretrain or {}).get("embeddings")
    if source is None:
        return {}
    source = str(source)
    return {"embeddings": ("word2vec", source) if source.endswith(".keras") else tuple(source.split(".", 1))}


def recipe_pretrain(model: keras.Model, data, options: dict, out: Path) -> list:
    """`kerazoo train` stage before `fit`: the `embedding` starts from pretrained word vectors.

    Recipe `pretrain: {embeddings: word2vec.imdb}` (a shipped word2vec artifact or a `.keras`
    path): the row of every vectorizer token the word vectors know is copied in; the others are
    drawn uniformly at the pretrained rows' scale (Kim 2014). The vectors are fine-tuned with
    the classifier. Writes `embeddings.json` (source, coverage of the vocabulary).

    Reference:
      Dai & Le, "Semi-supervised sequence learning", NeurIPS 2015 (word2vec-initialised LSTMs on IMDB).
    """
    unknown = set(options) - {"embeddings"}
    if unknown or "embeddings" not in options:
        raise ConfigError(f"{model.name} recipe pretrain: accepted option is `embeddings` (e.g. word2vec.imdb or a "
                          f"word2vec .keras path). Received: {sorted(options)}")
    source = str(options["embeddings"])
    if "embeddings" not in data.artifacts:
        raise WeightsError(f"{model.name} recipe pretrain: the word vectors {source} are not available (an artifact "
                           "name such as word2vec.imdb, or a word2vec .keras file)")
    vectors = data.artifacts["embeddings"].word_vectors()
    layer = model.get_layer("embedding")
    table = np.array(layer.embeddings)
    if table.shape[1] != vectors.vectors.shape[1]:
        raise ConfigError(f"{source} has {vectors.vectors.shape[1]}-d vectors but {model.name}'s embedding is "
                         f"{table.shape[1]}-d; train with embedding_dim={vectors.vectors.shape[1]}.")
    tokens = data.extra["vectorizer"].get_vocabulary()[:len(table)]
    known = [(i, vectors.index[t]) for i, t in enumerate(tokens) if t and t in vectors.index]
    rows, ids = (np.array(c) for c in zip(*known))
    scale = float(np.sqrt(3) * vectors.vectors[ids].std())  # uniform(-a, a) with the pretrained rows' spread
    table = np.random.default_rng(0).uniform(-scale, scale, table.shape).astype("float32")
    table[rows] = vectors.vectors[ids]
    layer.embeddings.assign(table)
    coverage = {"source": source, "rows": len(table), "pretrained_rows": len(rows),
                "coverage": round(len(rows) / len(table), 4)}
    print(f"{model.name}: embedding rows from {source}: {len(rows)} of {len(table)}")
    (Path(out) / "embeddings.json").write_text(json.dumps(coverage, indent=2))
    return []


HOOKS = FamilyHooks(uses=uses, recipe_pretrain=recipe_pretrain, export_core=export_core)
