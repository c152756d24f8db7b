// build_network: dispatch on model.arch, and the two small architectures (mlp, cnn).
#include "common/errors.hpp"
#include "network.hpp"

namespace lira {
namespace {

std::unique_ptr<Network> build_mlp_or_cnn(const ModelConfig& config, const NetworkInputs& in) {
  namespace nn = torch::nn;
  nn::Sequential net;
  int64_t features = 1;
  for (auto d : in.example_shape) features *= d;
  if (config.arch == "cnn") {
    if (in.example_shape.size() != 3) throw ConfigError("model.arch: cnn needs image data");
    int64_t channels = in.example_shape[0], h = in.example_shape[1], w = in.example_shape[2];
    for (const int64_t out : config.channels) {
      if (h < 2 || w < 2)
        throw ConfigError("model.channels: " + std::to_string(config.channels.size()) + " conv stages halve " +
                          std::to_string(in.example_shape[1]) + "x" + std::to_string(in.example_shape[2]) +
                          " images below 1x1; use fewer stages");
      net->push_back(nn::Conv2d(nn::Conv2dOptions(channels, out, 3).padding(1)));
      net->push_back(nn::ReLU());
      net->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(2)));
      channels = out;
      h /= 2;
      w /= 2;
    }
    features = channels * h * w;
  }
  net->push_back(nn::Flatten());
  for (const int64_t width : config.hidden) {
    net->push_back(nn::Linear(features, width));
    net->push_back(nn::ReLU());
    features = width;
  }
  net->push_back(nn::Linear(features, in.classes));
  return std::make_unique<NativeNetwork<nn::Sequential>>(net);
}

void require_images(const ModelConfig& config, const NetworkInputs& in) {
  if (in.example_shape.size() != 3) throw ConfigError("model.arch: " + config.arch + " needs image data");
}

}  // namespace

std::vector<std::pair<std::string, torch::Tensor>> Network::state() {
  auto out = named_parameters();
  int i = 0;
  for (auto& b : buffers())
    if (b.is_floating_point()) out.emplace_back("buffer." + std::to_string(i++), b);
  return out;
}

std::unique_ptr<Network> build_network(const ModelConfig& config, const NetworkInputs& in) {
  if (config.arch == "mlp" || config.arch == "cnn") return build_mlp_or_cnn(config, in);
  if (config.arch == "torchscript") return load_torchscript(config.torchscript_path, config.torchscript_reinit, in);
  require_images(config, in);
  const bool group = config.norm == "group";
  if (config.arch == "wrn28-2") return build_wide_resnet(28, 2, config.dropout, in, group);
  if (config.arch == "wrn16-4") return build_wide_resnet(16, 4, config.dropout, in, group);
  if (config.arch == "wrn") return build_wide_resnet(config.depth, config.width, config.dropout, in, group);
  if (config.arch == "resnet18") return build_resnet18(in, group);
  if (config.arch == "airbench") return build_airbench(config.airbench_widths, in);
  if (config.arch == "airbench94") return build_airbench94(in);
  throw ConfigError("model.arch: unknown architecture '" + config.arch + "'");
}

}  // namespace lira
