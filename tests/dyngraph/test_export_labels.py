"""dg.to_networkx / dg.to_dot with the user's names, values, gradients and local derivatives."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

import dyngraph as dg


def _chain():
    a = dg.tensor(3.0, requires_grad=True)
    w1, w2, w3, w4 = (dg.tensor(v, requires_grad=True) for v in (1.0, 2.0, 3.0, 4.0))
    b = w1 * a
    c = w2 * a
    d = w3 * b + w4 * c
    L = d * d
    return dict(a=a, w1=w1, w2=w2, w3=w3, w4=w4, b=b, c=c, d=d, L=L)


def _by_label(G):
    return {d["label"]: k for k, d in G.nodes(data=True) if d["label"] is not None}


def test_names_label_leaves_and_intermediates_with_values():
    t = _chain()
    G = dg.to_networkx(t["L"], names=t)
    keys = _by_label(G)
    assert set(keys) == set(t)
    assert G.nodes[keys["d"]]["value"] == 33.0 and G.nodes[keys["L"]]["value"] == 1089.0
    assert all(G.nodes[k]["grad"] is None for k in keys.values())  # nothing differentiated yet


def test_paths_of_local_derivatives_multiply_and_add_to_the_gradient():
    """The chain rule on the exported edge weights gives what backward() gives."""
    t = _chain()
    G = dg.to_networkx(t["L"], names=t)
    root = _by_label(G)["L"]
    t["L"].backward()
    for leaf in ("a", "w1", "w2", "w3", "w4"):
        src = _by_label(G)[leaf]
        total = sum(np.prod([G.edges[u, v]["local"] for u, v in zip(p, p[1:])])
                    for p in nx.all_simple_paths(G, src, root))
        assert total == t[leaf].grad.item(), leaf


def test_a_value_used_twice_adds_its_local_derivatives():
    t = _chain()
    G = dg.to_networkx(t["L"], names=t)
    k = _by_label(G)
    edge = G.edges[k["d"], k["L"]]
    assert edge["positions"] == [0, 1] and edge["local"] == 66.0  # d(d*d)/dd = 2d


def test_after_backward_gradients_show_and_weights_are_gone():
    t = _chain()
    t["L"].backward()
    G = dg.to_networkx(t["L"], names=t)
    k = _by_label(G)
    assert G.nodes[k["a"]]["grad"] == 726.0 and G.nodes[k["w3"]]["grad"] == 198.0
    assert G.nodes[k["d"]]["grad"] is None  # an intermediate keeps no gradient without retain_grad
    # the saved values a mul needs were freed; an add saved nothing, so its weights remain
    for u, v, d in G.edges(data=True):
        assert (d["local"] is None) == (G.nodes[v]["op"] == "mul"), (u, v)
    dot = dg.to_dot(t["L"], names=t)
    assert 'label="a\\nvalue 3\\ngrad 726"' in dot


def test_retained_intermediate_gradient_is_shown():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    y.retain_grad()
    z = y.sum()
    z.backward()
    G = dg.to_networkx(z, names=dict(x=x, y=y, z=z))
    assert G.nodes[_by_label(G)["y"]]["grad"].tolist() == [1.0, 1.0]


def test_backward_direction_reverses_arrows_and_writes_weights():
    t = _chain()
    fwd = dg.to_dot(t["L"], names=t)
    bwd = dg.to_dot(t["L"], names=t, direction="backward")
    G = dg.to_networkx(t["L"], names=t)
    k = _by_label(G)
    assert f"  {k['d']} -> {k['L']};" in fwd
    assert f'  {k["L"]} -> {k["d"]} [label=" 66"' in bwd


def test_keys_do_not_depend_on_what_ran_before():
    first = dg.to_dot(_chain()["L"])
    for _ in range(3):
        dg.tensor(1.0, requires_grad=True) * 2  # nodes created in between
    assert dg.to_dot(_chain()["L"]) == first


def test_bad_arguments_are_clear_errors():
    t = _chain()
    with pytest.raises(ValueError, match="direction must be 'forward' or 'backward'"):
        dg.to_dot(t["L"], direction="up")
    with pytest.raises(TypeError, match="mapping of names to tensors"):
        dg.to_networkx(t["L"], names=[t["a"]])


def test_local_derivatives_match_torch_on_a_tensor_graph():
    torch = pytest.importorskip("torch")
    x0 = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    x = dg.tensor(x0, requires_grad=True)
    y = x.tanh()
    z = (y * x).sum()
    G = dg.to_networkx(z, names=dict(x=x, y=y, z=z))
    k = _by_label(G)
    tx = torch.tensor(x0, requires_grad=True)
    ty = tx.tanh()
    (local,) = torch.autograd.grad(ty, tx, torch.ones_like(ty))
    np.testing.assert_allclose(G.edges[k["x"], k["y"]]["local"], local.numpy(), rtol=1e-12)


def test_tensor_of_a_float_size_is_a_clear_error():
    """The autograd seed writes torch.Tensor(6.7), which PyTorch refuses; int(6.7) must not make 6 elements."""
    with pytest.raises(TypeError, match=r"integer sizes, got 6.7; for a tensor holding that number use dg.tensor\(6.7\)"):
        dg.Tensor(6.7)
    with pytest.raises(TypeError, match="integer sizes"):
        dg.Tensor(2, True)
    assert dg.Tensor(2, np.int64(3)).shape == (2, 3)
