import math
import warnings

import keras
import numpy as np
from keras import ops

from hypertext.layers.validation import check_choice, check_positive_int, check_positive_int_tuple, shape_str

MODES = ("basis", "low_rank", "dense")

# `mode="dense"` warns above this many generator parameters: one Dense layer from a 512-d context to a 256x5x256
# kernel already holds 168M weights.
DENSE_PARAMS_WARNING = 10_000_000


def tap_pattern_from_tiling(kernel_size, tap_tiling):
    """The tap pattern that tiles `kernel_size // tap_tiling` generated taps `tap_tiling` times: (0, 1, 0, 1, ...)."""
    generated = kernel_size // tap_tiling
    return tuple(i % generated for i in range(kernel_size))


def check_broadcastable(name, shape, target_shape):
    """Checks that an array of `shape` broadcasts to `target_shape`; None dimensions on either side match anything."""
    ok = len(shape) <= len(target_shape) and all(
        s is None or t is None or s == 1 or s == t for s, t in zip(tuple(shape)[::-1], tuple(target_shape)[::-1])
    )
    if not ok:
        raise ValueError(f"`{name}` must broadcast to {shape_str(target_shape)}. Received: {name}.shape={shape_str(shape)}")


def kernel_shape_of(kernel_size):
    """The spatial kernel shape as a tuple: `(kernel_size,)` for a 1D int, the tuple itself for a 2D kernel."""
    return tuple(kernel_size) if isinstance(kernel_size, tuple) else (kernel_size,)


def normalize_kernel_size(kernel_size):
    """An int (or a 1-element tuple/list) is a 1D kernel and stays an int; a tuple/list of 2 ints is a 2D kernel."""
    if isinstance(kernel_size, (tuple, list)) and len(kernel_size) > 1:
        return check_positive_int_tuple("kernel_size", kernel_size, 2)
    return check_positive_int("kernel_size", kernel_size)


def normalize_generator_args(filters, kernel_size, in_channels, mode, rank, num_bases, use_bias, tap_pattern,
                             tap_tiling, kernel_mask, init_scale):
    """Normalises and validates KernelGenerator's arguments. `in_channels` may be None (a HyperConv layer learns it
    in `build`); the mask's channel axis is then checked later. `kernel_size` is an int (1D) or a tuple of 2 (2D);
    tied taps then count the `kernel_height * kernel_width` taps in row-major order."""
    args = dict(
        filters=check_positive_int("filters", filters),
        kernel_size=normalize_kernel_size(kernel_size),
        in_channels=in_channels,
        mode=check_choice("mode", mode, MODES),
        rank=check_positive_int("rank", rank),
        num_bases=check_positive_int("num_bases", num_bases),
        use_bias=bool(use_bias),
    )
    kernel_shape = kernel_shape_of(args["kernel_size"])
    k = math.prod(kernel_shape)
    k_text = str(k) if len(kernel_shape) == 1 else "x".join(map(str, kernel_shape)) + f"={k}"
    if tap_pattern is not None and tap_tiling is not None:
        raise ValueError(
            f"Pass `tap_pattern` or `tap_tiling`, not both. Received: tap_pattern={tap_pattern}, tap_tiling={tap_tiling}"
        )
    if tap_tiling is not None:
        tap_tiling = check_positive_int("tap_tiling", tap_tiling)
        if k % tap_tiling:
            raise ValueError(f"`tap_tiling` must divide `kernel_size` ({k_text}). Received: tap_tiling={tap_tiling}")
    if tap_pattern is not None:
        tap_pattern = tuple(tap_pattern)
        used = set(tap_pattern)
        if (
            len(tap_pattern) != k
            or not all(isinstance(t, (int, np.integer)) and not isinstance(t, bool) for t in tap_pattern)
            or used != set(range(len(used)))
        ):
            raise ValueError(
                f"`tap_pattern` must have `kernel_size` ({k_text}) entries that use every generated tap 0..n-1. "
                f"Received: tap_pattern={tap_pattern}"
            )
        tap_pattern = tuple(int(t) for t in tap_pattern)
    if kernel_mask is not None:
        kernel_mask = np.asarray(kernel_mask, dtype="float32")
        check_broadcastable("kernel_mask", kernel_mask.shape, (args["filters"], *kernel_shape, in_channels))
    if isinstance(init_scale, bool) or not isinstance(init_scale, (int, float)) or not init_scale > 0:
        raise ValueError(f"`init_scale` must be a number > 0. Received: init_scale={init_scale!r}")
    args.update(tap_pattern=tap_pattern, tap_tiling=tap_tiling, kernel_mask=kernel_mask, init_scale=float(init_scale))
    return args


