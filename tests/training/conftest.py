# The model tests' corpus, tokenizer and tiny config.
from tests.models.conftest import corpus, tiny_config, tiny_tokenizer  # noqa: F401
