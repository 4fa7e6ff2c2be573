from haad.data.synthetic import synthesize
from haad.evaluation.compare import best_counts, comparison_table, table_markdown
from haad.evaluation.protocol import EvalConfig, evaluate


def test_table_marks_best_and_keeps_numbers():
    data = synthesize(clips_per_class=12, seed=1)
    a = evaluate(data, EvalConfig(method="dct-distance", seeds=(0, 1)), progress=False)
    b = evaluate(data, EvalConfig(method="dct-distance", seeds=(0, 1), k_shot=1), progress=False)
    b["method"] = "dct-k1"
    t = comparison_table([a, b])
    assert t["methods"] == ["dct-distance", "dct-k1"]
    for row in t["rows"]:
        cells = row["cells"]
        assert cells[row["best"]]["mean"] == max(c["mean"] for c in cells.values())
        assert cells["dct-distance"]["mean"] == a["per_category"][row["category"]]["mean"]
    assert t["summary"]["mean"]["cells"]["dct-k1"]["mean"] == b["mean"]
    assert sum(best_counts(t).values()) == len(t["rows"]) == 12
    md = table_markdown(t)
    assert md.count("\n| ") >= 12 + 3 and "**" in md
    assert f"{a['mean']:.3f}" in md and "(2 seeds)" in md
