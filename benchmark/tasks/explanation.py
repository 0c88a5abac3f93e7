"""Explanation (Table 2(a)): explain why the item might suit the user; scored against the review."""
from __future__ import annotations

from dataclasses import dataclass

from benchmark.metrics import text
from benchmark.tasks.base import TaskSpec, batches, line_field

TEXT_METRICS = ("bleu-1", "bleu-4", "rouge-1", "rouge-2", "rouge-l", "meteor", "bertscore-f1")


@dataclass(frozen=True)
class Explanation(TaskSpec):
    line_fields: tuple[str, ...] = ("text",)

    def build(self, builder, split, ev):
        keep = builder.has_explanation[ev.target]
        return builder.about_item(self, split, ev, keep, target_text=builder.explanations(ev.target[keep]))

    def predict(self, model, split, data, instances, run_dir):
        texts = [t for batch in batches(instances, f"{model.name} {self.name}/{split}") for t in model.generate_text(batch)]
        return [{"id": i, "text": str(t)} for i, t in zip(instances["id"].tolist(), texts)]

    def check_line(self, row, split):
        return [] if isinstance(row["text"], str) else [("text", "must be a string")]

    def scorer_settings(self, extra):
        """The BERTScore model and layer the run used (the default model is named, not a path: None)."""
        model = extra.get("bertscore_model")
        out = {"bertscore_model": None if model in (None, text.DEFAULT_BERTSCORE_NAME) else str(model)}
        layer = extra.get("bertscore_layer")
        if isinstance(layer, int) and not isinstance(layer, bool):
            out["bertscore_layers"] = layer
        return out

    def metric_data(self, instances, recs, settings):
        hyps = [line_field(self.name, rec, "text") for rec in recs]
        return text.text_metrics(hyps, instances["target_text"].tolist(), bertscore_model=settings.bertscore_model,
                                 bertscore_layers=settings.bertscore_layers)


TASK = Explanation(
    "explanation", "1", "generate_text",
    "Given [Item], can you explain to the user why the product might be suitable or unsuitable?",
    TEXT_METRICS, "bleu-4", "Table 2(a)", "Table 2(a) - explanation", TEXT_METRICS,
    answers=("target_text",),
)
