"""Does numpy's OpenBLAS round a GEMM the same with 2 threads as with 1?

Calls cblas_sgemm (the ILP64 one numpy bundles, as fastad's linear layer does)
at 1 and at 2 OpenBLAS threads over a grid of shapes and three layouts
(x @ w.T, x @ w, x.T @ w in row-major terms) and lists the shapes whose results
differ in any bit.  On 2026-12-01 (OpenBLAS 0.3.31, SkylakeX kernels) 22 of 100
shapes differed, every one with an inner dimension of 784.
Run: python bench/prototypes/blas_threads_bitwise.py
"""
import ctypes
import itertools

import numpy as np

import fastad

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112


def main():
    sgemm = fastad._numpy_blas_symbol("scipy_cblas_sgemm64_", "cblas_sgemm64_")
    if sgemm is None:
        raise SystemExit("this numpy does not bundle an ILP64 OpenBLAS")
    i64, ptr, f32 = ctypes.c_int64, ctypes.c_void_p, ctypes.c_float
    sgemm.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, i64, i64, i64, f32, ptr, i64,
                      ptr, i64, f32, ptr, i64]
    rng = np.random.default_rng(0)

    def product(trans_a, trans_b, m, n, k, a, b, threads):
        fastad.set_num_threads(threads)
        c = np.zeros((m, n), np.float32)
        sgemm(ROW_MAJOR, trans_a, trans_b, m, n, k, 1.0, a.ctypes.data, a.shape[1],
              b.ctypes.data, b.shape[1], 0.0, c.ctypes.data, n)
        return c

    differing = []
    shapes = list(itertools.product([16, 64, 128, 256, 512], [10, 64, 128, 512, 1024],
                                    [64, 300, 784, 1024]))
    for m, n, k in shapes:
        x = rng.standard_normal((m, k)).astype(np.float32)
        w = rng.standard_normal((n, k)).astype(np.float32)
        wt, xt = np.ascontiguousarray(w.T), np.ascontiguousarray(x.T)
        layouts = {"x @ w.T": (NO_TRANS, TRANS, x, w), "x @ w": (NO_TRANS, NO_TRANS, x, wt),
                   "x.T @ w": (TRANS, NO_TRANS, xt, wt)}
        for name, (ta, tb, a, b) in layouts.items():
            if not np.array_equal(product(ta, tb, m, n, k, a, b, 1),
                                  product(ta, tb, m, n, k, a, b, 2)):
                differing.append((m, n, k, name))
    for row in differing:
        print("differs: m=%d n=%d k=%d  %s" % row)
    print(f"{len({d[:3] for d in differing})} of {len(shapes)} shapes differ at 2 threads")


if __name__ == "__main__":
    main()
