/* sched.c - rank-0 dispatch, worker loop, drain protocol, progress (sched.h).
 *
 * Shape: every rank runs one event loop in its main thread, blocked in
 * ppoll(2) on (a) its control socket(s), (b) an eventfd that its training
 * thread writes when a job ends, and (c) -- only inside ppoll -- the stop
 * signals.  Rank 0's loop also owns the dispatch queue and the commits.
 *
 * Control messages are fixed-size structs on TCP (loopback when every rank
 * is on one host), TCP_NODELAY.  Protocol, per worker:
 *   worker -> 0  HELLO (rank, host, token)  once, after connecting (the
 *                                           token was broadcast with MPI:
 *                                           strangers on the port are dropped)
 *   0 -> worker  JOB (row, attempt)        one job at a time
 *   worker -> 0  DONE (row, attempt, status, checksum, error)
 *                                           after writing the payload
 *   worker -> 0  DRAIN                      a stop signal reached this worker
 *   0 -> worker  STOP                       stop the running job (drain)
 *   0 -> worker  EXIT                       nothing left: leave the loop
 * A DONE is also the request for the next job; rank 0 answers before it
 * commits, so the worker trains while rank 0 writes.  Idle workers stay
 * parked in ppoll (no CPU) until the last job ends, then all get EXIT and
 * the ranks meet in the collective close.
 *
 * Hot path: handle_done -> dispatch + store_commit, a few small writes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "supersweep/err.h"
#include "supersweep/sched.h"
#include "supersweep/train.h"

enum msg_type { MSG_HELLO = 1, MSG_DONE, MSG_DRAIN, MSG_JOB, MSG_STOP, MSG_EXIT };

/* Result kinds in a DONE message. */
enum { RES_DONE = STORE_DONE, RES_FAILED = STORE_FAILED, RES_STOPPED = 9 };

struct msg {
	int32_t type;		    /* enum msg_type */
	int32_t rank;		    /* sender's rank (HELLO, DONE) */
	int64_t row;		    /* campaign row (JOB, DONE) */
	int32_t attempt;	    /* attempt number (JOB, DONE) */
	int32_t result;		    /* RES_* (DONE) */
	uint64_t checksum;	    /* payload checksum (DONE, RES_DONE); token (HELLO) */
	double train_s;		    /* wall time of the attempt, s (DONE) */
	char text[STORE_ERROR_LEN]; /* host (HELLO) or error (DONE) */
};

/* One training thread and its completion eventfd. */
struct runner {
	pthread_t th;
	bool busy;	      /* a job is running (thread not joined) */
	int efd;	      /* eventfd written when the job ends */
	struct job_point job; /* the running job, threads as this run uses them */
	uint64_t seed;
	int64_t row;
	int32_t attempt;
	char ckpt[4096];
	volatile sig_atomic_t stop; /* the trainer's stop flag */
	struct train_result res;
	int rc;	       /* train_run's return value */
	double t0, t1; /* monotonic start/end, s */
};

/* Rank 0's view of one rank. */
struct slot {
	int fd;	  /* socket, -1 for rank 0's own runner */
	int rank; /* -1 until HELLO */
	char host[STORE_HOST_LEN];
	int64_t row; /* running row or -1 */
	int32_t attempt;
	bool exited; /* EXIT sent (or the local runner is done) */
	unsigned char in[sizeof(struct msg)];
	size_t nin; /* bytes buffered in `in` */
	double t0;  /* dispatch time */
};

