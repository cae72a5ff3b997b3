"""Renders the Tempita templates fastad/*.tp from the op table (fastad/opdefs.py).

setup.py calls render_all() before Cython runs; a test renders the templates
from a table with an extra row, to prove that a row is all a new op needs.
Output files are rewritten only when their text changes, so an unchanged table
rebuilds nothing.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = ("_opcodes.pxd.tp", "_dispatch.pxi.tp", "_unary.pxi.tp", "_tensor_class.pxi.tp",
             "_tensor.pyi.tp", "_fmath.pxd.tp")


def context(rows, py_ops=()):
    """What the templates see: the rows, the op codes, which backward kernels
    read x or y, and the ops written in Python."""
    codes = [op.code for op in rows] + [op.code_from_x for op in rows if op.backward_from_x]
    reads_x = [op.code for op in rows if "x" in op.saves or op.noise]
    reads_x += [op.code_from_x for op in rows if op.backward_from_x]
    reads_y = [op.code for op in rows if "y" in op.saves]
    return {"rows": rows, "codes": list(zip(codes, range(len(codes)))),
            "reads_x": reads_x, "reads_y": reads_y, "py_ops": py_ops}


def render(template_path, rows, py_ops=()):
    from Cython import Tempita     # a build dependency: imported only to render
    with open(template_path) as f:
        return Tempita.Template(f.read(), name=template_path).substitute(context(rows, py_ops))


def _table():
    from importlib.util import module_from_spec, spec_from_file_location
    spec = spec_from_file_location("_fastad_opdefs", os.path.join(HERE, "opdefs.py"))
    opdefs = module_from_spec(spec)
    spec.loader.exec_module(opdefs)
    return opdefs


def render_all(rows=None, src=HERE, dst=HERE, py_ops=None):
    """Render every template of src into dst (the .tp suffix dropped); returns
    the paths written.  rows / py_ops default to the table's."""
    if rows is None or py_ops is None:
        opdefs = _table()
        rows = opdefs.UNARY if rows is None else rows
        py_ops = opdefs.PY_OPS if py_ops is None else py_ops
    written = []
    for name in TEMPLATES:
        text = render(os.path.join(src, name), rows, py_ops)
        out = os.path.join(dst, name[:-3])
        if os.path.exists(out):
            with open(out) as f:
                if f.read() == text:
                    continue
        with open(out, "w") as f:
            f.write(text)
        written.append(out)
    return written
