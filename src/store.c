/* store.c - the campaign file (store.h, docs/FORMAT.md).
 *
 * Layout: columns, not a compound table.  /jobs/<param> per spec_params[],
 * /jobs/{key,status,attempt,rank,host,error,checksum}, /metrics/<name> per
 * train_metric_table[], /curves/loss (N, K), /weights/{W,b} pools with
 * /weights/{W_offset,b_offset}, and /run (1,) compound, the latest run.  All
 * of it is format version 1: open_all refuses a file missing any part.
 * Everything contiguous with space allocated and fill values written at
 * creation, so that running a campaign changes raw data only: no metadata
 * operation is needed while jobs run, which is what lets workers write with
 * independent I/O and a kill -9 leave a file whose metadata is the one
 * flushed at open.
 *
 * Every raw-data write is one contiguous byte range in memory and in the
 * file (a 1-D slice, or one row of the row-major curve matrix), so MPI-IO
 * never needs data sieving (a read-modify-write that could clobber a row
 * another rank writes at the same time).
 *
 * Hot path: store_write_payload (every job, on the worker) and store_commit
 * (every job, rank 0): one small hyperslab write per column, reusing cached
 * file dataspaces and a one-element memory space.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>
#include <hdf5.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>
#include <yaml.h>

#include "supersweep/cli.h"
#include "supersweep/err.h"
#include "supersweep/store.h"

/* One dataset with its cached file dataspace. */
struct dset {
	hid_t id;     /* dataset, or H5I_INVALID_HID */
	hid_t fspace; /* its file dataspace (selection changed per write) */
};

struct attr_cache {
	char *name;
	char *value;
	struct attr_cache *next;
};

struct store {
	hid_t file;	     /* the HDF5 file */
	bool parallel;	     /* opened collectively through MPI-IO */
	MPI_Comm comm;	     /* duplicated communicator (parallel only) */
	int rank, size;	     /* in comm (0, 1 when serial) */
	size_t njobs;	     /* rows */
	int64_t K;	     /* curve length (columns of /curves/loss) */
	int64_t nW, nb;	     /* sizes of the weight pools */
	hid_t dxpl;	     /* transfer list (independent I/O) */
	hid_t mspace1;	     /* one-element memory space */
	hid_t t_status;	     /* enum over int8 */
	hid_t t_dist;	     /* enum over int8 */
	hid_t t_host;	     /* fixed string STORE_HOST_LEN */
	hid_t t_error;	     /* fixed string STORE_ERROR_LEN */
	struct dset *params; /* (spec_nparams) /jobs/<param> */
	struct dset key, status, attempt, rankc, host, error, checksum;
	struct dset *metrics; /* (train_nmetrics) */
	struct dset curve, W, b, Woff, boff;
	struct dset run;    /* (1,) compound: the latest run (struct store_run) */
	hid_t t_run;	    /* its compound type */
	char *spec_text;    /* stored spec text, NUL terminated */
	size_t spec_len;    /* bytes */
	int8_t *status_mem; /* (njobs) status column, rank 0 only */
	struct attr_cache *attrs;
	bool run_open; /* this open recorded a run in /run: record its end at close */
};

static void msg(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void msg(char *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err, STORE_ERR_LEN, fmt, ap);
	va_end(ap);
}

/* ---- small HDF5 helpers ------------------------------------------------ */

/* hdf5_quiet - errors are reported as one message of ours; set
 * SUPERSWEEP_HDF5_ERRORS=1 to see HDF5's own error stacks when debugging. */
static void hdf5_quiet(void)
{
	if (!getenv("SUPERSWEEP_HDF5_ERRORS"))
		H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void dset_init(struct dset *d)
{
	d->id = H5I_INVALID_HID;
	d->fspace = H5I_INVALID_HID;
}

static void dset_close(struct dset *d)
{
	if (d->fspace >= 0)
		H5Sclose(d->fspace);
	if (d->id >= 0)
		H5Dclose(d->id);
	dset_init(d);
}

static void hclose_type(hid_t *t)
{
	if (*t >= 0)
		H5Tclose(*t);
	*t = H5I_INVALID_HID;
}

static hid_t make_enum(const char *const *names, size_t n)
{
	hid_t t = H5Tenum_create(H5T_NATIVE_INT8);

	if (t < 0)
		return t;
	for (size_t i = 0; i < n; i++) {
		int8_t v = (int8_t)i;
		if (H5Tenum_insert(t, names[i], &v) < 0) {
			H5Tclose(t);
			return H5I_INVALID_HID;
		}
	}
	return t;
}

static hid_t make_string(size_t len)
{
	hid_t t = H5Tcopy(H5T_C_S1);

	if (t < 0)
		return t;
	if (H5Tset_size(t, len) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0) {
		H5Tclose(t);
		return H5I_INVALID_HID;
	}
	return t;
}

/* make_run_type - the compound type of /run, laid out as struct store_run. */
static hid_t make_run_type(void)
{
	hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(struct store_run));
	hid_t s32 = make_string(32), s128 = make_string(128), sh = make_string(STORE_HOSTS_LEN);
	int bad = t < 0 || s32 < 0 || s128 < 0 || sh < 0;

	if (!bad)
		bad = H5Tinsert(t, "runs", HOFFSET(struct store_run, runs), H5T_NATIVE_INT64) < 0 ||
		      H5Tinsert(t, "ranks", HOFFSET(struct store_run, ranks), H5T_NATIVE_INT64) <
			      0 ||
		      H5Tinsert(t, "done_at_start", HOFFSET(struct store_run, done_at_start),
				H5T_NATIVE_INT64) < 0 ||
		      H5Tinsert(t, "failed_at_start", HOFFSET(struct store_run, failed_at_start),
				H5T_NATIVE_INT64) < 0 ||
		      H5Tinsert(t, "started_unix", HOFFSET(struct store_run, started_unix),
				H5T_NATIVE_DOUBLE) < 0 ||
		      H5Tinsert(t, "ended_unix", HOFFSET(struct store_run, ended_unix),
				H5T_NATIVE_DOUBLE) < 0 ||
		      H5Tinsert(t, "started", HOFFSET(struct store_run, started), s32) < 0 ||
		      H5Tinsert(t, "ended", HOFFSET(struct store_run, ended), s32) < 0 ||
		      H5Tinsert(t, "version", HOFFSET(struct store_run, version), s128) < 0 ||
		      H5Tinsert(t, "hosts", HOFFSET(struct store_run, hosts), sh) < 0;
	if (s32 >= 0)
		H5Tclose(s32);
	if (s128 >= 0)
		H5Tclose(s128);
	if (sh >= 0)
		H5Tclose(sh);
	if (bad && t >= 0) {
		H5Tclose(t);
		return H5I_INVALID_HID;
	}
	return t;
}

static int make_types(struct store *st)
{
	static const char *const status_names[] = {"pending", "done", "failed"};
	static const char *const dist_names[] = {"power", "exponential", "linear"};

	st->t_status = make_enum(status_names, 3);
	st->t_dist = make_enum(dist_names, 3);
	st->t_host = make_string(STORE_HOST_LEN);
	st->t_error = make_string(STORE_ERROR_LEN);
	st->t_run = make_run_type();
	if (st->t_status < 0 || st->t_dist < 0 || st->t_host < 0 || st->t_error < 0 ||
	    st->t_run < 0)
		return ERR_HDF5;
	return 0;
}

