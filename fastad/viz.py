"""fastad.viz: pictures of the graph behind a tensor, as Graphviz DOT.

``to_dot(t)`` returns DOT source (no dependency); ``make_dot(t)`` returns a
``graphviz.Digraph`` (``pip install "fastad[viz]"``), which renders with the
Graphviz ``dot`` program: ``make_dot(loss).render("graph", format="svg")``.

One box per grad_fn (the op that made a tensor, with the tensor's shape and
dtype), one per leaf (named from ``params``) and one for the tensor itself;
edges run from an op's inputs to the op, as in torchviz.  A graph of 0-d
tensors is drawn as micrograd draws it: each box shows the data where the tape
knows it (leaves and the output) and the gradient of the output with respect
to that value, computed here from the partials the tape recorded (no backward
runs and nothing is freed).  Runs of scalar ops that feed only each other are
drawn as one box, and a graph of more than ``max_nodes`` boxes keeps those
nearest the output.
"""
import functools
from collections import Counter

import numpy as np

from fastad import _tensor
from fastad._tensor import Tensor

__all__ = ["to_dot", "make_dot"]

# op codes of fastad/_tape.pxd
_LEAF, _PY, _GATHER, _RELU, _FREED = 0, 1, 20, 18, 0x80
_CHAIN_MIN = 4          # shorter runs of scalar ops are drawn op by op
_INSTALL = 'pip install "fastad[viz]"'
_COLORS = {"leaf": "lightblue", "out": "darkolivegreen1", "op": "lightgray",
           "chain": "khaki", "more": "white"}


def _inputs_of(graph, op, in0, in1, i):
    """The slots record i reads (an array op's inputs outside the graph: -1)."""
    if op[i] == _LEAF:
        return ()
    if op[i] == _PY:
        return tuple(graph.node(i)._describe()[0])
    if op[i] == _GATHER:       # in1 is the flat index read, not a slot
        return (int(in0[i]),)
    return tuple(int(s) for s in (in0[i], in1[i]) if s >= 0)


def _name_of(graph, op, i):
    if op[i] == _PY:
        return graph.node(i).name
    return _tensor._OP_NAMES.get(int(op[i]), f"op{int(op[i])}")


class _Tape:
    """The records reachable from one tensor, read (never run) from its tape."""

    def __init__(self, root):
        self.graph = g = _tensor.graph_of(root)
        if g.dead:
            raise RuntimeError("fastad.viz: the graph behind this tensor was freed by a backward; "
                               "draw it before calling backward, or call backward(retain_graph=True)")
        rec = g.records()
        self.op = rec["op"] & ~np.uint8(_FREED)
        self.freed = (rec["op"] & np.uint8(_FREED)) != 0
        self.in0, self.in1, self.d0, self.d1 = rec["in0"], rec["in1"], rec["d0"], rec["d1"]
        self.leaves = g.leaf_tensors()
        self.top = root.grad_fn._index
        self.inputs = {}
        stack = [self.top]
        while stack:
            i = stack.pop()
            self.inputs[i] = ins = self._inputs_of(i)
            stack.extend(s for s in ins if s not in self.inputs)

    def _inputs_of(self, i):
        return tuple(s for s in _inputs_of(self.graph, self.op, self.in0, self.in1, i) if s >= 0)

    def name(self, i):
        return _name_of(self.graph, self.op, i)

    def is_scalar_op(self, i):
        return self.op[i] not in (_LEAF, _PY)

    def dtypes(self):
        """slot -> numpy dtype: a scalar op's is its inputs' promoted dtype."""
        out = {}
        for i in sorted(self.inputs):
            if self.op[i] == _LEAF:
                out[i] = _tensor.array_of(self.leaves[i]).dtype
            elif self.op[i] == _PY:
                out[i] = self.graph.node(i)._describe()[3]
            else:
                out[i] = np.result_type(*[out[s] for s in self.inputs[i]])
        return out

    def shapes(self, root):
        """slot -> shape (None where unknown).  The tape keeps no shapes of
        intermediate arrays: each array op's backward is run on zeros shaped
        like its output, and the gradients it returns are shaped like its inputs."""
        out = {i: () for i in self.inputs if self.is_scalar_op(i)}
        out.update({i: tuple(self.leaves[i].shape) for i in self.inputs if self.op[i] == _LEAF})
        out[self.top] = tuple(root.shape)
        for i in sorted(self.inputs, reverse=True):
            if self.op[i] != _PY:
                continue
            slots, scalar, _, dtype, backward, writes_grad = self.graph.node(i)._describe()
            for s, sc in zip(slots, scalar):
                if s >= 0 and sc:
                    out[s] = ()
            if all(s < 0 or s in out for s in slots) or out.get(i) is None or backward is None:
                continue
            zeros = np.zeros(out[i], dtype=dtype)
            try:
                with np.errstate(all="ignore"):
                    grads = backward(zeros, False) if writes_grad else backward(zeros)
            except Exception:  # noqa: BLE001 - a rule that rejects zeros leaves shapes unknown
                continue
            for s, gk in zip(slots, grads):
                if s >= 0 and gk is not None:
                    out.setdefault(s, np.shape(gk))
        return out

    def adjoints(self):
        """slot -> d(output)/d(slot) for a graph of scalar records, from the
        partials stored at record time (the sweep's own rule)."""
        adj = dict.fromkeys(self.inputs, 0.0)
        adj[self.top] = 1.0
        for i in sorted(self.inputs, reverse=True):
            if self.op[i] == _LEAF:
                continue
            a, b = int(self.in0[i]), int(self.in1[i])
            # relu masks its gradient (PyTorch's where), so 0 * inf is 0, not nan
            if a >= 0 and (self.op[i] != _RELU or self.d0[i] != 0):
                adj[a] += self.d0[i] * adj[i]
            if b >= 0:
                adj[b] += self.d1[i] * adj[i]
        return adj


