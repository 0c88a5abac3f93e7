"""Joint multi-task instruction tuning: AdamW, linear warm-up then cosine decay, focal loss,
checkpoints in safetensors (model + optimizer + scheduler + step) with resume after a kill, model
selection by a callback on validation data. Accelerate-compatible: run under `accelerate launch` (or
any torch.distributed launcher) and each process takes its own shard of every global batch."""
from __future__ import annotations

import contextlib
import json
import math
import os
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from benchmark.metrics import device

from .config import IMAGE_TASK, TEXT_TASKS, UniMPConfig
from .losses import loss_denominators, sequence_loss, token_weights
from .prompts import Encoded

CONTINUAL_ORDER = ("image", "explanation", "rating", "selection", "search", "recommendation")
# Tasks whose prompts are much longer than the others (an image target is grid x grid tokens): their
# examples form batches of their own, so short prompts are not padded to their length.
OWN_BATCH_TASKS = ("image",)


def collate(encs: Sequence[Encoded], pad_id: int, task_weights: dict | None = None, left: bool = False) -> dict:
    """Pad a list of prompts into tensors. Right padding for training/ranking, left for generation."""
    T = max(len(e.input_ids) for e in encs)
    M = max(1, max(len(e.images) for e in encs))
    B = len(encs)
    ids = torch.full((B, T), pad_id, dtype=torch.long)
    mask = torch.zeros(B, T, dtype=torch.long)
    weights = torch.zeros(B, T)
    images = torch.full((B, M), -1, dtype=torch.long)
    answer = torch.zeros(B, dtype=torch.long)
    next_item = torch.full((B, T), -1, dtype=torch.long)  # item token the position's hidden state predicts
    cand_group = torch.tensor([e.cand_group for e in encs], dtype=torch.long)
    for b, e in enumerate(encs):
        n = len(e.input_ids)
        s = T - n if left else 0
        ids[b, s:s + n] = torch.tensor(e.input_ids)
        mask[b, s:s + n] = 1
        weights[b, s:s + n] = torch.tensor(e.weights)
        images[b, :len(e.images)] = torch.tensor(e.images, dtype=torch.long)
        answer[b] = s + e.answer_pos
        for pos, item in e.transitions:
            next_item[b, s + pos] = item
    tw = task_weights or {}
    sample_weight = torch.tensor([float(tw.get(e.task, 1.0)) for e in encs])
    return {"input_ids": ids, "attention_mask": mask, "weights": weights, "images": images,
            "answer_pos": answer, "sample_weight": sample_weight, "next_item": next_item, "cand_group": cand_group}


def loss_task_weights(cfg: UniMPConfig) -> dict | None:
    """Per-task loss weights; none when batches already sample tasks by weight (all_rec_prefixes)."""
    return None if cfg.all_rec_prefixes else cfg.task_weights


class LossModule(nn.Module):
    """What Accelerate/DDP wraps: forward = the focal loss of a batch (so gradients synchronise).
    `candidate_masks`: (G, n_items) bool, the training instances' candidate sets (Encoded.cand_group
    rows), with `candidate_weight` > 0 for the candidate loss; a buffer so it follows the device."""

    def __init__(self, model: nn.Module, gamma: float, norm: str = "token", transition_weight: float = 0.0,
                 candidate_masks: torch.Tensor | None = None, candidate_weight: float = 0.0):
        super().__init__()
        self.model, self.gamma, self.norm, self.transition_weight = model, gamma, norm, transition_weight
        self.candidate_weight = candidate_weight
        self.register_buffer("candidate_masks", candidate_masks, persistent=False)

    def forward(self, input_ids, attention_mask, weights, images, sample_weight, answer_pos=None, next_item=None,
                cand_group=None, denominators=None):
        batch = dict(input_ids=input_ids, attention_mask=attention_mask, weights=weights, images=images,
                     sample_weight=sample_weight, next_item=next_item, answer_pos=answer_pos, cand_group=cand_group)
        return sequence_loss(self.model, batch, self.gamma, self.norm, self.transition_weight,
                             self.candidate_masks, self.candidate_weight, denominators)


def step_parts(encs: Sequence[Encoded], pad_id: int, task_weights: dict | None, n_parts: int,
               norm: str) -> list[dict]:
    """One optimizer step's prompts as up to `n_parts` collated batches of prompts of similar length, each
    padded only to its own longest prompt, each carrying the whole step's loss denominators: the parts'
    losses add up to the loss of the step's prompts collated as one batch, and so do their gradients
    (the same step, fewer padding tokens computed)."""
    by_length = np.argsort([len(e.input_ids) for e in encs], kind="stable")
    parts = [collate([encs[i] for i in idx], pad_id, task_weights)
             for idx in np.array_split(by_length, min(max(1, n_parts), len(encs))) if len(idx)]
    dens = [loss_denominators(p, token_weights(p, norm)) for p in parts]
    total = {k: sum(d[k] for d in dens) for k in dens[0]}
    return [{**p, "denominators": total} for p in parts]


