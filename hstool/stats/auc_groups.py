"""AUC and DeLong variance of many groups and of their complements ("the rest"), without a
pass over all distinct scores per group.

`auc.delong_components` costs O(U) for U distinct scores, and a group-versus-rest audit needs it
twice per group. Here the whole data set is summarised once (counts per rank class, placement
counts P and Q, and prefix sums of them); then a group given by its own classes and counts gets
its AUC and variance from its r distinct classes, and the rest's from the whole minus the group:

- P[k] = negatives below class k + half the negatives in k (what a positive in k scores against);
  Q[k] = positives above k + half the positives in k. U_all = sum_k pos[k] P[k].
- For the group G, P_G and Q_G are step functions of its own classes. The rest's Mann-Whitney
  sum is U_R = U_all - sum_G-pos P - sum_G-neg Q + U_G, and its DeLong variance needs
  sum_k posR[k] (P[k] - P_G[k])^2 (and the Q mirror), whose cross terms with the whole's counts are
  sums over the intervals between the group's classes, read off prefix sums: O(r log r).

The results equal `delong_components(...).auc` and `.variance()` on dense counts (tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hstool.stats.sums import dot


def _prefix(values: np.ndarray) -> np.ndarray:
    out = np.zeros(values.size + 1)
    np.cumsum(values, out=out[1:])
    return out


@dataclass(frozen=True)
class Whole:
    """Per-class summaries of the whole data set."""

    pos: np.ndarray  # positives per class (float64)
    neg: np.ndarray
    p_place: np.ndarray  # P[k]
    q_place: np.ndarray  # Q[k]
    m: float
    n: float
    u_all: float
    sum_pos_p2: float  # sum_k pos[k] P[k]^2
    sum_neg_q2: float
    cum_pos: np.ndarray  # prefix sums (length U + 1) of pos, pos P, pos P^2 ...
    cum_pos_p: np.ndarray
    cum_neg: np.ndarray
    cum_neg_q: np.ndarray

    @classmethod
    def of(cls, pos_counts: np.ndarray, neg_counts: np.ndarray) -> Whole:
        pos, neg = pos_counts.astype(np.float64), neg_counts.astype(np.float64)
        m, n = float(pos.sum()), float(neg.sum())
        p_place = np.cumsum(neg) - neg / 2.0
        q_place = m - np.cumsum(pos) + pos / 2.0
        return cls(
            pos,
            neg,
            p_place,
            q_place,
            m,
            n,
            dot(pos, p_place),
            dot(pos, p_place**2),
            dot(neg, q_place**2),
            _prefix(pos),
            _prefix(pos * p_place),
            _prefix(neg),
            _prefix(neg * q_place),
        )


@dataclass(frozen=True)
class Summary:
    """A subset's AUC and DeLong variance (None below two cases of a class)."""

    m: int
    n: int
    auc: float | None
    variance: float | None


def _from_sums(m: float, n: float, u: float, sum_p2: float, sum_q2: float) -> Summary:
    """AUC and DeLong variance from the Mann-Whitney sum and the sums of squared placements."""
    if m == 0 or n == 0:
        return Summary(int(m), int(n), None, None)
    auc = u / (m * n)
    if m < 2 or n < 2:
        return Summary(int(m), int(n), auc, None)
    s10 = (sum_p2 / n**2 - m * auc**2) / (m - 1)
    s01 = (sum_q2 / m**2 - n * auc**2) / (n - 1)
    return Summary(int(m), int(n), auc, max(s10 / m + s01 / n, 0.0))


def _below(classes: np.ndarray, counts: np.ndarray, query: np.ndarray) -> np.ndarray:
    """For each query class: how many of (classes, counts) lie below it, ties counting one half."""
    cum = _prefix(counts)
    left = np.searchsorted(classes, query, side="left")
    right = np.searchsorted(classes, query, side="right")
    below: np.ndarray = cum[left] + (cum[right] - cum[left]) / 2.0
    return below


def group_and_rest(
    whole: Whole, pos_classes: np.ndarray, pos_counts: np.ndarray, neg_classes: np.ndarray, neg_counts: np.ndarray
) -> tuple[Summary, Summary]:
    """Summaries of a group (its sorted distinct classes and counts per class) and of the rest."""
    a, pa = pos_classes, pos_counts.astype(np.float64)
    b, nb = neg_classes, neg_counts.astype(np.float64)
    mg, ng = float(pa.sum()), float(nb.sum())
    # The group alone: placements within the group.
    pg_at_a = _below(b, nb, a)  # group negatives below each group positive class
    qg_at_b = mg - _below(a, pa, b)  # group positives above each group negative class
    group = _from_sums(mg, ng, dot(pa, pg_at_a), dot(pa, pg_at_a**2), dot(nb, qg_at_b**2))

    # The rest: U_R = U_all - sum_{G pos} P - sum_{G neg} Q + U_G.
    u_rest = whole.u_all - dot(pa, whole.p_place[a]) - dot(nb, whole.q_place[b]) + dot(pa, pg_at_a)
    # sum_k posR (P - P_G)^2 = sum pos P^2 - 2 sum pos P P_G + sum pos P_G^2 - sum_G-pos (P - P_G)^2.
    cross_p, square_p = _step_sums(whole.cum_pos, whole.cum_pos_p, whole.pos, whole.p_place, b, nb, below=True)
    sum_p2 = whole.sum_pos_p2 - 2 * cross_p + square_p - dot(pa, (whole.p_place[a] - pg_at_a) ** 2)
    cross_q, square_q = _step_sums(whole.cum_neg, whole.cum_neg_q, whole.neg, whole.q_place, a, pa, below=False)
    sum_q2 = whole.sum_neg_q2 - 2 * cross_q + square_q - dot(nb, (whole.q_place[b] - qg_at_b) ** 2)
    rest = _from_sums(whole.m - mg, whole.n - ng, u_rest, sum_p2, sum_q2)
    return group, rest


def _step_sums(
    cum_w: np.ndarray,
    cum_wx: np.ndarray,
    w: np.ndarray,
    x: np.ndarray,
    steps: np.ndarray,
    sizes: np.ndarray,
    *,
    below: bool,
) -> tuple[float, float]:
    """sum_k w[k] x[k] S[k] and sum_k w[k] S[k]^2 for the step function S of the group's classes.

    below=True: S[k] = sizes at classes below k + half those at k (P_G); below=False: sizes at
    classes above k + half those at k (Q_G). Between consecutive steps S is constant, so each
    open interval contributes through prefix sums; each step class contributes pointwise.
    """
    total = float(sizes.sum())
    upto = np.cumsum(sizes)  # sizes at or below each step
    # Value of S on the open interval just above step j (j = 0..r-1) and below the first step.
    above_step = upto if below else total - upto
    first_value = 0.0 if below else total
    edges = np.concatenate([[-1], steps, [w.size]])  # intervals (edges[j], edges[j+1]) exclusive
    values = np.concatenate([[first_value], above_step])
    lo, hi = edges[:-1] + 1, edges[1:]  # class ranges [lo, hi)
    seg_w = cum_w[hi] - cum_w[lo]
    seg_wx = cum_wx[hi] - cum_wx[lo]
    cross = dot(values, seg_wx)
    square = dot(values**2, seg_w)
    at_step = (upto - sizes / 2.0) if below else (total - upto + sizes / 2.0)
    cross += dot(w[steps] * x[steps], at_step)
    square += dot(w[steps], at_step**2)
    return cross, square
