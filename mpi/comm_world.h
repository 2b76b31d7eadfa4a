/* mpi/comm_world.h — for jobs/ and tests only: build an hr_comm from a raw MPI communicator
 * (a test can run a job on a sub-communicator).  Everything else uses mpi/comm.h. */
#ifndef HR_MPI_COMM_WORLD_H
#define HR_MPI_COMM_WORLD_H

#include <mpi.h>

#include "mpi/comm.h"

/* Duplicates `comm`; the context owns the duplicate. */
int hr_comm_create(MPI_Comm comm, hr_comm **out, hr_error *err);
MPI_Comm hr_comm_raw(const hr_comm *c);

#endif
