import numpy as np
import pytest

from hypertext.models.lexicon import Lexicon
from hypertext.tokenizers import SentencePieceTokenizer
from hypertext.tokenizers.sentencepiece_tokenizer import EOS_ID

TEXTS = ["the small cat sat on the mat", "a tall tree grew near the river", "the river ran past a small town",
         "cats and dogs sleep in the sun", "a town by the sea has boats", "boats sail on the sea at dawn"] * 40


@pytest.fixture(scope="module")
def tokenizer():
    return SentencePieceTokenizer.from_texts(TEXTS, vocab_size=290)


def _logits_for(tokenizer, pieces, length, vocab, rng, margin=5.0):
    """Random logits whose argmax at each position is the given piece (then eos, then anything)."""
    logits = rng.normal(size=(length, vocab))
    for t, piece in enumerate(list(pieces) + [EOS_ID]):
        logits[t, piece] = logits[t].max() + margin
    return logits


def test_words_and_min_count():
    lexicon = Lexicon.from_texts(["a cat", "a dog", "a cat sat"], min_count=2)
    assert lexicon.words == ["a", "cat"] and "cat" in lexicon and "dog" not in lexicon
    with pytest.raises(ValueError, match="`min_count` must be an integer >= 1. Received: min_count=0"):
        Lexicon.from_texts(["a"], min_count=0)


def test_a_text_of_lexicon_words_decodes_to_itself(tokenizer, rng):
    lexicon = Lexicon.from_texts(TEXTS)
    text = "the small river sat near a town"  # lexicon words, a sentence the corpus does not have
    (pieces,) = tokenizer.encode([text])
    logits = _logits_for(tokenizer, pieces, 24, tokenizer.vocab_size, rng)[None]
    assert tokenizer.decode(lexicon.decode_logits(logits, tokenizer)) == [text]


def test_every_decoded_word_is_in_the_lexicon_whatever_the_logits(tokenizer, rng):
    lexicon = Lexicon.from_texts(TEXTS)
    logits = rng.normal(size=(64, 20, tokenizer.vocab_size)) * 3
    texts = tokenizer.decode(lexicon.decode_logits(logits, tokenizer))
    words = [w for t in texts for w in t.split()]
    assert len(words) > 64 and all(w in lexicon for w in words)
    # Unconstrained argmax of the same logits writes mostly non-words: the constraint is doing the work.
    plain = tokenizer.decode([list(row[:list(row).index(EOS_ID)] if EOS_ID in row else row)
                              for row in logits.argmax(-1)])
    assert np.mean([w in lexicon for t in plain for w in t.split()]) < 0.5


def test_a_non_word_is_replaced_by_the_likeliest_word(tokenizer, rng):
    """At the first position the top piece starts no lexicon word; of the two word starts ranked next, the likelier
    one wins, and the following positions spell it out; then eos."""
    lexicon = Lexicon.from_texts(TEXTS)
    starts = {pieces[0] for pieces in tokenizer.encode(lexicon.words)}
    non_word = next(p for p in range(4, tokenizer.vocab_size) if p not in starts and
                    tokenizer.decode([[p]])[0].strip().isalpha())
    assert tokenizer.decode([[non_word]])[0].strip() not in lexicon
    (sea,), (town,) = tokenizer.encode(["sea"]), tokenizer.encode(["town"])
    for first, second in ((sea, town), (town, sea)):  # the likelier of the two, whichever it is
        logits = rng.normal(size=(12, tokenizer.vocab_size))
        logits[0, non_word], logits[0, first[0]], logits[0, second[0]] = 20.0, 15.0, 14.0
        for t, piece in enumerate(first[1:] + [EOS_ID], start=1):
            logits[t, piece] = 20.0
        assert tokenizer.decode([logits.argmax(-1)[:1]])[0].strip() not in lexicon  # plain argmax: a non-word
        (row,) = lexicon.decode_logits(logits[None], tokenizer)
        assert row == first and tokenizer.decode([row]) == [tokenizer.decode([first])[0]]


def test_the_words_travel_as_an_asset(tmp_path):
    lexicon = Lexicon.from_texts(["a cat", "a dog"])
    lexicon.save_assets(str(tmp_path))
    restored = Lexicon.from_config(lexicon.get_config())
    assert restored.words == []
    restored.load_assets(str(tmp_path))
    assert restored.words == ["a", "cat", "dog"]
    with pytest.raises(ValueError, match="This lexicon has no words"):
        Lexicon().decode_logits(np.zeros((1, 2, 5)), None)
