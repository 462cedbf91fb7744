"""The paper ablation's settings: the paper's elements and nothing else."""
import dataclasses

import numpy as np
import pytest

from benchmarks import methods as m
from benchmarks import run
from trainer_module.search.config import SearchConfig


def test_paper_search_changes_only_the_papers_elements():
    paper, default = SearchConfig(**m.PAPER_SEARCH), SearchConfig()
    changed = {f.name for f in dataclasses.fields(SearchConfig)
               if getattr(paper, f.name) != getattr(default, f.name)}
    assert changed == {"budget_masking", "final_candidates", "logit_bound", "budget_input",
                       "num_negatives", "prune_widths", "paired_rewards",
                       "controller_learning_rate"}
    assert not paper.budget_masking and paper.final_candidates == 0 and paper.logit_bound == 0
    assert not paper.budget_input and paper.num_negatives == 5000 and not paper.fill_budget
    assert paper.prune_widths == "off" and not paper.paired_rewards
    assert m.PAPER_SPACE == {"num_dim_chunks": 4}


def test_ablation_runs_for_ranking_and_retrieval():
    assert set(run.Settings().ablation_tasks) == {"ml100k_ranking", "ml100k_retrieval"}


def test_warmup_rate_is_the_median_of_its_chunks_after_the_first():
    # chunks of 50 steps: 1 s each, except the first (tracing) and two slowed by the
    # search loop's background trace
    stamps = {0: 0.0, 50: 5.0, 100: 8.0, 150: 11.0, **{s: 11.0 + (s - 150) / 50
                                                         for s in range(200, 401, 50)}}
    assert m.warmup_examples_per_s(stamps, 400) == pytest.approx(50 * m.BATCH_SIZE)
    assert m.warmup_examples_per_s({0: 0.0, 64: 2.0}, 64) == pytest.approx(32 * m.BATCH_SIZE)
    assert np.isnan(m.warmup_examples_per_s({0: 0.0, 50: 1.0}, 64))   # no stamp at its end
