"""Builds an out-of-domain English dev set from the docstrings of Python's standard library.

    python data/build_dev_english.py            # -> data/dev/stdlib-docstrings.txt

The model never trains on it: it measures how well a checkpoint reconstructs English prose that is neither a
dictionary gloss nor a literary quotation (the training corpora), in sentences of 20-400 characters. The text is
Python's own documentation (PSF licence, which allows redistribution). The result depends on the Python version
(3.11 here); the sentences are sorted, then sampled with a fixed seed.
"""

import argparse
import ast
import os
import random
import re
import sysconfig

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def docstrings(root):
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in ("test", "tests", "idlelib", "lib2to3", "site-packages"))
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            try:
                tree = ast.parse(open(os.path.join(folder, name), encoding="utf-8").read())
            except (SyntaxError, UnicodeDecodeError, ValueError):
                continue
            for node in ast.walk(tree):
                if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                    text = ast.get_docstring(node)
                    if text:
                        yield text


def sentences(text):
    for paragraph in re.split(r"\n\s*\n", text):
        if re.search(r"^\s*(>>>|\$|[-*] |\w+\s*:\s*$)", paragraph, re.M):
            continue  # examples, lists and field lists are not prose
        flat = " ".join(paragraph.split())
        for sentence in SENTENCE_END.split(flat):
            letters = sum(c.isalpha() or c == " " for c in sentence)
            if 20 <= len(sentence) <= 400 and letters >= 0.85 * len(sentence) and sentence[0].isupper():
                yield sentence


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "dev", "stdlib-docstrings.txt"))
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    found = sorted({s for text in docstrings(sysconfig.get_paths()["stdlib"]) for s in sentences(text)})
    chosen = random.Random(0).sample(found, min(args.count, len(found)))
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as f:
        f.write("\n".join(chosen) + "\n")
    print(f"{len(chosen)} of {len(found)} sentences -> {args.output}")


if __name__ == "__main__":
    main()
