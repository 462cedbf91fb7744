"""The controller's sequence networks: an LSTM over decisions and the one-scan unroll.

``SequenceNetwork`` holds the stacked parameters of every decision (a policy head
gives logits, a value head the baseline's estimate) and the budget mask;
``unroll`` runs a policy and, in lockstep, its baseline over all decisions inside
one ``tf.scan``, sampling, greedy-decoding or teacher-forcing the choices, in index
order or in a per-row order (``random_orders``: each row decides the features in its
own random order, a feature's decisions kept together). ``controller.Controller``
builds the A3C search on these.

Example::

    net = SequenceNetwork([3, 3], head="policy")
    out = unroll(net, None, batch=4, seed=tf.constant([1, 2], tf.int64))
    out.actions                                   # int32 [4, 2], indexed by decision
"""
from __future__ import annotations

from typing import List, NamedTuple, Optional, Sequence

import numpy as np
import tensorflow as tf


class Rollout(NamedTuple):
    """One pass over all decisions: choices ``[B, n]``, padded logits ``[B, n, widest]``,
    baseline values ``[B, n]`` (zeros when the pass ran without the baseline)."""

    actions: tf.Tensor
    logits: tf.Tensor
    values: tf.Tensor

    def rows(self, start: int) -> "Rollout":
        """The rollout of rows ``start:`` (the others' gradients are then zero)."""
        return Rollout(self.actions[start:], self.logits[start:], self.values[start:])


class ExactPricing(NamedTuple):
    """What a masked ME policy needs to price each decision exactly (tables + projections).

    A feature's projections are not a sum over its decisions, so instead of a fixed cost
    per category the policy keeps each row's per-feature row-block widths and prices a
    category as the exact cost it adds to them (>= 0; the increments sum to the
    configuration's exact cost, in any decision order).

    Attributes:
      feature: ``[n]`` feature index of each decision (in the network's decision order).
      dim: ``[n]`` the dim chunk ``dbar_t`` each decision places.
      block_vocab: per feature its row-block sizes ``vbar_s``.
      budget: floats of the budget (costs become budget shares).
    """

    feature: Sequence[int]
    dim: Sequence[float]
    block_vocab: Sequence[Sequence[float]]
    budget: float


