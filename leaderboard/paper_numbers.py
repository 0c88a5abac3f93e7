"""The numbers published in the UniMP paper (Wei et al., ICLR 2024), for side-by-side display only.

Source: docs/protocol.md section 3. The paper's data and splits differ from ours, so these
are context, never targets or test expectations. Each table keeps the paper's own column names.
"""
from __future__ import annotations

from dataclasses import dataclass

LABEL = "paper (different data)"
SOURCE = "Wei et al., ICLR 2024 (arXiv 2403.10667)"


@dataclass(frozen=True)
class PaperTable:
    """One published table: its title, column names, and rows of (model, values)."""

    key: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, tuple[float, ...]], ...]


PAPER_TABLES: dict[str, PaperTable] = {
    t.key: t
    for t in (
        PaperTable(
            "table1", "Table 1: recommendation",
            ("HR@3", "NDCG@3", "MRR@3", "HR@5", "NDCG@5", "MRR@5"),
            (
                ("SASRec", (.0189, .0124, .0102, .0276, .0175, .0126)),
                ("S3-Rec", (.0205, .0149, .0133, .0311, .0193, .0156)),
                ("LightGCN", (.0142, .0103, .0088, .0206, .0129, .0094)),
                ("GRU4Rec", (.0132, .0101, .0086, .0201, .0128, .0096)),
                ("BERT4Rec", (.0121, .0092, .0079, .0198, .0127, .0105)),
                ("MF", (.0105, .0077, .0065, .0165, .0093, .0078)),
                ("HGN", (.0167, .0113, .0113, .0231, .0153, .0117)),
                ("UniMP", (.0248, .0194, .0176, .0337, .0231, .0196)),
            ),
        ),
        PaperTable(
            "table2a", "Table 2(a): explanation",
            ("BLEU", "ROUGE", "METEOR", "BERTScore"),
            (("UniMP", (.1423, .1080, .0678, .853)), ("P5", (.0822, .0624, .0321, .723))),
        ),
        PaperTable(
            "table2b", "Table 2(b): rating",
            ("MAE", "RMSE"),
            (("UniMP", (.7049, 1.1651)), ("P5", (1.1234, 1.8756))),
        ),
        PaperTable(
            "table2c", "Table 2(c): selection",
            ("Recall", "Precision", "F1"),
            (("UniMP", (.9665, .8877, .9111)), ("S3-Rec", (.7056, .6443, .6572))),
        ),
        PaperTable(
            "table2d", "Table 2(d): search",
            ("HR@5", "NDCG@5", "MRR@5"),
            (("UniMP", (.1769, .1309, .1158)), ("BM25", (.0513, .0378, .0314))),
        ),
        PaperTable(
            "table3", "Table 3: ablations (recommendation)",
            ("HR@5",),
            (
                ("UniMP (full)", (.0337,)), ("w/o vision", (.0284,)), ("w/o fine-grained", (.0257,)),
                ("w/o context & rew", (.0311,)), ("w/o context", (.0318,)), ("w/o rew", (.0302,)),
            ),
        ),
        PaperTable(
            "table4", "Table 4: generalisation (recommendation)",
            ("new users HR@5", "new domain HR@5"),
            (("UniMP", (.0364, .0433)), ("S3-Rec", (.0228, .0226))),
        ),
        PaperTable(
            "table6", "Table 6: robustness (recommendation)",
            ("NT HR@5", "NV HR@5"),
            (("UniMP", (.0332, .0328)),),
        ),
    )
}
