"""hypertext: hypernetwork text models on Keras 3.

    import hypertext
    model = hypertext.load("runs/default/model.keras")
    z = model.encode(["a small domesticated carnivore"])
"""

__version__ = "0.1.0"

from hypertext import layers  # noqa: E402,F401
from hypertext.saving import CheckpointError, load  # noqa: E402,F401
