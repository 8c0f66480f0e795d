"""Reconstruction metrics that `evaluate.py` and `train.py` report, and sentence-vector measurements (the lexname
probe, same-meaning and noise retrieval) that take any encoder: a model with `encode`, or a function
texts -> vectors (see `benchmarks/vectors.py`)."""

import collections
import math
import re
import time
import warnings

import keras
import numpy as np

from hypertext.lengths import group_by_length, pad_batch
from hypertext.tokenizers.sentencepiece_tokenizer import EOS_ID


def reconstruction_metrics(model, texts, batch_size=256, return_outputs=False, pieces=None):
    """Reconstructs `texts` whole (texts longer than `max_length` window by window, see
    `TextAutoencoder.reconstruct_pieces`) and scores the result against the full original texts.

    Keys: `num_examples`; `token_accuracy`, the fraction of the reference pieces (eos included) that the
    reconstruction has at the same position; `exact_match`, the fraction of texts whose reconstruction equals the
    original text exactly; `bleu` and `chrf`, sacrebleu corpus scores (0-100) against the original texts; `seconds`.
    Nothing is truncated: the references are the texts as given. `pieces`, optional: the texts already tokenized.
    """
    import sacrebleu

    start = time.perf_counter()
    references = [str(t) for t in texts]
    pieces = model.tokenizer.encode(references) if pieces is None else pieces
    predicted = model.reconstruct_pieces(pieces, batch_size)
    hits = total = 0
    for ref, hyp in zip(pieces, predicted):
        ref, hyp = ref + [EOS_ID], hyp + [EOS_ID]
        hits += sum(a == b for a, b in zip(ref, hyp))
        total += len(ref)
    hypotheses = model.tokenizer.decode(predicted) if references else []
    exact = float(np.mean([h == r for h, r in zip(hypotheses, references)])) if references else 0.0
    bleu = sacrebleu.corpus_bleu(hypotheses, [references]).score if references else 0.0
    chrf = sacrebleu.corpus_chrf(hypotheses, [references]).score if references else 0.0
    metrics = {
        "num_examples": len(references),
        "token_accuracy": round(hits / total, 5) if total else 0.0,
        "exact_match": round(exact, 5),
        "bleu": round(float(bleu), 3),
        "chrf": round(float(chrf), 3),
        "seconds": round(time.perf_counter() - start, 3),
    }
    return (metrics, references, hypotheses) if return_outputs else metrics


def context_ablation(model, texts, batch_size=256):
    """How much the decoder relies on its per-sample kernels: token accuracy when every hyper layer gets its own
    sample's context, against the same model when all samples of a batch share the batch's mean context (so every
    sample gets the same, average kernels). In this model `z` reaches the decoder only through those layers, so
    the second number is what the decoder makes without knowing which text it decodes. Texts are read up to
    `max_length` pieces; batches group texts of one length bucket."""
    if not model.config.hyper:
        raise ValueError("context_ablation needs a model with hyper layers (hyper=True).")
    preprocessor, backbone = model.preprocessor, model.backbone
    sequences = preprocessor.first_windows(preprocessor.tokenize(texts))
    hits = {"token_accuracy": 0, "token_accuracy_mean_context": 0}
    total = 0
    for indices, length in group_by_length([len(s) for s in sequences], batch_size, backbone.length_multiple,
                                           model.config.max_length):
        ids = pad_batch([sequences[i] for i in indices], length)
        z = backbone.encode_ids(ids)
        context = backbone.latent_context(z)
        mean = keras.ops.broadcast_to(keras.ops.mean(context, axis=0, keepdims=True), context.shape)
        mask = ids != 0
        total += int(mask.sum())
        for name, batch_context in (("token_accuracy", context), ("token_accuracy_mean_context", mean)):
            logits = backbone.decode_latent(z, length=length, context=batch_context)
            predicted = np.argmax(keras.ops.convert_to_numpy(logits), axis=-1)
            hits[name] += int((predicted == ids)[mask].sum())
    return {name: round(count / max(total, 1), 5) for name, count in hits.items()}


