// Language models (docs/language-models.md): lira's GPT, the model interface the
// language-model task trains (the GPT or a TorchScript causal LM), window packing and
// the per-token statistics.
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <memory>
#include <string>

#include "common/config.hpp"
#include "data/text.hpp"
#include "task.hpp"

namespace lira {

namespace nn = torch::nn;

// The GPT (docs/language-models.md). Causal self-attention plus MLP, pre-LayerNorm.
struct BlockImpl : nn::Module {
  BlockImpl(int64_t embed, int64_t heads, int64_t layers)
      : heads_(heads),
        ln1(register_module("ln1", nn::LayerNorm(nn::LayerNormOptions({embed})))),
        qkv(register_module("qkv", nn::Linear(embed, 3 * embed))),
        proj(register_module("proj", nn::Linear(embed, embed))),
        ln2(register_module("ln2", nn::LayerNorm(nn::LayerNormOptions({embed})))),
        fc(register_module("fc", nn::Linear(embed, 4 * embed))),
        fc_proj(register_module("fc_proj", nn::Linear(4 * embed, embed))) {
    torch::NoGradGuard no_grad;
    for (auto* l : {&qkv, &proj, &fc, &fc_proj}) {
      (*l)->weight.normal_(0.0, 0.02);
      (*l)->bias.zero_();
    }
    // GPT-2: residual projections scaled by 1/sqrt(2 x layers).
    const double scale = 1.0 / std::sqrt(2.0 * static_cast<double>(layers));
    proj->weight.mul_(scale);
    fc_proj->weight.mul_(scale);
  }
  // x [B, T, C]; allowed [B, 1, T, T] (true: may attend)
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& allowed) {
    const int64_t B = x.size(0), T = x.size(1), C = x.size(2), D = C / heads_;
    auto parts = qkv(ln1(x)).chunk(3, -1);
    auto q = parts[0].view({B, T, heads_, D}).transpose(1, 2);
    auto k = parts[1].view({B, T, heads_, D}).transpose(1, 2);
    auto v = parts[2].view({B, T, heads_, D}).transpose(1, 2);
    auto att = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(D));
    att = att.masked_fill(allowed.logical_not(), -1e9).softmax(-1);
    auto y = torch::matmul(att, v).transpose(1, 2).reshape({B, T, C});
    x = x + proj(y);
    return x + fc_proj(torch::gelu(fc(ln2(x))));
  }
  int64_t heads_;
  nn::LayerNorm ln1;
  nn::Linear qkv, proj;
  nn::LayerNorm ln2;
  nn::Linear fc, fc_proj;
};
TORCH_MODULE(Block);

// Token and position embeddings, blocks, final LayerNorm, output tied to the token embedding.
struct GptImpl : nn::Module {
  GptImpl(const ModelConfig& m, int64_t vocab)
      : wte(register_module("wte", nn::Embedding(vocab, m.embed))),
        wpe(register_module("wpe", nn::Embedding(m.context, m.embed))),
        lnf(register_module("lnf", nn::LayerNorm(nn::LayerNormOptions({m.embed})))) {
    torch::NoGradGuard no_grad;
    wte->weight.normal_(0.0, 0.02);
    wpe->weight.normal_(0.0, 0.01);
    for (int64_t i = 0; i < m.layers; ++i)
      blocks.push_back(register_module("block" + std::to_string(i), Block(m.embed, m.heads, m.layers)));
  }
  // idx [B, T], records [B, T] (record id per position, -1 = padding) -> logits [B, T, V]
  // Positions count from 0 at the start of every record, so a record packed after others
  // sees the position embeddings it would see alone.
  torch::Tensor forward(const torch::Tensor& idx, const torch::Tensor& records) {
    const int64_t B = idx.size(0), T = idx.size(1);
    const auto steps = torch::arange(T, torch::TensorOptions(idx.device()).dtype(torch::kInt64));
    auto starts = torch::ones({B, T}, torch::TensorOptions(idx.device()).dtype(torch::kBool));
    if (T > 1) starts.slice(1, 1).copy_(records.slice(1, 1).ne(records.slice(1, 0, -1)));
    const auto first = std::get<0>(torch::cummax(torch::where(starts, steps.expand({B, T}), torch::zeros_like(idx)), 1));
    auto x = wte(idx) + wpe(steps.expand({B, T}) - first);
    auto causal = torch::ones({T, T}, torch::TensorOptions(idx.device()).dtype(torch::kBool)).tril();
    auto same = records.unsqueeze(2).eq(records.unsqueeze(1));  // [B, T, T]
    auto allowed = same.logical_and(causal.unsqueeze(0)).unsqueeze(1);
    for (auto& b : blocks) x = b->forward(x, allowed);
    return torch::matmul(lnf(x), wte->weight.t());
  }
  nn::Embedding wte, wpe;
  nn::LayerNorm lnf;
  std::vector<Block> blocks;
};
TORCH_MODULE(Gpt);

// Per-token statistics of next-token distributions: for logits [K, V] and the actual next
// tokens targets [K]: logprob[k] = log p(targets[k]), mu[k] = sum_v p_v log p_v (minus the
// entropy), sigma[k] = sqrt(sum_v p_v (log p_v)^2 - mu[k]^2) -- what Min-K%++ normalizes
// with. Float64 [K] each, computed from float32 logits on their device, in row chunks.
struct TokenStats {
  torch::Tensor logprob, mu, sigma;
};
TokenStats token_stats(const torch::Tensor& logits, const torch::Tensor& targets);

// The model a language-model job trains: lira's GPT, or a TorchScript causal LM whose
// forward(idx [B, T]) returns logits [B, T, V] (fine-tuned from its saved weights).
class LmModel {
 public:
  virtual ~LmModel() = default;
  // idx [B, T], records [B, T] (record id per position, -1 = padding) -> logits [B, T, V]
  virtual torch::Tensor forward(const torch::Tensor& idx, const torch::Tensor& records) = 0;
  // Every trainable parameter under every name it has (unique_parameters removes repeats).
  virtual NamedTensors named_parameters() = 0;
  virtual std::vector<torch::Tensor> buffers() = 0;
  virtual void set_training(bool on) = 0;
  // Whether forward() honours record ids (then several records may share a window).
  virtual bool masks_records() const = 0;
};

// model.arch gpt or torchscript; draws the GPT's weights from torch's generator.
std::unique_ptr<LmModel> make_lm_model(const ModelConfig& model, int64_t vocab, torch::Device device);

// Windows of `context` tokens packed with whole records in `order`: tokens and record
// ids [W, context] (-1: padding), and per window the number of predicted tokens (every
// record's tokens but its first). One record per window when `one_per_window`.
void pack_windows(const TokenRecords& text, const std::vector<int64_t>& order, int64_t context, bool one_per_window,
                  torch::Tensor& idx, torch::Tensor& rec, std::vector<int64_t>& predicted);

}  // namespace lira
