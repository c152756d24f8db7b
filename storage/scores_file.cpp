// Implements write_scores_file.
#include "scores_file.hpp"

#include "h5.hpp"

namespace lira {

void write_scores_file(const std::string& path, const ScoresToWrite& s) {
  h5::silence_default_errors();
  const hid_t fid = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (fid < 0) throw StorageError("cannot create scores file '" + path + "' (HDF5: " + h5::error_stack() + ")");
  auto file = h5::file_id(fid, "create " + path);
  const auto T = static_cast<hsize_t>(s.targets.size()), N = static_cast<hsize_t>(s.candidates);
  h5::write_string_attr(file, "source", s.source);
  h5::write_string_attr(file, "flavor", s.flavor);
  h5::write_string_attr(file, "lira_version", s.lira_version);
  h5::write_dataset(file, "targets", H5T_STD_I64LE, H5T_NATIVE_INT64, {T}, s.targets.data(), path);
  h5::write_dataset(file, "keep_targets", H5T_STD_U8LE, H5T_NATIVE_UINT8, {T, N}, s.target_keep.data(), path);
  auto group = h5::group_id(H5Gcreate2(file, "scores", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "group /scores");
  for (size_t a = 0; a < s.attacks.size(); ++a)
    h5::write_dataset(group, s.attacks[a], H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {T, N}, s.scores[a].data(), path);
  h5::check(H5Fclose(file.release()), "close " + path);
}

}  // namespace lira
