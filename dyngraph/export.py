"""``dg.to_networkx(t)`` / ``dg.to_dot(t)``: the graph recorded behind a tensor.

Nodes are the ``grad_fn``s (``MulBackward0``...) and the leaves' ``AccumulateGrad`` sinks;
an edge runs from a node's input to the node (the direction data flowed forward, as
torchviz draws it). Each node carries its name, op, attributes, sequence number, output
shape (``None`` once backward freed what recorded it) and the shapes of the values it saved
(empty once backward freed them); a leaf's node also carries the leaf ``tensor`` itself.

``names`` (a mapping such as ``dict(a=a, b=b)`` or ``locals()``; entries that are not tensors
are ignored) labels the nodes with the user's own names, as micrograd's ``draw_dot`` does: a
leaf by its tensor, any other node by the tensor whose ``grad_fn`` it is. A named node then
also carries that tensor's ``value`` and ``grad`` (``None`` where there is none: an
intermediate's gradient is kept only after ``retain_grad()``).

Each edge carries ``local``: the local derivative of the node's output with respect to that
input (its vector-Jacobian product with a gradient of ones, so the exact derivative where the
output has one element), computed by the node's own gradient rule from its saved values, or
``None`` once ``backward()`` has freed them. Multiplying the ``local`` weights along a path
and adding over the paths is the chain rule; ``to_dot(t, direction="backward")`` draws the
arrows the way gradients flow with those weights written on them.
"""

from __future__ import annotations

from .errors import FreedGraphError
from .node import AccumulateGrad

_DIRECTIONS = ("forward", "backward")



def _stored_grad(tensor):
    """The gradient a tensor holds (``.grad`` without the non-leaf warning: a picture of the
    graph reads what is there, and a non-leaf's is there only after ``retain_grad``)."""
    m = tensor._meta
    g = None if m is None else m.grad
    return None if g is None else g.detach().numpy().copy()

def _walk(t):
    """Every node reachable from ``t.grad_fn`` (iteratively), in discovery order."""
    root = t.grad_fn if t.grad_fn is not None else (t._accumulator() if t.requires_grad else None)
    if root is None:
        return []
    seen = {root}
    order = [root]
    stack = [root]
    while stack:
        for c in stack.pop().next:
            if c is not None and c not in seen:
                seen.add(c)
                order.append(c)
                stack.append(c)
    return order


def _keys(nodes) -> dict:
    """Stable keys, whatever ran before: ``n0, n1, ...`` by creation, ``leaf0, ...`` by discovery."""
    ops = sorted((n for n in nodes if n.__class__ is not AccumulateGrad), key=lambda n: n.seq)
    keys = {n: f"n{i}" for i, n in enumerate(ops)}
    leaves = [n for n in nodes if n.__class__ is AccumulateGrad]
    keys.update({n: f"leaf{i}" for i, n in enumerate(leaves)})
    return keys


def _named(names) -> dict:
    """``{id of a node: (name, tensor)}`` for the tensors in ``names``."""
    from .tensors import Tensor

    if names is None:
        return {}
    if not hasattr(names, "items"):
        raise TypeError(f"names= takes a mapping of names to tensors, such as dict(a=a, b=b) or locals(); got {type(names).__name__}")
    out = {}
    for name, t in names.items():
        if not isinstance(t, Tensor) or name.startswith("_"):
            continue
        node = t.grad_fn if t.grad_fn is not None else (t._accumulator() if t.requires_grad else None)
        if node is not None:
            out.setdefault(id(node), (name, t))  # the first name wins (locals() lists in order)
    return out