/* copy_str - SRC into DST (LEN bytes), truncated, NUL terminated. */
static void copy_str(char *dst, size_t len, const char *src)
{
	size_t n = strnlen(src, len - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* cpu_s - CPU time (user + system) of the calling thread (WHO =
 * RUSAGE_THREAD) or of the whole process (RUSAGE_SELF), s. */
static double cpu_s(int who)
{
	struct rusage ru;

	if (getrusage(who, &ru) != 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
	       (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
}

int sched_checkpoint_path(char *buf, size_t len, const char *campaign, uint64_t key)
{
	int w = snprintf(buf, len, "%s.ckpt/%016llx.ckpt", campaign, (unsigned long long)key);

	return (w < 0 || (size_t)w >= len) ? ERR_RANGE : 0;
}

/* ---- socket I/O ----------------------------------------------------------- */

/* send_msg - write the whole message (blocking socket; messages are small
 * and the peer always reads, so this does not stall). */
static int send_msg(int fd, const struct msg *m)
{
	const char *p = (const char *)m;
	size_t left = sizeof *m;

	while (left) {
		ssize_t w = send(fd, p, left, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return ERR_IO;
		p += w;
		left -= (size_t)w;
	}
	return 0;
}

/* recv_some - read what is available into the slot's buffer; returns 1 when
 * a whole message is in M, 0 when more is needed, ERR_IO on EOF/error. */
static int recv_some(int fd, unsigned char *buf, size_t *nbuf, struct msg *m)
{
	ssize_t r;

	if (*nbuf == sizeof *m) {
		memcpy(m, buf, sizeof *m);
		*nbuf = 0;
		return 1;
	}
	r = recv(fd, buf + *nbuf, sizeof *m - *nbuf, MSG_DONTWAIT);
	if (r == 0)
		return ERR_IO;
	if (r < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : ERR_IO;
	*nbuf += (size_t)r;
	if (*nbuf < sizeof *m)
		return 0;
	memcpy(m, buf, sizeof *m);
	*nbuf = 0;
	return 1;
}

static void set_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* ---- the training thread ---------------------------------------------------- */

static void *runner_main(void *arg)
{
	struct runner *r = arg;
	uint64_t one = 1;

	/* the trainer runs job->threads threads itself (its engine pins
	 * OpenBLAS to one thread per engine thread) */
	r->t0 = now_s();
	r->rc = train_run(&r->job, r->seed, r->ckpt[0] ? r->ckpt : NULL, &r->stop, &r->res);
	r->t1 = now_s();
	while (write(r->efd, &one, sizeof one) < 0 && errno == EINTR)
		;
	return NULL;
}

static int runner_start(struct runner *r, const struct spec *spec, const struct sched_opts *o,
			int64_t row, int32_t attempt)
{
	r->job = spec->jobs[row];
	if (o->threads > 0)
		r->job.threads = o->threads;
	r->seed = spec->seed;
	r->row = row;
	r->attempt = attempt;
	r->stop = 0;
	r->rc = 0;
	memset(&r->res, 0, sizeof r->res);
	if (sched_checkpoint_path(r->ckpt, sizeof r->ckpt, o->campaign, r->job.key))
		r->ckpt[0] = '\0';
	if (pthread_create(&r->th, NULL, runner_main, r) != 0)
		return ERR_NOMEM;
	r->busy = true;
	return 0;
}

/* runner_finish - join the thread and turn its result into a DONE message
 * (writing the payload when the job is done).  Called by the main thread
 * when the eventfd fires. */
static void runner_finish(struct runner *r, struct store *st, int rank, struct msg *m)
{
	uint64_t v;
	int rc;

	while (read(r->efd, &v, sizeof v) < 0 && errno == EINTR)
		;
	pthread_join(r->th, NULL);
	r->busy = false;
	memset(m, 0, sizeof *m);
	m->type = MSG_DONE;
	m->rank = rank;
	m->row = r->row;
	m->attempt = r->attempt;
	m->train_s = r->t1 - r->t0;
	if (r->res.warning[0])
		fprintf(stderr, "supersweep[%d]: row %lld: %s\n", rank, (long long)r->row,
			r->res.warning);
	if (r->rc < 0) {
		m->result = RES_FAILED;
		copy_str(m->text, sizeof m->text, r->res.error[0] ? r->res.error : err_name(r->rc));
	} else if (r->res.status == ERR_STOPPED) {
		m->result = RES_STOPPED;
	} else if (r->res.status != 0) {
		m->result = RES_FAILED;
		copy_str(m->text, sizeof m->text,
			 r->res.error[0] ? r->res.error : err_name(r->res.status));
	} else {
		rc = store_write_payload(st, (size_t)r->row, &r->job, &r->res, &m->checksum);
		if (rc) {
			m->result = RES_FAILED;
			snprintf(m->text, sizeof m->text, "writing the payload failed: %s",
				 err_name(rc));
		} else {
			m->result = RES_DONE;
		}
	}
	train_result_free(&r->res);
}

/* ---- rank 0: dispatcher --------------------------------------------------- */

struct disp {
	const struct spec *spec;
	struct store *st;
	const struct sched_opts *o;
	int size;
	struct slot *slots; /* (size) slot r is rank r; slot 0 the local runner */
	struct runner local;
	int64_t *queue; /* rows to run, dispatch order */
	size_t nqueue, qhead;
	int32_t *attempts; /* (njobs) attempts recorded in the file */
	double *flop;	   /* (njobs) predicted cost */
	bool draining;
	uint64_t token; /* secret of this run's control channel (HELLO) */
	int nhello;	/* workers connected */
	int running;	/* jobs out */
	/* progress */
	double t_start, t_last_print, flop_done, flop_left, busy_s;
	int64_t done0, failed0, done, failed, ran, stopped, dropped;
	bool tty;
	double every;
};

static void progress(struct disp *d, bool final)
{
	double t = now_s(), el = t - d->t_start;
	double rate = el > 0 ? (double)d->ran / el * 3600.0 : 0;
	double eta = (d->flop_done > 0 && el > 0) ? d->flop_left / (d->flop_done / el) : NAN;
	char etas[32];

	if (d->o->quiet)
		return;
	if (!final && t - d->t_last_print < (d->tty ? 0.2 : d->every))
		return;
	d->t_last_print = t;
	if (isnan(eta))
		snprintf(etas, sizeof etas, "?");
	else if (eta < 120)
		snprintf(etas, sizeof etas, "%.0fs", eta);
	else if (eta < 7200)
		snprintf(etas, sizeof etas, "%.1fmin", eta / 60);
	else
		snprintf(etas, sizeof etas, "%.1fh", eta / 3600);
	fprintf(stderr,
		"%sprogress: %lld/%lld done, %lld failed, %d running, %.0f jobs/h, ETA %s%s%s",
		d->tty ? "\r" : "", (long long)d->done, (long long)d->spec->njobs,
		(long long)d->failed, d->running, rate, etas, d->draining ? " (draining)" : "",
		d->tty ? "\033[K" : "\n");
	if (d->tty && final)
		fputc('\n', stderr);
	fflush(stderr);
}

/* send_to - a message to a remote slot (rank 0's own runner is handled
 * directly). */
static int send_to(struct slot *s, int type, int64_t row, int32_t attempt)
{
	struct msg m;

	memset(&m, 0, sizeof m);
	m.type = type;
	m.row = row;
	m.attempt = attempt;
	return send_msg(s->fd, &m);
}

/* dispatch - give slot S its next job, or leave it idle. */
static int dispatch(struct disp *d, struct slot *s)
{
	int64_t row;
	int32_t attempt;
	int rc;

	if (d->draining || d->qhead >= d->nqueue || s->exited)
		return 0;
	if (s == &d->slots[0] && d->o->dispatch_only)
		return 0;
	row = d->queue[d->qhead++];
	attempt = d->attempts[row] + 1;
	d->attempts[row] = attempt;
	rc = store_set_attempt(d->st, (size_t)row, attempt);
	if (rc)
		return rc;
	s->row = row;
	s->attempt = attempt;
	s->t0 = now_s();
	d->running++;
	if (s->fd < 0)
		return runner_start(&d->local, d->spec, d->o, row, attempt);
	return send_to(s, MSG_JOB, row, attempt);
}

static void begin_drain(struct disp *d, const char *why)
{
	if (d->draining)
		return;
	d->draining = true;
	if (!d->o->quiet)
		fprintf(stderr,
			"%ssupersweep: %s: draining (%d running jobs checkpoint and stop)\n",
			d->tty ? "\n" : "", why, d->running);
	for (int r = 1; r < d->size; r++)
		if (d->slots[r].fd >= 0 && d->slots[r].row >= 0)
			send_to(&d->slots[r], MSG_STOP, 0, 0);
	if (d->local.busy)
		d->local.stop = 1;
}

/* handle_done - a job ended on slot S: answer first, then commit. */
static int handle_done(struct disp *d, struct slot *s, const struct msg *m, const char *campaign)
{
	int64_t row = m->row;
	int rc;

	if (row < 0 || (size_t)row >= d->spec->njobs || row != s->row || m->attempt != s->attempt) {
		d->dropped++;
		fprintf(stderr, "supersweep: dropping a late result for row %lld from rank %d\n",
			(long long)row, s->rank);
		return 0;
	}
	s->row = -1;
	d->running--;
	d->busy_s += m->train_s;
	rc = dispatch(d, s);
	if (rc)
		return rc;
	if (m->result == RES_STOPPED) {
		d->stopped++;
		return 0;
	}
	if (store_status(d->st)[row] == STORE_DONE) {
		d->dropped++; /* a duplicate of a committed job: keep the first */
		return 0;
	}
	struct store_commit c = {
		.status = m->result == RES_DONE ? STORE_DONE : STORE_FAILED,
		.checksum = m->result == RES_DONE ? m->checksum : 0,
		.attempt = m->attempt,
		.rank = s->rank,
		.host = s->host,
		.error = m->result == RES_DONE ? "" : m->text,
	};
	rc = store_commit(d->st, (size_t)row, &c);
	if (rc)
		return rc;
	d->ran++;
	d->flop_done += d->flop[row];
	d->flop_left -= d->flop[row];
	if (c.status == STORE_DONE) {
		d->done++;
	} else {
		d->failed++;
		if (!d->o->quiet)
			fprintf(stderr, "%ssupersweep: row %lld failed: %s\n", d->tty ? "\n" : "",
				(long long)row, m->text);
	}
	{
		char ck[4096];
		if (!sched_checkpoint_path(ck, sizeof ck, campaign, d->spec->jobs[row].key))
			train_checkpoint_remove(ck);
	}
	progress(d, false);
	return 0;
}

/* maybe_finish - when nothing is left to start (or a drain is on) and
 * nothing runs, every worker gets EXIT and rank 0's own slot closes. */
static int maybe_finish(struct disp *d)
{
	if (d->running > 0)
		return 0;
	if (!d->draining && d->qhead < d->nqueue)
		return 0;
	for (int r = 0; r < d->size; r++) {
		struct slot *s = &d->slots[r];
		if (s->exited)
			continue;
		if (s->fd >= 0 && send_to(s, MSG_EXIT, 0, 0) != 0)
			return ERR_IO;
		if (s->fd >= 0 || r == 0)
			s->exited = true;
	}
	return 0;
}

static bool all_exited(const struct disp *d)
{
	for (int r = 0; r < d->size; r++)
		if (!d->slots[r].exited)
			return false;
	return true;
}

static int build_queue(struct disp *d)
{
	const int8_t *status = store_status(d->st);
	size_t n = d->spec->njobs;
	int rc;

	d->queue = malloc(n * sizeof *d->queue);
	d->attempts = malloc(n * sizeof *d->attempts);
	d->flop = malloc(n * sizeof *d->flop);
	if (!d->queue || !d->attempts || !d->flop)
		return ERR_NOMEM;
	rc = store_read_attempts(d->st, d->attempts);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		d->flop[i] = spec_job_flop(&d->spec->jobs[i]);
		if (status[i] == STORE_DONE) {
			d->done0++;
			continue;
		}
		if (status[i] == STORE_FAILED) {
			d->failed0++;
			if (!d->o->retry_failed)
				continue;
		}
		d->queue[d->nqueue++] = (int64_t)i;
		d->flop_left += d->flop[i];
	}
	d->done = d->done0;
	d->failed = d->failed0;
	return 0;
}

/* accept_worker - read the HELLO of a new connection FD (it follows the
 * connect at once; wait at most 10 s).  A connection that is not one of our
 * workers -- wrong token, unknown or duplicate rank, silence -- is closed
 * and ignored (the port may be reachable by anyone on the network).
 * Returns the worker's rank, or 0 when the connection was dropped. */
static int accept_worker(struct disp *d, int fd)
{
	struct msg m;
	unsigned char buf[sizeof m];
	size_t got = 0;
	int k = 0;

	set_nodelay(fd);
	while (k == 0) {
		struct pollfd one = {fd, POLLIN, 0};
		if (poll(&one, 1, 10000) <= 0) {
			k = ERR_IO;
			break;
		}
		k = recv_some(fd, buf, &got, &m);
	}
	if (k < 0 || m.type != MSG_HELLO || m.checksum != d->token || m.rank < 1 ||
	    m.rank >= d->size || d->slots[m.rank].fd >= 0) {
		fprintf(stderr, "supersweep: ignoring a control connection that is not a worker\n");
		close(fd);
		return 0;
	}
	d->slots[m.rank].fd = fd;
	d->slots[m.rank].rank = m.rank;
	copy_str(d->slots[m.rank].host, sizeof d->slots[m.rank].host, m.text);
	d->nhello++;
	return m.rank;
}

static int dispatcher(struct disp *d, int lfd, const sigset_t *waitmask,
		      volatile sig_atomic_t *stop)
{
	const char *campaign = d->o->campaign;
	struct pollfd *pfd = NULL;
	int nworkers = d->size - 1, rc = 0;

	pfd = calloc((size_t)d->size + 2, sizeof *pfd);
	if (!pfd)
		return ERR_NOMEM;
	if (*stop)
		begin_drain(d, "stop signal");
	rc = dispatch(d, &d->slots[0]); /* rank 0 trains too (unless dispatch_only) */
	while (!rc) {
		int n = 0, r;
		double wait;
		struct timespec ts, *tsp = NULL;

		if (d->nhello == nworkers) {
			rc = maybe_finish(d);
			if (rc || all_exited(d))
				break;
		}
		pfd[n].fd = lfd;
		pfd[n++].events = d->nhello < nworkers ? POLLIN : 0;
		pfd[n].fd = d->local.efd;
		pfd[n++].events = POLLIN;
		for (r = 1; r < d->size; r++) {
			pfd[n].fd = d->slots[r].fd;
			pfd[n++].events = POLLIN;
		}
		if (!d->o->quiet && !d->tty) {
			wait = d->t_last_print + d->every - now_s();
			if (wait < 0)
				wait = 0;
			ts.tv_sec = (time_t)wait;
			ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
			tsp = &ts;
		} else if (!d->o->quiet) {
			ts.tv_sec = 1;
			ts.tv_nsec = 0;
			tsp = &ts; /* refresh the ETA on the terminal */
		}
		r = ppoll(pfd, (nfds_t)n, tsp, waitmask);
		if (r < 0 && errno != EINTR) {
			rc = ERR_IO;
			break;
		}
		if (*stop)
			begin_drain(d, "stop signal");
		if (r <= 0) {
			progress(d, false);
			continue;
		}
		if (pfd[0].revents & POLLIN) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), r2;
			if (fd >= 0) {
				r2 = accept_worker(d, fd);
				if (r2 > 0) {
					rc = dispatch(d, &d->slots[r2]);
					if (rc)
						break;
				}
			}
		}
		if (pfd[1].revents & POLLIN) {
			struct msg m;
			runner_finish(&d->local, d->st, 0, &m);
			rc = handle_done(d, &d->slots[0], &m, campaign);
			if (rc)
				break;
		}
		for (int i = 2; i < n; i++) {
			struct slot *s = &d->slots[i - 1];
			struct msg m;
			int k;
			if (s->fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			while ((k = recv_some(s->fd, s->in, &s->nin, &m)) == 1) {
				if (m.type == MSG_DONE)
					rc = handle_done(d, s, &m, campaign);
				else if (m.type == MSG_DRAIN)
					begin_drain(d, "stop signal on a worker");
				if (rc)
					break;
			}
			if (k < 0 && !rc) {
				fprintf(stderr,
					"supersweep: lost the connection to rank %d (%s); "
					"its job stays pending\n",
					s->rank, s->host);
				rc = ERR_IO;
			}
			if (rc)
				break;
		}
	}
	free(pfd);
	return rc;
}

/* ---- workers ---------------------------------------------------------------- */

static int worker(const struct spec *spec, struct store *st, const struct sched_opts *o, int rank,
		  int fd, int efd, uint64_t token, const sigset_t *waitmask,
		  volatile sig_atomic_t *stop)
{
	struct runner r;
	struct msg m;
	unsigned char in[sizeof m];
	size_t nin = 0;
	bool exit_now = false, drain_sent = false;
	int rc = 0;

	memset(&r, 0, sizeof r);
	r.efd = efd;
	memset(&m, 0, sizeof m);
	m.type = MSG_HELLO;
	m.rank = rank;
	m.checksum = token;
	gethostname(m.text, STORE_HOST_LEN - 1);
	rc = send_msg(fd, &m);
	while (!rc && !(exit_now && !r.busy)) {
		struct pollfd pfd[2] = {{fd, POLLIN, 0}, {efd, POLLIN, 0}};
		int k = ppoll(pfd, 2, NULL, waitmask);
		if (k < 0 && errno != EINTR)
			return ERR_IO;
		if (*stop && !drain_sent) {
			struct msg dm;
			memset(&dm, 0, sizeof dm);
			dm.type = MSG_DRAIN;
			dm.rank = rank;
			drain_sent = true;
			r.stop = 1;
			rc = send_msg(fd, &dm);
		}
		if (k <= 0)
			continue;
		if (pfd[1].revents & POLLIN) {
			struct msg dm;
			runner_finish(&r, st, rank, &dm); /* rank 0 adds up train_s */
			rc = send_msg(fd, &dm);
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			while (!rc && (k = recv_some(fd, in, &nin, &m)) == 1) {
				switch (m.type) {
				case MSG_JOB:
					if (r.busy || m.row < 0 || (size_t)m.row >= spec->njobs) {
						rc = ERR_IO;
						break;
					}
					rc = runner_start(&r, spec, o, m.row, m.attempt);
					if (!rc && drain_sent)
						r.stop = 1;
					break;
				case MSG_STOP: r.stop = 1; break;
				case MSG_EXIT: exit_now = true; break;
				default: rc = ERR_IO;
				}
			}
			if (k < 0)
				rc = ERR_IO;
		}
	}
	if (rc)
		fprintf(stderr, "supersweep[%d]: lost the control connection to rank 0\n", rank);
	if (r.busy) {
		r.stop = 1;
		pthread_join(r.th, NULL);
		train_result_free(&r.res);
	}
	return rc;
}

/* ---- setup ------------------------------------------------------------------- */

struct endpoint {
	char addr[64]; /* dotted IPv4 */
	int port;
	int ok;
	uint64_t token; /* random; a worker proves it belongs to this run with it */
};

/* listen_socket - rank 0 opens the control socket.  Loopback when every rank
 * is on this host; else the address of this host's name (or
 * SUPERSWEEP_CONTROL_ADDR). */
static int listen_socket(bool single_host, int backlog, struct endpoint *ep, char *err)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	const char *want = getenv("SUPERSWEEP_CONTROL_ADDR");
	int fd, one = 1;

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	if (single_host && !want) {
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		snprintf(ep->addr, sizeof ep->addr, "127.0.0.1");
	} else if (want) {
		if (inet_pton(AF_INET, want, &sa.sin_addr) != 1) {
			snprintf(err, SCHED_ERR_LEN,
				 "SUPERSWEEP_CONTROL_ADDR=%s: not an IPv4 address", want);
			return ERR_INVAL;
		}
		snprintf(ep->addr, sizeof ep->addr, "%s", want);
	} else {
		char host[256] = "";
		struct addrinfo hints, *res = NULL, *p;
		memset(&hints, 0, sizeof hints);
		hints.ai_family = AF_INET;
		hints.ai_socktype = SOCK_STREAM;
		gethostname(host, sizeof host - 1);
		if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res) {
			snprintf(err, SCHED_ERR_LEN,
				 "cannot resolve this host's name %s for the control socket "
				 "(set SUPERSWEEP_CONTROL_ADDR)",
				 host);
			return ERR_IO;
		}
		for (p = res; p; p = p->ai_next) {
			struct sockaddr_in *in = (struct sockaddr_in *)(void *)p->ai_addr;
			sa.sin_addr = in->sin_addr;
			if ((ntohl(in->sin_addr.s_addr) >> 24) != 127)
				break;
		}
		freeaddrinfo(res);
		inet_ntop(AF_INET, &sa.sin_addr, ep->addr, sizeof ep->addr);
		sa.sin_addr.s_addr = htonl(INADDR_ANY);
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, SCHED_ERR_LEN, "control socket: %s", strerror(errno));
		return ERR_IO;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, backlog) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
		snprintf(err, SCHED_ERR_LEN, "control socket bind/listen: %s", strerror(errno));
		close(fd);
		return ERR_IO;
	}
	ep->port = ntohs(sa.sin_port);
	return fd;
}

