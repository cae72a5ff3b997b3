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


cdef object _pool_on(Graph g):
    """While a backward sweeps a graph of large arrays, numpy allocates its
    large arrays through fastad's pool of recycled blocks (fastad._runtime):
    a fresh block costs a page fault per page, the next step's allocations are
    the same sizes.  Returns the handler _pool_off puts back (None: unchanged)."""
    return cnp.PyDataMem_SetHandler(_POOL) if g.large else None


cdef int _pool_off(object previous) except -1:
    if previous is not None:
        cnp.PyDataMem_SetHandler(previous)
    return 0


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


cdef bint _all_reached(Graph g, int32_t top) noexcept:
    cdef int32_t i
    if top != g.n - 1:
        return False
    for i in range(top + 1):
        if not g.reached[i]:
            return False
    return True


cdef int _check_elements(Graph g, int32_t top, list seeds, list inputs) except -1:
    """PyTorch's error where a record that this backward runs saved an element
    view whose base was written in place since; the records it runs are looked
    for only when such a record exists."""
    cdef long long *p = (<array.array>g.esaves).data.as_longlongs
    cdef Py_ssize_t k, n = g.nsaved
    for k in range(n):
        if p[3 * k] <= top and (<VersionCounter>g.esaved[k]).version != p[3 * k + 1]:
            break
    else:
        return 0
    cdef bytearray runs = _reached_from(g, top, seeds)
    cdef bytearray need = None if inputs is None else _wanted_slots(g, top, inputs)
    cdef VersionCounter c
    for k in range(n):
        c = <VersionCounter>g.esaved[k]
        if (p[3 * k] <= top and runs[p[3 * k]] and (need is None or need[p[3 * k]])
                and c.version != p[3 * k + 1]):
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: [torch.{_legacy_name(p[3 * k + 2])} []] is at version "
                f"{c.version}; expected version {p[3 * k + 1]} instead. Hint: enable anomaly "
                "detection to find the operation that failed to compute its gradient, with "
                "torch.autograd.set_detect_anomaly(True, check_nan=False).")
    return 0


cdef bytearray _reached_from(Graph g, int32_t top, list seeds):
    """runs[s], s <= top: whether record s is on a path from a root (the seeds'
    tensors) back to the leaves, so that a backward from those roots runs it."""
    cdef bytearray runs = bytearray(top + 1)
    cdef int32_t i, s
    cdef uint8_t o
    for t, _ in seeds:
        runs[(<Tensor>t)._slot] = 1
    for i in range(top, -1, -1):
        if not runs[i]:
            continue
        o = g.op[i] & OP_CODE
        if o == OP_PY:
            for s in (<Node>g.ctx[g.in0[i]]).in_slots:
                if s >= 0:
                    runs[s] = 1
        elif o != OP_LEAF:
            if g.in0[i] >= 0:
                runs[g.in0[i]] = 1
            if o != OP_GATHER and g.in1[i] >= 0:
                runs[g.in1[i]] = 1
    return runs


cdef list _NO_STOPS = []


cdef bint _listed_once(list xs, object x):
    cdef Py_ssize_t n = 0
    for y in xs:
        n += y is x
    return n == 1


cdef list _fold_leaf_roots(Graph g, int32_t top, list seeds, list leaf_roots):
    """Moves to seeds the roots that are leaves recorded on g below top: their
    seed joins the gradient deposited at their record, so .grad is accumulated
    (and the hooks run) once; returns the other leaf roots."""
    rest = []
    for t, seed in leaf_roots:
        if (<Tensor>t)._lgid == g.gid and (<Tensor>t)._slot <= top:
            seeds.append((t, seed))
        else:
            rest.append((t, seed))
    return rest


