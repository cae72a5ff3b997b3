"""torch.autograd.graph: the nodes of the backward graph, as grad_fn.next_functions
walks them (read from the tape, never run)."""
import numpy as np

from fastad import _tensor
from fastad.viz import _FREED, _LEAF, _inputs_of, _name_of

__all__ = []


class _AccumulateGrad:
    """The node that deposits a leaf's gradient in its .grad (PyTorch's
    AccumulateGrad): the end of a walk along next_functions."""
    __slots__ = ("variable",)
    next_functions = ()

    def __init__(self, variable):
        self.variable = variable

    def name(self):
        return "torch::autograd::AccumulateGrad"

    def __repr__(self):
        return f"<AccumulateGrad object at {id(self):#x}>"


# where PyTorch's node reads its inputs in another order than fastad's record:
# addmm(bias, input, weight.t()) against linear's (input, weight, bias)
_PYTORCH_ORDER = {("AddmmBackward0", 3): (2, 0, 1)}


def _next_functions(node):
    """((node, 0), ...) for the inputs of grad_fn node: another grad_fn, an
    _AccumulateGrad for a leaf that requires grad, None for an input outside
    the graph."""
    graph = node._graph
    rec = graph.records()
    op = rec["op"] & ~np.uint8(_FREED)
    leaves = graph.leaf_tensors()
    slots = _inputs_of(graph, op, rec["in0"], rec["in1"], node._index)
    order = _PYTORCH_ORDER.get((node.name(), len(slots)))
    if order is not None:
        slots = [slots[k] for k in order]
    out = []
    for s in slots:
        if s < 0:
            out.append((None, 0))
        elif op[s] == _LEAF:
            out.append((_AccumulateGrad(leaves[s]), 0))
        else:
            out.append((_tensor.BackwardNode(graph, s, _name_of(graph, op, s)), 0))
    return tuple(out)
