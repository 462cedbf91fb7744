"""The hand-sized baseline harness: its BENCHMARKS.md section from a records file."""
from benchmarks import baselines


def test_section_has_one_row_per_task_budget_with_mean_min_max():
    raw = {"seeds": [0, 1], "dims": [1, 2], "max_epochs": 3, "records": [
        {"task": "ml100k_ranking", "fraction": 0.08, "budget": 9088, "floor_width": 2,
         "fair_width": 3, "rows": {
             "floor": {"floats": 5680, "width": 2, "values": [0.75, 0.77]},
             "fair": {"floats": 9087, "width": 3, "values": [0.78, 0.78]},
             "grid": {"floats": [5680, 9088], "width": [2, 4], "values": [0.76, 0.79]}}}]}
    lines = baselines.section(raw)
    row = next(line for line in lines if line.startswith("| ml100k_ranking"))
    assert "8% (9,088)" in row and "2 (5,680)" in row and "3 (9,087)" in row
    assert "d=2/4" in row and "76.00 [75.00, 77.00]" in row and "78.00 [78.00, 78.00]" in row
