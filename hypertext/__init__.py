"""hypertext: hypernetwork text models on Keras 3."""

__version__ = "0.1.0"

from hypertext import layers  # noqa: E402,F401
