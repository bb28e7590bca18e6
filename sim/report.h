/* anosip-sim's output: the CSV rows and the gnuplot figure. Part of the
 * program, not of the library. */
#ifndef ANOSIP_SIM_REPORT_H
#define ANOSIP_SIM_REPORT_H

#include "sim/sim.h"

#include <stdio.h>

struct report_row {
	const char *policy, *timing;
	int nodes, portals, routers, lighthouses;
	long users;
	int random_m;
	double pf;
	struct sim_summary summary;
	double formula_m; /* the m the formula was given */
	struct sim_formula formula;
};

void report_header(FILE *out);
void report_row(FILE *out, const struct report_row *row);
void report_per_target_header(FILE *out);

/* Draws the paper's Figure 3 from a figure-3 CSV (rows from report_row),
 * a curve per pf, with gnuplot into png_or_svg (the extension picks the
 * terminal). Returns 0, or -1 with a line in err. */
int report_plot_figure3(const char *csv_path, const char *png_or_svg, const double *pf, int n_pf,
			char *err, size_t err_len);

#endif
