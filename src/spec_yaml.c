/* spec_yaml.c - read a campaign spec's YAML into a struct spec_src.
 *
 * libyaml's document API gives a node tree (an alias is the node index of
 * its anchor, so a shared node is read once per reference and never copied;
 * a recursive alias cannot loop because the reader only descends as deep as
 * the spec's fixed shape).  libyaml does not report duplicate mapping keys:
 * every mapping read here checks them.  Every error names the node's
 * line:column (libyaml marks are 0-based; messages are 1-based).
 *
 * Shape (docs/SPEC.md): a mapping with name, seed, model, train, grid, zip,
 * filter.  model/train hold fixed values; grid holds axes (a list or a
 * generator mapping) and may hold zip; zip holds groups of equal-length
 * lists; filter holds comparisons.
 */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "supersweep/err.h"
#include "supersweep/spec.h"
#include "spec_int.h"

#define BIG	 9007199254740992.0 /* 2^53: integers beyond are not exact in a double */
#define INT32MAX 2147483647.0

const struct spec_in_info spec_in_table[IN_COUNT] = {
	[IN_N] = {"n", KIND_INT, 1, INT32MAX, false, false, "number of features"},
	[IN_M] = {"m", KIND_INT, 1, INT32MAX, false, false, "width"},
	[IN_ALPHA] = {"alpha", KIND_REAL, 0, 1e6, false, false, "power-law exponent"},
	[IN_GAMMA] = {"gamma", KIND_REAL, -DBL_MAX, DBL_MAX, false, false, "superposition dial"},
	[IN_E] = {"E", KIND_REAL, 0, DBL_MAX, true, false, "expected active features"},
	[IN_DIST] = {"dist", KIND_DIST, 0, 0, false, false, "frequency shape"},
	[IN_DIST_SCALE] = {"dist_scale", KIND_REAL, 0, DBL_MAX, true, false, "exponential scale"},
	[IN_DENSITY_S] = {"density_s", KIND_REAL, 0, 1, false, false, "density sweep s"},
	[IN_SEED] = {"seed", KIND_INT, 0, BIG, false, false, "replicate seed"},
	[IN_BATCH] = {"batch", KIND_INT, 1, INT32MAX, false, false, "samples per step"},
	[IN_STEPS] = {"steps", KIND_INT, 1, 1e15, false, false, "optimiser steps"},
	[IN_LR] = {"lr", KIND_LR, 0, DBL_MAX, true, false, "peak learning rate (W)"},
	[IN_LR_B] = {"lr_b", KIND_LR, 0, DBL_MAX, true, false, "peak learning rate (b)"},
	[IN_WARMUP] = {"warmup", KIND_INT, 0, 1e15, false, false, "warm-up steps"},
	[IN_WARMUP_FRAC] = {"warmup_frac", KIND_REAL, 0, 1, false, true, "warm-up fraction"},
	[IN_LR_MIN_RATIO] = {"lr_min_ratio", KIND_REAL, 0, 1, false, false, "cosine floor"},
	[IN_LOG_EVERY] = {"log_every", KIND_INT, 1, 1e15, false, false, "curve interval"},
	[IN_EVAL_SAMPLES] = {"eval_samples", KIND_INT, 0, 1e15, false, false, "eval samples"},
	[IN_SAVE_WEIGHTS] = {"save_weights", KIND_BOOL, 0, 1, false, false, "store W and b"},
	[IN_THREADS] = {"threads", KIND_INT, 1, 4096, false, false, "cores per job"},
};

enum top_key { TOP_NAME, TOP_SEED, TOP_MODEL, TOP_TRAIN, TOP_GRID, TOP_ZIP, TOP_FILTER, TOP_COUNT };
static const char *const top_names[TOP_COUNT] = {"name", "seed", "model", "train",
						 "grid", "zip",	 "filter"};

enum gen_key { GEN_LINSPACE, GEN_LOGSPACE, GEN_RANGE, GEN_ROUND, GEN_COUNT };
static const char *const gen_names[GEN_COUNT] = {"linspace", "logspace", "range", "round"};

enum rule_key { RULE_C, RULE_M0, RULE_K, RULE_COUNT };
static const char *const rule_names[RULE_COUNT] = {"c", "m0", "k"};

enum round_mode { ROUND_NONE, ROUND_FLOOR, ROUND_CEIL, ROUND_NEAREST };

struct rd {
	const char *path;
	char *err;
	yaml_document_t *doc;
	struct spec_src *src;
	size_t max_axis;
	const char *in_names[IN_COUNT + 1]; /* for hints (+ "zip") */
};

/* A libyaml mark (0-based) as a spec mark (1-based, clamped to INT_MAX). */
static struct spec_mark mark_at(yaml_mark_t y)
{
	struct spec_mark m;

	m.line = y.line < INT_MAX ? (int)y.line + 1 : INT_MAX;
	m.col = y.column < INT_MAX ? (int)y.column + 1 : INT_MAX;
	return m;
}

static struct spec_mark mark_of(const yaml_node_t *node)
{
	return mark_at(node->start_mark);
}

static yaml_node_t *get(struct rd *r, int index)
{
	return yaml_document_get_node(r->doc, index);
}

/* A printable excerpt of a scalar for messages (at most 40 bytes). */
static const char *show(const yaml_node_t *node, char *buf, size_t len)
{
	size_t n, o = 0;
	const unsigned char *v;

	if (node->type != YAML_SCALAR_NODE) {
		snprintf(buf, len, "%s", node->type == YAML_MAPPING_NODE ? "a mapping" : "a list");
		return buf;
	}
	v = node->data.scalar.value;
	n = node->data.scalar.length;
	if (o + 1 < len)
		buf[o++] = '\'';
	for (size_t i = 0; i < n && o + 5 < len; i++) {
		if (i == 40) {
			buf[o++] = '.';
			buf[o++] = '.';
			buf[o++] = '.';
			break;
		}
		buf[o++] = (v[i] >= 0x20 && v[i] != 0x7f) ? (char)v[i] : '?';
	}
	buf[o++] = '\'';
	buf[o] = '\0';
	return buf;
}

static const char *node_type_name(const yaml_node_t *node)
{
	switch (node->type) {
	case YAML_SCALAR_NODE: return "a scalar";
	case YAML_SEQUENCE_NODE: return "a list";
	case YAML_MAPPING_NODE: return "a mapping";
	default: return "nothing";
	}
}

