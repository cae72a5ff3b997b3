"""Custom ops (PyTorch's torch.autograd.function): forward runs without
recording, and each apply records one node whose gradient is the user's
backward, run again with recording on for create_graph=True."""
import inspect

import numpy as np

from fastad import _tensor
from fastad._tensor import Tensor, enable_grad, no_grad

__all__ = ["Function", "FunctionCtx", "once_differentiable"]

DIRTY_NOT_RETURNED = ("Some elements marked as dirty during the forward method were not returned "
                      "as output. The inputs that are modified inplace must all be outputs of the "
                      "Function.")
DIRTY_VIEW = ("If your Function modifies inplace an input that is a view of another Tensor, your "
              "Function cannot return more than one Tensor. This is not supported by the current "
              "autograd engine. You should either make sure the input is not a view (using "
              ".clone() for example) or make your Function only return one Tensor (potentially "
              "splitting it into two Functions: one doing the inplace that returns a single "
              "Tensor and a second one that does the other operations). You can ask on the forum "
              "https://discuss.pytorch.org/ if you need help to do this change.")


def once_differentiable(fn):
    """Marks a Function's backward as not differentiable: a recorded backward
    runs it without recording, and differentiating its result raises."""
    fn._once_differentiable = True
    return fn


def _raise_once(grad, inputs, result):
    raise RuntimeError("trying to differentiate twice a function that was marked with "
                       "@once_differentiable")


def _delayed_error(g, inputs):
    """g as the output of a node over inputs whose backward raises (PyTorch's DelayedError)."""
    if not inputs:
        return g
    return _tensor.make_op(_tensor.array_of(g), "DelayedError", (g.detach(),) + inputs,
                           derivative=_raise_once)


def _is(x, tensors):
    return any(x is t for t in tensors)


class FunctionCtx:
    """The ctx of a custom Function: saved tensors are kept as arrays (never as
    tensors, which would tie the graph into a reference cycle)."""
    # class-level defaults: an apply sets only what its forward uses
    _saved = ()
    _handles = None
    _non_differentiable = ()
    _dirty = ()
    _materialize = True
    needs_input_grad = ()

    def save_for_backward(self, *tensors):
        self._saved = tuple(None if t is None else (t.detach().numpy(), t) for t in tensors)

    @property
    def saved_tensors(self):
        if self._handles is not None:       # inside a recorded (create_graph) backward
            return self._handles
        return tuple(None if s is None else _tensor.tensor(s[0]) for s in self._saved)

    def mark_non_differentiable(self, *args):
        """These outputs do not require grad; backward gets zeros (or None) for them."""
        self._non_differentiable = args

    def mark_dirty(self, *args):
        """These inputs were modified in place by forward, and are returned as outputs."""
        self._dirty = args

    def set_materialize_grads(self, value):
        """False: backward gets None, not zeros, for outputs without a gradient."""
        self._materialize = bool(value)


def _bind(forward, args, kwargs, defaults):
    """args and kwargs as forward's positional arguments (PyTorch passes keyword
    arguments to forward by position, as inputs)."""
    bound = inspect.signature(forward).bind(*args, **kwargs)
    if defaults:
        bound.apply_defaults()
    if bound.kwargs:
        key = next(iter(bound.kwargs))
        raise TypeError(f"forward() got an unexpected keyword argument '{key}'")
    return bound.args


