"""Training a `SentenceEncoder` by distillation: a tokenizer for meaning, piece vectors started from the teacher, and
the Matryoshka distillation loss on a corpus whose teacher vectors are cached.

    python -m hypertext.training.sentence_encoder_trainer --corpus registers+everyday --output runs/head
        [--vocab-size 32000] [--epochs 4] [--into english]   # --into: write a TextAutoencoder holding the encoder
        [--pairs registers+wordnet --pair-weight 0.1]       # InfoNCE on the corpora's natural pairs as well
        [--pair-balance]                                     # each corpus of --pairs an equal share of them
        [--init-from english]                                # go on from a run folder or a model with an encoder

The steps (`train_sentence_encoder`):

1. a SentencePiece unigram tokenizer of `vocab_size` pieces trained on the corpus;
2. the teacher's vectors of the training texts (`hypertext.models.objectives.teacher`, cached, resumable), rotated
   onto their principal axes (an orthogonal map: no cosine changes), so that leading widths carry the most variance
   and Matryoshka truncation has something to keep;
3. the piece vectors started at the teacher's vector of each piece read as a text of its own (the piece's surface
   form), rotated the same way, and the piece weights at SIF's `a / (a + p(piece))` from corpus frequencies: before
   any step the encoder is a frequency-weighted mean of what the teacher says of each piece;
4. training with `matryoshka_distillation_loss` at `matryoshka_dims` on length-bucketed batches, plus, with
   `pairs`, `pair_weight` times `pair_infonce_loss` (at the same widths) on a batch of natural pairs per step (a
   turn and its reply, a question and its answer, a WordNet example and its definition: `load_pairs`). The pairs
   need no teacher vectors, so they also reach texts the teacher cache does not hold.
"""

import argparse
import os
import time

import keras
import numpy as np

from hypertext.checks import check_int
from hypertext.lengths import group_by_length, pad_batch
from hypertext.models.objectives.matryoshka_distillation import (matryoshka_distillation_loss,
                                                                    matryoshka_pair_infonce_loss)
from hypertext.models.sentence_encoder import SentenceEncoder
from hypertext.tokenizers.sentencepiece_tokenizer import SentencePieceTokenizer
from hypertext.vectors import unit

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


def rotation_onto(encoder, texts, teacher, limit=20_000, seed=0):
    """The orthogonal `(dim, dim)` map `R` that best carries the teacher's vectors of `texts` onto `encoder`'s
    (orthogonal Procrustes on a seeded sample of at most `limit` texts: `R = U V^T` for `teacher^T student = U S V^T`).
    It recovers the basis of an encoder whose run folder is gone (e.g. the one inside a preset), so that training
    can go on from it."""
    teacher = np.asarray(teacher, "float64")
    rows = np.arange(len(texts))
    if len(rows) > limit:
        rows = np.sort(np.random.default_rng(seed).choice(len(rows), limit, replace=False))
    student = np.asarray(encoder.encode([texts[i] for i in rows]), "float64")
    u, _, vt = np.linalg.svd(unit(teacher[rows]).T @ unit(student))
    return (u @ vt).astype("float32")


def pieces_per_word(tokenizer, texts):
    """How finely `tokenizer` cuts `texts`: `(pieces per running word, share of distinct words cut into more than one
    piece)`, words being whitespace-separated tokens. The measure behind the encoder's vocabulary size."""
    words = [w for t in texts for w in t.split()]
    if not words:
        return 0.0, 0.0
    distinct = sorted(set(words))
    lengths = dict(zip(distinct, map(len, tokenizer.encode(distinct))))
    return (sum(lengths[w] for w in words) / len(words), sum(lengths[w] > 1 for w in distinct) / len(distinct))


