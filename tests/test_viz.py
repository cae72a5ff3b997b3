"""fastad.viz: the DOT of known graphs has the right boxes, labels and edges."""
import re
import shutil
import sys

import numpy as np
import pytest

import fastad
import fastad.nn.functional as F
from fastad import viz

_BOX = re.compile(r'^\t(\w+) \[label="(.*)" shape=\w+ fillcolor=\w+\]$')
_EDGE = re.compile(r"^\t(\w+) -> (\w+)$")


def parse(dot):
    """(id -> label, [(src, dst)]) of to_dot's own line format, without a DOT library."""
    boxes, edges = {}, []
    for line in dot.splitlines():
        if m := _BOX.match(line):
            boxes[m.group(1)] = m.group(2)
        elif m := _EDGE.match(line):
            edges.append(m.groups())
    return boxes, edges


def by_label(boxes, edges):
    """Edges as (src label's first line, dst label's first line), sorted."""
    first = {k: re.split(r"\\n|\|", v.strip("{}"))[0] for k, v in boxes.items()}
    return sorted((first[a], first[b]) for a, b in edges)


def test_a_plus_b_times_c_scalar_micrograd_labels():
    a, b, c = (fastad.tensor(v, requires_grad=True) for v in (1.5, -2.0, 3.0))
    out = a + b * c
    boxes, edges = parse(viz.to_dot(out, params={"a": a, "b": b, "c": c}))
    assert len(boxes) == 6 and len(edges) == 5
    assert by_label(boxes, edges) == sorted([
        ("b", "MulBackward0"), ("c", "MulBackward0"), ("a", "AddBackward0"),
        ("MulBackward0", "AddBackward0"), ("AddBackward0", "output")])
    labels = set(boxes.values())
    # d out/d b = c, d out/d c = b: the gradients drawn are those backward gives
    assert "{b|data -2.0000|grad 3.0000}" in labels
    assert "{c|data 3.0000|grad -2.0000}" in labels
    assert "{output|data -4.5000|grad 1.0000}" in labels
    out.backward()
    assert (b.grad.item(), c.grad.item(), a.grad.item()) == (3.0, -2.0, 1.0)


def test_scalar_grads_match_backward_on_a_shared_input():
    x = fastad.tensor(0.7, requires_grad=True)
    y = (x * x).tanh() + x.exp() / (x + 2.0)
    boxes, _ = parse(viz.to_dot(y, params={"x": x}))
    leaf = next(v for v in boxes.values() if v.startswith("{x|"))
    drawn = float(leaf.split("grad ")[1].rstrip("}"))
    y.backward()
    assert drawn == pytest.approx(x.grad.item(), abs=1e-4)


def test_arrays_show_shapes_dtypes_and_partials():
    a = fastad.randn(4, 3, requires_grad=True)
    b = fastad.randn(3, dtype=fastad.float64, requires_grad=True)
    boxes, edges = parse(viz.to_dot((a * b).sum(), params={"a": a, "b": b}))
    labels = sorted(boxes.values())
    assert labels == sorted(["a\\n(4, 3) float32", "b\\n(3) float64",
                             "MulBackward0\\n(4, 3) float64", "SumBackward0\\n() float64",
                             "output\\n() float64"])
    assert len(edges) == 4
    x = fastad.tensor(2.0, requires_grad=True)
    boxes, _ = parse(viz.to_dot(x * 3.0 + x * x, show_attrs=True))
    assert "{MulBackward0|grad 1.0000|partials 2.0000, 2.0000}" in boxes.values()


def test_mlp_leaves_named_edges_and_shapes():
    fastad.manual_seed(0)
    model = fastad.nn.Sequential(fastad.nn.Linear(4, 8), fastad.nn.ReLU(), fastad.nn.Linear(8, 3))
    loss = F.cross_entropy(model(fastad.randn(5, 4)), fastad.tensor([0, 2, 1, 1, 0]))
    boxes, edges = parse(viz.to_dot(loss, params=dict(model.named_parameters())))
    names = {v.split("\\n")[0]: v for v in boxes.values()}
    for name, p in model.named_parameters():
        shape = "(" + ", ".join(map(str, p.shape)) + ")"
        assert names[name] == f"{name}\\n{shape} float32"
    ops = sorted(v for v in boxes.values() if "Backward" in v)
    # Sequential fuses each Linear with the ReLU after it into one node, and
    # cross_entropy is one node
    assert ops == sorted(["ReluBackward0\\n(5, 8) float32", "AddmmBackward0\\n(5, 3) float32",
                          "NllLossBackward0\\n() float32"])
    assert by_label(boxes, edges) == sorted([
        ("0.weight", "ReluBackward0"), ("0.bias", "ReluBackward0"),
        ("ReluBackward0", "AddmmBackward0"), ("2.weight", "AddmmBackward0"),
        ("2.bias", "AddmmBackward0"), ("AddmmBackward0", "NllLossBackward0"),
        ("NllLossBackward0", "output")])


