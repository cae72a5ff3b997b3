/* Training batch normalisation per channel of an (N, C, S) input (S: the
   spatial size, 1 for (N, C)): the channels' means and biased variances in
   double, the normalised, scaled and shifted values, and the backward pass,
   for batch_norm of fastad/_rows.pyx.  A range of channels is read sample by
   sample (a contiguous run of its channels per sample, whatever S), adding
   into per-channel sums in one order: any split of the channels among threads
   gives the same bits. */
#ifndef FAD_BATCHNORM_H
#define FAD_BATCHNORM_H

#include <math.h>
#include <stdlib.h>
#include "fad_common.h"

typedef struct {
    Py_ssize_t N, C, S;
    double eps;
    const void *x;      /* (N, C, S) */
    const void *w;      /* (C,) or NULL */
    const void *b;      /* (C,) or NULL */
    void *y;            /* (N, C, S) */
    double *mean;       /* (C,) */
    double *var;        /* (C,): biased */
    const void *g;      /* backward: the output's gradient (N, C, S) */
    void *gx;           /* (N, C, S) or NULL */
    double *gw;         /* (C,): sum of g * xhat */
    double *gb;         /* (C,): sum of g */
    int failed;         /* a scratch buffer could not be allocated */
} fad_batchnorm_job;

#define FAD_BATCHNORM(T, SUFFIX)                                                             \
static void fad_batchnorm_forward_##SUFFIX(fad_batchnorm_job *j, Py_ssize_t lo,             \
                                           Py_ssize_t hi) {                                  \
    Py_ssize_t c, n, s, S = j->S, k = hi - lo;                                               \
    double count = (double)(j->N * S), *scale = malloc(2 * (size_t)k * sizeof(double));     \
    if (!scale) { j->failed = 1; return; }                                                   \
    double *shift = scale + k, *mean = j->mean + lo, *var = j->var + lo;                     \
    for (c = 0; c < k; c++) mean[c] = var[c] = 0.0;                                          \
    for (n = 0; n < j->N; n++) {                                                             \
        const T *x = (const T *)j->x + (n * j->C + lo) * S;                                  \
        for (c = 0; c < k; c++)                                                              \
            for (s = 0; s < S; s++)                                                          \
                mean[c] += x[c * S + s];                                                     \
    }                                                                                        \
    for (c = 0; c < k; c++) mean[c] /= count;                                                \
    for (n = 0; n < j->N; n++) {                                                             \
        const T *x = (const T *)j->x + (n * j->C + lo) * S;                                  \
        for (c = 0; c < k; c++)                                                              \
            for (s = 0; s < S; s++) {                                                        \
                double d = (double)x[c * S + s] - mean[c];                                   \
                var[c] += d * d;                                                             \
            }                                                                                \
    }                                                                                        \
    for (c = 0; c < k; c++) {                                                                \
        var[c] /= count;                                                                     \
        scale[c] = (j->w ? (double)((const T *)j->w)[lo + c] : 1.0) / sqrt(var[c] + j->eps); \
        shift[c] = j->b ? (double)((const T *)j->b)[lo + c] : 0.0;                           \
    }                                                                                        \
    for (n = 0; n < j->N; n++) {                                                             \
        const T *x = (const T *)j->x + (n * j->C + lo) * S;                                  \
        T *y = (T *)j->y + (n * j->C + lo) * S;                                              \
        for (c = 0; c < k; c++)                                                              \
            for (s = 0; s < S; s++)                                                          \
                y[c * S + s] = (T)(((double)x[c * S + s] - mean[c]) * scale[c] + shift[c]);  \
    }                                                                                        \
    free(scale);                                                                             \
}                                                                                            \
                                                                                             \
/* gx = w rstd (g - mean(g) - xhat mean(g xhat)) over each channel */                       \
static void fad_batchnorm_backward_##SUFFIX(fad_batchnorm_job *j, Py_ssize_t lo,            \
                                            Py_ssize_t hi) {                                 \
    Py_ssize_t c, n, s, S = j->S, k = hi - lo;                                               \
    double count = (double)(j->N * S), *rstd = malloc(2 * (size_t)k * sizeof(double));      \
    if (!rstd) { j->failed = 1; return; }                                                    \
    double *scale = rstd + k, *mean = j->mean + lo, *gw = j->gw + lo, *gb = j->gb + lo;      \
    for (c = 0; c < k; c++) {                                                                \
        rstd[c] = 1.0 / sqrt(j->var[lo + c] + j->eps);                                       \
        gw[c] = gb[c] = 0.0;                                                                 \
    }                                                                                        \
    for (n = 0; n < j->N; n++) {                                                             \
        const T *x = (const T *)j->x + (n * j->C + lo) * S;                                  \
        const T *g = (const T *)j->g + (n * j->C + lo) * S;                                  \
        for (c = 0; c < k; c++)                                                              \
            for (s = 0; s < S; s++) {                                                        \
                gb[c] += g[c * S + s];                                                       \
                gw[c] += (double)g[c * S + s] * ((double)x[c * S + s] - mean[c]) * rstd[c];  \
            }                                                                                \
    }                                                                                        \
    if (j->gx) {                                                                             \
        for (c = 0; c < k; c++)                                                              \
            scale[c] = (j->w ? (double)((const T *)j->w)[lo + c] : 1.0) * rstd[c];           \
        for (n = 0; n < j->N; n++) {                                                         \
            const T *x = (const T *)j->x + (n * j->C + lo) * S;                              \
            const T *g = (const T *)j->g + (n * j->C + lo) * S;                              \
            T *gx = (T *)j->gx + (n * j->C + lo) * S;                                        \
            for (c = 0; c < k; c++)                                                          \
                for (s = 0; s < S; s++) {                                                    \
                    double xhat = ((double)x[c * S + s] - mean[c]) * rstd[c];               \
                    gx[c * S + s] = (T)(scale[c] * ((double)g[c * S + s] - gb[c] / count     \
                                                    - xhat * gw[c] / count));                \
                }                                                                            \
        }                                                                                    \
    }                                                                                        \
    free(rstd);                                                                              \
}

FAD_BATCHNORM(float, f32)
FAD_BATCHNORM(double, f64)

#endif