def _closure_items(backward):
    """(name, value) of what a Python-written backward captured (compiled
    backwards do not show theirs)."""
    code, cells = getattr(backward, "__code__", None), getattr(backward, "__closure__", None)
    if code is None or not cells:
        return []
    out = []
    for name, cell in zip(code.co_freevars, cells):
        try:
            out.append((name, cell.cell_contents))
        except ValueError:      # a cell not yet filled
            pass
    return out


def _fmt_shape(shape):
    return "?" if shape is None else "(" + ", ".join(map(str, shape)) + ")"


def _fmt_num(v):
    return f"{v:.4f}" if abs(v) < 1e5 else f"{v:.4g}"


def _escape(text, record):
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    if record:
        for ch in "{}|<>":
            text = text.replace(ch, "\\" + ch)
    return text


class _Picture:
    """Boxes and edges: ids -> (kind, label lines), edges (src, dst)."""

    def __init__(self):
        self.boxes, self.edges = {}, []

    def collapse_chains(self, tape):
        """Replace each run of >= _CHAIN_MIN scalar ops, each with at most one
        non-leaf input and one consumer (the next op of the run), by one box."""
        consumers = Counter()
        for src, dst in set(self.edges):
            consumers[src] += 1
        inner = {}      # chain op -> its non-leaf input (or None)
        for i in tape.inputs:
            if tape.is_scalar_op(i) and consumers[i] == 1:
                ins = {s for s in tape.inputs[i] if tape.op[s] != _LEAF}
                if len(ins) <= 1:
                    inner[i] = next(iter(ins), None)
        nxt = {}
        for i, s in inner.items():
            if s in inner:
                nxt[s] = i
        starts = [i for i in inner if inner[i] not in inner]
        merged = {}
        for start in starts:
            run = [start]
            while run[-1] in nxt:
                run.append(nxt[run[-1]])
            if len(run) >= _CHAIN_MIN:
                for i in run:
                    merged[i] = f"c{start}"
                self.boxes[f"c{start}"] = ("chain", [f"{len(run)} scalar ops"] + [
                    f"{name} x{n}" for name, n in Counter(tape.name(i) for i in run).items()])
        if not merged:
            return
        for i in merged:
            del self.boxes[i]
        edges, seen = [], set()
        for src, dst in self.edges:
            src, dst = merged.get(src, src), merged.get(dst, dst)
            if src == dst:
                continue
            if dst in self.boxes and self.boxes[dst][0] == "chain":
                if (src, dst) in seen:  # a leaf read by many ops of the run: one edge
                    continue
                seen.add((src, dst))
            edges.append((src, dst))
        self.edges = edges

    def limit(self, max_nodes):
        """Keep the max_nodes - 1 boxes nearest the output, and one box for the rest."""
        if len(self.boxes) <= max_nodes:
            return
        ins = {}
        for src, dst in self.edges:
            ins.setdefault(dst, []).append(src)
        order, seen = ["out"], {"out"}
        for box in order:
            if len(order) >= max_nodes - 1:
                break
            for src in ins.get(box, ()):
                if src not in seen:
                    seen.add(src)
                    order.append(src)
        kept = set(order[:max_nodes - 1])
        dropped = len(self.boxes) - len(kept)
        self.boxes = {k: v for k, v in self.boxes.items() if k in kept}
        edges, more = [], set()
        for src, dst in self.edges:
            if dst not in kept:
                continue
            if src in kept:
                edges.append((src, dst))
            elif dst not in more:
                more.add(dst)
                edges.append(("more", dst))
        self.boxes["more"] = ("more", [f"... {dropped} more nodes", f"(max_nodes={max_nodes})"])
        self.edges = edges

    def lines(self, record):
        shape = "record" if record else "box"
        out = []
        for key, (kind, label) in self.boxes.items():
            text = "|".join(_escape(x, True) for x in label) if record else \
                "\\n".join(_escape(x, False) for x in label)
            if record:
                text = "{" + text + "}"
            out.append(f'\t{key} [label="{text}" shape={shape} fillcolor={_COLORS[kind]}]')
        out.extend(f"\t{src} -> {dst}" for src, dst in self.edges)
        return out


