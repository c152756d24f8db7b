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
  h5::write_string_attr(file, "generator", "lira score");
  h5::write_dataset(file, "targets", H5T_STD_I64LE, H5T_NATIVE_INT64, {T}, s.targets.data(), path);
  h5::write_dataset(file, "keep_targets", H5T_STD_U8LE, H5T_NATIVE_UINT8, {T, N}, s.target_keep.data(), path);
  auto group = h5::group_id(H5Gcreate2(file, "scores", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "group /scores");
  for (size_t a = 0; a < s.attacks.size(); ++a)
    h5::write_dataset(group, s.attacks[a], H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {T, N}, s.scores[a].data(), path);
  if (!s.member_flip.empty()) {
    auto decisions =
        h5::group_id(H5Gcreate2(file, "decisions", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "group /decisions");
    for (size_t a = 0; a < s.attacks.size() && a < s.member_flip.size(); ++a) {
      if (s.member_flip[a].size() != N) continue;
      auto g = h5::group_id(H5Gcreate2(decisions, s.attacks[a].c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                            "group /decisions/" + s.attacks[a]);
      h5::write_dataset(g, "member_flip", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {N}, s.member_flip[a].data(), path);
      h5::write_dataset(g, "member_flagged", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {N}, s.member_flagged[a].data(), path);
    }
  }
  h5::check(H5Fclose(file.release()), "close " + path);
}

std::string lira_hdf5_kind(const std::string& path) {
  h5::silence_default_errors();
  if (H5Fis_hdf5(path.c_str()) <= 0) return "";
  // As the reader opens it: a run may hold the file, and some filesystems have no locks.
  auto fapl = h5::file_access_without_locking();
  const hid_t fid = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl);
  if (fid < 0) return "";
  auto file = h5::file_id(fid, "open " + path);
  if (h5::attr_exists(file, "generator")) {
    const auto v = h5::read_string_attr(file, "generator");
    if (v.size() == 1 && v[0] == "lira score") return "scores";
    if (v.size() == 1 && v[0] == "lira signals") return "external target";
    return "";
  }
  if (h5::attr_exists(file, "format_version") && h5::attr_exists(file, "fingerprint_config")) return "results";
  return "";
}

}  // namespace lira
