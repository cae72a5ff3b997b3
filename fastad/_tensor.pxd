# fastad._tensor's types, and what fastad._tensor_ops (the colder array ops, compiled
# apart) uses of it: the dtype codes and tables, and the helpers every op calls.
from libc.stdint cimport int32_t, int64_t, uint8_t
from fastad._tape cimport Graph, Node


cdef enum:
    DT_F32 = 0          # the two kernel dtypes first: `dt <= DT_F64` is "the kernels take it"
    DT_F64 = 1
    DT_I64 = 2
    DT_BOOL = 3
    DT_F16 = 4          # storage dtypes: ops compute in float32 or through numpy
    DT_I32 = 5
    DT_I16 = 6
    DT_I8 = 7
    DT_U8 = 8


cdef class dtype:
    cdef readonly str name
    cdef readonly object np_dtype
    cdef readonly int code
    cdef readonly bint is_floating_point


cdef tuple DTYPES
cdef tuple NP_DTYPES
cdef int _default_dt
cdef int _debug


cdef class VersionCounter:
    cdef public int64_t version


cdef class _Hooks:
    # A tensor's hooks: a leaf's on the tensor (Tensor._hooks), a non-leaf's on its
    # graph (Graph.hooks).  pre: OrderedDict of register_hook's hooks by handle id,
    # or None; post: a leaf's post-accumulate-grad hooks, or None; retains: a
    # non-leaf's retain_grad(), its .grad kept in grad; shape, dt: a non-leaf's
    # (its gradient's) shape and dtype code; node_pre, node_post: the hooks of a
    # non-leaf's grad_fn (register_prehook, register_hook), or None.
    cdef object pre
    cdef object post
    cdef object node_pre
    cdef object node_post
    cdef bint retains
    cdef object grad
    cdef tuple shape
    cdef int dt


cdef class Tensor:
    # 0-d float tensors keep their value inline (_data is None, value in _val);
    # every other tensor keeps a numpy array in _data.
    cdef object _data
    cdef double _val
    cdef int _dt                 # index into DTYPES
    cdef bint _rg                # requires grad
    cdef uint8_t _op             # op code of the record that made it (grad_fn name)
    cdef int32_t _slot           # record index on _graph (non-leaf) or on graph _lgid (leaf)
    cdef int64_t _lgid
    cdef Graph _graph            # None for leaves
    cdef Node _node              # the array op's backward (for its name)
    cdef object _grad
    cdef VersionCounter _vc      # created on first save or in-place change
    cdef Tensor _base            # .data alias of an inline scalar: writes go to the base
    # an inline element of an array (x[i, j]), a view as PyTorch's: writes go to
    # _elem[_eidx], a 1-D array over the element's place in _base's storage
    cdef object _elem
    cdef Py_ssize_t _eidx
    cdef _Hooks _hooks           # a leaf's hooks, or None


cdef inline int _cat(int dt) noexcept:
    """0 bool, 1 integer, 2 floating."""
    return 2 if (dt <= DT_F64 or dt == DT_F16) else (0 if dt == DT_BOOL else 1)


cdef inline Tensor _view_of(Tensor out, Tensor x):
    """out shares x's storage: it shares x's version counter, and an in-place
    op on it is one on x (refused while x is a leaf that requires grad)."""
    if out._data is not None and x._data is not None:
        out._base = x._base if x._base is not None else x
    return out


cdef object _fp_quiet()
cdef int _fp_restore(object token) except -1
cdef Tensor _wrap(object arr, int dt)
cdef object _arr(Tensor t)
cdef Tensor _record(Tensor out, str name, tuple inputs, object backward, tuple saved=*,
                    bint saves=*, bint writes_grad=*, object derivative=*)
cdef Tensor _unrecorded(Tensor out, str name)
cdef object _unbroadcast(object g, tuple shape)
cdef object _filled_like(object g, tuple shape)
cdef tuple _operand(object x)
cdef tuple _sizes(tuple args)
cdef int _norm_dim(object dim, int ndim) except? -999
cdef tuple _norm_dims(object dim, int ndim)
cdef Tensor _as_tensor(object x)
cdef Tensor _to(Tensor x, int dt)
cdef int _np_to_dt(object npdt) except -1
cdef dtype _as_dtype(object d)
cdef int _dt_code(object d) except -1
cdef int _join(int x, int y) noexcept
cdef int _promote(int adt, int ak, int bdt, int bk) noexcept
cdef object _sum_to(object t, tuple shape)
cdef bint _needs(object x)
cdef object _const(object values, int dt)
cdef object _expand_to(object grad, tuple shape, tuple dims, bint keepdim)
cdef object _getitem(Tensor x, object idx)
cdef object _view_op(Tensor x, object r, str name, object bw, object derivative)
