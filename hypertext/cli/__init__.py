"""The command-line tools, installed as console scripts (`setup.cfg`): `hypertext-train`, `hypertext-evaluate`,
`hypertext-encode` and `hypertext-export`. The repository's `train.py` and `evaluate.py` are thin wrappers around
the first two.

Each tool module has `main(argv)` (the tool in-process; returns the exit code) and `run()` (the console script:
sets TensorFlow's console up, then calls `main`). Nothing here imports TensorFlow at import time: `run` must hide
TensorFlow's log lines before TensorFlow loads (`hypertext.cli.runner`), and `hypertext` imports its
submodules lazily for the same reason.
"""
