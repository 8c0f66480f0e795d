"""Encode texts to sentence vectors (`hypertext-encode`): one text per line in, one vector per text out, streamed.

    hypertext-encode --model english --input texts.txt --output vectors.npy
    cat texts.txt | hypertext-encode --model runs/default/model.keras --input - --output vectors.npy
    hypertext-encode --model english --input texts.txt --output vectors.jsonl --format jsonl
    hypertext-encode --model english --input texts.txt --output vectors.npy --precision int8
    hypertext-encode --model wordnet --input texts.txt --output z.npy --latent
    hypertext-encode --model english --input big.txt --output part-3.npy --shard 3/8

--input is UTF-8 text, one text per line (\\n, \\r\\n or \\r; an empty line is an empty text; a leading byte-order
mark is dropped; `-` reads stdin, which is first copied to a temporary file). The npy output is an array (N, dim),
row i the vector of line i, equal to `model.encode(texts, ...)` with the same options (`--latent`:
`model.encode_latent(texts)`, z); jsonl writes one {"text": ..., "vector": [...]} object per line. `--output -`
writes to stdout.

The input is read and encoded in chunks of --chunk-size lines and each chunk's vectors are written as soon as they
are made, so memory does not grow with the input: a first pass counts the lines (the npy header holds the row count),
a second encodes them. Each chunk is encoded as `encode(chunk)` would; a text's vector does not depend on the other
texts of its batch, so the whole output equals `encode(all texts)` within float32 round-off (and bit for bit when
the input fits in one chunk).

--shard I/N encodes the I-th of N contiguous, nearly equal ranges of lines (1 <= I <= N): lines
[floor((I-1)*T/N), floor(I*T/N)) of T. The N outputs, joined in the order I = 1..N, are the output of the whole file
(`cat part-*.jsonl`, or `numpy.concatenate` of the npy files; docs/using.md). A progress bar with the rate and the
time left goes to stderr for inputs of more than 1,000 texts (--progress / --no-progress to choose).
"""

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import warnings

from hypertext.cli.runner import run_tool

PROG = "hypertext-encode"
PROGRESS_ABOVE = 1000  # texts; smaller inputs finish too fast for a progress bar to help
BOM = b"\xef\xbb\xbf"
_LONG_WARNING = re.compile(r"^(\d+) of \d+ texts were longer than max_length")