LENGTH_BUCKETS = ((1, 8), (9, 16), (17, 32), (33, 64), (65, 128), (129, None))


def metrics_by_length(model, texts, buckets=LENGTH_BUCKETS, batch_size=256):
    """Reconstruction quality per bucket of text length, counted in tokenizer pieces (eos excluded): per bucket
    `num_examples`, `bleu` and `exact_match`, against the full original texts (texts longer than `max_length`
    are reconstructed window by window)."""
    import sacrebleu

    texts = list(texts)
    pieces = model.tokenizer.encode(texts)
    lengths = np.array([len(p) for p in pieces])
    _, references, hypotheses = reconstruction_metrics(model, texts, batch_size, return_outputs=True, pieces=pieces)
    table = {}
    for low, high in buckets:
        chosen = np.flatnonzero((lengths >= low) & (lengths <= (high or np.inf)))
        name = f"{low}-{high}" if high else f">{low - 1}"
        if not len(chosen):
            table[name] = {"num_examples": 0}
            continue
        hyp = [hypotheses[i] for i in chosen]
        table[name] = {
            "num_examples": int(len(chosen)),
            "bleu": round(sacrebleu.corpus_bleu(hyp, [[references[i] for i in chosen]]).score, 3),
            "exact_match": round(float(np.mean([hypotheses[i] == references[i] for i in chosen])), 5),
        }
    return table


def encode_function(encoder, batch_size=256):
    """The function `texts -> (N, dim) float32 vectors` that the sentence-vector measurements below call.

    `encoder` is a model with an `encode(texts, batch_size=...)` method (a `TextAutoencoder`; a sentence-transformers
    model also fits), or any function from a list of texts to one vector per text. The returned function checks what
    it gets back: a 2-D array with one finite row per text. Warnings raised while encoding (a `TextAutoencoder`
    warns about the texts it truncates) are silenced."""
    if callable(getattr(encoder, "encode", None)):
        fn = lambda texts: encoder.encode(texts, batch_size=batch_size)  # noqa: E731
    elif callable(encoder):
        fn = encoder
    else:
        raise ValueError("`encoder` must be a model with an `encode(texts, batch_size)` method or a function "
                         f"from a list of texts to vectors. Received: encoder={encoder!r}")

    def encode(texts):
        texts = [str(t) for t in texts]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vectors = np.asarray(fn(texts), "float32")
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise ValueError("`encoder` must return one vector per text, an array of shape (num_texts, dim). "
                             f"Received: shape={vectors.shape} for {len(texts)} texts")
        if not np.isfinite(vectors).all():
            raise ValueError("`encoder` must return finite vectors. Received: vectors with NaN or infinity")
        return vectors

    return encode


TIE_TOLERANCE = 1e-6  # cosines closer than this count as tied (see retrieval_metrics)


