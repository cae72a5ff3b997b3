/* One image's receptive fields as a matrix (im2col) and its adjoint, the
   overlap-add (col2im), for the 2-D convolution of fastad/_linear.pyx, which
   runs an image at a time so that these matrices stay in cache.

   An image x is (C, H, W); its column matrix is (C * KH * KW, OH * OW): row
   (c * KH + i) * KW + j holds, for every output position (oh, ow), the input
   x[c, oh * sh - ph + i * dh, ow * sw - pw + j * dw], or 0 where that falls in
   the zero padding. */
#ifndef FAD_CONV_H
#define FAD_CONV_H

#include <string.h>
#include "fad_common.h"

typedef struct {
    Py_ssize_t C, H, W, KH, KW, OH, OW;
    Py_ssize_t sh, sw, ph, pw, dh, dw;
} fad_conv_geometry;

/* The output columns [lo, hi) whose input column ow * sw - pw + off lies in [0, W). */
FAD_INLINE void fad_conv_valid(Py_ssize_t off, Py_ssize_t stride, Py_ssize_t size,
                               Py_ssize_t out, Py_ssize_t *lo, Py_ssize_t *hi) {
    /* ow * stride + off >= 0  and  ow * stride + off <= size - 1 */
    Py_ssize_t a = off >= 0 ? 0 : (-off + stride - 1) / stride;
    Py_ssize_t b = size - 1 - off < 0 ? 0 : (size - 1 - off) / stride + 1;
    *lo = a < out ? a : out;
    *hi = b < out ? b : out;
    if (*hi < *lo)
        *hi = *lo;
}

#define FAD_CONV_KERNELS(T, SUFFIX)                                                          \
static void fad_im2col_##SUFFIX(const T *x, const fad_conv_geometry *g, T *cols) {           \
    Py_ssize_t c, i, j, oh, ow, lo, hi, L = g->OH * g->OW;                                   \
    for (c = 0; c < g->C; c++)                                                               \
        for (i = 0; i < g->KH; i++)                                                          \
            for (j = 0; j < g->KW; j++) {                                                    \
                T *row = cols + ((c * g->KH + i) * g->KW + j) * L;                           \
                Py_ssize_t off = j * g->dw - g->pw;                                          \
                fad_conv_valid(off, g->sw, g->W, g->OW, &lo, &hi);                           \
                for (oh = 0; oh < g->OH; oh++) {                                             \
                    Py_ssize_t ih = oh * g->sh - g->ph + i * g->dh;                          \
                    T *dst = row + oh * g->OW;                                               \
                    if (ih < 0 || ih >= g->H) {                                              \
                        memset(dst, 0, (size_t)g->OW * sizeof(T));                           \
                        continue;                                                            \
                    }                                                                        \
                    const T *src = x + (c * g->H + ih) * g->W;                               \
                    if (lo > 0)                                                              \
                        memset(dst, 0, (size_t)lo * sizeof(T));                              \
                    if (g->sw == 1) {                                                        \
                        if (hi > lo)                                                         \
                            memcpy(dst + lo, src + lo + off, (size_t)(hi - lo) * sizeof(T)); \
                    } else {                                                                 \
                        for (ow = lo; ow < hi; ow++)                                         \
                            dst[ow] = src[ow * g->sw + off];                                 \
                    }                                                                        \
                    if (hi < g->OW)                                                          \
                        memset(dst + hi, 0, (size_t)(g->OW - hi) * sizeof(T));               \
                }                                                                            \
            }                                                                                \
}                                                                                            \
                                                                                             \
/* gx (C, H, W) += the columns' values added back where im2col read them (the   \
   padding's share is dropped): im2col's adjoint. */                                         \
static void fad_col2im_##SUFFIX(const T *cols, const fad_conv_geometry *g, T *gx) {          \
    Py_ssize_t c, i, j, oh, ow, lo, hi, L = g->OH * g->OW;                                   \
    for (c = 0; c < g->C; c++)                                                               \
        for (i = 0; i < g->KH; i++)                                                          \
            for (j = 0; j < g->KW; j++) {                                                    \
                const T *row = cols + ((c * g->KH + i) * g->KW + j) * L;                     \
                Py_ssize_t off = j * g->dw - g->pw;                                          \
                fad_conv_valid(off, g->sw, g->W, g->OW, &lo, &hi);                           \
                for (oh = 0; oh < g->OH; oh++) {                                             \
                    Py_ssize_t ih = oh * g->sh - g->ph + i * g->dh;                          \
                    if (ih < 0 || ih >= g->H)                                                \
                        continue;                                                            \
                    const T *src = row + oh * g->OW;                                         \
                    T *dst = gx + (c * g->H + ih) * g->W;                                    \
                    for (ow = lo; ow < hi; ow++)                                             \
                        dst[ow * g->sw + off] += src[ow];                                    \
                }                                                                            \
            }                                                                                \
}

FAD_CONV_KERNELS(float, f32)
FAD_CONV_KERNELS(double, f64)

#endif
