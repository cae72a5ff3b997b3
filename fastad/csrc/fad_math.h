/* Branch-free, vectorisable exp, expm1, log, log1p, tanh, sin, cos and erf for
   float32 and float64, IEEE special values kept (by select, so loops still
   vectorise; no -ffast-math).  libm's are a call per element. */
#ifndef FAD_MATH_H
#define FAD_MATH_H

#include "fad_common.h"

/* 2**k for integer-valued k in [-126, 127] / [-1022, 1023] with FP + shift only */
FAD_INLINE float fad_pow2if(float k) {
    float d = (k + 8388608.0f) + 127.0f;          /* low mantissa bits = k + 127 */
    uint32_t u; memcpy(&u, &d, 4); u <<= 23; memcpy(&d, &u, 4); return d;
}
/* Horner's rule over a table of coefficients, highest degree first: always
   inlined with a constant length, so it unrolls and its callers still vectorise */
FAD_INLINE float fad_hornerf(float x, const float *c, int n) {
    float p = c[0];
    int i;
    for (i = 1; i < n; i++) p = p * x + c[i];
    return p;
}
FAD_INLINE double fad_horner(double x, const double *c, int n) {
    double p = c[0];
    int i;
    for (i = 1; i < n; i++) p = p * x + c[i];
    return p;
}
#define FAD_NCOEF(c) ((int)(sizeof(c) / sizeof((c)[0])))
static const float FAD_EXPF_TAYLOR[] = {
    1.98412698e-4f, 1.38888889e-3f, 8.33333333e-3f, 4.16666667e-2f, 1.66666667e-1f, 0.5f, 1.0f,
    1.0f
};
static const double FAD_EXP_TAYLOR[] = {
    1.6059043836821613e-10, 2.08767569878681e-09, 2.505210838544172e-08, 2.755731922398589e-07,
    2.7557319223985893e-06, 2.48015873015873e-05, 1.984126984126984e-04, 1.388888888888889e-03,
    8.333333333333333e-03, 4.1666666666666664e-02, 1.6666666666666666e-01, 0.5, 1.0, 1.0
};
static const float FAD_LOGF_P[] = {
    7.0376836292e-2f, -1.1514610310e-1f, 1.1676998740e-1f, -1.2420140846e-1f, 1.4249322787e-1f,
    -1.6668057665e-1f, 2.0000714765e-1f, -2.4999993993e-1f, 3.3333331174e-1f
};
static const float FAD_ERFF_SMALL[] = {
    7.854070885979351e-05f, -8.010262252848546e-04f, 5.188336343172495e-03f,
    -2.6853817187015062e-02f, 1.1283585303825346e-01f, -3.761262584394248e-01f,
    1.128379165733873f
};
static const double FAD_ERF_SMALL[] = {
    5.957176147748911e-11, -1.1372848856791674e-09, 1.4659775274047436e-08,
    -1.6350312701054695e-07, 1.6461000484121368e-06, -1.4925595266831182e-05,
    0.0001205533111164271, -0.000854832698083379, 0.0052239776248180145, -0.026866170645076792,
    0.11283791670954879, -0.3761263890318375, 1.1283791670955126
};
static const double FAD_ERF_LARGE[] = {
    0.5535888611630921, -0.4126653050574086, -0.35472591361373623, 0.5225613045608098,
    0.07621143792160985, -0.4551979790631505, 0.0942994150579345, 0.3468585916222164,
    -0.16963712658886956, -0.2657747698285945, 0.1961941592371224, 0.24359275586583978,
    -0.2131176163726144, -0.3441290896194704, 0.23442498156110275, 1.327601228934298,
    -0.7274922853522042
};
static const float FAD_ERFF_LARGE[] = {
    -4.047740633818404e-08f, 1.618069633044728e-06f, -1.3104312874330417e-05f,
    7.737639263234362e-05f, -4.2049099761999636e-04f, 2.1651856622595515e-03f,
    -1.0858300176837291e-02f, 5.6106348322982606e-02f, -3.526807177443081e-01f,
    -1.556815276250523f
};
FAD_INLINE double fad_pow2i(double k) {
    double d = (k + 4503599627370496.0) + 1023.0;
    uint64_t u; memcpy(&u, &d, 8); u <<= 52; memcpy(&d, &u, 8); return d;
}
/* exp: clamp (NaN passes), k = rint(x/ln2) via the 1.5*2^p shifter, Cody-Waite
   reduction, Taylor polynomial on |r| <= ln2/2, 2**k applied in two halves so
   that overflow gives +inf and underflow gives (sub)normals / 0. */