/* param_types - file/memory type of a spec parameter column. */
static hid_t param_type(const struct store *st, enum spec_type t)
{
	switch (t) {
	case SPEC_INT: return H5T_NATIVE_INT64;
	case SPEC_REAL: return H5T_NATIVE_DOUBLE;
	case SPEC_BOOL: return H5T_NATIVE_UINT8;
	case SPEC_DIST: return st->t_dist;
	}
	return H5I_INVALID_HID;
}

static int create_dset(struct store *st, struct dset *d, const char *path, hid_t type, int ndims,
		       const hsize_t *dims, const void *fill)
{
	hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
	int rc = ERR_HDF5;

	space = H5Screate_simple(ndims, dims, NULL);
	dcpl = H5Pcreate(H5P_DATASET_CREATE);
	if (space < 0 || dcpl < 0)
		goto out;
	if (H5Pset_layout(dcpl, H5D_CONTIGUOUS) < 0 ||
	    H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) < 0 ||
	    H5Pset_fill_time(dcpl, fill ? H5D_FILL_TIME_ALLOC : H5D_FILL_TIME_NEVER) < 0)
		goto out;
	if (fill && H5Pset_fill_value(dcpl, type, fill) < 0)
		goto out;
	d->id = H5Dcreate2(st->file, path, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
	if (d->id < 0)
		goto out;
	d->fspace = space;
	space = H5I_INVALID_HID;
	rc = 0;
out:
	if (space >= 0)
		H5Sclose(space);
	if (dcpl >= 0)
		H5Pclose(dcpl);
	return rc;
}

/* open_dset - open PATH and check that it has NDIMS dimensions with the
 * first equal to N0 (and the second to N1 if NDIMS == 2). */
static int open_dset(struct store *st, struct dset *d, const char *path, int ndims, hsize_t n0,
		     hsize_t n1, const char *file, char *err)
{
	hsize_t dims[2] = {0, 0};

	if (H5Lexists(st->file, path, H5P_DEFAULT) <= 0) {
		msg(err, "%s: not a complete campaign: dataset %s is missing", file, path);
		return ERR_CORRUPT;
	}
	d->id = H5Dopen2(st->file, path, H5P_DEFAULT);
	if (d->id < 0) {
		msg(err, "%s: dataset %s cannot be opened (damaged file)", file, path);
		return ERR_CORRUPT;
	}
	d->fspace = H5Dget_space(d->id);
	if (d->fspace < 0 || H5Sget_simple_extent_ndims(d->fspace) != ndims ||
	    H5Sget_simple_extent_dims(d->fspace, dims, NULL) < 0 || dims[0] != n0 ||
	    (ndims == 2 && dims[1] != n1)) {
		msg(err, "%s: dataset %s has shape (%llu, %llu), expected (%llu, %llu)", file, path,
		    (unsigned long long)dims[0], (unsigned long long)dims[1],
		    (unsigned long long)n0, (unsigned long long)(ndims == 2 ? n1 : 0));
		return ERR_CORRUPT;
	}
	return 0;
}

/* write_rows - write COUNT elements of D starting at ROW from BUF. */
static int write_rows(struct store *st, struct dset *d, hid_t mtype, hsize_t row, hsize_t count,
		      const void *buf)
{
	hid_t mspace = st->mspace1;
	int rc = 0;

	if (H5Sselect_hyperslab(d->fspace, H5S_SELECT_SET, &row, NULL, &count, NULL) < 0)
		return ERR_HDF5;
	if (count != 1) {
		mspace = H5Screate_simple(1, &count, NULL);
		if (mspace < 0)
			return ERR_HDF5;
	}
	if (H5Dwrite(d->id, mtype, mspace, d->fspace, st->dxpl, buf) < 0)
		rc = ERR_HDF5;
	if (mspace != st->mspace1)
		H5Sclose(mspace);
	return rc;
}

static int read_rows(struct store *st, struct dset *d, hid_t mtype, hsize_t row, hsize_t count,
		     void *buf)
{
	hid_t mspace;
	int rc = 0;

	if (count == 0)
		return 0;
	if (H5Sselect_hyperslab(d->fspace, H5S_SELECT_SET, &row, NULL, &count, NULL) < 0)
		return ERR_HDF5;
	mspace = H5Screate_simple(1, &count, NULL);
	if (mspace < 0)
		return ERR_HDF5;
	if (H5Dread(d->id, mtype, mspace, d->fspace, st->dxpl, buf) < 0)
		rc = ERR_HDF5;
	H5Sclose(mspace);
	return rc;
}

/* curve_rows - select rows [ROW, ROW+COUNT) of the (N, K) curve dataset. */
static int curve_io(struct store *st, bool write, hsize_t row, hsize_t count, void *buf)
{
	hsize_t start[2] = {row, 0}, cnt[2] = {count, (hsize_t)st->K};
	hid_t mspace;
	herr_t e;

	if (st->K == 0 || count == 0)
		return 0;
	if (H5Sselect_hyperslab(st->curve.fspace, H5S_SELECT_SET, start, NULL, cnt, NULL) < 0)
		return ERR_HDF5;
	mspace = H5Screate_simple(2, cnt, NULL);
	if (mspace < 0)
		return ERR_HDF5;
	if (write)
		e = H5Dwrite(st->curve.id, H5T_NATIVE_FLOAT, mspace, st->curve.fspace, st->dxpl,
			     buf);
	else
		e = H5Dread(st->curve.id, H5T_NATIVE_FLOAT, mspace, st->curve.fspace, st->dxpl,
			    buf);
	H5Sclose(mspace);
	return e < 0 ? ERR_HDF5 : 0;
}

/* ---- attributes -------------------------------------------------------- */

/* Attribute writes are metadata: on a collective store every rank calls
 * them with identical values. */
static int attr_write(hid_t loc, const char *name, hid_t type, const void *val)
{
	hid_t space = H5I_INVALID_HID, a = H5I_INVALID_HID;
	int rc = ERR_HDF5;

	if (H5Aexists(loc, name) > 0 && H5Adelete(loc, name) < 0)
		return ERR_HDF5;
	space = H5Screate(H5S_SCALAR);
	if (space < 0)
		goto out;
	a = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
	if (a < 0 || H5Awrite(a, type, val) < 0)
		goto out;
	rc = 0;
out:
	if (a >= 0)
		H5Aclose(a);
	if (space >= 0)
		H5Sclose(space);
	return rc;
}

static int attr_write_str(hid_t loc, const char *name, const char *s)
{
	size_t len = strlen(s);
	hid_t t = make_string(len ? len : 1);
	int rc;

	if (t < 0)
		return ERR_HDF5;
	rc = attr_write(loc, name, t, len ? s : "");
	H5Tclose(t);
	return rc;
}

static int attr_write_i64(hid_t loc, const char *name, int64_t v)
{
	return attr_write(loc, name, H5T_NATIVE_INT64, &v);
}

static int attr_write_u64(hid_t loc, const char *name, uint64_t v)
{
	return attr_write(loc, name, H5T_NATIVE_UINT64, &v);
}

