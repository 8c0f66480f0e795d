"""The hypertext model family, in the manner of keras-hub's `models/<name>/`:

- `HypertextBackbone` (`hypertext_backbone.py`): the network, token ids → z → logits; `blocks.py` its layers.
- `HypertextPreprocessor` (`hypertext_preprocessor.py`): texts → the id windows the backbone reads, bucketed.
- `TextAutoencoder` (`text_autoencoder.py`): backbone + tokenizer with the text API; what checkpoints hold.
- `AutoencoderTask` (`autoencoder_task.py`): backbone + training objectives (`objectives/`), what trains.
- `SentenceEncoder` (`sentence_encoder.py`): a sentence-embedding network with a vocabulary of its own, which a
  `TextAutoencoder` may hold for `encode()`.
"""

from hypertext.models.autoencoder_task import AutoencoderTask
from hypertext.models.hypertext_backbone import HypertextBackbone
from hypertext.models.hypertext_preprocessor import HypertextPreprocessor
from hypertext.models.sentence_encoder import SentenceEncoder
from hypertext.models.text_autoencoder import TextAutoencoder

__all__ = ["AutoencoderTask", "HypertextBackbone", "HypertextPreprocessor", "SentenceEncoder", "TextAutoencoder"]
