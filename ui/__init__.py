"""The persd Gradio app: presentation and wiring only; all logic lives in `persd`."""
