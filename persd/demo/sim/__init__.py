"""Offline demo backends, labelled as simulated: a student that injects one realistic bug
into each of a share of reference solutions, and a teacher that repairs it minimally.

    from persd.demo.sim import SimulatedStudent, SimulatedTeacher, build_demo_records
    with Executor() as ex:
        records = build_demo_records(load_tasks("humaneval"), ex, seed=0)   # seconds

Bugs are AST mutations (`MUTATORS`: off-by-one, wrong comparison, wrong arithmetic
operator, missing edge case, wrong return, a NameError typo, wrong constant, swapped
arguments) applied as exact text edits to the body the student writes after `task.prompt`,
so formatting is kept and diffs stay small. The real Executor judges every attempt: a
mutation is kept only if the hidden tests fail. Nothing here pretends to be a model: every
record carries `simulated=True` and `label=SIMULATED_LABEL`.
"""

from persd.demo.sim.backends import (
    SIMULATED_LABEL,
    STUDENT_MODEL,
    TEACHER_MODEL,
    SimAttempt,
    SimRecord,
    SimReply,
    SimulatedStudent,
    SimulatedTeacher,
    build_demo_records,
    reference_program,
)
from persd.demo.sim.mutations import (
    KIND_WEIGHTS,
    MUTATORS,
    Edit,
    Mutation,
    apply_edit,
    candidate_edits,
    revert,
)

__all__ = ["KIND_WEIGHTS", "MUTATORS", "SIMULATED_LABEL", "STUDENT_MODEL", "TEACHER_MODEL",
           "Edit", "Mutation", "SimAttempt", "SimRecord", "SimReply", "SimulatedStudent",
           "SimulatedTeacher", "apply_edit", "build_demo_records", "candidate_edits",
           "reference_program", "revert"]
