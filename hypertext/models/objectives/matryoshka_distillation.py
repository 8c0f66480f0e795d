"""The loss that trains a `SentenceEncoder`: distillation from a teacher's vectors at several leading widths
(Matryoshka), plus InfoNCE on natural pairs where the corpus has them."""

from keras import ops

from hypertext.models.objectives.distillation import similarity_kl
from hypertext.models.objectives.objective import unit


def matryoshka_distillation_loss(student, teacher, dims, similarity_weight=1.0, temperature=0.05):
    """The mean, over the leading widths `dims`, of `1 - cos(student[:, :d], teacher[:, :d])` (averaged over the
    batch) plus `similarity_weight` times `similarity_kl` of the same prefixes (in-batch similarities matched as
    softmax distributions at `temperature`).

    The teacher's vectors are expected in a basis whose leading axes carry the most variance (the trainer rotates
    them by their principal axes, which changes no cosine), so that a prefix of the student's vector is a smaller
    version of the whole, and `encode(truncate_dim=d)` for `d` in `dims` is what the loss trained.

    Args:
        student: float `(batch, width)`.
        teacher: float `(batch, width)`.
        dims: increasing leading widths, the last usually `width`.
        similarity_weight: the weight of the in-batch similarity term (0: cosine only).
        temperature: the softmax temperature of that term.

    Returns:
        A float32 scalar.
    """
    student, teacher = ops.cast(student, "float32"), ops.cast(teacher, "float32")
    total = 0.0
    for d in dims:
        s, t = student[:, :d], teacher[:, :d]
        total = total + 1.0 - ops.mean(ops.sum(unit(s) * unit(t), axis=-1))
        if similarity_weight:
            total = total + similarity_weight * similarity_kl(s, t, temperature)
    return total / len(dims)


def pair_infonce_loss(first, second, temperature=0.05):
    """Symmetric InfoNCE between rows of `first` and `second` (row `i` of each is a pair, every other row a negative):
    the mean of the cross-entropies of picking `i` from row `i` and from column `i` of the cosine matrix divided by
    `temperature`."""
    logits = ops.matmul(unit(first), ops.transpose(unit(second))) / temperature
    rows = ops.mean(ops.logsumexp(logits, axis=1) - ops.diagonal(logits))
    columns = ops.mean(ops.logsumexp(logits, axis=0) - ops.diagonal(logits))
    return (rows + columns) / 2


def matryoshka_pair_infonce_loss(first, second, dims, temperature=0.05):
    """`pair_infonce_loss` of the leading widths `dims` of both sides, averaged: the pair term of a `SentenceEncoder`
    trained for truncation (`matryoshka_dims`)."""
    return sum(pair_infonce_loss(first[:, :d], second[:, :d], temperature) for d in dims) / len(dims)
