/* The paper's closed formula (ANOSIP, MPM'12, §5), evaluated as printed:
 *   p = (N - R - (m/P) * pf) / N,  N = P + R
 *   H = -sum over the N subjects of p log2 p = -N p log2 p
 *   d = H / log2 N
 * docs/simulator.md §4 says why this is not a probability distribution and
 * where it parts from the Monte Carlo figure. */
#include "sim/sim.h"

#include <errno.h>
#include <math.h>

int sim_formula_eval(long portals, long routers, double m, double pf, struct sim_formula *out)
{
	long n = portals + routers;
	if (portals <= 0 || routers < 0 || n < 2)
		return -EINVAL;
	out->p = ((double)n - (double)routers - (m / (double)portals) * pf) / (double)n;
	out->entropy = NAN;
	out->degree = NAN;
	if (out->p > 0 && out->p <= 1) {
		out->entropy = -(double)n * out->p * log2(out->p);
		out->degree = out->entropy / log2((double)n);
	}
	return 0;
}
