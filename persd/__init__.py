"""persd: personalised distillation of code models.

The student attempts tasks, a sandbox runs its code against unit tests, a teacher refines
the failures, a person reviews the refinements, and the student is fine-tuned on them.
Heavy libraries (torch, transformers, gradio) are imported only where they are used.
"""

from persd.code.threadsafe_ast import install as _serialise_ast_parse

__version__ = "0.1.0"
_serialise_ast_parse()
