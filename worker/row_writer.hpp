// A worker writes a finished model's signal rows into the results file itself
// (parallel.result_writes: worker; DirectRows in common/results_layout.hpp), so that the
// coordinator handles O(1) bytes per model instead of every result's megabytes.
//
// Plain POSIX, no HDF5: the coordinator owns the file's structure and hands out byte
// offsets of contiguous, pre-allocated datasets; the worker pwrite()s row m of each signal
// at offset + m x row_bytes and fdatasync()s before it reports the model, so the
// coordinator's done flag (set and fsync'd after the report) never vouches for rows that
// are not on disk -- the same order as when the coordinator writes them.
//
// The job process writes its models' rows itself (write_rows below), where they are made,
// so that only scalars cross its pipe to the rank; the rank writes only what a job
// process could not (and everything under parallel.isolation: thread).
//
// Whether this worker sees the coordinator's file at all (a node-local path on another
// node, a stale copy) is checked once per run by reading the run's nonce back; a worker
// that cannot use the file sends its rows as before and says so once in the log.
#pragma once

#include <string>
#include <vector>

#include "common/results_layout.hpp"
#include "orchestrator/messages.hpp"

namespace lira {

class RowWriter {
 public:
  RowWriter() = default;
  ~RowWriter();
  RowWriter(const RowWriter&) = delete;
  RowWriter& operator=(const RowWriter&) = delete;

  // Whether rows can be written to `target` (opens and checks the file once per target;
  // the reason it cannot is in why_not()).
  bool usable(const DirectRows& target);
  const std::string& why_not() const { return why_not_; }
  // Writes the model's rows and makes them durable, then drops the values and sets
  // result.written. Throws StorageError (the model is then failed and retried) when a
  // write or the sync fails or the result does not match the target's rows.
  void write(const DirectRows& target, ModelResult& result);

 private:
  void close();
  int fd_ = -1;
  std::string path_;
  std::vector<uint8_t> nonce_;
  bool usable_ = false;
  std::string why_not_;
  bool warned_ = false;
  friend void write_rows(RowWriter&, const DirectRows&, std::vector<WorkerMessage>&, bool);
};

// Writes the rows of every ModelResult in `replies` that is not written yet, when
// `direct` allows and the file is usable; a result whose rows cannot be written becomes
// the model's JobFailure (it is retried). `warn`: say once per writer in the log when the
// file is not usable (the rows then travel to the coordinator).
void write_rows(RowWriter& rows, const DirectRows& direct, std::vector<WorkerMessage>& replies, bool warn);

}  // namespace lira