static bool scalar_is(const yaml_node_t *node, const char *word)
{
	size_t n = strlen(word);

	return node->type == YAML_SCALAR_NODE && node->data.scalar.length == n &&
	       !memcmp(node->data.scalar.value, word, n);
}

/* Index of the scalar NODE in NAMES, or -1. */
static int lookup(const yaml_node_t *node, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (scalar_is(node, names[i]))
			return i;
	return -1;
}

/* Mapping keys must be scalars without NUL bytes (for messages). */
static int check_key(struct rd *r, const yaml_node_t *key)
{
	char buf[64];

	if (key->type != YAML_SCALAR_NODE)
		return spec_fail(r->err, r->path, mark_of(key), ERR_INVAL,
				 "a mapping key must be a word, not %s", node_type_name(key));
	if (strlen((const char *)key->data.scalar.value) != key->data.scalar.length)
		return spec_fail(r->err, r->path, mark_of(key), ERR_INVAL,
				 "key %s contains a NUL byte", show(key, buf, sizeof buf));
	return 0;
}

static int unknown_key(struct rd *r, const yaml_node_t *key, const char *where,
		       const char *const *names, size_t n)
{
	char buf[64];
	const char *near = spec_nearest((const char *)key->data.scalar.value, names, n);

	if (near)
		return spec_fail(r->err, r->path, mark_of(key), ERR_INVAL,
				 "unknown key %s in %s (did you mean '%s'?)",
				 show(key, buf, sizeof buf), where, near);
	return spec_fail(r->err, r->path, mark_of(key), ERR_INVAL, "unknown key %s in %s",
			 show(key, buf, sizeof buf), where);
}

static int duplicate_key(struct rd *r, const yaml_node_t *key, struct spec_mark first)
{
	char buf[64];

	return spec_fail(r->err, r->path, mark_of(key), ERR_INVAL,
			 "duplicate key %s (first at %d:%d)", show(key, buf, sizeof buf),
			 first.line, first.col);
}

/* Input parameter named by KEY ("lr_w" is a synonym of "lr"), or -1. */
static int in_lookup(const yaml_node_t *key)
{
	for (int i = 0; i < IN_COUNT; i++)
		if (scalar_is(key, spec_in_table[i].name))
			return i;
	if (scalar_is(key, "lr_w"))
		return IN_LR;
	return -1;
}

/* param_key - KEY of a mapping of input parameters (in WHERE): *IN is the
 * parameter.  Hints for an unknown key come from the first NHINTS of
 * r->in_names.  0, or ERR_INVAL for a key that is not a parameter. */
static int param_key(struct rd *r, const yaml_node_t *key, const char *where, size_t nhints,
		     int *in)
{
	int rc = check_key(r, key);

	if (rc)
		return rc;
	*in = in_lookup(key);
	if (*in < 0)
		return unknown_key(r, key, where, r->in_names, nhints);
	return 0;
}

/* table_key - KEY of a mapping whose keys are NAMES (N entries), each at
 * most once: SEEN (N marks, zeroed by the caller) records where each was
 * given.  *IDX is the key's index, or -1 for a key not in NAMES (the caller
 * says why it is wrong).  0, or ERR_INVAL for a key that is not a word or
 * repeats one. */
static int table_key(struct rd *r, const yaml_node_t *key, const char *const *names, int n,
		     struct spec_mark *seen, int *idx)
{
	int rc = check_key(r, key);

	if (rc)
		return rc;
	*idx = lookup(key, names, n);
	if (*idx < 0)
		return 0;
	if (seen[*idx].line)
		return duplicate_key(r, key, seen[*idx]);
	seen[*idx] = mark_of(key);
	return 0;
}

/* ---- scalars ---- */

static bool is_plain(const yaml_node_t *node)
{
	return node->type == YAML_SCALAR_NODE && node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* YAML 1.2 core schema number: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool number_syntax(const char *s, size_t n, bool *integral_syntax)
{
	size_t i = 0, digits = 0;

	*integral_syntax = true;
	if (i < n && (s[i] == '-' || s[i] == '+'))
		i++;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++, digits++;
	if (i < n && s[i] == '.') {
		*integral_syntax = false;
		i++;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++, digits++;
	}
	if (!digits)
		return false;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t ed = 0;
		*integral_syntax = false;
		i++;
		if (i < n && (s[i] == '-' || s[i] == '+'))
			i++;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++, ed++;
		if (!ed)
			return false;
	}
	return i == n;
}

static bool is_special_float(const yaml_node_t *node)
{
	static const char *const words[] = {".inf", "+.inf", "-.inf", ".Inf", "+.Inf", "-.Inf",
					    ".INF", "+.INF", "-.INF", ".nan", ".NaN",  ".NAN"};

	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (scalar_is(node, words[i]))
			return true;
	return false;
}

/* parse_real - NODE as a finite number.  WHAT names it in messages. */
static int parse_real(struct rd *r, const yaml_node_t *node, const char *what, double *out)
{
	char buf[64];
	bool integral;
	double v;

	if (node->type != YAML_SCALAR_NODE)
		return spec_fail(r->err, r->path, mark_of(node), ERR_INVAL,
				 "%s must be a number, not %s", what, node_type_name(node));
	if (is_plain(node) && is_special_float(node))
		return spec_fail(r->err, r->path, mark_of(node), ERR_INVAL,
				 "%s must be a finite number, got %s", what,
				 show(node, buf, sizeof buf));
	if (!is_plain(node) || !number_syntax((const char *)node->data.scalar.value,
					      node->data.scalar.length, &integral))
		return spec_fail(r->err, r->path, mark_of(node), ERR_INVAL,
				 "%s must be a number, got %s%s", what, show(node, buf, sizeof buf),
				 is_plain(node) ? "" : " (a quoted string)");
	{
		const char *t = (const char *)node->data.scalar.value;
		if (*t == '-' || *t == '+')
			t++;
		if (t[0] == '0' && t[1] >= '0' && t[1] <= '9')
			return spec_fail(r->err, r->path, mark_of(node), ERR_INVAL,
					 "%s: %s has a leading zero (octal in YAML 1.1); write it "
					 "without",
					 what, show(node, buf, sizeof buf));
	}
	errno = 0;
	v = strtod((const char *)node->data.scalar.value, NULL);
	if (!isfinite(v))
		return spec_fail(r->err, r->path, mark_of(node), ERR_INVAL,
				 "%s is out of range for a double: %s", what,
				 show(node, buf, sizeof buf));
	*out = v == 0 ? 0.0 : v;
	return 0;
}

/* parse_int - NODE as an integer (decimal, or a number with an integral
 * value such as 2e4) within ±2^53. */
