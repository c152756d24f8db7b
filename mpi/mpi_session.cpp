// Implements mpi::Session and the launcher detection.
#include "mpi_session.hpp"

#include <cstdlib>
#include <string>

#include "mpi_check.hpp"

namespace lira::mpi {

bool launched_by_mpi_launcher() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "MPI_LOCALNRANKS",
                          "MV2_COMM_WORLD_SIZE", "HYDRA_CONTROL_FD"}) {
    if (std::getenv(var) != nullptr) return true;
  }
  return false;
}

std::string library_version() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  if (MPI_Get_library_version(text, &len) != MPI_SUCCESS) return "unknown";
  std::string s(text, static_cast<size_t>(len));
  if (auto nl = s.find_first_of("\n\r"); nl != std::string::npos) s.resize(nl);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
  return s;
}

Session::Session() {
  // Fault injection for tests/e2e/gangs.sh: LIRA_TEST_MPI_THREAD=funneled asks for less,
  // as an MPI without thread support would provide.
  const char* wanted = std::getenv("LIRA_TEST_MPI_THREAD");
  const int level = wanted && std::string(wanted) == "funneled" ? MPI_THREAD_FUNNELED : MPI_THREAD_SERIALIZED;
  int provided = MPI_THREAD_SINGLE;
  LIRA_MPI_CHECK(MPI_Init_thread(nullptr, nullptr, level, &provided));
  thread_level_ = provided;
  // Errors come back as return codes, which we check, instead of aborting inside MPI.
  LIRA_MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  LIRA_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
  LIRA_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size_));
  MPI_Comm local;
  LIRA_MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local));
  LIRA_MPI_CHECK(MPI_Comm_rank(local, &local_rank_));
  LIRA_MPI_CHECK(MPI_Comm_size(local, &local_size_));
  int here = rank_ == 0 ? 1 : 0, any = 0;
  LIRA_MPI_CHECK(MPI_Allreduce(&here, &any, 1, MPI_INT, MPI_MAX, local));
  coordinator_is_local_ = any != 0;
  LIRA_MPI_CHECK(MPI_Comm_free(&local));
}

std::string Session::thread_level_name(int level) {
  switch (level) {
    case MPI_THREAD_SINGLE: return "MPI_THREAD_SINGLE";
    case MPI_THREAD_FUNNELED: return "MPI_THREAD_FUNNELED";
    case MPI_THREAD_SERIALIZED: return "MPI_THREAD_SERIALIZED";
    case MPI_THREAD_MULTIPLE: return "MPI_THREAD_MULTIPLE";
    default: return "thread level " + std::to_string(level);
  }
}

void Session::finalize() {
  if (finalized_) return;
  finalized_ = true;
  LIRA_MPI_CHECK(MPI_Finalize());
}

void Session::abort(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);  // without the call mutex: another thread may hold it forever
  std::_Exit(code);  // MPI_Abort should not return; make sure we do not either
}

void Session::broadcast(std::string& text, int root) const {
  unsigned long long n = text.size();
  LIRA_MPI_CHECK(MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, root, MPI_COMM_WORLD));
  text.resize(n);
  if (n > 0) LIRA_MPI_CHECK(MPI_Bcast(text.data(), static_cast<int>(n), MPI_CHAR, root, MPI_COMM_WORLD));
}

Session::Agreement Session::agree(const std::string& my_failure, int my_exit_code) const {
  int len = static_cast<int>(my_failure.size());
  std::vector<int> lens(size_);
  LIRA_MPI_CHECK(MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, MPI_COMM_WORLD));
  std::vector<int> displs(size_, 0);
  int total = 0;
  for (int r = 0; r < size_; ++r) {
    displs[r] = total;
    total += lens[r];
  }
  std::string all(static_cast<size_t>(total), '\0');
  LIRA_MPI_CHECK(MPI_Allgatherv(my_failure.data(), len, MPI_CHAR, all.data(), lens.data(), displs.data(), MPI_CHAR,
                                MPI_COMM_WORLD));
  Agreement result;
  for (int r = 0; r < size_; ++r)
    if (lens[r] > 0) result.failures.push_back("rank " + std::to_string(r) + ": " + all.substr(displs[r], lens[r]));
  int code = my_failure.empty() ? 0 : my_exit_code;
  LIRA_MPI_CHECK(MPI_Allreduce(&code, &result.exit_code, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
  return result;
}

}  // namespace lira::mpi
