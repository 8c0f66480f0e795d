"""Training curves: loss and token accuracy per epoch, drawn from one or several runs' `history.csv`."""

import csv


def plot_curves(history_csv, out_png):
    """Loss and token-accuracy curves, train (solid) and validation (dashed), from `history.csv` files.

    Args:
        history_csv: one path, or `{label: path}` to draw several runs on the same axes (e.g. hyper vs plain twin).
        out_png: the image to write.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = history_csv if isinstance(history_csv, dict) else {"": history_csv}
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    drawn = False
    for (label, path), color in zip(runs.items(), ("C0", "C1", "C2", "C3", "C4")):
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        if not rows:
            continue
        drawn = True
        epochs = [int(r["epoch"]) + 1 for r in rows]
        for ax, key in zip(axes, ("loss", "token_accuracy")):
            for prefix, style in (("", "-"), ("val_", "--")):
                if prefix + key in rows[0]:
                    ax.plot(epochs, [float(r[prefix + key]) for r in rows], style, color=color,
                            label=f"{label} {(prefix or 'train_') + key}".strip())
            ax.set_xlabel("epoch")
            ax.set_xticks(epochs)
            ax.set_title(key)
            ax.legend(fontsize=8)
    if drawn:
        fig.tight_layout()
        fig.savefig(out_png, dpi=100)
    plt.close(fig)