cdef object _sweep(list roots, list grads, bint retain, list inputs, list owned=None):
    """Runs one reverse sweep from roots.  With inputs None, each leaf's gradient
    is accumulated into its .grad, and its hooks run, as soon as the sweep has
    passed the leaf's record (every contribution to it comes from a later
    record), while the rest of the backward still runs, as PyTorch does;
    otherwise the gradients are returned per input, and owned (when given) says
    of each whether the sweep allocated it and nothing else refers to it.  The
    hooks of a non-leaf run where the sweep reaches its record (see _hooks.pxi)."""
    cdef Graph g = None
    cdef Tensor t
    cdef int32_t top = -1, i, slot
    cdef int k
    cdef Py_ssize_t j
    cdef bint done = False
    cdef list stops
    seeds = []
    leaf_roots = []
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
    captured = None
    if g is not None:
        g.prepare(top)
        handler = _pool_on(g)
        try:
            if g.nsaved:
                _check_elements(g, top, seeds, inputs)
            if inputs is None:
                leaf_roots = _fold_leaf_roots(g, top, seeds, leaf_roots)
            for t, seed in seeds:
                slot = t._slot
                g.reached[slot] = 1
                if t._data is None:
                    g.adj[slot] += float(seed)
                else:
                    prev = g.aadj.get(slot)
                    g.aadj[slot] = seed if prev is None else prev + seed
            if inputs is None:
                stops = g.leaves if g.hooks is None else _stops(g, top, None, None)
            else:
                g.keep = set([(<Tensor>x)._slot for x in inputs
                              if (<Tensor>x)._graph is g and (<Tensor>x)._data is not None])
                captured = {}
                stops = _NO_STOPS if g.hooks is None else _stops(g, top, inputs, captured)
            i = top
            # latest first: the order in which their gradients are complete
            for j in range(len(stops) - 1, -1, -1):
                leaf, slot = stops[j]
                if slot > top:
                    continue
                _sweep_records(g, i, slot, retain)
                if leaf is None:
                    # a hooked non-leaf: its own record runs next, unless its hooks ran it
                    i = slot
                    if (g.reached[slot] or g.undefined is not None and slot in g.undefined) \
                            and _run_slot_hooks(g, slot, captured, retain):
                        i = slot - 1
                    continue
                i = slot - 1
                if g.reached[slot]:
                    _deposit_leaf(<Tensor>leaf, _slot_grad(g, (<Tensor>leaf)._data is None, slot),
                                  slot in g.owned, False)
                    g.aadj.pop(slot, None)
                elif g.undefined is not None and slot in g.undefined:
                    _undefined_leaf(<Tensor>leaf)
            _sweep_records(g, i, -1, retain)
            if inputs is not None:
                result = []
                for x in inputs:
                    t = <Tensor>x
                    gx = None
                    mine = False
                    if t._graph is g:
                        # before its hooks where PyTorch captures it so (_hooked_slots)
                        gx = captured.get(t._slot, _slot_grad(g, t._data is None, t._slot))
                        mine = t._slot in g.owned and t._slot not in captured
                    elif t._graph is None:
                        for leaf, slot in g.leaves:
                            if leaf is t and slot <= top and g.reached[slot]:
                                gs = _slot_grad(g, t._data is None, slot)
                                mine = gx is not None or slot in g.owned
                                gx = gs if gx is None else gx + gs
                    result.append(gx)
                    if owned is not None:
                        owned.append(mine and _listed_once(inputs, x))
            done = True
        finally:
            # a hook or a backward that raises leaves the graph consistent: swept
            # records freed (without retain_graph), the rest still usable
            _pool_off(handler)
            g.aadj = None
            g.owned = None
            g.keep = None
            if not retain:
                if done and _all_reached(g, top):
                    if g.hooks is not None:
                        _drop_hook_fns(g)
                    g.retire()
                elif g is current_graph():
                    fresh_graph()
    if inputs is None:
        for t, seed in leaf_roots:
            _deposit_leaf(t, seed, False, False)
        return None
    if result is None:
        result = [None] * len(inputs)
    for t, seed in leaf_roots:
        for k in range(len(inputs)):
            if inputs[k] is t:
                result[k] = seed if result[k] is None else result[k] + seed
    return result


