"""How decodable a model's latent space is (`evaluate.py --latent`): the noise curve, and the word validity and
novelty of interpolation midpoints and of samples from the prior.

- Noise curve: each text's `z` plus a random direction of norm `s * ||z||`, decoded, scored by BLEU against the full
  original texts, for each share `s`.
- Word validity: the share of the words (runs of letters, lower-cased) of decoded texts that occur in a word list
  built from the training corpus.
- Novelty: the share of samples that are not a text of the training corpus.
"""

import re

import numpy as np

_WORD = re.compile(r"[a-z]+")
NOISE_SHARES = (0.1, 0.3, 0.5)


def words(text):
    """The words of `text` as word validity counts them: its runs of letters a-z, lower-cased."""
    return _WORD.findall(text.lower())


def word_list(texts):
    """Every word of `texts` (see `words`), as a set."""
    return {word for text in texts for word in words(text)}


def word_validity(texts, vocabulary):
    """The share of the words of `texts` found in `vocabulary` (1.0 when they have none)."""
    found = [word in vocabulary for text in texts for word in words(text)]
    return float(np.mean(found)) if found else 1.0


def noisy_latents(z, share, seed=0):
    """`z` plus, per row, a random direction of norm `share * ||z||`."""
    direction = np.random.default_rng(seed).standard_normal(z.shape)
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    return (z + share * np.linalg.norm(z, axis=1, keepdims=True) * direction).astype("float32")


def _bleu(hypotheses, references):
    import sacrebleu

    return float(sacrebleu.corpus_bleu(hypotheses, [references]).score)


def noise_curve(model, texts, shares=NOISE_SHARES, seed=0, batch_size=256):
    """`{share: BLEU}` of `model.decode(z + noise)` against `texts` (the full texts), with share 0 for `z` itself."""
    z = model.encode_latent(texts, batch_size=batch_size)
    return {share: _bleu(model.decode(noisy_latents(z, share, seed) if share else z, batch_size=batch_size),
                               texts) for share in (0.0, *shares)}


def midpoints(model, texts, pairs=250, seed=0):
    """The middle texts of `model.interpolate` between `pairs` random pairs of `texts` (3 steps: the midpoint)."""
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(texts), size=(pairs, 2), replace=len(texts) < 2 * pairs)
    return [model.interpolate(texts[a], texts[b], steps=3)[1] for a, b in chosen]


def latent_report(model, texts, train_texts, samples=200, pairs=250, seed=0):
    """The whole `evaluate.py --latent` report on held-out `texts`, with the word list and novelty from
    `train_texts`."""
    vocabulary, seen = word_list(train_texts), set(train_texts)
    drawn = model.sample(samples, seed=seed)
    middle = midpoints(model, texts, pairs, seed)
    return {
        "noise_bleu": {str(share): round(bleu, 2) for share, bleu in noise_curve(model, texts, seed=seed).items()},
        "midpoint_word_validity": round(word_validity(middle, vocabulary), 4),
        "sample_word_validity": round(word_validity(drawn, vocabulary), 4),
        "sample_novelty": round(float(np.mean([text not in seen for text in drawn])), 4),
        "samples_of_two_words_or_more": round(float(np.mean([len(words(text)) >= 2 for text in drawn])), 4),
        "examples": {"midpoints": middle[:5], "samples": drawn[:5]},
    }
