"""Fit the coefficients of fastad's float64 erf (fad_erf in fastad/csrc/fad_math.h).

    erf(x) = x P(x^2)                                 |x| < 1
    erf(x) = 1 - t exp(-x^2 + Q(t - 11/24)),  t = 2 / (2 + |x|),  1 <= |x| <= 6

P and Q are Chebyshev interpolants (near-minimax) computed in 50-digit
arithmetic, then rounded to doubles; the script prints both tables, highest
degree first (fad_horner's order), and their errors measured after rounding.
Needs mpmath (not a dependency of fastad): python bench/prototypes/fit_erf.py
"""
import mpmath as mp

mp.mp.dps = 50


def chebyshev_interpolant(f, a, b, degree, center):
    """Coefficients of the degree-n interpolant of f at Chebyshev nodes of [a, b],
    as a polynomial in (x - center), highest degree first."""
    nodes = [(a + b) / 2 + (b - a) / 2 * mp.cos(mp.pi * (k + mp.mpf(1) / 2) / (degree + 1))
             for k in range(degree + 1)]
    vander = mp.matrix([[(x - center) ** j for j in range(degree + 1)] for x in nodes])
    coef = mp.lu_solve(vander, mp.matrix([f(x) for x in nodes]))
    return [float(coef[j]) for j in range(degree, -1, -1)]


def horner(coefs, x):
    p = mp.mpf(coefs[0])
    for c in coefs[1:]:
        p = p * x + c
    return p


def erf_over_x(s):                      # erf(sqrt s) / sqrt s, in s = x^2
    return mp.erf(mp.sqrt(s)) / mp.sqrt(s) if s else 2 / mp.sqrt(mp.pi)


def log_scaled_erfc(t):                 # log(erfc(x) exp(x^2) / t) at x = 2/t - 2
    x = 2 / t - 2
    return mp.log(mp.erfc(x) * mp.exp(x * x) / t)


def main():
    small = chebyshev_interpolant(erf_over_x, mp.mpf(0), mp.mpf(1), 12, mp.mpf(0))
    grid = [mp.mpf(i) / 2000 for i in range(2001)]
    err = max(abs(horner(small, s) / erf_over_x(s) - 1) for s in grid)
    print(f"FAD_ERF_SMALL (relative error {float(err):.1e}):\n{small}")
    lo, hi, center = mp.mpf(1) / 4, mp.mpf(2) / 3, mp.mpf(11) / 24
    large = chebyshev_interpolant(log_scaled_erfc, lo, hi, 16, center)
    grid = [lo + (hi - lo) * i / 3000 for i in range(3001)]
    err = max(abs(horner(large, t - center) - log_scaled_erfc(t)) for t in grid)
    print(f"FAD_ERF_LARGE (absolute error {float(err):.1e}):\n{large}")


if __name__ == "__main__":
    main()
