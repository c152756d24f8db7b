// The files `lira score` and `lira audit` write: a refusal to replace a file lira did not
// write (unless --overwrite), atomic replacement (a temporary beside the target, then
// rename), and the per-example score formats (HDF5, CSV, .npy).
#pragma once

#include <string>
#include <vector>

#include "attack/scorer.hpp"

namespace lira {

// Throws StorageError when path exists, overwrite is false, and the file does not carry
// the mark of a lira output of its kind (JSON "generator", the SVG comment, the CSV
// header, the .npy header comment, the HDF5 generator attribute).
void check_replaceable(const std::string& path, bool overwrite, const char* flag);

// Writes text to path.tmp.<pid>, fsyncs, renames over path.
void write_text_atomically(const std::string& path, const std::string& text);

// Per-example scores of every scored attack. By extension: .h5/.hdf5 (storage/
// scores_file.hpp), .csv (a row per target and candidate: target_model, candidate,
// member, one column per attack; empty where an attack has no score), .npy (float64
// [attacks, targets, N], attacks in the order of the table; NaN where no score).
void write_scores(const std::string& path, const ScoreResult& result, const std::string& source);

// Throws StorageError unless path's extension (any case) is one write_scores knows:
// .h5/.hdf5, .csv, .npy. Checked before scoring and again by write_scores.
void check_scores_format(const std::string& path);

// Throws StorageError unless path ends in .svg (any case), naming the flag.
void check_svg(const std::string& path, const char* flag);

}  // namespace lira