def retrieval_metrics(query_vectors, key_vectors, query_labels, key_labels, exclude_self=False, ks=(1, 10)):
    """Cosine-similarity retrieval scores: each query ranks all keys, and the right answers are the keys with the
    query's label.

    A query's rank is the position of its first right key. Ties are broken at random, counted in expectation: a
    right key that ties with `t` wrong keys (and `r - 1` other right keys) scores the mean over all orders of the
    tied group, so an encoder gains nothing from giving many texts the same vector (a constant encoder scores
    exactly chance). With `exclude_self`, query i is key i (the keys may go on with more texts), and a query is
    not a candidate for itself. Zero vectors have cosine 0 with everything.

    Returns `recall_at_K` for each K in `ks` (the fraction of queries whose rank is <= K), `mrr` (the mean of
    1/rank), `num_queries` and `num_candidates` (keys per query)."""
    queries = np.asarray(query_vectors, "float64")
    keys = np.asarray(key_vectors, "float64")
    query_labels, key_labels = np.asarray(query_labels), np.asarray(key_labels)
    if queries.ndim != 2 or keys.ndim != 2 or queries.shape[1] != keys.shape[1]:
        raise ValueError("`query_vectors` and `key_vectors` must be 2-D arrays with the same number of columns. "
                         f"Received: shapes {queries.shape} and {keys.shape}")
    if query_labels.shape != (len(queries),) or key_labels.shape != (len(keys),):
        raise ValueError("`query_labels` and `key_labels` must hold one label per vector. Received: "
                         f"{query_labels.shape} labels for {len(queries)} queries, {key_labels.shape} for {len(keys)} keys")
    if exclude_self and len(queries) > len(keys):
        raise ValueError("`exclude_self` needs query i to be key i, so at least as many keys as queries. Received: "
                         f"{len(queries)} queries and {len(keys)} keys")
    if not len(queries):
        raise ValueError("`query_vectors` must hold at least one query. Received: 0 queries")
    # Dividing by the norm itself keeps parallel vectors exactly tied; zero vectors stay zero.
    queries /= np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    keys /= np.maximum(np.linalg.norm(keys, axis=1, keepdims=True), 1e-12)
    ks = tuple(int(k) for k in ks)
    recall = np.zeros((len(queries), len(ks)))
    reciprocal = np.zeros(len(queries))
    for begin in range(0, len(queries), 512):
        rows = np.arange(begin, min(begin + 512, len(queries)))
        scores = queries[rows] @ keys.T
        right = query_labels[rows, None] == key_labels[None, :]
        if exclude_self:
            scores[np.arange(len(rows)), rows] = -np.inf
            right[np.arange(len(rows)), rows] = False
        if not right.any(axis=1).all():
            missing = int(rows[np.flatnonzero(~right.any(axis=1))[0]])
            raise ValueError(f"Every query needs a right key among the candidates. Received: query {missing} "
                             f"(label {query_labels[missing]!r}) has none")
        best = np.where(right, scores, -np.inf).max(axis=1, keepdims=True)
        # Scores within TIE_TOLERANCE of the best right key's tie with it: a BLAS product can give parallel vectors
        # cosines that differ in the last bit, depending on where in its tiles a row falls.
        tied = np.abs(scores - best) <= TIE_TOLERANCE
        higher = ((scores > best + TIE_TOLERANCE) & ~right).sum(axis=1)
        tied_wrong = (tied & ~right).sum(axis=1)
        tied_right = (tied & right).sum(axis=1)
        for row, h, t, r in zip(rows, higher, tied_wrong, tied_right):
            # The number of wrong keys before the first right one in a random order of the tied group:
            # P(X >= j) = prod_{i < j} (t - i) / (t + r - i).
            at_least = np.concatenate([[1.0], np.cumprod((t - np.arange(t)) / (t + r - np.arange(t))), [0.0]])
            p = at_least[:-1] - at_least[1:]
            rank = h + 1 + np.arange(t + 1)
            recall[row] = [p[rank <= k].sum() for k in ks]
            reciprocal[row] = (p / rank).sum()
    metrics = {"num_queries": len(queries), "num_candidates": len(keys) - int(exclude_self)}
    metrics.update({f"recall_at_{k}": round(float(recall[:, i].mean()), 5) for i, k in enumerate(ks)})
    metrics["mrr"] = round(float(reciprocal.mean()), 5)
    return metrics


def _noisy_copies(texts, tokenizer, drop_fraction, num_candidates, max_length, seed):
    """The first `num_candidates` texts of 2 to `max_length - 1` pieces, and a copy of each with `drop_fraction` of
    its pieces (at least one) deleted, both decoded back to text."""
    rng = np.random.default_rng(seed)
    pieces = [p for p in tokenizer.encode(list(texts)) if 2 <= len(p) < max_length][:num_candidates]
    if len(pieces) < 2:
        raise ValueError(f"noise_retrieval needs at least 2 usable texts. Received: {len(pieces)}")
    noisy = []
    for p in pieces:
        drop = set(rng.choice(len(p), size=max(1, round(drop_fraction * len(p))), replace=False).tolist())
        noisy.append([t for i, t in enumerate(p) if i not in drop])
    return tokenizer.decode(pieces), tokenizer.decode(noisy)