def _picture(tensor, params, show_attrs, show_saved, max_nodes):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_dot() expects a Tensor, got {type(tensor).__name__}")
    if max_nodes is not None and max_nodes < 2:
        raise ValueError(f"max_nodes must be at least 2, got {max_nodes}")
    names = {id(t): name for name, t in dict(params or {}).items()}
    pic = _Picture()
    out_dtype = np.dtype(_tensor.array_of(tensor).dtype).name
    if tensor.grad_fn is None:
        label = [names.get(id(tensor), "tensor"), f"{_fmt_shape(tuple(tensor.shape))} {out_dtype}"]
        pic.boxes["out"] = ("out", label)
        return pic, False
    tape = _Tape(tensor)
    micro = tensor.dim() == 0 and all(tape.op[i] not in (_PY, _GATHER) for i in tape.inputs)
    dtypes = tape.dtypes()
    shapes = {} if micro else tape.shapes(tensor)
    adj = tape.adjoints() if micro else {}
    for i in sorted(tape.inputs):
        if tape.op[i] == _LEAF:
            leaf = tape.leaves[i]
            label = [names.get(id(leaf), "leaf")]
            if micro:
                label += [f"data {_fmt_num(leaf.item())}", f"grad {_fmt_num(adj[i])}"]
            else:
                label.append(f"{_fmt_shape(tuple(leaf.shape))} {dtypes[i].name}")
            pic.boxes[i] = ("leaf", label)
            continue
        label = [tape.name(i)]
        label.append(f"grad {_fmt_num(adj[i])}" if micro else
                     f"{_fmt_shape(shapes.get(i))} {dtypes[i].name}")
        if tape.op[i] == _PY:
            backward = tape.graph.node(i)._describe()[4]
            items = _closure_items(backward)
            if show_attrs:
                label += [f"{k}={v!r}" for k, v in items if isinstance(v, (bool, int, float, str, tuple))
                          and len(repr(v)) <= 40]
            if show_saved:
                label += ["saved: freed"] if backward is None else [
                    f"saved {k}: {_fmt_shape(v.shape)} {v.dtype.name}" for k, v in items
                    if isinstance(v, np.ndarray)]
        else:
            if show_attrs:
                parts = [tape.d0[i], tape.d1[i]][:len(tape.inputs[i])]
                label.append("partials " + ", ".join(_fmt_num(p) for p in parts))
            if show_saved and tape.freed[i]:
                label.append("saved: freed")
        pic.boxes[i] = ("op", label)
        pic.edges.extend((s, i) for s in tape.inputs[i])
    pic.boxes["out"] = ("out", [names.get(id(tensor), "output")] + (
        [f"data {_fmt_num(tensor.item())}", "grad 1.0000"] if micro else
        [f"{_fmt_shape(tuple(tensor.shape))} {out_dtype}"]))
    pic.edges.append((tape.top, "out"))
    pic.collapse_chains(tape)
    if max_nodes is not None:
        pic.limit(max_nodes)
    # ints are slots; DOT ids must not start with a digit
    pic.boxes = {_id(k): v for k, v in pic.boxes.items()}
    pic.edges = [(_id(a), _id(b)) for a, b in pic.edges]
    return pic, micro


