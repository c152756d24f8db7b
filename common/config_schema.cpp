// The one declaration of every configuration key: default, range, meaning.
// Adding a key = adding a field to config.hpp and one entry here; nothing else.
#include "config_schema.hpp"

#include <limits>

namespace lira::schema {
namespace {
constexpr int64_t kMaxInt = std::numeric_limits<int64_t>::max();
}

const std::vector<Section>& sections() {
  static const std::vector<Section> s = {
      {"experiment", "What is run: how many reference models, from which seed, into which file."},
      {"data", "The candidate pool and the held-out test split."},
      {"model", "The architecture every reference model shares."},
      {"training", "The recipe each reference model is trained with."},
      {"dp", "DP-SGD: differentially private training of every model (docs/privacy.md)."},
      {"defense", "Defenses of the trained models: what they release, early stopping (docs/privacy.md)."},
      {"queries", "Test-time augmentations at which every candidate is evaluated (the A axis)."},
      {"signals", "Per-model signals stored besides logit_confidence and loss (docs/results-format.md)."},
      {"parallel", "How worker ranks share models and GPUs (docs/distributed.md)."},
  };
  return s;
}

const std::vector<Key>& keys() {
  static const std::vector<Key> k = {
      // ---------------------------------------------------------------- experiment
      {"experiment", "name", TextKey{"quickstart", [](Config& c) -> std::string& { return c.experiment.name; }},
       "Experiment name: shown in logs; the default output is results/<name>.h5.", false},
      {"experiment", "seed", IntKey{0, 0, kMaxInt, [](Config& c) -> int64_t& { return c.experiment.seed; }},
       "Root seed: the keep matrix and every model's seed derive from it."},
      {"experiment", "models", IntKey{16, 2, 1 << 20, [](Config& c) -> int64_t& { return c.experiment.models; }},
       "Number of reference models M; even, so each candidate is IN for exactly M/2 models. Under keep_scheme "
       "pairs it may grow when a run is resumed (the first models are kept); it never shrinks."},
      {"experiment", "keep_scheme",
       ChoiceKey{"subsets", {"subsets", "pairs"}, [](Config& c) -> std::string& { return c.experiment.keep_scheme; }},
       "How the keep matrix is drawn (docs/scoring.md): subsets gives each candidate an independent random half of "
       "the models; pairs splits the candidates into two random halves for each pair of models (2j, 2j+1), so every "
       "even prefix of models is balanced and experiment.models can grow on resume."},
      {"experiment", "output", TextKey{"", [](Config& c) -> std::string& { return c.experiment.output; }},
       "Results file (HDF5). Empty: results/<experiment.name>.h5. An existing one of the same experiment is "
       "resumed; another one is refused.",
       false},
      {"experiment", "max_retries",
       IntKey{1, 0, 100, [](Config& c) -> int64_t& { return c.experiment.max_retries; }},
       "How often a model whose job failed (an error, or a crash or hang of its job process) is retried, within "
       "a run, before it is marked failed.",
       false},
      {"experiment", "max_crashes",
       IntKey{2, 0, 1000, [](Config& c) -> int64_t& { return c.experiment.max_crashes; }},
       "Crash accounting: a model in flight at more than this many abnormal ends of the whole run (a kill -9, a "
       "lost rank or node), counted over every run of the results file, is marked failed on resume instead of "
       "being trained again, so a model that takes the job down cannot loop. Each such end counts against "
       "every model then in flight: raise it where whole-job crashes are common.",
       false},
      {"experiment", "heartbeat_seconds",
       IntKey{30, 1, 3600, [](Config& c) -> int64_t& { return c.experiment.heartbeat_seconds; }},
       "A busy worker tells the coordinator it is alive this often.", false},
      {"experiment", "heartbeat_timeout",
       IntKey{300, 2, 86400, [](Config& c) -> int64_t& { return c.experiment.heartbeat_timeout; }},
       "A busy worker silent this long (seconds) is declared lost; its model goes to another worker.", false},
      {"experiment", "grace_seconds",
       IntKey{60, 0, 86400, [](Config& c) -> int64_t& { return c.experiment.grace_seconds; }},
       "On SIGTERM, SIGUSR1 or SIGINT: how long running models may finish before they are abandoned.", false},
      {"experiment", "stall_seconds",
       IntKey{600, 1, 86400, [](Config& c) -> int64_t& { return c.experiment.stall_seconds; }},
       "A job process that shows no progress (no training step, no evaluation batch) this long is killed as "
       "hung; its model is retried like a crashed one (parallel.isolation: process).",
       false},
      // ---------------------------------------------------------------- data
      {"data", "dataset",
       ChoiceKey{"fashion-mnist", {"fashion-mnist", "mnist", "cifar10", "cifar100", "csv", "text", "fortunes", "jsonl", "llmc"},
                 [](Config& c) -> std::string& { return c.data.dataset; }},
       "File format and classes: IDX (fashion-mnist, mnist), CIFAR binary (cifar10, cifar100), or csv; "
       "text records for language models: text (a record per line), fortunes (records between '%' "
       "lines), jsonl (data.text_field), llmc (pre-tokenized llm.c .bin shards: GPT-2 tokens, each document "
       "begun by <|endoftext|>)."},
      {"data", "path",
       TextKey{"/usr/share/datasets/fashion-mnist", [](Config& c) -> std::string& { return c.data.path; }},
       "Directory holding the dataset files (docs/datasets.md lists the file names per format)."},
      {"data", "candidates", IntKey{4000, 2, kMaxInt, [](Config& c) -> int64_t& { return c.data.candidates; }},
       "Candidate pool size N, taken from the training split."},
      {"data", "candidate_offset",
       IntKey{0, 0, kMaxInt, [](Config& c) -> int64_t& { return c.data.candidate_offset; }},
       "First training example of the pool: the pool is examples [offset, offset + N)."},
      {"data", "population", IntKey{0, 0, kMaxInt, [](Config& c) -> int64_t& { return c.data.population; }},
       "The last P candidates of the pool are trained on by no model: data with every model's signals that no "
       "target saw, RMIA's population z (rmia is skipped without one); they are left out of every attack's "
       "metrics. Must be < data.candidates."},
      {"data", "test_examples", IntKey{0, 0, kMaxInt, [](Config& c) -> int64_t& { return c.data.test_examples; }},
       "Examples of the test split used to measure test accuracy; 0 = all of them."},
      {"data", "normalization",
       ChoiceKey{"standard", {"standard", "symmetric", "none"},
                 [](Config& c) -> std::string& { return c.data.normalization; }},
       "standard: per-channel mean/std of the dataset (csv: per feature, from the pool); symmetric: "
       "x/127.5-1 (the official LiRA demo); none: x/255 (csv: raw)."},
      {"data", "cifar100_labels",
       ChoiceKey{"fine", {"fine", "coarse"}, [](Config& c) -> std::string& { return c.data.cifar100_labels; }},
       "cifar100 only: the 100 fine labels or the 20 coarse superclasses."},
      {"data", "csv_label",
       ChoiceKey{"last", {"first", "last"}, [](Config& c) -> std::string& { return c.data.csv_label; }},
       "csv only: the column holding the integer label (>= 0)."},
      {"data", "csv_header", BoolKey{false, [](Config& c) -> bool& { return c.data.csv_header; }},
       "csv only: the first line is a header and is skipped."},
      {"data", "text_field", TextKey{"text", [](Config& c) -> std::string& { return c.data.text_field; }},
       "jsonl only: the string field of each line's object that holds the record."},
      {"data", "tokenizer",
       ChoiceKey{"byte", {"byte", "bpe"}, [](Config& c) -> std::string& { return c.data.tokenizer; }},
       "Text: byte (built in: 256 byte tokens + begin-of-record) or bpe (GPT-2-style byte-level BPE from "
       "data.bpe_vocab and data.bpe_merges; <|endoftext|> begins each record)."},
      {"data", "bpe_vocab", TextKey{"", [](Config& c) -> std::string& { return c.data.bpe_vocab; }},
       "tokenizer bpe: the vocabulary, a vocab.json mapping token strings to ids."},
      {"data", "bpe_merges", TextKey{"", [](Config& c) -> std::string& { return c.data.bpe_merges; }},
       "tokenizer bpe: the merges.txt, one merge per line, highest priority first."},
      {"data", "vocab_size", IntKey{50257, 2, 1 << 24, [](Config& c) -> int64_t& { return c.data.vocab_size; }},
       "llmc only: the vocabulary size (GPT-2's 50257); every token must be below it and token "
       "vocab_size - 1 is <|endoftext|>."},
      {"data", "max_tokens", IntKey{128, 2, 65536, [](Config& c) -> int64_t& { return c.data.max_tokens; }},
       "Text: a record's tokens (a begin-of-record token, then its bytes) are truncated to this many; at "
       "most model.context."},
      {"data", "canaries", IntKey{0, 0, kMaxInt, [](Config& c) -> int64_t& { return c.data.canaries; }},
       "Audit canaries (docs/privacy.md): this many pool slots, just before the population, hold canaries "
       "(data.canary_kind) instead of training examples; each is IN for half the models like any candidate, "
       "and lira audit bounds epsilon on them. Images and tables; at most data.candidates - data.population."},
      {"data", "canary_kind",
       ChoiceKey{"mislabeled", {"mislabeled", "noise"}, [](Config& c) -> std::string& { return c.data.canary_kind; }},
       "mislabeled: test-split examples (the last data.canaries of it, then left out of the test accuracy) "
       "with a wrong label drawn uniformly from the other classes; noise: images of uniform random pixels with "
       "a uniform random label (images only). Drawn from a fixed seed: the same data section gives the same "
       "canaries in every experiment."},
      // ---------------------------------------------------------------- model
      {"model", "arch",
       ChoiceKey{"mlp",
                 {"mlp", "cnn", "wrn28-2", "wrn16-4", "wrn", "resnet18", "airbench", "airbench94", "torchscript",
                  "gpt", "synthetic"},
                 [](Config& c) -> std::string& { return c.model.arch; }},
       "mlp, cnn, wide ResNets as objax builds them (wrn28-2 of the LiRA paper, wrn16-4, or wrn with "
       "model.depth/width), resnet18 (CIFAR variant), airbench94 (the published airbench94 network; "
       "trained with its published recipe by default, training.recipe), airbench (its layout with "
       "model.airbench_widths, centered whitening and PyTorch BatchNorm), torchscript (model.torchscript_path), gpt (a decoder-only "
       "transformer for text data); synthetic: a benchmark "
       "workload that trains nothing (model.job_seconds)."},
      {"model", "hidden",
       IntListKey{{256}, 1, 1 << 16, 0, 16, [](Config& c) -> std::vector<int64_t>& { return c.model.hidden; }},
       "mlp and cnn: widths of the fully connected hidden layers."},
      {"model", "channels",
       IntListKey{{16, 32}, 1, 4096, 1, 4, [](Config& c) -> std::vector<int64_t>& { return c.model.channels; }},
       "cnn only: output channels of each conv stage (each stage halves height and width)."},
      {"model", "depth", IntKey{28, 10, 1000, [](Config& c) -> int64_t& { return c.model.depth; }},
       "wrn only: depth, 6n + 4 (28: 4 blocks per group)."},
      {"model", "width", IntKey{2, 1, 64, [](Config& c) -> int64_t& { return c.model.width; }},
       "wrn only: width multiplier k (group widths 16k, 32k, 64k)."},
      {"model", "layers", IntKey{2, 1, 96, [](Config& c) -> int64_t& { return c.model.layers; }},
       "gpt only: transformer blocks (pre-LayerNorm, causal self-attention, MLP)."},
      {"model", "heads", IntKey{4, 1, 128, [](Config& c) -> int64_t& { return c.model.heads; }},
       "gpt only: attention heads; model.embed must be a multiple."},
      {"model", "embed", IntKey{128, 8, 16384, [](Config& c) -> int64_t& { return c.model.embed; }},
       "gpt only: width of the token and position embeddings (the output layer shares the token one)."},
      {"model", "context", IntKey{128, 8, 65536, [](Config& c) -> int64_t& { return c.model.context; }},
       "gpt only: context length in tokens; longer records are truncated to it (docs/language-models.md)."},
      {"model", "dropout", RealKey{0.0, 0.0, 0.9, [](Config& c) -> double& { return c.model.dropout; }},
       "Wide ResNets: dropout between the two convolutions of a block."},
      {"model", "norm",
       ChoiceKey{"batch", {"batch", "group"}, [](Config& c) -> std::string& { return c.model.norm; }},
       "The ResNets' normalization: batch (BatchNorm: objax's for the wide ResNets, PyTorch's for resnet18) or "
       "group (GroupNorm, 16 groups: each example normalized on its own, no running statistics; the variant "
       "DP-SGD can train, with per-example gradients from the one-example loop)."},
      {"model", "airbench_widths",
       IntListKey{{64, 256, 256}, 1, 4096, 3, 3,
                  [](Config& c) -> std::vector<int64_t>& { return c.model.airbench_widths; }},
       "airbench only: widths of its three conv blocks."},
      {"model", "torchscript_path",
       TextKey{"", [](Config& c) -> std::string& { return c.model.torchscript_path; }},
       "torchscript only: a module saved with torch.jit.script/trace; images in, logits [B, classes] out; or, "
       "with text data, a causal language model: token ids [B, T] in, logits [B, T, vocabulary] out."},
      {"model", "torchscript_reinit", BoolKey{false, [](Config& c) -> bool& { return c.model.torchscript_reinit; }},
       "torchscript only: re-initialize its weights from each model's seed (else every model starts "
       "from the saved weights)."},
      {"model", "job_seconds", RealKey{0.0, 0.0, 86400.0, [](Config& c) -> double& { return c.model.job_seconds; }},
       "synthetic only: each job sleeps this long, then returns random signals of the right shape; no "
       "dataset is read (data.candidates sets N)."},
      {"model", "synthetic_failure_rate",
       RealKey{0.0, 0.0, 1.0, [](Config& c) -> double& { return c.model.synthetic_failure_rate; }},
       "synthetic only: probability that an attempt throws (seeded), to exercise retries."},
      {"model", "synthetic_slow_fraction",
       RealKey{0.0, 0.0, 1.0, [](Config& c) -> double& { return c.model.synthetic_slow_fraction; }},
       "synthetic only: share of the workers that are slow (by worker index)."},
      {"model", "synthetic_slowdown",
       RealKey{4.0, 1.0, 1000.0, [](Config& c) -> double& { return c.model.synthetic_slowdown; }},
       "synthetic only: how many times longer a slow worker's jobs take."},
      // ---------------------------------------------------------------- training
      {"training", "recipe",
       ChoiceKey{"auto", {"auto", "generic", "airbench94", "official"},
                 [](Config& c) -> std::string& { return c.training.recipe; }},
       "The training recipe (common/recipes.hpp, docs/training.md): generic (the training.* keys, any network), "
       "airbench94 (the published airbench94 recipe, for model.arch airbench94), or official (the official LiRA "
       "code's WRN training: SGD 0.1, momentum 0.9, weight decay 5e-4, its cosine schedule with 1% warmup, flip and "
       "4-pixel crop). A recipe's fixed keys are refused at other values. auto: airbench94 for model.arch "
       "airbench94, generic otherwise (what configs written before this key mean)."},
      {"training", "epochs", RealKey{30.0, 0.01, 100000.0, [](Config& c) -> double& { return c.training.epochs; }},
       "Passes over the model's IN half of the candidates; a fraction trains ceil(epochs x batches per "
       "epoch) steps in all (airbench94: 9.9)."},
      {"training", "batch_size", IntKey{128, 1, 1 << 20, [](Config& c) -> int64_t& { return c.training.batch_size; }},
       "Examples per optimizer step (the last, smaller batch of an epoch is kept)."},
      {"training", "optimizer",
       ChoiceKey{"sgd", {"sgd", "adam", "adamw"}, [](Config& c) -> std::string& { return c.training.optimizer; }},
       "sgd (with training.momentum, training.nesterov), adam or adamw."},
      {"training", "lr", RealKey{0.1, 0.0, 100.0, [](Config& c) -> double& { return c.training.lr; }},
       "Peak learning rate (see training.schedule)."},
      {"training", "momentum", RealKey{0.9, 0.0, 1.0, [](Config& c) -> double& { return c.training.momentum; }},
       "SGD momentum (sgd only: a value other than the default is refused with adam and adamw)."},
      {"training", "nesterov", BoolKey{false, [](Config& c) -> bool& { return c.training.nesterov; }},
       "SGD with Nesterov momentum (sgd only; needs momentum > 0)."},
      {"training", "weight_decay",
       RealKey{0.0, 0.0, 1.0, [](Config& c) -> double& { return c.training.weight_decay; }},
       "Weight decay (L2 for sgd and adam, decoupled for adamw)."},
      {"training", "decay_all", BoolKey{false, [](Config& c) -> bool& { return c.training.decay_all; }},
       "Decay every parameter; false: only conv and linear weights, not biases or norm parameters "
       "(the official LiRA recipe)."},
      {"training", "schedule",
       ChoiceKey{"constant", {"constant", "cosine", "official", "onecycle"},
                 [](Config& c) -> std::string& { return c.training.schedule; }},
       "Learning rate per step: constant; cosine (to 0); official (lr cos(7 pi p / 16), the LiRA demo); "
       "onecycle (linear up, linear down to 0). Warmup per training.warmup."},
      {"training", "warmup", RealKey{0.0, 0.0, 1.0, [](Config& c) -> double& { return c.training.warmup; }},
       "Fraction of the steps with a linear warmup from 0 (official demo: 0.01; onecycle: its peak)."},
      {"training", "label_smoothing",
       RealKey{0.0, 0.0, 0.99, [](Config& c) -> double& { return c.training.label_smoothing; }},
       "Label smoothing of the cross-entropy training loss (signals always use the plain loss)."},
      {"training", "ema", RealKey{0.0, 0.0, 0.99999, [](Config& c) -> double& { return c.training.ema; }},
       "Exponential moving average of the weights with this decay (debiased), evaluated instead of "
       "the raw weights; 0 = off (official demo: 0.999)."},
      {"training", "augment_flip", BoolKey{false, [](Config& c) -> bool& { return c.training.augment_flip; }},
       "Images: random horizontal flips during training."},
      {"training", "augment_crop", IntKey{0, 0, 64, [](Config& c) -> int64_t& { return c.training.augment_crop; }},
       "Images: reflect-pad by this many pixels, then crop back at a random offset; 0 = off."},
      {"training", "threads", IntKey{0, 0, 1024, [](Config& c) -> int64_t& { return c.training.threads; }},
       "Intra-op CPU threads per worker process; 0 = this node's cores / worker processes on it."},
      {"training", "device",
       ChoiceKey{"auto", {"auto", "cpu", "cuda"}, [](Config& c) -> std::string& { return c.training.device; }},
       "auto: CUDA when this libtorch has it and a GPU is visible, else CPU."},
      {"training", "bf16", BoolKey{true, [](Config& c) -> bool& { return c.training.bf16; }},
       "CUDA only: bf16 autocast for the training steps (inference for the signals stays fp32)."},
      {"training", "channels_last", BoolKey{true, [](Config& c) -> bool& { return c.training.channels_last; }},
       "CUDA only: channels-last memory format for convolutional classifiers (refused when set for mlp, "
       "csv or text)."},
      {"training", "grad_clip", RealKey{0.0, 0.0, 1e6, [](Config& c) -> double& { return c.training.grad_clip; }},
       "Clip the gradients' global L2 norm to this before each step; 0 = off (GPT recipes: 1.0)."},
      {"training", "accumulate", IntKey{1, 1, 4096, [](Config& c) -> int64_t& { return c.training.accumulate; }},
       "Batches whose gradients are averaged before each optimizer step (a larger effective batch), "
       "every task."},
      // ---------------------------------------------------------------- dp
      {"dp", "noise_multiplier",
       RealKey{0.0, 0.0, 1e4, [](Config& c) -> double& { return c.dp.noise_multiplier; }},
       "DP-SGD noise multiplier sigma: Gaussian noise of std sigma x dp.max_grad_norm is added to each step's "
       "sum of clipped per-example gradients. 0 (and dp.target_epsilon 0) trains without DP."},
      {"dp", "target_epsilon",
       RealKey{0.0, 0.0, 1e6, [](Config& c) -> double& { return c.dp.target_epsilon; }},
       "Instead of dp.noise_multiplier: the epsilon (at dp.delta) each model may spend; the smallest noise "
       "multiplier that stays within it is solved per model by the RDP accountant."},
      {"dp", "max_grad_norm",
       RealKey{1.0, 1e-9, 1e6, [](Config& c) -> double& { return c.dp.max_grad_norm; }},
       "DP-SGD: every example's gradient (all parameters together) is clipped to this L2 norm."},
      {"dp", "delta", RealKey{1e-5, 1e-300, 0.5, [](Config& c) -> double& { return c.dp.delta; }},
       "DP-SGD: the delta of the (epsilon, delta) guarantee; keep it well below 1 / (training examples)."},
      {"dp", "clipping",
       ChoiceKey{"auto", {"auto", "loop"}, [](Config& c) -> std::string& { return c.dp.clipping; }},
       "How per-example gradients are computed: auto (one batched backward pass for mlp and cnn, the loop "
       "otherwise) or loop (one backward pass per example: the slow reference)."},
      // ---------------------------------------------------------------- queries
      {"queries", "identity", BoolKey{true, [](Config& c) -> bool& { return c.queries.identity; }},
       "Evaluate each candidate as it is."},
      {"queries", "mirror", BoolKey{true, [](Config& c) -> bool& { return c.queries.mirror; }},
       "Also evaluate its horizontal mirror image (LiRA paper: 2 queries beat 1)."},
      {"queries", "shift", IntKey{0, 0, 16, [](Config& c) -> int64_t& { return c.queries.shift; }},
       "Also evaluate translations by -shift..shift pixels in each direction (reflect padding); "
       "shift 1 with mirror gives the paper's 18 queries."},
      {"queries", "shift_stride", IntKey{1, 1, 16, [](Config& c) -> int64_t& { return c.queries.shift_stride; }},
       "Step between the translations of queries.shift."},
      {"queries", "batchnorm",
       ChoiceKey{"eval", {"eval", "train"}, [](Config& c) -> std::string& { return c.queries.batchnorm; }},
       "Inference with BatchNorm running statistics (eval, correct) or batch statistics (train: what the "
       "reference code's inference.py does)."},
      // ---------------------------------------------------------------- signals
      // ---------------------------------------------------------------- defense
      {"defense", "round_decimals",
       IntKey{0, 0, 15, [](Config& c) -> int64_t& { return c.defense.round_decimals; }},
       "Output rounding: the model releases its softmax probabilities rounded to this many decimals, and "
       "every signal is computed from what it releases (a probability below half the last decimal counts as "
       "that half). 0 = off."},
      {"defense", "top_k", IntKey{0, 0, 1 << 24, [](Config& c) -> int64_t& { return c.defense.top_k; }},
       "Top-k release: only the k largest probabilities are released; the rest of the mass is read as spread "
       "evenly over the other classes. 0 = off; must be below the number of classes."},
      {"defense", "label_only", BoolKey{false, [](Config& c) -> bool& { return c.defense.label_only; }},
       "Label-only release: the model releases its predicted class only; the signals are then +-log 2 "
       "(logit_confidence) and 0 or log 2 (loss) per query, so only the queries' agreement carries "
       "information (the data-augmentation label-only attack)."},
      {"defense", "early_stopping",
       IntKey{0, 0, 1 << 20, [](Config& c) -> int64_t& { return c.defense.early_stopping; }},
       "Early stopping: after each epoch the model is evaluated on a validation split (defense."
       "validation_examples); training stops after this many epochs without a lower validation loss, and the "
       "model of the best epoch is kept. 0 = off."},
      {"defense", "validation_examples",
       IntKey{1000, 1, kMaxInt, [](Config& c) -> int64_t& { return c.defense.validation_examples; }},
       "Early stopping: the last this many examples of the test split (before any canaries) form the "
       "validation split, which the test accuracy then leaves out."},
      {"signals", "probabilities", BoolKey{false, [](Config& c) -> bool& { return c.signals.probabilities; }},
       "Store /signals/max_probability and /signals/entropy [M, N, A] (features of the shokri attack)."},
      {"signals", "logits", BoolKey{false, [](Config& c) -> bool& { return c.signals.logits; }},
       "Store the full logits /signals/logits [M, N, A, C] (C x the other signals' size)."},
      // ---------------------------------------------------------------- parallel
      {"parallel", "ranks_per_model",
       IntKey{1, 1, 1024, [](Config& c) -> int64_t& { return c.parallel.ranks_per_model; }},
       "Worker ranks per model: static data-parallel gangs of this size (consecutive ranks); the "
       "worker count must be a multiple. Same model as 1 rank up to summation order (no BatchNorm, "
       "no dropout).",
       false},
      {"parallel", "ranks_per_gpu", IntKey{1, 1, 64, [](Config& c) -> int64_t& { return c.parallel.ranks_per_gpu; }},
       "Worker ranks sharing one GPU (small models); more worker ranks on a node than GPUs x this is an "
       "error.",
       false},
      {"parallel", "collective_timeout",
       IntKey{300, 1, 86400, [](Config& c) -> int64_t& { return c.parallel.collective_timeout; }},
       "Seconds a gang's collective (all-reduce, broadcast) may take; past it the model fails, goes to "
       "another gang, and this gang retires.",
       false},
      {"parallel", "isolation",
       ChoiceKey{"process", {"process", "thread"}, [](Config& c) -> std::string& { return c.parallel.isolation; }},
       "process: each worker rank trains in a child process (its job process), so a segfault, abort, OOM kill "
       "or hang costs one job, which is retried, not the rank; thread: in the rank itself (one process fewer; a "
       "crash then ends the rank, or the run). Same signals either way.",
       false},
      {"parallel", "result_writes",
       ChoiceKey{"worker", {"worker", "coordinator"}, [](Config& c) -> std::string& { return c.parallel.result_writes; }},
       "worker: each worker writes a finished model's signal rows into the results file itself and the coordinator "
       "only sets its done flag (a worker that cannot see the file sends its rows instead, and says so); "
       "coordinator: every result's rows travel to the coordinator, which writes them. Same file either way "
       "(docs/performance.md).",
       false},
      {"parallel", "models_per_job",
       IntKey{1, 1, 256, [](Config& c) -> int64_t& { return c.parallel.models_per_job; }},
       "K: a worker trains K models at once as one network K times as wide (on CUDA groups=K convolutions; "
       "batched matmuls), each with its own seed, keep row, batch order, augmentation draws, learning-rate schedule "
       "and BatchNorm statistics, as if alone, through the same loop as one model (early stopping and "
       "accumulation included); mlp, cnn, airbench, airbench94, the wide ResNets (no dropout) and resnet18 with "
       "BatchNorm, also in data-parallel gangs; not DP-SGD, nor queries.batchnorm train for BatchNorm networks. "
       "The same models as K = 1 up to float rounding (docs/training.md). A retry trains alone.",
       false},
  };
  return k;
}

const Key* find_key(const std::string& section, const std::string& name) {
  for (const auto& k : keys())
    if (section == k.section && name == k.name) return &k;
  return nullptr;
}

}  // namespace lira::schema