def run_backward(tensors, grad_tensors, bint retain_graph, inputs=None, bint create_graph=False):
    _backward(list(tensors), list(grad_tensors), retain_graph, inputs, create_graph)


cdef int _backward(list tensors, list grads, bint retain, object inputs,
                   bint create_graph) except -1:
    """backward: into the leaves' .grad, or with inputs (backward(inputs=...)) into
    theirs only (a non-leaf's by its retain_grad); create_graph: recorded."""
    if not _has_array_nodes(tensors):
        return _backward_sweep(tensors, grads, retain, inputs, create_graph)
    quiet = _fp_quiet()
    try:
        return _backward_sweep(tensors, grads, retain, inputs, create_graph)
    finally:
        _fp_restore(quiet)


cdef bint _has_array_nodes(list tensors):
    """Whether a backward from tensors runs array nodes, whose numpy calls need
    numpy's warnings quieted (a sweep over scalar records is C, and the Python
    derivatives of a recorded one are quiet themselves): the cost of quieting,
    a context variable set and reset, is 3% of a small scalar step (W2)."""
    for x in tensors:
        if isinstance(x, Tensor) and (<Tensor>x)._graph is not None and (<Tensor>x)._graph.ctx:
            return True
    return False


cdef int _backward_sweep(list tensors, list grads, bint retain, object inputs,
                         bint create_graph) except -1:
    if inputs is None:
        if create_graph:
            _sweep_recorded(tensors, grads, None)
        else:
            _sweep(tensors, grads, retain, None)
        return 0
    inputs = _backward_inputs(inputs)
    if create_graph:
        grads = _sweep_recorded(tensors, grads, inputs)
    else:
        grads = _sweep(tensors, grads, retain, inputs)
    for x, gx in zip(inputs, grads):
        if (<Tensor>x)._graph is None and gx is not None:
            _deposit_leaf(<Tensor>x, gx, False, create_graph)
    return 0


def run_grad(outputs, inputs, grad_outputs, bint retain_graph, bint allow_unused):
    cdef Tensor t
    for k, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"inputs must be tensors, got {type(x).__name__} at position {k}")
        if not (<Tensor>x)._rg:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    owned = []
    swept = _sweep(list(outputs), list(grad_outputs), retain_graph, list(inputs), owned)
    grads = _hooked_inputs(list(inputs), swept, False)
    out = []
    for k, x in enumerate(inputs):
        t = <Tensor>x
        gk = grads[k]
        if gk is None:
            if not allow_unused:
                raise RuntimeError(f"The differentiated Tensor at index {k} appears to not have "
                                   "been used in the graph. Set allow_unused=True if this is the "
                                   "desired behavior.")
            out.append(None)
        elif t._data is None:
            out.append(_scalar(float(gk), t._dt))
        elif (k < len(owned) and owned[k] and gk is swept[k] and type(gk) is np.ndarray
              and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>gk)
              and <object>cnp.PyArray_DESCR(<cnp.ndarray>gk) is NP_DTYPES[t._dt]
              and gk.shape == t._data.shape):
            out.append(_wrap(gk, t._dt))    # the sweep's own array: no copy
        else:
            out.append(_wrap(_filled_like(np.asarray(gk, dtype=NP_DTYPES[t._dt]), t._data.shape),
                             t._dt))
    return tuple(out)


# ---------------------------------------------------------------- create_graph=True
# A recorded backward: the same tape swept from the top record down, but the
# adjoints are tensors and each record's vector-Jacobian product is computed by
# fastad ops with recording on, so the new records land on the same graph
# (after the ones being swept) and reach the original inputs through handles:
# tensors of the graph standing for a record's value.
cdef object _seed_tensor(Tensor t, object gradient, int k):
    if gradient is None and t._data is None:
        return _scalar(1.0, t._dt)
    if gradient is None:
        return _const(_seed(t, None, k), t._dt)
    if isinstance(gradient, Tensor):
        _seed(t, gradient, k)           # its shape checks
        return _to(<Tensor>gradient, t._dt)
    return _const(_seed(t, gradient, k), t._dt)