/* attr_read_str - read string attribute NAME of LOC into a new buffer. */
static int attr_read_str(hid_t loc, const char *name, char **out, size_t *lenp)
{
	hid_t a = H5I_INVALID_HID, t = H5I_INVALID_HID, mt = H5I_INVALID_HID;
	char *buf = NULL;
	size_t len;
	int rc = ERR_HDF5;

	*out = NULL;
	if (H5Aexists(loc, name) <= 0)
		return ERR_INVAL;
	a = H5Aopen(loc, name, H5P_DEFAULT);
	if (a < 0)
		goto out;
	t = H5Aget_type(a);
	if (t < 0 || H5Tget_class(t) != H5T_STRING || H5Tis_variable_str(t)) {
		rc = ERR_INVAL;
		goto out;
	}
	len = H5Tget_size(t);
	mt = make_string(len + 1);
	buf = calloc(len + 1, 1);
	if (!buf) {
		rc = ERR_NOMEM;
		goto out;
	}
	if (mt < 0 || H5Aread(a, mt, buf) < 0)
		goto out;
	buf[len] = '\0';
	if (lenp)
		*lenp = strlen(buf);
	*out = buf;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	if (mt >= 0)
		H5Tclose(mt);
	if (t >= 0)
		H5Tclose(t);
	if (a >= 0)
		H5Aclose(a);
	return rc;
}

/* attr_read_num - read numeric attribute NAME of LOC as MTYPE into V.  The
 * stored type must be an integer, or also a float when FLOAT_OK.  Returns 0,
 * ERR_INVAL (missing or of another class) or ERR_HDF5. */
static int attr_read_num(hid_t loc, const char *name, hid_t mtype, bool float_ok, void *v)
{
	hid_t a, t;
	int rc = ERR_INVAL;

	if (H5Aexists(loc, name) <= 0)
		return ERR_INVAL;
	a = H5Aopen(loc, name, H5P_DEFAULT);
	if (a < 0)
		return ERR_HDF5;
	t = H5Aget_type(a);
	if (t >= 0 &&
	    (H5Tget_class(t) == H5T_INTEGER || (float_ok && H5Tget_class(t) == H5T_FLOAT)))
		rc = H5Aread(a, mtype, v) < 0 ? ERR_HDF5 : 0;
	if (t >= 0)
		H5Tclose(t);
	H5Aclose(a);
	return rc;
}

static int attr_read_i64(hid_t loc, const char *name, int64_t *v)
{
	return attr_read_num(loc, name, H5T_NATIVE_INT64, false, v);
}

/* ---- provenance (identical on every rank: computed on rank 0, broadcast) */

static void utc_now(char *buf, size_t len, double *unix_s)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (unix_s)
		*unix_s = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* bcast_str - broadcast rank 0's string BUF (CAP bytes) to every rank. */
static int bcast_bytes(void *buf, int len, MPI_Comm comm)
{
	return MPI_Bcast(buf, len, MPI_BYTE, 0, comm) == MPI_SUCCESS ? 0 : ERR_MPI;
}

/* gather_distinct - comma-separated list of the distinct values of MINE
 * (truncated to STORE_HOST_LEN - 1 bytes) over the ranks of COMM, in rank
 * order of first appearance, identical on every rank (OUT, CAP bytes). */
static int gather_distinct(MPI_Comm comm, int rank, int size, const char *mine, char *out,
			   size_t cap)
{
	char me[STORE_HOST_LEN] = "";
	char *all = NULL;
	int rc = 0;

	snprintf(me, sizeof me, "%s", mine);
	if (rank == 0) {
		all = calloc((size_t)size, STORE_HOST_LEN);
		if (!all)
			rc = ERR_NOMEM;
	}
	if (MPI_Gather(me, STORE_HOST_LEN, MPI_CHAR, all, STORE_HOST_LEN, MPI_CHAR, 0, comm) !=
	    MPI_SUCCESS)
		rc = ERR_MPI;
	out[0] = '\0';
	if (rank == 0 && all) {
		size_t used = 0;
		for (int r = 0; r < size; r++) {
			const char *h = all + (size_t)r * STORE_HOST_LEN;
			bool seen = false;
			for (int q = 0; q < r && !seen; q++)
				seen = !strcmp(h, all + (size_t)q * STORE_HOST_LEN);
			if (seen)
				continue;
			int w = snprintf(out + used, cap - used, "%s%s", used ? "," : "", h);
			if (w < 0 || (size_t)w >= cap - used)
				break;
			used += (size_t)w;
		}
	}
	free(all);
	if (bcast_bytes(out, (int)cap, comm) != 0)
		rc = ERR_MPI;
	return rc;
}

/* write_run_start - record the run that opens the file now in /run: hosts
 * and BLAS kernels gathered collectively, then rank 0 rewrites the record
 * (raw data). */
static int write_run_start(struct store *st, int64_t done, int64_t failed)
{
	char host[STORE_HOST_LEN] = "", hosts[STORE_HOSTS_LEN], kernels[STORE_HOST_LEN];
	struct store_run r;
	int rc;

	gethostname(host, sizeof host - 1);
	rc = gather_distinct(st->comm, st->rank, st->size, host, hosts, sizeof hosts);
	if (!rc)
		rc = gather_distinct(st->comm, st->rank, st->size, cli_blas_kernel(), kernels,
				     sizeof kernels);
	if (rc || st->rank != 0)
		return rc;
	if (read_rows(st, &st->run, st->t_run, 0, 1, &r) != 0)
		return ERR_HDF5;
	r.runs++;
	r.ranks = st->size;
	r.done_at_start = done;
	r.failed_at_start = failed;
	utc_now(r.started, sizeof r.started, &r.started_unix);
	r.ended[0] = '\0';
	r.ended_unix = NAN;
	cli_run_build(kernels, r.version, sizeof r.version);
	memcpy(r.hosts, hosts, sizeof r.hosts);
	return write_rows(st, &st->run, st->t_run, 0, 1, &r) ? ERR_HDF5 : 0;
}

/* library versions, computed on rank 0 and broadcast */
struct versions {
	char hdf5[64], mpi[256], openblas[256], yaml[64], xxhash[32];
};

static int library_versions(struct versions *v, MPI_Comm comm, int rank)
{
	memset(v, 0, sizeof *v);
	if (rank == 0) {
		unsigned maj, min, rel;
		char lib[MPI_MAX_LIBRARY_VERSION_STRING];
		int len = 0;
		H5get_libversion(&maj, &min, &rel);
		snprintf(v->hdf5, sizeof v->hdf5, "%u.%u.%u", maj, min, rel);
		MPI_Get_library_version(lib, &len);
		lib[strcspn(lib, ",\n")] = '\0';
		snprintf(v->mpi, sizeof v->mpi, "%s", lib);
		snprintf(v->openblas, sizeof v->openblas, "%s", openblas_get_config());
		snprintf(v->yaml, sizeof v->yaml, "%s", yaml_get_version_string());
		snprintf(v->xxhash, sizeof v->xxhash, "%u", XXH_versionNumber());
	}
	return bcast_bytes(v, sizeof *v, comm);
}

/* ---- open / create ------------------------------------------------------ */

/* each_dset - apply FN to every dataset handle of ST, in one fixed order:
 * the parameter columns, the metric columns, then the named datasets. */
