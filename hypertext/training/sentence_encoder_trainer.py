"""Training a `SentenceEncoder` by distillation: a tokenizer for meaning, piece vectors started from the teacher, and
the Matryoshka distillation loss on a corpus whose teacher vectors are cached.

    python -m hypertext.training.sentence_encoder_trainer --corpus registers+everyday --output runs/head
        [--vocab-size 32000] [--epochs 4] [--into english]   # --into: write a TextAutoencoder holding the encoder

The steps (`train_sentence_encoder`):

1. a SentencePiece unigram tokenizer of `vocab_size` pieces trained on the corpus;
2. the teacher's vectors of the training texts (`hypertext.models.objectives.teacher`, cached, resumable), rotated
   onto their principal axes (an orthogonal map: no cosine changes), so that leading widths carry the most variance
   and Matryoshka truncation has something to keep;
3. the piece vectors started at the teacher's vector of each piece read as a text of its own (the piece's surface
   form), rotated the same way, and the piece weights at SIF's `a / (a + p(piece))` from corpus frequencies: before
   any step the encoder is a frequency-weighted mean of what the teacher says of each piece;
4. training with `matryoshka_distillation_loss` at `matryoshka_dims` on length-bucketed batches.
"""

import argparse
import os
import time

import keras
import numpy as np

from hypertext.checks import check_int
from hypertext.lengths import group_by_length, pad_batch
from hypertext.models.objectives.matryoshka_distillation import matryoshka_distillation_loss
from hypertext.models.sentence_encoder import SentenceEncoder
from hypertext.tokenizers.sentencepiece_tokenizer import SentencePieceTokenizer

BYTE_PIECES = 256
SPECIAL_PIECES = 4


def principal_rotation(vectors, limit=200_000, seed=0):
    """The orthogonal `(dim, dim)` matrix whose columns are the principal axes of `vectors` (a seeded sample of at most
    `limit` rows), the axis of most variance first. `vectors @ R` keeps every cosine."""
    vectors = np.asarray(vectors, "float64")
    if len(vectors) > limit:
        vectors = vectors[np.random.default_rng(seed).choice(len(vectors), limit, replace=False)]
    centred = vectors - vectors.mean(axis=0)
    values, axes = np.linalg.eigh(centred.T @ centred)
    axes = axes[:, np.argsort(values)[::-1]]
    axes *= np.where(axes[np.abs(axes).argmax(axis=0), np.arange(axes.shape[1])] < 0, -1.0, 1.0)  # a fixed sign
    return axes.astype("float32")


def pieces_per_word(tokenizer, texts):
    """How finely `tokenizer` cuts `texts`: `(pieces per running word, share of distinct words cut into more than one
    piece)`, words being whitespace-separated tokens. The measure behind the encoder's vocabulary size."""
    words = [w for t in texts for w in t.split()]
    if not words:
        return 0.0, 0.0
    distinct = sorted(set(words))
    lengths = dict(zip(distinct, map(len, tokenizer.encode(distinct))))
    return (sum(lengths[w] for w in words) / len(words), sum(lengths[w] > 1 for w in distinct) / len(distinct))


def piece_surfaces(tokenizer):
    """The text of every piece (SentencePiece's word-start mark made a space, then stripped); '' for the special and
    byte pieces, whose vectors are not started from the teacher."""
    processor = tokenizer.processor
    return ["" if processor.IsControl(i) or processor.IsUnknown(i) or processor.IsByte(i)
            else processor.IdToPiece(i).replace("\u2581", " ").strip() for i in range(tokenizer.vocab_size)]


def sif_logits(sequences, vocabulary_size, a=1e-3):
    """`log(a / (a + p))` per piece, `p` its frequency in `sequences`; pieces never seen get the rarest's weight."""
    counts = np.bincount(np.concatenate([np.asarray(s, "int64") for s in sequences if len(s)] or [np.zeros(0, "int64")]),
                         minlength=vocabulary_size).astype("float64")
    p = counts / max(counts.sum(), 1.0)
    return np.log(a / (a + p)).astype("float32")


def initial_piece_vectors(tokenizer, teacher_encode, rotation, seed=0):
    """`(vocab, dim)`: the teacher's vector of each piece's surface text, rotated; small random vectors for pieces
    with no surface (special and byte pieces)."""
    surfaces = piece_surfaces(tokenizer)
    dim = rotation.shape[0]
    vectors = np.random.default_rng(seed).normal(0.0, 0.01, (len(surfaces), dim)).astype("float32")
    rows = [i for i, s in enumerate(surfaces) if s]
    if rows:
        encoded = np.asarray(teacher_encode([surfaces[i] for i in rows]), "float32")
        encoded /= np.maximum(np.linalg.norm(encoded, axis=1, keepdims=True), 1e-9)
        vectors[rows] = encoded @ rotation
    return vectors


