"""Exact accounting (tables + ME projections) in the search's budget masks and final selection."""
import numpy as np
import tensorflow as tf
from hypothesis import HealthCheck, given, settings, strategies as st

from trainer_module.spec.mes import checked
from trainer_module.search.space import budget as budget_lib
from trainer_module.search.controller import Controller
from trainer_module.search.search import exact_pricing
from trainer_module.search.space import SearchSpace


def masked_controller(space, order_name, seed):
    """A controller masked as ``NeuralInputSearch`` masks it, with random policy logits."""
    costs = [[c / space.budget for c in dc] for dc in space.decision_costs()]
    groups = ([sl.stop - sl.start for sl in space.decision_slices()]
              if order_name == "random" else None)
    ctl = Controller(space.decision_sizes(), units=8, decision_costs=costs,
                     shuffle_groups=groups, exact_pricing=exact_pricing(space))
    bias = ctl.policy.head_bias
    bias.assign(tf.random.stateless_normal(bias.shape, [seed, 3]) * 2.0)  # not near-uniform
    return ctl


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vocabs=st.lists(st.integers(2, 400), min_size=1, max_size=3),
       budget_frac=st.floats(0.02, 0.6), order=st.sampled_from(["feature", "random"]),
       seed=st.integers(0, 99))
def test_masked_me_samples_fit_the_budget_with_their_projections(vocabs, budget_frac, order, seed):
    sizes = {f"f{i}": v for i, v in enumerate(vocabs)}
    space = SearchSpace.from_vocab_sizes(sizes, budget=1)
    space = SearchSpace(space.features, max(space.min_nonempty_cost(), int(
        budget_frac * sum(f.full_cost() for f in space.features))), "ME")
    ctl = masked_controller(space, order, seed)
    sampled = ctl.sample(32, tf.constant([seed, 1], tf.int64)).numpy()
    greedy = ctl.greedy()
    for actions in list(sampled) + [greedy]:
        assert space.cost(actions) <= space.budget, space.to_spec(actions).to_json()


def test_small_vocabulary_masks_count_projections():
    # 21 items (the occupation feature of ML-100K): projections can cost more than the tables.
    space = SearchSpace.from_vocab_sizes({"occupation": 21, "item": 300}, budget=1200)
    ctl = masked_controller(space, "feature", 0)
    sampled = ctl.sample(256, tf.constant([0, 1], tf.int64)).numpy()
    specs = [space.to_spec(a) for a in sampled]
    assert max(s.cost() for s in specs) <= space.budget
    assert any(s.projection_floats() > 0 for s in specs)  # the masks did allow ME choices


def test_final_selection_never_emits_a_candidate_over_budget_with_projections():
    # A configuration whose tables fit the budget but whose tables + projections do not.
    space = SearchSpace.from_vocab_sizes({"occupation": 21}, budget=1)
    f = space.features[0]
    levels = [5, 5, 5, 5, 2, 1]  # widths 16 for 2 rows, 8 for 4, 4 for the rest: 3 entries
    spec = space.to_spec(levels)
    tables = spec.table_floats()
    assert spec.projection_floats() > 0 and len(spec.features["occupation"].entries) == 3
    space = SearchSpace(space.features, tables, "ME")
    paper = SearchSpace(space.features, tables, "ME", accounting="paper_tables_only")
    assert paper.cost(levels) <= paper.budget < space.cost(levels)
    score = lambda a: -np.abs(np.atleast_2d(a) - np.array(levels)).sum(axis=1).astype(float)
    actions, info = budget_lib.select_within_budget(space, levels, score,
                                                    samples=np.array([levels] * 4))
    emitted = checked(space.to_spec(actions, metadata=info))
    assert info["budget_fallback"] and emitted.accounting == "exact"
    assert emitted.table_floats() + emitted.projection_floats() <= space.budget
    assert f.level_cost(list(actions)) == emitted.cost()
    kept, _ = budget_lib.select_within_budget(paper, levels, score)
    assert list(kept) == levels  # the paper's count lets it through
    rand = budget_lib.random_feasible(space, 64, 0)
    assert max(space.cost(a) for a in rand) <= space.budget


def test_search_final_selection_emits_no_candidate_whose_projections_break_the_budget():
    import planted_data as pdata
    from trainer_module.model.models import build_model, embedding_params
    from trainer_module.search.search import NeuralInputSearch, SearchConfig

    probe = SearchSpace.from_vocab_sizes(pdata.VOCAB, budget=1, mode="ME")
    favourite = np.array([5, 5, 5, 5, 2, 1] * 3)  # three ME entries per feature
    tables = probe.to_spec(favourite).table_floats()
    space = SearchSpace(probe.features, tables, "ME")  # its tables fit; with projections not
    assert space.cost(favourite) > space.budget
    cfg = SearchConfig(task="ranking", warmup_steps=0, search_steps=0, budget_masking=False,
                       final_candidates=16, final_random_candidates=16, final_eval_batches=2)
    search = NeuralInputSearch(space, pdata.DATASET, cfg)
    bias = np.zeros(search.controller.policy.head_bias.shape, np.float32)
    bias[np.arange(len(favourite)), favourite] = 50.0  # the controller all but insists on it
    search.controller.policy.head_bias.assign(bias)
    np.testing.assert_array_equal(search.controller.greedy(), favourite)
    val = list(pdata.dataset(pdata.ranking_arrays(400, 1), 200).take(2))
    spec = search.result(val_batches=val).spec
    model = build_model(pdata.DATASET, spec, hidden_units=(4,))
    model({n: tf.zeros([1, 1], tf.int64) for n in pdata.VOCAB})
    assert embedding_params(model) <= space.budget, spec.to_json()  # every embedding float
    assert spec.metadata["budget_fallback"]
