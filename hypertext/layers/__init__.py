"""hypertext's Keras layers. Every class is registered for `.keras` serialisation under the package "hypertext"."""

from hypertext.layers.hyper_conv1d import HyperConv1D
from hypertext.layers.hyper_conv1d_transpose import HyperConv1DTranspose
from hypertext.layers.hyper_conv2d import HyperConv2D
from hypertext.layers.hyper_conv2d_transpose import HyperConv2DTranspose
from hypertext.layers.kernel_generator import KernelGenerator
from hypertext.layers.per_sample_conv1d import PerSampleConv1D
from hypertext.layers.per_sample_conv1d_transpose import PerSampleConv1DTranspose
from hypertext.layers.per_sample_conv2d import PerSampleConv2D
from hypertext.layers.per_sample_conv2d_transpose import PerSampleConv2DTranspose

__all__ = ["HyperConv1D", "HyperConv1DTranspose", "HyperConv2D", "HyperConv2DTranspose", "KernelGenerator",
           "PerSampleConv1D", "PerSampleConv1DTranspose", "PerSampleConv2D", "PerSampleConv2DTranspose"]
