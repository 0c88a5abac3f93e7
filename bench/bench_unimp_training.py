"""Training tokens per second of UniMP (preset tiny: vision tower, perceiver resampler, gated
cross-attention, focal loss at the supervised positions) against a plain Hugging Face causal LM of the
same size (GPT-NeoX with the same config, no vision, no cross-attention, the ordinary shifted
cross-entropy over every position) on the same batches, and their ratio (goal: UniMP <= 2x slower).

    python bench/bench_unimp_training.py [--data PREPARED_DIR] [--steps 20] [--threads 1] [--config '{...}']

Tokens = non-padding prompt tokens of a batch. Both models take AdamW steps (forward, backward, update)
over identical batches of the multi-task training mixture; the first --warmup steps are not timed. UniMP runs
each step as training does (`length_parts` batches of similar length, gradients summed) and, for the ratio of
that change, as one padded batch (the plain LM always gets one padded batch).
Without --data a small synthetic dataset is generated.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's benchmark and models


def _time_steps(step, batches, warmup: int) -> tuple[float, int]:
    """Seconds and tokens of the timed steps (after `warmup` untimed ones); a step is a list of batches
    (the parts of one optimizer step)."""
    for b in batches[:warmup]:
        step(b)
    t0, tokens = time.perf_counter(), 0
    for b in batches[warmup:]:
        step(b)
        tokens += sum(int(part["attention_mask"].sum()) for part in b)
    return time.perf_counter() - t0, tokens


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--steps", type=int, default=20, help="timed steps per model")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--config", default="{}", help='UniMPConfig overrides (JSON) on top of the tiny preset, or '
                    'of another: \'{"preset": "smollm"}\'')
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    from benchmark.api import PreparedDataset
    from models.unimp.adapter import UniMPModel
    from models.unimp.train import LossModule, collate, epoch_order, phases, step_parts

    root = args.data
    if root is None:
        from models.unimp.synthetic import make_dataset

        root = make_dataset(Path(tempfile.mkdtemp()) / "syn", n_items=200, n_users=300)
    data = PreparedDataset(root)
    over = {"image_generation": False, "torch_threads": args.threads, **json.loads(args.config)}
    preset = over.pop("preset", "tiny")
    m = UniMPModel({"preset": preset, **over})
    m._setup(data)
    cfg, vocab = m.cfg, m.vocab
    n = (args.steps + args.warmup) * cfg.batch_size
    examples = m._examples(data, "train", cap=max(1, n // len(m.tasks) + 1))
    order = epoch_order(examples, cfg, 0, 1.0)
    steps = [[examples[i] for i in order[s:s + cfg.batch_size]]
             for s in range(0, len(order) - cfg.batch_size + 1, cfg.batch_size)][: args.steps + args.warmup]
    batches = [[collate(encs, vocab["[PAD]"])] for encs in steps]
    parts = [step_parts(encs, vocab["[PAD]"], None, cfg.length_parts, cfg.loss_norm) for encs in steps]
    if len(batches) < args.steps + args.warmup:
        raise SystemExit(f"only {len(batches)} batches of training data; lower --steps")

    # UniMP: the real training step (train.train_phase without Accelerate's wrapper)
    model = m.model.train()
    model.set_trainable(phases(cfg)[0][2])  # what the first training phase trains (LM frozen in smollm/paper)
    unimp_loss = LossModule(model, cfg.focal_gamma, cfg.loss_norm, cfg.transition_loss)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)

    def unimp_step(step):
        for b in step:
            unimp_loss(**b).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    # the plain causal LM of the same size: every next token, no images; for a pretrained preset (smollm, paper)
    # the same pretrained LM, resized to the same vocabulary, every weight training
    from models.unimp.model import build_lm

    torch.manual_seed(0)
    lm = build_lm(cfg, len(vocab)).train()
    lm_opt = torch.optim.AdamW(lm.parameters(), lr=cfg.lr)

    def lm_step(step):
        (b,) = step
        labels = b["input_ids"].masked_fill(b["attention_mask"] == 0, -100)
        loss = lm(input_ids=b["input_ids"], attention_mask=b["attention_mask"], labels=labels).loss
        loss.backward()
        lm_opt.step()
        lm_opt.zero_grad(set_to_none=True)

    t_u, tok = _time_steps(unimp_step, parts, args.warmup)
    t_one, tok_one = _time_steps(unimp_step, batches, args.warmup)
    t_l, tok_l = _time_steps(lm_step, batches, args.warmup)
    assert tok == tok_l == tok_one
    padded = sum(int(b["attention_mask"].numel()) for (b,) in batches[args.warmup:])
    in_parts = sum(int(b["attention_mask"].numel()) for step in parts[args.warmup:] for b in step)
    n_params = lambda mod: sum(p.numel() for p in mod.parameters())  # noqa: E731
    print(f"data: {root}  batches: {args.steps} timed of {cfg.batch_size} (mean {tok / args.steps:.0f} tokens), "
          f"torch threads {args.threads}")
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(f"UniMP ({preset}, lm {cfg.lm}, fusion {cfg.fusion}, {n_params(model) / 1e6:.2f} M params, "
          f"{n_train / 1e6:.2f} M trained): {tok / t_u:8.0f} tokens/s")
    print(f"UniMP, one padded batch a step: {tok / t_one:8.0f} tokens/s; in up to {cfg.length_parts} parts of similar "
          f"length {t_u / t_one:.2f}x the time (tokens computed, padding included: {in_parts} vs {padded}, "
          f"{in_parts / padded:.2f}x)")
    print(f"plain {type(lm).__name__} ({n_params(lm) / 1e6:.2f} M params, all trained): {tok / t_l:8.0f} tokens/s")
    print(f"ratio (UniMP time / plain LM time): {t_u / t_l:.2f}x (goal <= 2x)")


if __name__ == "__main__":
    main()
