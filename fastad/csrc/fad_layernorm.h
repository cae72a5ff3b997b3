/* Layer normalisation over rows (the last dims of an input, flattened): one
   pass that reads a row for its mean and variance while it is in cache and
   writes the normalised, scaled and shifted row, and one backward pass per
   row, for layer_norm of fastad/_rows.pyx.  Statistics in double.

   The weight's and bias's gradients are sums over rows: a block of rows adds
   into its own partial sums (fixed blocks, whatever the thread count), which
   the caller adds up in block order. */
#ifndef FAD_LAYERNORM_H
#define FAD_LAYERNORM_H

#include <math.h>
#include "fad_common.h"

typedef struct {
    Py_ssize_t cols;
    double eps;
    const void *x;      /* (rows, cols) */
    const void *w;      /* (cols,) or NULL */
    const void *b;      /* (cols,) or NULL */
    void *y;            /* (rows, cols) */
    double *mean;       /* (rows,) */
    double *rstd;       /* (rows,) */
    const void *g;      /* backward: the output's gradient (rows, cols) */
    void *gx;           /* (rows, cols) or NULL */
    double *gw_parts;   /* (blocks, cols) or NULL */
    double *gb_parts;   /* (blocks, cols) or NULL */
    Py_ssize_t rows_per_block;
} fad_layernorm_job;

#define FAD_LAYERNORM(T, SUFFIX)                                                             \
static void fad_layernorm_forward_##SUFFIX(const fad_layernorm_job *j, Py_ssize_t lo,       \
                                           Py_ssize_t hi) {                                  \
    Py_ssize_t r, c, n = j->cols;                                                            \
    const T *w = (const T *)j->w, *b = (const T *)j->b;                                      \
    for (r = lo; r < hi; r++) {                                                              \
        const T *x = (const T *)j->x + r * n;                                                \
        T *y = (T *)j->y + r * n;                                                            \
        double s = 0.0, v = 0.0, mean, rstd;                                                 \
        for (c = 0; c < n; c++)                                                              \
            s += x[c];                                                                       \
        mean = s / (double)n;                                                                \
        for (c = 0; c < n; c++)                                                              \
            v += ((double)x[c] - mean) * ((double)x[c] - mean);                              \
        rstd = 1.0 / sqrt(v / (double)n + j->eps);                                           \
        for (c = 0; c < n; c++) {                                                            \
            double h = ((double)x[c] - mean) * rstd;                                         \
            if (w) h *= (double)w[c];                                                        \
            if (b) h += (double)b[c];                                                        \
            y[c] = (T)h;                                                                     \
        }                                                                                    \
        j->mean[r] = mean;                                                                   \
        j->rstd[r] = rstd;                                                                   \
    }                                                                                        \
}                                                                                            \
                                                                                             \
/* gx = rstd * (gxhat - mean(gxhat) - xhat * mean(gxhat * xhat)), gxhat = g * w */          \
static void fad_layernorm_backward_##SUFFIX(const fad_layernorm_job *j, Py_ssize_t lo,      \
                                            Py_ssize_t hi) {                                 \
    Py_ssize_t r, c, n = j->cols;                                                            \
    const T *w = (const T *)j->w;                                                            \
    Py_ssize_t block = lo / j->rows_per_block;                                               \
    double *gw = j->gw_parts ? j->gw_parts + block * n : NULL;                               \
    double *gb = j->gb_parts ? j->gb_parts + block * n : NULL;                               \
    for (r = lo; r < hi; r++) {                                                              \
        const T *x = (const T *)j->x + r * n, *g = (const T *)j->g + r * n;                  \
        double mean = j->mean[r], rstd = j->rstd[r], a = 0.0, d = 0.0;                       \
        for (c = 0; c < n; c++) {                                                            \
            double xhat = ((double)x[c] - mean) * rstd;                                      \
            double gh = w ? (double)g[c] * (double)w[c] : (double)g[c];                      \
            a += gh;                                                                         \
            d += gh * xhat;                                                                  \
            if (gw) gw[c] += (double)g[c] * xhat;                                            \
            if (gb) gb[c] += (double)g[c];                                                   \
        }                                                                                    \
        a /= (double)n;                                                                      \
        d /= (double)n;                                                                      \
        if (j->gx) {                                                                         \
            T *gx = (T *)j->gx + r * n;                                                      \
            for (c = 0; c < n; c++) {                                                        \
                double xhat = ((double)x[c] - mean) * rstd;                                  \
                double gh = w ? (double)g[c] * (double)w[c] : (double)g[c];                  \
                gx[c] = (T)(rstd * (gh - a - xhat * d));                                     \
            }                                                                                \
        }                                                                                    \
    }                                                                                        \
}

FAD_LAYERNORM(float, f32)
FAD_LAYERNORM(double, f64)

#endif
