"""`--onednn on|off|unset` for the benchmark scripts; it must act before TensorFlow is imported, so it is read from
`sys.argv` here, before the scripts import Keras.

- `on` (the scripts' default, as train.py does): `TF_ENABLE_ONEDNN_OPTS=1` unless the variable is already set.
- `off`: `TF_ENABLE_ONEDNN_OPTS=0`, TensorFlow's own kernels (TensorFlow's default on CPUs without AVX-512).
- `unset`: the variable removed, what a user's own program gets (TensorFlow then decides by CPU: oneDNN is on by
  default on CPUs with AVX-512 VNNI/BF16, off on AVX2-only CPUs; the script's header line says which it got).
"""

import os
import sys

CHOICES = ("on", "off", "unset")


def apply_onednn_flag(argv=None):
    """Reads `--onednn VALUE` (or `--onednn=VALUE`) from `argv` and sets the environment; returns the value."""
    argv = sys.argv[1:] if argv is None else argv
    value = "on"
    for i, arg in enumerate(argv):
        if arg == "--onednn" and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--onednn="):
            value = arg.split("=", 1)[1]
    if value not in CHOICES:
        raise SystemExit(f"`--onednn` must be one of {', '.join(CHOICES)}. Received: --onednn {value}")
    if value == "on":
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    elif value == "off":
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
    else:
        os.environ.pop("TF_ENABLE_ONEDNN_OPTS", None)
    return value


def add_onednn_argument(parser):
    """Declares the flag on an argparse parser (already applied by `apply_onednn_flag`), for --help and parsing."""
    parser.add_argument("--onednn", choices=CHOICES, default="on",
                        help="TF_ENABLE_ONEDNN_OPTS: 'on' sets 1 unless set (as train.py does), 'off' sets 0, "
                             "'unset' removes it (what a user's own program gets)")


def write_json(path, payload):
    """Writes a benchmark's results as JSON (the docs tables are made from these files)."""
    import json

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(payload, f, indent=2)
