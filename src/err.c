/* err.c - names of the project's error codes (err.h). */
#include "supersweep/err.h"

const char *err_name(int code)
{
	switch (code) {
	case ERR_OK: return "success";
	case ERR_NOMEM: return "out of memory";
	case ERR_INVAL: return "invalid input";
	case ERR_IO: return "I/O error";
	case ERR_HDF5: return "HDF5 error";
	case ERR_MPI: return "MPI error";
	case ERR_DIVERGED: return "diverged";
	case ERR_STOPPED: return "stopped on request";
	case ERR_MISMATCH: return "spec does not match the campaign file";
	case ERR_LOCKED: return "campaign is locked by another writer";
	case ERR_CORRUPT: return "file is damaged or not a campaign";
	case ERR_RANGE: return "value out of range for its type";
	}
	return "unknown error";
}
