# Included by _tensor.pyx: Tensor.register_hook, retain_grad, the post-accumulate
# hooks' registry, grad_fn.register_prehook and register_hook, and running them
# during backward.
#
# A leaf's hooks live on the leaf (Tensor._hooks: a leaf is used by many graphs);
# a non-leaf's and its grad_fn's on its graph (Graph.hooks, by slot), as PyTorch
# keeps them on the grad_fn: they run when a backward reaches the record even if
# the tensor is gone, and the graph holds no tensor for them (Tensor is not
# garbage-collected, so a cycle through one would never be freed).  A backward
# pauses the C sweep at each hooked record (as it does at each leaf, to deposit
# its gradient): every contribution to its gradient comes from a later record,
# so the gradient is complete there; the hooks run on it and what they return
# flows on.  A grad_fn with post hooks has its record run there too, with the
# GIL, so that the hooks see (and may replace) its gradients for its inputs.
#
# Where only gradients that PyTorch passes as undefined reach a record (a
# backward returned None: Graph.undefined), PyTorch still runs it: its hooks
# get None, and a custom Function's backward gets zeros (or None).
NONE_REPLACED = "can't replace a None gradient with a non-None value"


cdef class _Hooks:
    pass


cdef _Hooks _hooks_of(Tensor t):
    """t's hooks, made empty on first use."""
    if t._graph is None:
        if t._hooks is None:
            t._hooks = _Hooks()
        return t._hooks
    return _hooks_at(t._graph, t._slot, tuple(t.shape), t._dt)


cdef _Hooks _hooks_at(Graph g, int32_t slot, tuple shape, int dt):
    """The hooks of record slot (its output's shape and dtype code), made empty
    on first use."""
    cdef _Hooks h
    if g.hooks is None:
        g.hooks = {}
    h = g.hooks.get(slot)
    if h is None:
        h = g.hooks[slot] = _Hooks()
        h.shape = shape
        h.dt = dt
    return h


cdef _Hooks _slot_hooks(Tensor t):
    """A non-leaf's hooks, or None."""
    cdef Graph g = t._graph
    return None if g.hooks is None else g.hooks.get(t._slot)


cdef object _add_hook(Tensor t, object hook, bint post):
    if not t._rg:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    from fastad.utils.hooks import RemovableHandle
    cdef _Hooks h = _hooks_of(t)
    if post:
        if h.post is None:
            h.post = OrderedDict()
        hooks = h.post
    else:
        if h.pre is None:
            h.pre = OrderedDict()
        hooks = h.pre
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


cdef int _retain_grad(Tensor t) except -1:
    if not t._rg:
        raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
    if t._graph is not None:
        _hooks_of(t).retains = True
    return 0


cdef bint _retains_grad(Tensor t):
    cdef _Hooks h
    if t._graph is None:
        return False
    h = _slot_hooks(t)
    return h is not None and h.retains


cdef object _nonleaf_grad(Tensor t):
    cdef _Hooks h = _slot_hooks(t)
    if h is not None and h.retains:
        return h.grad
    if t._grad is None:
        _warnings.warn(
            "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its "
            ".grad attribute won't be populated during autograd.backward(). If you indeed want "
            "the .grad field to be populated for a non-leaf Tensor, use .retain_grad() on the "
            "non-leaf Tensor. If you access the non-leaf Tensor by mistake, make sure you access "
            "the leaf Tensor instead. See github.com/pytorch/pytorch/pull/30531 for more "
            "information.", UserWarning)
    return t._grad


cdef int _set_nonleaf_grad(Tensor t, object value) except -1:
    cdef _Hooks h = _slot_hooks(t)
    if h is not None and h.retains:
        h.grad = value
    else:
        t._grad = value
    return 0


cdef int _rebase_hooks(Graph g, int32_t slot, Tensor t) except -1:
    """After an in-place op made t a new record: its retain_grad follows it (its
    hooks stay with the old record, as PyTorch's stay with the old grad_fn)."""
    cdef _Hooks h = g.hooks.get(slot)
    cdef _Hooks moved
    if h is not None and h.retains:
        moved = _hooks_of(t)
        moved.retains, moved.grad = True, h.grad
        h.retains, h.grad = False, None
    return 0


cdef str _hook_name(object hook):
    name = getattr(hook, "__name__", None)
    return name if isinstance(name, str) else "<unknown>"


