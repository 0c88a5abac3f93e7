"""The vocabulary: a base tokenizer for text plus UniMP's added tokens, appended after the base ids.

Added tokens, in id order after the base vocabulary: the specials [CLS] [IMG] [EOC] [ANS] [EOS] [PAD],
the rating tokens <rate_1>..<rate_5>, the selection tokens <sel_0>..<sel_{k-1}> (one per candidate
position), one token <item_n> per item of the catalogue, then one token <img_k> per code of the VQ
image tokenizer (none without image generation). Prompts are assembled from ids directly,
so the added tokens never pass through the base tokenizer.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

SPECIALS = ("[CLS]", "[IMG]", "[EOC]", "[ANS]", "[EOS]", "[PAD]")
N_RATINGS = 5


def train_bpe(texts: Iterable[str], vocab_size: int):
    """A byte-level BPE (`tokenizers`) trained on `texts`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers  # heavy: tokenizers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


class Vocab:
    """Base tokenizer (a `tokenizers.Tokenizer` or a transformers tokenizer) + the added tokens."""

    def __init__(self, base, n_items: int, n_select: int = 5, n_image_codes: int = 0):
        self.base = base
        self.n_items, self.n_select, self.n_image_codes = n_items, n_select, n_image_codes
        if hasattr(base, "get_vocab_size"):          # tokenizers.Tokenizer
            self.n_base = base.get_vocab_size()
        else:                                        # transformers tokenizer
            self.n_base = len(base)
        names = list(SPECIALS) + [f"<rate_{r}>" for r in range(1, N_RATINGS + 1)]
        names += [f"<sel_{j}>" for j in range(n_select)]
        self.added = names                           # items follow, not listed
        self._index = {n: self.n_base + i for i, n in enumerate(names)}
        self.item_offset = self.n_base + len(names)
        self.image_offset = self.item_offset + n_items

    # ---- ids --------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.image_offset + self.n_image_codes

    def __getitem__(self, name: str) -> int:
        return self._index[name]

    def item(self, token: int) -> int:
        return self.item_offset + int(token)

    def image(self, code: int) -> int:
        return self.image_offset + int(code)

    @property
    def image_ids(self) -> list[int]:
        return list(range(self.image_offset, self.image_offset + self.n_image_codes))

    def rating(self, r: int) -> int:
        return self._index[f"<rate_{r}>"]

    def select(self, j: int) -> int:
        return self._index[f"<sel_{j}>"]

    @property
    def rating_ids(self) -> list[int]:
        return [self.rating(r) for r in range(1, N_RATINGS + 1)]

    @property
    def select_ids(self) -> list[int]:
        return [self.select(j) for j in range(self.n_select)]

    # ---- text ---------------------------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        """Base-vocabulary ids of `text` (a leading space, no specials)."""
        text = " " + " ".join(str(text).split())
        if hasattr(self.base, "get_vocab_size"):
            return self.base.encode(text).ids
        return self.base.encode(text, add_special_tokens=False)

    def decode(self, ids: Iterable[int]) -> str:
        """Text of the base-vocabulary ids; added tokens are rendered by name."""
        out, run = [], []
        for i in ids:
            i = int(i)
            if i < self.n_base:
                run.append(i)
                continue
            if run:
                out.append(self._decode_base(run))
                run = []
            out.append(self.name(i))
        if run:
            out.append(self._decode_base(run))
        return " ".join(s.strip() for s in out if s.strip())

    def _decode_base(self, ids: list[int]) -> str:
        if hasattr(self.base, "get_vocab_size"):
            return self.base.decode(ids)
        return self.base.decode(ids, skip_special_tokens=True)

    def name(self, i: int) -> str:
        if i >= self.image_offset:
            return f"<img_{i - self.image_offset}>"
        if i >= self.item_offset:
            return f"<item_{i - self.item_offset}>"
        if i >= self.n_base:
            return self.added[i - self.n_base]
        return self._decode_base([i])

    # ---- persistence --------------------------------------------------------------------------------
    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        kind = "bpe" if hasattr(self.base, "get_vocab_size") else "pretrained"
        if kind == "bpe":
            self.base.save(str(folder / "tokenizer.json"))
        (folder / "vocab.json").write_text(json.dumps(
            {"kind": kind, "n_items": self.n_items, "n_select": self.n_select, "n_base": self.n_base,
             "n_image_codes": self.n_image_codes}))

    @classmethod
    def load(cls, folder: str | Path, base=None) -> "Vocab":
        """Load a saved vocabulary; a pretrained base tokenizer is passed in by the caller."""
        from tokenizers import Tokenizer  # heavy: tokenizers

        folder = Path(folder)
        meta = json.loads((folder / "vocab.json").read_text())
        if meta["kind"] == "bpe":
            base = Tokenizer.from_file(str(folder / "tokenizer.json"))
        vocab = cls(base, meta["n_items"], meta["n_select"], meta.get("n_image_codes", 0))
        if vocab.n_base != meta["n_base"]:
            raise ValueError(f"{folder}: base vocabulary has {vocab.n_base} ids, saved {meta['n_base']}")
        return vocab
