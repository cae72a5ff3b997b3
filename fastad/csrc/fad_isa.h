/* Runtime ISA dispatch (GCC function multiversioning).  The per-op loop drivers
   of the elementwise and row kernels get an x86-64-v4 clone (AVX-512, 16 floats
   per op) and an x86-64-v3 one (AVX2 + FMA, 8 floats) next to the baseline SSE2
   one, chosen once at load time by an ifunc resolver.  FMA contraction makes the
   clones differ in the last bit, but one machine always runs the same clone,
   whatever the thread count (measured: FMA took sigmoid forward on 2**24 floats
   from 30.6 to 24.0 ms, tanh from 28.1 to 19.6 ms; AVX-512 then took float32
   sigmoid from 1.11 to 0.75 ns per element in cache, tanh from 1.01 to 0.57, exp
   from 0.49 to 0.31).

   The x86-64-v4 clone is built only where the build machine runs AVX-512
   (setup.py defines FAD_CLONE_V4): it is a third of the kernels' compile time,
   spent for nothing on a CPU without AVX-512.

   The cloned functions are defined in Cython as `cdef public` (so their C names
   are their own, not Cython's mangled ones) and declared with FAD_CLONES in
   fad_elementwise.h and fad_rows.h.  GCC names the clones NAME.arch_x86_64_v4,
   NAME.arch_x86_64_v3 and NAME.default; tests/test_build.py finds them in the
   modules and checks that NAME resolves to the one fad_isa_name() reports. */
#ifndef FAD_ISA_H
#define FAD_ISA_H

#include "fad_common.h"

#ifndef FAD_CLONE_V4
#define FAD_CLONE_V4 1
#endif

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define FAD_HAVE_CLONES 1
#if FAD_CLONE_V4
#define FAD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FAD_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#endif
#else
#define FAD_HAVE_CLONES 0
#define FAD_CLONES
#endif

/* The clone the resolver picks on this CPU: its predicates, in its order
   ("default" where there are no clones). */
static const char *fad_isa_name(void) {
#if FAD_HAVE_CLONES
    __builtin_cpu_init();
    if (FAD_CLONE_V4 && __builtin_cpu_supports("x86-64-v4")) return "x86-64-v4";
    if (__builtin_cpu_supports("x86-64-v3")) return "x86-64-v3";
#endif
    return "default";
}

#endif /* FAD_ISA_H */
