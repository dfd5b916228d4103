#include "distributed/mpi_check.h"

#include <fmt/format.h>
#include <mpi.h>

#include <string>

#include "common/error.h"

namespace diffwave {

void check_mpi(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw Error(fmt::format("MPI {} failed: {}", what, std::string(text, static_cast<size_t>(len))));
}

}  // namespace diffwave
