/* campaign_read.c - serial read-only access to campaign-file columns.
 *
 * See campaign_read.h.  Uses the serial (sec2) driver of the same HDF5
 * library the writer uses; file locking is turned off in the file access
 * property list (the writer's MPI-IO driver takes no lock, and a locked open
 * would fail while a campaign runs).  Probing calls that may fail run
 * between H5E_BEGIN_TRY/H5E_END_TRY so HDF5 prints no error stacks; every
 * failure becomes one message in the caller's buffer.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "supersweep/campaign_read.h"
#include "supersweep/err.h"

struct campaign_reader {
	char *path;   /* file name for messages (owned) */
	hid_t file;   /* open file */
	size_t nrows; /* length of /jobs/status */
};

static void set_err(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_err(char *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(err, CAMPAIGN_READ_ERR_LEN, fmt, ap);
	va_end(ap);
}

static bool link_exists(hid_t loc, const char *path)
{
	htri_t e;

	H5E_BEGIN_TRY
	{
		e = H5Lexists(loc, path, H5P_DEFAULT);
	}
	H5E_END_TRY;
	return e > 0;
}

/* resolve - the dataset path of column NAME into BUF, or -1 if none exists. */
static int resolve(const struct campaign_reader *r, const char *name, char *buf, size_t len)
{
	static const char *const groups[] = {"jobs", "metrics"};
	int n;

	if (name[0] == '\0' || strstr(name, "..") != NULL)
		return -1;
	if (strncmp(name, "jobs/", 5) == 0 || strncmp(name, "metrics/", 8) == 0) {
		if (strchr(strchr(name, '/') + 1, '/') != NULL)
			return -1;
		n = snprintf(buf, len, "/%s", name);
		if (n < 0 || (size_t)n >= len)
			return -1;
		return link_exists(r->file, buf) ? 0 : -1;
	}
	if (strchr(name, '/') != NULL)
		return -1;
	for (size_t g = 0; g < 2; g++) {
		n = snprintf(buf, len, "/%s", groups[g]);
		if (n < 0 || (size_t)n >= len || !link_exists(r->file, buf))
			continue;
		n = snprintf(buf, len, "/%s/%s", groups[g], name);
		if (n < 0 || (size_t)n >= len)
			return -1;
		if (link_exists(r->file, buf))
			return 0;
	}
	return -1;
}

struct list_ctx {
	char *buf;
	size_t len, used;
};

static herr_t list_one(hid_t g, const char *name, const H5L_info_t *info, void *arg)
{
	struct list_ctx *c = arg;
	int n;

	(void)g;
	(void)info;
	if (c->used >= c->len)
		return 0;
	n = snprintf(c->buf + c->used, c->len - c->used, "%s%s", c->used ? ", " : "", name);
	if (n > 0)
		c->used += (size_t)n;
	return 0;
}

/* list_columns - "jobs: a, b; metrics: c, d" into BUF (for messages). */
static void list_columns(const struct campaign_reader *r, char *buf, size_t len)
{
	static const char *const groups[] = {"jobs", "metrics"};
	size_t used = 0;

	buf[0] = '\0';
	for (size_t g = 0; g < 2 && used < len; g++) {
		char path[16];
		struct list_ctx c;
		hid_t gid;
		int n;

		snprintf(path, sizeof path, "/%s", groups[g]);
		if (!link_exists(r->file, path))
			continue;
		n = snprintf(buf + used, len - used, "%s%s: ", used ? "; " : "", groups[g]);
		if (n < 0 || (size_t)n >= len - used)
			return;
		used += (size_t)n;
		H5E_BEGIN_TRY
		{
			gid = H5Gopen2(r->file, path, H5P_DEFAULT);
			if (gid >= 0) {
				c.buf = buf + used;
				c.len = len - used;
				c.used = 0;
				H5Literate(gid, H5_INDEX_NAME, H5_ITER_INC, NULL, list_one, &c);
				used += c.used < c.len ? c.used : c.len - 1;
				H5Gclose(gid);
			}
		}
		H5E_END_TRY;
	}
}

/* open_column - open the dataset of column NAME and check it is (nrows,). */
static int open_column(struct campaign_reader *r, const char *name, hid_t *dset, char *err)
{
	char path[512], cols[700];
	hid_t d = -1, space = -1;
	hsize_t dims[2];
	int nd, rc = ERR_CORRUPT;

	*dset = -1;
	if (resolve(r, name, path, sizeof path) != 0) {
		list_columns(r, cols, sizeof cols);
		set_err(err, "%s: no column '%s' (%s)", r->path, name, cols);
		return ERR_INVAL;
	}
	H5E_BEGIN_TRY
	{
		d = H5Dopen2(r->file, path, H5P_DEFAULT);
		space = d >= 0 ? H5Dget_space(d) : -1;
		nd = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
	}
	H5E_END_TRY;
	if (d < 0 || space < 0) {
		set_err(err, "%s: %s is not a readable dataset", r->path, path);
		rc = ERR_HDF5;
		goto out;
	}
	if (nd != 1 || H5Sget_simple_extent_dims(space, dims, NULL) != 1) {
		set_err(err, "%s: %s has %d dimensions, expected 1", r->path, path, nd);
		goto out;
	}
	if (dims[0] != (hsize_t)r->nrows) {
		set_err(err, "%s: %s has %llu rows, /jobs/status has %zu", r->path, path,
			(unsigned long long)dims[0], r->nrows);
		goto out;
	}
	*dset = d;
	d = -1;
	rc = 0;
out:
	if (space >= 0)
		H5Sclose(space);
	if (d >= 0)
		H5Dclose(d);
	return rc;
}

/* read_enum_values - read enum dataset D (type FTYPE) as integers into OUT. */
static int read_enum_values(struct campaign_reader *r, hid_t d, hid_t ftype, const char *name,
			    double *out, char *err)
{
	hid_t mtype = -1, super = -1;
	size_t size;
	H5T_sign_t sign;
	unsigned char *buf = NULL;
	herr_t st = -1;
	int rc = ERR_HDF5;

	H5E_BEGIN_TRY
	{
		mtype = H5Tget_native_type(ftype, H5T_DIR_ASCEND);
		super = mtype >= 0 ? H5Tget_super(mtype) : -1;
	}
	H5E_END_TRY;
	if (mtype < 0 || super < 0) {
		set_err(err, "%s: cannot read the type of column '%s'", r->path, name);
		goto out;
	}
	size = H5Tget_size(mtype);
	sign = H5Tget_sign(super);
	if (size != 1 && size != 2 && size != 4 && size != 8) {
		set_err(err, "%s: enum column '%s' has a %zu-byte base type", r->path, name, size);
		rc = ERR_CORRUPT;
		goto out;
	}
	buf = malloc(r->nrows ? r->nrows * size : 1);
	if (buf == NULL) {
		set_err(err, "%s: out of memory reading '%s'", r->path, name);
		rc = ERR_NOMEM;
		goto out;
	}
	H5E_BEGIN_TRY
	{
		st = H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
	}
	H5E_END_TRY;
	if (st < 0) {
		set_err(err, "%s: reading column '%s' failed", r->path, name);
		goto out;
	}
	for (size_t i = 0; i < r->nrows; i++) {
		const unsigned char *p = buf + i * size;
		int64_t v = 0;

		switch (size) {
		case 1:
			v = sign == H5T_SGN_NONE ? (int64_t) * (const uint8_t *)p
						 : *(const int8_t *)p;
			break;
		case 2: {
			uint16_t u;
			memcpy(&u, p, 2);
			v = sign == H5T_SGN_NONE ? (int64_t)u : (int64_t)(int16_t)u;
			break;
		}
		case 4: {
			uint32_t u;
			memcpy(&u, p, 4);
			v = sign == H5T_SGN_NONE ? (int64_t)u : (int64_t)(int32_t)u;
			break;
		}
		default: memcpy(&v, p, 8); break;
		}
		out[i] = (double)v;
	}
	rc = 0;
out:
	free(buf);
	if (super >= 0)
		H5Tclose(super);
	if (mtype >= 0)
		H5Tclose(mtype);
	return rc;
}

int campaign_read_column(struct campaign_reader *r, const char *name, double *out, char *err)
{
	hid_t d = -1, ftype = -1;
	H5T_class_t cls;
	herr_t st = -1;
	int rc;

	rc = open_column(r, name, &d, err);
	if (rc != 0)
		return rc;
	ftype = H5Dget_type(d);
	if (ftype < 0) {
		set_err(err, "%s: cannot read the type of column '%s'", r->path, name);
		rc = ERR_HDF5;
		goto out;
	}
	cls = H5Tget_class(ftype);
	if (cls == H5T_ENUM) {
		rc = read_enum_values(r, d, ftype, name, out, err);
		goto out;
	}
	if (cls != H5T_INTEGER && cls != H5T_FLOAT) {
		set_err(err, "%s: column '%s' is not numeric", r->path, name);
		rc = ERR_INVAL;
		goto out;
	}
	if (r->nrows > 0) {
		H5E_BEGIN_TRY
		{
			st = H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
		}
		H5E_END_TRY;
		if (st < 0) {
			set_err(err, "%s: reading column '%s' failed", r->path, name);
			rc = ERR_HDF5;
			goto out;
		}
	}
	rc = 0;
out:
	if (ftype >= 0)
		H5Tclose(ftype);
	if (d >= 0)
		H5Dclose(d);
	return rc;
}

/* enum_type - the (file) type of enum column NAME, or -1. */
static hid_t enum_type(struct campaign_reader *r, const char *name)
{
	char path[512];
	hid_t d, t = -1;

	if (resolve(r, name, path, sizeof path) != 0)
		return -1;
	H5E_BEGIN_TRY
	{
		d = H5Dopen2(r->file, path, H5P_DEFAULT);
		if (d >= 0) {
			t = H5Dget_type(d);
			H5Dclose(d);
		}
	}
	H5E_END_TRY;
	if (t >= 0 && H5Tget_class(t) != H5T_ENUM) {
		H5Tclose(t);
		t = -1;
	}
	return t;
}

bool campaign_read_is_enum(struct campaign_reader *r, const char *name)
{
	hid_t t = enum_type(r, name);

	if (t < 0)
		return false;
	H5Tclose(t);
	return true;
}

/* member_value - the value of member I of enum type T as an integer. */
static int member_value(hid_t t, unsigned i, long long *out)
{
	unsigned char raw[8] = {0};
	hid_t super = H5Tget_super(t);
	size_t size = super >= 0 ? H5Tget_size(super) : 0;
	H5T_sign_t sign = super >= 0 ? H5Tget_sign(super) : H5T_SGN_2;
	int rc = -1;

	if (size >= 1 && size <= 8 && H5Tget_member_value(t, i, raw) >= 0) {
		switch (size) {
		case 1: *out = sign == H5T_SGN_NONE ? (long long)raw[0] : (int8_t)raw[0]; break;
		case 2: {
			uint16_t u;
			memcpy(&u, raw, 2);
			*out = sign == H5T_SGN_NONE ? (long long)u : (int16_t)u;
			break;
		}
		case 4: {
			uint32_t u;
			memcpy(&u, raw, 4);
			*out = sign == H5T_SGN_NONE ? (long long)u : (int32_t)u;
			break;
		}
		default: memcpy(out, raw, 8); break;
		}
		rc = 0;
	}
	if (super >= 0)
		H5Tclose(super);
	return rc;
}

int campaign_read_enum_name(struct campaign_reader *r, const char *name, long value, char *buf,
			    size_t len)
{
	hid_t t = enum_type(r, name);
	int nmemb, rc = ERR_INVAL;

	if (len > 0)
		snprintf(buf, len, "%ld", value);
	if (t < 0)
		return ERR_INVAL;
	nmemb = H5Tget_nmembers(t);
	for (int i = 0; i < nmemb; i++) {
		long long mv;
		char *mname;

		if (member_value(t, (unsigned)i, &mv) != 0 || mv != value)
			continue;
		mname = H5Tget_member_name(t, (unsigned)i);
		if (mname != NULL) {
			if (len > 0)
				snprintf(buf, len, "%s", mname);
			H5free_memory(mname);
			rc = 0;
		}
		break;
	}
	H5Tclose(t);
	return rc;
}

int campaign_read_done(struct campaign_reader *r, bool *done, char *err)
{
	hid_t t = enum_type(r, "jobs/status");
	double *v = NULL;
	long long done_value = 0;
	bool found = false;
	int rc;

	for (int i = 0, nmemb = t >= 0 ? H5Tget_nmembers(t) : 0; i < nmemb && !found; i++) {
		char *mname = H5Tget_member_name(t, (unsigned)i);

		if (mname != NULL && strcmp(mname, "done") == 0 &&
		    member_value(t, (unsigned)i, &done_value) == 0)
			found = true;
		if (mname != NULL)
			H5free_memory(mname);
	}
	if (t >= 0)
		H5Tclose(t);
	if (!found) {
		set_err(err, "%s: /jobs/status is not an enum with a member 'done'", r->path);
		return ERR_CORRUPT;
	}
	v = malloc(r->nrows ? r->nrows * sizeof *v : 1);
	if (v == NULL) {
		set_err(err, "%s: out of memory reading /jobs/status", r->path);
		return ERR_NOMEM;
	}
	rc = campaign_read_column(r, "jobs/status", v, err);
	if (rc == 0)
		for (size_t i = 0; i < r->nrows; i++)
			done[i] = v[i] == (double)done_value;
	free(v);
	return rc;
}

int campaign_read_open(const char *path, struct campaign_reader **out, char *err)
{
	struct campaign_reader *r = NULL;
	hid_t fapl = -1, d = -1, space = -1;
	hsize_t dims[1];
	int rc = ERR_NOMEM;

	*out = NULL;
	r = calloc(1, sizeof *r);
	if (r != NULL)
		r->file = -1;
	if (r == NULL || (r->path = strdup(path)) == NULL) {
		set_err(err, "%s: out of memory", path);
		goto out;
	}
	rc = ERR_IO;
	H5E_BEGIN_TRY
	{
		fapl = H5Pcreate(H5P_FILE_ACCESS);
		if (fapl >= 0 && H5Pset_file_locking(fapl, 0, 1) >= 0)
			r->file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
	}
	H5E_END_TRY;
	if (r->file < 0) {
		set_err(err, "%s: cannot open as an HDF5 file (missing, unreadable or not HDF5)",
			path);
		goto out;
	}
	rc = ERR_CORRUPT;
	if (!link_exists(r->file, "/jobs") || !link_exists(r->file, "/jobs/status")) {
		set_err(err, "%s: not a campaign file (no /jobs/status)", path);
		goto out;
	}
	H5E_BEGIN_TRY
	{
		d = H5Dopen2(r->file, "/jobs/status", H5P_DEFAULT);
		space = d >= 0 ? H5Dget_space(d) : -1;
	}
	H5E_END_TRY;
	if (space < 0 || H5Sget_simple_extent_ndims(space) != 1 ||
	    H5Sget_simple_extent_dims(space, dims, NULL) != 1) {
		set_err(err, "%s: /jobs/status is not a one-dimensional dataset", path);
		goto out;
	}
	r->nrows = (size_t)dims[0];
	*out = r;
	r = NULL;
	rc = 0;
out:
	if (space >= 0)
		H5Sclose(space);
	if (d >= 0)
		H5Dclose(d);
	if (fapl >= 0)
		H5Pclose(fapl);
	campaign_read_close(&r);
	return rc;
}

void campaign_read_close(struct campaign_reader **r)
{
	if (r == NULL || *r == NULL)
		return;
	if ((*r)->file >= 0)
		H5Fclose((*r)->file);
	free((*r)->path);
	free(*r);
	*r = NULL;
}

size_t campaign_read_nrows(const struct campaign_reader *r)
{
	return r->nrows;
}
