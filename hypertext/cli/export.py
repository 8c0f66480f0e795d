"""Export a model's sentence embedding, encoder or decoder for inference without hypertext (`hypertext-export`): a
TensorFlow SavedModel (endpoint `serve`) or an ONNX file.

    hypertext-export --model english --format onnx --output embedding.onnx
    hypertext-export --model wordnet --part encoder --format onnx --output encoder.onnx
    hypertext-export --model runs/default/model.keras --part decoder --format tf_saved_model --output decoder

The embedding maps int32 token ids (batch, length) to what encode() returns (batch, embedding_dim), and is the
default part of a model with a sentence-embedding head; the encoder maps them to z (batch, latent_dim), what
encode_latent() returns, and is the default part otherwise; the decoder maps z and an int32 length to int32 token
ids (batch, length). Beside the artifact go OUTPUT.sentencepiece.model (the tokenizer) and
OUTPUT.json (inputs, outputs, id conventions); docs/export.md shows how to use them. ONNX needs tf2onnx and onnx
(`pip install hypertext[export]`). An existing OUTPUT is an error unless --overwrite is given.
"""

import argparse
import sys

from hypertext.cli.runner import run_tool

PROG = "hypertext-export"


def parse_args(argv=None, prog=PROG):
    p = argparse.ArgumentParser(prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a preset name (see hypertext.presets()) or a .keras file")
    # Checked by hypertext.export, whose errors say what is allowed.
    p.add_argument("--part", default=None, help="embedding, encoder or decoder (default: embedding for a model "
                                                 "with a sentence-embedding head, else encoder)")
    p.add_argument("--format", required=True, help="tf_saved_model (a folder) or onnx (a file)")
    p.add_argument("--output", required=True, help="the SavedModel folder or ONNX file to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUTPUT and its side files")
    p.add_argument("--tf-logs", action="store_true", help="keep TensorFlow's own log lines")
    return p.parse_args(argv)


def main(argv=None, prog=PROG):
    """The tool in-process. Returns the exit code: 0, or 2 with one line on stderr for a bad part, format, model or
    output."""
    args = parse_args(argv, prog)
    try:
        from hypertext.export import export

        paths = export(args.model, args.part, args.format, args.output, overwrite=args.overwrite)
    except (ValueError, OSError) as e:  # OSError includes FileNotFoundError and FileExistsError
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {paths['artifact']} ({paths['part']}, {args.format}), {paths['tokenizer']} and {paths['description']}")
    return 0


def run(argv=None, prog=PROG):
    """The console script (see `hypertext.cli.runner.run_tool`)."""
    return run_tool(parse_args, main, argv, prog)


if __name__ == "__main__":
    sys.exit(run())