FAD_INLINE float fad_expf(float x) {
    float t = x < -110.0f ? -110.0f : x;
    t = t > 90.0f ? 90.0f : t;
    float kf = t * 1.44269504088896341f + 12582912.0f;
    kf = kf - 12582912.0f;
    float r = t - kf * 0.693359375f;
    r = r - kf * -2.12194440e-4f;
    float p = fad_hornerf(r, FAD_EXPF_TAYLOR, FAD_NCOEF(FAD_EXPF_TAYLOR));
    float k1 = kf * 0.5f + 12582912.0f;
    k1 = k1 - 12582912.0f;
    float k2 = kf - k1;
    return p * fad_pow2if(k1) * fad_pow2if(k2);
}
FAD_INLINE double fad_exp(double x) {
    double t = x < -750.0 ? -750.0 : x;
    t = t > 720.0 ? 720.0 : t;
    double kf = t * 1.4426950408889634 + 6755399441055744.0;
    kf = kf - 6755399441055744.0;
    double r = t - kf * 6.93147180369123816490e-01;
    r = r - kf * 1.90821492927058770002e-10;
    double p = fad_horner(r, FAD_EXP_TAYLOR, FAD_NCOEF(FAD_EXP_TAYLOR));
    double k1 = kf * 0.5 + 6755399441055744.0;
    k1 = k1 - 6755399441055744.0;
    double k2 = kf - k1;
    return p * fad_pow2i(k1) * fad_pow2i(k2);
}
/* expm1: where exp(x) - 1 would cancel (|x| < ln2/2), x times exp's Taylor
   series less its constant term (the terms left out are under an ulp);
   exp(x) - 1 elsewhere; both computed, one selected (libm's expm1f is a call
   per element: ELU took 7.9 ns). */
FAD_INLINE float fad_expm1f(float x) {
    float small = fad_hornerf(x, FAD_EXPF_TAYLOR, FAD_NCOEF(FAD_EXPF_TAYLOR) - 1) * x;
    float large = fad_expf(x) - 1.0f;
    return (x < 0.34657359f && x > -0.34657359f) ? small : large;
}
FAD_INLINE double fad_expm1(double x) {
    double small = fad_horner(x, FAD_EXP_TAYLOR, FAD_NCOEF(FAD_EXP_TAYLOR) - 1) * x;
    double large = fad_exp(x) - 1.0;
    return (x < 0.34657359027997264 && x > -0.34657359027997264) ? small : large;
}
/* sin and cos (Cephes coefficients; float32 goes through double): k = the
   nearest multiple of pi/2 by the 1.5*2**52 shifter, whose low mantissa bits
   are k mod 4 (no float-to-int conversion); r = x - k*pi/2 in three parts,
   exact while |k| < 2**27; then sin(r) or cos(r), signed by the quadrant.
   Beyond |x| = FAD_TRIG_LIMIT (and for NaN and inf) the result is garbage
   that trig_fixup recomputes with libm (libm's sin is a call per element:
   14 ns per float64 against about 1). */
#define FAD_TRIG_LIMIT 1.0e6
static const double FAD_SIN_P[] = {1.58962301576546568060e-10, -2.50507477628578072866e-8,
    2.75573136213857245213e-6, -1.98412698295895385996e-4, 8.33333333332211858878e-3,
    -1.66666666666666307295e-1};
static const double FAD_COS_P[] = {-1.13585365213876817300e-11, 2.08757008419747316778e-9,
    -2.75573141792967388112e-7, 2.48015872888517045348e-5, -1.38888888888730564116e-3,
    4.16666666666665929218e-2};
FAD_INLINE double fad_sin_quadrant(double x, unsigned quarter_turns) {
    double xc = (x < FAD_TRIG_LIMIT && x > -FAD_TRIG_LIMIT) ? x : 0.0;
    double kf = xc * 0.63661977236758134308 + 6755399441055744.0;
    uint64_t bits; memcpy(&bits, &kf, 8);
    unsigned q = (unsigned)(bits & 3u) + quarter_turns;
    double k = kf - 6755399441055744.0;
    double r = ((xc - k * 1.57079625129699707031e0) - k * 7.54978941586159635336e-8)
               - k * 5.39030285815811905290e-15;
    double z = r * r;
    double s = r + r * (z * fad_horner(z, FAD_SIN_P, FAD_NCOEF(FAD_SIN_P)));
    double c = 1.0 - 0.5 * z + z * z * fad_horner(z, FAD_COS_P, FAD_NCOEF(FAD_COS_P));
    double v = (q & 1u) ? c : s;
    return (q & 2u) ? -v : v;
}
/* r + r*z*P(z) gives +0 for r = -0 (a zero times a negative coefficient):
   sin(-0) is -0, so zeros pass through */