def noise_retrieval(encoder, texts, drop_fraction=0.1, num_candidates=1000, seed=0, batch_size=256, tokenizer=None,
                    max_length=None):
    """Recall@1 of finding a text from a noisy copy of it: `drop_fraction` of its tokens (at least one) are deleted,
    and the noisy copy's vector must be closer (cosine) to its own clean vector than to those of the other
    `num_candidates - 1` texts (ties counted in expectation, see `retrieval_metrics`). The same retrieval with
    TF-IDF vectors of the noisy and clean texts is the baseline.

    `encoder`: a model or a function texts -> vectors (see `encode_function`). The tokens deleted are the pieces of
    `tokenizer` (default: the model's), and the texts used are the first `num_candidates` with at least two pieces
    that fit in `max_length` (default: the model's `config.max_length`; no limit for an encoder without one). To
    compare encoders on the same noisy texts, give them all the same `tokenizer` and `max_length`.
    """
    tokenizer = tokenizer or getattr(encoder, "tokenizer", None)
    if tokenizer is None:
        raise ValueError("`tokenizer` must be given for an encoder that has none (it chooses the pieces to delete). "
                         f"Received: tokenizer=None, encoder={encoder!r}")
    if max_length is None:
        max_length = encoder.config.max_length if hasattr(encoder, "config") else np.inf
    clean_texts, noisy_texts = _noisy_copies(texts, tokenizer, drop_fraction, num_candidates, max_length, seed)
    encode = encode_function(encoder, batch_size)
    clean, noisy = encode(clean_texts), encode(noisy_texts)
    tfidf_clean, tfidf_noisy = tfidf_features(clean_texts, noisy_texts)
    labels = np.arange(len(clean_texts))
    recall_at_1 = lambda q, k: retrieval_metrics(q, k, labels, labels, ks=(1,))["recall_at_1"]  # noqa: E731
    return {
        "num_candidates": len(clean_texts),
        "drop_fraction": drop_fraction,
        "recall_at_1": recall_at_1(noisy, clean),
        "tfidf_recall_at_1": recall_at_1(tfidf_noisy, tfidf_clean),
    }


def _train_linear_probe(train_x, train_y, test_x, test_y, num_classes, epochs=30, seed=0):
    """Multinomial logistic regression (a softmax Dense layer, Adam) on standardised features; test accuracy."""
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    keras.utils.set_random_seed(seed)
    probe = keras.Sequential([keras.Input((train_x.shape[1],)), keras.layers.Dense(num_classes)])
    probe.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    probe.fit(train_x, train_y, batch_size=256, epochs=epochs, verbose=0)
    return float(probe.evaluate(test_x, test_y, batch_size=1024, verbose=0)[1])


def tfidf_encoder(fit_texts, max_words=4096):
    """A TF-IDF bag of words fitted on `fit_texts` (its vocabulary: their `max_words` most frequent words; its IDF:
    their document frequencies), as a function texts -> L2-normalised float32 rows."""
    tokenize = lambda t: re.findall(r"[a-z0-9']+", t.lower())  # noqa: E731
    doc_freq = collections.Counter()
    for t in fit_texts:
        doc_freq.update(set(tokenize(t)))
    vocab = {w: i for i, (w, _) in enumerate(doc_freq.most_common(max_words))}
    idf = np.array([math.log((1 + len(fit_texts)) / (1 + doc_freq[w])) + 1 for w in vocab], "float32")

    def featurize(texts):
        x = np.zeros((len(texts), len(vocab)), "float32")
        for row, t in enumerate(texts):
            for w, n in collections.Counter(tokenize(t)).items():
                if w in vocab:
                    x[row, vocab[w]] = n
        x *= idf
        return x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-6)

    return featurize


