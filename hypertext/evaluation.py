"""Reconstruction metrics and the sentence-embedding probe that `evaluate.py` and `train.py` report."""

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
    sequences = model.first_windows(model.tokenizer.encode(list(texts)))
    hits = {"token_accuracy": 0, "token_accuracy_mean_context": 0}
    total = 0
    for indices, length in group_by_length([len(s) for s in sequences], batch_size, model.length_multiple,
                                           model.config.max_length):
        ids = pad_batch([sequences[i] for i in indices], length)
        z = model.encode_ids(ids)
        context = model.context_norm(z)
        mean = keras.ops.broadcast_to(keras.ops.mean(context, axis=0, keepdims=True), context.shape)
        mask = ids != 0
        total += int(mask.sum())
        for name, batch_context in (("token_accuracy", context), ("token_accuracy_mean_context", mean)):
            logits = model.decode_latent(z, length=length, context=batch_context)
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


def noise_retrieval(model, texts, drop_fraction=0.1, num_candidates=1000, seed=0, batch_size=256):
    """Recall@1 of finding a text from a noisy copy of it: `drop_fraction` of its tokens (at least one) are deleted,
    and the noisy copy's `encode()` vector must be closer (cosine) to its own clean vector than to those of the other
    `num_candidates - 1` texts. The same retrieval with TF-IDF vectors of the noisy and clean texts is the baseline.

    Uses the first `num_candidates` texts with at least two tokens that fit in `max_length`.
    """
    rng = np.random.default_rng(seed)
    tokenizer = model.tokenizer
    pieces = [p for p in tokenizer.encode(list(texts)) if 2 <= len(p) < model.config.max_length][:num_candidates]
    if len(pieces) < 2:
        raise ValueError(f"noise_retrieval needs at least 2 usable texts. Received: {len(pieces)}")
    noisy = []
    for p in pieces:
        drop = set(rng.choice(len(p), size=max(1, round(drop_fraction * len(p))), replace=False).tolist())
        noisy.append([t for i, t in enumerate(p) if i not in drop])
    clean_texts, noisy_texts = tokenizer.decode(pieces), tokenizer.decode(noisy)

    def recall_at_1(queries, keys):
        queries = queries / (np.linalg.norm(queries, axis=1, keepdims=True) + 1e-9)
        keys = keys / (np.linalg.norm(keys, axis=1, keepdims=True) + 1e-9)
        return float(np.mean(np.argmax(queries @ keys.T, axis=1) == np.arange(len(keys))))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clean_z, noisy_z = model.encode(clean_texts, batch_size), model.encode(noisy_texts, batch_size)
    tfidf_clean, tfidf_noisy = tfidf_features(clean_texts, noisy_texts)
    return {
        "num_candidates": len(pieces),
        "drop_fraction": drop_fraction,
        "recall_at_1": round(recall_at_1(noisy_z, clean_z), 5),
        "tfidf_recall_at_1": round(recall_at_1(tfidf_noisy, tfidf_clean), 5),
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


def tfidf_features(train_texts, test_texts, max_words=4096):
    """A TF-IDF bag of words over the `max_words` most frequent training words (L2-normalised rows)."""
    tokenize = lambda t: re.findall(r"[a-z0-9']+", t.lower())  # noqa: E731
    doc_freq = collections.Counter()
    for t in train_texts:
        doc_freq.update(set(tokenize(t)))
    vocab = {w: i for i, (w, _) in enumerate(doc_freq.most_common(max_words))}
    idf = np.array([math.log((1 + len(train_texts)) / (1 + doc_freq[w])) + 1 for w in vocab], "float32")

    def featurize(texts):
        x = np.zeros((len(texts), len(vocab)), "float32")
        for row, t in enumerate(texts):
            for w, n in collections.Counter(tokenize(t)).items():
                if w in vocab:
                    x[row, vocab[w]] = n
        x *= idf
        return x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-6)

    return featurize(train_texts), featurize(test_texts)


def lexname_probe(model, train_limit=20000, test_limit=None, seed=0):
    """Linear-probe accuracy for WordNet's `lexname` (45 classes) from `model.encode()` vectors, trained on the train
    split and measured on the test split; next to it the same probe on TF-IDF features, and the majority class."""
    from hypertext.data import wordnet

    rng = np.random.default_rng(seed)
    train_rows = list(wordnet.read_rows(split="train"))
    train_rows = [train_rows[i] for i in sorted(rng.permutation(len(train_rows))[:train_limit])]
    test_rows = list(wordnet.read_rows(split="test"))[:test_limit]
    label = {name: i for i, name in enumerate(wordnet.LEXNAMES)}
    train_y = np.array([label[r["lexname"]] for r in train_rows])
    test_y = np.array([label[r["lexname"]] for r in test_rows])
    train_texts, test_texts = [r["text"] for r in train_rows], [r["text"] for r in test_rows]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # truncation warnings are expected for a few long glosses
        encoded = (model.encode(train_texts), model.encode(test_texts))
    tfidf = tfidf_features(train_texts, test_texts)
    majority = float(np.mean(test_y == np.bincount(train_y).argmax()))
    return {
        "probe_accuracy": round(_train_linear_probe(encoded[0], train_y, encoded[1], test_y, 45, seed=seed), 5),
        "tfidf_probe_accuracy": round(_train_linear_probe(tfidf[0], train_y, tfidf[1], test_y, 45, seed=seed), 5),
        "majority_class_accuracy": round(majority, 5),
        "probe_train_examples": len(train_rows),
        "probe_test_examples": len(test_rows),
    }
