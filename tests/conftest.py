"""Test-wide settings: no analytics, no hub downloads, sessions in temp folders."""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from tests.fixtures_models import smollm2_dir, smollm2_get, tiny_model_dir  # noqa: E402,F401  (session-scoped fixtures)
