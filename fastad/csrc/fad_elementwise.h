/* The elementwise kernels' loop drivers, one per kind and dtype, cloned per ISA
   (fad_isa.h); defined in _elementwise.pyx. */
#ifndef FAD_ELEMENTWISE_H
#define FAD_ELEMENTWISE_H

#include "fad_isa.h"

/* activations forward (s: rrelu slopes) and backward, losses (kind: value,
   gradient of x or of t) */
FAD_CLONES void fad_act_fwd_f32(int op, const float *x, const float *s, float *y,
                                Py_ssize_t lo, Py_ssize_t hi, float a, float b);
FAD_CLONES void fad_act_fwd_f64(int op, const double *x, const double *s, double *y,
                                Py_ssize_t lo, Py_ssize_t hi, double a, double b);
FAD_CLONES void fad_act_bwd_f32(int op, const float *x, const float *y, const float *gy,
                                const float *s, float *gx, Py_ssize_t lo, Py_ssize_t hi,
                                float a, float b);
FAD_CLONES void fad_act_bwd_f64(int op, const double *x, const double *y, const double *gy,
                                const double *s, double *gx, Py_ssize_t lo, Py_ssize_t hi,
                                double a, double b);
FAD_CLONES void fad_loss_f32(int kind, int op, const float *x, const float *t, const float *g,
                             const float *pw, float *out, Py_ssize_t lo, Py_ssize_t hi,
                             float a, float b);
FAD_CLONES void fad_loss_f64(int kind, int op, const double *x, const double *t,
                             const double *g, const double *pw, double *out, Py_ssize_t lo,
                             Py_ssize_t hi, double a, double b);

#endif /* FAD_ELEMENTWISE_H */