FAD_INLINE double fad_sin(double x) { return x == 0.0 ? x : fad_sin_quadrant(x, 0u); }
FAD_INLINE double fad_cos(double x) { return fad_sin_quadrant(x, 1u); }
/* log: x = m * 2**e with m in [sqrt(1/2), sqrt(2)) (subnormals scaled up
   first), log(m) = f - f*f/2 + f**3 * P(f) for f = m - 1 (Cephes: a polynomial
   for float, a rational function for double), e*ln2 added in two parts.
   Special values by selects, so the loops vectorise: NaN and x < 0 give NaN,
   +-0 gives -inf, inf gives inf.  (libm's logf is a call per element:
   3.3 ns per float32 against 0.5.) */
FAD_INLINE float fad_logf(float x) {
    int sub = x < 1.17549435e-38f;
    float xs = sub ? x * 8388608.0f : x;
    uint32_t u; memcpy(&u, &xs, 4);
    float fe = (float)((int32_t)((u >> 23) & 0xffu) - (sub ? 149 : 126));
    uint32_t mu = (u & 0x007fffffu) | 0x3f000000u;      /* m in [0.5, 1) */
    float m; memcpy(&m, &mu, 4);
    int low = m < 0.70710678118654752f;
    fe = low ? fe - 1.0f : fe;
    float f = low ? m + m - 1.0f : m - 1.0f;
    float z = f * f;
    float p = fad_hornerf(f, FAD_LOGF_P, FAD_NCOEF(FAD_LOGF_P));
    float y = p * f * z + fe * -2.12194440e-4f - 0.5f * z;
    float r = (f + y) + fe * 0.693359375f;
    r = x == __builtin_inff() ? x : r;
    r = x == 0.0f ? -__builtin_inff() : r;
    r = x < 0.0f ? __builtin_nanf("") : r;
    return x != x ? x : r;
}
FAD_INLINE double fad_log(double x) {
    int sub = x < 2.2250738585072014e-308;
    double xs = sub ? x * 4503599627370496.0 : x;
    uint64_t u; memcpy(&u, &xs, 8);
    double fe = (double)((int64_t)((u >> 52) & 0x7ffu) - (sub ? 1074 : 1022));
    uint64_t mu = (u & 0x000fffffffffffffull) | 0x3fe0000000000000ull;
    double m; memcpy(&m, &mu, 8);
    int low = m < 0.70710678118654752440;
    fe = low ? fe - 1.0 : fe;
    double f = low ? m + m - 1.0 : m - 1.0;
    double z = f * f;
    double num = ((((1.01875663804580931796e-4 * f + 4.97494994976747001425e-1) * f
                    + 4.70579119878881725854e0) * f + 1.44989225341610930846e1) * f
                  + 1.79368678507819816313e1) * f + 7.70838733755885391666e0;
    double den = ((((f + 1.12873587189167450590e1) * f + 4.52279145837532221105e1) * f
                   + 8.29875266912776603211e1) * f + 7.11544750618563894466e1) * f
                 + 2.31251620126765340583e1;
    double y = f * (z * num / den) + fe * -2.121944400546905827679e-4 - 0.5 * z;
    double r = (f + y) + fe * 0.693359375;
    r = x == __builtin_inf() ? x : r;
    r = x == 0.0 ? -__builtin_inf() : r;
    r = x < 0.0 ? __builtin_nan("") : r;
    return x != x ? x : r;
}
/* erf for float32 (libm's erff is a call per element: 15 ns in GELU):
   x * P(x*x) below |x| = 1, else 1 - exp(-x*x + R(|x| - 2.5)) with the sign
   put back; 1 beyond |x| = 4, where erf rounds to 1 in float32.  P and R
   were fitted here for relative error under 5e-9 (against mpmath). */