static int connect_to(const struct endpoint *ep)
{
	struct sockaddr_in sa;
	int fd;

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)ep->port);
	if (inet_pton(AF_INET, ep->addr, &sa.sin_addr) != 1)
		return ERR_INVAL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return ERR_IO;
	while (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		if (errno == EINTR)
			continue;
		close(fd);
		return ERR_IO;
	}
	set_nodelay(fd);
	return fd;
}

static int agree_min(int v, MPI_Comm comm)
{
	int all = v;

	if (MPI_Allreduce(&v, &all, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS)
		return ERR_MPI;
	return all;
}

/* single_host - whether every rank runs on rank 0's host. */
static int single_host(MPI_Comm comm, int rank, bool *out)
{
	char me[STORE_HOST_LEN] = "", root[STORE_HOST_LEN];
	int same, all;

	gethostname(me, sizeof me - 1);
	memcpy(root, me, sizeof root);
	if (MPI_Bcast(root, sizeof root, MPI_CHAR, 0, comm) != MPI_SUCCESS)
		return ERR_MPI;
	same = !strcmp(me, root);
	if (MPI_Allreduce(&same, &all, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS)
		return ERR_MPI;
	(void)rank;
	*out = all != 0;
	return 0;
}

int sched_run(const struct spec *spec, struct store *st, const struct sched_opts *opts,
	      MPI_Comm comm, volatile sig_atomic_t *stop, struct sched_summary *sum,
	      bool *local_only, char *err)
{
	static const int stopsigs[] = {SIGUSR1, SIGTERM, SIGINT};
	struct endpoint ep;
	struct disp d;
	sigset_t block, old, waitmask;
	int rank, size, lfd = -1, fd = -1, efd = -1, rc = 0;
	bool one_host = true;
	double t0, cpu0, pcpu0, busy = 0;

	memset(sum, 0, sizeof *sum);
	memset(&d, 0, sizeof d);
	memset(&ep, 0, sizeof ep);
	*local_only = false;
	MPI_Comm_rank(comm, &rank);
	MPI_Comm_size(comm, &size);

	/* the stop signals: blocked everywhere, delivered only inside ppoll */
	sigemptyset(&block);
	for (size_t i = 0; i < 3; i++)
		sigaddset(&block, stopsigs[i]);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	waitmask = old;
	for (size_t i = 0; i < 3; i++)
		sigdelset(&waitmask, stopsigs[i]);

	efd = eventfd(0, EFD_CLOEXEC);
	if (efd < 0)
		rc = ERR_IO;
	rc = agree_min(rc, comm);
	if (!rc)
		rc = agree_min(single_host(comm, rank, &one_host), comm);
	if (rc) {
		snprintf(err, SCHED_ERR_LEN, "cannot set up the scheduler (eventfd/MPI)");
		goto out;
	}
	if (size > 1) {
		if (rank == 0) {
			lfd = listen_socket(one_host, size, &ep, err);
			ep.ok = lfd >= 0;
			if (getrandom(&ep.token, sizeof ep.token, 0) != sizeof ep.token)
				ep.token = (uint64_t)now_s() ^ ((uint64_t)getpid() << 32);
		}
		if (MPI_Bcast(&ep, sizeof ep, MPI_BYTE, 0, comm) != MPI_SUCCESS) {
			rc = ERR_MPI;
			goto out;
		}
		if (!ep.ok) {
			rc = ERR_IO; /* agreed: everyone saw ok = 0 */
			goto out;
		}
		if (rank != 0)
			fd = connect_to(&ep);
		rc = agree_min(fd < 0 && rank != 0 ? ERR_IO : 0, comm);
		if (rc) {
			snprintf(err, SCHED_ERR_LEN,
				 "a worker could not connect to rank 0's control socket %s:%d "
				 "(set SUPERSWEEP_CONTROL_ADDR to an address every node reaches)",
				 ep.addr, ep.port);
			goto out;
		}
	}

	t0 = now_s();
	cpu0 = cpu_s(RUSAGE_THREAD);
	pcpu0 = cpu_s(RUSAGE_SELF);
	if (rank == 0) {
		d.spec = spec;
		d.token = ep.token;
		d.st = st;
		d.o = opts;
		d.size = size;
		d.slots = calloc((size_t)size, sizeof *d.slots);
		d.local.efd = efd;
		d.tty = isatty(STDERR_FILENO);
		d.every = opts->progress_s > 0 ? opts->progress_s : (d.tty ? 1.0 : 30.0);
		d.t_start = d.t_last_print = t0;
		if (!d.slots)
			rc = ERR_NOMEM;
		for (int r = 0; r < size && d.slots; r++) {
			d.slots[r].fd = -1;
			d.slots[r].rank = r;
			d.slots[r].row = -1;
		}
		if (d.slots)
			gethostname(d.slots[0].host, STORE_HOST_LEN - 1);
		double tq = now_s();
		if (!rc)
			rc = build_queue(&d);
		tq = now_s() - tq;
		if (!rc) {
			if (!opts->quiet)
				fprintf(stderr,
					"supersweep: %zu jobs: %lld done, %lld failed, %zu to run "
					"on "
					"%d rank%s (classified in %.3f s)\n",
					spec->njobs, (long long)d.done0, (long long)d.failed0,
					d.nqueue, size, size > 1 ? "s" : "", tq);
			rc = dispatcher(&d, lfd, &waitmask, stop);
		}
		if (d.local.busy) {
			d.local.stop = 1;
			pthread_join(d.local.th, NULL);
			train_result_free(&d.local.res);
		}
		progress(&d, true);
		busy = d.busy_s;
	} else {
		rc = worker(spec, st, opts, rank, fd, efd, ep.token, &waitmask, stop);
	}
	sum->wall_s = now_s() - t0;
	if (rank == 0) {
		sum->rank0_cpu_s = cpu_s(RUSAGE_THREAD) - cpu0;
		sum->rank0_proc_cpu_s = cpu_s(RUSAGE_SELF) - pcpu0;
	}
	if (rc) {
		/* mid-run failure: the other ranks may be blocked anywhere */
		*local_only = true;
		snprintf(err, SCHED_ERR_LEN, "the run lost a rank or its control channel (%s)",
			 err_name(rc));
		goto out;
	}
	{
		/* summary: rank 0's counts to everyone, busy time summed */
		int64_t v[8] = {0};
		double b[2] = {busy, 0};
		if (rank == 0) {
			struct store_counts c = store_count(st);
			v[0] = (int64_t)spec->njobs;
			v[1] = c.done;
			v[2] = c.failed;
			v[3] = c.pending;
			v[4] = d.ran;
			v[5] = d.stopped;
			v[6] = d.dropped;
			v[7] = d.draining;
		}
		if (MPI_Bcast(v, 8, MPI_INT64_T, 0, comm) != MPI_SUCCESS ||
		    MPI_Allreduce(&busy, &b[1], 1, MPI_DOUBLE, MPI_SUM, comm) != MPI_SUCCESS ||
		    MPI_Bcast(&sum->rank0_cpu_s, 1, MPI_DOUBLE, 0, comm) != MPI_SUCCESS ||
		    MPI_Bcast(&sum->rank0_proc_cpu_s, 1, MPI_DOUBLE, 0, comm) != MPI_SUCCESS ||
		    MPI_Bcast(&sum->wall_s, 1, MPI_DOUBLE, 0, comm) != MPI_SUCCESS) {
			rc = ERR_MPI;
			goto out;
		}
		sum->njobs = v[0];
		sum->done = v[1];
		sum->failed = v[2];
		sum->pending = v[3];
		sum->ran = v[4];
		sum->stopped = v[5];
		sum->dropped = v[6];
		sum->drained = v[7] != 0;
		int slots = size - (opts->dispatch_only ? 1 : 0);
		sum->busy_frac =
			(sum->wall_s > 0 && slots > 0) ? b[1] / ((double)slots * sum->wall_s) : 0;
	}
out:
	if (fd >= 0)
		close(fd);
	if (lfd >= 0)
		close(lfd);
	for (int r = 1; d.slots && r < size; r++)
		if (d.slots[r].fd >= 0)
			close(d.slots[r].fd);
	if (efd >= 0)
		close(efd);
	free(d.slots);
	free(d.queue);
	free(d.attempts);
	free(d.flop);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}
