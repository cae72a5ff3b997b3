/* PyTorch's NormalFill16<float> in AVX2 lanes (log and sincos after cephes),
   for fastad/_random.pyx: eight times faster than the lane-at-a-time version,
   which stays for CPUs without AVX2 and FMA. */
#ifndef FASTAD_RANDOM_AVX2_H
#define FASTAD_RANDOM_AVX2_H

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#define FA_AVX2 __attribute__((target("avx2,fma")))
#define FA_PS(v) _mm256_set1_ps((float)(v))
FA_AVX2 static inline __m256 fa_log256(__m256 x) {
    __m256 one = FA_PS(1.0);
    x = _mm256_max_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(0x00800000)));
    __m256i imm0 = _mm256_srli_epi32(_mm256_castps_si256(x), 23);
    x = _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(~0x7f800000)));
    x = _mm256_or_ps(x, FA_PS(0.5));
    imm0 = _mm256_sub_epi32(imm0, _mm256_set1_epi32(0x7f));
    __m256 e = _mm256_add_ps(_mm256_cvtepi32_ps(imm0), one);
    __m256 mask = _mm256_cmp_ps(x, FA_PS(0.707106781186547524), _CMP_LT_OS);
    __m256 tmp = _mm256_and_ps(x, mask);
    x = _mm256_sub_ps(x, one);
    e = _mm256_sub_ps(e, _mm256_and_ps(one, mask));
    x = _mm256_add_ps(x, tmp);
    __m256 z = _mm256_mul_ps(x, x);
    __m256 y = FA_PS(7.0376836292E-2);
    y = _mm256_fmadd_ps(y, x, FA_PS(-1.1514610310E-1));
    y = _mm256_fmadd_ps(y, x, FA_PS(1.1676998740E-1));
    y = _mm256_fmadd_ps(y, x, FA_PS(-1.2420140846E-1));
    y = _mm256_fmadd_ps(y, x, FA_PS(1.4249322787E-1));
    y = _mm256_fmadd_ps(y, x, FA_PS(-1.6668057665E-1));
    y = _mm256_fmadd_ps(y, x, FA_PS(2.0000714765E-1));
    y = _mm256_fmadd_ps(y, x, FA_PS(-2.4999993993E-1));
    y = _mm256_fmadd_ps(y, x, FA_PS(3.3333331174E-1));
    y = _mm256_mul_ps(y, x);
    y = _mm256_fmadd_ps(y, z, _mm256_mul_ps(e, FA_PS(-2.12194440e-4)));
    y = _mm256_sub_ps(y, _mm256_mul_ps(z, FA_PS(0.5)));
    x = _mm256_add_ps(x, y);
    return _mm256_add_ps(x, _mm256_mul_ps(e, FA_PS(0.693359375)));
}
FA_AVX2 static inline void fa_sincos256(__m256 x, __m256* s, __m256* c) {
    __m256 sign_sin = _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000)));
    x = _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(~0x80000000)));
    __m256i j = _mm256_cvttps_epi32(_mm256_mul_ps(x, FA_PS(1.27323954473516)));
    j = _mm256_and_si256(_mm256_add_epi32(j, _mm256_set1_epi32(1)), _mm256_set1_epi32(~1));
    __m256 y = _mm256_cvtepi32_ps(j);
    __m256 swap = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_and_si256(j, _mm256_set1_epi32(4)), 29));
    __m256 poly = _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(j, _mm256_set1_epi32(2)), _mm256_setzero_si256()));
    x = _mm256_add_ps(x, _mm256_mul_ps(y, FA_PS(-0.78515625)));
    x = _mm256_add_ps(x, _mm256_mul_ps(y, FA_PS(-2.4187564849853515625e-4)));
    x = _mm256_add_ps(x, _mm256_mul_ps(y, FA_PS(-3.77489497744594108e-8)));
    __m256i j4 = _mm256_andnot_si256(_mm256_sub_epi32(j, _mm256_set1_epi32(2)), _mm256_set1_epi32(4));
    __m256 sign_cos = _mm256_castsi256_ps(_mm256_slli_epi32(j4, 29));
    sign_sin = _mm256_xor_ps(sign_sin, swap);
    __m256 z = _mm256_mul_ps(x, x);
    __m256 yc = _mm256_add_ps(_mm256_mul_ps(FA_PS(2.443315711809948E-005), z), FA_PS(-1.388731625493765E-003));
    yc = _mm256_fmadd_ps(yc, z, FA_PS(4.166664568298827E-002));
    yc = _mm256_fmsub_ps(_mm256_mul_ps(yc, z), z, _mm256_mul_ps(z, FA_PS(0.5)));
    yc = _mm256_add_ps(yc, FA_PS(1.0));
    __m256 ys = _mm256_fmadd_ps(FA_PS(-1.9515295891E-4), z, FA_PS(8.3321608736E-3));
    ys = _mm256_fmadd_ps(ys, z, FA_PS(-1.6666654611E-1));
    ys = _mm256_fmadd_ps(_mm256_mul_ps(ys, z), x, x);
    __m256 ysin2 = _mm256_and_ps(poly, ys);
    __m256 ysin1 = _mm256_andnot_ps(poly, yc);
    ys = _mm256_sub_ps(ys, ysin2);
    yc = _mm256_sub_ps(yc, ysin1);
    *s = _mm256_xor_ps(_mm256_add_ps(ysin1, ysin2), sign_sin);
    *c = _mm256_xor_ps(_mm256_add_ps(yc, ys), sign_cos);
}
FA_AVX2 static void fa_box_muller16_avx2(float* d, float mean, float std) {
    __m256 u1 = _mm256_sub_ps(FA_PS(1.0), _mm256_loadu_ps(d));
    __m256 u2 = _mm256_loadu_ps(d + 8);
    __m256 radius = _mm256_sqrt_ps(_mm256_mul_ps(FA_PS(-2.0), fa_log256(u1)));
    __m256 s, c;
    fa_sincos256(_mm256_mul_ps(FA_PS(6.283185307179586), u2), &s, &c);
    _mm256_storeu_ps(d, _mm256_fmadd_ps(_mm256_mul_ps(radius, c), FA_PS(std), FA_PS(mean)));
    _mm256_storeu_ps(d + 8, _mm256_fmadd_ps(_mm256_mul_ps(radius, s), FA_PS(std), FA_PS(mean)));
}
static int fa_have_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#else
static void fa_box_muller16_avx2(float* d, float mean, float std) { (void)d; (void)mean; (void)std; }
static int fa_have_avx2(void) { return 0; }
#endif

#endif