cdef void _add_adjoint(dict adj, int32_t s, object g) except *:
    prev = adj.get(s)
    adj[s] = g if prev is None else prev + g


cdef int _add_grads(dict adj, set undefined, tuple slots, object grads) except -1:
    """A record's gradients (tensors, or None: undefined) added to its inputs' (slots)."""
    cdef int32_t s
    for s, gk in zip(slots, grads):
        if s < 0:
            continue
        if gk is None:
            undefined.add(s)
        else:
            _add_adjoint(adj, s, gk)
    return 0


cdef int _node_vjp(Graph g, int32_t i, object gi, dict adj, set undefined, dict leaf_at,
                   bint check_nan, object post, tuple outs, bytearray need) except -1:
    global _unwanted
    cdef Node node = <Node>g.ctx[g.in0[i]]
    cdef Tensor h
    cdef int32_t s
    if node.derivative is None:
        if node.backward is None and node.saves:
            raise RuntimeError(SECOND_BACKWARD)
        raise RuntimeError(f"fastad: the derivative of {node.name} is not implemented, so it "
                           "cannot be differentiated with create_graph=True")
    for counter, version in node.saved:
        if counter.version != version:
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: it is at version {counter.version}; expected version "
                f"{version} instead (output of {node.name}).")
    arrays, dts, out_array, out_dt = node.primal
    inputs = []
    unwanted = []
    for k in range(len(arrays)):
        s = node.in_slots[k]
        if arrays[k] is None:
            inputs.append(None)
        elif s < 0:
            inputs.append(_wrap(arrays[k], dts[k]))
        else:
            if s in leaf_at:
                x = leaf_at[s]
            else:
                h = _wrap(arrays[k], dts[k])
                h._graph, h._slot, h._rg = g, s, True
                h._op = g.op[s] & OP_CODE
                if h._op == OP_PY:
                    h._node = <Node>g.ctx[g.in0[s]]
                x = h
            inputs.append(x)
            if need is not None and not need[s]:
                unwanted.append(x)
    h = _wrap(out_array, out_dt)
    h._graph, h._slot, h._rg, h._op, h._node = g, i, True, OP_PY, node
    outer = _unwanted
    _unwanted = tuple(unwanted)
    try:
        grads = node.derivative(gi, tuple(inputs), h)
    finally:
        _unwanted = outer
    if check_nan:
        _check_nan_grads(node.name, grads)
    checked = []
    for k in range(len(arrays)):
        s = node.in_slots[k]
        gk = grads[k]
        if s < 0 or gk is None or need is not None and not need[s]:
            checked.append(None)
            continue
        if not isinstance(gk, Tensor):
            gk = _const(gk, dts[k])
        elif (<Tensor>gk)._dt != dts[k]:
            gk = _to(<Tensor>gk, dts[k])
        if tuple((<Tensor>gk).shape) != np.shape(arrays[k]):
            raise RuntimeError(f"Function {node.name} returned an invalid gradient at index {k} - "
                               f"got {list((<Tensor>gk).shape)} but expected shape compatible "
                               f"with {list(np.shape(arrays[k]))}")
        checked.append(gk)
    grads = tuple(checked)
    if post:
        grads = _call_node_hooks(post, grads, outs, True, True)
    _add_grads(adj, undefined, node.in_slots, grads)
    return 0


