import numpy as np

from hypertext import latent_evaluation
from hypertext.latent_evaluation import noisy_latents, word_list, word_validity, words
from tests.models.conftest import corpus, tiny_config, tiny_tokenizer  # noqa: F401  (the model tests' fixtures)


def test_words_word_list_and_validity():
    assert words("The cat's 2 hats, e-mail!") == ["the", "cat", "s", "hats", "e", "mail"]
    assert word_list(["A cat", "a dog."]) == {"a", "cat", "dog"}
    assert word_validity(["a cat", "the dog", "zzq"], {"a", "cat", "dog"}) == 0.6
    assert word_validity(["", "42"], {"a"}) == 1.0


def test_noisy_latents_move_each_row_by_exactly_its_share(rng):
    z = rng.normal(size=(50, 8)) * rng.uniform(0.5, 3, (50, 1))
    noisy = noisy_latents(z, 0.3, seed=2)
    assert noisy.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(noisy - z, axis=1) / np.linalg.norm(z, axis=1), 0.3, rtol=1e-4)
    np.testing.assert_array_equal(noisy, noisy_latents(z, 0.3, seed=2))


def test_latent_report_of_a_tiny_fitted_model(corpus, tiny_config, tiny_tokenizer):
    from tests.models.helpers import text_model

    model = text_model(tiny_config, tiny_tokenizer).fit_latent_space(corpus[:200])
    report = latent_evaluation.latent_report(model, corpus[200:230], corpus[:200], samples=8, pairs=5)
    assert set(report) == {"noise_bleu", "midpoint_word_validity", "sample_word_validity", "sample_novelty",
                           "samples_of_two_words_or_more", "examples"}
    assert set(report["noise_bleu"]) == {"0.0", "0.1", "0.3", "0.5"}
    assert report["sample_word_validity"] == 1.0  # samples are decoded with the lexicon of these very texts
    # Every number, counted here from the model's own samples, midpoints and decodings.
    drawn, vocabulary = model.sample(8, seed=0), word_list(corpus[:200])
    chosen = np.random.default_rng(0).choice(30, size=(5, 2), replace=False)
    middle = [model.interpolate(corpus[200 + a], corpus[200 + b], steps=3)[1] for a, b in chosen]
    assert report["examples"] == {"midpoints": middle, "samples": drawn[:5]}
    assert report["sample_novelty"] == round(np.mean([t not in set(corpus[:200]) for t in drawn]), 4)
    assert report["samples_of_two_words_or_more"] == round(np.mean([len(words(t)) >= 2 for t in drawn]), 4)
    assert report["midpoint_word_validity"] == round(word_validity(middle, vocabulary), 4)
    import sacrebleu

    held_out = corpus[200:230]
    z = model.encode_latent(held_out)
    for share in (0.0, 0.3):
        decoded = model.decode(noisy_latents(z, share, seed=0) if share else z)
        assert report["noise_bleu"][str(share)] == round(sacrebleu.corpus_bleu(decoded, [held_out]).score, 2)
    # The tiny model's BLEU is near 0 with or without noise, so the curve's inputs are checked too: each share's
    # decode reads z plus exactly noisy_latents' noise (z itself at share 0).
    read = []
    decode = model.decode
    model.decode = lambda latents, **kwargs: read.append(np.array(latents)) or decode(latents, **kwargs)
    try:
        curve = latent_evaluation.noise_curve(model, held_out, seed=0)
    finally:
        del model.decode
    assert list(curve) == [0.0, 0.1, 0.3, 0.5] and len(read) == 4
    for share, latents in zip(curve, read):
        np.testing.assert_allclose(latents, noisy_latents(z, share, seed=0) if share else z, rtol=0, atol=1e-5)
        moved = np.linalg.norm(latents - z, axis=1) / np.linalg.norm(z, axis=1)
        np.testing.assert_allclose(moved, share, rtol=1e-3, atol=1e-6)
    # Novelty counts the samples found among the training texts (not among the held-out ones)
    seen = latent_evaluation.latent_report(model, held_out, corpus[:200] + drawn[:4], samples=8, pairs=5)
    assert seen["sample_novelty"] == round(np.mean([t not in set(corpus[:200] + drawn[:4]) for t in drawn]), 4) <= 0.5
