"""The reconstruction objective: the cross-entropy of the decoder's logits against the input tokens (pads masked by
the batches' sample weights), with token accuracy as its metric. It is the compiled loss of `AutoencoderTask`."""

import keras


def reconstruction_loss():
    """The loss `AutoencoderTask.compile` gets: sparse categorical cross-entropy from logits."""
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def reconstruction_metrics():
    """Its weighted metrics: the share of tokens the decoder gets right (`token_accuracy`)."""
    return [keras.metrics.SparseCategoricalAccuracy(name="token_accuracy")]
