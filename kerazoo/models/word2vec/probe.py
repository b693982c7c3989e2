"""The linear probe of word vectors: how much of a labelled task (IMDB sentiment) the vectors alone carry."""
from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from kerazoo.data import word2vec as w2v
from kerazoo.models.word2vec.vectors import WordVectors

__all__ = ["linear_probe_accuracy", "mean_vectors"]


def mean_vectors(vectors: WordVectors, texts) -> np.ndarray:
    """Each text's average word vector (words outside the vocabulary skipped; zeros if none is known)."""
    out = []
    for batch in w2v.tokenize(list(texts)):
        for tokens in batch.to_list():
            ids = [vectors.index[t] for t in (w.decode() for w in tokens) if t in vectors.index and t]
            out.append(vectors.vectors[ids].mean(0) if ids else np.zeros(vectors.vectors.shape[1], np.float32))
    return np.stack(out)


def linear_probe_accuracy(vectors: WordVectors, train: tuple, test: tuple) -> float:
    """Accuracy of a logistic regression on averaged word vectors, fitted on `train` `(texts, labels)`
    and scored on `test`: how much of a labelled task the vectors alone carry (Maas et al. 2011's
    evaluation of word vectors on IMDB sentiment)."""
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    probe.fit(mean_vectors(vectors, train[0]), np.asarray(train[1]))
    return float(probe.score(mean_vectors(vectors, test[0]), np.asarray(test[1])))
