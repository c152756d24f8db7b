// Implements write_scores_file.
#include "scores_file.hpp"

#include "h5.hpp"

namespace lira {
namespace {

void attr(hid_t loc, const char* name, const std::string& value) {
  auto type = h5::type_id(H5Tcopy(H5T_C_S1), "string type");
  h5::check(H5Tset_size(type, H5T_VARIABLE), "string type");
  h5::check(H5Tset_cset(type, H5T_CSET_UTF8), "string type");
  auto space = h5::space_id(H5Screate(H5S_SCALAR), "scalar space");
  auto a = h5::attr_id(H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT), std::string("attribute ") + name);
  const char* p = value.c_str();
  h5::check(H5Awrite(a, type, &p), std::string("write attribute ") + name);
}

void dataset(hid_t loc, const std::string& name, hid_t file_type, hid_t mem_type, std::vector<hsize_t> dims,
             const void* data, const std::string& path) {
  auto space = h5::space_id(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), "space");
  auto ds = h5::dataset_id(H5Dcreate2(loc, name.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                           "create " + name + " in " + path);
  h5::check(H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "write " + name + " in " + path);
}

}  // namespace

void write_scores_file(const std::string& path, const ScoresToWrite& s) {
  h5::silence_default_errors();
  const hid_t fid = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (fid < 0) throw StorageError("cannot create scores file '" + path + "' (HDF5: " + h5::error_stack() + ")");
  auto file = h5::file_id(fid, "create " + path);
  const auto T = static_cast<hsize_t>(s.targets.size()), N = static_cast<hsize_t>(s.candidates);
  attr(file, "source", s.source);
  attr(file, "flavor", s.flavor);
  attr(file, "lira_version", s.lira_version);
  dataset(file, "targets", H5T_STD_I64LE, H5T_NATIVE_INT64, {T}, s.targets.data(), path);
  dataset(file, "keep_targets", H5T_STD_U8LE, H5T_NATIVE_UINT8, {T, N}, s.target_keep.data(), path);
  auto group = h5::group_id(H5Gcreate2(file, "scores", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "group /scores");
  for (size_t a = 0; a < s.attacks.size(); ++a)
    dataset(group, s.attacks[a], H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {T, N}, s.scores[a].data(), path);
  h5::check(H5Fclose(file.release()), "close " + path);
}

}  // namespace lira
