"""The diagnostics' summary: rank correlations, regret, noise ratio, the picks."""
import math

from benchmarks import diagnose


def _run(scores):
    confs = {name: {"warmup_score": w, "final_score": f, "val": v, "test": v, "floats": 1}
             for name, (w, f, v) in scores.items()}
    return {"configurations": confs, "reward_noise_sd": 0.05,
            "learning": [{"step": 10, "entropy": [1.0, 0.5], "log_prob_emitted": math.log(0.25)}]}


def test_a_supernet_that_ranks_perfectly_has_tau_one_and_no_regret():
    run = _run({"most probable": (0.1, 0.1, 0.70), "grid d=1": (0.2, 0.2, 0.72),
                "random 0": (0.3, 0.3, 0.74), "random 1": (0.4, 0.4, 0.76),
                "final pick": (0.4, 0.4, 0.76)})
    s = diagnose.summarize(run)
    assert s["n"] == 4                                   # the final pick is not counted twice
    assert s["final"]["kendall_tau"] == 1.0 and s["final"]["top1_regret"] == 0.0
    assert s["best_random_val"] == 0.76 and s["mean_random_val"] == 0.75
    assert s["final_entropy"] == 0.75 and abs(s["final_prob_emitted"] - 0.25) < 1e-12


def test_a_reversed_ranking_has_tau_minus_one_and_the_full_regret():
    run = _run({"most probable": (0.4, 0.4, 0.70), "grid d=1": (0.3, 0.3, 0.72),
                "random 0": (0.2, 0.2, 0.74), "random 1": (0.1, 0.1, 0.76),
                "final pick": (0.4, 0.4, 0.70)})
    s = diagnose.summarize(run)
    assert s["warmup"]["kendall_tau"] == -1.0
    assert abs(s["warmup"]["top1_regret"] - 0.06) < 1e-9
    assert abs(s["noise_to_spread"] - 0.05 / s["config_sd"]) < 1e-12