class _Node:
    """What one apply records: the user's backward over the op's outputs.  With
    one differentiable output the node's result is that output.  With several,
    it is their values flattened and packed into one vector, followed by one
    flag per output; each output is a small op over it whose gradient fills
    its segment and sets its flag to 1, so the node's backward knows which
    outputs a gradient reached (the others get zeros, or None).  The sweep
    runs the backward even where no gradient reached the record (a later
    backward returned None), as PyTorch does: every output then gets zeros."""
    __slots__ = ("cls", "ctx", "n_inputs", "diff", "name", "shapes",  "outs", "bounds",
                 "origin", "dtype")

    def __init__(self, cls, ctx, n_inputs, tensors, outs, diff):
        self.cls, self.ctx, self.n_inputs, self.diff = cls, ctx, n_inputs, diff
        self.name = cls.__name__ + "Backward"
        self.shapes = [None if t is None else t.shape for t in tensors]
        # the outputs' shapes and dtypes (None for other items): tensors are
        # not kept (those of the graph would tie it into a reference cycle)
        self.outs = [(o.shape, o.dtype) if isinstance(o, Tensor) else None for o in outs]
        if len(diff) > 1:
            self.bounds = np.cumsum([0] + [outs[j].numel() for j in diff]).tolist()
        self.origin = tuple([None if s is None else self._origin(s[1], tensors, outs)
                             for s in ctx._saved])

    def once(self):
        return getattr(self.cls.backward, "_once_differentiable", False)

    def _origin(self, t, tensors, outs):
        """Where the saved tensor t comes from: ("in", k), ("out", j), or None
        for a tensor outside the op (a constant of its derivative).  A dirty
        input is saved as the output it became."""
        if not (self.ctx._dirty and _is(t, self.ctx._dirty)):
            for k, x in enumerate(tensors):
                if x is t:
                    return ("in", k)
        for j, o in enumerate(outs):
            if o is t:
                return ("out", j)
        return None

    def output(self, result, j):
        """Output j of the record whose result (a tensor) is result: with
        several, a view of its segment whose gradient sets its flag."""
        if len(self.diff) == 1:
            return result
        i = self.diff.index(j)
        shape, dtype = self.outs[j]
        packed = _tensor.array_of(result)
        values = packed[self.bounds[i]:self.bounds[i + 1]].reshape(shape)
        return _tensor.make_op(values.astype(dtype.np_dtype, copy=False), self.name, (result,),
                               dt=dtype.code, saves=False, derivative=self.view_derivative(i),
                               function_output=True)

    def segment(self, g, j):
        """Output j's gradient in the gradient g of the packed result."""
        i = self.diff.index(j)
        shape, dtype = self.outs[j]
        return g[self.bounds[i]:self.bounds[i + 1]].reshape(shape).to(dtype)

    def split(self, g):
        """The gradient of each output in the record's gradient g (None where g
        is, or where none reached that output): what the backward gets before
        zeros are materialized, and what its grad_fn's hooks see."""
        grads = [None] * len(self.outs)
        if g is None:
            return tuple(grads)
        if len(self.diff) == 1:
            grads[self.diff[0]] = g
        else:
            flags = _tensor.array_of(g)[self.bounds[-1]:]
            for i, j in enumerate(self.diff):
                if flags[i]:
                    grads[j] = self.segment(g, j)
        return tuple(grads)

    def join(self, grads):
        """The record's gradient from each output's (split's inverse, in tensor
        ops); None where no output has one."""
        if len(self.diff) == 1:
            return grads[self.diff[0]]
        if all(grads[j] is None for j in self.diff):
            return None
        parts = [_tensor.zeros(hi - lo, dtype=self.dtype) if grads[j] is None
                 else grads[j].reshape(-1).to(self.dtype)
                 for j, lo, hi in zip(self.diff, self.bounds, self.bounds[1:])]
        flags = [float(grads[j] is not None) for j in self.diff]
        return _tensor.cat(parts + [_tensor.tensor(flags, dtype=self.dtype)])

    def output_grads(self, g):
        """The gradient backward gets for each output, from the record's gradient g."""
        grads = self.split(g)
        if self.ctx._materialize:
            grads = [_tensor.zeros(o[0], dtype=o[1]) if gj is None and o is not None else gj
                     for gj, o in zip(grads, self.outs)]
        return grads

    def run(self, g, recorded):
        """The user's backward for the record's gradient g: its gradients, one per input."""
        if recorded and not self.once():
            with enable_grad():
                grads = self.cls.backward(self.ctx, *self.output_grads(g))
        else:
            with no_grad():
                grads = self.cls.backward(self.ctx, *self.output_grads(g))
        if type(grads) is not tuple:
            grads = (grads,)
        if len(grads) > self.n_inputs and all(gk is None for gk in grads[self.n_inputs:]):
            grads = grads[:self.n_inputs]
        if len(grads) != self.n_inputs:
            raise RuntimeError(f"function {self.name} returned an incorrect number of gradients "
                               f"(expected {self.n_inputs}, got {len(grads)})")
        return grads

    def backward(self, g):
        """The first-order backward, over arrays."""
        result = []
        for k, gk in enumerate(self.run(None if g is None else _tensor.tensor(g), False)):
            if gk is None or self.shapes[k] is None:
                result.append(None)
                continue
            arr = _tensor.array_of(gk) if isinstance(gk, Tensor) else np.asarray(gk)
            if arr.shape != self.shapes[k]:
                raise RuntimeError(f"Function {self.name} returned an invalid gradient at index "
                                   f"{k} - got {list(arr.shape)} but expected shape compatible "
                                   f"with {list(self.shapes[k])}")
            result.append(arr)
        return tuple(result)

    def derivative(self, g, inputs, result):
        """The user's backward run with recording on, ctx.saved_tensors being
        the op's inputs and outputs as tensors of the graph."""
        ctx = self.ctx
        ctx._handles = tuple(
            None if s is None else
            _tensor.tensor(s[0]) if o is None else
            inputs[o[1]] if o[0] == "in" else
            self.output(result, o[1]) if o[1] in self.diff else _tensor.tensor(s[0])
            for s, o in zip(ctx._saved, self.origin))
        try:
            grads = tuple([None if gk is None or self.shapes[k] is None else
                           gk if isinstance(gk, Tensor) else _tensor.tensor(gk)
                           for k, gk in enumerate(self.run(g, True))])
        finally:
            ctx._handles = None
        if self.once():
            live = tuple(x for x in inputs if x is not None and x.requires_grad)
            grads = tuple(None if gk is None else _delayed_error(gk, live) for gk in grads)
        return grads

    def view_derivative(self, i):
        """The derivative of output diff[i] as a view of the packed record."""
        lo, hi, n, k = self.bounds[i], self.bounds[i + 1], self.bounds[-1], len(self.diff)

        def derivative(g, inputs, result):
            dtype = _tensor.array_of(inputs[0]).dtype
            after = np.zeros(n - hi + k, dtype)
            after[n - hi + i] = 1       # output i's flag: its gradient was reached
            return (_tensor.cat([_tensor.tensor(np.zeros(lo, dtype)),
                                 g.reshape(-1).to(inputs[0].dtype), _tensor.tensor(after)]),)
        return derivative