static int parse_int(struct rd *r, const yaml_node_t *node, const char *what, int64_t *out)
{
	char buf[64];
	bool integral;
	double v;
	int rc;

	if (is_plain(node) &&
	    !number_syntax((const char *)node->data.scalar.value, node->data.scalar.length,
			   &integral) &&
	    !is_special_float(node))
		return spec_fail(r->err, r->path, mark_of(node), ERR_INVAL,
				 "%s must be an integer, got %s", what,
				 show(node, buf, sizeof buf));
	rc = parse_real(r, node, what, &v);
	if (rc)
		return rc;
	if (v != floor(v))
		return spec_fail(r->err, r->path, mark_of(node), ERR_INVAL,
				 "%s must be an integer, got %s", what,
				 show(node, buf, sizeof buf));
	if (fabs(v) > BIG)
		return spec_fail(r->err, r->path, mark_of(node), ERR_INVAL,
				 "%s %s is too large (at most 2^53)", what,
				 show(node, buf, sizeof buf));
	*out = (int64_t)v;
	return 0;
}

static int check_range(struct rd *r, int in, double v, struct spec_mark mark)
{
	const struct spec_in_info *t = &spec_in_table[in];
	char vb[40], lb[40];

	spec_format_real(v, vb, sizeof vb);
	if (t->lo_open ? !(v > t->lo) : !(v >= t->lo)) {
		spec_format_real(t->lo, lb, sizeof lb);
		return spec_fail(r->err, r->path, mark, ERR_INVAL, "%s must be %s %s, got %s",
				 t->name, t->lo_open ? ">" : ">=", lb, vb);
	}
	if (t->hi_open ? !(v < t->hi) : !(v <= t->hi)) {
		spec_format_real(t->hi, lb, sizeof lb);
		return spec_fail(r->err, r->path, mark, ERR_INVAL, "%s must be %s %s, got %s",
				 t->name, t->hi_open ? "<" : "<=", lb, vb);
	}
	return 0;
}

/* An lr rule {c, m0, k}: c·(m0/m)^k; m0 and k default to 1 (so {c: 2} is 2/m). */
static int parse_rule(struct rd *r, int in, const yaml_node_t *node, struct spec_val *val)
{
	struct spec_mark seen[RULE_COUNT] = {{0, 0}};
	char what[48];
	double x;
	int rc;

	val->rule = true;
	val->x = NAN;
	val->m0 = 1;
	val->k = 1;
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *key = get(r, p->key), *v = get(r, p->value);
		int idx;
		rc = table_key(r, key, rule_names, RULE_COUNT, seen, &idx);
		if (rc)
			return rc;
		if (idx < 0) {
			char where[48];
			snprintf(where, sizeof where, "the %s rule {c, m0, k}",
				 spec_in_table[in].name);
			return unknown_key(r, key, where, rule_names, RULE_COUNT);
		}
		snprintf(what, sizeof what, "%s rule %s", spec_in_table[in].name, rule_names[idx]);
		rc = parse_real(r, v, what, &x);
		if (rc)
			return rc;
		if (idx == RULE_C || idx == RULE_M0) {
			if (!(x > 0))
				return spec_fail(r->err, r->path, mark_of(v), ERR_INVAL,
						 "%s must be > 0", what);
			if (idx == RULE_C)
				val->x = x;
			else
				val->m0 = x;
		} else {
			val->k = x;
		}
	}
	if (!seen[RULE_C].line)
		return spec_fail(r->err, r->path, mark_of(node), ERR_INVAL,
				 "the %s rule needs c (lr = c·(m0/m)^k; m0, k default to 1)",
				 spec_in_table[in].name);
	return 0;
}

/* parse_value - one value of input IN from NODE (a scalar, or an lr rule). */
static int parse_value(struct rd *r, int in, const yaml_node_t *node, struct spec_val *val)
{
	const struct spec_in_info *t = &spec_in_table[in];
	char buf[64];
	const char *near;
	int rc;

	memset(val, 0, sizeof *val);
	val->mark = mark_of(node);
	switch (t->kind) {
	case KIND_INT:
		rc = parse_int(r, node, t->name, &val->i);
		if (rc)
			return rc;
		return check_range(r, in, (double)val->i, val->mark);
	case KIND_REAL:
	case KIND_LR:
		if (t->kind == KIND_LR && node->type == YAML_MAPPING_NODE)
			return parse_rule(r, in, node, val);
		rc = parse_real(r, node, t->name, &val->x);
		if (rc)
			return rc;
		return check_range(r, in, val->x, val->mark);
	case KIND_BOOL:
		if (is_plain(node) && (scalar_is(node, "true") || scalar_is(node, "True") ||
				       scalar_is(node, "TRUE"))) {
			val->i = 1;
			return 0;
		}
		if (is_plain(node) && (scalar_is(node, "false") || scalar_is(node, "False") ||
				       scalar_is(node, "FALSE"))) {
			val->i = 0;
			return 0;
		}
		return spec_fail(r->err, r->path, val->mark, ERR_INVAL,
				 "%s must be true or false, got %s", t->name,
				 show(node, buf, sizeof buf));
	case KIND_DIST: {
		static const char *const dists[] = {"power", "exponential", "linear"};
		int idx = node->type == YAML_SCALAR_NODE ? lookup(node, dists, 3) : -1;
		if (idx >= 0) {
			val->i = idx;
			return 0;
		}
		near = node->type == YAML_SCALAR_NODE &&
				       strlen((const char *)node->data.scalar.value) ==
					       node->data.scalar.length
			       ? spec_nearest((const char *)node->data.scalar.value, dists, 3)
			       : NULL;
		return spec_fail(r->err, r->path, val->mark, ERR_INVAL,
				 "dist must be power, exponential or linear, got %s%s%s%s",
				 show(node, buf, sizeof buf), near ? " (did you mean '" : "",
				 near ? near : "", near ? "'?)" : "");
	}
	}
	return ERR_INVAL;
}

/* ---- definitions ---- */

static int define(struct rd *r, int in, const yaml_node_t *key)
{
	struct spec_src *s = r->src;
	struct spec_mark m = mark_of(key);

	if (s->def[in].line)
		return spec_fail(r->err, r->path, m, ERR_INVAL,
				 "%s is set twice (first at %d:%d); give each parameter once, as a "
				 "fixed value or as an axis",
				 spec_in_table[in].name, s->def[in].line, s->def[in].col);
	s->def[in] = m;
	return 0;
}