cdef int _recorded_sweep(Graph g, int32_t top, dict adj, set keep, dict leaf_at,
                         bint deposit, dict hooked, dict captured, bytearray need) except -1:
    """Sweeps records top..0 with the tensor adjoints adj (slot -> tensor).  With
    deposit, a leaf's gradient goes to its .grad (and its hooks run) when the
    sweep reaches its record; otherwise adj keeps those of the leaves and of the
    slots in keep.  hooked (slot -> _Hooks, or None): the non-leaves whose hooks
    run on their gradient when the sweep reaches them (captured: see
    _hooked_slots).  need (or None: all): the slots whose gradients are wanted
    (_wanted_slots); a record none of whose inputs is wanted is skipped.
    (Anomaly mode's parent
    of the records the backwards make is put back after.)"""
    global _anomaly_parent
    outer = _anomaly_parent
    try:
        _recorded_records(g, top, adj, keep, leaf_at, deposit, hooked, captured, need)
    finally:
        _anomaly_parent = outer
    return 0


cdef int _recorded_records(Graph g, int32_t top, dict adj, set keep, dict leaf_at,
                           bint deposit, dict hooked, dict captured, bytearray need) except -1:
    cdef int32_t i, a
    cdef uint8_t o
    cdef Tensor leaf
    cdef _Hooks h
    cdef bint anomaly = _debug & DEBUG_ANOMALY
    # the slots undefined gradients (a backward's None) reached: see _hooks.pxi
    cdef set undefined = set()
    for i in range(top, -1, -1):
        gi = adj.get(i)
        if gi is None and i not in undefined:
            continue
        o = g.op[i]
        if o & OP_FREED:
            raise RuntimeError(SECOND_BACKWARD)
        o &= OP_CODE
        if o == OP_LEAF:
            if deposit:
                if gi is None:
                    _undefined_leaf(<Tensor>leaf_at[i])
                else:
                    _deposit_leaf(<Tensor>leaf_at[i], adj.pop(i), False, True)
            continue
        h = None if hooked is None else hooked.get(i)
        outs = None
        if h is not None:
            gi, outs = _run_slot_hooks_recorded(g, i, h, gi, captured)
            if gi is not None:
                adj[i] = gi
            else:
                adj.pop(i, None)
        if i not in keep:
            adj.pop(i, None)
        if need is not None and not _feeds_wanted(g, i, o, need):
            continue
        if gi is None and _function_of(g, i) is None:
            _pass_undefined(g, i, o, undefined, h)
            continue
        post = None if h is None else h.node_post
        if post and outs is None:
            outs = _grad_outputs(_function_of(g, i), gi)
        if not _debug:
            _record_vjp(g, i, o, gi, adj, undefined, leaf_at, False, post, outs, need)
            continue
        name = (<Node>g.ctx[g.in0[i]]).name if o == OP_PY else OP_NAMES[o]
        t0 = _start_record(g, i, name)
        try:
            _record_vjp(g, i, o, gi, adj, undefined, leaf_at, anomaly and _check_nan, post, outs,
                        need)
        except BaseException:
            if anomaly:
                _warn_forward(g, i, name)
            raise
        if _debug & DEBUG_PROFILE:
            _profiler._backward(name, t0)
    return 0


cdef int _pass_undefined(Graph g, int32_t i, uint8_t o, set undefined, _Hooks h) except -1:
    """Record i, which only undefined gradients reached, passes undefined ones
    on (after its grad_fn's post hooks, on None)."""
    cdef Node node
    if o == OP_PY:
        node = <Node>g.ctx[g.in0[i]]
        slots = node.in_slots
        gin = (None,) * len(slots)
    else:
        slots = (g.in0[i], g.in1[i] if o != OP_GATHER else -1)
        gin = (None,) if o == OP_GATHER else _scalar_grad_inputs(g, i, None, None)
    if h is not None and h.node_post:
        _call_node_hooks(h.node_post, gin, _grad_outputs(None, None), True, True)
    for s in slots:
        if s >= 0:
            undefined.add(s)
    return 0