cdef Tensor _checked(object hook, Tensor grad, object out):
    """A tensor a hook returned for grad, checked as PyTorch checks it."""
    cdef Tensor r
    if not isinstance(out, Tensor):
        raise TypeError(f"expected Variable, but hook returned '{type(out).__name__}'")
    r = <Tensor>out
    if r._dt != grad._dt:
        raise RuntimeError(f"hook '{_hook_name(hook)}' has changed the type of value (was "
                           f"{grad.type()} got {r.type()})")
    if r.shape != grad.shape:
        raise RuntimeError(f"hook '{_hook_name(hook)}' has changed the size of value")
    return r


cdef Tensor _call_hooks(object pre, Tensor grad):
    """grad after the hooks, each given the previous one's result: the tensor the
    last one returned (checked as PyTorch checks it), or grad itself."""
    for hook in list(pre.values()):
        out = hook(grad)
        if out is not None:
            grad = _checked(hook, grad, out)
    return grad


cdef int _call_hooks_on_none(object pre) except -1:
    """A tensor's hooks where only an undefined gradient reached it: PyTorch
    calls them with None, and refuses a gradient in return."""
    for hook in list(pre.values()):
        if hook(None) is not None:
            raise RuntimeError(NONE_REPLACED)
    return 0


cdef tuple _node_hook_result(object hook, object out, tuple before):
    """What a grad_fn hook returned in place of the gradients before: None (keep
    them) or a tuple as long, checked as PyTorch checks it (None may replace a
    gradient, not the other way round)."""
    if out is None:
        return before
    if not isinstance(out, tuple):
        raise TypeError(f"expected tuple, but hook returned '{type(out).__name__}'")
    if len(out) != len(before):
        raise RuntimeError(f"hook '{_hook_name(hook)}' has returned an incorrect number of values "
                           f"(got {len(out)}, but expected {len(before)})")
    for new, old in zip(out, before):
        if new is None or new is old:
            continue
        if old is None:
            if not isinstance(new, Tensor):
                raise TypeError(f"expected Variable, but hook returned '{type(new).__name__}'")
            raise RuntimeError(NONE_REPLACED)
        _checked(hook, <Tensor>old, new)
    return out


cdef tuple _call_node_hooks(object hooks, tuple grads, tuple outs, bint post, bint recorded):
    """grads after a grad_fn's hooks: prehooks fn(grad_outputs) (grads are
    the record's output gradients, outs unused), or post hooks fn(grad_inputs,
    grad_outputs) (grads its gradients for its inputs, outs its output
    gradients).  A first-order backward runs them without recording."""
    cdef bint prev = set_grad_enabled_c(recorded)
    try:
        for hook in list(hooks.values()):
            grads = _node_hook_result(hook, hook(grads, outs) if post else hook(grads), grads)
    finally:
        set_grad_enabled_c(prev)
    return grads


cdef Tensor _hooked(object pre, Tensor gt):
    """gt after the hooks pre, run without recording, as PyTorch's engine runs a
    first-order backward's hooks."""
    cdef bint prev = set_grad_enabled_c(False)
    try:
        return _call_hooks(pre, gt)
    finally:
        set_grad_enabled_c(prev)


cdef Tensor _grad_tensor(object gx, tuple shape, int dt):
    """A first-order adjoint (a float, or an array that may be broadcast or
    shared) as a tensor of its own, for hooks that may keep or change it."""
    if not shape:
        return _scalar(gx, dt)
    return _wrap(_filled_like(np.asarray(gx, dtype=NP_DTYPES[dt]), shape), dt)


cdef object _adjoint_value(Tensor gt):
    return gt._val if gt._data is None else gt._data


cdef int _retain(_Hooks h, Tensor gt) except -1:
    """A retaining non-leaf's .grad: a copy of its first gradient, then sums (new
    tensors, as PyTorch's), recorded when the backward is."""
    h.grad = gt.clone() if h.grad is None else h.grad + gt
    return 0


cdef object _function_of(Graph g, int32_t s):
    """The custom Function (fastad.autograd.function's _Node) whose record s is, or None."""
    if (g.op[s] & OP_CODE) != OP_PY:
        return None
    return (<Node>g.ctx[g.in0[s]]).function


cdef tuple _grad_outputs(object fn, object gt):
    """What record s's grad_fn hooks get as grad_outputs for its gradient gt (a
    tensor, or None where none reached it); fn: _function_of the record."""
    if fn is None:
        return (gt,)
    return fn.split(gt)


