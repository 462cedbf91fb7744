"""One feature's part of the NIS search space: its Embedding Blocks and the cost of a choice.

For a feature of vocabulary size ``v`` the ``v x d`` matrix is cut into an
``S x T`` grid of Embedding Blocks ``E[s, t]`` of shape ``vbar_s x dbar_t``
(paper 3.3.1). Defaults: the paper's vocab fractions ``[0.1, 0.2, 0.2, 0.2, 0.3]``
and ``d = 32 * ceil(v ** 0.35 / 32)``; the dim chunks are geometric,
``(1, 1, 2, 4, 8, 16)`` for ``d = 32``, so widths 1..d in powers of two can be
chosen (the paper's four equal chunks, ``num_dim_chunks=4``, cannot express widths
below ``d / 4``, which tight budgets need).

A choice is represented, in both modes, by a *level vector* ``s_t`` (one int per
dim chunk, ``0..S``): chunk ``t`` is used by the items in row blocks ``1..s_t``.

* ME: the controller picks ``s_t`` directly (T decisions of S+1 categories).
* SE: the controller picks one of ``S*T + 1`` categories; category 0 is (0, 0)
  (feature removed) and category ``c >= 1`` is ``(s, t) = ((c-1)//T + 1, (c-1)%T + 1)``,
  i.e. the level vector ``[s]*t + [0]*(T-t)``.

Cost of a level vector. Row block ``s`` gets width ``w(s) = sum_t dbar_t [s_t >= s]``
(non-increasing in ``s``); the tables hold ``sum_t dbar_t * Vbar[s_t] = sum_s vbar_s w(s)``
floats (``Vbar[0] = 0``; ``Vbar_s * Dbar_t`` for an SE pick), and under ``"exact"``
accounting the ME projections add ``w(1) * sum_{s>=2} w(s) [w(s) != w(s-1)]`` (one
``d_m x d1`` matrix per distinct narrower width). An SE pick has none. The projection
part is not a sum over decisions, but it is monotone: adding a chunk at level ``s``
widens row blocks ``1..s`` only, so distinct widths never merge and ``w(1)`` only grows.

Example::

    f = FeatureSearchSpace("item", vocab_size=10_000_000, dim=256)
    f.se_levels(f.se_category(s=5, t=3))  # -> [5, 5, 5, 0]
    f.level_cost([2, 5, 0, 2], "paper_tables_only")  # -> 1_024_000_000 (paper Fig. 2c)
"""
from __future__ import annotations

import dataclasses
import functools
import itertools
from typing import List, Optional, Sequence, Tuple

import numpy as np

from trainer_module.spec.capacity import default_dim  # noqa: F401  (re-exported)
from trainer_module.spec.mes import FeatureMES

DEFAULT_VOCAB_FRACTIONS = (0.1, 0.2, 0.2, 0.2, 0.3)