def tfidf_features(train_texts, test_texts, max_words=4096):
    """TF-IDF rows of `train_texts` and `test_texts` from a `tfidf_encoder` fitted on `train_texts`."""
    featurize = tfidf_encoder(train_texts, max_words)
    return featurize(train_texts), featurize(test_texts)


def _check_split(split, allowed=("validation", "test")):
    if split not in allowed:
        raise ValueError(f"`split` must be one of {allowed} (models learn from train; tune on validation, report "
                         f"test). Received: split={split!r}")


def lexname_probe(encoder, train_limit=20000, test_limit=None, seed=0, split="test", batch_size=256, baseline=True):
    """Linear-probe accuracy for WordNet's `lexname` (45 classes) from the encoder's vectors: a softmax regression
    on standardised vectors, trained on `train_limit` random texts of the train split and measured on `split`
    (`"test"`, the model card's number, or `"validation"` for tuning). With `baseline`, next to it the same probe
    on TF-IDF features fitted on the probe's training texts, and the majority class.

    `encoder`: a model or a function texts -> vectors (see `encode_function`)."""
    from hypertext.data import wordnet

    _check_split(split)
    encode = encode_function(encoder, batch_size)
    rng = np.random.default_rng(seed)
    train_rows = list(wordnet.read_rows(split="train"))
    train_rows = [train_rows[i] for i in sorted(rng.permutation(len(train_rows))[:train_limit])]
    test_rows = list(wordnet.read_rows(split=split))[:test_limit]
    label = {name: i for i, name in enumerate(wordnet.LEXNAMES)}
    train_y = np.array([label[r["lexname"]] for r in train_rows])
    test_y = np.array([label[r["lexname"]] for r in test_rows])
    train_texts, test_texts = [r["text"] for r in train_rows], [r["text"] for r in test_rows]
    encoded = (encode(train_texts), encode(test_texts))
    metrics = {"probe_accuracy": round(_train_linear_probe(encoded[0], train_y, encoded[1], test_y, 45, seed=seed), 5)}
    if baseline:
        tfidf = tfidf_features(train_texts, test_texts)
        metrics["tfidf_probe_accuracy"] = round(_train_linear_probe(tfidf[0], train_y, tfidf[1], test_y, 45,
                                                                    seed=seed), 5)
        metrics["majority_class_accuracy"] = round(float(np.mean(test_y == np.bincount(train_y).argmax())), 5)
    metrics.update({"probe_train_examples": len(train_rows), "probe_test_examples": len(test_rows)})
    return metrics


SYNSET_TASKS = ("definition", "same_synset")


def synset_retrieval(encoder, split="test", task="definition", batch_size=256, ks=(1, 10)):
    """Same-meaning retrieval on a WordNet split, where a synset is a meaning; cosine similarity, scored by
    `retrieval_metrics` (recall@K, MRR; ties counted in expectation). Nothing is truncated or filtered: every
    text of the split takes part.

    - `task="definition"` (the primary task; its `recall_at_1` is the headline number): the queries are the
      split's usage examples (kind `example`), the candidates are all the split's definitions (one per synset),
      and the right answer is the definition of the example's own synset. An example and its gloss say the same
      thing in different words (the example uses the word, the gloss explains it), so word overlap helps less
      than meaning; each query has exactly one right answer among thousands.
    - `task="same_synset"`: every text of the split whose synset has another text there is a query, the
      candidates are all the other texts of the split, and any text of the same synset is right.

    `split`: `"test"` to report, `"validation"` to tune on. WordNet assigns whole synsets to a split, so none of
    these meanings is seen in training. `encoder`: a model or a function texts -> vectors (see `encode_function`).
    """
    from hypertext.data import wordnet

    _check_split(split)
    if task not in SYNSET_TASKS:
        raise ValueError(f"`task` must be one of {SYNSET_TASKS}. Received: task={task!r}")
    encode = encode_function(encoder, batch_size)
    rows = list(wordnet.read_rows(split=split))
    if task == "definition":
        queries = [r for r in rows if r["kind"] == "example"]
        keys = [r for r in rows if r["kind"] == "definition"]
        metrics = retrieval_metrics(encode([r["text"] for r in queries]), encode([r["text"] for r in keys]),
                                    [r["synset"] for r in queries], [r["synset"] for r in keys], ks=ks)
    else:
        sizes = collections.Counter(r["synset"] for r in rows)
        vectors, labels = encode([r["text"] for r in rows]), np.array([r["synset"] for r in rows])
        chosen = np.array([sizes[r["synset"]] > 1 for r in rows])
        # Queries and keys are the same texts; a query that is alone in its synset only serves as a candidate.
        metrics = _same_synset_metrics(vectors, labels, chosen, ks)
    metrics.update({"split": split, "task": task})
    return metrics


