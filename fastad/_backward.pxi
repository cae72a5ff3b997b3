# Included by _tensor.pyx: backward and autograd.grad: seeds, the sweep, deposits.
cdef object _seed(Tensor t, object gradient, int k):
    if gradient is None:
        if t._data is None:
            return 1.0
        if t.numel() != 1:
            raise RuntimeError("grad can be implicitly created only for scalar outputs")
        return np.ones(() if t._data is None else t._data.shape, dtype=NP_DTYPES[t._dt])
    g = _arr(<Tensor>gradient) if isinstance(gradient, Tensor) else np.asarray(gradient)
    if g.shape != (() if t._data is None else t._data.shape):
        raise RuntimeError(f"Mismatch in shape: grad_output[{k}] has a shape of {Size(g.shape)!r} "
                           f"and output[{k}] has a shape of {t.shape!r}.")
    return g.astype(NP_DTYPES[t._dt], copy=False)


cdef void _deposit(Tensor leaf, object g, bint owned=False) except *:
    """leaf.grad += g, in place when leaf.grad exists (as PyTorch accumulates);
    an owned g (allocated by this sweep, nobody else sees it) becomes .grad as is."""
    cdef Tensor acc
    if leaf._data is None:
        if leaf._grad is None:
            leaf._grad = _scalar(float(g), leaf._dt)
        else:
            acc = <Tensor>leaf._grad
            acc._val = acc._val + float(g)
            if acc._dt == DT_F32:
                acc._val = <double>(<float>acc._val)
    elif leaf._grad is None:
        if owned and g.shape == leaf._data.shape and g.dtype == NP_DTYPES[leaf._dt]:
            leaf._grad = _wrap(g, leaf._dt)
        else:
            leaf._grad = _wrap(_filled_like(np.asarray(g, dtype=NP_DTYPES[leaf._dt]),
                                            leaf._data.shape), leaf._dt)
    else:
        acc = <Tensor>leaf._grad
        np.add(acc._data, g, out=acc._data, casting="unsafe")


cdef int _run_post_hooks(Tensor leaf) except -1:
    for hook in list(leaf._post_hooks.values()):
        r = hook(leaf)
        # PyTorch's hooks return None; a returned tensor (an in-place op's result) is ignored
        if r is not None and not isinstance(r, Tensor):
            raise TypeError(f"expected Variable, but hook returned '{type(r).__name__}'")
    return 0


cdef object _slot_grad(Graph g, Tensor t, int32_t slot):
    if not g.reached[slot]:
        return None
    if t._data is None:
        return g.adj[slot]
    return g.aadj.get(slot)


cdef bint _all_reached(Graph g, int32_t top) noexcept:
    cdef int32_t i
    if top != g.n - 1:
        return False
    for i in range(top + 1):
        if not g.reached[i]:
            return False
    return True


cdef object _sweep(list roots, list grads, bint retain, list inputs):
    """Runs one reverse sweep from roots.  With inputs None, gradients are
    accumulated into the leaves' .grad; otherwise they are returned per input."""
    cdef Graph g = None
    cdef Tensor t
    cdef int32_t top = -1
    cdef int k
    seeds = []
    leaf_roots = []
    hooked = []
    for k in range(len(roots)):
        if not isinstance(roots[k], Tensor):
            raise TypeError(f"outputs must be tensors, got {type(roots[k]).__name__}")
        t = <Tensor>roots[k]
        if not t._rg:
            raise RuntimeError(f"element {k} of tensors does not require grad and does not have a "
                               "grad_fn")
        seed = _seed(t, grads[k], k)
        if t._graph is None:
            leaf_roots.append((t, seed))
            continue
        if g is None:
            g = t._graph
        elif g is not t._graph:
            raise RuntimeError(CROSS_GRAPH)
        if t._slot > top:
            top = t._slot
        seeds.append((t, seed))
    result = None
    if g is not None:
        g.prepare(top)
        for t, seed in seeds:
            g.reached[t._slot] = 1
            if t._data is None:
                g.adj[t._slot] += float(seed)
            else:
                prev = g.aadj.get(t._slot)
                g.aadj[t._slot] = seed if prev is None else prev + seed
        if inputs is not None:
            g.keep = set([(<Tensor>x)._slot for x in inputs
                          if (<Tensor>x)._graph is g and (<Tensor>x)._data is not None])
        g.sweep(top, retain)
        if inputs is None:
            # latest-used leaves first: their gradients are the first complete, as in
            # PyTorch's order of accumulation (post-accumulate hooks run in this order)
            for leaf, slot in reversed(g.leaves):
                if slot <= top and g.reached[slot]:
                    _deposit(<Tensor>leaf, _slot_grad(g, <Tensor>leaf, slot), slot in g.owned)
                    if (<Tensor>leaf)._post_hooks:
                        hooked.append(leaf)
        else:
            result = []
            for x in inputs:
                t = <Tensor>x
                gx = None
                if t._graph is g:
                    gx = _slot_grad(g, t, t._slot)
                elif t._graph is None:
                    for leaf, slot in g.leaves:
                        if leaf is t and slot <= top and g.reached[slot]:
                            gs = _slot_grad(g, t, slot)
                            gx = gs if gx is None else gx + gs
                result.append(gx)
        g.aadj = None
        g.owned = None
        g.keep = None
        if not retain:
            if _all_reached(g, top):
                g.retire()
            elif g is current_graph():
                fresh_graph()
    if inputs is None:
        for t, seed in leaf_roots:
            _deposit(t, seed)
            if t._post_hooks:
                hooked.append(t)
        # after the sweep's state is cleared, so a hook that raises leaves it consistent
        for t in hooked:
            _run_post_hooks(t)
    else:
        if result is None:
            result = [None] * len(inputs)
        for t, seed in leaf_roots:
            for k in range(len(inputs)):
                if inputs[k] is t:
                    result[k] = seed if result[k] is None else result[k] + seed
    return result


def run_backward(tensors, grad_tensors, bint retain_graph):
    _sweep(list(tensors), list(grad_tensors), retain_graph, None)


def run_grad(outputs, inputs, grad_outputs, bint retain_graph, bint allow_unused):
    cdef Tensor t
    for k, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"inputs must be tensors, got {type(x).__name__} at position {k}")
        if not (<Tensor>x)._rg:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    grads = _sweep(list(outputs), list(grad_outputs), retain_graph, list(inputs))
    out = []
    for k, x in enumerate(inputs):
        t = <Tensor>x
        gk = grads[k]
        if gk is None:
            if not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have been used "
                                   "in the graph. Set allow_unused=True if this is the desired "
                                   "behavior.")
            out.append(None)
        elif t._data is None:
            out.append(_scalar(float(gk), t._dt))
        else:
            out.append(_wrap(_filled_like(np.asarray(gk, dtype=NP_DTYPES[t._dt]), t._data.shape),
                             t._dt))
    return tuple(out)
