/* 2-D max pooling over planes (an image's channel each): every window's
   maximum and the flat position of the input it came from, for max_pool2d of
   fastad/_rows.pyx.  As PyTorch's CPU kernel: a window's cells in the padding
   take no part, the first in-bounds cell starts the scan, a larger value or a
   NaN takes over (so the last NaN wins, and of equal maxima the first).
   Planes are independent: any split of them among threads gives the same. */
#ifndef FAD_MAXPOOL_H
#define FAD_MAXPOOL_H

#include <math.h>
#include <stdint.h>
#include "fad_common.h"

typedef struct {
    Py_ssize_t H, W, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw;
    const void *x;     /* (planes, H, W) */
    void *values;      /* (planes, OH, OW) */
    int64_t *flat;     /* (planes, OH, OW): plane * H * W + h * W + w */
} fad_maxpool_job;

#define FAD_MAXPOOL(T, SUFFIX)                                                               \
static void fad_maxpool_##SUFFIX(const fad_maxpool_job *j, Py_ssize_t lo, Py_ssize_t hi) {  \
    Py_ssize_t p, oh, ow, i, k;                                                              \
    for (p = lo; p < hi; p++) {                                                              \
        const T *x = (const T *)j->x + p * j->H * j->W;                                      \
        T *v = (T *)j->values + p * j->OH * j->OW;                                           \
        int64_t *f = j->flat + p * j->OH * j->OW;                                            \
        for (oh = 0; oh < j->OH; oh++) {                                                     \
            Py_ssize_t h0 = oh * j->sh - j->ph;                                              \
            for (ow = 0; ow < j->OW; ow++) {                                                 \
                Py_ssize_t w0 = ow * j->sw - j->pw, best_at = -1;                            \
                T best = (T)-INFINITY;                                                       \
                for (i = 0; i < j->KH; i++) {                                                \
                    Py_ssize_t h = h0 + i * j->dh;                                           \
                    if (h < 0 || h >= j->H)                                                  \
                        continue;                                                            \
                    for (k = 0; k < j->KW; k++) {                                            \
                        Py_ssize_t w = w0 + k * j->dw;                                       \
                        if (w < 0 || w >= j->W)                                              \
                            continue;                                                        \
                        T val = x[h * j->W + w];                                             \
                        if (best_at < 0 || val > best || val != val) {                       \
                            best = val;                                                      \
                            best_at = h * j->W + w;                                          \
                        }                                                                    \
                    }                                                                        \
                }                                                                            \
                if (best_at < 0)    /* no cell in bounds (the callers' geometry has one) */ \
                    best_at = 0;                                                             \
                v[oh * j->OW + ow] = best;                                                   \
                f[oh * j->OW + ow] = (int64_t)p * j->H * j->W + best_at;                     \
            }                                                                                \
        }                                                                                    \
    }                                                                                        \
}

FAD_MAXPOOL(float, f32)
FAD_MAXPOOL(double, f64)

#endif