def _id(key):
    return f"n{key}" if isinstance(key, int) else key


_GRAPH_ATTRS = {False: {"rankdir": "TB"}, True: {"rankdir": "LR"}}
_NODE_ATTRS = {"style": "filled", "fontname": "Helvetica", "fontsize": "10", "height": "0.2"}


def to_dot(tensor, params=None, show_attrs=False, show_saved=False, max_nodes=400):
    """Graphviz DOT source of the graph behind tensor.

    Args:
        tensor: the output whose graph is drawn (its grad_fn and everything it reads).
        params: names for leaves, e.g. ``dict(model.named_parameters())``.
        show_attrs: also show each op's attributes (a scalar op's local partials,
            the options a Python-written backward captured).
        show_saved: also show the arrays a Python-written backward saved, and
            which ops' saved values a backward freed.
        max_nodes: at most this many boxes (those nearest the output are kept);
            None for no limit.

    Returns:
        str: DOT source, e.g. for ``dot -Tsvg``.

    The tape keeps no shapes of intermediate arrays: they are found by running
    each array op's backward once on zeros (a custom Function's backward too).
    """
    pic, micro = _picture(tensor, params, show_attrs, show_saved, max_nodes)
    attrs = lambda d: " ".join(f'{k}="{v}"' for k, v in d.items())  # noqa: E731
    return "\n".join(["digraph {", f"\tgraph [{attrs(_GRAPH_ATTRS[micro])}]",
                      f"\tnode [{attrs(_NODE_ATTRS)}]"] + pic.lines(micro) + ["}"]) + "\n"


def make_dot(tensor, params=None, show_attrs=False, show_saved=False, max_nodes=400):
    """The graph of :func:`to_dot` as a ``graphviz.Digraph`` (its ``.render()``,
    ``.pipe()`` and notebook display need Graphviz's ``dot`` program).

    Raises:
        ImportError: the graphviz package is not installed.
    """
    try:
        import graphviz
    except ImportError:
        raise ImportError("fastad.viz.make_dot needs the graphviz package: "
                          f"{_INSTALL} (fastad.viz.to_dot gives DOT source without it)") from None
    pic, micro = _picture(tensor, params, show_attrs, show_saved, max_nodes)
    return _digraph_class(graphviz)(graph_attr=_GRAPH_ATTRS[micro], node_attr=_NODE_ATTRS,
                                    body=[line + "\n" for line in pic.lines(micro)])


@functools.lru_cache(maxsize=None)
def _digraph_class(graphviz):
    class Digraph(graphviz.Digraph):
        """graphviz.Digraph whose renderers say how to get the dot program."""

        def render(self, *args, **kwargs):
            return _with_dot(super().render, args, kwargs)

        def pipe(self, *args, **kwargs):
            return _with_dot(super().pipe, args, kwargs)

    def _with_dot(method, args, kwargs):
        try:
            return method(*args, **kwargs)
        except graphviz.ExecutableNotFound as e:
            e.args = ("rendering needs Graphviz's dot program on PATH (apt-get install graphviz, "
                      "brew install graphviz, conda install graphviz; the Python package alone "
                      f"is {_INSTALL}): {e.args[0] if e.args else e}",)
            raise
    return Digraph