def _same_synset_metrics(vectors, labels, chosen, ks):
    """`retrieval_metrics` for the queries `chosen` (a boolean mask) against all texts but themselves."""
    order = np.concatenate([np.flatnonzero(chosen), np.flatnonzero(~chosen)])
    # With the chosen texts first, query i is key i, which is what `exclude_self` wants.
    keys, key_labels = vectors[order], labels[order]
    num_queries = int(chosen.sum())
    return retrieval_metrics(keys[:num_queries], keys, key_labels[:num_queries], key_labels, exclude_self=True,
                             ks=ks)


# ---- graded pairs and pair retrieval (the dev benchmark, `benchmarks/vectors.py --task dev`) ----------------------

def spearman(x, y):
    """Spearman's rank correlation of two sequences: Pearson's correlation of their ranks, ties given their average
    rank (0 when either sequence is constant)."""
    def ranks(values):
        _, inverse, counts = np.unique(np.asarray(values, "float64"), return_inverse=True, return_counts=True)
        return (np.cumsum(counts) - (counts - 1) / 2)[inverse]

    rx, ry = ranks(x), ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denominator = np.sqrt((rx * rx).sum() * (ry * ry).sum())
    return float((rx * ry).sum() / denominator) if denominator else 0.0


def _unit_rows(v):
    v = np.asarray(v, "float64")
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def pair_cosines(encode, texts1, texts2):
    """The cosine of each pair `(texts1[i], texts2[i])` under `encode` (texts -> vectors), float64 `(N,)`."""
    return (_unit_rows(encode(list(texts1))) * _unit_rows(encode(list(texts2)))).sum(axis=1)


def graded_pair_scores(encode, collections):
    """Spearman x 100 between each pair's cosine and its grade, per collection, and their `mean`.
    `collections`: `{name: (texts1, texts2, grades)}`."""
    scores = {name: round(100 * spearman(pair_cosines(encode, t1, t2), grades), 1)
              for name, (t1, t2, grades) in collections.items()}
    scores["mean"] = round(float(np.mean(list(scores.values()))), 1) if scores else 0.0
    return scores


def retrieval_mrr(encode, queries, answers):
    """Mean reciprocal rank of `answers[i]` among all of `answers` for `queries[i]`, by cosine (ties count against
    the answer). With one relevant candidate per query it is also the mean average precision."""
    similarity = _unit_rows(encode(list(queries))) @ _unit_rows(encode(list(answers))).T
    rank = (similarity >= np.diagonal(similarity)[:, None]).sum(axis=1)
    return float(np.mean(1.0 / rank))


def retrieval_scores(encode, collections):
    """`retrieval_mrr` x 100 per collection (`{name: (queries, answers)}`), and their `mean`."""
    scores = {name: round(100 * retrieval_mrr(encode, q, a), 1) for name, (q, a) in collections.items()}
    scores["mean"] = round(float(np.mean(list(scores.values()))), 1) if scores else 0.0
    return scores