def test_scalar_chain_of_ten_thousand_ops_collapses():
    x = fastad.tensor(0.5, requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 0.999 + x
    boxes, edges = parse(viz.to_dot(y, params={"x": x}))
    assert len(boxes) == 3 and len(edges) == 2
    assert "{10000 scalar ops|MulBackward0 x5000|AddBackward0 x5000}" in boxes.values()
    assert by_label(boxes, edges) == [("10000 scalar ops", "output"), ("x", "10000 scalar ops")]
    y.backward()
    leaf = next(v for v in boxes.values() if v.startswith("{x|"))
    assert float(leaf.split("grad ")[1].rstrip("}")) == pytest.approx(x.grad.item(), rel=1e-5)


def test_max_nodes_keeps_the_boxes_nearest_the_output():
    xs = [fastad.tensor(float(i), requires_grad=True) for i in range(2500)]
    s = xs[0]
    for i in range(1, 2500):        # a ladder, not a chain: nothing collapses
        s = s + xs[i] * xs[i - 1]
    assert len(viz.to_dot(s, max_nodes=None).splitlines()) > 10_000
    boxes, edges = parse(viz.to_dot(s, max_nodes=60))
    assert len(boxes) == 60
    assert boxes["more"].startswith("{... ")
    ids = set(boxes)
    assert all(a in ids and b in ids for a, b in edges)
    assert any(b == "out" for _, b in edges)
    with pytest.raises(ValueError):
        viz.to_dot(s, max_nodes=1)


def test_show_saved_python_backward_and_freed():
    x = fastad.randn(2, 3, requires_grad=True)
    w = fastad.tensor([0.25], requires_grad=True)
    y = F.prelu(x, w)
    boxes, _ = parse(viz.to_dot(y, show_saved=True))
    label = next(v for v in boxes.values() if v.startswith("PreluKernelBackward0"))
    assert "saved xa: (6) float32" in label and "saved wa: (1) float32" in label
    a = fastad.tensor(2.0, requires_grad=True)
    z = a * a * a
    kept = a * 1.0      # keeps the tape alive after z's backward frees its records
    z.backward()
    assert "saved: freed" in viz.to_dot(z, show_saved=True)
    del kept


def test_leaf_and_freed_graph_and_bad_input():
    a = fastad.ones(2, requires_grad=True)
    boxes, edges = parse(viz.to_dot(a, params={"a": a}))
    assert list(boxes.values()) == ["a\\n(2) float32"] and edges == []
    y = (a * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="freed by a backward"):
        viz.to_dot(y)
    with pytest.raises(TypeError):
        viz.to_dot(np.ones(2))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")   # pydot's use of pyparsing
def test_dot_parses_with_pydot():
    pydot = pytest.importorskip("pydot")
    a, b, c = (fastad.randn(3, requires_grad=True) for _ in range(3))
    (graph,) = pydot.graph_from_dot_data(viz.to_dot(a + b * c, params={"a": a, "b": b, "c": c}))
    nodes = {n.get_name(): n.get("label") for n in graph.get_nodes()
             if n.get_name() not in ("node", "graph", "edge")}
    assert len(nodes) == 6 and len(graph.get_edges()) == 5
    assert '"a\\n(3) float32"' in nodes.values()
    x = fastad.tensor(1.0, requires_grad=True)
    (graph,) = pydot.graph_from_dot_data(viz.to_dot(x.sigmoid() * x, params={"x|{<>}": x}))
    assert len(graph.get_edges()) == 4


def test_make_dot_digraph_and_render(tmp_path):
    graphviz = pytest.importorskip("graphviz")
    a = fastad.randn(3, requires_grad=True)
    g = viz.make_dot((a * 2).sum(), params={"a": a})
    assert isinstance(g, graphviz.Digraph)
    assert parse(g.source) == parse(viz.to_dot((a * 2).sum(), params={"a": a}))
    if shutil.which("dot"):
        path = g.render(tmp_path / "g", format="svg")
        assert open(path).read().lstrip().startswith(("<?xml", "<svg"))


def test_render_without_dot_program_says_how_to_get_it(tmp_path, monkeypatch):
    graphviz = pytest.importorskip("graphviz")
    g = viz.make_dot(fastad.randn(3, requires_grad=True).exp())
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(graphviz.ExecutableNotFound, match="dot program"):
        g.render(tmp_path / "g", format="svg")


def test_make_dot_without_graphviz_names_the_extra(monkeypatch):
    a = fastad.randn(3, requires_grad=True)
    monkeypatch.setitem(sys.modules, "graphviz", None)
    with pytest.raises(ImportError, match=r'pip install "fastad\[viz\]"'):
        viz.make_dot(a.exp())
