/* CSV rows and the gnuplot figure for anosip-sim. */
#include "sim/report.h"

#include "util/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

void report_header(FILE *out)
{
	fprintf(out, "policy,timing,nodes,portals,routers,lighthouses,users,trials,targets,"
		     "random_m,pf,compromised_mean,compromised_portals_mean,hops_mean,"
		     "entropy_mean,effective_set_mean,degree_mean,degree_ci_low,"
		     "degree_ci_high,degree_min,degree_q1,degree_median,degree_q3,degree_max,"
		     "full_linkage,full_linkage_ci_low,full_linkage_ci_high,formula_m,formula_p,"
		     "formula_entropy,formula_degree\n");
}

/* NaN prints as an empty field: the formula is undefined there. */
static void field(FILE *out, double v)
{
	if (isnan(v))
		fputs(",", out);
	else
		fprintf(out, ",%.6f", v);
}

void report_row(FILE *out, const struct report_row *r)
{
	const struct sim_summary *s = &r->summary;
	fprintf(out, "%s,%s,%d,%d,%d,%d,%ld,%d,%ld,%d,%g", r->policy, r->timing, r->nodes,
		r->portals, r->routers, r->lighthouses, r->users, s->trials, s->targets,
		r->random_m, r->pf);
	const double values[] = {s->compromised_mean,	 s->compromised_portals_mean,
				 s->hops_mean,		 s->entropy_mean,
				 s->effective_set_mean,	 s->degree_mean,
				 s->degree_ci_low,	 s->degree_ci_high,
				 s->degree_quantiles[0], s->degree_quantiles[1],
				 s->degree_quantiles[2], s->degree_quantiles[3],
				 s->degree_quantiles[4], s->linkage_mean,
				 s->linkage_ci_low,	 s->linkage_ci_high,
				 r->formula_m,		 r->formula.p,
				 r->formula.entropy,	 r->formula.degree};
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		field(out, values[i]);
	fputc('\n', out);
	fflush(out);
}

void report_per_target_header(FILE *out)
{
	fprintf(out, "trial,user,portal,lighthouse,hops,entropy,degree,full_linkage\n");
}

/* A gnuplot single-quoted string: a quote inside is written twice. */
static void quoted(FILE *f, const char *text)
{
	fputc('\'', f);
	for (; *text; text++) {
		if (*text == '\'')
			fputc('\'', f);
		fputc(*text, f);
	}
	fputc('\'', f);
}

/* The script reads the CSV by column name; one curve per pf for the
 * simulation (left axis) and for the paper's formula (right axis, since as
 * printed it is not bounded by 1). */
static int write_script(FILE *f, const char *csv, const char *image, const double *pf, int n_pf)
{
	const char *dot = strrchr(image, '.');
	const char *terminal;
	if (dot && strcmp(dot, ".png") == 0)
		terminal = "pngcairo size 960,600";
	else if (dot && strcmp(dot, ".svg") == 0)
		terminal = "svg size 960,600 dynamic";
	else
		return -EINVAL;
	fprintf(f, "set terminal %s\nset output ", terminal);
	quoted(f, image);
	fprintf(f, "\ncsv = ");
	quoted(f, csv);
	fprintf(f, "\npfs = '");
	for (int i = 0; i < n_pf; i++)
		fprintf(f, "%s%g", i ? " " : "", pf[i]);
	fprintf(f,
		"'\n"
		"set datafile separator ','\n"
		"set title 'Degree of anonymity vs colluding portals (ANOSIP Figure 3)'\n"
		"set xlabel 'colluding portals m'\n"
		"set ylabel 'degree of anonymity d (simulation)'\n"
		"set y2label 'd from the paper''s formula, as printed'\n"
		"set yrange [0:1.05]\n"
		"set ytics nomirror\n"
		"set y2tics\n"
		"set key outside right\n"
		"set grid\n"
		"plot for [p in pfs] csv using 'random_m':(abs(column('pf') - real(p)) < 1e-9 ? "
		"column('degree_mean') : NaN):(column('degree_ci_low')):(column('degree_ci_high')) "
		"with yerrorlines title sprintf('simulation, pf=%%s', p), \\\n"
		"     for [p in pfs] csv using 'random_m':(abs(column('pf') - real(p)) < 1e-9 ? "
		"column('formula_degree') : NaN) axes x1y2 with lines dashtype 2 "
		"title sprintf('formula, pf=%%s', p)\n");
	return ferror(f) ? -EIO : 0;
}

int report_plot_figure3(const char *csv_path, const char *image, const double *pf, int n_pf,
			char *err, size_t err_len)
{
	char script[] = "/tmp/anosip-sim-plot-XXXXXX";
	int fd = mkstemp(script);
	if (fd < 0) {
		snprintf(err, err_len, "cannot write a gnuplot script: %s", strerror(errno));
		return -1;
	}
	FILE *f = fdopen(fd, "w");
	int rc = f ? write_script(f, csv_path, image, pf, n_pf) : -EIO;
	if (f)
		fclose(f);
	else
		close(fd);
	if (rc < 0) {
		snprintf(err, err_len, "%s: the plot is .png or .svg",
			 rc == -EINVAL ? image : "gnuplot script");
		unlink(script);
		return -1;
	}

	/* gnuplot's exit status decides; two minutes is far more than it takes. */
	char *args[] = {"gnuplot", script, NULL};
	int killed = 0;
	rc = util_run(args, 120000, &killed);
	unlink(script);
	if (rc < 0) {
		snprintf(err, err_len, "gnuplot: %s (install gnuplot-nox)", uv_strerror(rc));
		return -1;
	}
	if (rc != 0) {
		snprintf(err, err_len,
			 killed ? "gnuplot took more than two minutes" : "gnuplot failed (exit %d)",
			 rc);
		return -1;
	}
	if (access(image, R_OK) != 0) {
		snprintf(err, err_len, "gnuplot did not write %s", image);
		return -1;
	}
	return 0;
}