class DistillationBatches(keras.utils.PyDataset):
    """`(token_ids, teacher_vectors)` batches of texts of similar length, reshuffled every epoch (seeded)."""

    def __init__(self, sequences, targets, batch_size, max_length, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.sequences, self.targets = sequences, np.asarray(targets, "float32")
        self.batch_size, self.max_length, self.seed, self.epoch = batch_size, max_length, seed, 0
        self.lengths = np.asarray([min(max(len(s), 1), max_length) for s in sequences])
        self.batches = self.plan()

    def plan(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(len(self.sequences))
        batches = [(order[indices], length) for indices, length in
                   group_by_length(self.lengths[order], self.batch_size, 1, self.max_length)]
        return [batches[i] for i in rng.permutation(len(batches))]

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        indices, length = self.batches[index]
        ids = pad_batch([self.sequences[i][:self.max_length] for i in indices], length)
        return ids, self.targets[indices]

    def on_epoch_end(self):
        self.epoch += 1
        self.batches = self.plan()


def train_sentence_encoder(texts, teacher, teacher_encode, vocab_size=32000, output_dim=None, context_width=256,
                           kernel_size=3, matryoshka_dims=(64, 128, 256), epochs=4, batch_size=256,
                           learning_rate=2e-3, similarity_weight=1.0, temperature=0.05, max_length=128,
                           tokenizer=None, seed=0, log=print, callbacks=(), init=None):
    """Trains a `SentenceEncoder` on `texts` and their teacher vectors `teacher` (`(N, dim)`), see the module
    docstring; `teacher_encode` (texts → vectors) starts the piece vectors. `init`: `(encoder, rotation)` of an
    earlier run to go on from (its tokenizer, weights and teacher basis; steps 1 and 3 are skipped). Returns
    `(encoder, rotation)`, the rotation being the orthogonal map from the teacher's space to the encoder's."""
    check_int("epochs", epochs, 0)
    check_int("batch_size", batch_size, 2)
    teacher = np.asarray(teacher, "float32")
    if len(texts) != len(teacher):
        raise ValueError(f"`texts` and `teacher` must have one row per text. Received: {len(texts)} texts and "
                         f"{len(teacher)} teacher vectors")
    output_dim = output_dim or teacher.shape[1]
    if output_dim != teacher.shape[1]:
        raise ValueError(f"`output_dim` must be the teacher's width, {teacher.shape[1]}. Received: "
                         f"output_dim={output_dim}")
    start = time.perf_counter()
    if init is not None:
        tokenizer = init[0].tokenizer
    if tokenizer is None:
        tokenizer = SentencePieceTokenizer.from_texts(texts, vocab_size=vocab_size, max_training_sentences=600_000,
                                                      seed=seed)
        log(f"tokenizer: {tokenizer.vocab_size:,} pieces in {time.perf_counter() - start:.0f} s")
    sequences = tokenizer.encode(texts)
    if init is not None:
        encoder, rotation = init
        dims = encoder.matryoshka_dims
    else:
        rotation = principal_rotation(teacher, seed=seed)
        dims = tuple(d for d in matryoshka_dims if d < output_dim) + (output_dim,)
        encoder = SentenceEncoder(tokenizer.vocab_size, output_dim=output_dim, context_width=context_width,
                                  kernel_size=kernel_size, matryoshka_dims=dims, tokenizer=tokenizer)
        encoder.build()
        encoder.pieces.embeddings.assign(initial_piece_vectors(tokenizer, teacher_encode, rotation, seed=seed))
        encoder.piece_weights.embeddings.assign(sif_logits(sequences, tokenizer.vocab_size)[:, None])
        log(f"piece vectors started from the teacher ({time.perf_counter() - start:.0f} s)")
    targets = teacher @ rotation
    batches = DistillationBatches(sequences, targets, batch_size, max_length, seed=seed)
    ids = keras.Input((None,), dtype="int32", name="token_ids")
    model = keras.Model(ids, encoder(ids))
    steps = max(1, epochs * len(batches))
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate * 0.1, steps, alpha=0.05,
                                                      warmup_target=learning_rate,
                                                      warmup_steps=min(200, steps // 10))
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss=lambda y_true, y_pred: matryoshka_distillation_loss(y_pred, y_true, dims, similarity_weight,
                                                                            temperature))
    if epochs:
        model.fit(batches, epochs=epochs, verbose=2, callbacks=list(callbacks))
    log(f"trained in {time.perf_counter() - start:.0f} s")
    return encoder, rotation


def save_run(folder, encoder, rotation):
    """`folder/sentence_encoder.keras` (the encoder in a one-layer model) and `folder/rotation.npy` (its teacher
    basis), what `load_run` and `--init-from` read."""
    os.makedirs(folder, exist_ok=True)
    ids = keras.Input((None,), dtype="int32", name="token_ids")
    keras.Model(ids, encoder(ids)).save(os.path.join(folder, "sentence_encoder.keras"))
    np.save(os.path.join(folder, "rotation.npy"), rotation)


def load_run(folder):
    """`(encoder, rotation)` from a folder that `save_run` wrote."""
    model = keras.saving.load_model(os.path.join(folder, "sentence_encoder.keras"))
    encoder = next(layer for layer in model.layers if isinstance(layer, SentenceEncoder))
    return encoder, np.load(os.path.join(folder, "rotation.npy"))


def attach(model, encoder, texts, metadata=None, calibration_texts=20_000, pieces_dtype="float16"):
    """A `TextAutoencoder` with `model`'s backbone, tokenizer, prior and lexicon, holding `encoder` as its
    `sentence_encoder` (its piece vectors stored as `pieces_dtype`, which halves their size in a checkpoint), with
    `model`'s metadata and `metadata` (and the encoder's `matryoshka_dims`), and int8 ranges calibrated anew on (a
    sample of) `texts`."""
    from hypertext.models import TextAutoencoder

    merged = {k: v for k, v in model.metadata.items() if not k.startswith("vector_ranges")}
    merged.update(metadata or {})
    merged["matryoshka_dims"] = list(encoder.matryoshka_dims)
    joined = TextAutoencoder(backbone=model.backbone, tokenizer=model.tokenizer, metadata=merged,
                             sentence_encoder=encoder.with_pieces_dtype(pieces_dtype) if pieces_dtype else encoder)
    joined.build()
    for mine, theirs in zip(joined.prior.weights, model.prior.weights):
        mine.assign(theirs)
    if model.lexicon.words:
        joined.lexicon.set_words(model.lexicon.words)
    return joined.calibrate_vectors(texts, limit=calibration_texts)


def main(argv=None):
    import hypertext
    from hypertext.data import load_texts
    from hypertext.models.objectives.teacher import TEACHER, load_teacher, teacher_vectors

    parser = argparse.ArgumentParser(prog="python -m hypertext.training.sentence_encoder_trainer",
                                     description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True, help="corpus names or files, as for train.py --corpus")
    parser.add_argument("--output", required=True, help="folder: sentence_encoder.keras (and model.keras with "
                        "--into)")
    parser.add_argument("--vocab-size", type=int, default=32000)
    parser.add_argument("--context-width", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--limit", type=int, default=0, help="at most this many training texts (0: all)")
    parser.add_argument("--cached-only", action="store_true",
                        help="train on the texts whose teacher vectors are already cached, encode none")
    parser.add_argument("--init-from", help="a folder of an earlier run (OUTPUT of this command): go on training it")
    parser.add_argument("--into", help="a preset or .keras file: also write OUTPUT/model.keras, that model holding "
                        "the trained encoder (encode() returns its vectors)")
    args = parser.parse_args(argv)
    texts = load_texts(args.corpus, "train")
    if args.cached_only:
        from hypertext.models.objectives.teacher import cached_texts

        texts = cached_texts(texts)
    if args.limit:
        texts = texts[:args.limit]
    encode = load_teacher()
    teacher = teacher_vectors(texts, encode=encode)
    encoder, rotation = train_sentence_encoder(
        texts, teacher, encode, vocab_size=args.vocab_size, context_width=args.context_width, epochs=args.epochs,
        batch_size=args.batch_size, learning_rate=args.learning_rate,
        init=load_run(args.init_from) if args.init_from else None)
    save_run(args.output, encoder, rotation)
    print(f"wrote {args.output}/sentence_encoder.keras and rotation.npy")
    if args.into:
        model = attach(hypertext.load(args.into), encoder, texts,
                       {"sentence_encoder": {"corpus": args.corpus, "texts": len(texts), "teacher": TEACHER,
                                             "vocab_size": encoder.vocabulary_size, "epochs": args.epochs}})
        model.save(os.path.join(args.output, "model.keras"))
        print(f"wrote {os.path.join(args.output, 'model.keras')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