static int set_fixed(struct rd *r, int in, const yaml_node_t *key, const yaml_node_t *value)
{
	struct spec_src *s = r->src;
	int rc = define(r, in, key);

	if (rc)
		return rc;
	rc = parse_value(r, in, value, &s->fixed[in]);
	if (rc)
		return rc;
	s->where[in] = WHERE_FIXED;
	return 0;
}

/* ---- axes ---- */

/* A mapping with a generator key (linspace, logspace, range, round). */
static bool is_generator(struct rd *r, const yaml_node_t *node)
{
	if (node->type != YAML_MAPPING_NODE)
		return false;
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	     p++)
		if (lookup(get(r, p->key), gen_names, GEN_COUNT) >= 0)
			return true;
	return false;
}

/* A fixed value of IN rather than an axis: a scalar, or an lr rule mapping
 * that is not a generator. */
static bool is_fixed_value(struct rd *r, int in, const yaml_node_t *node)
{
	return node->type == YAML_SCALAR_NODE ||
	       (node->type == YAML_MAPPING_NODE && spec_in_table[in].kind == KIND_LR &&
		!is_generator(r, node));
}

/* NODE cannot be one value of IN: a list, or a mapping other than an lr rule
 * (an lr generator mapping passes here and fails as a rule). */
static bool is_many_values(int in, const yaml_node_t *node)
{
	return node->type == YAML_SEQUENCE_NODE ||
	       (node->type == YAML_MAPPING_NODE && spec_in_table[in].kind != KIND_LR);
}

/* Snap X to a nearby integer (within 1e-9 relative): logspace(10, 100, 6)
 * computes 10^1.4 etc.; exp/log rounding must not turn 100 into 99.999... */
static double snap(double x)
{
	double r = nearbyint(x);

	if (r != 0 && fabs(x - r) <= 1e-9 * fabs(r))
		return r;
	if (r == 0 && fabs(x) <= 1e-300)
		return 0;
	return x;
}

static int generate(struct rd *r, int in, const yaml_node_t *node, struct spec_val **vals,
		    size_t *len)
{
	const struct spec_in_info *t = &spec_in_table[in];
	struct spec_mark seen[GEN_COUNT] = {{0, 0}};
	const yaml_node_t *list = NULL, *gen_key = NULL;
	enum round_mode round = ROUND_NONE;
	int gen = -1, rc;
	double a = 0, b = 0, step = 1;
	int64_t ia = 0, ib = 0, istep = 1;
	size_t count = 0;
	struct spec_val *out = NULL;
	char what[64], buf[64];

	if (t->kind == KIND_BOOL || t->kind == KIND_DIST)
		return spec_fail(r->err, r->path, mark_of(node), ERR_INVAL,
				 "%s takes a list of values, not a generator", t->name);
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *key = get(r, p->key), *v = get(r, p->value);
		int idx;
		rc = table_key(r, key, gen_names, GEN_COUNT, seen, &idx);
		if (rc)
			return rc;
		if (idx < 0) {
			snprintf(what, sizeof what, "the axis of %s", t->name);
			return unknown_key(r, key, what, gen_names, GEN_COUNT);
		}
		if (idx == GEN_ROUND) {
			static const char *const modes[] = {"floor", "ceil", "nearest"};
			int mi = v->type == YAML_SCALAR_NODE ? lookup(v, modes, 3) : -1;
			if (mi < 0)
				return spec_fail(r->err, r->path, mark_of(v), ERR_INVAL,
						 "round must be floor, ceil or nearest, got %s",
						 show(v, buf, sizeof buf));
			round = (enum round_mode)(mi + 1);
			continue;
		}
		if (gen >= 0)
			return spec_fail(r->err, r->path, mark_of(key), ERR_INVAL,
					 "an axis has one generator: %s and %s both given",
					 gen_names[gen], gen_names[idx]);
		gen = idx;
		list = v;
		gen_key = key;
	}
	if (gen < 0)
		return spec_fail(r->err, r->path, mark_of(node), ERR_INVAL,
				 "the axis of %s needs linspace: [a, b, k], logspace: [a, b, k] or "
				 "range: [a, b, step] (or a list of values)",
				 t->name);
	if (list->type != YAML_SEQUENCE_NODE)
		return spec_fail(r->err, r->path, mark_of(list), ERR_INVAL,
				 "%s takes a list [a, b, %s], not %s", gen_names[gen],
				 gen == GEN_RANGE ? "step" : "k", node_type_name(list));
	{
		yaml_node_item_t *it = list->data.sequence.items.start;
		size_t nitems = (size_t)(list->data.sequence.items.top - it);
		if (gen == GEN_RANGE ? (nitems < 2 || nitems > 3) : nitems != 3)
			return spec_fail(r->err, r->path, mark_of(list), ERR_INVAL,
					 "%s takes %s, got %zu values", gen_names[gen],
					 gen == GEN_RANGE ? "[a, b] or [a, b, step]" : "[a, b, k]",
					 nitems);
		if (gen == GEN_RANGE) {
			snprintf(what, sizeof what, "range start of %s", t->name);
			rc = parse_int(r, get(r, it[0]), what, &ia);
			if (rc)
				return rc;
			snprintf(what, sizeof what, "range end of %s", t->name);
			rc = parse_int(r, get(r, it[1]), what, &ib);
			if (rc)
				return rc;
			if (nitems == 3) {
				snprintf(what, sizeof what, "range step of %s", t->name);
				rc = parse_int(r, get(r, it[2]), what, &istep);
				if (rc)
					return rc;
				if (istep == 0)
					return spec_fail(r->err, r->path, mark_of(get(r, it[2])),
							 ERR_INVAL, "range step must not be 0");
			}
			/* |ia|, |ib| <= 2^53, so ib - ia fits */
			if ((istep > 0 && ib < ia) || (istep < 0 && ib > ia))
				return spec_fail(r->err, r->path, mark_of(list), ERR_INVAL,
						 "empty range: no value from %lld to %lld in steps "
						 "of %lld",
						 (long long)ia, (long long)ib, (long long)istep);
			{
				uint64_t span =
					istep > 0 ? (uint64_t)(ib - ia) : (uint64_t)(ia - ib);
				uint64_t st =
					istep > 0 ? (uint64_t)istep : (uint64_t)0 - (uint64_t)istep;
				uint64_t c = span / st + 1;
				if (c > r->max_axis)
					return spec_fail(r->err, r->path, mark_of(list), ERR_INVAL,
							 "range gives %llu values, more than the "
							 "limit of %zu points",
							 (unsigned long long)c, r->max_axis);
				count = (size_t)c;
			}
		} else {
			int64_t k;
			snprintf(what, sizeof what, "%s start of %s", gen_names[gen], t->name);
			rc = parse_real(r, get(r, it[0]), what, &a);
			if (rc)
				return rc;
			snprintf(what, sizeof what, "%s end of %s", gen_names[gen], t->name);
			rc = parse_real(r, get(r, it[1]), what, &b);
			if (rc)
				return rc;
			snprintf(what, sizeof what, "%s count", gen_names[gen]);
			rc = parse_int(r, get(r, it[2]), what, &k);
			if (rc)
				return rc;
			if (k < 1)
				return spec_fail(r->err, r->path, mark_of(get(r, it[2])), ERR_INVAL,
						 "%s count must be >= 1, got %lld", gen_names[gen],
						 (long long)k);
			if ((uint64_t)k > r->max_axis)
				return spec_fail(
					r->err, r->path, mark_of(get(r, it[2])), ERR_INVAL,
					"%s count %lld is more than the limit of %zu points",
					gen_names[gen], (long long)k, r->max_axis);
			if (gen == GEN_LOGSPACE && !(a > 0 && b > 0))
				return spec_fail(r->err, r->path, mark_of(list), ERR_INVAL,
						 "logspace needs a > 0 and b > 0 (values, not "
						 "exponents)");
			if (k > 1 && !isfinite(b - a))
				return spec_fail(r->err, r->path, mark_of(list), ERR_INVAL,
						 "%s span is too large", gen_names[gen]);
			count = (size_t)k;
		}
	}
	out = calloc(count, sizeof *out);
	if (!out)
		return spec_fail(r->err, r->path, mark_of(node), ERR_NOMEM, "out of memory");
	if (gen == GEN_LOGSPACE)
		step = log(b / a);
	for (size_t i = 0; i < count; i++) {
		double v, frac = count > 1 ? (double)i / (double)(count - 1) : 0;
		struct spec_val *val = &out[i];
		val->mark = mark_of(gen_key);
		if (gen == GEN_RANGE) {
			v = (double)(ia + (int64_t)i * istep);
		} else if (i == 0) {
			v = a;
		} else if (i == count - 1) {
			v = b;
		} else if (gen == GEN_LINSPACE) {
			v = snap(a + (b - a) * frac);
		} else {
			v = snap(a * exp(step * frac));
		}
		if (gen != GEN_RANGE && v != nearbyint(v))
			v = spec_round15(v);
		switch (round) {
		case ROUND_FLOOR: v = floor(v); break;
		case ROUND_CEIL: v = ceil(v); break;
		case ROUND_NEAREST: v = nearbyint(v); break;
		case ROUND_NONE: break;
		}
		if (v == 0)
			v = 0.0;
		if (t->kind == KIND_INT) {
			if (v != floor(v)) {
				spec_format_real(v, buf, sizeof buf);
				free(out);
				return spec_fail(r->err, r->path, mark_of(gen_key), ERR_INVAL,
						 "%s gives %s for the integer parameter %s; add "
						 "round: floor, ceil or nearest",
						 gen_names[gen], buf, t->name);
			}
		}
		rc = check_range(r, in, v, mark_of(gen_key));
		if (rc) {
			free(out);
			return rc;
		}
		if (t->kind == KIND_INT)
			val->i = (int64_t)v;
		else
			val->x = v;
	}
	*vals = out;
	*len = count;
	return 0;
}

