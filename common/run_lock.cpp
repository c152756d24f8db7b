// Implements RunLock with flock(2).
#include "run_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "errors.hpp"

namespace lira {
namespace {

std::string read_holder(int fd) {
  char buf[256] = {};
  const ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  std::string s = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.pop_back();
  return s.empty() ? "an unknown process" : s;
}

}  // namespace

RunLock::RunLock(const std::string& results_path) : path_(lock_path(results_path)) {
  const auto parent = std::filesystem::path(path_).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  for (;;) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0)
      throw StorageError("cannot create the lock file '" + path_ + "': " + std::strerror(errno) +
                         "; check that the results directory is writable, or choose another --out");
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      if (err == EWOULDBLOCK) {
        const std::string holder = read_holder(fd_);
        ::close(fd_);
        fd_ = -1;
        throw StorageError("another lira run (" + holder + ") is writing '" + results_path +
                           "'; wait for it, stop it, or choose another --out");
      }
      // ENOLCK, ENOSYS, EINVAL, EOPNOTSUPP: the file system cannot lock (Lustre mounted
      // without -o flock, some NFS set-ups). Leave nothing behind.
      ::close(fd_);
      fd_ = -1;
      ::unlink(path_.c_str());
      throw StorageError("cannot lock '" + path_ + "': flock failed with " + std::strerror(err) +
                         ": this file system does not support the lock that keeps two runs from writing one results "
                         "file. Put the results on a file system that does (a local disk; Lustre mounted with -o flock; "
                         "NFSv4), e.g. --out /scratch/$USER/run.h5, or ask the administrators to enable flock "
                         "(docs/reliability.md, \"The run lock\")");
    }
    // Locked, but perhaps a file that its last holder unlinked as we opened it: then the
    // path names another inode, and the lock excludes no one. Try again.
    struct stat mine {}, now {};
    if (::fstat(fd_, &mine) == 0 && ::stat(path_.c_str(), &now) == 0 && mine.st_ino == now.st_ino &&
        mine.st_dev == now.st_dev)
      break;
    ::close(fd_);
  }
  char host[128] = {};
  gethostname(host, sizeof host - 1);
  const std::string me = "pid " + std::to_string(getpid()) + " on " + host + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, me.data(), me.size(), 0) != static_cast<ssize_t>(me.size())) {
    // The lock itself is what matters; a missing holder line only makes messages vaguer.
  }
}

RunLock::~RunLock() {
  if (fd_ < 0) return;
  // Removed while still held (a waiting run notices the unlinked inode and retries), so a
  // run leaves no lock file behind; one killed leaves it, unlocked and harmless.
  ::unlink(path_.c_str());
  ::close(fd_);
}

bool RunLock::held(const std::string& results_path, std::string* holder) {
  const int fd = ::open(lock_path(results_path).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool locked = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  if (locked && holder) *holder = read_holder(fd);
  ::close(fd);  // releases the shared lock if we got it
  return locked;
}

}  // namespace lira