def parse_shard(value):
    """`"I/N"` → `(I, N)` with 1 <= I <= N; a ValueError otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(value))
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise ValueError(f"--shard must be I/N with 1 <= I <= N, e.g. --shard 2/8 (the second of 8 parts). "
                         f"Received: {value!r}")
    return int(match.group(1)), int(match.group(2))


def parse_args(argv=None, prog=PROG):
    from hypertext.vectors import PRECISIONS, check_precision

    p = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a preset name (see hypertext.presets()) or a .keras file")
    p.add_argument("--input", required=True, help="a UTF-8 text file, one text per line; - for stdin")
    p.add_argument("--output", required=True, help="the file to write (- for stdout)")
    p.add_argument("--format", default="npy", choices=["npy", "jsonl"],
                   help="npy: an (N, dim) array (the default); jsonl: text-plus-vector lines")
    p.add_argument("--precision", default="float32",
                   help=f"{' | '.join(PRECISIONS)} (default float32; see hypertext.vectors)")
    p.add_argument("--truncate-dim", type=int, default=None,
                   help="keep the first N dimensions (only for a model trained for it: metadata['matryoshka_dims'])")
    p.add_argument("--normalize", action="store_true", help="scale each vector to unit length (before quantising)")
    p.add_argument("--latent", action="store_true", help="write z (encode_latent), what decode reads, instead")
    p.add_argument("--shard", default=None, help="I/N: encode only the I-th of N contiguous ranges of lines")
    p.add_argument("--batch-size", type=int, default=256, help="texts per forward pass (default 256)")
    p.add_argument("--chunk-size", type=int, default=8192, help="lines read, encoded and written at a time")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help=f"a progress bar on stderr (default: for more than {PROGRESS_ABOVE:,} texts)")
    p.add_argument("--tf-logs", action="store_true", help="keep TensorFlow's own log lines")
    args = p.parse_args(argv)
    for name in ("batch_size", "chunk_size"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1. Received: {getattr(args, name)}")
    try:
        check_precision(args.precision)
        args.shard = None if args.shard is None else parse_shard(args.shard)
    except ValueError as e:
        p.error(str(e).replace("`precision`", "--precision"))
    return args


def iter_lines(path):
    """The texts of a UTF-8 file, one per line, streamed: line ends (\\n, \\r\\n or \\r) and a leading byte-order
    mark removed. (Not `str.splitlines`, which also splits at \\f, \\x1c, \\u2028 and others.) A ValueError naming
    the line for bytes that are not UTF-8."""
    name = "stdin" if path == "-" else path
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(f"No input file {path!r}.") from None
    except IsADirectoryError:
        raise ValueError(f"The input {path!r} is a folder, not a text file.") from None
    with f:
        for number, raw in enumerate(f, 1):
            if number == 1 and raw.startswith(BOM):
                raw = raw[len(BOM):]
            if raw.endswith(b"\n"):
                raw = raw[:-1]
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ValueError(f"{name}:{number}: not valid UTF-8 text ({e.reason}).") from None
            if "\r" in text:
                yield from text.split("\r")
            else:
                yield text


def read_texts(path):
    """All the texts of a UTF-8 file (`iter_lines`), as a list."""
    return list(iter_lines(path))


def count_lines(path):
    """How many texts `iter_lines(path)` yields (and a ValueError for a file that is not UTF-8, before any model
    loads)."""
    return sum(1 for _ in iter_lines(path))


def shard_range(total, shard):
    """The `[start, end)` lines of `shard` `(I, N)` of `total` lines (None: all of them)."""
    if shard is None:
        return 0, total
    i, n = shard
    return (i - 1) * total // n, i * total // n


def chunks(path, start, end, size):
    """Lists of at most `size` consecutive texts of lines `[start, end)` of `path`."""
    chunk = []
    for index, text in enumerate(iter_lines(path)):
        if index >= end:
            break
        if index >= start:
            chunk.append(text)
            if len(chunk) == size:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


class Writer:
    """Writes vectors as they come: npy (a header for the final row count, then the rows) or jsonl (a line per
    text)."""

    def __init__(self, stream, fmt, rows, width, dtype):
        import numpy as np

        self.stream, self.fmt, self.rows, self.dtype, self.written = stream, fmt, rows, np.dtype(dtype), 0
        if fmt == "npy":
            np.lib.format.write_array_header_1_0(stream, {"descr": np.lib.format.dtype_to_descr(self.dtype),
                                                          "fortran_order": False, "shape": (rows, width)})

    def write(self, texts, vectors):
        import numpy as np

        vectors = np.ascontiguousarray(vectors, dtype=self.dtype)
        if self.fmt == "npy":
            self.stream.write(vectors.tobytes())
        else:
            self.stream.write(b"".join(json.dumps({"text": t, "vector": v.tolist()}, ensure_ascii=False).encode(
                "utf-8") + b"\n" for t, v in zip(texts, vectors)))
        self.written += len(vectors)

    def close(self):
        if self.written != self.rows:  # the input changed between the two passes
            raise ValueError(f"The input gave {self.written:,} texts on the second pass, {self.rows:,} on the first: "
                             "it changed while it was read.")
        self.stream.flush()


def encode_file(model, path, output, fmt="npy", precision="float32", truncate_dim=None, normalize=False,
                latent=False, shard=None, batch_size=256, chunk_size=8192, progress=None, prog=PROG, total=None):
    """Encodes the lines of `path` (a file) to `output` (a file, or `-` for stdout) chunk by chunk; returns the
    number of texts written. See the module docstring. `total`: the line count of `path`, when the caller has it."""
    from hypertext import vectors as conventions
    from hypertext.vectors import Progress

    kind = "latent" if latent else "embedding"
    dim = model.config.latent_dim if latent else model.embedding_dim
    # every option checked against the model before any text is read
    import numpy as np

    width = conventions.finish(np.zeros((0, dim), "float32"), precision, truncate_dim, normalize, model.metadata,
                               kind).shape[1]
    dtype, _ = conventions.output_spec(width, precision)
    total = count_lines(path) if total is None else total
    start, end = shard_range(total, shard)
    max_length = (model.preprocessor if latent else model.embedding_preprocessor).max_length
    show = (end - start > PROGRESS_ABOVE) if progress is None else progress
    bar = Progress(end - start, enabled=show)
    long = 0
    tmp = None
    if output == "-":
        stream = sys.stdout.buffer
    else:
        tmp = os.path.join(os.path.dirname(os.path.abspath(output)), f".tmp-{os.getpid()}-{os.path.basename(output)}")
        stream = open(tmp, "wb")
    try:
        writer = Writer(stream, fmt, end - start, width, dtype)
        for chunk in chunks(path, start, end, chunk_size):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", UserWarning)
                if latent:
                    vectors = conventions.finish(model.encode_latent(chunk, batch_size=batch_size), precision,
                                                 truncate_dim, normalize, model.metadata, kind)
                else:
                    vectors = model.encode(chunk, batch_size=batch_size, normalize=normalize, precision=precision,
                                           truncate_dim=truncate_dim)
            for w in caught:
                match = _LONG_WARNING.match(str(w.message))
                if match:
                    long += int(match.group(1))
                else:
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            writer.write(chunk, vectors)
            bar.update(len(chunk))
        writer.close()
        bar.close()
        if tmp is not None:
            stream.close()
            os.replace(tmp, output)
            tmp = None
    finally:
        if tmp is not None:
            stream.close()
            os.remove(tmp)
    if long:
        print(f"{prog}: {long:,} of {end - start:,} texts are longer than max_length={max_length} pieces (eos "
              "included) and were encoded from their first max_length - 1 pieces.", file=sys.stderr)
    return end - start


def main(argv=None, prog=PROG):
    """The tool in-process. Returns the exit code: 0, or 2 with one line on stderr for a missing or unreadable
    input, a bad model or option, or an output that cannot be written."""
    args = parse_args(argv, prog)
    spooled = None
    try:
        path = args.input
        if path == "-":  # counted, then read again: stdin goes to a temporary file first
            spooled = tempfile.NamedTemporaryFile(prefix="hypertext-encode-", suffix=".txt", delete=False)
            with spooled:
                shutil.copyfileobj(sys.stdin.buffer, spooled, 1 << 20)
            path = spooled.name
        total = count_lines(path)  # a wrong path or bad bytes fail at once, before the model loads
        if args.output != "-" and not os.path.isdir(os.path.dirname(os.path.abspath(args.output))):
            raise FileNotFoundError(f"The output folder of {args.output!r} does not exist.")
        import hypertext

        model = hypertext.load(args.model)
        encode_file(model, path, args.output, args.format, args.precision, args.truncate_dim, args.normalize,
                    args.latent, args.shard, args.batch_size, args.chunk_size, args.progress, prog, total)
    except (ValueError, OSError) as e:  # OSError includes FileNotFoundError
        message = str(e).replace("`truncate_dim`", "--truncate-dim").replace("`precision`", "--precision")
        print(f"{prog}: error: {message}", file=sys.stderr)
        return 2
    finally:
        if spooled is not None:
            os.remove(spooled.name)
    return 0


def run(argv=None, prog=PROG):
    """The console script (see `hypertext.cli.runner.run_tool`)."""
    return run_tool(parse_args, main, argv, prog)


if __name__ == "__main__":
    sys.exit(run())
