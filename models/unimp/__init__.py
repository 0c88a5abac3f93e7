"""UniMP (Wei et al., ICLR 2024): one vision-language model for recommendation, search, selection,
rating and explanation. Files, in reading order:

config.py         the @dataclass config (presets in presets/*.json)
vision.py         open_clip vision encoder + per-catalogue feature cache
perceiver.py      perceiver resampler: image patches -> a fixed number of visual tokens
cross_attention.py  the exclusive mask (paper eq. 3) and the tanh-gated masked cross-attention block
lm_wrapper.py     wraps every n-th decoder layer of any Hugging Face causal LM by composition
vocab.py          base tokenizer + the added tokens (items, ratings, selection, specials)
prompts.py        task instance -> interleaved prompt (token ids + ordered images) and target
model.py          the UniMP module: vision + resampler + wrapped LM, fusion ablations
losses.py         focal re-weighting (eq. 8) and context reconstruction (eq. 7)
train.py          joint multi-task instruction tuning (Accelerate-compatible)
decode.py         one-pass catalogue ranking and constrained decoding
adapter.py        `UniMPModel`, the benchmark.api.Model
synthetic.py      a tiny synthetic prepared dataset for the tests and the decoding benchmark
README.md         presets, switches, decisions
"""
