"""Image generation (Figure 3): generate the product picture the user may be interested in."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.metrics.registry import IMAGE_TOKEN_SCORES
from benchmark.tasks.base import TaskSpec, batches, is_finite_number, is_token_list


@dataclass(frozen=True)
class Image(TaskSpec):
    line_fields: tuple[str, ...] = ("image",)
    # a two-stage generator lists the items it retrieved first; a token model records its
    # teacher-forced scores of the target's codes
    optional_fields: tuple[str, ...] = ("retrieved", *IMAGE_TOKEN_SCORES)
    file_fields: tuple[str, ...] = ("image",)
    gallery: bool = True

    def build(self, builder, split, ev):
        return builder.with_query(self, split, ev, need_image=True)

    def image_dir(self, split: str) -> Path:
        """Where a run folder keeps the generated images of `split` (prediction paths point inside)."""
        return Path("images") / f"{self.name}__{split}"

    def predict(self, model, split, data, instances, run_dir):
        images = [im for batch in batches(instances, f"{model.name} {self.name}/{split}")
                  for im in model.generate_images(batch)]
        rel_dir = self.image_dir(split)
        (run_dir / rel_dir).mkdir(parents=True, exist_ok=True)
        records = []
        for i, im in zip(instances["id"].tolist(), images):
            rel = rel_dir / (i.replace("/", "_") + ".png")
            im.save(run_dir / rel)
            record = {"id": i, "image": rel.as_posix()}
            if "retrieved" in im.info:  # the items a two-stage generator retrieved first (shown in the gallery)
                record["retrieved"] = [int(x) for x in im.info["retrieved"]]
            for key in IMAGE_TOKEN_SCORES:  # a token model's teacher-forced scores of the target's codes
                if key in im.info:
                    record[key] = float(im.info[key])
            records.append(record)
        return records

    def check_line(self, row, split):
        problems = []
        if "retrieved" in row and not is_token_list(row["retrieved"]):
            problems.append(("retrieved", "must be a list of item tokens"))
        problems += [(k, "must be a finite number") for k in IMAGE_TOKEN_SCORES if k in row and not is_finite_number(row[k])]
        rel = row["image"]
        if isinstance(rel, str) and not rel.startswith(f"{self.image_dir(split).as_posix()}/"):
            problems.append(("image", f"must be under {self.image_dir(split).as_posix()}/"))
        return problems

    def metric_data(self, instances, recs, settings):
        """`benchmark.metrics.image.score_images` returns {"per_instance": {metric: (n,) array}, "scores":
        {metric: float} (set-level metrics, no interval), "extra": {...}} (all keys optional)."""
        from benchmark.metrics.image import score_images  # heavy: torch

        out = score_images(instances, recs, dataset=settings.dataset, run_dir=settings.run_dir)
        extra = dict(out.get("extra", {}))
        extra["set_scores"] = {k: float(v) for k, v in out.get("scores", {}).items()}
        return {k: np.asarray(v, dtype=np.float64) for k, v in out.get("per_instance", {}).items()}, extra


TASK = Image(
    "image", "1", "generate_images",
    "[Retrieved Images] [Query] Can you generate the product figure that the user may be interested in?",
    ("psnr", "ssim", "attribute_match", "frechet", "personalization", "token_nll", "token_accuracy"),
    "attribute_match", "Figure 3", "Image generation",
    ("psnr", "ssim", "attribute_match", "frechet", "personalization", "token_nll"),
    answers=("target_item",),
)
