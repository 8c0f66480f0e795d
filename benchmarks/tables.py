"""Markdown tables from the benchmark scripts' JSON output (pure Python): `benchmarks/vectors.py` prints
`vectors_table` and `similarity_table`, and `docs/make_tables.py` renders the docs' tables with these same functions."""

MINILM = "all-MiniLM-L6-v2"
MINILM_ONNX = f"{MINILM} (ONNX int8)"


def percent(value):
    return f"{100 * value:.1f}%"


def vectors_table(rows, reference=MINILM):
    """`benchmarks/vectors.py`'s rows as a markdown table; speeds also as a multiple of `reference`'s when it ran."""
    base = next((r["speed"]["texts_per_second"] for r in rows if r["encoder"] == reference), None)
    lines = ["| encoder | dim | lexname probe | definition R@1 | R@10 | MRR | same-synset R@1 | noise R@1 | texts/s "
             "| × MiniLM |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        speed = r["speed"]["texts_per_second"]
        lines.append(" | ".join([
            f"| {r['encoder']}", str(r["dim"]), percent(r["probe"]["probe_accuracy"]),
            percent(r["definition"]["recall_at_1"]), percent(r["definition"]["recall_at_10"]),
            f"{r['definition']['mrr']:.3f}", percent(r["same_synset"]["recall_at_1"]),
            percent(r["noise"]["recall_at_1"]), f"{speed:,.0f}",
            f"{speed / base:.1f}×" if base else "—"]) + " |")
    return "\n".join(lines)


def similarity_table(rows, reference=MINILM):
    """`benchmarks/vectors.py --task similarity`'s rows as a markdown table: Spearman per collection (in the rows'
    order) and their mean, and speeds also as a multiple of `reference`'s when it ran."""
    collections = [c for c in rows[0]["scores"] if c != "mean"]
    base = next((r["speed"]["texts_per_second"] for r in rows if r["encoder"] == reference), None)
    lines = ["| encoder | " + " | ".join(collections) + " | mean Spearman | texts/s | × MiniLM |",
             "|---|" + "---|" * (len(collections) + 3)]
    for r in rows:
        speed = r["speed"]["texts_per_second"]
        lines.append(f"| {r['encoder']} | " + " | ".join(f"{r['scores'][c]:.1f}" for c in collections) +
                     f" | **{r['scores']['mean']:.1f}** | {speed:,.0f} | " +
                     (f"{speed / base:.1f}×" if base else "—") + " |")
    return "\n".join(lines)


def dev_table(rows, reference=MINILM):
    """`benchmarks/vectors.py --task dev`'s rows as a markdown table: the judged collections' Spearman and their mean
    (the headline), the natural pairs' mean MRR, the Bible pairs' mean Spearman, and speed against `reference`."""
    base = next((r["speed"]["texts_per_second"] for r in rows if r["encoder"] == reference), None)
    judged = [c for c in rows[0]["judged"] if c != "mean"]
    lines = ["| encoder | " + " | ".join(judged) + " | **judged mean** | pairs MRR | Bible | texts/s | × MiniLM |",
             "|---|" + "---|" * (len(judged) + 5)]
    for r in rows:
        speed = r["speed"]["texts_per_second"]
        bible = r.get("bible", {}).get("mean")
        lines.append(f"| {r['encoder']} | " + " | ".join(f"{r['judged'][c]:.1f}" for c in judged) +
                     f" | **{r['judged']['mean']:.1f}** | {r['pairs']['mean']:.1f} | " +
                     ("—" if bible is None else f"{bible:.1f}") + f" | {speed:,.0f} | " +
                     (f"{speed / base:.1f}×" if base else "—") + " |")
    return "\n".join(lines)


def evaluation_table(results):
    """`[(label, evaluate.py --json output), ...]` as a markdown table of texts, BLEU, chrF and exact match."""
    lines = ["| held-out set | texts | BLEU | chrF | exact match |", "|---|---|---|---|---|"]
    for label, r in results:
        lines.append(f"| {label} | {r['num_examples']:,} | {r['bleu']:.1f} | {r['chrf']:.1f} | "
                     f"{percent(r['exact_match'])} |")
    return "\n".join(lines)


def conv_ratio_table(results, shared="Conv2D"):
    """`[(label, per_sample_conv*.py --json output), ...]` as a markdown table: each method's forward and
    forward+backward time as a multiple of the shared conv timed beside it in the same run."""
    lines = [f"| run | shape | method | fwd ÷ `{shared}` | fwd+bwd ÷ `{shared}` |", "|---|---|---|---|---|"]
    for label, run in results:
        for r in run["results"]:
            shape = " ".join(f"{k}{v}" for k, v in r["shape"].items())
            lines.append(f"| {label} | {shape} | {r['method']} | {r['fwd_ratio']:.2f}× | {r['fwd_bwd_ratio']:.2f}× |")
    return "\n".join(lines)


def speed_table(rows):
    """`benchmarks/encode_speed.py`'s rows as a markdown table: times, texts/s of the encode, and its multiples of
    both MiniLM paths (where they ran)."""
    speeds = {r["encoder"]: r["texts_per_second"] for r in rows}
    lines = ["| encoder | load s | first call s | encode s | texts/s | × MiniLM (PyTorch fp32) "
             "| × MiniLM (ONNX int8) |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        ratios = [f"{r['texts_per_second'] / speeds[b]:.1f}×" if b in speeds else "—" for b in (MINILM, MINILM_ONNX)]
        lines.append(f"| {r['encoder']} | {r['load']} | {r['first_call']} | {r['seconds']} | "
                     f"{r['texts_per_second']:,.0f} | " + " | ".join(ratios) + " |")
    return "\n".join(lines)
