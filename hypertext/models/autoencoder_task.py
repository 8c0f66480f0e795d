"""`AutoencoderTask`: what trains, a backbone with the objectives (and their training-only heads)."""

import keras
from keras import ops

from hypertext import __version__
from hypertext.configs import Config, ObjectiveConfig
from hypertext.models.hypertext_backbone import HypertextBackbone
from hypertext.models.objectives import OBJECTIVES, noisy_latent, reconstruction_loss, reconstruction_metrics
from hypertext.models.text_autoencoder import TextAutoencoder

INPUT_KEYS = ("token_ids", "positive_ids", "teacher_vectors")
# The key of a model's `metadata` under which a checkpoint records the hypertext version that wrote it.
VERSION_KEY = "hypertext_version"


class AutoencoderTask(keras.Model):
    """The training view of a text autoencoder: a `HypertextBackbone`, trained to reconstruct its input (the
    compiled loss, `objectives.reconstruction`), plus every objective of `hypertext.models.objectives` whose weight
    is > 0, each adding `weight * loss` and owning its training-only weights. `text_model()` is the
    `TextAutoencoder` that shares the backbone, without those heads: what a checkpoint holds.

    It is not saved as a `.keras` model itself (only in a run's backup, as weights, for `--resume`).

    Args:
        config: a recipe `Config` (its model and objective parts are used), or a `ModelConfig`/dict with
            `objectives`.
        tokenizer, metadata: what `text_model()` gives the models it makes.
        objectives: an `ObjectiveConfig` (default: the recipe's, or all objectives off).
        backbone: an existing `HypertextBackbone` (e.g. `hypertext.load(...).backbone`); default: a new one.

    With `latent_noise` > 0, the decoder reads `z` plus noise in training (`objectives.latent_noise`).

    Call arguments:
        inputs: int token ids `(batch, length)`, or a dict of them (`"token_ids"`), of a positive of each text
            (`"positive_ids"`, `(batch, any length)`) for the contrastive objective, and of a teacher's vectors of
            the texts (`"teacher_vectors"`, `(batch, any width)`) for distillation. Each objective's loss is added
            whenever its inputs come (and, for training-only ones, in training).

    Returns:
        float32 logits `(batch, length, vocab_size)`.

    Example:

    >>> task = AutoencoderTask(get_config("tiny"), tokenizer)
    >>> task.compile_for_training(optimizer)
    >>> task.fit(batches)
    >>> task.text_model().save("model.keras")
    """

    def __init__(self, config, tokenizer=None, metadata=None, objectives=None, backbone=None, **kwargs):
        super().__init__(**kwargs)
        if objectives is None:
            objectives = config.objectives if isinstance(config, Config) else ObjectiveConfig()
        self.objective_config = objectives.validate()
        self.backbone = HypertextBackbone(config, dtype=self.dtype_policy) if backbone is None else backbone
        self.tokenizer = tokenizer
        self.metadata = dict(metadata or {})
        self.objectives = [cls(self.config, objectives, dtype=self.dtype_policy) for cls in OBJECTIVES.values()
                           if cls.is_active(objectives)]
        self.noise_seed = (keras.random.SeedGenerator(17, name="noise_seed") if objectives.latent_noise > 0
                           else None)

    @property
    def config(self):
        """The backbone's `ModelConfig`."""
        return self.backbone.config

    def objective(self, name):
        """The objective layer named `name` (e.g. "bag_of_tokens"), or None when it is off."""
        return next((o for o in self.objectives if o.objective_name == name), None)

    def build(self, input_shape=None):
        if self.built:
            return
        self.backbone.build()
        for objective in self.objectives:
            objective.build((None, self.config.latent_dim))
        self.built = True

    def compile_for_training(self, optimizer, jit_compile="auto"):
        """`compile` with the reconstruction loss and metric (`jit_compile`: Keras', `"auto"` jits on JAX)."""
        self.compile(optimizer=optimizer, loss=reconstruction_loss(), weighted_metrics=reconstruction_metrics(),
                     jit_compile=jit_compile)
        return self

    def call(self, inputs, training=False):
        if isinstance(inputs, dict):
            unknown = sorted(set(inputs) - set(INPUT_KEYS))
            if unknown or "token_ids" not in inputs:
                raise ValueError("A dict input must have the key 'token_ids' and optionally 'positive_ids' and "
                                 f"'teacher_vectors'. Received: keys={sorted(inputs)}")
        else:
            inputs = {"token_ids": inputs}
        token_ids = inputs["token_ids"]
        features = self.backbone.encoder_features(token_ids)
        z = self.backbone.encode_ids(token_ids, training=training, features=features)
        for objective in self.objectives:
            if objective.applies(inputs, training):
                self.add_loss(objective.weight * objective.objective_loss(inputs, z, self.backbone, training,
                                                                          features=features))
        if training and self.noise_seed is not None:
            z = noisy_latent(z, self.objective_config.latent_noise, self.noise_seed)
        length = token_ids.shape[1]  # None inside a tf.function traced for every length (reduce_retracing)
        return self.backbone.decode_latent(z, length=ops.shape(token_ids)[1] if length is None else length,
                                           training=training)

    def text_model(self):
        """The `TextAutoencoder` of this task's backbone (shared, not copied), tokenizer and metadata (plus the
        version of hypertext that makes it, under `VERSION_KEY`): no optimizer state and no training-only head.
        What `train()` saves as a run's `model.keras`."""
        return TextAutoencoder(backbone=self.backbone, tokenizer=self.tokenizer,
                               metadata={**self.metadata, VERSION_KEY: __version__})