/* read_axis - the values of an axis of IN: a list (each item a value) or a
 * generator mapping.  Gives *VALS (owned by the caller). */
static int read_axis(struct rd *r, int in, const yaml_node_t *node, struct spec_val **vals,
		     size_t *len)
{
	struct spec_val *out;
	size_t n;
	int rc;

	if (node->type == YAML_MAPPING_NODE)
		return generate(r, in, node, vals, len);
	if (node->type != YAML_SEQUENCE_NODE)
		return spec_fail(r->err, r->path, mark_of(node), ERR_INVAL,
				 "the axis of %s must be a list or a generator, not %s",
				 spec_in_table[in].name, node_type_name(node));
	n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
	if (n == 0)
		return spec_fail(r->err, r->path, mark_of(node), ERR_INVAL,
				 "the axis of %s is empty", spec_in_table[in].name);
	if (n > r->max_axis)
		return spec_fail(r->err, r->path, mark_of(node), ERR_INVAL,
				 "the axis of %s has more than %zu values", spec_in_table[in].name,
				 r->max_axis);
	out = calloc(n, sizeof *out);
	if (!out)
		return spec_fail(r->err, r->path, mark_of(node), ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const yaml_node_t *item = get(r, node->data.sequence.items.start[i]);
		if (is_many_values(in, item)) {
			free(out);
			return spec_fail(r->err, r->path, mark_of(item), ERR_INVAL,
					 "an axis value of %s must be a single value, not %s",
					 spec_in_table[in].name, node_type_name(item));
		}
		rc = parse_value(r, in, item, &out[i]);
		if (rc) {
			free(out);
			return rc;
		}
	}
	*vals = out;
	*len = n;
	return 0;
}

static struct spec_group *new_group(struct rd *r, const yaml_node_t *node)
{
	struct spec_src *s = r->src;
	struct spec_group *g;

	if (s->ngroups == s->groups_cap) {
		size_t cap = s->groups_cap ? 2 * s->groups_cap : 8;
		struct spec_group *ng = realloc(s->groups, cap * sizeof *ng);
		if (!ng) {
			spec_fail(r->err, r->path, mark_of(node), ERR_NOMEM, "out of memory");
			return NULL;
		}
		s->groups = ng;
		s->groups_cap = cap;
	}
	g = &s->groups[s->ngroups++];
	memset(g, 0, sizeof *g);
	g->mark = mark_of(node);
	return g;
}

/* Adds member IN with VALS (taken) to the last group. */
static void group_add(struct rd *r, int in, struct spec_val *vals, size_t len)
{
	struct spec_src *s = r->src;
	struct spec_group *g = &s->groups[s->ngroups - 1];

	g->mem[g->nmem] = in;
	g->vals[g->nmem] = vals;
	g->nmem++;
	g->len = len;
	s->where[in] = WHERE_AXIS;
	s->group_of[in] = (int)(s->ngroups - 1);
}