GENERATOR_ARGS = ("mode", "rank", "num_bases", "tap_pattern", "tap_tiling", "kernel_mask", "init_scale")


def generator_config(layer):
    """The generator arguments of `layer` (a KernelGenerator or a HyperConv layer), JSON-ready for `get_config`."""
    config = {name: getattr(layer, name) for name in GENERATOR_ARGS}
    if config["tap_pattern"] is not None:
        config["tap_pattern"] = list(config["tap_pattern"])
    if config["kernel_mask"] is not None:
        config["kernel_mask"] = config["kernel_mask"].tolist()
    return config


@keras.saving.register_keras_serializable(package="hypertext")
class KernelGenerator(keras.layers.Layer):
    """A hypernetwork head: turns a context vector into one conv kernel (and bias) per sample.

    Output kernels use hypertext's layout `(batch, filters, kernel_size, in_channels)`, ready for `PerSampleConv1D` or
    `PerSampleConv1DTranspose`; with a 2D `kernel_size=(kh, kw)`, `(batch, filters, kh, kw, in_channels)`, ready for
    `PerSampleConv2D`. Below, `K` is the number of taps: `kernel_size`, or `kh * kw` in 2D.

    Modes, with their parameter counts for context size `D`, `O = filters`, `C = in_channels` and `n` generated taps
    (`n = kernel_size` unless taps are tied, see below):

    - `"basis"` (default): a mixture of `num_bases` (`N`) learned kernels with per-sample linear coefficients, as in
      CondConv. `N·O·n·C + (D+1)·N` parameters.
    - `"low_rank"`: per-sample factors `U (O, r)` and `V (r, n·C)`, both generated from the context, whose product is
      the kernel. `(D+1)·r·(O + n·C)` parameters.
    - `"dense"`: one Dense layer straight to all `O·n·C` values. `(D+1)·O·n·C` parameters; the layer warns above
      `DENSE_PARAMS_WARNING` (10,000,000).

    With `use_bias=True` a Dense head adds the per-sample bias, `(D+1)·O` more parameters. For `O = C = 256`, `K = 5`,
    `D = 512`: basis (N=8) 2,625,544; low_rank (r=8) 6,303,744; dense 168,099,840; plus 131,328 for the bias.

    Initialisation is hyperfan-in (Chang, Sacramento & Zimmermann, ICLR 2020): for a context with unit variance,
    the generated kernels start with variance `init_scale / (K * in_channels)`, what a variance-scaling
    (fan-in) initialiser gives a static kernel (`init_scale=1` is LeCun/Glorot-like for `O ≈ C`, `2` is He). The
    generated bias starts at zero, as a `Conv1D` bias does.

    Tied taps. The generator may emit `n < kernel_size` taps and expand them before use, which shrinks its output:
    `tap_pattern=(0, 0, 1, 2, 2)` reads generated tap `tap_pattern[j]` for tap `j` (it must use every tap in
    `0..n-1`); `tap_tiling=t` tiles `kernel_size // t` generated taps `t` times (`tap_tiling=kernel_size` repeats one
    tap across the whole kernel).

    Masks. `kernel_mask`, a static array broadcastable to `(filters, kernel_size, in_channels)` (2D:
    `(filters, kh, kw, in_channels)`), multiplies every generated kernel (e.g. zeros to switch taps off); a per-sample
    `sample_mask` broadcastable to `(batch, filters, kernel_size, in_channels)` (2D: `(batch, filters, kh, kw,
    in_channels)`) may be passed at call time. Masked entries have no effect on the
    output and receive no gradient.

    Args:
        filters: int, output channels `O` of the generated kernels.
        kernel_size: int, taps of the (expanded) 1D kernels; or a tuple `(kh, kw)` for 2D kernels.
        in_channels: int, input channels `C` of the generated kernels.
        mode: `"basis"`, `"low_rank"` or `"dense"`.
        rank: int >= 1, the factor rank for `"low_rank"`.
        num_bases: int >= 1, the number of learned kernels for `"basis"`.
        use_bias: bool, whether to also generate a `(batch, filters)` bias.
        tap_pattern: optional tuple of `K` generated-tap indices covering `0..n-1`.
        tap_tiling: optional int dividing `K`; exclusive with `tap_pattern`.
        kernel_mask: optional array broadcastable to `(filters, kernel_size, in_channels)` (2D: `(filters, kh, kw,
            in_channels)`).
        init_scale: float > 0, the hyperfan-in variance scale.
        **kwargs: base `keras.layers.Layer` arguments.

    Call arguments:
        context: `(batch, context_dim)`.
        sample_mask: optional, broadcastable to `(batch, filters, kernel_size, in_channels)` (2D: `(batch, filters,
            kh, kw, in_channels)`).

    Returns:
        `(kernel, bias)` with shapes `(batch, filters, kernel_size, in_channels)` (2D: `(batch, filters, kh, kw,
        in_channels)`) and `(batch, filters)`; only the kernel when `use_bias=False`.

    Example:

    >>> context = np.random.normal(size=(4, 32)).astype("float32")
    >>> kernel, bias = KernelGenerator(filters=64, kernel_size=3, in_channels=16, num_bases=8)(context)
    >>> kernel.shape, bias.shape
    ((4, 64, 3, 16), (4, 64))
    """

    def __init__(
        self,
        filters,
        kernel_size,
        in_channels,
        mode="basis",
        rank=4,
        num_bases=8,
        use_bias=True,
        tap_pattern=None,
        tap_tiling=None,
        kernel_mask=None,
        init_scale=1.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        args = normalize_generator_args(filters, kernel_size, check_positive_int("in_channels", in_channels), mode,
                                        rank, num_bases, use_bias, tap_pattern, tap_tiling, kernel_mask, init_scale)
        self.filters = args["filters"]
        self.kernel_size = args["kernel_size"]
        self.in_channels = args["in_channels"]
        self.mode = args["mode"]
        self.rank = args["rank"]
        self.num_bases = args["num_bases"]
        self.use_bias = args["use_bias"]
        self.tap_pattern = args["tap_pattern"]
        self.tap_tiling = args["tap_tiling"]
        self.kernel_mask = args["kernel_mask"]
        self.init_scale = args["init_scale"]

    # ----------------------------------------------------------------------------------------------------------------
    @property
    def kernel_shape(self):
        """The spatial shape of the generated kernels: `(kernel_size,)`, or `(kh, kw)` for 2D kernels."""
        return kernel_shape_of(self.kernel_size)

    @property
    def taps(self):
        """The number of taps `K` of an expanded kernel: `kernel_size`, or `kh * kw` in 2D."""
        return math.prod(self.kernel_shape)

    @property
    def expansion(self):
        """The tap pattern actually applied, or None when taps are not tied."""
        if self.tap_pattern is not None:
            return self.tap_pattern
        if self.tap_tiling is not None and self.tap_tiling > 1:
            return tap_pattern_from_tiling(self.taps, self.tap_tiling)
        return None

    @property
    def generated_taps(self):
        pattern = self.expansion
        return self.taps if pattern is None else max(pattern) + 1

    @property
    def target_std(self):
        """The standard deviation hyperfan-in gives the generated kernels, for a unit-variance context."""
        return math.sqrt(self.init_scale / (self.taps * self.in_channels))

    def count_params_for(self, context_dim):
        """The parameter count for a context of size `context_dim`, from the formulas in the class docstring."""
        d1, o, c, n = context_dim + 1, self.filters, self.in_channels, self.generated_taps
        count = {"basis": self.num_bases * o * n * c + d1 * self.num_bases,
                 "low_rank": d1 * self.rank * (o + n * c),
                 "dense": d1 * o * n * c}[self.mode]
        return count + (d1 * o if self.use_bias else 0)

    def _check_context_shape(self, context_shape):
        if len(context_shape) != 2 or context_shape[-1] is None:
            raise ValueError(
                "`context` must have rank 2, (batch, context_dim), with a known context_dim. "
                f"Received: context.shape={shape_str(context_shape)}"
            )

    def build(self, context_shape):
        self._check_context_shape(context_shape)
        d = context_shape[-1]
        o, c, n = self.filters, self.in_channels, self.generated_taps
        target_var = self.target_std**2
        normal = keras.initializers.RandomNormal
        if self.mode == "dense":
            if self.count_params_for(d) > DENSE_PARAMS_WARNING:
                warnings.warn(
                    f"KernelGenerator(mode='dense') will hold {self.count_params_for(d):,} parameters "
                    f"(> {DENSE_PARAMS_WARNING:,}). Consider mode='basis' or mode='low_rank'.",
                    stacklevel=2,
                )
            # Var(kernel) = D · Var(W) · Var(context) = target.
            self.projection_kernel = self.add_weight(
                name="projection_kernel", shape=(d, o * n * c), initializer=normal(stddev=math.sqrt(target_var / d))
            )
            self.projection_bias = self.add_weight(name="projection_bias", shape=(o * n * c,), initializer="zeros")
        elif self.mode == "low_rank":
            # Var(kernel) = r · Var(U) · Var(V); give both factors variance sqrt(target / r).
            factor_var = math.sqrt(target_var / self.rank)
            init = normal(stddev=math.sqrt(factor_var / d))
            self.left_kernel = self.add_weight(name="left_kernel", shape=(d, o * self.rank), initializer=init)
            self.left_bias = self.add_weight(name="left_bias", shape=(o * self.rank,), initializer="zeros")
            self.right_kernel = self.add_weight(name="right_kernel", shape=(d, self.rank * n * c), initializer=init)
            self.right_bias = self.add_weight(name="right_bias", shape=(self.rank * n * c,), initializer="zeros")
        else:
            # Var(kernel) = N · Var(coefficient) · Var(basis) with Var(basis) = target and Var(coefficient) = 1 / N.
            self.bases = self.add_weight(
                name="bases", shape=(self.num_bases, o * n * c), initializer=normal(stddev=self.target_std)
            )
            self.mixing_kernel = self.add_weight(
                name="mixing_kernel",
                shape=(d, self.num_bases),
                initializer=normal(stddev=math.sqrt(1.0 / (self.num_bases * d))),
            )
            self.mixing_bias = self.add_weight(name="mixing_bias", shape=(self.num_bases,), initializer="zeros")
        if self.use_bias:
            self.bias_kernel = self.add_weight(name="bias_kernel", shape=(d, o), initializer="zeros")
            self.bias_bias = self.add_weight(name="bias_bias", shape=(o,), initializer="zeros")
        self.built = True

    def call(self, context, sample_mask=None):
        self._check_context_shape(context.shape)
        o, c, n = self.filters, self.in_channels, self.generated_taps
        if self.mode == "dense":
            flat = ops.matmul(context, self.projection_kernel) + self.projection_bias
        elif self.mode == "low_rank":
            left = ops.reshape(ops.matmul(context, self.left_kernel) + self.left_bias, (-1, o, self.rank))
            right = ops.reshape(ops.matmul(context, self.right_kernel) + self.right_bias, (-1, self.rank, n * c))
            flat = ops.matmul(left, right)
        else:
            coefficients = ops.matmul(context, self.mixing_kernel) + self.mixing_bias
            flat = ops.matmul(coefficients, self.bases)
        kernel = ops.reshape(flat, (-1, o, n, c))
        pattern = self.expansion
        if pattern is not None:
            kernel = ops.take(kernel, list(pattern), axis=2)
        if len(self.kernel_shape) > 1:
            kernel = ops.reshape(kernel, (-1, o, *self.kernel_shape, c))
        if self.kernel_mask is not None:
            kernel = kernel * ops.cast(self.kernel_mask, kernel.dtype)
        if sample_mask is not None:
            check_broadcastable("sample_mask", sample_mask.shape, (None, o, *self.kernel_shape, c))
            kernel = kernel * ops.cast(sample_mask, kernel.dtype)
        if not self.use_bias:
            return kernel
        return kernel, ops.matmul(context, self.bias_kernel) + self.bias_bias

    def compute_output_shape(self, context_shape, sample_mask_shape=None):
        self._check_context_shape(context_shape)
        kernel_shape = (context_shape[0], self.filters, *self.kernel_shape, self.in_channels)
        if not self.use_bias:
            return kernel_shape
        return kernel_shape, (context_shape[0], self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"filters": self.filters, "kernel_size": self.kernel_size, "in_channels": self.in_channels,
             "use_bias": self.use_bias, **generator_config(self)}
        )
        return config
