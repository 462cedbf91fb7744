"""The paper ablation's settings: the paper's elements and nothing else."""
import dataclasses

from benchmarks import methods as m
from benchmarks import run
from trainer_module.search_config import SearchConfig


def test_paper_search_changes_only_the_papers_elements():
    paper, default = SearchConfig(**m.PAPER_SEARCH), SearchConfig()
    changed = {f.name for f in dataclasses.fields(SearchConfig)
               if getattr(paper, f.name) != getattr(default, f.name)}
    assert changed == {"budget_masking", "final_candidates", "logit_bound", "budget_input",
                       "num_negatives", "prune_widths"}
    assert not paper.budget_masking and paper.final_candidates == 0 and paper.logit_bound == 0
    assert not paper.budget_input and paper.num_negatives == 5000 and not paper.fill_budget
    assert paper.prune_widths == "off"
    assert m.PAPER_SPACE == {"num_dim_chunks": 4}


def test_ablation_runs_for_ranking_and_retrieval():
    assert set(run.Settings().ablation_tasks) == {"ml100k_ranking", "ml100k_retrieval"}
