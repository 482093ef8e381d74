"""On-policy distillation: trl `DistillationTrainer` with an open teacher.

    TrainConfig(student="models/small", teacher="models/big", objective="distill", beta=0.5, ...)

The student samples completions for the rows' prompts; the loss is the generalised
Jensen-Shannon divergence between its next-token distribution and the teacher's on those
tokens (`beta` 0: forward KL, 1: reverse KL). That compares whole distributions token by
token, so the teacher must share the student's tokenizer: `check_teacher` refuses one whose
vocabulary differs, before anything trains. The teacher runs in this process (frozen, in
evaluation mode); tokens it scores are counted (`teacher_tokens`, padding included) so
eval-compare can set the cost beside SFT's API tokens.
"""

from __future__ import annotations

from typing import Any

from persd.train.args import hardware, training_args
from persd.train.config import TrainConfig, TrainError
from persd.train.objectives.common import run_facts
from persd.train.runner import check_model_path, load_student


def check_teacher(student: str, teacher: str | None) -> None:
    """TrainError unless `teacher` loads and its vocabulary is the student's."""
    from transformers import AutoTokenizer


    if not teacher:
        raise TrainError("objective 'distill' needs a teacher model (--teacher)")
    check_model_path(teacher)
    try:
        ours, theirs = (AutoTokenizer.from_pretrained(name).get_vocab() for name in (student, teacher))
    except (OSError, ValueError) as error:
        raise TrainError(f"cannot load the tokenizers of {student} and {teacher}: {error}") from error
    if ours != theirs:
        differ = len(set(ours.items()) ^ set(theirs.items())) // 2 or abs(len(ours) - len(theirs))
        raise TrainError(
            f"teacher {teacher} does not share the student's tokenizer ({len(theirs)} vs "
            f"{len(ours)} tokens, {differ} differ): on-policy distillation compares next-token "
            "distributions over one vocabulary. Pick a teacher of the student's family, or "
            "use --objective sft on the teacher's refinements"
        )


def build_trainer(config: TrainConfig, rows: list[dict[str, Any]], callbacks: list | None = None):
    """The `DistillationTrainer` of a run, and its facts (with a `teacher_tokens` counter)."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from transformers.trainer_callback import PrinterCallback
    from trl import DistillationConfig, DistillationTrainer


    check_teacher(config.student, config.teacher)
    cuda, bf16 = hardware(config)
    tokenizer, model, peft_config, train_lm_head = load_student(config, bf16)
    tokenizer.padding_side = "left"  # generation appends to the right of each prompt
    teacher = AutoModelForCausalLM.from_pretrained(
        config.teacher, dtype=torch.bfloat16 if bf16 else torch.float32)
    counter = TokenCounter(teacher)
    args = training_args(config, DistillationConfig, cuda, bf16, beta=config.beta,
                         max_completion_length=config.max_completion_length,
                         use_vllm=config.use_vllm)
    trainer = DistillationTrainer(
        model=model, teacher_model=teacher, args=args,
        train_dataset=Dataset.from_list([{"prompt": row["prompt"]} for row in rows]),
        processing_class=tokenizer, peft_config=peft_config, callbacks=callbacks,
    )
    trainer.remove_callback(PrinterCallback)
    facts = run_facts(trainer, args, rows, train_lm_head, bf16)
    facts["teacher_tokens"] = counter
    return trainer, facts


class TokenCounter:
    """Counts the token positions the teacher is run on (a hook on its input embeddings,
    which every forward passes through, whichever way the trainer calls it)."""

    def __init__(self, teacher) -> None:
        self.tokens = 0
        teacher.get_input_embeddings().register_forward_hook(self._count)

    def _count(self, module, inputs, output) -> None:
        self.tokens += int(inputs[0].numel())

    def __call__(self) -> int:
        return self.tokens
