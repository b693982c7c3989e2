"""How good generated digits are: LeNet-5's FID and Inception Score (a classifier is handed in, never loaded here)."""
from __future__ import annotations

import keras
import numpy as np
from scipy import linalg

from kerazoo.models.dcgan.model import to_pixels

__all__ = ["lenet_scores", "frechet_distance"]


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (the FID formula)."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root, _ = linalg.sqrtm(cov_a @ cov_b, disp=False)
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2.0 * np.real(root)))


def lenet_scores(images, reference, *, classifier, batch_size: int = 1000) -> dict[str, float]:
    """Scores of generated digits by an MNIST classifier, the shipped `lenet5.mnist` (MNIST-shaped images only).

    - `lenet_fid`: Fréchet distance between the classifier's 84-d F6 features of `images` and of
      `reference` (real digits): FID (Heusel et al. 2017) with LeNet-5 in place of Inception; 0 for
      identical distributions, lower is better.
    - `lenet_score`: `exp(E_x KL(p(y|x) || p(y)))`, the Inception Score (Salimans et al. 2016) with
      LeNet-5: between 1 and 10, high when each sample is clearly one digit and all ten appear.

    Args:
      images, reference: `(N, 28, 28[, 1])` images, uint8 pixels or floats in [-1, 1].
      classifier: a LeNet-5 trained on MNIST taking uint8 `(N, 28, 28)` digits, with an `f6` layer:
        `kerazoo.get("lenet5.mnist")`.
    """
    features = keras.Model(classifier.inputs, [classifier.get_layer("f6").output, classifier.output])

    def run(x):
        x = np.asarray(x)
        x = to_pixels(x) if x.dtype.kind == "f" else x.astype(np.uint8)
        f, p = features.predict(x.reshape(len(x), 28, 28), batch_size=batch_size, verbose=0)
        return np.asarray(f, "float64"), np.asarray(p, "float64")

    (f_gen, p_gen), (f_ref, _) = run(images), run(reference)
    marginal = p_gen.mean(0, keepdims=True)
    kl = np.sum(p_gen * (np.log(p_gen + 1e-12) - np.log(marginal + 1e-12)), axis=1)
    return {"lenet_fid": frechet_distance(f_gen, f_ref), "lenet_score": float(np.exp(kl.mean()))}