cdef object _from_grad_outputs(object fn, tuple outs):
    """The record's gradient from its grad_outputs (_grad_outputs' inverse)."""
    return outs[0] if fn is None else fn.join(outs)


cdef bint _run_slot_hooks(Graph g, int32_t s, dict captured, bint retain) except -1:
    """At a hooked non-leaf's record s, whose adjoint is complete (a first-order
    sweep paused there): its tensor hooks, retain_grad and grad_fn prehooks, in
    PyTorch's order; their result becomes the adjoint that flows on.  With post
    hooks on its grad_fn, the record is run here: returns whether it was.
    (captured: see _hooked_slots.)"""
    cdef _Hooks h = g.hooks[s]
    cdef Tensor gt = None
    cdef double v0 = 0.0
    fn = _function_of(g, s)
    if captured and s in captured:
        captured[s] = _slot_grad(g, not h.shape, s)
    gx = _slot_grad(g, not h.shape, s)
    if gx is not None:
        gt = _grad_tensor(gx, h.shape, h.dt)
        v0 = gt._val
        if h.pre:
            gt = _hooked(h.pre, gt)
        if h.retains:
            prev = set_grad_enabled_c(False)
            try:
                _retain(h, gt)
            finally:
                set_grad_enabled_c(prev)
    elif h.pre:
        _call_hooks_on_none(h.pre)
    outs = None
    if h.node_pre or h.node_post:
        outs = _grad_outputs(fn, gt)
    if h.node_pre:
        outs = _call_node_hooks(h.node_pre, outs, None, False, False)
        if gt is not None:
            gt = _from_grad_outputs(fn, outs)
            if gt is None:          # a hook made it undefined
                g.reached[s] = 0
                g.aadj.pop(s, None)
                if g.undefined is not None:
                    g.undefined.discard(s)
                g.mark_undefined(s)
    if gt is not None:
        if not h.shape:
            # an unchanged value keeps the adjoint's double precision
            if gt._val != v0:
                g.adj[s] = gt._val
        else:
            g.aadj[s] = gt._data
            # a hook may have kept the array: nothing adds into it in place
            g.owned.discard(s)
    if not h.node_post:
        return False
    _run_with_post_hooks(g, s, retain, h.node_post, outs)
    return True


cdef object _slot_grad(Graph g, bint scalar, int32_t slot):
    """Record slot's first-order gradient (a float where its output is an inline
    scalar, else an array), or None where no gradient reached it."""
    if g.reached[slot] != 1:
        return None
    if scalar:
        return g.adj[slot]
    return g.aadj.get(slot)


cdef tuple _scalar_grad_inputs(Graph g, int32_t s, object ga, object gb):
    """grad_inputs of scalar record s (ga, gb: its gradients for in0, in1) as
    PyTorch's node has them: AddBackward0 and the like two (None for a number),
    one-input ops one."""
    cdef uint8_t o = g.op[s] & OP_CODE
    if o == OP_ADD or o == OP_SUB or o == OP_MUL or o == OP_DIV or o == OP_RDIV or (
            o == OP_POW and g.in1[s] >= 0):
        return (ga, gb)
    return (ga,)


cdef int _run_with_post_hooks(Graph g, int32_t s, bint retain, object hooks,
                              tuple outs) except -1:
    """Record s run by a first-order sweep with its grad_fn's post hooks between
    its backward and the deposit of its gradients (outs: its grad_outputs)."""
    cdef uint8_t o = g.op[s] & OP_CODE
    cdef int dt = DT_F64 if g.op[s] & OP_F64 else DT_F32
    cdef Node node
    if o == OP_PY:
        node = <Node>g.ctx[g.in0[s]]
        if g.reached[s]:
            g.run_node(s, retain, False, lambda grads: _posted(hooks, node, grads, outs))
        else:
            _call_node_hooks(hooks, (None,) * len(node.in_slots), outs, True, False)
    elif o == OP_GATHER:
        shape, npdt = g.layout[g.in0[s]]
        if g.reached[s]:
            g.run_gather(s, lambda grads: _gathered(hooks, grads[0], _np_to_dt(npdt), outs))
        else:
            _call_node_hooks(hooks, (None,), outs, True, False)
    elif g.reached[s]:
        ga, gb = g.scalar_grads(s)
        gin = _scalar_grad_inputs(g, s, None if ga is None else _scalar(ga, dt),
                                  None if gb is None else _scalar(gb, dt))
        new = _call_node_hooks(hooks, gin, outs, True, False)
        ga = _kept(ga, gin[0], new[0])
        gb = _kept(gb, gin[1], new[1]) if len(gin) == 2 else gb
        g.add_scalar_grads(s, retain, ga, gb)
    else:
        _call_node_hooks(hooks, _scalar_grad_inputs(g, s, None, None), outs, True, False)
    return 0