static void each_dset(struct store *st, void (*fn)(struct dset *))
{
	struct dset *named[] = {&st->key,   &st->status,   &st->attempt, &st->rankc, &st->host,
				&st->error, &st->checksum, &st->curve,	 &st->W,     &st->b,
				&st->Woff,  &st->boff,	   &st->run};

	for (size_t i = 0; i < spec_nparams; i++)
		fn(&st->params[i]);
	for (size_t i = 0; i < train_nmetrics; i++)
		fn(&st->metrics[i]);
	for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
		fn(named[i]);
}

static struct store *store_alloc(void)
{
	struct store *st = calloc(1, sizeof *st);

	if (!st)
		return NULL;
	st->file = H5I_INVALID_HID;
	st->comm = MPI_COMM_NULL;
	st->dxpl = H5I_INVALID_HID;
	st->mspace1 = H5I_INVALID_HID;
	st->t_status = st->t_dist = st->t_host = st->t_error = H5I_INVALID_HID;
	st->params = calloc(spec_nparams, sizeof *st->params);
	st->metrics = calloc(train_nmetrics ? train_nmetrics : 1, sizeof *st->metrics);
	if (!st->params || !st->metrics) {
		free(st->params);
		free(st->metrics);
		free(st);
		return NULL;
	}
	each_dset(st, dset_init);
	st->t_run = H5I_INVALID_HID;
	st->size = 1;
	return st;
}

static void store_free(struct store *st)
{
	if (!st)
		return;
	each_dset(st, dset_close);
	hclose_type(&st->t_run);
	hclose_type(&st->t_status);
	hclose_type(&st->t_dist);
	hclose_type(&st->t_host);
	hclose_type(&st->t_error);
	if (st->mspace1 >= 0)
		H5Sclose(st->mspace1);
	if (st->dxpl >= 0)
		H5Pclose(st->dxpl);
	if (st->file >= 0)
		H5Fclose(st->file);
	if (st->comm != MPI_COMM_NULL)
		MPI_Comm_free(&st->comm);
	while (st->attrs) {
		struct attr_cache *a = st->attrs;
		st->attrs = a->next;
		free(a->name);
		free(a->value);
		free(a);
	}
	free(st->params);
	free(st->metrics);
	free(st->spec_text);
	free(st->status_mem);
	free(st);
}

static int common_handles(struct store *st)
{
	hsize_t one = 1;

	st->mspace1 = H5Screate_simple(1, &one, NULL);
	st->dxpl = H5Pcreate(H5P_DATASET_XFER);
	if (st->mspace1 < 0 || st->dxpl < 0)
		return ERR_HDF5;
	if (st->parallel && H5Pset_dxpl_mpio(st->dxpl, H5FD_MPIO_INDEPENDENT) < 0)
		return ERR_HDF5;
	return make_types(st);
}

static int path_join(char *buf, size_t len, const char *group, const char *name)
{
	int w = snprintf(buf, len, "/%s/%s", group, name);
	return (w < 0 || (size_t)w >= len) ? ERR_RANGE : 0;
}

/* open_all - validate the format attributes and open every dataset. */
static int open_all(struct store *st, const char *file, char *err)
{
	char path[256], *fmt = NULL;
	int64_t ver = 0, njobs = 0, K = 0;
	hsize_t dims[1];
	int rc;

	if (attr_read_str(st->file, "format", &fmt, NULL) != 0 || strcmp(fmt, STORE_FORMAT_NAME)) {
		msg(err,
		    "%s: an HDF5 file but not a supersweep campaign (no format attribute \"%s\")",
		    file, STORE_FORMAT_NAME);
		free(fmt);
		return ERR_CORRUPT;
	}
	free(fmt);
	if (attr_read_i64(st->file, "format_version", &ver) != 0 || ver != STORE_FORMAT_VERSION) {
		msg(err, "%s: campaign format version %lld, this supersweep reads version %d", file,
		    (long long)ver, STORE_FORMAT_VERSION);
		return ERR_CORRUPT;
	}
	if (attr_read_i64(st->file, "njobs", &njobs) != 0 || njobs < 1 ||
	    attr_read_i64(st->file, "curve_len", &K) != 0 || K < 0) {
		msg(err, "%s: campaign attributes njobs/curve_len missing or invalid", file);
		return ERR_CORRUPT;
	}
	st->njobs = (size_t)njobs;
	st->K = K;
	rc = attr_read_str(st->file, "spec_text", &st->spec_text, &st->spec_len);
	if (rc) {
		msg(err, "%s: campaign attribute spec_text missing or unreadable", file);
		return rc == ERR_NOMEM ? rc : ERR_CORRUPT;
	}
	for (size_t i = 0; i < spec_nparams; i++) {
		if (path_join(path, sizeof path, "jobs", spec_params[i].name))
			return ERR_RANGE;
		rc = open_dset(st, &st->params[i], path, 1, st->njobs, 0, file, err);
		if (rc)
			return rc;
	}
	struct {
		struct dset *d;
		const char *path;
	} cols[] = {
		{&st->key, "/jobs/key"},	   {&st->status, "/jobs/status"},
		{&st->attempt, "/jobs/attempt"},   {&st->rankc, "/jobs/rank"},
		{&st->host, "/jobs/host"},	   {&st->error, "/jobs/error"},
		{&st->checksum, "/jobs/checksum"}, {&st->Woff, "/weights/W_offset"},
		{&st->boff, "/weights/b_offset"},
	};
	for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
		rc = open_dset(st, cols[i].d, cols[i].path, 1, st->njobs, 0, file, err);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < train_nmetrics; i++) {
		if (path_join(path, sizeof path, "metrics", train_metric_table[i].name))
			return ERR_RANGE;
		rc = open_dset(st, &st->metrics[i], path, 1, st->njobs, 0, file, err);
		if (rc)
			return rc;
	}
	rc = open_dset(st, &st->curve, "/curves/loss", 2, st->njobs, (hsize_t)K, file, err);
	if (!rc)
		rc = open_dset(st, &st->run, "/run", 1, 1, 0, file, err);
	if (rc)
		return rc;
	/* pools: any size, read it */
	st->W.id = H5Dopen2(st->file, "/weights/W", H5P_DEFAULT);
	st->b.id = H5Dopen2(st->file, "/weights/b", H5P_DEFAULT);
	if (st->W.id < 0 || st->b.id < 0) {
		msg(err, "%s: weight pools /weights/W, /weights/b missing or damaged", file);
		return ERR_CORRUPT;
	}
	st->W.fspace = H5Dget_space(st->W.id);
	st->b.fspace = H5Dget_space(st->b.id);
	if (st->W.fspace < 0 || st->b.fspace < 0)
		return ERR_HDF5;
	H5Sget_simple_extent_dims(st->W.fspace, dims, NULL);
	st->nW = (int64_t)dims[0];
	H5Sget_simple_extent_dims(st->b.fspace, dims, NULL);
	st->nb = (int64_t)dims[0];
	return 0;
}

/* read_status_column - rank 0 (or serial) reads /jobs/status into memory. */
static int read_status_column(struct store *st)
{
	st->status_mem = malloc(st->njobs);
	if (!st->status_mem)
		return ERR_NOMEM;
	return read_rows(st, &st->status, st->t_status, 0, st->njobs, st->status_mem);
}

