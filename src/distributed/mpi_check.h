// The one check of an MPI call's return code, for the process group and the MPI communicator.
#pragma once

namespace diffwave {

// Throws Error "MPI <what> failed: <MPI's own text>" unless rc is MPI_SUCCESS.
void check_mpi(int rc, const char* what);

}  // namespace diffwave
