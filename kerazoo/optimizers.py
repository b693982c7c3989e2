"""Optimizers Keras does not have, serialisable in `.keras` files; recipes name them like Keras'
(`optimizer: rowwise_adagrad`).

Keras 3's optimizers keep the embedding gradients sparse (`tf.IndexedSlices`) only as far as SGD:
Adam, Adagrad and RMSprop update their slots (and the variable) over the whole table every step
(keras-team/keras#19992), which for word2vec's two 12,000 x 64 tables costs more than the rest of
a 4,096-example step. `RowwiseAdagrad` touches only the rows in the batch.

The update is written once in `keras.ops` and runs on every backend. TensorFlow hands an `Embedding`'s
gradient over as `tf.IndexedSlices` (the rows of the batch, one per occurrence); that one case keeps a
sparse path (`_sparse_update`), because updating the whole tables on every step is slower there
(measured in `tests/test_word2vec.py`'s docstring of `RowwiseAdagrad`). JAX and PyTorch give dense gradients.
"""
from __future__ import annotations

import keras
from keras import ops

__all__ = ["RowwiseAdagrad", "OPTIMIZERS"]


@keras.saving.register_keras_serializable(package="kerazoo")
class RowwiseAdagrad(keras.optimizers.Optimizer):
    """AdaGrad with one accumulator per row of a 2-D variable, updating only the rows a sparse
    gradient touches.

    For a row r of an embedding table: `acc[r] += mean(g_r ** 2)`, then
    `row_r -= learning_rate * g_r / sqrt(acc[r] + epsilon)`. One accumulator per row (not per
    entry) is the form used for large embedding tables (FBGEMM's row-wise AdaGrad): each word's
    steps are normalised by its own gradient history, so frequent and rare words both learn at
    a sensible rate with no schedule and the loss' scale (e.g. the batch size under a mean loss)
    does not matter. Variables of other ranks get ordinary element-wise AdaGrad.

    A dense gradient (JAX, PyTorch; TensorFlow for other layers) updates every row, and a row absent
    from the batch has a zero gradient, so its value and accumulator stay as they are; a row that occurs
    several times in a batch gets the sum of its occurrences' gradients (FBGEMM's form). TensorFlow's sparse
    gradient (`tf.IndexedSlices`, an `Embedding`'s) is applied occurrence by occurrence instead: each
    occurrence adds its own squared gradient and the updates add up, because de-duplicating the rows
    (`tf.unique`) cannot be compiled by XLA. Both are row-wise AdaGrad; for a row seen once per batch
    they are the same update.

    Args:
      learning_rate: step size (a float or a `keras.optimizers.schedules` schedule).
      initial_accumulator_value: starting value of the accumulators.
      epsilon: added to the accumulator under the square root.
      name, **kwargs: as `keras.optimizers.Optimizer` (`clipnorm`, ...).

    Reference:
      Duchi, Hazan, Singer, "Adaptive subgradient methods for online learning and stochastic
      optimization", JMLR 2011.

    Example:
      >>> model.compile(RowwiseAdagrad(0.5), loss="binary_crossentropy")
    """

    def __init__(self, learning_rate=0.5, initial_accumulator_value: float = 0.0, epsilon: float = 1e-10,
                 name: str = "rowwise_adagrad", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if initial_accumulator_value < 0 or epsilon <= 0:
            raise ValueError("RowwiseAdagrad needs initial_accumulator_value >= 0 and epsilon > 0. Received: "
                             f"initial_accumulator_value={initial_accumulator_value}, epsilon={epsilon}")
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        initializer = keras.initializers.Constant(self.initial_accumulator_value)
        self._accumulators = [
            self.add_variable(shape=v.shape[:1] if len(v.shape) == 2 else v.shape, initializer=initializer,
                              dtype=v.dtype, name=f"{v.name}_accumulator")
            for v in variables]

    def update_step(self, gradient, variable, learning_rate):
        lr = ops.cast(learning_rate, variable.dtype)
        accumulator = self._accumulators[self._get_variable_index(variable)]
        rowwise = len(variable.shape) == 2
        if type(gradient).__name__ == "IndexedSlices":  # TensorFlow's sparse gradient of an Embedding
            return self._sparse_update(gradient, variable, accumulator, lr, rowwise)
        gradient = ops.cast(gradient, variable.dtype)
        squares = ops.square(gradient)
        self.assign_add(accumulator, ops.mean(squares, axis=-1) if rowwise else squares)
        scale = lr * ops.rsqrt(accumulator + self.epsilon)
        self.assign_sub(variable, gradient * (ops.expand_dims(scale, -1) if rowwise else scale))

    def _sparse_update(self, gradient, variable, accumulator, lr, rowwise):
        """The rows of a `tf.IndexedSlices` gradient only, occurrence by occurrence (TensorFlow only)."""
        import tensorflow as tf

        values = ops.cast(gradient.values, variable.dtype)
        squares = ops.mean(ops.square(values), axis=-1) if rowwise else ops.square(values)
        self.assign_add(accumulator, tf.IndexedSlices(squares, gradient.indices))
        scale = lr * ops.rsqrt(ops.take(accumulator, gradient.indices, axis=0) + self.epsilon)
        self.assign_sub(variable, tf.IndexedSlices(values * (ops.expand_dims(scale, -1) if rowwise else scale),
                                                   gradient.indices, gradient.dense_shape))

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


OPTIMIZERS = {"rowwise_adagrad": RowwiseAdagrad}  # recipe names of kerazoo's own optimizers
