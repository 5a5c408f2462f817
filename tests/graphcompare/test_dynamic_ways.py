"""The dynamic-structure experiment's four ways (dyngraph, retrace, control flow, Fold-style
dynamic batching) compute the same values and gradients for the same sequences and trees."""

from __future__ import annotations

import numpy as np
import pytest

from graphcompare.experiments import structure
from graphcompare.experiments.workloads.dynamic import WAYS, Sequences, Trees, fold_schedule


@pytest.mark.parametrize("cls", [Sequences, Trees], ids=["sequences", "trees"])
def test_four_ways_agree_on_values_and_gradients(cls):
    model = cls(count=9, seed=3, dtype="float64")
    batch = model.items[:7]
    results = {}
    for way in WAYS:
        run, stats = getattr(model, way)()
        results[way] = run(batch)
    loss0, grads0 = results["dyngraph"]
    for way, (loss, grads) in results.items():
        np.testing.assert_allclose(loss, loss0, rtol=1e-12, err_msg=way)
        for g, g0 in zip(grads, grads0):
            np.testing.assert_allclose(g, g0, rtol=1e-10, atol=1e-13, err_msg=way)


def test_retrace_counts_and_one_graph_for_control_and_fold():
    model = Trees(count=12, seed=1, dtype="float64")
    run, stats = model.retrace()
    run(model.items)
    structures = len({repr(t) for t, _ in model.items})
    assert stats.to_dict() == {"traces": structures, "compiles": structures}
    for way in ("control", "fold"):
        run, stats = getattr(model, way)()
        run(model.items[:3])
        run(model.items[3:])
        assert dict(stats) == {"traces": 1, "compiles": 1}


def test_fold_schedule_groups_nodes_by_depth():
    model = Trees(count=4, seed=2, dtype="float64")
    table, L, R, O, roots = fold_schedule(model.items, model.d, "float64")
    inner = sum(len(xs) - 1 for _, xs in model.items)  # a binary tree of n leaves has n - 1 inner nodes
    assert (O < table.shape[0] - 1).sum() == inner  # every inner node written once (padding: the dummy row)
    assert len(set(O[O < table.shape[0] - 1].tolist())) == inner
    assert len(roots) == 4


def test_measure_dynamic_reports_crossovers_and_plot(tmp_path):
    res = structure.measure_dynamic({"batches": [1, 2], "reps": 1, "count": 3, "optimize": False})
    for name, m in res["models"].items():
        assert set(m["ways"]) == set(WAYS)
        assert m["ways"]["control"]["compiles"] == 1 and m["ways"]["fold"]["compiles"] == 1
        assert set(m["crossovers"]) == {"retrace", "control", "fold"}
        assert all(r["per_sample_s"] > 0 and r["peak_bytes"] > 0 for w in m["ways"].values() for r in w["rows"])
    assert structure.plot(res, tmp_path) == "dynamic_structure.png"
    assert "Dynamic structure, four ways" in "\n".join(structure.report_lines(res, {}))