class SequenceNetwork(tf.keras.Model):
    """LSTM over decisions; ``head="policy"`` gives logits, ``head="value"`` a scalar per step."""

    def __init__(self, decision_sizes: Sequence[int], units: int = 64, head: str = "policy",
                 logit_bound: float = 2.5, decision_costs: Optional[Sequence[Sequence[float]]] = None,
                 any_order: bool = False,
                 exact_pricing: Optional[ExactPricing] = None, budget_input: bool = True, **kw):
        super().__init__(**kw)
        self.logit_bound = float(logit_bound)
        self.budget_input = bool(budget_input)
        self.decision_sizes = [int(n) for n in decision_sizes]
        self.units, self.head = int(units), head
        n, widest = len(self.decision_sizes), max(self.decision_sizes)
        out = widest if head == "policy" else 1
        small = lambda: tf.keras.initializers.RandomUniform(-0.01, 0.01)  # noqa: E731
        # All decisions' parameters are stacked (a handful of variables instead of two per
        # decision): tracing and optimizer updates stay cheap with hundreds of decisions.
        self.lstm_kernel = self.add_weight(name="lstm_kernel", shape=(2 * self.units, 4 * self.units),
                                           initializer="glorot_uniform")
        self.lstm_bias = self.add_weight(name="lstm_bias", shape=(4 * self.units,),
                                         initializer=tf.keras.initializers.Constant(
                                             [0.0] * self.units + [1.0] * self.units
                                             + [0.0] * 2 * self.units))  # forget-gate bias 1
        self.start = self.add_weight(name="start", shape=(1, self.units), initializer=small())
        # Decision i's choice feeds the next step; in a fixed order the last one feeds nothing.
        self.choice_embeddings = self.add_weight(
            name="choice_embeddings", shape=(n if any_order else max(n - 1, 1), widest, self.units),
            initializer=tf.keras.initializers.RandomUniform(-0.05, 0.05))
        self.head_kernel = self.add_weight(name=f"{head}_kernel", shape=(n, self.units, out),
                                           initializer=small())
        self.head_bias = self.add_weight(name=f"{head}_bias", shape=(n, out), initializer="zeros")
        self._invalid = tf.constant([[0.0] * k + [-1e9] * (widest - k) for k in self.decision_sizes])
        # Budget masking: decision i's category k costs decision_costs[i][k] budgets; a category
        # that would take the running total over 1 budget gets probability 0.
        self.masked = decision_costs is not None
        costs = decision_costs or [[0.0] * k for k in self.decision_sizes]
        if [len(c) for c in costs] != self.decision_sizes:
            raise ValueError(f"decision_costs must have one entry per category: sizes "
                             f"{self.decision_sizes}, got {[len(c) for c in costs]}")
        self.costs = tf.constant([list(map(float, c)) + [0.0] * (widest - len(c)) for c in costs],
                                 tf.float32)
        self.exact = exact_pricing is not None and self.masked
        if self.exact:
            p = exact_pricing
            rows = max(len(v) for v in p.block_vocab)
            self.num_features, self.num_blocks = len(p.block_vocab), rows
            self.decision_feature = tf.constant([int(f) for f in p.feature], tf.int32)
            self.decision_dim = tf.constant([float(d) for d in p.dim], tf.float32)
            self.block_share = tf.constant([[float(v) / p.budget for v in b] + [0.0] * (rows - len(b))
                                            for b in p.block_vocab], tf.float32)
            self.inv_budget = 1.0 / float(p.budget)
            # Category k of a decision places its chunk in row blocks 0..k-1.
            self.placed = tf.constant([[1.0 if r < k else 0.0 for r in range(rows)]
                                       for k in range(widest)], tf.float32)
        # Budget input: the budget share spent so far, scaled by a learned vector, joins the next
        # decision's input (off: the input is the previous choice's embedding alone, as in the paper).
        self.spent_embedding = (self.add_weight(name="spent_embedding", shape=(self.units,),
                                                initializer=small()) if self.budget_input else None)

    def initial(self, batch):
        """Input and LSTM state before the first decision."""
        zeros = tf.zeros([batch, self.units])
        return tf.tile(self.start, [batch, 1]), zeros, zeros

    def exact_costs(self, i, widths):
        """Budget share ``[B, widest]`` each category of decision ``i`` adds to rows whose
        features have row-block widths ``widths`` ``[B, F, S]`` (tables + projections)."""
        f = tf.gather(self.decision_feature, i)
        per_row = i.shape.rank != 0
        w = tf.gather(widths, f, batch_dims=1) if per_row else tf.gather(widths, f, axis=1)
        d = tf.reshape(tf.gather(self.decision_dim, i), [-1, 1, 1])
        vbar = tf.reshape(tf.gather(self.block_share, f), [-1, 1, self.num_blocks])
        wk = w[:, None, :] + d * self.placed[None]                          # [B, K, S]
        new = tf.cast(tf.not_equal(wk[..., 1:], wk[..., :-1]), wk.dtype)
        cost = tf.reduce_sum(vbar * wk, -1) + (self.inv_budget * wk[..., 0]
                                               * tf.reduce_sum(wk[..., 1:] * new, -1))
        return cost - cost[:, :1]

    def widen(self, i, choice, widths):
        """``widths`` ``[B, F, S]`` after decision ``i`` placed its chunk at level ``choice`` ``[B]``."""
        f = tf.reshape(tf.one_hot(tf.gather(self.decision_feature, i), self.num_features), [-1, self.num_features, 1])
        d = tf.reshape(tf.gather(self.decision_dim, i), [-1, 1])
        return widths + f * (d * tf.gather(self.placed, choice))[:, None, :]

    def advance(self, x, h, c, i, spent, costs=None):
        """One LSTM step (plain ops: Keras call overhead dominates at this size), then decision
        i's padded logits ``[B, widest]`` or value ``[B, 1]``.

        ``i`` is a scalar (every row makes the same decision) or ``[B]`` (each row its own,
        in a per-row decision order). With ``logit_bound`` > 0 logits are squashed to
        ``(-logit_bound, logit_bound)`` by a scaled tanh (0: unbounded); invalid categories, and with
        budget masking the ones that would take the running cost ``spent`` ``[B]`` over the
        budget, get -1e9. ``costs`` ``[B, widest]`` overrides the fixed per-category costs (exact pricing).
        """
        gates = tf.matmul(tf.concat([x, h], axis=1), self.lstm_kernel) + self.lstm_bias
        gi, gf, gg, go = tf.split(gates, 4, axis=1)
        c = tf.sigmoid(gf) * c + tf.sigmoid(gi) * tf.tanh(gg)
        h = tf.sigmoid(go) * tf.tanh(c)
        if i.shape.rank == 0:
            z = tf.matmul(h, tf.gather(self.head_kernel, i))
        else:
            z = tf.einsum("bu,buo->bo", h, tf.gather(self.head_kernel, i))
        z = z + tf.gather(self.head_bias, i)
        if self.head == "policy":
            if self.logit_bound > 0:
                z = self.logit_bound * tf.tanh(z / self.logit_bound)
            z = z + tf.gather(self._invalid, i)
            if self.masked:
                cost = tf.gather(self.costs, i) if costs is None else costs
                z = tf.where(spent[:, None] + cost > 1.0 + 1e-6, -1e9, z)
        return h, c, z

    def choice_cost(self, i, choice):
        """Budget share ``[B]`` of ``choice`` ``[B]`` at decision ``i`` (scalar or ``[B]``)."""
        width = tf.shape(self.costs)[1]
        return tf.gather(tf.reshape(self.costs, [-1]), i * width + choice)

    def next_input(self, i, choice, spent):
        """The input of the next decision: an embedding of choice i, plus (with ``budget_input``)
        the budget used so far."""
        last = tf.shape(self.choice_embeddings)[0] - 1
        emb = tf.gather(self.choice_embeddings, tf.minimum(i, last))
        if i.shape.rank == 0:
            picked = tf.gather(emb, choice)
        else:
            picked = tf.gather(emb, choice, batch_dims=1)
        if self.spent_embedding is None:
            return picked
        return picked + spent[:, None] * self.spent_embedding

    def step_outputs(self, actions: tf.Tensor) -> List[tf.Tensor]:
        """Per-decision outputs with the given choices fed back (teacher forcing).

        Args:
          actions: int ``[B, n_decisions]``.
        Returns:
          list of ``[B, n_i]`` logits (policy) or ``[B, 1]`` values (value head).
        """
        outs = tf.unstack(unroll(self, None, tf.shape(actions)[0], actions=actions).logits, axis=1)
        if self.head != "policy":
            return [o[:, :1] for o in outs]
        return [o[:, :k] for o, k in zip(outs, self.decision_sizes)]

    def sample(self, batch: int, seed: tf.Tensor, greedy: bool = False) -> tf.Tensor:
        """Samples (or, with ``greedy``, takes the argmax of) every decision in turn: ``[B, n]``."""
        return unroll(self, None, batch, seed=seed, greedy=greedy).actions