cdef int _record_vjp(Graph g, int32_t i, uint8_t o, object gi, dict adj, set undefined,
                     dict leaf_at, bint check_nan, object post, tuple outs,
                     bytearray need) except -1:
    """Record i's gradients for its inputs (gi: its own), added to theirs in adj
    (through its grad_fn's post hooks, given its grad_outputs outs)."""
    cdef int32_t a
    if o == OP_PY:
        _node_vjp(g, i, gi, adj, undefined, leaf_at, check_nan, post, outs, need)
    elif o == OP_GATHER:
        a = g.in0[i]
        shape, npdt = g.layout[a]
        grads = (_index_put(gi, (g.in1[i],), (shape,), DT_F64 if npdt == np.float64 else DT_F32,
                            False, "SelectBackwardBackward0"),)
        if post:
            grads = _call_node_hooks(post, grads, outs, True, True)
        _add_grads(adj, undefined, (a,), grads)
    else:
        ga, gb = _scalar_vjp(g, i, gi, leaf_at)
        # a number operand gets None (its partial may have been computed)
        grads = (ga if g.in0[i] >= 0 else None, gb if g.in1[i] >= 0 else None)
        if check_nan:
            _check_nan_grads(OP_NAMES[o], grads)
        if post:
            gin = _scalar_grad_inputs(g, i, _float_tensor(grads[0], g, i),
                                      _float_tensor(grads[1], g, i))
            grads = _call_node_hooks(post, gin, outs, True, True) + (grads[1],)
        _add_grads(adj, undefined, (g.in0[i], g.in1[i]), grads[:2])
    return 0


cdef bytearray _wanted_slots(Graph g, int32_t top, list inputs):
    """need[s], s <= top: whether the gradient of record s is wanted, as it is
    one of inputs (autograd.grad's) or an input of a record that leads to one.
    PyTorch's engine runs only the nodes on a path to the inputs, and their
    formulas only the wanted gradients; the recorded sweep does the same."""
    cdef bytearray need = bytearray(top + 1)
    cdef int32_t s, i, lowest = top + 1
    cdef uint8_t o
    cdef Tensor t
    for x in inputs:
        t = <Tensor>x
        if t._graph is g and t._slot <= top:
            need[t._slot] = 1
            if t._slot < lowest:
                lowest = t._slot
        elif t._graph is None:
            for leaf, s in g.leaves:
                if leaf is t and s <= top:
                    need[s] = 1
                    if s < lowest:
                        lowest = s
    # a record reads only earlier ones: none below the lowest input leads to one,
    # and a thread's graph can hold many records from earlier work below it
    for i in range(lowest + 1, top + 1):
        if not need[i]:
            o = g.op[i] & OP_CODE
            need[i] = o != OP_LEAF and _feeds_wanted(g, i, o, need)
    return need


cdef bint _feeds_wanted(Graph g, int32_t i, uint8_t o, bytearray need) except -1:
    """Whether one of record i's inputs has a wanted gradient (need[s])."""
    cdef int32_t s
    if o == OP_PY:
        for s in (<Node>g.ctx[g.in0[i]]).in_slots:
            if s >= 0 and need[s]:
                return True
        return False
    s = g.in0[i]
    if s >= 0 and need[s]:
        return True
    s = g.in1[i]
    return o != OP_GATHER and s >= 0 and need[s]


cdef object _float_tensor(object gx, Graph g, int32_t i):
    """A recorded scalar gradient of record i as a tensor (None stays None)."""
    if gx is None or isinstance(gx, Tensor):
        return gx
    return _const(gx, DT_F64 if g.op[i] & OP_F64 else DT_F32)