def _local_derivatives(n, shape, be):
    """The node's rule run on a gradient of ones: one array (or None) per input, or None when
    the saved values are gone."""
    import numpy as np

    from .interpreters import eager_ops
    from .record import unpack

    if n.saved is None or shape is None:
        return None
    first = n.saved[0] if n.saved else None
    if n.out is not None:
        dtype = n.out.data.dtype
    elif first is not None:
        dtype = first._data.dtype if hasattr(first, "_data") else first.dtype
    else:
        return None
    g = be.asarray(np.ones(shape, dtype=np.dtype(str(dtype).split(".")[-1])))
    out = n.out.data if n.out is not None else g
    ops = eager_ops(be)
    ops.needs_input_grad = tuple(c is not None for c in n.next)  # booleans: holds no node alive
    try:
        grads = n.op.vjp(ops, g, unpack(n, False), out, **n.attrs)
    except FreedGraphError:
        return None
    finally:
        del ops.needs_input_grad  # back to the class default for the next rule
    return [None if x is None else np.asarray(be.to_numpy(x)) for x in grads]


def to_networkx(t, names=None):
    """The recorded graph behind ``t`` as a ``networkx.DiGraph``.

    Parameters:
        t: the tensor whose graph to export (its ``grad_fn`` is the last node).
        names: optional mapping of names to tensors (``dict(a=a, L=L)``, ``locals()``): those
            nodes get ``label`` (the name), ``value`` and ``grad`` (NumPy arrays or ``None``).

    Returns:
        A ``networkx.DiGraph``; node attributes ``name``, ``op``, ``attrs``, ``seq``, ``shape``,
        ``dtype``, ``saved``, ``label``, ``value``, ``grad`` (and ``tensor`` for a leaf); edge
        attributes ``input`` (the first position), ``positions`` (all of them: ``d * d`` uses
        ``d`` twice) and ``local`` (see the module docstring).

    Raises:
        TypeError: ``names`` is not a mapping.

    Examples:
        >>> a = dg.tensor(2.0, requires_grad=True); b = a * 3
        >>> G = dg.to_networkx(b, names=dict(a=a, b=b))
        >>> sorted(d["label"] for _, d in G.nodes(data=True))
        ['a', 'b']
    """
    import networkx as nx

    named = _named(names)
    g = nx.DiGraph()
    nodes = _walk(t)
    key = _keys(nodes)
    # a node's output shape: what its consumers recorded for that input (or the root's shape)
    shapes = {nodes[0]: tuple(t.shape)} if nodes else {}
    for n in nodes:
        if n.__class__ is not AccumulateGrad and n.saved is not None:
            for c, s in zip(n.next, n.saved):
                if c is not None and c not in shapes:
                    shapes[c] = tuple(s.shape)
    for n in nodes:
        label, tensor = named.get(id(n), (None, None))
        if n.__class__ is AccumulateGrad:
            v = n.variable
            tensor = v
            g.add_node(key[n], name="AccumulateGrad", op="leaf", attrs={}, seq=-1,
                       shape=tuple(v.shape), dtype=v._dtype_name, saved=[], tensor=v)
        else:
            if tensor is not None:
                shapes.setdefault(n, tuple(tensor.shape))
            g.add_node(key[n], name=n.name(), op=n.op.name, attrs=dict(n.attrs), seq=n.seq,
                       shape=shapes.get(n), dtype=None, saved=n.saved_shapes())
        g.nodes[key[n]].update(
            label=label,
            value=None if label is None else tensor.detach().numpy().copy(),
            grad=None if label is None else _stored_grad(tensor),
        )
        local = None if n.__class__ is AccumulateGrad else _local_derivatives(n, shapes.get(n), t._be)
        for pos, c in enumerate(n.next):
            if c is None:
                continue
            part = None if local is None else local[pos]
            if g.has_edge(key[c], key[n]):  # an input used twice (d * d): its derivatives add
                e = g.edges[key[c], key[n]]
                e["positions"].append(pos)
                e["local"] = None if e["local"] is None or part is None else e["local"] + part
            else:
                g.add_edge(key[c], key[n], input=pos, positions=[pos], local=part)
    return g


