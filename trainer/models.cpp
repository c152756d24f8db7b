// Implements build_model: mlp and cnn.
#include "models.hpp"

#include "common/errors.hpp"

namespace lira {

torch::nn::Sequential build_model(const ModelConfig& config, int64_t channels, int64_t height, int64_t width,
                                  int64_t classes) {
  namespace nn = torch::nn;
  nn::Sequential net;
  int64_t features = channels * height * width;
  if (config.arch == "cnn") {
    int64_t in = channels, h = height, w = width;
    for (const int64_t out : config.channels) {
      if (h < 2 || w < 2)
        throw ConfigError("model.channels: " + std::to_string(config.channels.size()) +
                          " conv stages halve " + std::to_string(height) + "x" + std::to_string(width) +
                          " images below 1x1; use fewer stages");
      net->push_back(nn::Conv2d(nn::Conv2dOptions(in, out, 3).padding(1)));
      net->push_back(nn::ReLU());
      net->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(2)));
      in = out;
      h /= 2;
      w /= 2;
    }
    features = in * h * w;
  } else if (config.arch != "mlp") {
    throw ConfigError("model.arch: unknown architecture '" + config.arch + "'");
  }
  net->push_back(nn::Flatten());
  for (const int64_t width_out : config.hidden) {
    net->push_back(nn::Linear(features, width_out));
    net->push_back(nn::ReLU());
    features = width_out;
  }
  net->push_back(nn::Linear(features, classes));
  return net;
}

}  // namespace lira
