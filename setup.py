"""Builds the compiled core with -O3 and OpenMP; falls back to a serial build
when the compiler has no OpenMP, and says so.

The extension modules compile in parallel (one per core), and a module whose
sources did not change is not compiled again, also under ``pip install -e .``
(whose build directory is a new temporary one every time)."""
import os
import re
import subprocess
import sys
import tempfile
import threading

import numpy as np
from Cython.Build import cythonize
from Cython.Build.Dependencies import create_dependency_tree
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext as _build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "fastad"))
import _codegen  # noqa: E402  (fastad/_codegen.py: the op table's templates, rendered below)

# the generated sources (op codes, dispatch, entry points) come from fastad/opdefs.py;
# a file is rewritten only when its text changes, so nothing depending on it rebuilds
_codegen.render_all()

# The extension modules, the slowest to compile first (they start first on the
# cores).  FASTAD_MODULES=_elementwise,_rows builds a subset (handy while one module
# is being worked on).
ALL_MODULES = ["_elementwise", "_tensor", "_rows", "_tensor_ops", "_random", "_linear",
               "_recurrent", "_tape", "_runtime", "_optim"]
# Off the hot paths: the Tensor's colder array ops (numpy calls and Python objects, no
# loops of their own) compile at -O1, in 13 s of CPU against 33 s at -O3 (the rest, the
# kernels and the scalar graphs' path, at -O3).
COLD_MODULES = {"_tensor_ops"}
MODULES = [m for m in os.environ.get("FASTAD_MODULES", ",".join(ALL_MODULES)).split(",")
           if os.path.exists(os.path.join("fastad", m + ".pyx"))]


def c_program_runs(source, flags=()):
    """Whether the C compiler builds source with flags, and the program exits 0 here."""
    cc = os.environ.get("CC", "cc")
    with tempfile.TemporaryDirectory() as d:
        src, exe = os.path.join(d, "t.c"), os.path.join(d, "t")
        with open(src, "w") as f:
            f.write(source)
        try:
            return (subprocess.call([cc, *flags, src, "-o", exe], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL) == 0
                    and subprocess.call([exe]) == 0)
        except OSError:
            return False


def compiler_has_openmp():
    return c_program_runs("#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n",
                          ["-fopenmp"])


def builds_avx512_clones():
    """Whether the kernels' loop drivers get an AVX-512 (x86-64-v4) clone besides the
    AVX2 and baseline ones: where this machine runs AVX-512, or FASTAD_AVX512=1 says
    so (a build for other machines).  That clone is a third of the kernels' compile
    time (measured: _elementwise 68.8 s of gcc CPU with it, 44.8 s without)."""
    wanted = os.environ.get("FASTAD_AVX512")
    if wanted is not None:
        return wanted == "1"
    return c_program_runs('int main(void){__builtin_cpu_init();'
                          'return !__builtin_cpu_supports("x86-64-v4");}\n')


sanitize = os.environ.get("FASTAD_SANITIZE") == "1"
openmp = compiler_has_openmp() and not sanitize
if not openmp:
    print("fastad: building WITHOUT OpenMP (no OpenMP compiler found or sanitizer build); "
          "kernels will run serially", file=sys.stderr)

avx512 = builds_avx512_clones()

# -fopenmp-simd: `omp simd` pragmas (vectorised reductions), with or without OpenMP threads
compile_args = ["-O3", "-fno-math-errno", "-fopenmp-simd"]
link_args = []
if openmp:
    compile_args.append("-fopenmp")
    link_args.append("-fopenmp")
if sanitize:
    # -g1: line tables (for the reports' file:line), not the full debug info (slower to build)
    compile_args = ["-O1", "-g1", "-fno-omit-frame-pointer", "-fsanitize=address,undefined"]
    link_args = ["-fsanitize=address,undefined"]


def module_depends(name):
    """What the compiled module fastad/<name> is built from besides its .pyx: the
    package's .pxd and .pxi files it cimports or includes (Cython's own
    dependency tree), the headers of fastad/csrc they declare (and those include),
    and this file (the flags)."""
    files = sorted(p for p in create_dependency_tree().all_dependencies(f"fastad/{name}.pyx")
                   if os.path.abspath(p).startswith(os.path.join(HERE, "fastad")))
    headers = []
    todo = [os.path.join("fastad", h) for f in files
            for h in re.findall(r'cdef extern from "(csrc/[^"]+)"', open(f).read())]
    while todo:
        h = os.path.normpath(todo.pop())
        if h not in headers:
            headers.append(h)
            todo += [os.path.join(os.path.dirname(h), i)
                     for i in re.findall(r'#include "([^"]+)"', open(h).read())]
    return [f for f in files if not f.endswith(".pyx")] + sorted(headers) + ["setup.py"]


extensions = [
    Extension(
        f"fastad.{name}",
        [f"fastad/{name}.pyx"],
        depends=module_depends(name),
        include_dirs=[np.get_include()],
        # _random reproduces PyTorch's arithmetic: it fuses multiply-adds only
        # where it says so (fma()), never on the compiler's initiative
        extra_compile_args=(compile_args if name not in COLD_MODULES or sanitize else
                            [a if a != "-O3" else "-O1" for a in compile_args])
        + (["-ffp-contract=off"] if name == "_random" else []),
        extra_link_args=link_args,
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"),
                       ("FAD_CLONE_V4", "1" if avx512 else "0"),
                       # Cython marks the module's initialisation (run once, at import)
                       # and other cold code CYTHON_SMALL_CODE: compiled unoptimised, as
                       # -O3 on _tensor's 570 KB init alone cost a fifth of its compile
                       ("CYTHON_SMALL_CODE", '__attribute__((cold, optimize("O0")))')],
    )
    for name in MODULES
]


class build_ext(_build_ext):
    """setuptools' build_ext, with the modules compiled in parallel (Cython's
    translations one at a time, each overlapping the C compilers already
    running), without debug information (the machine code is the same), and
    skipping a module whose in-place build is newer than all its sources."""

    _cython_lock = threading.Lock()

    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:
            self.parallel = os.cpu_count() or 1

    def build_extensions(self):
        # -g comes from Python's own CFLAGS (a sanitizer build asks for -g1)
        self.compiler.compiler_so = [a for a in self.compiler.compiler_so if a != "-g"]
        super().build_extensions()

    def build_extension(self, ext):
        # Up to date: the module in place is newer than every source of the project it is
        # built from (Cython's own .pxd files and numpy's are left out: a build environment
        # of pip's is new every time, and so are their timestamps).
        built = os.path.join(HERE, *ext.name.split(".")[:-1],
                             os.path.basename(self.get_ext_filename(ext.name)))
        current = os.path.exists(built) and all(
            os.path.getmtime(f) <= os.path.getmtime(built) for f in ext.sources + ext.depends)
        if getattr(self, "editable_mode", False) and current and not self.force:
            # pip install -e: build_lib is new every time; the copy in place is current
            target = self.get_ext_fullpath(ext.name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            self.copy_file(built, target, level=self.verbose)
            print(f"fastad: {ext.name} is up to date", file=sys.stderr)
            return
        with self._cython_lock:
            ext.sources = cythonize([ext], language_level=3, quiet=True,
                                    compiler_directives={"embedsignature": True})[0].sources
        super().build_extension(ext)


setup(ext_modules=extensions, cmdclass={"build_ext": build_ext})