static int read_zip_group(struct rd *r, const yaml_node_t *node)
{
	struct spec_group *g;
	struct spec_mark first_mark = {0, 0};
	const char *first_name = NULL;
	int rc;

	if (node->type != YAML_MAPPING_NODE)
		return spec_fail(r->err, r->path, mark_of(node), ERR_INVAL,
				 "a zip group must be a mapping of equal-length lists, not %s",
				 node_type_name(node));
	if (node->data.mapping.pairs.top == node->data.mapping.pairs.start)
		return spec_fail(r->err, r->path, mark_of(node), ERR_INVAL, "empty zip group");
	g = new_group(r, node);
	if (!g)
		return ERR_NOMEM;
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *key = get(r, p->key), *v = get(r, p->value);
		struct spec_val *vals = NULL;
		size_t len = 0;
		int in;
		rc = param_key(r, key, "zip", IN_COUNT, &in);
		if (rc)
			return rc;
		rc = define(r, in, key);
		if (rc)
			return rc;
		if (is_fixed_value(r, in, v))
			return spec_fail(r->err, r->path, mark_of(v), ERR_INVAL,
					 "%s in a zip group must be a list or a generator (a fixed "
					 "value belongs under model: or train:)",
					 spec_in_table[in].name);
		rc = read_axis(r, in, v, &vals, &len);
		if (rc)
			return rc;
		if (g->nmem && len != g->len) {
			free(vals);
			return spec_fail(r->err, r->path, mark_of(v), ERR_INVAL,
					 "zip lists must have equal lengths: %s has %zu values, %s "
					 "(at %d:%d) has %zu",
					 spec_in_table[in].name, len, first_name, first_mark.line,
					 first_mark.col, g->len);
		}
		if (!g->nmem) {
			first_name = spec_in_table[in].name;
			first_mark = mark_of(v);
		}
		group_add(r, in, vals, len);
	}
	return 0;
}

static int read_zip(struct rd *r, const yaml_node_t *node)
{
	int rc;

	if (node->type == YAML_MAPPING_NODE)
		return read_zip_group(r, node);
	if (node->type != YAML_SEQUENCE_NODE)
		return spec_fail(
			r->err, r->path, mark_of(node), ERR_INVAL,
			"zip must be a group {param: [...], ...} or a list of groups, not %s",
			node_type_name(node));
	if (node->data.sequence.items.top == node->data.sequence.items.start)
		return spec_fail(r->err, r->path, mark_of(node), ERR_INVAL, "zip is empty");
	for (yaml_node_item_t *it = node->data.sequence.items.start;
	     it < node->data.sequence.items.top; it++) {
		rc = read_zip_group(r, get(r, *it));
		if (rc)
			return rc;
	}
	return 0;
}

static int read_grid(struct rd *r, const yaml_node_t *node)
{
	struct spec_mark zip_seen = {0, 0};
	int rc;

	if (node->type != YAML_MAPPING_NODE)
		return spec_fail(r->err, r->path, mark_of(node), ERR_INVAL,
				 "grid must be a mapping of axes (param: [values]), not %s",
				 node_type_name(node));
	if (node->data.mapping.pairs.top == node->data.mapping.pairs.start)
		return spec_fail(r->err, r->path, mark_of(node), ERR_INVAL,
				 "empty grid: give at least one axis (or remove grid: for a "
				 "single job)");
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *key = get(r, p->key), *v = get(r, p->value);
		struct spec_val *vals = NULL;
		size_t len = 0;
		int in;
		/* "zip" is a word, which check_key (in param_key) would pass */
		if (scalar_is(key, "zip")) {
			if (zip_seen.line)
				return duplicate_key(r, key, zip_seen);
			zip_seen = mark_of(key);
			rc = read_zip(r, v);
			if (rc)
				return rc;
			continue;
		}
		rc = param_key(r, key, "grid", IN_COUNT + 1, &in);
		if (rc)
			return rc;
		if (is_fixed_value(r, in, v)) {
			rc = set_fixed(r, in, key, v);
			if (rc)
				return rc;
			continue;
		}
		rc = define(r, in, key);
		if (rc)
			return rc;
		rc = read_axis(r, in, v, &vals, &len);
		if (rc)
			return rc;
		if (!new_group(r, key)) {
			free(vals);
			return ERR_NOMEM;
		}
		group_add(r, in, vals, len);
	}
	return 0;
}

