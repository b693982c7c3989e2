"""Data sets and input pipelines (`tf.data`) for the catalogue's models."""
