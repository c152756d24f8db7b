// One run per results file: an exclusive flock on "<results>.lock", held for the whole
// run and removed (while still held) at its end, refused or finished. The kernel drops the
// lock when the process dies, however it dies, so a crashed run never leaves a stale lock
// behind (only an unlocked file, reused); the file holds the holder's pid and host for
// messages. A file system without flock gets its own error, with what to do.
#pragma once

#include <string>

#include "common/side_files.hpp"

namespace lira {

class RunLock {
 public:
  // Takes the lock or throws StorageError naming the running holder.
  explicit RunLock(const std::string& results_path);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

  // Whether some process holds the lock of this results file now, and who ("pid 123 on
  // node7"), without taking it.
  static bool held(const std::string& results_path, std::string* holder = nullptr);
  static std::string lock_path(const std::string& results_path) { return side_files::lock(results_path); }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace lira