static int read_settings(struct rd *r, const yaml_node_t *node, const char *section)
{
	int rc;

	if (node->type != YAML_MAPPING_NODE)
		return spec_fail(r->err, r->path, mark_of(node), ERR_INVAL,
				 "%s must be a mapping of settings (param: value), not %s", section,
				 node_type_name(node));
	for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *key = get(r, p->key), *v = get(r, p->value);
		int in;
		rc = param_key(r, key, section, IN_COUNT, &in);
		if (rc)
			return rc;
		if (is_many_values(in, v))
			return spec_fail(
				r->err, r->path, mark_of(v), ERR_INVAL,
				"%s under %s takes a single value, not %s; put axes (lists, "
				"linspace, logspace, range) under grid:",
				spec_in_table[in].name, section, node_type_name(v));
		rc = set_fixed(r, in, key, v);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- filter ---- */

static bool ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool ident_char(char c)
{
	return ident_start(c) || (c >= '0' && c <= '9');
}

struct operand {
	int param;  /* spec_params index or -1 */
	double num; /* number, or dist enum */
	bool dist;  /* a dist name */
};

static int parse_operand(struct rd *r, const char *s, size_t n, size_t *pos, struct spec_mark base,
			 const char *cond, struct operand *op)
{
	size_t i = *pos, start;
	struct spec_mark m = base;
	char word[64];

	while (i < n && s[i] == ' ')
		i++;
	start = i;
	m.col = base.col + (int)start;
	op->param = -1;
	op->dist = false;
	op->num = 0;
	if (i < n && ident_start(s[i])) {
		const char *pnames[32], *near;
		size_t np = 0;
		enum spec_dist d;
		while (i < n && ident_char(s[i]))
			i++;
		if (i - start >= sizeof word)
			return spec_fail(r->err, r->path, m, ERR_INVAL,
					 "filter '%s': name too long", cond);
		memcpy(word, s + start, i - start);
		word[i - start] = '\0';
		op->param = spec_param_index(word);
		if (op->param < 0 && spec_dist_parse(word, &d) == 0) {
			op->dist = true;
			op->num = (double)d;
		} else if (op->param < 0) {
			for (size_t k = 0; k < spec_nparams && np < 31; k++)
				pnames[np++] = spec_params[k].name;
			pnames[np++] = "lr";
			near = spec_nearest(word, pnames, np);
			return spec_fail(r->err, r->path, m, ERR_INVAL,
					 "filter '%s': unknown parameter '%s'%s%s%s", cond, word,
					 near ? " (did you mean '" : "", near ? near : "",
					 near ? "'?)" : "");
		}
	} else {
		bool integral;
		char num[64];
		/* [-+]? [0-9.]* ([eE] [-+]? [0-9]*)?, then checked by number_syntax */
		if (i < n && (s[i] == '-' || s[i] == '+'))
			i++;
		while (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
			i++;
		if (i < n && (s[i] == 'e' || s[i] == 'E')) {
			i++;
			if (i < n && (s[i] == '-' || s[i] == '+'))
				i++;
			while (i < n && s[i] >= '0' && s[i] <= '9')
				i++;
		}
		if (i == start || i - start >= sizeof num ||
		    !number_syntax(s + start, i - start, &integral))
			return spec_fail(r->err, r->path, m, ERR_INVAL,
					 "filter '%s': expected a parameter name or a number",
					 cond);
		memcpy(num, s + start, i - start);
		num[i - start] = '\0';
		op->num = strtod(num, NULL);
		if (!isfinite(op->num))
			return spec_fail(r->err, r->path, m, ERR_INVAL,
					 "filter '%s': number out of range", cond);
	}
	*pos = i;
	return 0;
}

static int parse_cond(struct rd *r, const yaml_node_t *node)
{
	static const struct {
		const char *text;
		enum spec_op op;
	} ops[] = {{"<=", OP_LE}, {">=", OP_GE}, {"==", OP_EQ},
		   {"!=", OP_NE}, {"<", OP_LT},	 {">", OP_GT}};
	struct spec_src *s = r->src;
	struct spec_mark base = mark_of(node);
	const char *text;
	size_t n, pos = 0;
	struct operand lhs, rhs;
	struct spec_cond *c;
	char buf[64];
	int op = -1, rc;

	if (node->type != YAML_SCALAR_NODE)
		return spec_fail(r->err, r->path, base, ERR_INVAL,
				 "a filter condition must be a string such as \"m <= n\", not %s",
				 node_type_name(node));
	text = (const char *)node->data.scalar.value;
	n = node->data.scalar.length;
	if (strlen(text) != n || n > 200)
		return spec_fail(r->err, r->path, base, ERR_INVAL,
				 "filter condition %s is not a comparison",
				 show(node, buf, sizeof buf));
	if (node->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
	    node->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE)
		base.col++;
	rc = parse_operand(r, text, n, &pos, base, text, &lhs);
	if (rc)
		return rc;
	while (pos < n && text[pos] == ' ')
		pos++;
	for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
		if (!strncmp(text + pos, ops[k].text, strlen(ops[k].text))) {
			op = (int)ops[k].op;
			pos += strlen(ops[k].text);
			break;
		}
	if (op < 0) {
		struct spec_mark m = base;
		m.col += (int)pos;
		return spec_fail(r->err, r->path, m, ERR_INVAL,
				 "filter '%s': expected a comparison (<, <=, >, >=, ==, !=)", text);
	}
	rc = parse_operand(r, text, n, &pos, base, text, &rhs);
	if (rc)
		return rc;
	while (pos < n && text[pos] == ' ')
		pos++;
	if (pos < n) {
		struct spec_mark m = base;
		m.col += (int)pos;
		return spec_fail(r->err, r->path, m, ERR_INVAL,
				 "filter '%s': unexpected text after the comparison", text);
	}
	if (lhs.param < 0 && rhs.param < 0)
		return spec_fail(r->err, r->path, base, ERR_INVAL,
				 "filter '%s' compares no parameter", text);
	{
		bool ldist = lhs.param >= 0 && spec_params[lhs.param].type == SPEC_DIST;
		bool rdist = rhs.param >= 0 && spec_params[rhs.param].type == SPEC_DIST;
		bool lname = lhs.dist, rname = rhs.dist;
		if (ldist || rdist || lname || rname) {
			bool ok = (ldist || lname) && (rdist || rname) &&
				  (op == OP_EQ || op == OP_NE);
			if (!ok)
				return spec_fail(r->err, r->path, base, ERR_INVAL,
						 "filter '%s': dist compares only with == or != to "
						 "power, exponential or linear",
						 text);
		}
	}
	if (s->nconds == s->conds_cap) {
		size_t cap = s->conds_cap ? 2 * s->conds_cap : 4;
		struct spec_cond *nc = realloc(s->conds, cap * sizeof *nc);
		if (!nc)
			return spec_fail(r->err, r->path, base, ERR_NOMEM, "out of memory");
		s->conds = nc;
		s->conds_cap = cap;
	}
	c = &s->conds[s->nconds];
	memset(c, 0, sizeof *c);
	c->text = strndup(text, n);
	if (!c->text)
		return spec_fail(r->err, r->path, base, ERR_NOMEM, "out of memory");
	s->nconds++;
	c->lhs = lhs.param;
	c->rhs = rhs.param;
	c->lnum = lhs.num;
	c->rnum = rhs.num;
	c->op = (enum spec_op)op;
	c->mark = mark_of(node);
	return 0;
}

static int read_filter(struct rd *r, const yaml_node_t *node)
{
	int rc;

	if (node->type == YAML_SCALAR_NODE)
		return parse_cond(r, node);
	if (node->type != YAML_SEQUENCE_NODE)
		return spec_fail(r->err, r->path, mark_of(node), ERR_INVAL,
				 "filter must be a list of conditions such as [\"m <= n\"], not %s",
				 node_type_name(node));
	for (yaml_node_item_t *it = node->data.sequence.items.start;
	     it < node->data.sequence.items.top; it++) {
		rc = parse_cond(r, get(r, *it));
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- top level ---- */

static int read_name(struct rd *r, const yaml_node_t *node)
{
	const unsigned char *v;
	size_t n;
	char buf[64];

	if (node->type != YAML_SCALAR_NODE || node->data.scalar.length == 0)
		return spec_fail(r->err, r->path, mark_of(node), ERR_INVAL,
				 "name must be a non-empty string");
	v = node->data.scalar.value;
	n = node->data.scalar.length;
	if (n > 200)
		return spec_fail(r->err, r->path, mark_of(node), ERR_INVAL,
				 "name is longer than 200 bytes");
	for (size_t i = 0; i < n; i++)
		if (v[i] < 0x20 || v[i] == 0x7f)
			return spec_fail(r->err, r->path, mark_of(node), ERR_INVAL,
					 "name %s contains a control character",
					 show(node, buf, sizeof buf));
	r->src->name = strndup((const char *)v, n);
	if (!r->src->name)
		return spec_fail(r->err, r->path, mark_of(node), ERR_NOMEM, "out of memory");
	return 0;
}

static int read_seed(struct rd *r, const yaml_node_t *node)
{
	const char *v;
	char *end;
	char buf[64];
	unsigned long long x;

	if (!is_plain(node))
		goto bad;
	v = (const char *)node->data.scalar.value;
	if (node->data.scalar.length == 0 || strlen(v) != node->data.scalar.length)
		goto bad;
	for (size_t i = 0; i < node->data.scalar.length; i++)
		if (v[i] < '0' || v[i] > '9')
			goto bad;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno == ERANGE || *end)
		goto bad;
	r->src->seed = (uint64_t)x;
	return 0;
bad:
	return spec_fail(r->err, r->path, mark_of(node), ERR_INVAL,
			 "the campaign seed must be an integer in [0, 2^64-1], got %s",
			 show(node, buf, sizeof buf));
}

static int read_top(struct rd *r, const yaml_node_t *root)
{
	struct spec_mark seen[TOP_COUNT] = {{0, 0}};
	int rc;

	if (root->type != YAML_MAPPING_NODE)
		return spec_fail(
			r->err, r->path, mark_of(root), ERR_INVAL,
			"a spec is a mapping (name, seed, model, train, grid, zip, filter), "
			"not %s",
			node_type_name(root));
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *key = get(r, p->key), *v = get(r, p->value);
		int idx;
		rc = table_key(r, key, top_names, TOP_COUNT, seen, &idx);
		if (rc)
			return rc;
		if (idx < 0) {
			char buf[64];
			if (in_lookup(key) >= 0)
				return spec_fail(
					r->err, r->path, mark_of(key), ERR_INVAL,
					"%s is a job parameter: put it under model:, train: "
					"or grid:",
					show(key, buf, sizeof buf));
			return unknown_key(r, key, "the spec", top_names, TOP_COUNT);
		}
		switch ((enum top_key)idx) {
		case TOP_NAME: rc = read_name(r, v); break;
		case TOP_SEED: rc = read_seed(r, v); break;
		case TOP_MODEL: rc = read_settings(r, v, "model"); break;
		case TOP_TRAIN: rc = read_settings(r, v, "train"); break;
		case TOP_GRID:
			r->src->grid_mark = mark_of(key);
			rc = read_grid(r, v);
			break;
		case TOP_ZIP: rc = read_zip(r, v); break;
		case TOP_FILTER:
			r->src->filter_mark = mark_of(key);
			rc = read_filter(r, v);
			break;
		case TOP_COUNT: rc = ERR_INVAL; break;
		}
		if (rc)
			return rc;
	}
	if (r->src->where[IN_WARMUP] && r->src->where[IN_WARMUP_FRAC])
		return spec_fail(r->err, r->path, r->src->def[IN_WARMUP_FRAC], ERR_INVAL,
				 "give warmup or warmup_frac, not both (warmup at %d:%d)",
				 r->src->def[IN_WARMUP].line, r->src->def[IN_WARMUP].col);
	return 0;
}

static int syntax_error(struct rd *r, yaml_parser_t *parser)
{
	struct spec_mark m;

	if (parser->error == YAML_MEMORY_ERROR)
		return spec_fail(r->err, r->path, (struct spec_mark){0, 0}, ERR_NOMEM,
				 "out of memory (YAML parser)");
	m = mark_at(parser->problem_mark);
	if (parser->context)
		return spec_fail(
			r->err, r->path, m, ERR_INVAL, "YAML syntax error: %s (%s at %zu:%zu)",
			parser->problem ? parser->problem : "unknown problem", parser->context,
			parser->context_mark.line + 1, parser->context_mark.column + 1);
	return spec_fail(r->err, r->path, m, ERR_INVAL, "YAML syntax error: %s",
			 parser->problem ? parser->problem : "unknown problem");
}

int spec_read(const char *text, size_t len, const char *path, size_t max_axis, struct spec_src *src,
	      char *err)
{
	yaml_parser_t parser;
	yaml_document_t doc, doc2;
	bool have_doc = false, have_doc2 = false;
	struct rd r;
	yaml_node_t *root;
	int rc;

	memset(&r, 0, sizeof r);
	r.path = path;
	r.err = err;
	r.doc = &doc;
	r.src = src;
	r.max_axis = max_axis;
	for (int i = 0; i < IN_COUNT; i++)
		r.in_names[i] = spec_in_table[i].name;
	r.in_names[IN_COUNT] = "zip";
	src->seed = 0;
	if (!yaml_parser_initialize(&parser))
		return spec_fail(err, path, (struct spec_mark){0, 0}, ERR_NOMEM,
				 "out of memory (YAML parser)");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		rc = syntax_error(&r, &parser);
		goto out;
	}
	have_doc = true;
	root = yaml_document_get_root_node(&doc);
	if (!root) {
		rc = spec_fail(err, path, (struct spec_mark){1, 1}, ERR_INVAL,
			       "empty spec: no YAML document (see docs/SPEC.md)");
		goto out;
	}
	src->root = mark_of(root);
	if (is_plain(root) && root->data.scalar.length == 0) {
		rc = spec_fail(err, path, (struct spec_mark){1, 1}, ERR_INVAL,
			       "empty spec: the YAML document is empty (see docs/SPEC.md)");
		goto out;
	}
	rc = read_top(&r, root);
	if (rc)
		goto out;
	if (!yaml_parser_load(&parser, &doc2)) {
		rc = syntax_error(&r, &parser);
		goto out;
	}
	have_doc2 = true;
	if (yaml_document_get_root_node(&doc2)) {
		rc = spec_fail(err, path, mark_of(yaml_document_get_root_node(&doc2)), ERR_INVAL,
			       "a second YAML document: a spec is one document");
		goto out;
	}
	rc = 0;
out:
	if (have_doc2)
		yaml_document_delete(&doc2);
	if (have_doc)
		yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rc;
}

void spec_src_free(struct spec_src *src)
{
	if (!src)
		return;
	free(src->name);
	for (size_t g = 0; g < src->ngroups; g++)
		for (int j = 0; j < src->groups[g].nmem; j++)
			free(src->groups[g].vals[j]);
	free(src->groups);
	for (size_t c = 0; c < src->nconds; c++)
		free(src->conds[c].text);
	free(src->conds);
	memset(src, 0, sizeof *src);
}
