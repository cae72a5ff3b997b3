"""Builds the compiled core with -O3 and OpenMP; falls back to a serial build
when the compiler has no OpenMP, and says so."""
import os
import subprocess
import sys
import tempfile

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fastad"))
import _codegen  # noqa: E402  (fastad/_codegen.py: the op table's templates, rendered below)

# the generated sources (op codes, dispatch, entry points) come from fastad/opdefs.py
_codegen.render_all()

# FASTAD_MODULES=_kernels builds a subset (handy while one module is being worked on).
MODULES = [m for m in os.environ.get("FASTAD_MODULES", "_tape,_tensor,_kernels,_random").split(",")
           if os.path.exists(os.path.join("fastad", m + ".pyx"))]


def compiler_has_openmp():
    cc = os.environ.get("CC", "cc")
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "t.c")
        with open(src, "w") as f:
            f.write("#include <omp.h>\nint main(void){return omp_get_max_threads() < 1;}\n")
        try:
            return subprocess.call([cc, "-fopenmp", src, "-o", os.path.join(d, "t")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0
        except OSError:
            return False


sanitize = os.environ.get("FASTAD_SANITIZE") == "1"
openmp = compiler_has_openmp() and not sanitize
if not openmp:
    print("fastad: building WITHOUT OpenMP (no OpenMP compiler found or sanitizer build); "
          "kernels will run serially", file=sys.stderr)

# -fopenmp-simd: `omp simd` pragmas (vectorised reductions), with or without OpenMP threads
compile_args = ["-O3", "-fno-math-errno", "-fopenmp-simd"]
link_args = []
if openmp:
    compile_args.append("-fopenmp")
    link_args.append("-fopenmp")
if sanitize:
    compile_args = ["-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined"]
    link_args = ["-fsanitize=address,undefined"]

extensions = [
    Extension(
        f"fastad.{name}",
        [f"fastad/{name}.pyx"],
        depends=["fastad/opdefs.py"],
        include_dirs=[np.get_include()],
        # _random reproduces PyTorch's arithmetic: it fuses multiply-adds only
        # where it says so (fma()), never on the compiler's initiative
        extra_compile_args=compile_args + (["-ffp-contract=off"] if name == "_random" else []),
        extra_link_args=link_args,
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    )
    for name in MODULES
]

setup(
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compile_time_env={"FASTAD_OPENMP": openmp},
        compiler_directives={"embedsignature": True},
    ),
)
