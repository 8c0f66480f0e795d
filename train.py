"""`python train.py ...` is `hypertext-train ...`: a thin wrapper around `hypertext.cli.train` (see --help)."""

import functools
import sys

from hypertext.cli import train as _cli

main = functools.partial(_cli.main, prog="train.py")  # the tool in-process: main(argv) -> exit code

if __name__ == "__main__":
    sys.exit(_cli.run(prog="train.py"))