class Function:
    """Custom ops: subclass with static ``forward(ctx, ...)`` and
    ``backward(ctx, *grads)``, or ``forward(...)`` and
    ``setup_context(ctx, inputs, output)``."""

    @classmethod
    def apply(cls, *args, **kwargs):
        setup = cls.setup_context is not Function.setup_context
        if setup:
            args = _bind(cls.forward, args, kwargs, True)
        elif kwargs:
            args = _bind(cls.forward, (None,) + args, kwargs, False)[1:]
        ctx = FunctionCtx()
        tensors = tuple([a if isinstance(a, Tensor) else None for a in args])
        ctx.needs_input_grad = tuple([t is not None and t.requires_grad for t in tensors])
        with no_grad():
            if setup:
                out = cls.forward(*args)
                cls.setup_context(ctx, args, out)
            else:
                out = cls.forward(ctx, *args)
        if isinstance(out, tuple):
            return _record_outputs(cls, ctx, args, tensors, out)
        if not isinstance(out, Tensor):
            return out
        if ctx._dirty:
            return _record_outputs(cls, ctx, args, tensors, (out,))[0]
        if not out.is_floating_point() or (ctx._non_differentiable
                                           and _is(out, ctx._non_differentiable)):
            return out.detach() if out.requires_grad else out
        return _record(_Node(cls, ctx, len(args), tensors, (out,), [0]), tensors, (out,))

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("You must implement the forward function for custom Function.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("You must implement the backward function for custom Function.")


def _record(node, tensors, outs):
    """The node's record over the inputs tensors, outs the forward's outputs:
    its result tensor."""
    ctx = node.ctx
    saved = tuple([s[1] for s in ctx._saved if s is not None
                   and not (ctx._dirty and _is(s[1], ctx._dirty))])
    # the saved tensors themselves are not kept: drop them from ctx now
    ctx._saved = tuple(None if s is None else (s[0], None) for s in ctx._saved)
    if len(node.diff) > 1:
        arrays = [_tensor.array_of(outs[j]) for j in node.diff]
        dtype = np.result_type(*arrays)         # the widest: one of the outputs' dtypes
        dt = next(outs[j].dtype.code for j, a in zip(node.diff, arrays) if a.dtype == dtype)
        result = np.concatenate([a.reshape(-1) for a in arrays] + [np.zeros(len(arrays))])
        result = result.astype(dtype, copy=False)
    else:
        out = outs[node.diff[0]]
        result, dt = _tensor.array_of(out), out.dtype.code
    out = _tensor.make_op(result, node.name, tensors, node.backward, saved, dt=dt,
                          derivative=node.derivative, function=node)
    node.dtype = out.dtype
    return out


def _record_outputs(cls, ctx, args, tensors, outs):
    """apply for a forward returning a tuple: the tensors among its items are
    the outputs, the rest passes through.  Inputs marked dirty are returned as
    themselves, now outputs of the Function's record."""
    dirty = _dirty_inputs(ctx, tensors, outs)
    # a tensor returned twice is one output, at its last position (PyTorch's choice)
    last = {id(o): j for j, o in enumerate(outs) if isinstance(o, Tensor)}
    diff = sorted(j for j in last.values() if outs[j].is_floating_point()
                  and not _is(outs[j], ctx._non_differentiable))
    recording = _tensor.is_grad_enabled() and any(ctx.needs_input_grad)
    made = {id(o): (o.detach() if o.requires_grad and not _is(o, dirty) else o)
            for o in outs if isinstance(o, Tensor)}
    if not (recording and diff):
        if dirty:
            _tensor.apply_inplace_all(dirty, lambda ts: ts)
        if not recording:
            # PyTorch's outputs of a Function that records nothing have no history
            for d in dirty:
                d.detach_()
        return tuple(made[id(o)] if isinstance(o, Tensor) else o for o in outs)
    node = _Node(cls, ctx, len(args), tensors, outs, diff)
    written = [last[id(d)] for d in dirty]

    def record(olds):
        inputs = [next((old for d, old in zip(dirty, olds) if d is t), t) for t in tensors]
        result = _record(node, tuple(inputs), outs)
        for j in diff:
            made[id(outs[j])] = node.output(result, j)
        return [made[id(outs[j])] for j in written]
    if dirty:
        _tensor.apply_inplace_all(dirty, record, *tensors)
        for d in dirty:
            made[id(d)] = d
    else:
        record(())
    return tuple(made[id(o)] if isinstance(o, Tensor) else o for o in outs)


def _dirty_inputs(ctx, tensors, outs):
    """The inputs ctx.mark_dirty named, checked as PyTorch checks them."""
    if not ctx._dirty:
        return ()
    for d in ctx._dirty:
        if not _is(d, outs):
            raise RuntimeError(DIRTY_NOT_RETURNED)
    if sum(isinstance(o, Tensor) for o in outs) > 1 and any(d._is_view() for d in ctx._dirty):
        raise RuntimeError(DIRTY_VIEW)
    dirty = tuple(t for t in tensors if t is not None and _is(t, ctx._dirty))
    if _tensor.is_grad_enabled() and any(d.requires_grad and d.is_leaf for d in dirty):
        raise RuntimeError("a leaf Variable that requires grad has been used in an in-place "
                           "operation.")
    return dirty
