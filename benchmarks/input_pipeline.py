"""Input-pipeline throughput: tokens per second that `make_dataset` feeds a consumer that does nothing.

    python benchmarks/input_pipeline.py [--max-length 64 --batch-size 128 --length-multiple 4]

It reports the one-off tokenisation rate (texts/s, done once before training) and the steady-state rate of the
tf.data pipeline (real tokens/s, pads excluded), length-bucketed and padded to --max-length, to compare with the
training step's tokens/s (benchmarks/train_step.py). "real share" is the fraction of the fed positions that are real
tokens rather than pads: what bucketing saves the model.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hypertext.data import tokenize_ragged, load_texts, make_dataset  # noqa: E402
from hypertext.tokenizers import SentencePieceTokenizer  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--length-multiple", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()

    texts = load_texts("wordnet", "train")
    tokenizer = SentencePieceTokenizer.from_texts(texts, vocab_size=args.vocab_size, max_training_sentences=50_000)
    start = time.perf_counter()
    sequences, truncated = tokenize_ragged(texts, tokenizer, args.max_length)
    encode_seconds = time.perf_counter() - start
    real_tokens = sum(len(s) for s in sequences)
    print(f"tokenised {len(texts):,} texts ({real_tokens:,} tokens, {truncated} truncated) once in "
          f"{encode_seconds:.2f} s: {len(texts) / encode_seconds:,.0f} texts/s")

    for bucket in (True, False):
        start = time.perf_counter()
        dataset = make_dataset(sequences, tokenizer, args.max_length, args.batch_size, shuffle=True,
                               length_multiple=args.length_multiple, bucket=bucket)
        build_seconds = time.perf_counter() - start
        for _ in dataset.take(5):  # warm up the pipeline
            pass
        start = time.perf_counter()
        fed = positions = 0
        for _ in range(args.epochs):
            for _, _, weights in dataset:
                fed += int(weights.numpy().sum())
                positions += weights.shape[0] * weights.shape[1]
        seconds = time.perf_counter() - start
        name = "length-bucketed" if bucket else f"padded to {args.max_length}"
        print(f"tf.data pipeline ({name}, shuffle, batch {args.batch_size}, prefetch) to a no-op consumer: "
              f"{fed / seconds:,.0f} tokens/s ({fed / args.epochs / real_tokens:.2f} of the tokens per epoch, "
              f"{args.epochs} epochs in {seconds:.1f} s, built in {build_seconds:.2f} s), "
              f"real share {fed / positions:.2f}")


if __name__ == "__main__":
    main()