def epoch_order(examples: Sequence[Encoded], cfg: UniMPConfig, seed: int, epochs: float,
                strategy: str = "multitask") -> np.ndarray:
    """Indices into `examples` for the whole phase: shuffled across tasks each epoch (multi-task), or
    task after task (continual, in CONTINUAL_ORDER, each shuffled for `epochs` passes)."""
    rng = np.random.default_rng(seed)
    n_full, frac = int(epochs), epochs - int(epochs)
    if strategy == "continual":
        out = []
        for task in CONTINUAL_ORDER:
            idx = np.array([i for i, e in enumerate(examples) if e.task == task], dtype=np.int64)
            if len(idx):
                out.append(epoch_order_of(idx, rng, n_full, frac))
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)
    if cfg.all_rec_prefixes:
        order = weighted_order(examples, cfg.task_weights, rng, int(round(epochs * len(examples))))
    else:
        order = epoch_order_of(np.arange(len(examples)), rng, n_full, frac)
    return own_batches(order, examples, cfg.batch_size, rng)


def weighted_order(examples: Sequence[Encoded], task_weights: dict, rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` indices: each draw picks a task with probability proportional to its weight (default 1),
    then that task's next example in a shuffled pass over it (a new pass when one is used up)."""
    tasks = sorted({e.task for e in examples})
    if not tasks or n <= 0:
        return np.zeros(0, dtype=np.int64)
    by_task = {t: np.array([i for i, e in enumerate(examples) if e.task == t], dtype=np.int64) for t in tasks}
    p = np.array([float(task_weights.get(t, 1.0)) for t in tasks])
    picks = rng.choice(len(tasks), size=n, p=p / p.sum())
    order = np.empty(n, dtype=np.int64)
    for k, t in enumerate(tasks):
        slots = np.flatnonzero(picks == k)
        idx = by_task[t]
        passes = -(-len(slots) // len(idx))
        order[slots] = np.concatenate([rng.permutation(idx) for _ in range(passes)])[: len(slots)] if passes else []
    return order


def own_batches(order: np.ndarray, examples: Sequence[Encoded], batch_size: int,
                rng: np.random.Generator) -> np.ndarray:
    """Reorder so that examples of OWN_BATCH_TASKS fill whole batches of their own: full batches of
    each kind in shuffled order, the partial ones last. Unchanged when there are none."""
    own = np.array([examples[i].task in OWN_BATCH_TASKS for i in order], dtype=bool)
    if not own.any():
        return order
    blocks, tail = [], []
    for part in (order[~own], order[own]):
        n_full = len(part) // batch_size * batch_size
        blocks += np.split(part[:n_full], n_full // batch_size) if n_full else []
        if n_full < len(part):
            tail.append(part[n_full:])
    blocks = [blocks[i] for i in rng.permutation(len(blocks))]
    return np.concatenate(blocks + tail)


def epoch_order_of(idx: np.ndarray, rng: np.random.Generator, n_full: int, frac: float) -> np.ndarray:
    parts = [rng.permutation(idx) for _ in range(n_full)]
    if frac > 0:
        parts.append(rng.permutation(idx)[: int(round(frac * len(idx)))])
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def lr_lambda(total: int, warmup: float) -> Callable[[int], float]:
    """Linear warm-up over `warmup` of the steps, then cosine decay to 0."""
    n_warm = max(1, int(math.ceil(warmup * total)))

    def f(step: int) -> float:
        if step < n_warm:
            return (step + 1) / n_warm
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - n_warm) / max(1, total - n_warm))))

    return f


# ---- checkpoints -------------------------------------------------------------------------------------
def trainable_state(model: nn.Module, keys: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
    sd = model.state_dict()
    keys = keys if keys is not None else list(sd)
    return {k: sd[k].detach().clone().contiguous() for k in keys}


def save_weights(model: nn.Module, path: Path, keys: Sequence[str] | None = None) -> None:
    save_tensors(trainable_state(model, keys), path)


def save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    """Write a safetensors file atomically (a temporary file, then a rename)."""
    from safetensors.torch import save_file  # heavy: safetensors

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp))
    os.replace(tmp, path)


def load_weights(model: nn.Module, path: Path) -> None:
    """Load a (possibly partial: trainable-only) safetensors state dict; unknown keys are an error."""
    from safetensors.torch import load_file  # heavy: safetensors

    sd = load_file(str(path))
    missing_in_model = sorted(set(sd) - set(model.state_dict()))
    if missing_in_model:
        raise ValueError(f"{path}: keys not in the model: {missing_in_model[:5]}")
    model.load_state_dict(sd, strict=False)


class WeightAverage:
    """An exponential moving average of the trainable weights (Polyak averaging): after each optimizer step
    the average moves towards the weights by 1 - d, with d = min(decay, (1 + t) / (10 + t)) at update t, so
    the early average is not dominated by the random start. `swapped_in` evaluates or saves the average."""

    def __init__(self, params: Sequence[torch.Tensor], decay: float):
        self.params, self.decay, self.updates = list(params), decay, 0
        self.shadow = [p.detach().clone() for p in self.params]

    @torch.no_grad()
    def update(self) -> None:
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        torch._foreach_lerp_(self.shadow, [p.detach() for p in self.params], 1.0 - d)
        self.updates += 1

    @contextlib.contextmanager
    def swapped_in(self):
        """The model holds the average inside the block and its own weights again after it."""
        with torch.no_grad():
            own = [p.detach().clone() for p in self.params]
            self.copy_to_model()
        try:
            yield
        finally:
            with torch.no_grad():
                for p, o in zip(self.params, own):
                    p.copy_(o)

    @torch.no_grad()
    def copy_to_model(self) -> None:
        for p, s in zip(self.params, self.shadow):
            p.copy_(s)

    def state(self) -> dict[str, torch.Tensor]:
        return {f"{i}": s for i, s in enumerate(self.shadow)}

    @torch.no_grad()
    def load(self, state: dict[str, torch.Tensor], updates: int) -> None:
        if len(state) != len(self.shadow):
            raise ValueError(f"weight average: {len(state)} saved tensors, the model trains {len(self.shadow)}")
        for i, s in enumerate(self.shadow):
            s.copy_(state[f"{i}"])
        self.updates = updates


def train_phase(model: nn.Module, examples: Sequence[Encoded], order: np.ndarray, cfg: UniMPConfig,
                out_dir: Path, pad_id: int, policy: str = "all",
                select_fn: Callable[[nn.Module], float] | None = None, max_steps: int | None = None,
                desc: str = "train", stop_after: int | None = None,
                curve: Callable[[str, int, str, float], None] | None = None,
                candidate_masks: torch.Tensor | None = None) -> dict:
    """One training phase over `examples[order]`; resumes from out_dir/last if present. Returns stats.
    `curve(phase, step, name, value)` receives each step's loss ("train") and each validation score ("valid").

    The model keeps the best weights by `select_fn` (higher = better) when given, else the last.
    `stop_after`: return after that many steps as if killed (tests of resume).
    `candidate_masks`: the table behind the examples' `cand_group` (see LossModule), for cfg.candidate_loss."""
    from accelerate import Accelerator, DistributedDataParallelKwargs  # heavy: accelerate

    out_dir = Path(out_dir)
    done = out_dir / "done.json"
    if done.is_file():  # phase finished before (a resumed run): load its result
        load_weights(model, out_dir / ("best.safetensors" if (out_dir / "best.safetensors").is_file() else "last.safetensors"))
        return json.loads(done.read_text())
    acc = Accelerator(cpu=device.current() == "cpu",  # `unimp-bench run --device` (cuda:N set by device.use)
                      kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)])
    world, rank = acc.num_processes, acc.process_index
    bs = cfg.batch_size
    steps = len(order) // (bs * world)
    for cap in (max_steps, cfg.max_steps):
        if cap is not None:
            steps = min(steps, cap)
    model.set_trainable(policy)
    keys = [k for k, p in model.named_parameters() if p.requires_grad]
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(max(1, steps), cfg.warmup))
    step, best, history = 0, -math.inf, []
    average = WeightAverage(params, cfg.ema_decay) if cfg.ema_decay > 0 else None
    last = out_dir / "last"
    if (last / "state.json").is_file():
        load_weights(model, last / "model.safetensors")
        opt.load_state_dict(torch.load(last / "optimizer.pt", weights_only=True))
        state = json.loads((last / "state.json").read_text())
        sched.load_state_dict(state["scheduler"])
        step, best, history = state["step"], state["best"], state["history"]
        if average is not None:
            from safetensors.torch import load_file  # heavy: safetensors
            average.load(load_file(str(last / "average.safetensors")), step)
    # validation and the saved weights see the average when there is one
    evaluated = average.swapped_in if average is not None else contextlib.nullcontext
    wrapped, opt = acc.prepare(LossModule(model, cfg.focal_gamma, cfg.loss_norm, cfg.transition_loss,
                                           candidate_masks, cfg.candidate_loss), opt)
    eval_every = cfg.eval_every or max(1, steps // max(1, int(math.ceil(cfg.epochs))))
    t0, losses, completed = time.time(), [], step
    bar = tqdm(range(step, steps), desc=desc, disable=not acc.is_main_process, mininterval=2)
    for step in bar:
        start = (step * world + rank) * bs
        parts = step_parts([examples[i] for i in order[start:start + bs]], pad_id, loss_task_weights(cfg),
                           cfg.length_parts, cfg.loss_norm)
        wrapped.train()
        loss = 0.0
        for k, part in enumerate(parts):  # gradients add up over the parts; synchronised after the last
            with acc.no_sync(wrapped) if k + 1 < len(parts) else contextlib.nullcontext():
                part_loss = wrapped(**_to_device(part, acc.device))
                acc.backward(part_loss)
            loss += part_loss.item()
        acc.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        if average is not None:
            average.update()
        losses.append(loss)
        completed = step + 1
        if curve is not None and acc.is_main_process:
            curve("train", step + 1, "loss", losses[-1])
        bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
        finished = step + 1 == steps or (cfg.time_budget_s and time.time() - t0 > cfg.time_budget_s)
        if (step + 1) % eval_every == 0 or finished:
            if select_fn is not None:
                model.eval()
                with evaluated():
                    score = float(select_fn(model))
                    if score > best and acc.is_main_process:
                        save_weights(model, out_dir / "best.safetensors", keys)
                if curve is not None and acc.is_main_process:
                    curve("valid", step + 1, "selection_score", score)
                history.append({"step": step + 1, "score": score, "loss": float(np.mean(losses[-50:]))})
                best = max(best, score)
            if acc.is_main_process:
                _save_last(model, opt, sched, keys, last, step + 1, best, history, average)
            acc.wait_for_everyone()
        if finished:
            break
        if stop_after is not None and step + 1 >= stop_after:
            if acc.is_main_process:
                _save_last(model, opt, sched, keys, last, step + 1, best, history, average)
            acc.wait_for_everyone()
            return {"steps": step + 1, "stopped": True}
    acc.wait_for_everyone()
    if select_fn is not None and (out_dir / "best.safetensors").is_file():
        load_weights(model, out_dir / "best.safetensors")
    elif steps > 0:
        if average is not None:  # no selection: the phase ends on the average of its steps
            average.copy_to_model()
        if acc.is_main_process:
            save_weights(model, out_dir / "best.safetensors", keys)
    stats = {"steps": completed, "total_steps": steps, "train_time_s": time.time() - t0,
             "first_loss": losses[0] if losses else None, "last_loss": float(np.mean(losses[-20:])) if losses else None,
             "best_score": best if best > -math.inf else None, "history": history, "policy": policy,
             "world_size": world}
    if acc.is_main_process:
        done.parent.mkdir(parents=True, exist_ok=True)
        done.write_text(json.dumps(stats, indent=1))
    acc.wait_for_everyone()
    return stats


def _to_device(batch: dict, dev) -> dict:
    return {k: ({n: t.to(dev) for n, t in v.items()} if isinstance(v, dict) else v.to(dev)) for k, v in batch.items()}


def _save_last(model, opt, sched, keys, last: Path, step: int, best: float, history: list,
               average: WeightAverage | None = None) -> None:
    last.mkdir(parents=True, exist_ok=True)
    save_weights(model, last / "model.safetensors", keys)
    if average is not None:
        save_tensors(average.state(), last / "average.safetensors")
    tmp = last / "optimizer.pt.tmp"
    torch.save(opt.state_dict(), tmp)
    os.replace(tmp, last / "optimizer.pt")
    (last / "state.json").write_text(json.dumps({"step": step, "best": best, "history": history,
                                                 "scheduler": sched.state_dict()}))


def phases(cfg: UniMPConfig) -> list[tuple[str, str, str]]:
    """(name, order strategy, trainable policy) of the "main" regime for the learning strategy:
    multitask; continual (tasks one after another); multitask then a recommendation fine-tune of all
    weights (+full) or of the last decoder layer and the head only (+last)."""
    base = "paper" if cfg.freeze_lm else "all"
    if cfg.strategy == "multitask":
        return [("multitask", "multitask", base)]
    if cfg.strategy == "continual":
        return [("continual", "continual", base)]
    ft = "all" if cfg.strategy == "multitask+full" else "last"
    return [("multitask", "multitask", base), ("finetune", "recommendation", ft)]


assert set(CONTINUAL_ORDER) == set(TEXT_TASKS) | {IMAGE_TASK}
