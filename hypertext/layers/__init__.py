"""hypertext's Keras layers. Every class is registered for `.keras` serialisation under the package "hypertext"."""

from hypertext.layers.per_sample_conv1d import PerSampleConv1D

__all__ = ["PerSampleConv1D"]