def geometric_dim_chunks(dim: int) -> Tuple[int, ...]:
    """Chunks that halve from ``dim`` down to 1, ascending: 32 -> ``(1, 1, 2, 4, 8, 16)``.

    The first ``t`` chunks sum to a power of two when ``dim`` is one, so SE picks are
    the widths 1, 2, 4, ..., d and ME picks any sum of chunks.
    """
    chunks, rest = [], int(dim)
    while rest > 1:
        chunks.append(rest // 2)
        rest -= rest // 2
    return tuple(reversed(chunks + [rest] if rest else chunks))


@dataclasses.dataclass(frozen=True)
class FeatureSearchSpace:
    """Embedding Blocks of one feature.

    Attributes:
      name: feature name.
      vocab_size: number of items in the frequency-ordered vocabulary (v).
      vocab_fractions: row-chunk fractions; must be positive and sum to 1.
      dim: maximum embedding width d (default: the paper's heuristic).
      dim_chunks: explicit column chunks (sum = d); default ``geometric_dim_chunks(d)``.
      num_dim_chunks: T equal chunks instead of the geometric ones (the paper used 4 equal
        chunks, section 4).
    """

    name: str
    vocab_size: int
    vocab_fractions: Tuple[float, ...] = DEFAULT_VOCAB_FRACTIONS
    dim: Optional[int] = None
    dim_chunks: Optional[Tuple[int, ...]] = None
    num_dim_chunks: Optional[int] = None

    def __post_init__(self):
        n = self.name
        if not isinstance(self.vocab_size, (int, np.integer)) or self.vocab_size <= 0:
            raise ValueError(f"feature {n!r}: vocabulary size must be a positive integer, "
                             f"got {self.vocab_size!r}")
        fr = tuple(float(x) for x in self.vocab_fractions)
        if not fr or any(x <= 0 for x in fr):
            raise ValueError(f"feature {n!r}: vocab_fractions must all be > 0, got {list(fr)}")
        if abs(sum(fr) - 1.0) > 1e-6:
            raise ValueError(f"feature {n!r}: vocab_fractions must sum to 1, got {list(fr)} "
                             f"(sum {sum(fr):.6g})")
        object.__setattr__(self, "vocab_fractions", fr)
        if self.dim_chunks is not None:
            chunks = tuple(int(c) for c in self.dim_chunks)
            if not chunks or any(c <= 0 for c in chunks):
                raise ValueError(f"feature {n!r}: dim_chunks must all be > 0, got {list(chunks)}")
            if self.dim is not None and sum(chunks) != self.dim:
                raise ValueError(f"feature {n!r}: dim_chunks {list(chunks)} sum to {sum(chunks)}, "
                                 f"not dim {self.dim}")
        else:
            d = default_dim(int(self.vocab_size)) if self.dim is None else int(self.dim)
            if d <= 0:
                raise ValueError(f"feature {n!r}: dim must be > 0, got {d}")
            if self.num_dim_chunks is None:
                chunks = geometric_dim_chunks(d)
            else:
                t = int(self.num_dim_chunks)
                if t <= 0 or t > d:
                    raise ValueError(f"feature {n!r}: num_dim_chunks must be in [1, dim={d}], got {t}")
                chunks = tuple(d // t + (1 if i < d % t else 0) for i in range(t))
        object.__setattr__(self, "dim_chunks", chunks)
        object.__setattr__(self, "dim", sum(chunks))

    # --- the grid -----------------------------------------------------------
    @functools.cached_property
    def block_vocab(self) -> Tuple[int, ...]:
        """Row chunk sizes ``vbar_s`` (sum = v). Chunks that would round to 0 merge.

        Cached, like ``cum_vocab``: the fields are frozen, and the budget code prices
        configurations in tight loops."""
        v = int(self.vocab_size)
        bounds: List[int] = []
        for c in np.cumsum(self.vocab_fractions):
            b = min(v, max(1, int(round(c * v))))
            if not bounds or b > bounds[-1]:
                bounds.append(b)
        bounds[-1] = v
        return tuple(np.diff([0] + bounds).astype(int).tolist())

    @functools.cached_property
    def cum_vocab(self) -> Tuple[int, ...]:
        """``(Vbar_0=0, Vbar_1, ..., Vbar_S)``."""
        return tuple(np.cumsum((0,) + self.block_vocab).astype(int).tolist())

    @property
    def num_row_blocks(self) -> int:
        return len(self.block_vocab)

    @property
    def num_col_blocks(self) -> int:
        return len(self.dim_chunks)

    # --- choices --------------------------------------------------------------
    def num_categories(self, mode: str) -> List[int]:
        """Sizes of the controller's decisions for this feature."""
        s, t = self.num_row_blocks, self.num_col_blocks
        return [s * t + 1] if mode == "SE" else [s + 1] * t

    def se_category(self, s: int, t: int) -> int:
        """Category index of SE pick ``(s, t)``; ``(0, 0)`` is 0."""
        if (s, t) == (0, 0):
            return 0
        if not (1 <= s <= self.num_row_blocks and 1 <= t <= self.num_col_blocks):
            raise ValueError(f"feature {self.name!r}: SE pick {(s, t)} outside the "
                             f"{self.num_row_blocks}x{self.num_col_blocks} grid")
        return (s - 1) * self.num_col_blocks + t

    def se_pick(self, category: int) -> Tuple[int, int]:
        """``(s, t)`` of SE category ``category`` (the inverse of ``se_category``)."""
        if category == 0:
            return 0, 0
        t_all = self.num_col_blocks
        return (category - 1) // t_all + 1, (category - 1) % t_all + 1

    def se_levels(self, category: int) -> List[int]:
        """Level vector of SE category (``[s]*t + [0]*(T-t)``)."""
        s, t = self.se_pick(category)
        return [s] * t + [0] * (self.num_col_blocks - t)

    def se_level_table(self) -> np.ndarray:
        """``[S*T+1, T]`` int table mapping SE categories to level vectors."""
        return np.array([self.se_levels(c) for c in range(self.num_categories("SE")[0])], np.int32)

    def levels(self, actions: Sequence[int], mode: str) -> List[int]:
        """Level vector from this feature's controller actions."""
        return self.se_levels(int(actions[0])) if mode == "SE" else [int(a) for a in actions]

    def decision_costs(self, mode: str) -> List[List[int]]:
        """Table floats each category of each decision adds (additive; exact for SE, whose picks
        have no projections; ME projections are priced from level vectors, ``level_cost``)."""
        if mode == "SE":
            return [[self.level_cost(self.se_levels(c)) for c in range(self.num_categories("SE")[0])]]
        cv = self.cum_vocab
        return [[int(d * cv[s]) for s in range(self.num_row_blocks + 1)] for d in self.dim_chunks]

    def level_cost(self, levels: Sequence[int], accounting: str = "exact") -> int:
        """Floats of a level vector: tables ``sum_t dbar_t * Vbar[s_t]``, plus the ME
        projections under ``"exact"`` accounting (see the module docstring)."""
        cv = self.cum_vocab
        tables = int(sum(d * cv[int(s)] for d, s in zip(self.dim_chunks, levels)))
        if accounting == "paper_tables_only":
            return tables
        return tables + self.level_projection_floats(levels)

    def level_projection_floats(self, levels: Sequence[int]) -> int:
        """Floats in the projections of a level vector's MES: ``w(1) * sum_{s>=2} w(s)`` over
        the row blocks whose width differs from the block above (and is not 0)."""
        widths = [sum(d for d, lvl in zip(self.dim_chunks, levels) if int(lvl) >= s)
                  for s in range(1, self.num_row_blocks + 1)]
        return widths[0] * sum(w for prev, w in zip(widths, widths[1:]) if w != prev)

    def levels_to_mes(self, levels: Sequence[int]) -> FeatureMES:
        """The MES a level vector realises (rows merged by equal width; zero-width rows dropped)."""
        entries: List[List[int]] = []
        for s in range(1, self.num_row_blocks + 1):
            width = sum(d for d, lvl in zip(self.dim_chunks, levels) if lvl >= s)
            if width == 0:
                break
            rows = self.block_vocab[s - 1]
            if entries and entries[-1][1] == width:
                entries[-1][0] += rows
            else:
                entries.append([rows, width])
        return FeatureMES(entries)

    def mes_to_levels(self, entries: Sequence[Sequence[int]]) -> Optional[List[int]]:
        """A level vector that realises ``entries`` ((rows, width), ...), the inverse of
        ``levels_to_mes``; None when the MES is not on this grid (rows that end inside a row
        block, or a width that no nested choice of dim chunks sums to).

        Chunk t is active in row blocks 1..level_t, so the active chunk sets shrink block by
        block: they are chosen from the last block up, each a superset of the next one's.
        """
        cv, widths, start = list(self.cum_vocab), [0] * self.num_row_blocks, 0
        for rows, width in entries:
            end = start + int(rows)
            if end not in cv:
                return None
            widths[cv.index(start):cv.index(end)] = [int(width)] * (cv.index(end) - cv.index(start))
            start = end
        dims = self.dim_chunks

        def nested(s: int, active: frozenset) -> Optional[List[frozenset]]:
            if s < 0:
                return []
            free = [t for t in range(len(dims)) if t not in active]
            for k in range(len(free) + 1):
                for extra in itertools.combinations(free, k):
                    if sum(dims[t] for t in active | set(extra)) == widths[s]:
                        rest = nested(s - 1, active | frozenset(extra))
                        if rest is not None:
                            return rest + [active | frozenset(extra)]
            return None

        sets = nested(self.num_row_blocks - 1, frozenset())
        if sets is None:
            return None
        return [max((s + 1 for s, a in enumerate(sets) if t in a), default=0) for t in range(len(dims))]

    def within_budget(self, budget: int, mode: str) -> "FeatureSearchSpace":
        """This feature without the dim chunks that no configuration within ``budget`` uses.

        A configuration that uses chunk t gives it to the first row block at least, so it
        costs ``vbar_1 * dbar_t`` floats or more (ME), and an SE pick of the first ``t``
        chunks costs ``vbar_1 * Dbar_t`` or more: such chunks are dropped (ME: each one
        that costs more than the budget; SE: from the first over-budget prefix on). The
        within-budget configurations, and the MES each realises, stay the same; at least
        the first chunk stays, so the feature keeps its place in the space.
        """
        first, keep = self.block_vocab[0], []
        for c in self.dim_chunks:
            if first * (c if mode == "ME" else sum(keep) + c) <= budget:
                keep.append(c)
            elif mode == "SE":
                break
        keep = keep or [self.dim_chunks[0]]
        if tuple(keep) == self.dim_chunks:
            return self
        return dataclasses.replace(self, dim=sum(keep), dim_chunks=tuple(keep), num_dim_chunks=None)

    def min_nonempty_cost(self) -> int:
        """Cheapest choice that keeps the feature: one row block x one dim chunk."""
        return self.block_vocab[0] * min(self.dim_chunks)

    def full_cost(self) -> int:
        return int(self.vocab_size) * int(self.dim)
