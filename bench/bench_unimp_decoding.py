"""Users per second of UniMP's one-pass catalogue ranking vs Hugging Face `generate` with beam search
(10 beams, 10 returned sequences, batch size 1: the official code's way) on the same model, and the
agreement of their top-10 item lists.

    python bench/bench_unimp_decoding.py [--data PREPARED_DIR] [--checkpoint RUN/model/unimp] [--steps 30] [--users 50]

Without --data a small synthetic dataset is generated; without --checkpoint the tiny preset is trained
for --steps steps. Fine fusion only (the beam search reuses the model's cross-attention state).

With --image: image generation instead (eq. 9's second stage, 8x8 tokens per prompt, greedy and sampled), on
the first --users image prompts, the KV cache preallocated (what UniMP uses) against one grown by
concatenation (Hugging Face's dynamic cache) in alternation, --repeats times: seconds of each, their ratio, and
whether both emitted the same tokens. The VQ tokenizer trains for --vq-steps only (decoding time does not
depend on its quality, only on its 8x8 grid).
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def beam_top10(model, builder, enc, beams: int = 10, constrain: bool = False) -> list[int]:
    """Top-10 items by HF beam search over two new tokens; non-item sequences dropped. `constrain`:
    only item tokens then [EOS] (prefix_allowed_tokens_fn), else free generation (the official way)."""
    from models.unimp.cross_attention import image_mask

    v = builder.vocab
    ids = torch.tensor([enc.input_ids])                                              # (1, T)
    media = model.encode_images(torch.tensor([enc.images], dtype=torch.long) if enc.images else torch.zeros(1, 0, dtype=torch.long))
    state = model.state

    def pre_hook(module, args, kwargs):
        if media is None:
            return
        vis, present = media
        x = next(t for t in (kwargs.get("input_ids"), kwargs.get("inputs_embeds"), *args) if t is not None)
        B, T = x.shape[:2]
        if T == ids.shape[1]:                                                        # the prompt
            mask = image_mask(ids, model.img_id, model.eoc_id, present, model.cfg.exclusive_mask)
        else:                                                                        # answer tokens
            mask = present.unsqueeze(1).expand(1, T, -1) & (not model.cfg.exclusive_mask)
        state.media = vis.expand(B, *vis.shape[1:])
        state.mask = mask.expand(B, *mask.shape[1:])

    def post_hook(module, args, kwargs, out):
        state.clear()

    item_ids = list(range(v.item_offset, v.item_offset + v.n_items))
    T0 = ids.shape[1]

    def prefix_allowed(batch_id, sent):
        return item_ids if sent.shape[-1] == T0 else [v["[EOS]"]]

    base = model.lm.base_model
    h1 = base.register_forward_pre_hook(pre_hook, with_kwargs=True)
    h2 = base.register_forward_hook(post_hook, with_kwargs=True)
    try:
        with torch.no_grad():
            out = model.lm.generate(input_ids=ids, attention_mask=torch.ones_like(ids), num_beams=beams,
                                    num_return_sequences=beams, max_new_tokens=2, do_sample=False,
                                    early_stopping=True, eos_token_id=v["[EOS]"], pad_token_id=v["[PAD]"],
                                    prefix_allowed_tokens_fn=prefix_allowed if constrain else None)
    finally:
        h1.remove()
        h2.remove()
    first = out[:, ids.shape[1]].tolist()
    items = [t - v.item_offset for t in first if v.item_offset <= t < v.item_offset + v.n_items]
    return list(dict.fromkeys(items))[:10]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data")
    ap.add_argument("--checkpoint")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--split", default="test")
    ap.add_argument("--image", action="store_true", help="time image generation: static vs dynamic KV cache")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--vq-steps", type=int, default=20)
    args = ap.parse_args()

    from benchmark.data.dataset import PreparedDataset
    from models.unimp.adapter import UniMPModel
    from models.unimp.decode import rank_items

    tmp = Path(tempfile.mkdtemp(prefix="unimp-bench-"))
    if args.data:
        data = PreparedDataset(args.data)
    else:
        from models.unimp.synthetic import make_dataset

        data = PreparedDataset(make_dataset(tmp / "data", n_items=120, n_users=120))
    config = {"checkpoint": args.checkpoint} if args.checkpoint else {"preset": "tiny", "max_steps": args.steps, "n_valid": 32}
    if args.image and not args.checkpoint:
        config.update(image_generation=True, vq_steps=args.vq_steps, new_domain_steps=1)
    m = UniMPModel(config, run_dir=tmp / "run")
    t0 = time.time()
    m.fit(data, "main")
    fit_s = time.time() - t0
    if args.image:
        return image_decoding(m, data, args, fit_s)
    if m.cfg.fusion != "fine":
        raise SystemExit("the beam-search comparison supports fusion='fine' only")
    req = data.instances("recommendation", args.split).iloc[: args.users]
    encs = [m.builder.build("recommendation", r, with_target=False) for _, r in req.iterrows()]
    torch.set_grad_enabled(False)
    t0 = time.time()
    scores = rank_items(m.model, m.builder, req, "recommendation", m.cfg.eval_batch_size, encs)
    one_pass_s = time.time() - t0
    one_top = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    report = {"users": len(req), "fit_s": round(fit_s, 1), "torch_threads": torch.get_num_threads(),
              "one_pass_users_per_s": round(len(req) / one_pass_s, 2)}
    for name, constrain in (("beam10_free", False), ("beam10_items_only", True)):
        t0 = time.time()
        beam = [beam_top10(m.model, m.builder, e, constrain=constrain) for e in encs]
        beam_s = time.time() - t0
        overlap = [len(set(a.tolist()) & set(b)) / 10 for a, b in zip(one_top, beam)]
        same_first = [bool(b) and int(a[0]) == b[0] for a, b in zip(one_top, beam)]
        report[name] = {"users_per_s": round(len(req) / beam_s, 2), "one_pass_speedup": round(beam_s / one_pass_s, 1),
                        "top10_overlap_mean": round(float(np.mean(overlap)), 4),
                        "top1_agreement": round(float(np.mean(same_first)), 4),
                        "items_returned_mean": round(float(np.mean([len(b) for b in beam])), 2)}
    print(json.dumps(report, indent=1))


def image_decoding(m, data, args, fit_s: float) -> None:
    """Image generation with the preallocated cache (A) and the dynamic one (B), alternated."""
    from models.unimp.config import IMAGE_TASK
    from models.unimp.decode import generate_image_tokens
    from models.unimp.image_gen import search_retrieve

    m.set_inference_data(data)
    b, cfg = m.builder, m.cfg
    req = data.instances(IMAGE_TASK, args.split).iloc[: args.users]
    retrieved = search_retrieve(m.model, b, m.inference_data, req, cfg.n_retrieved, cfg.eval_batch_size)
    encs = [b.build(IMAGE_TASK, r, with_target=False) for _, r in req.assign(retrieved=retrieved).iterrows()]
    torch.set_grad_enabled(False)
    report = {"prompts": len(encs), "mean_prompt_tokens": round(float(np.mean([len(e.input_ids) for e in encs])), 1),
              "image_tokens": m.vq.n_tokens, "batch_size": cfg.eval_batch_size, "fit_s": round(fit_s, 1),
              "torch_threads": torch.get_num_threads()}
    for temperature in (0.0, cfg.image_temperature or 1.0):
        secs = {True: [], False: []}
        codes = {}
        for _ in range(args.repeats):
            for static in (True, False):
                t0 = time.time()
                codes[static] = generate_image_tokens(m.model, b, encs, m.vq.n_tokens, cfg.eval_batch_size,
                                                      temperature, cfg.image_top_k, 0, static_cache=static)
                secs[static].append(time.time() - t0)
        ratios = [a / d for a, d in zip(secs[True], secs[False])]
        report[f"temperature_{temperature:g}"] = {
            "static_s": [round(x, 2) for x in secs[True]], "dynamic_s": [round(x, 2) for x in secs[False]],
            "static_over_dynamic_median": round(float(np.median(ratios)), 3),
            "same_tokens": codes[True] == codes[False]}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
