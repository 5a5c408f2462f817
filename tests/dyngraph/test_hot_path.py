"""The op-call and backward hot path: what its shortcuts must not change."""

import numpy as np

import dyngraph as dg


def test_views_taken_in_a_loop_do_not_pile_up_on_their_base():
    xs = dg.tensor(np.zeros((32, 10)))
    kept = []
    for step in range(200):  # an RNN reading xs[t] every step
        for t in range(32):
            v = xs[t]
            if t == 0 and step < 5:
                kept.append(v)
    refs = xs._ver.views
    assert len(refs) <= 64, len(refs)
    alive = [r() for r in refs if r() is not None]
    assert all(any(a is k for a in alive) for k in kept)  # the live views are still tracked
    with dg.no_grad():
        xs.add_(1.0)
    assert all(float(k.sum()) == 10.0 for k in kept)  # and still see their base's writes
