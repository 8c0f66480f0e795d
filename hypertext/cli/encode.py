"""Encode texts to sentence vectors (`hypertext-encode`): one text per line in, one vector per text out.

    hypertext-encode --model wordnet --input texts.txt --output vectors.npy
    cat texts.txt | hypertext-encode --model runs/default/model.keras --input - --output vectors.npy
    hypertext-encode --model wordnet --input texts.txt --output vectors.jsonl --format jsonl

--input is UTF-8 text, one text per line (an empty line is an empty text; `-` reads stdin). The npy output is a
float32 array (N, latent_dim), row i the vector of line i, equal to `model.encode(texts)`; jsonl writes one
{"text": ..., "vector": [...]} object per line. `--output -` writes to stdout. Inputs of more than 1,000 texts show
a progress bar on stderr.
"""

import argparse
import json
import os
import sys
import warnings

from hypertext.cli.runner import run_tool

PROG = "hypertext-encode"
PROGRESS_ABOVE = 1000  # texts; smaller inputs finish too fast for a progress bar to help


def parse_args(argv=None, prog=PROG):
    p = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a preset name (see hypertext.presets()) or a .keras file")
    p.add_argument("--input", required=True, help="a UTF-8 text file, one text per line; - for stdin")
    p.add_argument("--output", required=True, help="the file to write (- for stdout)")
    p.add_argument("--format", default="npy", choices=["npy", "jsonl"],
                   help="npy: a float32 (N, latent_dim) array (the default); jsonl: text-plus-vector lines")
    p.add_argument("--batch-size", type=int, default=256, help="texts per forward pass (default 256)")
    p.add_argument("--tf-logs", action="store_true", help="keep TensorFlow's own log lines")
    args = p.parse_args(argv)
    if args.batch_size < 1:
        p.error(f"--batch-size must be >= 1. Received: {args.batch_size}")
    return args


def read_texts(path):
    """The texts of a UTF-8 file (or stdin for `-`), one per line: line ends (\\n, \\r\\n or \\r) and a leading
    byte-order mark removed. (Not `str.splitlines`, which also splits at \\f, \\x1c, \\u2028 and others.)"""
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"No input file {path!r}.") from None
    except IsADirectoryError:
        raise ValueError(f"The input {path!r} is a folder, not a text file.") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise ValueError(f"{'stdin' if path == '-' else path}:{line}: not valid UTF-8 text ({e.reason}).") from None
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return lines[:-1] if lines[-1] == "" else lines


class _Progress:
    """A one-line progress bar on stderr: `encoding [#####.....] 5,000/10,000 texts`."""

    def __init__(self, total, enabled):
        self.total, self.done, self.enabled = total, 0, enabled

    def update(self, count):
        self.done += count
        if self.enabled:
            filled = 30 * self.done // max(self.total, 1)
            sys.stderr.write(f"\rencoding [{'#' * filled}{'.' * (30 - filled)}] {self.done:,}/{self.total:,} texts")
            if self.done >= self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()


def encode_with_progress(model, texts, batch_size=256, progress=False):
    """`model.encode(texts, batch_size)`, bit for bit, one length-bucketed batch at a time, so that a progress bar
    can follow it: the batches are exactly those `encode` forms (`hypertext.lengths.group_by_length` over the
    same lengths), so each gives the same rows as inside one `encode` call. Over-long texts get one note on
    stderr instead of a warning per batch."""
    import numpy as np

    from hypertext.lengths import group_by_length

    max_length = model.config.max_length
    pieces = model.tokenizer.encode(texts) if texts else []
    lengths = [min(len(p), max_length - 1) + 1 for p in pieces]  # eos included, as `encode` cuts them
    long = sum(len(p) + 1 > max_length for p in pieces)
    if long:
        print(f"{PROG}: {long:,} of {len(texts):,} texts are longer than max_length={max_length} pieces (eos "
              "included) and were encoded from their first max_length - 1 pieces.", file=sys.stderr)
    vectors = np.zeros((len(texts), model.config.latent_dim), "float32")
    bar = _Progress(len(texts), progress)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the over-long texts, counted above
        for indices, _ in group_by_length(lengths, batch_size, model.length_multiple, max_length):
            vectors[indices] = model.encode([texts[i] for i in indices], batch_size=batch_size)
            bar.update(len(indices))
    return vectors


def write_vectors(path, texts, vectors, fmt):
    import numpy as np

    stream = sys.stdout.buffer if path == "-" else open(path, "wb")
    try:
        if fmt == "npy":
            np.save(stream, vectors)  # to a stream: np.save adds no ".npy" to the name
        else:
            for text, vector in zip(texts, vectors):
                line = json.dumps({"text": text, "vector": vector.tolist()}, ensure_ascii=False)
                stream.write(line.encode("utf-8") + b"\n")
        stream.flush()
    finally:
        if stream is not sys.stdout.buffer:
            stream.close()


def main(argv=None, prog=PROG):
    """The tool in-process. Returns the exit code: 0, or 2 with one line on stderr for a missing or unreadable
    input, a bad model, or an output that cannot be written."""
    args = parse_args(argv, prog)
    try:
        texts = read_texts(args.input)  # before the model: a wrong path fails at once
        if args.output != "-" and not os.path.isdir(os.path.dirname(os.path.abspath(args.output))):
            raise FileNotFoundError(f"The output folder of {args.output!r} does not exist.")
        import hypertext

        model = hypertext.load(args.model)
        vectors = encode_with_progress(model, texts, args.batch_size, progress=len(texts) > PROGRESS_ABOVE)
        write_vectors(args.output, texts, vectors, args.format)
    except (ValueError, OSError) as e:  # OSError includes FileNotFoundError
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    return 0


def run(argv=None, prog=PROG):
    """The console script (see `hypertext.cli.runner.run_tool`)."""
    return run_tool(parse_args, main, argv, prog)


if __name__ == "__main__":
    sys.exit(run())
