from libc.stdint cimport int32_t, int64_t, uint8_t
from fastad._tape cimport Graph, Node


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
