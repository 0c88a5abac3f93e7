"""Metrics for the six tasks (docs/protocol.md section 2), each computed per instance so that
`benchmark.metrics.bootstrap` can resample them. Submodules import their heavy libraries lazily:

ranking    full-ranking top-k with history / catalogue masking; HR, NDCG, MRR @3/5/10
selection  precision / recall / F1 of a chosen set; validation threshold choice
rating     output parsing, MAE, RMSE, invalid rate (declared fallback 3)
text       BLEU-1/4 (sacrebleu), ROUGE-1/2/L, METEOR (offline WordNet), BERTScore (local model)
bootstrap  percentile CIs and the paired bootstrap
image      image-generation metrics (separate module)
"""