cdef tuple _gathered(object hooks, object g, int dt, tuple outs):
    """A scalar read's gradient for its array (g) after its grad_fn's post hooks."""
    gin = (_wrap(g, dt),)
    return (_kept(g, gin[0], _call_node_hooks(hooks, gin, outs, True, False)[0]),)


cdef object _kept(object raw, object before, object after):
    """A first-order gradient after a hook: raw (a float or an array, its full
    precision) where the hook kept it, else the hook's tensor's value."""
    if after is before:
        return raw
    return None if after is None else _adjoint_value(<Tensor>after)


cdef tuple _posted(object hooks, Node node, tuple grads, tuple outs):
    """An array record's gradients for its inputs (arrays or floats) after its
    grad_fn's post hooks, which see them as tensors (None for an input that
    does not require grad)."""
    gin = tuple([None if s < 0 or gk is None else
                 _grad_tensor(gk, () if sc else np.shape(gk), _np_to_dt(npdt))
                 for s, sc, npdt, gk in zip(node.in_slots, node.in_scalar, node.in_dtypes, grads)])
    new = _call_node_hooks(hooks, gin, outs, True, False)
    return tuple([_kept(gk, b, a) for gk, b, a in zip(grads, gin, new)])


cdef tuple _run_slot_hooks_recorded(Graph g, int32_t s, _Hooks h, object gi, dict captured):
    """The same at record s of a recorded backward (gi: its gradient, a tensor of
    the graph, or None where only undefined ones reached it): (its gradient
    after the hooks, its grad_outputs for its post hooks)."""
    if captured and s in captured:
        captured[s] = gi
    if gi is None:
        if h.pre:
            _call_hooks_on_none(h.pre)
    else:
        if h.pre:
            gi = _call_hooks(h.pre, <Tensor>gi)
        if h.retains:
            _retain(h, <Tensor>gi)
    if not (h.node_pre or h.node_post):
        return gi, None
    fn = _function_of(g, s)
    outs = _grad_outputs(fn, gi)
    if h.node_pre:
        outs = _call_node_hooks(h.node_pre, outs, None, False, True)
        if gi is not None:
            gi = _from_grad_outputs(fn, outs)
    return gi, outs


cdef int _deposit_leaf(Tensor leaf, object gx, bint owned, bint recorded) except -1:
    """A backward's gradient for leaf, through its hooks, into .grad (owned: see
    _deposit; recorded: gx is a tensor of the graph); then its post-accumulate
    hooks."""
    cdef _Hooks h = leaf._hooks
    if recorded:
        gx = _leaf_shaped(leaf, <Tensor>gx)
        if h is not None and h.pre:
            gx = _call_hooks(h.pre, <Tensor>gx)
        _deposit_recorded(leaf, gx)
    else:
        if h is not None and h.pre:
            gx = _adjoint_value(_hooked(h.pre, _grad_tensor(gx, tuple(leaf.shape), leaf._dt)))
            owned = False
        _deposit(leaf, gx, owned)
    if h is not None and h.post:
        _run_post_hooks(leaf)
    return 0


cdef int _undefined_leaf(Tensor leaf) except -1:
    """A leaf only undefined gradients reached: PyTorch calls its hooks with None
    (its .grad stays as it is) and its post-accumulate hooks."""
    cdef _Hooks h = leaf._hooks
    if h is not None:
        if h.pre:
            _call_hooks_on_none(h.pre)
        if h.post:
            _run_post_hooks(leaf)
    return 0


cdef int _run_post_hooks(Tensor leaf) except -1:
    for hook in list(leaf._hooks.post.values()):
        r = hook(leaf)
        # PyTorch's hooks return None; a returned tensor (an in-place op's result) is ignored
        if r is not None and not isinstance(r, Tensor):
            raise TypeError(f"expected Variable, but hook returned '{type(r).__name__}'")
    return 0


cdef int _drop_hook_fns(Graph g) except -1:
    """Before a consumed graph retires: its hooks can never run again; its
    retained gradients stay readable."""
    cdef _Hooks h
    for h in g.hooks.values():
        h.pre = h.node_pre = h.node_post = None
    return 0


