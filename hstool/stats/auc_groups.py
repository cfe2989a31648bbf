"""AUC and DeLong variance of every group of a stratifier and of each group's complement ("the
rest"), in one pass over the rows sorted by group and score.

`auc.delong_components` costs O(U) for U distinct scores, and a group-versus-rest audit needs it
twice per group. Here the whole data set is summarised once (counts per rank class and the
placement counts P and Q); then every group and its rest follow from sums over the group's
"blocks" (its rows of one rank class), computed for all groups together, a chunk of blocks at a
time, with `reduceat` at the groups' boundaries:

- P[k] = negatives below class k + half the negatives in k (what a positive in k scores against);
  Q[k] = positives above k + half the positives in k. U_all = sum_k pos[k] P[k].
- A group's own placements P_G, Q_G count its own rows only. The rest's Mann-Whitney sum is
  U_R = U_all - sum_G-pos P - sum_G-neg Q + U_G.
- The rest's DeLong variance needs sum_R-pos (P - P_G)^2. Expanded over all positives less the
  group's, its two terms that involve every positive are sums over the group's negatives:
  sum_all-pos P P_G = sum_G-neg A[c] with A[k] = sum of pos P above k + half at k, and
  sum_all-pos P_G^2 = sum over ordered pairs of group negatives of Q[the higher class], which
  is sum_G-neg Q[c] (2 r + 1) for r the negative's rank in the group, less pos[k]/4 for every
  ordered pair tied in class k. The negatives' sum is the mirror image.

So the cost is a few passes over the rows per stratifier, whatever the number of groups. The
results equal `delong_components(...).auc` and `.variance()` on dense counts (tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hstool.stats.sums import dot


@dataclass(frozen=True)
class Whole:
    """Per-class summaries of the whole data set."""

    pos: np.ndarray  # positives per class (float64)
    neg: np.ndarray
    p_place: np.ndarray  # P[k]
    q_place: np.ndarray  # Q[k]
    pos_p_above: np.ndarray  # A[k] = sum_{k' > k} pos P + pos[k] P[k] / 2
    neg_q_below: np.ndarray  # C[k] = sum_{k' < k} neg Q + neg[k] Q[k] / 2
    m: float
    n: float
    u_all: float
    sum_pos_p2: float  # sum_k pos[k] P[k]^2
    sum_neg_q2: float

    @classmethod
    def of(cls, pos_counts: np.ndarray, neg_counts: np.ndarray) -> Whole:
        pos, neg = pos_counts.astype(np.float64), neg_counts.astype(np.float64)
        m, n = float(pos.sum()), float(neg.sum())
        p_place = np.cumsum(neg) - neg / 2.0
        q_place = m - np.cumsum(pos) + pos / 2.0
        pos_p, neg_q = pos * p_place, neg * q_place
        return cls(
            pos,
            neg,
            p_place,
            q_place,
            pos_p.sum() - np.cumsum(pos_p) + pos_p / 2.0,
            np.cumsum(neg_q) - neg_q / 2.0,
            m,
            n,
            dot(pos, p_place),
            dot(pos_p, p_place),
            dot(neg_q, q_place),
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


def _counts_before(flags: np.ndarray) -> np.ndarray:
    """How many flags are set before each position (length n + 1). Summed as bytes into
    32-bit counts where they fit: numpy's cumsum of bools into 64 bits is ten times slower."""
    out = np.zeros(flags.size + 1, np.int32 if flags.size < 2**31 else np.int64)
    np.cumsum(flags.view(np.uint8), dtype=out.dtype, out=out[1:])
    return out


# Blocks are summed a chunk at a time: the dozen temporaries of a chunk stay in the cache and
# their memory is reused, where whole-length temporaries (a million blocks) cost more in fresh
# pages than in arithmetic (measured: about twice the time at 1,000,000 rows).
CHUNK = 1 << 15


