"""`python evaluate.py ...` is `hypertext-evaluate ...`: a thin wrapper around `hypertext.cli.evaluate` (see --help)."""

import functools
import sys

from hypertext.cli import evaluate as _cli

main = functools.partial(_cli.main, prog="evaluate.py")  # the tool in-process: main(argv) -> exit code

if __name__ == "__main__":
    sys.exit(_cli.run(prog="evaluate.py"))
