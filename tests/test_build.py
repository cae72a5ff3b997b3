"""The build: the C headers of fastad/csrc compile on their own with warnings as
errors, the per-ISA clones of the kernels' loop drivers are in the built
modules under their own C names, the one the CPU runs is the one reported, and
the kernels' Python names are all gathered (and stubbed) in fastad._kernels, and the
Tensor's colder ops compiled apart are fastad._tensor's names."""
import ast
import ctypes
import glob
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig

import numpy as np
import pytest

import fastad
from fastad import _elementwise, _kernels, _recurrent, _rows

PKG = os.path.dirname(os.path.abspath(fastad.__file__))
HEADERS = sorted(glob.glob(os.path.join(PKG, "csrc", "*.h")))
# the loop drivers cloned per ISA, by module (csrc/fad_elementwise.h, csrc/fad_rows.h,
# csrc/fad_recurrent.h)
CLONED = {
    _elementwise: ["fad_act_fwd_f32", "fad_act_fwd_f64", "fad_act_bwd_f32", "fad_act_bwd_f64",
                   "fad_loss_f32", "fad_loss_f64"],
    _rows: ["fad_rows_f32", "fad_rows_f64"],
    _recurrent: ["fad_rnn_fwd_f32", "fad_rnn_fwd_f64", "fad_rnn_bwd_f32", "fad_rnn_bwd_f64"],
}
# GCC's clone suffix for each answer of _isa()
SUFFIX = {"x86-64-v4": "arch_x86_64_v4", "x86-64-v3": "arch_x86_64_v3", "default": "default"}
# /proc/cpuinfo flags each level needs (a representative subset of its features)
NEEDS = {"x86-64-v4": {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl", "avx2", "fma"},
         "x86-64-v3": {"avx2", "fma", "bmi1", "bmi2", "f16c", "movbe"},
         "default": set()}


def c_compiler():
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    cc = cc.split()[0]
    return shutil.which(cc)


def test_every_header_compiles_alone_with_warnings_as_errors():
    cc = c_compiler()
    if cc is None:
        pytest.skip("no C compiler")
    assert HEADERS, "fastad/csrc has no headers"
    flags = ["-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-fopenmp-simd",
             "-I" + sysconfig.get_paths()["include"], "-I" + np.get_include(),
             "-DNPY_NO_DEPRECATED_API=NPY_1_7_API_VERSION", "-x", "c"]
    for header in HEADERS:
        run = subprocess.run([cc, *flags, header], capture_output=True, text=True)
        assert run.returncode == 0, f"{os.path.basename(header)}:\n{run.stderr}"


def test_no_c_in_cython_docstrings_and_no_compile_time_env():
    """C lives in fastad/csrc; the C preprocessor, not Cython's IF/DEF, decides."""
    sources = [p for ext in ("pyx", "pxd", "pxi", "tp") for p in glob.glob(f"{PKG}/*.{ext}")]
    assert any(p.endswith("_elementwise.pyx") for p in sources)
    for path in sources:
        text = open(path).read()
        assert "cdef extern from *" not in text, path
        assert not re.search(r"^[ \t]*(IF|ELIF|ELSE|DEF)\b", text, re.M), path


def _module_file(module):
    return module.__file__


def _symbols(path, dynamic=False):
    """{name: (address, type)} of the module's symbol table (nm)."""
    out = subprocess.run(["nm", *(["-D"] if dynamic else []), path], capture_output=True,
                         text=True, check=True).stdout
    table = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            table[parts[2]] = (int(parts[0], 16), parts[1])
    return table


def _cpu_flags():
    if not os.path.exists("/proc/cpuinfo"):
        return None
    with open("/proc/cpuinfo") as f:
        return set(next((line for line in f if line.startswith("flags")), ":").split(":")[1]
                   .split())


def _suffixes_built():
    """The clones setup.py builds: the AVX-512 one only where the build machine (here,
    the machine running the tests) runs AVX-512, unless FASTAD_AVX512 said otherwise."""
    wanted = os.environ.get("FASTAD_AVX512")
    flags = _cpu_flags()
    v4 = wanted == "1" if wanted is not None else flags is not None and NEEDS["x86-64-v4"] <= flags
    return [s for isa, s in SUFFIX.items() if isa != "x86-64-v4" or v4]


def _clones_expected(path):
    with open(path, "rb") as f:
        data = f.read()
    return (sys.platform.startswith("linux") and platform.machine() == "x86_64"
            and b"clang version" not in data)


@pytest.mark.parametrize("module", list(CLONED), ids=lambda m: m.__name__)
def test_isa_clones_are_built_under_their_own_names(module):
    path = _module_file(module)
    if shutil.which("nm") is None:
        pytest.skip("no nm")
    if not _clones_expected(path):
        pytest.skip("ISA clones are built by GCC on x86-64 Linux only")
    symbols = _symbols(path)
    exported = _symbols(path, dynamic=True)
    built = _suffixes_built()
    for name in CLONED[module]:
        for suffix in SUFFIX.values():
            assert (f"{name}.{suffix}" in symbols) == (suffix in built), (name, suffix, path)
        kind = exported.get(name, (0, "missing"))[1]
        assert kind == "i", f"{name} is not an ifunc (nm -D: {kind})"


@pytest.mark.parametrize("module", list(CLONED), ids=lambda m: m.__name__)
def test_the_clone_chosen_at_run_time_is_reported_and_supported(module):
    isa = module._isa()
    assert isa in SUFFIX, isa
    assert _kernels._isa() == _elementwise._isa()
    flags = _cpu_flags()
    if flags is not None:
        assert NEEDS[isa] <= flags, (isa, NEEDS[isa] - flags)
    path = _module_file(module)
    if shutil.which("nm") is None or not _clones_expected(path):
        return
    # where the dynamic linker resolved each ifunc: the clone of the reported ISA
    symbols = _symbols(path)
    lib = ctypes.CDLL(path)
    init = "PyInit_" + module.__name__.rsplit(".", 1)[1]
    base = ctypes.cast(getattr(lib, init), ctypes.c_void_p).value - symbols[init][0]
    by_address = {address: name for name, (address, _) in symbols.items() if "." in name}
    for name in CLONED[module]:
        resolved = ctypes.cast(getattr(lib, name), ctypes.c_void_p).value - base
        assert by_address.get(resolved) == f"{name}.{SUFFIX[isa]}", (name, by_address.get(resolved))


def test_kernels_gathers_and_stubs_every_name_of_the_kernel_modules():
    """fastad._kernels is the kernels' one name: each public name of a kernel module
    is there, and _kernels.pyi lists everything _kernels has."""
    from fastad import _linear, _optim, _runtime
    for module in (_runtime, _linear, _elementwise, _rows, _optim, _recurrent):
        public = {n for n in dir(module) if not n.startswith("_")} - {"np", "os", "warnings"}
        assert public <= set(dir(_kernels)), (module.__name__, public - set(dir(_kernels)))
    tree = ast.parse(open(os.path.join(PKG, "_kernels.pyi")).read())
    stubbed = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    stubbed |= {node.target.id for node in tree.body if isinstance(node, ast.AnnAssign)}
    names = {n for n in dir(_kernels) if not n.startswith("__")}
    assert names <= stubbed, names - stubbed


def test_the_colder_tensor_ops_are_names_of_tensor():
    """fastad._tensor_ops is compiled apart (setup.py: -O1, in parallel with _tensor) but is
    part of fastad._tensor: each of its public names is the same object there."""
    from fastad import _tensor, _tensor_ops
    own = {n for n, v in vars(_tensor_ops).items()
           if not n.startswith("_") and getattr(v, "__module__", None) == "fastad._tensor_ops"}
    assert {"tensor", "zeros", "reshape", "sum", "matmul", "softmax", "set_printoptions"} <= own
    assert [n for n in own if getattr(_tensor, n, None) is not getattr(_tensor_ops, n)] == []


def test_pip_asks_the_backend_for_nothing_before_the_build(tmp_path):
    """`pip install -e .` runs setup.py once: pyproject.toml's backend (build_backend.py)
    has no hook answering metadata before the build (each ran setup.py once more), so
    pip builds and reads the metadata from the wheel (PEP 517's fallback); the sdist
    ships the backend."""
    hooks = pytest.importorskip("pip._vendor.pyproject_hooks")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "pyproject.toml")) as f:
        backend = re.search(r'^build-backend = "([\w.]+)"', f.read(), re.M).group(1)
    caller = hooks.BuildBackendHookCaller(root, backend, backend_path=["."])
    with pytest.raises(hooks.HookMissing):
        caller.prepare_metadata_for_build_editable(str(tmp_path), _allow_fallback=False)
    with pytest.raises(hooks.HookMissing):
        caller.prepare_metadata_for_build_wheel(str(tmp_path), _allow_fallback=False)
    with open(os.path.join(root, "MANIFEST.in")) as f:
        assert f"include {backend}.py" in f.read().splitlines()