def groups_and_rests(
    whole: Whole, classes: np.ndarray, labels: np.ndarray, starts: np.ndarray
) -> list[tuple[Summary, Summary]]:
    """(group, rest) summaries of every group, from the rows sorted by group and, within a
    group, by rank class: `classes` and `labels` (bool) in that order, and `starts` the G + 1
    offsets where each group's rows begin (the last one is the number of rows)."""
    n_rows, n_groups = classes.size, starts.size - 1
    new_block = np.empty(n_rows, bool)  # a row whose class or group differs from the row before
    new_block[:1] = True
    np.not_equal(classes[1:], classes[:-1], out=new_block[1:])
    inner = starts[1:-1]
    new_block[inner[inner < n_rows]] = True
    block_edges = np.append(np.flatnonzero(new_block), n_rows)
    n_blocks = block_edges.size - 1
    first_block = np.searchsorted(block_edges[:-1], starts)  # each group's first block (G + 1)
    filled = np.flatnonzero(np.diff(first_block))  # groups with rows
    blocks = _Blocks(whole, classes, _counts_before(labels), _counts_before(~labels), starts)
    sums = np.zeros((6, n_groups))
    for a in range(0, n_blocks, CHUNK):
        b = min(a + CHUNK, n_blocks)
        # The groups with blocks in [a, b) and where each one's blocks begin in the chunk.
        here = filled[np.searchsorted(first_block[filled], a, "right") - 1 : np.searchsorted(first_block[filled], b)]
        offsets = np.maximum(first_block[here] - a, 0)
        terms = blocks.terms(block_edges[a : b + 1], here, np.diff(np.append(offsets, b - a)))
        sums[:, here] += np.add.reduceat(terms, offsets, axis=1)
    m_g, n_g = blocks.m_g, blocks.n_g
    out = []
    for g in range(n_groups):
        own = _from_sums(m_g[g], n_g[g], sums[0, g], sums[1, g], sums[2, g])
        rest = _from_sums(
            whole.m - m_g[g],
            whole.n - n_g[g],
            whole.u_all + sums[3, g],
            whole.sum_pos_p2 + sums[4, g],
            whole.sum_neg_q2 + sums[5, g],
        )
        out.append((own, rest))
    return out


class _Blocks:
    """The per-block terms of the six sums (module doc) for a run of consecutive blocks."""

    def __init__(
        self, whole: Whole, classes: np.ndarray, pos_before: np.ndarray, neg_before: np.ndarray, starts: np.ndarray
    ) -> None:
        self.whole, self.classes = whole, classes
        self.pos_before, self.neg_before = pos_before, neg_before
        self.pos_at_start, self.neg_at_start = pos_before[starts[:-1]], neg_before[starts[:-1]]
        self.m_g = (pos_before[starts[1:]] - self.pos_at_start).astype(np.float64)
        self.n_g = (neg_before[starts[1:]] - self.neg_at_start).astype(np.float64)

    def terms(self, edges: np.ndarray, groups: np.ndarray, blocks_per_group: np.ndarray) -> np.ndarray:
        """Six rows of terms, one column per block; `edges` are the blocks' first rows and the
        row after the last, `groups` the groups they belong to with their numbers of blocks."""
        w, first = self.whole, edges[:-1]
        t_pos = np.diff(self.pos_before[edges]).astype(np.float64)  # the block's positives
        t_neg = np.diff(self.neg_before[edges]).astype(np.float64)
        pos_below = (self.pos_before[first] - np.repeat(self.pos_at_start[groups], blocks_per_group)).astype(np.float64)
        neg_below = (self.neg_before[first] - np.repeat(self.neg_at_start[groups], blocks_per_group)).astype(np.float64)
        m_own = np.repeat(self.m_g[groups], blocks_per_group)
        c = self.classes[first]
        p_at, q_at = w.p_place[c], w.q_place[c]
        p_own = neg_below + t_neg / 2.0  # P_G at the block's class
        q_own = m_own - pos_below - t_pos / 2.0  # Q_G
        u_own = t_pos * p_own
        # sum_all-pos P_G^2 - 2 sum_all-pos P P_G, as sums over the group's negatives; the mirror
        # for the negatives' Q_G (module doc)
        all_pos = t_neg * ((2 * neg_below + t_neg) * q_at - 2 * w.pos_p_above[c] - w.pos[c] * t_neg / 4.0)
        all_neg = t_pos * ((2 * (m_own - pos_below) - t_pos) * p_at - 2 * w.neg_q_below[c] - w.neg[c] * t_pos / 4.0)
        return np.stack(
            [
                u_own,  # U_G
                u_own * p_own,  # sum_G-pos P_G^2
                t_neg * q_own**2,  # sum_G-neg Q_G^2
                u_own - t_pos * p_at - t_neg * q_at,  # U_R - U_all
                all_pos - t_pos * (p_at - p_own) ** 2,  # sum_R-pos (P - P_G)^2 - sum_all-pos P^2
                all_neg - t_neg * (q_at - q_own) ** 2,  # sum_R-neg (Q - Q_G)^2 - sum_all-neg Q^2
            ]
        )
