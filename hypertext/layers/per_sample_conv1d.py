import keras

from hypertext import ops as hops
from hypertext.layers.per_sample_conv_base import PerSampleConvBase


@keras.saving.register_keras_serializable(package="hypertext")
class PerSampleConv1D(PerSampleConvBase):
    """A 1D convolution whose kernel differs for every sample of the batch.

    The kernels usually come from a hypernetwork (see `KernelGenerator` and `HyperConv1D`), so they are an *input* of
    this layer, in the layout `(batch, out_channels, kernel_size, in_channels)`. The layer has no weights. With every
    sample given the same kernel it computes exactly what `keras.layers.Conv1D` computes, channels-last.

    Implementations (all give the same result; they differ in speed and memory):

    - `"unfold"`: cut the padded input into `kernel_size` strided views, concatenate them into patches
      `(batch, length', kernel_size * in_channels)` and apply one batched matmul. It does the FLOPs of a shared
      convolution and nothing more.
    - `"fold"`: the batch folded into the channels of one depthwise convolution (the classic Keras answer to "a
      different filter per sample"), then a sum over input channels. Correct, but its backward pass is thousands of
      times slower than a shared conv.
    - `"grouped"`: the batch as the groups of one grouped convolution. TensorFlow's CPU kernel has no gradient for it.
    - `"loop"`: one ordinary convolution per sample, mapped over the batch (`keras.ops.map`). The readable reference.
    - `"auto"` (default): `"unfold"`. Forward+backward as a multiple of a shared `Conv1D` on the same shapes, from
      `benchmarks/per_sample_conv.py` (2-core AVX2 CPU, B32 L64 C=O128 K3) and the anchor measurements the project
      started from:

      | implementation | TF graph, oneDNN on | TF graph, oneDNN off | TF + XLA | JAX CPU | H100, JAX f32 (anchor) |
      |---|---|---|---|---|---|
      | unfold | 1.23-1.37x | 2.2-2.4x (TF's CPU BatchMatMul) | 2.0-3.2x | 1.9x | 1.04x |
      | loop | 3.4x | 3.3x | 11x | 12x | 9.2x |
      | grouped | 39x | 44x | 47x | 31x | 5.8x |
      | fold | 18x | 30x | 4,172x | 1,907x | 1,935x |

      Unfold is the fastest for training on every backend and device measured, so `"auto"` always picks it. On
      TensorFlow CPU, run with `TF_ENABLE_ONEDNN_OPTS=1` (every console script sets it unless you did): without oneDNN,
      TensorFlow's batched matmul kernel is the bottleneck, and the layer warns once when it runs there (no
      formulation from TensorFlow's ops measured under ~2x `Conv1D` on that path:
      `benchmarks/onednn_off_formulations.py`). TensorFlow turns oneDNN on by itself on CPUs with AVX-512 VNNI/BF16.

    Args:
        strides: int >= 1, the stride of the convolution.
        padding: `"valid"`, `"same"` or `"causal"`, with `keras.layers.Conv1D`'s meaning.
        dilation_rate: int >= 1, the dilation of the kernel.
        implementation: `"auto"`, `"unfold"`, `"fold"`, `"grouped"` or `"loop"`.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: `(batch, length, in_channels)`.
        kernel: `(batch, out_channels, kernel_size, in_channels)`.
        bias: optional `(batch, out_channels)`.

    Returns:
        `(batch, new_length, out_channels)`; `new_length` as for `keras.layers.Conv1D`.

    Example:

    >>> x = np.random.normal(size=(4, 10, 8)).astype("float32")
    >>> kernel = np.random.normal(size=(4, 16, 3, 8)).astype("float32")
    >>> PerSampleConv1D(padding="same")(x, kernel).shape
    (4, 10, 16)
    """

    spatial_rank = 1
    PADDINGS = hops.PADDINGS
    EXTENT = "long"
    op = staticmethod(hops.per_sample_conv1d)