static int agree(int rc, MPI_Comm comm)
{
	int all = rc;

	if (MPI_Allreduce(&rc, &all, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS)
		return ERR_MPI;
	return all;
}

int store_open_read(const char *path, struct store **out, char *err)
{
	struct store *st = NULL;
	hid_t fapl = H5I_INVALID_HID;
	htri_t is;
	int rc;

	*out = NULL;
	hdf5_quiet();
	if (access(path, R_OK) != 0) {
		msg(err, "%s: %s", path, strerror(errno));
		return ERR_IO;
	}
	st = store_alloc();
	if (!st)
		return ERR_NOMEM;
	fapl = H5Pcreate(H5P_FILE_ACCESS);
	if (fapl < 0 || H5Pset_file_locking(fapl, 0, 1) < 0) {
		rc = ERR_HDF5;
		msg(err, "%s: cannot set up HDF5 file access", path);
		goto out;
	}
	is = H5Fis_hdf5(path);
	if (is <= 0) {
		msg(err, "%s: not an HDF5 file (so not a supersweep campaign)", path);
		rc = ERR_CORRUPT;
		goto out;
	}
	st->file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
	if (st->file < 0) {
		msg(err, "%s: HDF5 cannot open it: the file is truncated or damaged", path);
		rc = ERR_CORRUPT;
		goto out;
	}
	rc = common_handles(st);
	if (rc)
		goto out;
	rc = open_all(st, path, err);
	if (rc)
		goto out;
	rc = read_status_column(st);
	if (rc) {
		msg(err, "%s: cannot read /jobs/status (truncated or damaged file)", path);
		rc = rc == ERR_NOMEM ? rc : ERR_CORRUPT;
		goto out;
	}
	*out = st;
	st = NULL;
out:
	if (fapl >= 0)
		H5Pclose(fapl);
	store_free(st);
	return rc;
}

static int open_parallel(const char *path, MPI_Comm comm, unsigned flags, bool create,
			 struct store **out, char *err)
{
	struct store *st = store_alloc();
	hid_t fapl = H5I_INVALID_HID;
	int rc = 0;

	*out = NULL;
	if (!st)
		rc = ERR_NOMEM;
	if (st && MPI_Comm_dup(comm, &st->comm) != MPI_SUCCESS)
		rc = ERR_MPI;
	rc = agree(rc, comm);
	if (rc) {
		msg(err, "%s: out of memory or MPI failure opening the campaign", path);
		goto out;
	}
	st->parallel = true;
	MPI_Comm_rank(st->comm, &st->rank);
	MPI_Comm_size(st->comm, &st->size);
	fapl = H5Pcreate(H5P_FILE_ACCESS);
	/* 1.8 file format (superblock v2): attributes of any size (the spec
	 * text can exceed the 64 KB of a compact attribute), and no "file open
	 * for writing" flag that would make a killed run's file unreadable
	 * without h5clear (superblock v3 has one). */
	if (fapl < 0 || H5Pset_fapl_mpio(fapl, st->comm, MPI_INFO_NULL) < 0 ||
	    H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18) < 0)
		rc = ERR_HDF5;
	if (!rc) {
		if (create)
			st->file = H5Fcreate(path, flags, H5P_DEFAULT, fapl);
		else
			st->file = H5Fopen(path, flags, fapl);
		if (st->file < 0)
			rc = create ? ERR_IO : ERR_CORRUPT;
	}
	rc = agree(rc, st->comm);
	if (rc) {
		msg(err, "%s: cannot %s the campaign file through MPI-IO", path,
		    create ? "create" : "open");
		goto out;
	}
	rc = agree(common_handles(st), st->comm);
	if (rc)
		msg(err, "%s: HDF5 failure setting up the campaign", path);
out:
	if (fapl >= 0)
		H5Pclose(fapl);
	if (rc) {
		store_free(st); /* rc is agreed: every rank closes (collective) */
		return rc;
	}
	*out = st;
	return 0;
}

int store_open(const char *path, MPI_Comm comm, struct store **out, char *err)
{
	struct store *st = NULL;
	int64_t counts[2] = {0, 0};
	int rc;

	*out = NULL;
	hdf5_quiet();
	rc = open_parallel(path, comm, H5F_ACC_RDWR, false, &st, err);
	if (rc)
		return rc;
	rc = agree(open_all(st, path, err), st->comm);
	if (rc)
		goto out;
	if (st->rank == 0) {
		rc = read_status_column(st);
		if (!rc) {
			struct store_counts c = store_count(st);
			counts[0] = c.done;
			counts[1] = c.failed;
		}
	}
	rc = agree(rc, st->comm);
	if (rc) {
		msg(err, "%s: cannot read /jobs/status", path);
		goto out;
	}
	if (MPI_Bcast(counts, 2, MPI_INT64_T, 0, st->comm) != MPI_SUCCESS) {
		rc = ERR_MPI;
		goto out;
	}
	rc = agree(write_run_start(st, counts[0], counts[1]), st->comm);
	st->run_open = rc == 0;
	if (!rc && H5Fflush(st->file, H5F_SCOPE_GLOBAL) < 0)
		rc = ERR_HDF5;
	rc = agree(rc, st->comm);
	if (rc)
		msg(err, "%s: cannot record the start of this run", path);
out:
	if (rc) {
		store_free(st);
		return rc;
	}
	*out = st;
	return 0;
}