def unroll(lead: SequenceNetwork, follower: Optional[SequenceNetwork], batch, actions=None,
           seed=None, greedy=False, order=None) -> Rollout:
    """Runs ``lead`` (and ``follower`` in lockstep, fed the same choices) over all decisions
    in one ``tf.scan`` (a single loop body to trace).

    With ``actions`` the given choices are fed back (teacher forcing); otherwise each choice
    is sampled from ``lead``'s logits (or their argmax with ``greedy``). ``order`` (int
    ``[B, n]``, each row a permutation of the decisions) makes row b take decision
    ``order[b, j]`` at step j; without it every row decides in index order. ``logits`` of the
    result are ``lead``'s outputs, ``values`` the follower's (zeros without one); actions,
    logits and values are always indexed by decision, whatever order they were made in.
    """
    n, width = len(lead.decision_sizes), lead.head_kernel.shape[-1]
    fed = tf.zeros([batch, n], tf.int32) if actions is None else tf.cast(actions, tf.int32)
    if order is None:
        index = tf.range(n)                                    # [n]: scalar decision per step
    else:
        order = tf.cast(order, tf.int32)
        index = tf.transpose(order)                            # [n, B]: decision of each row
        fed = tf.gather(fed, order, batch_dims=1)              # choices in the rows' order
    seed = tf.zeros([2], tf.int64) if seed is None else tf.cast(seed, tf.int64)
    nets = [lead] + ([follower] if follower is not None else [])

    def step(carry, elems):
        states, spent, widths, _, _, _ = carry
        j, i, given = elems
        costs = lead.exact_costs(i, widths) if lead.exact else None  # static: no ops otherwise
        new_states, outs = [], []
        for net, (x, h, c) in zip(nets, states):
            h, c, z = net.advance(x, h, c, i, spent, costs if net is lead else None)
            new_states.append((h, c))
            outs.append(z)
        if actions is not None:
            choice = given
        elif greedy:
            choice = tf.argmax(outs[0], axis=-1, output_type=tf.int32)
        else:
            step_seed = tf.random.experimental.stateless_fold_in(seed, tf.cast(j, tf.int64))
            choice = tf.cast(tf.random.stateless_categorical(outs[0], 1, step_seed)[:, 0], tf.int32)
        if lead.exact:
            spent = spent + tf.gather(costs, choice, batch_dims=1)
            widths = lead.widen(i, choice, widths)
        else:
            spent = spent + lead.choice_cost(i, choice)
        states = tuple((net.next_input(i, choice, spent), h, c)
                       for net, (h, c) in zip(nets, new_states))
        value = outs[1][:, 0] if follower is not None else tf.zeros([batch])
        return states, spent, widths, outs[0], value, choice

    widths = (tf.zeros([batch, lead.num_features, lead.num_blocks]) if lead.exact
              else tf.zeros([batch, 0, 0]))
    init = (tuple(net.initial(batch) for net in nets), tf.zeros([batch]), widths,
            tf.zeros([batch, width]), tf.zeros([batch]), tf.zeros([batch], tf.int32))
    _, _, _, logits, values, choices = tf.scan(step, (tf.range(n), index, tf.transpose(fed)),
                                            initializer=init)
    out = Rollout(tf.transpose(choices), tf.transpose(logits, [1, 0, 2]), tf.transpose(values))
    if order is None:
        return out
    back = tf.argsort(order, axis=1)                           # step at which each decision was made
    return Rollout(*(tf.gather(t, back, batch_dims=1) for t in out))


def random_orders(group_sizes: Sequence[int], batch, seed: tf.Tensor) -> tf.Tensor:
    """Per-row decision orders ``[B, n]``: the groups (a feature's consecutive decisions) in a
    fresh random order per row, each group's decisions kept together and in index order."""
    sizes = [int(k) for k in group_sizes]
    starts = np.cumsum([0] + sizes[:-1])
    longest = max(sizes)
    table = tf.constant([[int(s) + t if t < k else -1 for t in range(longest)]
                         for s, k in zip(starts, sizes)], tf.int32)          # [G, longest]
    keys = tf.random.stateless_uniform([batch, len(sizes)], seed)
    rows = tf.reshape(tf.gather(table, tf.argsort(keys, axis=1)), [batch, -1])
    return tf.reshape(tf.boolean_mask(rows, rows >= 0), [batch, sum(sizes)])
