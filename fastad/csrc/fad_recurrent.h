/* The recurrent step kernels' loops, cloned per ISA (fad_isa.h); defined in
   _recurrent.pyx.  mode: 0 RNN_TANH, 1 RNN_RELU, 2 LSTM, 3 GRU. */
#ifndef FAD_RECURRENT_H
#define FAD_RECURRENT_H

#include "fad_isa.h"

FAD_CLONES void fad_rnn_fwd_f32(int mode, Py_ssize_t batch, Py_ssize_t hid, const float *pre,
                                const float *xp, const float *b_hh, float *h, float *c,
                                float *out);
FAD_CLONES void fad_rnn_fwd_f64(int mode, Py_ssize_t batch, Py_ssize_t hid, const double *pre,
                                const double *xp, const double *b_hh, double *h, double *c,
                                double *out);
FAD_CLONES void fad_rnn_bwd_f32(int mode, Py_ssize_t batch, Py_ssize_t hid, const float *grad,
                                const float *out, const float *prev, float *dh, float *carry,
                                float *dxp, float *dgh);
FAD_CLONES void fad_rnn_bwd_f64(int mode, Py_ssize_t batch, Py_ssize_t hid, const double *grad,
                                const double *out, const double *prev, double *dh,
                                double *carry, double *dxp, double *dgh);

#endif /* FAD_RECURRENT_H */
