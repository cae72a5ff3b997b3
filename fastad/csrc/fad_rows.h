/* The row kernels' loop drivers, cloned per ISA (fad_isa.h); defined in
   _rows.pyx. */
#ifndef FAD_ROWS_H
#define FAD_ROWS_H

#include "fad_isa.h"

/* a row op (softmax family, cross entropy, nll, prelu): its arguments and
   per-row outputs */
typedef struct fad_row_ctx {
    int op;
    int f64;
    Py_ssize_t cols;
    Py_ssize_t channels;
    void *a;              /* input matrix (x / y / lsm / logits) */
    void *b;              /* second matrix (gy / target probs) */
    void *out;            /* output matrix */
    void *w;              /* class weights (C,) or NULL / prelu weight */
    const int64_t *target;
    int64_t ignore;
    double ls;            /* label smoothing */
    double scale;         /* gradient scale for mean/sum */
    void *gvec;           /* per-row gradient (reduction='none') or NULL */
    double *row_loss;     /* per-row loss output */
    double *row_aux;      /* per-row partial sums (prelu gw) */
    int stream;           /* the output is large: rows written with non-temporal stores */
} fad_row_ctx;

FAD_CLONES void fad_rows_f32(fad_row_ctx *c, const float *A, const float *B, float *O,
                             const float *W, Py_ssize_t lo, Py_ssize_t hi);
FAD_CLONES void fad_rows_f64(fad_row_ctx *c, const double *A, const double *B, double *O,
                             const double *W, Py_ssize_t lo, Py_ssize_t hi);

#endif /* FAD_ROWS_H */
