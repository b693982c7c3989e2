"""Trained word vectors with their words: neighbours, analogies, projector files and plots (NumPy)."""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Sequence

import numpy as np

from kerazoo.errors import ConfigError, UnknownWordError
from kerazoo.plots import place_labels, pyplot

__all__ = ["WordVectors", "UnknownWordError"]


class WordVectors:
    """Word vectors with their words: cosine neighbours, analogies, projector files, plots.

    Args:
      vectors: `(len(words), dim)` matrix, row i the vector of `words[i]`.
      words: the words; the padding `""` (if present) is never returned as a neighbour.
    """

    def __init__(self, vectors, words: Sequence[str]):
        self.vectors, self.words = np.asarray(vectors, dtype=np.float32), list(words)
        if self.vectors.ndim != 2 or len(self.vectors) != len(self.words):
            raise ConfigError(f"Expected one vector per word: {len(self.words)} words, vectors of shape "
                             f"{self.vectors.shape}.")
        self.index = {w: i for i, w in enumerate(self.words)}
        norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
        self.unit = self.vectors / np.maximum(norms, 1e-12)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def __getitem__(self, word: str) -> np.ndarray:
        return self.vectors[self._id(word)]

    def _id(self, word: str) -> int:
        if word not in self.index or word == "":
            close = difflib.get_close_matches(word, self.words, n=3)
            hint = f" Closest: {', '.join(close)}." if close else ""
            raise UnknownWordError(f"{word!r} is not in the vocabulary ({len(self.words)} words; words rarer than "
                                   f"min_count are left out).{hint}")
        return self.index[word]

    def _nearest(self, query: np.ndarray, k: int, exclude: set[int]) -> list[tuple[str, float]]:
        scores = self.unit @ (query / max(np.linalg.norm(query), 1e-12))
        order = [i for i in np.argsort(-scores) if i not in exclude and self.words[i] != ""]
        return [(self.words[i], float(scores[i])) for i in order[:k]]

    def most_similar(self, word: str, k: int = 10) -> list[tuple[str, float]]:
        """The `k` words of highest cosine similarity to `word` (itself excluded), best first."""
        i = self._id(word)
        return self._nearest(self.unit[i], k, {i})

    def analogy(self, a: str, b: str, c: str, k: int = 1) -> list[tuple[str, float]]:
        """Words nearest to `a - b + c` (unit vectors, Mikolov et al.'s 3CosAdd), the three excluded:
        `analogy("king", "man", "woman")` answers "queen" for good vectors."""
        ids = [self._id(w) for w in (a, b, c)]
        return self._nearest(self.unit[ids[0]] - self.unit[ids[1]] + self.unit[ids[2]], k, set(ids))

    def save_projector(self, directory) -> tuple[Path, Path]:
        """Writes `vectors.tsv` and `metadata.tsv` (padding left out) for projector.tensorflow.org."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        rows = [i for i, w in enumerate(self.words) if w != ""]
        np.savetxt(directory / "vectors.tsv", self.vectors[rows], delimiter="\t", fmt="%.6g")
        (directory / "metadata.tsv").write_text("".join(f"{self.words[i]}\n" for i in rows), encoding="utf-8")
        return directory / "vectors.tsv", directory / "metadata.tsv"

    def plot_neighbours(self, words: Sequence[str], path, k: int = 8, title: str = "") -> Path:
        """A PNG of `words` and their `k` nearest neighbours, projected on two principal axes.

        Each word is drawn once (a query word in its colour, a neighbour of several in the first one's),
        its label placed where it overlaps no other label and no point (`kerazoo.plots.place_labels`).
        """
        plt = pyplot()

        groups = [[w] + [n for n, _ in self.most_similar(w, k)] for w in words]
        colour_of = {w: i for i, w in enumerate(words)}  # a query word in its own colour, even if another's neighbour
        for i, group in enumerate(groups):
            for w in group[1:]:
                colour_of.setdefault(w, i)
        shown = list(colour_of)
        points = self.unit[[self._id(w) for w in shown]]
        centred = points - points.mean(axis=0)
        xy = centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T
        colours = plt.cm.tab10(np.arange(len(groups)) % 10)
        queries = set(words)
        fig, ax = plt.subplots(figsize=(9, 7.5))
        for i, query in enumerate(words):
            mine = [j for j, w in enumerate(shown) if colour_of[w] == i]
            ax.scatter(xy[mine, 0], xy[mine, 1], color=colours[i], s=[60 if shown[j] in queries else 16 for j in mine],
                       label=query, zorder=2)
        span = xy.max(axis=0) - xy.min(axis=0)
        ax.set_xlim(xy[:, 0].min() - 0.12 * span[0], xy[:, 0].max() + 0.12 * span[0])  # room for labels at the edges
        ax.set_ylim(xy[:, 1].min() - 0.08 * span[1], xy[:, 1].max() + 0.08 * span[1])
        ax.set_xticks([])
        ax.set_yticks([])
        ax.legend(title="nearest neighbours of", fontsize=8, title_fontsize=8, loc="upper left",
                  bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        ax.set_title(title or f"{k} nearest neighbours (cosine), 2-D PCA")
        ax.set_xlabel("first principal axis")
        ax.set_ylabel("second principal axis")
        fig.tight_layout()
        order = sorted(range(len(shown)), key=lambda j: shown[j] not in queries)  # query words placed first
        styles = [{"fontsize": 10 if shown[j] in queries else 8, "weight": "bold" if shown[j] in queries else "normal",
                   "color": "black"} for j in order]
        place_labels(ax, xy[order], [shown[j] for j in order], styles=styles)
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return Path(path)
