/* lock.h - one writer per campaign: a lock file beside the campaign file.
 *
 * The MPI-IO driver takes no file locks, so nothing in HDF5 stops two runs
 * from writing one campaign.  `run` takes CAMPAIGN.h5.lock on rank 0 before
 * it touches the campaign and removes it at the end.  The lock file holds
 * one line "HOST PID STARTTIME" (STARTTIME: the holder's process start time
 * in clock ticks since boot, from /proc, to tell a live holder from a reused
 * pid).  It is created atomically (written under a unique name, then
 * link(2)ed to the lock name, which works on NFS and Lustre too).
 *
 * Stale locks: a lock whose HOST is this host and whose PID is not running
 * (or runs with another start time) is stale and is taken over.  So is a lock
 * of an earlier attempt of the same Slurm job (same job id, smaller restart
 * count: Slurm starts a requeued job only after the previous attempt ended),
 * on any host.  Any other lock held from another host cannot be checked from
 * here: it is refused, and the message tells the user to remove the file
 * once sure that run is gone.
 */
#ifndef SUPERSWEEP_LOCK_H
#define SUPERSWEEP_LOCK_H

#define LOCK_ERR_LEN 1024

struct lock;

/* lock_acquire - take the lock of CAMPAIGN (the lock file is CAMPAIGN.lock).
 * Returns 0 and *OUT (given; lock_release), ERR_LOCKED when a live holder has
 * it (ERR names the holder's host and pid), ERR_IO or ERR_NOMEM; messages in
 * ERR (LOCK_ERR_LEN). */
int lock_acquire(const char *campaign, struct lock **out, char *err);

/* lock_release - remove the lock file and free *LOCK; accepts NULL. */
void lock_release(struct lock **lock);

#endif