cdef list _stops(Graph g, int32_t top, list inputs, dict captured):
    """(leaf or None, slot) of the records at which a first-order sweep from top
    pauses, earliest first as in g.leaves (the sweep takes them from the end):
    with inputs None each leaf (its .grad is deposited there) and each non-leaf
    with hooks or retain_grad; with inputs, those non-leaves only through which
    an input is reached (PyTorch runs only the nodes that lead to an input;
    captured: see _hooked_slots)."""
    hooked = _hooked_slots(g, top, inputs, captured)
    stops = [(None, s) for s in hooked]
    if inputs is None:
        stops.extend([(leaf, s) for leaf, s in g.leaves if s <= top])
    stops.sort(key=_second)
    return stops


def _second(pair):
    return pair[1]


cdef dict _hooked_slots(Graph g, int32_t top, list inputs, dict captured):
    """slot -> _Hooks of the hooked non-leaves at or below top whose hooks a
    backward runs (see _stops).  A hooked input of autograd.grad through which
    another input is reached gets a key in captured: PyTorch returns its
    gradient as it was before its hooks ran (its node runs later, the hooks
    with it); one through which none is, after them."""
    cdef _Hooks h
    out = {}
    for s, h in g.hooks.items():
        if s <= top and (h.pre or h.retains or h.node_pre or h.node_post):
            out[s] = h
    if inputs is None or not out:
        return out
    dep = _depends(g, inputs, top)
    for s in out:
        if dep[s] == 3:
            captured[s] = None
    return {s: h for s, h in out.items() if dep[s]}


cdef bytearray _depends(Graph g, list inputs, int32_t top):
    """Per record 0..top: 1 for one of inputs, | 2 where its value depends on
    one of inputs through its operands, else 0."""
    cdef bytearray dep = bytearray(top + 1)
    # its buffer directly: a memoryview would pull Cython's memoryview utility
    # (~20,000 lines of C) into _tensor
    cdef unsigned char* d = <unsigned char*>PyByteArray_AS_STRING(dep)
    cdef int32_t i, lo = top + 1, s
    cdef uint8_t o
    cdef Tensor t
    for x in inputs:
        t = <Tensor>x
        if t._graph is g:
            slots = [t._slot]
        elif t._graph is None:
            slots = [s for leaf, s in g.leaves if leaf is t]
        else:
            continue
        for s in slots:
            if s <= top:
                d[s] = 1
                if s < lo:
                    lo = s
    for i in range(lo + 1, top + 1):
        o = g.op[i] & OP_CODE
        if o == OP_LEAF:
            continue
        if o == OP_PY:
            for s in (<Node>g.ctx[g.in0[i]]).in_slots:
                if s >= 0 and d[s]:
                    d[i] |= 2
                    break
        elif (g.in0[i] >= 0 and d[g.in0[i]]) or (o != OP_GATHER and g.in1[i] >= 0 and d[g.in1[i]]):
            d[i] |= 2
    return dep


cdef list _hooked_inputs(list inputs, list grads, bint recorded):
    """The gradients autograd.grad returns for inputs: a leaf's after its hooks
    (run once on its total, however often it is listed)."""
    cdef Tensor t
    for x in inputs:
        if (<Tensor>x)._hooks is not None:
            break
    else:
        return grads
    done = {}
    out = []
    for x, gx in zip(inputs, grads):
        t = <Tensor>x
        if t._graph is None and t._hooks is not None and t._hooks.pre and gx is not None:
            if id(t) not in done:
                if recorded:
                    done[id(t)] = _call_hooks(t._hooks.pre, _leaf_shaped(t, <Tensor>gx))
                else:
                    done[id(t)] = _adjoint_value(_hooked(t._hooks.pre,
                                                 _grad_tensor(gx, tuple(t.shape), t._dt)))
            gx = done[id(t)]
        out.append(gx)
    return out


cdef list _backward_inputs(object inputs):
    """backward(inputs=...)'s tensors, checked as PyTorch checks them, each once;
    the non-leaves among them retain their .grad from now on (as PyTorch's)."""
    cdef Tensor t
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if not inputs:
        raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    out = []
    for x in inputs:
        if not isinstance(x, Tensor):
            raise RuntimeError("all inputs have to be Tensors or GradientEdges, but got "
                               f"{type(x).__name__}")
        _retain_grad(<Tensor>x)
        if not any([y is x for y in out]):
            out.append(x)
    return out