cdef object _sweep_recorded(list roots, list grads, list inputs):
    """create_graph=True: like _sweep, but the gradients are tensors of the graph.
    With inputs None they are accumulated into the leaves' .grad (out of place,
    so an accumulated .grad has a grad_fn); otherwise returned per input."""
    cdef Graph g = None
    cdef Tensor t
    cdef int32_t top = -1
    cdef int k
    seeds = []
    leaf_roots = []
    for k in range(len(roots)):
        if not isinstance(roots[k], Tensor):
            raise TypeError(f"outputs must be tensors, got {type(roots[k]).__name__}")
        t = <Tensor>roots[k]
        if not t._rg:
            raise RuntimeError(f"element {k} of tensors does not require grad and does not have a "
                               "grad_fn")
        seed = _seed_tensor(t, grads[k], k)
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
    adj = {}
    leaf_at = {}
    captured = {}
    if g is not None:
        if g.dead:
            raise RuntimeError(SECOND_BACKWARD)
        if g.nsaved:
            _check_elements(g, top, seeds, inputs)
        if inputs is None:
            leaf_roots = _fold_leaf_roots(g, top, seeds, leaf_roots)
        for t, seed in seeds:
            _add_adjoint(adj, t._slot, seed)
        keep = set() if inputs is None else set([(<Tensor>x)._slot for x in inputs
                                                 if (<Tensor>x)._graph is g])
        leaf_at = {slot: leaf for leaf, slot in g.leaves if slot <= top}
        hooked = None if g.hooks is None else _hooked_slots(g, top, inputs, captured)
        # (the hooks of records off the inputs' paths still run, for now)
        need = None if inputs is None or hooked is not None else _wanted_slots(g, top, inputs)
        prev = swap_graph(g)
        handler = _pool_on(g)
        try:
            if need is not None and _scalar_tape(g, top, need, adj, leaf_at):
                _recorded_scalars(g, top, adj, keep, leaf_at, need)
            else:
                _recorded_sweep(g, top, adj, keep, leaf_at, inputs is None, hooked, captured,
                                need)
        finally:
            _pool_off(handler)
            if prev is not None and prev is not g:
                swap_graph(prev)
    if inputs is None:
        for t, seed in leaf_roots:
            _deposit_leaf(t, seed, False, True)
        return None
    result = []
    for x in inputs:
        t = <Tensor>x
        gx = None
        if t._graph is not None:
            if t._graph is g:
                gx = captured.get(t._slot, adj.get(t._slot))
        else:
            for s, leaf in leaf_at.items():
                if leaf is t and adj.get(s) is not None:
                    gx = adj[s] if gx is None else gx + adj[s]
        for leaf, seed in leaf_roots:
            if leaf is t:
                gx = seed if gx is None else gx + seed
        result.append(gx)
    return result


cdef Tensor _leaf_shaped(Tensor leaf, Tensor gt):
    """A recorded gradient for leaf in its shape and dtype."""
    if tuple(gt.shape) != tuple(leaf.shape):
        gt = expand(gt, tuple(leaf.shape))
    if gt._dt != leaf._dt:
        gt = _to(gt, leaf._dt)
    return gt


cdef void _deposit_recorded(Tensor leaf, object g) except *:
    cdef Tensor gt = _leaf_shaped(leaf, <Tensor>g)
    if leaf._grad is None:
        # a gradient outside the graph may alias an array of it: .grad gets its own copy
        leaf._grad = gt if gt._rg else _wrap(_arr(gt).copy(), gt._dt)
    else:
        leaf._grad = leaf._grad + gt


def run_grad_recorded(outputs, inputs, grad_outputs, bint allow_unused):
    for k, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"inputs must be tensors, got {type(x).__name__} at position {k}")
        if not (<Tensor>x)._rg:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    grads = _hooked_inputs(list(inputs), _sweep_recorded(list(outputs), list(grad_outputs),
                                                         list(inputs)), True)
    out = []
    for k, x in enumerate(inputs):
        gk = grads[k]
        if gk is None:
            if not allow_unused:
                raise RuntimeError(f"The differentiated Tensor at index {k} appears to not have "
                                   "been used in the graph. Set allow_unused=True if this is the "
                                   "desired behavior.")
        elif _shape(<Tensor>gk) != _shape(<Tensor>x):
            gk = expand(gk, _shape(<Tensor>x))
        out.append(gk)
    return tuple(out)