FAD_INLINE float fad_erff(float x) {
    float a = x < 0.0f ? -x : x;
    float s = x * x;
    float p = fad_hornerf(s, FAD_ERFF_SMALL, FAD_NCOEF(FAD_ERFF_SMALL));
    float small = x * p;
    float v = (a < 1.0f ? 1.0f : (a > 4.0f ? 4.0f : a)) - 2.5f;
    float r = fad_hornerf(v, FAD_ERFF_LARGE, FAD_NCOEF(FAD_ERFF_LARGE));
    float large = 1.0f - fad_expf(r - s);
    large = a > 4.0f ? 1.0f : large;
    large = x < 0.0f ? -large : large;
    return a < 1.0f ? small : (x != x ? x : large);
}
/* erf for float64 (libm's is a call per element: 16 ns in GELU): x * P(x*x)
   below |x| = 1; else 1 - t exp(-x*x + Q(t - 11/24)) with t = 2 / (2 + |x|)
   and the sign put back; 1 beyond |x| = 6, where erf rounds to 1.  P (degree
   12, relative error 1.6e-17) and Q (degree 16 over t in [1/4, 2/3], absolute
   error 5.5e-17) are Chebyshev interpolants: bench/prototypes/fit_erf.py. */
FAD_INLINE double fad_erf(double x) {
    double a = x < 0.0 ? -x : x;
    double small = x * fad_horner(x * x, FAD_ERF_SMALL, FAD_NCOEF(FAD_ERF_SMALL));
    double v = a < 1.0 ? 1.0 : (a > 6.0 ? 6.0 : a);
    double t = 2.0 / (2.0 + v);
    double q = fad_horner(t - 0.45833333333333331, FAD_ERF_LARGE, FAD_NCOEF(FAD_ERF_LARGE));
    double large = 1.0 - t * fad_exp(q - v * v);
    large = a > 6.0 ? 1.0 : large;
    large = x < 0.0 ? -large : large;
    return a < 1.0 ? small : (x != x ? x : large);
}
/* log1p(z) = log(u) - ((u - 1) - z) / u with u = 1 + z: the quotient puts back
   what rounding 1 + z lost (exact to a few ulp); u = 0 and u = inf by select. */
FAD_INLINE float fad_log1pf(float z) {
    float u = 1.0f + z;
    float r = fad_logf(u) - ((u - 1.0f) - z) / u;
    r = u == 0.0f ? -__builtin_inff() : r;
    return z == __builtin_inff() ? z : r;
}
FAD_INLINE double fad_log1p(double z) {
    double u = 1.0 + z;
    double r = fad_log(u) - ((u - 1.0) - z) / u;
    r = u == 0.0 ? -__builtin_inf() : r;
    return z == __builtin_inf() ? z : r;
}
/* tanh: odd polynomial / rational (Cephes) for |x| < 0.625, else
   1 - 2/(exp(2|x|)+1) with the sign restored; both computed, one selected. */
FAD_INLINE float fad_tanhf(float x) {
    float ax = x < 0.0f ? -x : x;
    float z = x * x;
    float s = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z
                 - 5.37397155531e-2f) * z + 1.33314422036e-1f) * z
                 - 3.33332819422e-1f) * z * x + x;
    float e = fad_expf(2.0f * ax);
    float l = 1.0f - 2.0f / (e + 1.0f);
    l = x < 0.0f ? -l : l;
    return ax < 0.625f ? s : l;
}
FAD_INLINE double fad_tanh(double x) {
    double ax = x < 0.0 ? -x : x;
    double z = x * x;
    double num = (-9.64399179425052238628e-1 * z - 9.92877231001918586564e1) * z
                 - 1.61468768441708447952e3;
    double den = ((z + 1.12811678491632931402e2) * z + 2.23548839060100448583e3) * z
                 + 4.84406305325125486048e3;
    double s = x + x * z * (num / den);
    double e = fad_exp(2.0 * ax);
    double l = 1.0 - 2.0 / (e + 1.0);
    l = x < 0.0 ? -l : l;
    return ax < 0.625 ? s : l;
}

/* constants of the formulas (_formulas.pxi): GELU's tanh approximation, sqrt(2/pi)
   and the cubic's coefficient; ln 2, ln 10 and 2/sqrt(pi) of the math rows' derivatives */
#define FAD_GELU_KBETA 0.79788456080286535588
#define FAD_GELU_KAPPA 0.044715
#define FAD_LN2 0.69314718055994530942
#define FAD_LN10 2.30258509299404568402
#define FAD_TWO_OVER_SQRT_PI 1.12837916709551257390

#endif /* FAD_MATH_H */