def balance_pairs(groups, seed=0):
    """One list of the pairs of `groups` (a list of pair lists, e.g. one per corpus), each group repeated, in a seeded
    order, up to the size of the largest: drawn in a random order, each group then fills an equal share of every pair
    batch on average, so a small source (WordNet's 43,518 example-definition pairs) is not drowned by a large one (the
    register corpus's 371,718)."""
    groups = [list(group) for group in groups if len(group)]
    if not groups:
        return []
    size = max(map(len, groups))
    rng = np.random.default_rng(seed)
    out = []
    for group in groups:
        whole, rest = divmod(size, len(group))
        out += group * whole + [group[i] for i in np.sort(rng.choice(len(group), rest, replace=False))]
    return out


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
    """`(token_ids, teacher_vectors)` batches of texts of similar length, reshuffled every epoch (seeded).

    With `pairs` (a list of `(ids_a, ids_b)`), each batch is instead `({"token_ids", "first", "second"},
    {"distillation": teacher_vectors, "pairs": zeros})`: the same distillation batch and `pair_batch_size` pairs,
    taken in a seeded order that goes round the pairs (each side cut and padded to `pair_length` ids)."""

    def __init__(self, sequences, targets, batch_size, max_length, seed=0, pairs=None, pair_batch_size=128,
                 pair_length=64, **kwargs):
        super().__init__(**kwargs)
        self.sequences, self.targets = sequences, np.asarray(targets, "float32")
        self.batch_size, self.max_length, self.seed, self.epoch = batch_size, max_length, seed, 0
        self.pairs, self.pair_batch_size, self.pair_length = pairs or None, pair_batch_size, pair_length
        self.lengths = np.asarray([min(max(len(s), 1), max_length) for s in sequences])
        self.pair_order = (np.random.default_rng([seed, 1]).permutation(len(self.pairs)) if self.pairs else None)
        self.batches = self.plan()

    def plan(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(len(self.sequences))
        batches = [(order[indices], length) for indices, length in
                   group_by_length(self.lengths[order], self.batch_size, 1, self.max_length)]
        batches = [batches[i] for i in rng.permutation(len(batches))]
        # Keras fixes a PyDataset's input shapes on TensorFlow from its first two batches: where they share a length,
        # that length would be fixed for the whole run. A batch of another length goes second.
        other = next((i for i in range(2, len(batches)) if batches[i][1] != batches[0][1]), None)
        if len(batches) > 2 and batches[1][1] == batches[0][1] and other is not None:
            batches[1], batches[other] = batches[other], batches[1]
        return batches

    def __len__(self):
        return len(self.batches)

    def side(self, sequences):
        # One fixed width: Keras fixes a PyDataset's input shapes from its first batches, and the encoder ignores pads.
        return pad_batch([s[:self.pair_length] for s in sequences], self.pair_length)

    def __getitem__(self, index):
        indices, length = self.batches[index]
        ids = pad_batch([self.sequences[i][:self.max_length] for i in indices], length)
        if self.pairs is None:
            return ids, self.targets[indices]
        start = ((self.epoch * len(self.batches) + index) * self.pair_batch_size) % len(self.pairs)
        chosen = [self.pairs[self.pair_order[(start + j) % len(self.pairs)]] for j in range(self.pair_batch_size)]
        inputs = {"token_ids": ids, "first": self.side([a for a, _ in chosen]),
                  "second": self.side([b for _, b in chosen])}
        return inputs, {"distillation": self.targets[indices], "pairs": np.zeros((len(chosen), 1), "float32")}

    def on_epoch_end(self):
        self.epoch += 1
        self.batches = self.plan()


def matryoshka_pair_loss(dims, temperature):
    """The loss of the `pairs` output (the two sides' vectors side by side): `matryoshka_pair_infonce_loss`."""
    def loss(_, both):
        half = both.shape[-1] // 2
        return matryoshka_pair_infonce_loss(both[:, :half], both[:, half:], dims, temperature)
    return loss


def train_sentence_encoder(texts, teacher, teacher_encode, vocab_size=32000, output_dim=None, context_width=256,
                           kernel_size=3, matryoshka_dims=(64, 128, 256), epochs=4, batch_size=256,
                           learning_rate=2e-3, similarity_weight=1.0, temperature=0.05, max_length=128,
                           tokenizer=None, seed=0, log=print, callbacks=(), init=None, pairs=None, pair_weight=0.1,
                           pair_batch_size=128, pair_temperature=0.05):
    """Trains a `SentenceEncoder` on `texts` and their teacher vectors `teacher` (`(N, dim)`), see the module
    docstring; `teacher_encode` (texts → vectors) starts the piece vectors. `init`: `(encoder, rotation)` of an
    earlier run to go on from (its tokenizer, weights and teacher basis; steps 1 and 3 are skipped). `pairs`: a list
    of `(text_a, text_b)` (or `load_pairs`' triples) for the InfoNCE term, weighted by `pair_weight`, with
    `pair_batch_size` pairs a step (the other pairs of the batch are the negatives). Returns `(encoder, rotation)`,
    the rotation being the orthogonal map from the teacher's space to the encoder's."""
    check_int("epochs", epochs, 0)
    check_int("batch_size", batch_size, 2)
    if pairs:
        check_int("pair_batch_size", pair_batch_size, 2)
        if len(pairs) < pair_batch_size:
            raise ValueError(f"`pairs` must hold at least `pair_batch_size` pairs. Received: {len(pairs)} pairs and "
                             f"pair_batch_size={pair_batch_size}")
        if not pair_weight > 0:
            raise ValueError(f"`pair_weight` must be > 0 when `pairs` are given. Received: pair_weight={pair_weight}")
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
    if pairs:
        first, second = tokenizer.encode([p[0] for p in pairs]), tokenizer.encode([p[1] for p in pairs])
        pairs = [(a, b) for a, b in zip(first, second) if len(a) and len(b)]
    batches = DistillationBatches(sequences, targets, batch_size, max_length, seed=seed, pairs=pairs,
                                  pair_batch_size=pair_batch_size)
    ids = keras.Input((None,), dtype="int32", name="token_ids")
    if pairs:
        sides = [keras.Input((None,), dtype="int32", name=name) for name in ("first", "second")]
        outputs = {"distillation": encoder(ids),
                   "pairs": keras.layers.Concatenate(name="pairs")([encoder(side) for side in sides])}
        model = keras.Model({"token_ids": ids, "first": sides[0], "second": sides[1]}, outputs)
    else:
        model = keras.Model(ids, encoder(ids))
    steps = max(1, epochs * len(batches))
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate * 0.1, steps, alpha=0.05,
                                                      warmup_target=learning_rate,
                                                      warmup_steps=min(200, steps // 10))
    distillation = lambda y_true, y_pred: matryoshka_distillation_loss(  # noqa: E731
        y_pred, y_true, dims, similarity_weight, temperature)
    if pairs:
        model.compile(optimizer=keras.optimizers.Adam(schedule),
                      loss={"distillation": distillation, "pairs": matryoshka_pair_loss(dims, pair_temperature)},
                      loss_weights={"distillation": 1.0, "pairs": pair_weight})
    else:
        model.compile(optimizer=keras.optimizers.Adam(schedule), loss=distillation)
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


def init_from(source, texts, teacher):
    """`(encoder, rotation)` to go on from: a run folder that `save_run` wrote, or a preset or `.keras` file whose
    model holds a `sentence_encoder` (its piece vectors made float32 for training; its basis recovered from `texts`
    and their teacher vectors by `rotation_onto`)."""
    if os.path.isfile(os.path.join(str(source), "rotation.npy")):
        return load_run(source)
    import hypertext

    encoder = hypertext.load(source).sentence_encoder
    if encoder is None:
        raise ValueError(f"`init_from` must be a run folder or a model with a sentence encoder. Received: "
                         f"{source!r}, a model without one")
    encoder = encoder.with_pieces_dtype(None)
    return encoder, rotation_onto(encoder, texts, teacher)


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
    from hypertext.data import load_pairs, load_texts
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
    parser.add_argument("--init-from", help="a folder of an earlier run (OUTPUT of this command), or a preset or "
                        ".keras file with a sentence encoder (its teacher basis recovered by `rotation_onto`): go on "
                        "training that encoder")
    parser.add_argument("--pairs", help="corpora whose natural pairs train the InfoNCE term too, joined by '+' "
                        "('registers', 'wordnet'; training split)")
    parser.add_argument("--pair-balance", action="store_true",
                        help="give each corpus of --pairs an equal share of the pair batches (smaller ones repeated)")
    parser.add_argument("--pair-weight", type=float, default=0.1)
    parser.add_argument("--pair-batch-size", type=int, default=128)
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
    groups = [load_pairs(source, "train") for source in args.pairs.split("+")] if args.pairs else []
    pairs = (balance_pairs(groups) if args.pair_balance else [p for group in groups for p in group]) or None
    encoder, rotation = train_sentence_encoder(
        texts, teacher, encode, vocab_size=args.vocab_size, context_width=args.context_width, epochs=args.epochs,
        batch_size=args.batch_size, learning_rate=args.learning_rate,
        init=init_from(args.init_from, texts, teacher) if args.init_from else None, pairs=pairs,
        pair_weight=args.pair_weight, pair_batch_size=args.pair_batch_size)
    save_run(args.output, encoder, rotation)
    print(f"wrote {args.output}/sentence_encoder.keras and rotation.npy")
    if args.into:
        model = attach(hypertext.load(args.into), encoder, texts,
                       {"sentence_encoder": {"corpus": args.corpus, "texts": len(texts), "teacher": TEACHER,
                                             "vocab_size": encoder.vocabulary_size, "epochs": args.epochs,
                                             "pairs": args.pairs, "pair_weight": args.pair_weight if args.pairs
                                             else 0.0, "pair_balance": args.pair_balance,
                                             "init_from": args.init_from}})
        model.save(os.path.join(args.output, "model.keras"))
        print(f"wrote {os.path.join(args.output, 'model.keras')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
