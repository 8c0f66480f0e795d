"""`read_corpus` and `CorpusData.batches`, what a run reads (the streaming cases: tests/data/test_streaming.py)."""

import pytest

from hypertext.data.corpus_data import RunBatches, read_corpus
from tests.models.conftest import corpus, tiny_config, tiny_tokenizer  # noqa: F401


def test_distributed_batches_refuse_the_pair_objectives(tiny_config, tiny_tokenizer, corpus, tmp_path):
    text_file = tmp_path / "corpus.txt"
    text_file.write_text("\n".join(corpus[:300]) + "\n")
    data = read_corpus(str(text_file), tiny_config, log=lambda *_: None)
    for field in ("contrastive_weight", "distill_weight"):
        with pytest.raises(ValueError, match="A distributed run needs a corpus that fits in memory, "
                                             f"`contrastive_weight` 0 and `distill_weight` 0. Received: .*{field}=1.0"):
            data.batches(tiny_tokenizer, tiny_config.replace(**{field: 1.0}), distributed=True)
    run = data.batches(tiny_tokenizer, tiny_config.replace(batch_size=8), distributed=True)
    assert isinstance(run, RunBatches) and run.idf_sequences is not None
    train, steps = run.train, run.steps_per_epoch
    batches = train.take(steps) if hasattr(train, "take") else (train[i] for i in range(steps))  # tf.data or NumPy
    batch_sizes = {int(x.shape[0]) for x, _, _ in batches}
    assert batch_sizes == {8}  # full batches only: each splits evenly over the replicas