/* create_layout - every group and dataset, fill values, sized for SPEC. */
static int create_layout(struct store *st, const struct spec *spec, int64_t *Woff, int64_t *boff)
{
	char path[256];
	hsize_t n = spec->njobs, dims[2];
	const double nan_d = NAN;
	const float nan_f = NAN;
	const int8_t pending = STORE_PENDING;
	const int32_t zero32 = 0, minus1_32 = -1;
	const int64_t minus1 = -1;
	const uint64_t zero64 = 0;
	const char empty_host[STORE_HOST_LEN] = "", empty_err[STORE_ERROR_LEN] = "";
	static const char *const groups[] = {"/jobs", "/metrics", "/curves", "/weights"};
	int rc;

	for (size_t i = 0; i < 4; i++) {
		hid_t g = H5Gcreate2(st->file, groups[i], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
		if (g < 0)
			return ERR_HDF5;
		H5Gclose(g);
	}
	for (size_t i = 0; i < spec_nparams; i++) {
		if (path_join(path, sizeof path, "jobs", spec_params[i].name))
			return ERR_RANGE;
		rc = create_dset(st, &st->params[i], path, param_type(st, spec_params[i].type), 1,
				 &n, NULL);
		if (rc)
			return rc;
	}
	if (create_dset(st, &st->key, "/jobs/key", H5T_NATIVE_UINT64, 1, &n, NULL) ||
	    create_dset(st, &st->status, "/jobs/status", st->t_status, 1, &n, &pending) ||
	    create_dset(st, &st->attempt, "/jobs/attempt", H5T_NATIVE_INT32, 1, &n, &zero32) ||
	    create_dset(st, &st->rankc, "/jobs/rank", H5T_NATIVE_INT32, 1, &n, &minus1_32) ||
	    create_dset(st, &st->host, "/jobs/host", st->t_host, 1, &n, empty_host) ||
	    create_dset(st, &st->error, "/jobs/error", st->t_error, 1, &n, empty_err) ||
	    create_dset(st, &st->checksum, "/jobs/checksum", H5T_NATIVE_UINT64, 1, &n, &zero64))
		return ERR_HDF5;
	for (size_t i = 0; i < train_nmetrics; i++) {
		if (path_join(path, sizeof path, "metrics", train_metric_table[i].name))
			return ERR_RANGE;
		rc = create_dset(st, &st->metrics[i], path, H5T_NATIVE_DOUBLE, 1, &n, &nan_d);
		if (rc)
			return rc;
	}
	dims[0] = n;
	dims[1] = (hsize_t)st->K;
	if (create_dset(st, &st->curve, "/curves/loss", H5T_NATIVE_FLOAT, 2, dims, &nan_f))
		return ERR_HDF5;
	dims[0] = (hsize_t)st->nW;
	if (create_dset(st, &st->W, "/weights/W", H5T_NATIVE_FLOAT, 1, dims, &nan_f))
		return ERR_HDF5;
	dims[0] = (hsize_t)st->nb;
	if (create_dset(st, &st->b, "/weights/b", H5T_NATIVE_FLOAT, 1, dims, &nan_f))
		return ERR_HDF5;
	{
		struct store_run r0;
		hsize_t one = 1;
		memset(&r0, 0, sizeof r0);
		r0.started_unix = r0.ended_unix = NAN;
		if (create_dset(st, &st->run, "/run", st->t_run, 1, &one, &r0))
			return ERR_HDF5;
	}
	if (create_dset(st, &st->Woff, "/weights/W_offset", H5T_NATIVE_INT64, 1, &n, &minus1) ||
	    create_dset(st, &st->boff, "/weights/b_offset", H5T_NATIVE_INT64, 1, &n, &minus1))
		return ERR_HDF5;
	/* column units and docs as attributes of the datasets */
	for (size_t i = 0; i < spec_nparams; i++)
		if (attr_write_str(st->params[i].id, "unit", spec_params[i].unit) ||
		    attr_write_str(st->params[i].id, "doc", spec_params[i].doc))
			return ERR_HDF5;
	for (size_t i = 0; i < train_nmetrics; i++)
		if (attr_write_str(st->metrics[i].id, "unit", train_metric_table[i].unit) ||
		    attr_write_str(st->metrics[i].id, "doc", train_metric_table[i].doc))
			return ERR_HDF5;
	if (attr_write_str(st->curve.id, "doc",
			   "mean loss L over each log_every steps; column k covers steps "
			   "(k*log_every, (k+1)*log_every]; NaN-padded") ||
	    attr_write_str(st->W.id, "doc",
			   "pool of W matrices, (n, m) row-major at W_offset of each row") ||
	    attr_write_str(st->b.id, "doc", "pool of b vectors, n floats at b_offset of each row"))
		return ERR_HDF5;
	(void)Woff;
	(void)boff;
	return 0;
}

/* write_columns - rank 0 writes the parameter, key and offset columns. */
static int write_columns(struct store *st, const struct spec *spec, const int64_t *Woff,
			 const int64_t *boff)
{
	size_t n = spec->njobs;
	unsigned char *buf = malloc(n * 8);
	int rc = 0;

	if (!buf)
		return ERR_NOMEM;
	for (size_t p = 0; p < spec_nparams && !rc; p++) {
		const struct spec_param *sp = &spec_params[p];
		for (size_t i = 0; i < n; i++) {
			const char *f = (const char *)&spec->jobs[i] + sp->offset;
			switch (sp->type) {
			case SPEC_INT: memcpy(buf + 8 * i, f, 8); break;
			case SPEC_REAL: memcpy(buf + 8 * i, f, 8); break;
			case SPEC_BOOL: buf[i] = *(const bool *)f ? 1 : 0; break;
			case SPEC_DIST: buf[i] = (unsigned char)*(const enum spec_dist *)f; break;
			}
		}
		rc = write_rows(st, &st->params[p], param_type(st, sp->type), 0, n, buf);
	}
	if (!rc) {
		uint64_t *k = (uint64_t *)(void *)buf;
		for (size_t i = 0; i < n; i++)
			k[i] = spec->jobs[i].key;
		rc = write_rows(st, &st->key, H5T_NATIVE_UINT64, 0, n, k);
	}
	if (!rc)
		rc = write_rows(st, &st->Woff, H5T_NATIVE_INT64, 0, n, Woff);
	if (!rc)
		rc = write_rows(st, &st->boff, H5T_NATIVE_INT64, 0, n, boff);
	free(buf);
	return rc;
}

static int write_prov(struct store *st, const struct spec *spec)
{
	struct versions v;
	char when[64];
	int rc;

	rc = library_versions(&v, st->comm, st->rank);
	if (rc)
		return rc;
	if (st->rank == 0)
		utc_now(when, sizeof when, NULL);
	if (bcast_bytes(when, sizeof when, st->comm))
		return ERR_MPI;
	if (attr_write_str(st->file, "format", STORE_FORMAT_NAME) ||
	    attr_write_i64(st->file, "format_version", STORE_FORMAT_VERSION) ||
	    attr_write_str(st->file, "name", spec->name ? spec->name : "") ||
	    attr_write_str(st->file, "spec_text", spec->text ? spec->text : "") ||
	    attr_write_u64(st->file, "spec_hash", spec->text_hash) ||
	    attr_write_u64(st->file, "campaign_seed", spec->seed) ||
	    attr_write_i64(st->file, "njobs", (int64_t)spec->njobs) ||
	    attr_write_i64(st->file, "curve_len", st->K) ||
	    attr_write_str(st->file, "created", when) ||
	    attr_write_str(st->file, "created_by", cli_version()) ||
	    attr_write_str(st->file, "supersweep_version", cli_version()) ||
	    attr_write_str(st->file, "git_commit", cli_git_commit()) ||
	    attr_write_str(st->file, "hdf5_version", v.hdf5) ||
	    attr_write_str(st->file, "mpi_version", v.mpi) ||
	    attr_write_str(st->file, "openblas_version", v.openblas) ||
	    attr_write_str(st->file, "libyaml_version", v.yaml) ||
	    attr_write_str(st->file, "xxhash_version", v.xxhash) ||
	    attr_write_str(st->file, "checksum",
			   "XXH3-64 seeded with /jobs/key over metrics (f64), curve row (f32, K), "
			   "W (f32, n*m) and b (f32, n) when saved, little-endian"))
		return ERR_HDF5;
	return 0;
}

int store_create(const char *path, const struct spec *spec, MPI_Comm comm, struct store **out,
		 char *err)
{
	struct store *st = NULL;
	char *part = NULL;
	int64_t *Woff = NULL, *boff = NULL;
	int rank, rc = 0;
	size_t plen = strlen(path) + 6;

	*out = NULL;
	hdf5_quiet();
	MPI_Comm_rank(comm, &rank);
	part = malloc(plen);
	Woff = malloc(spec->njobs * sizeof *Woff);
	boff = malloc(spec->njobs * sizeof *boff);
	if (!part || !Woff || !boff)
		rc = ERR_NOMEM;
	rc = agree(rc, comm);
	if (rc) {
		msg(err, "%s: out of memory", path);
		goto out;
	}
	snprintf(part, plen, "%s.part", path);
	if (rank == 0)
		unlink(part); /* a creation that crashed; we hold the campaign lock */
	rc = open_parallel(part, comm, H5F_ACC_TRUNC, true, &st, err);
	if (rc)
		goto out;
	/* sizes: deterministic from the spec, identical on every rank */
	{
		int64_t nW = 0, nb = 0, K = 0;
		for (size_t i = 0; i < spec->njobs; i++) {
			const struct job_point *j = &spec->jobs[i];
			int64_t k = spec_curve_len(j);
			if (k > K)
				K = k;
			if (j->save_weights) {
				Woff[i] = nW;
				boff[i] = nb;
				nW += j->n * j->m;
				nb += j->n;
			} else {
				Woff[i] = boff[i] = -1;
			}
		}
		st->njobs = spec->njobs;
		st->K = K;
		st->nW = nW;
		st->nb = nb;
	}
	rc = agree(create_layout(st, spec, Woff, boff), st->comm);
	if (!rc)
		rc = agree(write_prov(st, spec), st->comm);
	if (!rc)
		rc = agree(st->rank == 0 ? write_columns(st, spec, Woff, boff) : 0, st->comm);
	if (rc) {
		msg(err, "%s: cannot create the campaign layout (%s)", part, err_name(rc));
		goto out;
	}
	{
		struct store *tmp = st;
		st = NULL;
		rc = store_close(&tmp);
	}
	if (rc) {
		msg(err, "%s: cannot close the new campaign file", part);
		goto out;
	}
	if (rank == 0 && rename(part, path) != 0) {
		msg(err, "%s: cannot rename to %s: %s", part, path, strerror(errno));
		rc = ERR_IO;
	}
	rc = agree(rc, comm);
	if (rc)
		goto out;
	rc = store_open(path, comm, out, err);
out:
	if (st) {
		st->parallel = true;
		store_free(st);
	}
	if (rc && rank == 0 && part)
		unlink(part); /* a half-built file is of no use */
	free(part);
	free(Woff);
	free(boff);
	return rc;
}

int store_close(struct store **stp)
{
	struct store *st;
	int rc = 0;

	if (!stp || !*stp)
		return 0;
	st = *stp;
	*stp = NULL;
	if (st->parallel && st->rank == 0 && st->run_open) {
		struct store_run r;
		if (read_rows(st, &st->run, st->t_run, 0, 1, &r) != 0)
			rc = ERR_HDF5;
		if (!rc) {
			utc_now(r.ended, sizeof r.ended, &r.ended_unix);
			if (write_rows(st, &st->run, st->t_run, 0, 1, &r) != 0)
				rc = ERR_HDF5;
		}
	}
	each_dset(st, dset_close);
	if (st->file >= 0 && H5Fclose(st->file) < 0)
		rc = ERR_HDF5;
	st->file = H5I_INVALID_HID;
	if (st->parallel)
		rc = agree(rc, st->comm);
	store_free(st);
	return rc;
}

/* ---- accessors ---------------------------------------------------------- */

size_t store_njobs(const struct store *st)
{
	return st->njobs;
}

int64_t store_curve_len(const struct store *st)
{
	return st->K;
}

const char *store_spec_text(const struct store *st, size_t *len)
{
	if (len)
		*len = st->spec_len;
	return st->spec_text;
}

const char *store_attr_string(const struct store *st, const char *name)
{
	struct store *mst = (struct store *)(uintptr_t)st; /* the cache is not state */
	struct attr_cache *a;
	char *v = NULL;

	for (a = mst->attrs; a; a = a->next)
		if (!strcmp(a->name, name))
			return a->value;
	if (attr_read_str(st->file, name, &v, NULL) != 0)
		return NULL;
	a = calloc(1, sizeof *a);
	if (!a || !(a->name = strdup(name))) {
		free(a);
		free(v);
		return NULL;
	}
	a->value = v;
	a->next = mst->attrs;
	mst->attrs = a;
	return v;
}

int store_attr_double(const struct store *st, const char *name, double *out)
{
	return attr_read_num(st->file, name, H5T_NATIVE_DOUBLE, true, out);
}

int store_attr_u64(const struct store *st, const char *name, uint64_t *out)
{
	return attr_read_num(st->file, name, H5T_NATIVE_UINT64, false, out);
}

int store_read_run(struct store *st, struct store_run *out)
{
	return read_rows(st, &st->run, st->t_run, 0, 1, out);
}

const int8_t *store_status(const struct store *st)
{
	return st->status_mem;
}

struct store_counts store_count(const struct store *st)
{
	struct store_counts c = {0, 0, 0};

	if (!st->status_mem)
		return c;
	for (size_t i = 0; i < st->njobs; i++) {
		switch (st->status_mem[i]) {
		case STORE_DONE: c.done++; break;
		case STORE_FAILED: c.failed++; break;
		default: c.pending++; break;
		}
	}
	return c;
}

int store_read_keys(struct store *st, uint64_t *keys)
{
	return read_rows(st, &st->key, H5T_NATIVE_UINT64, 0, st->njobs, keys);
}

int store_read_attempts(struct store *st, int32_t *attempts)
{
	return read_rows(st, &st->attempt, H5T_NATIVE_INT32, 0, st->njobs, attempts);
}

int store_read_ranks(struct store *st, int32_t *ranks)
{
	return read_rows(st, &st->rankc, H5T_NATIVE_INT32, 0, st->njobs, ranks);
}

int store_read_checksums(struct store *st, uint64_t *sums)
{
	return read_rows(st, &st->checksum, H5T_NATIVE_UINT64, 0, st->njobs, sums);
}

int store_read_jobs(struct store *st, struct job_point *jobs)
{
	/* blocks of rows, so that the job points being filled stay in cache
	 * while every column's slice is scattered into them */
	enum { BLOCK = 8192 };
	size_t n = st->njobs;
	unsigned char *buf = malloc((size_t)BLOCK * 8);
	int rc = 0;

	if (!buf)
		return ERR_NOMEM;
	for (size_t r0 = 0; r0 < n && !rc; r0 += BLOCK) {
		size_t cnt = n - r0 < BLOCK ? n - r0 : BLOCK;
		struct job_point *blk = jobs + r0;
		memset(blk, 0, cnt * sizeof *blk);
		for (size_t p = 0; p < spec_nparams && !rc; p++) {
			const struct spec_param *sp = &spec_params[p];
			rc = read_rows(st, &st->params[p], param_type(st, sp->type), r0, cnt, buf);
			for (size_t i = 0; i < cnt && !rc; i++) {
				char *f = (char *)&blk[i] + sp->offset;
				switch (sp->type) {
				case SPEC_INT: memcpy(f, buf + 8 * i, 8); break;
				case SPEC_REAL: memcpy(f, buf + 8 * i, 8); break;
				case SPEC_BOOL: *(bool *)f = buf[i] != 0; break;
				case SPEC_DIST:
					*(enum spec_dist *)f = (enum spec_dist)buf[i];
					break;
				}
			}
		}
		if (!rc) {
			uint64_t *k = (uint64_t *)(void *)buf;
			rc = read_rows(st, &st->key, H5T_NATIVE_UINT64, r0, cnt, k);
			for (size_t i = 0; i < cnt && !rc; i++)
				blk[i].key = k[i];
		}
	}
	free(buf);
	return rc;
}

int store_read_metrics(struct store *st, double *out)
{
	size_t n = st->njobs, nm = train_nmetrics;
	double *col = malloc(n * sizeof *col);
	int rc = 0;

	if (!col)
		return ERR_NOMEM;
	for (size_t j = 0; j < nm && !rc; j++) {
		rc = read_rows(st, &st->metrics[j], H5T_NATIVE_DOUBLE, 0, n, col);
		for (size_t i = 0; i < n && !rc; i++)
			out[i * nm + j] = col[i];
	}
	free(col);
	return rc;
}

int store_read_strings(struct store *st, const char *which, char *out)
{
	if (!strcmp(which, "host"))
		return read_rows(st, &st->host, st->t_host, 0, st->njobs, out);
	if (!strcmp(which, "error"))
		return read_rows(st, &st->error, st->t_error, 0, st->njobs, out);
	return ERR_INVAL;
}

/* ---- payload and commit -------------------------------------------------- */

uint64_t store_payload_checksum(uint64_t key, const double *metrics, size_t nmetrics,
				const float *curve, size_t ncurve, const float *W, size_t nW,
				const float *b, size_t nb)
{
	XXH3_state_t s;

	/* a stack state: XXH3_createState would allocate */
	XXH3_INITSTATE(&s);
	XXH3_64bits_reset_withSeed(&s, key);
	XXH3_64bits_update(&s, metrics, nmetrics * sizeof *metrics);
	if (ncurve)
		XXH3_64bits_update(&s, curve, ncurve * sizeof *curve);
	if (W && nW)
		XXH3_64bits_update(&s, W, nW * sizeof *W);
	if (b && nb)
		XXH3_64bits_update(&s, b, nb * sizeof *b);
	return XXH3_64bits_digest(&s);
}

static int weight_offsets(struct store *st, size_t row, int64_t *wo, int64_t *bo)
{
	if (read_rows(st, &st->Woff, H5T_NATIVE_INT64, row, 1, wo) ||
	    read_rows(st, &st->boff, H5T_NATIVE_INT64, row, 1, bo))
		return ERR_HDF5;
	return 0;
}

int store_write_payload(struct store *st, size_t row, const struct job_point *job,
			const struct train_result *res, uint64_t *checksum)
{
	double m[64];
	float *curve = NULL;
	size_t nm = train_nmetrics, nW = 0, nb = 0;
	int64_t wo = -1, bo = -1;
	int rc = 0;

	if (row >= st->njobs || nm > 64 || res->ncurve > st->K)
		return ERR_INVAL;
	for (size_t j = 0; j < nm; j++)
		memcpy(&m[j], (const char *)&res->metrics + train_metric_table[j].offset,
		       sizeof m[j]);
	curve = malloc((size_t)(st->K ? st->K : 1) * sizeof *curve);
	if (!curve)
		return ERR_NOMEM;
	for (int64_t k = 0; k < st->K; k++)
		curve[k] = (k < res->ncurve && res->curve) ? res->curve[k] : NAN;
	if (job->save_weights && res->W && res->b) {
		rc = weight_offsets(st, row, &wo, &bo);
		if (rc)
			goto out;
		nW = (size_t)(job->n * job->m);
		nb = (size_t)job->n;
		if (wo < 0 || bo < 0 || wo + (int64_t)nW > st->nW || bo + (int64_t)nb > st->nb) {
			rc = ERR_INVAL;
			goto out;
		}
	}
	for (size_t j = 0; j < nm && !rc; j++)
		rc = write_rows(st, &st->metrics[j], H5T_NATIVE_DOUBLE, row, 1, &m[j]);
	if (!rc)
		rc = curve_io(st, true, row, 1, curve);
	if (!rc && nW)
		rc = write_rows(st, &st->W, H5T_NATIVE_FLOAT, (hsize_t)wo, nW, res->W);
	if (!rc && nb)
		rc = write_rows(st, &st->b, H5T_NATIVE_FLOAT, (hsize_t)bo, nb, res->b);
	if (!rc)
		*checksum = store_payload_checksum(job->key, m, nm, curve, (size_t)st->K,
						   nW ? res->W : NULL, nW, nb ? res->b : NULL, nb);
out:
	free(curve);
	return rc;
}

int store_set_attempt(struct store *st, size_t row, int32_t attempt)
{
	if (row >= st->njobs)
		return ERR_INVAL;
	return write_rows(st, &st->attempt, H5T_NATIVE_INT32, row, 1, &attempt);
}

int store_commit(struct store *st, size_t row, const struct store_commit *c)
{
	char host[STORE_HOST_LEN] = "", error[STORE_ERROR_LEN] = "";
	int8_t status = (int8_t)c->status;

	if (row >= st->njobs)
		return ERR_INVAL;
	snprintf(host, sizeof host, "%s", c->host ? c->host : "");
	snprintf(error, sizeof error, "%s", c->error ? c->error : "");
	/* status last: a crash in between leaves the row pending */
	if (write_rows(st, &st->checksum, H5T_NATIVE_UINT64, row, 1, &c->checksum) ||
	    write_rows(st, &st->attempt, H5T_NATIVE_INT32, row, 1, &c->attempt) ||
	    write_rows(st, &st->rankc, H5T_NATIVE_INT32, row, 1, &c->rank) ||
	    write_rows(st, &st->host, st->t_host, row, 1, host) ||
	    write_rows(st, &st->error, st->t_error, row, 1, error) ||
	    write_rows(st, &st->status, st->t_status, row, 1, &status))
		return ERR_HDF5;
	if (st->status_mem)
		st->status_mem[row] = status;
	return 0;
}

int store_row_checksum(struct store *st, size_t row, const struct job_point *job,
		       uint64_t *checksum)
{
	double m[64];
	float *curve = NULL, *W = NULL, *b = NULL;
	size_t nm = train_nmetrics, nW = 0, nb = 0;
	int64_t wo = -1, bo = -1;
	int rc = 0;

	if (row >= st->njobs || nm > 64)
		return ERR_INVAL;
	for (size_t j = 0; j < nm && !rc; j++)
		rc = read_rows(st, &st->metrics[j], H5T_NATIVE_DOUBLE, row, 1, &m[j]);
	if (rc)
		return rc;
	curve = malloc((size_t)(st->K ? st->K : 1) * sizeof *curve);
	if (!curve)
		return ERR_NOMEM;
	rc = curve_io(st, false, row, 1, curve);
	if (!rc && job->save_weights) {
		rc = weight_offsets(st, row, &wo, &bo);
		if (!rc && wo >= 0 && bo >= 0) {
			nW = (size_t)(job->n * job->m);
			nb = (size_t)job->n;
			if (wo + (int64_t)nW > st->nW || bo + (int64_t)nb > st->nb) {
				rc = ERR_CORRUPT;
			} else {
				W = malloc(nW * sizeof *W);
				b = malloc(nb * sizeof *b);
				if (!W || !b)
					rc = ERR_NOMEM;
				if (!rc)
					rc = read_rows(st, &st->W, H5T_NATIVE_FLOAT, (hsize_t)wo,
						       nW, W);
				if (!rc)
					rc = read_rows(st, &st->b, H5T_NATIVE_FLOAT, (hsize_t)bo,
						       nb, b);
			}
		}
	}
	if (!rc)
		*checksum =
			store_payload_checksum(job->key, m, nm, curve, (size_t)st->K, W, nW, b, nb);
	free(curve);
	free(W);
	free(b);
	return rc;
}
