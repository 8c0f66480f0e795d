import keras

from hypertext.layers.hyper_conv_base import HyperConvBase
from hypertext.layers.per_sample_conv1d import PerSampleConv1D


@keras.saving.register_keras_serializable(package="hypertext")
class HyperConv1D(HyperConvBase):
    """A 1D convolution whose kernel is generated, per sample, from a context vector.

    The layer owns a `KernelGenerator` (the hypernetwork; its `in_channels` is inferred from the inputs in `build`)
    and a `PerSampleConv1D` that applies the generated kernels. Drop it into any Keras model where a conv layer should
    depend on a per-example context: a sentence embedding, a task or style vector, a speaker id embedding.

    When the generator's output does not depend on the context, the layer is exactly a `keras.layers.Conv1D`.

    Args:
        filters: int, output channels.
        kernel_size: int, taps of the kernel.
        strides, padding, dilation_rate, implementation: as in `PerSampleConv1D` (padding "valid", "same",
            "causal"; implementation "auto", "unfold", "fold", "grouped", "loop").
        activation: activation applied to the output (name or callable), or None.
        use_bias: whether the generator also emits a per-sample bias.
        mode, rank, num_bases, tap_pattern, tap_tiling, kernel_mask, init_scale: the `KernelGenerator` arguments.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        inputs: `(batch, length, in_channels)`.
        context: `(batch, context_dim)`, ideally of unit variance (e.g. after a LayerNormalization), which is what
            the hyperfan-in initialisation assumes.
        sample_mask: optional per-sample kernel mask, broadcastable to `(batch, filters, kernel_size, in_channels)`.

    Returns:
        `(batch, new_length, filters)`, with `new_length` as for `keras.layers.Conv1D`.

    Example:

    >>> x = np.random.normal(size=(4, 12, 16)).astype("float32")
    >>> context = np.random.normal(size=(4, 32)).astype("float32")
    >>> HyperConv1D(filters=8, kernel_size=3, padding="same", activation="gelu")(x, context).shape
    (4, 12, 8)
    """

    CONV_CLASS = PerSampleConv1D

    def __init__(self, filters, kernel_size, strides=1, padding="valid", dilation_rate=1, implementation="auto",
                 **kwargs):
        super().__init__(filters, kernel_size, conv_args=dict(strides=strides, padding=padding,
                                                              dilation_rate=dilation_rate,
                                                              implementation=implementation), **kwargs)
