#include "core/rng.h"

#include <math.h>

double hr_rng_normal(hr_rng *r)
{
    double u1 = hr_rng_uniform(r), u2 = hr_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
