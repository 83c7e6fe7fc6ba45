"""The monitors' TensorBoard output: one scalar per layer and record, under
`<quantity>/<layer label>`, at the record's training step. TensorFlow's summary writer
does the writing, so this is the one place where the monitors need TensorFlow (imported
when the first value is written)."""


class ScalarWriter:
    """Writes records to TensorBoard's event files in `log_dir`.

    Raises ImportError at construction, saying what to install, where tensorboard or
    tensorflow is missing."""

    def __init__(self, log_dir):
        try:
            import tensorboard  # noqa: F401
            import tensorflow  # noqa: F401
        except ImportError:
            raise ImportError(
                f"log_dir={log_dir!r} writes TensorBoard summaries, which need the tensorboard and "
                "tensorflow packages: pip install tensorboard tensorflow (or layer-rotation-tools[tensorboard])."
            ) from None
        self.log_dir = log_dir
        self._writer = None

    def write(self, quantity, labels, values, step):
        """One scalar `quantity/label` per (label, value), at `step`; flushed at once."""
        import tensorflow as tf

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        with self._writer.as_default(step=step):
            for label, value in zip(labels, values):
                tf.summary.scalar(f"{quantity}/{label}", float(value))
        self._writer.flush()