def _number(a) -> str:
    """A short text for an array: the number itself for one element, else a few of them."""
    import numpy as np

    a = np.asarray(a)
    if a.size == 1:
        return f"{a.reshape(()).item():.4g}"
    flat = ", ".join(f"{x:.3g}" for x in a.reshape(-1)[:3])
    return f"[{flat}{', ...' if a.size > 3 else ''}]"


def _dot_label(d) -> str:
    shape = "" if not d["shape"] else "[" + ",".join(str(s) for s in d["shape"]) + "]"
    if d["label"] is not None:
        lines = [f"{d['label']}  {shape}".rstrip()]
        if d["value"] is not None:
            lines.append(f"value {_number(d['value'])}")
        if d["grad"] is not None:
            lines.append(f"grad {_number(d['grad'])}")
        if d["op"] != "leaf":
            lines.append(d["name"])
        return "\\n".join(lines)
    if d["op"] == "leaf":
        return f"AccumulateGrad\\n{d['dtype']}{shape}"
    label = d["name"]
    attrs = ", ".join(f"{k}={v!r}" for k, v in d["attrs"].items())
    label += f"\\n{d['op']}({attrs})" if attrs else ""
    if d["saved"]:
        label += f"\\nsaved: {len(d['saved'])} value(s)" if not any(d["saved"]) else \
            "\\nsaved: " + " ".join(str(list(s)) for s in d["saved"])
    return label


def to_dot(t, names=None, *, direction: str = "forward", values: bool = True) -> str:
    """Graphviz DOT text of the recorded graph behind ``t`` (render with ``dot -Tsvg``).

    Parameters:
        t: the tensor whose graph to draw.
        names: optional mapping of names to tensors: those nodes are labelled with the name,
            the shape, the value and (where there is one) the gradient.
        direction: ``"forward"`` (arrows from inputs to results, as the data flowed) or
            ``"backward"`` (arrows from results to inputs, as the gradients flow, each labelled
            with its local derivative while the saved values still exist).
        values: write the named nodes' values and gradients (``False``: names and shapes only,
            for graphs of large arrays).

    Returns:
        The DOT text, ending in a newline.

    Raises:
        ValueError: ``direction`` is neither ``"forward"`` nor ``"backward"``.
        TypeError: ``names`` is not a mapping.

    Examples:
        >>> a = dg.tensor(2.0, requires_grad=True); b = a * 3
        >>> print(dg.to_dot(b, names=dict(a=a, b=b), direction="backward").splitlines()[0])
        digraph dyngraph {
    """
    if direction not in _DIRECTIONS:
        raise ValueError(f"to_dot: direction must be 'forward' or 'backward', got {direction!r}")
    g = to_networkx(t, names)
    if not values:
        for _, d in g.nodes(data=True):
            d["value"] = d["grad"] = None
        for _, _, d in g.edges(data=True):
            d["local"] = None
    backward = direction == "backward"
    lines = ["digraph dyngraph {", f"  rankdir={'TB' if backward else 'BT'};",
             '  node [shape=box, fontname="monospace", fontsize=14];', '  edge [fontname="monospace", fontsize=14];']
    for key, d in g.nodes(data=True):
        if d["op"] == "leaf":
            style = ', style=filled, fillcolor="#cfe3ff"'
        elif d["label"] is not None:
            style = ', style=filled, fillcolor="#fff4d6"'
        else:
            style = ""
        label = _dot_label(d).replace('"', '\\"')
        lines.append(f'  {key} [label="{label}"{style}];')
    for a, b, d in g.edges(data=True):
        if not backward:
            lines.append(f"  {a} -> {b};")
            continue
        weight = "" if d["local"] is None else f'label=" {_number(d["local"])}", fontcolor="#b03060", '
        lines.append(f'  {b} -> {a} [{weight}color="#b03060"];')
    lines.append("}")
    return "\n".join(lines) + "\n"
